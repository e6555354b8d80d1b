/* apply: one kind table (apply phase, readiness rule, prune order), the plan that
 * sorts objects into phases, server-side apply of each phase in parallel, and
 * watch-based waits with deadlines. Reports through a callback; never prints. */
#ifndef TARMAC_APPLY_H
#define TARMAC_APPLY_H

#include <jansson.h>
#include <signal.h>

#include "tarmac/kube.h"
#include "tarmac/util.h"

/* Phases in apply order; pruning walks them backwards. */
enum tm_phase {
	TM_PHASE_CLUSTER,   /* Namespaces and other cluster-scoped objects */
	TM_PHASE_CRDS,      /* CustomResourceDefinitions: wait Established */
	TM_PHASE_RBAC,      /* ServiceAccounts, Roles, bindings, quotas, limit ranges */
	TM_PHASE_CONFIG,    /* Secrets and ConfigMaps */
	TM_PHASE_STORAGE,   /* PVCs: wait Bound unless the class binds on first consumer */
	TM_PHASE_SERVICES,  /* Services */
	TM_PHASE_DATABASE,  /* the metadata database: wait ready */
	TM_PHASE_MIDDLEWARE, /* PgBouncer, Redis: wait ready */
	TM_PHASE_MIGRATE,   /* Jobs (the DB migration): replaced, wait Complete */
	TM_PHASE_WORKLOADS, /* Airflow components and other workloads: wait ready */
	TM_PHASE_POLICY,    /* HPAs, PDBs, monitoring, network policies, the rest */
	TM_PHASE_COUNT
};

/* "cluster", "crds", ...; NULL outside the table. */
const char *tm_phase_name(enum tm_phase p);
/* The phase named s, or -1. */
int tm_phase_find(const char *s);

/* An object's phase: the annotation tarmac.io/phase when it names one, else its
 * kind's row of the table. */
#define TM_PHASE_ANNOTATION "tarmac.io/phase"
enum tm_phase tm_apply_phase_of(const json_t *obj);

struct tm_apply_opts {
	const char *namespace;  /* for namespaced objects that name none */
	bool dry_run;           /* dryRun=All: nothing persists, nothing is awaited */
	bool force_conflicts;   /* take ownership of fields other managers own */
	bool wait;              /* wait for readiness phase by phase */
	int64_t timeout_ms;     /* the whole run; 0: none */
	int64_t phase_timeout_ms[TM_PHASE_COUNT]; /* 0: 5 minutes */
	tm_report_fn report;    /* progress; may be NULL */
	void *report_ctx;
};

/* What happened, for the summary and for releases. */
struct tm_apply_result {
	unsigned objects;       /* in the input */
	unsigned created;       /* new on the server (201) */
	unsigned applied;       /* existing, applied (200) */
	unsigned replaced;      /* Jobs deleted and created again */
	unsigned skipped;       /* dry run: namespace or API not there yet */
	unsigned waited;        /* objects awaited to readiness */
	int failed_phase;       /* -1 when none failed */
	int64_t elapsed_ms;
	int64_t phase_ms[TM_PHASE_COUNT];
};

/* Applies objects (a JSON array, borrowed; not modified) phase by phase: server-side
 * apply of every object of a phase at once, then (opts->wait) a watch until each is
 * ready, then the next phase. Kinds the server does not serve fail before anything is
 * applied, unless a CRD among the objects defines them. Errors: the failing object
 * first ("apply Deployment 'airflow/scheduler': ..." or "wait for Deployment
 * 'airflow/scheduler': ProgressDeadlineExceeded ... (pod x: ImagePullBackOff ...)"),
 * TM_ETIMEOUT when a deadline passed, TM_EINTERRUPTED (saying where it stopped). */
int tm_apply(struct tm_apply_result *out, struct tm_kube *k, json_t *objects, const struct tm_apply_opts *o,
	     struct tm_err *err);

/* 'tarmac diff': one entry per object. */
enum tm_diff_state { TM_DIFF_SAME, TM_DIFF_CREATE, TM_DIFF_CHANGE, TM_DIFF_UNCHECKED };
struct tm_diff_summary {
	unsigned same, create, change, unchecked;
};
/* Server dry-run of every object against its live version and a unified diff of each
 * that would change, appended to out (colored with color). Objects whose namespace or
 * API does not exist yet are shown as new without a server check (unchecked).
 * Returns 0 with *sum filled, or a TM_E* code. */
int tm_apply_diff(struct tm_diff_summary *sum, struct tm_buf *out, struct tm_kube *k, json_t *objects,
		  const struct tm_apply_opts *o, bool color, struct tm_err *err);

#endif
