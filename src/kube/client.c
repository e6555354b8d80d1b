/* The Kubernetes client over a transport: batches of calls with retries (backoff,
 * jitter, Retry-After), exec-plugin credentials, status mapping with the server's
 * own message, JSON decoding under a size cap. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube_private.h"
#include "tarmac/doc.h"

#define EXEC_TIMEOUT_MS 60000
#define RETRY_AFTER_MAX_S 60 /* honour the server's Retry-After up to a minute */

static const struct tm_kube_opts default_opts = {
	.max_attempts = 6,
	.base_backoff_ms = 250,
	.max_backoff_ms = 10000,
	.timeout_ms = 60000,
	.exec_timeout_ms = EXEC_TIMEOUT_MS,
};

int tm_kube_open(struct tm_kube **out, const struct tm_kube_config *cfg, struct tm_transport *tr,
		 struct tm_err *err)
{
	struct tm_kube *k = calloc(1, sizeof(*k));
	int rc = 0;

	if (!k || !(k->server = strdup(cfg->server)) || !(k->context = strdup(cfg->context ? cfg->context : "")) ||
	    !(k->rlists = json_object())) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		if (tr && tr->free)
			tr->free(tr->ctx);
		goto out;
	}
	k->cfg = cfg;
	k->opts = default_opts;
	k->rng = (uint64_t)tm_now_ms() * 6364136223846793005ull ^ (uint64_t)getpid();
	if (tr)
		k->tr = *tr;
	else if ((rc = tm_transport_curl(&k->tr, cfg, err)) < 0)
		goto out;
	*out = k;
	k = NULL;
out:
	tm_kube_free(k);
	return rc;
}

void tm_kube_free(struct tm_kube *k)
{
	if (!k)
		return;
	if (k->tr.free)
		k->tr.free(k->tr.ctx);
	for (size_t i = 0; i < k->napi_versions; i++)
		free(k->api_versions[i]);
	free(k->api_versions);
	json_decref(k->rlists);
	free(k->server);
	free(k->context);
	free(k);
}

void tm_kube_set_opts(struct tm_kube *k, const struct tm_kube_opts *o)
{
	k->opts = *o;
	if (k->opts.max_attempts < 1)
		k->opts.max_attempts = 1;
	if (k->opts.base_backoff_ms <= 0)
		k->opts.base_backoff_ms = default_opts.base_backoff_ms;
	if (k->opts.max_backoff_ms < k->opts.base_backoff_ms)
		k->opts.max_backoff_ms = k->opts.base_backoff_ms;
	if (k->opts.timeout_ms <= 0)
		k->opts.timeout_ms = default_opts.timeout_ms;
	if (k->opts.exec_timeout_ms <= 0)
		k->opts.exec_timeout_ms = default_opts.exec_timeout_ms;
}

const struct tm_kube_opts *tm_kube_get_opts(const struct tm_kube *k)
{
	return &k->opts;
}

unsigned tm_kube_requests(const struct tm_kube *k)
{
	return k->stats.requests;
}

const struct tm_kube_stats *tm_kube_stats(const struct tm_kube *k)
{
	return &k->stats;
}

void tm_kube_report(struct tm_kube *k, enum tm_level lvl, const char *kind, const char *fmt, ...)
{
	struct tm_event ev = { .level = lvl, .kind = kind };
	char msg[768];
	va_list ap;

	if (!k->opts.report)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ev.msg = msg;
	k->opts.report(k->opts.report_ctx, &ev);
}

long tm_kube_backoff(struct tm_kube *k, int attempt)
{
	long d = k->opts.base_backoff_ms;

	for (int i = 1; i < attempt && d < k->opts.max_backoff_ms; i++)
		d *= 2;
	if (d > k->opts.max_backoff_ms)
		d = k->opts.max_backoff_ms;
	/* xorshift64: jitter only, so retries of many clients do not line up */
	k->rng ^= k->rng << 13;
	k->rng ^= k->rng >> 7;
	k->rng ^= k->rng << 17;
	return d / 2 + (long)(k->rng % (uint64_t)(d / 2 + 1));
}

static bool is_cancelled(const struct tm_kube *k)
{
	return k->opts.cancel && *k->opts.cancel;
}

int tm_kube_sleep(struct tm_kube *k, long ms)
{
	int64_t until = tm_now_ms() + ms;

	while (!is_cancelled(k)) {
		int64_t left = until - tm_now_ms();
		struct timespec ts;

		if (left <= 0)
			return 0;
		if (left > 50)
			left = 50;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000L;
		nanosleep(&ts, NULL);
	}
	return TM_EINTERRUPTED;
}

void tm_kube_roundtrip_many(struct tm_kube *k, size_t n, const struct tm_http_request *reqs,
			    struct tm_http_response *resps, int *rcs, struct tm_err *errs)
{
	k->stats.requests += (unsigned)n;
	if (k->tr.roundtrip_many) {
		k->tr.roundtrip_many(k->tr.ctx, n, reqs, resps, rcs, errs);
		return;
	}
	for (size_t i = 0; i < n; i++)
		rcs[i] = k->tr.roundtrip(k->tr.ctx, &reqs[i], &resps[i], &errs[i]);
}

/* ------------------------------------------------------------------ status mapping */

/* The message of a metav1.Status body, or a short excerpt of whatever came. */
static json_t *load_status(const struct tm_buf *body)
{
	return tm_json_check(tm_buf_cstr(body), body->len, NULL) == 0 ? json_loadb(tm_buf_cstr(body), body->len, 0, NULL)
								      : NULL;
}

static void status_message(const struct tm_buf *body, char *msg, size_t n)
{
	json_t *st = load_status(body);
	const char *m = json_string_value(json_object_get(st, "message"));

	if (m && *m)
		snprintf(msg, n, "%s", m);
	else if (body->len)
		snprintf(msg, n, "%.200s", tm_buf_cstr(body));
	else
		snprintf(msg, n, "no details given");
	json_decref(st);
}

/* A server-side apply conflict names each field and the manager owning it:
 * causes[] = {reason: FieldManagerConflict, message: "conflict with \"kubectl\" ...",
 * field: ".spec.replicas"}. Returns false when the body has no such causes. */
static bool conflict_message(const struct tm_buf *body, char *msg, size_t n)
{
	json_t *st = load_status(body);
	json_t *causes = tm_doc_get(st, "details", "causes", NULL), *c;
	size_t i, used = 0, count = 0;

	msg[0] = '\0';
	json_array_foreach(causes, i, c) {
		const char *field = json_string_value(json_object_get(c, "field"));
		const char *m = json_string_value(json_object_get(c, "message"));
		const char *q1 = m ? strchr(m, '"') : NULL, *q2 = q1 ? strchr(q1 + 1, '"') : NULL;
		int w;

		if (!field || !q2 || used >= n)
			continue;
		w = snprintf(msg + used, n - used, "%s%s (manager '%.*s')", count ? ", " : "", field,
			     (int)(q2 - q1 - 1), q1 + 1);
		if (w < 0)
			break;
		used += (size_t)w;
		count++;
	}
	json_decref(st);
	return count > 0;
}

int tm_kube_map_status(const struct tm_kube *k, const struct tm_http_request *req, long status,
		       const struct tm_buf *body, bool apply, struct tm_err *err)
{
	char msg[1024];
	int code;

	if (status >= 200 && status < 300)
		return 0;
	if (status == 409 && apply && conflict_message(body, msg, sizeof(msg)))
		return tm_err_set(err, TM_ECONFLICT,
				  "field conflict on %s: another manager owns %s; use --force-conflicts to take ownership",
				  msg, strchr(msg, ',') ? "them" : "it");
	status_message(body, msg, sizeof(msg));
	switch (status) {
	case 401:
		return tm_err_set(err, TM_EAUTH, "the cluster at '%s' refused the credentials of context '%s' (401 Unauthorized): %s",
				  k->server, k->context, msg);
	case 403:
		code = TM_EAUTH;
		break;
	case 404:
		code = TM_ENOTFOUND;
		break;
	case 409:
		code = TM_ECONFLICT;
		break;
	case 422:
		code = TM_EINVALID;
		break;
	case 429:
		code = TM_EUNAVAILABLE;
		break;
	default:
		code = status >= 500 ? TM_EUNAVAILABLE : TM_ERROR;
	}
	return tm_err_set(err, code, "%s %s: %ld: %s", req->method, req->path, status, msg);
}

/* ------------------------------------------------------------------ credentials */

/* Runs the exec plugin when the context has one and its credential is missing,
 * expired (or about to), or was just refused. */
int tm_kube_refresh_cred(struct tm_kube *k, bool refused, struct tm_err *err)
{
	struct tm_kube_cred cred;
	int64_t now = (int64_t)time(NULL);
	int rc;

	if (!k->cfg || !k->cfg->exec)
		return 0;
	if (k->have_cred && !refused && (!k->cred_expires || now < k->cred_expires - 10))
		return 0;
	if (!k->tr.set_auth)
		return tm_err_set(err, TM_EAUTH, "context '%s': this transport cannot take exec plugin credentials",
				  k->context);
	if (k->have_cred)
		k->stats.reauth++;
	tm_kube_cred_init(&cred);
	rc = tm_kube_exec_run(&cred, k->cfg,
			      &(struct tm_kube_exec_opts){ .interactive = k->opts.interactive,
							   .timeout_ms = k->opts.exec_timeout_ms, .cancel = k->opts.cancel,
							   .report = k->opts.report, .report_ctx = k->opts.report_ctx },
			      err);
	if (rc == 0)
		rc = k->tr.set_auth(k->tr.ctx, cred.token, cred.cert_pem.len ? &cred.cert_pem : NULL,
				    cred.key_pem.len ? &cred.key_pem : NULL, err);
	if (rc == 0) {
		k->have_cred = true;
		k->cred_expires = cred.expires;
		if (refused)
			tm_kube_report(k, TM_INFO, "auth", "the cluster refused the plugin's credential: ran the exec plugin again");
	}
	tm_kube_cred_release(&cred);
	/* no credentials in time is a failure to authenticate, not a health wait running
	 * out (exit 5, not 4) */
	if (rc == TM_ETIMEOUT)
		rc = err ? (err->code = TM_EAUTH) : TM_EAUTH;
	if (rc < 0)
		tm_err_wrap(err, "context '%s'", k->context);
	return rc;
}

/* ------------------------------------------------------------------ calls */

void tm_kube_call_release(struct tm_kube_call *c)
{
	json_decref(c->out);
	c->out = NULL;
}

static bool retryable_status(long s)
{
	return s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

/* Decides what one finished exchange means. Returns 1 to retry (after *delay ms),
 * 0 when the call is final. */
enum { REAUTH_NONE, REAUTH_PENDING, REAUTH_DONE };

static int settle(struct tm_kube *k, struct tm_kube_call *c, int trc, struct tm_http_response *resp,
		  int *reauth, long *delay)
{
	json_error_t jerr;
	const char *why = NULL;
	char whybuf[64];

	c->status = resp->status;
	*delay = 0;
	if (trc == TM_EINTERRUPTED || (trc < 0 && trc != TM_EUNAVAILABLE && trc != TM_ETIMEOUT)) {
		c->rc = trc;
		return 0;
	}
	if (trc < 0) {
		why = trc == TM_ETIMEOUT ? "timed out" : "connection failed";
	} else if (resp->status == 401 && k->cfg && k->cfg->exec && *reauth == REAUTH_NONE) {
		*reauth = REAUTH_PENDING;
		return 1;
	} else if (retryable_status(resp->status)) {
		snprintf(whybuf, sizeof(whybuf), "%ld %s", resp->status,
			 resp->status == 429 ? "Too Many Requests" : "server error");
		why = whybuf;
	}
	if (why && c->attempts < (c->max_attempts > 0 ? c->max_attempts : k->opts.max_attempts)) {
		*delay = tm_kube_backoff(k, c->attempts);
		if (resp->status == 429 || resp->status == 503) {
			if (resp->retry_after >= 0)
				*delay = (resp->retry_after > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : resp->retry_after) * 1000L;
		}
		k->stats.retries++;
		if (trc == TM_ETIMEOUT)
			k->stats.retry_timeout++;
		else if (trc < 0)
			k->stats.retry_dropped++;
		else if (resp->status == 429)
			k->stats.retry_429++;
		else
			k->stats.retry_5xx++;
		tm_kube_report(k, TM_INFO, "retry", "%s %s: %s; retrying in %.1f s (attempt %d of %d)", c->req.method,
			       c->req.path, why, (double)*delay / 1000.0, c->attempts + 1,
			       c->max_attempts > 0 ? c->max_attempts : k->opts.max_attempts);
		return 1;
	}
	if (trc < 0) {
		/* a server that does not answer in time is unreachable (exit 5); TM_ETIMEOUT
		 * is kept for the deadlines of waits (exit 4) */
		c->rc = trc == TM_ETIMEOUT ? (c->err.code = TM_EUNAVAILABLE) : trc;
	} else if ((c->rc = tm_kube_map_status(k, &c->req, resp->status, &resp->body, c->apply, &c->err)) < 0) {
		/* the status error is final */
	} else if (c->text && (c->rc = tm_buf_append(c->text, resp->body.data, resp->body.len, &c->err)) < 0) {
		tm_err_wrap(&c->err, "%s %s: the answer", c->req.method, c->req.path);
	} else if (c->want_json && (c->rc = tm_json_check(tm_buf_cstr(&resp->body), resp->body.len, &c->err)) < 0) {
		tm_err_wrap(&c->err, "%s %s: the answer", c->req.method, c->req.path);
	} else if (c->want_json) {
		json_decref(c->out);
		c->out = json_loadb(tm_buf_cstr(&resp->body), resp->body.len, 0, &jerr);
		if (!c->out)
			c->rc = tm_err_set(&c->err, TM_ERROR, "%s %s: the answer is not JSON (%s at byte %d)", c->req.method,
					   c->req.path, jerr.text, jerr.position);
	}
	if (c->rc < 0 && c->attempts > 1)
		tm_err_wrap(&c->err, "after %d attempts", c->attempts);
	return 0;
}

int tm_kube_do(struct tm_kube *k, struct tm_kube_call *calls, size_t n, struct tm_err *err)
{
	struct tm_http_request *reqs = calloc(n ? n : 1, sizeof(*reqs));
	struct tm_http_response *resps = calloc(n ? n : 1, sizeof(*resps));
	struct tm_err *errs = calloc(n ? n : 1, sizeof(*errs));
	size_t *idx = calloc(n ? n : 1, sizeof(*idx));
	int64_t *due = calloc(n ? n : 1, sizeof(*due));
	bool *done = calloc(n ? n : 1, sizeof(*done));
	int *reauth = calloc(n ? n : 1, sizeof(*reauth));
	int *rcs = calloc(n ? n : 1, sizeof(*rcs));
	size_t left = n;
	int rc = 0;

	if (k->cfg && k->cfg->plain_http_creds && !k->warned_plain_http) {
		k->warned_plain_http = true;
		tm_kube_report(k, TM_WARN, "auth", "credentials go to '%s' over plain http, unencrypted "
			       "(TARMAC_ALLOW_PLAIN_HTTP=1): for a test server on this machine only", k->server);
	}
	if (!reqs || !resps || !errs || !idx || !due || !done || !reauth || !rcs) {
		for (size_t i = 0; i < n; i++)
			calls[i].rc = tm_err_set(&calls[i].err, TM_ERROR, "out of memory");
		rc = TM_ERROR;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		tm_buf_init(&resps[i].body, "response body", TM_KUBE_MAX_BODY);
		if (!calls[i].req.method) {
			/* nothing to send (the caller could not build it): its rc is the caller's */
			done[i] = true;
			left--;
			continue;
		}
		tm_err_init(&calls[i].err);
		calls[i].rc = 0;
		calls[i].attempts = 0;
		calls[i].status = 0;
	}
	while (left) {
		size_t m = 0;
		bool refused = false;
		int64_t now = tm_now_ms(), next = INT64_MAX;
		struct tm_err aerr;

		if (is_cancelled(k)) {
			rc = TM_EINTERRUPTED;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			if (done[i])
				continue;
			if (due[i] > now) {
				next = due[i] < next ? due[i] : next;
				continue;
			}
			refused = refused || reauth[i] == REAUTH_PENDING;
			/* responses belong to batch slots: bodies are reused, emptied per attempt */
			idx[m] = i;
			tm_buf_clear(&resps[m].body);
			resps[m].status = 0;
			resps[m].retry_after = -1;
			reqs[m] = calls[i].req;
			reqs[m].cancel = k->opts.cancel;
			if (!reqs[m].timeout_ms)
				reqs[m].timeout_ms = k->opts.timeout_ms;
			tm_err_init(&errs[m]);
			m++;
		}
		if (!m) {
			if ((rc = tm_kube_sleep(k, (long)(next - now))) < 0)
				break;
			continue;
		}
		tm_err_init(&aerr);
		for (size_t j = 0; j < m; j++)
			if (reauth[idx[j]] == REAUTH_PENDING)
				reauth[idx[j]] = REAUTH_DONE;
		if (tm_kube_refresh_cred(k, refused, &aerr) < 0) {
			for (size_t j = 0; j < m; j++) {
				calls[idx[j]].err = aerr;
				calls[idx[j]].rc = aerr.code;
				done[idx[j]] = true;
			}
			left -= m;
			continue;
		}
		tm_kube_roundtrip_many(k, m, reqs, resps, rcs, errs);
		for (size_t j = 0; j < m; j++) {
			size_t i = idx[j];
			struct tm_kube_call *c = &calls[i];
			long delay;
			int was = reauth[i];

			c->attempts++;
			if (rcs[j] < 0)
				c->err = errs[j];
			if (settle(k, c, rcs[j], &resps[j], &reauth[i], &delay)) {
				/* a re-authentication repeat is not a retry of the same answer */
				if (reauth[i] != was)
					c->attempts--;
				due[i] = tm_now_ms() + delay;
				continue;
			}
			done[i] = true;
			left--;
		}
	}
	if (rc == TM_EINTERRUPTED)
		for (size_t i = 0; i < n; i++)
			if (!done[i])
				calls[i].rc = tm_err_set(&calls[i].err, TM_EINTERRUPTED, "%s %s: interrupted", calls[i].req.method,
							 calls[i].req.path);
out:
	if (rc < 0)
		tm_err_set(err, rc, rc == TM_EINTERRUPTED ? "interrupted" : "out of memory");
	if (resps)
		for (size_t i = 0; i < n; i++)
			tm_buf_release(&resps[i].body);
	free(reqs);
	free(resps);
	free(errs);
	free(idx);
	free(due);
	free(done);
	free(reauth);
	free(rcs);
	return rc;
}

/* One call: its own rc, with its error copied to err. */
static int do_one(struct tm_kube *k, struct tm_kube_call *c, struct tm_err *err)
{
	int rc;

	if ((rc = tm_kube_do(k, c, 1, err)) == 0 && (rc = c->rc) < 0 && err)
		*err = c->err;
	return rc;
}

int tm_kube_request(struct tm_kube *k, const char *method, const char *path, const char *content_type,
		    const char *body, json_t **out, struct tm_err *err)
{
	struct tm_kube_call c = { .req = { .method = method, .path = path, .content_type = content_type,
					   .body = body, .body_len = body ? strlen(body) : 0 },
				  .want_json = out != NULL };
	int rc;

	if ((rc = do_one(k, &c, err)) < 0) {
		tm_kube_call_release(&c);
		return rc;
	}
	if (out)
		*out = c.out;
	else
		json_decref(c.out);
	return 0;
}

int tm_kube_get(struct tm_kube *k, const char *path, json_t **out, struct tm_err *err)
{
	return tm_kube_request(k, "GET", path, NULL, NULL, out, err);
}

int tm_kube_get_text(struct tm_kube *k, const char *path, int attempts, struct tm_buf *out, struct tm_err *err)
{
	struct tm_kube_call c = { .req = { .method = "GET", .path = path, .accept = "*/*", .timeout_ms = 15000 },
				  .text = out,
				  .max_attempts = attempts };
	int rc = do_one(k, &c, err);

	tm_kube_call_release(&c);
	return rc;
}

int tm_kube_server_version(struct tm_kube *k, char **out, struct tm_err *err)
{
	json_t *v = NULL;
	const char *gv;
	int rc;

	if ((rc = tm_kube_get(k, "/version", &v, err)) < 0)
		return rc;
	gv = json_string_value(json_object_get(v, "gitVersion"));
	if (!gv)
		rc = tm_err_set(err, TM_ERROR, "GET /version: the answer has no gitVersion");
	else if (!(*out = strdup(gv)))
		rc = tm_err_set(err, TM_ERROR, "out of memory");
	json_decref(v);
	return rc;
}

int tm_kube_batch_init(struct tm_kube_batch *b, size_t n, size_t path_max, struct tm_err *err)
{
	b->n = n;
	b->calls = calloc(n ? n : 1, sizeof(*b->calls));
	b->paths = calloc(n ? n : 1, sizeof(*b->paths));
	if (!b->calls || !b->paths) {
		tm_kube_batch_release(b);
		return tm_err_set(err, TM_ERROR, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		tm_buf_init(&b->paths[i], "path", path_max);
	return 0;
}

void tm_kube_batch_release(struct tm_kube_batch *b)
{
	for (size_t i = 0; b->calls && b->paths && i < b->n; i++) {
		tm_kube_call_release(&b->calls[i]);
		tm_buf_release(&b->paths[i]);
	}
	free(b->calls);
	free(b->paths);
	memset(b, 0, sizeof(*b));
}
