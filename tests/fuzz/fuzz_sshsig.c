/* libFuzzer target: SSH signatures over a fixed message (tm_vcs_sshsig_check). The
 * first byte chooses what the rest is: 'A' the armoured text as a commit's gpgsig holds
 * it, anything else the binary blob, armoured here so the fuzzer reaches the fields and
 * the key and signature parsers behind the base64. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tarmac/vcs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MSG "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nsigned DAGs\n"
/* keys of the seed corpus' signatures (ssh-keygen), one line per type */
static const char ALLOWED[] =
	"alice ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEJF/CXWXufns3fA0mQMt+Gu2kGyPwJARu5DJ/75r5ru\n"
	"p256 namespaces=\"git\" ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBCei4Rf7wsbre9KBIv/"
	"ayeqVvC/N6gWw2WlG+x5JMWJWQ3wBsJpnXJr0rxAf+D9R4CM5hIS9hkdtotqxBRxPguc=\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tm_vcs_signer who;
	struct tm_err err;
	char *text = NULL;
	size_t len;
	int rc;

	if (size < 1 || size > 16384)
		return 0;
	if (data[0] == 'A') {
		text = malloc(size - 1 ? size - 1 : 1);
		if (!text)
			return 0;
		memcpy(text, data + 1, size - 1);
		len = size - 1;
	} else {
		size_t cap = sodium_base64_ENCODED_LEN(size - 1, sodium_base64_VARIANT_ORIGINAL);
		if (!(text = malloc(cap + 64)))
			return 0;
		strcpy(text, "-----BEGIN SSH SIGNATURE-----\n");
		sodium_bin2base64(text + strlen(text), cap, data + 1, size - 1, sodium_base64_VARIANT_ORIGINAL);
		strcat(text, "\n-----END SSH SIGNATURE-----\n");
		len = strlen(text);
	}
	tm_err_init(&err);
	memset(&who, 0, sizeof(who));
	rc = tm_vcs_sshsig_check(&who, text, len, MSG, strlen(MSG), "git", ALLOWED, strlen(ALLOWED), 1700000000, &err);
	/* a forged signature is never accepted; every refusal says why */
	if (rc == 0 || err.depth == 0 || who.principal[0] ||
	    (rc != TM_ECORRUPT && rc != TM_EVERSION && rc != TM_EINVALID && rc != TM_ERROR))
		__builtin_trap();
	free(text);
	return 0;
}
