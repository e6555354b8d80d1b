/* What the KubernetesExecutor's task pod templates (the Pods in the config ConfigMap)
 * reference and the stack does not make: such objects must exist before a task can
 * start, and nothing else would notice their absence until a task runs. */
#include <string.h>

#include "tarmac/doc.h"
#include "tarmac/render.h"
#include "tarmac/labels.h"

#define STR(v, ...) json_string_value(tm_doc_get((v), __VA_ARGS__, NULL))

/* A SealedSecret stands for the Secret its controller makes from it. */
static bool rendered(const json_t *objects, const char *kind, const char *name)
{
	size_t i;
	json_t *o;

	json_array_foreach(objects, i, o) {
		const char *k = STR(o, "kind") ? STR(o, "kind") : "", *n = STR(o, "metadata", "name");
		if (n && !strcmp(n, name) && (!strcmp(k, kind) || (!strcmp(kind, "Secret") && !strcmp(k, "SealedSecret"))))
			return true;
	}
	return false;
}

/* Adds {kind, name, template} unless the objects hold it, it is optional, or listed. */
static int need(json_t *out, const json_t *objects, const char *kind, const json_t *ref, const char *key,
		const char *tmpl, struct tm_err *err)
{
	const char *name = json_string_value(json_object_get(ref, key));
	size_t i;
	json_t *e;

	if (!name || json_is_true(json_object_get(ref, "optional")) || rendered(objects, kind, name))
		return 0;
	json_array_foreach(out, i, e)
		if (!strcmp(STR(e, "kind"), kind) && !strcmp(STR(e, "name"), name))
			return 0;
	if (json_array_append_new(out, json_pack("{s:s, s:s, s:s}", "kind", kind, "name", name, "template", tmpl)) < 0)
		return tm_err_set(err, TM_ERROR, "out of memory");
	return 0;
}

static int container_refs(json_t *out, const json_t *objects, json_t *list, const char *t, struct tm_err *err)
{
	size_t i, j;
	json_t *c, *e;
	int rc = 0;

	json_array_foreach(list, i, c) {
		json_array_foreach(json_object_get(c, "env"), j, e) {
			if ((rc = need(out, objects, "Secret", tm_doc_get(e, "valueFrom", "secretKeyRef", NULL), "name", t, err)) < 0 ||
			    (rc = need(out, objects, "ConfigMap", tm_doc_get(e, "valueFrom", "configMapKeyRef", NULL), "name", t, err)) < 0)
				return rc;
		}
		json_array_foreach(json_object_get(c, "envFrom"), j, e) {
			if ((rc = need(out, objects, "Secret", json_object_get(e, "secretRef"), "name", t, err)) < 0 ||
			    (rc = need(out, objects, "ConfigMap", json_object_get(e, "configMapRef"), "name", t, err)) < 0)
				return rc;
		}
	}
	return 0;
}

static int pod_refs(json_t *out, const json_t *objects, const json_t *spec, const char *t, struct tm_err *err)
{
	size_t i, j;
	json_t *v, *s;
	int rc;

	if ((rc = need(out, objects, "ServiceAccount", spec, "serviceAccountName", t, err)) < 0 ||
	    (rc = container_refs(out, objects, json_object_get(spec, "containers"), t, err)) < 0 ||
	    (rc = container_refs(out, objects, json_object_get(spec, "initContainers"), t, err)) < 0)
		return rc;
	json_array_foreach(json_object_get(spec, "imagePullSecrets"), i, v)
		if ((rc = need(out, objects, "Secret", v, "name", t, err)) < 0)
			return rc;
	json_array_foreach(json_object_get(spec, "volumes"), i, v) {
		if ((rc = need(out, objects, "ConfigMap", json_object_get(v, "configMap"), "name", t, err)) < 0 ||
		    (rc = need(out, objects, "Secret", json_object_get(v, "secret"), "secretName", t, err)) < 0 ||
		    (rc = need(out, objects, "PersistentVolumeClaim", json_object_get(v, "persistentVolumeClaim"), "claimName",
			       t, err)) < 0)
			return rc;
		json_array_foreach(tm_doc_get(v, "projected", "sources", NULL), j, s)
			if ((rc = need(out, objects, "Secret", json_object_get(s, "secret"), "name", t, err)) < 0 ||
			    (rc = need(out, objects, "ConfigMap", json_object_get(s, "configMap"), "name", t, err)) < 0)
				return rc;
	}
	return 0;
}

/* The task templates: data keys of the bundle's config ConfigMap that hold a Pod. */
static int template_refs(json_t *out, const json_t *objects, const json_t *cm, struct tm_err *err)
{
	const char *key;
	json_t *text;
	int rc = 0;

	json_object_foreach(json_object_get(cm, "data"), key, text) {
		json_t *pod = NULL;
		size_t n = strlen(key);
		if (n < 5 || strcmp(key + n - 5, ".yaml") || !json_is_string(text))
			continue;
		if ((rc = tm_doc_parse_yaml(&pod, json_string_value(text), json_string_length(text), key, err)) < 0)
			return tm_err_wrap(err, "task pod template '%s'", key);
		if (STR(pod, "kind") && !strcmp(STR(pod, "kind"), "Pod"))
			rc = pod_refs(out, objects, json_object_get(pod, "spec"), key, err);
		json_decref(pod);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int tm_render_task_refs(json_t **out, const json_t *objects, struct tm_err *err)
{
	json_t *arr = json_array(), *o;
	size_t i;
	int rc = 0;

	if (!arr)
		return tm_err_set(err, TM_ERROR, "out of memory");
	json_array_foreach(objects, i, o) {
		const char *comp = STR(o, "metadata", "labels", TM_LABEL_COMPONENT);
		if (!strcmp(STR(o, "kind") ? STR(o, "kind") : "", "ConfigMap") && comp && !strcmp(comp, "config") &&
		    (rc = template_refs(arr, objects, o, err)) < 0)
			break;
	}
	if (rc < 0)
		json_decref(arr);
	else
		*out = arr;
	return rc;
}
