/* Readiness rules per kind, and what blocks a pod. Pure functions: a live object as
 * JSON in, a verdict and a one-line reason out. No I/O, no clock, no allocation
 * that outlives the call. The kind table (kinds.c) points at these. */
#ifndef TARMAC_APPLY_READY_H
#define TARMAC_APPLY_READY_H

#include <jansson.h>
#include <stdbool.h>

enum tm_verdict {
	TM_VERDICT_WAIT = 0, /* not there yet; reason says what is missing */
	TM_VERDICT_READY,    /* done */
	TM_VERDICT_FAILED,   /* will not get there by waiting (reason says why) */
};

#define TM_REASON_MAX 320
struct tm_readiness {
	enum tm_verdict verdict;
	char reason[TM_REASON_MAX]; /* "1/2 available", "ProgressDeadlineExceeded: ...", "" when ready */
};

typedef void (*tm_ready_fn)(const json_t *obj, struct tm_readiness *out);

/* Deployment: observedGeneration >= generation; updatedReplicas, availableReplicas and
 * readyReplicas >= spec.replicas (1 when absent); no old replicas left (replicas ==
 * updatedReplicas); Progressing=False with ProgressDeadlineExceeded fails; paused waits
 * with "paused". Checked in that order after "paused" and the generation (a deadline
 * condition from before the last apply is stale). A ReplicaFailure=True condition
 * (quota, webhook) is appended to the wait reason but does not fail. */
void tm_ready_deployment(const json_t *obj, struct tm_readiness *out);
/* StatefulSet: generation observed; OnDelete counts as ready once observed;
 * updatedReplicas >= replicas - partition; no surplus replicas left after a scale-down
 * (kapp); readyReplicas == replicas; with partition 0 currentRevision == updateRevision. */
void tm_ready_statefulset(const json_t *obj, struct tm_readiness *out);
/* DaemonSet: generation observed; OnDelete ready once observed; updatedNumberScheduled
 * == desiredNumberScheduled; numberAvailable == desiredNumberScheduled. No
 * desiredNumberScheduled yet waits (0/0 would look done). */
void tm_ready_daemonset(const json_t *obj, struct tm_readiness *out);
/* Job: condition Complete=True ready; Failed=True (or FailureTarget=True, which comes
 * first on 1.31+) fails with its reason and message; spec.suspend waits with
 * "suspended"; otherwise waits with "0/1 succeeded, 1 active" (", 2 failed" when some
 * pods failed; no "/N" for a work-queue Job without completions). */
void tm_ready_job(const json_t *obj, struct tm_readiness *out);
/* PersistentVolumeClaim: phase Bound ready; Lost fails; Pending waits. */
void tm_ready_pvc(const json_t *obj, struct tm_readiness *out);
/* CustomResourceDefinition: Established=True ready; NamesAccepted=False fails with its
 * message. */
void tm_ready_crd(const json_t *obj, struct tm_readiness *out);
/* Service: ExternalName ready; otherwise a clusterIP (or "None") must be set; a
 * LoadBalancer is ready without an address too (the address is optional: the reason
 * says "no load balancer address yet" but the verdict is ready). */
void tm_ready_service(const json_t *obj, struct tm_readiness *out);
/* Pod: Succeeded ready; Failed fails (with the container's reason and exit code);
 * Running with Ready=True ready; else waits with tm_pod_cause's text (even when that
 * is TM_POD_BAD: a crash loop can still recover, the caller decides how long to wait).
 *
 * For every function here: a NULL or non-object obj gives TM_VERDICT_WAIT with a
 * reason; a missing or wrongly typed field counts as not there yet, never as done.
 * Reasons are one line (control characters become spaces), cut with "..." on a UTF-8
 * boundary. */
void tm_ready_pod(const json_t *obj, struct tm_readiness *out);

/* How bad a pod's state is, for picking the pod that explains a stuck workload. The
 * order matters: a greater value is worse. */
enum tm_pod_severity {
	TM_POD_FINE = 0,     /* ready, or succeeded */
	TM_POD_PROGRESSING,  /* ContainerCreating, PodInitializing, Running not yet ready,
			      * Terminating, or a waiting reason we do not know */
	TM_POD_BAD,          /* ImagePullBackOff, ErrImagePull, CrashLoopBackOff,
			      * Unschedulable, CreateContainerConfigError, Failed, OOMKilled,
			      * a container that exited non-zero, phase Unknown (node lost) */
};

/* One line saying what holds a pod back, in the words an operator knows, e.g.
 *   ImagePullBackOff: image "x:1" (Back-off pulling image "x:1")
 *   CrashLoopBackOff: container "scheduler" restarted 5 times (last exit code 1)
 *   Unschedulable: 0/3 nodes are available: 3 Insufficient cpu.
 *   Failed: container "migrate" exited with code 1 (Error)
 *   ContainerCreating
 * Init containers are looked at before the app containers (the first one not done
 * blocks; a started sidecar does not); among app containers the worst one is named.
 * The text never contains environment values, container args or a container's
 * termination message (its own output). Returns the severity; buf gets "" for a fine
 * pod. With buf NULL or n 0 only the severity is computed. */
enum tm_pod_severity tm_pod_cause(const json_t *pod, char *buf, size_t n);

/* The container whose exit explains a pod's trouble: the first (init containers
 * first) that exited non-zero, in its current run or, while it waits to restart, in
 * its previous one (*previous). False when no container exited non-zero. */
bool tm_pod_culprit(const json_t *pod, const char **container, bool *previous);

/* Whether labels (an object of strings, may be NULL) match a LabelSelector
 * (matchLabels and matchExpressions with In, NotIn, Exists, DoesNotExist). A NULL or
 * empty selector matches nothing (Kubernetes: a workload selector is never empty). */
bool tm_selector_matches(const json_t *selector, const json_t *labels);

#endif
