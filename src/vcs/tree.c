/* What a commit holds and what changed between two commits, read from the cache: the
 * DAG folder's files and bytes (checked before anything is deployed) and the files a
 * new commit adds, changes and deletes (what 'diff' shows and a revision says). */
#include <stdlib.h>
#include <string.h>

#include "vcs_private.h"

static int lookup_tree(git_tree **out, struct tm_vcs_repo *r, const char *id, struct tm_err *err)
{
	git_commit *c = NULL;
	git_oid oid;
	int rc;

	if (git_oid_fromstr(&oid, id) < 0 || git_commit_lookup(&c, r->repo, &oid) < 0) {
		git_error_clear();
		return tm_err_set(err, TM_ENOTFOUND, "commit %s is not in the DAG cache %s", id, r->path);
	}
	rc = git_commit_tree(out, c);
	git_commit_free(c);
	return rc < 0 ? tm_vcs_git_err(err, TM_ERROR, "read the tree of commit %s", id) : 0;
}

struct walk {
	struct tm_vcs_tree_stats *st;
	git_odb *odb;
	int rc;
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int count_entry(const char *root, const git_tree_entry *e, void *payload)
{
	struct walk *w = payload;
	const char *name = git_tree_entry_name(e);
	git_object_t type;
	size_t size = 0;

	if (git_tree_entry_type(e) != GIT_OBJECT_BLOB)
		return 0; /* trees are walked into; submodules (commits) hold nothing here */
	if (git_odb_read_header(&size, &type, w->odb, git_tree_entry_id(e)) < 0) {
		w->rc = -1;
		return -1;
	}
	w->st->files++;
	w->st->bytes += size;
	w->st->py += ends_with(name, ".py");
	w->st->airflowignore |= strcmp(name, ".airflowignore") == 0;
	if (size > w->st->largest_bytes) {
		w->st->largest_bytes = size;
		snprintf(w->st->largest, sizeof(w->st->largest), "%s%s", root, name);
	}
	return 0;
}

/* The tree at subpath (the whole tree for "" or NULL); st->found false when there is none. */
static int subtree(git_tree **out, struct tm_vcs_tree_stats *st, struct tm_vcs_repo *r, git_tree *top,
		   const char *subpath, struct tm_err *err)
{
	git_tree_entry *e = NULL;
	int rc;

	if (!subpath || !*subpath) {
		st->found = true;
		return git_tree_dup(out, top) < 0 ? tm_vcs_git_err(err, TM_ERROR, "read a tree") : 0;
	}
	if ((rc = git_tree_entry_bypath(&e, top, subpath)) == GIT_ENOTFOUND) {
		git_error_clear();
		return 0;
	}
	if (rc < 0)
		return tm_vcs_git_err(err, TM_ERROR, "look up '%s'", subpath);
	if (git_tree_entry_type(e) == GIT_OBJECT_TREE) {
		st->found = true;
		rc = git_tree_lookup(out, r->repo, git_tree_entry_id(e));
	}
	git_tree_entry_free(e);
	return rc < 0 ? tm_vcs_git_err(err, TM_ERROR, "read the tree '%s'", subpath) : 0;
}

int tm_vcs_tree_stats(struct tm_vcs_tree_stats *st, struct tm_vcs_repo *r, const char *id, const char *subpath,
		      struct tm_err *err)
{
	git_tree *top = NULL, *tree = NULL;
	struct walk w = { .st = st };
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = lookup_tree(&top, r, id, err)) < 0 || (rc = subtree(&tree, st, r, top, subpath, err)) < 0 || !tree)
		goto out;
	if (git_repository_odb(&w.odb, r->repo) < 0 || git_tree_walk(tree, GIT_TREEWALK_PRE, count_entry, &w) < 0)
		rc = tm_vcs_git_err(err, TM_ERROR, "read the files of commit %s", id);
	git_odb_free(w.odb);
out:
	git_tree_free(tree);
	git_tree_free(top);
	return rc;
}

/* ------------------------------------------------------------------ changes */

static char status_of(git_delta_t s)
{
	switch (s) {
	case GIT_DELTA_ADDED:
	case GIT_DELTA_COPIED:
		return TM_VCS_ADDED;
	case GIT_DELTA_DELETED:
		return TM_VCS_DELETED;
	case GIT_DELTA_RENAMED:
		return TM_VCS_RENAMED;
	default:
		return TM_VCS_MODIFIED;
	}
}

static int add_change(struct tm_vcs_changes *c, const git_diff_delta *d)
{
	struct tm_vcs_change *ch;
	char status = status_of(d->status);

	c->added += status == TM_VCS_ADDED;
	c->deleted += status == TM_VCS_DELETED;
	c->renamed += status == TM_VCS_RENAMED;
	c->modified += status == TM_VCS_MODIFIED;
	if (c->n == TM_VCS_CHANGES_MAX)
		return 0; /* counted, not listed */
	ch = &c->v[c->n];
	ch->status = status;
	ch->path = strdup(status == TM_VCS_DELETED ? d->old_file.path : d->new_file.path);
	ch->old_path = status == TM_VCS_RENAMED ? strdup(d->old_file.path) : NULL;
	if (!ch->path || (status == TM_VCS_RENAMED && !ch->old_path)) {
		free(ch->path);
		free(ch->old_path);
		return -1;
	}
	c->n++;
	return 0;
}

static int collect(struct tm_vcs_changes *c, git_diff *diff, struct tm_err *err)
{
	size_t n = git_diff_num_deltas(diff);

	if (!(c->v = calloc(n < TM_VCS_CHANGES_MAX ? n + 1 : TM_VCS_CHANGES_MAX, sizeof(*c->v))))
		return tm_err_set(err, TM_ERROR, "out of memory");
	for (size_t i = 0; i < n; i++)
		if (add_change(c, git_diff_get_delta(diff, i)) < 0)
			return tm_err_set(err, TM_ERROR, "out of memory");
	c->total = n;
	return 0;
}

int tm_vcs_changes(struct tm_vcs_changes *out, struct tm_vcs_repo *r, const char *from, const char *to,
		   struct tm_err *err)
{
	git_tree *a = NULL, *b = NULL;
	git_diff *diff = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = lookup_tree(&a, r, from, err)) < 0 || (rc = lookup_tree(&b, r, to, err)) < 0)
		goto out;
	if (git_diff_tree_to_tree(&diff, r->repo, a, b, NULL) < 0 || git_diff_find_similar(diff, NULL) < 0)
		rc = tm_vcs_git_err(err, TM_ERROR, "compare commits %.12s and %.12s", from, to);
	else
		rc = collect(out, diff, err);
out:
	git_diff_free(diff);
	git_tree_free(b);
	git_tree_free(a);
	if (rc < 0)
		tm_vcs_changes_release(out);
	return rc;
}

void tm_vcs_changes_release(struct tm_vcs_changes *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].path);
		free(c->v[i].old_path);
	}
	free(c->v);
	memset(c, 0, sizeof(*c));
}
