/* libFuzzer target: allowed_signers text (tm_vcs_signers_parse), then the lines that
 * allow each key it read, and a fixed ed25519 key, for a principal and namespace the
 * input ends with (tm_vcs_signers_find). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tarmac/vcs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* an ed25519 public key blob: string "ssh-ed25519", string of 32 bytes */
static const unsigned char KEY[] = { 0, 0, 0, 11, 's', 's', 'h', '-', 'e', 'd', '2', '5', '5', '1', '9', 0, 0, 0, 32,
				     1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				     17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tm_vcs_signers s = { 0, NULL };
	struct tm_err err;
	char principal[64];
	size_t line, n = size < sizeof(principal) - 1 ? size : sizeof(principal) - 1;
	int rc;

	tm_err_init(&err);
	rc = tm_vcs_signers_parse(&s, (const char *)data, size, &err);
	/* refused with the line named, or every entry with principals, a type and a key */
	if (rc < 0 ? (rc != TM_EINVALID && rc != TM_ERROR) || !strstr(tm_err_msg(&err), "allowed_signers:") : 0)
		__builtin_trap();
	memcpy(principal, data + size - n, n);
	principal[n] = '\0';
	for (size_t i = 0; i < s.n; i++) {
		if (!s.e[i].principals || !s.e[i].type[0] || s.e[i].keylen < 4 || s.e[i].line == 0)
			__builtin_trap();
		/* the line found holds the key, and is never after a plain line without limits
		 * holding it */
		bool plain = !s.e[i].cert_authority && !s.e[i].valid_after && !s.e[i].valid_before;
		if (tm_vcs_signers_find(&line, &s, s.e[i].key, s.e[i].keylen, NULL, NULL, 1700000000) == TM_SIGNER_OK ?
			    (plain && line > i) || s.e[line].cert_authority || s.e[line].keylen != s.e[i].keylen ||
				    memcmp(s.e[line].key, s.e[i].key, s.e[i].keylen) != 0
			    : plain)
			__builtin_trap();
		(void)tm_vcs_signers_find(&line, &s, s.e[i].key, s.e[i].keylen, principal, "git", 0);
	}
	(void)tm_vcs_signers_find(&line, &s, KEY, sizeof(KEY), principal, principal, INT64_MAX);
	tm_vcs_signers_release(&s);
	return 0;
}
