/* Applying objects phase by phase: resolve every kind first (nothing is applied when
 * one is unknown), then per phase server-side apply all objects at once, replace
 * changed Jobs, and wait for readiness before the next phase (planning: plan.c). */
#include <stdlib.h>
#include <string.h>

#include "apply_private.h"
#include "handlers.h"
#include "tarmac/doc.h"

#define DEFAULT_PHASE_TIMEOUT_MS (5 * 60 * 1000)
#define REPLACE_GONE_TIMEOUT_MS 60000

void tm_item_release(struct tm_item *it)
{
	json_decref(it->obj);
	json_decref(it->live);
	memset(it, 0, sizeof(*it));
}

/* Storage classes by name, and which is the default, for the PVC wait rule. */
static void load_storage_classes(struct tm_run *r)
{
	json_t *list = NULL, *sc;
	size_t i;
	struct tm_err err;

	r->classes_known = true;
	tm_err_init(&err);
	if (!(r->storage_classes = json_object()) ||
	    tm_kube_get(r->k, "/apis/storage.k8s.io/v1/storageclasses", &list, &err) < 0) {
		tm_apply_report(r->o, TM_DEBUG, "log", NULL, false, "storage classes unknown (%s): PVCs are not awaited",
				tm_err_msg(&err));
		return;
	}
	json_array_foreach(json_object_get(list, "items"), i, sc) {
		json_t *md = json_object_get(sc, "metadata");
		const char *name = json_string_value(json_object_get(md, "name"));
		const char *mode = json_string_value(json_object_get(sc, "volumeBindingMode"));
		const char *def = json_string_value(tm_doc_get(md, "annotations", "storageclass.kubernetes.io/is-default-class", NULL));

		if (!name)
			continue;
		json_object_set_new(r->storage_classes, name, json_string(mode ? mode : "Immediate"));
		if (def && strcmp(def, "true") == 0)
			json_object_set_new(r->storage_classes, "", json_string(mode ? mode : "Immediate"));
	}
	json_decref(list);
}

/* A PVC is awaited only when its class binds at once: one that waits for its first
 * consumer never binds before the workload exists, and one without a known class
 * binds only to a matching volume that may come later. */
static bool pvc_awaitable(struct tm_run *r, const struct tm_item *it)
{
	json_t *cls = tm_doc_get(it->obj, "spec", "storageClassName", NULL);
	const char *mode;

	if (!r->classes_known)
		load_storage_classes(r);
	if (json_is_string(cls) && !*json_string_value(cls))
		return false;
	mode = json_string_value(json_object_get(r->storage_classes, cls ? json_string_value(cls) : ""));
	return mode && strcmp(mode, "Immediate") == 0;
}

/* Why the live object (its spec hash have, ours want) must be deleted and created
 * again, into why; false when it stays. A changed spec: Jobs and Pods are immutable. A
 * Job that failed for good (out of retries, past its deadline) with the same spec would
 * otherwise stay failed, and the step it runs never run again. */
static bool must_replace(const struct tm_item *it, const json_t *live, const char *want, const char *have, char *why,
			 size_t n, bool *rerun)
{
	struct tm_readiness rd = { TM_VERDICT_WAIT, "" };

	*rerun = false;
	if (!have || !want || strcmp(have, want) != 0) {
		snprintf(why, n, "spec changed");
		return true;
	}
	if (it->rule->ready != tm_ready_job)
		return false;
	tm_ready_job(live, &rd);
	if (rd.verdict != TM_VERDICT_FAILED)
		return false;
	snprintf(why, n, "it had failed (%s)", rd.reason);
	*rerun = true;
	return true;
}

/* Waits until the deleted object at path is gone (a deleted Job lingers until the
 * garbage collector has run its finalizers). */
static int wait_gone(struct tm_run *r, const struct tm_item *it, const char *path, struct tm_err *err)
{
	int64_t until = tm_now_ms() + REPLACE_GONE_TIMEOUT_MS;
	int rc;

	for (;;) {
		json_t *live = NULL;
		struct tm_err gerr;

		tm_err_init(&gerr);
		rc = tm_kube_get(r->k, path, &live, &gerr);
		json_decref(live);
		if (rc == TM_ENOTFOUND)
			return 0;
		if (rc < 0) {
			*err = gerr;
			return rc;
		}
		if (tm_now_ms() > until)
			return tm_err_set(err, TM_ETIMEOUT, "replace %s: still there %d s after its deletion", it->subject,
					  REPLACE_GONE_TIMEOUT_MS / 1000);
		if ((rc = tm_kube_sleep(r->k, 200)) < 0)
			return tm_err_set(err, rc, "interrupted while replacing %s", it->subject);
	}
}

/* Deletes it (why: must_replace's reason), its pods in the background, and waits until
 * it is gone, so the apply creates it. A dry run only says it would. */
static int replace_one(struct tm_run *r, struct tm_item *it, const char *path, const char *why, bool rerun,
		       struct tm_err *err)
{
	struct tm_kube_call del = { 0 };
	struct tm_buf dpath = TM_BUF_INIT("path", 8192);
	int rc;

	if (r->o->dry_run) {
		/* the server would refuse the changed template in place; the real run
		 * replaces it, so there is nothing to ask it here */
		it->would_replace = true;
		tm_apply_report(r->o, TM_INFO, "replace", it->subject, false,
				"%s: would be deleted and created again (not checked by the server)", why);
		return 0;
	}
	tm_apply_report(r->o, TM_INFO, "replace", it->subject, false, "%s: %s", why,
			rerun ? "running it again" : "deleting it to create it again");
	rc = tm_kube_call_delete(&del, &dpath, &it->rsc, it->ns, it->name, "Background", false, err);
	if (rc == 0 && (rc = tm_kube_do(r->k, &del, 1, err)) == 0 && (rc = del.rc) < 0 && rc != TM_ENOTFOUND)
		*err = del.err;
	if (rc == TM_ENOTFOUND)
		rc = 0;
	tm_kube_call_release(&del);
	tm_buf_release(&dpath);
	if (rc < 0)
		return tm_err_wrap(err, "replace %s", it->subject);
	return wait_gone(r, it, path, err);
}

/* Deletes what must be replaced (must_replace), with its pods in the background, and
 * waits until it is gone, so the apply creates it. */
static int replace_changed(struct tm_run *r, struct tm_item **items, size_t n, unsigned *replaced, struct tm_err *err)
{
	struct tm_kube_call *c = calloc(n ? n : 1, sizeof(*c));
	struct tm_buf *paths = calloc(n ? n : 1, sizeof(*paths));
	size_t *which = calloc(n ? n : 1, sizeof(*which)), m = 0;
	int rc = 0;

	if (!c || !paths || !which) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		tm_buf_init(&paths[i], "path", 8192);
	for (size_t i = 0; i < n; i++) {
		if (!items[i]->rule->replace)
			continue;
		if ((rc = tm_kube_path(&paths[m], &items[i]->rsc, items[i]->ns, items[i]->name, err)) < 0)
			goto out;
		c[m].req = (struct tm_http_request){ .method = "GET", .path = paths[m].data };
		c[m].want_json = true;
		which[m++] = i;
	}
	if (m && (rc = tm_kube_do(r->k, c, m, err)) < 0)
		goto out;
	for (size_t j = 0; j < m; j++) {
		struct tm_item *it = items[which[j]];
		const char *want, *have;
		char why[TM_REASON_MAX + 32];
		bool rerun;

		if (c[j].rc == TM_ENOTFOUND)
			continue;
		if ((rc = c[j].rc) < 0) {
			*err = c[j].err;
			goto out;
		}
		want = json_string_value(tm_doc_get(it->obj, "metadata", "annotations", TM_SPEC_HASH_ANNOTATION, NULL));
		have = json_string_value(tm_doc_get(c[j].out, "metadata", "annotations", TM_SPEC_HASH_ANNOTATION, NULL));
		if (!must_replace(it, c[j].out, want, have, why, sizeof(why), &rerun))
			continue;
		if ((rc = replace_one(r, it, paths[j].data, why, rerun, err)) < 0)
			goto out;
		(*replaced)++;
	}
out:
	for (size_t j = 0; c && j < m; j++)
		tm_kube_call_release(&c[j]);
	for (size_t i = 0; paths && i < n; i++)
		tm_buf_release(&paths[i]);
	free(c);
	free(paths);
	free(which);
	return rc;
}

/* Server-side apply of the items at once. Every failure is reported; the first is
 * returned. */
static int apply_all(struct tm_run *r, struct tm_item **items, size_t n, struct tm_apply_result *res, struct tm_err *err)
{
	struct tm_kube_call *c = calloc(n ? n : 1, sizeof(*c));
	struct tm_buf *paths = calloc(n ? n : 1, sizeof(*paths)), *bodies = calloc(n ? n : 1, sizeof(*bodies));
	unsigned flags = (r->o->force_conflicts ? TM_APPLY_FORCE : 0) | (r->o->dry_run ? TM_APPLY_DRY_RUN : 0);
	int rc = 0, first = 0;

	if (!c || !paths || !bodies) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		tm_buf_init(&paths[i], "path", 8192);
		tm_buf_init(&bodies[i], "object", 32u << 20);
		if ((rc = tm_kube_call_apply(&c[i], &paths[i], &bodies[i], &items[i]->rsc, items[i]->obj, flags, err)) < 0) {
			tm_err_wrap(err, "apply %s", items[i]->subject);
			goto out;
		}
	}
	if ((rc = tm_kube_do(r->k, c, n, err)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct tm_item *it = items[i];

		if (c[i].rc < 0 && tm_handlers_refused(&c[i].err))
			c[i].rc = tm_handlers_reapply(r->k, r->o, it, NULL, &c[i].out, &c[i].status, &c[i].err);
		else if (c[i].rc < 0)
			tm_err_wrap(&c[i].err, "apply %s", it->subject);
		if (c[i].rc < 0) {
			tm_apply_report(r->o, TM_ERRORLVL, "applied", it->subject, false, "%s", tm_err_msg(&c[i].err));
			if (!first) {
				first = c[i].rc;
				*err = c[i].err;
			}
			continue;
		}
		tm_apply_dropped(r, it, c[i].out);
		json_decref(it->live);
		it->live = c[i].out;
		c[i].out = NULL;
		if (c[i].status == 201)
			res->created++;
		else
			res->applied++;
		tm_apply_report(r->o, TM_INFO, "applied", it->subject, false, "%s%s",
				c[i].status == 201 ? "created" : "applied", r->o->dry_run ? " (server dry run)" : "");
	}
	rc = first;
out:
	for (size_t i = 0; c && i < n; i++)
		tm_kube_call_release(&c[i]);
	for (size_t i = 0; paths && bodies && i < n; i++) {
		tm_buf_release(&paths[i]);
		tm_buf_release(&bodies[i]);
	}
	free(c);
	free(paths);
	free(bodies);
	return rc;
}

static int64_t phase_timeout(const struct tm_apply_opts *o, enum tm_phase p)
{
	return o->phase_timeout_ms[p] > 0 ? o->phase_timeout_ms[p] : DEFAULT_PHASE_TIMEOUT_MS;
}

/* The items of phase p that a run applies now into batch (*n of them): a deferred one
 * once its CRD is served; in a dry run, not those whose namespace or CRD does not exist
 * yet (counted skipped). */
static int phase_batch(struct tm_run *r, enum tm_phase p, const json_t *nsmissing, int64_t run_deadline,
		       struct tm_item **batch, size_t *n, struct tm_apply_result *res, struct tm_err *err)
{
	int rc;

	*n = 0;
	for (size_t i = 0; i < r->n; i++) {
		struct tm_item *it = &r->items[i];

		if (it->phase != p)
			continue;
		if (r->o->dry_run && ((it->ns && json_is_true(json_object_get(nsmissing, it->ns))) || it->deferred)) {
			res->skipped++;
			tm_apply_report(r->o, TM_INFO, "applied", it->subject, false, "not checked: %s does not exist yet",
					it->deferred ? "its CRD" : "its namespace");
			continue;
		}
		if (it->deferred && (rc = tm_apply_resolve_deferred(r, it, run_deadline, err)) < 0)
			return rc;
		batch[(*n)++] = it;
	}
	return 0;
}

/* Of the applied batch, those to wait for into waits (*nw): not those ready in the
 * apply's answer (Services, ConfigMaps, ...) nor a claim whose class binds on first use. */
static void to_wait_for(struct tm_run *r, struct tm_item **batch, size_t n, struct tm_item **waits, size_t *nw)
{
	*nw = 0;
	for (size_t i = 0; i < n; i++) {
		struct tm_item *it = batch[i];
		struct tm_readiness rd = { TM_VERDICT_WAIT, "" };

		if (!it->rule->ready)
			continue;
		if (it->rule->ready == tm_ready_pvc && !pvc_awaitable(r, it)) {
			tm_apply_report(r->o, TM_DEBUG, "log", it->subject, false,
					"not awaited: its storage class binds on first use, or is unknown");
			continue;
		}
		if (it->live)
			it->rule->ready(it->live, &rd);
		if (rd.verdict != TM_VERDICT_READY)
			waits[(*nw)++] = it;
	}
}

/* One phase: its batch replaced where immutable, applied (counted in *done), then
 * awaited until deadline. *nw: how many were awaited. */
static int run_phase(struct tm_run *r, enum tm_phase p, struct tm_item **batch, size_t n, struct tm_item **waits,
		     size_t *nw, int64_t pstart, int64_t deadline, unsigned *done, struct tm_apply_result *res,
		     struct tm_err *err)
{
	int rc;

	*nw = 0;
	tm_apply_report(r->o, TM_INFO, "phase", tm_phase_name(p), false, "applying %zu object%s", n, n == 1 ? "" : "s");
	if ((rc = replace_changed(r, batch, n, &res->replaced, err)) < 0)
		return rc;
	if (r->o->dry_run) {
		size_t kept = 0;

		for (size_t i = 0; i < n; i++)
			if (!batch[i]->would_replace)
				batch[kept++] = batch[i];
		n = kept;
	}
	if (n && (rc = apply_all(r, batch, n, res, err)) < 0)
		return rc;
	*done += (unsigned)n;
	if (!r->o->wait || r->o->dry_run)
		return 0;
	to_wait_for(r, batch, n, waits, nw);
	if (!*nw)
		return 0;
	tm_apply_report(r->o, TM_INFO, "phase", tm_phase_name(p), false, "waiting for %zu object%s (up to %.0f s)", *nw,
			*nw == 1 ? "" : "s", (double)(deadline - tm_now_ms()) / 1000.0);
	if ((rc = tm_apply_wait(r->k, waits, *nw, deadline, deadline - pstart, r->o, err)) == 0)
		res->waited += (unsigned)*nw;
	return rc;
}

int tm_apply(struct tm_apply_result *out, struct tm_kube *k, json_t *objects, const struct tm_apply_opts *o,
	     struct tm_err *err)
{
	struct tm_run r = { .k = k, .o = o };
	struct tm_apply_result res = { .failed_phase = -1 };
	struct tm_item **batch = NULL, **waits = NULL;
	json_t *nsmissing = NULL;
	int64_t start = tm_now_ms(), run_deadline = o->timeout_ms > 0 ? start + o->timeout_ms : INT64_MAX;
	unsigned done_objects = 0;
	int rc;

	if ((rc = tm_apply_plan(&r, objects, err)) < 0)
		goto out;
	res.objects = (unsigned)r.n;
	if (!(batch = calloc(r.n ? r.n : 1, sizeof(*batch))) || !(waits = calloc(r.n ? r.n : 1, sizeof(*waits)))) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	if (o->dry_run && (rc = tm_apply_missing_namespaces(&r, &nsmissing, err)) < 0)
		goto out;
	for (int p = 0; p < TM_PHASE_COUNT; p++) {
		int64_t pstart = tm_now_ms(), ptimeout = phase_timeout(o, (enum tm_phase)p);
		int64_t deadline = pstart + ptimeout < run_deadline ? pstart + ptimeout : run_deadline;
		size_t n = 0, nw = 0;

		if ((rc = phase_batch(&r, (enum tm_phase)p, nsmissing, run_deadline, batch, &n, &res, err)) == 0 && !n)
			continue;
		if (rc == 0)
			rc = run_phase(&r, (enum tm_phase)p, batch, n, waits, &nw, pstart, deadline, &done_objects, &res,
				       err);
		res.phase_ms[p] = tm_now_ms() - pstart;
		if (rc < 0) {
			res.failed_phase = p;
			if (rc == TM_EINTERRUPTED)
				tm_err_wrap(err, "interrupted in phase '%s' (%u of %zu objects applied; nothing was undone: "
					    "run it again to finish)", tm_phase_name((enum tm_phase)p), done_objects, r.n);
			else
				tm_err_wrap(err, "phase '%s'", tm_phase_name((enum tm_phase)p));
			goto out;
		}
		tm_apply_report(o, TM_INFO, "phase", tm_phase_name((enum tm_phase)p), false, "%s in %.1f s",
				nw ? "ready" : "applied", (double)res.phase_ms[p] / 1000.0);
	}
	rc = 0;
out:
	res.elapsed_ms = tm_now_ms() - start;
	if (out)
		*out = res;
	json_decref(nsmissing);
	free(batch);
	free(waits);
	tm_run_release(&r);
	return rc;
}
