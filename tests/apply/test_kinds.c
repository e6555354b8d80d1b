/* The kind table: phases in apply order, the rules each kind gets, the phase
 * annotation. */
#include "../testutil.h"
#include "apply/apply_private.h"
#include "tarmac/doc.h"

Test(apply_kinds, phase_names_are_complete_and_found_back)
{
	for (int p = 0; p < TM_PHASE_COUNT; p++) {
		const char *n = tm_phase_name((enum tm_phase)p);

		cr_assert_not_null(n, "phase %d has no name", p);
		cr_assert_eq(tm_phase_find(n), p);
	}
	cr_assert_null(tm_phase_name(TM_PHASE_COUNT));
	cr_assert_eq(tm_phase_find("nope"), -1);
	cr_assert_eq(tm_phase_find(NULL), -1);
}

static json_t *obj(const char *api, const char *kind, const char *phase)
{
	json_t *o = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", api, "kind", kind, "metadata", "name", "x");

	if (phase)
		json_object_set_new(json_object_get(o, "metadata"), "annotations",
				    json_pack("{s:s}", TM_PHASE_ANNOTATION, phase));
	return o;
}

Test(apply_kinds, kinds_go_to_their_phase_in_dependency_order)
{
	struct {
		const char *api, *kind;
		enum tm_phase want;
	} cases[] = {
		{ "v1", "Namespace", TM_PHASE_CLUSTER },
		{ "apiextensions.k8s.io/v1", "CustomResourceDefinition", TM_PHASE_CRDS },
		{ "v1", "ServiceAccount", TM_PHASE_RBAC },
		{ "rbac.authorization.k8s.io/v1", "RoleBinding", TM_PHASE_RBAC },
		{ "v1", "Secret", TM_PHASE_CONFIG },
		{ "v1", "ConfigMap", TM_PHASE_CONFIG },
		{ "v1", "PersistentVolumeClaim", TM_PHASE_STORAGE },
		{ "v1", "Service", TM_PHASE_SERVICES },
		{ "batch/v1", "Job", TM_PHASE_MIGRATE },
		{ "apps/v1", "Deployment", TM_PHASE_WORKLOADS },
		{ "apps/v1", "StatefulSet", TM_PHASE_WORKLOADS },
		{ "autoscaling/v2beta2", "HorizontalPodAutoscaler", TM_PHASE_POLICY },
		{ "policy/v1beta1", "PodDisruptionBudget", TM_PHASE_POLICY },
		{ "networking.k8s.io/v1", "NetworkPolicy", TM_PHASE_POLICY },
		{ "monitoring.coreos.com/v1", "ServiceMonitor", TM_PHASE_POLICY },
		/* the group matters: a CRD's "Deployment" is not apps' */
		{ "example.com/v1", "Deployment", TM_PHASE_POLICY },
	};

	for (size_t i = 0; i < TM_ARRAY_LEN(cases); i++) {
		json_t *o = obj(cases[i].api, cases[i].kind, NULL);

		cr_assert_eq(tm_apply_phase_of(o), cases[i].want, "%s %s", cases[i].api, cases[i].kind);
		json_decref(o);
	}
	cr_assert(TM_PHASE_DATABASE < TM_PHASE_MIDDLEWARE && TM_PHASE_MIDDLEWARE < TM_PHASE_MIGRATE &&
		  TM_PHASE_MIGRATE < TM_PHASE_WORKLOADS, "the database, then PgBouncer/Redis, then migrations, then Airflow");
}

Test(apply_kinds, the_phase_annotation_moves_a_workload)
{
	json_t *db = obj("apps/v1", "StatefulSet", "database");
	json_t *bad = obj("apps/v1", "Deployment", "no-such-phase");

	cr_assert_eq(tm_apply_phase_of(db), TM_PHASE_DATABASE);
	cr_assert_eq(tm_apply_phase_of(bad), TM_PHASE_WORKLOADS, "an unknown phase name falls back to the kind's");
	json_decref(db);
	json_decref(bad);
}

Test(apply_kinds, rules_carry_readiness_and_replacement)
{
	const struct tm_kind_rule *job = tm_kind_rule("batch/v1", "Job");
	const struct tm_kind_rule *dep = tm_kind_rule("apps/v1", "Deployment");
	const struct tm_kind_rule *cm = tm_kind_rule("v1", "ConfigMap");

	cr_assert(job->replace, "Jobs are immutable: replaced, never patched");
	cr_assert_eq(job->ready, tm_ready_job);
	cr_assert(job->pods);
	cr_assert_eq(dep->ready, tm_ready_deployment);
	cr_assert(!dep->replace);
	cr_assert_null(cm->ready, "a ConfigMap is ready once applied");
	cr_assert_eq(tm_kind_rule("apiextensions.k8s.io/v1", "CustomResourceDefinition")->ready, tm_ready_crd);
	cr_assert_eq(tm_kind_rule("v1", "PersistentVolumeClaim")->ready, tm_ready_pvc);
	cr_assert_eq(tm_kind_rule(NULL, NULL)->phase, TM_PHASE_POLICY);
}

static json_t *parsed(const char *json)
{
	json_t *o = json_loads(json, 0, NULL);

	cr_assert_not_null(o, "bad fixture %s", json);
	return o;
}

/* Scope, pods and the pod template come from the same rows, by group and kind. */
Test(apply_kinds, scope_pods_and_pod_template_are_group_aware)
{
	json_t *ns = parsed("{\"apiVersion\": \"v1\", \"kind\": \"Namespace\"}");
	json_t *crb = parsed("{\"apiVersion\": \"rbac.authorization.k8s.io/v1\", \"kind\": \"ClusterRoleBinding\"}");
	json_t *other = parsed("{\"apiVersion\": \"example.com/v1\", \"kind\": \"Namespace\"}");
	json_t *dep = parsed("{\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\", \"spec\": {\"template\": {\"a\": 1}}}");
	json_t *cron = parsed("{\"apiVersion\": \"batch/v1\", \"kind\": \"CronJob\", "
			   "\"spec\": {\"jobTemplate\": {\"spec\": {\"template\": {\"b\": 2}}}}}");
	json_t *cm = parsed("{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"spec\": {\"template\": {}}}");

	cr_assert(tm_kind_cluster_scoped(ns));
	cr_assert(tm_kind_cluster_scoped(crb));
	cr_assert(!tm_kind_cluster_scoped(other), "a CRD's kind named like a core one is namespaced");
	cr_assert(!tm_kind_cluster_scoped(dep));
	cr_assert_eq(tm_kind_pod_template(dep), tm_doc_get(dep, "spec", "template", NULL));
	cr_assert_eq(tm_kind_pod_template(cron), tm_doc_get(cron, "spec", "jobTemplate", "spec", "template", NULL));
	cr_assert_null(tm_kind_pod_template(cm), "a ConfigMap has no pod template, whatever its fields");
	json_object_del(json_object_get(dep, "spec"), "template");
	cr_assert_null(tm_kind_pod_template(dep));
	for (const char *const *k = (const char *const[]){ "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", NULL }; *k; k++)
		cr_assert(tm_kind_owns_pods("apps/v1", *k), "%s owns pods", *k);
	cr_assert(tm_kind_owns_pods("batch/v1", "Job"));
	cr_assert(!tm_kind_owns_pods("example.com/v1", "Deployment"));
	cr_assert(!tm_kind_owns_pods("v1", "Service"));
	json_decref(ns);
	json_decref(crb);
	json_decref(other);
	json_decref(dep);
	json_decref(cron);
	json_decref(cm);
}

Test(apply_kinds, a_secret_is_a_core_v1_secret)
{
	json_t *s = parsed("{\"apiVersion\": \"v1\", \"kind\": \"Secret\"}");
	json_t *sealed = parsed("{\"apiVersion\": \"bitnami.com/v1alpha1\", \"kind\": \"SealedSecret\"}");
	json_t *named = parsed("{\"apiVersion\": \"example.com/v1\", \"kind\": \"Secret\"}");

	cr_assert(tm_kind_is_secret(s));
	cr_assert(!tm_kind_is_secret(sealed));
	cr_assert(!tm_kind_is_secret(named));
	json_decref(s);
	json_decref(sealed);
	json_decref(named);
}
