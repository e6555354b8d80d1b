/* Signatures by SSH public keys as OpenSSH's sshkey_verify checks them: ed25519 with
 * libsodium, RSA (rsa-sha2-256/512 only, as sshsig allows) and ECDSA on nistp256/384/521
 * with OpenSSL's EVP. Keys and signatures are untrusted bytes: every length is checked. */
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <sodium.h>

#include "vcs_private.h"

#define RSA_MIN_BITS 1024   /* OpenSSH's SSH_RSA_MINIMUM_MODULUS_SIZE */
#define RSA_MAX_BITS 16384  /* OpenSSH's SSHBUF_MAX_BIGNUM */
#define MPINT_MAX (RSA_MAX_BITS / 8 + 1)

static bool wire_is(const struct tm_vcs_wire *w, const char *s)
{
	return w->n == strlen(s) && memcmp(w->p, s, w->n) == 0;
}

/* An mpint as OpenSSH reads one: not negative, at most MPINT_MAX bytes, leading zero
 * bytes dropped. */
static bool wire_mpint(struct tm_vcs_wire *w, struct tm_vcs_wire *out)
{
	struct tm_vcs_wire t = *w, m;

	if (!tm_vcs_wire_string(&t, &m) || m.n > MPINT_MAX || (m.n && (m.p[0] & 0x80)))
		return false;
	while (m.n && !m.p[0]) {
		m.p++;
		m.n--;
	}
	*out = m;
	*w = t;
	return true;
}

/* The signature's outer frame: string algorithm, string blob, nothing after. */
static int sig_frame(struct tm_vcs_wire *alg, struct tm_vcs_wire *blob, const unsigned char *sig, size_t siglen,
		     struct tm_err *err)
{
	struct tm_vcs_wire w = { sig, siglen };

	if (!tm_vcs_wire_string(&w, alg) || !tm_vcs_wire_string(&w, blob) || w.n)
		return tm_err_set(err, TM_ECORRUPT, "malformed signature (algorithm and blob)");
	return 0;
}

static int ed25519(struct tm_vcs_wire key, const unsigned char *sig, size_t siglen, const unsigned char *data,
		   size_t datalen, struct tm_err *err)
{
	struct tm_vcs_wire pk, alg, s;
	int rc;

	if (!tm_vcs_wire_string(&key, &pk) || pk.n != crypto_sign_PUBLICKEYBYTES || key.n)
		return tm_err_set(err, TM_ECORRUPT, "malformed ssh-ed25519 key");
	if ((rc = sig_frame(&alg, &s, sig, siglen, err)) < 0)
		return rc;
	if (!wire_is(&alg, "ssh-ed25519") || s.n != crypto_sign_BYTES)
		return tm_err_set(err, TM_ECORRUPT, "malformed ssh-ed25519 signature");
	if (crypto_sign_verify_detached(s.p, data, datalen, pk.p) != 0)
		return tm_err_set(err, TM_EINVALID, "bad signature");
	return 0;
}

/* EVP's verdict on a signature by pkey over data hashed with md. */
static int evp_verify(EVP_PKEY *pkey, const char *md, const unsigned char *s, size_t slen,
		      const unsigned char *data, size_t datalen, struct tm_err *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestVerifyInit_ex(ctx, NULL, md, NULL, NULL, pkey, NULL) == 1 &&
		 EVP_DigestVerify(ctx, s, slen, data, datalen) == 1;

	EVP_MD_CTX_free(ctx);
	return ok ? 0 : tm_err_set(err, TM_EINVALID, "bad signature");
}

/* A public key from OpenSSL parameters built by the caller. */
static EVP_PKEY *from_params(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = bld ? OSSL_PARAM_BLD_to_param(bld) : NULL;
	EVP_PKEY_CTX *ctx = params ? EVP_PKEY_CTX_new_from_name(NULL, type, NULL) : NULL;
	EVP_PKEY *pkey = NULL;

	if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

static EVP_PKEY *rsa_key(struct tm_vcs_wire e, struct tm_vcs_wire n)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *be = BN_bin2bn(e.p, (int)e.n, NULL), *bn = BN_bin2bn(n.p, (int)n.n, NULL);
	EVP_PKEY *pkey = NULL;

	if (bld && be && bn && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) == 1)
		pkey = from_params("RSA", bld);
	OSSL_PARAM_BLD_free(bld);
	BN_free(be);
	BN_free(bn);
	return pkey;
}

static int rsa(struct tm_vcs_wire key, const unsigned char *sig, size_t siglen, const unsigned char *data,
	       size_t datalen, struct tm_err *err)
{
	struct tm_vcs_wire e, n, alg, s;
	unsigned char padded[RSA_MAX_BITS / 8];
	size_t modlen, bits;
	EVP_PKEY *pkey = NULL;
	const char *md;
	int rc;

	if (!wire_mpint(&key, &e) || !wire_mpint(&key, &n) || key.n || !e.n || !n.n)
		return tm_err_set(err, TM_ECORRUPT, "malformed ssh-rsa key");
	modlen = n.n;
	bits = (modlen - 1) * 8;
	for (unsigned top = n.p[0]; top; top >>= 1)
		bits++;
	if (bits < RSA_MIN_BITS || modlen > sizeof(padded))
		return tm_err_set(err, TM_EVERSION, "an RSA key of %zu bits: OpenSSH verifies 1024 to 16384 bits", bits);
	if ((rc = sig_frame(&alg, &s, sig, siglen, err)) < 0)
		return rc;
	if (wire_is(&alg, "rsa-sha2-256"))
		md = "SHA256";
	else if (wire_is(&alg, "rsa-sha2-512"))
		md = "SHA512";
	else if (wire_is(&alg, "ssh-rsa"))
		return tm_err_set(err, TM_EVERSION, "an RSA signature with SHA-1 (ssh-rsa): refused, as OpenSSH refuses "
				  "it for SSH signatures");
	else
		return tm_err_set(err, TM_ECORRUPT, "malformed RSA signature (an algorithm other than rsa-sha2-256/512)");
	/* OpenSSH accepts a signature shorter than the modulus, zero-padded on the left */
	if (s.n > modlen || !s.n)
		return tm_err_set(err, TM_EINVALID, "bad signature");
	memset(padded, 0, modlen - s.n);
	memcpy(padded + modlen - s.n, s.p, s.n);
	if (!(pkey = rsa_key(e, n)))
		return tm_err_set(err, TM_ECORRUPT, "malformed ssh-rsa key");
	rc = evp_verify(pkey, md, padded, modlen, data, datalen, err);
	EVP_PKEY_free(pkey);
	return rc;
}

struct curve {
	const char *type, *name, *group, *md;
	size_t point; /* uncompressed point: 1 + 2 * field bytes */
};
static const struct curve curves[] = {
	{ "ecdsa-sha2-nistp256", "nistp256", "P-256", "SHA256", 65 },
	{ "ecdsa-sha2-nistp384", "nistp384", "P-384", "SHA384", 97 },
	{ "ecdsa-sha2-nistp521", "nistp521", "P-521", "SHA512", 133 },
};

static EVP_PKEY *ec_key(const struct curve *c, struct tm_vcs_wire q)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY *pkey = NULL;

	if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, c->group, 0) == 1 &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, q.p, q.n) == 1)
		pkey = from_params("EC", bld);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

/* SSH's (mpint r, mpint s) as the DER ECDSA-Sig-Value OpenSSL verifies. Returns its
 * length, 0 on failure; *der is OPENSSL_free'd by the caller. */
static int ec_der(unsigned char **der, struct tm_vcs_wire r, struct tm_vcs_wire s)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *br = BN_bin2bn(r.p, (int)r.n, NULL), *bs = BN_bin2bn(s.p, (int)s.n, NULL);
	int n = 0;

	if (es && br && bs && ECDSA_SIG_set0(es, br, bs) == 1) {
		br = bs = NULL; /* es owns them */
		n = i2d_ECDSA_SIG(es, der);
	}
	ECDSA_SIG_free(es);
	BN_free(br);
	BN_free(bs);
	return n > 0 ? n : 0;
}

static int ecdsa(const struct curve *c, struct tm_vcs_wire key, const unsigned char *sig, size_t siglen,
		 const unsigned char *data, size_t datalen, struct tm_err *err)
{
	struct tm_vcs_wire name, q, alg, blob, r, s;
	unsigned char *der = NULL;
	EVP_PKEY *pkey = NULL;
	int rc, dlen;

	/* OpenSSH reads only uncompressed points */
	if (!tm_vcs_wire_string(&key, &name) || !wire_is(&name, c->name) || !tm_vcs_wire_string(&key, &q) || key.n ||
	    q.n != c->point || q.p[0] != 0x04 || !(pkey = ec_key(c, q)))
		return tm_err_set(err, TM_ECORRUPT, "malformed %s key", c->type);
	if ((rc = sig_frame(&alg, &blob, sig, siglen, err)) < 0)
		goto out;
	if (!wire_is(&alg, c->type) || !wire_mpint(&blob, &r) || !wire_mpint(&blob, &s) || blob.n) {
		rc = tm_err_set(err, TM_ECORRUPT, "malformed %s signature", c->type);
		goto out;
	}
	if (!(dlen = ec_der(&der, r, s))) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	rc = evp_verify(pkey, c->md, der, (size_t)dlen, data, datalen, err);
out:
	OPENSSL_free(der);
	EVP_PKEY_free(pkey);
	return rc;
}

int tm_vcs_sig_verify(const unsigned char *key, size_t keylen, const unsigned char *sig, size_t siglen,
		      const unsigned char *data, size_t datalen, struct tm_err *err)
{
	struct tm_vcs_wire w = { key, keylen }, type;

	if (!tm_vcs_wire_string(&w, &type))
		return tm_err_set(err, TM_ECORRUPT, "malformed public key");
	if (wire_is(&type, "ssh-ed25519"))
		return ed25519(w, sig, siglen, data, datalen, err);
	if (wire_is(&type, "ssh-rsa"))
		return rsa(w, sig, siglen, data, datalen, err);
	for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
		if (wire_is(&type, curves[i].type))
			return ecdsa(&curves[i], w, sig, siglen, data, datalen, err);
	return tm_err_set(err, TM_EVERSION, "a %.*s key: tarmac verifies ssh-ed25519, ssh-rsa and "
			  "ecdsa-sha2-nistp256/384/521 signatures", (int)(type.n > 64 ? 64 : type.n), (const char *)type.p);
}
