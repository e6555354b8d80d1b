/* Test repositories made by git (the real peer) in a temporary directory, and the
 * cache tarmac fetches them into: shared by the vcs tests. */
#ifndef TARMAC_TESTS_VCS_GITREPO_H
#define TARMAC_TESTS_VCS_GITREPO_H

#include <stdio.h>
#include <stdlib.h>

#include "../testutil.h"
#include "tarmac/vcs.h"

struct repo {
	char *dir;
	char src[600], cache[600];
};

/* Runs a shell command in the source repository; its output's first line into out. */
static inline void sh(const struct repo *r, char *out, size_t n, const char *cmd)
{
	char full[2048];
	FILE *p;

	snprintf(full, sizeof(full),
		 "cd '%s' && export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@x GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@x "
		 "GIT_CONFIG_NOSYSTEM=1 HOME='%s' && %s",
		 r->src, r->dir, cmd);
	cr_assert_not_null(p = popen(full, "r"));
	if (out) {
		out[0] = '\0';
		if (fgets(out, (int)n, p))
			out[strcspn(out, "\n")] = '\0';
	}
	cr_assert_eq(pclose(p), 0, "%s", cmd);
}

static inline void make(struct repo *r)
{
	r->dir = tu_mkdtemp();
	snprintf(r->src, sizeof(r->src), "%s/src", r->dir);
	snprintf(r->cache, sizeof(r->cache), "%s/cache", r->dir);
	cr_assert_eq(mkdir(r->src, 0755), 0);
	sh(r, NULL, 0, "git init -q -b main . && mkdir dags && echo 'x = 1' > dags/a.py && git add . && "
		       "git commit -q -m one && git tag v1 && echo 'y = 2' > dags/b.py && git add . && git commit -q -m two");
}

static inline struct tm_vcs_repo *open_cache(const struct repo *r, struct tm_vcs_opts *o)
{
	struct tm_vcs_repo *v = NULL;
	struct tm_err err;

	memset(o, 0, sizeof(*o));
	o->url = r->src;
	o->cache_dir = r->cache;
	tm_err_init(&err);
	cr_assert_eq(tm_vcs_open(&v, o, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_vcs_fetch(v, &err), 0, "%s", tm_err_msg(&err));
	return v;
}

#endif
