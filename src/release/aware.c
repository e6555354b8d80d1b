/* What 'tarmac apply' and 'tarmac diff' see of a release in their namespace: the labels
 * 'up' gives its objects (one function, shared with the release pipelines), whether
 * a release is installed, and which objects are its live members. */
#include <string.h>

#include "release_private.h"
#include "tarmac/doc.h"

void tm_release_applyset(struct tm_applyset *out, const char *name, const char *ns)
{
	char parent[254];

	snprintf(parent, sizeof(parent), "tarmac.applyset.%s", name);
	tm_applyset_init(out, parent, ns);
}

int tm_release_decorate(json_t *objects, const char *name, const char *ns, struct tm_err *err)
{
	struct tm_applyset set;

	tm_release_applyset(&set, name, ns);
	return tm_applyset_label(&set, objects, err);
}

int tm_release_installed(int *out, struct tm_kube *k, const char *name, const char *ns, struct tm_err *err)
{
	struct tm_release_opts o = { .name = name, .ns = ns };
	struct tm_release_run c;
	int rc;

	tm_release_run_init(&c, k, &o);
	if ((rc = tm_release_load_revisions(&c, err)) == 0)
		*out = tm_release_exists(&c) ? tm_release_latest(&c)->number : 0;
	tm_release_run_release(&c);
	return rc;
}

int tm_release_members(size_t *out, char *first, size_t n, struct tm_kube *k, const char *name, const char *ns,
		       const json_t *objects, struct tm_err *err)
{
	struct tm_release_opts o = { .name = name, .ns = ns };
	struct tm_kube_batch b = { 0 };
	size_t i, members = 0;
	struct tm_release_run c;
	int rc = 0;

	tm_release_run_init(&c, k, &o);
	if (!json_array_size(objects) || (rc = tm_release_get_all(&b, &c, objects, err)) < 0)
		goto out;
	for (i = 0; i < b.n; i++) {
		const char *part;

		if (b.calls[i].rc == TM_ENOTFOUND)
			continue;
		if ((rc = b.calls[i].rc) < 0) {
			*err = b.calls[i].err;
			goto out;
		}
		part = json_string_value(tm_doc_get(b.calls[i].out, "metadata", "labels", TM_APPLYSET_PART_OF, NULL));
		if (!part || strcmp(part, c.set.id) != 0)
			continue;
		if (!members++)
			tm_release_subject_of(first, n, json_array_get(objects, i));
	}
	*out = members;
out:
	tm_kube_batch_release(&b);
	tm_release_run_release(&c);
	return rc;
}
