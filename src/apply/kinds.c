/* The kind table: for each kind its apply phase, readiness rule and whether it is
 * replaced rather than patched. Prune order is the phase order backwards. */
#include <string.h>

#include "apply_private.h"
#include "tarmac/doc.h"

static const char *const phase_names[TM_PHASE_COUNT] = {
	[TM_PHASE_CLUSTER] = "cluster",     [TM_PHASE_CRDS] = "crds",
	[TM_PHASE_RBAC] = "rbac",           [TM_PHASE_CONFIG] = "config",
	[TM_PHASE_STORAGE] = "storage",     [TM_PHASE_SERVICES] = "services",
	[TM_PHASE_DATABASE] = "database",   [TM_PHASE_MIDDLEWARE] = "middleware",
	[TM_PHASE_MIGRATE] = "migrate",     [TM_PHASE_WORKLOADS] = "workloads",
	[TM_PHASE_POLICY] = "policy",
};

const char *tm_phase_name(enum tm_phase p)
{
	return (unsigned)p < TM_PHASE_COUNT ? phase_names[p] : NULL;
}

int tm_phase_find(const char *s)
{
	for (int i = 0; s && i < TM_PHASE_COUNT; i++)
		if (strcmp(phase_names[i], s) == 0)
			return i;
	return -1;
}

/* group "" is the core group. Kinds not listed go to the policy phase, ready once
 * applied (Helm and kapp treat unknown kinds the same way). */
static const struct tm_kind_rule rules[] = {
	{ "", "Namespace", TM_PHASE_CLUSTER, NULL, false, false },
	{ "scheduling.k8s.io", "PriorityClass", TM_PHASE_CLUSTER, NULL, false, false },
	{ "storage.k8s.io", "StorageClass", TM_PHASE_CLUSTER, NULL, false, false },
	{ "apiextensions.k8s.io", "CustomResourceDefinition", TM_PHASE_CRDS, tm_ready_crd, false, false },
	{ "", "ServiceAccount", TM_PHASE_RBAC, NULL, false, false },
	{ "rbac.authorization.k8s.io", "ClusterRole", TM_PHASE_RBAC, NULL, false, false },
	{ "rbac.authorization.k8s.io", "ClusterRoleBinding", TM_PHASE_RBAC, NULL, false, false },
	{ "rbac.authorization.k8s.io", "Role", TM_PHASE_RBAC, NULL, false, false },
	{ "rbac.authorization.k8s.io", "RoleBinding", TM_PHASE_RBAC, NULL, false, false },
	{ "", "ResourceQuota", TM_PHASE_RBAC, NULL, false, false },
	{ "", "LimitRange", TM_PHASE_RBAC, NULL, false, false },
	{ "", "Secret", TM_PHASE_CONFIG, NULL, false, false },
	{ "", "ConfigMap", TM_PHASE_CONFIG, NULL, false, false },
	{ "", "PersistentVolume", TM_PHASE_STORAGE, NULL, false, false },
	{ "", "PersistentVolumeClaim", TM_PHASE_STORAGE, tm_ready_pvc, false, false },
	{ "", "Service", TM_PHASE_SERVICES, tm_ready_service, false, false },
	{ "apps", "StatefulSet", TM_PHASE_WORKLOADS, tm_ready_statefulset, false, true },
	{ "apps", "Deployment", TM_PHASE_WORKLOADS, tm_ready_deployment, false, true },
	{ "apps", "DaemonSet", TM_PHASE_WORKLOADS, tm_ready_daemonset, false, true },
	{ "apps", "ReplicaSet", TM_PHASE_WORKLOADS, NULL, false, false },
	{ "", "Pod", TM_PHASE_WORKLOADS, tm_ready_pod, true, false },
	{ "batch", "Job", TM_PHASE_MIGRATE, tm_ready_job, true, true },
	{ "batch", "CronJob", TM_PHASE_WORKLOADS, NULL, false, false },
	{ "autoscaling", "HorizontalPodAutoscaler", TM_PHASE_POLICY, NULL, false, false },
	{ "policy", "PodDisruptionBudget", TM_PHASE_POLICY, NULL, false, false },
	{ "networking.k8s.io", "NetworkPolicy", TM_PHASE_POLICY, NULL, false, false },
};

static const struct tm_kind_rule other = { "*", "*", TM_PHASE_POLICY, NULL, false, false };

/* The group of an apiVersion: "apps/v1" -> "apps", "v1" -> "". */
static size_t group_len(const char *api_version)
{
	const char *slash = api_version ? strchr(api_version, '/') : NULL;

	return slash ? (size_t)(slash - api_version) : 0;
}

const struct tm_kind_rule *tm_kind_rule(const char *api_version, const char *kind)
{
	size_t gl = group_len(api_version);

	for (size_t i = 0; kind && i < TM_ARRAY_LEN(rules); i++)
		if (strcmp(rules[i].kind, kind) == 0 && strlen(rules[i].group) == gl &&
		    strncmp(rules[i].group, api_version, gl) == 0)
			return &rules[i];
	return &other;
}

enum tm_phase tm_apply_phase_of(const json_t *obj)
{
	const char *ann = json_string_value(
		tm_doc_get(obj, "metadata", "annotations", TM_PHASE_ANNOTATION, NULL));
	int p = tm_phase_find(ann);

	if (p >= 0)
		return (enum tm_phase)p;
	return tm_kind_rule(json_string_value(json_object_get(obj, "apiVersion")),
			    json_string_value(json_object_get(obj, "kind")))
		->phase;
}
