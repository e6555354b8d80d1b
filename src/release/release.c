/* The release pipelines: install, upgrade and up (lock, recover what a dead run left,
 * record a pending revision, apply, prune, mark deployed; on failure mark failed and
 * roll back) and rollback (uninstall is uninstall.c). Applying is apply's job; this file
 * decides what to apply and records what happened. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "release_private.h"
#include "tarmac/doc.h"

/* ------------------------------------------------------------------ one revision */

/* What run_revision needs besides the context. */
struct step {
	struct tm_revision *rev;    /* filled except number, status and times */
	const json_t *record;       /* the record to write (its revision number is set here) */
	json_t *apply;              /* objects to apply */
	const json_t *keep;         /* objects to keep when pruning (apply plus what is kept as is) */
	enum tm_release_status replaced_as; /* what the deployed revision becomes */
	const char *migrates_to;    /* the Airflow version a completed migration leaves, or NULL */
	/* set by run_revision: where it stopped. Only a failure while applying or pruning
	 * is a failed revision that a rollback may undo */
	enum { STEP_RECORD, STEP_APPLY, STEP_FINISH } failed_at;
};

/* The pending revision: numbered, the inventory widened to name everything old and new
 * (so a run killed after applying still lets the next one find and prune what it made),
 * its record written. */
static int write_pending(struct tm_release_run *c, struct step *s, json_t *gks, json_t *nss, struct tm_release_result *res,
			 struct tm_err *err)
{
	json_t *rec = NULL;
	int rc;

	s->rev->number = tm_release_latest(c) ? tm_release_latest(c)->number + 1 : 1;
	s->rev->status = TM_REL_PENDING;
	tm_release_now_text(s->rev->created);
	snprintf(s->rev->updated, sizeof(s->rev->updated), "%s", s->rev->created);
	snprintf(s->rev->schema_version, sizeof(s->rev->schema_version), "%s",
		 tm_release_schema_now(c) ? tm_release_schema_now(c) : "");
	if ((rc = tm_applyset_collect(gks, nss, s->keep, &c->set, err)) < 0 ||
	    (rc = tm_applyset_write(&c->set, c->k, gks, nss, c->tooling, err)) < 0)
		return rc;
	if (!(rec = json_deep_copy(s->record)))
		return tm_err_set(err, TM_ERROR, "out of memory");
	json_object_set_new(rec, "revision", json_integer(s->rev->number));
	json_object_set_new(rec, "description", json_string(s->rev->description));
	rc = tm_release_write(c->k, c->o->name, c->o->ns, s->rev, rec, err);
	json_decref(rec);
	if (rc == 0)
		res->revision = s->rev->number;
	return rc;
}

/* Applies the revision's objects, then prunes what it no longer has (what pruning kept
 * goes to po's lists). A migration that ran moves the revision's schema version. */
static int apply_and_prune(struct tm_release_run *c, struct step *s, json_t *gks, json_t *nss, struct tm_prune_opts *po,
			   struct tm_release_result *res, struct tm_err *err)
{
	int rc = tm_apply(&res->apply, c->k, s->apply, &c->o->apply, err);

	if (s->migrates_to && (rc == 0 || res->apply.failed_phase > TM_PHASE_MIGRATE))
		snprintf(s->rev->schema_version, sizeof(s->rev->schema_version), "%s", s->migrates_to);
	if (rc < 0)
		return rc;
	po->namespace = c->o->ns;
	po->wait = c->o->apply.wait;
	po->timeout_ms = c->o->apply.timeout_ms;
	po->report = c->o->apply.report;
	po->report_ctx = c->o->apply.report_ctx;
	if (!(po->kept_gks = json_array()) || !(po->kept_nss = json_array()))
		return tm_err_set(err, TM_ERROR, "out of memory");
	if ((rc = tm_apply_prune(&res->prune, c->k, &c->set, gks, nss, s->keep, po, err)) < 0)
		tm_err_wrap(err, "prune what revision %d no longer has", s->rev->number);
	return rc;
}

/* The new revision deployed first, then the old one (prev_number) replaced: a kill in
 * between leaves two deployed, which the next run's recovery settles; never none. Then
 * the inventory's exact set: the revision's objects and what pruning kept (a kept member
 * is still a member, for uninstall --purge); then the history trimmed. */
static int mark_deployed(struct tm_release_run *c, struct step *s, int prev_number, json_t *gks, json_t *nss,
			 const struct tm_prune_opts *po, struct tm_err *err)
{
	struct tm_revision *prev;
	int rc;

	if (tm_lock_lost(c->lock))
		return tm_err_set(err, TM_ELOCKED, "the lock was lost before revision %d could be marked deployed",
				  s->rev->number);
	if ((rc = tm_release_set_status(c, s->rev, TM_REL_DEPLOYED, "", err)) < 0)
		return rc;
	if (prev_number && (prev = tm_release_find_revision(c, prev_number)) && prev->number != s->rev->number &&
	    (rc = tm_release_set_status(c, prev, s->replaced_as, NULL, err)) < 0)
		return rc;
	json_array_clear(gks);
	json_array_clear(nss);
	if ((rc = tm_applyset_collect(gks, nss, s->keep, &c->set, err)) < 0 ||
	    (rc = tm_applyset_merge(gks, nss, po->kept_gks, po->kept_nss, err)) < 0 ||
	    (rc = tm_applyset_write(&c->set, c->k, gks, nss, c->tooling, err)) < 0)
		return rc;
	if ((rc = tm_release_load_revisions(c, err)) < 0)
		return rc;
	return tm_release_prune_history(c, err);
}

/* Marks the revision failed with err's text, on a client that still runs when the
 * command was interrupted; a failure to do so is only reported. */
static void mark_failed(struct tm_release_run *c, struct step *s, struct tm_err *err)
{
	struct tm_kube_opts saved;
	char why[sizeof(s->rev->error)];
	struct tm_err e;

	if (tm_lock_lost(c->lock))
		return; /* someone else may be writing: leave the records to them */
	tm_err_init(&e);
	/* the error text is kept before err is used again */
	snprintf(why, sizeof(why), "%s", tm_err_msg(err));
	tm_release_finishing(c, &saved);
	if (tm_release_set_status(c, s->rev, TM_REL_FAILED, why, &e) < 0)
		tm_release_report(c->o, TM_WARN, "revision", "could not mark revision %d failed: %s", s->rev->number,
				  tm_err_msg(&e));
	tm_release_load_revisions(c, &e);
	tm_release_finished(c, &saved);
}

/* Writes the pending revision, applies, prunes, and marks it deployed (the one it
 * replaces superseded or rolled-back) or failed. On failure err holds the cause and
 * s->failed_at where: STEP_RECORD (nothing applied, no revision written unless
 * res->revision says so), STEP_APPLY (the revision is marked failed unless the lock
 * was lost), STEP_FINISH (applied; marking or tidying failed: the next run's recovery
 * settles the statuses). */
static int run_revision(struct tm_release_run *c, struct step *s, struct tm_release_result *res, struct tm_err *err)
{
	struct tm_revision *prev = tm_release_newest(c, TM_REL_DEPLOYED);
	int prev_number = prev ? prev->number : 0;
	json_t *gks = NULL, *nss = NULL;
	struct tm_prune_opts po = { 0 };
	bool exists;
	int rc;

	s->failed_at = STEP_RECORD;
	if ((rc = tm_applyset_read(&gks, &nss, &exists, &c->set, c->k, err)) < 0 ||
	    (rc = write_pending(c, s, gks, nss, res, err)) < 0)
		goto out;
	s->failed_at = STEP_APPLY;
	if ((rc = tm_release_load_revisions(c, err)) < 0)
		goto out;
	tm_release_report(c->o, TM_INFO, "revision", "revision %d: %s (%d record part%s)", s->rev->number, s->rev->description,
		   s->rev->parts, s->rev->parts == 1 ? "" : "s");
	if ((rc = apply_and_prune(c, s, gks, nss, &po, res, err)) < 0) {
		mark_failed(c, s, err);
		goto out;
	}
	s->failed_at = STEP_FINISH;
	rc = mark_deployed(c, s, prev_number, gks, nss, &po, err);
out:
	json_decref(gks);
	json_decref(nss);
	json_decref(po.kept_gks);
	json_decref(po.kept_nss);
	return rc;
}

/* Rolls back to target as a new revision. */
static int rollback_to(struct tm_release_run *c, const struct tm_revision *target_in, enum tm_release_status replaced_as,
		       const char *description, struct tm_release_result *res, struct tm_err *err)
{
	/* a copy: target_in points into c->revs, which run_revision reloads */
	struct tm_revision target_copy = *target_in, *target = &target_copy;
	struct tm_revision rev;
	json_t *record = NULL, *apply = NULL;
	struct step s;
	int rc;

	if ((rc = tm_release_read(&record, c->k, c->o->name, c->o->ns, target, err)) < 0 ||
	    (rc = tm_release_restore_objects(c, record, &apply, err)) < 0)
		goto out;
	memset(&rev, 0, sizeof(rev));
	snprintf(rev.description, sizeof(rev.description), "%s", description);
	memcpy(rev.airflow_version, target->airflow_version, sizeof(rev.airflow_version));
	memcpy(rev.dag_commit, target->dag_commit, sizeof(rev.dag_commit));
	snprintf(rev.tarmac_version, sizeof(rev.tarmac_version), "%s", c->o->tarmac_version);
	memcpy(rev.env, target->env, sizeof(rev.env));
	memcpy(rev.digest, target->digest, sizeof(rev.digest));
	s = (struct step){ .rev = &rev, .record = record, .apply = apply, .keep = json_object_get(record, "objects"),
			   .replaced_as = replaced_as,
			   .migrates_to = c->o->allow_schema_downgrade ? target->airflow_version : NULL };
	rc = run_revision(c, &s, res, err);
out:
	json_decref(record);
	json_decref(apply);
	return rc;
}

/* The one guard against an Airflow older than the DB schema, for rollback and deploy:
 * who names the version ("revision 3", "the values") and how to go again ("roll
 * back", "run 'tarmac up' again"). */
static int schema_allows(struct tm_release_run *c, const char *who, const char *version, const char *schema, const char *again,
			 struct tm_err *err)
{
	int cmp = tm_release_version_cmp(version, schema);

	if (cmp == -2 || cmp >= 0)
		return 0;
	if (c->o->allow_schema_downgrade) {
		tm_release_report(c->o, TM_WARN, "schema", "%s runs Airflow %s, older than the DB schema (%s): going ahead "
		       "(--allow-schema-downgrade); the DB must be restored or downgraded to match", who, version, schema);
		return 0;
	}
	return tm_err_set(err, TM_EINVALID, "%s runs Airflow %s, but the DB schema is already migrated for %s: "
			  "an older Airflow cannot run on it. Restore the DB from a backup taken before the upgrade "
			  "(or run 'airflow db downgrade'), then %s with --allow-schema-downgrade",
			  who, version, schema, again);
}

/* Rollback's use of the guard. */
static int schema_allows_rev(struct tm_release_run *c, const struct tm_revision *to, const char *schema, struct tm_err *err)
{
	char who[40];

	snprintf(who, sizeof(who), "revision %d", to->number);
	return schema_allows(c, who, to->airflow_version, schema, "roll back", err);
}

/* ------------------------------------------------------------------ deploy */

/* Deploy's use of the guard: the Airflow the values name. */
static int deploy_schema_allows(struct tm_release_run *c, const char *airflow, struct tm_err *err)
{
	if (!airflow || !tm_release_schema_now(c) ||
	    schema_allows(c, "the rendered stack", airflow, tm_release_schema_now(c), "run it again", err) == 0)
		return 0;
	return tm_err_wrap(err, "nothing was applied (if the values should name a newer Airflow, pass the site's -f "
			   "files)");
}

static int dry_run(struct tm_release_run *c, json_t *objects, struct tm_release_result *res, struct tm_err *err)
{
	json_t *gks = NULL, *nss = NULL;
	struct tm_prune_opts po;
	bool exists;
	int rc;

	if ((rc = tm_apply(&res->apply, c->k, objects, &c->o->apply, err)) < 0)
		return rc;
	if ((rc = tm_applyset_read(&gks, &nss, &exists, &c->set, c->k, err)) < 0)
		return rc;
	if (exists) {
		memset(&po, 0, sizeof(po));
		po.namespace = c->o->ns;
		po.dry_run = true;
		po.report = c->o->apply.report;
		po.report_ctx = c->o->apply.report_ctx;
		rc = tm_apply_prune(&res->prune, c->k, &c->set, gks, nss, objects, &po, err);
	}
	json_decref(gks);
	json_decref(nss);
	return rc;
}

/* The lock and the records live in the release's namespace: on a first install it
 * may not exist yet. It is created from the stack's own Namespace object (as a member
 * of the release) before anything else. */
static int ensure_namespace(struct tm_release_run *c, json_t *objects, struct tm_err *err)
{
	char path[300];
	json_t *live = NULL, *obj = NULL, *one = NULL;
	struct tm_apply_opts ao;
	size_t i;
	int rc;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s", c->o->ns);
	if ((rc = tm_kube_get(c->k, path, &live, err)) != TM_ENOTFOUND) {
		json_decref(live);
		return rc;
	}
	json_array_foreach(objects, i, obj)
		if (tm_release_is_kind(obj, "v1", "Namespace") &&
		    strcmp(json_string_value(tm_doc_get(obj, "metadata", "name", NULL)) ?: "", c->o->ns) == 0)
			break;
	if (i == json_array_size(objects))
		return tm_err_set(err, TM_ENOTFOUND, "namespace '%s' does not exist and the stack does not create it "
				  "(namespace.create is false): create it, or set namespace.create=true", c->o->ns);
	if (!(one = json_pack("[O]", obj)))
		return tm_err_set(err, TM_ERROR, "out of memory");
	ao = c->o->apply;
	ao.wait = false;
	rc = tm_apply(NULL, c->k, one, &ao, err);
	json_decref(one);
	if (rc == 0)
		tm_release_report(c->o, TM_INFO, "namespace", "created namespace '%s' for the release", c->o->ns);
	return rc;
}

/* Whether the deployed objects are still all in the inventory: the parent lists each
 * of their group-kinds, and none lost its part-of label live. If not, *out is set
 * and the run applies them again (as a new revision) instead of "nothing changed". */
static int inventory_short(bool *out, struct tm_release_run *c, const json_t *objects, struct tm_err *err)
{
	json_t *gks = NULL, *nss = NULL, *want = json_array(), *want_ns = json_array(), *mine = json_array(), *gk, *obj;
	char first[400] = "";
	size_t i, lost = 0;
	bool exists;
	int rc;

	*out = false;
	if (!want || !want_ns || !mine) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	/* a Namespace without the label is one tarmac did not make and leaves alone (the
	 * ownership check drops it), not a lost member */
	json_array_foreach(objects, i, obj)
		if (!tm_release_is_kind(obj, "v1", "Namespace"))
			json_array_append(mine, obj);
	objects = mine;
	if ((rc = tm_applyset_read(&gks, &nss, &exists, &c->set, c->k, err)) < 0 ||
	    (rc = tm_applyset_collect(want, want_ns, objects, &c->set, err)) < 0)
		goto out;
	json_array_foreach(want, i, gk) {
		size_t j;
		json_t *have;

		json_array_foreach(gks, j, have)
			if (json_equal(have, gk))
				break;
		if (j == json_array_size(gks)) {
			tm_release_report(c->o, TM_WARN, "inventory", "the inventory Secret '%s' %s %s: applying the release "
				   "again to put it back", c->set.name, exists ? "does not list" : "is gone, so nothing lists",
				   json_string_value(gk));
			*out = true;
			goto out;
		}
	}
	if ((rc = tm_release_lost_members(&lost, first, sizeof(first), c, objects, err)) < 0 || !lost)
		goto out;
	tm_release_report(c->o, TM_WARN, "inventory", "%zu object%s of the release lost %s label " TM_APPLYSET_PART_OF
		   " (%s%s): applying the release again to put it back", lost, lost == 1 ? "" : "s",
		   lost == 1 ? "its" : "their", first, lost > 1 ? ", ..." : "");
	*out = true;
out:
	json_decref(gks);
	json_decref(nss);
	json_decref(want);
	json_decref(want_ns);
	json_decref(mine);
	return rc;
}

/* Whether the latest revision deployed exactly these objects (and nothing needs the
 * inventory repaired): up then has nothing to do. */
static bool unchanged(struct tm_release_run *c, const char *digest, bool repair)
{
	struct tm_revision *last = tm_release_latest(c);

	return !repair && last && last->status == TM_REL_DEPLOYED && strcmp(last->digest, digest) == 0;
}

/* install refuses a release that exists, upgrade one that does not. */
static int mode_allows(struct tm_release_run *c, enum tm_release_mode mode, struct tm_err *err)
{
	const struct tm_release_opts *o = c->o;

	if (mode == TM_RELEASE_INSTALL && tm_release_exists(c))
		return tm_err_set(err, TM_ECONFLICT, "release '%s' exists (revision %d is %s): use 'tarmac upgrade' or "
				  "'tarmac up'", o->name, tm_release_latest(c)->number,
				  tm_release_status_name(tm_release_latest(c)->status));
	if (mode == TM_RELEASE_UPGRADE && !tm_release_exists(c))
		return tm_err_set(err, TM_ENOTFOUND, "release '%s' is not installed in namespace '%s': use 'tarmac "
				  "install' or 'tarmac up'", o->name, o->ns);
	return 0;
}

/* After a revision failed to deploy (rc, err): says what is left, and with --atomic rolls
 * back to the revision deployed before it (prev_number). Returns the run's code. */
static int after_failure(struct tm_release_run *c, const struct step *s, struct tm_release_result *res, int prev_number, int rc,
			 struct tm_err *err)
{
	const struct tm_release_opts *o = c->o;
	int number = s->rev->number;
	struct tm_release_result rb = { 0 };
	struct tm_revision *target;
	struct tm_err first;
	char desc[512];

	if (tm_lock_lost(c->lock))
		return rc; /* drop_lock says so; nothing more may be written */
	if (s->failed_at == STEP_RECORD) {
		tm_err_wrap(err, "nothing was applied");
		return rc;
	}
	if (s->failed_at == STEP_FINISH) {
		tm_err_wrap(err, "revision %d was applied, but its records could not be brought up to date: run "
			    "'tarmac up' again (it settles them)", number);
		return rc;
	}
	if (rc == TM_EINTERRUPTED) {
		tm_err_wrap(err, "revision %d marked failed; nothing was rolled back: run 'tarmac up' again, or "
			    "'tarmac rollback'", number);
		return rc;
	}
	if (!o->atomic || !prev_number) {
		tm_err_wrap(err, "%s failed as revision %d%s", res->installed ? "install" : "upgrade", number,
			    !prev_number ? " (nothing deployed before it to roll back to: fix the cause and run "
					   "'tarmac up' again, or 'tarmac uninstall')"
					 : " and was left as it is (--no-rollback): 'tarmac rollback' restores the "
					   "last deployed revision");
		return rc;
	}
	first = *err;
	if (!(target = tm_release_find_revision(c, prev_number))) {
		tm_err_wrap(err, "upgrade failed as revision %d; revision %d to roll back to is gone", number, prev_number);
		return rc;
	}
	if (schema_allows_rev(c, target, s->rev->schema_version, err) < 0) {
		/* the failure is why the run failed (its exit code); the refusal is why it
		 * stayed failed */
		char refusal[TM_ERR_TEXT];

		snprintf(refusal, sizeof(refusal), "%s", tm_err_msg(err));
		*err = first;
		tm_err_wrap(err, "upgrade failed as revision %d, and it did not roll back (%s)", number, refusal);
		return first.code ? first.code : TM_ERROR;
	}
	tm_release_report(o, TM_WARN, "rollback", "revision %d failed: rolling back to revision %d", number, prev_number);
	snprintf(desc, sizeof(desc), "rollback to %d (upgrade to %d failed)", prev_number, number);
	if ((rc = rollback_to(c, target, TM_REL_SUPERSEDED, desc, &rb, err)) < 0) {
		tm_err_wrap(err, "upgrade failed as revision %d (%s); the rollback to revision %d failed too", number,
			    tm_err_msg(&first), prev_number);
		return rc;
	}
	res->rolled_back_to = prev_number;
	res->rollback_revision = rb.revision;
	*err = first;
	tm_err_wrap(err, "upgrade failed as revision %d; rolled back to revision %d as revision %d", number,
		    res->rolled_back_to, res->rollback_revision);
	return first.code ? first.code : TM_ERROR;
}

/* The new revision's record, applied (run_revision); a failure goes to after_failure. */
static int deploy_revision(struct tm_release_run *c, json_t *objects, const json_t *values, const char *airflow,
			   const char *digest, bool repair, struct tm_release_result *res, struct tm_err *err)
{
	const struct tm_release_opts *o = c->o;
	struct tm_revision rev, *prev = tm_release_newest(c, TM_REL_DEPLOYED);
	/* a number, not the pointer: run_revision reloads the revision list */
	int prev_number = prev ? prev->number : 0;
	json_t *prev_record = NULL, *record = NULL;
	struct tm_record_meta m = { .release = o->name, .namespace = o->ns, .env = o->env,
				    .tarmac_version = o->tarmac_version, .airflow_version = airflow, .dag_commit = o->dag_commit,
				    .schema_version = tm_release_schema_now(c), .digest = digest };
	struct step s = { .rev = &rev, .apply = objects, .keep = objects, .replaced_as = TM_REL_SUPERSEDED,
			  .migrates_to = tm_release_has_migration(objects) && airflow ? airflow : NULL };
	int rc;

	memset(&rev, 0, sizeof(rev));
	res->installed = !tm_release_exists(c);
	if (prev && (rc = tm_release_read(&prev_record, c->k, o->name, o->ns, prev, err)) < 0)
		goto out;
	/* the digest stays that of what was rendered, even if a foreign Namespace is left
	 * out below: the next run renders it again and must find nothing changed */
	if ((rc = tm_release_check_ownership(c, objects, json_object_get(prev_record, "objects"), err)) < 0)
		goto out;
	tm_release_describe(&rev, o, prev, res->installed, repair, airflow, digest);
	m.description = rev.description;
	if ((rc = tm_record_build(&record, objects, values, &m, err)) < 0)
		goto out;
	s.record = record;
	/* a migration never moves the schema backwards, unless the DB was restored
	 * (--allow-schema-downgrade, past the guard before) */
	if (s.migrates_to && tm_release_schema_now(c) && !o->allow_schema_downgrade &&
	    tm_release_version_cmp(s.migrates_to, tm_release_schema_now(c)) < 0)
		s.migrates_to = NULL;
	if ((rc = run_revision(c, &s, res, err)) < 0)
		rc = after_failure(c, &s, res, prev_number, rc, err);
out:
	json_decref(prev_record);
	json_decref(record);
	return rc;
}

int tm_release_deploy(struct tm_release_result *out, struct tm_kube *k, enum tm_release_mode mode, json_t *objects,
		      const json_t *values, const struct tm_release_opts *o, struct tm_err *err)
{
	struct tm_release_result res = { 0 };
	const char *airflow = tm_release_airflow_version(values);
	char digest[72];
	bool repair = false, up = mode == TM_RELEASE_UP;
	struct tm_release_run c;
	int rc;

	tm_release_run_init(&c, k, o);
	if ((rc = tm_kube_discover(k, err)) < 0 || (rc = tm_release_decorate(objects, o->name, o->ns, err)) < 0 ||
	    (rc = tm_record_digest(digest, objects, err)) < 0 || (rc = tm_release_load_revisions(&c, err)) < 0)
		goto out;
	/* nothing changed: no lock, no write. Only when the records are settled: a run in
	 * progress has a pending revision, and a run killed between its two status marks
	 * left two deployed, which only the locked path's recovery repairs */
	if (up && !o->dry_run && tm_release_settled(&c) && unchanged(&c, digest, false)) {
		if ((rc = inventory_short(&repair, &c, objects, err)) < 0)
			goto out;
		if (!repair) {
			res.unchanged = true;
			res.revision = tm_release_latest(&c)->number;
			goto out;
		}
	}
	if (o->dry_run) {
		if ((rc = mode_allows(&c, mode, err)) == 0 && (rc = deploy_schema_allows(&c, airflow, err)) == 0)
			rc = dry_run(&c, objects, &res, err);
		goto out;
	}
	if ((rc = ensure_namespace(&c, objects, err)) < 0 || (rc = tm_release_take_lock(&c, err)) < 0 ||
	    (rc = mode_allows(&c, mode, err)) < 0)
		goto out;
	if (up && unchanged(&c, digest, repair)) {
		res.unchanged = true;
		res.revision = tm_release_latest(&c)->number;
		goto out;
	}
	if ((rc = deploy_schema_allows(&c, airflow, err)) == 0)
		rc = deploy_revision(&c, objects, values, airflow, digest, repair, &res, err);
out:
	rc = tm_release_drop_lock(&c, rc, err);
	if (out)
		*out = res;
	tm_release_run_release(&c);
	return rc;
}

/* ------------------------------------------------------------------ rollback */

int tm_release_rollback(struct tm_release_result *out, struct tm_kube *k, int target, const struct tm_release_opts *o,
			struct tm_err *err)
{
	struct tm_release_result res = { 0 };
	struct tm_rollback_plan plan;
	struct tm_revision *to;
	char desc[512];
	struct tm_release_run c;
	int rc;

	tm_release_run_init(&c, k, o);
	if ((rc = tm_kube_discover(k, err)) < 0 || (rc = tm_release_take_lock(&c, err)) < 0)
		goto out;
	if (!tm_release_exists(&c)) {
		rc = tm_err_set(err, TM_ENOTFOUND, "release '%s' is not installed in namespace '%s'", o->name, o->ns);
		goto out;
	}
	if ((rc = tm_release_rollback_plan(&plan, c.revs, c.nrevs, target, err)) < 0) {
		tm_err_wrap(err, "release '%s'", o->name);
		goto out;
	}
	to = tm_release_find_revision(&c, plan.target);
	if (tm_release_schema_now(&c) && (rc = schema_allows_rev(&c, to, tm_release_schema_now(&c), err)) < 0)
		goto out;
	target = to->number; /* to points into the list rollback_to reloads */
	snprintf(desc, sizeof(desc), "rollback to %d", target);
	if ((rc = rollback_to(&c, to, plan.replaced_as, desc, &res, err)) < 0)
		tm_err_wrap(err, "rollback to revision %d failed%s%.0d", target, res.revision ? " as revision " : "",
			    res.revision);
	else
		res.rolled_back_to = target;
out:
	rc = tm_release_drop_lock(&c, rc, err);
	if (out)
		*out = res;
	tm_release_run_release(&c);
	return rc;
}
