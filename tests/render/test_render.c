/* The whole render pipeline over the embedded bundle: golden output per environment,
 * determinism, and what every object gets (labels, namespace, checksums). */
#include "../testutil.h"
#include "tarmac/doc.h"
#include "tarmac/labels.h"
#include "render/render_private.h"

static int render_env(struct tm_rendered *r, const char *env, const struct tm_set_arg *sets, size_t nsets,
		      struct tm_err *err)
{
	struct tm_render_opts o = { .env = env, .release = "airflow", .namespace = "airflow", .kube_version = "1.30",
				    .sets = sets, .nsets = nsets };

	tm_err_init(err);
	memset(r, 0, sizeof(*r));
	return tm_render(r, &o, err);
}

/* The stream 'tarmac render' prints. */
static char *as_yaml(struct tm_rendered *r)
{
	struct tm_buf b = TM_BUF_INIT("stream", 64u << 20);
	size_t i;
	json_t *obj;

	json_array_foreach(r->objects, i, obj) {
		cr_assert_eq(tm_buf_printf(&b, NULL, "---\n# Source: %s\n", json_string_value(json_array_get(r->sources, i))), 0);
		cr_assert_eq(tm_doc_emit_yaml(&b, obj, 0, NULL), 0);
		cr_assert_eq(tm_buf_puts(&b, "\n", NULL), 0);
	}
	return tm_buf_detach(&b);
}

/* tests/fixtures/render/<env>-<executor>.yaml holds what 'tarmac render' prints */
static void golden(const char *env, const char *executor)
{
	struct tm_set_arg set = { .kind = TM_ARG_SET };
	struct tm_rendered r;
	struct tm_err err;
	struct tm_buf want = TM_BUF_INIT("golden", 64u << 20);
	char path[512], arg[64], *got;

	snprintf(arg, sizeof(arg), "executor=%sExecutor", executor);
	set.arg = arg;
	cr_assert_eq(render_env(&r, env, &set, 1, &err), 0, "%s", tm_err_msg(&err));
	got = as_yaml(&r);
	snprintf(path, sizeof(path), "%s/render/%s-%s.yaml", getenv("TM_TEST_FIXTURES"), env, executor);
	if (getenv("TM_UPDATE_GOLDEN")) {
		cr_assert_eq(tm_file_write_atomic(path, got, strlen(got), 0644, &err), 0, "%s", tm_err_msg(&err));
	} else {
		cr_assert_eq(tm_file_read(&want, path, 64u << 20, &err), 0,
			     "%s (run 'TM_UPDATE_GOLDEN=1 zig build test' to create it)", tm_err_msg(&err));
		cr_assert_str_eq(got, want.data, "rendered %s differs from %s; if the change is intended, "
						 "rerun with TM_UPDATE_GOLDEN=1 and review the diff", env, path);
	}
	free(got);
	tm_buf_release(&want);
	tm_rendered_release(&r);
}

Test(render_stack, golden_dev_kubernetes)
{
	golden("dev", "Kubernetes");
}

Test(render_stack, golden_dev_celery)
{
	golden("dev", "Celery");
}

Test(render_stack, golden_staging_kubernetes)
{
	golden("staging", "Kubernetes");
}

Test(render_stack, golden_staging_celery)
{
	golden("staging", "Celery");
}

Test(render_stack, golden_prod_kubernetes)
{
	golden("prod", "Kubernetes");
}

Test(render_stack, golden_prod_celery)
{
	golden("prod", "Celery");
}

/* git-sync: a one-time clone before Airflow starts, a sidecar after, the key mounted. */
Test(render_stack, git_sync_clones_first_then_follows)
{
	struct tm_set_arg set = { .kind = TM_ARG_SET,
				  .arg = "dags.gitSync.enabled=true,dags.gitSync.repo=ssh://git@git.example/dags.git,"
					 "dags.gitSync.sshKeySecret=airflow-ssh-secret" };
	struct tm_rendered r;
	struct tm_err err;
	size_t i;
	json_t *obj;
	int seen = 0;

	cr_assert_eq(render_env(&r, "dev", &set, 1, &err), 0, "%s", tm_err_msg(&err));
	json_array_foreach(r.objects, i, obj) {
		json_t *spec = json_object_get(json_object_get(json_object_get(obj, "spec"), "template"), "spec");
		const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
		if (strcmp(json_string_value(json_object_get(obj, "kind")), "Deployment") || strcmp(name, "airflow-dag-processor"))
			continue;
		cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(spec, "initContainers"), 1), "name")),
				 "git-sync-init");
		cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(spec, "containers"), 0), "name")),
				 "git-sync");
		seen = 1;
	}
	cr_assert(seen);
	tm_rendered_release(&r);
}

/* objectPatches reach what no value does; a patch that hits nothing is an error. */
Test(render_stack, object_patches)
{
	struct tm_values_file f = { "patches.yaml",
				    "objectPatches:\n- kind: Deployment\n  name: airflow-scheduler\n"
				    "  patch: {spec: {template: {spec: {priorityClassName: critical, terminationGracePeriodSeconds: null}}}}\n",
				    0 };
	struct tm_values_file bad = { "typo.yaml", "objectPatches:\n- {kind: Deployment, name: airflow-schedular, patch: {}}\n", 0 };
	struct tm_render_opts o = { .env = "dev", .release = "airflow", .namespace = "airflow", .files = &f, .nfiles = 1 };
	struct tm_rendered r = { 0 };
	struct tm_err err;
	size_t i;
	json_t *obj;
	int seen = 0;

	f.len = strlen(f.text);
	bad.len = strlen(bad.text);
	tm_err_init(&err);
	cr_assert_eq(tm_render(&r, &o, &err), 0, "%s", tm_err_msg(&err));
	json_array_foreach(r.objects, i, obj) {
		json_t *spec = json_object_get(json_object_get(json_object_get(obj, "spec"), "template"), "spec");
		if (strcmp(json_string_value(json_object_get(obj, "kind")), "Deployment") ||
		    strcmp(json_string_value(json_object_get(json_object_get(obj, "metadata"), "name")), "airflow-scheduler"))
			continue;
		cr_assert_str_eq(json_string_value(json_object_get(spec, "priorityClassName")), "critical");
		cr_assert_null(json_object_get(spec, "terminationGracePeriodSeconds"));
		seen = 1;
	}
	cr_assert(seen);
	tm_rendered_release(&r);
	o.files = &bad;
	cr_assert_eq(tm_render(&r, &o, &err), TM_EINVALID);
	cr_assert_str_eq(tm_err_msg(&err), "typo.yaml:2:28: objectPatches[0]: no rendered Deployment 'airflow-schedular' "
					   "in namespace 'airflow'");
	{
		struct tm_values_file rename = { "rename.yaml",
						 "objectPatches:\n- {kind: ConfigMap, name: airflow-config, patch: {metadata: {name: other}}}\n",
						 0 };
		rename.len = strlen(rename.text);
		o.files = &rename;
		cr_assert_eq(tm_render(&r, &o, &err), TM_EINVALID);
		cr_assert_str_eq(tm_err_msg(&err), "rename.yaml:2:27: objectPatches[0] may not change apiVersion, kind or name");
	}
}

/* A values file written for the official chart renders as it is. */
Test(render_stack, chart_values_file_works)
{
	struct tm_buf text = TM_BUF_INIT("values", 1 << 20);
	struct tm_values_file f = { "chart-values.yaml", NULL, 0 };
	struct tm_render_opts o = { .env = "prod", .release = "airflow", .namespace = "airflow", .files = &f, .nfiles = 1 };
	struct tm_rendered r = { 0 };
	struct tm_err err;
	char path[512];

	snprintf(path, sizeof(path), "%s/render/chart-values.yaml", getenv("TM_TEST_FIXTURES"));
	tm_err_init(&err);
	cr_assert_eq(tm_file_read(&text, path, 1 << 20, &err), 0, "%s", tm_err_msg(&err));
	f.text = text.data;
	f.len = text.len;
	cr_assert_eq(tm_render(&r, &o, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_gt(json_array_size(r.objects), 25);
	{
		char *all = json_dumps(r.objects, JSON_COMPACT);
		cr_assert(strstr(all, "\"GITSYNC_REF\",\"value\":\"main\"") != NULL,
			  "the chart's 'branch' drives git-sync v4's ref");
		free(all);
	}
	/* the chart's per-component keys reach the scheduler */
	{
		size_t i;
		json_t *obj, *sched = NULL, *sa = NULL;
		json_array_foreach(r.objects, i, obj) {
			const char *kind = json_string_value(json_object_get(obj, "kind"));
			const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
			if (!strcmp(kind, "Deployment") && !strcmp(name, "airflow-scheduler"))
				sched = obj;
			if (!strcmp(kind, "ServiceAccount") && !strcmp(name, "af-scheduler"))
				sa = obj;
		}
		cr_assert_not_null(sched);
		cr_assert_not_null(sa, "serviceAccount.name names the account");
		json_t *spec = json_object_get(json_object_get(json_object_get(sched, "spec"), "template"), "spec");
		cr_assert_str_eq(json_string_value(json_object_get(spec, "serviceAccountName")), "af-scheduler");
		cr_assert_str_eq(json_string_value(json_object_get(spec, "priorityClassName")), "airflow-critical");
		cr_assert_str_eq(json_string_value(json_object_get(json_object_get(spec, "nodeSelector"), "pool")), "airflow");
		cr_assert_not_null(json_object_get(json_object_get(spec, "affinity"), "podAntiAffinity"));
		cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(spec, "imagePullSecrets"), 0), "name")),
				 "regcred");
		cr_assert_eq(json_array_size(json_object_get(spec, "containers")), 3, "git-sync, the shipper, the scheduler");
		cr_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(sched, "metadata"), "labels"), "tier")),
				 "control");
	}
	tm_rendered_release(&r);
	tm_buf_release(&text);
}

/* An HPA owns the workers' replicas: the Deployment must not carry them. */
Test(render_stack, hpa_owned_workers_have_no_replicas)
{
	struct tm_set_arg set = { .kind = TM_ARG_SET, .arg = "executor=CeleryExecutor" };
	struct tm_rendered r;
	struct tm_err err;
	size_t i;
	json_t *obj;
	int seen = 0;

	cr_assert_eq(render_env(&r, "prod", &set, 1, &err), 0, "%s", tm_err_msg(&err));
	json_array_foreach(r.objects, i, obj) {
		const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
		const char *kind = json_string_value(json_object_get(obj, "kind"));
		if (strcmp(name, "airflow-worker") == 0 && strcmp(kind, "Deployment") == 0) {
			cr_assert_null(json_object_get(json_object_get(obj, "spec"), "replicas"));
			seen |= 1;
		}
		if (strcmp(kind, "HorizontalPodAutoscaler") == 0) {
			cr_assert_str_eq(json_string_value(json_object_get(obj, "apiVersion")), "autoscaling/v2");
			seen |= 2;
		}
	}
	cr_assert_eq(seen, 3);
	tm_rendered_release(&r);
}

/* The main container of an Airflow component's Deployment. */
static json_t *airflow_container(json_t *obj, const char *component)
{
	json_t *c;
	size_t i;

	json_array_foreach(tm_doc_get(obj, "spec", "template", "spec", "containers", NULL), i, c)
		if (strcmp(json_string_value(json_object_get(c, "name")), component) == 0)
			return c;
	return NULL;
}

/* What the real node showed: a component that serves nothing is not probed for
 * readiness by default (each exec probe costs a whole Airflow start), only started and
 * kept alive; the scheduler answers its probes from its own health server, which its
 * environment turns on at the port the probes ask. */
Test(render_stack, probes_of_the_airflow_components)
{
	struct tm_set_arg set = { .kind = TM_ARG_SET, .arg = "executor=CeleryExecutor" };
	static const char *const components[] = { "scheduler", "dag-processor", "triggerer", "worker", "api-server" };
	struct tm_rendered r;
	struct tm_err err;
	size_t i, seen = 0;
	json_t *obj;

	cr_assert_eq(render_env(&r, "prod", &set, 1, &err), 0, "%s", tm_err_msg(&err));
	json_array_foreach(r.objects, i, obj) {
		const char *comp = json_string_value(tm_doc_get(obj, "metadata", "labels", TM_LABEL_COMPONENT, NULL));
		json_t *c;

		if (!comp || strcmp(json_string_value(json_object_get(obj, "kind")), "Deployment") != 0 ||
		    !(c = airflow_container(obj, comp)))
			continue;
		for (size_t k = 0; k < TM_ARRAY_LEN(components); k++) {
			if (strcmp(comp, components[k]) != 0)
				continue;
			seen++;
			cr_assert_not_null(json_object_get(c, "livenessProbe"), "%s", comp);
			cr_assert_not_null(json_object_get(c, "startupProbe"), "%s: ready once started", comp);
			if (strcmp(comp, "api-server") == 0)
				cr_assert_not_null(json_object_get(c, "readinessProbe"), "the API server serves: it has one");
			else
				cr_assert_null(json_object_get(c, "readinessProbe"), "%s serves nothing", comp);
		}
		if (strcmp(comp, "scheduler") == 0) {
			json_t *env, *e;
			size_t j;
			int on = 0;

			cr_assert_str_eq(json_string_value(tm_doc_get(c, "livenessProbe", "httpGet", "port", NULL)), "health");
			cr_assert_str_eq(json_string_value(tm_doc_get(c, "startupProbe", "httpGet", "path", NULL)), "/health");
			cr_assert_str_eq(json_string_value(tm_doc_get(json_array_get(json_object_get(c, "ports"), 0), "name",
								      NULL)), "health");
			env = json_object_get(c, "env");
			json_array_foreach(env, j, e) {
				const char *n = json_string_value(json_object_get(e, "name"));
				const char *v = json_string_value(json_object_get(e, "value"));

				if (strcmp(n, "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK") == 0 && strcmp(v, "True") == 0)
					on |= 1;
				if (strcmp(n, "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT") == 0 &&
				    json_integer_value(tm_doc_get(json_array_get(json_object_get(c, "ports"), 0), "containerPort",
								  NULL)) == atoi(v))
					on |= 2;
			}
			cr_assert_eq(on, 3, "the health server on, at the port the probes ask");
		}
	}
	cr_assert_eq(seen, TM_ARRAY_LEN(components));
	tm_rendered_release(&r);
}

/* API versions follow the cluster's Kubernetes version. */
Test(render_stack, api_versions_follow_the_kube_version)
{
	struct tm_render_opts o = { .env = "prod", .release = "airflow", .namespace = "airflow", .kube_version = "1.20" };
	struct tm_rendered r = { 0 };
	struct tm_err err;
	size_t i;
	json_t *obj;
	int pdbs = 0;

	tm_err_init(&err);
	cr_assert_eq(tm_render(&r, &o, &err), 0, "%s", tm_err_msg(&err));
	json_array_foreach(r.objects, i, obj) {
		if (strcmp(json_string_value(json_object_get(obj, "kind")), "PodDisruptionBudget") == 0) {
			cr_assert_str_eq(json_string_value(json_object_get(obj, "apiVersion")), "policy/v1beta1");
			pdbs++;
		}
	}
	cr_assert_eq(pdbs, 3);
	tm_rendered_release(&r);
	o.kube_version = "1.19";
	cr_assert_eq(tm_render(&r, &o, &err), TM_EINVALID);
	cr_assert_str_eq(tm_err_msg(&err), "Kubernetes 1.19 is not supported (1.20 or later)");
}

Test(render_stack, byte_identical_every_time)
{
	struct tm_rendered a, b;
	struct tm_err err;
	char *ya, *yb;

	cr_assert_eq(render_env(&a, "prod", NULL, 0, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(render_env(&b, "prod", NULL, 0, &err), 0, "%s", tm_err_msg(&err));
	ya = as_yaml(&a);
	yb = as_yaml(&b);
	cr_assert_str_eq(ya, yb);
	free(ya);
	free(yb);
	tm_rendered_release(&a);
	tm_rendered_release(&b);
}

Test(render_stack, every_object_is_labelled_and_placed)
{
	struct tm_rendered r;
	struct tm_err err;
	size_t i;
	json_t *obj;

	struct tm_set_arg set = { .kind = TM_ARG_SET, .arg = "labels.team=data" };

	cr_assert_eq(render_env(&r, "dev", &set, 1, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_gt(json_array_size(r.objects), 20);
	json_array_foreach(r.objects, i, obj) {
		json_t *meta = json_object_get(obj, "metadata"), *labels = json_object_get(meta, "labels");
		const char *kind = json_string_value(json_object_get(obj, "kind"));
		cr_assert_str_eq(json_string_value(json_object_get(labels, "app.kubernetes.io/managed-by")), "tarmac", "%s", kind);
		cr_assert_str_eq(json_string_value(json_object_get(labels, "app.kubernetes.io/instance")), "airflow");
		cr_assert_str_eq(json_string_value(json_object_get(labels, "app.kubernetes.io/version")), "3.2.0");
		cr_assert_str_eq(json_string_value(json_object_get(labels, "app.kubernetes.io/part-of")), "airflow");
		cr_assert_str_eq(json_string_value(json_object_get(labels, "app.kubernetes.io/name")), "airflow");
		cr_assert(json_is_string(json_object_get(labels, "app.kubernetes.io/component")), "%s %s has no component",
			  kind, json_string_value(json_object_get(meta, "name")));
		cr_assert_str_eq(json_string_value(json_object_get(labels, "team")), "data", "values.labels reach %s", kind);
		if (strcmp(kind, "Namespace") == 0)
			cr_assert_null(json_object_get(meta, "namespace"));
		else
			cr_assert_str_eq(json_string_value(json_object_get(meta, "namespace")), "airflow", "%s", kind);
	}
	tm_rendered_release(&r);
}

/* Changing airflow.cfg must roll every pod that mounts it, and only through its checksum. */
Test(render_stack, config_change_changes_the_checksum)
{
	struct tm_set_arg set = { .kind = TM_ARG_SET, .arg = "config.core.parallelism=64" };
	struct tm_rendered a, b;
	struct tm_err err;
	const char *key = "checksum/configmap-airflow-config";
	size_t i, n = 0;
	json_t *obj;

	cr_assert_eq(render_env(&a, "dev", NULL, 0, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(render_env(&b, "dev", &set, 1, &err), 0, "%s", tm_err_msg(&err));
	json_array_foreach(a.objects, i, obj) {
		json_t *ann_a = json_object_get(json_object_get(json_object_get(json_object_get(obj, "spec"), "template"), "metadata"), "annotations");
		json_t *objb = json_array_get(b.objects, i);
		json_t *ann_b = json_object_get(json_object_get(json_object_get(json_object_get(objb, "spec"), "template"), "metadata"), "annotations");
		if (!json_object_get(ann_a, key))
			continue;
		n++;
		cr_assert_str_neq(json_string_value(json_object_get(ann_a, key)), json_string_value(json_object_get(ann_b, key)));
	}
	cr_assert_geq(n, 5, "scheduler, api-server, dag-processor, triggerer and the migration job read the config");
	tm_rendered_release(&a);
	tm_rendered_release(&b);
}

Test(render_stack, components_switch_off)
{
	struct tm_set_arg sets[] = { { .kind = TM_ARG_SET, .arg = "statsd.enabled=false,triggerer.enabled=false" } };
	struct tm_rendered r;
	struct tm_err err;
	size_t i;
	json_t *obj;

	cr_assert_eq(render_env(&r, "dev", sets, 1, &err), 0, "%s", tm_err_msg(&err));
	json_array_foreach(r.objects, i, obj) {
		const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
		cr_assert(strstr(name, "statsd") == NULL && strstr(name, "triggerer") == NULL, "%s still rendered", name);
	}
	tm_rendered_release(&r);
}

/* A schema problem is never lost, however its message is cut (found in review: a cut
 * inside a UTF-8 character made the message invalid and the problem vanished). */
Test(render_stack, long_non_ascii_values_still_fail_the_schema)
{
	struct tm_rendered r;
	struct tm_err err;
	char arg[2048] = "executor=";

	for (int len = 590; len < 620; len++) {
		struct tm_set_arg set = { .kind = TM_ARG_SET, .arg = arg };
		arg[9] = '\0';
		for (int i = 0; i < len; i++)
			strcat(arg, "\xc3\xa9");
		cr_assert_eq(render_env(&r, "dev", &set, 1, &err), TM_EINVALID, "length %d passed the schema", len);
	}
}

Test(render_stack, bad_input_is_named)
{
	struct tm_set_arg typo = { .kind = TM_ARG_SET, .arg = "schedular.replicas=2" };
	struct tm_set_arg type = { .kind = TM_ARG_SET, .arg = "scheduler.replicas=two" };
	struct tm_rendered r;
	struct tm_err err;

	cr_assert_eq(render_env(&r, "qa", NULL, 0, &err), TM_EINVALID);
	cr_assert_str_eq(tm_err_msg(&err), "no environment 'qa' (the bundle has: dev, prod, staging)");
	cr_assert_eq(render_env(&r, "dev", &typo, 1, &err), TM_EINVALID);
	cr_assert_str_eq(tm_err_msg(&err), "--set schedular.replicas: (the values): unknown key 'schedular' "
					   "(did you mean 'scheduler'?)");
	cr_assert_eq(render_env(&r, "dev", &type, 1, &err), TM_EINVALID);
	cr_assert_str_eq(tm_err_msg(&err), "--set scheduler.replicas: scheduler.replicas: expected integer, got string");
	{
		struct tm_set_arg norepo = { .kind = TM_ARG_SET, .arg = "dags.gitSync.enabled=true" };
		cr_assert_eq(render_env(&r, "dev", &norepo, 1, &err), TM_EINVALID);
		cr_assert(strstr(tm_err_msg(&err), "required: dags.gitSync.repo is needed when dags.gitSync.enabled") != NULL,
			  "%s", tm_err_msg(&err));
		cr_assert(strncmp(tm_err_msg(&err), "bundle/partials/git-sync.yaml:", 30) == 0, "%s", tm_err_msg(&err));
	}
}

/* Every values key that names an object (an existing Secret, a ServiceAccount, a PVC,
 * a class) is checked as a DNS name by the bundle's schema before any object or API
 * path is built from it; the error names the key. */
Test(render_stack, names_from_values_are_dns_names)
{
	static const char *const keys[] = {
		"fernetKeySecretName", "apiSecretKeySecretName", "jwtSecretName", "data.metadataSecretName",
		"data.brokerUrlSecretName", "redis.passwordSecretName", "createUserJob.passwordSecretName",
		"registry.secretName", "scheduler.serviceAccount.name", "workers.serviceAccount.name",
		"migrateDatabaseJob.serviceAccount.name", "dags.gitSync.sshKeySecret", "logs.remote.credentialsSecret",
		"dags.persistence.existingClaim", "podTemplates.gpu.modelCache.storageClassName", "scheduler.priorityClassName",
		"redis.persistence.storageClass", "dags.persistence.storageClassName",
		"monitoring.alertmanager.slack.webhookSecret.name",
	};
	struct tm_rendered r;
	struct tm_err err;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char arg[256], want[200];
		struct tm_set_arg set = { .kind = TM_ARG_SET_STRING, .arg = arg };
		snprintf(arg, sizeof(arg), "%s=../../kube-system/secrets/x", keys[i]);
		snprintf(want, sizeof(want), "%s: expected a Kubernetes object name", keys[i]);
		cr_assert_eq(render_env(&r, "dev", &set, 1, &err), TM_EINVALID, "%s was not checked", keys[i]);
		cr_assert(strstr(tm_err_msg(&err), want) != NULL, "%s", tm_err_msg(&err));
	}
	{
		struct tm_set_arg set = { .kind = TM_ARG_SET, .arg = "extraConfigMaps.Bad_Name.data.a=b" };
		cr_assert_eq(render_env(&r, "dev", &set, 1, &err), TM_EINVALID);
		cr_assert(strstr(tm_err_msg(&err), "the key must be a Kubernetes object name") != NULL, "%s", tm_err_msg(&err));
	}
}

/* Every component whose values have a podDisruptionBudget gets one when it is enabled
 * (the triggerer's and the DAG processor's were accepted and rendered nothing). */
Test(render_stack, every_component_pdb_is_rendered_when_enabled)
{
	static const char *const comps[][2] = { { "scheduler", "scheduler" }, { "apiServer", "api-server" },
						{ "dagProcessor", "dag-processor" }, { "triggerer", "triggerer" } };
	struct tm_set_arg sets[4];
	char args[4][96];
	struct tm_rendered r;
	struct tm_err err;
	size_t i;
	json_t *obj;
	int seen = 0;

	for (int k = 0; k < 4; k++) {
		snprintf(args[k], sizeof(args[k]), "%s.podDisruptionBudget.enabled=true", comps[k][0]);
		sets[k] = (struct tm_set_arg){ .kind = TM_ARG_SET, .arg = args[k] };
	}
	cr_assert_eq(render_env(&r, "prod", sets, 4, &err), 0, "%s", tm_err_msg(&err));
	json_array_foreach(r.objects, i, obj) {
		if (strcmp(json_string_value(json_object_get(obj, "kind")), "PodDisruptionBudget") != 0)
			continue;
		const char *comp = json_string_value(tm_doc_get(obj, "spec", "selector", "matchLabels",
								  "app.kubernetes.io/component", NULL));

		for (int k = 0; comp && k < 4; k++)
			if (strcmp(comp, comps[k][1]) == 0)
				seen |= 1 << k;
	}
	cr_assert_eq(seen, 15, "PDBs rendered for components mask %d", seen);
	tm_rendered_release(&r);
}
