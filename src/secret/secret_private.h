/* Private to secret/: the key structs and the text file format shared by key,
 * recipient and sealed files (a versioned header, then a base64 body). */
#ifndef TARMAC_SECRET_PRIVATE_H
#define TARMAC_SECRET_PRIVATE_H

#include <stdint.h>
#include <string.h>

#include "tarmac/doc.h"

#include "tarmac/secret.h"

#define TM_SECRET_X25519_LEN 32
#define TM_SECRET_ALG_KEY "x25519"
#define TM_SECRET_ALG_SEALED "x25519-xsalsa20poly1305-sealedbox"
#define TM_SECRET_MAGIC_RECIPIENT "tarmac-recipient"
#define TM_SECRET_MAGIC_KEY "tarmac-key"
#define TM_SECRET_MAGIC_SEALED "tarmac-sealed"
#define TM_SECRET_B64_WRAP 76
#define TM_SECRET_CREATED_LEN 20 /* "2025-01-02T03:04:05Z" */

struct tm_secret_recipient {
	uint8_t pk[TM_SECRET_X25519_LEN];
	char id[TM_SECRET_KEY_ID_LEN + 1];
	char env[64];
	char created[32];
};

struct tm_secret_key {
	uint8_t sk[TM_SECRET_X25519_LEN]; /* wiped by tm_secret_key_free */
	uint8_t pk[TM_SECRET_X25519_LEN]; /* derived from sk */
	char id[TM_SECRET_KEY_ID_LEN + 1];
	char env[64];
	char created[32];
};

/* The unsealed secrets of one environment. Every buffer is reserved once and wiped
 * when freed. */
struct tm_secret_set {
	struct tm_buf value[TM_SECRET_COUNT];
	bool have[TM_SECRET_COUNT];
	struct tm_buf known_hosts; /* empty when the environment has none */
	/* keys tarmac.io/content-hash, derived from the private key: stable across runs,
	 * useless to anyone without the key */
	unsigned char hash_key[32];
};

/* sodium_init, which is safe to call any number of times. */
int tm_secret_ready(struct tm_err *err);
/* First 8 bytes of SHA-256(pk) in hex. */
void tm_secret_pk_id(char out[TM_SECRET_KEY_ID_LEN + 1], const uint8_t pk[TM_SECRET_X25519_LEN]);
/* RFC 3339 UTC of now (0: the clock). */
void tm_secret_time_text(char out[32], int64_t now);
bool tm_secret_time_valid(const char *s);

/* Makes room for n bytes (and the NUL) without leaving a copy of what b holds in
 * freed memory: buffers of plaintext reserve once, up front. */
int tm_secret_reserve(struct tm_buf *b, size_t n, struct tm_err *err);
/* Appends base64 of p (sodium variant) to out, a newline every wrap characters
 * (0: one line, no newline). */
int tm_secret_b64_append(struct tm_buf *out, const void *p, size_t n, int variant, size_t wrap, struct tm_err *err);
/* Decodes exactly s[0..len) (no whitespace) into out (cleared first). -1 when s is
 * not canonical base64 of that variant. */
int tm_secret_b64_decode(struct tm_buf *out, const char *s, size_t len, int variant);

/* One "key: value" header line, in the order the format fixes. */
struct tm_secret_field {
	const char *key;
	char *value;  /* filled by tm_secret_file_parse */
	size_t cap;   /* bytes of value, NUL included */
};

/* Parses "<magic> v1", the fields in order, a blank line and a base64 body (lines of
 * at most 76 characters, each ending in a newline) decoded into body (at most
 * body_max bytes). Errors name name:line: TM_EVERSION for a version other than 1,
 * TM_EINVALID for another tarmac file kind, TM_ECORRUPT for the rest. */
int tm_secret_file_parse(const char *text, size_t len, const char *name, const char *magic, struct tm_secret_field *fields,
		   size_t nfields, struct tm_buf *body, size_t body_max, struct tm_err *err);
/* Writes the header, the blank line and the wrapped base64 body. */
int tm_secret_file_write(struct tm_buf *out, const char *magic, const struct tm_secret_field *fields, size_t nfields,
		   const void *body, size_t body_len, struct tm_err *err);

/* An ed25519 key pair as OpenSSH writes it (openssh-key-v1, no cipher), appended
 * to out. */
int tm_secret_openssh_generate(struct tm_buf *out, const char *comment, struct tm_err *err);

/* A bounds-checked reader of SSH wire data (RFC 4251 uint32 and string): a read past
 * the end sets bad and returns 0/NULL, so a walk checks bad once at the end. */
struct tm_secret_reader {
	const unsigned char *p;
	size_t n;
	bool bad;
};
uint32_t tm_secret_read_u32(struct tm_secret_reader *r);
const unsigned char *tm_secret_read_string(struct tm_secret_reader *r, size_t *len);
bool tm_secret_read_string_is(struct tm_secret_reader *r, const char *want);

/* Every file of secrets/<env>/ is read as itself (never through a link: a committed
 * link could ship any local file into the cluster) and must be a regular file others
 * may not write. */
#define TM_SECRET_DIR_FILE_CHECKS (TM_FILE_NO_SHARED_WRITE | TM_FILE_PLAIN)

/* "<dir>/<file>" into out; TM_EINVALID when it does not fit. */
int tm_secret_path(char *out, size_t cap, const char *dir, const char *file, struct tm_err *err);

/* ------------------------------------------------------------------ values
 * What the values say about the Secrets to make (objects.c) and where they live (live.c). */
static inline const char *tm_secret_str_at(json_t *v)
{
	return json_is_string(v) && json_string_length(v) ? json_string_value(v) : NULL;
}
/* A values string by path, NULL when unset, null or empty. */
#define TM_SECRET_VSTR(t, ...) tm_secret_str_at(tm_doc_get((t)->values, __VA_ARGS__, NULL))

static inline bool tm_secret_vbool(const struct tm_secret_target *t, const char *a, const char *b)
{
	return json_is_true(tm_doc_get(t->values, a, b, NULL));
}

static inline bool tm_secret_celery(const struct tm_secret_target *t)
{
	const char *ex = TM_SECRET_VSTR(t, "executor");

	return ex && strstr(ex, "Celery") != NULL;
}

static inline bool tm_secret_airflow2(const struct tm_secret_target *t)
{
	const char *v = TM_SECRET_VSTR(t, "airflowVersion");

	return v && strncmp(v, "2.", 2) == 0;
}

/* An empty set (every buffer reserved once), for values that do not come from files. */
struct tm_secret_set *tm_secret_set_new(void);

#endif
