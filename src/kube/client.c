/* The Kubernetes client over a transport: opening it, backoff and sleeps, exec-plugin
 * credentials, status mapping with the server's own message, and the single calls built
 * on batches (batch.c). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube_private.h"
#include "tarmac/doc.h"

#define EXEC_TIMEOUT_MS 60000

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

bool tm_kube_cancelled(const struct tm_kube *k)
{
	return k->opts.cancel && *k->opts.cancel;
}

int tm_kube_sleep(struct tm_kube *k, long ms)
{
	int64_t until = tm_now_ms() + ms;

	while (!tm_kube_cancelled(k)) {
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
