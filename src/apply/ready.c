/* Readiness per kind and what holds a pod back: Helm 3's ready.go checks with kapp's
 * fail-fast conditions, as pure functions over the live object's JSON. Every field is
 * read defensively: a missing or wrongly typed one means "not there yet", never a crash. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "apply/ready.h"
#include "tarmac/util.h"

/* ------------------------------------------------------------------ one-line text */

/* Text built piece by piece into a fixed buffer. Once a piece does not fit, the rest
 * is dropped and line_end marks the cut. */
struct line {
	char *buf;
	size_t n;   /* size of buf, >= 1 */
	size_t len; /* bytes in use, always < n */
	bool cut;
};

static void line_init(struct line *l, char *buf, size_t n)
{
	l->buf = buf;
	l->n = n;
	l->len = 0;
	l->cut = false;
	buf[0] = '\0';
}

static void vadd(struct line *l, const char *fmt, va_list ap) TM_PRINTF(2, 0);
static void vadd(struct line *l, const char *fmt, va_list ap)
{
	int w;

	if (l->cut)
		return;
	w = vsnprintf(l->buf + l->len, l->n - l->len, fmt, ap);
	if (w < 0) {
		l->buf[l->len] = '\0';
		l->cut = true;
	} else if ((size_t)w >= l->n - l->len) {
		l->len = l->n - 1;
		l->cut = true;
	} else {
		l->len += (size_t)w;
	}
}

static void add(struct line *l, const char *fmt, ...) TM_PRINTF(2, 3);
static void add(struct line *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vadd(l, fmt, ap);
	va_end(ap);
}

/* Reasons end up on one terminal line, so kubelet messages with newlines or tabs are
 * flattened. A cut text ends in "..." and never splits a UTF-8 character (the API
 * server only hands out valid UTF-8, so backing up over continuation bytes suffices). */
static void line_end(struct line *l)
{
	size_t i, cut;

	for (i = 0; i < l->len; i++) {
		unsigned char c = (unsigned char)l->buf[i];
		if (c < 0x20 || c == 0x7f)
			l->buf[i] = ' ';
	}
	/* kubelet and eviction messages often end in a space */
	while (l->len > 0 && l->buf[l->len - 1] == ' ')
		l->buf[--l->len] = '\0';
	if (!l->cut)
		return;
	cut = l->n >= 4 ? l->n - 4 : l->n - 1;
	if (cut > l->len) /* vsnprintf failed early: there is room */
		cut = l->len;
	while (cut > 0 && ((unsigned char)l->buf[cut] & 0xc0) == 0x80)
		cut--;
	l->buf[cut] = '\0';
	if (l->n >= 4)
		memcpy(l->buf + cut, "...", 4);
	l->len = strlen(l->buf);
}

static void set(struct tm_readiness *out, enum tm_verdict v, const char *fmt, ...) TM_PRINTF(3, 4);
static void set(struct tm_readiness *out, enum tm_verdict v, const char *fmt, ...)
{
	struct line l;
	va_list ap;

	out->verdict = v;
	line_init(&l, out->reason, sizeof(out->reason));
	va_start(ap, fmt);
	vadd(&l, fmt, ap);
	va_end(ap);
	line_end(&l);
}

static void set_ready(struct tm_readiness *out)
{
	out->verdict = TM_VERDICT_READY;
	out->reason[0] = '\0';
}

/* "Reason: message", or whichever half exists, or fallback. */
static void add_reason_msg(struct line *l, const char *reason, const char *msg, const char *fallback)
{
	bool r = reason && *reason, m = msg && *msg;

	if (r && m)
		add(l, "%s: %s", reason, msg);
	else if (r || m)
		add(l, "%s", r ? reason : msg);
	else
		add(l, "%s", fallback);
}

/* ------------------------------------------------------------------ JSON access */

/* Walks a NULL-terminated path of keys; any missing or non-object step gives NULL. */
static const json_t *at(const json_t *v, ...) __attribute__((sentinel));
static const json_t *at(const json_t *v, ...)
{
	va_list ap;
	const char *key;

	va_start(ap, v);
	while (v && (key = va_arg(ap, const char *)))
		v = json_object_get(v, key);
	va_end(ap);
	return v;
}

static const char *str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static bool str_is(const json_t *obj, const char *key, const char *want)
{
	const char *s = str(obj, key);

	return s && strcmp(s, want) == 0;
}

/* Status counters are omitted when zero, and a garbled one must not count as progress,
 * so anything but an integer reads as dflt. */
static long long int_or(const json_t *v, long long dflt)
{
	return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

static const json_t *condition(const json_t *obj, const char *type)
{
	const json_t *list = at(obj, "status", "conditions", NULL);
	const json_t *c;
	size_t i;

	if (!json_is_array(list))
		return NULL;
	json_array_foreach(list, i, c) {
		if (str_is(c, "type", type))
			return c;
	}
	return NULL;
}

static bool condition_is(const json_t *obj, const char *type, const char *status)
{
	return str_is(condition(obj, type), "status", status);
}

/* ------------------------------------------------------------------ shared checks */

static bool usable(const json_t *obj, struct tm_readiness *out)
{
	if (!obj) {
		set(out, TM_VERDICT_WAIT, "no object to inspect");
		return false;
	}
	if (!json_is_object(obj)) {
		set(out, TM_VERDICT_WAIT, "not a JSON object");
		return false;
	}
	return true;
}

/* Workload controllers always write a status object; until then nothing is known. */
static bool has_status(const json_t *obj, struct tm_readiness *out)
{
	if (json_is_object(json_object_get(obj, "status")))
		return true;
	set(out, TM_VERDICT_WAIT, "no status yet");
	return false;
}

/* A controller's status describes the spec it last saw: until it has seen the current
 * one, every other status field may describe the previous rollout. */
static bool generation_pending(const json_t *obj, struct tm_readiness *out)
{
	long long gen = int_or(at(obj, "metadata", "generation", NULL), 0);
	long long seen = int_or(at(obj, "status", "observedGeneration", NULL), 0);

	if (seen >= gen)
		return false;
	set(out, TM_VERDICT_WAIT, "waiting for the new generation to be observed");
	return true;
}

/* spec.replicas, which the API server defaults to 1. */
static bool wanted_replicas(const json_t *obj, long long *want, struct tm_readiness *out)
{
	const json_t *r = at(obj, "spec", "replicas", NULL);

	if (!r || json_is_null(r)) {
		*want = 1;
		return true;
	}
	if (!json_is_integer(r) || json_integer_value(r) < 0) {
		set(out, TM_VERDICT_WAIT, "spec.replicas is not a replica count");
		return false;
	}
	*want = (long long)json_integer_value(r);
	return true;
}

/* StatefulSets and DaemonSets with the OnDelete strategy never replace pods on their
 * own, so waiting for updated pods would wait for the operator. */
static bool on_delete(const json_t *obj)
{
	return str_is(at(obj, "spec", "updateStrategy", NULL), "type", "OnDelete");
}

static const char *msg_of(const json_t *c)
{
	return str(c, "message");
}

/* ------------------------------------------------------------------ workloads */

void tm_ready_deployment(const json_t *obj, struct tm_readiness *out)
{
	const json_t *st, *c;
	long long want, updated, replicas, avail, ready;
	char counts[96];

	if (!usable(obj, out) || !has_status(obj, out))
		return;
	/* a paused rollout makes no progress until resumed, whatever the counts say */
	if (json_is_true(at(obj, "spec", "paused", NULL))) {
		set(out, TM_VERDICT_WAIT, "paused");
		return;
	}
	if (generation_pending(obj, out))
		return;
	c = condition(obj, "Progressing");
	if (str_is(c, "status", "False") && str_is(c, "reason", "ProgressDeadlineExceeded")) {
		const char *m = msg_of(c);
		set(out, TM_VERDICT_FAILED, "ProgressDeadlineExceeded%s%s", m && *m ? ": " : "", m ? m : "");
		return;
	}
	if (!wanted_replicas(obj, &want, out))
		return;
	st = json_object_get(obj, "status");
	updated = int_or(json_object_get(st, "updatedReplicas"), 0);
	replicas = int_or(json_object_get(st, "replicas"), 0);
	avail = int_or(json_object_get(st, "availableReplicas"), 0);
	ready = int_or(json_object_get(st, "readyReplicas"), 0);
	/* the order kubectl rollout status reports them in */
	if (updated < want)
		snprintf(counts, sizeof(counts), "%lld/%lld updated", updated, want);
	else if (replicas > updated)
		snprintf(counts, sizeof(counts), "old replicas pending termination: %lld", replicas - updated);
	else if (avail < want)
		snprintf(counts, sizeof(counts), "%lld/%lld available", avail, want);
	else if (ready < want)
		snprintf(counts, sizeof(counts), "%lld/%lld ready", ready, want);
	else {
		set_ready(out);
		return;
	}
	/* ReplicaFailure (quota, admission webhooks) may clear on its own, so it only
	 * explains the wait; its message is what the operator has to act on */
	c = condition(obj, "ReplicaFailure");
	if (str_is(c, "status", "True")) {
		struct line l;
		out->verdict = TM_VERDICT_WAIT;
		line_init(&l, out->reason, sizeof(out->reason));
		add(&l, "%s; ", counts);
		add_reason_msg(&l, str(c, "reason"), msg_of(c), "ReplicaFailure");
		line_end(&l);
		return;
	}
	set(out, TM_VERDICT_WAIT, "%s", counts);
}

void tm_ready_statefulset(const json_t *obj, struct tm_readiness *out)
{
	const json_t *st;
	long long want, partition, expect, updated, replicas, ready;
	const char *cur, *upd;

	if (!usable(obj, out) || !has_status(obj, out) || generation_pending(obj, out))
		return;
	if (on_delete(obj)) {
		set_ready(out);
		return;
	}
	if (!wanted_replicas(obj, &want, out))
		return;
	partition = int_or(at(obj, "spec", "updateStrategy", "rollingUpdate", "partition", NULL), 0);
	if (partition < 0)
		partition = 0;
	expect = want > partition ? want - partition : 0;
	st = json_object_get(obj, "status");
	updated = int_or(json_object_get(st, "updatedReplicas"), 0);
	replicas = int_or(json_object_get(st, "replicas"), 0);
	ready = int_or(json_object_get(st, "readyReplicas"), 0);
	if (updated < expect) {
		set(out, TM_VERDICT_WAIT, "%lld/%lld updated", updated, expect);
		return;
	}
	/* kapp: after a scale-down the surplus pods still hold their volumes and ordinals */
	if (replicas > want) {
		set(out, TM_VERDICT_WAIT, "surplus replicas pending termination: %lld", replicas - want);
		return;
	}
	if (ready != want) {
		set(out, TM_VERDICT_WAIT, "%lld/%lld ready", ready, want);
		return;
	}
	/* with a partition the old revision is meant to stay on the lower ordinals */
	if (partition == 0) {
		cur = str(st, "currentRevision");
		upd = str(st, "updateRevision");
		if (!cur || !upd || strcmp(cur, upd) != 0) {
			set(out, TM_VERDICT_WAIT, "revision \"%s\" not yet rolled out (current \"%s\")",
			    upd ? upd : "?", cur ? cur : "?");
			return;
		}
	}
	set_ready(out);
}

void tm_ready_daemonset(const json_t *obj, struct tm_readiness *out)
{
	const json_t *st, *d;
	long long desired, updated, avail;

	if (!usable(obj, out) || !has_status(obj, out) || generation_pending(obj, out))
		return;
	if (on_delete(obj)) {
		set_ready(out);
		return;
	}
	st = json_object_get(obj, "status");
	/* desiredNumberScheduled is always written (0 included); without it a 0/0 would
	 * look done */
	d = json_object_get(st, "desiredNumberScheduled");
	if (!json_is_integer(d)) {
		set(out, TM_VERDICT_WAIT, "no desired pod count yet");
		return;
	}
	desired = (long long)json_integer_value(d);
	updated = int_or(json_object_get(st, "updatedNumberScheduled"), 0);
	avail = int_or(json_object_get(st, "numberAvailable"), 0);
	if (updated != desired)
		set(out, TM_VERDICT_WAIT, "%lld/%lld updated", updated, desired);
	else if (avail != desired)
		set(out, TM_VERDICT_WAIT, "%lld/%lld available", avail, desired);
	else
		set_ready(out);
}

void tm_ready_job(const json_t *obj, struct tm_readiness *out)
{
	const json_t *st, *c, *completions;
	long long succeeded, active, failed;
	struct line l;

	if (!usable(obj, out))
		return;
	/* FailureTarget (1.31+) precedes Failed while the last pods terminate: the
	 * outcome is already decided, so waiting for Failed only adds delay */
	c = condition(obj, "Failed");
	if (!str_is(c, "status", "True"))
		c = condition(obj, "FailureTarget");
	if (str_is(c, "status", "True")) {
		out->verdict = TM_VERDICT_FAILED;
		line_init(&l, out->reason, sizeof(out->reason));
		add_reason_msg(&l, str(c, "reason"), msg_of(c), "failed");
		line_end(&l);
		return;
	}
	if (condition_is(obj, "Complete", "True")) {
		set_ready(out);
		return;
	}
	if (json_is_true(at(obj, "spec", "suspend", NULL))) {
		set(out, TM_VERDICT_WAIT, "suspended");
		return;
	}
	st = json_object_get(obj, "status");
	succeeded = int_or(json_object_get(st, "succeeded"), 0);
	active = int_or(json_object_get(st, "active"), 0);
	failed = int_or(json_object_get(st, "failed"), 0);
	completions = at(obj, "spec", "completions", NULL);
	out->verdict = TM_VERDICT_WAIT;
	line_init(&l, out->reason, sizeof(out->reason));
	/* a work-queue Job (parallelism without completions) has no target count */
	if (json_is_integer(completions))
		add(&l, "%lld/%lld succeeded", succeeded, (long long)json_integer_value(completions));
	else
		add(&l, "%lld succeeded", succeeded);
	add(&l, ", %lld active", active);
	if (failed > 0)
		add(&l, ", %lld failed", failed);
	line_end(&l);
}

/* ------------------------------------------------------------------ other kinds */

void tm_ready_pvc(const json_t *obj, struct tm_readiness *out)
{
	const char *phase, *sc, *vol;

	if (!usable(obj, out))
		return;
	phase = str(at(obj, "status", NULL), "phase");
	if (!phase || !*phase) {
		set(out, TM_VERDICT_WAIT, "no phase yet");
	} else if (strcmp(phase, "Bound") == 0) {
		set_ready(out);
	} else if (strcmp(phase, "Lost") == 0) {
		vol = str(at(obj, "spec", NULL), "volumeName");
		if (vol && *vol)
			set(out, TM_VERDICT_FAILED, "Lost: volume \"%s\" no longer exists", vol);
		else
			set(out, TM_VERDICT_FAILED, "Lost: its volume no longer exists");
	} else {
		/* the storage class is where a stuck claim is debugged (provisioner, binding
		 * mode), so it is worth naming */
		sc = str(at(obj, "spec", NULL), "storageClassName");
		if (sc && *sc)
			set(out, TM_VERDICT_WAIT, "%s (storage class \"%s\")", phase, sc);
		else
			set(out, TM_VERDICT_WAIT, "%s", phase);
	}
}

void tm_ready_crd(const json_t *obj, struct tm_readiness *out)
{
	const json_t *c;
	struct line l;

	if (!usable(obj, out))
		return;
	if (condition_is(obj, "Established", "True")) {
		set_ready(out);
		return;
	}
	/* a name conflict with another CRD is never resolved by waiting */
	c = condition(obj, "NamesAccepted");
	if (str_is(c, "status", "False")) {
		out->verdict = TM_VERDICT_FAILED;
		line_init(&l, out->reason, sizeof(out->reason));
		add_reason_msg(&l, str(c, "reason"), msg_of(c), "names not accepted");
		line_end(&l);
		return;
	}
	c = condition(obj, "Established");
	out->verdict = TM_VERDICT_WAIT;
	line_init(&l, out->reason, sizeof(out->reason));
	add(&l, "not established yet");
	if (str(c, "reason") || msg_of(c)) {
		add(&l, " (");
		add_reason_msg(&l, str(c, "reason"), msg_of(c), "");
		add(&l, ")");
	}
	line_end(&l);
}

void tm_ready_service(const json_t *obj, struct tm_readiness *out)
{
	const json_t *spec, *ingress, *ext;
	const char *type, *ip;

	if (!usable(obj, out))
		return;
	spec = json_object_get(obj, "spec");
	type = str(spec, "type");
	if (type && strcmp(type, "ExternalName") == 0) {
		set_ready(out);
		return;
	}
	ip = str(spec, "clusterIP");
	if (!ip || !*ip) {
		set(out, TM_VERDICT_WAIT, "no cluster IP yet");
		return;
	}
	if (type && strcmp(type, "LoadBalancer") == 0) {
		/* in-cluster clients work through the cluster IP already; an external
		 * address may never come (no cloud controller), so it only gets a note */
		ingress = at(obj, "status", "loadBalancer", "ingress", NULL);
		ext = json_object_get(spec, "externalIPs");
		if (json_array_size(ingress) == 0 && json_array_size(ext) == 0) {
			set(out, TM_VERDICT_READY, "no load balancer address yet");
			return;
		}
	}
	set_ready(out);
}

/* ------------------------------------------------------------------ pods */

static bool in_list(const char *s, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

static const char *const pull_reasons[] = {
	"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "ErrImageInspect",
};
/* the kubelet could not create or start the container; the message names the missing
 * Secret, ConfigMap or key (never a value) */
static const char *const start_reasons[] = {
	"CreateContainerConfigError", "CreateContainerError", "RunContainerError",
	"PreStartHookError",          "PostStartHookError",
};

/* The spec of container name in spec.<list>, or NULL. */
static const json_t *container_spec(const json_t *pod, const char *list, const char *name)
{
	const json_t *arr = at(pod, "spec", list, NULL), *c;
	size_t i;

	if (!name || !json_is_array(arr))
		return NULL;
	json_array_foreach(arr, i, c) {
		if (str_is(c, "name", name))
			return c;
	}
	return NULL;
}

static void add_restarts(struct line *l, long long n)
{
	add(l, "restarted %lld time%s", n, n == 1 ? "" : "s");
}

/* What one container status says, and how bad it is. Only names, images, reasons,
 * exit codes and kubelet messages are used: state.terminated.message is the
 * container's own output and may hold anything, so it is never shown. */
static enum tm_pod_severity container_cause(const json_t *pod, const json_t *cs, bool init, struct line *l)
{
	const char *who = init ? "init container" : "container";
	const char *name = str(cs, "name"), *reason, *msg, *image;
	const json_t *waiting = at(cs, "state", "waiting", NULL);
	const json_t *running = at(cs, "state", "running", NULL);
	const json_t *term = at(cs, "state", "terminated", NULL);
	const json_t *last = at(cs, "lastState", "terminated", NULL);
	const json_t *spec = container_spec(pod, init ? "initContainers" : "containers", name);
	long long restarts = int_or(json_object_get(cs, "restartCount"), 0);

	if (!name)
		name = "?";
	if (json_is_object(waiting)) {
		reason = str(waiting, "reason");
		msg = msg_of(waiting);
		if (reason && in_list(reason, pull_reasons, TM_ARRAY_LEN(pull_reasons))) {
			/* status.image is the spec's image until the pull succeeds */
			image = str(cs, "image");
			if (!image || !*image)
				image = str(spec, "image");
			add(l, "%s: image \"%s\"", reason, image ? image : "?");
			if (init)
				add(l, " of init container \"%s\"", name);
			if (msg && *msg)
				add(l, " (%s)", msg);
			return TM_POD_BAD;
		}
		if (reason && strcmp(reason, "CrashLoopBackOff") == 0) {
			add(l, "CrashLoopBackOff: %s \"%s\" ", who, name);
			add_restarts(l, restarts);
			if (json_is_integer(json_object_get(last, "exitCode"))) {
				const char *why = str(last, "reason");
				add(l, " (last exit code %lld", int_or(json_object_get(last, "exitCode"), 0));
				/* "Error" is what every non-zero exit is called; OOMKilled and
				 * the like say more */
				if (why && *why && strcmp(why, "Error") != 0)
					add(l, ", %s", why);
				add(l, ")");
			}
			return TM_POD_BAD;
		}
		if (reason && in_list(reason, start_reasons, TM_ARRAY_LEN(start_reasons))) {
			add(l, "%s: %s \"%s\"", reason, who, name);
			if (msg && *msg)
				add(l, ": %s", msg);
			return TM_POD_BAD;
		}
		if (reason && (strcmp(reason, "ContainerCreating") == 0 || strcmp(reason, "PodInitializing") == 0)) {
			add(l, "%s", reason);
			if (init)
				add(l, ": init container \"%s\"", name);
			return TM_POD_PROGRESSING;
		}
		/* a reason we do not know: report it, but do not call it bad */
		if (reason && *reason)
			add(l, "%s: %s \"%s\"", reason, who, name);
		else
			add(l, "%s \"%s\" waiting", who, name);
		if (msg && *msg)
			add(l, " (%s)", msg);
		return TM_POD_PROGRESSING;
	}
	if (json_is_object(term)) {
		long long code = int_or(json_object_get(term, "exitCode"), 0);
		reason = str(term, "reason");
		if (code == 0 && !(reason && strcmp(reason, "OOMKilled") == 0))
			return TM_POD_FINE; /* an init step done, or a run-to-completion container */
		add(l, "%s: %s \"%s\" exited with code %lld", reason && *reason ? reason : "Error", who, name,
		    code);
		return TM_POD_BAD;
	}
	if (json_is_object(running)) {
		/* a sidecar (an init container that keeps running) lets the next one start
		 * once it has started */
		if (init) {
			if (str_is(spec, "restartPolicy", "Always") && json_is_true(json_object_get(cs, "started")))
				return TM_POD_FINE;
			add(l, "PodInitializing: init container \"%s\" running", name);
			return TM_POD_PROGRESSING;
		}
		if (json_is_true(json_object_get(cs, "ready")))
			return TM_POD_FINE;
		add(l, "container \"%s\" not ready", name);
		if (restarts > 0) {
			add(l, " (");
			add_restarts(l, restarts);
			add(l, ")");
		}
		return TM_POD_PROGRESSING;
	}
	add(l, "%s \"%s\" has no state yet", who, name);
	return TM_POD_PROGRESSING;
}

/* The worst container of a list: init containers run one after the other, so the first
 * that is not done is what blocks; app containers run together, so the worst one
 * explains the pod. */
static enum tm_pod_severity containers_cause(const json_t *pod, const char *list, bool init, struct line *l)
{
	const json_t *arr = at(pod, "status", list, NULL), *cs;
	enum tm_pod_severity worst = TM_POD_FINE, sev;
	size_t i, pick = 0;
	char scratch[1];
	struct line dry;

	if (!json_is_array(arr))
		return TM_POD_FINE;
	/* a dry pass for the severities, then the chosen container writes the text */
	json_array_foreach(arr, i, cs) {
		line_init(&dry, scratch, sizeof(scratch));
		sev = container_cause(pod, cs, init, &dry);
		if (sev > worst) {
			worst = sev;
			pick = i;
		}
		if (init && sev != TM_POD_FINE)
			break;
	}
	if (worst != TM_POD_FINE)
		container_cause(pod, json_array_get(arr, pick), init, l);
	return worst;
}

/* A failed pod: the pod-level reason (Evicted, DeadlineExceeded) or the first container
 * that exited non-zero. */
static void failed_cause(const json_t *pod, struct line *l)
{
	static const char *const lists[] = { "initContainerStatuses", "containerStatuses" };
	const json_t *st = json_object_get(pod, "status"), *arr, *cs, *term;
	const char *reason = str(st, "reason"), *msg = str(st, "message");
	size_t k, i;

	if (reason && *reason) {
		add_reason_msg(l, reason, msg, "");
		return;
	}
	for (k = 0; k < TM_ARRAY_LEN(lists); k++) {
		arr = json_object_get(st, lists[k]);
		if (!json_is_array(arr))
			continue;
		json_array_foreach(arr, i, cs) {
			term = at(cs, "state", "terminated", NULL);
			if (!json_is_object(term) || int_or(json_object_get(term, "exitCode"), 0) == 0)
				continue;
			add(l, "Failed: %s \"%s\" exited with code %lld", k == 0 ? "init container" : "container",
			    str(cs, "name") ? str(cs, "name") : "?", int_or(json_object_get(term, "exitCode"), 0));
			if (str(term, "reason") && *str(term, "reason"))
				add(l, " (%s)", str(term, "reason"));
			return;
		}
	}
	add_reason_msg(l, "Failed", msg, "");
}

static enum tm_pod_severity pod_cause(const json_t *pod, struct line *l)
{
	const char *phase;
	const json_t *c, *statuses;
	enum tm_pod_severity sev;

	if (!json_is_object(pod)) {
		add(l, "no pod to inspect");
		return TM_POD_PROGRESSING;
	}
	phase = str(at(pod, "status", NULL), "phase");
	if (!phase)
		phase = "";
	if (strcmp(phase, "Succeeded") == 0)
		return TM_POD_FINE;
	if (strcmp(phase, "Failed") == 0) {
		failed_cause(pod, l);
		return TM_POD_BAD;
	}
	if (json_is_string(at(pod, "metadata", "deletionTimestamp", NULL))) {
		add(l, "Terminating");
		return TM_POD_PROGRESSING;
	}
	/* the node stopped reporting: nothing on the pod will change until it returns or
	 * the pod is evicted */
	if (strcmp(phase, "Unknown") == 0) {
		add(l, "Unknown: ");
		add_reason_msg(l, str(at(pod, "status", NULL), "reason"), str(at(pod, "status", NULL), "message"),
			       "the node stopped reporting the pod's state");
		return TM_POD_BAD;
	}
	c = condition(pod, "PodScheduled");
	if (str_is(c, "status", "False")) {
		if (str_is(c, "reason", "Unschedulable")) {
			add_reason_msg(l, "Unschedulable", msg_of(c), "");
			return TM_POD_BAD;
		}
		/* SchedulingGated and the like: held back on purpose */
		add_reason_msg(l, str(c, "reason"), msg_of(c), "waiting to be scheduled");
		return TM_POD_PROGRESSING;
	}
	sev = containers_cause(pod, "initContainerStatuses", true, l);
	if (sev != TM_POD_FINE)
		return sev;
	sev = containers_cause(pod, "containerStatuses", false, l);
	if (sev != TM_POD_FINE)
		return sev;
	statuses = at(pod, "status", "containerStatuses", NULL);
	if (json_array_size(statuses) == 0) {
		/* accepted by the API server, not yet picked up by the scheduler or kubelet */
		add(l, "%s", c ? "Pending" : "waiting to be scheduled");
		return TM_POD_PROGRESSING;
	}
	if (strcmp(phase, "Running") == 0 && condition_is(pod, "Ready", "True"))
		return TM_POD_FINE;
	/* every container is fine but the pod is not: readiness gates, or a status the
	 * kubelet has not caught up with */
	c = condition(pod, "Ready");
	add(l, "not ready");
	if (msg_of(c) && *msg_of(c))
		add(l, ": %s", msg_of(c));
	return TM_POD_PROGRESSING;
}

enum tm_pod_severity tm_pod_cause(const json_t *pod, char *buf, size_t n)
{
	char scratch[1];
	struct line l;
	enum tm_pod_severity sev;

	if (!buf || n == 0) {
		buf = scratch;
		n = sizeof(scratch);
	}
	line_init(&l, buf, n);
	sev = pod_cause(pod, &l);
	if (sev == TM_POD_FINE)
		line_init(&l, buf, n);
	line_end(&l);
	return sev;
}

void tm_ready_pod(const json_t *obj, struct tm_readiness *out)
{
	const char *phase;

	if (!usable(obj, out))
		return;
	phase = str(at(obj, "status", NULL), "phase");
	if (phase && strcmp(phase, "Succeeded") == 0) {
		set_ready(out);
		return;
	}
	if (phase && strcmp(phase, "Running") == 0 && condition_is(obj, "Ready", "True")) {
		set_ready(out);
		return;
	}
	out->verdict = phase && strcmp(phase, "Failed") == 0 ? TM_VERDICT_FAILED : TM_VERDICT_WAIT;
	tm_pod_cause(obj, out->reason, sizeof(out->reason));
	if (!out->reason[0])
		snprintf(out->reason, sizeof(out->reason), "not ready");
}

/* ------------------------------------------------------------------ selectors */

static bool value_in(const char *v, const json_t *values)
{
	const json_t *x;
	size_t i;

	if (!v || !json_is_array(values))
		return false;
	json_array_foreach(values, i, x) {
		if (json_is_string(x) && strcmp(json_string_value(x), v) == 0)
			return true;
	}
	return false;
}

static bool expression_matches(const json_t *e, const json_t *labels)
{
	const char *key = str(e, "key"), *op = str(e, "operator");
	const json_t *have;

	if (!key || !op)
		return false;
	have = json_object_get(labels, key);
	if (strcmp(op, "In") == 0)
		return have && value_in(json_string_value(have), json_object_get(e, "values"));
	if (strcmp(op, "NotIn") == 0)
		return !have || !value_in(json_string_value(have), json_object_get(e, "values"));
	if (strcmp(op, "Exists") == 0)
		return have != NULL;
	if (strcmp(op, "DoesNotExist") == 0)
		return have == NULL;
	return false; /* an operator we do not know cannot be said to match */
}

bool tm_selector_matches(const json_t *selector, const json_t *labels)
{
	const json_t *ml, *me, *v, *e;
	const char *key, *have;
	size_t rules = 0, i;
	void *it;

	if (!json_is_object(selector))
		return false;
	if (labels && !json_is_object(labels))
		return false;
	ml = json_object_get(selector, "matchLabels");
	me = json_object_get(selector, "matchExpressions");
	if (ml && !json_is_null(ml)) {
		if (!json_is_object(ml))
			return false;
		/* jansson's iterator takes a non-const object but does not change it */
		for (it = json_object_iter((json_t *)ml); it; it = json_object_iter_next((json_t *)ml, it)) {
			key = json_object_iter_key(it);
			v = json_object_iter_value(it);
			have = json_string_value(json_object_get(labels, key));
			if (!json_is_string(v) || !have || strcmp(have, json_string_value(v)) != 0)
				return false;
			rules++;
		}
	}
	if (me && !json_is_null(me)) {
		if (!json_is_array(me))
			return false;
		json_array_foreach(me, i, e) {
			if (!expression_matches(e, labels))
				return false;
			rules++;
		}
	}
	return rules > 0;
}
