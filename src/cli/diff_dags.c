/* tarmac diff's DAG part: from the commit the release runs to the one 'up' would pin,
 * and the files that differ (added, modified, deleted, renamed), next to the objects. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tarmac/release.h"

static const char *status_name(char s)
{
	switch (s) {
	case TM_VCS_ADDED:
		return "added";
	case TM_VCS_DELETED:
		return "deleted";
	case TM_VCS_RENAMED:
		return "renamed";
	default:
		return "modified";
	}
}

/* The DAG commit of the deployed revision: "" when none runs (no release, no DAGs). */
static int deployed_commit(char *out, size_t n, struct tm_cli *cli, struct tm_err *err)
{
	struct tm_revision *revs = NULL;
	size_t count = 0;
	int rc;

	*out = '\0';
	if ((rc = tm_release_list(&revs, &count, cli->kube, tm_cli_release_name(cli), tm_cli_release_ns(cli), err)) < 0)
		return rc;
	for (size_t i = 0; i < count; i++)
		if (revs[i].status == TM_REL_DEPLOYED)
			snprintf(out, n, "%s", revs[i].dag_commit);
	free(revs);
	return 0;
}

static json_t *files_json(const struct tm_vcs_changes *c)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < c->n; i++) {
		json_t *f = json_pack("{s:s, s:s}", "status", status_name(c->v[i].status), "path", c->v[i].path);

		if (f && c->v[i].old_path)
			json_object_set_new(f, "from", json_string(c->v[i].old_path));
		if (!f || json_array_append_new(a, f) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* {from, to, ref, changed, files: [...], added, modified, deleted, renamed} (files
 * absent when from is not in the cache any more: "unknown"). */
static json_t *change_json(const struct tm_stack_dags *d, const char *from)
{
	struct tm_vcs_changes c;
	json_t *j = json_pack("{s:s?, s:s, s:s, s:b}", "from", *from ? from : NULL, "to", d->commit, "ref", d->ref,
			      "changed", strcmp(from, d->commit) != 0);
	struct tm_err why;

	if (!j || !*from || strcmp(from, d->commit) == 0)
		return j;
	tm_err_init(&why);
	if (tm_stack_dags_changes(d, from, &c, &why) < 0) {
		json_object_set_new(j, "unknown", json_string(tm_err_msg(&why)));
		return j;
	}
	json_object_set_new(j, "files", files_json(&c));
	json_object_set_new(j, "total", json_integer((json_int_t)c.total));
	json_object_set_new(j, "added", json_integer((json_int_t)c.added));
	json_object_set_new(j, "modified", json_integer((json_int_t)c.modified));
	json_object_set_new(j, "deleted", json_integer((json_int_t)c.deleted));
	json_object_set_new(j, "renamed", json_integer((json_int_t)c.renamed));
	tm_vcs_changes_release(&c);
	return j;
}

int tm_cli_diff_dags(json_t **out, struct tm_cli *cli, const struct tm_stack_dags *d, struct tm_err *err)
{
	char from[64];
	int rc;

	*out = NULL;
	if (!d->configured)
		return 0;
	if ((rc = deployed_commit(from, sizeof(from), cli, err)) < 0)
		return rc;
	if (!(*out = change_json(d, from)))
		return tm_err_set(err, TM_ERROR, "out of memory");
	return 0;
}

static void print_files(FILE *f, const json_t *files)
{
	static const char *marks = "+~->";
	static const char *const names[] = { "added", "modified", "deleted", "renamed" };
	size_t i;
	json_t *x;

	json_array_foreach(files, i, x) {
		const char *st = json_string_value(json_object_get(x, "status")), *from;
		char mark = '~';

		for (size_t k = 0; k < 4; k++)
			if (strcmp(st, names[k]) == 0)
				mark = marks[k];
		from = json_string_value(json_object_get(x, "from"));
		fprintf(f, "  %c %s%s%s\n", mark, from ? from : "", from ? " -> " : "",
			json_string_value(json_object_get(x, "path")));
	}
}

void tm_cli_print_dags_change(FILE *f, const json_t *j)
{
	const char *from = json_string_value(json_object_get(j, "from")), *to = json_string_value(json_object_get(j, "to"));
	const char *ref = json_string_value(json_object_get(j, "ref"));
	json_int_t total = json_integer_value(json_object_get(j, "total"));

	if (!from)
		fprintf(f, "DAGs: none deployed -> %.12s (%s)\n", to, ref);
	else if (!json_is_true(json_object_get(j, "changed")))
		fprintf(f, "DAGs: %.12s (%s), unchanged\n", to, ref);
	else if (json_object_get(j, "unknown"))
		fprintf(f, "DAGs: %.12s..%.12s (%s), files unknown: %s\n", from, to, ref,
			json_string_value(json_object_get(j, "unknown")));
	else
		fprintf(f, "DAGs: %.12s..%.12s (%s), %lld file%s changed (%lld added, %lld modified, %lld deleted, %lld "
			"renamed)\n", from, to, ref, (long long)total, total == 1 ? "" : "s",
			(long long)json_integer_value(json_object_get(j, "added")),
			(long long)json_integer_value(json_object_get(j, "modified")),
			(long long)json_integer_value(json_object_get(j, "deleted")),
			(long long)json_integer_value(json_object_get(j, "renamed")));
	print_files(f, json_object_get(j, "files"));
	if ((size_t)total > json_array_size(json_object_get(j, "files")))
		fprintf(f, "  ... and %lld more\n", (long long)(total - (json_int_t)json_array_size(json_object_get(j, "files"))));
}
