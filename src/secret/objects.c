/* The Kubernetes Secrets the bundle's templates reference, named and keyed as the
 * official chart does, made from the unsealed secrets and the effective values.
 * URIs (metadata connection, broker URL) are derived here on every run from the
 * stored passwords and the current values, so moving the database host or changing
 * sslmode needs no re-sealing; the passwords are what never change. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tarmac/doc.h"
#include "secret_private.h"
#include "tarmac/labels.h"

#define PGBOUNCER_PORT 6543
#define REDIS_PORT 6379
#define MAX_KEYS 4

/* ------------------------------------------------------------------ values */

/* shared with live.c, which must look where this file writes (secret_private.h) */
#define str_at tm_secret_str_at
#define VSTR TM_SECRET_VSTR
#define vbool tm_secret_vbool
#define celery tm_secret_celery
#define airflow2 tm_secret_airflow2

/* ------------------------------------------------------------------ URIs */

/* RFC 3986 percent-encoding of everything but the unreserved characters. */
static int pct(struct tm_buf *out, const char *s, struct tm_err *err)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;

	for (const unsigned char *p = (const unsigned char *)s; rc == 0 && *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		    *p == '.' || *p == '_' || *p == '~') {
			rc = tm_buf_append(out, p, 1, err);
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
			rc = tm_buf_append(out, e, 3, err);
		}
	}
	return rc;
}

static int host_port(struct tm_buf *out, const char *host, long port, struct tm_err *err)
{
	/* an IPv6 literal needs its brackets in a URI */
	bool v6 = strchr(host, ':') && host[0] != '[';

	return tm_buf_printf(out, err, "%s%s%s:%ld", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

int tm_secret_db_uri(struct tm_buf *out, const struct tm_secret_db *p, const char *password, struct tm_err *err)
{
	int rc;

	if (!p->protocol || !p->user || !p->host || !p->db || p->port <= 0 || p->port > 65535)
		return tm_err_set(err, TM_EINVALID, "the metadata connection needs protocol, user, host, port and db");
	if (strspn(p->protocol, "abcdefghijklmnopqrstuvwxyz0123456789+.-") != strlen(p->protocol))
		return tm_err_set(err, TM_EINVALID, "'%s' is not a URI scheme", p->protocol);
	if ((rc = tm_buf_printf(out, err, "%s://", p->protocol)) < 0 || (rc = pct(out, p->user, err)) < 0 ||
	    (rc = tm_buf_puts(out, ":", err)) < 0 || (rc = pct(out, password, err)) < 0 ||
	    (rc = tm_buf_puts(out, "@", err)) < 0 || (rc = host_port(out, p->host, p->port, err)) < 0 ||
	    (rc = tm_buf_puts(out, "/", err)) < 0 || (rc = pct(out, p->db, err)) < 0)
		return rc;
	if (p->sslmode && *p->sslmode && ((rc = tm_buf_puts(out, "?sslmode=", err)) < 0 || (rc = pct(out, p->sslmode, err)) < 0))
		return rc;
	return 0;
}

static long port_of(json_t *v, long dflt)
{
	if (json_is_integer(v))
		return (long)json_integer_value(v);
	if (json_is_string(v)) {
		char *end;
		long n = strtol(json_string_value(v), &end, 10);
		return *end || end == json_string_value(v) ? -1 : n;
	}
	return dflt;
}

int tm_secret_db_from_values(struct tm_secret_db *out, const struct tm_secret_target *t, struct tm_arena *a,
			     struct tm_err *err)
{
	json_t *mc = tm_doc_get(t->values, "data", "metadataConnection", NULL);
	struct tm_secret_db d = { 0 };

	d.protocol = str_at(json_object_get(mc, "protocol"));
	d.user = str_at(json_object_get(mc, "user"));
	d.db = str_at(json_object_get(mc, "db"));
	d.sslmode = str_at(json_object_get(mc, "sslmode"));
	d.port = port_of(json_object_get(mc, "port"), 5432);
	d.host = str_at(json_object_get(mc, "host"));
	if (!d.protocol)
		d.protocol = "postgresql";
	if (!d.host)
		d.host = tm_arena_printf(a, "%s-postgresql.%s", t->release, t->namespace);
	if (vbool(t, "pgbouncer", "enabled")) {
		/* Airflow talks to PgBouncer inside the namespace; PgBouncer's own link to the
		 * database uses sslmode (server_tls_sslmode in its config) */
		d.host = tm_arena_printf(a, "%s-pgbouncer.%s", t->release, t->namespace);
		d.port = PGBOUNCER_PORT;
		d.db = tm_arena_printf(a, "%s-metadata", t->release);
		d.sslmode = "disable";
	}
	if (!d.user || !d.db)
		return tm_err_set(err, TM_EINVALID, "values data.metadataConnection: '%s' is not set", d.user ? "db" : "user");
	if (!d.host)
		return tm_err_set(err, TM_ERROR, "out of memory");
	if (d.port <= 0 || d.port > 65535)
		return tm_err_set(err, TM_EINVALID, "values data.metadataConnection.port: not a port number");
	*out = d;
	return 0;
}

/* ------------------------------------------------------------------ Secret objects */

struct kv {
	const char *key;
	const char *val;
	size_t len;
};

static int by_key(const void *a, const void *b)
{
	return strcmp(((const struct kv *)a)->key, ((const struct kv *)b)->key);
}

/* Keyed BLAKE2b over the sorted keys and values, each length-prefixed. */
static void content_hash(char out[65], const unsigned char key[32], struct kv *kv, size_t n)
{
	crypto_generichash_state st;
	unsigned char h[32];

	qsort(kv, n, sizeof(*kv), by_key);
	crypto_generichash_init(&st, key, 32, sizeof(h));
	for (size_t i = 0; i < n; i++) {
		uint64_t lens[2] = { strlen(kv[i].key), kv[i].len };
		crypto_generichash_update(&st, (const unsigned char *)lens, sizeof(lens));
		crypto_generichash_update(&st, (const unsigned char *)kv[i].key, lens[0]);
		crypto_generichash_update(&st, (const unsigned char *)kv[i].val, kv[i].len);
	}
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(out, 65, h, sizeof(h));
	sodium_memzero(&st, sizeof(st));
}

/* Clears the string values of an object before jansson frees them. */
static void wipe_strings(json_t *data)
{
	const char *k;
	json_t *v;

	json_object_foreach(data, k, v) {
		/* jansson owns the bytes; they are ours to clear before it frees them */
		if (json_is_string(v))
			sodium_memzero((char *)json_string_value(v), json_string_length(v));
	}
}

static int add_secret(json_t *arr, const struct tm_secret_set *s, const struct tm_secret_target *t,
		      const char *name, struct kv *kv, size_t n, struct tm_err *err)
{
	struct tm_buf b64 = TM_BUF_INIT("secret data", 4 * TM_SECRET_MAX_FILE);
	json_t *obj = NULL, *data = json_object();
	char hash[65];
	int rc = 0;

	if (!data)
		return tm_err_set(err, TM_ERROR, "out of memory");
	for (size_t i = 0; i < n; i++) {
		tm_buf_wipe(&b64);
		if ((rc = tm_secret_reserve(&b64, kv[i].len / 3 * 4 + 8, err)) < 0 ||
		    (rc = tm_secret_b64_append(&b64, kv[i].val, kv[i].len, sodium_base64_VARIANT_ORIGINAL, 0, err)) < 0)
			goto out;
		if (json_object_set_new(data, kv[i].key, json_stringn(b64.data, b64.len)) < 0) {
			rc = tm_err_set(err, TM_ERROR, "out of memory");
			goto out;
		}
	}
	content_hash(hash, s->hash_key, kv, n);
	obj = json_pack("{s:s, s:s, s:{s:s, s:s, s:o, s:{s:s, s:s}}, s:s, s:O}", "apiVersion", "v1", "kind", "Secret",
			"metadata", "name", name, "namespace", t->namespace, "labels", tm_labels_standard(t->release),
			"annotations", TM_POLICY_ANNOTATION, "keep", TM_CONTENT_HASH_ANNOTATION, hash, "type", "Opaque",
			"data", data);
	if (!obj || json_array_append_new(arr, obj) < 0) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
out:
	if (rc < 0)
		wipe_strings(data);
	json_decref(data); /* obj holds its own reference */
	tm_buf_wipe(&b64);
	return rc;
}

static int need(const struct tm_secret_set *s, enum tm_secret_id id, const char *why, const char **val, size_t *len,
		struct tm_err *err)
{
	if (tm_secret_set_get(s, id, val, len) == 0)
		return 0;
	return tm_err_set(err, TM_ENOTFOUND, "secret '%s' (for %s) is not in this environment's secrets: run "
			  "'tarmac secrets init'", tm_secret_name(id), why);
}

/* The Secrets that hold one stored value, each made by tarmac as <release>-<suffix>
 * unless a values key names the user's own (then it must exist with that data key).
 * tm_secret_objects and tm_secret_external both read this table. */
static bool creates_user(const struct tm_secret_target *t)
{
	return vbool(t, "createUserJob", "enabled");
}

static const struct one_value {
	enum tm_secret_id id;
	const char *named_by[2];                      /* the values key naming the user's own Secret */
	const char *suffix;                           /* tarmac's: <release>-<suffix> */
	const char *key;                              /* the data key, in either */
	bool (*wanted)(const struct tm_secret_target *t); /* NULL: always */
} ONE_VALUE[] = {
	{ TM_SECRET_FERNET_KEY, { "fernetKeySecretName", NULL }, "fernet-key", "fernet-key", NULL },
	{ TM_SECRET_API_SECRET_KEY, { "apiSecretKeySecretName", NULL }, "api-secret-key", "api-secret-key", NULL },
	{ TM_SECRET_JWT_SECRET, { "jwtSecretName", NULL }, "jwt-secret", "jwt-secret", NULL },
	{ TM_SECRET_WEBSERVER_SECRET_KEY, { "webserverSecretKeySecretName", NULL }, "webserver-secret-key",
	  "webserver-secret-key", airflow2 },
	{ TM_SECRET_ADMIN_PASSWORD, { "createUserJob", "passwordSecretName" }, "admin-password", "password", creates_user },
};

/* The user's own Secret a row's values key names, or NULL. */
static const char *named_by(const struct tm_secret_target *t, const struct one_value *row)
{
	return str_at(tm_doc_get(t->values, row->named_by[0], row->named_by[1], NULL));
}

/* One stored value as <release>-<suffix> (or the given name), under key. */
static int simple(json_t *arr, const struct tm_secret_set *s, const struct tm_secret_target *t, struct tm_arena *a,
		  enum tm_secret_id id, const char *suffix, const char *key, struct tm_err *err)
{
	struct kv kv = { key, NULL, 0 };
	const char *name = tm_arena_printf(a, "%s-%s", t->release, suffix);
	int rc;

	if (!name)
		return tm_err_set(err, TM_ERROR, "out of memory");
	if ((rc = need(s, id, name, &kv.val, &kv.len, err)) < 0)
		return rc;
	return add_secret(arr, s, t, name, &kv, 1, err);
}

/* The database Secrets: metadata connection, the built-in PostgreSQL's password and
 * PgBouncer's users list and stats connection. */
static int database(json_t *arr, const struct tm_secret_set *s, const struct tm_secret_target *t, struct tm_arena *a,
		    struct tm_err *err)
{
	struct tm_buf uri = TM_BUF_INIT("connection URI", 64 << 10);
	struct tm_secret_db db;
	const char *pw = NULL, *name;
	size_t pwlen = 0;
	int rc = 0;

	if (!VSTR(t, "data", "metadataSecretName")) {
		if ((rc = need(s, TM_SECRET_DB_PASSWORD, "the metadata connection", &pw, &pwlen, err)) < 0 ||
		    (rc = tm_secret_db_from_values(&db, t, a, err)) < 0 || (rc = tm_secret_reserve(&uri, 8192, err)) < 0 ||
		    (rc = tm_secret_db_uri(&uri, &db, pw, err)) < 0)
			goto out;
		name = tm_arena_printf(a, "%s-metadata", t->release);
		if ((rc = add_secret(arr, s, t, name, &(struct kv){ "connection", uri.data, uri.len }, 1, err)) < 0)
			goto out;
		if (vbool(t, "pgbouncer", "enabled")) {
			struct tm_secret_db stats = { "postgresql", db.user, "127.0.0.1", "pgbouncer", "disable",
						      PGBOUNCER_PORT };
			struct tm_buf users = TM_BUF_INIT("pgbouncer users", 8192);
			/* users.txt: "name" "password", '"' doubled; the password is alphanumeric */
			tm_buf_wipe(&uri);
			if ((rc = tm_secret_reserve(&users, 4096, err)) == 0 && (rc = tm_secret_reserve(&uri, 8192, err)) == 0)
				rc = tm_buf_puts(&users, "\"", err);
			for (const char *c = db.user; rc == 0 && *c; c++)
				rc = *c == '"' ? tm_buf_puts(&users, "\"\"", err) : tm_buf_append(&users, c, 1, err);
			if (rc == 0)
				rc = tm_buf_printf(&users, err, "\" \"%s\"\n", pw);
			if (rc == 0)
				rc = add_secret(arr, s, t, tm_arena_printf(a, "%s-pgbouncer-users", t->release),
						&(struct kv){ "users.txt", users.data, users.len }, 1, err);
			tm_buf_wipe(&users);
			if (rc < 0 || (rc = tm_secret_db_uri(&uri, &stats, pw, err)) < 0 ||
			    (rc = add_secret(arr, s, t, tm_arena_printf(a, "%s-pgbouncer-stats", t->release),
					     &(struct kv){ "connection", uri.data, uri.len }, 1, err)) < 0)
				goto out;
		}
	}
	if (vbool(t, "postgresql", "enabled"))
		rc = simple(arr, s, t, a, TM_SECRET_DB_PASSWORD, "postgresql", "password", err);
out:
	tm_buf_wipe(&uri);
	return rc;
}

/* Redis password and the broker URL built from it, for Celery with tarmac's Redis. */
static int broker(json_t *arr, const struct tm_secret_set *s, const struct tm_secret_target *t, struct tm_arena *a,
		  struct tm_err *err)
{
	struct tm_buf url = TM_BUF_INIT("broker URL", 8192);
	const char *pw = NULL;
	size_t len = 0;
	int rc = 0;

	if (!celery(t) || !vbool(t, "redis", "enabled"))
		return 0;
	if (VSTR(t, "redis", "passwordSecretName"))
		return 0; /* an external password: the broker URL is external too (tm_secret_external) */
	if ((rc = simple(arr, s, t, a, TM_SECRET_REDIS_PASSWORD, "redis-password", "password", err)) < 0 ||
	    VSTR(t, "data", "brokerUrlSecretName"))
		return rc;
	if ((rc = need(s, TM_SECRET_REDIS_PASSWORD, "the broker URL", &pw, &len, err)) < 0 ||
	    (rc = tm_secret_reserve(&url, 4096, err)) < 0 || (rc = tm_buf_puts(&url, "redis://:", err)) < 0 ||
	    (rc = pct(&url, pw, err)) < 0 ||
	    (rc = tm_buf_printf(&url, err, "@%s-redis.%s:%d/0", t->release, t->namespace, REDIS_PORT)) < 0)
		goto out;
	rc = add_secret(arr, s, t, tm_arena_printf(a, "%s-broker-url", t->release),
			&(struct kv){ "connection", url.data, url.len }, 1, err);
out:
	tm_buf_wipe(&url);
	return rc;
}

/* The deploy key Secret git-sync mounts: dags.gitSync.sshKeySecret names it. */
static int git_ssh(json_t *arr, const struct tm_secret_set *s, const struct tm_secret_target *t, struct tm_err *err)
{
	const char *name = VSTR(t, "dags", "gitSync", "sshKeySecret");
	struct kv kv[2] = { { "gitSshKey", NULL, 0 }, { "known_hosts", NULL, 0 } };

	if (!json_is_true(tm_doc_get(t->values, "dags", "gitSync", "enabled", NULL)))
		return 0;
	if (!name || tm_secret_set_get(s, TM_SECRET_GIT_SSH_KEY, &kv[0].val, &kv[0].len) < 0)
		return 0; /* no name: no key mounted; no key: the Secret is external */
	kv[1].val = s->known_hosts.data;
	kv[1].len = s->known_hosts.len;
	return add_secret(arr, s, t, name, kv, kv[1].len ? 2 : 1, err);
}

/* The https credentials git-sync reads (GITSYNC_USERNAME, GITSYNC_PASSWORD): the Secret
 * dags.gitSync.credentialsSecret names, from the sealed dags-https-token. */
static int git_https(json_t *arr, const struct tm_secret_set *s, const struct tm_secret_target *t, struct tm_err *err)
{
	const char *name = VSTR(t, "dags", "gitSync", "credentialsSecret");
	const char *user = VSTR(t, "dags", "gitSync", "httpsUsername");
	struct kv kv[2] = { { "GITSYNC_USERNAME", user ? user : "git", 0 }, { "GITSYNC_PASSWORD", NULL, 0 } };

	if (!json_is_true(tm_doc_get(t->values, "dags", "gitSync", "enabled", NULL)) || !name ||
	    tm_secret_set_get(s, TM_SECRET_GIT_HTTPS_TOKEN, &kv[1].val, &kv[1].len) < 0)
		return 0; /* no name: no credentials; no token: the Secret is external */
	kv[0].len = strlen(kv[0].val);
	return add_secret(arr, s, t, name, kv, 2, err);
}

int tm_secret_objects(json_t **out, const struct tm_secret_set *s, const struct tm_secret_target *t,
		      struct tm_err *err)
{
	struct tm_arena a;
	json_t *arr = json_array();
	int rc = 0;

	tm_arena_init(&a, 1u << 20);
	if (!arr)
		return tm_err_set(err, TM_ERROR, "out of memory");
	for (size_t i = 0; i < TM_ARRAY_LEN(ONE_VALUE); i++) {
		const struct one_value *row = &ONE_VALUE[i];

		if ((!row->wanted || row->wanted(t)) && !named_by(t, row) &&
		    (rc = simple(arr, s, t, &a, row->id, row->suffix, row->key, err)) < 0)
			goto out;
	}
	if ((rc = database(arr, s, t, &a, err)) < 0 || (rc = broker(arr, s, t, &a, err)) < 0 ||
	    (rc = git_ssh(arr, s, t, err)) < 0 || (rc = git_https(arr, s, t, err)) < 0)
		goto out;
	*out = arr;
	arr = NULL;
out:
	tm_secret_objects_free(arr);
	tm_arena_release(&a);
	return rc;
}

void tm_secret_objects_free(json_t *objects)
{
	size_t i;
	json_t *obj;

	if (!objects)
		return;
	json_array_foreach(objects, i, obj) {
		wipe_strings(json_object_get(obj, "data"));
		wipe_strings(json_object_get(obj, "stringData"));
	}
	json_decref(objects);
}

/* ------------------------------------------------------------------ external Secrets */

static int ext(json_t *arr, const char *name, const char *key, const char *because, struct tm_err *err)
{
	if (json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "name", name, "key", key, "because", because)) < 0)
		return tm_err_set(err, TM_ERROR, "out of memory");
	return 0;
}

/* A git-sync Secret the values name (dags.gitSync.<key>) is external when the environment
 * holds no secret id to fill its key with (s NULL: nothing is known, nothing listed). */
static int git_sync_ext(json_t *arr, const struct tm_secret_set *s, const struct tm_secret_target *t, const char *key,
			enum tm_secret_id id, const char *secret_key, const char *because, struct tm_err *err)
{
	const char *name = VSTR(t, "dags", "gitSync", key), *val;

	if (!json_is_true(tm_doc_get(t->values, "dags", "gitSync", "enabled", NULL)) || !name || !s ||
	    tm_secret_set_get(s, id, &val, NULL) == 0)
		return 0;
	return ext(arr, name, secret_key, because, err);
}

int tm_secret_external(json_t **out, const struct tm_secret_set *s, const struct tm_secret_target *t,
		       struct tm_err *err)
{
	json_t *arr = json_array();
	const char *v;
	char buf[256];
	int rc = 0;

	if (!arr)
		return tm_err_set(err, TM_ERROR, "out of memory");
	for (size_t i = 0; i < TM_ARRAY_LEN(ONE_VALUE); i++) {
		const struct one_value *row = &ONE_VALUE[i];

		if ((row->wanted && !row->wanted(t)) || !(v = named_by(t, row)))
			continue;
		snprintf(buf, sizeof(buf), "values %s%s%s", row->named_by[0], row->named_by[1] ? "." : "",
			 row->named_by[1] ? row->named_by[1] : "");
		if ((rc = ext(arr, v, row->key, buf, err)) < 0)
			goto out;
	}
	if ((v = VSTR(t, "data", "metadataSecretName")) &&
	    (rc = ext(arr, v, "connection", "values data.metadataSecretName", err)) < 0)
		goto out;
	/* PgBouncer's users list holds the database password, which tarmac does not know
	 * when the connection Secret is someone else's */
	if (VSTR(t, "data", "metadataSecretName") && vbool(t, "pgbouncer", "enabled")) {
		snprintf(buf, sizeof(buf), "%s-pgbouncer-users", t->release);
		if ((rc = ext(arr, buf, "users.txt", "values data.metadataSecretName with pgbouncer.enabled", err)) < 0)
			goto out;
		snprintf(buf, sizeof(buf), "%s-pgbouncer-stats", t->release);
		if ((rc = ext(arr, buf, "connection", "values data.metadataSecretName with pgbouncer.enabled", err)) < 0)
			goto out;
	}
	if (celery(t)) {
		const char *pwname = VSTR(t, "redis", "passwordSecretName");
		bool redis = vbool(t, "redis", "enabled");
		if ((v = VSTR(t, "data", "brokerUrlSecretName")))
			rc = ext(arr, v, "connection", "values data.brokerUrlSecretName", err);
		else if (!redis || pwname) {
			snprintf(buf, sizeof(buf), "%s-broker-url", t->release);
			rc = ext(arr, buf, "connection", redis ? "values redis.passwordSecretName (tarmac cannot build the "
				 "URL without the password)" : "redis.enabled is false", err);
		}
		if (rc == 0 && redis && pwname)
			rc = ext(arr, pwname, "password", "values redis.passwordSecretName", err);
		if (rc < 0)
			goto out;
	}
	if ((rc = git_sync_ext(arr, s, t, "sshKeySecret", TM_SECRET_GIT_SSH_KEY, "gitSshKey",
			       "values dags.gitSync.sshKeySecret (no deploy key in this environment's secrets)", err)) < 0 ||
	    (rc = git_sync_ext(arr, s, t, "credentialsSecret", TM_SECRET_GIT_HTTPS_TOKEN, "GITSYNC_PASSWORD",
			       "values dags.gitSync.credentialsSecret (no dags-https-token in this environment's secrets)",
			       err)) < 0)
		goto out;
	*out = arr;
	arr = NULL;
out:
	json_decref(arr);
	return rc;
}
