/* A batch of calls at once: each call's answer settled (final, or retried after a
 * backoff with jitter and the server's Retry-After, or sent again once after a 401 with
 * an exec plugin's new credential), the calls not yet due waiting their turn. */
#include <stdlib.h>
#include <string.h>

#include "kube_private.h"
#include "tarmac/doc.h"

#define RETRY_AFTER_MAX_S 60 /* honour the server's Retry-After up to a minute */

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

/* The state of one tm_kube_do: per call (due, done, reauth) and per slot of a round's
 * batch (the rest; a slot's response body is reused, emptied each attempt). */
struct batch {
	struct tm_http_request *reqs;
	struct tm_http_response *resps;
	struct tm_err *errs;
	int *rcs;
	size_t *idx;      /* slot -> call */
	int64_t *due;     /* when a call may go again (a retry's backoff) */
	bool *done;
	int *reauth;
	size_t left;      /* calls not done */
};

static bool batch_alloc(struct batch *b, size_t n)
{
	size_t m = n ? n : 1;

	memset(b, 0, sizeof(*b));
	b->reqs = calloc(m, sizeof(*b->reqs));
	b->resps = calloc(m, sizeof(*b->resps));
	b->errs = calloc(m, sizeof(*b->errs));
	b->rcs = calloc(m, sizeof(*b->rcs));
	b->idx = calloc(m, sizeof(*b->idx));
	b->due = calloc(m, sizeof(*b->due));
	b->done = calloc(m, sizeof(*b->done));
	b->reauth = calloc(m, sizeof(*b->reauth));
	for (size_t i = 0; b->resps && i < n; i++)
		tm_buf_init(&b->resps[i].body, "response body", TM_KUBE_MAX_BODY);
	return b->reqs && b->resps && b->errs && b->rcs && b->idx && b->due && b->done && b->reauth;
}

static void batch_free(struct batch *b, size_t n)
{
	for (size_t i = 0; b->resps && i < n; i++)
		tm_buf_release(&b->resps[i].body);
	free(b->reqs);
	free(b->resps);
	free(b->errs);
	free(b->rcs);
	free(b->idx);
	free(b->due);
	free(b->done);
	free(b->reauth);
}

/* The calls due now into the round's slots (their count); *next: when the next one not
 * yet due is, *refused: whether one goes again after a 401. */
static size_t pick_due(struct tm_kube *k, struct batch *b, struct tm_kube_call *calls, size_t n, int64_t now,
		       int64_t *next, bool *refused)
{
	size_t m = 0;

	*next = INT64_MAX;
	*refused = false;
	for (size_t i = 0; i < n; i++) {
		if (b->done[i])
			continue;
		if (b->due[i] > now) {
			*next = b->due[i] < *next ? b->due[i] : *next;
			continue;
		}
		*refused = *refused || b->reauth[i] == REAUTH_PENDING;
		b->idx[m] = i;
		tm_buf_clear(&b->resps[m].body);
		b->resps[m].status = 0;
		b->resps[m].retry_after = -1;
		b->reqs[m] = calls[i].req;
		b->reqs[m].cancel = k->opts.cancel;
		if (!b->reqs[m].timeout_ms)
			b->reqs[m].timeout_ms = k->opts.timeout_ms;
		tm_err_init(&b->errs[m]);
		m++;
	}
	return m;
}

/* Sends the round's m slots (after renewing credentials when needed) and settles each
 * answer: done, or due again after its backoff. */
static void send_round(struct tm_kube *k, struct batch *b, struct tm_kube_call *calls, size_t m, bool refused)
{
	struct tm_err aerr;

	tm_err_init(&aerr);
	for (size_t j = 0; j < m; j++)
		if (b->reauth[b->idx[j]] == REAUTH_PENDING)
			b->reauth[b->idx[j]] = REAUTH_DONE;
	if (tm_kube_refresh_cred(k, refused, &aerr) < 0) {
		for (size_t j = 0; j < m; j++) {
			calls[b->idx[j]].err = aerr;
			calls[b->idx[j]].rc = aerr.code;
			b->done[b->idx[j]] = true;
		}
		b->left -= m;
		return;
	}
	tm_kube_roundtrip_many(k, m, b->reqs, b->resps, b->rcs, b->errs);
	for (size_t j = 0; j < m; j++) {
		size_t i = b->idx[j];
		struct tm_kube_call *c = &calls[i];
		long delay;
		int was = b->reauth[i];

		c->attempts++;
		if (b->rcs[j] < 0)
			c->err = b->errs[j];
		if (settle(k, c, b->rcs[j], &b->resps[j], &b->reauth[i], &delay)) {
			/* a re-authentication repeat is not a retry of the same answer */
			if (b->reauth[i] != was)
				c->attempts--;
			b->due[i] = tm_now_ms() + delay;
			continue;
		}
		b->done[i] = true;
		b->left--;
	}
}

int tm_kube_do(struct tm_kube *k, struct tm_kube_call *calls, size_t n, struct tm_err *err)
{
	struct batch b;
	int rc = 0;

	if (k->cfg && k->cfg->plain_http_creds && !k->warned_plain_http) {
		k->warned_plain_http = true;
		tm_kube_report(k, TM_WARN, "auth", "credentials go to '%s' over plain http, unencrypted "
			       "(TARMAC_ALLOW_PLAIN_HTTP=1): for a test server on this machine only", k->server);
	}
	if (!batch_alloc(&b, n)) {
		for (size_t i = 0; i < n; i++)
			calls[i].rc = tm_err_set(&calls[i].err, TM_ERROR, "out of memory");
		rc = TM_ERROR;
		goto out;
	}
	b.left = n;
	for (size_t i = 0; i < n; i++) {
		if (!calls[i].req.method) {
			/* nothing to send (the caller could not build it): its rc is the caller's */
			b.done[i] = true;
			b.left--;
			continue;
		}
		tm_err_init(&calls[i].err);
		calls[i].rc = 0;
		calls[i].attempts = 0;
		calls[i].status = 0;
	}
	while (b.left) {
		int64_t now = tm_now_ms(), next;
		bool refused;
		size_t m;

		if (tm_kube_cancelled(k)) {
			rc = TM_EINTERRUPTED;
			break;
		}
		if ((m = pick_due(k, &b, calls, n, now, &next, &refused)))
			send_round(k, &b, calls, m, refused);
		else if ((rc = tm_kube_sleep(k, (long)(next - now))) < 0)
			break;
	}
	for (size_t i = 0; rc == TM_EINTERRUPTED && i < n; i++)
		if (!b.done[i])
			calls[i].rc = tm_err_set(&calls[i].err, TM_EINTERRUPTED, "%s %s: interrupted", calls[i].req.method,
						 calls[i].req.path);
out:
	if (rc < 0)
		tm_err_set(err, rc, rc == TM_EINTERRUPTED ? "interrupted" : "out of memory");
	batch_free(&b, n);
	return rc;
}

