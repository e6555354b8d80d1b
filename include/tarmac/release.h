/* release: numbered revision records in the cluster, the lock (a Lease that expires by
 * itself), history, rollback selection, and the pipelines of up, install, upgrade,
 * rollback and uninstall, which hand the objects to apply. Reports through a
 * callback; never prints. Record format and recovery rules: docs/releases.md. */
#ifndef TARMAC_RELEASE_H
#define TARMAC_RELEASE_H

#include <jansson.h>
#include <signal.h>

#include "tarmac/apply.h"
#include "tarmac/kube.h"
#include "tarmac/util.h"

enum tm_release_status {
	TM_REL_PENDING,     /* being applied, or its run died (recovered to failed) */
	TM_REL_DEPLOYED,    /* what the cluster runs; exactly one after a finished run */
	TM_REL_SUPERSEDED,  /* replaced by a newer deployed revision */
	TM_REL_FAILED,      /* applying or waiting failed, or the run was interrupted */
	TM_REL_ROLLED_BACK, /* was deployed until 'tarmac rollback' replaced it */
	TM_REL_UNINSTALLED, /* the last deployed revision of an uninstalled release */
	TM_REL_STATUS_COUNT
};
/* "pending", "deployed", ...; NULL outside the table. */
const char *tm_release_status_name(enum tm_release_status s);

/* A revision as history shows it (metadata of its head Secret). */
struct tm_revision {
	int number;
	enum tm_release_status status;
	int parts;
	char description[512];
	char error[1024];          /* why it failed; "" */
	char airflow_version[64];  /* the image tag it runs; "" when unknown */
	char dag_commit[48];       /* the DAG repository's commit it runs; "" without one */
	char schema_version[64];   /* the Airflow version whose migrations the DB has after it; "" */
	char tarmac_version[32];
	char env[32];
	char digest[72];           /* "sha256:..." of the applied objects: equal means nothing changed */
	char record_sha256[72];    /* of the gzip'd record, checked on read */
	char created[40], updated[40]; /* RFC 3339 */
};

/* ------------------------------------------------------------------ records
 * Each revision is kept in the release's namespace (src/release/store.c, record.c). */
/* The release's revisions, oldest first (metadata only; one list call). */
int tm_release_list(struct tm_revision **out, size_t *n, struct tm_kube *k, const char *release, const char *ns,
		    struct tm_err *err);
/* A revision's record: every part fetched at once, checked against its sha256. */
int tm_release_read(json_t **out, struct tm_kube *k, const char *release, const char *ns,
		    const struct tm_revision *rev, struct tm_err *err);
/* ------------------------------------------------------------------ the lock
 * A coordination.k8s.io/v1 Lease tarmac.lock.<release> in the release's namespace
 * (src/release/lease.c). Its holder renews it every ttl/3 from a thread with its own
 * connection; a holder that stops renewing (killed, cut off) loses it ttl after its
 * last renewal. */
struct tm_lock;
struct tm_lock_opts {
	int64_t ttl_ms;               /* lease duration (60 s) */
	bool wait;                    /* wait for a held lock instead of failing */
	int64_t wait_ms;              /* give up waiting after this; 0: no limit */
	const char *command;          /* "up", shown to whoever finds the lock held */
	const struct tm_kube_config *cfg; /* the renewal thread opens its own client from it */
	volatile sig_atomic_t *lost;  /* raised (set to 1) when the lock is lost */
	tm_report_fn report;
	void *report_ctx;
};
/* ------------------------------------------------------------------ pipelines */
struct tm_release_opts {
	const char *name;            /* release name */
	const char *ns;              /* its namespace: records, lock and inventory live there */
	const char *env;             /* for the record */
	const char *command;         /* "up", "install", ...: the lock holder and descriptions */
	const char *tarmac_version;
	const char *dag_commit;      /* the DAGs' commit (pinned or seen at deploy); NULL: no DAG repository */
	/* the DAGs' change for the description ("3 files changed"), or NULL; out "" says nothing */
	void (*dag_note)(void *ctx, const char *from, const char *to, char *out, size_t n);
	void *dag_note_ctx;
	int history_max;             /* revisions kept (10); 0: all */
	bool dry_run;                /* server dry run; nothing recorded, no lock */
	bool atomic;                 /* roll back to the last deployed revision on failure */
	bool take_ownership;         /* adopt existing objects tarmac did not make */
	bool allow_schema_downgrade; /* go to an Airflow older than the DB schema (rollback, deploy) */
	bool purge;                  /* uninstall: PVCs, kept Secrets, Namespaces and history too */
	struct tm_lock_opts lock;
	struct tm_apply_opts apply;  /* namespace, waits, timeouts, report */
	tm_report_fn report;
	void *report_ctx;
};

struct tm_release_result {
	int revision;                /* the revision this run wrote (0: none) */
	bool unchanged;              /* up: the deployed revision already has these objects */
	int rolled_back_to;          /* atomic: the revision restored after a failure (0: none) */
	int rollback_revision;       /* ... as this new revision */
	bool installed;              /* there was no release before */
	struct tm_apply_result apply;
	struct tm_prune_result prune;
};

enum tm_release_mode { TM_RELEASE_UP, TM_RELEASE_INSTALL, TM_RELEASE_UPGRADE };

/* install, upgrade or up with objects (owned by the caller; labeled as members of the
 * release's inventory in place) and the effective values (borrowed). Errors: the
 * apply or wait failure, wrapped with what the rollback did ("upgrade to revision 3
 * failed ...; rolled back to revision 2 as revision 4"); TM_ELOCKED; TM_ECONFLICT
 * (install over a release, objects tarmac does not own); TM_ENOTFOUND (upgrade without
 * a release). */
int tm_release_deploy(struct tm_release_result *out, struct tm_kube *k, enum tm_release_mode mode, json_t *objects,
		      const json_t *values, const struct tm_release_opts *o, struct tm_err *err);
/* Applies revision target's objects (0: as tm_release_rollback_plan chooses) as a new
 * revision described "rollback to N". Refuses (TM_EINVALID) a target whose Airflow is
 * older than the DB schema unless allow_schema_downgrade. */
int tm_release_rollback(struct tm_release_result *out, struct tm_kube *k, int target, const struct tm_release_opts *o,
			struct tm_err *err);
/* Deletes the release's objects in reverse phase order; PVCs, kept Secrets and the
 * Namespace stay unless purge; the last revision is marked uninstalled (purge: every
 * record, the inventory and the lock go too). */
int tm_release_uninstall(struct tm_release_result *out, struct tm_kube *k, const struct tm_release_opts *o,
			 struct tm_err *err);
/* ------------------------------------------------------------------ apply and diff
 * What 'tarmac apply' and 'tarmac diff' know of a release in their namespace. */
/* Gives objects (in place) the labels up gives them: members of release name's
 * inventory. The release pipelines use it too, so diff compares what up applies. */
int tm_release_decorate(json_t *objects, const char *name, const char *ns, struct tm_err *err);
/* Whether release name is installed in ns: *out receives its newest revision's number,
 * 0 when it has none or was uninstalled. */
int tm_release_installed(int *out, struct tm_kube *k, const char *name, const char *ns, struct tm_err *err);
/* How many of objects (borrowed) exist live as members of release name (its part-of
 * label); the first one's "Kind ns/name" into first. */
int tm_release_members(size_t *out, char *first, size_t n, struct tm_kube *k, const char *name, const char *ns,
		       const json_t *objects, struct tm_err *err);
/* The release now: revision, status, Airflow version, each workload's readiness
 * (components: [{kind, name, component, ready, reason}]), the last error and who holds
 * the lock. TM_ENOTFOUND when there is no release. */
int tm_release_status(json_t **out, struct tm_kube *k, const char *release, const char *ns, struct tm_err *err);

#endif
