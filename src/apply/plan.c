/* Planning a run: the objects copied and checked, their kinds resolved through
 * discovery before anything is applied, namespaces filled as kubectl does, Jobs
 * given their spec hash. */
#include <stdlib.h>
#include <string.h>

#include "apply_private.h"
#include "tarmac/doc.h"

void tm_run_release(struct tm_run *r)
{
	for (size_t i = 0; r->items && i < r->n; i++)
		tm_item_release(&r->items[i]);
	free(r->items);
	json_decref(r->storage_classes);
	json_decref(r->dropped);
}

/* The sha256 of a Job's spec, so an unchanged Job is left alone and a changed one is
 * replaced (its pod template is immutable). */
static int add_spec_hash(json_t *obj, struct tm_err *err)
{
	char *text = json_dumps(json_object_get(obj, "spec"), JSON_COMPACT | JSON_SORT_KEYS);
	json_t *md = json_object_get(obj, "metadata"), *ann;
	char hex[65];

	if (!text)
		return tm_err_set(err, TM_ERROR, "out of memory");
	tm_sha256_hex(hex, text, strlen(text));
	free(text);
	ann = json_object_get(md, "annotations");
	if (!json_is_object(ann)) {
		ann = json_object();
		if (!ann || json_object_set_new(md, "annotations", ann) < 0)
			return tm_err_set(err, TM_ERROR, "out of memory");
	}
	if (json_object_set_new(ann, TM_SPEC_HASH_ANNOTATION, json_string(hex)) < 0)
		return tm_err_set(err, TM_ERROR, "out of memory");
	return 0;
}

/* Whether a CRD among the objects defines apiVersion+kind. */
static bool crd_defines(const struct tm_run *r, const char *api_version, const char *kind)
{
	const char *slash = strchr(api_version, '/');

	if (!slash)
		return false;
	for (size_t i = 0; i < r->n; i++) {
		json_t *spec = json_object_get(r->items[i].obj, "spec"), *v;
		const char *g = json_string_value(json_object_get(spec, "group"));
		const char *k = json_string_value(tm_doc_get(spec, "names", "kind", NULL));
		size_t j;

		if (strcmp(r->items[i].kind, "CustomResourceDefinition") != 0 || !g || !k || strcmp(k, kind) != 0 ||
		    strlen(g) != (size_t)(slash - api_version) || strncmp(g, api_version, strlen(g)) != 0)
			continue;
		json_array_foreach(json_object_get(spec, "versions"), j, v) {
			const char *name = json_string_value(json_object_get(v, "name"));

			if (name && strcmp(name, slash + 1) == 0)
				return true;
		}
	}
	return false;
}

static int fill_item(struct tm_item *it, size_t idx, json_t *obj, struct tm_err *err)
{
	json_t *md;
	const char *av, *ns;

	if (!json_is_object(obj) || !(av = json_string_value(json_object_get(obj, "apiVersion"))) ||
	    !(it->kind = json_string_value(json_object_get(obj, "kind"))))
		return tm_err_set(err, TM_EINVALID, "object %zu: apiVersion and kind are required", idx + 1);
	md = json_object_get(obj, "metadata");
	if (!(it->name = json_string_value(json_object_get(md, "name"))) || !*it->name)
		return tm_err_set(err, TM_EINVALID, "object %zu (%s): metadata.name is required", idx + 1, it->kind);
	ns = json_string_value(json_object_get(md, "namespace"));
	it->ns = ns && *ns ? ns : NULL;
	it->rule = tm_kind_rule(av, it->kind);
	it->phase = tm_apply_phase_of(obj);
	return 0;
}

static void set_subject(struct tm_item *it)
{
	snprintf(it->subject, sizeof(it->subject), "%s %s%s%s", it->kind, it->ns ? it->ns : "", it->ns ? "/" : "",
		 it->name);
}

/* Gives a namespaced object without a namespace the default one, and takes it off a
 * cluster-scoped one, as kubectl does. */
static int place(const struct tm_run *r, struct tm_item *it, struct tm_err *err)
{
	json_t *md = json_object_get(it->obj, "metadata");

	if (it->rsc.namespaced && !it->ns) {
		if (json_object_set_new(md, "namespace", json_string(r->o->namespace ? r->o->namespace : "default")) < 0)
			return tm_err_set(err, TM_ERROR, "out of memory");
		it->ns = json_string_value(json_object_get(md, "namespace"));
	} else if (!it->rsc.namespaced && it->ns) {
		json_object_del(md, "namespace");
		it->ns = NULL;
	}
	return 0;
}

/* Copies the objects, resolves their kinds through discovery and fills namespaces.
 * Kinds a CRD of this run defines are resolved when their phase comes. */
int tm_apply_plan(struct tm_run *r, json_t *objects, struct tm_err *err)
{
	const char **gvs = NULL;
	struct tm_buf missing = TM_BUF_INIT("missing kinds", 4096);
	size_t nmissing = 0;
	int rc = 0;

	if (!json_is_array(objects))
		return tm_err_set(err, TM_EINVALID, "expected a list of objects");
	r->n = json_array_size(objects);
	if (!(r->items = calloc(r->n ? r->n : 1, sizeof(*r->items))) || !(gvs = calloc(r->n ? r->n : 1, sizeof(*gvs)))) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < r->n; i++) {
		struct tm_item *it = &r->items[i];

		if (!(it->obj = json_deep_copy(json_array_get(objects, i)))) {
			rc = tm_err_set(err, TM_ERROR, "out of memory");
			goto out;
		}
		if ((rc = fill_item(it, i, it->obj, err)) < 0)
			goto out;
		gvs[i] = json_string_value(json_object_get(it->obj, "apiVersion"));
	}
	if ((rc = tm_kube_prefetch(r->k, gvs, r->n, err)) < 0)
		goto out;
	for (size_t i = 0; i < r->n; i++) {
		struct tm_item *it = &r->items[i];
		struct tm_err rerr;

		tm_err_init(&rerr);
		rc = tm_kube_resolve(r->k, gvs[i], it->kind, false, &it->rsc, &rerr);
		if (rc == TM_ENOTFOUND && crd_defines(r, gvs[i], it->kind)) {
			it->deferred = true;
			rc = 0;
		} else if (rc == TM_ENOTFOUND) {
			if (nmissing++ < 8 && (rc = tm_buf_printf(&missing, err, "%s%s %s", nmissing > 1 ? ", " : "", gvs[i],
								   it->kind)) < 0)
				goto out;
			rc = 0;
			continue;
		} else if (rc < 0) {
			*err = rerr;
			goto out;
		}
		it->resolved = !it->deferred;
	}
	if (nmissing) {
		rc = tm_err_set(err, TM_EINVALID, "the cluster serves no API for %s%s: install their CRDs first, or leave "
				"those objects out (nothing was applied)", missing.data, nmissing > 8 ? ", ..." : "");
		goto out;
	}
	for (size_t i = 0; i < r->n; i++) {
		struct tm_item *it = &r->items[i];

		/* a kind from a CRD of this run is placed when it is resolved */
		if (it->resolved && (rc = place(r, it, err)) < 0)
			goto out;
		set_subject(it);
		if (it->rule->replace && (rc = add_spec_hash(it->obj, err)) < 0)
			goto out;
	}
out:
	free(gvs);
	tm_buf_release(&missing);
	return rc;
}

/* Which namespaces exist now (dry runs cannot check objects in the others). */
int tm_apply_missing_namespaces(struct tm_run *r, json_t **out, struct tm_err *err)
{
	json_t *seen = json_object();
	struct tm_kube_call *c = calloc(r->n ? r->n : 1, sizeof(*c));
	char (*paths)[320] = calloc(r->n ? r->n : 1, sizeof(*paths));
	const char **names = calloc(r->n ? r->n : 1, sizeof(*names));
	size_t m = 0;
	int rc = 0;

	if (!seen || !c || !paths || !names) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < r->n; i++) {
		const char *ns = r->items[i].ns;

		if (!ns || json_object_get(seen, ns))
			continue;
		json_object_set_new(seen, ns, json_false());
		snprintf(paths[m], sizeof(paths[m]), "/api/v1/namespaces/%s", ns);
		c[m].req = (struct tm_http_request){ .method = "GET", .path = paths[m] };
		names[m++] = ns;
	}
	if (m && (rc = tm_kube_do(r->k, c, m, err)) < 0)
		goto out;
	for (size_t j = 0; j < m; j++) {
		if (c[j].rc == TM_ENOTFOUND)
			json_object_set_new(seen, names[j], json_true());
		else if ((rc = c[j].rc) < 0) {
			*err = c[j].err;
			goto out;
		}
	}
	*out = seen;
	seen = NULL;
out:
	for (size_t j = 0; c && j < m; j++)
		tm_kube_call_release(&c[j]);
	json_decref(seen);
	free(c);
	free(paths);
	free(names);
	return rc;
}

/* A kind whose CRD this run created: the server may serve it a moment after the CRD
 * is Established (and with --no-wait, before). Asks again until it does, then fills
 * the namespace as tm_apply_plan() does for every other object. */
int tm_apply_resolve_deferred(struct tm_run *r, struct tm_item *it, int64_t deadline, struct tm_err *err)
{
	const char *av = json_string_value(json_object_get(it->obj, "apiVersion"));
	int64_t until = tm_now_ms() + 60000 < deadline ? tm_now_ms() + 60000 : deadline;
	int rc;

	while ((rc = tm_kube_resolve(r->k, av, it->kind, true, &it->rsc, err)) == TM_ENOTFOUND && tm_now_ms() < until)
		if ((rc = tm_kube_sleep(r->k, 500)) < 0)
			return tm_err_set(err, rc, "interrupted while the cluster learned %s %s", av, it->kind);
	if (rc < 0)
		return rc;
	it->resolved = true;
	it->deferred = false;
	if ((rc = place(r, it, err)) < 0)
		return rc;
	set_subject(it);
	return 0;
}
