/* Before anything is applied: what the KubernetesExecutor's task pod templates name
 * and the stack does not make (a ServiceAccount, ConfigMap, Secret or claim from the
 * values) must exist, or every task using that template fails when it starts. */
#include <string.h>

#include "tarmac/stack.h"
#include "tarmac/doc.h"
#include "tarmac/render.h"

/* Appends "Kind 'ns/name' (template)" for each reference the cluster lacks; *n counts them. */
static int missing_refs(const struct tm_stack_ctx *s, const json_t *refs, const char *ns, struct tm_buf *out, size_t *n,
			struct tm_err *err)
{
	size_t i;
	json_t *r;
	int rc = 0;

	json_array_foreach(refs, i, r) {
		const char *kind = json_string_value(json_object_get(r, "kind"));
		const char *name = json_string_value(json_object_get(r, "name"));
		struct tm_buf path = TM_BUF_INIT("path", 1024);
		struct tm_kube_rsc rsc;
		json_t *live = NULL;
		struct tm_err gerr;

		tm_err_init(&gerr);
		/* the core kinds' group-kind is the kind itself; discovery knows their resources */
		if ((rc = tm_kube_resolve_gk(s->kube, kind, &rsc, &gerr)) == 0 &&
		    (rc = tm_kube_path(&path, &rsc, ns, name, &gerr)) == 0)
			rc = tm_kube_get(s->kube, tm_buf_cstr(&path), &live, &gerr);
		tm_buf_release(&path);
		json_decref(live);
		if (rc == TM_ENOTFOUND) {
			if ((rc = tm_buf_printf(out, err, "%s%s '%s/%s' (%s)", (*n)++ ? "; " : "", kind, ns, name,
						json_string_value(json_object_get(r, "template")))) < 0)
				return rc;
		} else if (rc < 0) {
			*err = gerr;
			return tm_err_wrap(err, "check the %s '%s/%s' a task pod template names", kind, ns, name);
		}
	}
	return 0;
}

int tm_stack_task_refs(const struct tm_stack_ctx *s, const json_t *objects, const char *ns, bool dry_run,
		       struct tm_err *err)
{
	struct tm_buf missing = TM_BUF_INIT("missing", 16384);
	json_t *refs = NULL;
	size_t n = 0;
	int rc;

	if (!s->kube)
		return 0;
	if ((rc = tm_render_task_refs(&refs, objects, err)) < 0 || (rc = missing_refs(s, refs, ns, &missing, &n, err)) < 0)
		goto out;
	if (n && dry_run) {
		tm_reportf(s->report, s->report_ctx, TM_WARN, "check", NULL, false,
			   "task pod templates name what does not exist yet: %s", tm_buf_cstr(&missing));
	} else if (n) {
		rc = tm_err_set(err, TM_ENOTFOUND, "%zu object%s the task pod templates name %s missing: %s; create %s "
				"first or change the values that name %s (a task pod cannot start without %s)", n,
				n == 1 ? "" : "s", n == 1 ? "is" : "are", tm_buf_cstr(&missing), n == 1 ? "it" : "them",
				n == 1 ? "it" : "them", n == 1 ? "it" : "them");
	}
out:
	json_decref(refs);
	tm_buf_release(&missing);
	return rc;
}
