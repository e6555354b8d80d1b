/* libFuzzer target: the key files tarmac reads (a private key from --key-file or
 * standard input, recipient.pub from the repository), the OpenSSH private key format
 * of the deploy key, and the public-key files of secrets/<env>/ (git-ssh-key.pub,
 * known_hosts). The same input goes to each parser. */
#include <stdint.h>
#include <string.h>

#include "tarmac/secret.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tm_secret_key *k = NULL;
	struct tm_secret_recipient *r = NULL;
	struct tm_buf pub = TM_BUF_INIT("ssh public key", 16384);
	struct tm_err err;
	int rc;

	tm_err_init(&err);
	rc = tm_secret_key_parse(&k, (const char *)data, size, "fuzz.key", &err);
	if (rc < 0 ? (err.depth == 0 || k) : (!k || strlen(tm_secret_key_id(k)) != 16))
		__builtin_trap();
	tm_secret_key_free(k);
	tm_err_init(&err);
	rc = tm_secret_recipient_parse(&r, (const char *)data, size, "fuzz.pub", &err);
	if (rc < 0 ? (err.depth == 0 || r) : (!r || strlen(tm_secret_recipient_id(r)) != 16))
		__builtin_trap();
	tm_secret_recipient_free(r);
	tm_err_init(&err);
	rc = tm_secret_ssh_public_line(&pub, (const char *)data, size, &err);
	if (rc < 0 ? (rc != TM_ECORRUPT || err.depth == 0) : strncmp(pub.data, "ssh-ed25519 AAAA", 16) != 0)
		__builtin_trap();
	tm_buf_wipe(&pub);
	/* a refusal is TM_EINVALID with its message; anything accepted is text */
	tm_err_init(&err);
	rc = tm_secret_known_hosts_check((const char *)data, size, "fuzz_known_hosts", &err);
	if (rc < 0 ? (rc != TM_EINVALID || err.depth == 0) : (size == 0 || memchr(data, '\0', size) != NULL))
		__builtin_trap();
	tm_err_init(&err);
	rc = tm_secret_ssh_pub_check((const char *)data, size, "fuzz.pub", &err);
	if (rc < 0 ? (rc != TM_EINVALID || err.depth == 0) : (size == 0 || memchr(data, '\0', size) != NULL))
		__builtin_trap();
	return 0;
}
