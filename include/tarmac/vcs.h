/* The DAG repository, read by tarmac itself (libgit2): a bare cache per repository URL
 * under the user's cache directory, shared by concurrent runs through a lock file;
 * fetched over ssh (the environment's deploy key, in memory only, and strict host key
 * checking against its known_hosts), https (a token) or a local path; refs resolved to
 * full commit ids. It neither prints nor exits: progress goes to the report function. */
#ifndef TARMAC_VCS_H
#define TARMAC_VCS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tarmac/util.h"

#define TM_VCS_ID_LEN 40 /* a SHA-1 commit id in hex */
#define TM_VCS_FP_LEN 64 /* "SHA256:" and 43 base64 characters, NUL included */

/* ------------------------------------------------------------------ host keys */

enum tm_vcs_host_verdict {
	TM_HOST_TRUSTED,  /* a line for the host holds this very key */
	TM_HOST_UNKNOWN,  /* no line for the host holds a key of this type */
	TM_HOST_CHANGED,  /* lines for the host hold other keys of this type */
	TM_HOST_REVOKED,  /* an @revoked line holds this key */
};
/* What known_hosts text says of host presenting the public key blob (SSH wire format)
 * on port (22 is looked up as "host", others as "[host]:port", as OpenSSH does):
 * patterns with wildcards and negation, hashed hosts (ssh-keygen -H), @revoked.
 * @cert-authority lines are not used (certificates are not accepted). */
enum tm_vcs_host_verdict tm_vcs_host_check(const char *known_hosts, size_t len, const char *host, int port,
					   const unsigned char *blob, size_t bloblen);
/* "SHA256:<base64 without padding>" of a public key blob, as ssh-keygen -l prints it. */
void tm_vcs_fingerprint(char out[TM_VCS_FP_LEN], const unsigned char *blob, size_t n);

/* The host key an ssh server presents (read with a key exchange, no login). */
struct tm_vcs_host_key {
	char type[32];            /* "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa", ... */
	unsigned char blob[2048]; /* the public key, SSH wire format */
	size_t len;
};
/* TM_EUNAVAILABLE when host:port cannot be reached or speaks no ssh within timeout_ms. */
int tm_vcs_host_key_scan(struct tm_vcs_host_key *out, const char *host, int port, int timeout_ms, struct tm_err *err);
/* Its known_hosts line: "host TYPE BASE64", or "[host]:port TYPE BASE64" off port 22. */
void tm_vcs_known_hosts_line(char *out, size_t n, const struct tm_vcs_host_key *k, const char *host, int port);

/* ------------------------------------------------------------------ where a repository is */

/* A repository URL taken apart: ssh://[user@]host[:port]/path, user@host:path (scp
 * style), https://..., http://..., file://path or a plain path. */
enum tm_vcs_scheme { TM_VCS_SSH, TM_VCS_HTTPS, TM_VCS_HTTP, TM_VCS_LOCAL };
struct tm_vcs_url {
	enum tm_vcs_scheme scheme;
	char user[64];   /* ssh: the user ("git" when the URL names none) */
	char host[256];
	int port;        /* 22, 443 or 80 unless the URL names one; 0 for local paths */
};
/* TM_EINVALID naming what is wrong. */
int tm_vcs_url_parse(struct tm_vcs_url *out, const char *url, struct tm_err *err);

/* ------------------------------------------------------------------ the cache */

struct tm_vcs_opts {
	const char *url;
	const char *cache_dir;     /* --dags-cache; NULL: $XDG_CACHE_HOME/tarmac/dags, else ~/.cache/tarmac/dags */
	/* the deploy key for ssh URLs, an ed25519 pair in libsodium's layout: it signs in
	 * memory (libgit2 and libssh2 never see the private half) */
	const unsigned char *ssh_pk; /* 32 bytes, or NULL: no key */
	const unsigned char *ssh_sk; /* 64 bytes */
	const char *known_hosts;   /* the hosts ssh URLs may reach, for ssh URLs */
	size_t known_hosts_len;
	const char *https_user;    /* https: basic credentials, or a token as the password */
	const char *https_token;
	tm_report_fn report;
	void *report_ctx;
	const volatile sig_atomic_t *stop; /* Ctrl-C: the transfer stops (TM_EINTERRUPTED) */
};

struct tm_vcs_repo;
/* Opens the URL's cache (created bare when new), holding its lock until closed: a
 * second run on the same repository waits for the first (reported). */
int tm_vcs_open(struct tm_vcs_repo **out, const struct tm_vcs_opts *o, struct tm_err *err);
/* Brings every branch and tag of the repository into the cache (only what is new is
 * transferred; branches and tags deleted there are deleted here). */
int tm_vcs_fetch(struct tm_vcs_repo *r, struct tm_err *err);
/* The commit ref names, from the cache: a branch, a tag (peeled), a full "refs/..."
 * name, or a full 40-character commit id that a branch or tag reaches. An abbreviated
 * id, a name that is both a branch and a tag of different commits, or a name that is
 * neither: TM_EINVALID / TM_ENOTFOUND naming it. */
int tm_vcs_resolve(char id[TM_VCS_ID_LEN + 1], struct tm_vcs_repo *r, const char *ref, struct tm_err *err);
/* The cache's directory (borrowed). */
const char *tm_vcs_path(const struct tm_vcs_repo *r);
void tm_vcs_close(struct tm_vcs_repo *r);

/* ------------------------------------------------------------------ what a commit holds */

struct tm_vcs_tree_stats {
	bool found;              /* the path is a folder of the commit */
	size_t files, bytes;     /* files (blobs, symlinks included) under it and their sizes */
	size_t py;               /* ... of them ending in .py */
	bool airflowignore;      /* an .airflowignore somewhere under it */
	char largest[512];       /* the largest file (its path under subpath), for a message */
	size_t largest_bytes;
};
/* The files under subpath ("" or NULL: the whole tree) of commit id (in the cache). */
int tm_vcs_tree_stats(struct tm_vcs_tree_stats *st, struct tm_vcs_repo *r, const char *id, const char *subpath,
		      struct tm_err *err);

#define TM_VCS_ADDED 'A'
#define TM_VCS_MODIFIED 'M'
#define TM_VCS_DELETED 'D'
#define TM_VCS_RENAMED 'R'
#define TM_VCS_CHANGES_MAX 1000 /* listed; all are counted */
struct tm_vcs_change {
	char status;             /* TM_VCS_ADDED, ... */
	char *path;              /* the new path (the old one for a deletion) */
	char *old_path;          /* renamed: where it was */
};
struct tm_vcs_changes {
	struct tm_vcs_change *v;
	size_t n;                /* listed */
	size_t total, added, modified, deleted, renamed;
};
/* The files that differ between commits from and to (renames detected as git does).
 * TM_ENOTFOUND when either commit is not in the cache. */
int tm_vcs_changes(struct tm_vcs_changes *out, struct tm_vcs_repo *r, const char *from, const char *to,
		   struct tm_err *err);
void tm_vcs_changes_release(struct tm_vcs_changes *c);
/* ------------------------------------------------------------------ signed commits
 * git's SSH signatures (gpg.format=ssh): an OpenSSH allowed_signers file says which
 * keys may sign for whom, an SSHSIG signature says who signed. Accepted exactly when
 * git verify-commit (ssh-keygen -Y find-principals, then -Y verify -n git -I principal
 * -Overify-time=<committer time>) accepts, except where docs/dags.md ("Signed commits") says. */

/* One allowed_signers line: principals [options] keytype base64 [comment]. */
struct tm_vcs_allowed_signer {
	unsigned line;
	char *principals;        /* the pattern list as written, quotes removed */
	char *namespaces;        /* namespaces="..." pattern list, or NULL: any */
	int64_t valid_after;     /* Unix seconds; 0: no bound */
	int64_t valid_before;    /* Unix seconds; 0: no bound */
	bool cert_authority;     /* the key signs certificates (never matches a plain key) */
	char type[64];           /* "ssh-ed25519" */
	unsigned char *key;      /* the public key blob (SSH wire format) */
	size_t keylen;
};
struct tm_vcs_signers {
	size_t n;
	struct tm_vcs_allowed_signer *e;
};
/* Parses allowed_signers text (comments, blank lines, quoted principals, options
 * namespaces, valid-after, valid-before, cert-authority; times YYYYMMDD[HHMM[SS]] in
 * local time or with a Z/UTC suffix). TM_EINVALID "allowed_signers:LINE: expected ..."
 * for a line OpenSSH would skip as invalid: tarmac refuses the whole file instead.
 * out is released by tm_vcs_signers_release. */
int tm_vcs_signers_parse(struct tm_vcs_signers *out, const char *text, size_t len, struct tm_err *err);
void tm_vcs_signers_release(struct tm_vcs_signers *s);

enum tm_vcs_signer_verdict {
	TM_SIGNER_OK,            /* a line allows it */
	TM_SIGNER_UNLISTED,      /* no line holds the key (cert-authority lines aside) */
	TM_SIGNER_NAMESPACE,     /* lines hold it, none for this namespace */
	TM_SIGNER_EXPIRED,       /* lines hold it, none valid at that time */
	TM_SIGNER_PRINCIPAL,     /* lines hold it, none for this principal */
};
/* The first line holding key blob (and allowing principal when not NULL, namespace
 * when not NULL) valid at unix time when, as ssh-keygen's check_allowed_keys_line;
 * *line_out (may be NULL) is its index. The verdict says why none does. */
enum tm_vcs_signer_verdict tm_vcs_signers_find(size_t *line_out, const struct tm_vcs_signers *s,
					       const unsigned char *key, size_t keylen, const char *principal,
					       const char *ns, int64_t when);

struct tm_vcs_signer {
	char fp[TM_VCS_FP_LEN];  /* the key's "SHA256:..." */
	char principal[256];     /* the principal that allowed_signers lists for it */
	char type[64];           /* "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", ... */
};
/* The armoured SSH signature (-----BEGIN SSH SIGNATURE-----) over message, made for
 * namespace ns by a key allowed_signers text allows for ns at unix time when. Refusals
 * name the key's fingerprint and why: TM_ECORRUPT (not an SSH signature, truncated or
 * malformed), TM_EVERSION (a version, hash or key type tarmac does not verify: RSA with
 * SHA-1, security keys, certificates), TM_EINVALID (bad signature, wrong namespace,
 * key not listed, namespace not allowed, outside valid-after/valid-before; or an
 * allowed_signers line). who is written on success only. */
int tm_vcs_sshsig_check(struct tm_vcs_signer *who, const char *sig, size_t siglen, const void *msg, size_t msglen,
			const char *ns, const char *allowed, size_t allowedlen, int64_t when, struct tm_err *err);

/* The commit id (full hex) in the open cache is signed (its gpgsig header) as
 * tm_vcs_sshsig_check says, namespace "git", at its committer time. The errors are
 * tm_vcs_sshsig_check's, naming the commit; TM_EINVALID for an unsigned commit. */
int tm_vcs_verify_commit(struct tm_vcs_signer *who, struct tm_vcs_repo *r, const char *id, const char *allowed,
			 size_t len, struct tm_err *err);

#endif
