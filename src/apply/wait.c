/* Waiting for a phase: watch the collections of the awaited objects (and the pods of
 * their namespaces), judge each object with its kind's readiness rule, explain a
 * wait with the worst of its pods, fail fast on a verdict that waiting cannot fix. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "apply_private.h"
#include "podlog.h"
#include "tarmac/doc.h"

#define MAX_COLLECTIONS 64

struct waiter {
	struct tm_kube *k;
	const struct tm_apply_opts *o;
	struct tm_item **items;
	size_t n;
	size_t *coll;            /* per item: its collection */
	size_t *pods;            /* per item: its namespace's pods collection, or SIZE_MAX */
	char *paths[MAX_COLLECTIONS];
	bool is_pods[MAX_COLLECTIONS];
	json_t *podmap[MAX_COLLECTIONS]; /* pods collection: name -> pod */
	size_t npaths;
	bool synced;
	json_t *blamed;          /* the pod that explains a failure (for its log lines) */
	struct tm_err *err;
	int64_t started;
};

void tm_apply_report(const struct tm_apply_opts *o, enum tm_level lvl, const char *kind, const char *subject,
		     bool status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tm_vreportf(o->report, o->report_ctx, lvl, kind, subject, status, fmt, ap);
	va_end(ap);
}

static size_t add_path(struct waiter *w, const char *path, bool pods, struct tm_err *err)
{
	for (size_t i = 0; i < w->npaths; i++) {
		if (strcmp(w->paths[i], path) != 0)
			continue;
		/* bare Pods and a workload's pods can share one collection */
		if (pods && !w->is_pods[i]) {
			if (!(w->podmap[i] = json_object())) {
				tm_err_set(err, TM_ERROR, "out of memory");
				return SIZE_MAX;
			}
			w->is_pods[i] = true;
		}
		return i;
	}
	if (w->npaths == MAX_COLLECTIONS) {
		tm_err_set(err, TM_ELIMIT, "more than %d kinds and namespaces to watch in one phase", MAX_COLLECTIONS);
		return SIZE_MAX;
	}
	if (!(w->paths[w->npaths] = strdup(path)) || (pods && !(w->podmap[w->npaths] = json_object()))) {
		free(w->paths[w->npaths]);
		w->paths[w->npaths] = NULL;
		tm_err_set(err, TM_ERROR, "out of memory");
		return SIZE_MAX;
	}
	w->is_pods[w->npaths] = pods;
	return w->npaths++;
}

/* The pod that best explains why it is not ready: the worst state among the pods
 * its live selector matches. */
static enum tm_pod_severity pod_cause(const struct waiter *w, size_t i, char *buf, size_t n, char *pod, size_t pn,
				      json_t **which)
{
	const struct tm_item *it = w->items[i];
	json_t *sel = tm_doc_get(it->live, "spec", "selector", NULL), *p;
	enum tm_pod_severity worst = TM_POD_FINE;
	const char *name;

	buf[0] = pod[0] = '\0';
	*which = it->rule->ready == tm_ready_pod ? it->live : NULL; /* a bare Pod explains itself */
	if (w->pods[i] == SIZE_MAX || !sel)
		return worst;
	json_object_foreach(w->podmap[w->pods[i]], name, p) {
		char why[TM_REASON_MAX];
		enum tm_pod_severity s;

		if (!tm_selector_matches(sel, tm_doc_get(p, "metadata", "labels", NULL)))
			continue;
		s = tm_pod_cause(p, why, sizeof(why));
		if (s > worst || (s == worst && s != TM_POD_FINE && !buf[0])) {
			worst = s;
			snprintf(buf, n, "%s", why);
			snprintf(pod, pn, "%s", name);
			*which = p;
		}
	}
	return worst;
}

/* The wait's text for item i; *blamed gets the pod behind it (borrowed), if any. */
static void describe(const struct waiter *w, size_t i, const struct tm_readiness *r, char *out, size_t n,
		     json_t **blamed)
{
	char cause[TM_REASON_MAX], pod[256];

	if (pod_cause(w, i, cause, sizeof(cause), pod, sizeof(pod), blamed) != TM_POD_FINE)
		snprintf(out, n, "%s; pod %s: %s", r->reason[0] ? r->reason : "not ready", pod, cause);
	else
		snprintf(out, n, "%s", r->reason[0] ? r->reason : "not ready");
}

/* Judges every awaited item. Returns 1 when all are ready, 0 to keep waiting, a
 * negative code (with w->err set) when one failed. */
static int evaluate(struct waiter *w)
{
	size_t left = 0;

	for (size_t i = 0; i < w->n; i++) {
		struct tm_item *it = w->items[i];
		struct tm_readiness r = { TM_VERDICT_WAIT, "" };
		char text[sizeof(it->shown)];
		json_t *blamed;

		if (it->ready)
			continue;
		if (!it->live) {
			if (!w->synced)
				return 0;
			if (it->rule->ready == tm_ready_job && tm_doc_get(it->obj, "spec", "ttlSecondsAfterFinished", NULL)) {
				/* gone before the first look: only a TTL of (nearly) zero does that */
				it->ready = true;
				tm_apply_report(w->o, TM_WARN, "ready", it->subject,
						false, "removed by its ttlSecondsAfterFinished before tarmac saw it finish");
				continue;
			}
			snprintf(r.reason, sizeof(r.reason), "not found on the server");
		} else {
			it->rule->ready(it->live, &r);
			if (it->gone && r.verdict == TM_VERDICT_WAIT) {
				r.verdict = TM_VERDICT_FAILED;
				snprintf(r.reason, sizeof(r.reason), "deleted while tarmac waited for it");
			}
		}
		if (r.verdict == TM_VERDICT_READY) {
			it->ready = true;
			tm_apply_report(w->o, TM_INFO, "ready", it->subject, false, "ready after %.1f s%s",
					(double)(tm_now_ms() - w->started) / 1000.0,
					it->gone ? " (then removed by its ttlSecondsAfterFinished)" : "");
			continue;
		}
		describe(w, i, &r, text, sizeof(text), &blamed);
		if (r.verdict == TM_VERDICT_FAILED) {
			w->blamed = json_incref(blamed);
			return tm_err_set(w->err, TM_ERROR, "wait for %s: %s", it->subject, text);
		}
		left++;
		if (strcmp(text, it->shown) != 0) {
			snprintf(it->shown, sizeof(it->shown), "%s", text);
			tm_apply_report(w->o, TM_INFO, "wait", it->subject, true, "%s", text);
		}
	}
	return left ? 0 : 1;
}

static int on_event(void *ctx, size_t which, const char *type, json_t *obj)
{
	struct waiter *w = ctx;
	const char *name;

	if (which == SIZE_MAX) {
		if (strcmp(type, "SYNCED") == 0)
			w->synced = true;
		return evaluate(w);
	}
	name = json_string_value(tm_doc_get(obj, "metadata", "name", NULL));
	if (!name)
		return 0;
	if (w->is_pods[which]) {
		if (strcmp(type, "DELETED") == 0)
			json_object_del(w->podmap[which], name);
		else
			json_object_set(w->podmap[which], name, obj);
	}
	for (size_t i = 0; i < w->n; i++) {
		struct tm_item *it = w->items[i];

		if (w->coll[i] != which || strcmp(it->name, name) != 0)
			continue;
		json_decref(it->live);
		it->live = json_incref(obj);
		it->gone = strcmp(type, "DELETED") == 0;
	}
	return w->synced ? evaluate(w) : 0;
}

/* The blamed pod's last log lines after the error's text (the watch is over: the client
 * is free for more requests). */
static int add_log_lines(struct waiter *w, int rc)
{
	struct tm_buf note = TM_BUF_INIT("error note", TM_ERR_TEXT);
	struct tm_err err2;
	char base[TM_ERR_TEXT];
	int code = w->err->code, nrc;

	tm_err_init(&err2);
	snprintf(base, sizeof(base), "%s", tm_err_msg(w->err));
	if ((nrc = tm_podlog_note(w->k, w->blamed, &note, &err2)) < 0) {
		/* Ctrl-C while reading the logs still ends the run as interrupted */
		if (nrc == TM_EINTERRUPTED)
			rc = tm_err_set(w->err, TM_EINTERRUPTED, "%s", base);
		goto out;
	}
	if (note.len)
		rc = tm_err_set(w->err, code, "%s%s", base, tm_buf_cstr(&note));
out:
	tm_buf_release(&note);
	return rc;
}

int tm_apply_wait(struct tm_kube *k, struct tm_item **items, size_t n, int64_t deadline_ms, int64_t timeout_ms,
		  const struct tm_apply_opts *o, struct tm_err *err)
{
	struct waiter w = { .k = k, .o = o, .items = items, .n = n, .err = err, .started = tm_now_ms() };
	struct tm_buf path = TM_BUF_INIT("path", 8192);
	int rc = 0;

	w.coll = calloc(n ? n : 1, sizeof(*w.coll));
	w.pods = calloc(n ? n : 1, sizeof(*w.pods));
	if (!w.coll || !w.pods) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct tm_item *it = items[i];
		size_t same = 0;

		w.pods[i] = SIZE_MAX;
		for (size_t j = 0; j < n; j++)
			same += strcmp(items[j]->rsc.name, it->rsc.name) == 0 && strcmp(items[j]->rsc.group, it->rsc.group) == 0 &&
				(!it->ns || (items[j]->ns && strcmp(items[j]->ns, it->ns) == 0));
		if ((rc = tm_kube_path(&path, &it->rsc, it->ns, NULL, err)) < 0)
			goto out;
		/* one object of its kind: watch just it */
		if (same == 1 && (rc = tm_buf_printf(&path, err, "?fieldSelector=metadata.name%%3D%s", it->name)) < 0)
			goto out;
		if ((w.coll[i] = add_path(&w, path.data, false, err)) == SIZE_MAX) {
			rc = err->code;
			goto out;
		}
		if (it->rule->pods && it->ns) {
			tm_buf_clear(&path);
			if ((rc = tm_buf_printf(&path, err, "/api/v1/namespaces/%s/pods", it->ns)) < 0)
				goto out;
			if ((w.pods[i] = add_path(&w, path.data, true, err)) == SIZE_MAX) {
				rc = err->code;
				goto out;
			}
		}
	}
	rc = tm_kube_watch(k, (const char *const *)w.paths, w.npaths, deadline_ms, on_event, &w, err);
	if (rc == TM_ETIMEOUT) {
		/* name what was still awaited, with the cause its pods give */
		size_t shown = 0, left = 0;
		char first[sizeof(items[0]->subject) + sizeof(items[0]->shown) + 8] = "";

		for (size_t i = 0; i < n; i++) {
			struct tm_readiness r = { TM_VERDICT_WAIT, "not found on the server" };
			char text[sizeof(items[0]->shown)];
			json_t *blamed;

			if (items[i]->ready)
				continue;
			left++;
			if (shown++)
				continue;
			if (items[i]->live)
				items[i]->rule->ready(items[i]->live, &r);
			describe(&w, i, &r, text, sizeof(text), &blamed);
			w.blamed = json_incref(blamed);
			snprintf(first, sizeof(first), "%s: %s", items[i]->subject, text);
		}
		rc = tm_err_set(err, TM_ETIMEOUT, "wait for %s (not ready after %.0f s)%s%.0zu%s", first,
				(double)timeout_ms / 1000.0, left > 1 ? "; and " : "", left > 1 ? left - 1 : 0,
				left > 1 ? " more" : "");
	}
	if (rc < 0 && w.blamed)
		rc = add_log_lines(&w, rc);
out:
	json_decref(w.blamed);
	for (size_t i = 0; i < w.npaths; i++) {
		free(w.paths[i]);
		json_decref(w.podmap[i]);
	}
	free(w.coll);
	free(w.pods);
	tm_buf_release(&path);
	return rc;
}
