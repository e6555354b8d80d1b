/* The Kubernetes Secrets made from an environment's secrets and values: the chart's
 * names and keys, external ones left out and listed, URIs derived and encoded. */
#include <sodium.h>

#include "helpers.h"
#include "tarmac/doc.h"
#include "render/render_private.h"

struct fixture {
	struct env e;
	struct tm_secret_key *k;
	struct tm_secret_set *s;
	struct tm_values v;
	struct tm_secret_target t;
};

/* values for env with --set arguments (NULL-terminated) */
static void fixture_make(struct fixture *f, const char *env, const char *const *sets)
{
	struct tm_set_arg args[16];
	struct tm_render_opts o = { .env = env, .release = "af", .namespace = "data" };
	enum tm_secret_action act[TM_SECRET_COUNT];
	struct tm_secret_init_opts io = { .env = "dev" };
	struct tm_err err;
	size_t n = 0;

	for (; sets && sets[n]; n++)
		args[n] = (struct tm_set_arg){ .kind = TM_ARG_SET, .arg = sets[n] };
	o.sets = args;
	o.nsets = n;
	env_make(&f->e);
	io.dir = f->e.dir;
	tm_err_init(&err);
	cr_assert_eq(tm_secret_init(act, &io, &err), 0, "%s", tm_err_msg(&err));
	f->k = env_key(&f->e);
	cr_assert_eq(tm_secret_set_open(&f->s, f->e.dir, f->k, &err), 0, "%s", tm_err_msg(&err));
	memset(&f->v, 0, sizeof(f->v));
	cr_assert_eq(tm_render_values(&f->v, &o, &err), 0, "%s", tm_err_msg(&err));
	f->t = (struct tm_secret_target){ .release = "af", .namespace = "data", .values = f->v.tree };
}

static void fixture_drop(struct fixture *f)
{
	tm_values_release(&f->v);
	tm_secret_set_free(f->s);
	tm_secret_key_free(f->k);
	env_drop(&f->e);
}

static json_t *objects(struct fixture *f)
{
	json_t *out = NULL;
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_secret_objects(&out, f->s, &f->t, &err), 0, "%s", tm_err_msg(&err));
	return out;
}

static json_t *find(json_t *objs, const char *name)
{
	size_t i;
	json_t *o;

	json_array_foreach(objs, i, o)
		if (strcmp(json_string_value(tm_doc_get(o, "metadata", "name", NULL)), name) == 0)
			return o;
	return NULL;
}

/* The decoded value of data[key] of Secret name (caller frees). */
static char *data_of(json_t *objs, const char *name, const char *key)
{
	json_t *o = find(objs, name);
	const char *b64 = json_string_value(tm_doc_get(o, "data", key, NULL));
	unsigned char *raw;
	size_t n = 0;

	cr_assert_not_null(b64, "%s has no data '%s'", name, key);
	raw = calloc(1, strlen(b64) + 1);
	cr_assert_eq(sodium_base642bin(raw, strlen(b64), b64, strlen(b64), NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	raw[n] = 0;
	return (char *)raw;
}

static const char *stored(struct fixture *f, enum tm_secret_id id)
{
	const char *v;

	cr_assert_eq(tm_secret_set_get(f->s, id, &v, NULL), 0);
	return v;
}

Test(secret_objects, dev_gets_the_chart_names_and_keys)
{
	struct fixture f;
	json_t *objs, *o;
	char *v, want[512];

	fixture_make(&f, "dev", NULL);
	objs = objects(&f);
	/* KubernetesExecutor, built-in PostgreSQL: no broker, no PgBouncer, no admin job */
	cr_assert_eq(json_array_size(objs), 5, "%s", json_dumps(objs, 0));
	v = data_of(objs, "af-fernet-key", "fernet-key");
	cr_assert_str_eq(v, stored(&f, TM_SECRET_FERNET_KEY));
	free(v);
	v = data_of(objs, "af-api-secret-key", "api-secret-key");
	cr_assert_str_eq(v, stored(&f, TM_SECRET_API_SECRET_KEY));
	free(v);
	v = data_of(objs, "af-jwt-secret", "jwt-secret");
	cr_assert_str_eq(v, stored(&f, TM_SECRET_JWT_SECRET));
	free(v);
	v = data_of(objs, "af-postgresql", "password");
	cr_assert_str_eq(v, stored(&f, TM_SECRET_DB_PASSWORD));
	free(v);
	v = data_of(objs, "af-metadata", "connection");
	snprintf(want, sizeof(want), "postgresql://airflow:%s@af-postgresql.data:5432/airflow?sslmode=disable",
		 stored(&f, TM_SECRET_DB_PASSWORD));
	cr_assert_str_eq(v, want);
	free(v);
	o = find(objs, "af-fernet-key");
	cr_assert_str_eq(json_string_value(tm_doc_get(o, "metadata", "namespace", NULL)), "data");
	cr_assert_str_eq(json_string_value(tm_doc_get(o, "metadata", "annotations", "tarmac.io/resource-policy", NULL)), "keep");
	cr_assert_eq(strlen(json_string_value(tm_doc_get(o, "metadata", "annotations", "tarmac.io/content-hash", NULL))), 64);
	cr_assert_str_eq(json_string_value(json_object_get(o, "type")), "Opaque");
	cr_assert_null(find(objs, "af-webserver-secret-key"), "Airflow 3 has no webserver key");
	tm_secret_objects_free(objs);
	fixture_drop(&f);
}

Test(secret_objects, content_hash_is_stable_keyed_and_follows_the_value)
{
	struct fixture f;
	json_t *a, *b;
	const char *ha, *hb;
	char plain[65], *raw;
	unsigned char h[32];

	fixture_make(&f, "dev", NULL);
	a = objects(&f);
	b = objects(&f);
	ha = json_string_value(tm_doc_get(find(a, "af-jwt-secret"), "metadata", "annotations", "tarmac.io/content-hash", NULL));
	hb = json_string_value(tm_doc_get(find(b, "af-jwt-secret"), "metadata", "annotations", "tarmac.io/content-hash", NULL));
	cr_assert_str_eq(ha, hb, "the same values give the same hash: pods do not roll");
	/* not an unkeyed hash of the value, which anyone reading annotations could test guesses against */
	raw = data_of(a, "af-jwt-secret", "jwt-secret");
	crypto_generichash(h, sizeof(h), (const unsigned char *)raw, strlen(raw), NULL, 0);
	sodium_bin2hex(plain, sizeof(plain), h, sizeof(h));
	cr_assert_str_neq(ha, plain);
	tm_sha256_hex(plain, raw, strlen(raw));
	cr_assert_str_neq(ha, plain);
	free(raw);
	cr_assert_str_neq(ha, json_string_value(tm_doc_get(find(a, "af-api-secret-key"), "metadata", "annotations",
							    "tarmac.io/content-hash", NULL)));
	tm_secret_objects_free(a);
	tm_secret_objects_free(b);
	fixture_drop(&f);
}

Test(secret_objects, prod_goes_through_pgbouncer_with_celery_and_admin)
{
	static const char *const sets[] = { "executor=CeleryExecutor", "createUserJob.enabled=true",
					    "data.metadataConnection.user=air flow@x", NULL };
	struct fixture f;
	json_t *objs;
	char *v, want[512];
	const char *pw;

	fixture_make(&f, "prod", sets);
	objs = objects(&f);
	pw = stored(&f, TM_SECRET_DB_PASSWORD);
	v = data_of(objs, "af-metadata", "connection");
	snprintf(want, sizeof(want), "postgresql://air%%20flow%%40x:%s@af-pgbouncer.data:6543/af-metadata?sslmode=disable", pw);
	cr_assert_str_eq(v, want);
	free(v);
	v = data_of(objs, "af-pgbouncer-users", "users.txt");
	snprintf(want, sizeof(want), "\"air flow@x\" \"%s\"\n", pw);
	cr_assert_str_eq(v, want);
	free(v);
	v = data_of(objs, "af-pgbouncer-stats", "connection");
	snprintf(want, sizeof(want), "postgresql://air%%20flow%%40x:%s@127.0.0.1:6543/pgbouncer?sslmode=disable", pw);
	cr_assert_str_eq(v, want);
	free(v);
	cr_assert_null(find(objs, "af-postgresql"), "prod has no built-in PostgreSQL");
	v = data_of(objs, "af-redis-password", "password");
	cr_assert_str_eq(v, stored(&f, TM_SECRET_REDIS_PASSWORD));
	free(v);
	v = data_of(objs, "af-broker-url", "connection");
	snprintf(want, sizeof(want), "redis://:%s@af-redis.data:6379/0", stored(&f, TM_SECRET_REDIS_PASSWORD));
	cr_assert_str_eq(v, want);
	free(v);
	v = data_of(objs, "af-admin-password", "password");
	cr_assert_str_eq(v, stored(&f, TM_SECRET_ADMIN_PASSWORD));
	free(v);
	tm_secret_objects_free(objs);
	fixture_drop(&f);
}

Test(secret_objects, external_secrets_are_left_out_and_listed)
{
	static const char *const sets[] = { "fernetKeySecretName=my-fernet", "jwtSecretName=my-jwt",
					    "data.metadataSecretName=my-db", "executor=CeleryExecutor",
					    "redis.passwordSecretName=my-redis", "dags.gitSync.enabled=true",
					    "dags.gitSync.repo=ssh://git@x/r.git", "dags.gitSync.sshKeySecret=af-git",
					    NULL };
	struct fixture f;
	json_t *objs, *ext = NULL;
	struct tm_err err;
	char *s;

	fixture_make(&f, "prod", sets);
	objs = objects(&f);
	cr_assert_null(find(objs, "af-fernet-key"));
	cr_assert_null(find(objs, "af-jwt-secret"));
	cr_assert_null(find(objs, "af-metadata"));
	cr_assert_null(find(objs, "af-pgbouncer-users"), "its password is the external Secret's");
	cr_assert_null(find(objs, "af-redis-password"));
	cr_assert_null(find(objs, "af-broker-url"));
	cr_assert_not_null(find(objs, "af-api-secret-key"));
	s = data_of(objs, "af-git", "gitSshKey");
	cr_assert_str_eq(s, stored(&f, TM_SECRET_GIT_SSH_KEY));
	free(s);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_external(&ext, f.s, &f.t, &err), 0, "%s", tm_err_msg(&err));
	s = json_dumps(ext, JSON_COMPACT);
	cr_assert_str_eq(s,
		"[{\"name\":\"my-fernet\",\"key\":\"fernet-key\",\"because\":\"values fernetKeySecretName\"},"
		"{\"name\":\"my-jwt\",\"key\":\"jwt-secret\",\"because\":\"values jwtSecretName\"},"
		"{\"name\":\"my-db\",\"key\":\"connection\",\"because\":\"values data.metadataSecretName\"},"
		"{\"name\":\"af-pgbouncer-users\",\"key\":\"users.txt\",\"because\":\"values data.metadataSecretName with pgbouncer.enabled\"},"
		"{\"name\":\"af-pgbouncer-stats\",\"key\":\"connection\",\"because\":\"values data.metadataSecretName with pgbouncer.enabled\"},"
		"{\"name\":\"af-broker-url\",\"key\":\"connection\",\"because\":\"values redis.passwordSecretName (tarmac cannot build the URL without the password)\"},"
		"{\"name\":\"my-redis\",\"key\":\"password\",\"because\":\"values redis.passwordSecretName\"}]");
	free(s);
	json_decref(ext);
	tm_secret_objects_free(objs);
	fixture_drop(&f);
}

Test(secret_objects, a_missing_secret_names_itself)
{
	struct fixture f;
	json_t *objs = NULL;
	struct tm_err err;
	char p[700];

	fixture_make(&f, "dev", NULL);
	tm_secret_set_free(f.s);
	snprintf(p, sizeof(p), "%s/db-password.sealed", f.e.dir);
	cr_assert_eq(unlink(p), 0);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_set_open(&f.s, f.e.dir, f.k, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_secret_objects(&objs, f.s, &f.t, &err), TM_ENOTFOUND);
	cr_assert_null(objs);
	cr_assert(strstr(tm_err_msg(&err), "secret 'db-password' (for the metadata connection)") != NULL, "%s",
		  tm_err_msg(&err));
	fixture_drop(&f);
}

Test(secret_objects, uri_encoding)
{
	struct tm_buf b = TM_BUF_INIT("uri", 4096);
	struct tm_secret_db d = { "postgresql", "a:b/c", "2001:db8::1", "my db", "verify-full", 5433 };
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_secret_db_uri(&b, &d, "p@ss:w/rd?#%", &err), 0);
	cr_assert_str_eq(b.data, "postgresql://a%3Ab%2Fc:p%40ss%3Aw%2Frd%3F%23%25@[2001:db8::1]:5433/my%20db?sslmode=verify-full");
	tm_buf_clear(&b);
	d.sslmode = NULL;
	d.host = "db";
	cr_assert_eq(tm_secret_db_uri(&b, &d, "x", &err), 0);
	cr_assert_str_eq(b.data, "postgresql://a%3Ab%2Fc:x@db:5433/my%20db");
	d.port = 0;
	cr_assert_eq(tm_secret_db_uri(&b, &d, "x", &err), TM_EINVALID);
	tm_buf_release(&b);
}
