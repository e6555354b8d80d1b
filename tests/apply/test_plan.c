/* Planning a run (plan.c): kinds resolved through discovery before anything is sent,
 * namespaces placed as kubectl places them, kinds a CRD of the run defines deferred,
 * unknown kinds refused with nothing applied, Jobs given their spec hash. */
#include "../testutil.h"
#include "apply/apply_private.h"
#include "../kube/scripted.h"
#include "tarmac/doc.h"
#include "tarmac/labels.h"

/* A 1.20 server serving apps/v1, batch/v1 and apiextensions.k8s.io/v1 (no example.com). */
static const char *const groups =
	"{\"kind\":\"APIGroupList\",\"groups\":["
	"{\"name\":\"apps\",\"versions\":[{\"groupVersion\":\"apps/v1\",\"version\":\"v1\"}]},"
	"{\"name\":\"batch\",\"versions\":[{\"groupVersion\":\"batch/v1\",\"version\":\"v1\"}]},"
	"{\"name\":\"apiextensions.k8s.io\",\"versions\":[{\"groupVersion\":\"apiextensions.k8s.io/v1\",\"version\":\"v1\"}]}]}";
static const char *const batch_v1 =
	"{\"kind\":\"APIResourceList\",\"groupVersion\":\"batch/v1\",\"resources\":["
	"{\"name\":\"jobs\",\"namespaced\":true,\"kind\":\"Job\"}]}";
static const char *const crd_v1 =
	"{\"kind\":\"APIResourceList\",\"groupVersion\":\"apiextensions.k8s.io/v1\",\"resources\":["
	"{\"name\":\"customresourcedefinitions\",\"namespaced\":false,\"kind\":\"CustomResourceDefinition\"}]}";

#define DISCOVERY                                                                                                    \
	{ "GET", "/version", 200, disco_version, 0, 0 }, { "GET", "/api", 200, disco_api, 0, 0 },                      \
		{ "GET", "/apis", 200, groups, 0, 0 }

static json_t *obj(const char *text)
{
	json_error_t je;
	json_t *o = json_loads(text, 0, &je);

	cr_assert_not_null(o, "%s: %s", text, je.text);
	return o;
}

static int plan(struct tm_run *r, struct tm_kube *k, const struct tm_apply_opts *o, const char *objects,
		struct tm_err *err)
{
	json_t *objs = obj(objects);
	int rc;

	memset(r, 0, sizeof(*r));
	r->k = k;
	r->o = o;
	tm_err_init(err);
	rc = tm_apply_plan(r, objs, err);
	json_decref(objs);
	return rc;
}

Test(apply_plan, resolves_every_kind_then_places_namespaces_as_kubectl)
{
	const struct exchange ex[] = {
		DISCOVERY,
		/* each group-version once, in the order the objects first name it */
		{ "GET", "/api/v1", 200, disco_core, 0, 0 },
		{ "GET", "/apis/apps/v1", 200, disco_apps, 0, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	struct tm_apply_opts o = { .namespace = "airflow" };
	struct tm_run r;
	struct tm_err err;

	cr_assert_eq(plan(&r, k, &o,
			  "[{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"airflow\",\"namespace\":\"x\"}},"
			  "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"}},"
			  "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\",\"namespace\":\"other\"}},"
			  "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"e\",\"namespace\":\"\"}}]",
			  &err),
		     0, "%s", tm_err_msg(&err));
	cr_assert_eq(s.next, TM_ARRAY_LEN(ex), "discovery asked once per group-version");
	cr_assert_eq(r.n, 4);
	/* a cluster-scoped object loses the namespace it named */
	cr_assert_null(r.items[0].ns);
	cr_assert_null(tm_doc_get(r.items[0].obj, "metadata", "namespace", NULL));
	cr_assert_str_eq(r.items[0].subject, "Namespace airflow");
	/* a namespaced one without (or with an empty) namespace takes the run's */
	cr_assert_str_eq(r.items[1].ns, "airflow");
	cr_assert_str_eq(json_string_value(tm_doc_get(r.items[1].obj, "metadata", "namespace", NULL)), "airflow");
	cr_assert_str_eq(r.items[1].subject, "ConfigMap airflow/c");
	cr_assert_str_eq(r.items[3].subject, "ConfigMap airflow/e");
	/* one that names its own keeps it */
	cr_assert_str_eq(r.items[2].subject, "Deployment other/d");
	cr_assert_str_eq(r.items[2].rsc.name, "deployments");
	for (size_t i = 0; i < r.n; i++)
		cr_assert(r.items[i].resolved && !r.items[i].deferred, "item %zu", i);
	cr_assert_lt(r.items[0].phase, r.items[2].phase, "the namespace comes in an earlier phase");
	tm_run_release(&r);
	tm_kube_free(k);
}

Test(apply_plan, without_a_namespace_option_the_default_namespace)
{
	const struct exchange ex[] = {
		DISCOVERY,
		{ "GET", "/api/v1", 200, disco_core, 0, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	struct tm_apply_opts o = { 0 };
	struct tm_run r;
	struct tm_err err;

	cr_assert_eq(plan(&r, k, &o, "[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"}}]", &err),
		     0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(r.items[0].ns, "default");
	tm_run_release(&r);
	tm_kube_free(k);
}

Test(apply_plan, a_kind_the_cluster_does_not_serve_stops_the_run_before_anything_is_sent)
{
	const struct exchange ex[] = {
		DISCOVERY,
		{ "GET", "/api/v1", 200, disco_core, 0, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	struct tm_apply_opts o = { .namespace = "ns" };
	struct tm_run r;
	struct tm_err err;

	cr_assert_eq(plan(&r, k, &o,
			  "[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"}},"
			  "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w\"}},"
			  "{\"apiVersion\":\"monitoring.coreos.com/v1\",\"kind\":\"ServiceMonitor\",\"metadata\":{\"name\":\"m\"}}]",
			  &err),
		     TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "the cluster serves no API for example.com/v1 Widget, "
					   "monitoring.coreos.com/v1 ServiceMonitor: install their CRDs first"),
		  "%s", tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), "nothing was applied"), "%s", tm_err_msg(&err));
	cr_assert_eq(s.next, TM_ARRAY_LEN(ex), "nothing asked beyond discovery");
	tm_run_release(&r);
	tm_kube_free(k);
}

/* Plans a Widget of widget_av beside the CRD of widgets.example.com (versions v1beta1, v1). */
static int plan_widget(struct tm_run *r, const char *widget_av, struct tm_err *err)
{
	const struct exchange ex[] = {
		DISCOVERY,
		{ "GET", "/apis/apiextensions.k8s.io/v1", 200, crd_v1, 0, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	struct tm_apply_opts o = { .namespace = "ns" };
	char objects[1024];
	int rc;

	snprintf(objects, sizeof(objects),
		 "[{\"apiVersion\":\"%s\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w\"}},"
		 "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
		 "\"metadata\":{\"name\":\"widgets.example.com\"},\"spec\":{\"group\":\"example.com\","
		 "\"names\":{\"kind\":\"Widget\",\"plural\":\"widgets\"},\"scope\":\"Namespaced\","
		 "\"versions\":[{\"name\":\"v1beta1\"},{\"name\":\"v1\"}]}}]",
		 widget_av);
	rc = plan(r, k, &o, objects, err);
	cr_assert_eq(s.next, TM_ARRAY_LEN(ex), "discovery only");
	tm_kube_free(k);
	return rc;
}

Test(apply_plan, a_kind_whose_crd_comes_in_the_same_run_is_deferred)
{
	struct tm_run r;
	struct tm_err err;

	cr_assert_eq(plan_widget(&r, "example.com/v1", &err), 0, "%s", tm_err_msg(&err));
	cr_assert(r.items[0].deferred && !r.items[0].resolved);
	/* placed when it is resolved, once the CRD is served */
	cr_assert_null(r.items[0].ns);
	cr_assert(r.items[1].resolved);
	cr_assert_lt(r.items[1].phase, r.items[0].phase, "the CRD comes in an earlier phase than its objects");
	tm_run_release(&r);
}

Test(apply_plan, a_crd_of_another_version_does_not_defer_a_kind)
{
	struct tm_run r;
	struct tm_err err;

	cr_assert_eq(plan_widget(&r, "example.com/v2", &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "example.com/v2 Widget"), "%s", tm_err_msg(&err));
	tm_run_release(&r);
}

Test(apply_plan, a_job_carries_the_hash_of_its_spec)
{
	const struct exchange ex[] = {
		DISCOVERY,
		{ "GET", "/apis/batch/v1", 200, batch_v1, 0, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	struct tm_apply_opts o = { .namespace = "ns" };
	struct tm_run r;
	struct tm_err err;
	const char *h1, *h2;

	cr_assert_eq(plan(&r, k, &o,
			  "[{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"a\"},\"spec\":{\"x\":1,\"y\":2}},"
			  "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"b\",\"annotations\":{\"k\":\"v\"}},"
			  "\"spec\":{\"y\":2,\"x\":1}}]",
			  &err),
		     0, "%s", tm_err_msg(&err));
	h1 = json_string_value(tm_doc_get(r.items[0].obj, "metadata", "annotations", TM_SPEC_HASH_ANNOTATION, NULL));
	h2 = json_string_value(tm_doc_get(r.items[1].obj, "metadata", "annotations", TM_SPEC_HASH_ANNOTATION, NULL));
	cr_assert(h1 && strlen(h1) == 64, "%s", h1 ? h1 : "(none)");
	/* the same spec in another key order: the same hash; other annotations stay */
	cr_assert_str_eq(h1, h2);
	cr_assert_str_eq(json_string_value(tm_doc_get(r.items[1].obj, "metadata", "annotations", "k", NULL)), "v");
	tm_run_release(&r);
	tm_kube_free(k);
}

Test(apply_plan, an_object_without_a_name_is_refused_before_discovery)
{
	const struct exchange ex[] = { { "GET", "/never", 200, "{}", 0, 0 } };
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	struct tm_apply_opts o = { .namespace = "ns" };
	struct tm_run r;
	struct tm_err err;

	cr_assert_eq(plan(&r, k, &o,
			  "[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"}},"
			  "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{}}]",
			  &err),
		     TM_EINVALID);
	cr_assert_str_eq(tm_err_msg(&err), "object 2 (ConfigMap): metadata.name is required");
	tm_run_release(&r);
	cr_assert_eq(plan(&r, k, &o, "[{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"}}]", &err), TM_EINVALID);
	cr_assert_str_eq(tm_err_msg(&err), "object 1: apiVersion and kind are required");
	cr_assert_eq(s.next, 0, "no request");
	tm_run_release(&r);
	tm_kube_free(k);
}

Test(apply_plan, missing_namespaces_are_those_the_server_does_not_have)
{
	const struct exchange ex[] = {
		DISCOVERY,
		{ "GET", "/api/v1", 200, disco_core, 0, 0 },
		{ "GET", "/api/v1/namespaces/here", 200, "{\"kind\":\"Namespace\"}", 0, 0 },
		{ "GET", "/api/v1/namespaces/new", 404, "{\"kind\":\"Status\",\"code\":404}", 0, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	struct tm_apply_opts o = { .namespace = "here" };
	struct tm_run r;
	struct tm_err err;
	json_t *missing = NULL;

	cr_assert_eq(plan(&r, k, &o,
			  "[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\"}},"
			  "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"b\",\"namespace\":\"new\"}},"
			  "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\",\"namespace\":\"here\"}},"
			  "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"new\"}}]",
			  &err),
		     0, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_apply_missing_namespaces(&r, &missing, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(s.next, TM_ARRAY_LEN(ex), "each namespace asked once");
	cr_assert(json_is_false(json_object_get(missing, "here")));
	cr_assert(json_is_true(json_object_get(missing, "new")));
	cr_assert_eq(json_object_size(missing), 2);
	json_decref(missing);
	tm_run_release(&r);
	tm_kube_free(k);
}
