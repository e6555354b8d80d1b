/* What a commit holds and what changed (vcs/tree.c), against repositories made by git:
 * the DAG folder's files, bytes, .py files and .airflowignore; the files two commits
 * differ in, as git diff --name-status -M lists them. */
#include <string.h>

#include "gitrepo.h"

static struct tm_vcs_repo *fetched(struct repo *r, char head[TM_VCS_ID_LEN + 1])
{
	struct tm_vcs_opts o;
	struct tm_vcs_repo *v = open_cache(r, &o);
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_vcs_resolve(head, v, "main", &err), 0, "%s", tm_err_msg(&err));
	return v;
}

Test(vcs_tree, counts_the_files_bytes_and_py_files_of_a_folder)
{
	struct repo r;
	struct tm_vcs_tree_stats st;
	struct tm_err err;
	char head[TM_VCS_ID_LEN + 1];
	struct tm_vcs_repo *v;

	make(&r);
	sh(&r, NULL, 0, "mkdir -p dags/sub && printf 12345 > dags/sub/data.csv && touch dags/sub/.airflowignore && "
			"git add . && git commit -q -m three");
	v = fetched(&r, head);
	tm_err_init(&err);
	cr_assert_eq(tm_vcs_tree_stats(&st, v, head, "dags", &err), 0, "%s", tm_err_msg(&err));
	cr_assert(st.found);
	cr_assert_eq(st.files, 4); /* a.py, b.py, sub/data.csv, sub/.airflowignore */
	cr_assert_eq(st.py, 2);
	cr_assert(st.airflowignore);
	cr_assert_eq(st.bytes, strlen("x = 1\n") + strlen("y = 2\n") + 5);
	cr_assert_eq(st.largest_bytes, 6);
	cr_assert_eq(tm_vcs_tree_stats(&st, v, head, "dags/sub", &err), 0);
	cr_assert(st.found && st.py == 0 && st.files == 2 && st.airflowignore);
	cr_assert_str_eq(st.largest, "data.csv");
	cr_assert_eq(tm_vcs_tree_stats(&st, v, head, NULL, &err), 0);
	cr_assert_eq(st.files, 4, "the whole tree");
	tm_vcs_close(v);
	tu_rmdir(r.dir);
}

Test(vcs_tree, a_missing_folder_or_a_file_is_not_found)
{
	struct repo r;
	struct tm_vcs_tree_stats st;
	struct tm_err err;
	char head[TM_VCS_ID_LEN + 1];
	struct tm_vcs_repo *v;

	make(&r);
	v = fetched(&r, head);
	tm_err_init(&err);
	cr_assert_eq(tm_vcs_tree_stats(&st, v, head, "nope", &err), 0);
	cr_assert_not(st.found);
	cr_assert_eq(tm_vcs_tree_stats(&st, v, head, "dags/a.py", &err), 0);
	cr_assert_not(st.found, "a file is not a folder");
	cr_assert_eq(tm_vcs_tree_stats(&st, v, "0123456789012345678901234567890123456789", "dags", &err), TM_ENOTFOUND);
	tm_vcs_close(v);
	tu_rmdir(r.dir);
}

static int by_text(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "S:path S:path ... " sorted, as the awk line below makes git's list. */
static void summarize(char *out, size_t n, const struct tm_vcs_changes *c)
{
	char *lines[16];

	cr_assert_leq(c->n, 16);
	for (size_t i = 0; i < c->n; i++)
		cr_assert_gt(asprintf(&lines[i], "%c:%s", c->v[i].status, c->v[i].path), 0);
	qsort(lines, c->n, sizeof(lines[0]), by_text);
	out[0] = '\0';
	for (size_t i = 0; i < c->n; i++) {
		snprintf(out + strlen(out), n - strlen(out), "%s ", lines[i]);
		free(lines[i]);
	}
}

Test(vcs_tree, lists_what_two_commits_differ_in_as_git_does)
{
	struct repo r;
	struct tm_vcs_changes c;
	struct tm_err err;
	char from[TM_VCS_ID_LEN + 1], head[TM_VCS_ID_LEN + 1], want[1024], got[1024];
	struct tm_vcs_repo *v;

	make(&r);
	sh(&r, NULL, 0, "seq 1 40 | sed 's/^/# line /' > dags/long.py && git add . && git commit -q -m long");
	sh(&r, from, sizeof(from), "git rev-parse HEAD");
	sh(&r, NULL, 0, "echo 'x = 2' > dags/a.py && git rm -q dags/b.py && git mv dags/long.py dags/moved.py && "
			"echo new > dags/c.py && git add . && git commit -q -m four");
	sh(&r, want, sizeof(want), "git diff --name-status -M HEAD~1 HEAD | awk '{print substr($1,1,1) \":\" $NF}' | "
				   "sort | tr '\\n' ' '");
	v = fetched(&r, head);
	tm_err_init(&err);
	cr_assert_eq(tm_vcs_changes(&c, v, from, head, &err), 0, "%s", tm_err_msg(&err));
	summarize(got, sizeof(got), &c);
	cr_assert_str_eq(got, want);
	cr_assert_eq(c.total, 4);
	cr_assert(c.added == 1 && c.modified == 1 && c.deleted == 1 && c.renamed == 1);
	for (size_t i = 0; i < c.n; i++)
		if (c.v[i].status == TM_VCS_RENAMED)
			cr_assert_str_eq(c.v[i].old_path, "dags/long.py");
	tm_vcs_changes_release(&c);
	cr_assert_eq(tm_vcs_changes(&c, v, "0123456789012345678901234567890123456789", head, &err), TM_ENOTFOUND);
	tm_vcs_close(v);
	tu_rmdir(r.dir);
}
