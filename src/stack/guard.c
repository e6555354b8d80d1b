/* The live-secrets guard of up, install and upgrade: the stack's Secrets read from the
 * cluster before anything is applied, and a run refused when a sealed file is missing
 * or holds another value than the live one without a recorded rotation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stack_private.h"
#include "tarmac/doc.h"
#include "tarmac/labels.h"
#include "tarmac/release.h"

/* Wipes a Secret's data before its last reference goes. */
static void wipe_secret(json_t *obj)
{
	json_t *one = json_pack("[O]", obj);

	tm_secret_objects_free(one);
}

void tm_stack_live_free(json_t *live)
{
	const char *name;
	json_t *obj;

	json_object_foreach(live, name, obj)
		wipe_secret(obj);
	json_decref(live);
}

static bool is_place(const struct tm_secret_place *p, size_t n, const char *name)
{
	for (size_t i = 0; name && i < n; i++)
		if (strcmp(p[i].name, name) == 0)
			return true;
	return false;
}

/* The release's own Secrets in one list (an unchanged up stays a few requests); records
 * are another type. */
static int list_ours(const struct tm_stack_ctx *s, json_t *live, const struct tm_secret_place *p, size_t n, const char *ns,
		     const char *release, struct tm_err *err)
{
	json_t *list = NULL, *obj;
	char path[700];
	size_t i;
	int rc;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets?labelSelector=" TM_LABEL_MANAGED_BY "%%3D" TM_MANAGER
		 "%%2C" TM_LABEL_INSTANCE "%%3D%s&fieldSelector=type%%3DOpaque", ns, release);
	if ((rc = tm_kube_get(s->kube, path, &list, err)) < 0)
		return tm_err_wrap(err, "list the Secrets of release '%s' in namespace '%s'", release, ns);
	json_array_foreach(json_object_get(list, "items"), i, obj) {
		const char *name = json_string_value(tm_doc_get(obj, "metadata", "name", NULL));

		if (is_place(p, n, name))
			json_object_set(live, name, obj);
		else
			wipe_secret(obj);
	}
	json_decref(list);
	return 0;
}

int tm_stack_live_secrets(const struct tm_stack_ctx *s, json_t **out, const struct tm_secret_place *p, size_t n,
			  const char *ns, const char *release, struct tm_err *err)
{
	json_t *live = json_object();
	int rc = 0;

	if (!live)
		return tm_err_set(err, TM_ERROR, "out of memory");
	if (tm_is_dns_label(release, 53) && (rc = list_ours(s, live, p, n, ns, release, err)) < 0)
		goto out;
	/* one GET for each the list did not hold: a Secret someone else labelled (a chart's) counts too */
	for (size_t i = 0; i < n; i++) {
		json_t *obj = NULL;
		char path[600];

		if (json_object_get(live, p[i].name))
			continue;
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s", ns, p[i].name);
		if ((rc = tm_kube_get(s->kube, path, &obj, err)) == TM_ENOTFOUND) {
			tm_err_init(err);
			rc = 0;
			continue;
		}
		if (rc < 0) {
			tm_err_wrap(err, "read the live Secret '%s/%s'", ns, p[i].name);
			goto out;
		}
		json_object_set_new(live, p[i].name, obj);
	}
	*out = live;
	live = NULL;
out:
	tm_stack_live_free(live);
	return rc;
}

/* Whether a place that holds a value as it is has no live Secret (deleted by hand, or
 * new in these values): only then is the release's record read. */
static bool value_gone(const struct tm_stack_guard *g)
{
	for (size_t i = 0; i < g->nplaces; i++)
		if (g->places[i].form == TM_FORM_VALUE && !tm_doc_get(g->live, g->places[i].name, "data", g->places[i].key, NULL))
			return true;
	return false;
}

/* The dataHashes the newest deployed revision's record keeps for those places. */
static int read_record(const struct tm_stack_ctx *s, struct tm_stack_guard *g, const struct tm_secret_target *t,
		       struct tm_err *err)
{
	struct tm_revision *revs = NULL, *dep = NULL;
	json_t *rec = NULL, *obj;
	size_t n = 0, i;
	int rc;

	if ((rc = tm_release_list(&revs, &n, s->kube, t->release, t->namespace, err)) < 0)
		goto out;
	g->installed |= n > 0;
	for (i = n; i-- > 0 && !dep;)
		dep = revs[i].status == TM_REL_DEPLOYED ? &revs[i] : NULL;
	if (!dep || (rc = tm_release_read(&rec, s->kube, t->release, t->namespace, dep, err)) < 0)
		goto out;
	g->revision = dep->number;
	json_array_foreach(json_object_get(rec, "objects"), i, obj) {
		const char *name = json_string_value(tm_doc_get(obj, "metadata", "name", NULL));

		for (size_t p = 0; name && p < g->nplaces; p++) {
			const struct tm_secret_place *pl = &g->places[p];
			const char *h = json_string_value(tm_doc_get(obj, "dataHashes", pl->key, NULL));

			if (pl->form != TM_FORM_VALUE || !h || strcmp(pl->name, name) != 0 || g->recorded[pl->id] ||
			    json_is_string(tm_doc_get(g->live, pl->name, "data", pl->key, NULL)))
				continue;
			snprintf(g->hashes[pl->id], sizeof(g->hashes[pl->id]), "%s", h);
			g->recorded[pl->id] = g->hashes[pl->id];
		}
	}
out:
	json_decref(rec);
	free(revs);
	return rc;
}

int tm_stack_guard_read(const struct tm_stack_ctx *s, struct tm_stack_guard *g, const struct tm_secret_target *t,
			struct tm_err *err)
{
	int rc;

	memset(g, 0, sizeof(*g));
	if ((rc = tm_secret_places(g->places, &g->nplaces, t, err)) < 0 ||
	    (rc = tm_stack_live_secrets(s, &g->live, g->places, g->nplaces, t->namespace, t->release, err)) < 0 ||
	    (rc = tm_secret_live_set(&g->set, g->places, g->nplaces, g->live, err)) < 0 ||
	    (value_gone(g) && (rc = read_record(s, g, t, err)) < 0)) {
		tm_err_wrap(err, "compare the sealed secrets with the live ones");
		return rc;
	}
	for (int id = 0; id < TM_SECRET_COUNT; id++)
		g->installed |= tm_secret_set_has(g->set, (enum tm_secret_id)id);
	return 0;
}

void tm_stack_guard_release(struct tm_stack_guard *g)
{
	tm_secret_set_free(g->set);
	tm_stack_live_free(g->live);
	memset(g, 0, sizeof(*g));
}

/* The first live place of id, else its first place that holds the value as it is. */
static const struct tm_secret_place *place_of(const struct tm_stack_guard *g, int id)
{
	const struct tm_secret_place *value = NULL;

	for (size_t i = 0; i < g->nplaces; i++) {
		if ((int)g->places[i].id != id)
			continue;
		if (tm_doc_get(g->live, g->places[i].name, "data", g->places[i].key, NULL))
			return &g->places[i];
		if (!value && g->places[i].form == TM_FORM_VALUE)
			value = &g->places[i];
	}
	return value ? value : &g->places[0];
}

int tm_stack_guard_check(const struct tm_stack_ctx *s, const struct tm_stack_guard *g, const struct tm_secret_set *sealed,
			 const struct tm_secret_set *previous, const char *dir, const char *env, struct tm_err *err)
{
	enum tm_secret_verdict v[TM_SECRET_COUNT];
	char list[1200] = "";
	size_t len = 0;
	int refused = tm_secret_guard(v, sealed, previous, g->set, g->recorded), changed = 0, live = 0;

	for (int id = 0; id < TM_SECRET_COUNT; id++) {
		const struct tm_secret_place *p = place_of(g, id);
		bool gone = !tm_secret_set_has(g->set, id);

		live += v[id] != TM_GUARD_UNUSED;
		changed += v[id] == TM_GUARD_CHANGED;
		if (v[id] == TM_GUARD_ROTATED)
			tm_reportf(s->report, s->report_ctx, TM_INFO, "log", NULL, false, "'%s' replaces the live value of Secret '%s' (a rotation: "
				    "%s.previous.sealed holds the live value)", tm_secret_name(id), p->name, tm_secret_name(id));
		if ((v[id] != TM_GUARD_MISSING && v[id] != TM_GUARD_CHANGED) || len >= sizeof(list))
			continue;
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s (Secret '%s' key '%s'): %s%s%.0d%s",
					len ? "; " : "", tm_secret_name(id), p->name, p->key,
					v[id] == TM_GUARD_MISSING ? "no sealed file" : "the sealed value is not the ",
					v[id] == TM_GUARD_MISSING ? "" : gone ? "one revision " : "live one", gone ? g->revision : 0,
					v[id] == TM_GUARD_MISSING ? "" : gone ? " deployed (the Secret is gone) and records no "
					"rotation of it" : " and records no rotation of it");
	}
	if (!refused)
		return 0;
	return tm_err_set(err, TM_ECONFLICT, "refusing to replace live secrets: %s%s. Nothing was applied. If the "
			  "live values are right, 'tarmac secrets recover --env %s' seals them into '%s' (the private key "
			  "from --key-file or TARMAC_KEY_FILE when it is elsewhere; --new-key when it is lost); to change a "
			  "value on purpose, 'tarmac secrets rotate NAME --env %s'", list,
			  changed && changed == live ? " (every one differs: are these the sealed "
			  "files and key of this cluster's environment?)" : "", env, dir, env);
}
