/* Private to release/: the context of one run and the helpers its files share
 * (revisions.c: the revision list, recovery, the lock; owned.c: the objects and who
 * owns them; release.c: the pipelines; status.c). */
#ifndef TARMAC_RELEASE_PRIVATE_H
#define TARMAC_RELEASE_PRIVATE_H

#include "tarmac/release.h"

struct ctx {
	struct tm_kube *k;
	const struct tm_release_opts *o;
	struct tm_lock *lock;
	struct tm_revision *revs; /* oldest first; reloaded by rel_load_revs: hold numbers, not pointers */
	size_t nrevs;
	struct tm_applyset set;
	char tooling[64];       /* "tarmac/0.1.0": the inventory's owner */
};

void rel_ctx_init(struct ctx *c, struct tm_kube *k, const struct tm_release_opts *o);
void rel_ctx_release(struct ctx *c);
void rel_report(const struct tm_release_opts *o, enum tm_level lvl, const char *kind, const char *fmt, ...)
	TM_PRINTF(4, 5);
void rel_now_text(char out[40]);
int rel_load_revs(struct ctx *c, struct tm_err *err);
/* The newest revision with status s, or NULL. */
struct tm_revision *rel_newest(struct ctx *c, enum tm_release_status s);
struct tm_revision *rel_find_rev(struct ctx *c, int number);
struct tm_revision *rel_latest(struct ctx *c);
/* A release exists when it has a revision and was not uninstalled since. */
bool rel_installed(struct ctx *c);
/* Records as a finished run leaves them: one deployed revision, none pending. */
bool rel_settled(struct ctx *c);
/* The DB schema now: what the newest revision that knows it says. */
const char *rel_schema_now(struct ctx *c);
int rel_set_status(struct ctx *c, struct tm_revision *r, enum tm_release_status s, const char *error,
		      struct tm_err *err);
/* Under the lock: what a run that died left behind. A pending revision's run is gone
 * (we hold the lock), so it failed; of several deployed revisions (killed between
 * marking the new one and superseding the old) the newest is the one; parts without
 * a head are swept. */
int rel_recover(struct ctx *c, struct tm_err *err);
/* Deletes the oldest revisions beyond history_max; never the deployed one. */
int rel_prune_history(struct ctx *c, struct tm_err *err);
/* What records how a run ended must be written even after Ctrl-C: the stop flag is
 * set aside for those few requests, with short timeouts so a dead API server cannot
 * hold the exit up for long. */
void rel_finishing(struct ctx *c, struct tm_kube_opts *saved);
void rel_finished(struct ctx *c, const struct tm_kube_opts *saved);
int rel_take_lock(struct ctx *c, struct tm_err *err);
/* Releases the lock; a failure to do so only adds to an earlier error. */
int rel_drop_lock(struct ctx *c, int rc, struct tm_err *err);
void rel_object_key(char *out, size_t n, const json_t *obj);
bool rel_is_kind(const json_t *obj, const char *api_version, const char *kind);
void rel_subject_of(char *out, size_t n, const json_t *obj);
/* GETs every object of objs at once into b (released by the caller; b->calls[i] is
 * objs[i]): rc and out per object, TM_ENOTFOUND also for kinds the server does not
 * serve yet (a CRD of this run). */
int rel_get_all(struct tm_kube_batch *b, struct ctx *c, const json_t *objs, struct tm_err *err);
/* Objects this release did not have before must not belong to someone else: a live
 * one without the release's part-of label is refused (or adopted with
 * take_ownership); a Namespace that is not ours is left alone and dropped. */
int rel_check_ownership(struct ctx *c, json_t *objects, const json_t *prev_objects, struct tm_err *err);
/* adopt.c: the managedFields an adopted object gets, a new array in *out (NULL when no
 * other manager has fields to hand over): the entries of whoever made it merged into one
 * Apply entry of tarmac's; the control plane's, subresources' and status stay theirs. */
int rel_adopted_fields(json_t **out, const json_t *live, struct tm_err *err);
/* Hands the fields of live (at path) over to tarmac, so the apply that follows drops
 * what the stack does not set; nothing on a dry run. */
int rel_adopt(struct ctx *c, const json_t *live, const char *path, const char *subject, struct tm_err *err);
/* How many of objects exist live without a part-of label (lost it: a hand edit, or an
 * old 'tarmac apply'); the first one's "Kind ns/name" into first. */
int rel_lost_members(size_t *out, char *first, size_t n, struct ctx *c, const json_t *objects, struct tm_err *err);
bool rel_has_migration(const json_t *objects);
/* The objects of a stored record to apply again. Secrets hold no data in a record,
 * and a SealedSecret's ciphertext is of the values then: both are kept as they are in
 * the cluster (secret values change by rotation, never by rollback); each must still
 * exist. */
int rel_restore_objects(struct ctx *c, const json_t *record, json_t **apply, struct tm_err *err);

#endif
