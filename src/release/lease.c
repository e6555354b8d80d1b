/* The release lock: a coordination.k8s.io/v1 Lease taken with optimistic concurrency
 * (create, or replace at a known resourceVersion), renewed from a thread with its own
 * connection every ttl/3, deleted at the end. A run that dies stops renewing, and
 * the lock is free ttl after its last renewal: nothing to unlock by hand. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tarmac/doc.h"
#include "release_private.h"
#include "tarmac/labels.h"

#define DEFAULT_TTL_MS 60000

struct tm_lock {
	char path[720];        /* the Lease */
	char coll[400];        /* its collection, for create */
	char name[300], ns[64];
	char holder[300];
	char command[64];
	char rv[64];           /* resourceVersion we last wrote */
	int64_t ttl_ms;
	int64_t acquired_ms;   /* wall clock */
	int64_t renewed_mono;  /* monotonic time of our last renewal the server took */
	json_int_t transitions;
	struct tm_kube *rk;    /* the renewal thread's client */
	pthread_t thread;
	bool running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	volatile sig_atomic_t lost_flag;
	volatile sig_atomic_t *lost; /* the caller's flag, raised with ours */
	volatile sig_atomic_t stop_requests; /* ends the renewal client's request at once */
	volatile sig_atomic_t gone_ok; /* the namespace is being deleted: a vanished Lease is no loss */
	volatile sig_atomic_t gone;    /* ... and it vanished */
	struct tm_err renew_err;
	struct tm_err last_err;  /* the last failed renewal, for the message when it is lost */
};

/* ------------------------------------------------------------------ the holder, pure */

static void holder_identity(char *out, size_t n, int64_t start_ms)
{
	char host[256] = "unknown", when[40];

	if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	tm_format_rfc3339(when, start_ms, false);
	/* host, process and start: enough to find it, and unique per run */
	snprintf(out, n, "%.200s/%ld/%s", host, (long)getpid(), when);
}

/* "host 'h' pid 1" from "h/1/2026-...". */
static void describe_holder(char *out, size_t n, const char *holder)
{
	const char *s1 = strchr(holder, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;

	if (!s1 || !s2)
		snprintf(out, n, "'%s'", holder);
	else
		snprintf(out, n, "host '%.*s' pid %.*s (started %s)", (int)(s1 - holder), holder, (int)(s2 - s1 - 1), s1 + 1,
			 s2 + 1);
}

int tm_lock_state(const json_t *lease, int64_t now_unix_ms, char *desc, size_t n)
{
	json_t *spec = json_object_get(lease, "spec");
	const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
	const char *renew = json_string_value(json_object_get(spec, "renewTime"));
	const char *acquire = json_string_value(json_object_get(spec, "acquireTime"));
	const char *cmd = json_string_value(tm_doc_get(lease, "metadata", "annotations", TM_COMMAND_ANNOTATION, NULL));
	json_int_t secs = json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
	int64_t renewed = 0;
	char who[400];

	if (!holder || !*holder) {
		snprintf(desc, n, "nobody");
		return 1;
	}
	describe_holder(who, sizeof(who), holder);
	if ((!renew || tm_parse_rfc3339_ms(renew, &renewed) < 0) && (!acquire || tm_parse_rfc3339_ms(acquire, &renewed) < 0)) {
		/* no time we can read: the holder never renewed in a way we understand */
		snprintf(desc, n, "%s, with no renewal time", who);
		return 1;
	}
	if (secs <= 0)
		secs = DEFAULT_TTL_MS / 1000;
	if (renewed + secs * 1000 <= now_unix_ms) {
		snprintf(desc, n, "%s%s%s%s, expired %.0f s ago", who, cmd ? " ('tarmac " : "", cmd ? cmd : "", cmd ? "')" : "",
			 (double)(now_unix_ms - renewed - secs * 1000) / 1000.0);
		return 1;
	}
	snprintf(desc, n, "%s%s%s%s, renewed %.0f s ago, free in %.0f s unless renewed", who, cmd ? " ('tarmac " : "",
		 cmd ? cmd : "", cmd ? "')" : "", (double)(now_unix_ms - renewed) / 1000.0,
		 (double)(renewed + secs * 1000 - now_unix_ms) / 1000.0);
	return 0;
}

/* ------------------------------------------------------------------ requests */

static json_t *lease_object(const struct tm_lock *l, int64_t acquired, int64_t renewed)
{
	char a[40], r[40];

	tm_format_rfc3339(a, acquired, true);
	tm_format_rfc3339(r, renewed, true);
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}, s:{s:s}, s:s?}, s:{s:s, s:I, s:s, s:s, s:I}}", "apiVersion",
			 "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name", l->name, "namespace", l->ns, "labels",
			 TM_LABEL_MANAGED_BY, TM_MANAGER, "annotations", TM_COMMAND_ANNOTATION, l->command, "resourceVersion",
			 l->rv[0] ? l->rv : NULL, "spec", "holderIdentity", l->holder, "leaseDurationSeconds",
			 (json_int_t)((l->ttl_ms + 999) / 1000), "acquireTime", a, "renewTime", r, "leaseTransitions",
			 l->transitions);
}

static void remember_rv(struct tm_lock *l, const json_t *ans)
{
	const char *rv = json_string_value(tm_doc_get(ans, "metadata", "resourceVersion", NULL));

	snprintf(l->rv, sizeof(l->rv), "%s", rv ? rv : "");
}

/* One attempt: create the Lease, or take it over when it is free. 0 taken, 1 held
 * by someone else (desc says who), TM_E* on errors. */
static int try_take(struct tm_lock *l, struct tm_kube *k, char *desc, size_t n, struct tm_err *err)
{
	json_t *live = NULL, *obj = NULL, *ans = NULL;
	char *body = NULL;
	int64_t now = tm_wall_ms();
	int rc;

	l->transitions = 0;
	rc = tm_kube_get(k, l->path, &live, err);
	if (rc < 0 && rc != TM_ENOTFOUND)
		goto out;
	if (rc == 0) {
		if (tm_lock_state(live, now, desc, n) == 0) {
			rc = 1;
			goto out;
		}
		remember_rv(l, live);
		l->transitions = json_integer_value(tm_doc_get(live, "spec", "leaseTransitions", NULL)) + 1;
	} else {
		l->rv[0] = '\0';
		desc[0] = '\0';
	}
	if (!(obj = lease_object(l, now, now)) || !(body = json_dumps(obj, JSON_COMPACT))) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	/* create when there is none; replace at the version read when it was free: either
	 * way a concurrent taker gets 409 and looks again */
	rc = l->rv[0] ? tm_kube_request(k, "PUT", l->path, "application/json", body, &ans, err)
		      : tm_kube_request(k, "POST", l->coll, "application/json", body, &ans, err);
	if (rc == TM_ECONFLICT) {
		/* a POST retried after a lost answer also gets 409 once the first one landed:
		 * the Lease may be ours already */
		const char *holder;

		json_decref(ans);
		ans = NULL;
		rc = tm_kube_get(k, l->path, &ans, err);
		if (rc == TM_ENOTFOUND) {
			snprintf(desc, n, "another run, which took it just now and has let it go since");
			rc = 1;
			goto out;
		}
		if (rc < 0)
			goto out;
		holder = json_string_value(tm_doc_get(ans, "spec", "holderIdentity", NULL));
		if (!holder || strcmp(holder, l->holder) != 0) {
			/* the race's winner, named as any holder is */
			tm_lock_state(ans, tm_wall_ms(), desc, n);
			rc = 1;
			goto out;
		}
	}
	if (rc < 0)
		goto out;
	remember_rv(l, ans);
	l->acquired_ms = now;
	l->renewed_mono = tm_now_ms();
out:
	json_decref(live);
	json_decref(obj);
	json_decref(ans);
	free(body);
	return rc;
}

/* ------------------------------------------------------------------ renewal thread */

static void mark_lost(struct tm_lock *l)
{
	l->lost_flag = 1;
	if (l->lost)
		*l->lost = 1;
}

/* One renewal: replace at our resourceVersion. A 409 means someone changed the Lease:
 * it is still ours only if the holder is. */
static int renew_once(struct tm_lock *l, struct tm_err *err)
{
	json_t *obj = NULL, *ans = NULL, *live = NULL;
	char *body = NULL;
	int64_t mono = tm_now_ms();
	int rc;

	if (!(obj = lease_object(l, l->acquired_ms, tm_wall_ms())) || !(body = json_dumps(obj, JSON_COMPACT))) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	rc = tm_kube_request(l->rk, "PUT", l->path, "application/json", body, &ans, err);
	if (rc == TM_ECONFLICT) {
		const char *holder;

		if ((rc = tm_kube_get(l->rk, l->path, &live, err)) < 0)
			goto out;
		holder = json_string_value(tm_doc_get(live, "spec", "holderIdentity", NULL));
		if (!holder || strcmp(holder, l->holder) != 0) {
			rc = tm_err_set(err, TM_ELOCKED, "the lock was taken over by %s", holder ? holder : "nobody");
			goto out;
		}
		remember_rv(l, live);
		rc = TM_EUNAVAILABLE; /* ours still: try again at the new version */
		goto out;
	}
	if (rc == TM_ENOTFOUND && l->gone_ok) {
		l->gone = 1;
		rc = 0;
		goto out;
	}
	if (rc == TM_ENOTFOUND) {
		rc = tm_err_set(err, TM_ELOCKED, "the lock was deleted by someone else");
		goto out;
	}
	if (rc < 0)
		goto out;
	remember_rv(l, ans);
	l->renewed_mono = mono;
out:
	json_decref(obj);
	json_decref(ans);
	json_decref(live);
	free(body);
	return rc;
}

/* Renews every ttl/3. A renewal that fails is tried again soon, each attempt bounded
 * by the time left; the lock counts as lost once a sixth of the TTL is all that is
 * left, so the run stops while the Lease is still its own and no other run can have
 * taken it yet. */
static void *renewer(void *arg)
{
	struct tm_lock *l = arg;
	int64_t interval = l->ttl_ms / 3 > 200 ? l->ttl_ms / 3 : 200;
	int64_t next = tm_now_ms() + interval;

	pthread_mutex_lock(&l->mu);
	while (!l->stop && !l->gone) {
		struct timespec until = { .tv_sec = (time_t)(next / 1000), .tv_nsec = (long)(next % 1000) * 1000000 };
		int64_t left;
		struct tm_kube_opts ko;
		struct tm_err e;
		int rc;

		if (pthread_cond_timedwait(&l->cv, &l->mu, &until) != ETIMEDOUT || l->stop)
			continue;
		left = l->renewed_mono + l->ttl_ms - l->ttl_ms / 6 - tm_now_ms();
		tm_err_init(&e);
		if (left <= 0) {
			l->renew_err = l->last_err;
			tm_err_wrap(&l->renew_err, "could not renew the lock within its %.0f s", (double)l->ttl_ms / 1000.0);
			mark_lost(l);
			break;
		}
		ko = *tm_kube_get_opts(l->rk);
		ko.timeout_ms = left < interval ? (long)left : (long)interval;
		tm_kube_set_opts(l->rk, &ko);
		pthread_mutex_unlock(&l->mu);
		rc = renew_once(l, &e);
		pthread_mutex_lock(&l->mu);
		if (rc == 0) {
			next = tm_now_ms() + interval;
			continue;
		}
		if (rc == TM_ELOCKED) {
			l->renew_err = e;
			mark_lost(l);
			break;
		}
		l->last_err = e;
		next = tm_now_ms() + (interval / 4 > 100 ? interval / 4 : 100);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* ------------------------------------------------------------------ API */

static void stop_renewing(struct tm_lock *l)
{
	if (!l->running)
		return;
	l->stop_requests = 1; /* an exchange in flight ends now */
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->thread, NULL);
	l->running = false;
}

static void lock_free(struct tm_lock *l)
{
	if (!l)
		return;
	stop_renewing(l);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	tm_kube_free(l->rk);
	free(l);
}

/* A lock not yet taken: its Lease's name and paths, holder identity and options. */
static struct tm_lock *lock_new(const char *release, const char *ns, const struct tm_lock_opts *o)
{
	struct tm_lock *l = calloc(1, sizeof(*l));
	pthread_condattr_t ca;

	if (!l)
		return NULL;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
	l->ttl_ms = o->ttl_ms > 0 ? o->ttl_ms : DEFAULT_TTL_MS;
	l->lost = o->lost;
	snprintf(l->command, sizeof(l->command), "%s", o->command ? o->command : "");
	holder_identity(l->holder, sizeof(l->holder), tm_wall_ms());
	snprintf(l->name, sizeof(l->name), "tarmac.lock.%s", release);
	snprintf(l->ns, sizeof(l->ns), "%s", ns);
	snprintf(l->coll, sizeof(l->coll), "/apis/coordination.k8s.io/v1/namespaces/%s/leases", ns);
	snprintf(l->path, sizeof(l->path), "%s/%s", l->coll, l->name);
	return l;
}

/* Takes the Lease, waiting for its holder when o says so (desc: who held it last). */
static int take_or_wait(struct tm_lock *l, struct tm_kube *k, const char *release, const struct tm_lock_opts *o,
			char *desc, size_t n, struct tm_err *err)
{
	int64_t start = tm_now_ms();
	char last[600] = "";
	int rc;

	while ((rc = try_take(l, k, desc, n, err)) > 0) {
		if (!o->wait)
			return tm_err_set(err, TM_ELOCKED, "release '%s' is locked by %s; wait for it with --wait-for-lock, "
					  "or let it expire if that run is gone", release, desc);
		if (o->wait_ms > 0 && tm_now_ms() - start > o->wait_ms)
			return tm_err_set(err, TM_ETIMEOUT, "release '%s' is still locked by %s after waiting %.0f s",
					  release, desc, (double)o->wait_ms / 1000.0);
		if (strcmp(desc, last) != 0) {
			tm_reportf(o->report, o->report_ctx, TM_INFO, "lock", release, true, "waiting for the lock, held by %s",
				   desc);
			snprintf(last, sizeof(last), "%s", desc);
		}
		if ((rc = tm_kube_sleep(k, 1000)) < 0)
			return tm_err_set(err, rc, "interrupted while waiting for the lock of release '%s'", release);
	}
	if (rc < 0)
		tm_err_wrap(err, "take the lock of release '%s'", release);
	return rc;
}

/* Renewals get a client of their own (the main one is busy in long waits) and a thread. */
static int start_renewer(struct tm_lock *l, const struct tm_kube_config *cfg, struct tm_err *err)
{
	struct tm_kube_opts ko;
	int rc;

	if ((rc = tm_kube_open(&l->rk, cfg, NULL, err)) < 0)
		return rc;
	ko = *tm_kube_get_opts(l->rk);
	ko.max_attempts = 1; /* the renewer retries itself, within the time left */
	ko.timeout_ms = l->ttl_ms / 3 > 1000 ? l->ttl_ms / 3 : 1000;
	ko.cancel = &l->stop_requests;
	tm_kube_set_opts(l->rk, &ko);
	if (pthread_create(&l->thread, NULL, renewer, l) != 0)
		return tm_err_set(err, TM_ERROR, "cannot start the lock renewal thread");
	l->running = true;
	return 0;
}

int tm_lock_acquire(struct tm_lock **out, struct tm_kube *k, const char *release, const char *ns,
		    const struct tm_lock_opts *o, struct tm_err *err)
{
	struct tm_lock *l;
	char desc[600];
	int rc;

	if (strpbrk(ns, "/?#%") || strpbrk(release, "/?#%"))
		return tm_err_set(err, TM_EINVALID, "'%s/%s': not a valid release", ns, release);
	if (!(l = lock_new(release, ns, o)))
		return tm_err_set(err, TM_ERROR, "out of memory");
	if ((rc = take_or_wait(l, k, release, o, desc, sizeof(desc), err)) < 0) {
		lock_free(l);
		return rc;
	}
	if (desc[0])
		tm_reportf(o->report, o->report_ctx, TM_WARN, "lock", release, false, "took the lock over from %s", desc);
	if (o->cfg && (rc = start_renewer(l, o->cfg, err)) < 0) {
		struct tm_err ignore;
		char body[200];

		/* give the Lease back: nobody would renew it */
		tm_err_init(&ignore);
		snprintf(body, sizeof(body), "{\"preconditions\":{\"resourceVersion\":\"%s\"}}", l->rv);
		tm_kube_request(k, "DELETE", l->path, "application/json", body, NULL, &ignore);
		lock_free(l);
		return rc;
	}
	*out = l;
	return 0;
}

void tm_lock_expect_gone(struct tm_lock *l)
{
	if (l)
		l->gone_ok = 1;
}

bool tm_lock_lost(const struct tm_lock *l)
{
	return l && l->lost_flag;
}

int tm_lock_drop(struct tm_lock *l, struct tm_kube *k, struct tm_err *err)
{
	char body[200];
	int rc = 0;

	if (!l)
		return 0;
	/* stop renewing first: the delete below must name the last version we wrote */
	stop_renewing(l);
	if (l->lost_flag) {
		rc = tm_err_set(err, TM_ELOCKED, "the lock was lost while this run held it (%s)", tm_err_msg(&l->renew_err));
	} else if (!l->gone) {
		/* only if it is still the version we wrote: never delete someone else's lock */
		for (int attempt = 0; attempt < 2; attempt++) {
			json_t *live = NULL;
			const char *holder;

			snprintf(body, sizeof(body), "{\"preconditions\":{\"resourceVersion\":\"%s\"}}", l->rv);
			rc = tm_kube_request(k, "DELETE", l->path, "application/json", body, NULL, err);
			if (rc != TM_ECONFLICT)
				break;
			/* a renewal whose answer was lost moved the version on: ours still? */
			if ((rc = tm_kube_get(k, l->path, &live, err)) < 0) {
				json_decref(live);
				break;
			}
			holder = json_string_value(tm_doc_get(live, "spec", "holderIdentity", NULL));
			if (!holder || strcmp(holder, l->holder) != 0) {
				json_decref(live);
				rc = tm_err_set(err, TM_ELOCKED, "the lock changed hands before it was released");
				break;
			}
			remember_rv(l, live);
			json_decref(live);
			rc = TM_ECONFLICT;
		}
		if (rc == TM_ENOTFOUND)
			rc = 0;
	}
	lock_free(l);
	return rc;
}
