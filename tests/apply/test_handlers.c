/* Taking probes and hooks away (handlers.c): the removal patch names exactly what the
 * live containers have and the wanted ones lack; keep and strip undo each other. */
#include "../testutil.h"
#include "apply/handlers.h"
#include "tarmac/doc.h"

static json_t *deployment(const char *containers)
{
	json_error_t je;
	json_t *list = json_loads(containers, 0, &je), *o;

	cr_assert_not_null(list, "%s", je.text);
	o = json_pack("{s:s, s:s, s:{s:s}, s:{s:{s:{s:o}}}}", "apiVersion", "apps/v1", "kind", "Deployment", "metadata",
		      "name", "d", "spec", "template", "spec", "containers", list);
	cr_assert_not_null(o);
	return o;
}

static const char *const TEMPLATE[] = { "spec", "template", NULL };

static char *dump(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
}

Test(apply_handlers, removal_names_what_live_has_and_want_lacks)
{
	json_t *live = deployment("[{\"name\":\"a\",\"readinessProbe\":{\"exec\":{\"command\":[\"x\"]}},"
				  "\"livenessProbe\":{\"exec\":{\"command\":[\"x\"]}},"
				  "\"lifecycle\":{\"preStop\":{\"exec\":{\"command\":[\"s\"]}}}},"
				  "{\"name\":\"gone\",\"startupProbe\":{\"exec\":{\"command\":[\"x\"]}}}]");
	json_t *want = deployment("[{\"name\":\"a\",\"livenessProbe\":{\"httpGet\":{\"port\":1}}}]");
	struct tm_buf what = TM_BUF_INIT("what", 4096);
	struct tm_err err;
	json_t *patch = NULL;
	char *s;

	tm_err_init(&err);
	cr_assert_eq(tm_handlers_removal(live, want, TEMPLATE, &patch, &what, &err), 1, "%s", tm_err_msg(&err));
	s = dump(patch);
	/* the container that goes away is not patched; the liveness probe is changed, not removed */
	cr_assert_str_eq(s, "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"lifecycle\":{\"preStop\":null},"
			    "\"name\":\"a\",\"readinessProbe\":null}]}}}}");
	cr_assert_str_eq(tm_buf_cstr(&what), "readinessProbe of container a, lifecycle.preStop of container a");
	free(s);
	json_decref(patch);
	tm_buf_release(&what);
	json_decref(live);
	json_decref(want);
}

Test(apply_handlers, nothing_to_remove_is_no_patch)
{
	json_t *live = deployment("[{\"name\":\"a\",\"readinessProbe\":{\"exec\":{\"command\":[\"x\"]}}}]");
	struct tm_buf what = TM_BUF_INIT("what", 4096);
	struct tm_err err;
	json_t *patch = (json_t *)1;

	tm_err_init(&err);
	cr_assert_eq(tm_handlers_removal(live, live, TEMPLATE, &patch, &what, &err), 0);
	cr_assert_null(patch);
	cr_assert_eq(what.len, 0);
	/* a kind without a pod template has nothing to remove */
	cr_assert_eq(tm_handlers_removal(live, live, NULL, &patch, &what, &err), 0);
	json_decref(live);
}

Test(apply_handlers, keep_puts_live_back_and_strip_takes_it_out)
{
	json_t *live = deployment("[{\"name\":\"a\",\"image\":\"old\",\"readinessProbe\":{\"exec\":{\"command\":[\"x\"]}},"
				  "\"lifecycle\":{\"preStop\":{\"exec\":{\"command\":[\"s\"]}}}}]");
	json_t *want = deployment("[{\"name\":\"a\",\"image\":\"new\"}]");
	json_t *kept = json_deep_copy(want), *patch = NULL;
	struct tm_buf what = TM_BUF_INIT("what", 4096);
	struct tm_err err;
	char *s;

	tm_err_init(&err);
	cr_assert_eq(tm_handlers_removal(live, want, TEMPLATE, &patch, &what, &err), 1);
	cr_assert_eq(tm_handlers_keep(kept, patch, live), 0);
	s = dump(kept);
	cr_assert_str_eq(s, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"},\"spec\":"
			    "{\"template\":{\"spec\":{\"containers\":[{\"image\":\"new\",\"lifecycle\":{\"preStop\":"
			    "{\"exec\":{\"command\":[\"s\"]}}},\"name\":\"a\",\"readinessProbe\":{\"exec\":{\"command\":"
			    "[\"x\"]}}}]}}}}");
	free(s);
	tm_handlers_strip(kept, patch);
	s = dump(json_array_get(tm_doc_get(kept, "spec", "template", "spec", "containers", NULL), 0));
	cr_assert_str_eq(s, "{\"image\":\"new\",\"name\":\"a\"}");
	free(s);
	json_decref(patch);
	json_decref(kept);
	json_decref(live);
	json_decref(want);
	tm_buf_release(&what);
}

Test(apply_handlers, only_the_emptied_probe_refusal_counts)
{
	struct tm_err err;

	tm_err_init(&err);
	tm_err_set(&err, TM_EINVALID, "PATCH /x: 422: Deployment.apps \"d\" is invalid: spec.template.spec.containers[0]."
		   "readinessProbe: Required value: must specify a handler type");
	tm_err_wrap(&err, "apply Deployment ns/d");
	cr_assert(tm_handlers_refused(&err));
	tm_err_set(&err, TM_EINVALID, "PATCH /x: 422: spec.replicas: Invalid value: -1");
	cr_assert_not(tm_handlers_refused(&err));
	tm_err_set(&err, TM_ECONFLICT, "must specify a handler type");
	cr_assert_not(tm_handlers_refused(&err));
}
