/* Private to vcs/: one open repository cache and the libgit2 error helper. */
#ifndef TARMAC_VCS_PRIVATE_H
#define TARMAC_VCS_PRIVATE_H

#include <git2.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tarmac/vcs.h"

struct tm_vcs_repo {
	git_repository *repo;
	char path[4096];          /* the bare cache */
	int lock_fd;              /* its lock file, held (flock) while open */
	struct tm_vcs_opts o;     /* borrowed strings: the caller keeps them while open */
	struct tm_vcs_url url;
	char why[TM_ERR_TEXT];    /* tarmac's own reason for stopping a transfer */
	int why_code;
	int auth_tries;
	int64_t shown_ms;         /* last progress report */
};

/* OpenSSH's match_pattern_list: a comma-separated list of patterns ('*' any run, '?'
 * one character, '!' negates), true when some positive pattern matches s and no
 * negated one does. fold: compare case-insensitively (host names; principals and
 * namespaces are case-sensitive). A pattern of 1023 characters or more matches nothing. */
bool tm_vcs_pattern_list(const char *s, const char *list, bool fold);

/* SSH wire format (RFC 4251) read from untrusted bytes: every read checks the length
 * left and leaves the reader unchanged on failure. */
struct tm_vcs_wire {
	const unsigned char *p;
	size_t n;
};
static inline bool tm_vcs_wire_u32(struct tm_vcs_wire *w, uint32_t *out)
{
	if (w->n < 4)
		return false;
	*out = (uint32_t)w->p[0] << 24 | (uint32_t)w->p[1] << 16 | (uint32_t)w->p[2] << 8 | w->p[3];
	w->p += 4;
	w->n -= 4;
	return true;
}
/* A string: out points into the reader's bytes. */
static inline bool tm_vcs_wire_string(struct tm_vcs_wire *w, struct tm_vcs_wire *out)
{
	struct tm_vcs_wire t = *w;
	uint32_t len;

	if (!tm_vcs_wire_u32(&t, &len) || len > t.n)
		return false;
	out->p = t.p;
	out->n = len;
	w->p = t.p + len;
	w->n = t.n - len;
	return true;
}
/* A string without NUL bytes copied into out (cap bytes with its NUL), as OpenSSH's
 * sshbuf_get_cstring reads names. */
static inline bool tm_vcs_wire_cstring(struct tm_vcs_wire *w, char *out, size_t cap)
{
	struct tm_vcs_wire t = *w, s;

	if (!tm_vcs_wire_string(&t, &s) || s.n >= cap || memchr(s.p, '\0', s.n))
		return false;
	memcpy(out, s.p, s.n);
	out[s.n] = '\0';
	*w = t;
	return true;
}

/* An SSH signature (string algorithm, string blob) by the public key blob over data:
 * ed25519, RSA with SHA-2 and ECDSA on NIST curves, checked as OpenSSH's sshkey_verify
 * checks them. TM_EINVALID when it does not verify, TM_ECORRUPT for a malformed key or
 * signature, TM_EVERSION for what tarmac does not verify; err says which. */
int tm_vcs_sig_verify(const unsigned char *key, size_t keylen, const unsigned char *sig, size_t siglen,
		      const unsigned char *data, size_t datalen, struct tm_err *err);

/* The key type a public key blob (SSH wire format) starts with ("ssh-ed25519"), into
 * out (hostkey.c); false when the blob is too short or the name does not fit. */
bool tm_vcs_blob_type(char *out, size_t n, const unsigned char *blob, size_t len);

/* Gives libgit2 its allocator (alloc.c): before its first git_libgit2_init. */
void tm_vcs_allocator(void);

/* Sets err to code with "<fmt>: <libgit2's last error>". Returns code. */
int tm_vcs_git_err(struct tm_err *err, int code, const char *fmt, ...) TM_PRINTF(3, 4);

#endif
