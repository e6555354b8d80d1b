/* One run's view of the release: its context, the revision list, recovery of what a
 * stopped run left, history pruning, the lock taken and dropped; reports and versions. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "release_private.h"
#include "tarmac/doc.h"

void tm_release_report(const struct tm_release_opts *o, enum tm_level lvl, const char *kind, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tm_vreportf(o->report, o->report_ctx, lvl, kind, o->name, false, fmt, ap);
	va_end(ap);
}

void tm_release_now_text(char out[40])
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

int tm_release_load_revisions(struct tm_release_run *c, struct tm_err *err)
{
	free(c->revs);
	c->revs = NULL;
	c->nrevs = 0;
	return tm_release_list(&c->revs, &c->nrevs, c->k, c->o->name, c->o->ns, err);
}

struct tm_revision *tm_release_newest(struct tm_release_run *c, enum tm_release_status s)
{
	for (size_t i = c->nrevs; i-- > 0;)
		if (c->revs[i].status == s)
			return &c->revs[i];
	return NULL;
}

struct tm_revision *tm_release_find_revision(struct tm_release_run *c, int number)
{
	for (size_t i = 0; i < c->nrevs; i++)
		if (c->revs[i].number == number)
			return &c->revs[i];
	return NULL;
}

struct tm_revision *tm_release_latest(struct tm_release_run *c)
{
	return c->nrevs ? &c->revs[c->nrevs - 1] : NULL;
}

bool tm_release_settled(struct tm_release_run *c)
{
	size_t deployed = 0;

	for (size_t i = 0; i < c->nrevs; i++) {
		if (c->revs[i].status == TM_REL_PENDING)
			return false;
		deployed += c->revs[i].status == TM_REL_DEPLOYED;
	}
	return deployed == 1;
}

const char *tm_release_schema_now(struct tm_release_run *c)
{
	for (size_t i = c->nrevs; i-- > 0;)
		if (c->revs[i].schema_version[0])
			return c->revs[i].schema_version;
	return NULL;
}

int tm_release_set_status(struct tm_release_run *c, struct tm_revision *r, enum tm_release_status s, const char *error,
		      struct tm_err *err)
{
	r->status = s;
	if (error)
		snprintf(r->error, sizeof(r->error), "%s", error);
	tm_release_now_text(r->updated);
	return tm_release_update(c->k, c->o->name, c->o->ns, r, err);
}

int tm_release_recover(struct tm_release_run *c, struct tm_err *err)
{
	struct tm_revision *dep = tm_release_newest(c, TM_REL_DEPLOYED);
	unsigned swept = 0;
	int rc;

	for (size_t i = 0; i < c->nrevs; i++) {
		struct tm_revision *r = &c->revs[i];

		if (r->status == TM_REL_PENDING) {
			tm_release_report(c->o, TM_WARN, "recover", "revision %d was left pending by a run that stopped "
					  "(killed or cut off): marking it failed", r->number);
			if ((rc = tm_release_set_status(c, r, TM_REL_FAILED, "interrupted: the run that wrote this "
							"revision stopped before finishing it", err)) < 0)
				return rc;
		} else if (r->status == TM_REL_DEPLOYED && r != dep) {
			tm_release_report(c->o, TM_WARN, "recover", "revision %d and %d were both marked deployed: %d is "
					  "superseded", r->number, dep->number, r->number);
			if ((rc = tm_release_set_status(c, r, TM_REL_SUPERSEDED, NULL, err)) < 0)
				return rc;
		}
	}
	if ((rc = tm_release_sweep(&swept, c->k, c->o->name, c->o->ns, err)) < 0)
		return rc;
	if (swept)
		tm_release_report(c->o, TM_WARN, "recover", "deleted %u record part%s a stopped run left without its "
				  "revision", swept, swept == 1 ? "" : "s");
	return 0;
}

int tm_release_prune_history(struct tm_release_run *c, struct tm_err *err)
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
		tm_release_report(c->o, TM_DEBUG, "history", "revision %d deleted (history kept to %d)", c->revs[i].number,
		       c->o->history_max);
		left--;
	}
	return 0;
}

void tm_release_finishing(struct tm_release_run *c, struct tm_kube_opts *saved)
{
	struct tm_kube_opts ko = *tm_kube_get_opts(c->k);

	*saved = ko;
	ko.cancel = NULL;
	ko.max_attempts = 2;
	ko.timeout_ms = 10000;
	tm_kube_set_opts(c->k, &ko);
}

void tm_release_finished(struct tm_release_run *c, const struct tm_kube_opts *saved)
{
	tm_kube_set_opts(c->k, saved);
}

int tm_release_take_lock(struct tm_release_run *c, struct tm_err *err)
{
	struct tm_lock_opts lo = c->o->lock;
	int rc;

	lo.command = c->o->command;
	if ((rc = tm_lock_acquire(&c->lock, c->k, c->o->name, c->o->ns, &lo, err)) < 0)
		return rc;
	if ((rc = tm_release_load_revisions(c, err)) < 0 || (rc = tm_release_recover(c, err)) < 0)
		return rc;
	return 0;
}

int tm_release_drop_lock(struct tm_release_run *c, int rc, struct tm_err *err)
{
	struct tm_kube_opts saved;
	struct tm_err e;
	bool lost;
	int lrc;

	if (!c->lock)
		return rc;
	tm_err_init(&e);
	lost = tm_lock_lost(c->lock);
	tm_release_finishing(c, &saved);
	lrc = tm_lock_drop(c->lock, c->k, &e);
	tm_release_finished(c, &saved);
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
		tm_release_report(c->o, TM_WARN, "lock", "%s", tm_err_msg(&e));
	return rc;
}

void tm_release_run_init(struct tm_release_run *c, struct tm_kube *k, const struct tm_release_opts *o)
{
	memset(c, 0, sizeof(*c));
	c->k = k;
	c->o = o;
	tm_release_applyset(&c->set, o->name, o->ns);
	snprintf(c->tooling, sizeof(c->tooling), "tarmac/%s", o->tarmac_version ? o->tarmac_version : "0");
}

void tm_release_run_release(struct tm_release_run *c)
{
	free(c->revs);
}

bool tm_release_exists(struct tm_release_run *c)
{
	return tm_release_latest(c) && tm_release_latest(c)->status != TM_REL_UNINSTALLED;
}

