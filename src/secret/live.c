/* Where each stored secret lives in the cluster (the inverse of objects.c) and the
 * stored secrets read back from the live Secrets: what the guard compares the sealed
 * files with, and what 'secrets recover' seals. Values stay in wiped buffers. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secret_private.h"

/* ------------------------------------------------------------------ places */

struct places {
	struct tm_secret_place *p;
	size_t n;
	const struct tm_secret_target *t;
};

static int add(struct places *ps, enum tm_secret_id id, const char *suffix, const char *name, const char *key,
	       enum tm_secret_form form, struct tm_err *err)
{
	struct tm_secret_place *p = &ps->p[ps->n];
	int len;

	if (ps->n == TM_SECRET_MAX_PLACES)
		return tm_err_set(err, TM_ERROR, "internal: more than %d secret places", TM_SECRET_MAX_PLACES);
	len = suffix ? snprintf(p->name, sizeof(p->name), "%s-%s", ps->t->release, suffix)
		     : snprintf(p->name, sizeof(p->name), "%s", name);
	if (len < 0 || (size_t)len >= sizeof(p->name))
		return tm_err_set(err, TM_EINVALID, "Secret name '%s%s%s' is too long", suffix ? ps->t->release : name,
				  suffix ? "-" : "", suffix ? suffix : "");
	p->id = id;
	p->key = key;
	p->form = form;
	ps->n++;
	return 0;
}

/* The database's and the broker's places: what objects.c's database() and broker() make. */
static int connections(struct places *ps, struct tm_err *err)
{
	const struct tm_secret_target *t = ps->t;
	int rc = 0;

	if (!TM_SECRET_VSTR(t, "data", "metadataSecretName")) {
		rc = add(ps, TM_SECRET_DB_PASSWORD, "metadata", NULL, "connection", TM_FORM_URI_PASSWORD, err);
		if (rc == 0 && tm_secret_vbool(t, "pgbouncer", "enabled") &&
		    (rc = add(ps, TM_SECRET_DB_PASSWORD, "pgbouncer-users", NULL, "users.txt", TM_FORM_PGBOUNCER_USERS,
			      err)) == 0)
			rc = add(ps, TM_SECRET_DB_PASSWORD, "pgbouncer-stats", NULL, "connection", TM_FORM_URI_PASSWORD, err);
	}
	if (rc == 0 && tm_secret_vbool(t, "postgresql", "enabled"))
		rc = add(ps, TM_SECRET_DB_PASSWORD, "postgresql", NULL, "password", TM_FORM_VALUE, err);
	if (rc < 0 || !tm_secret_celery(t) || !tm_secret_vbool(t, "redis", "enabled") ||
	    TM_SECRET_VSTR(t, "redis", "passwordSecretName"))
		return rc;
	if ((rc = add(ps, TM_SECRET_REDIS_PASSWORD, "redis-password", NULL, "password", TM_FORM_VALUE, err)) < 0 ||
	    TM_SECRET_VSTR(t, "data", "brokerUrlSecretName"))
		return rc;
	return add(ps, TM_SECRET_REDIS_PASSWORD, "broker-url", NULL, "connection", TM_FORM_URI_PASSWORD, err);
}

int tm_secret_places(struct tm_secret_place out[TM_SECRET_MAX_PLACES], size_t *n, const struct tm_secret_target *t,
		     struct tm_err *err)
{
	struct places ps = { .p = out, .t = t };
	const char *ssh = TM_SECRET_VSTR(t, "dags", "gitSync", "sshKeySecret");
	const char *https = TM_SECRET_VSTR(t, "dags", "gitSync", "credentialsSecret");
	bool git = json_is_true(tm_doc_get(t->values, "dags", "gitSync", "enabled", NULL));
	int rc = 0;

	if (!TM_SECRET_VSTR(t, "fernetKeySecretName"))
		rc = add(&ps, TM_SECRET_FERNET_KEY, "fernet-key", NULL, "fernet-key", TM_FORM_VALUE, err);
	if (rc == 0 && !TM_SECRET_VSTR(t, "apiSecretKeySecretName"))
		rc = add(&ps, TM_SECRET_API_SECRET_KEY, "api-secret-key", NULL, "api-secret-key", TM_FORM_VALUE, err);
	if (rc == 0 && !TM_SECRET_VSTR(t, "jwtSecretName"))
		rc = add(&ps, TM_SECRET_JWT_SECRET, "jwt-secret", NULL, "jwt-secret", TM_FORM_VALUE, err);
	if (rc == 0 && tm_secret_airflow2(t) && !TM_SECRET_VSTR(t, "webserverSecretKeySecretName"))
		rc = add(&ps, TM_SECRET_WEBSERVER_SECRET_KEY, "webserver-secret-key", NULL, "webserver-secret-key",
			 TM_FORM_VALUE, err);
	if (rc == 0)
		rc = connections(&ps, err);
	if (rc == 0 && tm_secret_vbool(t, "createUserJob", "enabled") &&
	    !TM_SECRET_VSTR(t, "createUserJob", "passwordSecretName"))
		rc = add(&ps, TM_SECRET_ADMIN_PASSWORD, "admin-password", NULL, "password", TM_FORM_VALUE, err);
	if (rc == 0 && ssh && git && (rc = add(&ps, TM_SECRET_GIT_SSH_KEY, NULL, ssh, "gitSshKey", TM_FORM_VALUE, err)) == 0)
		rc = add(&ps, TM_SECRET_COUNT, NULL, ssh, "known_hosts", TM_FORM_KNOWN_HOSTS, err);
	if (rc == 0 && https && git)
		rc = add(&ps, TM_SECRET_GIT_HTTPS_TOKEN, NULL, https, "GITSYNC_PASSWORD", TM_FORM_VALUE, err);
	if (rc == 0)
		*n = ps.n;
	return rc;
}

/* ------------------------------------------------------------------ live values */

struct tm_secret_set *tm_secret_set_new(void)
{
	struct tm_secret_set *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	for (int i = 0; i < TM_SECRET_COUNT; i++)
		tm_buf_init(&s->value[i], "secret", TM_SECRET_MAX_FILE);
	tm_buf_init(&s->known_hosts, "known_hosts", TM_SECRET_MAX_FILE);
	return s;
}

bool tm_secret_set_has(const struct tm_secret_set *s, enum tm_secret_id id)
{
	return s && (unsigned)id < TM_SECRET_COUNT && s->have[id];
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The percent-decoded password of "scheme://user:password@..." (s, n) into out. */
static int uri_password(struct tm_buf *out, const char *s, size_t n, struct tm_err *err)
{
	const char *p = memmem(s, n, "://", 3), *end = s + n, *colon, *at;

	if (!p)
		return TM_ECORRUPT;
	p += 3;
	/* user and password are percent-encoded: the first '@' ends them */
	if (!(at = memchr(p, '@', (size_t)(end - p))) || !(colon = memchr(p, ':', (size_t)(at - p))))
		return TM_ECORRUPT;
	for (p = colon + 1; p < at; p++) {
		char c = *p;
		int rc;

		if (c == '%') {
			if (at - p < 3 || hexval(p[1]) < 0 || hexval(p[2]) < 0)
				return TM_ECORRUPT;
			c = (char)(hexval(p[1]) * 16 + hexval(p[2]));
			p += 2;
		}
		if ((rc = tm_buf_append(out, &c, 1, err)) < 0)
			return rc;
	}
	return 0;
}

/* The password of the first users.txt line: "user" "password" ('"' doubled in user). */
static int pgbouncer_password(struct tm_buf *out, const char *s, size_t n, struct tm_err *err)
{
	const char *nl = memchr(s, '\n', n), *end = nl ? nl : s + n, *open;

	if (end - s < 2 || end[-1] != '"')
		return TM_ECORRUPT;
	for (open = end - 2; open > s && *open != '"'; open--)
		;
	if (open <= s || open[-1] != ' ')
		return TM_ECORRUPT;
	return tm_buf_append(out, open + 1, (size_t)(end - 1 - (open + 1)), err);
}

/* The stored secret one live Secret key holds, into out (cleared first). */
static int read_place(struct tm_buf *out, const struct tm_secret_place *p, const char *b64, struct tm_err *err)
{
	struct tm_buf raw = TM_BUF_INIT("secret data", 4 * TM_SECRET_MAX_FILE);
	size_t len = strlen(b64);
	int rc;

	tm_buf_wipe(out);
	if ((rc = tm_secret_reserve(&raw, len, err)) < 0 || (rc = tm_secret_reserve(out, len, err)) < 0)
		goto out;
	if (tm_secret_b64_decode(&raw, b64, len, sodium_base64_VARIANT_ORIGINAL) < 0) {
		rc = TM_ECORRUPT;
		goto out;
	}
	if (p->form == TM_FORM_URI_PASSWORD)
		rc = uri_password(out, raw.data, raw.len, err);
	else if (p->form == TM_FORM_PGBOUNCER_USERS)
		rc = pgbouncer_password(out, raw.data, raw.len, err);
	else
		rc = tm_buf_append(out, raw.data, raw.len, err);
out:
	tm_buf_wipe(&raw);
	if (rc == TM_ECORRUPT)
		rc = tm_err_set(err, TM_ECORRUPT, "the live Secret '%s' key '%s' does not hold a %s as tarmac writes it",
				p->name, p->key, p->form == TM_FORM_VALUE || p->form == TM_FORM_KNOWN_HOSTS ? "base64 value"
				: "connection with a password");
	return rc;
}

/* Keeps v as the live value of p->id unless another place said otherwise. */
static int keep(struct tm_secret_set *s, const struct tm_secret_place *p, const struct tm_secret_place *first,
		const struct tm_buf *v, struct tm_err *err)
{
	struct tm_buf *dst = p->id == TM_SECRET_COUNT ? &s->known_hosts : &s->value[p->id];
	bool had = p->id == TM_SECRET_COUNT ? s->known_hosts.len > 0 : s->have[p->id];
	int rc;

	if (had) {
		if (dst->len == v->len && sodium_memcmp(dst->data, v->data, v->len) == 0)
			return 0;
		return tm_err_set(err, TM_ECONFLICT, "the live Secrets disagree on '%s': '%s' key '%s' and '%s' key '%s' "
				  "hold different values", tm_secret_name(p->id), first->name, first->key, p->name, p->key);
	}
	if (p->id != TM_SECRET_COUNT)
		s->have[p->id] = true;
	if ((rc = tm_secret_reserve(dst, v->len, err)) < 0)
		return rc;
	return tm_buf_append(dst, v->data, v->len, err);
}

int tm_secret_live_set(struct tm_secret_set **out, const struct tm_secret_place *places, size_t n,
		       const json_t *live, struct tm_err *err)
{
	struct tm_buf v = TM_BUF_INIT("secret", TM_SECRET_MAX_FILE);
	const struct tm_secret_place *first[TM_SECRET_COUNT + 1] = { 0 };
	struct tm_secret_set *s = tm_secret_set_new();
	int rc = 0;

	if (!s)
		return tm_err_set(err, TM_ERROR, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct tm_secret_place *p = &places[i];
		const char *b64 = json_string_value(tm_doc_get((json_t *)live, p->name, "data", p->key, NULL));

		if (!b64)
			continue;
		if ((rc = read_place(&v, p, b64, err)) < 0 ||
		    (rc = keep(s, p, first[p->id] ? first[p->id] : p, &v, err)) < 0)
			goto out;
		if (!first[p->id])
			first[p->id] = p;
	}
	*out = s;
	s = NULL;
out:
	tm_buf_wipe(&v);
	tm_secret_set_free(s);
	return rc;
}
