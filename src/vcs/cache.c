/* The bare cache of one repository: where it lives (keyed by the URL), the lock file
 * that lets concurrent runs share it, and opening it (created bare when new). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vcs_private.h"

#define LOCK_POLL_MS 200

/* $XDG_CACHE_HOME/tarmac/dags, else ~/.cache/tarmac/dags. */
static int default_root(char *out, size_t n, struct tm_err *err)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

	if (xdg && *xdg == '/')
		snprintf(out, n, "%s/tarmac/dags", xdg);
	else if (home && *home)
		snprintf(out, n, "%s/.cache/tarmac/dags", home);
	else
		return tm_err_set(err, TM_EINVALID, "no cache directory: HOME is not set (give --dags-cache DIR)");
	return 0;
}

/* "<last path element>-<16 hex of sha256(url)>": readable, and one per URL. */
static void cache_name(char *out, size_t n, const char *url)
{
	char hex[65], base[64];
	const char *end = url + strlen(url), *start;
	size_t len;

	while (end > url && (end[-1] == '/' || end[-1] == ':'))
		end--;
	if (end - url > 4 && strncmp(end - 4, ".git", 4) == 0)
		end -= 4;
	for (start = end; start > url && start[-1] != '/' && start[-1] != ':';)
		start--;
	len = (size_t)(end - start) < sizeof(base) - 1 ? (size_t)(end - start) : sizeof(base) - 1;
	for (size_t i = 0; i < len; i++)
		base[i] = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", start[i]) ? start[i] : '_';
	base[len] = '\0';
	tm_sha256_hex(hex, url, strlen(url));
	snprintf(out, n, "%s-%.16s", len ? base : "repo", hex);
}

/* Takes the cache's lock file, waiting (reported once) while another run holds it. */
static int take_lock(struct tm_vcs_repo *r, const char *path, struct tm_err *err)
{
	bool said = false;

	if ((r->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return tm_err_errno(err, errno, "open the DAG cache's lock '%s'", path);
	while (flock(r->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return tm_err_errno(err, errno, "lock the DAG cache '%s'", path);
		if (r->o.stop && *r->o.stop)
			return tm_err_set(err, TM_EINTERRUPTED, "interrupted while waiting for the DAG cache's lock");
		if (!said)
			tm_reportf(r->o.report, r->o.report_ctx, TM_INFO, "dags", r->o.url, true,
				   "waiting for another run that is fetching into %s", r->path);
		said = true;
		usleep(LOCK_POLL_MS * 1000);
	}
	return 0;
}

static int open_repo(struct tm_vcs_repo *r, struct tm_err *err)
{
	struct stat st;
	int rc;

	if (stat(r->path, &st) == 0)
		rc = git_repository_open_bare(&r->repo, r->path);
	else
		rc = git_repository_init(&r->repo, r->path, 1);
	if (rc < 0)
		return tm_vcs_git_err(err, TM_ERROR, "open the DAG cache '%s' (remove it to start it over)", r->path);
	return 0;
}

/* libgit2 reads no user or system git config (a deploy does not depend on whose
 * ~/.gitconfig it runs under: no url.insteadOf, no credential helper) and trusts the
 * system CA bundle for https (the static binary's OpenSSL knows no distribution paths). */
static void configure_libgit2(void)
{
	static const int levels[] = { GIT_CONFIG_LEVEL_SYSTEM, GIT_CONFIG_LEVEL_XDG, GIT_CONFIG_LEVEL_GLOBAL,
				      GIT_CONFIG_LEVEL_PROGRAMDATA };
	const char *ca = tm_system_ca_bundle();

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, levels[i], "");
	if (ca)
		git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, ca, NULL);
	git_error_clear();
}

int tm_vcs_open(struct tm_vcs_repo **out, const struct tm_vcs_opts *o, struct tm_err *err)
{
	struct tm_vcs_repo *r = calloc(1, sizeof(*r));
	char root[3072], name[128], lock[4200];
	int rc;

	if (!r)
		return tm_err_set(err, TM_ERROR, "out of memory");
	r->lock_fd = -1;
	r->o = *o;
	tm_vcs_allocator();
	git_libgit2_init();
	configure_libgit2();
	if ((rc = tm_vcs_url_parse(&r->url, o->url, err)) < 0)
		goto fail;
	if (o->cache_dir && *o->cache_dir)
		snprintf(root, sizeof(root), "%s", o->cache_dir);
	else if ((rc = default_root(root, sizeof(root), err)) < 0)
		goto fail;
	cache_name(name, sizeof(name), o->url);
	snprintf(r->path, sizeof(r->path), "%s/%s.git", root, name);
	snprintf(lock, sizeof(lock), "%s/%s.lock", root, name);
	if ((rc = tm_file_mkdirs(root, 0700, err)) < 0 || (rc = take_lock(r, lock, err)) < 0 ||
	    (rc = open_repo(r, err)) < 0)
		goto fail;
	*out = r;
	return 0;
fail:
	tm_vcs_close(r);
	return rc;
}

const char *tm_vcs_path(const struct tm_vcs_repo *r)
{
	return r->path;
}

void tm_vcs_close(struct tm_vcs_repo *r)
{
	if (!r)
		return;
	git_repository_free(r->repo);
	if (r->lock_fd >= 0)
		close(r->lock_fd); /* releases the lock */
	git_libgit2_shutdown();
	free(r);
}

int tm_vcs_git_err(struct tm_err *err, int code, const char *fmt, ...)
{
	const git_error *e = git_error_last();
	char what[TM_ERR_TEXT];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return tm_err_set(err, code, "%s: %s", what, e && e->message ? e->message : "libgit2 gave no reason");
}
