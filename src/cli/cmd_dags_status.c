/* tarmac dags status: the DAG repository's head (fetched now), the commit the release
 * runs, the files between them, and the commit of every revision in history. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tarmac/release.h"

/* Every revision's number, status, commit and description; *deployed the one running. */
static json_t *revisions_json(const struct tm_revision *revs, size_t n, const struct tm_revision **deployed)
{
	json_t *a = json_array();

	*deployed = NULL;
	for (size_t i = 0; a && i < n; i++) {
		json_t *r = json_pack("{s:i, s:s, s:s?, s:s}", "revision", revs[i].number, "status",
				      tm_release_status_name(revs[i].status), "dagCommit",
				      revs[i].dag_commit[0] ? revs[i].dag_commit : NULL, "description", revs[i].description);

		if (!r || json_array_append_new(a, r) < 0) {
			json_decref(a);
			return NULL;
		}
		if (revs[i].status == TM_REL_DEPLOYED)
			*deployed = &revs[i];
	}
	return a;
}

/* {repository, ref, head, deployed: {revision, commit}|null, behind: files|null, revisions} */
static json_t *status_json(const struct tm_stack_dags *d, const struct tm_revision *revs, size_t n)
{
	const struct tm_revision *dep;
	json_t *list = revisions_json(revs, n, &dep), *j;
	struct tm_vcs_changes c;
	struct tm_err why;

	if (!list)
		return NULL;
	j = json_pack("{s:s, s:s, s:s, s:o, s:n, s:n}", "repository", d->repo, "ref", d->ref, "head", d->commit,
		      "revisions", list, "deployed", "changedSinceDeployed");
	if (!j || !dep || !dep->dag_commit[0])
		return j;
	json_object_set_new(j, "deployed", json_pack("{s:i, s:s}", "revision", dep->number, "commit", dep->dag_commit));
	tm_err_init(&why);
	if (tm_stack_dags_changes(d, dep->dag_commit, &c, &why) == 0) {
		json_object_set_new(j, "changedSinceDeployed", json_integer((json_int_t)c.total));
		tm_vcs_changes_release(&c);
	}
	return j;
}

static void print_status(FILE *f, const json_t *j)
{
	const json_t *dep = json_object_get(j, "deployed"), *changed = json_object_get(j, "changedSinceDeployed"), *r;
	size_t i;

	fprintf(f, "repository  %s\nhead        %s (%s, fetched now)\n", json_string_value(json_object_get(j, "repository")),
		json_string_value(json_object_get(j, "head")), json_string_value(json_object_get(j, "ref")));
	if (json_is_object(dep))
		fprintf(f, "deployed    %s (revision %lld)%s\n", json_string_value(json_object_get(dep, "commit")),
			(long long)json_integer_value(json_object_get(dep, "revision")),
			strcmp(json_string_value(json_object_get(dep, "commit")),
			       json_string_value(json_object_get(j, "head"))) == 0 ? ", the head" : "");
	else
		fprintf(f, "deployed    none\n");
	if (json_is_integer(changed) && json_integer_value(changed) > 0)
		fprintf(f, "            %lld file%s from the head: 'tarmac diff' lists them, 'tarmac up' deploys "
			"them\n", (long long)json_integer_value(changed), json_integer_value(changed) == 1 ? " differs" :
			"s differ");
	fprintf(f, "\n%-9s %-12s %-12s %s\n", "REVISION", "STATUS", "DAGS", "DESCRIPTION");
	json_array_foreach(json_object_get(j, "revisions"), i, r) {
		const char *c = json_string_value(json_object_get(r, "dagCommit"));

		fprintf(f, "%-9lld %-12s %-12.12s %s\n", (long long)json_integer_value(json_object_get(r, "revision")),
			json_string_value(json_object_get(r, "status")), c ? c : "-",
			json_string_value(json_object_get(r, "description")));
	}
}

int tm_cli_dags_status(struct tm_cli *cli, const struct tm_stack_dags *d)
{
	struct tm_revision *revs = NULL;
	size_t n = 0;
	json_t *j = NULL;
	int rc;

	if ((rc = tm_cli_connect(cli)) < 0 ||
	    (rc = tm_release_list(&revs, &n, cli->kube, tm_cli_release_name(cli), tm_cli_release_ns(cli), &cli->err)) < 0)
		goto out;
	if (!(j = status_json(d, revs, n))) {
		rc = tm_err_set(&cli->err, TM_ERROR, "out of memory");
		goto out;
	}
	if (cli->opts.output == TM_OUTPUT_JSON)
		rc = tm_cli_print_json(cli, j);
	else
		print_status(cli->out, j);
out:
	json_decref(j);
	free(revs);
	return rc;
}
