/* Taking probes and hooks away (handlers.c): the removal patch names exactly what the
 * live containers have and the wanted ones lack; keep and strip undo each other. */
#include "../testutil.h"
#include "apply/handlers.h"
#include "../kube/scripted.h"
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

/* ------------------------------------------------------------------ through tm_apply and tm_apply_diff */

#define DEP "/apis/apps/v1/namespaces/ns/deployments/d"
#define REFUSAL                                                                                                     \
	"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":\"Deployment.apps \\\"d\\\" is " \
	"invalid: spec.template.spec.containers[0].readinessProbe: Required value: must specify a handler type\","     \
	"\"reason\":\"Invalid\",\"code\":422}"
#define LIVE                                                                                                        \
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\",\"namespace\":\"ns\"},"      \
	"\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"old\",\"readinessProbe\":"      \
	"{\"exec\":{\"command\":[\"check\"]},\"periodSeconds\":60}}]}}}}"
/* what the server answers a dry run that kept the probe: the new image, the old probe */
#define KEPT                                                                                                        \
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\",\"namespace\":\"ns\"},"      \
	"\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"new\",\"readinessProbe\":"      \
	"{\"exec\":{\"command\":[\"check\"]},\"periodSeconds\":60}}]}}}}"

static json_t *wanted(void)
{
	json_t *o = deployment("[{\"name\":\"a\",\"image\":\"new\"}]");

	json_object_set_new(json_object_get(o, "metadata"), "namespace", json_string("ns"));
	return o;
}

Test(apply_handlers, a_refused_apply_removes_the_probe_then_applies_again)
{
	const struct exchange ex[] = {
		DISCOVERY_OF_APPS,
		{ "PATCH", DEP "?fieldManager=tarmac", 422, REFUSAL, 0, 0 },
		{ "GET", DEP, 200, LIVE, 0, 0 },
		{ "PATCH", DEP "?fieldManager=tarmac", 200, LIVE, 0, 0 },
		{ "PATCH", DEP "?fieldManager=tarmac", 200, KEPT, 0, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	struct tm_apply_opts o = { .namespace = "ns" };
	struct tm_apply_result res;
	json_t *objs = json_pack("[o]", wanted());
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_apply(&res, k, objs, &o, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(s.next, TM_ARRAY_LEN(ex), "every exchange made, in order");
	cr_assert_eq(res.applied, 1);
	/* the removal: a strategic merge patch naming the container and nulling its probe */
	cr_assert_str_eq(s.bodies[6], "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\","
				      "\"readinessProbe\":null}]}}}}");
	/* then the object as wanted, without the probe */
	cr_assert(strstr(s.bodies[7], "\"image\":\"new\"") && !strstr(s.bodies[7], "readinessProbe"), "%s", s.bodies[7]);
	json_decref(objs);
	tm_kube_free(k);
}

Test(apply_handlers, diff_shows_the_probe_gone_without_changing_anything)
{
	const struct exchange ex[] = {
		DISCOVERY_OF_APPS,
		{ "GET", "/api/v1/namespaces/ns", 200, "{\"kind\":\"Namespace\"}", 0, 0 },
		{ "GET", DEP, 200, LIVE, 0, 0 },
		{ "PATCH", DEP "?fieldManager=tarmac&dryRun=All", 422, REFUSAL, 0, 0 },
		/* no second GET: the diff already holds the live object */
		{ "PATCH", DEP "?fieldManager=tarmac&dryRun=All", 200, KEPT, 0, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	struct tm_apply_opts o = { .namespace = "ns" };
	struct tm_diff_summary sum;
	struct tm_buf out = TM_BUF_INIT("diff", 1 << 20);
	json_t *objs = json_pack("[o]", wanted());
	struct tm_err err;
	const char *line;

	tm_err_init(&err);
	cr_assert_eq(tm_apply_diff(&sum, &out, k, objs, &o, false, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(s.next, TM_ARRAY_LEN(ex), "no patch that would change the object was sent");
	cr_assert_eq(sum.change, 1);
	/* the dry run kept the live probe (so the server took it), the diff takes it out */
	cr_assert(strstr(s.bodies[7], "readinessProbe"), "%s", s.bodies[7]);
	cr_assert(strstr(tm_buf_cstr(&out), "image: \"new\"") || strstr(tm_buf_cstr(&out), "image: new"), "%s",
		  tm_buf_cstr(&out));
	for (line = tm_buf_cstr(&out); (line = strstr(line, "readinessProbe")); line++) {
		const char *bol = line;

		while (bol > tm_buf_cstr(&out) && bol[-1] != '\n')
			bol--;
		cr_assert_eq(*bol, '-', "the probe only as a removed line:\n%s", tm_buf_cstr(&out));
	}
	cr_assert(strstr(tm_buf_cstr(&out), "readinessProbe"), "%s", tm_buf_cstr(&out));
	tm_buf_release(&out);
	json_decref(objs);
	tm_kube_free(k);
}
