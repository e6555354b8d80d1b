/* The stack's DAG repository: where the values say it is, the ref to deploy (the
 * command line's, else rev, else branch, else ref, as git-sync reads them), fetched into
 * the cache with the environment's deploy key and known_hosts (unsealed in memory only)
 * and resolved to the commit every replica will run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stack_private.h"
#include "tarmac/doc.h"
#include "tarmac/vcs.h"

#define ALLOWED_SIGNERS_MAX (1u << 20)

static const char *git_sync(const json_t *values, const char *key)
{
	return json_string_value(tm_doc_get(values, "dags", "gitSync", key, NULL));
}

/* The environment's secrets: the deploy key and known_hosts for an ssh repository, the
 * token for an https one. */
static int env_secrets(struct tm_secret_set **set, const struct tm_stack_dags_opts *o, const char *env, bool ssh,
		       struct tm_err *err)
{
	struct tm_secret_key_source src = tm_stack_key_source(&o->secrets, env);
	struct tm_secret_key *key = NULL;
	char dir[4096];
	int rc;

	if ((rc = tm_stack_secrets_dir(dir, sizeof(dir), o->secrets.dir, env, err)) < 0 ||
	    (rc = tm_secret_key_open(&key, &src, err)) < 0 || (rc = tm_secret_set_open(set, dir, key, err)) < 0) {
		tm_secret_key_free(key);
		if (!ssh)
			return tm_err_wrap(err, "the https token of environment '%s' (dags.gitSync.credentialsSecret is "
					   "set): tarmac reads the DAG repository with it before deploying", env);
		return tm_err_wrap(err, "the deploy key of environment '%s': tarmac reads an ssh DAG repository with it "
				   "before deploying (first use: 'tarmac secrets keygen' and 'tarmac secrets init "
				   "--known-hosts FILE', then add git-ssh-key.pub to the repository's deploy keys)", env);
	}
	tm_secret_key_free(key);
	return 0;
}

static json_int_t cap(const json_t *values, const char *key)
{
	return json_integer_value(tm_doc_get(values, "dags", "gitSync", "verify", key, NULL));
}

/* The commit holds a DAG folder within the caps: checked before anything is applied. */
static int check_folder(struct tm_vcs_repo *repo, const json_t *values, struct tm_stack_dags *d, struct tm_err *err)
{
	const char *sub = git_sync(values, "subPath") ? git_sync(values, "subPath") : "";
	struct tm_vcs_tree_stats st;
	json_int_t files = cap(values, "maxFiles"), bytes = cap(values, "maxBytes");
	int rc;

	if ((rc = tm_vcs_tree_stats(&st, repo, d->commit, sub, err)) < 0)
		return rc;
	if (!st.found)
		return tm_err_set(err, TM_EINVALID, "commit %.12s (%s) has no folder '%s' (dags.gitSync.subPath): Airflow "
				  "would find no DAGs; fix subPath or the ref", d->commit, d->ref, sub);
	if (!st.py && !st.airflowignore)
		return tm_err_set(err, TM_EINVALID, "'%s' in commit %.12s (%s) holds no .py file and no .airflowignore "
				  "(%zu other files): not a DAG folder; fix dags.gitSync.subPath or the ref", *sub ? sub : "/",
				  d->commit, d->ref, st.files);
	if (files > 0 && st.files > (size_t)files)
		return tm_err_set(err, TM_EINVALID, "'%s' in commit %.12s holds %zu files, more than "
				  "dags.gitSync.verify.maxFiles (%lld): was a data set committed by mistake? If the files "
				  "are meant, raise the cap", *sub ? sub : "/", d->commit, st.files, (long long)files);
	if (bytes > 0 && st.bytes > (size_t)bytes)
		return tm_err_set(err, TM_EINVALID, "'%s' in commit %.12s holds %zu bytes, more than "
				  "dags.gitSync.verify.maxBytes (%lld; the largest file is %s%s%s, %zu bytes): was a data set "
				  "committed by mistake? If it is meant, raise the cap", *sub ? sub : "/", d->commit, st.bytes,
				  (long long)bytes, sub, *sub ? "/" : "", st.largest, st.largest_bytes);
	d->files = st.files;
	d->bytes = st.bytes;
	return 0;
}

/* The resolved commit signed by a key the allowed_signers file at path allows (NULL: no
 * check). */
static int verify_signature(struct tm_vcs_repo *repo, const char *path, struct tm_stack_dags *out,
			    struct tm_err *err)
{
	struct tm_buf text = TM_BUF_INIT("allowed_signers", ALLOWED_SIGNERS_MAX);
	int rc;

	if (!path)
		return 0;
	if ((rc = tm_file_read(&text, path, ALLOWED_SIGNERS_MAX, err)) < 0) {
		tm_err_wrap(err, "dags.gitSync.verify.allowedSigners");
		goto out;
	}
	if ((rc = tm_vcs_verify_commit(&out->signer, repo, out->commit, text.data ? text.data : "", text.len, err)) < 0) {
		tm_err_wrap(err, "verify %s %s against '%s'", out->repo, out->ref, path);
		goto out;
	}
	out->verified = true;
out:
	tm_buf_release(&text);
	return rc;
}

static int fetch_and_resolve(const struct tm_stack_ctx *s, const struct tm_stack_dags_opts *o,
			     const struct tm_secret_set *set, bool https, const json_t *values,
			     struct tm_stack_dags *out, struct tm_err *err)
{
	struct tm_vcs_opts vo = { .url = out->repo, .cache_dir = o->cache_dir, .report = s->report,
				  .report_ctx = s->report_ctx, .stop = s->stop };
	const char *signers = json_string_value(tm_doc_get(values, "dags", "gitSync", "verify", "allowedSigners", NULL));
	struct tm_vcs_repo *repo = NULL;
	struct tm_secret_ssh_key key;
	const char *text;
	size_t len;
	int rc;

	memset(&key, 0, sizeof(key));
	if (set && https) {
		if (tm_secret_set_get(set, TM_SECRET_GIT_HTTPS_TOKEN, &vo.https_token, &len) < 0)
			return tm_err_set(err, TM_ENOTFOUND, "dags.gitSync.credentialsSecret is set but the environment has no "
					  "dags-https-token: seal it with 'tarmac secrets init --https-token FILE'");
		vo.https_user = git_sync(values, "httpsUsername");
	} else if (set) {
		if (tm_secret_set_get(set, TM_SECRET_GIT_SSH_KEY, &text, &len) < 0)
			return tm_err_set(err, TM_ENOTFOUND, "the environment has no deploy key (git-ssh-key): run 'tarmac "
					  "secrets init'");
		if ((rc = tm_secret_ssh_key_parse(&key, text, len, err)) < 0)
			return tm_err_wrap(err, "the deploy key git-ssh-key");
		vo.ssh_pk = key.pk;
		vo.ssh_sk = key.sk;
		tm_secret_set_known_hosts(set, &vo.known_hosts, &vo.known_hosts_len);
	}
	if ((rc = tm_vcs_open(&repo, &vo, err)) == 0 && (rc = tm_vcs_fetch(repo, err)) == 0 &&
	    (rc = tm_vcs_resolve(out->commit, repo, out->ref, err)) == 0 &&
	    (rc = check_folder(repo, values, out, err)) == 0 &&
	    (rc = verify_signature(repo, signers, out, err)) == 0)
		snprintf(out->cache, sizeof(out->cache), "%s", tm_vcs_path(repo));
	tm_vcs_close(repo);
	tm_secret_ssh_key_wipe(&key);
	return rc;
}

int tm_stack_dags_resolve(const struct tm_stack_ctx *s, const struct tm_stack_dags_opts *o, const char *env,
			  const json_t *values, struct tm_stack_dags *out, struct tm_err *err)
{
	const char *repo = git_sync(values, "repo"), *ref = o->ref,
		   *signers = json_string_value(tm_doc_get(values, "dags", "gitSync", "verify", "allowedSigners", NULL));
	struct tm_secret_set *set = NULL;
	struct tm_vcs_url url;
	bool https;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!json_is_true(tm_doc_get(values, "dags", "gitSync", "enabled", NULL)) || !repo)
		return ref && *ref ? tm_err_set(err, TM_EINVALID, "--dags-ref %s: the values configure no DAG repository "
						"(dags.gitSync.enabled and dags.gitSync.repo)", ref)
				   : 0;
	out->configured = true;
	if (!ref || !*ref)
		ref = git_sync(values, "rev") ? git_sync(values, "rev")
		      : git_sync(values, "branch") ? git_sync(values, "branch") : git_sync(values, "ref");
	out->cache_dir = o->cache_dir;
	snprintf(out->repo, sizeof(out->repo), "%s", repo);
	snprintf(out->ref, sizeof(out->ref), "%s", ref ? ref : "HEAD");
	if ((rc = tm_vcs_url_parse(&url, repo, err)) < 0)
		return tm_err_wrap(err, "dags.gitSync.repo");
	/* git-sync following the ref would run later commits nobody checked */
	if (signers && json_is_true(tm_doc_get(values, "dags", "gitSync", "follow", NULL)))
		return tm_err_set(err, TM_EINVALID, "dags.gitSync.verify.allowedSigners needs the commit pinned: "
				  "set dags.gitSync.follow to false");
	https = url.scheme == TM_VCS_HTTPS || url.scheme == TM_VCS_HTTP;
	if ((url.scheme == TM_VCS_SSH || (https && git_sync(values, "credentialsSecret"))) &&
	    (rc = env_secrets(&set, o, env, !https, err)) < 0)
		return rc;
	rc = fetch_and_resolve(s, o, set, https, values, out, err);
	tm_secret_set_free(set);
	return rc;
}

int tm_stack_dags_pin(const struct tm_stack_ctx *s, const struct tm_stack_dags_opts *o, const char *env,
		      const struct tm_render_opts *ro, struct tm_render_opts *pinned, struct tm_stack_dags *d,
		      struct tm_err *err)
{
	struct tm_render_opts quiet = *ro;
	struct tm_values v = { 0 };
	int rc;

	*pinned = *ro;
	quiet.report = NULL; /* the render that follows reports what the values say */
	if ((rc = tm_render_values(&v, &quiet, err)) == 0 && (rc = tm_stack_dags_resolve(s, o, env, v.tree, d, err)) == 0)
		d->follow = json_is_true(tm_doc_get(v.tree, "dags", "gitSync", "follow", NULL));
	tm_values_release(&v);
	if (rc < 0 || !d->configured || d->follow)
		return rc;
	if (!(d->sets = calloc(ro->nsets + 1, sizeof(*d->sets))))
		return tm_err_set(err, TM_ERROR, "out of memory");
	if (ro->nsets)
		memcpy(d->sets, ro->sets, ro->nsets * sizeof(*d->sets));
	snprintf(d->pin, sizeof(d->pin), "dags.gitSync.commit=%s", d->commit);
	d->sets[ro->nsets] = (struct tm_set_arg){ .kind = TM_ARG_SET, .arg = d->pin };
	pinned->sets = d->sets;
	pinned->nsets = ro->nsets + 1;
	if (d->verified)
		tm_reportf(s->report, s->report_ctx, TM_INFO, "dags", d->repo, false, "%s is %.12s: pinned, signed by %s (%s)",
			   d->ref, d->commit, d->signer.principal, d->signer.fp);
	else
		tm_reportf(s->report, s->report_ctx, TM_INFO, "dags", d->repo, false, "%s is %.12s: pinned", d->ref,
			   d->commit);
	return 0;
}

void tm_stack_dags_release(struct tm_stack_dags *d)
{
	free(d->sets);
	d->sets = NULL;
}

int tm_stack_dags_changes(const struct tm_stack_dags *d, const char *from, struct tm_vcs_changes *out,
			  struct tm_err *err)
{
	struct tm_vcs_opts vo = { .url = d->repo, .cache_dir = d->cache_dir };
	struct tm_vcs_repo *repo = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = tm_vcs_open(&repo, &vo, err)) == 0)
		rc = tm_vcs_changes(out, repo, from, d->commit, err);
	tm_vcs_close(repo);
	return rc;
}

void tm_stack_dags_note(void *dags, const char *from, const char *to, char *out, size_t n)
{
	const struct tm_stack_dags *d = dags;
	struct tm_vcs_changes c;
	struct tm_err err = { 0 };

	*out = '\0';
	if (!d->configured || strcmp(d->commit, to) != 0 || !from[0] || tm_stack_dags_changes(d, from, &c, &err) < 0)
		return;
	snprintf(out, n, "%zu file%s changed", c.total, c.total == 1 ? "" : "s");
	tm_vcs_changes_release(&c);
}
