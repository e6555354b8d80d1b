/* Host keys as OpenSSH judges them: the known_hosts lines for a host (patterns with
 * wildcards and negation, [host]:port for other ports, hashed names), the key it
 * presents compared with theirs, and the fingerprint ssh-keygen -l prints. */
#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "vcs_private.h"

#define LINE_MAX_LEN 16384
#define HASH_MAGIC "|1|"
#define SHA1_LEN 20

/* "|1|base64(salt)|base64(HMAC-SHA1(salt, name))", as ssh-keygen -H writes it. */
static bool hashed_match(const char *name, const char *field)
{
	const char *salt64 = field + strlen(HASH_MAGIC), *bar = strchr(salt64, '|');
	unsigned char salt[64], want[SHA1_LEN], got[EVP_MAX_MD_SIZE];
	size_t saltlen, wantlen;
	unsigned int gotlen = 0;

	if (!bar || sodium_base642bin(salt, sizeof(salt), salt64, (size_t)(bar - salt64), NULL, &saltlen, NULL,
				      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    sodium_base642bin(want, sizeof(want), bar + 1, strlen(bar + 1), NULL, &wantlen, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    wantlen != SHA1_LEN)
		return false;
	if (!HMAC(EVP_sha1(), salt, (int)saltlen, (const unsigned char *)name, strlen(name), got, &gotlen))
		return false;
	return gotlen == SHA1_LEN && memcmp(got, want, SHA1_LEN) == 0;
}

static bool host_matches(const char *name, const char *field)
{
	return strncmp(field, HASH_MAGIC, strlen(HASH_MAGIC)) == 0 ? hashed_match(name, field)
								  : tm_vcs_pattern_list(name, field, true);
}

bool tm_vcs_blob_type(char *out, size_t n, const unsigned char *blob, size_t len)
{
	size_t tlen;

	if (len < 4)
		return false;
	tlen = (size_t)blob[0] << 24 | (size_t)blob[1] << 16 | (size_t)blob[2] << 8 | blob[3];
	if (tlen == 0 || tlen >= n || tlen > len - 4)
		return false;
	memcpy(out, blob + 4, tlen);
	out[tlen] = '\0';
	return true;
}

struct judged {
	bool trusted, changed, revoked;
};

/* One line (NUL-terminated, modifiable) judged against name presenting blob of type. */
static void judge_line(struct judged *j, char *line, const char *name, const char *type, const unsigned char *blob,
		       size_t bloblen)
{
	char *save = NULL, *hosts = strtok_r(line, " \t", &save), *ltype, *b64;
	unsigned char key[LINE_MAX_LEN];
	size_t keylen;
	bool revoked = false;

	if (!hosts || hosts[0] == '#')
		return;
	if (hosts[0] == '@') {
		if (strcmp(hosts, "@revoked") != 0) /* @cert-authority: certificates are not used */
			return;
		revoked = true;
		hosts = strtok_r(NULL, " \t", &save);
	}
	ltype = hosts ? strtok_r(NULL, " \t", &save) : NULL;
	b64 = ltype ? strtok_r(NULL, " \t", &save) : NULL;
	if (!b64 || !host_matches(name, hosts) ||
	    sodium_base642bin(key, sizeof(key), b64, strlen(b64), NULL, &keylen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
		return;
	if (keylen == bloblen && memcmp(key, blob, keylen) == 0) {
		if (revoked)
			j->revoked = true;
		else
			j->trusted = true;
	} else if (!revoked && strcmp(ltype, type) == 0) {
		j->changed = true;
	}
}

enum tm_vcs_host_verdict tm_vcs_host_check(const char *known_hosts, size_t len, const char *host, int port,
					   const unsigned char *blob, size_t bloblen)
{
	char line[LINE_MAX_LEN], name[300], type[64], lower[256];
	struct judged j = { false, false, false };
	size_t i;

	for (i = 0; host[i] && i + 1 < sizeof(lower); i++)
		lower[i] = (char)tolower((unsigned char)host[i]);
	lower[i] = '\0';
	if (port == 22 || port <= 0)
		snprintf(name, sizeof(name), "%s", lower);
	else
		snprintf(name, sizeof(name), "[%s]:%d", lower, port);
	if (!tm_vcs_blob_type(type, sizeof(type), blob, bloblen))
		return TM_HOST_UNKNOWN;
	for (const char *p = known_hosts, *end = known_hosts + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);

		if (n < sizeof(line)) {
			memcpy(line, p, n);
			line[n] = '\0';
			judge_line(&j, line, name, type, blob, bloblen);
		}
		p += n + 1;
	}
	if (j.revoked)
		return TM_HOST_REVOKED;
	if (j.trusted)
		return TM_HOST_TRUSTED;
	return j.changed ? TM_HOST_CHANGED : TM_HOST_UNKNOWN;
}

void tm_vcs_fingerprint(char out[TM_VCS_FP_LEN], const unsigned char *blob, size_t n)
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, blob, n);
	memcpy(out, "SHA256:", 8);
	sodium_bin2base64(out + 7, TM_VCS_FP_LEN - 7, h, sizeof(h), sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}
