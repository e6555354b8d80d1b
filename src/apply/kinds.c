/* The kind table: every per-kind fact tarmac uses (apply phase, readiness rule, replaced
 * or patched, scope, pods owned, where the pod template is), group-aware. Prune order
 * is the phase order backwards. */
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

static const char *const TEMPLATE[] = { "spec", "template", NULL };
static const char *const JOB_TEMPLATE[] = { "spec", "jobTemplate", "spec", "template", NULL };

/* group "" is the core group. Kinds not listed go to the policy phase, ready once
 * applied, namespaced (Helm and kapp treat unknown kinds the same way).
 * group, kind, phase, readiness, replace, pods, cluster, pod template */
static const struct tm_kind_rule rules[] = {
	{ "", "Namespace", TM_PHASE_CLUSTER, NULL, false, false, true, NULL },
	{ "scheduling.k8s.io", "PriorityClass", TM_PHASE_CLUSTER, NULL, false, false, true, NULL },
	{ "storage.k8s.io", "StorageClass", TM_PHASE_CLUSTER, NULL, false, false, true, NULL },
	{ "apiextensions.k8s.io", "CustomResourceDefinition", TM_PHASE_CRDS, tm_ready_crd, false, false, true, NULL },
	{ "", "ServiceAccount", TM_PHASE_RBAC, NULL, false, false, false, NULL },
	{ "rbac.authorization.k8s.io", "ClusterRole", TM_PHASE_RBAC, NULL, false, false, true, NULL },
	{ "rbac.authorization.k8s.io", "ClusterRoleBinding", TM_PHASE_RBAC, NULL, false, false, true, NULL },
	{ "rbac.authorization.k8s.io", "Role", TM_PHASE_RBAC, NULL, false, false, false, NULL },
	{ "rbac.authorization.k8s.io", "RoleBinding", TM_PHASE_RBAC, NULL, false, false, false, NULL },
	{ "", "ResourceQuota", TM_PHASE_RBAC, NULL, false, false, false, NULL },
	{ "", "LimitRange", TM_PHASE_RBAC, NULL, false, false, false, NULL },
	{ "", "Secret", TM_PHASE_CONFIG, NULL, false, false, false, NULL },
	{ "", "ConfigMap", TM_PHASE_CONFIG, NULL, false, false, false, NULL },
	{ "", "PersistentVolume", TM_PHASE_STORAGE, NULL, false, false, true, NULL },
	{ "", "PersistentVolumeClaim", TM_PHASE_STORAGE, tm_ready_pvc, false, false, false, NULL },
	{ "", "Service", TM_PHASE_SERVICES, tm_ready_service, false, false, false, NULL },
	{ "apps", "StatefulSet", TM_PHASE_WORKLOADS, tm_ready_statefulset, false, true, false, TEMPLATE },
	{ "apps", "Deployment", TM_PHASE_WORKLOADS, tm_ready_deployment, false, true, false, TEMPLATE },
	{ "apps", "DaemonSet", TM_PHASE_WORKLOADS, tm_ready_daemonset, false, true, false, TEMPLATE },
	{ "apps", "ReplicaSet", TM_PHASE_WORKLOADS, NULL, false, true, false, TEMPLATE },
	{ "", "Pod", TM_PHASE_WORKLOADS, tm_ready_pod, true, false, false, NULL },
	{ "batch", "Job", TM_PHASE_MIGRATE, tm_ready_job, true, true, false, TEMPLATE },
	{ "batch", "CronJob", TM_PHASE_WORKLOADS, NULL, false, false, false, JOB_TEMPLATE },
	{ "autoscaling", "HorizontalPodAutoscaler", TM_PHASE_POLICY, NULL, false, false, false, NULL },
	{ "policy", "PodDisruptionBudget", TM_PHASE_POLICY, NULL, false, false, false, NULL },
	{ "networking.k8s.io", "NetworkPolicy", TM_PHASE_POLICY, NULL, false, false, false, NULL },
};

static const struct tm_kind_rule other = { "*", "*", TM_PHASE_POLICY, NULL, false, false, false, NULL };

/* The group of an apiVersion: "apps/v1" -> "apps", "v1" -> "". */
static size_t group_len(const char *api_version)
{
	const char *slash = api_version ? strchr(api_version, '/') : NULL;

	return slash ? (size_t)(slash - api_version) : 0;
}

static const struct tm_kind_rule *find(const char *group, size_t gl, const char *kind)
{
	for (size_t i = 0; kind && i < TM_ARRAY_LEN(rules); i++)
		if (strcmp(rules[i].kind, kind) == 0 && strlen(rules[i].group) == gl && strncmp(rules[i].group, group, gl) == 0)
			return &rules[i];
	return &other;
}

const struct tm_kind_rule *tm_kind_rule(const char *api_version, const char *kind)
{
	return find(api_version ? api_version : "", group_len(api_version), kind);
}

const struct tm_kind_rule *tm_kind_rule_of_group(const char *group, const char *kind)
{
	return find(group ? group : "", group ? strlen(group) : 0, kind);
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

static const struct tm_kind_rule *rule_of(const json_t *obj)
{
	return tm_kind_rule(json_string_value(json_object_get(obj, "apiVersion")),
			    json_string_value(json_object_get(obj, "kind")));
}

bool tm_kind_cluster_scoped(const json_t *obj)
{
	return rule_of(obj)->cluster;
}

bool tm_kind_owns_pods(const char *api_version, const char *kind)
{
	return tm_kind_rule(api_version, kind)->pods;
}

json_t *tm_kind_pod_template(const json_t *obj)
{
	const char *const *path = rule_of(obj)->pod_template;
	const json_t *v = obj;

	for (; path && *path && v; path++)
		v = json_object_get(v, *path);
	return path ? (json_t *)v : NULL;
}

bool tm_kind_is_secret(const json_t *obj)
{
	const char *av = json_string_value(json_object_get(obj, "apiVersion"));
	const char *kind = json_string_value(json_object_get(obj, "kind"));

	return av && kind && strcmp(av, "v1") == 0 && strcmp(kind, "Secret") == 0;
}
