/* The secrets tarmac keeps per environment, one table row each, and how a new value
 * of each is made (libsodium's randombytes: the kernel's CSPRNG). */
#include <sodium.h>
#include <string.h>

#include "secret_private.h"

enum gen_kind {
	GEN_FERNET,   /* 32 bytes, URL-safe base64 with padding: what Fernet reads */
	GEN_TOKEN,    /* n bytes, URL-safe base64 without padding */
	GEN_PASSWORD, /* n characters of [A-Za-z0-9]: safe in URLs, shells and pgbouncer's users.txt */
	GEN_SSH,      /* an ed25519 key pair in OpenSSH's private key format */
	GEN_GIVEN,    /* not generated: its user gives it (a token a server issued) */
};

static const struct {
	const char *name;
	const char *alias;
	enum gen_kind gen;
	size_t n;
	const char *breaks;
} kinds[] = {
	[TM_SECRET_FERNET_KEY] = { "fernet-key", "fernet", GEN_FERNET, 32,
		"connections and variables stored in the metadata database become unreadable "
		"(change it with 'tarmac secrets rotate fernet' instead, which keeps the old key readable)" },
	[TM_SECRET_API_SECRET_KEY] = { "api-secret-key", "api", GEN_TOKEN, 32,
		"api-server sessions end and log links signed with the old key stop working" },
	/* HS512 wants at least 64 bytes of key */
	[TM_SECRET_JWT_SECRET] = { "jwt-secret", "jwt", GEN_TOKEN, 64,
		"running tasks lose their Execution API auth until the api-server and scheduler "
		"run with the new secret" },
	[TM_SECRET_WEBSERVER_SECRET_KEY] = { "webserver-secret-key", "webserver", GEN_TOKEN, 32,
		"Airflow 2 webserver sessions end" },
	[TM_SECRET_DB_PASSWORD] = { "db-password", "db", GEN_PASSWORD, 32,
		"the database user's password must be changed to the new one as well (ALTER ROLE), "
		"or Airflow can no longer connect" },
	[TM_SECRET_REDIS_PASSWORD] = { "redis-password", "redis", GEN_PASSWORD, 32,
		"Redis and the Celery workers must restart together; messages queued meanwhile may be lost" },
	[TM_SECRET_ADMIN_PASSWORD] = { "admin-password", "admin", GEN_PASSWORD, 24,
		"an admin user created already keeps its old password until changed in Airflow" },
	[TM_SECRET_GIT_SSH_KEY] = { "git-ssh-key", "deploy-key", GEN_SSH, 0,
		"git-sync cannot pull until the new git-ssh-key.pub replaces the deploy key on the git server" },
	[TM_SECRET_GIT_HTTPS_TOKEN] = { "dags-https-token", "https-token", GEN_GIVEN, 0,
		"tarmac and git-sync read the https DAG repository with the new token: the server must accept it" },
};

const char *tm_secret_name(enum tm_secret_id id)
{
	if ((unsigned)id >= TM_ARRAY_LEN(kinds))
		return NULL;
	return kinds[id].name;
}

const char *tm_secret_breaks(enum tm_secret_id id)
{
	if ((unsigned)id >= TM_ARRAY_LEN(kinds))
		return NULL;
	return kinds[id].breaks;
}

bool tm_secret_given(enum tm_secret_id id)
{
	return (unsigned)id < TM_ARRAY_LEN(kinds) && kinds[id].gen == GEN_GIVEN;
}

int tm_secret_lookup(const char *name, enum tm_secret_id *out)
{
	for (size_t i = 0; i < TM_ARRAY_LEN(kinds); i++) {
		if (strcmp(kinds[i].name, name) == 0 || strcmp(kinds[i].alias, name) == 0) {
			*out = (enum tm_secret_id)i;
			return 0;
		}
	}
	return TM_ENOTFOUND;
}

static int random_b64(struct tm_buf *out, size_t n, int variant, struct tm_err *err)
{
	unsigned char raw[64];
	int rc;

	if (n > sizeof(raw))
		return tm_err_set(err, TM_ERROR, "internal: %zu random bytes asked for", n);
	randombytes_buf(raw, n);
	rc = tm_secret_b64_append(out, raw, n, variant, 0, err);
	sodium_memzero(raw, sizeof(raw));
	return rc;
}

static int random_password(struct tm_buf *out, size_t n, struct tm_err *err)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	char c;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < n; i++) {
		/* uniform: randombytes_uniform rejects the biased tail */
		c = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
		rc = tm_buf_append(out, &c, 1, err);
	}
	return rc;
}

int tm_secret_generate(struct tm_buf *out, enum tm_secret_id id, const char *comment, struct tm_err *err)
{
	int rc;

	if ((rc = tm_secret_ready(err)) < 0)
		return rc;
	if ((unsigned)id >= TM_ARRAY_LEN(kinds))
		return tm_err_set(err, TM_ERROR, "internal: secret %d", (int)id);
	/* one reservation, so nothing generated is left behind by a reallocation */
	if ((rc = tm_secret_reserve(out, out->len + 4096, err)) < 0)
		return rc;
	switch (kinds[id].gen) {
	case GEN_FERNET:
		return random_b64(out, kinds[id].n, sodium_base64_VARIANT_URLSAFE, err);
	case GEN_TOKEN:
		return random_b64(out, kinds[id].n, sodium_base64_VARIANT_URLSAFE_NO_PADDING, err);
	case GEN_PASSWORD:
		return random_password(out, kinds[id].n, err);
	case GEN_SSH:
		return tm_secret_openssh_generate(out, comment ? comment : "tarmac", err);
	case GEN_GIVEN:
		return tm_err_set(err, TM_EINVALID, "%s is not generated: the server that accepts it issues it; seal it "
				  "with 'tarmac secrets init --https-token FILE --force %s'", kinds[id].name, kinds[id].name);
	}
	return tm_err_set(err, TM_ERROR, "internal: secret %d", (int)id);
}
