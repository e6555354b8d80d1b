/* Readiness per kind: Helm 3's ready.go checks with kapp's fail-fast conditions, as
 * pure functions over the live object's JSON (pods: pod.c). */
#include <stdio.h>
#include <string.h>

#include "apply/reason.h"
#include "tarmac/doc.h"

/* ------------------------------------------------------------------ shared checks */

/* Workload controllers always write a status object; until then nothing is known. */
static bool has_status(const json_t *obj, struct tm_readiness *out)
{
	if (json_is_object(json_object_get(obj, "status")))
		return true;
	tm_reason_set(out, TM_VERDICT_WAIT, "no status yet");
	return false;
}

/* A controller's status describes the spec it last saw: until it has seen the current
 * one, every other status field may describe the previous rollout. */
static bool generation_pending(const json_t *obj, struct tm_readiness *out)
{
	long long gen = tm_jint_or(tm_doc_get(obj, "metadata", "generation", NULL), 0);
	long long seen = tm_jint_or(tm_doc_get(obj, "status", "observedGeneration", NULL), 0);

	if (seen >= gen)
		return false;
	tm_reason_set(out, TM_VERDICT_WAIT, "waiting for the new generation to be observed");
	return true;
}

/* spec.replicas, which the API server defaults to 1. */
static bool wanted_replicas(const json_t *obj, long long *want, struct tm_readiness *out)
{
	const json_t *r = tm_doc_get(obj, "spec", "replicas", NULL);

	if (!r || json_is_null(r)) {
		*want = 1;
		return true;
	}
	if (!json_is_integer(r) || json_integer_value(r) < 0) {
		tm_reason_set(out, TM_VERDICT_WAIT, "spec.replicas is not a replica count");
		return false;
	}
	*want = (long long)json_integer_value(r);
	return true;
}

/* StatefulSets and DaemonSets with the OnDelete strategy never replace pods on their
 * own, so waiting for updated pods would wait for the operator. */
static bool on_delete(const json_t *obj)
{
	return tm_jstr_is(tm_doc_get(obj, "spec", "updateStrategy", NULL), "type", "OnDelete");
}

/* ------------------------------------------------------------------ workloads */

void tm_ready_deployment(const json_t *obj, struct tm_readiness *out)
{
	const json_t *st, *c;
	long long want, updated, replicas, avail, ready;
	char counts[96];

	if (!tm_ready_usable(obj, out) || !has_status(obj, out))
		return;
	/* a paused rollout makes no progress until resumed, whatever the counts say */
	if (json_is_true(tm_doc_get(obj, "spec", "paused", NULL))) {
		tm_reason_set(out, TM_VERDICT_WAIT, "paused");
		return;
	}
	if (generation_pending(obj, out))
		return;
	c = tm_condition(obj, "Progressing");
	if (tm_jstr_is(c, "status", "False") && tm_jstr_is(c, "reason", "ProgressDeadlineExceeded")) {
		const char *m = tm_condition_msg(c);
		tm_reason_set(out, TM_VERDICT_FAILED, "ProgressDeadlineExceeded%s%s", m && *m ? ": " : "", m ? m : "");
		return;
	}
	if (!wanted_replicas(obj, &want, out))
		return;
	st = json_object_get(obj, "status");
	updated = tm_jint_or(json_object_get(st, "updatedReplicas"), 0);
	replicas = tm_jint_or(json_object_get(st, "replicas"), 0);
	avail = tm_jint_or(json_object_get(st, "availableReplicas"), 0);
	ready = tm_jint_or(json_object_get(st, "readyReplicas"), 0);
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
		tm_reason_ready(out);
		return;
	}
	/* ReplicaFailure (quota, admission webhooks) may clear on its own, so it only
	 * explains the wait; its message is what the operator has to act on */
	c = tm_condition(obj, "ReplicaFailure");
	if (tm_jstr_is(c, "status", "True")) {
		struct tm_line l;
		out->verdict = TM_VERDICT_WAIT;
		tm_line_init(&l, out->reason, sizeof(out->reason));
		tm_line_add(&l, "%s; ", counts);
		tm_line_reason_msg(&l, tm_jstr(c, "reason"), tm_condition_msg(c), "ReplicaFailure");
		tm_line_end(&l);
		return;
	}
	tm_reason_set(out, TM_VERDICT_WAIT, "%s", counts);
}

void tm_ready_statefulset(const json_t *obj, struct tm_readiness *out)
{
	const json_t *st;
	long long want, partition, expect, updated, replicas, ready;
	const char *cur, *upd;

	if (!tm_ready_usable(obj, out) || !has_status(obj, out) || generation_pending(obj, out))
		return;
	if (on_delete(obj)) {
		tm_reason_ready(out);
		return;
	}
	if (!wanted_replicas(obj, &want, out))
		return;
	partition = tm_jint_or(tm_doc_get(obj, "spec", "updateStrategy", "rollingUpdate", "partition", NULL), 0);
	if (partition < 0)
		partition = 0;
	expect = want > partition ? want - partition : 0;
	st = json_object_get(obj, "status");
	updated = tm_jint_or(json_object_get(st, "updatedReplicas"), 0);
	replicas = tm_jint_or(json_object_get(st, "replicas"), 0);
	ready = tm_jint_or(json_object_get(st, "readyReplicas"), 0);
	if (updated < expect) {
		tm_reason_set(out, TM_VERDICT_WAIT, "%lld/%lld updated", updated, expect);
		return;
	}
	/* kapp: after a scale-down the surplus pods still hold their volumes and ordinals */
	if (replicas > want) {
		tm_reason_set(out, TM_VERDICT_WAIT, "surplus replicas pending termination: %lld", replicas - want);
		return;
	}
	if (ready != want) {
		tm_reason_set(out, TM_VERDICT_WAIT, "%lld/%lld ready", ready, want);
		return;
	}
	/* with a partition the old revision is meant to stay on the lower ordinals */
	if (partition == 0) {
		cur = tm_jstr(st, "currentRevision");
		upd = tm_jstr(st, "updateRevision");
		if (!cur || !upd || strcmp(cur, upd) != 0) {
			tm_reason_set(out, TM_VERDICT_WAIT, "revision \"%s\" not yet rolled out (current \"%s\")",
			    upd ? upd : "?", cur ? cur : "?");
			return;
		}
	}
	tm_reason_ready(out);
}

void tm_ready_daemonset(const json_t *obj, struct tm_readiness *out)
{
	const json_t *st, *d;
	long long desired, updated, avail;

	if (!tm_ready_usable(obj, out) || !has_status(obj, out) || generation_pending(obj, out))
		return;
	if (on_delete(obj)) {
		tm_reason_ready(out);
		return;
	}
	st = json_object_get(obj, "status");
	/* desiredNumberScheduled is always written (0 included); without it a 0/0 would
	 * look done */
	d = json_object_get(st, "desiredNumberScheduled");
	if (!json_is_integer(d)) {
		tm_reason_set(out, TM_VERDICT_WAIT, "no desired pod count yet");
		return;
	}
	desired = (long long)json_integer_value(d);
	updated = tm_jint_or(json_object_get(st, "updatedNumberScheduled"), 0);
	avail = tm_jint_or(json_object_get(st, "numberAvailable"), 0);
	if (updated != desired)
		tm_reason_set(out, TM_VERDICT_WAIT, "%lld/%lld updated", updated, desired);
	else if (avail != desired)
		tm_reason_set(out, TM_VERDICT_WAIT, "%lld/%lld available", avail, desired);
	else
		tm_reason_ready(out);
}

void tm_ready_job(const json_t *obj, struct tm_readiness *out)
{
	const json_t *st, *c, *completions;
	long long succeeded, active, failed;
	struct tm_line l;

	if (!tm_ready_usable(obj, out))
		return;
	/* FailureTarget (1.31+) precedes Failed while the last pods terminate: the
	 * outcome is already decided, so waiting for Failed only adds delay */
	c = tm_condition(obj, "Failed");
	if (!tm_jstr_is(c, "status", "True"))
		c = tm_condition(obj, "FailureTarget");
	if (tm_jstr_is(c, "status", "True")) {
		out->verdict = TM_VERDICT_FAILED;
		tm_line_init(&l, out->reason, sizeof(out->reason));
		tm_line_reason_msg(&l, tm_jstr(c, "reason"), tm_condition_msg(c), "failed");
		tm_line_end(&l);
		return;
	}
	if (tm_condition_is(obj, "Complete", "True")) {
		tm_reason_ready(out);
		return;
	}
	if (json_is_true(tm_doc_get(obj, "spec", "suspend", NULL))) {
		tm_reason_set(out, TM_VERDICT_WAIT, "suspended");
		return;
	}
	st = json_object_get(obj, "status");
	succeeded = tm_jint_or(json_object_get(st, "succeeded"), 0);
	active = tm_jint_or(json_object_get(st, "active"), 0);
	failed = tm_jint_or(json_object_get(st, "failed"), 0);
	completions = tm_doc_get(obj, "spec", "completions", NULL);
	out->verdict = TM_VERDICT_WAIT;
	tm_line_init(&l, out->reason, sizeof(out->reason));
	/* a work-queue Job (parallelism without completions) has no target count */
	if (json_is_integer(completions))
		tm_line_add(&l, "%lld/%lld succeeded", succeeded, (long long)json_integer_value(completions));
	else
		tm_line_add(&l, "%lld succeeded", succeeded);
	tm_line_add(&l, ", %lld active", active);
	if (failed > 0)
		tm_line_add(&l, ", %lld failed", failed);
	tm_line_end(&l);
}

/* ------------------------------------------------------------------ other kinds */

void tm_ready_pvc(const json_t *obj, struct tm_readiness *out)
{
	const char *phase, *sc, *vol;

	if (!tm_ready_usable(obj, out))
		return;
	phase = tm_jstr(tm_doc_get(obj, "status", NULL), "phase");
	if (!phase || !*phase) {
		tm_reason_set(out, TM_VERDICT_WAIT, "no phase yet");
	} else if (strcmp(phase, "Bound") == 0) {
		tm_reason_ready(out);
	} else if (strcmp(phase, "Lost") == 0) {
		vol = tm_jstr(tm_doc_get(obj, "spec", NULL), "volumeName");
		if (vol && *vol)
			tm_reason_set(out, TM_VERDICT_FAILED, "Lost: volume \"%s\" no longer exists", vol);
		else
			tm_reason_set(out, TM_VERDICT_FAILED, "Lost: its volume no longer exists");
	} else {
		/* the storage class is where a stuck claim is debugged (provisioner, binding
		 * mode), so it is worth naming */
		sc = tm_jstr(tm_doc_get(obj, "spec", NULL), "storageClassName");
		if (sc && *sc)
			tm_reason_set(out, TM_VERDICT_WAIT, "%s (storage class \"%s\")", phase, sc);
		else
			tm_reason_set(out, TM_VERDICT_WAIT, "%s", phase);
	}
}

void tm_ready_crd(const json_t *obj, struct tm_readiness *out)
{
	const json_t *c;
	struct tm_line l;

	if (!tm_ready_usable(obj, out))
		return;
	if (tm_condition_is(obj, "Established", "True")) {
		tm_reason_ready(out);
		return;
	}
	/* a name conflict with another CRD is never resolved by waiting */
	c = tm_condition(obj, "NamesAccepted");
	if (tm_jstr_is(c, "status", "False")) {
		out->verdict = TM_VERDICT_FAILED;
		tm_line_init(&l, out->reason, sizeof(out->reason));
		tm_line_reason_msg(&l, tm_jstr(c, "reason"), tm_condition_msg(c), "names not accepted");
		tm_line_end(&l);
		return;
	}
	c = tm_condition(obj, "Established");
	out->verdict = TM_VERDICT_WAIT;
	tm_line_init(&l, out->reason, sizeof(out->reason));
	tm_line_add(&l, "not established yet");
	if (tm_jstr(c, "reason") || tm_condition_msg(c)) {
		tm_line_add(&l, " (");
		tm_line_reason_msg(&l, tm_jstr(c, "reason"), tm_condition_msg(c), "");
		tm_line_add(&l, ")");
	}
	tm_line_end(&l);
}

void tm_ready_service(const json_t *obj, struct tm_readiness *out)
{
	const json_t *spec, *ingress, *ext;
	const char *type, *ip;

	if (!tm_ready_usable(obj, out))
		return;
	spec = json_object_get(obj, "spec");
	type = tm_jstr(spec, "type");
	if (type && strcmp(type, "ExternalName") == 0) {
		tm_reason_ready(out);
		return;
	}
	ip = tm_jstr(spec, "clusterIP");
	if (!ip || !*ip) {
		tm_reason_set(out, TM_VERDICT_WAIT, "no cluster IP yet");
		return;
	}
	if (type && strcmp(type, "LoadBalancer") == 0) {
		/* in-cluster clients work through the cluster IP already; an external
		 * address may never come (no cloud controller), so it only gets a note */
		ingress = tm_doc_get(obj, "status", "loadBalancer", "ingress", NULL);
		ext = json_object_get(spec, "externalIPs");
		if (json_array_size(ingress) == 0 && json_array_size(ext) == 0) {
			tm_reason_set(out, TM_VERDICT_READY, "no load balancer address yet");
			return;
		}
	}
	tm_reason_ready(out);
}
