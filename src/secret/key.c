/* The environment's X25519 key pair: recipient.pub (committed; anyone may seal to it)
 * and the private key file (0600, outside the repository; only it unseals). */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secret_private.h"

#define KEY_FILE_MAX 4096 /* either key file is a few hundred bytes */

const char *tm_secret_recipient_id(const struct tm_secret_recipient *r)
{
	return r->id;
}

const char *tm_secret_key_id(const struct tm_secret_key *k)
{
	return k->id;
}

void tm_secret_recipient_free(struct tm_secret_recipient *r)
{
	free(r);
}

void tm_secret_key_free(struct tm_secret_key *k)
{
	if (!k)
		return;
	sodium_memzero(k, sizeof(*k));
	free(k);
}

/* The fields both key files share, in file order. */
struct key_fields {
	char alg[40], id[TM_SECRET_KEY_ID_LEN + 2], env[64], created[32];
	struct tm_secret_field f[4];
};

static void key_fields_init(struct key_fields *k)
{
	memset(k, 0, sizeof(*k));
	k->f[0] = (struct tm_secret_field){ "alg", k->alg, sizeof(k->alg) };
	k->f[1] = (struct tm_secret_field){ "key-id", k->id, sizeof(k->id) };
	k->f[2] = (struct tm_secret_field){ "env", k->env, sizeof(k->env) };
	k->f[3] = (struct tm_secret_field){ "created", k->created, sizeof(k->created) };
}

/* Parses either key file: the 32 key bytes into key. */
static int parse_key_file(struct key_fields *kf, uint8_t key[TM_SECRET_X25519_LEN], const char *text, size_t len,
			  const char *name, const char *magic, struct tm_err *err)
{
	struct tm_buf body = TM_BUF_INIT("key", 64);
	int rc;

	key_fields_init(kf);
	if ((rc = tm_secret_file_parse(text, len, name, magic, kf->f, TM_ARRAY_LEN(kf->f), &body, 64, err)) < 0)
		goto out;
	if (strcmp(kf->alg, TM_SECRET_ALG_KEY) != 0) {
		rc = tm_err_set(err, TM_EVERSION, "%s:2: key algorithm '%s' is not supported (this tarmac reads '%s')",
				name, kf->alg, TM_SECRET_ALG_KEY);
		goto out;
	}
	if (strlen(kf->id) != TM_SECRET_KEY_ID_LEN || strspn(kf->id, "0123456789abcdef") != TM_SECRET_KEY_ID_LEN) {
		rc = tm_err_set(err, TM_ECORRUPT, "%s:3: key id '%s' is not %d lowercase hex digits", name, kf->id,
				TM_SECRET_KEY_ID_LEN);
		goto out;
	}
	if (!tm_is_dns_label(kf->env, 63)) {
		rc = tm_err_set(err, TM_ECORRUPT, "%s:4: '%s' is not an environment name", name, kf->env);
		goto out;
	}
	if (!tm_secret_time_valid(kf->created)) {
		rc = tm_err_set(err, TM_ECORRUPT, "%s:5: '%s' is not a time like 2025-01-02T03:04:05Z", name,
				kf->created);
		goto out;
	}
	if (body.len != TM_SECRET_X25519_LEN) {
		rc = tm_err_set(err, TM_ECORRUPT, "%s: the key is %zu bytes, not %d: truncated or altered", name,
				body.len, TM_SECRET_X25519_LEN);
		goto out;
	}
	memcpy(key, body.data, TM_SECRET_X25519_LEN);
out:
	tm_buf_wipe(&body);
	return rc;
}

int tm_secret_recipient_parse(struct tm_secret_recipient **out, const char *text, size_t len, const char *name,
			      struct tm_err *err)
{
	struct tm_secret_recipient *r = NULL;
	struct key_fields kf;
	int rc;

	if ((rc = tm_secret_ready(err)) < 0)
		return rc;
	if (!(r = calloc(1, sizeof(*r))))
		return tm_err_set(err, TM_ERROR, "out of memory");
	if ((rc = parse_key_file(&kf, r->pk, text, len, name, TM_SECRET_MAGIC_RECIPIENT, err)) < 0)
		goto out;
	tm_secret_pk_id(r->id, r->pk);
	if (strcmp(r->id, kf.id) != 0) {
		rc = tm_err_set(err, TM_ECORRUPT, "%s: the key's id is %s but the header says %s: the file was altered",
				name, r->id, kf.id);
		goto out;
	}
	memcpy(r->env, kf.env, sizeof(r->env));
	memcpy(r->created, kf.created, sizeof(r->created));
	*out = r;
	r = NULL;
out:
	tm_secret_recipient_free(r);
	return rc;
}

int tm_secret_key_parse(struct tm_secret_key **out, const char *text, size_t len, const char *name,
			struct tm_err *err)
{
	struct tm_secret_key *k = NULL;
	struct key_fields kf;
	int rc;

	if ((rc = tm_secret_ready(err)) < 0)
		return rc;
	if (!(k = calloc(1, sizeof(*k))))
		return tm_err_set(err, TM_ERROR, "out of memory");
	if ((rc = parse_key_file(&kf, k->sk, text, len, name, TM_SECRET_MAGIC_KEY, err)) < 0)
		goto out;
	if (crypto_scalarmult_base(k->pk, k->sk) != 0) {
		rc = tm_err_set(err, TM_ECORRUPT, "%s: not a usable X25519 private key", name);
		goto out;
	}
	tm_secret_pk_id(k->id, k->pk);
	if (strcmp(k->id, kf.id) != 0) {
		rc = tm_err_set(err, TM_ECORRUPT, "%s: the key's id is %s but the header says %s: the file was altered",
				name, k->id, kf.id);
		goto out;
	}
	memcpy(k->env, kf.env, sizeof(k->env));
	memcpy(k->created, kf.created, sizeof(k->created));
	*out = k;
	k = NULL;
out:
	tm_secret_key_free(k);
	return rc;
}

int tm_secret_recipient_load(struct tm_secret_recipient **out, const char *path, struct tm_err *err)
{
	struct tm_buf text = TM_BUF_INIT("recipient file", KEY_FILE_MAX);
	int rc;

	/* it lives in secrets/<env>/: read as itself, never through a link */
	if ((rc = tm_file_read_checked(&text, path, KEY_FILE_MAX, TM_FILE_NO_SHARED_WRITE | TM_FILE_PLAIN, err)) == 0)
		rc = tm_secret_recipient_parse(out, text.data, text.len, path, err);
	tm_buf_release(&text);
	return rc;
}

/* checks: TM_FILE_PLAIN besides NO_SHARED_READ for the key directory's own files. */
static int key_load(struct tm_secret_key **out, const char *path, unsigned checks, struct tm_err *err)
{
	struct tm_buf text = TM_BUF_INIT("key file", KEY_FILE_MAX);
	const char *name = strcmp(path, "-") == 0 ? "standard input" : path;
	int rc;

	/* sized up front so growth leaves no copy of the key behind */
	if ((rc = tm_secret_reserve(&text, KEY_FILE_MAX, err)) < 0)
		return rc;
	if ((rc = tm_file_read_checked(&text, path, KEY_FILE_MAX, TM_FILE_NO_SHARED_READ | checks, err)) == 0)
		rc = tm_secret_key_parse(out, text.data, text.len, name, err);
	if (rc < 0)
		tm_err_wrap(err, "private key");
	tm_buf_wipe(&text);
	return rc;
}

/* A key file the operator names may be a link (a Kubernetes Secret volume mounts its
 * files as links); it must still be a regular file in the end. */
int tm_secret_key_load(struct tm_secret_key **out, const char *path, struct tm_err *err)
{
	return key_load(out, path, 0, err);
}

int tm_secret_default_key_path(struct tm_buf *out, const char *env, const char *xdg_config_home,
			       const char *home, struct tm_err *err)
{
	tm_buf_clear(out);
	/* XDG: a relative XDG_CONFIG_HOME is invalid and must be ignored */
	if (xdg_config_home && xdg_config_home[0] == '/')
		return tm_buf_printf(out, err, "%s/tarmac/keys/%s.key", xdg_config_home, env);
	if (home && *home)
		return tm_buf_printf(out, err, "%s/.config/tarmac/keys/%s.key", home, env);
	return tm_err_set(err, TM_ENOTFOUND, "neither XDG_CONFIG_HOME nor HOME is set: name the key file with --key-file");
}

int tm_secret_key_open(struct tm_secret_key **out, const struct tm_secret_key_source *src, struct tm_err *err)
{
	struct tm_buf path = TM_BUF_INIT("key path", 4096);
	const char *named = src->key_file && *src->key_file ? src->key_file : src->env_key_file;
	int rc;

	if (named && *named)
		return tm_secret_key_load(out, named, err);
	if ((rc = tm_secret_default_key_path(&path, src->env, src->xdg_config_home, src->home, err)) == 0 &&
	    (rc = key_load(out, path.data, TM_FILE_PLAIN, err)) == TM_ENOTFOUND)
		tm_err_wrap(err, "no private key for environment '%s' at its default place: pass --key-file or set "
			    "TARMAC_KEY_FILE", src->env);
	tm_buf_release(&path);
	return rc;
}

static int parent_dirs(const char *file, mode_t mode, struct tm_err *err)
{
	char dir[4096];
	const char *slash = strrchr(file, '/');

	if (!slash || slash == file)
		return 0;
	if ((size_t)(slash - file) >= sizeof(dir))
		return tm_err_set(err, TM_EINVALID, "path '%s' is too long", file);
	memcpy(dir, file, (size_t)(slash - file));
	dir[slash - file] = '\0';
	return tm_file_mkdirs(dir, mode, err);
}

static int must_not_exist(const char *path, const char *what, struct tm_err *err)
{
	struct stat st;

	if (lstat(path, &st) == 0)
		return tm_err_set(err, TM_ECONFLICT, "%s '%s' exists already; refusing to replace it (secrets sealed "
				  "to its key could no longer be opened): move it away first if you mean to", what, path);
	if (errno != ENOENT)
		return tm_err_errno(err, errno, "stat '%s'", path);
	return 0;
}

int tm_secret_keygen(char key_id[TM_SECRET_KEY_ID_LEN + 1], const struct tm_secret_keygen_opts *o,
		     struct tm_err *err)
{
	uint8_t pk[TM_SECRET_X25519_LEN], sk[TM_SECRET_X25519_LEN];
	struct tm_buf priv = TM_BUF_INIT("key file", KEY_FILE_MAX), pub = TM_BUF_INIT("recipient file", KEY_FILE_MAX);
	char id[TM_SECRET_KEY_ID_LEN + 1], created[32], env[64], alg[] = TM_SECRET_ALG_KEY;
	struct tm_secret_field f[4] = {
		{ "alg", alg, 0 }, { "key-id", id, 0 }, { "env", env, 0 }, { "created", created, 0 },
	};
	struct tm_file_set fs;
	int rc;

	tm_file_set_init(&fs);
	if ((rc = tm_secret_ready(err)) < 0)
		return rc;
	if (!tm_is_dns_label(o->env, 63))
		return tm_err_set(err, TM_EINVALID, "'%s' is not an environment name", o->env);
	if ((rc = must_not_exist(o->recipient_path, "recipient key", err)) < 0 ||
	    (rc = must_not_exist(o->key_path, "private key", err)) < 0)
		return rc;
	if ((rc = tm_secret_reserve(&priv, KEY_FILE_MAX, err)) < 0)
		goto out;
	snprintf(env, sizeof(env), "%s", o->env);
	tm_secret_time_text(created, o->now);
	crypto_box_keypair(pk, sk);
	tm_secret_pk_id(id, pk);
	if ((rc = tm_secret_file_write(&priv, TM_SECRET_MAGIC_KEY, f, 4, sk, sizeof(sk), err)) < 0 ||
	    (rc = tm_secret_file_write(&pub, TM_SECRET_MAGIC_RECIPIENT, f, 4, pk, sizeof(pk), err)) < 0)
		goto out;
	/* a private key without its recipient file would only block the next keygen (and
	 * the reverse seals to a key nobody has): both are put in place, or neither */
	if ((rc = parent_dirs(o->key_path, 0700, err)) < 0 || (rc = parent_dirs(o->recipient_path, 0755, err)) < 0 ||
	    (rc = tm_file_set_add(&fs, o->key_path, priv.data, priv.len, 0600, TM_FILE_NEW, err)) < 0 ||
	    (rc = tm_file_set_add(&fs, o->recipient_path, pub.data, pub.len, 0644, TM_FILE_NEW, err)) < 0 ||
	    (rc = tm_file_set_commit(&fs, o->stop, err)) < 0)
		goto out;
	memcpy(key_id, id, sizeof(id));
out:
	tm_file_set_release(&fs);
	sodium_memzero(sk, sizeof(sk));
	tm_buf_wipe(&priv);
	tm_buf_release(&pub);
	return rc;
}
