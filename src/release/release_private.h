/* Private to release/: the context of one run and the helpers its files share
 * (revisions.c: the revision list, recovery, the lock; owned.c: the objects and who
 * owns them; release.c: the pipelines; status.c), then the record format, the record
 * store and the lock the pipelines are built from. */
#ifndef TARMAC_RELEASE_PRIVATE_H
#define TARMAC_RELEASE_PRIVATE_H

#include "tarmac/release.h"

struct tm_release_run {
	struct tm_kube *k;
	const struct tm_release_opts *o;
	struct tm_lock *lock;
	struct tm_revision *revs; /* oldest first; reloaded by tm_release_load_revisions: hold numbers, not pointers */
	size_t nrevs;
	struct tm_applyset set;
	char tooling[64];       /* "tarmac/0.1.0": the inventory's owner */
};

void tm_release_run_init(struct tm_release_run *c, struct tm_kube *k, const struct tm_release_opts *o);
void tm_release_run_release(struct tm_release_run *c);
void tm_release_report(const struct tm_release_opts *o, enum tm_level lvl, const char *kind, const char *fmt, ...)
	TM_PRINTF(4, 5);
void tm_release_now_text(char out[40]);
int tm_release_load_revisions(struct tm_release_run *c, struct tm_err *err);
/* The newest revision with status s, or NULL. */
struct tm_revision *tm_release_newest(struct tm_release_run *c, enum tm_release_status s);
struct tm_revision *tm_release_find_revision(struct tm_release_run *c, int number);
struct tm_revision *tm_release_latest(struct tm_release_run *c);
/* A release exists when it has a revision and was not uninstalled since. */
bool tm_release_exists(struct tm_release_run *c);
/* Records as a finished run leaves them: one deployed revision, none pending. */
bool tm_release_settled(struct tm_release_run *c);
/* The DB schema now: what the newest revision that knows it says. */
const char *tm_release_schema_now(struct tm_release_run *c);
int tm_release_set_status(struct tm_release_run *c, struct tm_revision *r, enum tm_release_status s, const char *error,
		      struct tm_err *err);
/* Under the lock: what a run that died left behind. A pending revision's run is gone
 * (we hold the lock), so it failed; of several deployed revisions (killed between
 * marking the new one and superseding the old) the newest is the one; parts without
 * a head are swept. */
int tm_release_recover(struct tm_release_run *c, struct tm_err *err);
/* Deletes the oldest revisions beyond history_max; never the deployed one. */
int tm_release_prune_history(struct tm_release_run *c, struct tm_err *err);
/* What records how a run ended must be written even after Ctrl-C: the stop flag is
 * set aside for those few requests, with short timeouts so a dead API server cannot
 * hold the exit up for long. */
void tm_release_finishing(struct tm_release_run *c, struct tm_kube_opts *saved);
void tm_release_finished(struct tm_release_run *c, const struct tm_kube_opts *saved);
int tm_release_take_lock(struct tm_release_run *c, struct tm_err *err);
/* Releases the lock; a failure to do so only adds to an earlier error. */
int tm_release_drop_lock(struct tm_release_run *c, int rc, struct tm_err *err);
void tm_release_object_key(char *out, size_t n, const json_t *obj);
bool tm_release_is_kind(const json_t *obj, const char *api_version, const char *kind);
void tm_release_subject_of(char *out, size_t n, const json_t *obj);
/* GETs every object of objs at once into b (released by the caller; b->calls[i] is
 * objs[i]): rc and out per object, TM_ENOTFOUND also for kinds the server does not
 * serve yet (a CRD of this run). */
int tm_release_get_all(struct tm_kube_batch *b, struct tm_release_run *c, const json_t *objs, struct tm_err *err);
/* Objects this release did not have before must not belong to someone else: a live
 * one without the release's part-of label is refused (or adopted with
 * take_ownership); a Namespace that is not ours is left alone and dropped. */
int tm_release_check_ownership(struct tm_release_run *c, json_t *objects, const json_t *prev_objects, struct tm_err *err);
/* adopt.c: the managedFields an adopted object gets, a new array in *out (NULL when no
 * other manager has fields to hand over): the entries of whoever made it merged into one
 * Apply entry of tarmac's; the control plane's, subresources' and status stay theirs. */
int tm_release_adopted_fields(json_t **out, const json_t *live, struct tm_err *err);
/* Hands the fields of live (at path) over to tarmac, so the apply that follows drops
 * what the stack does not set; nothing on a dry run. */
int tm_release_adopt(struct tm_release_run *c, const json_t *live, const char *path, const char *subject, struct tm_err *err);
/* How many of objects exist live without a part-of label (lost it: a hand edit, or an
 * old 'tarmac apply'); the first one's "Kind ns/name" into first. */
int tm_release_lost_members(size_t *out, char *first, size_t n, struct tm_release_run *c, const json_t *objects,
			    struct tm_err *err);
bool tm_release_has_migration(const json_t *objects);
/* The objects of a stored record to apply again. Secrets hold no data in a record,
 * and a SealedSecret's ciphertext is of the values then: both are kept as they are in
 * the cluster (secret values change by rotation, never by rollback); each must still
 * exist. */
int tm_release_restore_objects(struct tm_release_run *c, const json_t *record, json_t **apply, struct tm_err *err);

/* ================================================================== shared inside release/
 * (and with its tests): what the pipelines are built from. */

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
int tm_lock_drop(struct tm_lock *l, struct tm_kube *k, struct tm_err *err);

/* Pure, for tests and messages: is this Lease free at now (Unix ms)? 1 free (no
 * holder or expired), 0 held. desc receives "host 'h' pid 1 ('tarmac up') ...". */
int tm_lock_state(const json_t *lease, int64_t now_unix_ms, char *desc, size_t n);


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


/* The release's inventory: the ApplySet whose parent is the Secret tarmac.applyset.<name>. */
void tm_release_applyset(struct tm_applyset *out, const char *name, const char *ns);

/* The new revision's description and versions (describe.c): installed, an Airflow
 * version change, a DAG change (with o->dag_note's "N files changed"), a repair. */
void tm_release_describe(struct tm_revision *rev, const struct tm_release_opts *o, const struct tm_revision *prev,
			 bool installed, bool repair, const char *airflow, const char *digest);

#endif
