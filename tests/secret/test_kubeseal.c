/* SealedSecrets: decrypted here with the controller's private key the way the
 * controller does it (RSA-OAEP SHA-256 with the scope label, then AES-256-GCM with
 * a zero nonce); a wrong label does not open. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "helpers.h"
#include "tarmac/doc.h"

struct controller {
	EVP_PKEY *key;
	char *cert_pem;
	struct tm_secret_cert *cert;
};

static void controller_make(struct controller *c)
{
	X509 *x = X509_new();
	BIO *bio = BIO_new(BIO_s_mem());
	struct tm_err err;
	char *p;
	long n;

	c->key = EVP_RSA_gen(2048);
	cr_assert_not_null(c->key);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, c->key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"sealed-secrets", -1,
				   -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	cr_assert_gt(X509_sign(x, c->key, EVP_sha256()), 0);
	cr_assert_eq(PEM_write_bio_X509(bio, x), 1);
	n = BIO_get_mem_data(bio, &p);
	c->cert_pem = calloc(1, (size_t)n + 1);
	memcpy(c->cert_pem, p, (size_t)n);
	BIO_free(bio);
	X509_free(x);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_cert_parse(&c->cert, c->cert_pem, strlen(c->cert_pem), "cert.pem", &err), 0, "%s",
		     tm_err_msg(&err));
}

static void controller_drop(struct controller *c)
{
	tm_secret_cert_free(c->cert);
	EVP_PKEY_free(c->key);
	free(c->cert_pem);
}

/* The controller's side: returns the value (caller frees) or NULL when it does not open. */
static char *unseal(struct controller *c, const char *b64, const char *label, size_t *len)
{
	unsigned char *wire = malloc(strlen(b64)), skey[512], *plain; /* OpenSSL wants room for a whole RSA block */
	size_t n = 0, rsalen, sklen = sizeof(skey);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(c->key, NULL);
	EVP_CIPHER_CTX *cc;
	unsigned char nonce[12] = { 0 };
	int outl = 0, fin = 0, ok;

	cr_assert_eq(sodium_base642bin(wire, strlen(b64), b64, strlen(b64), NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	rsalen = (size_t)wire[0] << 8 | wire[1];
	cr_assert_eq(rsalen, 256, "a 2048-bit key's OAEP output is 256 bytes");
	cr_assert_gt(n, 2 + rsalen + 16);
	EVP_PKEY_decrypt_init(ctx);
	EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING);
	EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256());
	EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256());
	if (*label) {
		unsigned char *l = OPENSSL_malloc(strlen(label));
		memcpy(l, label, strlen(label));
		EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, l, (int)strlen(label));
	}
	ok = EVP_PKEY_decrypt(ctx, skey, &sklen, wire + 2, rsalen) > 0;
	EVP_PKEY_CTX_free(ctx);
	if (!ok) {
		free(wire);
		return NULL;
	}
	cr_assert_eq(sklen, 32);
	plain = calloc(1, n);
	cc = EVP_CIPHER_CTX_new();
	EVP_DecryptInit_ex(cc, EVP_aes_256_gcm(), NULL, NULL, NULL);
	EVP_CIPHER_CTX_ctrl(cc, EVP_CTRL_GCM_SET_IVLEN, 12, NULL);
	EVP_DecryptInit_ex(cc, NULL, NULL, skey, nonce);
	EVP_DecryptUpdate(cc, plain, &outl, wire + 2 + rsalen, (int)(n - 2 - rsalen - 16));
	EVP_CIPHER_CTX_ctrl(cc, EVP_CTRL_GCM_SET_TAG, 16, wire + n - 16);
	ok = EVP_DecryptFinal_ex(cc, plain + outl, &fin) == 1;
	EVP_CIPHER_CTX_free(cc);
	free(wire);
	if (!ok) {
		free(plain);
		return NULL;
	}
	*len = (size_t)(outl + fin);
	return (char *)plain;
}

static json_t *seal(struct controller *c, const char *yaml, enum tm_kubeseal_scope scope)
{
	json_t *doc = NULL, *out = NULL;
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_doc_parse_yaml(&doc, yaml, strlen(yaml), "secret.yaml", &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_secret_kubeseal(&out, doc, c->cert, scope, &err), 0, "%s", tm_err_msg(&err));
	json_decref(doc);
	return out;
}

static const char SECRET[] =
	"apiVersion: v1\nkind: Secret\n"
	"metadata:\n  name: af-metadata\n  namespace: data\n  labels: {app: x}\n  annotations: {tarmac.io/resource-policy: keep}\n"
	"type: Opaque\n"
	"data:\n  connection: cG9zdGdyZXNxbDovL2E6YkBoOjEvZA==\n" /* postgresql://a:b@h:1/d */
	"stringData:\n  extra: \"plain \\u00e9\"\n";

Test(secret_kubeseal, strict_scope_opens_with_the_namespace_and_name_label_only)
{
	struct controller c;
	json_t *ss;
	char *v;
	size_t n = 0;

	controller_make(&c);
	ss = seal(&c, SECRET, TM_KUBESEAL_STRICT);
	cr_assert_str_eq(json_string_value(json_object_get(ss, "apiVersion")), "bitnami.com/v1alpha1");
	cr_assert_str_eq(json_string_value(json_object_get(ss, "kind")), "SealedSecret");
	cr_assert_str_eq(json_string_value(tm_doc_get(ss, "metadata", "name", NULL)), "af-metadata");
	cr_assert_str_eq(json_string_value(tm_doc_get(ss, "metadata", "namespace", NULL)), "data");
	cr_assert_null(tm_doc_get(ss, "metadata", "annotations", NULL), "strict is the default: no scope annotation");
	cr_assert_str_eq(json_string_value(tm_doc_get(ss, "spec", "template", "type", NULL)), "Opaque");
	cr_assert_str_eq(json_string_value(tm_doc_get(ss, "spec", "template", "metadata", "labels", "app", NULL)), "x");
	cr_assert_str_eq(json_string_value(tm_doc_get(ss, "spec", "template", "metadata", "annotations",
						      "tarmac.io/resource-policy", NULL)), "keep");
	v = unseal(&c, json_string_value(tm_doc_get(ss, "spec", "encryptedData", "connection", NULL)), "data/af-metadata", &n);
	cr_assert_not_null(v);
	cr_assert_eq(n, strlen("postgresql://a:b@h:1/d"));
	cr_assert_eq(memcmp(v, "postgresql://a:b@h:1/d", n), 0);
	free(v);
	v = unseal(&c, json_string_value(tm_doc_get(ss, "spec", "encryptedData", "extra", NULL)), "data/af-metadata", &n);
	cr_assert_not_null(v);
	cr_assert_eq(n, 8);
	cr_assert_eq(memcmp(v, "plain \xc3\xa9", 8), 0);
	free(v);
	cr_assert_null(unseal(&c, json_string_value(tm_doc_get(ss, "spec", "encryptedData", "connection", NULL)),
			      "data/other", &n), "another name's label must not open it");
	cr_assert_null(unseal(&c, json_string_value(tm_doc_get(ss, "spec", "encryptedData", "connection", NULL)), "data", &n));
	cr_assert_null(unseal(&c, json_string_value(tm_doc_get(ss, "spec", "encryptedData", "connection", NULL)), "", &n));
	json_decref(ss);
	controller_drop(&c);
}

Test(secret_kubeseal, wider_scopes_use_their_label_and_annotation)
{
	struct controller c;
	json_t *ss;
	char *v;
	size_t n;

	controller_make(&c);
	ss = seal(&c, SECRET, TM_KUBESEAL_NAMESPACE_WIDE);
	cr_assert_str_eq(json_string_value(tm_doc_get(ss, "metadata", "annotations",
						      "sealedsecrets.bitnami.com/namespace-wide", NULL)), "true");
	v = unseal(&c, json_string_value(tm_doc_get(ss, "spec", "encryptedData", "connection", NULL)), "data", &n);
	cr_assert_not_null(v);
	free(v);
	json_decref(ss);
	ss = seal(&c, SECRET, TM_KUBESEAL_CLUSTER_WIDE);
	cr_assert_str_eq(json_string_value(tm_doc_get(ss, "metadata", "annotations",
						      "sealedsecrets.bitnami.com/cluster-wide", NULL)), "true");
	v = unseal(&c, json_string_value(tm_doc_get(ss, "spec", "encryptedData", "connection", NULL)), "", &n);
	cr_assert_not_null(v);
	free(v);
	json_decref(ss);
	controller_drop(&c);
}

/* The AES key an encrypted value carries: its RSA-OAEP part opened with the label. */
static void session_key(struct controller *c, const char *b64, const char *label, unsigned char out[32])
{
	unsigned char *wire = malloc(strlen(b64)), skey[512];
	size_t n = 0, sklen = sizeof(skey);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(c->key, NULL);
	unsigned char *l = OPENSSL_malloc(strlen(label));

	cr_assert_eq(sodium_base642bin(wire, strlen(b64), b64, strlen(b64), NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	EVP_PKEY_decrypt_init(ctx);
	EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING);
	EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256());
	EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256());
	memcpy(l, label, strlen(label));
	EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, l, (int)strlen(label));
	cr_assert_gt(EVP_PKEY_decrypt(ctx, skey, &sklen, wire + 2, (size_t)wire[0] << 8 | wire[1]), 0);
	cr_assert_eq(sklen, 32);
	memcpy(out, skey, 32);
	EVP_PKEY_CTX_free(ctx);
	free(wire);
}

Test(secret_kubeseal, every_value_gets_its_own_session_key)
{
	static const char twins[] = "apiVersion: v1\nkind: Secret\nmetadata: {name: twins, namespace: data}\n"
				    "stringData: {a: same-text, b: same-text}\n";
	struct controller c;
	unsigned char ka[32], kb[32], kagain[32];
	const char *va, *vb;
	char *pa, *pb;
	size_t la, lb;
	json_t *s1, *s2;

	controller_make(&c);
	s1 = seal(&c, twins, TM_KUBESEAL_STRICT);
	s2 = seal(&c, twins, TM_KUBESEAL_STRICT);
	va = json_string_value(tm_doc_get(s1, "spec", "encryptedData", "a", NULL));
	vb = json_string_value(tm_doc_get(s1, "spec", "encryptedData", "b", NULL));
	cr_assert(va && vb);
	/* both open to the same text, each with a key of its own */
	cr_assert_not_null(pa = unseal(&c, va, "data/twins", &la));
	cr_assert_not_null(pb = unseal(&c, vb, "data/twins", &lb));
	cr_assert(la == lb && la == 9 && memcmp(pa, pb, la) == 0 && memcmp(pa, "same-text", 9) == 0);
	session_key(&c, va, "data/twins", ka);
	session_key(&c, vb, "data/twins", kb);
	cr_assert(memcmp(ka, kb, 32) != 0, "two values sealed with one session key");
	/* sealing again draws new keys: the same value does not seal to the same bytes */
	session_key(&c, json_string_value(tm_doc_get(s2, "spec", "encryptedData", "a", NULL)), "data/twins", kagain);
	cr_assert(memcmp(ka, kagain, 32) != 0);
	cr_assert_str_neq(va, json_string_value(tm_doc_get(s2, "spec", "encryptedData", "a", NULL)));
	free(pa);
	free(pb);
	json_decref(s1);
	json_decref(s2);
	controller_drop(&c);
}

static int seal_text(struct controller *c, const char *yaml, struct tm_err *err)
{
	json_t *doc = NULL, *out = NULL;
	int rc;

	tm_err_init(err);
	cr_assert_eq(tm_doc_parse_yaml(&doc, yaml, strlen(yaml), "s", err), 0, "%s", tm_err_msg(err));
	rc = tm_secret_kubeseal(&out, doc, c->cert, TM_KUBESEAL_STRICT, err);
	cr_assert(rc < 0 || out);
	json_decref(out);
	json_decref(doc);
	return rc;
}

Test(secret_kubeseal, bad_input_is_refused)
{
	struct controller c;
	struct tm_secret_cert *cert = NULL;
	struct tm_err err;

	controller_make(&c);
	cr_assert_eq(seal_text(&c, "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n", &err), TM_EINVALID);
	cr_assert_str_eq(tm_err_msg(&err), "a Secret sealed strict needs metadata.name and metadata.namespace");
	cr_assert_eq(seal_text(&c, "apiVersion: v1\nkind: ConfigMap\n", &err), TM_EINVALID);
	cr_assert_eq(seal_text(&c, "apiVersion: v1\nkind: Secret\nmetadata: {name: x, namespace: y}\ndata: {a: '!!'}\n", &err),
		     TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "not base64") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_secret_cert_parse(&cert, "junk", 4, "c.pem", &err), TM_EINVALID);
	cr_assert_str_eq(tm_err_msg(&err), "certificate 'c.pem': no PEM X.509 certificate in it");
	cr_assert_null(cert);
	controller_drop(&c);
}
