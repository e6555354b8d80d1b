/* Private to apply/: the kind table row and the per-object state of one run. */
#ifndef TARMAC_APPLY_PRIVATE_H
#define TARMAC_APPLY_PRIVATE_H

#include "ready.h"
#include "tarmac/apply.h"

struct tm_kind_rule {
	const char *group;    /* "" core */
	const char *kind;
	enum tm_phase phase;
	tm_ready_fn ready;    /* NULL: ready once applied */
	bool replace;         /* immutable: deleted and created again when it changes */
	bool pods;            /* owns pods (through spec.selector or its Jobs): they explain a
			       * wait, and it is deleted in the foreground */
	bool cluster;         /* lives outside namespaces */
	const char *const *pod_template; /* the key path to its pod template, or NULL */
};

/* The row for apiVersion+kind (a catch-all row for kinds not in the table). */
const struct tm_kind_rule *tm_kind_rule(const char *api_version, const char *kind);
/* The same by API group ("" core), as discovery names a resource. */
const struct tm_kind_rule *tm_kind_rule_of_group(const char *group, const char *kind);


/* One object of a run. */
struct tm_item {
	json_t *obj;              /* owned copy: namespace filled, spec hash for replaced kinds */
	const char *kind, *name, *ns; /* borrowed from obj; ns NULL when cluster-scoped */
	char subject[400];        /* "Deployment airflow/scheduler" */
	enum tm_phase phase;
	const struct tm_kind_rule *rule;
	struct tm_kube_rsc rsc;
	bool resolved;            /* rsc is valid */
	bool deferred;            /* its API comes from a CRD of this run */
	bool no_wait;             /* ready once applied (or a PVC we must not wait on) */
	json_t *live;             /* latest server state (owned), or NULL */
	bool gone;                /* deleted while awaited; live holds its last state */
	bool ready;
	bool would_replace;       /* dry run: a changed immutable object, not sent */
	char shown[TM_REASON_MAX + 200]; /* last progress text reported */
};

void tm_item_release(struct tm_item *it);

/* Waits until every item of items (those not already ready) is ready, by watching
 * their collections and, for pod-owning kinds, their namespaces' pods. Returns 0,
 * TM_ETIMEOUT (naming what was still waited for and why), TM_ERROR for an object
 * that failed (with its cause from its pods), TM_EINTERRUPTED. */
int tm_apply_wait(struct tm_kube *k, struct tm_item **items, size_t n, int64_t deadline_ms, int64_t timeout_ms,
		  const struct tm_apply_opts *o, struct tm_err *err);

/* One run of apply or diff: the objects, planned. */
struct tm_run {
	struct tm_kube *k;
	const struct tm_apply_opts *o;
	struct tm_item *items;
	size_t n;
	json_t *storage_classes; /* name -> volumeBindingMode, default under "" */
	bool classes_known;
	json_t *dropped;         /* "Kind field" -> true: dropped fields said once */
};
void tm_run_release(struct tm_run *r);
/* Copies the objects into r->items, resolves their kinds through discovery (kinds a
 * CRD of the run defines are deferred), fills namespaces and subjects. TM_EINVALID
 * naming the kinds the cluster does not serve; nothing is applied then. */
int tm_apply_plan(struct tm_run *r, json_t *objects, struct tm_err *err);
/* The namespaces the items name that do not exist now: a new object, ns -> true. */
int tm_apply_missing_namespaces(struct tm_run *r, json_t **out, struct tm_err *err);
/* Resolves a deferred item once its CRD is served (asking again until deadline),
 * then places it. */
int tm_apply_resolve_deferred(struct tm_run *r, struct tm_item *it, int64_t deadline, struct tm_err *err);

/* After an apply: the fields of it's spec that back (the server's answer) lacks are
 * dropped by the server: said once per kind and field, and removed from it->obj
 * (dropped.c). */
void tm_apply_dropped(struct tm_run *r, struct tm_item *it, const json_t *back);

/* Reports one event through o->report. */
void tm_apply_report(const struct tm_apply_opts *o, enum tm_level lvl, const char *kind, const char *subject,
		     bool status, const char *fmt, ...) TM_PRINTF(6, 7);

#endif
