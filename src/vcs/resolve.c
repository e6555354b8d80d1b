/* A ref resolved to the commit it names, from the cache: branches and tags by name,
 * full ref names, full commit ids; never an abbreviated id (another commit may come to
 * share it) nor a name that is a branch and a tag of different commits. */
#include <ctype.h>
#include <string.h>

#include "vcs_private.h"

static bool all_hex(const char *s)
{
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s))
			return false;
	return true;
}

/* The commit the reference name peels to: 0, TM_ENOTFOUND, or a libgit2 error. */
static int peel(git_oid *out, git_repository *repo, const char *name)
{
	git_reference *ref = NULL;
	git_object *obj = NULL;
	int rc;

	if ((rc = git_reference_lookup(&ref, repo, name)) == GIT_ENOTFOUND) {
		git_error_clear();
		return TM_ENOTFOUND;
	}
	if (rc == 0 && (rc = git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT)) == 0)
		git_oid_cpy(out, git_object_id(obj));
	git_object_free(obj);
	git_reference_free(ref);
	return rc < 0 ? TM_ERROR : 0;
}

static int by_id(git_oid *out, struct tm_vcs_repo *r, const char *ref, struct tm_err *err)
{
	git_commit *c = NULL;

	if (git_oid_fromstr(out, ref) < 0 || git_commit_lookup(&c, r->repo, out) < 0) {
		git_error_clear();
		return tm_err_set(err, TM_ENOTFOUND, "commit %s is not on any branch or tag of %s", ref, r->o.url);
	}
	git_commit_free(c);
	return 0;
}

static int by_full_name(git_oid *out, struct tm_vcs_repo *r, const char *ref, struct tm_err *err)
{
	int rc = peel(out, r->repo, ref);

	if (rc == TM_ENOTFOUND)
		return tm_err_set(err, TM_ENOTFOUND, "%s is not a ref of %s", ref, r->o.url);
	if (rc < 0)
		return tm_vcs_git_err(err, TM_ERROR, "resolve '%s' in %s", ref, r->path);
	return 0;
}

/* A short name: the branch or the tag, refusing one that is both (of different commits). */
static int by_name(git_oid *out, struct tm_vcs_repo *r, const char *ref, struct tm_err *err)
{
	char name[512];
	git_oid branch, tag;
	int brc, trc;

	snprintf(name, sizeof(name), "refs/heads/%s", ref);
	brc = peel(&branch, r->repo, name);
	snprintf(name, sizeof(name), "refs/tags/%s", ref);
	trc = peel(&tag, r->repo, name);
	if (brc == TM_ERROR || trc == TM_ERROR)
		return tm_vcs_git_err(err, TM_ERROR, "resolve '%s' in %s", ref, r->path);
	if (brc == 0 && trc == 0 && !git_oid_equal(&branch, &tag))
		return tm_err_set(err, TM_EINVALID, "'%s' is both a branch and a tag of %s, of different commits: give "
				  "refs/heads/%s or refs/tags/%s", ref, r->o.url, ref, ref);
	if (brc == 0 || trc == 0) {
		git_oid_cpy(out, brc == 0 ? &branch : &tag);
		return 0;
	}
	if (strlen(ref) >= 4 && all_hex(ref))
		return tm_err_set(err, TM_EINVALID, "'%s' looks like an abbreviated commit id: give all %d characters (a "
				  "short id can come to name another commit)", ref, TM_VCS_ID_LEN);
	return tm_err_set(err, TM_ENOTFOUND, "'%s' is neither a branch nor a tag of %s", ref, r->o.url);
}

int tm_vcs_resolve(char id[TM_VCS_ID_LEN + 1], struct tm_vcs_repo *r, const char *ref, struct tm_err *err)
{
	git_oid oid;
	int rc;

	if (!ref || !*ref)
		return tm_err_set(err, TM_EINVALID, "no ref to resolve: set dags.gitSync.ref (a branch, tag or commit id)");
	if (strlen(ref) == TM_VCS_ID_LEN && all_hex(ref))
		rc = by_id(&oid, r, ref, err);
	else if (strncmp(ref, "refs/", 5) == 0 || strcmp(ref, "HEAD") == 0)
		rc = by_full_name(&oid, r, ref, err);
	else
		rc = by_name(&oid, r, ref, err);
	if (rc == 0)
		git_oid_tostr(id, TM_VCS_ID_LEN + 1, &oid);
	return rc;
}
