/* The live-secrets guard and recover: where each secret lives matches what objects.c
 * makes, live values read back exactly, the guard's verdicts (same, rotated, missing,
 * changed) for the accidents and the rotations, and recover's refusals. */
#include <sodium.h>

#include "helpers.h"
#include "tarmac/doc.h"
#include "render/render_private.h"

#define KNOWN_HOSTS "[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOkqdOQUmWdcdkxS3Ykq+5gFu6TJ7Oom8RqxwHXYFXZL\n"

static const char *const dev[] = { NULL };
static const char *const prod[] = { "executor=CeleryExecutor", "createUserJob.enabled=true",
				    "data.metadataConnection.user=air flow@x", NULL };
static const char *const external[] = { "fernetKeySecretName=my-fernet", "data.metadataSecretName=my-db",
					"executor=CeleryExecutor", "redis.passwordSecretName=my-redis", NULL };
static const char *const airflow2[] = { "airflowVersion=2.10.5", "executor=CeleryExecutor",
					"data.brokerUrlSecretName=my-broker", NULL };
static const char *const gitsync[] = { "dags.gitSync.enabled=true", "dags.gitSync.repo=ssh://git@x/r.git",
				       "dags.gitSync.sshKeySecret=af-git", NULL };

struct fx {
	struct env e;
	struct tm_values v;
	struct tm_secret_target t;
	json_t *live; /* name -> Secret, as the cluster would hold what objects() made */
};

static struct tm_secret_set *open_set(const struct env *e, bool previous)
{
	struct tm_secret_key *k = env_key(e);
	struct tm_secret_set *s = NULL;
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq((previous ? tm_secret_set_open_previous : tm_secret_set_open)(&s, e->dir, k, &err), 0, "%s",
		     tm_err_msg(&err));
	tm_secret_key_free(k);
	return s;
}

static void do_init(const struct env *e, const char *force)
{
	struct tm_secret_init_opts io = { .dir = e->dir, .env = "dev" };
	enum tm_secret_action act[TM_SECRET_COUNT];
	char kh[600];
	struct tm_err err;
	enum tm_secret_id id;

	snprintf(kh, sizeof(kh), "%s/kh", e->root);
	spit(kh, KNOWN_HOSTS, strlen(KNOWN_HOSTS), 0644);
	io.known_hosts_path = kh;
	if (force) {
		cr_assert_eq(tm_secret_lookup(force, &id), 0);
		io.force[id] = true;
	}
	tm_err_init(&err);
	cr_assert_eq(tm_secret_init(act, &io, &err), 0, "%s", tm_err_msg(&err));
}

/* The Secrets of f's sealed files, as the cluster holds them after a deploy. */
static void deploy(struct fx *f)
{
	struct tm_secret_set *s = open_set(&f->e, false);
	json_t *objs = NULL, *o;
	struct tm_err err;
	size_t i;

	tm_err_init(&err);
	cr_assert_eq(tm_secret_objects(&objs, s, &f->t, &err), 0, "%s", tm_err_msg(&err));
	json_decref(f->live);
	f->live = json_object();
	json_array_foreach(objs, i, o)
		json_object_set(f->live, json_string_value(tm_doc_get(o, "metadata", "name", NULL)), o);
	json_decref(objs);
	tm_secret_set_free(s);
}

static void fx_make(struct fx *f, const char *const *sets)
{
	struct tm_set_arg args[16];
	struct tm_render_opts o = { .env = "prod", .release = "af", .namespace = "data" };
	struct tm_err err;
	size_t n = 0;

	for (; sets[n]; n++)
		args[n] = (struct tm_set_arg){ .kind = TM_ARG_SET, .arg = sets[n] };
	o.sets = args;
	o.nsets = n;
	memset(f, 0, sizeof(*f));
	env_make(&f->e);
	do_init(&f->e, NULL);
	tm_err_init(&err);
	cr_assert_eq(tm_render_values(&f->v, &o, &err), 0, "%s", tm_err_msg(&err));
	f->t = (struct tm_secret_target){ .release = "af", .namespace = "data", .values = f->v.tree };
	deploy(f);
}

static void fx_drop(struct fx *f)
{
	json_decref(f->live);
	tm_values_release(&f->v);
	env_drop(&f->e);
}

static struct tm_secret_set *live_set(struct fx *f)
{
	struct tm_secret_place p[TM_SECRET_MAX_PLACES];
	struct tm_secret_set *s = NULL;
	struct tm_err err;
	size_t n;

	tm_err_init(&err);
	cr_assert_eq(tm_secret_places(p, &n, &f->t, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_secret_live_set(&s, p, n, f->live, &err), 0, "%s", tm_err_msg(&err));
	return s;
}

/* The verdicts of the sealed files against f's live Secrets; returns the refusals. */
static int verdicts(struct fx *f, enum tm_secret_verdict v[TM_SECRET_COUNT], bool no_files)
{
	struct tm_secret_set *live = live_set(f), *s = no_files ? NULL : open_set(&f->e, false);
	struct tm_secret_set *prev = no_files ? NULL : open_set(&f->e, true);
	int refused = tm_secret_guard(v, s, prev, live, NULL);

	tm_secret_set_free(live);
	tm_secret_set_free(s);
	tm_secret_set_free(prev);
	return refused;
}

static void sealed_path(char *out, size_t n, const struct env *e, const char *file)
{
	snprintf(out, n, "%s/%s", e->dir, file);
}

Test(secret_guard, verdict_names_are_complete)
{
	for (int v = 0; v < TM_GUARD_VERDICT_COUNT; v++)
		cr_assert_not_null(tm_secret_verdict_name((enum tm_secret_verdict)v), "verdict %d", v);
	cr_assert_null(tm_secret_verdict_name(TM_GUARD_VERDICT_COUNT));
}

/* Every Secret key objects.c fills from a stored secret is a place, and every place
 * is such a key: the guard and recover look exactly where up writes. */
Test(secret_guard, places_are_where_the_objects_put_each_secret)
{
	const char *const *configs[] = { dev, prod, external, airflow2, gitsync };

	for (size_t c = 0; c < TM_ARRAY_LEN(configs); c++) {
		struct tm_secret_place p[TM_SECRET_MAX_PLACES];
		struct fx f;
		struct tm_err err;
		const char *name;
		json_t *obj, *v;
		size_t n, keys = 0;

		fx_make(&f, configs[c]);
		tm_err_init(&err);
		cr_assert_eq(tm_secret_places(p, &n, &f.t, &err), 0, "%s", tm_err_msg(&err));
		json_object_foreach(f.live, name, obj) {
			const char *key;
			json_object_foreach(json_object_get(obj, "data"), key, v) {
				size_t i;
				for (i = 0; i < n && (strcmp(p[i].name, name) || strcmp(p[i].key, key)); i++)
					;
				cr_assert_lt(i, n, "config %zu: Secret '%s' key '%s' is no place", c, name, key);
				keys++;
			}
		}
		cr_assert_eq(keys, n, "config %zu: %zu places, %zu Secret keys", c, n, keys);
		fx_drop(&f);
	}
}

/* Read back from the Secrets, every stored secret is the sealed value, through URIs
 * and the PgBouncer users list, with characters that need percent-encoding. */
Test(secret_guard, live_values_read_back_exactly)
{
	const char *const *configs[] = { dev, prod, gitsync };

	for (size_t c = 0; c < TM_ARRAY_LEN(configs); c++) {
		struct tm_secret_recipient *r;
		struct tm_buf text = TM_BUF_INIT("sealed", 1 << 20);
		struct tm_secret_set *sealed, *live;
		struct fx f;
		struct tm_err err;
		char path[700];
		int found = 0;

		fx_make(&f, configs[c]);
		/* passwords tarmac would never generate, to exercise the decoding */
		r = env_recipient(&f.e);
		tm_err_init(&err);
		cr_assert_eq(tm_secret_seal(&text, r, "db-password", NULL, "p@ss:w/rd%25 x&?#", 17, &err), 0);
		sealed_path(path, sizeof(path), &f.e, "db-password.sealed");
		spit(path, text.data, text.len, 0644);
		tm_buf_clear(&text);
		cr_assert_eq(tm_secret_seal(&text, r, "redis-password", NULL, "r:@/%", 5, &err), 0);
		sealed_path(path, sizeof(path), &f.e, "redis-password.sealed");
		spit(path, text.data, text.len, 0644);
		tm_buf_release(&text);
		tm_secret_recipient_free(r);
		deploy(&f);
		sealed = open_set(&f.e, false);
		live = live_set(&f);
		for (int id = 0; id < TM_SECRET_COUNT; id++) {
			const char *a, *b;
			size_t al, bl;
			if (!tm_secret_set_has(live, id))
				continue;
			found++;
			cr_assert_eq(tm_secret_set_get(live, id, &a, &al), 0);
			cr_assert_eq(tm_secret_set_get(sealed, id, &b, &bl), 0);
			cr_assert(al == bl && memcmp(a, b, al) == 0, "config %zu: %s read back differently", c,
				  tm_secret_name(id));
		}
		cr_assert_geq(found, 4, "config %zu: only %d secrets live", c, found);
		tm_secret_set_free(sealed);
		tm_secret_set_free(live);
		fx_drop(&f);
	}
}

Test(secret_guard, the_same_values_pass)
{
	enum tm_secret_verdict v[TM_SECRET_COUNT];
	struct fx f;

	fx_make(&f, prod);
	cr_assert_eq(verdicts(&f, v, false), 0);
	cr_assert_eq(v[TM_SECRET_FERNET_KEY], TM_GUARD_SAME);
	cr_assert_eq(v[TM_SECRET_DB_PASSWORD], TM_GUARD_SAME);
	cr_assert_eq(v[TM_SECRET_REDIS_PASSWORD], TM_GUARD_SAME);
	cr_assert_eq(v[TM_SECRET_ADMIN_PASSWORD], TM_GUARD_SAME);
	cr_assert_eq(v[TM_SECRET_WEBSERVER_SECRET_KEY], TM_GUARD_UNUSED, "Airflow 3 has no webserver secret");
	cr_assert_eq(v[TM_SECRET_GIT_SSH_KEY], TM_GUARD_UNUSED);
	fx_drop(&f);
}

Test(secret_guard, a_deleted_sealed_file_is_refused)
{
	enum tm_secret_verdict v[TM_SECRET_COUNT];
	struct fx f;
	char path[700];

	fx_make(&f, dev);
	sealed_path(path, sizeof(path), &f.e, "fernet-key.sealed");
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(verdicts(&f, v, false), 1);
	cr_assert_eq(v[TM_SECRET_FERNET_KEY], TM_GUARD_MISSING);
	cr_assert_eq(v[TM_SECRET_JWT_SECRET], TM_GUARD_SAME);
	fx_drop(&f);
}

/* Without git-ssh-key.sealed the deploy key's Secret is external: up leaves it alone. */
Test(secret_guard, a_deploy_key_that_is_not_stored_is_external)
{
	enum tm_secret_verdict v[TM_SECRET_COUNT];
	struct fx f;
	char path[700];

	fx_make(&f, gitsync);
	sealed_path(path, sizeof(path), &f.e, "git-ssh-key.sealed");
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(verdicts(&f, v, false), 0);
	cr_assert_eq(v[TM_SECRET_GIT_SSH_KEY], TM_GUARD_UNUSED);
	cr_assert_eq(verdicts(&f, v, true), 5, "with no sealed files at all it is missing like the others");
	cr_assert_eq(v[TM_SECRET_GIT_SSH_KEY], TM_GUARD_MISSING);
	fx_drop(&f);
}

Test(secret_guard, no_sealed_files_refuses_every_live_secret)
{
	enum tm_secret_verdict v[TM_SECRET_COUNT];
	struct fx f;

	fx_make(&f, dev);
	/* fernet, api, jwt and the database password */
	cr_assert_eq(verdicts(&f, v, true), 4);
	for (int id = 0; id < TM_SECRET_COUNT; id++)
		cr_assert(v[id] == TM_GUARD_MISSING || v[id] == TM_GUARD_UNUSED, "%s", tm_secret_name(id));
	fx_drop(&f);
}

/* A new key pair with new secrets (a fresh runner that ran up, a copied directory). */
Test(secret_guard, another_environment_key_is_refused_for_every_secret)
{
	enum tm_secret_verdict v[TM_SECRET_COUNT];
	struct fx f;
	struct env other;

	fx_make(&f, dev);
	other = f.e;
	env_make(&f.e);
	do_init(&f.e, NULL);
	cr_assert_eq(verdicts(&f, v, false), 4);
	cr_assert_eq(v[TM_SECRET_FERNET_KEY], TM_GUARD_CHANGED);
	cr_assert_eq(v[TM_SECRET_DB_PASSWORD], TM_GUARD_CHANGED);
	env_drop(&other);
	fx_drop(&f);
}

/* A value sealed over the file without rotate (a copy from elsewhere, a bad merge), or
 * with a previous file that is not the live value: refused. */
Test(secret_guard, a_change_without_a_rotation_is_refused)
{
	enum tm_secret_verdict v[TM_SECRET_COUNT];
	struct tm_secret_recipient *r;
	struct tm_buf text = TM_BUF_INIT("sealed", 1 << 20);
	struct tm_err err;
	struct fx f;
	char path[700];

	fx_make(&f, dev);
	r = env_recipient(&f.e);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_seal(&text, r, "jwt-secret", NULL, "another", 7, &err), 0);
	sealed_path(path, sizeof(path), &f.e, "jwt-secret.sealed");
	spit(path, text.data, text.len, 0644);
	cr_assert_eq(verdicts(&f, v, false), 1);
	cr_assert_eq(v[TM_SECRET_JWT_SECRET], TM_GUARD_CHANGED);
	sealed_path(path, sizeof(path), &f.e, "jwt-secret.previous.sealed");
	spit(path, text.data, text.len, 0644);
	cr_assert_eq(verdicts(&f, v, false), 1, "a previous value that is not the live one records no rotation");
	tm_buf_release(&text);
	tm_secret_recipient_free(r);
	fx_drop(&f);
}

Test(secret_guard, a_rotation_passes_once_and_its_rollback_too)
{
	enum tm_secret_verdict v[TM_SECRET_COUNT];
	struct tm_err err;
	struct fx f;

	fx_make(&f, dev);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_rotate(f.e.dir, TM_SECRET_JWT_SECRET, TM_ROTATE_START, NULL, 0, NULL, &err), 0);
	cr_assert_eq(verdicts(&f, v, false), 0);
	cr_assert_eq(v[TM_SECRET_JWT_SECRET], TM_GUARD_ROTATED);
	cr_assert_eq(v[TM_SECRET_FERNET_KEY], TM_GUARD_SAME);
	/* two rotations before a deploy: the live value is no longer the previous one */
	cr_assert_eq(tm_secret_rotate(f.e.dir, TM_SECRET_JWT_SECRET, TM_ROTATE_START, NULL, 0, NULL, &err), 0);
	cr_assert_eq(verdicts(&f, v, false), 1);
	cr_assert_eq(v[TM_SECRET_JWT_SECRET], TM_GUARD_CHANGED);
	/* deployed, then rolled back: the previous file holds the live value again */
	deploy(&f);
	cr_assert_eq(tm_secret_rotate(f.e.dir, TM_SECRET_JWT_SECRET, TM_ROTATE_ROLLBACK, NULL, 0, NULL, &err), 0);
	cr_assert_eq(verdicts(&f, v, false), 0);
	cr_assert_eq(v[TM_SECRET_JWT_SECRET], TM_GUARD_ROTATED);
	fx_drop(&f);
}

Test(secret_guard, fernet_rotation_steps_and_init_force_are_rotations)
{
	enum tm_secret_verdict v[TM_SECRET_COUNT];
	struct tm_secret_key *k;
	struct tm_err err;
	struct fx f;

	fx_make(&f, dev);
	k = env_key(&f.e);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_rotate(f.e.dir, TM_SECRET_FERNET_KEY, TM_ROTATE_START, k, 0, NULL, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(verdicts(&f, v, false), 0);
	cr_assert_eq(v[TM_SECRET_FERNET_KEY], TM_GUARD_ROTATED);
	deploy(&f);
	cr_assert_eq(tm_secret_rotate(f.e.dir, TM_SECRET_FERNET_KEY, TM_ROTATE_FINISH, k, 0, NULL, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(verdicts(&f, v, false), 0);
	cr_assert_eq(v[TM_SECRET_FERNET_KEY], TM_GUARD_ROTATED);
	deploy(&f);
	cr_assert_eq(verdicts(&f, v, false), 0);
	cr_assert_eq(v[TM_SECRET_FERNET_KEY], TM_GUARD_SAME);
	do_init(&f.e, "db-password");
	cr_assert_eq(verdicts(&f, v, false), 0);
	cr_assert_eq(v[TM_SECRET_DB_PASSWORD], TM_GUARD_ROTATED);
	tm_secret_key_free(k);
	fx_drop(&f);
}

/* A previous file sealed to a key the environment had before is skipped, not an error. */
Test(secret_guard, a_previous_file_of_an_older_key_is_left_out)
{
	struct env old;
	struct fx f;
	char from[700], to[700];
	struct tm_secret_set *prev;

	fx_make(&f, dev);
	env_make(&old);
	do_init(&old, NULL);
	sealed_path(from, sizeof(from), &old, "jwt-secret.sealed");
	sealed_path(to, sizeof(to), &f.e, "jwt-secret.previous.sealed");
	cr_assert_eq(rename(from, to), 0);
	prev = open_set(&f.e, true);
	cr_assert_not(tm_secret_set_has(prev, TM_SECRET_JWT_SECRET));
	tm_secret_set_free(prev);
	env_drop(&old);
	fx_drop(&f);
}

/* A Secret deleted by hand: the deployed record's sha256 of its value stands in. */
Test(secret_guard, a_deleted_live_secret_is_compared_with_the_record)
{
	enum tm_secret_verdict v[TM_SECRET_COUNT];
	const char *recorded[TM_SECRET_COUNT] = { 0 }, *val;
	struct tm_secret_set *live, *s, *prev;
	char hash[80], hex[65];
	struct tm_err err;
	size_t len;
	struct fx f;

	fx_make(&f, dev);
	s = open_set(&f.e, false);
	cr_assert_eq(tm_secret_set_get(s, TM_SECRET_JWT_SECRET, &val, &len), 0);
	tm_sha256_hex(hex, val, len);
	snprintf(hash, sizeof(hash), "sha256:%s", hex);
	tm_secret_set_free(s);
	json_object_del(f.live, "af-jwt-secret");
	live = live_set(&f);
	s = open_set(&f.e, false);
	cr_assert_eq(tm_secret_guard(v, s, NULL, live, recorded), 0);
	cr_assert_eq(v[TM_SECRET_JWT_SECRET], TM_GUARD_UNUSED, "no record: nothing to compare with");
	recorded[TM_SECRET_JWT_SECRET] = hash;
	cr_assert_eq(tm_secret_guard(v, s, NULL, live, recorded), 0);
	cr_assert_eq(v[TM_SECRET_JWT_SECRET], TM_GUARD_SAME);
	tm_secret_set_free(s);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_rotate(f.e.dir, TM_SECRET_JWT_SECRET, TM_ROTATE_START, NULL, 0, NULL, &err), 0);
	s = open_set(&f.e, false);
	prev = open_set(&f.e, true);
	cr_assert_eq(tm_secret_guard(v, s, prev, live, recorded), 0);
	cr_assert_eq(v[TM_SECRET_JWT_SECRET], TM_GUARD_ROTATED);
	cr_assert_eq(tm_secret_guard(v, s, NULL, live, recorded), 1);
	cr_assert_eq(v[TM_SECRET_JWT_SECRET], TM_GUARD_CHANGED);
	tm_secret_set_free(s);
	tm_secret_set_free(prev);
	tm_secret_set_free(live);
	fx_drop(&f);
}

static void set_data(json_t *live, const char *name, const char *key, const char *plain)
{
	char b64[512];

	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)plain, strlen(plain), sodium_base64_VARIANT_ORIGINAL);
	json_object_set_new(json_object_get(json_object_get(live, name), "data"), key, json_string(b64));
}

Test(secret_guard, live_secrets_that_disagree_or_cannot_be_read_are_errors)
{
	struct tm_secret_place p[TM_SECRET_MAX_PLACES];
	struct tm_secret_set *s = NULL;
	struct tm_err err;
	struct fx f;
	size_t n;

	fx_make(&f, dev);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_places(p, &n, &f.t, &err), 0);
	set_data(f.live, "af-metadata", "connection", "postgresql://airflow:planted123@h:5432/airflow");
	cr_assert_eq(tm_secret_live_set(&s, p, n, f.live, &err), TM_ECONFLICT);
	cr_assert(strstr(tm_err_msg(&err), "'af-metadata' key 'connection'") && strstr(tm_err_msg(&err), "hold different values"),
		  "%s", tm_err_msg(&err));
	cr_assert_null(strstr(tm_err_msg(&err), "planted123"), "a value in: %s", tm_err_msg(&err));
	set_data(f.live, "af-metadata", "connection", "postgresql://planted123-no-password");
	tm_err_init(&err);
	cr_assert_eq(tm_secret_live_set(&s, p, n, f.live, &err), TM_ECORRUPT);
	cr_assert_null(strstr(tm_err_msg(&err), "planted123"), "a value in: %s", tm_err_msg(&err));
	fx_drop(&f);
}

/* ------------------------------------------------------------------ recover */

static int recover(struct fx *f, const struct env *into, enum tm_secret_recovered act[TM_SECRET_COUNT], bool new_key,
		   const char *force, struct tm_err *err)
{
	struct tm_secret_recover_opts o = { .dir = into->dir, .new_key = new_key };
	struct tm_secret_set *live = live_set(f);
	struct tm_secret_key *k = env_key(into);
	enum tm_secret_id id;
	int rc;

	if (force) {
		cr_assert_eq(tm_secret_lookup(force, &id), 0);
		o.force[id] = true;
	}
	tm_err_init(err);
	rc = tm_secret_recover(act, live, k, &o, err);
	tm_secret_key_free(k);
	tm_secret_set_free(live);
	return rc;
}

Test(secret_recover, seals_the_live_values_into_an_empty_directory_once)
{
	enum tm_secret_recovered act[TM_SECRET_COUNT];
	enum tm_secret_verdict v[TM_SECRET_COUNT];
	struct tm_err err;
	struct fx f;
	struct env lost;
	char path[700], *pub, *kh;

	fx_make(&f, gitsync);
	lost = f.e;
	env_make(&f.e); /* a new key pair, no sealed file: the key and the directory were lost */
	cr_assert_eq(recover(&f, &f.e, act, false, NULL, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(act[TM_SECRET_FERNET_KEY], TM_RECOVER_SEALED);
	cr_assert_eq(act[TM_SECRET_GIT_SSH_KEY], TM_RECOVER_SEALED);
	cr_assert_eq(act[TM_SECRET_REDIS_PASSWORD], TM_RECOVER_NONE, "not live: nothing to recover");
	cr_assert_eq(verdicts(&f, v, false), 0, "up after recover replaces nothing");
	cr_assert_eq(v[TM_SECRET_FERNET_KEY], TM_GUARD_SAME);
	cr_assert_eq(v[TM_SECRET_GIT_SSH_KEY], TM_GUARD_SAME);
	sealed_path(path, sizeof(path), &f.e, "git-ssh-key.pub");
	cr_assert_not_null(pub = slurp(path, NULL));
	cr_assert(strncmp(pub, "ssh-ed25519 ", 12) == 0, "%s", pub);
	sealed_path(path, sizeof(path), &f.e, "known_hosts");
	cr_assert_not_null(kh = slurp(path, NULL));
	cr_assert_str_eq(kh, KNOWN_HOSTS);
	free(pub);
	free(kh);
	cr_assert_eq(recover(&f, &f.e, act, false, NULL, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(act[TM_SECRET_FERNET_KEY], TM_RECOVER_KEPT);
	env_drop(&lost);
	fx_drop(&f);
}

/* The live known_hosts came from the cluster: one that is not known_hosts is refused
 * before anything is written. */
Test(secret_recover, a_live_known_hosts_that_is_not_one_writes_nothing)
{
	enum tm_secret_recovered act[TM_SECRET_COUNT];
	json_t *data;
	struct tm_err err;
	struct fx f;
	struct env lost;
	char path[700];

	fx_make(&f, gitsync);
	data = tm_doc_get(json_object_get(f.live, "af-git"), "data", NULL);
	cr_assert_not_null(data);
	/* "\x1b]0;x\x07 not a host key\n" */
	json_object_set_new(data, "known_hosts", json_string("G10wO3gHIG5vdCBhIGhvc3Qga2V5Cg=="));
	lost = f.e;
	env_make(&f.e);
	cr_assert_eq(recover(&f, &f.e, act, false, NULL, &err), TM_EINVALID, "%s", tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), "the live known_hosts") != NULL, "%s", tm_err_msg(&err));
	sealed_path(path, sizeof(path), &f.e, "fernet-key.sealed");
	cr_assert_eq(access(path, F_OK), -1, "nothing written");
	sealed_path(path, sizeof(path), &f.e, "known_hosts");
	cr_assert_eq(access(path, F_OK), -1, "nothing written");
	env_drop(&lost);
	fx_drop(&f);
}

Test(secret_recover, refuses_a_file_holding_another_value_unless_forced)
{
	enum tm_secret_recovered act[TM_SECRET_COUNT];
	struct tm_err err;
	struct env other;
	struct fx f;
	char path[700], *before, *after;

	fx_make(&f, dev);
	env_make(&other);
	do_init(&other, NULL);
	sealed_path(path, sizeof(path), &other, "fernet-key.sealed");
	before = slurp(path, NULL);
	cr_assert_eq(recover(&f, &other, act, false, NULL, &err), TM_ECONFLICT);
	cr_assert(strstr(tm_err_msg(&err), "fernet-key.sealed") && strstr(tm_err_msg(&err), "--force"), "%s",
		  tm_err_msg(&err));
	after = slurp(path, NULL);
	cr_assert_str_eq(before, after, "nothing written on a refusal");
	free(after);
	/* forcing one is not enough: the others still differ */
	cr_assert_eq(recover(&f, &other, act, false, "fernet-key", &err), TM_ECONFLICT);
	cr_assert_null(strstr(tm_err_msg(&err), "fernet-key.sealed"), "%s", tm_err_msg(&err));
	free(before);
	env_drop(&other);
	fx_drop(&f);
}

/* Forced over a value that opens: the replaced value stays as previous, for a rollback. */
Test(secret_recover, a_forced_replacement_keeps_the_old_value)
{
	enum tm_secret_recovered act[TM_SECRET_COUNT];
	enum tm_secret_verdict v[TM_SECRET_COUNT];
	struct tm_secret_recipient *r;
	struct tm_buf text = TM_BUF_INIT("sealed", 1 << 20);
	struct tm_err err;
	struct fx f;
	char path[700], *prev;

	fx_make(&f, dev);
	r = env_recipient(&f.e);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_seal(&text, r, "jwt-secret", NULL, "another", 7, &err), 0);
	sealed_path(path, sizeof(path), &f.e, "jwt-secret.sealed");
	spit(path, text.data, text.len, 0644);
	cr_assert_eq(recover(&f, &f.e, act, false, NULL, &err), TM_ECONFLICT);
	cr_assert(strstr(tm_err_msg(&err), "jwt-secret.sealed in") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(recover(&f, &f.e, act, false, "jwt-secret", &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(act[TM_SECRET_JWT_SECRET], TM_RECOVER_REPLACED);
	cr_assert_eq(act[TM_SECRET_FERNET_KEY], TM_RECOVER_KEPT);
	sealed_path(path, sizeof(path), &f.e, "jwt-secret.previous.sealed");
	cr_assert_not_null(prev = slurp(path, NULL));
	cr_assert_str_eq(prev, text.data);
	cr_assert_eq(verdicts(&f, v, false), 0);
	cr_assert_eq(v[TM_SECRET_JWT_SECRET], TM_GUARD_SAME);
	free(prev);
	tm_buf_release(&text);
	tm_secret_recipient_free(r);
	fx_drop(&f);
}

Test(secret_recover, reseals_the_files_of_a_lost_key_only_for_a_new_key)
{
	enum tm_secret_recovered act[TM_SECRET_COUNT];
	enum tm_secret_verdict v[TM_SECRET_COUNT];
	struct tm_err err;
	struct fx f;
	struct env lost;
	char from[700], to[700];

	fx_make(&f, dev);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_rotate(f.e.dir, TM_SECRET_JWT_SECRET, TM_ROTATE_START, NULL, 0, NULL, &err), 0);
	lost = f.e;
	env_make(&f.e);
	/* the sealed files stay, sealed to the lost key, previous ones too */
	for (int id = 0; id < TM_SECRET_COUNT; id++) {
		for (int p = 0; p < 2; p++) {
			char file[96], *text;
			size_t len;
			snprintf(file, sizeof(file), "%s%s.sealed", tm_secret_name(id), p ? ".previous" : "");
			sealed_path(from, sizeof(from), &lost, file);
			sealed_path(to, sizeof(to), &f.e, file);
			if ((text = slurp(from, &len)))
				spit(to, text, len, 0644);
			free(text);
		}
	}
	cr_assert_eq(recover(&f, &f.e, act, false, NULL, &err), TM_ECONFLICT, "%s", tm_err_msg(&err));
	cr_assert_eq(recover(&f, &f.e, act, true, NULL, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(act[TM_SECRET_FERNET_KEY], TM_RECOVER_RESEALED);
	cr_assert_eq(act[TM_SECRET_ADMIN_PASSWORD], TM_RECOVER_DROPPED, "not live in dev, and unreadable now");
	cr_assert_eq(verdicts(&f, v, false), 0, "the sealed files open and hold the live values");
	cr_assert_eq(v[TM_SECRET_JWT_SECRET], TM_GUARD_SAME, "the staged rotation is gone with its key");
	sealed_path(to, sizeof(to), &f.e, "admin-password.sealed");
	cr_assert_neq(access(to, F_OK), 0);
	sealed_path(to, sizeof(to), &f.e, "jwt-secret.previous.sealed");
	cr_assert_neq(access(to, F_OK), 0, "a previous value sealed to the lost key goes too");
	env_drop(&lost);
	fx_drop(&f);
}

static void hash_of(char out[80], const struct tm_secret_set *s)
{
	const char *val;
	char hex[65];
	size_t len;

	cr_assert_eq(tm_secret_set_get(s, TM_SECRET_FERNET_KEY, &val, &len), 0);
	tm_sha256_hex(hex, val, len);
	snprintf(out, 80, "sha256:%s", hex);
}

Test(secret_finish, names_are_complete)
{
	for (int f = 0; f < TM_FINISH_COUNT; f++)
		cr_assert_not_null(tm_secret_finish_name((enum tm_secret_finish)f), "finish verdict %d has no name", f);
	cr_assert_null(tm_secret_finish_name(TM_FINISH_COUNT));
}

/* --finish only once the staged "new,old" is what runs: the live Secret and the deployed record. */
Test(secret_finish, the_old_key_goes_only_once_the_staged_keys_are_deployed)
{
	struct tm_secret_set *old, *staged, *live;
	char old_hash[80], staged_hash[80];
	struct tm_secret_key *k;
	struct tm_err err;
	struct fx f;

	fx_make(&f, dev);
	old = open_set(&f.e, false);
	hash_of(old_hash, old);
	k = env_key(&f.e);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_rotate(f.e.dir, TM_SECRET_FERNET_KEY, TM_ROTATE_START, k, 0, NULL, &err), 0, "%s", tm_err_msg(&err));
	staged = open_set(&f.e, false);
	hash_of(staged_hash, staged);
	live = live_set(&f);
	cr_assert_eq(tm_secret_finish_check(staged, live, NULL), TM_FINISH_NOT_DEPLOYED, "rotate, then --finish at once");
	cr_assert_eq(tm_secret_finish_check(staged, live, old_hash), TM_FINISH_NOT_DEPLOYED);
	tm_secret_set_free(live);
	deploy(&f);
	live = live_set(&f);
	cr_assert_eq(tm_secret_finish_check(staged, live, staged_hash), TM_FINISH_DEPLOYED);
	cr_assert_eq(tm_secret_finish_check(staged, live, NULL), TM_FINISH_DEPLOYED, "no release record (apply)");
	cr_assert_eq(tm_secret_finish_check(staged, live, old_hash), TM_FINISH_INCOMPLETE,
		     "the Secret is applied, but the deploy failed: the record is still the old key's");
	cr_assert_eq(tm_secret_finish_check(old, live, staged_hash), TM_FINISH_NOT_DEPLOYED, "other local files");
	tm_secret_set_free(live);
	json_object_del(f.live, "af-fernet-key");
	live = live_set(&f);
	cr_assert_eq(tm_secret_finish_check(staged, live, NULL), TM_FINISH_UNDEPLOYED);
	cr_assert_eq(tm_secret_finish_check(staged, NULL, NULL), TM_FINISH_UNDEPLOYED);
	cr_assert_eq(tm_secret_finish_check(staged, live, staged_hash), TM_FINISH_DEPLOYED, "deleted by hand after the deploy");
	cr_assert_eq(tm_secret_finish_check(staged, live, old_hash), TM_FINISH_NOT_DEPLOYED, "deleted by hand before it");
	tm_secret_set_free(live);
	tm_secret_set_free(staged);
	tm_secret_set_free(old);
	tm_secret_key_free(k);
	fx_drop(&f);
}
