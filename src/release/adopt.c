/* Adopting an object tarmac did not make (--take-ownership): whoever made it hands its
 * fields over to tarmac, so the apply that follows removes what the stack does not set
 * and the object ends as rendered (docs/releases.md, "Adopting objects"). */
#include <stdlib.h>
#include <string.h>

#include "release_private.h"
#include "tarmac/doc.h"

/* The control plane's own fields (a Deployment's revision annotation, Service ports it
 * allocates) are not the maker's: its entries stay, as do entries of a subresource. */
#define CONTROL_PLANE_MANAGER "kube-controller-manager"

/* dst := dst ∪ src, two FieldsV1 trees (copies: src is not shared). */
static int fields_union(json_t *dst, const json_t *src)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)src, k, v) {
		json_t *d = json_object_get(dst, k);
		if (d && json_is_object(d) && json_is_object(v)) {
			if (fields_union(d, v) < 0)
				return -1;
		} else if (!d && json_object_set_new(dst, k, json_deep_copy(v)) < 0) {
			return -1;
		}
	}
	return 0;
}

static bool handed_over(const json_t *entry)
{
	const char *mgr = json_string_value(json_object_get(entry, "manager"));
	const char *sub = json_string_value(json_object_get(entry, "subresource"));

	return mgr && strcmp(mgr, CONTROL_PLANE_MANAGER) != 0 && !(sub && *sub) &&
	       json_is_object(json_object_get(entry, "fieldsV1"));
}

int tm_release_adopted_fields(json_t **out, const json_t *live, struct tm_err *err)
{
	json_t *mf = tm_doc_get(live, "metadata", "managedFields", NULL), *kept = json_array(), *mine = json_object();
	json_t *entry;
	size_t i, others = 0;
	int rc = 0;

	if (!kept || !mine) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	json_array_foreach(mf, i, entry) {
		const char *mgr = json_string_value(json_object_get(entry, "manager"));
		if (!handed_over(entry)) {
			if (json_array_append(kept, entry) < 0)
				rc = tm_err_set(err, TM_ERROR, "out of memory");
		} else if (fields_union(mine, json_object_get(entry, "fieldsV1")) < 0) {
			rc = tm_err_set(err, TM_ERROR, "out of memory");
		} else if (strcmp(mgr, TM_FIELD_MANAGER) != 0) {
			others++;
		}
		if (rc < 0)
			goto out;
	}
	/* status is the controllers' to write: nobody takes it over */
	json_object_del(mine, "f:status");
	*out = NULL;
	if (!others || !json_object_size(mine))
		goto out;
	if (json_array_append_new(kept, json_pack("{s:s, s:s, s:O, s:s, s:O}", "manager", TM_FIELD_MANAGER, "operation",
						  "Apply", "apiVersion", json_object_get(live, "apiVersion"),
						  "fieldsType", "FieldsV1", "fieldsV1", mine)) < 0) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	*out = kept;
	kept = NULL;
out:
	json_decref(kept);
	json_decref(mine);
	return rc;
}

int tm_release_adopt(struct tm_release_run *c, const json_t *live, const char *path, const char *subject, struct tm_err *err)
{
	json_t *fields = NULL, *patch = NULL;
	char *body = NULL;
	int rc;

	if ((rc = tm_release_adopted_fields(&fields, live, err)) < 0 || !fields || c->o->dry_run)
		goto out;
	/* the resourceVersion makes it conditional: a change in between is a conflict */
	patch = json_pack("{s:{s:O, s:O}}", "metadata", "resourceVersion",
			  tm_doc_get(live, "metadata", "resourceVersion", NULL), "managedFields", fields);
	if (!patch || !(body = json_dumps(patch, JSON_COMPACT))) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	if ((rc = tm_kube_request(c->k, "PATCH", path, "application/merge-patch+json", body, NULL, err)) < 0) {
		tm_err_wrap(err, "take over the fields of %s", subject);
		goto out;
	}
	tm_release_report(c->o, TM_INFO, "owner", "%s: its fields are tarmac's now; what the stack does not set goes", subject);
out:
	free(body);
	json_decref(patch);
	json_decref(fields);
	return rc;
}
