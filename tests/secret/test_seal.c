/* Sealed files open only with the right key; a wrong key, a flipped byte, a
 * truncated file and an unknown version each give their own error. */
#include "helpers.h"

struct sealed {
	struct env e, other;
	struct tm_secret_key *k, *wrong;
	struct tm_buf text;
};

static const char VALUE[] = "s3cr3t-value-\x01\xff-with-bytes";

static void sealed_make(struct sealed *s)
{
	struct tm_secret_recipient *r;
	struct tm_err err;

	env_make(&s->e);
	env_make_named(&s->other, "prod");
	s->k = env_key(&s->e);
	s->wrong = env_key(&s->other);
	r = env_recipient(&s->e);
	tm_buf_init(&s->text, "sealed", TM_SECRET_MAX_FILE);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_seal(&s->text, r, "jwt-secret", "2024-05-06T07:08:09Z", VALUE, sizeof(VALUE) - 1, &err), 0,
		     "%s", tm_err_msg(&err));
	tm_secret_recipient_free(r);
}

static void sealed_drop(struct sealed *s)
{
	tm_secret_key_free(s->k);
	tm_secret_key_free(s->wrong);
	tm_buf_release(&s->text);
	env_drop(&s->e);
	env_drop(&s->other);
}

static int open_text(struct sealed *s, const char *text, size_t len, const struct tm_secret_key *k,
		     struct tm_buf *out, struct tm_err *err)
{
	tm_err_init(err);
	tm_buf_clear(out);
	return tm_secret_unseal(out, NULL, k, text, len, "f.sealed", err);
}

Test(secret_seal, round_trip_with_the_right_key)
{
	struct sealed s;
	struct tm_buf out = TM_BUF_INIT("out", TM_SECRET_MAX_FILE);
	struct tm_secret_meta m;
	struct tm_err err;

	sealed_make(&s);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_unseal(&out, &m, s.k, s.text.data, s.text.len, "f.sealed", &err), 0, "%s",
		     tm_err_msg(&err));
	cr_assert_eq(out.len, sizeof(VALUE) - 1);
	cr_assert_eq(memcmp(out.data, VALUE, out.len), 0);
	cr_assert_str_eq(m.name, "jwt-secret");
	cr_assert_str_eq(m.created, "2024-05-06T07:08:09Z");
	cr_assert_str_eq(m.key_id, s.e.id);
	cr_assert(strncmp(m.fingerprint, "sha256:", 7) == 0 && strlen(m.fingerprint) == 71);
	/* the header is listable without any key, and nothing of the value is in the file */
	cr_assert(strncmp(s.text.data, "tarmac-sealed v1\nalg: x25519-xsalsa20poly1305-sealedbox\nkey-id: ", 64) == 0,
		  "%s", s.text.data);
	cr_assert_null(memmem(s.text.data, s.text.len, "s3cr3t", 6));
	tm_buf_wipe(&out);
	sealed_drop(&s);
}

Test(secret_seal, each_seal_differs_and_the_fingerprint_is_of_the_ciphertext)
{
	struct sealed s;
	struct tm_secret_recipient *r;
	struct tm_buf again = TM_BUF_INIT("sealed", TM_SECRET_MAX_FILE);
	struct tm_secret_meta a, b;
	struct tm_err err;

	sealed_make(&s);
	r = env_recipient(&s.e);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_seal(&again, r, "jwt-secret", "2024-05-06T07:08:09Z", VALUE, sizeof(VALUE) - 1, &err), 0);
	cr_assert_eq(tm_secret_inspect(&a, s.text.data, s.text.len, "a", &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_secret_inspect(&b, again.data, again.len, "b", &err), 0);
	/* the same value sealed twice: a fingerprint of the plaintext would match */
	cr_assert_str_neq(a.fingerprint, b.fingerprint);
	tm_secret_recipient_free(r);
	tm_buf_release(&again);
	sealed_drop(&s);
}

Test(secret_seal, wrong_key_is_its_own_error)
{
	struct sealed s;
	struct tm_buf out = TM_BUF_INIT("out", TM_SECRET_MAX_FILE);
	struct tm_err err;
	char want[256];

	sealed_make(&s);
	cr_assert_eq(open_text(&s, s.text.data, s.text.len, s.wrong, &out, &err), TM_EWRONGKEY);
	snprintf(want, sizeof(want), "f.sealed is sealed to key %s, but the private key given is %s (of environment 'prod')",
		 s.e.id, s.other.id);
	cr_assert_str_eq(tm_err_msg(&err), want);
	cr_assert_eq(out.len, 0);
	sealed_drop(&s);
}

Test(secret_seal, a_flipped_byte_anywhere_is_corrupt)
{
	struct sealed s;
	struct tm_buf out = TM_BUF_INIT("out", TM_SECRET_MAX_FILE);
	struct tm_err err;
	char *copy;
	size_t body;

	sealed_make(&s);
	body = (size_t)(strstr(s.text.data, "\n\n") - s.text.data) + 2;
	copy = malloc(s.text.len);
	/* every body byte: a base64 letter changed to another one */
	for (size_t i = body; i < s.text.len; i++) {
		if (s.text.data[i] == '\n' || s.text.data[i] == '=')
			continue;
		memcpy(copy, s.text.data, s.text.len);
		copy[i] = copy[i] == 'A' ? 'B' : 'A';
		cr_assert_eq(open_text(&s, copy, s.text.len, s.k, &out, &err), TM_ECORRUPT, "byte %zu: %s", i,
			     tm_err_msg(&err));
	}
	memcpy(copy, s.text.data, s.text.len);
	copy[body + 3] = copy[body + 3] == 'A' ? 'B' : 'A';
	open_text(&s, copy, s.text.len, s.k, &out, &err);
	cr_assert_str_eq(tm_err_msg(&err), "f.sealed: the body does not match its fingerprint: the file was truncated or altered");
	/* the name in the header: the box still says jwt-secret */
	{
		char *hn = strstr(s.text.data, "name: jwt-secret");
		memcpy(copy, s.text.data, s.text.len);
		memcpy(copy + (hn - s.text.data), "name: jwt-secreu", 16);
		cr_assert_eq(open_text(&s, copy, s.text.len, s.k, &out, &err), TM_ECORRUPT);
		cr_assert(strstr(tm_err_msg(&err), "does not match what was sealed") != NULL, "%s", tm_err_msg(&err));
	}
	free(copy);
	cr_assert_eq(out.len, 0);
	sealed_drop(&s);
}

Test(secret_seal, truncation_at_any_point_is_corrupt)
{
	struct sealed s;
	struct tm_buf out = TM_BUF_INIT("out", TM_SECRET_MAX_FILE);
	struct tm_err err;

	sealed_make(&s);
	for (size_t n = 0; n < s.text.len; n++) {
		int rc = open_text(&s, s.text.data, n, s.k, &out, &err);
		cr_assert_eq(rc, TM_ECORRUPT, "cut at %zu: %d %s", n, rc, tm_err_msg(&err));
	}
	open_text(&s, s.text.data, s.text.len - 1, s.k, &out, &err);
	cr_assert(strstr(tm_err_msg(&err), "truncated") != NULL, "%s", tm_err_msg(&err));
	tm_buf_wipe(&out);
	sealed_drop(&s);
}

Test(secret_seal, unknown_version_and_algorithm_are_unsupported)
{
	struct sealed s;
	struct tm_buf out = TM_BUF_INIT("out", TM_SECRET_MAX_FILE);
	struct tm_err err;
	char *copy;

	sealed_make(&s);
	copy = strdup(s.text.data);
	copy[15] = '2'; /* "tarmac-sealed v2" */
	cr_assert_eq(open_text(&s, copy, s.text.len, s.k, &out, &err), TM_EVERSION);
	cr_assert_str_eq(tm_err_msg(&err), "f.sealed:1: a sealed secret file format version 2 is not supported (this "
			 "tarmac reads v1)");
	free(copy);
	copy = strdup(s.text.data);
	memcpy(strstr(copy, "xsalsa20"), "chacha20", 8);
	cr_assert_eq(open_text(&s, copy, s.text.len, s.k, &out, &err), TM_EVERSION);
	cr_assert(strstr(tm_err_msg(&err), "algorithm 'x25519-chacha20poly1305-sealedbox' is not supported") != NULL,
		  "%s", tm_err_msg(&err));
	free(copy);
	sealed_drop(&s);
}

Test(secret_seal, a_box_for_another_key_under_our_header_is_corrupt)
{
	struct sealed s;
	struct tm_secret_recipient *r;
	struct tm_buf other = TM_BUF_INIT("sealed", TM_SECRET_MAX_FILE), out = TM_BUF_INIT("out", TM_SECRET_MAX_FILE);
	struct tm_err err;
	char *idpos;

	sealed_make(&s);
	/* sealed to prod, then the key id edited to dev's */
	{
		char p[600];
		snprintf(p, sizeof(p), "%s/recipient.pub", s.other.dir);
		tm_err_init(&err);
		cr_assert_eq(tm_secret_recipient_load(&r, p, &err), 0);
	}
	cr_assert_eq(tm_secret_seal(&other, r, "jwt-secret", NULL, "x", 1, &err), 0);
	idpos = strstr(other.data, "key-id: ") + 8;
	memcpy(idpos, s.e.id, 16);
	cr_assert_eq(open_text(&s, other.data, other.len, s.k, &out, &err), TM_ECORRUPT);
	cr_assert(strstr(tm_err_msg(&err), "does not open with key") != NULL, "%s", tm_err_msg(&err));
	tm_secret_recipient_free(r);
	tm_buf_release(&other);
	sealed_drop(&s);
}

Test(secret_seal, strict_parsing_of_the_text)
{
	struct sealed s;
	struct tm_buf out = TM_BUF_INIT("out", TM_SECRET_MAX_FILE);
	struct tm_err err;
	char *copy;

	sealed_make(&s);
	/* CRLF line ends (a checkout with autocrlf) are named as such */
	{
		struct tm_buf crlf = TM_BUF_INIT("crlf", TM_SECRET_MAX_FILE);
		for (size_t i = 0; i < s.text.len; i++)
			cr_assert_eq(tm_buf_puts(&crlf, s.text.data[i] == '\n' ? "\r\n" : (char[]){ s.text.data[i], 0 }, NULL), 0);
		cr_assert_eq(open_text(&s, crlf.data, crlf.len, s.k, &out, &err), TM_ECORRUPT);
		cr_assert(strstr(tm_err_msg(&err), "CRLF") != NULL, "%s", tm_err_msg(&err));
		tm_buf_release(&crlf);
	}
	/* a field out of order */
	copy = strdup(s.text.data);
	memcpy(strstr(copy, "name:"), "nome:", 5);
	cr_assert_eq(open_text(&s, copy, s.text.len, s.k, &out, &err), TM_ECORRUPT);
	cr_assert_str_eq(tm_err_msg(&err), "f.sealed:4: expected 'name: ...'");
	free(copy);
	/* a bad created time */
	copy = strdup(s.text.data);
	memcpy(strstr(copy, "2024-05-06T"), "2024/05/06T", 11);
	cr_assert_eq(open_text(&s, copy, s.text.len, s.k, &out, &err), TM_ECORRUPT);
	cr_assert(strstr(tm_err_msg(&err), "f.sealed:5:") != NULL, "%s", tm_err_msg(&err));
	free(copy);
	cr_assert_eq(open_text(&s, "", 0, s.k, &out, &err), TM_ECORRUPT);
	cr_assert_str_eq(tm_err_msg(&err), "f.sealed: empty file");
	sealed_drop(&s);
}

Test(secret_seal, names_and_sizes_are_checked_when_sealing)
{
	struct sealed s;
	struct tm_secret_recipient *r;
	struct tm_buf out = TM_BUF_INIT("sealed", TM_SECRET_MAX_FILE);
	struct tm_err err;
	char *big = calloc(1, TM_SECRET_MAX_VALUE + 1);

	sealed_make(&s);
	r = env_recipient(&s.e);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_seal(&out, r, "../x", NULL, "x", 1, &err), TM_EINVALID);
	cr_assert_eq(tm_secret_seal(&out, r, "x", "yesterday", "x", 1, &err), TM_EINVALID);
	cr_assert_eq(tm_secret_seal(&out, r, "x", NULL, big, TM_SECRET_MAX_VALUE + 1, &err), TM_ELIMIT);
	cr_assert_eq(out.len, 0);
	free(big);
	tm_secret_recipient_free(r);
	sealed_drop(&s);
}
