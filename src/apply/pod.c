/* What holds a pod back, in the words an operator knows, its readiness, and label
 * selectors (which pods a workload owns). Pure functions over the pod's JSON. */
#include <stdio.h>
#include <string.h>

#include "apply/reason.h"
#include "tarmac/doc.h"

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
	const json_t *arr = tm_doc_get(pod, "spec", list, NULL), *c;
	size_t i;

	if (!name || !json_is_array(arr))
		return NULL;
	json_array_foreach(arr, i, c) {
		if (tm_jstr_is(c, "name", name))
			return c;
	}
	return NULL;
}

static void add_restarts(struct tm_line *l, long long n)
{
	tm_line_add(l, "restarted %lld time%s", n, n == 1 ? "" : "s");
}

/* What a waiting container's reason says: a pull that fails, a crash loop (with the last
 * exit), a start that fails are bad; creating and initialising are progress, and so is
 * a reason we do not know (reported, not called bad). */
static enum tm_pod_severity waiting_cause(const json_t *cs, const json_t *waiting, const json_t *spec,
					  const char *who, const char *name, bool init, long long restarts,
					  struct tm_line *l)
{
	const char *reason = tm_jstr(waiting, "reason"), *msg = tm_condition_msg(waiting), *image;
	const json_t *last = tm_doc_get(cs, "lastState", "terminated", NULL);

	if (reason && in_list(reason, pull_reasons, TM_ARRAY_LEN(pull_reasons))) {
		/* status.image is the spec's image until the pull succeeds */
		image = tm_jstr(cs, "image");
		if (!image || !*image)
			image = tm_jstr(spec, "image");
		tm_line_add(l, "%s: image \"%s\"", reason, image ? image : "?");
		if (init)
			tm_line_add(l, " of init container \"%s\"", name);
		if (msg && *msg)
			tm_line_add(l, " (%s)", msg);
		return TM_POD_BAD;
	}
	if (reason && strcmp(reason, "CrashLoopBackOff") == 0) {
		tm_line_add(l, "CrashLoopBackOff: %s \"%s\" ", who, name);
		add_restarts(l, restarts);
		if (json_is_integer(json_object_get(last, "exitCode"))) {
			const char *why = tm_jstr(last, "reason");
			tm_line_add(l, " (last exit code %lld", tm_jint_or(json_object_get(last, "exitCode"), 0));
			/* "Error" is what every non-zero exit is called; OOMKilled and
			 * the like say more */
			if (why && *why && strcmp(why, "Error") != 0)
				tm_line_add(l, ", %s", why);
			tm_line_add(l, ")");
		}
		return TM_POD_BAD;
	}
	if (reason && in_list(reason, start_reasons, TM_ARRAY_LEN(start_reasons))) {
		tm_line_add(l, "%s: %s \"%s\"", reason, who, name);
		if (msg && *msg)
			tm_line_add(l, ": %s", msg);
		return TM_POD_BAD;
	}
	if (reason && (strcmp(reason, "ContainerCreating") == 0 || strcmp(reason, "PodInitializing") == 0)) {
		tm_line_add(l, "%s", reason);
		if (init)
			tm_line_add(l, ": init container \"%s\"", name);
		return TM_POD_PROGRESSING;
	}
	if (reason && *reason)
		tm_line_add(l, "%s: %s \"%s\"", reason, who, name);
	else
		tm_line_add(l, "%s \"%s\" waiting", who, name);
	if (msg && *msg)
		tm_line_add(l, " (%s)", msg);
	return TM_POD_PROGRESSING;
}

/* A running container: ready is fine; an init container is progress until it ends,
 * unless it is a sidecar (restartPolicy Always), which lets the next one start once
 * started. */
static enum tm_pod_severity running_cause(const json_t *cs, const json_t *spec, const char *name, bool init,
					  long long restarts, struct tm_line *l)
{
	if (init) {
		if (tm_jstr_is(spec, "restartPolicy", "Always") && json_is_true(json_object_get(cs, "started")))
			return TM_POD_FINE;
		tm_line_add(l, "PodInitializing: init container \"%s\" running", name);
		return TM_POD_PROGRESSING;
	}
	if (json_is_true(json_object_get(cs, "ready")))
		return TM_POD_FINE;
	tm_line_add(l, "container \"%s\" not ready", name);
	if (restarts > 0) {
		tm_line_add(l, " (");
		add_restarts(l, restarts);
		tm_line_add(l, ")");
	}
	return TM_POD_PROGRESSING;
}

/* What one container status says, and how bad it is. Only names, images, reasons,
 * exit codes and kubelet messages are used: state.terminated.message is the
 * container's own output and may hold anything, so it is never shown. */
static enum tm_pod_severity container_cause(const json_t *pod, const json_t *cs, bool init, struct tm_line *l)
{
	const char *who = init ? "init container" : "container";
	const char *name = tm_jstr(cs, "name") ? tm_jstr(cs, "name") : "?", *reason;
	const json_t *waiting = tm_doc_get(cs, "state", "waiting", NULL);
	const json_t *term = tm_doc_get(cs, "state", "terminated", NULL);
	const json_t *spec = container_spec(pod, init ? "initContainers" : "containers", tm_jstr(cs, "name"));
	long long restarts = tm_jint_or(json_object_get(cs, "restartCount"), 0);

	if (json_is_object(waiting))
		return waiting_cause(cs, waiting, spec, who, name, init, restarts, l);
	if (json_is_object(term)) {
		long long code = tm_jint_or(json_object_get(term, "exitCode"), 0);
		reason = tm_jstr(term, "reason");
		if (code == 0 && !(reason && strcmp(reason, "OOMKilled") == 0))
			return TM_POD_FINE; /* an init step done, or a run-to-completion container */
		tm_line_add(l, "%s: %s \"%s\" exited with code %lld", reason && *reason ? reason : "Error", who, name,
			    code);
		return TM_POD_BAD;
	}
	if (json_is_object(tm_doc_get(cs, "state", "running", NULL)))
		return running_cause(cs, spec, name, init, restarts, l);
	tm_line_add(l, "%s \"%s\" has no state yet", who, name);
	return TM_POD_PROGRESSING;
}

/* The worst container of a list: init containers run one after the other, so the first
 * that is not done is what blocks; app containers run together, so the worst one
 * explains the pod. */
static enum tm_pod_severity containers_cause(const json_t *pod, const char *list, bool init, struct tm_line *l)
{
	const json_t *arr = tm_doc_get(pod, "status", list, NULL), *cs;
	enum tm_pod_severity worst = TM_POD_FINE, sev;
	size_t i, pick = 0;
	char scratch[1];
	struct tm_line dry;

	if (!json_is_array(arr))
		return TM_POD_FINE;
	/* a dry pass for the severities, then the chosen container writes the text */
	json_array_foreach(arr, i, cs) {
		tm_line_init(&dry, scratch, sizeof(scratch));
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
static const char *const status_lists[] = { "initContainerStatuses", "containerStatuses" };

static bool exited_badly(const json_t *term)
{
	return json_is_object(term) && tm_jint_or(json_object_get(term, "exitCode"), 0) != 0;
}

/* The first container status (init containers first) for which pick holds, and in
 * *init which list it came from; NULL when none. */
static const json_t *first_status(const json_t *pod, bool (*pick)(const json_t *cs), bool *init)
{
	const json_t *arr, *cs;
	size_t k, i;

	for (k = 0; k < TM_ARRAY_LEN(status_lists); k++) {
		arr = tm_doc_get(pod, "status", status_lists[k], NULL);
		json_array_foreach(arr, i, cs) {
			if (pick(cs)) {
				*init = k == 0;
				return cs;
			}
		}
	}
	return NULL;
}

static bool terminated_badly(const json_t *cs)
{
	return exited_badly(tm_doc_get(cs, "state", "terminated", NULL));
}

static void failed_cause(const json_t *pod, struct tm_line *l)
{
	const json_t *st = json_object_get(pod, "status"), *cs, *term;
	const char *reason = tm_jstr(st, "reason"), *msg = tm_jstr(st, "message");
	bool init;

	if (reason && *reason) {
		tm_line_reason_msg(l, reason, msg, "");
		return;
	}
	if (!(cs = first_status(pod, terminated_badly, &init))) {
		tm_line_reason_msg(l, "Failed", msg, "");
		return;
	}
	term = tm_doc_get(cs, "state", "terminated", NULL);
	tm_line_add(l, "Failed: %s \"%s\" exited with code %lld", init ? "init container" : "container",
		    tm_jstr(cs, "name") ? tm_jstr(cs, "name") : "?", tm_jint_or(json_object_get(term, "exitCode"), 0));
	if (tm_jstr(term, "reason") && *tm_jstr(term, "reason"))
		tm_line_add(l, " (%s)", tm_jstr(term, "reason"));
}

static enum tm_pod_severity pod_cause(const json_t *pod, struct tm_line *l)
{
	const char *phase;
	const json_t *c, *statuses;
	enum tm_pod_severity sev;

	if (!json_is_object(pod)) {
		tm_line_add(l, "no pod to inspect");
		return TM_POD_PROGRESSING;
	}
	phase = tm_jstr(tm_doc_get(pod, "status", NULL), "phase");
	if (!phase)
		phase = "";
	if (strcmp(phase, "Succeeded") == 0)
		return TM_POD_FINE;
	if (strcmp(phase, "Failed") == 0) {
		failed_cause(pod, l);
		return TM_POD_BAD;
	}
	if (json_is_string(tm_doc_get(pod, "metadata", "deletionTimestamp", NULL))) {
		tm_line_add(l, "Terminating");
		return TM_POD_PROGRESSING;
	}
	/* the node stopped reporting: nothing on the pod will change until it returns or
	 * the pod is evicted */
	if (strcmp(phase, "Unknown") == 0) {
		tm_line_add(l, "Unknown: ");
		tm_line_reason_msg(l, tm_jstr(tm_doc_get(pod, "status", NULL), "reason"), tm_jstr(tm_doc_get(pod, "status", NULL), "message"),
			       "the node stopped reporting the pod's state");
		return TM_POD_BAD;
	}
	c = tm_condition(pod, "PodScheduled");
	if (tm_jstr_is(c, "status", "False")) {
		if (tm_jstr_is(c, "reason", "Unschedulable")) {
			tm_line_reason_msg(l, "Unschedulable", tm_condition_msg(c), "");
			return TM_POD_BAD;
		}
		/* SchedulingGated and the like: held back on purpose */
		tm_line_reason_msg(l, tm_jstr(c, "reason"), tm_condition_msg(c), "waiting to be scheduled");
		return TM_POD_PROGRESSING;
	}
	sev = containers_cause(pod, "initContainerStatuses", true, l);
	if (sev != TM_POD_FINE)
		return sev;
	sev = containers_cause(pod, "containerStatuses", false, l);
	if (sev != TM_POD_FINE)
		return sev;
	statuses = tm_doc_get(pod, "status", "containerStatuses", NULL);
	if (json_array_size(statuses) == 0) {
		/* accepted by the API server, not yet picked up by the scheduler or kubelet */
		tm_line_add(l, "%s", c ? "Pending" : "waiting to be scheduled");
		return TM_POD_PROGRESSING;
	}
	if (strcmp(phase, "Running") == 0 && tm_condition_is(pod, "Ready", "True"))
		return TM_POD_FINE;
	/* every container is fine but the pod is not: readiness gates, or a status the
	 * kubelet has not caught up with */
	c = tm_condition(pod, "Ready");
	tm_line_add(l, "not ready");
	if (tm_condition_msg(c) && *tm_condition_msg(c))
		tm_line_add(l, ": %s", tm_condition_msg(c));
	return TM_POD_PROGRESSING;
}

enum tm_pod_severity tm_pod_cause(const json_t *pod, char *buf, size_t n)
{
	char scratch[1];
	struct tm_line l;
	enum tm_pod_severity sev;

	if (!buf || n == 0) {
		buf = scratch;
		n = sizeof(scratch);
	}
	tm_line_init(&l, buf, n);
	sev = pod_cause(pod, &l);
	if (sev == TM_POD_FINE)
		tm_line_init(&l, buf, n);
	tm_line_end(&l);
	return sev;
}

/* a named container whose current run, or (while it waits to restart) previous run,
 * exited non-zero */
static bool blamable(const json_t *cs)
{
	return tm_jstr(cs, "name") &&
	       (terminated_badly(cs) || (json_is_object(tm_doc_get(cs, "state", "waiting", NULL)) &&
					 exited_badly(tm_doc_get(cs, "lastState", "terminated", NULL))));
}

bool tm_pod_culprit(const json_t *pod, const char **container, bool *previous)
{
	bool init;
	const json_t *cs = first_status(pod, blamable, &init);

	*container = cs ? tm_jstr(cs, "name") : NULL;
	*previous = cs && !terminated_badly(cs);
	return cs != NULL;
}

void tm_ready_pod(const json_t *obj, struct tm_readiness *out)
{
	const char *phase;

	if (!tm_ready_usable(obj, out))
		return;
	phase = tm_jstr(tm_doc_get(obj, "status", NULL), "phase");
	if (phase && strcmp(phase, "Succeeded") == 0) {
		tm_reason_ready(out);
		return;
	}
	if (phase && strcmp(phase, "Running") == 0 && tm_condition_is(obj, "Ready", "True")) {
		tm_reason_ready(out);
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
	const char *key = tm_jstr(e, "key"), *op = tm_jstr(e, "operator");
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
