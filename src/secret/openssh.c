/* The DAG repository's deploy key: an ed25519 key pair in OpenSSH's own private key
 * format (PROTOCOL.key: "openssh-key-v1", cipher and KDF "none", two equal check
 * integers, padding 1, 2, 3... to the 8-byte block), readable by ssh and git-sync. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "secret_private.h"

#define AUTH_MAGIC "openssh-key-v1" /* written with its NUL */
#define ARMOR_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----\n"
#define ARMOR_END "-----END OPENSSH PRIVATE KEY-----\n"
#define ARMOR_WRAP 70 /* what ssh-keygen writes */
#define KEY_TYPE "ssh-ed25519"
#define BLOCK 8 /* the "none" cipher's block size */
#define COMMENT_MAX TM_SECRET_SSH_COMMENT_MAX

static int put_u32(struct tm_buf *b, uint32_t v, struct tm_err *err)
{
	unsigned char be[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
				(unsigned char)v };

	return tm_buf_append(b, be, 4, err);
}

/* SSH "string": uint32 length, then the bytes */
static int put_string(struct tm_buf *b, const void *p, size_t n, struct tm_err *err)
{
	int rc = put_u32(b, (uint32_t)n, err);

	return rc < 0 ? rc : tm_buf_append(b, p, n, err);
}

static int put_cstring(struct tm_buf *b, const char *s, struct tm_err *err)
{
	return put_string(b, s, strlen(s), err);
}

/* string "ssh-ed25519", string pk: the public key blob */
static int public_blob(struct tm_buf *b, const unsigned char pk[crypto_sign_PUBLICKEYBYTES], struct tm_err *err)
{
	int rc = put_cstring(b, KEY_TYPE, err);

	return rc < 0 ? rc : put_string(b, pk, crypto_sign_PUBLICKEYBYTES, err);
}

int tm_secret_openssh_generate(struct tm_buf *out, const char *comment, struct tm_err *err)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	struct tm_buf blob = TM_BUF_INIT("ssh key", 8192), priv = TM_BUF_INIT("ssh key", 8192);
	struct tm_buf pub = TM_BUF_INIT("ssh public key", 1024);
	uint32_t check;
	int rc;

	if (strlen(comment) > COMMENT_MAX || strpbrk(comment, "\r\n"))
		return tm_err_set(err, TM_EINVALID, "ssh key comment '%s' is too long or holds a line break", comment);
	if ((rc = tm_secret_reserve(&blob, 8192, err)) < 0 || (rc = tm_secret_reserve(&priv, 8192, err)) < 0)
		goto out;
	/* libsodium's secret key is seed || public key: the 64 bytes OpenSSH stores */
	crypto_sign_keypair(pk, sk);
	randombytes_buf(&check, sizeof(check));
	if ((rc = public_blob(&pub, pk, err)) < 0)
		goto out;
	if ((rc = put_u32(&priv, check, err)) < 0 || (rc = put_u32(&priv, check, err)) < 0 ||
	    (rc = public_blob(&priv, pk, err)) < 0 || (rc = put_string(&priv, sk, sizeof(sk), err)) < 0 ||
	    (rc = put_cstring(&priv, comment, err)) < 0)
		goto out;
	for (unsigned char pad = 1; rc == 0 && priv.len % BLOCK; pad++)
		rc = tm_buf_append(&priv, &pad, 1, err);
	if (rc < 0)
		goto out;
	if ((rc = tm_buf_append(&blob, AUTH_MAGIC, sizeof(AUTH_MAGIC), err)) < 0 ||
	    (rc = put_cstring(&blob, "none", err)) < 0 || (rc = put_cstring(&blob, "none", err)) < 0 ||
	    (rc = put_cstring(&blob, "", err)) < 0 || (rc = put_u32(&blob, 1, err)) < 0 ||
	    (rc = put_string(&blob, pub.data, pub.len, err)) < 0 || (rc = put_string(&blob, priv.data, priv.len, err)) < 0)
		goto out;
	if ((rc = tm_buf_puts(out, ARMOR_BEGIN, err)) < 0 ||
	    (rc = tm_secret_b64_append(out, blob.data, blob.len, sodium_base64_VARIANT_ORIGINAL, ARMOR_WRAP, err)) < 0)
		goto out;
	rc = tm_buf_puts(out, ARMOR_END, err);
out:
	sodium_memzero(sk, sizeof(sk));
	tm_buf_wipe(&blob);
	tm_buf_wipe(&priv);
	tm_buf_release(&pub);
	return rc;
}

/* The armored text into its decoded bytes (wiped by the caller). */
static int dearmor(struct tm_buf *bin, const char *text, size_t len, struct tm_err *err)
{
	struct tm_buf b64 = TM_BUF_INIT("ssh key", 16384);
	size_t bl = strlen(ARMOR_BEGIN), el = strlen(ARMOR_END);
	int rc = 0;

	if (len < bl + el || memcmp(text, ARMOR_BEGIN, bl) != 0 || memcmp(text + len - el, ARMOR_END, el) != 0)
		return tm_err_set(err, TM_ECORRUPT, "not an OpenSSH private key (no BEGIN/END OPENSSH PRIVATE KEY lines)");
	if ((rc = tm_secret_reserve(&b64, len, err)) < 0)
		goto out;
	for (size_t i = bl; i < len - el; i++) {
		if (text[i] == '\n')
			continue;
		if ((rc = tm_buf_append(&b64, text + i, 1, err)) < 0)
			goto out;
	}
	bin->max = len;
	if (tm_secret_b64_decode(bin, tm_buf_cstr(&b64), b64.len, sodium_base64_VARIANT_ORIGINAL) < 0)
		rc = tm_err_set(err, TM_ECORRUPT, "OpenSSH private key: not valid base64");
out:
	tm_buf_wipe(&b64);
	return rc;
}

/* The fields of the outer and inner sections (the key, its public blob, its comment). */
static int read_sections(struct tm_secret_ssh_key *k, const struct tm_buf *bin, struct tm_err *err)
{
	const unsigned char *pubblob, *privsec, *pk, *sk, *comment;
	size_t publen, privlen, pklen, sklen, clen, nkeys, qlen;
	struct tm_secret_reader r = { (const unsigned char *)bin->data, bin->len, false }, p, q;
	const unsigned char *qpk;

	if (r.n < sizeof(AUTH_MAGIC) || memcmp(r.p, AUTH_MAGIC, sizeof(AUTH_MAGIC)) != 0)
		return tm_err_set(err, TM_ECORRUPT, "OpenSSH private key: no '" AUTH_MAGIC "' magic");
	r.p += sizeof(AUTH_MAGIC);
	r.n -= sizeof(AUTH_MAGIC);
	if (!tm_secret_read_string_is(&r, "none") || !tm_secret_read_string_is(&r, "none") ||
	    !tm_secret_read_string_is(&r, ""))
		return tm_err_set(err, TM_ECORRUPT, "OpenSSH private key: encrypted keys are not supported (cipher and "
				  "KDF must be 'none')");
	nkeys = tm_secret_read_u32(&r);
	pubblob = tm_secret_read_string(&r, &publen);
	privsec = tm_secret_read_string(&r, &privlen);
	if (r.bad || nkeys != 1 || r.n != 0 || privlen % BLOCK)
		return tm_err_set(err, TM_ECORRUPT, "OpenSSH private key: truncated or malformed");
	p = (struct tm_secret_reader){ privsec, privlen, false };
	if (tm_secret_read_u32(&p) != tm_secret_read_u32(&p) || p.bad)
		return tm_err_set(err, TM_ECORRUPT, "OpenSSH private key: check integers differ");
	if (!tm_secret_read_string_is(&p, KEY_TYPE))
		return tm_err_set(err, TM_ECORRUPT, "OpenSSH private key: not an ssh-ed25519 key");
	pk = tm_secret_read_string(&p, &pklen);
	sk = tm_secret_read_string(&p, &sklen);
	comment = tm_secret_read_string(&p, &clen);
	if (p.bad || pklen != crypto_sign_PUBLICKEYBYTES || sklen != crypto_sign_SECRETKEYBYTES ||
	    memcmp(sk + 32, pk, 32) != 0 || clen > COMMENT_MAX || memchr(comment, '\n', clen) ||
	    memchr(comment, '\r', clen) || memchr(comment, '\0', clen))
		return tm_err_set(err, TM_ECORRUPT, "OpenSSH private key: malformed ed25519 key");
	for (size_t i = 0; i < p.n; i++)
		if (p.p[i] != (unsigned char)(i + 1) || i >= BLOCK)
			return tm_err_set(err, TM_ECORRUPT, "OpenSSH private key: bad padding");
	/* the outer public blob must be the same key */
	q = (struct tm_secret_reader){ pubblob, publen, false };
	if (!tm_secret_read_string_is(&q, KEY_TYPE) || !(qpk = tm_secret_read_string(&q, &qlen)) || q.n != 0 ||
	    qlen != pklen || memcmp(qpk, pk, pklen) != 0)
		return tm_err_set(err, TM_ECORRUPT, "OpenSSH private key: the public key does not match the private one");
	memcpy(k->pk, pk, sizeof(k->pk));
	memcpy(k->sk, sk, sizeof(k->sk));
	memcpy(k->comment, comment, clen);
	k->comment[clen] = '\0';
	return 0;
}

int tm_secret_ssh_key_parse(struct tm_secret_ssh_key *out, const char *private_key, size_t len, struct tm_err *err)
{
	struct tm_buf bin = TM_BUF_INIT("ssh key", 16384);
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = tm_secret_ready(err)) < 0)
		return rc;
	if (len > 16384)
		return tm_err_set(err, TM_ECORRUPT, "OpenSSH private key: larger than 16384 bytes");
	if ((rc = dearmor(&bin, private_key, len, err)) == 0)
		rc = read_sections(out, &bin, err);
	tm_buf_wipe(&bin);
	if (rc < 0)
		tm_secret_ssh_key_wipe(out);
	return rc;
}

void tm_secret_ssh_key_wipe(struct tm_secret_ssh_key *k)
{
	sodium_memzero(k, sizeof(*k));
}

int tm_secret_ssh_public_line(struct tm_buf *out, const char *private_key, size_t len, struct tm_err *err)
{
	struct tm_secret_ssh_key k;
	struct tm_buf blob = TM_BUF_INIT("ssh public key", 1024);
	int rc;

	if ((rc = tm_secret_ssh_key_parse(&k, private_key, len, err)) < 0)
		return rc;
	if ((rc = public_blob(&blob, k.pk, err)) == 0 && (rc = tm_buf_puts(out, KEY_TYPE " ", err)) == 0 &&
	    (rc = tm_secret_b64_append(out, blob.data, blob.len, sodium_base64_VARIANT_ORIGINAL, 0, err)) == 0 &&
	    k.comment[0])
		rc = tm_buf_printf(out, err, " %s", k.comment);
	tm_buf_release(&blob);
	tm_secret_ssh_key_wipe(&k);
	return rc;
}
