/* apply: one kind table (apply phase, readiness rule, prune order), the plan that
 * sorts objects into phases, server-side apply of each phase in parallel, and
 * watch-based waits with deadlines. Reports through a callback; never prints. */
#ifndef TARMAC_APPLY_H
#define TARMAC_APPLY_H

#include <jansson.h>
#include <signal.h>

#include "tarmac/kube.h"
#include "tarmac/util.h"
#include "tarmac/labels.h"

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

/* An object's phase: the annotation TM_PHASE_ANNOTATION when it names one, else its
 * kind's row of the table. */
enum tm_phase tm_apply_phase_of(const json_t *obj);

/* Facts from the kind table (src/apply/kinds.c), by apiVersion (group-aware) and kind;
 * a kind outside the table is namespaced, owns no pods and has no pod template. */
bool tm_kind_cluster_scoped(const json_t *obj);
bool tm_kind_owns_pods(const char *api_version, const char *kind);
/* The pod template of a workload (spec.template, a CronJob's inside its jobTemplate),
 * borrowed; NULL for other kinds or when it is missing. */
json_t *tm_kind_pod_template(const json_t *obj);
/* A core v1 Secret. */
bool tm_kind_is_secret(const json_t *obj);

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

/* ------------------------------------------------------------------ inventory
 * The objects of a release form an ApplySet (KEP-3659, kubectl's format): a parent
 * Secret carries the set's id, the tool that owns it and the group-kinds and
 * namespaces its members live in; every member carries the part-of label. Pruning
 * lists members by that label, so an object tarmac did not make is never touched. */
#define TM_APPLYSET_PART_OF "applyset.kubernetes.io/part-of"
#define TM_APPLYSET_ID "applyset.kubernetes.io/id"
#define TM_APPLYSET_TOOLING "applyset.kubernetes.io/tooling"
#define TM_APPLYSET_GKS "applyset.kubernetes.io/contains-group-kinds"
#define TM_APPLYSET_NAMESPACES "applyset.kubernetes.io/additional-namespaces"
/* "keep" in TM_POLICY_ANNOTATION: pruning and uninstall leave the object unless purging
 * (tarmac's generated Secrets carry it; PVCs and Namespaces are always treated so). */

struct tm_applyset {
	char name[254]; /* the parent Secret */
	char ns[64];
	char id[96];    /* "applyset-<base64url(sha256(name.ns.Secret.))>-v1" */
};

/* Fills s for the parent Secret ns/name, computing the id as kubectl does. */
void tm_applyset_init(struct tm_applyset *s, const char *name, const char *ns);
/* Adds the part-of label to every object of objects (changed in place). */
int tm_applyset_label(const struct tm_applyset *s, json_t *objects, struct tm_err *err);
/* Adds the group-kinds ("Deployment.apps", "ConfigMap") and the namespaces other than
 * the parent's of objects to the arrays gks and nss, kept sorted and unique. */
int tm_applyset_collect(json_t *gks, json_t *nss, const json_t *objects, const struct tm_applyset *s,
			struct tm_err *err);
/* Adds the strings of more_gks and more_nss (either may be NULL) to gks and nss, kept
 * sorted and unique. */
int tm_applyset_merge(json_t *gks, json_t *nss, const json_t *more_gks, const json_t *more_nss, struct tm_err *err);
/* The parent's group-kinds and additional namespaces (new arrays; empty when there
 * is no parent, and *exists false). TM_ECONFLICT when another tool owns the set. */
int tm_applyset_read(json_t **gks, json_t **nss, bool *exists, const struct tm_applyset *s, struct tm_kube *k,
		     struct tm_err *err);
/* Creates or updates the parent with exactly these group-kinds and namespaces.
 * tooling: "tarmac/0.1.0". */
int tm_applyset_write(const struct tm_applyset *s, struct tm_kube *k, const json_t *gks, const json_t *nss,
		      const char *tooling, struct tm_err *err);
/* Deletes the parent (uninstall --purge); gone already is fine. */
int tm_applyset_delete(const struct tm_applyset *s, struct tm_kube *k, struct tm_err *err);

struct tm_prune_opts {
	const char *namespace;  /* for objects of keep that name none */
	bool purge;             /* delete what is otherwise kept (PVCs, Namespaces, policy keep) */
	const char *purge_pvcs; /* with purge: a label selector for PVCs outside the set (StatefulSet
				 * claims: "app.kubernetes.io/instance=airflow"), deleted too */
	bool dry_run;           /* say what would go; delete nothing */
	bool wait;              /* wait until a phase's objects are gone before the next */
	int64_t timeout_ms;     /* for those waits; 0: 5 minutes */
	json_t *kept_gks;       /* when not NULL: the group-kinds of members kept are added (sorted) */
	json_t *kept_nss;       /* ... and their namespaces other than the parent's */
	tm_report_fn report;
	void *report_ctx;
};
struct tm_prune_result {
	unsigned deleted;       /* (or would be, in a dry run) */
	unsigned kept;          /* left by policy */
	unsigned skipped;       /* members a controller owns (made from a template) */
};

/* Lists the members of s in every group-kind of gks (namespaced kinds in the parent's
 * namespace and in nss) and deletes those keep (an array of objects; NULL: none) does
 * not hold, phase by phase in reverse phase order. Group-kinds the server no longer
 * serves are skipped. Errors: the first failed deletion ("prune Deployment
 * 'airflow/x': ..."), TM_ETIMEOUT, TM_EINTERRUPTED. */
int tm_apply_prune(struct tm_prune_result *out, struct tm_kube *k, const struct tm_applyset *s, const json_t *gks,
		   const json_t *nss, const json_t *keep, const struct tm_prune_opts *o, struct tm_err *err);

/* ------------------------------------------------------------------ readiness of live objects */
/* The kind table's verdict on one live object, for 'tarmac status': 1 ready, 0 not
 * yet (reason says why: "1/2 replicas available"), -1 failed (reason says why).
 * Kinds without a rule are ready. reason gets at most n bytes. */
int tm_apply_readiness(const json_t *live, char *reason, size_t n);

#endif
