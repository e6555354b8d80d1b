/* A commit's SSH signature (its gpgsig header) judged against allowed_signers at the
 * commit's committer time, as git verify-commit judges it with gpg.format=ssh. */
#include <stdio.h>

#include "vcs_private.h"

int tm_vcs_verify_commit(struct tm_vcs_signer *who, struct tm_vcs_repo *r, const char *id, const char *allowed,
			 size_t len, struct tm_err *err)
{
	git_buf sig = GIT_BUF_INIT, data = GIT_BUF_INIT;
	git_commit *commit = NULL;
	git_oid oid;
	int rc, grc;

	if (git_oid_fromstr(&oid, id) < 0)
		return tm_vcs_git_err(err, TM_EINVALID, "commit '%s'", id);
	if ((grc = git_commit_lookup(&commit, r->repo, &oid)) < 0) {
		rc = tm_vcs_git_err(err, grc == GIT_ENOTFOUND ? TM_ENOTFOUND : TM_ERROR, "commit %s", id);
		goto out;
	}
	if ((grc = git_commit_extract_signature(&sig, &data, r->repo, &oid, "gpgsig")) < 0) {
		rc = grc == GIT_ENOTFOUND ? tm_err_set(err, TM_EINVALID, "commit %s is not signed (allowed_signers requires "
						     "an SSH signature: git commit -S with gpg.format=ssh)", id)
					  : tm_vcs_git_err(err, TM_ERROR, "commit %s: its signature", id);
		goto out;
	}
	/* git passes the committer time as -Overify-time */
	rc = tm_vcs_sshsig_check(who, sig.ptr, sig.size, data.ptr, data.size, "git", allowed, len,
				 (int64_t)git_commit_committer(commit)->when.time, err);
	if (rc < 0)
		tm_err_wrap(err, "commit %s", id);
out:
	git_buf_dispose(&sig);
	git_buf_dispose(&data);
	git_commit_free(commit);
	return rc;
}
