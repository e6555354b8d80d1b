/* The release pipelines: install, upgrade and up (lock, recover what a dead run left,
 * record a pending revision, apply, prune, mark deployed; on failure mark failed and
 * roll back), rollback, uninstall and status. Applying is apply's job; this file
 * decides what to apply and records what happened. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tarmac/doc.h"
#include "tarmac/release.h"

struct ctx {
	struct tm_kube *k;
	const struct tm_release_opts *o;
	struct tm_lock *lock;
	struct tm_revision *revs;
	size_t nrevs;
	struct tm_applyset set;
	char tooling[64];       /* "tarmac/0.1.0": the inventory's owner */
};

static void report(const struct tm_release_opts *o, enum tm_level lvl, const char *kind, const char *fmt, ...)
	TM_PRINTF(4, 5);
static void report(const struct tm_release_opts *o, enum tm_level lvl, const char *kind, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tm_vreportf(o->report, o->report_ctx, lvl, kind, o->name, false, fmt, ap);
	va_end(ap);
}

static void now_text(char out[40])
{
	tm_format_rfc3339(out, tm_wall_ms(), false);
}

/* ------------------------------------------------------------------ versions */

const char *tm_release_airflow_version(const json_t *values)
{
	const char *tag = json_string_value(tm_doc_get(values, "images", "airflow", "tag", NULL));
	const char *declared = json_string_value(json_object_get(values, "airflowVersion"));

	/* a tag that is a version says what runs; a custom tag ("my-build-7") runs what
	 * airflowVersion declares */
	if (tag && *tag >= '0' && *tag <= '9')
		return tag;
	if (declared && *declared)
		return declared;
	return json_string_value(json_object_get(values, "defaultAirflowTag"));
}

int tm_release_version_cmp(const char *a, const char *b)
{
	if (!a || !b || *a < '0' || *a > '9' || *b < '0' || *b > '9')
		return -2;
	for (;;) {
		char *ea, *eb;
		unsigned long x = strtoul(a, &ea, 10), y = strtoul(b, &eb, 10);

		if (x != y)
			return x < y ? -1 : 1;
		a = ea;
		b = eb;
		bool more_a = *a == '.' && a[1] >= '0' && a[1] <= '9', more_b = *b == '.' && b[1] >= '0' && b[1] <= '9';

		if (!more_a && !more_b)
			return 0;
		if (!more_a || !more_b)
			return more_a ? 1 : -1;
		a++;
		b++;
	}
}

/* ------------------------------------------------------------------ revisions */

static int load_revs(struct ctx *c, struct tm_err *err)
{
	free(c->revs);
	c->revs = NULL;
	c->nrevs = 0;
	return tm_release_list(&c->revs, &c->nrevs, c->k, c->o->name, c->o->ns, err);
}

/* The newest revision with status s, or NULL. */
static struct tm_revision *newest(struct ctx *c, enum tm_release_status s)
{
	for (size_t i = c->nrevs; i-- > 0;)
		if (c->revs[i].status == s)
			return &c->revs[i];
	return NULL;
}

static struct tm_revision *find_rev(struct ctx *c, int number)
{
	for (size_t i = 0; i < c->nrevs; i++)
		if (c->revs[i].number == number)
			return &c->revs[i];
	return NULL;
}

static struct tm_revision *latest(struct ctx *c)
{
	return c->nrevs ? &c->revs[c->nrevs - 1] : NULL;
}

/* Records as a finished run leaves them: one deployed revision, none pending. */
static bool settled(struct ctx *c)
{
	size_t deployed = 0;

	for (size_t i = 0; i < c->nrevs; i++) {
		if (c->revs[i].status == TM_REL_PENDING)
			return false;
		deployed += c->revs[i].status == TM_REL_DEPLOYED;
	}
	return deployed == 1;
}

/* The DB schema now: what the newest revision that knows it says. */
static const char *schema_now(struct ctx *c)
{
	for (size_t i = c->nrevs; i-- > 0;)
		if (c->revs[i].schema_version[0])
			return c->revs[i].schema_version;
	return NULL;
}

static int set_status(struct ctx *c, struct tm_revision *r, enum tm_release_status s, const char *error,
		      struct tm_err *err)
{
	r->status = s;
	if (error)
		snprintf(r->error, sizeof(r->error), "%s", error);
	now_text(r->updated);
	return tm_release_update(c->k, c->o->name, c->o->ns, r, err);
}

/* Under the lock: what a run that died left behind. A pending revision's run is gone
 * (we hold the lock), so it failed; of several deployed revisions (killed between
 * marking the new one and superseding the old) the newest is the one; parts without
 * a head are swept. */
static int recover(struct ctx *c, struct tm_err *err)
{
	struct tm_revision *dep = newest(c, TM_REL_DEPLOYED);
	unsigned swept = 0;
	int rc;

	for (size_t i = 0; i < c->nrevs; i++) {
		struct tm_revision *r = &c->revs[i];

		if (r->status == TM_REL_PENDING) {
			report(c->o, TM_WARN, "recover", "revision %d was left pending by a run that stopped (killed or cut "
			       "off): marking it failed", r->number);
			if ((rc = set_status(c, r, TM_REL_FAILED, "interrupted: the run that wrote this revision stopped "
					     "before finishing it", err)) < 0)
				return rc;
		} else if (r->status == TM_REL_DEPLOYED && r != dep) {
			report(c->o, TM_WARN, "recover", "revision %d and %d were both marked deployed: %d is superseded",
			       r->number, dep->number, r->number);
			if ((rc = set_status(c, r, TM_REL_SUPERSEDED, NULL, err)) < 0)
				return rc;
		}
	}
	if ((rc = tm_release_sweep(&swept, c->k, c->o->name, c->o->ns, err)) < 0)
		return rc;
	if (swept)
		report(c->o, TM_WARN, "recover", "deleted %u record part%s a stopped run left without its revision", swept,
		       swept == 1 ? "" : "s");
	return 0;
}

/* Deletes the oldest revisions beyond history_max; never the deployed one. */
static int prune_history(struct ctx *c, struct tm_err *err)
{
	size_t keep = c->o->history_max > 0 ? (size_t)c->o->history_max : 0, left = c->nrevs;
	int rc;

	if (!keep)
		return 0;
	for (size_t i = 0; i < c->nrevs && left > keep; i++) {
		if (c->revs[i].status == TM_REL_DEPLOYED || c->revs[i].status == TM_REL_PENDING)
			continue;
		if ((rc = tm_release_delete(c->k, c->o->name, c->o->ns, &c->revs[i], err)) < 0)
			return rc;
		report(c->o, TM_DEBUG, "history", "revision %d deleted (history kept to %d)", c->revs[i].number,
		       c->o->history_max);
		left--;
	}
	return 0;
}

/* What records how a run ended must be written even after Ctrl-C: the stop flag is
 * set aside for those few requests, with short timeouts so a dead API server cannot
 * hold the exit up for long. */
static void finishing(struct ctx *c, struct tm_kube_opts *saved)
{
	struct tm_kube_opts ko = *tm_kube_get_opts(c->k);

	*saved = ko;
	ko.cancel = NULL;
	ko.max_attempts = 2;
	ko.timeout_ms = 10000;
	tm_kube_set_opts(c->k, &ko);
}

static void finished(struct ctx *c, const struct tm_kube_opts *saved)
{
	tm_kube_set_opts(c->k, saved);
}

static int take_lock(struct ctx *c, struct tm_err *err)
{
	struct tm_lock_opts lo = c->o->lock;
	int rc;

	lo.command = c->o->command;
	if ((rc = tm_lock_acquire(&c->lock, c->k, c->o->name, c->o->ns, &lo, err)) < 0)
		return rc;
	if ((rc = load_revs(c, err)) < 0 || (rc = recover(c, err)) < 0)
		return rc;
	return 0;
}

/* Releases the lock; a failure to do so only adds to an earlier error. */
static int drop_lock(struct ctx *c, int rc, struct tm_err *err)
{
	struct tm_kube_opts saved;
	struct tm_err e;
	bool lost;
	int lrc;

	if (!c->lock)
		return rc;
	tm_err_init(&e);
	lost = tm_lock_lost(c->lock);
	finishing(c, &saved);
	lrc = tm_lock_release(c->lock, c->k, &e);
	finished(c, &saved);
	c->lock = NULL;
	if (lost && rc < 0) {
		/* the lost lock is why the run stopped (it raised the stop flag): say that first */
		char why[TM_ERR_TEXT];

		snprintf(why, sizeof(why), "%s", tm_err_msg(err));
		*err = e;
		tm_err_wrap(err, "stopped (%s)", why);
		return lrc < 0 ? lrc : TM_ELOCKED;
	}
	if (lrc < 0 && rc == 0) {
		*err = e;
		return lrc;
	}
	if (lrc < 0)
		report(c->o, TM_WARN, "lock", "%s", tm_err_msg(&e));
	return rc;
}

/* ------------------------------------------------------------------ objects */

static void object_key(char *out, size_t n, const json_t *obj)
{
	const char *av = json_string_value(json_object_get(obj, "apiVersion"));
	const char *slash = av ? strchr(av, '/') : NULL;

	snprintf(out, n, "%.*s|%s|%s|%s", slash ? (int)(slash - av) : 0, av ? av : "",
		 json_string_value(json_object_get(obj, "kind")),
		 json_string_value(tm_doc_get(obj, "metadata", "namespace", NULL)) ?: "",
		 json_string_value(tm_doc_get(obj, "metadata", "name", NULL)) ?: "");
}

static bool is_kind(const json_t *obj, const char *api_version, const char *kind)
{
	const char *av = json_string_value(json_object_get(obj, "apiVersion"));
	const char *k = json_string_value(json_object_get(obj, "kind"));

	return av && k && strcmp(k, kind) == 0 && (!api_version || strcmp(av, api_version) == 0);
}

static void subject_of(char *out, size_t n, const json_t *obj)
{
	const char *ns = json_string_value(tm_doc_get(obj, "metadata", "namespace", NULL));

	snprintf(out, n, "%s %s%s%s", json_string_value(json_object_get(obj, "kind")), ns ? ns : "", ns ? "/" : "",
		 json_string_value(tm_doc_get(obj, "metadata", "name", NULL)));
}

/* GETs every object at once; calls[i].rc/out per object (TM_ENOTFOUND also for kinds
 * the server does not serve yet). */
static int get_all(struct ctx *c, const json_t *objs, struct tm_kube_call **out, struct tm_err *err)
{
	size_t n = json_array_size(objs), i;
	struct tm_kube_call *calls = calloc(n ? n : 1, sizeof(*calls));
	struct tm_buf *paths = calloc(n ? n : 1, sizeof(*paths));
	json_t *obj;
	int rc = 0;

	if (!calls || !paths) {
		free(calls);
		free(paths);
		return tm_err_set(err, TM_ERROR, "out of memory");
	}
	json_array_foreach(objs, i, obj) {
		struct tm_kube_rsc r;
		struct tm_err e;

		tm_buf_init(&paths[i], "path", 2048);
		tm_err_init(&e);
		if (tm_kube_resolve(c->k, json_string_value(json_object_get(obj, "apiVersion")),
				    json_string_value(json_object_get(obj, "kind")), false, &r, &e) < 0 ||
		    tm_kube_path(&paths[i], &r, json_string_value(tm_doc_get(obj, "metadata", "namespace", NULL)),
				 json_string_value(tm_doc_get(obj, "metadata", "name", NULL)), &e) < 0) {
			/* a kind not served (its CRD comes with this run) or a bad name: apply says so */
			calls[i].req.method = NULL;
			continue;
		}
		calls[i].req = (struct tm_http_request){ .method = "GET", .path = paths[i].data };
		calls[i].want_json = true;
	}
	{
		/* only the resolvable ones go out; the rest answer "not found" */
		size_t m = 0;
		struct tm_kube_call *send = calloc(n ? n : 1, sizeof(*send));
		size_t *idx = calloc(n ? n : 1, sizeof(*idx));

		if (!send || !idx) {
			free(send);
			free(idx);
			rc = tm_err_set(err, TM_ERROR, "out of memory");
			goto out;
		}
		for (i = 0; i < n; i++)
			if (calls[i].req.method) {
				send[m] = calls[i];
				idx[m++] = i;
			}
		rc = m ? tm_kube_do(c->k, send, m, err) : 0;
		for (i = 0; i < n; i++)
			if (!calls[i].req.method)
				calls[i].rc = TM_ENOTFOUND;
		for (i = 0; i < m; i++)
			calls[idx[i]] = send[i];
		free(send);
		free(idx);
	}
out:
	for (i = 0; i < n; i++) {
		calls[i].req.path = NULL;
		tm_buf_release(&paths[i]);
	}
	free(paths);
	if (rc < 0) {
		for (i = 0; i < n; i++)
			tm_kube_call_release(&calls[i]);
		free(calls);
		return rc;
	}
	*out = calls;
	return 0;
}

static void free_calls(struct tm_kube_call *calls, size_t n)
{
	for (size_t i = 0; calls && i < n; i++)
		tm_kube_call_release(&calls[i]);
	free(calls);
}

/* Objects this release did not have before must not belong to someone else: a live
 * one without the release's part-of label is refused (or adopted with
 * take_ownership); a Namespace that is not ours is left alone and dropped. */
static int check_ownership(struct ctx *c, json_t *objects, const json_t *prev_objects, struct tm_err *err)
{
	json_t *prev = json_object(), *fresh = json_array(), *obj;
	struct tm_kube_call *calls = NULL;
	struct tm_buf list = TM_BUF_INIT("objects", 8192);
	size_t i, nfresh, foreign = 0;
	char key[800];
	int rc = 0;

	if (!prev || !fresh) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	json_array_foreach(prev_objects, i, obj) {
		object_key(key, sizeof(key), obj);
		json_object_set_new(prev, key, json_true());
	}
	json_array_foreach(objects, i, obj) {
		object_key(key, sizeof(key), obj);
		if (!json_object_get(prev, key))
			json_array_append(fresh, obj);
	}
	nfresh = json_array_size(fresh);
	if (!nfresh || (rc = get_all(c, fresh, &calls, err)) < 0)
		goto out;
	for (i = 0; i < nfresh; i++) {
		json_t *o = json_array_get(fresh, i);
		const char *part;
		char subject[400];

		if (calls[i].rc == TM_ENOTFOUND)
			continue;
		if (calls[i].rc < 0) {
			rc = calls[i].rc;
			*err = calls[i].err;
			goto out;
		}
		part = json_string_value(tm_doc_get(calls[i].out, "metadata", "labels", TM_APPLYSET_PART_OF, NULL));
		if (part && strcmp(part, c->set.id) == 0)
			continue;
		subject_of(subject, sizeof(subject), o);
		if (is_kind(o, "v1", "Namespace")) {
			report(c->o, TM_WARN, "owner", "%s exists and tarmac did not make it: left as it is", subject);
			for (size_t j = 0; j < json_array_size(objects); j++)
				if (json_array_get(objects, j) == o) {
					json_array_remove(objects, j);
					break;
				}
			continue;
		}
		if (c->o->take_ownership) {
			report(c->o, TM_WARN, "owner", "%s exists without this release's label: taking it over "
			       "(--take-ownership)", subject);
			continue;
		}
		if (foreign++ < 5 && (rc = tm_buf_printf(&list, err, "%s%s", foreign > 1 ? ", " : "", subject)) < 0)
			goto out;
	}
	if (foreign)
		rc = tm_err_set(err, TM_ECONFLICT, "%zu object%s of the release exist%s and tarmac did not make %s: %s%s "
				"(%s%s belongs to %s); delete %s, use another release name or namespace, or adopt %s "
				"with --take-ownership", foreign, foreign == 1 ? "" : "s", foreign == 1 ? "s" : "",
				foreign == 1 ? "it" : "them", tm_buf_cstr(&list), foreign > 5 ? ", ..." : "",
				"no label " TM_APPLYSET_PART_OF "=", c->set.id, "another owner or nobody",
				foreign == 1 ? "it" : "them", foreign == 1 ? "it" : "them");
out:
	free_calls(calls, json_array_size(fresh));
	json_decref(prev);
	json_decref(fresh);
	tm_buf_release(&list);
	return rc;
}

static bool has_migration(const json_t *objects)
{
	size_t i;
	json_t *obj;

	json_array_foreach(objects, i, obj)
		if (is_kind(obj, NULL, "Job") && tm_apply_phase_of(obj) == TM_PHASE_MIGRATE)
			return true;
	return false;
}

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

/* Writes the pending revision, applies, prunes, and marks it deployed (the one it
 * replaces superseded or rolled-back) or failed. On failure err holds the cause and
 * s->failed_at where: STEP_RECORD (nothing applied, no revision written unless
 * res->revision says so), STEP_APPLY (the revision is marked failed unless the lock
 * was lost), STEP_FINISH (applied; marking or tidying failed: the next run's recovery
 * settles the statuses). */
static int run_revision(struct ctx *c, struct step *s, struct tm_release_result *res, struct tm_err *err)
{
	struct tm_revision *prev = newest(c, TM_REL_DEPLOYED);
	int prev_number = prev ? prev->number : 0;
	json_t *gks = NULL, *nss = NULL, *rec = NULL;
	struct tm_prune_opts po = { 0 };
	struct tm_err e;
	bool exists;
	int rc;

	s->failed_at = STEP_RECORD;
	s->rev->number = latest(c) ? latest(c)->number + 1 : 1;
	s->rev->status = TM_REL_PENDING;
	now_text(s->rev->created);
	snprintf(s->rev->updated, sizeof(s->rev->updated), "%s", s->rev->created);
	snprintf(s->rev->schema_version, sizeof(s->rev->schema_version), "%s", schema_now(c) ? schema_now(c) : "");
	/* the inventory first names everything old and new, so a run killed after applying
	 * still lets the next one find (and prune) what it made */
	if ((rc = tm_applyset_read(&gks, &nss, &exists, &c->set, c->k, err)) < 0 ||
	    (rc = tm_applyset_collect(gks, nss, s->keep, &c->set, err)) < 0 ||
	    (rc = tm_applyset_write(&c->set, c->k, gks, nss, c->tooling, err)) < 0)
		goto out;
	if (!(rec = json_deep_copy(s->record))) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	json_object_set_new(rec, "revision", json_integer(s->rev->number));
	json_object_set_new(rec, "description", json_string(s->rev->description));
	s->failed_at = STEP_RECORD;
	if ((rc = tm_release_write(c->k, c->o->name, c->o->ns, s->rev, rec, err)) < 0)
		goto out;
	res->revision = s->rev->number;
	s->failed_at = STEP_APPLY;
	if ((rc = load_revs(c, err)) < 0)
		goto out;
	report(c->o, TM_INFO, "revision", "revision %d: %s (%d record part%s)", s->rev->number, s->rev->description,
	       s->rev->parts, s->rev->parts == 1 ? "" : "s");
	rc = tm_apply(&res->apply, c->k, s->apply, &c->o->apply, err);
	if (rc == 0 && s->migrates_to)
		snprintf(s->rev->schema_version, sizeof(s->rev->schema_version), "%s", s->migrates_to);
	else if (rc < 0 && s->migrates_to && res->apply.failed_phase > TM_PHASE_MIGRATE)
		snprintf(s->rev->schema_version, sizeof(s->rev->schema_version), "%s", s->migrates_to);
	if (rc == 0) {
		memset(&po, 0, sizeof(po));
		po.namespace = c->o->ns;
		po.wait = c->o->apply.wait;
		po.timeout_ms = c->o->apply.timeout_ms;
		po.report = c->o->apply.report;
		po.report_ctx = c->o->apply.report_ctx;
		if (!(po.kept_gks = json_array()) || !(po.kept_nss = json_array()))
			rc = tm_err_set(err, TM_ERROR, "out of memory");
		else if ((rc = tm_apply_prune(&res->prune, c->k, &c->set, gks, nss, s->keep, &po, err)) < 0)
			tm_err_wrap(err, "prune what revision %d no longer has", s->rev->number);
	}
	if (rc < 0)
		goto failed;
	s->failed_at = STEP_FINISH;
	if (tm_lock_lost(c->lock)) {
		rc = tm_err_set(err, TM_ELOCKED, "the lock was lost before revision %d could be marked deployed",
				s->rev->number);
		goto out;
	}
	/* new one deployed first, then the old one replaced: a kill in between leaves two
	 * deployed, which the next run's recovery settles; never none */
	if ((rc = set_status(c, s->rev, TM_REL_DEPLOYED, "", err)) < 0)
		goto out;
	if (prev_number && (prev = find_rev(c, prev_number)) && prev->number != s->rev->number &&
	    (rc = set_status(c, prev, s->replaced_as, NULL, err)) < 0)
		goto out;
	/* the exact set, now that what the revision lacks is gone: its objects and what
	 * pruning kept (a kept member is still a member, for uninstall --purge) */
	json_array_clear(gks);
	json_array_clear(nss);
	if ((rc = tm_applyset_collect(gks, nss, s->keep, &c->set, err)) < 0 ||
	    (rc = tm_applyset_merge(gks, nss, po.kept_gks, po.kept_nss, err)) < 0 ||
	    (rc = tm_applyset_write(&c->set, c->k, gks, nss, c->tooling, err)) < 0)
		goto out;
	if ((rc = load_revs(c, err)) < 0 || (rc = prune_history(c, err)) < 0)
		goto out;
	goto out;
failed:
	if (tm_lock_lost(c->lock))
		goto out; /* someone else may be writing: leave the records to them */
	tm_err_init(&e);
	{
		struct tm_kube_opts saved;
		char why[sizeof(s->rev->error)];

		/* the error text is kept before err is used again */
		snprintf(why, sizeof(why), "%s", tm_err_msg(err));
		finishing(c, &saved);
		if (set_status(c, s->rev, TM_REL_FAILED, why, &e) < 0)
			report(c->o, TM_WARN, "revision", "could not mark revision %d failed: %s", s->rev->number,
			       tm_err_msg(&e));
		load_revs(c, &e);
		finished(c, &saved);
	}
out:
	json_decref(gks);
	json_decref(nss);
	json_decref(po.kept_gks);
	json_decref(po.kept_nss);
	json_decref(rec);
	return rc;
}

/* The objects of a stored record to apply again. Secrets hold no data in a record,
 * and a SealedSecret's ciphertext is of the values then: both are kept as they are in
 * the cluster (secret values change by rotation, never by rollback); each must still
 * exist. */
static int restore_objects(struct ctx *c, const json_t *record, json_t **apply, struct tm_err *err)
{
	json_t *objs = json_object_get(record, "objects"), *out = json_array(), *secrets = json_array(), *obj;
	struct tm_kube_call *calls = NULL;
	size_t i;
	int rc = 0;

	if (!out || !secrets) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	json_array_foreach(objs, i, obj)
		json_array_append(is_kind(obj, "v1", "Secret") || is_kind(obj, NULL, "SealedSecret") ? secrets : out, obj);
	if (json_array_size(secrets) && (rc = get_all(c, secrets, &calls, err)) < 0)
		goto out;
	for (i = 0; i < json_array_size(secrets); i++) {
		char subject[400];

		subject_of(subject, sizeof(subject), json_array_get(secrets, i));
		if (calls[i].rc == TM_ENOTFOUND) {
			rc = tm_err_set(err, TM_ENOTFOUND, "%s of that revision no longer exists, and records never hold "
					"secret data: run 'tarmac up' to create it, then roll back", subject);
			goto out;
		}
		if (calls[i].rc < 0) {
			rc = calls[i].rc;
			*err = calls[i].err;
			goto out;
		}
		report(c->o, TM_DEBUG, "log", "%s kept as it is (secrets change by rotation, not by rollback)", subject);
	}
	*apply = out;
	out = NULL;
out:
	free_calls(calls, json_array_size(secrets));
	json_decref(out);
	json_decref(secrets);
	return rc;
}

/* Rolls back to target as a new revision. */
static int rollback_to(struct ctx *c, const struct tm_revision *target_in, enum tm_release_status replaced_as,
		       const char *description, struct tm_release_result *res, struct tm_err *err)
{
	/* a copy: target_in points into c->revs, which run_revision reloads */
	struct tm_revision target_copy = *target_in, *target = &target_copy;
	struct tm_revision rev;
	json_t *record = NULL, *apply = NULL;
	struct step s;
	int rc;

	if ((rc = tm_release_read(&record, c->k, c->o->name, c->o->ns, target, err)) < 0 ||
	    (rc = restore_objects(c, record, &apply, err)) < 0)
		goto out;
	memset(&rev, 0, sizeof(rev));
	snprintf(rev.description, sizeof(rev.description), "%s", description);
	memcpy(rev.airflow_version, target->airflow_version, sizeof(rev.airflow_version));
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

/* Refuses a target whose Airflow is older than the DB schema. */
static int schema_allows(struct ctx *c, const char *target_version, int target_number, const char *schema,
			 struct tm_err *err)
{
	int cmp = tm_release_version_cmp(target_version, schema);

	if (cmp == -2 || cmp >= 0)
		return 0;
	if (c->o->allow_schema_downgrade) {
		report(c->o, TM_WARN, "schema", "revision %d runs Airflow %s, older than the DB schema (%s): going ahead "
		       "(--allow-schema-downgrade); the DB must be restored or downgraded to match", target_number,
		       target_version, schema);
		return 0;
	}
	return tm_err_set(err, TM_EINVALID, "revision %d runs Airflow %s, but the DB schema is already migrated for %s: "
			  "an older Airflow cannot run on it. Restore the DB from the backup taken before the upgrade "
			  "(or run 'airflow db downgrade'), then roll back with --allow-schema-downgrade",
			  target_number, target_version, schema);
}

/* ------------------------------------------------------------------ deploy */

static void ctx_init(struct ctx *c, struct tm_kube *k, const struct tm_release_opts *o)
{
	char parent[254];

	memset(c, 0, sizeof(*c));
	c->k = k;
	c->o = o;
	snprintf(parent, sizeof(parent), "tarmac.applyset.%s", o->name);
	tm_applyset_init(&c->set, parent, o->ns);
	snprintf(c->tooling, sizeof(c->tooling), "tarmac/%s", o->tarmac_version ? o->tarmac_version : "0");
}

static void ctx_release(struct ctx *c)
{
	free(c->revs);
}

/* A release exists when it has a revision and was not uninstalled since. */
static bool installed(struct ctx *c)
{
	return latest(c) && latest(c)->status != TM_REL_UNINSTALLED;
}

static int dry_run(struct ctx *c, json_t *objects, struct tm_release_result *res, struct tm_err *err)
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
static int ensure_namespace(struct ctx *c, json_t *objects, struct tm_err *err)
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
		if (is_kind(obj, "v1", "Namespace") &&
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
		report(c->o, TM_INFO, "namespace", "created namespace '%s' for the release", c->o->ns);
	return rc;
}

int tm_release_deploy(struct tm_release_result *out, struct tm_kube *k, enum tm_release_mode mode, json_t *objects,
		      const json_t *values, const struct tm_release_opts *o, struct tm_err *err)
{
	struct tm_release_result res = { 0 };
	struct tm_revision rev, *prev, *last;
	json_t *prev_record = NULL, *record = NULL;
	const char *airflow = tm_release_airflow_version(values);
	char digest[72];
	struct ctx c;
	int rc;

	ctx_init(&c, k, o);
	memset(&rev, 0, sizeof(rev));
	if ((rc = tm_kube_discover(k, err)) < 0 || (rc = tm_applyset_label(&c.set, objects, err)) < 0 ||
	    (rc = tm_record_digest(digest, objects, err)) < 0 || (rc = load_revs(&c, err)) < 0)
		goto out;
	/* nothing changed: no lock, no write. Only when the records are settled: a run in
	 * progress has a pending revision, and a run killed between its two status marks
	 * left two deployed, which only the locked path's recovery repairs */
	if (mode == TM_RELEASE_UP && !o->dry_run && settled(&c) && (last = latest(&c))->status == TM_REL_DEPLOYED &&
	    strcmp(last->digest, digest) == 0) {
		res.unchanged = true;
		res.revision = last->number;
		goto out;
	}
	if (o->dry_run) {
		if (mode == TM_RELEASE_INSTALL && installed(&c))
			rc = tm_err_set(err, TM_ECONFLICT, "release '%s' exists (revision %d is %s): use 'tarmac upgrade' or "
					"'tarmac up'", o->name, latest(&c)->number, tm_release_status_name(latest(&c)->status));
		else if (mode == TM_RELEASE_UPGRADE && !installed(&c))
			rc = tm_err_set(err, TM_ENOTFOUND, "release '%s' is not installed in namespace '%s': use 'tarmac "
					"install' or 'tarmac up'", o->name, o->ns);
		else
			rc = dry_run(&c, objects, &res, err);
		goto out;
	}
	if ((rc = ensure_namespace(&c, objects, err)) < 0 || (rc = take_lock(&c, err)) < 0)
		goto out;
	if (mode == TM_RELEASE_INSTALL && installed(&c)) {
		rc = tm_err_set(err, TM_ECONFLICT, "release '%s' exists (revision %d is %s): use 'tarmac upgrade' or 'tarmac "
				"up'", o->name, latest(&c)->number, tm_release_status_name(latest(&c)->status));
		goto out;
	}
	if (mode == TM_RELEASE_UPGRADE && !installed(&c)) {
		rc = tm_err_set(err, TM_ENOTFOUND, "release '%s' is not installed in namespace '%s': use 'tarmac install' or "
				"'tarmac up'", o->name, o->ns);
		goto out;
	}
	if (mode == TM_RELEASE_UP && (last = latest(&c)) && last->status == TM_REL_DEPLOYED &&
	    strcmp(last->digest, digest) == 0) {
		res.unchanged = true;
		res.revision = last->number;
		goto out;
	}
	res.installed = !installed(&c);
	prev = newest(&c, TM_REL_DEPLOYED);
	if (prev && (rc = tm_release_read(&prev_record, k, o->name, o->ns, prev, err)) < 0)
		goto out;
	/* the digest stays that of what was rendered, even if a foreign Namespace is left
	 * out below: the next run renders it again and must find nothing changed */
	if ((rc = check_ownership(&c, objects, json_object_get(prev_record, "objects"), err)) < 0)
		goto out;
	if (res.installed)
		snprintf(rev.description, sizeof(rev.description), "install (Airflow %s)", airflow ? airflow : "unknown");
	else if (prev && airflow && strcmp(prev->airflow_version, airflow) != 0)
		snprintf(rev.description, sizeof(rev.description), "upgrade (Airflow %s -> %s)", prev->airflow_version,
			 airflow);
	else
		snprintf(rev.description, sizeof(rev.description), "upgrade");
	snprintf(rev.airflow_version, sizeof(rev.airflow_version), "%s", airflow ? airflow : "");
	snprintf(rev.tarmac_version, sizeof(rev.tarmac_version), "%s", o->tarmac_version);
	snprintf(rev.env, sizeof(rev.env), "%s", o->env ? o->env : "");
	snprintf(rev.digest, sizeof(rev.digest), "%s", digest);
	{
		const char *schema = schema_now(&c);
		struct tm_record_meta m = { .release = o->name, .namespace = o->ns, .env = o->env,
					    .tarmac_version = o->tarmac_version, .airflow_version = airflow,
					    .schema_version = schema, .digest = digest, .description = rev.description };

		if ((rc = tm_record_build(&record, objects, values, &m, err)) < 0)
			goto out;
	}
	{
		struct step s = { .rev = &rev, .record = record, .apply = objects, .keep = objects,
				  .replaced_as = TM_REL_SUPERSEDED,
				  .migrates_to = has_migration(objects) && airflow ? airflow : NULL };
		int prev_number = prev ? prev->number : 0;
		struct tm_revision *target;
		struct tm_err first;

		/* a migration never moves the schema backwards */
		if (s.migrates_to && schema_now(&c) && tm_release_version_cmp(s.migrates_to, schema_now(&c)) < 0)
			s.migrates_to = NULL;
		if ((rc = run_revision(&c, &s, &res, err)) == 0)
			goto out;
		if (tm_lock_lost(c.lock))
			goto out; /* drop_lock says so; nothing more may be written */
		if (s.failed_at == STEP_RECORD) {
			tm_err_wrap(err, "nothing was applied");
			goto out;
		}
		if (s.failed_at == STEP_FINISH) {
			tm_err_wrap(err, "revision %d was applied, but its records could not be brought up to date: run "
				    "'tarmac up' again (it settles them)", rev.number);
			goto out;
		}
		if (rc == TM_EINTERRUPTED) {
			tm_err_wrap(err, "revision %d marked failed; nothing was rolled back: run 'tarmac up' again, or "
				    "'tarmac rollback'", rev.number);
			goto out;
		}
		if (!o->atomic || !prev_number) {
			tm_err_wrap(err, "%s failed as revision %d%s", res.installed ? "install" : "upgrade", rev.number,
				    !prev_number ? " (nothing deployed before it to roll back to: fix the cause and run "
						   "'tarmac up' again, or 'tarmac uninstall')"
						 : " and was left as it is (--no-rollback): 'tarmac rollback' restores the "
						   "last deployed revision");
			goto out;
		}
		first = *err;
		if (!(target = find_rev(&c, prev_number))) {
			tm_err_wrap(err, "upgrade failed as revision %d; revision %d to roll back to is gone", rev.number,
				    prev_number);
			goto out;
		}
		if (schema_allows(&c, target->airflow_version, target->number, rev.schema_version, err) < 0) {
			tm_err_wrap(err, "upgrade failed as revision %d (%s), and it did not roll back", rev.number,
				    tm_err_msg(&first));
			goto out;
		}
		report(o, TM_WARN, "rollback", "revision %d failed: rolling back to revision %d", rev.number, prev_number);
		{
			char desc[512];
			struct tm_release_result rb = { 0 };
			int failed_number = rev.number;

			snprintf(desc, sizeof(desc), "rollback to %d (upgrade to %d failed)", prev_number, failed_number);
			if ((rc = rollback_to(&c, target, TM_REL_SUPERSEDED, desc, &rb, err)) < 0) {
				tm_err_wrap(err, "upgrade failed as revision %d (%s); the rollback to revision %d failed too",
					    failed_number, tm_err_msg(&first), prev_number);
				goto out;
			}
			res.rolled_back_to = prev_number;
			res.rollback_revision = rb.revision;
			*err = first;
			tm_err_wrap(err, "upgrade failed as revision %d; rolled back to revision %d as revision %d",
				    failed_number, res.rolled_back_to, res.rollback_revision);
			rc = first.code ? first.code : TM_ERROR;
		}
	}
out:
	rc = drop_lock(&c, rc, err);
	if (out)
		*out = res;
	json_decref(prev_record);
	json_decref(record);
	ctx_release(&c);
	return rc;
}

/* ------------------------------------------------------------------ rollback */

int tm_release_rollback(struct tm_release_result *out, struct tm_kube *k, int target, const struct tm_release_opts *o,
			struct tm_err *err)
{
	struct tm_release_result res = { 0 };
	struct tm_revision *cur, *to = NULL;
	char desc[512];
	struct ctx c;
	int rc;

	ctx_init(&c, k, o);
	if ((rc = tm_kube_discover(k, err)) < 0 || (rc = take_lock(&c, err)) < 0)
		goto out;
	if (!installed(&c)) {
		rc = tm_err_set(err, TM_ENOTFOUND, "release '%s' is not installed in namespace '%s'", o->name, o->ns);
		goto out;
	}
	cur = newest(&c, TM_REL_DEPLOYED);
	if (!target) {
		/* the newest revision before the current one that ran successfully */
		for (size_t i = c.nrevs; i-- > 0;) {
			struct tm_revision *r = &c.revs[i];

			if ((cur && r->number >= cur->number) || r == cur)
				continue;
			if (r->status == TM_REL_SUPERSEDED || r->status == TM_REL_ROLLED_BACK) {
				to = r;
				break;
			}
		}
		if (!to) {
			rc = tm_err_set(err, TM_ENOTFOUND, "release '%s' has no earlier deployed revision to roll back to "
					"(see 'tarmac history')", o->name);
			goto out;
		}
	} else if (!(to = find_rev(&c, target))) {
		rc = tm_err_set(err, TM_ENOTFOUND, "release '%s' has no revision %d (see 'tarmac history'; --history-max "
				"keeps the last %d)", o->name, target, o->history_max);
		goto out;
	} else if (to->status == TM_REL_FAILED || to->status == TM_REL_PENDING) {
		rc = tm_err_set(err, TM_EINVALID, "revision %d %s; roll back to one that was deployed (see 'tarmac history')",
				to->number, to->status == TM_REL_FAILED ? "failed" : "never finished");
		goto out;
	} else if (cur && to == cur) {
		rc = tm_err_set(err, TM_EINVALID, "revision %d is the one deployed now", to->number);
		goto out;
	}
	if (schema_now(&c) && (rc = schema_allows(&c, to->airflow_version, to->number, schema_now(&c), err)) < 0)
		goto out;
	target = to->number; /* to points into the list rollback_to reloads */
	snprintf(desc, sizeof(desc), "rollback to %d", target);
	if ((rc = rollback_to(&c, to, TM_REL_ROLLED_BACK, desc, &res, err)) < 0)
		tm_err_wrap(err, "rollback to revision %d failed%s%.0d", target, res.revision ? " as revision " : "",
			    res.revision);
	else
		res.rolled_back_to = target;
out:
	rc = drop_lock(&c, rc, err);
	if (out)
		*out = res;
	ctx_release(&c);
	return rc;
}

/* ------------------------------------------------------------------ uninstall */

int tm_release_uninstall(struct tm_release_result *out, struct tm_kube *k, const struct tm_release_opts *o,
			 struct tm_err *err)
{
	struct tm_release_result res = { 0 };
	json_t *gks = NULL, *nss = NULL;
	struct tm_prune_opts po;
	char selector[300];
	bool exists;
	struct ctx c;
	int rc;

	ctx_init(&c, k, o);
	if ((rc = tm_kube_discover(k, err)) < 0 || (rc = take_lock(&c, err)) < 0)
		goto out;
	if (!installed(&c) && !o->purge) {
		rc = tm_err_set(err, TM_ENOTFOUND, "release '%s' is not installed in namespace '%s'", o->name, o->ns);
		goto out;
	}
	if ((rc = tm_applyset_read(&gks, &nss, &exists, &c.set, k, err)) < 0)
		goto out;
	if (o->purge) {
		/* records first: the namespace may go with the objects */
		for (size_t i = c.nrevs; i-- > 0;)
			if ((rc = tm_release_delete(k, o->name, o->ns, &c.revs[i], err)) < 0)
				goto out;
		report(o, TM_INFO, "history", "deleted %zu revision record%s", c.nrevs, c.nrevs == 1 ? "" : "s");
	}
	memset(&po, 0, sizeof(po));
	po.namespace = o->ns;
	po.purge = o->purge;
	snprintf(selector, sizeof(selector), "app.kubernetes.io/instance=%s", o->name);
	po.purge_pvcs = selector;
	po.wait = o->apply.wait;
	po.timeout_ms = o->apply.timeout_ms;
	po.report = o->apply.report;
	po.report_ctx = o->apply.report_ctx;
	if (o->purge)
		tm_lock_expect_gone(c.lock); /* the namespace, and the Lease in it, may go */
	if (exists && (rc = tm_apply_prune(&res.prune, k, &c.set, gks, nss, NULL, &po, err)) < 0)
		goto out;
	if (o->purge) {
		if ((rc = tm_applyset_delete(&c.set, k, err)) < 0)
			goto out;
	} else {
		struct tm_revision *dep = newest(&c, TM_REL_DEPLOYED);

		if (!dep)
			dep = latest(&c);
		if (dep) {
			snprintf(dep->description, sizeof(dep->description), "uninstalled (%u object%s kept)", res.prune.kept,
				 res.prune.kept == 1 ? "" : "s");
			if ((rc = set_status(&c, dep, TM_REL_UNINSTALLED, NULL, err)) < 0)
				goto out;
			res.revision = dep->number;
		}
	}
out:
	rc = drop_lock(&c, rc, err);
	if (out)
		*out = res;
	json_decref(gks);
	json_decref(nss);
	ctx_release(&c);
	return rc;
}

/* ------------------------------------------------------------------ status */

static bool workload(const json_t *obj)
{
	static const char *const kinds[] = { "Deployment", "StatefulSet", "DaemonSet", "Job" };
	const char *k = json_string_value(json_object_get(obj, "kind"));

	for (size_t i = 0; k && i < TM_ARRAY_LEN(kinds); i++)
		if (strcmp(k, kinds[i]) == 0)
			return true;
	return false;
}

int tm_release_status(json_t **out, struct tm_kube *k, const char *release, const char *ns, struct tm_err *err)
{
	struct tm_release_opts o = { .name = release, .ns = ns };
	struct tm_revision *cur, *failed = NULL;
	struct tm_kube_call *calls = NULL;
	json_t *record = NULL, *work = json_array(), *comps = json_array(), *lease = NULL, *st = NULL, *obj;
	char lockdesc[700], path[600];
	struct ctx c;
	size_t i;
	int rc;

	ctx_init(&c, k, &o);
	if (!work || !comps) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	if ((rc = tm_kube_discover(k, err)) < 0 || (rc = load_revs(&c, err)) < 0)
		goto out;
	if (!(cur = newest(&c, TM_REL_DEPLOYED)) && !(cur = latest(&c))) {
		rc = tm_err_set(err, TM_ENOTFOUND, "release '%s' is not installed in namespace '%s'", release, ns);
		goto out;
	}
	/* the newest failure, even one rolled back since: that is what people ask about */
	for (i = c.nrevs; i-- > 0;)
		if (c.revs[i].status == TM_REL_FAILED) {
			failed = &c.revs[i];
			break;
		}
	if (cur->status != TM_REL_UNINSTALLED) {
		if ((rc = tm_release_read(&record, k, release, ns, cur, err)) < 0)
			goto out;
		json_array_foreach(json_object_get(record, "objects"), i, obj)
			if (workload(obj))
				json_array_append(work, obj);
		if ((rc = get_all(&c, work, &calls, err)) < 0)
			goto out;
		json_array_foreach(work, i, obj) {
			char reason[400] = "";
			int ready = -1;
			const char *comp = json_string_value(
				tm_doc_get(obj, "metadata", "labels", "app.kubernetes.io/component", NULL));

			if (calls[i].rc == TM_ENOTFOUND)
				snprintf(reason, sizeof(reason), "missing from the cluster");
			else if (calls[i].rc < 0)
				snprintf(reason, sizeof(reason), "%s", tm_err_msg(&calls[i].err));
			else
				ready = tm_apply_readiness(calls[i].out, reason, sizeof(reason));
			json_array_append_new(comps, json_pack("{s:s, s:s, s:s?, s:s, s:b, s:s}", "kind",
							       json_string_value(json_object_get(obj, "kind")), "name",
							       json_string_value(tm_doc_get(obj, "metadata", "name", NULL)),
							       "component", comp, "state",
							       ready > 0 ? "ready" : ready == 0 ? "waiting" : "failed", "ready",
							       ready > 0, "reason", reason));
		}
	}
	snprintf(path, sizeof(path), "/apis/coordination.k8s.io/v1/namespaces/%s/leases/tarmac.lock.%s", ns, release);
	if (tm_kube_get(k, path, &lease, err) == 0) {
		char desc[600];

		if (tm_lock_state(lease, tm_wall_ms(), desc, sizeof(desc)) == 0)
			snprintf(lockdesc, sizeof(lockdesc), "held by %s", desc);
		else
			snprintf(lockdesc, sizeof(lockdesc), "free (last held by %s)", desc);
	} else {
		snprintf(lockdesc, sizeof(lockdesc), "free");
	}
	tm_err_init(err);
	st = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s?, s:s, s:s, s:s, s:O, s:s?, s:s}", "release", release, "namespace",
		       ns, "revision", cur->number, "status", tm_release_status_name(cur->status), "airflowVersion",
		       cur->airflow_version, "schemaVersion", cur->schema_version[0] ? cur->schema_version : NULL,
		       "description", cur->description, "updated", cur->updated, "env", cur->env, "components", comps,
		       "lastError", failed ? failed->error : NULL, "lock", lockdesc);
	if (!st) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	if (failed)
		json_object_set_new(st, "lastErrorRevision", json_integer(failed->number));
	*out = st;
	rc = 0;
out:
	free_calls(calls, json_array_size(work));
	json_decref(record);
	json_decref(work);
	json_decref(comps);
	json_decref(lease);
	ctx_release(&c);
	return rc;
}
