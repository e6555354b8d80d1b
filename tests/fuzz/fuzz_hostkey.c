/* libFuzzer target: what the DAG repository's host and URL come from. The first line is
 * taken as a repository URL (tm_vcs_url_parse), the rest as known_hosts text judged for
 * that host presenting a fixed ed25519 key (tm_vcs_host_check). */
#include <stdint.h>
#include <string.h>

#include "tarmac/vcs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* an ed25519 public key blob: string "ssh-ed25519", string of 32 bytes */
static const unsigned char KEY[] = { 0, 0, 0, 11, 's', 's', 'h', '-', 'e', 'd', '2', '5', '5', '1', '9', 0, 0, 0, 32,
				     1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				     17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t first = nl ? (size_t)(nl - data) : size;
	char url[2048];
	struct tm_vcs_url u;
	struct tm_err err;
	enum tm_vcs_host_verdict v;
	int rc;

	if (first >= sizeof(url) || memchr(data, '\0', first))
		return 0;
	memcpy(url, data, first);
	url[first] = '\0';
	tm_err_init(&err);
	rc = tm_vcs_url_parse(&u, url, &err);
	/* refused with a message, or a URL with a host and port for every remote scheme */
	if (rc < 0 ? (rc != TM_EINVALID || err.depth == 0)
		   : (u.scheme != TM_VCS_LOCAL && (!u.host[0] || u.port < 1 || u.port > 65535)))
		__builtin_trap();
	v = tm_vcs_host_check((const char *)data + first, size - first, rc == 0 && u.host[0] ? u.host : "example.com",
			      rc == 0 ? u.port : 22, KEY, sizeof(KEY));
	if (v != TM_HOST_TRUSTED && v != TM_HOST_UNKNOWN && v != TM_HOST_CHANGED && v != TM_HOST_REVOKED)
		__builtin_trap();
	return 0;
}
