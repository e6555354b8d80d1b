/* The text format of key, recipient and sealed files: "<magic> v1", "key: value"
 * lines in a fixed order, a blank line, a base64 body wrapped at 76. Parsed strictly
 * (committed files are reviewed in diffs; anything unexpected is tampering or damage). */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "secret_private.h"

#define LINE_MAX_LEN 256 /* a header line; body lines are at most TM_SECRET_B64_WRAP */

int tm_secret_ready(struct tm_err *err)
{
	if (sodium_init() < 0)
		return tm_err_set(err, TM_ERROR, "libsodium could not be initialised");
	return 0;
}

void tm_secret_pk_id(char out[TM_SECRET_KEY_ID_LEN + 1], const uint8_t pk[TM_SECRET_X25519_LEN])
{
	char hex[65];

	tm_sha256_hex(hex, pk, TM_SECRET_X25519_LEN);
	memcpy(out, hex, TM_SECRET_KEY_ID_LEN);
	out[TM_SECRET_KEY_ID_LEN] = '\0';
}

void tm_secret_time_text(char out[32], int64_t now)
{
	time_t t = now ? (time_t)now : time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

bool tm_secret_time_valid(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";

	if (strlen(s) != TM_SECRET_CREATED_LEN)
		return false;
	for (size_t i = 0; i < TM_SECRET_CREATED_LEN; i++) {
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return false;
	}
	return true;
}

int tm_secret_b64_append(struct tm_buf *out, const void *p, size_t n, int variant, size_t wrap, struct tm_err *err)
{
	size_t elen = sodium_base64_encoded_len(n, variant);
	char *enc = malloc(elen);
	size_t len;
	int rc = 0;

	if (!enc)
		return tm_err_set(err, TM_ERROR, "out of memory");
	sodium_bin2base64(enc, elen, p, n, variant);
	len = strlen(enc);
	if (!wrap) {
		rc = tm_buf_append(out, enc, len, err);
	} else {
		for (size_t i = 0; rc == 0 && i < len; i += wrap) {
			size_t k = len - i < wrap ? len - i : wrap;
			if ((rc = tm_buf_append(out, enc + i, k, err)) == 0)
				rc = tm_buf_puts(out, "\n", err);
		}
	}
	/* the body of a sealed file is not secret, but this also encodes plain values
	 * (Secret data) */
	tm_wipe(enc, elen);
	free(enc);
	return rc;
}

int tm_secret_reserve(struct tm_buf *b, size_t n, struct tm_err *err)
{
	char *p;

	if (n > b->max)
		return tm_err_set(err, TM_ELIMIT, "%s exceeds its limit of %zu bytes", b->what, b->max);
	if (b->data && b->cap >= n + 1)
		return 0;
	/* a fresh block and a wiped old one, never realloc: realloc may leave a copy */
	if (!(p = malloc(n + 1)))
		return tm_err_set(err, TM_ERROR, "%s: out of memory", b->what);
	if (b->data)
		memcpy(p, b->data, b->len + 1);
	else
		p[0] = '\0';
	tm_wipe(b->data, b->cap);
	free(b->data);
	b->data = p;
	b->cap = n + 1;
	return 0;
}

int tm_secret_b64_decode(struct tm_buf *out, const char *s, size_t len, int variant)
{
	size_t got = 0, need = len / 4 * 3 + 3;
	const char *end = NULL;

	tm_buf_clear(out);
	if (tm_secret_reserve(out, need, NULL) < 0)
		return -1;
	if (sodium_base642bin((unsigned char *)out->data, out->cap - 1, s, len, NULL, &got, &end, variant) != 0 ||
	    end != s + len)
		return -1;
	out->len = got;
	out->data[got] = '\0';
	return 0;
}

int tm_secret_path(char *out, size_t cap, const char *dir, const char *file, struct tm_err *err)
{
	if ((size_t)snprintf(out, cap, "%s/%s", dir, file) >= cap)
		return tm_err_set(err, TM_EINVALID, "path '%s/%s' is too long", dir, file);
	return 0;
}

/* Next line of text from *pos: its start and length without the newline; nl tells
 * whether a newline ended it. False at the end of text. */
static bool next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *n, bool *nl)
{
	const char *p, *e;

	if (*pos >= len)
		return false;
	p = text + *pos;
	e = memchr(p, '\n', len - *pos);
	*line = p;
	*n = e ? (size_t)(e - p) : len - *pos;
	*nl = e != NULL;
	*pos += *n + (e ? 1 : 0);
	return true;
}

static bool printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

/* The first line names the kind of file: say which when it is another tarmac kind. */
static int check_magic(const char *line, size_t n, const char *name, const char *magic, struct tm_err *err)
{
	static const struct {
		const char *magic, *what;
	} kinds[] = {
		{ TM_SECRET_MAGIC_RECIPIENT, "a public recipient key file" },
		{ TM_SECRET_MAGIC_KEY, "a private key file" },
		{ TM_SECRET_MAGIC_SEALED, "a sealed secret file" },
	};
	size_t ml = strlen(magic);
	const char *want = "a tarmac file";

	for (size_t i = 0; i < TM_ARRAY_LEN(kinds); i++)
		if (strcmp(kinds[i].magic, magic) == 0)
			want = kinds[i].what;
	for (size_t i = 0; i < TM_ARRAY_LEN(kinds); i++) {
		size_t kl = strlen(kinds[i].magic);
		if (strcmp(kinds[i].magic, magic) != 0 && n > kl && memcmp(line, kinds[i].magic, kl) == 0 &&
		    line[kl] == ' ')
			return tm_err_set(err, TM_EINVALID, "%s:1: this is %s, not %s", name, kinds[i].what, want);
	}
	if (n < ml + 3 || memcmp(line, magic, ml) != 0 || line[ml] != ' ' || line[ml + 1] != 'v')
		return tm_err_set(err, TM_ECORRUPT, "%s:1: not %s (expected '%s v1')", name, want, magic);
	for (size_t i = ml + 2; i < n; i++)
		if (line[i] < '0' || line[i] > '9' || n - ml - 2 > 6)
			return tm_err_set(err, TM_ECORRUPT, "%s:1: not %s (expected '%s v1')", name, want, magic);
	if (n != ml + 3 || line[ml + 2] != '1')
		return tm_err_set(err, TM_EVERSION, "%s:1: %s format version %.*s is not supported (this tarmac reads v1)",
				  name, want, (int)(n - ml - 2), line + ml + 2);
	return 0;
}

int tm_secret_file_parse(const char *text, size_t len, const char *name, const char *magic, struct tm_secret_field *fields,
		   size_t nfields, struct tm_buf *body, size_t body_max, struct tm_err *err)
{
	struct tm_buf b64 = TM_BUF_INIT("base64 body", body_max / 3 * 4 + 8);
	size_t pos = 0, n, lineno = 0, f;
	const char *line;
	bool nl, last_short = false;
	int rc = 0;

	if (len > TM_SECRET_MAX_FILE)
		return tm_err_set(err, TM_ECORRUPT, "%s: larger than %u bytes", name, TM_SECRET_MAX_FILE);
	if (memchr(text, '\0', len))
		return tm_err_set(err, TM_ECORRUPT, "%s: holds a NUL byte: not a text file", name);
	if (memchr(text, '\r', len))
		return tm_err_set(err, TM_ECORRUPT, "%s: holds carriage returns (CRLF line ends?): the file was "
				  "converted; restore it byte for byte (git: '-text' in .gitattributes)", name);
	if (!next_line(text, len, &pos, &line, &n, &nl))
		return tm_err_set(err, TM_ECORRUPT, "%s: empty file", name);
	lineno = 1;
	if (n > LINE_MAX_LEN)
		return tm_err_set(err, TM_ECORRUPT, "%s:1: line longer than %d characters", name, LINE_MAX_LEN);
	if ((rc = check_magic(line, n, name, magic, err)) < 0)
		return rc;
	for (f = 0; f < nfields; f++) {
		size_t kl = strlen(fields[f].key);
		if (!next_line(text, len, &pos, &line, &n, &nl) || !nl)
			return tm_err_set(err, TM_ECORRUPT, "%s:%zu: truncated: expected '%s: ...'", name, lineno + 1,
					  fields[f].key);
		lineno++;
		if (n > LINE_MAX_LEN || !printable(line, n))
			return tm_err_set(err, TM_ECORRUPT, "%s:%zu: not a header line", name, lineno);
		if (n < kl + 2 || memcmp(line, fields[f].key, kl) != 0 || line[kl] != ':' || line[kl + 1] != ' ')
			return tm_err_set(err, TM_ECORRUPT, "%s:%zu: expected '%s: ...'", name, lineno, fields[f].key);
		if (n - kl - 2 == 0 || n - kl - 2 >= fields[f].cap)
			return tm_err_set(err, TM_ECORRUPT, "%s:%zu: '%s' is empty or longer than %zu characters", name,
					  lineno, fields[f].key, fields[f].cap - 1);
		memcpy(fields[f].value, line + kl + 2, n - kl - 2);
		fields[f].value[n - kl - 2] = '\0';
	}
	if (!next_line(text, len, &pos, &line, &n, &nl) || !nl)
		return tm_err_set(err, TM_ECORRUPT, "%s:%zu: truncated: expected the blank line before the body", name,
				  lineno + 1);
	lineno++;
	if (n != 0)
		return tm_err_set(err, TM_ECORRUPT, "%s:%zu: expected a blank line after the header", name, lineno);
	while (next_line(text, len, &pos, &line, &n, &nl)) {
		lineno++;
		if (!nl) {
			rc = tm_err_set(err, TM_ECORRUPT, "%s:%zu: truncated: the last line has no newline", name, lineno);
			goto out;
		}
		if (n == 0 || n > TM_SECRET_B64_WRAP || !printable(line, n)) {
			rc = tm_err_set(err, TM_ECORRUPT, "%s:%zu: not a base64 line of 1 to %d characters", name, lineno,
					TM_SECRET_B64_WRAP);
			goto out;
		}
		/* only the last line may be shorter than the wrap width */
		if (last_short) {
			rc = tm_err_set(err, TM_ECORRUPT, "%s:%zu: base64 continues after a short line", name, lineno);
			goto out;
		}
		last_short = n < TM_SECRET_B64_WRAP;
		if (tm_buf_append(&b64, line, n, NULL) < 0) {
			rc = tm_err_set(err, TM_ECORRUPT, "%s:%zu: body larger than %zu bytes", name, lineno, body_max);
			goto out;
		}
	}
	if (b64.len == 0) {
		rc = tm_err_set(err, TM_ECORRUPT, "%s:%zu: truncated: no body", name, lineno + 1);
		goto out;
	}
	body->max = body_max;
	if (tm_secret_b64_decode(body, b64.data, b64.len, sodium_base64_VARIANT_ORIGINAL) < 0)
		rc = tm_err_set(err, TM_ECORRUPT, "%s: the body is not valid base64", name);
out:
	tm_buf_release(&b64);
	return rc;
}

int tm_secret_file_write(struct tm_buf *out, const char *magic, const struct tm_secret_field *fields, size_t nfields,
		   const void *body, size_t body_len, struct tm_err *err)
{
	int rc = tm_buf_printf(out, err, "%s v1\n", magic);

	for (size_t i = 0; rc == 0 && i < nfields; i++)
		rc = tm_buf_printf(out, err, "%s: %s\n", fields[i].key, fields[i].value);
	if (rc == 0)
		rc = tm_buf_puts(out, "\n", err);
	if (rc == 0)
		rc = tm_secret_b64_append(out, body, body_len, sodium_base64_VARIANT_ORIGINAL, TM_SECRET_B64_WRAP, err);
	return rc;
}
