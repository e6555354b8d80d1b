/* Fetching into the cache: every branch and tag, pruned, over ssh (the deploy key from
 * memory, the server's host key checked against known_hosts before anything is sent),
 * https (a token as the password) or a local path; the remote's default branch kept as
 * the cache's HEAD; progress reported, Ctrl-C honoured. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vcs_private.h"

#define PROGRESS_EVERY_MS 500
#define KEY_TYPE "ssh-ed25519"

/* Stops the transfer with tarmac's own reason (libgit2's error is then ignored). */
static int refuse(struct tm_vcs_repo *r, int code, int git_code, const char *fmt, ...) TM_PRINTF(4, 5);
static int refuse(struct tm_vcs_repo *r, int code, int git_code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	r->why_code = code;
	return git_code;
}

/* The SSH wire form of a string: its length (4 bytes, big-endian), then its bytes. */
static unsigned char *put_string(unsigned char *p, const void *data, uint32_t n)
{
	p[0] = (unsigned char)(n >> 24);
	p[1] = (unsigned char)(n >> 16);
	p[2] = (unsigned char)(n >> 8);
	p[3] = (unsigned char)n;
	memcpy(p + 4, data, n);
	return p + 4 + n;
}

/* libssh2 asks for the authentication data signed: the raw ed25519 signature (libssh2
 * wraps it with the key type itself), made here with the key in memory; libssh2 frees it
 * with free(). */
static int sign(LIBSSH2_SESSION *session, unsigned char **sig, size_t *sig_len, const unsigned char *data,
		size_t data_len, void **abstract)
{
	const struct tm_vcs_repo *r = *abstract;

	(void)session;
	if (!(*sig = malloc(crypto_sign_BYTES)))
		return -1;
	*sig_len = crypto_sign_BYTES;
	if (crypto_sign_detached(*sig, NULL, data, data_len, r->o.ssh_sk) != 0) {
		free(*sig);
		*sig = NULL;
		return -1;
	}
	return 0;
}

static int ssh_key(git_credential **out, struct tm_vcs_repo *r, const char *user)
{
	unsigned char blob[4 + sizeof(KEY_TYPE) - 1 + 4 + crypto_sign_PUBLICKEYBYTES];

	put_string(put_string(blob, KEY_TYPE, (uint32_t)strlen(KEY_TYPE)), r->o.ssh_pk, crypto_sign_PUBLICKEYBYTES);
	if (git_credential_ssh_custom_new(out, user, (const char *)blob, sizeof(blob), sign, r) < 0)
		return refuse(r, TM_ERROR, GIT_EAUTH, "the deploy key: %s",
			      git_error_last() ? git_error_last()->message : "libgit2 gave no reason");
	return 0;
}

static int on_credentials(git_credential **out, const char *url, const char *url_user, unsigned int allowed,
			  void *payload)
{
	struct tm_vcs_repo *r = payload;
	const char *user = url_user && *url_user ? url_user : r->url.user;

	(void)url;
	if (allowed & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, user);
	if (++r->auth_tries > 1)
		return refuse(r, TM_ERROR, GIT_EAUTH, "%s refused %s", r->url.host,
			      r->url.scheme == TM_VCS_SSH ? "the deploy key (is its public half, git-ssh-key.pub, a deploy "
							    "key of the repository?)"
							  : "the credentials given");
	if ((allowed & GIT_CREDENTIAL_SSH_CUSTOM) && r->o.ssh_pk)
		return ssh_key(out, r, user);
	if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && r->o.https_token)
		return git_credential_userpass_plaintext_new(out, r->o.https_user ? r->o.https_user : user[0] ? user : "git",
							     r->o.https_token);
	return refuse(r, TM_ERROR, GIT_EAUTH, "%s asks for credentials and there are none: %s", r->url.host,
		      r->url.scheme == TM_VCS_SSH ? "the environment has no deploy key (tarmac secrets init)"
						  : "set dags.gitSync.credentialsSecret and seal the token with 'tarmac "
						    "secrets init --https-token FILE'");
}

static int on_certificate(git_cert *cert, int valid, const char *host, void *payload)
{
	struct tm_vcs_repo *r = payload;
	const git_cert_hostkey *hk = (const git_cert_hostkey *)cert;
	char fp[TM_VCS_FP_LEN];

	if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2)
		return valid ? 0 : GIT_PASSTHROUGH; /* TLS: the library's verification decides */
	if (!(hk->type & GIT_CERT_SSH_RAW))
		return refuse(r, TM_ERROR, GIT_ECERTIFICATE, "%s: its host key could not be read", host);
	tm_vcs_fingerprint(fp, (const unsigned char *)hk->hostkey, hk->hostkey_len);
	switch (tm_vcs_host_check(r->o.known_hosts ? r->o.known_hosts : "", r->o.known_hosts_len, r->url.host,
				  r->url.port, (const unsigned char *)hk->hostkey, hk->hostkey_len)) {
	case TM_HOST_TRUSTED:
		return 0;
	case TM_HOST_REVOKED:
		return refuse(r, TM_ERROR, GIT_ECERTIFICATE, "the host key of %s (%s) is revoked in known_hosts", host, fp);
	case TM_HOST_CHANGED:
		return refuse(r, TM_ERROR, GIT_ECERTIFICATE, "the host key of %s has CHANGED: it presents %s, which "
			      "known_hosts does not hold (someone may be in the middle, or the key was replaced: check "
			      "with the server's owner, then 'tarmac secrets init --known-hosts FILE')", host, fp);
	case TM_HOST_UNKNOWN:
		break;
	}
	return refuse(r, TM_ERROR, GIT_ECERTIFICATE, "the host key of %s:%d is not in known_hosts: it presents %s "
		      "(check it with the server's owner, then 'tarmac secrets init --known-hosts FILE')", host,
		      r->url.port, fp);
}

static int on_progress(const git_indexer_progress *p, void *payload)
{
	struct tm_vcs_repo *r = payload;
	int64_t now = tm_now_ms();

	if (r->o.stop && *r->o.stop)
		return refuse(r, TM_EINTERRUPTED, -1, "interrupted while fetching %s", r->o.url);
	if (now - r->shown_ms < PROGRESS_EVERY_MS)
		return 0;
	r->shown_ms = now;
	if (p->received_objects < p->total_objects)
		tm_reportf(r->o.report, r->o.report_ctx, TM_INFO, "dags", r->o.url, true, "received %u/%u objects (%.1f MiB)",
			   p->received_objects, p->total_objects, (double)p->received_bytes / (1024.0 * 1024.0));
	else if (p->total_deltas)
		tm_reportf(r->o.report, r->o.report_ctx, TM_INFO, "dags", r->o.url, true, "resolving deltas %u/%u",
			   p->indexed_deltas, p->total_deltas);
	return 0;
}

/* The remote's default branch as the cache's HEAD (so "HEAD" resolves as git-sync's). */
static void keep_default_branch(struct tm_vcs_repo *r, git_remote *remote)
{
	git_buf head = GIT_BUF_INIT;
	git_reference *ref = NULL;

	if (git_remote_default_branch(&head, remote) == 0 &&
	    git_reference_symbolic_create(&ref, r->repo, "HEAD", head.ptr, 1, "tarmac: the remote's HEAD") == 0)
		git_reference_free(ref);
	git_buf_dispose(&head);
	git_error_clear();
}

static void fetch_options(git_fetch_options *fo, struct tm_vcs_repo *r)
{
	git_fetch_options_init(fo, GIT_FETCH_OPTIONS_VERSION);
	fo->callbacks.credentials = on_credentials;
	fo->callbacks.certificate_check = on_certificate;
	fo->callbacks.transfer_progress = on_progress;
	fo->callbacks.payload = r;
	fo->prune = GIT_FETCH_PRUNE;
	fo->download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL;
	fo->proxy_opts.type = GIT_PROXY_AUTO; /* https_proxy, no_proxy, as curl reads them */
}

int tm_vcs_fetch(struct tm_vcs_repo *r, struct tm_err *err)
{
	char *specs[] = { "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*" };
	git_strarray refspecs = { specs, 2 };
	git_fetch_options fo;
	git_remote *remote = NULL;
	int64_t start = tm_now_ms();
	int rc;

	r->why[0] = '\0';
	r->auth_tries = 0;
	fetch_options(&fo, r);
	if (git_remote_create_anonymous(&remote, r->repo, r->o.url) < 0)
		return tm_vcs_git_err(err, TM_EINVALID, "repository '%s'", r->o.url);
	rc = git_remote_fetch(remote, &refspecs, &fo, "tarmac: fetch");
	if (rc == 0) {
		const git_indexer_progress *st = git_remote_stats(remote);

		keep_default_branch(r, remote);
		tm_reportf(r->o.report, r->o.report_ctx, TM_INFO, "dags", r->o.url, false,
			   "fetched in %.1f s (%u objects, %.1f MiB)", (double)(tm_now_ms() - start) / 1000.0,
			   st->received_objects, (double)st->received_bytes / (1024.0 * 1024.0));
	} else if (r->why[0]) {
		rc = tm_err_set(err, r->why_code, "fetch %s: %s", r->o.url, r->why);
	} else {
		rc = tm_vcs_git_err(err, TM_ERROR, "fetch %s", r->o.url);
	}
	git_remote_free(remote);
	return rc;
}
