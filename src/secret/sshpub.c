/* OpenSSH public keys as text: a .pub line ("TYPE BASE64 [COMMENT]") and known_hosts
 * lines ("[@MARKER] HOSTS TYPE BASE64 [COMMENT]"). Each key is decoded and its blob
 * walked field by field against its type (sshkey.c's wire formats), so a private key,
 * a kubeconfig or any other file put in their place is refused, naming file:line. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "secret_private.h"

#define LINE_MAX_LEN 8192
#define HOST_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_*?![]:"
#define HASH_MAGIC "|1|"
#define HASH_LEN 20 /* HMAC-SHA1: salt and hash */

/* ------------------------------------------------------------------ the SSH wire reader */

uint32_t tm_secret_read_u32(struct tm_secret_reader *r)
{
	uint32_t v;

	if (r->bad || r->n < 4) {
		r->bad = true;
		return 0;
	}
	v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->n -= 4;
	return v;
}

const unsigned char *tm_secret_read_string(struct tm_secret_reader *r, size_t *len)
{
	size_t n = tm_secret_read_u32(r);
	const unsigned char *s;

	if (r->bad || n > r->n) {
		r->bad = true;
		*len = 0;
		return NULL;
	}
	s = r->p;
	r->p += n;
	r->n -= n;
	*len = n;
	return s;
}

bool tm_secret_read_string_is(struct tm_secret_reader *r, const char *want)
{
	size_t n;
	const unsigned char *s = tm_secret_read_string(r, &n);

	return s && n == strlen(want) && memcmp(s, want, n) == 0;
}

/* ------------------------------------------------------------------ key blobs */

/* A string of exactly n bytes (any n when n is 0, but not empty). */
static bool field(struct tm_secret_reader *r, size_t n)
{
	size_t got;
	const unsigned char *s = tm_secret_read_string(r, &got);

	return s && got && (!n || got == n);
}

/* An uncompressed EC point on the curve named by the type ("nistp256" ...). */
static bool ec_point(struct tm_secret_reader *r, const char *curve)
{
	size_t n;
	const unsigned char *q;
	size_t want = strcmp(curve, "nistp256") == 0 ? 65 : strcmp(curve, "nistp384") == 0 ? 97 : 133;

	if (!tm_secret_read_string_is(r, curve) || !(q = tm_secret_read_string(r, &n)))
		return false;
	return n == want && q[0] == 0x04;
}

/* Walks blob as a public key of type; false when it is not one (or has extra bytes). */
static bool blob_ok(const unsigned char *blob, size_t len, const char *type)
{
	struct tm_secret_reader r = { blob, len, false };
	bool ok;

	if (!tm_secret_read_string_is(&r, type))
		return false;
	if (strcmp(type, "ssh-ed25519") == 0)
		ok = field(&r, 32);
	else if (strcmp(type, "sk-ssh-ed25519@openssh.com") == 0)
		ok = field(&r, 32) && field(&r, 0);
	else if (strcmp(type, "ssh-rsa") == 0)
		ok = field(&r, 0) && field(&r, 0);
	else if (strcmp(type, "ssh-dss") == 0)
		ok = field(&r, 0) && field(&r, 0) && field(&r, 0) && field(&r, 0);
	else if (strncmp(type, "ecdsa-sha2-nistp", 16) == 0)
		ok = ec_point(&r, type + 11);
	else if (strcmp(type, "sk-ecdsa-sha2-nistp256@openssh.com") == 0)
		ok = ec_point(&r, "nistp256") && field(&r, 0);
	else
		return false;
	return ok && !r.bad && r.n == 0;
}

static const char *const key_types[] = {
	"ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa",
	"sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com", "ssh-dss",
};

static bool known_type(const char *t)
{
	for (size_t i = 0; i < TM_ARRAY_LEN(key_types); i++)
		if (strcmp(t, key_types[i]) == 0)
			return true;
	return false;
}

/* "TYPE BASE64" (two tokens of line): 0, or -1 with what is wrong in why. */
static int key_ok(const char *type, const char *b64, const char **why)
{
	struct tm_buf blob = TM_BUF_INIT("ssh key", LINE_MAX_LEN);
	int rc = -1;

	if (!type || !b64)
		*why = "expected a key type and a base64 key";
	else if (!known_type(type))
		*why = "not an SSH public key type (ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa, "
		       "sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com, ssh-dss)";
	else if (tm_secret_b64_decode(&blob, b64, strlen(b64), sodium_base64_VARIANT_ORIGINAL) < 0)
		*why = "the key is not valid base64";
	else if (!blob_ok((const unsigned char *)blob.data, blob.len, type))
		*why = "the base64 is not a public key of that type";
	else
		rc = 0;
	tm_buf_release(&blob);
	return rc;
}

/* ------------------------------------------------------------------ lines */

/* Copies line lineno of text at *pos into out (NUL-terminated); false at the end. */
static int next_line(char out[LINE_MAX_LEN], const char *text, size_t len, size_t *pos, size_t lineno,
		     const char *name, struct tm_err *err)
{
	const char *p = text + *pos, *e = memchr(p, '\n', len - *pos);
	size_t n = e ? (size_t)(e - p) : len - *pos;

	if (n >= LINE_MAX_LEN)
		return tm_err_set(err, TM_EINVALID, "%s:%zu: line longer than %d characters", name, lineno,
				  LINE_MAX_LEN - 1);
	if (memchr(p, '\r', n) || memchr(p, '\0', n))
		return tm_err_set(err, TM_EINVALID, "%s:%zu: holds a CR or NUL byte", name, lineno);
	memcpy(out, p, n);
	out[n] = '\0';
	*pos += n + (e ? 1 : 0);
	return 0;
}

static bool b64_len(const char *s, size_t n, size_t want)
{
	struct tm_buf b = TM_BUF_INIT("host hash", 64);
	bool ok = tm_secret_b64_decode(&b, s, n, sodium_base64_VARIANT_ORIGINAL) == 0 && b.len == want;

	tm_buf_release(&b);
	return ok;
}

/* "|1|SALT|HASH" (ssh-keygen -H) or comma-separated patterns. */
static bool hosts_ok(const char *h)
{
	size_t n = strlen(HASH_MAGIC);

	if (strncmp(h, HASH_MAGIC, n) == 0) {
		const char *salt = h + n, *bar = strchr(salt, '|');
		return bar && b64_len(salt, (size_t)(bar - salt), HASH_LEN) && b64_len(bar + 1, strlen(bar + 1), HASH_LEN);
	}
	if (strspn(h, HOST_CHARS ",") != strlen(h) || h[0] == ',' || strstr(h, ",,") || h[strlen(h) - 1] == ',')
		return false;
	return true;
}

/* One known_hosts line (not blank, not a comment): why says what is wrong. */
static int known_hosts_line(char *line, const char **why)
{
	char *save = NULL, *hosts = strtok_r(line, " \t", &save), *type, *b64;

	if (hosts[0] == '@') {
		if (strcmp(hosts, "@cert-authority") != 0 && strcmp(hosts, "@revoked") != 0) {
			*why = "unknown marker: expected @cert-authority or @revoked";
			return -1;
		}
		if (!(hosts = strtok_r(NULL, " \t", &save))) {
			*why = "expected host patterns after the marker";
			return -1;
		}
	}
	if (!hosts_ok(hosts)) {
		*why = "expected host patterns (host, [host]:port, wildcards, or a |1|salt|hash from ssh-keygen -H)";
		return -1;
	}
	type = strtok_r(NULL, " \t", &save);
	b64 = type ? strtok_r(NULL, " \t", &save) : NULL;
	return key_ok(type, b64, why);
}

int tm_secret_known_hosts_check(const char *text, size_t len, const char *name, struct tm_err *err)
{
	char line[LINE_MAX_LEN];
	size_t pos = 0, lineno = 0, keys = 0;
	int rc;

	while (pos < len) {
		const char *why = NULL;
		char *first;
		if ((rc = next_line(line, text, len, &pos, ++lineno, name, err)) < 0)
			return rc;
		first = line + strspn(line, " \t");
		if (!*first || *first == '#')
			continue;
		if (strstr(first, "PRIVATE KEY"))
			return tm_err_set(err, TM_EINVALID, "%s:%zu: this is a private key, not known_hosts (the git "
					  "server's public host keys: 'ssh-keyscan HOST' prints them)", name, lineno);
		if (known_hosts_line(first, &why) < 0)
			return tm_err_set(err, TM_EINVALID, "%s:%zu: expected 'HOSTS KEYTYPE BASE64-KEY' and an optional "
					  "comment, after an optional @cert-authority or @revoked: %s", name, lineno, why);
		keys++;
	}
	if (!keys)
		return tm_err_set(err, TM_EINVALID, "%s: holds no host key", name);
	return 0;
}

int tm_secret_ssh_pub_check(const char *text, size_t len, const char *name, struct tm_err *err)
{
	char line[LINE_MAX_LEN], *save = NULL, *type, *b64;
	const char *why = NULL;
	size_t pos = 0;
	int rc;

	if (len == 0)
		return tm_err_set(err, TM_EINVALID, "%s: empty; expected one 'KEYTYPE BASE64-KEY [COMMENT]' line", name);
	if ((rc = next_line(line, text, len, &pos, 1, name, err)) < 0)
		return rc;
	if (strstr(line, "PRIVATE KEY"))
		return tm_err_set(err, TM_EINVALID, "%s:1: this is a private key, not an OpenSSH public key", name);
	if (pos != len)
		return tm_err_set(err, TM_EINVALID, "%s:2: expected one line: an OpenSSH public key", name);
	type = strtok_r(line, " \t", &save);
	b64 = type ? strtok_r(NULL, " \t", &save) : NULL;
	if (key_ok(type, b64, &why) < 0)
		return tm_err_set(err, TM_EINVALID, "%s:1: expected an OpenSSH public key 'KEYTYPE BASE64-KEY "
				  "[COMMENT]': %s", name, why);
	return 0;
}
