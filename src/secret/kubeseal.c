/* Bitnami SealedSecrets sealed offline to the controller's certificate, in kubeseal's
 * wire format (pkg/crypto HybridEncrypt): per key, a fresh AES-256 session key under
 * RSA-OAEP (SHA-256 for the hash and MGF1, the scope as label), the value under
 * AES-256-GCM with a zero 12-byte nonce (safe: each session key seals one value);
 * uint16 BE len(rsa) || rsa || aes || tag, base64 in spec.encryptedData. */
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "secret_private.h"

#define SESSION_KEY_LEN 32
#define GCM_NONCE_LEN 12
#define GCM_TAG_LEN 16
#define ANN_NAMESPACE_WIDE "sealedsecrets.bitnami.com/namespace-wide"
#define ANN_CLUSTER_WIDE "sealedsecrets.bitnami.com/cluster-wide"

struct tm_secret_cert {
	EVP_PKEY *pkey;
};

static const char *const scope_names[] = {
	[TM_KUBESEAL_STRICT] = "strict",
	[TM_KUBESEAL_NAMESPACE_WIDE] = "namespace-wide",
	[TM_KUBESEAL_CLUSTER_WIDE] = "cluster-wide",
};

const char *tm_kubeseal_scope_name(enum tm_kubeseal_scope s)
{
	return (unsigned)s < TM_ARRAY_LEN(scope_names) ? scope_names[s] : NULL;
}

int tm_kubeseal_scope_parse(const char *s, enum tm_kubeseal_scope *out)
{
	for (size_t i = 0; i < TM_ARRAY_LEN(scope_names); i++) {
		if (strcmp(scope_names[i], s) == 0) {
			*out = (enum tm_kubeseal_scope)i;
			return 0;
		}
	}
	return TM_EINVALID;
}

void tm_secret_cert_free(struct tm_secret_cert *c)
{
	if (!c)
		return;
	EVP_PKEY_free(c->pkey);
	free(c);
}

int tm_secret_cert_parse(struct tm_secret_cert **out, const char *pem, size_t len, const char *name,
			 struct tm_err *err)
{
	struct tm_secret_cert *c = NULL;
	BIO *bio = NULL;
	X509 *x = NULL;
	int rc = 0;

	if (len > TM_SECRET_MAX_FILE || len > INT32_MAX)
		return tm_err_set(err, TM_ELIMIT, "certificate '%s' is larger than %u bytes", name, TM_SECRET_MAX_FILE);
	if (!(c = calloc(1, sizeof(*c))) || !(bio = BIO_new_mem_buf(pem, (int)len))) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	if (!(x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
		rc = tm_err_set(err, TM_EINVALID, "certificate '%s': no PEM X.509 certificate in it", name);
		goto out;
	}
	if (!(c->pkey = X509_get_pubkey(x)) || EVP_PKEY_get_base_id(c->pkey) != EVP_PKEY_RSA) {
		rc = tm_err_set(err, TM_EINVALID, "certificate '%s': its key is not RSA (the sealed-secrets "
				"controller's is)", name);
		goto out;
	}
	if (EVP_PKEY_get_bits(c->pkey) < 2048) {
		rc = tm_err_set(err, TM_EINVALID, "certificate '%s': a %d-bit RSA key is too weak", name,
				EVP_PKEY_get_bits(c->pkey));
		goto out;
	}
	*out = c;
	c = NULL;
out:
	ERR_clear_error();
	X509_free(x);
	BIO_free(bio);
	tm_secret_cert_free(c);
	return rc;
}

/* RSA-OAEP of the session key; the label is copied (OpenSSL takes ownership). */
static int rsa_oaep(unsigned char *out, size_t *outlen, EVP_PKEY *pkey, const unsigned char *in, size_t inlen,
		    const char *label, struct tm_err *err)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
	unsigned char *l = NULL;
	size_t llen = strlen(label);
	int rc = 0;

	if (!ctx || EVP_PKEY_encrypt_init(ctx) <= 0 || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) <= 0 || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) <= 0) {
		rc = tm_err_set(err, TM_ERROR, "RSA-OAEP: OpenSSL could not set up the encryption");
		goto out;
	}
	/* an empty label (cluster-wide) is OAEP's default: nothing to set */
	if (llen) {
		if (!(l = OPENSSL_malloc(llen))) {
			rc = tm_err_set(err, TM_ERROR, "out of memory");
			goto out;
		}
		memcpy(l, label, llen);
		if (EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, l, (int)llen) <= 0) {
			OPENSSL_free(l);
			rc = tm_err_set(err, TM_ERROR, "RSA-OAEP: OpenSSL refused the label");
			goto out;
		}
	}
	if (EVP_PKEY_encrypt(ctx, out, outlen, in, inlen) <= 0)
		rc = tm_err_set(err, TM_ERROR, "RSA-OAEP: encryption failed");
out:
	ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

static int aes_gcm(unsigned char *out, unsigned char tag[GCM_TAG_LEN], const unsigned char key[SESSION_KEY_LEN],
		   const unsigned char *in, size_t inlen, struct tm_err *err)
{
	static const unsigned char nonce[GCM_NONCE_LEN]; /* zero: the key is used once */
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, fin = 0, rc = 0;

	if (inlen > INT32_MAX)
		return tm_err_set(err, TM_ELIMIT, "value too large to seal");
	if (!ctx || EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, GCM_NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) != 1 ||
	    EVP_EncryptUpdate(ctx, out, &n, in, (int)inlen) != 1 || EVP_EncryptFinal_ex(ctx, out + n, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, tag) != 1)
		rc = tm_err_set(err, TM_ERROR, "AES-256-GCM: encryption failed");
	ERR_clear_error();
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

/* One value in the wire format, base64 (standard, padded) appended to out. */
static int seal_value(struct tm_buf *out, EVP_PKEY *pkey, const char *label, const unsigned char *v, size_t len,
		      struct tm_err *err)
{
	unsigned char key[SESSION_KEY_LEN];
	size_t rsalen = (size_t)EVP_PKEY_get_size(pkey), total = 2 + rsalen + len + GCM_TAG_LEN;
	unsigned char *wire = malloc(total);
	int rc;

	if (!wire)
		return tm_err_set(err, TM_ERROR, "out of memory");
	randombytes_buf(key, sizeof(key));
	if ((rc = rsa_oaep(wire + 2, &rsalen, pkey, key, sizeof(key), label, err)) < 0)
		goto out;
	if (rsalen > 0xffff) {
		rc = tm_err_set(err, TM_EINVALID, "RSA key too large for the wire format");
		goto out;
	}
	wire[0] = (unsigned char)(rsalen >> 8);
	wire[1] = (unsigned char)rsalen;
	if ((rc = aes_gcm(wire + 2 + rsalen, wire + 2 + rsalen + len, key, v, len, err)) < 0)
		goto out;
	rc = tm_secret_b64_append(out, wire, 2 + rsalen + len + GCM_TAG_LEN, sodium_base64_VARIANT_ORIGINAL, 0, err);
out:
	OPENSSL_cleanse(key, sizeof(key));
	free(wire);
	return rc;
}

/* The Secret's values as raw bytes: data (base64) and stringData (which wins, as
 * the API server merges it). */
static int seal_all(json_t *enc, const json_t *secret, EVP_PKEY *pkey, const char *label, struct tm_err *err)
{
	struct tm_buf raw = TM_BUF_INIT("secret value", TM_SECRET_MAX_FILE), b64 = TM_BUF_INIT("sealed value", 4 * TM_SECRET_MAX_FILE);
	const char *fields[] = { "data", "stringData" };
	const char *k;
	json_t *v;
	int rc = 0;

	for (size_t f = 0; f < 2; f++) {
		json_t *m = json_object_get(secret, fields[f]);
		if (m && !json_is_object(m) && !json_is_null(m)) {
			rc = tm_err_set(err, TM_EINVALID, "Secret '%s' must be a mapping", fields[f]);
			goto out;
		}
		json_object_foreach(m, k, v) {
			const unsigned char *val;
			size_t len;
			if (!json_is_string(v)) {
				rc = tm_err_set(err, TM_EINVALID, "Secret %s '%s' is not a string", fields[f], k);
				goto out;
			}
			if (f == 0) {
				if (tm_secret_b64_decode(&raw, json_string_value(v), json_string_length(v),
						   sodium_base64_VARIANT_ORIGINAL) < 0) {
					rc = tm_err_set(err, TM_EINVALID, "Secret data '%s' is not base64", k);
					goto out;
				}
				val = (const unsigned char *)raw.data;
				len = raw.len;
			} else {
				val = (const unsigned char *)json_string_value(v);
				len = json_string_length(v);
			}
			tm_buf_clear(&b64);
			if ((rc = seal_value(&b64, pkey, label, val, len, err)) < 0)
				goto out;
			if (json_object_set_new(enc, k, json_stringn(b64.data, b64.len)) < 0) {
				rc = tm_err_set(err, TM_ERROR, "out of memory");
				goto out;
			}
			tm_buf_wipe(&raw);
		}
	}
out:
	tm_buf_wipe(&raw);
	tm_buf_release(&b64);
	return rc;
}

/* The SealedSecret's template metadata: the Secret's name, namespace, labels and
 * annotations, with the scope's annotation (ann) added. NULL when out of memory. */
static json_t *template_metadata(const json_t *md, const char *name, const char *ns, const json_t *ann)
{
	json_t *tmpl_md = json_pack("{s:s}", "name", name), *v;

	if (!tmpl_md)
		return NULL;
	if (ns)
		json_object_set_new(tmpl_md, "namespace", json_string(ns));
	if ((v = json_object_get(md, "labels")) && json_object_size(v))
		json_object_set(tmpl_md, "labels", v);
	if ((v = json_object_get(md, "annotations")) && json_object_size(v)) {
		json_t *copy = json_deep_copy(v);

		json_object_update(copy, (json_t *)ann);
		json_object_set_new(tmpl_md, "annotations", copy);
	} else if (json_object_size(ann)) {
		json_object_set(tmpl_md, "annotations", (json_t *)ann);
	}
	return tmpl_md;
}

/* The encryption label of a scope: "ns/name" (strict), "ns" (namespace-wide), "". */
static void scope_label(char *out, size_t n, enum tm_kubeseal_scope scope, const char *ns, const char *name)
{
	if (scope == TM_KUBESEAL_STRICT)
		snprintf(out, n, "%s/%s", ns, name);
	else if (scope == TM_KUBESEAL_NAMESPACE_WIDE)
		snprintf(out, n, "%s", ns);
	else
		out[0] = '\0';
}

int tm_secret_kubeseal(json_t **out, const json_t *secret, const struct tm_secret_cert *cert,
		       enum tm_kubeseal_scope scope, struct tm_err *err)
{
	const json_t *md = json_object_get(secret, "metadata");
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *kind = json_string_value(json_object_get(secret, "kind"));
	const char *api = json_string_value(json_object_get(secret, "apiVersion"));
	const char *type = json_string_value(json_object_get(secret, "type"));
	json_t *obj = NULL, *tmpl_md = NULL, *enc = json_object(), *ann = json_object();
	char label[512];
	int rc = 0;

	if (!enc || !ann) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	if (!kind || strcmp(kind, "Secret") != 0 || !api || strcmp(api, "v1") != 0) {
		rc = tm_err_set(err, TM_EINVALID, "only a v1 Secret can be sealed, not '%s'", kind ? kind : "(no kind)");
		goto out;
	}
	if (!name || !*name || (scope != TM_KUBESEAL_CLUSTER_WIDE && (!ns || !*ns))) {
		rc = tm_err_set(err, TM_EINVALID, "a Secret sealed %s needs metadata.name%s", tm_kubeseal_scope_name(scope),
				scope == TM_KUBESEAL_CLUSTER_WIDE ? "" : " and metadata.namespace");
		goto out;
	}
	scope_label(label, sizeof(label), scope, ns, name);
	if ((rc = seal_all(enc, secret, cert->pkey, label, err)) < 0)
		goto out;
	/* the controller picks the label from the SealedSecret's own annotations */
	if (scope != TM_KUBESEAL_STRICT)
		json_object_set_new(ann, scope == TM_KUBESEAL_NAMESPACE_WIDE ? ANN_NAMESPACE_WIDE : ANN_CLUSTER_WIDE,
				    json_string("true"));
	if (!(tmpl_md = template_metadata(md, name, ns, ann)) ||
	    !(obj = json_pack("{s:s, s:s, s:{s:s}, s:{s:O, s:{s:O, s:s}}}", "apiVersion", "bitnami.com/v1alpha1", "kind",
			      "SealedSecret", "metadata", "name", name, "spec", "encryptedData", enc, "template",
			      "metadata", tmpl_md, "type", type ? type : "Opaque"))) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	if (ns)
		json_object_set_new(json_object_get(obj, "metadata"), "namespace", json_string(ns));
	if (json_object_size(ann))
		json_object_set(json_object_get(obj, "metadata"), "annotations", ann);
	if (json_is_true(json_object_get(secret, "immutable")))
		json_object_set_new(json_object_get(json_object_get(obj, "spec"), "template"), "immutable", json_true());
	*out = obj;
	obj = NULL;
out:
	json_decref(obj);
	json_decref(enc);
	json_decref(tmpl_md);
	json_decref(ann);
	return rc;
}
