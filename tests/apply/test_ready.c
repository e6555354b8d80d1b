/* Readiness verdicts and reasons per kind, on objects as the API server returns them
 * (tests/fixtures/apply/ready), plus label selectors and inputs that must not crash. */
#include <jansson.h>

#include "../testutil.h"
#include "apply/ready.h"
#include "tarmac/util.h"

static json_t *fixture(const char *name)
{
	const char *dir = getenv("TM_TEST_FIXTURES");
	char path[1024];
	json_error_t jerr;
	json_t *j;

	cr_assert_not_null(dir, "TM_TEST_FIXTURES is not set");
	snprintf(path, sizeof(path), "%s/apply/ready/%s", dir, name);
	j = json_load_file(path, 0, &jerr);
	cr_assert_not_null(j, "%s:%d: %s", path, jerr.line, jerr.text);
	return j;
}

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);

	cr_assert_not_null(j, "%s: %s", text, jerr.text);
	return j;
}

/* Runs fn with the result poisoned first, so a reason left unterminated shows. */
static struct tm_readiness judge(tm_ready_fn fn, const json_t *obj)
{
	struct tm_readiness r;

	memset(&r, 0x5a, sizeof(r));
	fn(obj, &r);
	cr_assert_not_null(memchr(r.reason, '\0', sizeof(r.reason)), "reason is not terminated");
	return r;
}

static struct tm_readiness judge_file(tm_ready_fn fn, const char *name)
{
	json_t *j = fixture(name);
	struct tm_readiness r = judge(fn, j);

	json_decref(j);
	return r;
}

static void expect(tm_ready_fn fn, const char *name, enum tm_verdict v, const char *reason)
{
	struct tm_readiness r = judge_file(fn, name);

	cr_assert_eq(r.verdict, v, "%s: verdict %d, want %d (%s)", name, r.verdict, v, r.reason);
	cr_assert_str_eq(r.reason, reason, "%s", name);
}

static enum tm_pod_severity cause(const json_t *pod, char *buf, size_t n)
{
	memset(buf, 'x', n);
	return tm_pod_cause(pod, buf, n);
}

static bool has(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

static bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		int more = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;
		if (more < 0)
			return false;
		p++;
		for (; more > 0; more--, p++)
			if ((*p & 0xc0) != 0x80)
				return false;
	}
	return true;
}

/* ------------------------------------------------------------------ Deployment */

Test(apply_ready, deployment_verdicts)
{
	expect(tm_ready_deployment, "deployment-ready.json", TM_VERDICT_READY, "");
	expect(tm_ready_deployment, "deployment-progressing.json", TM_VERDICT_WAIT, "1/2 available");
	expect(tm_ready_deployment, "deployment-updating.json", TM_VERDICT_WAIT, "1/2 updated");
	expect(tm_ready_deployment, "deployment-old-replicas.json", TM_VERDICT_WAIT,
	       "old replicas pending termination: 1");
	expect(tm_ready_deployment, "deployment-new-generation.json", TM_VERDICT_WAIT,
	       "waiting for the new generation to be observed");
	expect(tm_ready_deployment, "deployment-paused.json", TM_VERDICT_WAIT, "paused");
	expect(tm_ready_deployment, "deployment-zero.json", TM_VERDICT_READY, "");
}

Test(apply_ready, deployment_deadline_fails_fast)
{
	json_t *d = fixture("deployment-deadline.json");
	struct tm_readiness r = judge(tm_ready_deployment, d);

	cr_assert_eq(r.verdict, TM_VERDICT_FAILED, "%s", r.reason);
	cr_assert_str_eq(r.reason,
			 "ProgressDeadlineExceeded: ReplicaSet \"airflow-scheduler-5d4c8b7f9d\" has timed out progressing.");
	/* after a new apply the old condition describes the previous spec: not a failure yet */
	json_object_set_new(json_object_get(d, "metadata"), "generation", json_integer(3));
	r = judge(tm_ready_deployment, d);
	cr_assert_eq(r.verdict, TM_VERDICT_WAIT);
	cr_assert_str_eq(r.reason, "waiting for the new generation to be observed");
	json_decref(d);
}

Test(apply_ready, deployment_replicas_default_to_one)
{
	json_t *d = fixture("deployment-default-replicas.json");
	struct tm_readiness r;

	cr_assert_null(json_object_get(json_object_get(d, "spec"), "replicas"));
	r = judge(tm_ready_deployment, d);
	cr_assert_eq(r.verdict, TM_VERDICT_READY, "%s", r.reason);
	json_object_del(json_object_get(d, "status"), "availableReplicas");
	r = judge(tm_ready_deployment, d);
	cr_assert_eq(r.verdict, TM_VERDICT_WAIT);
	cr_assert_str_eq(r.reason, "0/1 available", "an omitted counter is zero and spec.replicas absent is 1");
	json_decref(d);
}

Test(apply_ready, deployment_replica_failure_explains_the_wait)
{
	struct tm_readiness r = judge_file(tm_ready_deployment, "deployment-quota.json");

	cr_assert_eq(r.verdict, TM_VERDICT_WAIT, "a quota can be raised: keep waiting");
	cr_assert(has(r.reason, "0/2 updated; FailedCreate: pods \"airflow-webserver-7c9d5b6f8d-x2k9p\" is forbidden"),
		  "%s", r.reason);
	cr_assert(has(r.reason, "exceeded quota: compute"), "%s", r.reason);
}

/* ------------------------------------------------------------------ StatefulSet, DaemonSet */

Test(apply_ready, statefulset_verdicts)
{
	expect(tm_ready_statefulset, "statefulset-ready.json", TM_VERDICT_READY, "");
	expect(tm_ready_statefulset, "statefulset-rolling.json", TM_VERDICT_WAIT, "1/3 updated");
	expect(tm_ready_statefulset, "statefulset-not-ready.json", TM_VERDICT_WAIT, "0/1 ready");
	expect(tm_ready_statefulset, "statefulset-scaledown.json", TM_VERDICT_WAIT,
	       "surplus replicas pending termination: 1");
	expect(tm_ready_statefulset, "statefulset-revision.json", TM_VERDICT_WAIT,
	       "revision \"airflow-worker-84d6f9c7b\" not yet rolled out (current \"airflow-worker-5b7c9d8f6\")");
	/* partition 2 of 3: one updated pod is the whole rollout, old revision stays */
	expect(tm_ready_statefulset, "statefulset-partition.json", TM_VERDICT_READY, "");
	expect(tm_ready_statefulset, "statefulset-ondelete.json", TM_VERDICT_READY, "");
}

Test(apply_ready, statefulset_ondelete_still_needs_the_generation)
{
	json_t *s = fixture("statefulset-ondelete.json");
	struct tm_readiness r;

	json_object_set_new(json_object_get(s, "metadata"), "generation", json_integer(6));
	r = judge(tm_ready_statefulset, s);
	cr_assert_eq(r.verdict, TM_VERDICT_WAIT);
	cr_assert_str_eq(r.reason, "waiting for the new generation to be observed");
	json_decref(s);
}

Test(apply_ready, daemonset_verdicts)
{
	expect(tm_ready_daemonset, "daemonset-ready.json", TM_VERDICT_READY, "");
	expect(tm_ready_daemonset, "daemonset-rolling.json", TM_VERDICT_WAIT, "2/3 updated");
	expect(tm_ready_daemonset, "daemonset-unavailable.json", TM_VERDICT_WAIT, "2/3 available");
	expect(tm_ready_daemonset, "daemonset-ondelete.json", TM_VERDICT_READY, "");
	expect(tm_ready_daemonset, "daemonset-new-generation.json", TM_VERDICT_WAIT,
	       "waiting for the new generation to be observed");
}

/* ------------------------------------------------------------------ Job */

Test(apply_ready, job_verdicts)
{
	expect(tm_ready_job, "job-complete.json", TM_VERDICT_READY, "");
	expect(tm_ready_job, "job-failed.json", TM_VERDICT_FAILED,
	       "BackoffLimitExceeded: Job has reached the specified backoff limit");
	expect(tm_ready_job, "job-failure-target.json", TM_VERDICT_FAILED,
	       "DeadlineExceeded: Job was active longer than specified deadline");
	expect(tm_ready_job, "job-running.json", TM_VERDICT_WAIT, "0/1 succeeded, 1 active, 2 failed");
	expect(tm_ready_job, "job-suspended.json", TM_VERDICT_WAIT, "suspended");
	expect(tm_ready_job, "job-workqueue.json", TM_VERDICT_WAIT, "1 succeeded, 2 active");
}

/* ------------------------------------------------------------------ PVC, CRD, Service */

Test(apply_ready, pvc_verdicts)
{
	struct tm_readiness r;

	expect(tm_ready_pvc, "pvc-bound.json", TM_VERDICT_READY, "");
	expect(tm_ready_pvc, "pvc-pending.json", TM_VERDICT_WAIT, "Pending (storage class \"fast-ssd\")");
	r = judge_file(tm_ready_pvc, "pvc-lost.json");
	cr_assert_eq(r.verdict, TM_VERDICT_FAILED);
	cr_assert(has(r.reason, "Lost") && has(r.reason, "pvc-2c7a0e41-8f3b-4d6e-a1c9-5b2f7d8e3a10"), "%s", r.reason);
}

Test(apply_ready, crd_verdicts)
{
	expect(tm_ready_crd, "crd-established.json", TM_VERDICT_READY, "");
	expect(tm_ready_crd, "crd-names-conflict.json", TM_VERDICT_FAILED,
	       "PluralConflict: \"scaledobjects\" is already in use");
	expect(tm_ready_crd, "crd-installing.json", TM_VERDICT_WAIT,
	       "not established yet (Installing: the initial names have been accepted)");
}

Test(apply_ready, service_verdicts)
{
	json_t *s;
	struct tm_readiness r;

	expect(tm_ready_service, "service-clusterip.json", TM_VERDICT_READY, "");
	expect(tm_ready_service, "service-headless.json", TM_VERDICT_READY, "");
	expect(tm_ready_service, "service-externalname.json", TM_VERDICT_READY, "");
	expect(tm_ready_service, "service-lb-pending.json", TM_VERDICT_READY, "no load balancer address yet");
	expect(tm_ready_service, "service-lb-ready.json", TM_VERDICT_READY, "");

	s = fixture("service-clusterip.json");
	json_object_del(json_object_get(s, "spec"), "clusterIP");
	r = judge(tm_ready_service, s);
	cr_assert_eq(r.verdict, TM_VERDICT_WAIT);
	cr_assert_str_eq(r.reason, "no cluster IP yet");
	json_decref(s);
}

/* ------------------------------------------------------------------ Pod */

Test(apply_ready, pod_image_pull)
{
	json_t *p = fixture("pod-imagepull.json");
	struct tm_readiness r = judge(tm_ready_pod, p);
	char buf[TM_REASON_MAX];

	cr_assert_eq(r.verdict, TM_VERDICT_WAIT);
	cr_assert_str_eq(r.reason, "ImagePullBackOff: image \"apache/airflow:3.0.2-pyhton3.12\" "
				   "(Back-off pulling image \"apache/airflow:3.0.2-pyhton3.12\")");
	cr_assert_eq(cause(p, buf, sizeof(buf)), TM_POD_BAD);
	cr_assert_str_eq(buf, r.reason);
	json_decref(p);

	p = fixture("pod-errimagepull.json");
	cr_assert_eq(cause(p, buf, sizeof(buf)), TM_POD_BAD);
	cr_assert(has(buf, "ErrImagePull: image \"apache/airflow:3.0.2-pyhton3.12\" (rpc error"), "%s", buf);
	cr_assert(has(buf, "not found)"), "%s", buf);
	json_decref(p);
}

Test(apply_ready, pod_image_from_spec_when_status_has_none)
{
	json_t *p = fixture("pod-imagepull.json");
	json_t *cs = json_array_get(json_object_get(json_object_get(p, "status"), "containerStatuses"), 0);
	char buf[TM_REASON_MAX];

	json_object_del(cs, "image");
	cr_assert_eq(cause(p, buf, sizeof(buf)), TM_POD_BAD);
	cr_assert(has(buf, "image \"apache/airflow:3.0.2-pyhton3.12\""), "%s", buf);
	json_decref(p);
}

Test(apply_ready, pod_crashloop_names_container_restarts_and_exit_code)
{
	json_t *p = fixture("pod-crashloop.json");
	struct tm_readiness r = judge(tm_ready_pod, p);

	cr_assert_eq(r.verdict, TM_VERDICT_WAIT);
	cr_assert_str_eq(r.reason, "CrashLoopBackOff: container \"scheduler\" restarted 5 times (last exit code 1)");
	/* the container's own output and the spec's env and args stay out */
	cr_assert_not(has(r.reason, "hunter2") || has(r.reason, "password") || has(r.reason, "Zm9vYmFy"), "%s",
		      r.reason);
	json_decref(p);

	expect(tm_ready_pod, "pod-oomkilled.json", TM_VERDICT_WAIT,
	       "CrashLoopBackOff: container \"worker\" restarted 2 times (last exit code 137, OOMKilled)");
}

Test(apply_ready, pod_worst_container_explains)
{
	json_t *p = fixture("pod-crashloop.json");
	json_t *list = json_object_get(json_object_get(p, "status"), "containerStatuses");
	json_t *creating = parse("{\"name\":\"statsd\",\"ready\":false,\"restartCount\":0,\"image\":\"x\","
				 "\"state\":{\"waiting\":{\"reason\":\"ContainerCreating\"}}}");
	char buf[TM_REASON_MAX];

	json_array_insert_new(list, 0, creating);
	cr_assert_eq(cause(p, buf, sizeof(buf)), TM_POD_BAD);
	cr_assert(has(buf, "CrashLoopBackOff: container \"scheduler\""), "a bad container beats a creating one: %s",
		  buf);
	/* among equally bad ones the first in the pod's order is named */
	json_array_append_new(list, parse("{\"name\":\"late\",\"restartCount\":9,\"image\":\"x\","
					  "\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}}"));
	cr_assert_eq(cause(p, buf, sizeof(buf)), TM_POD_BAD);
	cr_assert(has(buf, "container \"scheduler\""), "%s", buf);
	json_decref(p);
}

Test(apply_ready, pod_unschedulable_quotes_the_scheduler)
{
	json_t *p = fixture("pod-unschedulable.json");
	char buf[TM_REASON_MAX];

	cr_assert_eq(cause(p, buf, sizeof(buf)), TM_POD_BAD);
	cr_assert(has(buf, "Unschedulable: 0/3 nodes are available: 1 node(s) had untolerated taint "
			   "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu."), "%s", buf);
	cr_assert_eq(judge(tm_ready_pod, p).verdict, TM_VERDICT_WAIT);
	json_decref(p);
}

Test(apply_ready, pod_failed)
{
	json_t *p = fixture("pod-failed.json");
	struct tm_readiness r = judge(tm_ready_pod, p);
	char buf[TM_REASON_MAX];

	cr_assert_eq(r.verdict, TM_VERDICT_FAILED);
	cr_assert_str_eq(r.reason, "Failed: container \"run-airflow-migrations\" exited with code 1 (Error)");
	cr_assert_not(has(r.reason, "s3cret"), "termination messages are the container's own output");
	cr_assert_eq(cause(p, buf, sizeof(buf)), TM_POD_BAD);
	json_decref(p);

	r = judge_file(tm_ready_pod, "pod-evicted.json");
	cr_assert_eq(r.verdict, TM_VERDICT_FAILED);
	cr_assert(has(r.reason, "Evicted: The node was low on resource: ephemeral-storage."), "%s", r.reason);
	cr_assert_neq(r.reason[strlen(r.reason) - 1], ' ', "the kubelet's trailing space is dropped");
}

Test(apply_ready, pod_config_error)
{
	json_t *p = fixture("pod-config-error.json");
	char buf[TM_REASON_MAX];

	cr_assert_eq(cause(p, buf, sizeof(buf)), TM_POD_BAD);
	cr_assert_str_eq(buf, "CreateContainerConfigError: container \"webserver\": secret \"airflow-metadata\" not found");
	cr_assert_eq(judge(tm_ready_pod, p).verdict, TM_VERDICT_WAIT);
	json_decref(p);
}

Test(apply_ready, pod_progressing)
{
	json_t *p;
	char buf[TM_REASON_MAX];

	p = fixture("pod-creating.json");
	cr_assert_eq(cause(p, buf, sizeof(buf)), TM_POD_PROGRESSING);
	cr_assert_str_eq(buf, "ContainerCreating");
	json_decref(p);

	p = fixture("pod-initializing.json");
	cr_assert_eq(cause(p, buf, sizeof(buf)), TM_POD_PROGRESSING);
	cr_assert_str_eq(buf, "PodInitializing: init container \"wait-for-airflow-migrations\" running",
			 "the running init container holds the pod, not the waiting app container");
	json_decref(p);

	p = fixture("pod-not-ready.json");
	cr_assert_eq(cause(p, buf, sizeof(buf)), TM_POD_PROGRESSING);
	cr_assert_str_eq(buf, "container \"webserver\" not ready (restarted 1 time)");
	cr_assert_eq(judge(tm_ready_pod, p).verdict, TM_VERDICT_WAIT);
	json_decref(p);
}

Test(apply_ready, pod_init_container_first)
{
	json_t *p = fixture("pod-init-crash.json");
	struct tm_readiness r = judge(tm_ready_pod, p);

	cr_assert_eq(r.verdict, TM_VERDICT_WAIT);
	cr_assert_str_eq(r.reason, "CrashLoopBackOff: init container \"git-sync-init\" restarted 4 times (last exit code 128)");
	cr_assert_not(has(r.reason, "ghp_secrettoken"));
	json_decref(p);
}

Test(apply_ready, pod_started_sidecar_does_not_block)
{
	json_t *p = fixture("pod-initializing.json");
	json_t *init = json_array_get(json_object_get(json_object_get(p, "spec"), "initContainers"), 0);
	char buf[TM_REASON_MAX];

	json_object_set_new(init, "restartPolicy", json_string("Always"));
	cr_assert_eq(cause(p, buf, sizeof(buf)), TM_POD_PROGRESSING);
	cr_assert_str_eq(buf, "PodInitializing", "the app container is what is left: %s", buf);
	json_decref(p);
}

Test(apply_ready, pod_fine)
{
	json_t *p;
	char buf[64];

	p = fixture("pod-ready.json");
	cr_assert_eq(cause(p, buf, sizeof(buf)), TM_POD_FINE);
	cr_assert_str_eq(buf, "");
	cr_assert_eq(judge(tm_ready_pod, p).verdict, TM_VERDICT_READY);
	json_decref(p);

	p = fixture("pod-succeeded.json");
	cr_assert_eq(cause(p, buf, sizeof(buf)), TM_POD_FINE);
	cr_assert_str_eq(buf, "");
	expect(tm_ready_pod, "pod-succeeded.json", TM_VERDICT_READY, "");
	json_decref(p);
}

Test(apply_ready, pod_terminating)
{
	json_t *p = fixture("pod-not-ready.json");
	char buf[TM_REASON_MAX];

	json_object_set_new(json_object_get(p, "metadata"), "deletionTimestamp", json_string("2024-05-02T09:40:00Z"));
	cr_assert_eq(cause(p, buf, sizeof(buf)), TM_POD_PROGRESSING);
	cr_assert_str_eq(buf, "Terminating");
	json_decref(p);
}

Test(apply_ready, pod_node_lost_and_scheduling_gates)
{
	json_t *p = fixture("pod-not-ready.json");
	json_t *st = json_object_get(p, "status");
	char buf[TM_REASON_MAX];

	json_object_set_new(st, "phase", json_string("Unknown"));
	json_object_set_new(st, "reason", json_string("NodeLost"));
	json_object_set_new(st, "message", json_string("Node kind-worker2 which was running pod is unresponsive"));
	cr_assert_eq(cause(p, buf, sizeof(buf)), TM_POD_BAD);
	cr_assert_str_eq(buf, "Unknown: NodeLost: Node kind-worker2 which was running pod is unresponsive");
	cr_assert_eq(judge(tm_ready_pod, p).verdict, TM_VERDICT_WAIT);
	json_decref(p);

	p = parse("{\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"False\","
		  "\"reason\":\"SchedulingGated\",\"message\":\"Scheduling is blocked due to non-empty scheduling gates\"}]}}");
	cr_assert_eq(cause(p, buf, sizeof(buf)), TM_POD_PROGRESSING, "gated on purpose, not broken");
	cr_assert_str_eq(buf, "SchedulingGated: Scheduling is blocked due to non-empty scheduling gates");
	json_decref(p);
}

/* ------------------------------------------------------------------ text limits */

Test(apply_ready, long_reasons_are_cut_on_a_character_boundary)
{
	json_t *p = fixture("pod-imagepull.json");
	json_t *waiting = json_object_get(json_object_get(
		json_array_get(json_object_get(json_object_get(p, "status"), "containerStatuses"), 0), "state"), "waiting");
	char msg[2048], buf[TM_REASON_MAX];
	size_t i, len = 0, n;
	struct tm_readiness r;

	/* two- and three-byte characters with a newline and a tab among them */
	for (i = 0; len + 8 < sizeof(msg); i++) {
		const char *piece = i % 7 == 3 ? "\n" : i % 11 == 5 ? "\t" : i % 2 ? "\xc3\xa9" : "\xe2\x82\xac";
		memcpy(msg + len, piece, strlen(piece));
		len += strlen(piece);
	}
	msg[len] = '\0';
	json_object_set_new(waiting, "message", json_string(msg));

	r = judge(tm_ready_pod, p);
	cr_assert_lt(strlen(r.reason), sizeof(r.reason));
	cr_assert(strlen(r.reason) > sizeof(r.reason) - 8, "the buffer is used, not given up: %zu", strlen(r.reason));
	cr_assert(has(r.reason, "ImagePullBackOff: image "));
	cr_assert_str_eq(r.reason + strlen(r.reason) - 3, "...");
	cr_assert(utf8_valid(r.reason), "%s", r.reason);
	cr_assert_not(has(r.reason, "\n") || has(r.reason, "\t"), "one line: %s", r.reason);

	/* every small size: terminated, within bounds, never half a character */
	json_object_set_new(json_array_get(json_object_get(json_object_get(p, "status"), "containerStatuses"), 0),
			    "image", json_string("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"));
	for (n = 1; n < 120; n++) {
		memset(buf, 'x', sizeof(buf));
		cr_assert_eq(tm_pod_cause(p, buf, n), TM_POD_BAD);
		cr_assert_lt(strlen(buf), n, "n=%zu", n);
		cr_assert(utf8_valid(buf), "n=%zu: %s", n, buf);
		cr_assert_eq(buf[n], 'x', "n=%zu: wrote past the buffer", n);
	}
	cr_assert_eq(tm_pod_cause(p, NULL, 0), TM_POD_BAD, "the severity alone is fine to ask for");
	json_decref(p);
}

/* ------------------------------------------------------------------ garbage in */

static const tm_ready_fn all_kinds[] = {
	tm_ready_deployment, tm_ready_statefulset, tm_ready_daemonset, tm_ready_job,
	tm_ready_pvc,        tm_ready_crd,         tm_ready_service,   tm_ready_pod,
};

Test(apply_ready, garbage_waits_and_never_crashes)
{
	static const char *const inputs[] = {
		"[]",
		"\"Deployment\"",
		"42",
		"null",
		"{}",
		"{\"metadata\":\"x\",\"spec\":\"x\",\"status\":5}",
		"{\"metadata\":{\"generation\":\"2\"},\"spec\":{\"replicas\":\"2\",\"type\":7,\"updateStrategy\":\"x\","
		"\"completions\":\"1\",\"clusterIP\":3,\"paused\":\"yes\",\"suspend\":1},"
		"\"status\":{\"replicas\":\"3\",\"conditions\":\"no\",\"phase\":7,\"observedGeneration\":\"2\","
		"\"desiredNumberScheduled\":\"3\",\"loadBalancer\":[]}}",
		"{\"spec\":{\"replicas\":-3},\"status\":{\"conditions\":[1,null,{\"type\":5},"
		"{\"type\":\"Ready\",\"status\":true},{\"type\":\"Complete\",\"status\":\"true\"},"
		"{\"type\":\"Established\"},{\"type\":\"NamesAccepted\",\"status\":\"False\",\"reason\":7}],"
		"\"containerStatuses\":[7,{\"name\":7,\"state\":{\"waiting\":{\"reason\":9}}},"
		"{\"state\":{\"terminated\":\"x\",\"waiting\":[]}},{\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}},"
		"\"lastState\":{\"terminated\":{\"exitCode\":\"1\"}},\"restartCount\":\"many\"}],"
		"\"initContainerStatuses\":\"x\",\"phase\":\"Running\"}}",
	};
	size_t i, k;
	char buf[TM_REASON_MAX];

	for (i = 0; i < TM_ARRAY_LEN(inputs); i++) {
		json_t *j = parse(inputs[i]);
		for (k = 0; k < TM_ARRAY_LEN(all_kinds); k++) {
			struct tm_readiness r = judge(all_kinds[k], j);
			cr_assert_neq(r.verdict, TM_VERDICT_READY, "input %zu, kind %zu: %s", i, k, r.reason);
			cr_assert_neq(r.reason[0], '\0', "input %zu, kind %zu: a wait says why", i, k);
		}
		cr_assert_neq(cause(j, buf, sizeof(buf)), TM_POD_FINE, "input %zu", i);
		cr_assert_neq(buf[0], '\0', "input %zu", i);
		json_decref(j);
	}
}

Test(apply_ready, null_object_waits)
{
	size_t k;
	char buf[32];

	for (k = 0; k < TM_ARRAY_LEN(all_kinds); k++) {
		struct tm_readiness r = judge(all_kinds[k], NULL);
		cr_assert_eq(r.verdict, TM_VERDICT_WAIT);
		cr_assert_str_eq(r.reason, "no object to inspect");
	}
	cr_assert_eq(cause(NULL, buf, sizeof(buf)), TM_POD_PROGRESSING);
	cr_assert_str_eq(buf, "no pod to inspect");
}

Test(apply_ready, unreadable_replicas_wait)
{
	json_t *d = fixture("deployment-ready.json");
	struct tm_readiness r;

	json_object_set_new(json_object_get(d, "spec"), "replicas", json_string("2"));
	r = judge(tm_ready_deployment, d);
	cr_assert_eq(r.verdict, TM_VERDICT_WAIT);
	cr_assert_str_eq(r.reason, "spec.replicas is not a replica count");
	json_decref(d);
}

/* ------------------------------------------------------------------ selectors */

static bool sel(const char *selector, const char *labels)
{
	json_t *s = selector ? parse(selector) : NULL, *l = labels ? parse(labels) : NULL;
	bool m = tm_selector_matches(s, l);

	json_decref(s);
	json_decref(l);
	return m;
}

#define LABELS "{\"app\":\"airflow\",\"component\":\"scheduler\",\"tier\":\"core\"}"

Test(apply_ready, selector_match_labels)
{
	cr_assert(sel("{\"matchLabels\":{\"app\":\"airflow\",\"component\":\"scheduler\"}}", LABELS));
	cr_assert_not(sel("{\"matchLabels\":{\"app\":\"airflow\",\"component\":\"worker\"}}", LABELS));
	cr_assert_not(sel("{\"matchLabels\":{\"release\":\"prod\"}}", LABELS));
	cr_assert_not(sel("{\"matchLabels\":{\"app\":\"airflow\"}}", NULL), "no labels match no label rule");
	cr_assert_not(sel("{\"matchLabels\":{\"app\":1}}", "{\"app\":\"1\"}"));
	cr_assert_not(sel("{\"matchLabels\":[\"app\"]}", LABELS));
}

Test(apply_ready, selector_match_expressions)
{
	cr_assert(sel("{\"matchExpressions\":[{\"key\":\"component\",\"operator\":\"In\",\"values\":[\"worker\",\"scheduler\"]}]}",
		      LABELS));
	cr_assert_not(sel("{\"matchExpressions\":[{\"key\":\"component\",\"operator\":\"In\",\"values\":[\"worker\"]}]}",
			  LABELS));
	cr_assert_not(sel("{\"matchExpressions\":[{\"key\":\"missing\",\"operator\":\"In\",\"values\":[\"x\"]}]}", LABELS));
	cr_assert(sel("{\"matchExpressions\":[{\"key\":\"component\",\"operator\":\"NotIn\",\"values\":[\"worker\"]}]}",
		      LABELS));
	cr_assert_not(sel("{\"matchExpressions\":[{\"key\":\"component\",\"operator\":\"NotIn\",\"values\":[\"scheduler\"]}]}",
			  LABELS));
	cr_assert(sel("{\"matchExpressions\":[{\"key\":\"missing\",\"operator\":\"NotIn\",\"values\":[\"x\"]}]}", LABELS),
		  "NotIn matches an absent label");
	cr_assert(sel("{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"Exists\"}]}", LABELS));
	cr_assert_not(sel("{\"matchExpressions\":[{\"key\":\"missing\",\"operator\":\"Exists\"}]}", LABELS));
	cr_assert(sel("{\"matchExpressions\":[{\"key\":\"missing\",\"operator\":\"DoesNotExist\"}]}", LABELS));
	cr_assert_not(sel("{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"DoesNotExist\"}]}", LABELS));
	cr_assert(sel("{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"DoesNotExist\"}]}", NULL));
	/* labels and expressions are ANDed */
	cr_assert(sel("{\"matchLabels\":{\"app\":\"airflow\"},\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"Exists\"}]}",
		      LABELS));
	cr_assert_not(sel("{\"matchLabels\":{\"app\":\"airflow\"},\"matchExpressions\":[{\"key\":\"tier\",\"operator\":"
			  "\"DoesNotExist\"}]}", LABELS));
	cr_assert_not(sel("{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"Gt\",\"values\":[\"1\"]}]}", LABELS),
		      "an unknown operator never matches");
	cr_assert_not(sel("{\"matchExpressions\":{\"key\":\"tier\",\"operator\":\"Exists\"}}", LABELS));
	cr_assert_not(sel("{\"matchExpressions\":[{\"operator\":\"Exists\"}]}", LABELS));
}

Test(apply_ready, selector_empty_matches_nothing)
{
	cr_assert_not(sel(NULL, LABELS));
	cr_assert_not(sel("{}", LABELS));
	cr_assert_not(sel("{\"matchLabels\":{},\"matchExpressions\":[]}", LABELS));
	cr_assert_not(sel("{\"matchLabels\":null}", LABELS));
	cr_assert_not(sel("[]", LABELS));
	cr_assert_not(sel("{\"matchLabels\":{\"app\":\"airflow\"}}", "[\"app\"]"));
}
