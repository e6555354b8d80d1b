/* SSH signatures (OpenSSH's PROTOCOL.sshsig, what git writes with gpg.format=ssh): the
 * armour, the blob, the data the key signed, and the allowed_signers verdict in the two
 * steps git takes (ssh-keygen -Y find-principals, then -Y verify -I for each principal). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "vcs_private.h"

#define BEGIN "-----BEGIN SSH SIGNATURE-----"
#define END "-----END SSH SIGNATURE-----"
#define MAGIC "SSHSIG"
#define VERSION 1
#define SIG_MAX 65536 /* decoded bytes; an RSA-16384 signature and key take about 4 KiB */

struct sshsig {
	struct tm_vcs_wire key, sig;
	char ns[256], hash[32];
};

/* Between the header line and "\n" END, base64 with whitespace anywhere (as OpenSSH's
 * sshsig_dearmor and b64_pton); what follows the footer is ignored, as there. */
static int dearmor(unsigned char *out, size_t cap, size_t *outlen, const char *s, size_t n, struct tm_err *err)
{
	size_t hl = strlen(BEGIN), body;
	const char *b, *e = NULL;

	if (n < hl || memcmp(s, BEGIN, hl) != 0)
		return tm_err_set(err, TM_ECORRUPT, "not an SSH signature (no '" BEGIN "')");
	b = s + hl;
	if (b < s + n && *b == '\r' && b + 1 < s + n && b[1] == '\n')
		b += 2;
	else if (b < s + n && *b == '\n')
		b++;
	else
		return tm_err_set(err, TM_ECORRUPT, "malformed SSH signature: no line break after its header");
	for (const char *p = b; !e && (p = memchr(p, '\n', (size_t)(s + n - p))); p++)
		if ((size_t)(s + n - p) > strlen(END) && memcmp(p + 1, END, strlen(END)) == 0)
			e = p;
	if (!e)
		return tm_err_set(err, TM_ECORRUPT, "malformed SSH signature: no '" END "'");
	body = (size_t)(e - b);
	if (memchr(b, '\0', body) ||
	    sodium_base642bin(out, cap, b, body, " \t\n\v\f\r", outlen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
		return tm_err_set(err, TM_ECORRUPT, "malformed SSH signature: its base64 does not decode (or "
				  "exceeds %d bytes)", SIG_MAX);
	return 0;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* MAGIC, version, publickey, namespace, reserved, hash_algorithm, signature. */
static int parse(struct sshsig *out, const unsigned char *blob, size_t n, struct tm_err *err)
{
	struct tm_vcs_wire w = { blob, n }, reserved;
	uint32_t version;

	if (n < strlen(MAGIC) || memcmp(blob, MAGIC, strlen(MAGIC)) != 0)
		return tm_err_set(err, TM_ECORRUPT, "malformed SSH signature: no " MAGIC " magic");
	w.p += strlen(MAGIC);
	w.n -= strlen(MAGIC);
	if (!tm_vcs_wire_u32(&w, &version))
		return tm_err_set(err, TM_ECORRUPT, "malformed SSH signature: truncated");
	if (version > VERSION)
		return tm_err_set(err, TM_EVERSION, "an SSH signature of version %u: tarmac reads version %d", version,
				  VERSION);
	if (!tm_vcs_wire_string(&w, &out->key) || !tm_vcs_wire_cstring(&w, out->ns, sizeof(out->ns)) ||
	    !tm_vcs_wire_string(&w, &reserved) || !tm_vcs_wire_cstring(&w, out->hash, sizeof(out->hash)) ||
	    !tm_vcs_wire_string(&w, &out->sig))
		return tm_err_set(err, TM_ECORRUPT, "malformed SSH signature: truncated or oversized field");
	if (w.n)
		return tm_err_set(err, TM_ECORRUPT, "malformed SSH signature: trailing data");
	/* names go into messages a terminal shows: none of git's has a control character,
	 * and OpenSSH refuses such a signature for "git" all the same */
	if (!printable(out->ns) || !printable(out->hash))
		return tm_err_set(err, TM_ECORRUPT, "malformed SSH signature: a control character in its namespace or "
				  "hash name");
	return 0;
}

/* The key's type name into who->type, refusing what tarmac does not verify. */
static int key_type(struct tm_vcs_signer *who, const struct tm_vcs_wire *key, struct tm_err *err)
{
	struct tm_vcs_wire w = *key;

	if (!tm_vcs_wire_cstring(&w, who->type, sizeof(who->type)) || !printable(who->type))
		return tm_err_set(err, TM_ECORRUPT, "malformed SSH signature: its key has no type");
	if (strstr(who->type, "-cert-v01@openssh.com"))
		return tm_err_set(err, TM_EVERSION, "signed with an SSH certificate (%s): tarmac does not verify "
				  "certificates (cert-authority)", who->type);
	if (strncmp(who->type, "sk-", 3) == 0)
		return tm_err_set(err, TM_EVERSION, "signed with a security key (%s): tarmac does not verify them",
				  who->type);
	return 0;
}

/* SHA-256 or SHA-512 of msg, as the hash algorithm names. Returns the digest length. */
static size_t digest(unsigned char out[crypto_hash_sha512_BYTES], const char *alg, const void *msg, size_t n)
{
	if (strcmp(alg, "sha256") == 0) {
		crypto_hash_sha256(out, msg, n);
		return crypto_hash_sha256_BYTES;
	}
	if (strcmp(alg, "sha512") == 0) {
		crypto_hash_sha512(out, msg, n);
		return crypto_hash_sha512_BYTES;
	}
	return 0;
}

static void put_string(unsigned char **p, const void *s, size_t n)
{
	(*p)[0] = (unsigned char)(n >> 24);
	(*p)[1] = (unsigned char)(n >> 16);
	(*p)[2] = (unsigned char)(n >> 8);
	(*p)[3] = (unsigned char)n;
	memcpy(*p + 4, s, n);
	*p += 4 + n;
}

/* The signature verifies over MAGIC, ns, an empty reserved string, the hash name and
 * H(msg) (OpenSSH's sshsig_wrap_verify; the reserved field of the blob is not signed). */
static int verify(const struct sshsig *g, const char *ns, const void *msg, size_t msglen, struct tm_err *err)
{
	unsigned char h[crypto_hash_sha512_BYTES], data[6 + 4 + sizeof(g->ns) + 4 + 4 + sizeof(g->hash) + 4 + sizeof(h)];
	unsigned char *p = data;
	size_t hn;

	if (strcmp(g->ns, ns) != 0)
		return tm_err_set(err, TM_EINVALID, "signed for namespace '%s', not '%s'", g->ns, ns);
	if (!(hn = digest(h, g->hash, msg, msglen)))
		return tm_err_set(err, TM_EVERSION, "an SSH signature with hash '%s': OpenSSH signs with sha256 or "
				  "sha512", g->hash);
	memcpy(p, MAGIC, strlen(MAGIC));
	p += strlen(MAGIC);
	put_string(&p, ns, strlen(ns));
	put_string(&p, "", 0);
	put_string(&p, g->hash, strlen(g->hash));
	put_string(&p, h, hn);
	return tm_vcs_sig_verify(g->key.p, g->key.n, g->sig.p, g->sig.n, data, (size_t)(p - data), err);
}

/* Why no allowed_signers line allows the key. */
static int refuse(const struct tm_vcs_signer *who, enum tm_vcs_signer_verdict v, const char *p, const char *ns,
		  int64_t when, struct tm_err *err)
{
	char at[40];

	switch (v) {
	case TM_SIGNER_NAMESPACE:
		return tm_err_set(err, TM_EINVALID, "key %s (%s): allowed_signers does not allow it for namespace '%s'",
				  who->fp, who->type, ns);
	case TM_SIGNER_EXPIRED:
		tm_format_rfc3339(at, when * 1000, false);
		return tm_err_set(err, TM_EINVALID, "key %s (%s): outside its valid-after/valid-before in allowed_signers "
				  "at %s", who->fp, who->type, at);
	case TM_SIGNER_PRINCIPAL:
		return tm_err_set(err, TM_EINVALID, "key %s (%s): allowed_signers does not allow it for principal '%s'",
				  who->fp, who->type, p ? p : "");
	case TM_SIGNER_UNLISTED:
	case TM_SIGNER_OK:
		break;
	}
	return tm_err_set(err, TM_EINVALID, "key %s (%s) is not in allowed_signers", who->fp, who->type);
}

/* git's two steps: the principals of the first line holding the key at that time
 * (find-principals, namespaces unchecked), then each of them in turn until a line
 * allows it with the key for ns at that time (verify -I). */
static int allowed(struct tm_vcs_signer *who, const struct tm_vcs_signers *s, const struct sshsig *g,
		   const char *ns, int64_t when, struct tm_err *err)
{
	enum tm_vcs_signer_verdict v;
	char *list = NULL, *rest, *p;
	size_t i;
	int rc = 0;

	if ((v = tm_vcs_signers_find(&i, s, g->key.p, g->key.n, NULL, NULL, when)) != TM_SIGNER_OK)
		return refuse(who, v, NULL, ns, when, err);
	if (!(list = strdup(s->e[i].principals)))
		return tm_err_set(err, TM_ERROR, "out of memory");
	rest = list;
	v = TM_SIGNER_PRINCIPAL; /* when the list starts empty */
	/* ssh-keygen -Y find-principals prints them up to the first empty one */
	while ((p = strsep(&rest, ",")) && *p) {
		if ((v = tm_vcs_signers_find(NULL, s, g->key.p, g->key.n, p, ns, when)) == TM_SIGNER_OK) {
			snprintf(who->principal, sizeof(who->principal), "%s", p);
			goto out;
		}
	}
	rc = refuse(who, v, s->e[i].principals, ns, when, err);
out:
	free(list);
	return rc;
}

int tm_vcs_sshsig_check(struct tm_vcs_signer *who, const char *sig, size_t siglen, const void *msg, size_t msglen,
			const char *ns, const char *allowed_text, size_t allowedlen, int64_t when, struct tm_err *err)
{
	struct tm_vcs_signers s = { 0, NULL };
	struct tm_vcs_signer w;
	unsigned char *blob = NULL;
	struct sshsig g;
	size_t n;
	int rc;

	memset(&w, 0, sizeof(w));
	if ((rc = tm_vcs_signers_parse(&s, allowed_text, allowedlen, err)) < 0)
		return rc;
	if (!(blob = malloc(SIG_MAX))) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	if ((rc = dearmor(blob, SIG_MAX, &n, sig, siglen, err)) < 0 || (rc = parse(&g, blob, n, err)) < 0)
		goto out;
	tm_vcs_fingerprint(w.fp, g.key.p, g.key.n);
	if ((rc = key_type(&w, &g.key, err)) < 0 || (rc = verify(&g, ns, msg, msglen, err)) < 0) {
		tm_err_wrap(err, "key %s", w.fp);
		goto out;
	}
	if ((rc = allowed(&w, &s, &g, ns, when, err)) == 0)
		*who = w;
out:
	free(blob);
	tm_vcs_signers_release(&s);
	return rc;
}
