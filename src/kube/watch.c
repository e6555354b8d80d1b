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

int tm_kube_watch(struct tm_kube *k, const char *const *paths, size_t n, int64_t deadline_ms,
		  tm_kube_event_fn fn, void *ctx, struct tm_err *err)
{
	struct watch_all w = { .k = k, .fn = fn, .ctx = ctx, .deadline = deadline_ms, .err = err };
	struct stream *st = calloc(n ? n : 1, sizeof(*st));
	struct tm_http_request *reqs = calloc(n ? n : 1, sizeof(*reqs));
	struct tm_http_response *resps = calloc(n ? n : 1, sizeof(*resps));
	struct tm_err *errs = calloc(n ? n : 1, sizeof(*errs));
	int *rcs = calloc(n ? n : 1, sizeof(*rcs));
	int failures = 0, rc = 0;
	bool reauthed = false;

	if (!st || !reqs || !resps || !errs || !rcs) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		st[i] = (struct stream){ .w = &w, .which = i, .relist = true };
		tm_buf_init(&st[i].line, "watch event", EVENT_MAX);
		tm_buf_init(&st[i].path, "watch path", 8192);
		tm_buf_init(&resps[i].body, "watch answer", 1u << 20);
	}
	for (bool first = true;; first = false) {
		int64_t left;

		if ((rc = relist(&w, st, paths, n)) != 0)
			break;
		if (first && (rc = fn(ctx, SIZE_MAX, "SYNCED", NULL)) != 0)
			break;
		if (k->opts.cancel && *k->opts.cancel) {
			rc = tm_err_set(err, TM_EINTERRUPTED, "interrupted");
			break;
		}
		if ((left = deadline_ms - tm_now_ms()) <= 0) {
			rc = TM_ETIMEOUT;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			long secs = left / 1000 + 1;

			if (secs > WATCH_MAX_S)
				secs = WATCH_MAX_S;
			tm_buf_clear(&st[i].line);
			tm_buf_clear(&st[i].path);
			if ((rc = tm_buf_printf(&st[i].path, err,
						"%s%swatch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%ld",
						paths[i], query_sep(paths[i]), st[i].rv, secs)) < 0)
				goto out;
			reqs[i] = (struct tm_http_request){ .method = "GET", .path = st[i].path.data,
							    .timeout_ms = secs * 1000 + 10000, .on_data = on_data,
							    .on_data_ctx = &st[i], .cancel = k->opts.cancel };
			tm_err_init(&errs[i]);
		}
		if ((rc = tm_kube_refresh_cred(k, false, err)) < 0)
			goto out;
		tm_kube_roundtrip_many(k, n, reqs, resps, rcs, errs);
		if (w.result) {
			rc = w.result;
			break;
		}
		if (w.timed_out) {
			rc = TM_ETIMEOUT;
			break;
		}
		{
			bool clean = true;

			for (size_t i = 0; i < n; i++)
				clean = clean && rcs[i] == 0 && resps[i].status < 400 && !st[i].failed;
			if (clean)
				failures = 0;
		}
		for (size_t i = 0; i < n; i++) {
			if (rcs[i] == TM_EINTERRUPTED) {
				*err = errs[i];
				rc = TM_EINTERRUPTED;
				goto out;
			}
			if (resps[i].status == 410)
				st[i].relist = true;
			else if (rcs[i] == 0 && resps[i].status == 401 && k->cfg && k->cfg->exec && !reauthed) {
				/* an exec plugin's token expired during a long wait */
				reauthed = true;
				if ((rc = tm_kube_refresh_cred(k, true, err)) < 0)
					goto out;
			} else if (rcs[i] == 0 && (resps[i].status == 401 || resps[i].status == 403 || resps[i].status == 404)) {
				rc = tm_kube_map_status(k, &reqs[i], resps[i].status, &resps[i].body, false, err);
				goto out;
			} else if (rcs[i] == TM_EAUTH) {
				/* the server's certificate cannot be verified: trying again cannot help */
				*err = errs[i];
				rc = errs[i].code;
				goto out;
			} else if (rcs[i] < 0 || resps[i].status >= 400 || st[i].failed) {
				st[i].failed = false;
				/* a dropped or refused watch: resume it after a pause, like any retry */
				if (++failures > 30) {
					if (rcs[i] < 0)
						*err = errs[i];
					/* a server that does not answer is unreachable, not a wait that ran out */
					if (err && err->code == TM_ETIMEOUT)
						err->code = TM_EUNAVAILABLE;
					else
						tm_kube_map_status(k, &reqs[i], resps[i].status, &resps[i].body, false, err);
					rc = tm_err_wrap(err, "watch '%s' kept failing", paths[i]);
					goto out;
				}
				k->stats.retries++;
				if (rcs[i] < 0)
					k->stats.retry_dropped++;
				else if (resps[i].status == 429)
					k->stats.retry_429++;
				else
					k->stats.retry_5xx++;
				tm_kube_report(k, TM_INFO, "retry", "watch %s: %s; resuming", paths[i],
					       rcs[i] < 0 ? tm_err_msg(&errs[i]) : "the server refused it");
				if ((rc = tm_kube_sleep(k, tm_kube_backoff(k, failures > 5 ? 5 : failures))) < 0) {
					tm_err_set(err, rc, "interrupted");
					goto out;
				}
			}
		}
	}
	if (rc == 1)
		rc = 0;
	else if (rc == TM_ETIMEOUT)
		tm_err_set(err, TM_ETIMEOUT, "deadline passed");
out:
	for (size_t i = 0; st && resps && i < n; i++) {
		tm_buf_release(&st[i].line);
		tm_buf_release(&st[i].path);
		tm_buf_release(&resps[i].body);
	}
	free(st);
	free(reqs);
	free(resps);
	free(errs);
	free(rcs);
	return rc;
}
