/* Taking a probe or a lifecycle hook away from a pod template. Kubernetes 1.20's
 * server-side apply cannot: it removes the fields tarmac set and keeps the emptied
 * probe, which validation refuses ("must specify a handler type"). When an apply is
 * refused so, tarmac removes those handlers with a strategic merge patch (the way
 * kubectl's client-side apply would) and applies again. A dry run cannot chain the
 * two: it applies with the live handlers kept and takes them out of the answer. */
#include <stdlib.h>
#include <string.h>

#include "apply_private.h"
#include "handlers.h"
#include "tarmac/doc.h"

/* The handler fields of a container, as key paths (one or two keys). */
static const char *const HANDLERS[][2] = {
	{ "livenessProbe", NULL }, { "readinessProbe", NULL }, { "startupProbe", NULL },
	{ "lifecycle", "postStart" }, { "lifecycle", "preStop" },
};
#define N_HANDLERS (sizeof(HANDLERS) / sizeof(HANDLERS[0]))
static const char *const LISTS[] = { "initContainers", "containers" };

bool tm_handlers_refused(const struct tm_err *err)
{
	return err->code == TM_EINVALID && err->depth > 0 &&
	       strstr(tm_err_frame(err, err->depth - 1), "must specify a handler type") != NULL;
}

static const json_t *handler_of(const json_t *c, size_t h)
{
	const json_t *v = json_object_get(c, HANDLERS[h][0]);

	return HANDLERS[h][1] ? json_object_get(v, HANDLERS[h][1]) : v;
}

static json_t *container_named(const json_t *list, const char *name)
{
	size_t i;
	json_t *c;

	json_array_foreach (list, i, c)
		if (json_is_string(json_object_get(c, "name")) && strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
			return c;
	return NULL;
}

/* Sets c's handler h to v (a new reference; null removes it in a patch). */
static int set_handler(json_t *c, size_t h, json_t *v)
{
	json_t *outer;

	if (!HANDLERS[h][1])
		return json_object_set_new(c, HANDLERS[h][0], v);
	if (!(outer = json_object_get(c, HANDLERS[h][0]))) {
		if (json_object_set_new(c, HANDLERS[h][0], outer = json_object()) < 0)
			return json_decref(v), -1;
	}
	return json_object_set_new(outer, HANDLERS[h][1], v);
}

/* One container's entry of the patch (its name and each handler to remove as null),
 * or NULL when it keeps them all. */
static json_t *container_removal(const json_t *live, const json_t *want, const char *name, struct tm_buf *what,
				 struct tm_err *err)
{
	json_t *entry = NULL;

	for (size_t h = 0; h < N_HANDLERS; h++) {
		if (!handler_of(live, h) || handler_of(want, h))
			continue;
		if (!entry && (!(entry = json_object()) || json_object_set_new(entry, "name", json_string(name)) < 0))
			goto oom;
		if (set_handler(entry, h, json_null()) < 0 ||
		    tm_buf_printf(what, err, "%s%s%s%s of container %s", what->len ? ", " : "", HANDLERS[h][0],
				  HANDLERS[h][1] ? "." : "", HANDLERS[h][1] ? HANDLERS[h][1] : "", name) < 0)
			goto oom;
	}
	return entry;
oom:
	json_decref(entry);
	tm_err_set(err, TM_ERROR, "out of memory");
	return NULL;
}

/* Wraps the pod spec patch in the object's path to its pod template. */
static json_t *wrap(json_t *pod_spec, const char *const *tmpl)
{
	json_t *v = json_pack("{s:o}", "spec", pod_spec);
	size_t n = 0;

	while (tmpl[n])
		n++;
	while (v && n--)
		v = json_pack("{s:o}", tmpl[n], v);
	return v;
}

int tm_handlers_removal(const json_t *live, const json_t *want, const char *const *tmpl, json_t **patch,
			struct tm_buf *what, struct tm_err *err)
{
	const json_t *lspec = json_object_get(tm_kind_pod_template(live), "spec");
	const json_t *wspec = json_object_get(tm_kind_pod_template(want), "spec");
	json_t *pod_spec = json_object();

	*patch = NULL;
	if (!pod_spec)
		return tm_err_set(err, TM_ERROR, "out of memory");
	for (size_t l = 0; tmpl && l < sizeof(LISTS) / sizeof(LISTS[0]); l++) {
		const json_t *lc;
		json_t *entries = NULL;
		size_t i;

		json_array_foreach (json_object_get(lspec, LISTS[l]), i, lc) {
			const char *name = json_string_value(json_object_get(lc, "name"));
			const json_t *wc = name ? container_named(json_object_get(wspec, LISTS[l]), name) : NULL;
			json_t *entry;

			if (!wc)
				continue; /* a container that goes away goes with its handlers */
			if (!(entry = container_removal(lc, wc, name, what, err))) {
				if (err->code)
					goto fail;
				continue;
			}
			if ((!entries && json_object_set_new(pod_spec, LISTS[l], entries = json_array()) < 0) ||
			    json_array_append_new(entries, entry) < 0) {
				tm_err_set(err, TM_ERROR, "out of memory");
				goto fail;
			}
		}
	}
	if (!json_object_size(pod_spec)) {
		json_decref(pod_spec);
		return 0;
	}
	if (!(*patch = wrap(pod_spec, tmpl)))
		return tm_err_set(err, TM_ERROR, "out of memory");
	return 1;
fail:
	json_decref(pod_spec);
	return err->code;
}

/* For each handler the patch removes: into obj's container, live's handler (keep) or
 * nothing (strip). */
static int each_removed(json_t *obj, const json_t *patch, const json_t *live, bool keep)
{
	json_t *ospec = json_object_get(tm_kind_pod_template(obj), "spec");
	const char *const *tmpl = tm_kind_rule(json_string_value(json_object_get(obj, "apiVersion")),
					       json_string_value(json_object_get(obj, "kind")))->pod_template;
	const json_t *pspec = patch;

	for (; tmpl && *tmpl; tmpl++)
		pspec = json_object_get(pspec, *tmpl);
	pspec = tmpl ? json_object_get(pspec, "spec") : NULL;
	const json_t *lspec = json_object_get(tm_kind_pod_template(live), "spec");

	for (size_t l = 0; l < sizeof(LISTS) / sizeof(LISTS[0]); l++) {
		const json_t *entry;
		size_t i;

		json_array_foreach (json_object_get(pspec, LISTS[l]), i, entry) {
			const char *name = json_string_value(json_object_get(entry, "name"));
			json_t *c = container_named(json_object_get(ospec, LISTS[l]), name);
			const json_t *lc = keep ? container_named(json_object_get(lspec, LISTS[l]), name) : NULL;

			for (size_t h = 0; c && h < N_HANDLERS; h++) {
				if (!handler_of(entry, h) || !json_is_null(handler_of(entry, h)))
					continue;
				if (keep && handler_of(lc, h) && set_handler(c, h, json_deep_copy(handler_of(lc, h))) < 0)
					return -1;
				if (!keep && HANDLERS[h][1])
					json_object_del(json_object_get(c, HANDLERS[h][0]), HANDLERS[h][1]);
				if (!keep && (!HANDLERS[h][1] || !json_object_size(json_object_get(c, HANDLERS[h][0]))))
					json_object_del(c, HANDLERS[h][0]);
			}
		}
	}
	return 0;
}

int tm_handlers_keep(json_t *obj, const json_t *patch, const json_t *live)
{
	return each_removed(obj, patch, live, true);
}

void tm_handlers_strip(json_t *obj, const json_t *patch)
{
	each_removed(obj, patch, NULL, false);
}

/* The server's answer to one apply of obj (flags as tm_kube_call_apply), into *out. */
static int apply_one(struct tm_kube *k, const struct tm_kube_rsc *rsc, const json_t *obj, unsigned flags, json_t **out,
		     long *status, struct tm_err *err)
{
	struct tm_kube_call c = { 0 };
	struct tm_buf path = TM_BUF_INIT("path", 8192), body = TM_BUF_INIT("object", 32u << 20);
	int rc;

	if ((rc = tm_kube_call_apply(&c, &path, &body, rsc, obj, flags, err)) == 0 &&
	    (rc = tm_kube_do(k, &c, 1, err)) == 0 && (rc = c.rc) < 0)
		*err = c.err;
	if (rc == 0) {
		*out = c.out;
		*status = c.status;
		c.out = NULL;
	}
	tm_kube_call_release(&c);
	tm_buf_release(&path);
	tm_buf_release(&body);
	return rc;
}

/* Sends the removal (a strategic merge patch, as tarmac's field manager). */
static int remove_handlers(struct tm_kube *k, const struct tm_item *it, const json_t *patch, struct tm_err *err)
{
	struct tm_buf path = TM_BUF_INIT("path", 8192);
	char *body = json_dumps(patch, JSON_COMPACT);
	int rc;

	if (!body)
		return tm_err_set(err, TM_ERROR, "out of memory");
	if ((rc = tm_kube_path(&path, &it->rsc, it->ns, it->name, err)) == 0 &&
	    (rc = tm_buf_printf(&path, err, "?fieldManager=%s", TM_FIELD_MANAGER)) == 0)
		rc = tm_kube_request(k, "PATCH", path.data, "application/strategic-merge-patch+json", body, NULL, err);
	free(body);
	tm_buf_release(&path);
	return rc;
}

int tm_handlers_reapply(struct tm_kube *k, const struct tm_apply_opts *o, struct tm_item *it, const json_t *live_in,
			json_t **out, long *status, struct tm_err *err)
{
	unsigned flags = (o->force_conflicts ? TM_APPLY_FORCE : 0) | (o->dry_run ? TM_APPLY_DRY_RUN : 0);
	struct tm_buf path = TM_BUF_INIT("path", 8192), what = TM_BUF_INIT("handlers", 4096);
	json_t *fetched = NULL, *patch = NULL, *kept = NULL;
	const json_t *live = live_in;
	struct tm_err first = *err;
	int rc = 0;

	if (!live && ((rc = tm_kube_path(&path, &it->rsc, it->ns, it->name, err)) < 0 ||
		      (rc = tm_kube_get(k, path.data, &fetched, err)) < 0))
		goto out;
	if (!live)
		live = fetched;
	if ((rc = tm_handlers_removal(live, it->obj, it->rule->pod_template, &patch, &what, err)) < 0)
		goto out;
	if (rc == 0) {
		*err = first; /* refused for something else */
		rc = err->code;
		goto out;
	}
	tm_apply_report(o, TM_INFO, "applied", it->subject, false, "%s %s first (Kubernetes 1.20's apply cannot take a "
			"probe or hook away)", o->dry_run ? "would remove" : "removing", tm_buf_cstr(&what));
	if (o->dry_run) {
		if (!(kept = json_deep_copy(it->obj)) || tm_handlers_keep(kept, patch, live) < 0) {
			rc = tm_err_set(err, TM_ERROR, "out of memory");
			goto out;
		}
		if ((rc = apply_one(k, &it->rsc, kept, flags, out, status, err)) == 0)
			tm_handlers_strip(*out, patch);
	} else if ((rc = remove_handlers(k, it, patch, err)) == 0) {
		rc = apply_one(k, &it->rsc, it->obj, flags, out, status, err);
	}
out:
	if (rc < 0)
		tm_err_wrap(err, "apply %s", it->subject);
	json_decref(fetched);
	json_decref(patch);
	json_decref(kept);
	tm_buf_release(&path);
	tm_buf_release(&what);
	return rc;
}
