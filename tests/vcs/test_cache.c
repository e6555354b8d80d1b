/* The cache (vcs/cache.c, fetch.c, resolve.c) against a repository made by git: fetched
 * from a local path, refs resolved as git resolves them, abbreviated and ambiguous names
 * refused, a second fetch bringing only what is new and pruning what went. */
#include <stdio.h>
#include <stdlib.h>

#include "gitrepo.h"

Test(vcs_cache, resolves_branches_tags_head_and_full_ids_as_git_does)
{
	struct repo r;
	struct tm_vcs_opts o;
	struct tm_vcs_repo *v;
	char id[TM_VCS_ID_LEN + 1], want[64], first[64];
	struct tm_err err;

	make(&r);
	v = open_cache(&r, &o);
	sh(&r, want, sizeof(want), "git rev-parse main");
	sh(&r, first, sizeof(first), "git rev-parse v1^{commit}");
	tm_err_init(&err);
	cr_assert_eq(tm_vcs_resolve(id, v, "main", &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(id, want);
	cr_assert_eq(tm_vcs_resolve(id, v, "HEAD", &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(id, want, "HEAD is the remote's default branch");
	cr_assert_eq(tm_vcs_resolve(id, v, "v1", &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(id, first);
	cr_assert_eq(tm_vcs_resolve(id, v, "refs/tags/v1", &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(id, first);
	cr_assert_eq(tm_vcs_resolve(id, v, first, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(id, first);
	/* an abbreviated id is refused, even one that names a single commit today */
	first[7] = '\0';
	cr_assert_eq(tm_vcs_resolve(id, v, first, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "abbreviated commit id"), "%s", tm_err_msg(&err));
	cr_assert_eq(tm_vcs_resolve(id, v, "nope", &err), TM_ENOTFOUND);
	cr_assert(strstr(tm_err_msg(&err), "'nope' is neither a branch nor a tag of"), "%s", tm_err_msg(&err));
	cr_assert_eq(tm_vcs_resolve(id, v, "0123456789012345678901234567890123456789", &err), TM_ENOTFOUND);
	/* <cache>/<name>-<16 hex of the URL's sha256>.git */
	cr_assert(strncmp(tm_vcs_path(v), r.cache, strlen(r.cache)) == 0 &&
			  strncmp(tm_vcs_path(v) + strlen(r.cache), "/src-", 5) == 0 &&
			  strlen(tm_vcs_path(v) + strlen(r.cache)) == strlen("/src-") + 16 + strlen(".git"),
		  "%s", tm_vcs_path(v));
	tm_vcs_close(v);
	tu_rmdir(r.dir);
}

Test(vcs_cache, a_name_that_is_a_branch_and_a_tag_of_different_commits_is_ambiguous)
{
	struct repo r;
	struct tm_vcs_opts o;
	struct tm_vcs_repo *v;
	char id[TM_VCS_ID_LEN + 1];
	struct tm_err err;

	make(&r);
	sh(&r, NULL, 0, "git tag release HEAD~1 && git branch release HEAD");
	v = open_cache(&r, &o);
	tm_err_init(&err);
	cr_assert_eq(tm_vcs_resolve(id, v, "release", &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "both a branch and a tag") && strstr(tm_err_msg(&err), "refs/heads/release"),
		  "%s", tm_err_msg(&err));
	cr_assert_eq(tm_vcs_resolve(id, v, "refs/heads/release", &err), 0, "%s", tm_err_msg(&err));
	tm_vcs_close(v);
	tu_rmdir(r.dir);
}

Test(vcs_cache, a_second_fetch_brings_new_commits_and_prunes_deleted_branches)
{
	struct repo r;
	struct tm_vcs_opts o;
	struct tm_vcs_repo *v;
	char id[TM_VCS_ID_LEN + 1], want[64];
	struct tm_err err;

	make(&r);
	sh(&r, NULL, 0, "git branch hotfix");
	v = open_cache(&r, &o);
	tm_err_init(&err);
	cr_assert_eq(tm_vcs_resolve(id, v, "hotfix", &err), 0, "%s", tm_err_msg(&err));
	sh(&r, want, sizeof(want), "echo 'z = 3' > dags/c.py && git add . && git commit -q -m three && git branch -D -q "
				   "hotfix && git rev-parse HEAD");
	cr_assert_eq(tm_vcs_fetch(v, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_vcs_resolve(id, v, "main", &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(id, want);
	cr_assert_eq(tm_vcs_resolve(id, v, "hotfix", &err), TM_ENOTFOUND, "a branch deleted upstream goes");
	tm_vcs_close(v);
	/* opened again: the same cache, already holding the commits */
	v = open_cache(&r, &o);
	cr_assert_eq(tm_vcs_resolve(id, v, "main", &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(id, want);
	tm_vcs_close(v);
	tu_rmdir(r.dir);
}

Test(vcs_cache, a_repository_that_is_not_there_is_named)
{
	struct tm_vcs_opts o = { 0 };
	struct tm_vcs_repo *v = NULL;
	char *dir = tu_mkdtemp(), missing[600];
	struct tm_err err;

	snprintf(missing, sizeof(missing), "%s/nothing-here", dir);
	o.url = missing;
	o.cache_dir = dir;
	tm_err_init(&err);
	cr_assert_eq(tm_vcs_open(&v, &o, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_lt(tm_vcs_fetch(v, &err), 0);
	cr_assert(strstr(tm_err_msg(&err), "fetch ") && strstr(tm_err_msg(&err), "nothing-here"), "%s", tm_err_msg(&err));
	tm_vcs_close(v);
	tu_rmdir(dir);
}
