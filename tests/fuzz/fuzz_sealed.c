/* libFuzzer target: sealed secret files (committed to repositories, so anyone with
 * write access to one shapes them). The input is inspected without a key, then
 * opened with a fixed key whose recipient the seed corpus was sealed to. */
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "secret/secret_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The corpus key: secret key bytes 1..32 (tests/fuzz/corpus/sealed was sealed to it). */
static struct tm_secret_key *fixed_key(void)
{
	static struct tm_secret_key k;
	static bool made;

	if (!made) {
		if (sodium_init() < 0)
			__builtin_trap();
		for (int i = 0; i < TM_SECRET_X25519_LEN; i++)
			k.sk[i] = (uint8_t)(i + 1);
		crypto_scalarmult_base(k.pk, k.sk);
		tm_secret_pk_id(k.id, k.pk);
		strcpy(k.env, "fuzz");
		made = true;
	}
	return &k;
}

static bool file_error(int rc)
{
	return rc == TM_ECORRUPT || rc == TM_EVERSION || rc == TM_EINVALID;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tm_buf out = TM_BUF_INIT("secret", TM_SECRET_MAX_FILE);
	struct tm_secret_meta m, um;
	struct tm_err err;
	int irc, urc;

	tm_err_init(&err);
	irc = tm_secret_inspect(&m, (const char *)data, size, "fuzz.sealed", &err);
	if (irc < 0 && (!file_error(irc) || err.depth == 0))
		__builtin_trap(); /* every refusal is a file error with a message */
	if (irc == 0 && (strncmp(m.fingerprint, "sha256:", 7) != 0 || strlen(m.key_id) != 16 || !m.name[0]))
		__builtin_trap();
	tm_err_init(&err);
	urc = tm_secret_unseal(&out, &um, fixed_key(), (const char *)data, size, "fuzz.sealed", &err);
	if (irc < 0 && urc != irc)
		__builtin_trap(); /* what fails without a key fails the same way with one */
	if (urc < 0 && err.depth == 0)
		__builtin_trap();
	if (urc == 0 && (irc != 0 || out.len > size || strcmp(um.name, m.name) != 0))
		__builtin_trap();
	tm_buf_wipe(&out);
	return 0;
}
