/* The executor-path test: every file the configuration names (airflow.cfg, the pod
 * templates, dags_folder, git-sync's *_FILE paths) is provided by a volumeMount of the
 * container that reads it, and every object a pod or task template references is
 * rendered, made by the secrets step, or checked to exist before apply. */
#include "../secret/helpers.h"
#include "tarmac/doc.h"
#include "render/render_private.h"

#define S(v, k) json_string_value(json_object_get((v), (k)))

/* One rendered stack with what the secrets step adds to it. */
struct stack {
	struct tm_rendered r;
	struct env e;
	json_t *secrets;  /* the Secrets the secrets step makes */
	json_t *external; /* {"name", ...}: Secrets tarmac checks to exist before apply */
	json_t *tasks;    /* task template key -> the Pod parsed from the config ConfigMap */
	struct tm_buf problems;
};

static void stack_secrets(struct stack *s)
{
	enum tm_secret_action act[TM_SECRET_COUNT];
	struct tm_secret_init_opts io = { .env = "dev" };
	struct tm_secret_target t = { .release = "airflow", .namespace = "airflow", .values = s->r.values.tree };
	struct tm_secret_key *k;
	struct tm_secret_set *set = NULL;
	struct tm_err err;

	env_make(&s->e);
	io.dir = s->e.dir;
	tm_err_init(&err);
	cr_assert_eq(tm_secret_init(act, &io, &err), 0, "%s", tm_err_msg(&err));
	k = env_key(&s->e);
	cr_assert_eq(tm_secret_set_open(&set, s->e.dir, k, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_secret_objects(&s->secrets, set, &t, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_secret_external(&s->external, set, &t, &err), 0, "%s", tm_err_msg(&err));
	tm_secret_set_free(set);
	tm_secret_key_free(k);
}

static json_t *find(json_t *objs, const char *kind, const char *name)
{
	size_t i;
	json_t *o;

	json_array_foreach(objs, i, o)
		if (!strcmp(S(o, "kind"), kind) && !strcmp(S(json_object_get(o, "metadata"), "name"), name))
			return o;
	return NULL;
}

static json_t *config_map(struct stack *s)
{
	return find(s->r.objects, "ConfigMap", "airflow-config");
}

/* Every data key of the config ConfigMap that holds a Pod: the task templates. */
static void parse_tasks(struct stack *s)
{
	const char *key;
	json_t *v, *pod;
	struct tm_err err;

	s->tasks = json_object();
	json_object_foreach(tm_doc_get(config_map(s), "data", NULL), key, v) {
		if (!strstr(key, ".yaml"))
			continue;
		tm_err_init(&err);
		cr_assert_eq(tm_doc_parse_yaml(&pod, S(json_object_get(config_map(s), "data"), key), strlen(json_string_value(v)),
					       key, &err), 0, "%s", tm_err_msg(&err));
		cr_assert_str_eq(S(pod, "kind"), "Pod", "config key '%s' is a Pod", key);
		json_object_set_new(s->tasks, key, pod);
	}
}

static void stack_render(struct stack *s, const char *env, const char *sets)
{
	struct tm_set_arg set = { .kind = TM_ARG_SET, .arg = sets };
	struct tm_render_opts o = { .env = env, .release = "airflow", .namespace = "airflow", .kube_version = "1.30",
				    .sets = &set, .nsets = sets ? 1 : 0 };
	struct tm_err err;

	memset(s, 0, sizeof(*s));
	s->problems = (struct tm_buf)TM_BUF_INIT("problems", 1 << 20);
	tm_err_init(&err);
	cr_assert_eq(tm_render(&s->r, &o, &err), 0, "%s", tm_err_msg(&err));
	stack_secrets(s);
	parse_tasks(s);
}

static void stack_drop(struct stack *s)
{
	tm_rendered_release(&s->r);
	tm_secret_objects_free(s->secrets);
	json_decref(s->external);
	json_decref(s->tasks);
	tm_buf_release(&s->problems);
	env_drop(&s->e);
}

static void problem(struct stack *s, const char *fmt, const char *a, const char *b, const char *c)
{
	cr_assert_eq(tm_buf_printf(&s->problems, NULL, "\n  - "), 0);
	cr_assert_eq(tm_buf_printf(&s->problems, NULL, fmt, a, b, c), 0);
}

/* airflow.cfg's value of [section] key, or NULL. */
static char *cfg_get(struct stack *s, const char *section, const char *key)
{
	const char *p = S(tm_doc_get(config_map(s), "data", NULL), "airflow.cfg");
	char cur[128] = "", line[1024];

	while (p && *p) {
		size_t n = strcspn(p, "\n"), k = strlen(key);
		snprintf(line, sizeof(line), "%.*s", (int)n, p);
		p += n + (p[n] == '\n');
		if (line[0] == '[')
			snprintf(cur, sizeof(cur), "%.*s", (int)strcspn(line + 1, "]"), line + 1);
		else if (!strcmp(cur, section) && !strncmp(line, key, k) && !strncmp(line + k, " = ", 3))
			return strdup(line + k + 3);
	}
	return NULL;
}

static bool is_secret_known(struct stack *s, const char *name)
{
	size_t i;
	json_t *e;

	if (find(s->r.objects, "Secret", name) || find(s->secrets, "Secret", name))
		return true;
	json_array_foreach(s->external, i, e)
		if (!strcmp(S(e, "name"), name))
			return true;
	return false;
}

static json_t *named(json_t *list, const char *name)
{
	size_t i;
	json_t *x;

	json_array_foreach(list, i, x)
		if (S(x, "name") && !strcmp(S(x, "name"), name))
			return x;
	return NULL;
}

/* The file behind a ConfigMap volume at rel (a key, or an item's path). */
static void configmap_file(struct stack *s, const char *where, json_t *vol, const char *rel)
{
	const char *cm = S(json_object_get(vol, "configMap"), "name"), *key = rel;
	json_t *obj = find(s->r.objects, "ConfigMap", cm), *items = tm_doc_get(vol, "configMap", "items", NULL), *it;
	size_t i;

	if (!obj) {
		problem(s, "%s: ConfigMap '%s' is not rendered%s", where, cm, "");
		return;
	}
	if (items) {
		key = NULL;
		json_array_foreach(items, i, it)
			if (!strcmp(S(it, "path"), rel))
				key = S(it, "key");
	}
	if (!key || !json_object_get(json_object_get(obj, "data"), key))
		problem(s, "%s: ConfigMap '%s' has no key '%s'", where, cm, rel);
}

/* Is path provided in container c of pod by a volumeMount whose volume holds it? */
static void provides(struct stack *s, const char *where, json_t *pod, json_t *c, const char *path)
{
	json_t *m, *best = NULL, *vol;
	size_t i, blen = 0;
	char at[600];

	snprintf(at, sizeof(at), "%s container '%s': '%s'", where, S(c, "name"), path);
	json_array_foreach(json_object_get(c, "volumeMounts"), i, m) {
		const char *mp = S(m, "mountPath");
		size_t n = strlen(mp);
		if (!strcmp(mp, path) || (!S(m, "subPath") && !strncmp(mp, path, n) && path[n] == '/' && n > blen)) {
			best = m;
			blen = n;
			if (!strcmp(mp, path))
				break;
		}
	}
	if (!best) {
		problem(s, "%s: no volumeMount provides it%s%s", at, "", "");
		return;
	}
	if (!(vol = named(json_object_get(pod, "volumes"), S(best, "name")))) {
		problem(s, "%s: volume '%s' is not in the pod%s", at, S(best, "name"), "");
		return;
	}
	if (json_object_get(vol, "configMap")) {
		if (!strcmp(S(best, "mountPath"), path) && !S(best, "subPath"))
			problem(s, "%s: a whole ConfigMap is mounted there, not a file%s%s", at, "", "");
		else
			configmap_file(s, at, vol, S(best, "subPath") ? S(best, "subPath") : path + blen + 1);
	} else if (json_object_get(vol, "secret")) {
		if (!is_secret_known(s, S(json_object_get(vol, "secret"), "secretName")))
			problem(s, "%s: Secret '%s' is neither made nor checked%s", at,
				S(json_object_get(vol, "secret"), "secretName"), "");
	} else if (!json_object_get(vol, "emptyDir") && !json_object_get(vol, "persistentVolumeClaim")) {
		problem(s, "%s: volume '%s' cannot provide it%s", at, S(vol, "name"), "");
	} else if (S(best, "subPath")) {
		problem(s, "%s: a subPath of the volume '%s', which nothing fills%s", at, S(vol, "name"), "");
	}
}

typedef void (*pod_fn)(struct stack *s, const char *where, json_t *pod);

/* fn over the pod spec of every workload and Job, and of every task template. */
static void each_pod(struct stack *s, pod_fn fn)
{
	char where[300];
	const char *key;
	size_t i;
	json_t *o, *pod;

	json_array_foreach(s->r.objects, i, o) {
		if (!(pod = tm_doc_get(o, "spec", "template", "spec", NULL)))
			continue;
		snprintf(where, sizeof(where), "%s '%s'", S(o, "kind"), S(json_object_get(o, "metadata"), "name"));
		fn(s, where, pod);
	}
	json_object_foreach(s->tasks, key, o) {
		snprintf(where, sizeof(where), "task template '%s'", key);
		fn(s, where, json_object_get(o, "spec"));
	}
}

static json_t *all_containers(json_t *pod)
{
	json_t *all = json_array();

	json_array_extend(all, json_object_get(pod, "initContainers"));
	json_array_extend(all, json_object_get(pod, "containers"));
	return all;
}

static char *airflow_image(struct stack *s)
{
	json_t *v = s->r.values.tree, *img = tm_doc_get(v, "images", "airflow", NULL);
	char *out = NULL;

	cr_assert(asprintf(&out, "%s:%s", S(img, "repository") ? S(img, "repository") : S(v, "defaultAirflowRepository"),
			   S(img, "tag") ? S(img, "tag") : S(v, "defaultAirflowTag")) > 0);
	return out;
}

/* Every Airflow container reads /opt/airflow/airflow.cfg (AIRFLOW_HOME of the image);
 * every *_FILE variable names a file its container has; every ConfigMap file mounted
 * is a key of that ConfigMap. */
static void files_of_pod(struct stack *s, const char *where, json_t *pod)
{
	json_t *all = all_containers(pod), *c, *e, *m, *vol;
	char *image = airflow_image(s);
	size_t i, j;

	json_array_foreach(all, i, c) {
		if (!strcmp(S(c, "image"), image))
			provides(s, where, pod, c, "/opt/airflow/airflow.cfg");
		json_array_foreach(json_object_get(c, "env"), j, e) {
			const char *n = S(e, "name"), *v = S(e, "value");
			if (v && v[0] == '/' && strlen(n) > 5 && !strcmp(n + strlen(n) - 5, "_FILE"))
				provides(s, where, pod, c, v);
		}
		json_array_foreach(json_object_get(c, "volumeMounts"), j, m)
			if (S(m, "subPath") && (vol = named(json_object_get(pod, "volumes"), S(m, "name"))) &&
			    json_object_get(vol, "configMap"))
				configmap_file(s, where, vol, S(m, "subPath"));
	}
	json_decref(all);
	free(image);
}

/* What a pod references exists when it starts: its ServiceAccount, ConfigMaps and
 * claims are rendered, its Secrets rendered, made by the secrets step or checked. */
static void refs_of_pod(struct stack *s, const char *where, json_t *pod)
{
	const char *sa = S(pod, "serviceAccountName"), *claim = NULL;
	json_t *all = all_containers(pod), *c, *e, *v;
	size_t i, j;

	if (sa && !find(s->r.objects, "ServiceAccount", sa))
		problem(s, "%s: ServiceAccount '%s' is not rendered%s", where, sa, "");
	json_array_foreach(json_object_get(pod, "volumes"), i, v) {
		if (S(json_object_get(v, "configMap"), "name") && !find(s->r.objects, "ConfigMap", S(json_object_get(v, "configMap"), "name")))
			problem(s, "%s: ConfigMap '%s' is not rendered%s", where, S(json_object_get(v, "configMap"), "name"), "");
		if ((claim = S(json_object_get(v, "persistentVolumeClaim"), "claimName")) &&
		    !find(s->r.objects, "PersistentVolumeClaim", claim))
			problem(s, "%s: PersistentVolumeClaim '%s' is not rendered%s", where, claim, "");
		if (S(json_object_get(v, "secret"), "secretName") && !is_secret_known(s, S(json_object_get(v, "secret"), "secretName")))
			problem(s, "%s: Secret '%s' is neither made nor checked%s", where, S(json_object_get(v, "secret"), "secretName"), "");
	}
	json_array_foreach(all, i, c) {
		json_array_foreach(json_object_get(c, "env"), j, e) {
			const char *sec = json_string_value(tm_doc_get(e, "valueFrom", "secretKeyRef", "name", NULL));
			const char *cm = json_string_value(tm_doc_get(e, "valueFrom", "configMapKeyRef", "name", NULL));
			if (sec && !is_secret_known(s, sec))
				problem(s, "%s: Secret '%s' is neither made nor checked%s", where, sec, "");
			if (cm && !find(s->r.objects, "ConfigMap", cm))
				problem(s, "%s: ConfigMap '%s' is not rendered%s", where, cm, "");
		}
		json_array_foreach(json_object_get(c, "envFrom"), j, e) {
			const char *sec = json_string_value(tm_doc_get(e, "secretRef", "name", NULL));
			if (sec && !is_secret_known(s, sec))
				problem(s, "%s: Secret '%s' is neither made nor checked%s", where, sec, "");
		}
	}
	json_decref(all);
}

static json_t *container(json_t *pod, const char *name)
{
	return named(json_object_get(pod, "containers"), name);
}

/* The pod launcher (the scheduler's container) has pod_template_file and every task
 * template beside it, where a task's executor_config names them. */
static void launcher_files(struct stack *s)
{
	char *tmpl = cfg_get(s, "kubernetes_executor", "pod_template_file"), path[600];
	json_t *sched = tm_doc_get(find(s->r.objects, "Deployment", "airflow-scheduler"), "spec", "template", "spec", NULL);
	const char *key;
	json_t *pod;
	size_t dir;

	cr_assert_not_null(tmpl, "[kubernetes_executor] pod_template_file is set");
	cr_assert_not_null(sched);
	provides(s, "the scheduler", sched, container(sched, "scheduler"), tmpl);
	dir = strrchr(tmpl, '/') - tmpl;
	json_object_foreach(s->tasks, key, pod) {
		snprintf(path, sizeof(path), "%.*s/%s", (int)dir, tmpl, key);
		if (strcmp(path, tmpl))
			provides(s, "the scheduler", sched, container(sched, "scheduler"), path);
	}
	free(tmpl);
}

/* dags_folder is in every container that parses DAGs when they come from a volume. */
static void dag_readers(struct stack *s)
{
	static const char *const deploys[] = { "scheduler", "dag-processor", "triggerer", "worker" };
	char *folder = cfg_get(s, "core", "dags_folder"), name[64];
	const char *key;
	json_t *o, *pod;

	cr_assert_not_null(folder);
	for (size_t i = 0; i < TM_ARRAY_LEN(deploys); i++) {
		snprintf(name, sizeof(name), "airflow-%s", deploys[i]);
		if ((pod = tm_doc_get(find(s->r.objects, "Deployment", name), "spec", "template", "spec", NULL)))
			provides(s, name, pod, container(pod, deploys[i]), folder);
	}
	json_object_foreach(s->tasks, key, o)
		provides(s, key, json_object_get(o, "spec"), container(json_object_get(o, "spec"), "base"), folder);
	free(folder);
}

/* Every check over one stack; returns the problems found (empty: none). */
static const char *check(struct stack *s)
{
	json_t *v = s->r.values.tree;

	each_pod(s, files_of_pod);
	each_pod(s, refs_of_pod);
	if (strstr(S(v, "executor"), "Kubernetes"))
		launcher_files(s);
	if (json_is_true(tm_doc_get(v, "dags", "gitSync", "enabled", NULL)) ||
	    json_is_true(tm_doc_get(v, "dags", "persistence", "enabled", NULL)))
		dag_readers(s);
	return tm_buf_cstr(&s->problems);
}

static void stack_ok(const char *env, const char *sets, size_t templates)
{
	struct stack s;
	const char *p;

	stack_render(&s, env, sets);
	p = check(&s);
	cr_assert_str_eq(p, "", "%s %s:%s", env, sets ? sets : "", p);
	cr_assert_eq(json_object_size(s.tasks), templates, "%s %s: %zu task templates", env, sets ? sets : "",
		     json_object_size(s.tasks));
	stack_drop(&s);
}

Test(executor_paths, every_environment)
{
	stack_ok("dev", NULL, 3);
	stack_ok("staging", NULL, 3);
	stack_ok("prod", NULL, 3);
	stack_ok("prod", "executor=CeleryKubernetesExecutor", 3);
	stack_ok("prod", "executor=CeleryExecutor", 0);
	/* Airflow 3's multiple executors: the KubernetesExecutor's templates come with it */
	stack_ok("prod", "executor=CeleryExecutor\\,KubernetesExecutor", 3);
	stack_ok("prod", "executor=LocalExecutor\\,KubernetesExecutor", 3);
}

Test(executor_paths, dags_from_git_and_volumes)
{
	stack_ok("dev", "dags.gitSync.enabled=true,dags.gitSync.repo=ssh://git@git.example/dags.git,"
			"dags.gitSync.sshKeySecret=airflow-ssh-secret,dags.gitSync.knownHosts=git.example ssh-ed25519 AAAA",
		 3);
	stack_ok("staging", "dags.persistence.enabled=true,executor=CeleryKubernetesExecutor", 3);
}

Test(executor_paths, task_templates_switched)
{
	stack_ok("dev", "podTemplates.cpuIntensive.enabled=false,podTemplates.gpu.modelCache.enabled=true", 2);
	stack_ok("prod", "podTemplates.gpu.enabled=false,podTemplates.gpu.modelCache.enabled=true", 2);
	stack_ok("dev", "registry.secretName=regcred,logs.remote.enabled=true,logs.remote.baseLogFolder=s3://logs", 3);
}

/* The checks catch what users met: templates not mounted where the configuration names
 * them, a claim nothing makes, a mounted key the ConfigMap lacks. */
Test(executor_paths, finds_what_is_missing)
{
	struct stack s;
	json_t *sched, *mounts, *gpu;

	stack_render(&s, "dev", NULL);
	sched = container(tm_doc_get(find(s.r.objects, "Deployment", "airflow-scheduler"), "spec", "template", "spec", NULL),
			  "scheduler");
	mounts = json_object_get(sched, "volumeMounts");
	while (json_array_size(mounts) > 2)
		json_array_remove(mounts, json_array_size(mounts) - 1); /* airflow.cfg and logs, as before */
	gpu = json_object_get(json_object_get(s.tasks, "gpu.yaml"), "spec");
	json_array_append_new(json_object_get(gpu, "volumes"),
			      json_pack("{s:s, s:{s:s}}", "name", "model-cache", "persistentVolumeClaim", "claimName", "model-cache"));
	cr_assert_str_eq(check(&s),
			 "\n  - task template 'gpu.yaml': PersistentVolumeClaim 'model-cache' is not rendered"
			 "\n  - the scheduler container 'scheduler': '/opt/airflow/pod_templates/pod_template_file.yaml': no "
			 "volumeMount provides it"
			 "\n  - the scheduler container 'scheduler': '/opt/airflow/pod_templates/cpu_intensive.yaml': no "
			 "volumeMount provides it"
			 "\n  - the scheduler container 'scheduler': '/opt/airflow/pod_templates/gpu.yaml': no volumeMount "
			 "provides it");
	stack_drop(&s);
}

Test(executor_paths, finds_a_mounted_key_the_config_lacks)
{
	struct stack s;

	stack_render(&s, "dev", NULL);
	json_object_del(json_object_get(config_map(&s), "data"), "gpu.yaml");
	json_object_del(s.tasks, "gpu.yaml");
	cr_assert_str_eq(check(&s), "\n  - Deployment 'airflow-scheduler': ConfigMap 'airflow-config' has no key 'gpu.yaml'");
	stack_drop(&s);
}

/* The references a check before apply must look up: none beyond the stack's own
 * objects and the secrets step's by default; what the values name otherwise. */
Test(executor_paths, task_refs_left_to_check)
{
	struct stack s;
	json_t *all, *refs = NULL;
	struct tm_err err;
	char *got;

	stack_render(&s, "dev", "workers.serviceAccount.create=false,workers.serviceAccount.name=ext-sa,"
				"logs.remote.enabled=true,logs.remote.baseLogFolder=s3://logs,logs.remote.credentialsSecret=s3-creds,"
				"podTemplates.gpu.modelCache.enabled=true");
	all = json_copy(s.r.objects);
	json_array_extend(all, s.secrets);
	tm_err_init(&err);
	cr_assert_eq(tm_render_task_refs(&refs, all, &err), 0, "%s", tm_err_msg(&err));
	got = json_dumps(refs, JSON_COMPACT);
	cr_assert_str_eq(got, "[{\"kind\":\"ServiceAccount\",\"name\":\"ext-sa\",\"template\":\"pod_template_file.yaml\"},"
			      "{\"kind\":\"Secret\",\"name\":\"s3-creds\",\"template\":\"pod_template_file.yaml\"}]");
	free(got);
	json_decref(refs);
	/* without the secrets step, its Secrets are to be looked up too */
	cr_assert_eq(tm_render_task_refs(&refs, s.r.objects, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(json_array_size(refs), 5, "ext-sa, s3-creds, fernet-key, metadata, api-secret-key");
	json_decref(refs);
	json_decref(all);
	stack_drop(&s);
	stack_render(&s, "prod", NULL);
	all = json_copy(s.r.objects);
	json_array_extend(all, s.secrets);
	cr_assert_eq(tm_render_task_refs(&refs, all, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(json_array_size(refs), 0, "the stack makes all its task templates need");
	json_decref(refs);
	json_decref(all);
	stack_drop(&s);
}
