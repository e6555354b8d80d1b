/* Watches: list each collection, then follow all of them at once on one connection
 * (HTTP/2 streams), resuming from the last resourceVersion when the server ends a
 * watch and relisting on 410 Gone. See docs/kube-client.md. */
#include <stdlib.h>
#include <string.h>

#include "kube_private.h"
#include "tarmac/doc.h"

#define EVENT_MAX (16u << 20)  /* one watch event line */
#define WATCH_MAX_S 240        /* timeoutSeconds of one watch request */

struct watch_all;

struct stream {
	struct watch_all *w;
	size_t which;
	char rv[64];
	bool relist;        /* 410 Gone: list again */
	bool failed;        /* the server ended it with an error event: back off */
	struct tm_buf line;
	struct tm_buf path; /* the watch request's path with its query */
};

struct watch_all {
	struct tm_kube *k;
	tm_kube_event_fn fn;
	void *ctx;
	int64_t deadline;
	int64_t last_tick;
	int result;         /* 1 done, <0 an error from fn or a stream */
	bool timed_out;
	struct tm_err *err;
	/* one round of watch requests, one of each per stream */
	struct tm_http_request *reqs;
	struct tm_http_response *resps;
	struct tm_err *errs;
	int *rcs;
	int failures;       /* rounds in a row with a failed stream */
	bool reauthed;      /* the exec plugin ran again after a 401 */
};

static const char *query_sep(const char *path)
{
	return strchr(path, '?') ? "&" : "?";
}

static void set_rv(struct stream *s, json_t *obj)
{
	const char *rv = json_string_value(tm_doc_get(obj, "metadata", "resourceVersion", NULL));

	if (rv && strlen(rv) < sizeof(s->rv))
		memcpy(s->rv, rv, strlen(rv) + 1);
}

/* One line of a watch stream: {"type": ..., "object": ...}. Returns on_data's code. */
static int on_line(struct stream *s, const char *p, size_t n)
{
	struct watch_all *w = s->w;
	json_error_t jerr;
	json_t *ev, *obj;
	const char *type;
	int r = 0;

	if ((r = tm_json_check(p, n, w->err)) < 0) {
		w->result = tm_err_wrap(w->err, "watch '%s': an event", s->path.data);
		return 2;
	}
	ev = json_loadb(p, n, 0, &jerr);
	type = json_string_value(json_object_get(ev, "type"));
	obj = json_object_get(ev, "object");
	if (!ev) {
		w->result = tm_err_set(w->err, TM_ERROR, "watch '%s': an event is not JSON (%s)", s->path.data, jerr.text);
		return 2;
	}
	if (!type || strcmp(type, "ERROR") == 0) {
		/* a Status instead of events (403, 410, ...), or an ERROR event: end the whole
		 * batch, so no stream waits for the others' timeouts before it resumes */
		json_t *st = type ? obj : ev;

		if (json_integer_value(json_object_get(st, "code")) == 410)
			s->relist = true;
		else
			s->failed = true;
		json_decref(ev);
		return 2;
	}
	set_rv(s, obj);
	if (strcmp(type, "BOOKMARK") != 0) {
		r = w->fn(w->ctx, s->which, type, obj);
		if (r != 0) {
			w->result = r;
			r = 2;
		}
	}
	json_decref(ev);
	return r;
}

static int tick(struct watch_all *w)
{
	int64_t now = tm_now_ms();
	int r;

	if (now >= w->deadline) {
		w->timed_out = true;
		return 2;
	}
	if (now - w->last_tick < 900)
		return 0;
	w->last_tick = now;
	r = w->fn(w->ctx, SIZE_MAX, "TICK", NULL);
	if (r != 0) {
		w->result = r;
		return 2;
	}
	return 0;
}

static int on_data(void *ctx, const char *p, size_t n)
{
	struct stream *s = ctx;
	size_t start = 0;

	if (!p)
		return tick(s->w);
	if (tm_buf_append(&s->line, p, n, NULL) < 0) {
		s->w->result = tm_err_set(s->w->err, TM_ELIMIT, "watch '%s': an event exceeds %u bytes", s->path.data,
					  EVENT_MAX);
		return 2;
	}
	for (size_t i = 0; i < s->line.len; i++) {
		int r;

		if (s->line.data[i] != '\n')
			continue;
		r = i > start ? on_line(s, s->line.data + start, i - start) : 0;
		start = i + 1;
		if (r) {
			tm_buf_clear(&s->line);
			return r;
		}
	}
	if (start) {
		memmove(s->line.data, s->line.data + start, s->line.len - start);
		s->line.len -= start;
		s->line.data[s->line.len] = '\0';
	}
	return tick(s->w);
}

/* Lists the streams marked relist, feeding every item to fn. */
static int relist(struct watch_all *w, struct stream *st, const char *const *paths, size_t n)
{
	struct tm_kube_call *c = calloc(n, sizeof(*c));
	size_t *which = calloc(n, sizeof(*which)), m = 0;
	int rc = 0;

	if (!c || !which) {
		rc = tm_err_set(w->err, TM_ERROR, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (!st[i].relist)
			continue;
		which[m] = i;
		c[m].req = (struct tm_http_request){ .method = "GET", .path = paths[i] };
		c[m].want_json = true;
		m++;
	}
	if ((rc = tm_kube_do(w->k, c, m, w->err)) < 0)
		goto out;
	for (size_t j = 0; j < m; j++) {
		struct stream *s = &st[which[j]];
		json_t *item;
		size_t i;

		if ((rc = c[j].rc) < 0) {
			*w->err = c[j].err;
			/* an API that does not answer is not an object that is not ready */
			if (rc == TM_ETIMEOUT)
				rc = w->err->code = TM_EUNAVAILABLE;
			tm_err_wrap(w->err, "watch '%s'", paths[which[j]]);
			goto out;
		}
		set_rv(s, c[j].out);
		s->relist = false;
		json_array_foreach(json_object_get(c[j].out, "items"), i, item)
			if ((rc = w->fn(w->ctx, s->which, "ADDED", item)) != 0)
				goto out;
	}
out:
	for (size_t j = 0; c && j < m; j++)
		tm_kube_call_release(&c[j]);
	free(c);
	free(which);
	return rc;
}

/* Each stream's watch request for the next round, left ms before the deadline. */
static int prepare_round(struct watch_all *w, struct stream *st, const char *const *paths, size_t n, int64_t left)
{
	long secs = left / 1000 + 1 > WATCH_MAX_S ? WATCH_MAX_S : (long)(left / 1000 + 1);
	int rc;

	for (size_t i = 0; i < n; i++) {
		tm_buf_clear(&st[i].line);
		tm_buf_clear(&st[i].path);
		if ((rc = tm_buf_printf(&st[i].path, w->err,
					"%s%swatch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%ld", paths[i],
					query_sep(paths[i]), st[i].rv, secs)) < 0)
			return rc;
		w->reqs[i] = (struct tm_http_request){ .method = "GET", .path = st[i].path.data,
						       .timeout_ms = secs * 1000 + 10000, .on_data = on_data,
						       .on_data_ctx = &st[i], .cancel = w->k->opts.cancel };
		tm_err_init(&w->errs[i]);
	}
	return 0;
}

/* A dropped or refused watch: resumed after a pause, like any retry, until 30 rounds in
 * a row have failed. */
static int resume_failed(struct watch_all *w, size_t i, const char *path)
{
	struct tm_kube *k = w->k;
	struct tm_err *err = w->err;
	int rc;

	if (++w->failures > 30) {
		if (w->rcs[i] < 0)
			*err = w->errs[i];
		/* a server that does not answer is unreachable, not a wait that ran out */
		if (err && err->code == TM_ETIMEOUT)
			err->code = TM_EUNAVAILABLE;
		else
			tm_kube_map_status(k, &w->reqs[i], w->resps[i].status, &w->resps[i].body, false, err);
		return tm_err_wrap(err, "watch '%s' kept failing", path);
	}
	k->stats.retries++;
	if (w->rcs[i] < 0)
		k->stats.retry_dropped++;
	else if (w->resps[i].status == 429)
		k->stats.retry_429++;
	else
		k->stats.retry_5xx++;
	tm_kube_report(k, TM_INFO, "retry", "watch %s: %s; resuming", path,
		       w->rcs[i] < 0 ? tm_err_msg(&w->errs[i]) : "the server refused it");
	if ((rc = tm_kube_sleep(k, tm_kube_backoff(k, w->failures > 5 ? 5 : w->failures))) < 0)
		return tm_err_set(err, rc, "interrupted");
	return 0;
}

/* How stream i's round ended: 0 to go on (a 410 relists, an expired plugin token is
 * renewed once, a failure is resumed), else the code to stop with. */
static int after_round(struct watch_all *w, struct stream *st, size_t i, const char *path)
{
	struct tm_kube *k = w->k;
	long status = w->resps[i].status;
	int rc = w->rcs[i];

	if (rc == TM_EINTERRUPTED) {
		*w->err = w->errs[i];
		return TM_EINTERRUPTED;
	}
	if (status == 410) {
		st[i].relist = true;
	} else if (rc == 0 && status == 401 && k->cfg && k->cfg->exec && !w->reauthed) {
		/* an exec plugin's token expired during a long wait */
		w->reauthed = true;
		return tm_kube_refresh_cred(k, true, w->err);
	} else if (rc == 0 && (status == 401 || status == 403 || status == 404)) {
		return tm_kube_map_status(k, &w->reqs[i], status, &w->resps[i].body, false, w->err);
	} else if (rc == TM_EAUTH) {
		/* the server's certificate cannot be verified: trying again cannot help */
		*w->err = w->errs[i];
		return w->errs[i].code;
	} else if (rc < 0 || status >= 400 || st[i].failed) {
		st[i].failed = false;
		return resume_failed(w, i, path);
	}
	return 0;
}

/* One round: every stream relisted if it must, then watched until the server ends the
 * watch (its timeout), fn says done, or the deadline. 0 to go on with the next round. */
static int one_round(struct watch_all *w, struct stream *st, const char *const *paths, size_t n, bool first)
{
	struct tm_kube *k = w->k;
	bool clean = true;
	int64_t left;
	int rc;

	if ((rc = relist(w, st, paths, n)) != 0)
		return rc;
	if (first && (rc = w->fn(w->ctx, SIZE_MAX, "SYNCED", NULL)) != 0)
		return rc;
	if (k->opts.cancel && *k->opts.cancel)
		return tm_err_set(w->err, TM_EINTERRUPTED, "interrupted");
	if ((left = w->deadline - tm_now_ms()) <= 0)
		return TM_ETIMEOUT;
	if ((rc = prepare_round(w, st, paths, n, left)) < 0 || (rc = tm_kube_refresh_cred(k, false, w->err)) < 0)
		return rc;
	tm_kube_roundtrip_many(k, n, w->reqs, w->resps, w->rcs, w->errs);
	if (w->result)
		return w->result;
	if (w->timed_out)
		return TM_ETIMEOUT;
	for (size_t i = 0; i < n; i++)
		clean = clean && w->rcs[i] == 0 && w->resps[i].status < 400 && !st[i].failed;
	if (clean)
		w->failures = 0;
	for (size_t i = 0; i < n; i++)
		if ((rc = after_round(w, st, i, paths[i])) < 0)
			return rc;
	return 0;
}

int tm_kube_watch(struct tm_kube *k, const char *const *paths, size_t n, int64_t deadline_ms,
		  tm_kube_event_fn fn, void *ctx, struct tm_err *err)
{
	struct watch_all w = { .k = k, .fn = fn, .ctx = ctx, .deadline = deadline_ms, .err = err };
	struct stream *st = calloc(n ? n : 1, sizeof(*st));
	int rc = 0;

	w.reqs = calloc(n ? n : 1, sizeof(*w.reqs));
	w.resps = calloc(n ? n : 1, sizeof(*w.resps));
	w.errs = calloc(n ? n : 1, sizeof(*w.errs));
	w.rcs = calloc(n ? n : 1, sizeof(*w.rcs));
	if (!st || !w.reqs || !w.resps || !w.errs || !w.rcs) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		st[i] = (struct stream){ .w = &w, .which = i, .relist = true };
		tm_buf_init(&st[i].line, "watch event", EVENT_MAX);
		tm_buf_init(&st[i].path, "watch path", 8192);
		tm_buf_init(&w.resps[i].body, "watch answer", 1u << 20);
	}
	for (bool first = true; (rc = one_round(&w, st, paths, n, first)) == 0; first = false)
		;
	if (rc == 1)
		rc = 0;
	else if (rc == TM_ETIMEOUT)
		tm_err_set(err, TM_ETIMEOUT, "deadline passed");
out:
	for (size_t i = 0; st && w.resps && i < n; i++) {
		tm_buf_release(&st[i].line);
		tm_buf_release(&st[i].path);
		tm_buf_release(&w.resps[i].body);
	}
	free(st);
	free(w.reqs);
	free(w.resps);
	free(w.errs);
	free(w.rcs);
	return rc;
}
