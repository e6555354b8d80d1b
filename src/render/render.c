/* The render pipeline: values (bundle defaults <- environment overlay <- files <- --set),
 * schema check, templates -> YAML -> objects, then what every object gets the same
 * way: standard labels, its namespace, and checksums of the config it consumes. */
#include <stdlib.h>
#include <string.h>

#include "tarmac/apply.h"
#include "tarmac/doc.h"
#include "render_private.h"
#include "tarmac/labels.h"

#define TEMPLATE_DIR "templates/"

void tm_rendered_release(struct tm_rendered *r)
{
	tm_values_release(&r->values);
	json_decref(r->objects);
	json_decref(r->sources);
	r->objects = r->sources = NULL;
}

static void warn(const struct tm_render_opts *o, const char *subject, const char *msg)
{
	struct tm_event ev = { .level = TM_WARN, .kind = "render", .subject = subject, .msg = msg };

	if (o->report)
		o->report(o->report_ctx, &ev);
}

/* The environments the bundle has an overlay for, for the message when one is missing. */
static void list_envs(char *out, size_t n)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < tm_embedded_nfiles; i++) {
		const char *p = tm_embedded_files[i].path, *dot;
		if (strncmp(p, "overlays/", 9) != 0 || !(dot = strrchr(p, '.')) || strcmp(dot, ".yaml") != 0)
			continue;
		o += (size_t)snprintf(out + o, o < n ? n - o : 0, "%s%.*s", o ? ", " : "", (int)(dot - p - 9), p + 9);
		if (o >= n)
			break;
	}
}

/* Values with origins (for 'tarmac values' and for messages) or without (the fast path:
 * a render that succeeds never shows an origin, so it does not pay for them). */
static int load_values(struct tm_values *out, const struct tm_render_opts *o, bool origins, struct tm_err *err)
{
	struct tm_values v = { 0 };
	json_t *schema = NULL, *ignored = NULL; /* schema: borrowed */
	char path[256];
	bool again = false;
	int rc;

	snprintf(path, sizeof(path), "overlays/%s.yaml", o->env ? o->env : "");
	if (o->env && !tm_embedded_find(path)) {
		char envs[256];
		list_envs(envs, sizeof(envs));
		rc = tm_err_set(err, TM_EINVALID, "no environment '%s' (the bundle has: %s)", o->env, envs);
		goto out;
	}
	if ((rc = tm_bundle_defaults(&v, o->env, origins, err)) < 0)
		goto out;
	for (size_t i = 0; i < o->nfiles; i++)
		if ((rc = tm_values_merge_yaml(&v, o->files[i].text, o->files[i].len, o->files[i].name, err)) < 0)
			goto out;
	for (size_t i = 0; i < o->nsets; i++) {
		const struct tm_set_arg *s = &o->sets[i];
		if (s->kind == TM_ARG_SET_FILE) {
			const char *eq = strchr(s->arg, '=');
			char *key = eq ? strndup(s->arg, (size_t)(eq - s->arg)) : NULL, *origin = NULL;
			if (!key) {
				rc = tm_err_set(err, TM_EINVALID, "--set-file '%s': expected key=path", s->arg);
				goto out;
			}
			if (asprintf(&origin, "--set-file %s", s->arg) < 0)
				origin = NULL;
			rc = origin ? tm_values_set_text(&v, key, s->text, s->len, origin, err)
				    : tm_err_set(err, TM_ERROR, "out of memory");
			free(key);
			free(origin);
		} else {
			rc = tm_values_set(&v, s->arg, s->kind == TM_ARG_SET_STRING ? TM_SET_STRING : TM_SET_TYPED, err);
		}
		if (rc < 0)
			goto out;
	}
	if ((rc = tm_bundle_schema(&schema, err)) < 0)
		goto out;
	if (schema) {
		if ((rc = tm_values_validate(&v, schema, o->allow_unknown, &ignored, err)) < 0)
			goto out;
		/* ignored keys are named where they were written: that needs the origins */
		if (!origins && json_array_size(ignored)) {
			again = true;
			goto out;
		}
		for (size_t i = 0; i < json_array_size(ignored); i++)
			warn(o, "values", json_string_value(json_array_get(ignored, i)));
	}
	*out = v;
	v = (struct tm_values){ 0 };
out:
	json_decref(ignored);
	tm_values_release(&v);
	return again ? load_values(out, o, true, err) : rc;
}

int tm_render_values(struct tm_values *out, const struct tm_render_opts *o, struct tm_err *err)
{
	return load_values(out, o, true, err);
}

/* ------------------------------------------------------------------ objects */

/* Sets obj.field.key to value unless the template set that key itself; field is made
 * when missing. where names obj in the message ("file: Kind 'name': metadata"). */
static int set_string_in(json_t *obj, const char *field, const char *key, const char *value, const char *where,
			 struct tm_err *err)
{
	json_t *m = json_object_get(obj, field);

	if (!m || json_is_null(m)) {
		m = json_object();
		if (!m || json_object_set_new(obj, field, m) < 0)
			return tm_err_set(err, TM_ERROR, "out of memory");
	}
	if (!json_is_object(m))
		return tm_err_set(err, TM_EINVALID, "%s.%s must be a mapping", where, field);
	if (json_object_get(m, key))
		return 0;
	return json_object_set_new(m, key, json_string(value)) < 0 ? tm_err_set(err, TM_ERROR, "out of memory") : 0;
}

static int standard_labels(json_t *meta, json_t *labels, const char *where, struct tm_err *err)
{
	const char *k;
	json_t *v;
	int rc;

	json_object_foreach(labels, k, v) {
		if ((rc = set_string_in(meta, "labels", k, json_string_value(v), where, err)) < 0)
			return rc;
	}
	return 0;
}

/* Records that a pod reads ConfigMap cm and/or Secret sec (either may be NULL). */
static void add_refs(json_t *into, const char *cm, const char *sec)
{
	char key[320];

	if (cm) {
		snprintf(key, sizeof(key), "ConfigMap/%s", cm);
		json_object_set_new(into, key, json_true());
	}
	if (sec) {
		snprintf(key, sizeof(key), "Secret/%s", sec);
		json_object_set_new(into, key, json_true());
	}
}

static const char *name_at(json_t *obj, const char *field, const char *key)
{
	return json_string_value(json_object_get(json_object_get(obj, field), key));
}

/* Collects "ConfigMap/<name>" and "Secret/<name>" for what a pod spec consumes:
 * volumes, env valueFrom and envFrom of every container and init container. */
static void consumed(json_t *podspec, json_t *into)
{
	static const char *const lists[] = { "containers", "initContainers" };
	size_t i, j;
	json_t *x, *c;

	json_array_foreach(json_object_get(podspec, "volumes"), i, x)
		add_refs(into, name_at(x, "configMap", "name"), name_at(x, "secret", "secretName"));
	for (size_t l = 0; l < TM_ARRAY_LEN(lists); l++) {
		json_array_foreach(json_object_get(podspec, lists[l]), i, c) {
			json_array_foreach(json_object_get(c, "env"), j, x) {
				json_t *from = json_object_get(x, "valueFrom");
				add_refs(into, name_at(from, "configMapKeyRef", "name"), name_at(from, "secretKeyRef", "name"));
			}
			json_array_foreach(json_object_get(c, "envFrom"), j, x)
				add_refs(into, name_at(x, "configMapRef", "name"), name_at(x, "secretRef", "name"));
		}
	}
}

/* The hash of a ConfigMap's or Secret's content (data, stringData, binaryData). */
static int content_hash(json_t *obj, char hex[65], struct tm_err *err)
{
	json_t *payload = json_pack("{s:O?, s:O?, s:O?}", "data", json_object_get(obj, "data"), "stringData",
				    json_object_get(obj, "stringData"), "binaryData", json_object_get(obj, "binaryData"));
	char *data = payload ? json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(payload);
	if (!data)
		return tm_err_set(err, TM_ERROR, "out of memory");
	tm_sha256_hex(hex, data, strlen(data));
	free(data);
	return 0;
}

/* checksum/<kind>-<name> on every pod template, for each rendered ConfigMap or Secret
 * it consumes: changing one rolls exactly the pods that read it. */
static int checksums(json_t *objects, struct tm_err *err)
{
	json_t *hashes = json_object(), *obj; /* "ConfigMap/name" -> hex, each hashed once */
	size_t i;
	int rc = 0;

	if (!hashes)
		return tm_err_set(err, TM_ERROR, "out of memory");
	json_array_foreach(objects, i, obj) {
		const char *kind = json_string_value(json_object_get(obj, "kind"));
		char key[320], hex[65];
		if (strcmp(kind, "ConfigMap") && strcmp(kind, "Secret"))
			continue;
		snprintf(key, sizeof(key), "%s/%s", kind, json_string_value(json_object_get(json_object_get(obj, "metadata"), "name")));
		if ((rc = content_hash(obj, hex, err)) < 0)
			goto out;
		json_object_set_new(hashes, key, json_string(hex));
	}
	json_array_foreach(objects, i, obj) {
		json_t *tmpl = tm_kind_pod_template(obj), *refs, *unused, *hash;
		const char *ref;

		if (!tmpl)
			continue;
		if (!(refs = json_object())) {
			rc = tm_err_set(err, TM_ERROR, "out of memory");
			goto out;
		}
		consumed(json_object_get(tmpl, "spec"), refs);
		json_object_foreach(refs, ref, unused) {
			char ann[320];
			const char *slash = strchr(ref, '/');
			if (!(hash = json_object_get(hashes, ref)))
				continue; /* not rendered here (an external Secret, or one from the secrets step) */
			snprintf(ann, sizeof(ann), "checksum/%s-%s", ref[0] == 'C' ? "configmap" : "secret", slash + 1);
			if (!json_object_get(tmpl, "metadata") && json_object_set_new(tmpl, "metadata", json_object()) < 0) {
				json_decref(refs);
				rc = tm_err_set(err, TM_ERROR, "out of memory");
				goto out;
			}
			if ((rc = set_string_in(json_object_get(tmpl, "metadata"), "annotations", ann, json_string_value(hash),
							"the pod template's metadata", err)) < 0) {
				json_decref(refs);
				goto out;
			}
		}
		json_decref(refs);
	}
out:
	json_decref(hashes);
	return rc;
}

/* API groups every supported Kubernetes serves (the versions come from capabilities). */
static bool builtin_group(const char *api_version)
{
	static const char *const groups[] = { "apps", "batch", "rbac.authorization.k8s.io", "policy", "autoscaling",
					      "networking.k8s.io", "storage.k8s.io", "coordination.k8s.io",
					      "scheduling.k8s.io", "apiextensions.k8s.io" };
	const char *slash = strchr(api_version, '/');

	if (!slash)
		return true; /* the core group: "v1" */
	for (size_t i = 0; i < TM_ARRAY_LEN(groups); i++)
		if (strlen(groups[i]) == (size_t)(slash - api_version) && !strncmp(api_version, groups[i], strlen(groups[i])))
			return true;
	return false;
}

/* Whether the cluster serves obj's API; required is set when values insist on it. */
static bool api_served(const struct tm_render_opts *o, const json_t *values, const json_t *obj, bool *required)
{
	const char *av = json_string_value(json_object_get(obj, "apiVersion"));
	size_t i;
	json_t *x;

	*required = false;
	if (builtin_group(av))
		return true;
	for (i = 0; i < o->napi_versions; i++)
		if (strcmp(o->api_versions[i], av) == 0)
			return true;
	json_array_foreach(json_object_get(values, "requiredApis"), i, x)
		if (json_is_string(x) && strcmp(json_string_value(x), av) == 0)
			*required = true;
	return false;
}

/* Checks the shape of one rendered object and gives it labels and its namespace. */
static int finish_object(json_t *obj, const char *source, json_t *labels, const char *ns, struct tm_err *err)
{
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	json_t *meta = json_object_get(obj, "metadata"), *tmpl;
	const char *name = json_string_value(json_object_get(meta, "name"));
	char where[700];
	int rc;

	if (!json_is_object(obj) || !json_is_string(json_object_get(obj, "apiVersion")) || !kind || !name)
		return tm_err_set(err, TM_EINVALID, "%s: every object needs apiVersion, kind and metadata.name", source);
	if (tm_kind_cluster_scoped(obj))
		json_object_del(meta, "namespace");
	else if (!json_object_get(meta, "namespace"))
		json_object_set_new(meta, "namespace", json_string(ns));
	snprintf(where, sizeof(where), "%s: %s '%s': metadata", source, kind, name);
	if ((rc = standard_labels(meta, labels, where, err)) < 0)
		return rc;
	if ((tmpl = tm_kind_pod_template(obj))) {
		snprintf(where, sizeof(where), "%s: %s '%s': the pod template's metadata", source, kind, name);
		if (!json_object_get(tmpl, "metadata") && json_object_set_new(tmpl, "metadata", json_object()) < 0)
			return tm_err_set(err, TM_ERROR, "out of memory");
		if ((rc = standard_labels(json_object_get(tmpl, "metadata"), labels, where, err)) < 0)
			return rc;
	}
	return 0;
}

/* What templates may assume of the cluster: the API versions of the kinds whose group
 * moved between the versions tarmac supports (1.20 and later). */
static json_t *capabilities(const char *kube_version, struct tm_err *err)
{
	unsigned maj = 0, min = 0;
	char tail;

	if (!kube_version)
		kube_version = TM_DEFAULT_KUBE_VERSION;
	if (sscanf(kube_version, "%u.%u%c", &maj, &min, &tail) != 2 || maj != 1 || min < 20) {
		tm_err_set(err, TM_EINVALID, "Kubernetes %s is not supported (1.20 or later)", kube_version);
		return NULL;
	}
	return json_pack("{s:s, s:i, s:s, s:s, s:s}", "kubeVersion", kube_version, "minor",
			 (int)min, "hpaApiVersion", min >= 23 ? "autoscaling/v2" : "autoscaling/v2beta2", "pdbApiVersion",
			 min >= 21 ? "policy/v1" : "policy/v1beta1", "cronJobApiVersion",
			 min >= 21 ? "batch/v1" : "batch/v1beta1");
}

/* Where objectPatches[i] was set, for messages. The fast path kept no origins: they
 * are loaded once, only when a message needs one. */
struct patch_origins {
	const struct tm_render_opts *o;
	const struct tm_values *values;
	struct tm_values full;
	bool loaded;
};

static const char *patch_origin(struct patch_origins *po, size_t i)
{
	const struct tm_values *v = po->values;
	char ptr[64];
	const char *where;

	if (!v->origin) {
		if (!po->loaded) {
			struct tm_err ignored;
			po->loaded = true;
			tm_err_init(&ignored);
			if (load_values(&po->full, po->o, true, &ignored) < 0)
				memset(&po->full, 0, sizeof(po->full));
		}
		v = &po->full;
	}
	snprintf(ptr, sizeof(ptr), "/objectPatches/%zu/name", i);
	where = json_string_value(json_object_get(v->origin, ptr));
	return where ? where : "values";
}

/* values.objectPatches: RFC 7386 merge patches on rendered objects, for what no value
 * reaches. A patch that matches nothing is an error (a typo must not pass silently). */
static int apply_patches(struct tm_rendered *r, const struct tm_render_opts *o, struct tm_err *err)
{
	struct patch_origins po = { .o = o, .values = &r->values };
	json_t *patches = json_object_get(r->values.tree, "objectPatches"), *p;
	const char *ns = o->namespace;
	size_t i, j;
	int rc = 0;

	json_array_foreach(patches, i, p) {
		const char *kind = json_string_value(json_object_get(p, "kind"));
		const char *name = json_string_value(json_object_get(p, "name"));
		const char *pns = json_string_value(json_object_get(p, "namespace"));
		json_t *patch = json_object_get(p, "patch"), *obj;
		int hits = 0;

		if (!kind || !name || !json_is_object(patch)) {
			rc = tm_err_set(err, TM_EINVALID, "%s: objectPatches[%zu] needs kind, name and a mapping as patch",
					patch_origin(&po, i), i);
			goto out;
		}
		json_array_foreach(r->objects, j, obj) {
			json_t *meta = json_object_get(obj, "metadata");
			const char *ons = json_string_value(json_object_get(meta, "namespace"));
			if (strcmp(json_string_value(json_object_get(obj, "kind")), kind) ||
			    strcmp(json_string_value(json_object_get(meta, "name")), name) ||
			    (ons && strcmp(ons, pns ? pns : ns)))
				continue;
			/* the array holds the object: patch our own reference, then put it back */
			json_incref(obj);
			if (tm_doc_merge_patch(&obj, patch) < 0 || json_array_set_new(r->objects, j, obj) < 0) {
				rc = tm_err_set(err, TM_ERROR, "out of memory");
				goto out;
			}
			meta = json_object_get(obj, "metadata");
			if (!json_is_string(json_object_get(obj, "apiVersion")) ||
			    !json_is_string(json_object_get(obj, "kind")) || !json_is_string(json_object_get(meta, "name")) ||
			    strcmp(json_string_value(json_object_get(obj, "kind")), kind) ||
			    strcmp(json_string_value(json_object_get(meta, "name")), name)) {
				rc = tm_err_set(err, TM_EINVALID, "%s: objectPatches[%zu] may not change apiVersion, kind or name",
						patch_origin(&po, i), i);
				goto out;
			}
			hits++;
		}
		if (!hits) {
			rc = tm_err_set(err, TM_EINVALID, "%s: objectPatches[%zu]: no rendered %s '%s' in namespace '%s'",
					patch_origin(&po, i), i, kind, name, pns ? pns : ns);
			goto out;
		}
	}
out:
	if (po.loaded)
		tm_values_release(&po.full);
	return rc;
}

/* The labels every object gets: the standard ones, Airflow's version when the values
 * name it, then values.labels (the site's own; the standard ones win). */
static json_t *object_labels(const struct tm_render_opts *o, const json_t *values)
{
	const char *version = json_string_value(json_object_get(values, "airflowVersion"));
	json_t *labels = tm_labels_standard(o->release), *v;
	const char *k;

	if (labels && version && json_object_set_new(labels, TM_LABEL_VERSION, json_string(version)) < 0) {
		json_decref(labels);
		return NULL;
	}
	json_object_foreach(json_object_get(values, "labels"), k, v) {
		if (labels && !json_object_get(labels, k))
			json_object_set(labels, k, v);
	}
	return labels;
}

/* Whether doc (from the template name) goes out: an object of an API the cluster does
 * not serve is left out with a warning, or fails when values.requiredApis names it. */
static int keep_served(const struct tm_render_opts *o, const json_t *values, json_t *doc, const char *name,
		       bool *keep, struct tm_err *err)
{
	const char *av = json_string_value(json_object_get(doc, "apiVersion"));
	const char *kind = json_string_value(json_object_get(doc, "kind"));
	char subject[256], msg[512];
	bool required;

	if ((*keep = api_served(o, values, doc, &required)))
		return 0;
	snprintf(subject, sizeof(subject), "%s %s", kind,
		 json_string_value(json_object_get(json_object_get(doc, "metadata"), "name")));
	if (required)
		return tm_err_set(err, TM_EINVALID, "%s: %s needs the API %s, which the cluster does not serve (install its "
				  "CRD, or pass --api-versions %s)", name, subject, av, av);
	snprintf(msg, sizeof(msg), "left out: the cluster does not serve %s (install its CRD or pass --api-versions %s; "
		 "list it in requiredApis to make this an error)", av, av);
	warn(o, subject, msg);
	return 0;
}

/* Renders one template of the bundle into r's objects, text as scratch. The template is
 * parsed here and freed after use (only partials stay in the cache): the memory of one
 * template is reused for the next. */
static int render_template(struct tm_rendered *r, const struct tm_embedded_file *f, const struct tm_render_opts *o,
			   json_t *scope, struct tm_tmpl_cache *cache, json_t *labels, struct tm_buf *text,
			   struct tm_err *err)
{
	struct tm_tmpl *t = NULL;
	json_t *docs = NULL, *doc;
	char name[256];
	bool keep;
	size_t j;
	int rc;

	snprintf(name, sizeof(name), "bundle/%s", f->path);
	tm_buf_clear(text);
	rc = tm_tmpl_parse(&t, name, (const char *)f->data, f->len, err);
	if (rc == 0)
		rc = tm_tmpl_render_cached(t, scope, cache, text, err);
	tm_tmpl_free(t);
	if (rc < 0)
		return rc;
	snprintf(name, sizeof(name), "bundle/%s (rendered)", f->path);
	if ((rc = tm_doc_parse_yaml_stream(&docs, tm_buf_cstr(text), text->len, name, err)) < 0)
		return rc;
	json_array_foreach(docs, j, doc) {
		if ((rc = finish_object(doc, name, labels, o->namespace, err)) < 0 ||
		    (rc = keep_served(o, r->values.tree, doc, name, &keep, err)) < 0)
			break;
		if (keep && (json_array_append(r->objects, doc) < 0 ||
			     json_array_append_new(r->sources, json_string(f->path)) < 0)) {
			rc = tm_err_set(err, TM_ERROR, "out of memory");
			break;
		}
	}
	json_decref(docs);
	return rc;
}

/* The values, or when they fail, the values loaded again with origins to say where the
 * bad value came from. */
static int values_or_where(struct tm_values *v, const struct tm_render_opts *o, struct tm_err *err)
{
	int rc = load_values(v, o, false, err);

	if (rc == TM_EINVALID) {
		int again = load_values(v, o, true, err);

		rc = again < 0 ? again : tm_err_set(err, TM_ERROR, "internal: values failed only without origins");
	}
	return rc;
}

int tm_render(struct tm_rendered *out, const struct tm_render_opts *o, struct tm_err *err)
{
	struct tm_rendered r = { 0 };
	struct tm_buf text = TM_BUF_INIT("rendered template", TM_TMPL_MAX_OUTPUT);
	json_t *scope = NULL, *labels = NULL, *caps;
	struct tm_tmpl_cache *cache = tm_tmpl_cache_new();
	int rc;

	if ((rc = values_or_where(&r.values, o, err)) < 0)
		goto out;
	r.objects = json_array();
	r.sources = json_array();
	if (!(caps = capabilities(o->kube_version, err))) {
		rc = err && err->code < 0 ? err->code : tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	scope = json_pack("{s:O, s:{s:s, s:s}, s:s, s:o}", "values", r.values.tree, "release", "name", o->release,
			  "namespace", o->namespace, "environment", o->env ? o->env : "", "capabilities", caps);
	labels = object_labels(o, r.values.tree);
	if (!r.objects || !r.sources || !scope || !labels || !cache) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < tm_embedded_nfiles; i++) {
		if (strncmp(tm_embedded_files[i].path, TEMPLATE_DIR, strlen(TEMPLATE_DIR)) == 0 &&
		    (rc = render_template(&r, &tm_embedded_files[i], o, scope, cache, labels, &text, err)) < 0)
			goto out;
	}
	if ((rc = apply_patches(&r, o, err)) < 0 || (rc = checksums(r.objects, err)) < 0)
		goto out;
	*out = r;
	memset(&r, 0, sizeof(r));
out:
	tm_rendered_release(&r);
	tm_tmpl_cache_free(cache);
	json_decref(scope);
	json_decref(labels);
	tm_buf_release(&text);
	return rc;
}
