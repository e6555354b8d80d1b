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
/* The status named s, or -1. */
int tm_release_status_find(const char *s);

/* ------------------------------------------------------------------ records
 * One Secret per revision, type tarmac.io/release.v1, named
 * tarmac.release.v1.<release>.v<N>; data.release is gzip'd JSON (the record). A record
 * that does not fit one Secret continues in tarmac.release.v1.<release>.v<N>.part<I>.
 * What changes after writing (status, description, error, times) lives in the head
 * Secret's labels and annotations, so history reads metadata only. */
#define TM_RECORD_TYPE "tarmac.io/release.v1"
#define TM_RECORD_PART_MAX (900u * 1024u) /* bytes of gzip per Secret (the API allows 1 MiB) */
#define TM_RECORD_MAX_PARTS 64
#define TM_RECORD_MAX_JSON (256u << 20)   /* the record's JSON, inflated */
/* Inflation is bounded by ratio as well: records gzip about 10:1 (15:1 with many alike
 * objects), so more than TM_RECORD_MAX_RATIO bytes per byte of gzip, past the first
 * TM_RECORD_RATIO_FLOOR, is a crafted record, not one tarmac wrote. */
#define TM_RECORD_MAX_RATIO 100u
#define TM_RECORD_RATIO_FLOOR (4u << 20)

/* A revision as history shows it (metadata of its head Secret). */
struct tm_revision {
	int number;
	enum tm_release_status status;
	int parts;
	char description[512];
	char error[1024];          /* why it failed; "" */
	char airflow_version[64];  /* the image tag it runs; "" when unknown */
	char schema_version[64];   /* the Airflow version whose migrations the DB has after it; "" */
	char tarmac_version[32];
	char env[32];
	char digest[72];           /* "sha256:..." of the applied objects: equal means nothing changed */
	char record_sha256[72];    /* of the gzip'd record, checked on read */
	char created[40], updated[40]; /* RFC 3339 */
};

/* What a record holds besides the objects and values. */
struct tm_record_meta {
	const char *release, *namespace, *env;
	int revision;
	const char *tarmac_version;
	const char *airflow_version;
	const char *dag_commit;      /* NULL until the DAG repository is pinned */
	const char *schema_version;
	const char *digest;
	const char *description;
};

/* The record of objects and values (both borrowed, copied): Secrets keep their names,
 * type and one sha256 per data key (dataHashes), never data; values lose every string
 * under a key that names a password, token or key. */
int tm_record_build(json_t **out, const json_t *objects, const json_t *values, const struct tm_record_meta *m,
		    struct tm_err *err);
/* "sha256:<hex>" of the objects as applied (keys sorted; a SealedSecret without its
 * ciphertext, which is new on every seal), into out. */
int tm_record_digest(char out[72], const json_t *objects, struct tm_err *err);
/* gzip of the record's JSON. */
int tm_record_encode(struct tm_buf *out, const json_t *record, struct tm_err *err);
/* Inflates (at most TM_RECORD_MAX_JSON, and TM_RECORD_MAX_RATIO times len past
 * TM_RECORD_RATIO_FLOOR) and parses a record within tm_json_check's memory bound,
 * checking its shape (apiVersion, kind, objects array). TM_EINVALID says what is
 * wrong ("corrupt record"), also for a record over those bounds. */
int tm_record_decode(json_t **out, const void *gz, size_t len, struct tm_err *err);
/* New values with secret strings replaced by "(redacted)"; values borrowed. */
json_t *tm_record_redact_values(const json_t *values);

/* ------------------------------------------------------------------ store */
/* The release's revisions, oldest first (metadata only; one list call). */
int tm_release_list(struct tm_revision **out, size_t *n, struct tm_kube *k, const char *release, const char *ns,
		    struct tm_err *err);
/* A revision's record: every part fetched at once, checked against its sha256. */
int tm_release_read(json_t **out, struct tm_kube *k, const char *release, const char *ns,
		    const struct tm_revision *rev, struct tm_err *err);
/* Writes rev (its metadata) and record: the continuation parts first, the head last,
 * so a record is visible only whole. TM_ECONFLICT when the revision exists. */
int tm_release_write(struct tm_kube *k, const char *release, const char *ns, struct tm_revision *rev,
		     const json_t *record, struct tm_err *err);
/* Updates status, description, error and schema version of revision rev->number from rev. */
int tm_release_update(struct tm_kube *k, const char *release, const char *ns, const struct tm_revision *rev,
		      struct tm_err *err);
/* Deletes a revision: the head first (so it leaves history at once), then its parts. */
int tm_release_delete(struct tm_kube *k, const char *release, const char *ns, const struct tm_revision *rev,
		      struct tm_err *err);
/* Deletes continuation parts whose head does not exist (a run killed while writing or
 * deleting); returns how many through *n. */
int tm_release_sweep(unsigned *n, struct tm_kube *k, const char *release, const char *ns, struct tm_err *err);

/* ------------------------------------------------------------------ the lock
 * A coordination.k8s.io/v1 Lease tarmac.lock.<release> in the release's namespace. Its
 * holder renews it every ttl/3 from a thread with its own connection; a holder that
 * stops renewing (killed, cut off) loses it ttl after its last renewal. */
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
/* Takes the release's lock. TM_ELOCKED naming the holder ("host 'ci-7' pid 4242,
 * 'tarmac up' since ..., renewed 3 s ago, free in 57 s unless renewed") when held and
 * not waiting; TM_ETIMEOUT when waiting ran out. */
int tm_lock_acquire(struct tm_lock **out, struct tm_kube *k, const char *release, const char *ns,
		    const struct tm_lock_opts *o, struct tm_err *err);
/* The namespace holding the Lease is being deleted (uninstall --purge): its vanishing
 * ends renewal quietly instead of counting as a lost lock. */
void tm_lock_expect_gone(struct tm_lock *l);
/* Whether renewal failed (someone else holds it now, or it could not be renewed in time). */
bool tm_lock_lost(const struct tm_lock *l);
/* Stops renewing and deletes the Lease through k (only if still ours); frees l.
 * TM_ELOCKED when it was lost meanwhile. NULL is fine. */
int tm_lock_release(struct tm_lock *l, struct tm_kube *k, struct tm_err *err);

/* Pure, for tests and messages: is this Lease free at now (Unix ms)? 1 free (no
 * holder or expired), 0 held. desc receives "host 'h' pid 1 ('tarmac up') ...". */
int tm_lock_state(const json_t *lease, int64_t now_unix_ms, char *desc, size_t n);

/* ------------------------------------------------------------------ pipelines */
struct tm_release_opts {
	const char *name;            /* release name */
	const char *ns;              /* its namespace: records, lock and inventory live there */
	const char *env;             /* for the record */
	const char *command;         /* "up", "install", ...: the lock holder and descriptions */
	const char *tarmac_version;
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

/* The Airflow version the values run: images.airflow.tag when it is a version, else
 * airflowVersion, else defaultAirflowTag. */
const char *tm_release_airflow_version(const json_t *values);
/* Compares dotted versions by their leading numbers ("3.10.1" > "3.9"; suffixes after
 * the numbers are ignored). -2 when either has no leading number. */
int tm_release_version_cmp(const char *a, const char *b);

/* What 'tarmac rollback [N]' does, decided from the revision list alone (oldest first;
 * src/release/target.c). */
struct tm_rollback_plan {
	int target;                          /* the revision whose objects are applied again */
	enum tm_release_status replaced_as;  /* what the deployed revision becomes */
};
/* requested 0: the newest revision older than the newest one that was deployed
 * (deployed, superseded or rolled-back), as Helm does: after a failed revision, the
 * one deployed now. The deployed revision becomes rolled-back when it is the newest
 * (the rollback leaves it), else superseded (a newer failed one replaced it and stays
 * failed). Errors: TM_ENOTFOUND (no such revision, nothing to go to), TM_EINVALID (a
 * failed or pending target, or the deployed one when nothing newer failed). */
int tm_release_rollback_plan(struct tm_rollback_plan *out, const struct tm_revision *revs, size_t n, int requested,
			     struct tm_err *err);
/* Written by a rollback (automatic or not): described "rollback to N...". */
bool tm_release_is_rollback(const struct tm_revision *r);
/* The failure 'status' reports: the newest failed revision when nothing but rollbacks
 * came after it; a later deploy or uninstall settles it. NULL when none. */
const struct tm_revision *tm_release_last_failure(const struct tm_revision *revs, size_t n);

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
/* The release's inventory: the ApplySet whose parent is the Secret tarmac.applyset.<name>. */
void tm_release_applyset(struct tm_applyset *out, const char *name, const char *ns);
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
