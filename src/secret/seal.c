/* Sealed files: one secret in a libsodium sealed box (X25519 + XSalsa20-Poly1305,
 * an ephemeral sender key per file) to the environment's recipient key, under a
 * header listable without the key. The boxed plaintext repeats the name and time of
 * the header, so a renamed file or an edited header does not open as valid. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "secret_private.h"

#define ENVELOPE_MAGIC "tarmac-secret v1\n"

/* The header fields of a sealed file, in order. */
struct sealed_fields {
	char alg[48], id[TM_SECRET_KEY_ID_LEN + 2], name[64], created[32], fingerprint[72];
	struct tm_secret_field f[5];
};

static void sealed_fields_init(struct sealed_fields *s)
{
	memset(s, 0, sizeof(*s));
	s->f[0] = (struct tm_secret_field){ "alg", s->alg, sizeof(s->alg) };
	s->f[1] = (struct tm_secret_field){ "key-id", s->id, sizeof(s->id) };
	s->f[2] = (struct tm_secret_field){ "name", s->name, sizeof(s->name) };
	s->f[3] = (struct tm_secret_field){ "created", s->created, sizeof(s->created) };
	s->f[4] = (struct tm_secret_field){ "fingerprint", s->fingerprint, sizeof(s->fingerprint) };
}

static void fingerprint(char out[72], const void *ct, size_t len)
{
	char hex[65];

	tm_sha256_hex(hex, ct, len);
	memcpy(out, "sha256:", 7);
	memcpy(out + 7, hex, sizeof(hex));
}

/* The plaintext prefix that binds the header to the box. */
static int envelope(struct tm_buf *out, const char *name, const char *created, struct tm_err *err)
{
	return tm_buf_printf(out, err, ENVELOPE_MAGIC "name: %s\ncreated: %s\n\n", name, created);
}

int tm_secret_seal(struct tm_buf *out, const struct tm_secret_recipient *r, const char *name, const char *created,
		   const void *value, size_t len, struct tm_err *err)
{
	struct tm_buf plain = TM_BUF_INIT("secret", TM_SECRET_MAX_VALUE + 256);
	unsigned char *ct = NULL;
	size_t ctlen;
	struct sealed_fields sf;
	int rc;

	if ((rc = tm_secret_ready(err)) < 0)
		return rc;
	if (!tm_is_dns_label(name, 63))
		return tm_err_set(err, TM_EINVALID, "'%s' is not a secret name (lowercase letters, digits, '-')", name);
	if (len > TM_SECRET_MAX_VALUE)
		return tm_err_set(err, TM_ELIMIT, "secret '%s' is larger than %u bytes", name, TM_SECRET_MAX_VALUE);
	sealed_fields_init(&sf);
	if (created && !tm_secret_time_valid(created))
		return tm_err_set(err, TM_EINVALID, "'%s' is not a time like 2025-01-02T03:04:05Z", created);
	if (created)
		snprintf(sf.created, sizeof(sf.created), "%s", created);
	else
		tm_secret_time_text(sf.created, 0);
	if ((rc = tm_secret_reserve(&plain, TM_SECRET_MAX_VALUE + 256, err)) < 0)
		goto out;
	if ((rc = envelope(&plain, name, sf.created, err)) < 0 || (rc = tm_buf_append(&plain, value, len, err)) < 0)
		goto out;
	ctlen = plain.len + crypto_box_SEALBYTES;
	if (!(ct = malloc(ctlen))) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	if (crypto_box_seal(ct, (const unsigned char *)plain.data, plain.len, r->pk) != 0) {
		rc = tm_err_set(err, TM_ERROR, "seal '%s': libsodium failed", name);
		goto out;
	}
	snprintf(sf.alg, sizeof(sf.alg), "%s", TM_SECRET_ALG_SEALED);
	snprintf(sf.id, sizeof(sf.id), "%s", r->id);
	snprintf(sf.name, sizeof(sf.name), "%s", name);
	fingerprint(sf.fingerprint, ct, ctlen);
	rc = tm_secret_file_write(out, TM_SECRET_MAGIC_SEALED, sf.f, TM_ARRAY_LEN(sf.f), ct, ctlen, err);
out:
	tm_buf_wipe(&plain);
	free(ct);
	return rc;
}

/* Parses and checks everything that needs no key; ct gets the box. */
static int inspect(struct tm_secret_meta *meta, struct tm_buf *ct, const char *text, size_t len, const char *name,
		   struct tm_err *err)
{
	struct sealed_fields sf;
	char fp[72];
	int rc;

	sealed_fields_init(&sf);
	if ((rc = tm_secret_file_parse(text, len, name, TM_SECRET_MAGIC_SEALED, sf.f, TM_ARRAY_LEN(sf.f), ct,
				 TM_SECRET_MAX_FILE, err)) < 0)
		return rc;
	if (strcmp(sf.alg, TM_SECRET_ALG_SEALED) != 0)
		return tm_err_set(err, TM_EVERSION, "%s:2: algorithm '%s' is not supported (this tarmac reads '%s')",
				  name, sf.alg, TM_SECRET_ALG_SEALED);
	if (strlen(sf.id) != TM_SECRET_KEY_ID_LEN || strspn(sf.id, "0123456789abcdef") != TM_SECRET_KEY_ID_LEN)
		return tm_err_set(err, TM_ECORRUPT, "%s:3: key id '%s' is not %d lowercase hex digits", name, sf.id,
				  TM_SECRET_KEY_ID_LEN);
	if (!tm_is_dns_label(sf.name, 63))
		return tm_err_set(err, TM_ECORRUPT, "%s:4: '%s' is not a secret name", name, sf.name);
	if (!tm_secret_time_valid(sf.created))
		return tm_err_set(err, TM_ECORRUPT, "%s:5: '%s' is not a time like 2025-01-02T03:04:05Z", name,
				  sf.created);
	if (ct->len <= crypto_box_SEALBYTES)
		return tm_err_set(err, TM_ECORRUPT, "%s: the body is too short for a sealed box: truncated", name);
	fingerprint(fp, ct->data, ct->len);
	if (strcmp(fp, sf.fingerprint) != 0)
		return tm_err_set(err, TM_ECORRUPT, "%s: the body does not match its fingerprint: the file was "
				  "truncated or altered", name);
	if (meta) {
		memset(meta, 0, sizeof(*meta));
		memcpy(meta->name, sf.name, sizeof(meta->name));
		memcpy(meta->created, sf.created, sizeof(meta->created));
		memcpy(meta->key_id, sf.id, sizeof(meta->key_id));
		memcpy(meta->fingerprint, sf.fingerprint, sizeof(meta->fingerprint));
	}
	return 0;
}

int tm_secret_inspect(struct tm_secret_meta *out, const char *text, size_t len, const char *name,
		      struct tm_err *err)
{
	struct tm_buf ct = TM_BUF_INIT("sealed box", TM_SECRET_MAX_FILE);
	struct tm_secret_meta m;
	int rc;

	if ((rc = inspect(&m, &ct, text, len, name, err)) == 0 && out)
		*out = m;
	tm_buf_release(&ct);
	return rc;
}

int tm_secret_unseal(struct tm_buf *out, struct tm_secret_meta *meta, const struct tm_secret_key *k,
		     const char *text, size_t len, const char *name, struct tm_err *err)
{
	struct tm_buf ct = TM_BUF_INIT("sealed box", TM_SECRET_MAX_FILE);
	struct tm_buf plain = TM_BUF_INIT("secret", TM_SECRET_MAX_FILE);
	struct tm_buf want = TM_BUF_INIT("envelope", 512);
	struct tm_secret_meta m;
	size_t plen;
	int rc;

	if ((rc = tm_secret_ready(err)) < 0)
		return rc;
	if ((rc = inspect(&m, &ct, text, len, name, err)) < 0)
		goto out;
	if (strcmp(m.key_id, k->id) != 0) {
		rc = tm_err_set(err, TM_EWRONGKEY, "%s is sealed to key %s, but the private key given is %s (of "
				"environment '%s')", name, m.key_id, k->id, k->env);
		goto out;
	}
	plen = ct.len - crypto_box_SEALBYTES;
	if ((rc = tm_secret_reserve(&plain, plen, err)) < 0)
		goto out;
	if (crypto_box_seal_open((unsigned char *)plain.data, (const unsigned char *)ct.data, ct.len, k->pk, k->sk) !=
	    0) {
		/* the header names our key and the fingerprint matches, yet the box does not
		 * open: it was made for another key and the header edited to match */
		rc = tm_err_set(err, TM_ECORRUPT, "%s does not open with key %s although its header names it: the "
				"file was altered", name, k->id);
		goto out;
	}
	plain.len = plen;
	plain.data[plen] = '\0';
	if ((rc = envelope(&want, m.name, m.created, err)) < 0)
		goto out;
	if (plain.len < want.len || memcmp(plain.data, want.data, want.len) != 0) {
		rc = tm_err_set(err, TM_ECORRUPT, "%s: its header (name '%s', created %s) does not match what was "
				"sealed: the header was edited or the file copied from another secret", name, m.name,
				m.created);
		goto out;
	}
	if ((rc = tm_secret_reserve(out, out->len + plain.len - want.len, err)) < 0 ||
	    (rc = tm_buf_append(out, plain.data + want.len, plain.len - want.len, err)) < 0)
		goto out;
	if (meta)
		*meta = m;
out:
	tm_buf_release(&ct);
	tm_buf_wipe(&plain);
	tm_buf_release(&want);
	return rc;
}
