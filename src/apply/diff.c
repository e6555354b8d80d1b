/* 'tarmac diff': a server dry run of every object next to its live version, shown as
 * one unified diff per object that would change. */
#include <stdlib.h>
#include <string.h>

#include "apply_private.h"
#include "handlers.h"
#include "objdiff.h"
#include "tarmac/doc.h"

/* One object of a diff: its live version and its server dry run. */
struct diff_item {
	struct tm_kube_call get, dry;
	struct tm_buf gpath, dpath, body;
	bool unchecked; /* its namespace or CRD does not exist yet: shown as created */
};

static void diff_item_release(struct diff_item *d)
{
	tm_kube_call_release(&d->get);
	tm_kube_call_release(&d->dry);
	tm_buf_release(&d->gpath);
	tm_buf_release(&d->dpath);
	tm_buf_release(&d->body);
}

/* The GET and the dry-run apply of every checked item, sent in one batch. */
static int ask_all(struct tm_run *r, struct diff_item *d, const json_t *nsmissing, struct tm_err *err)
{
	unsigned flags = TM_APPLY_DRY_RUN | (r->o->force_conflicts ? TM_APPLY_FORCE : 0);
	struct tm_kube_call *batch = calloc(2 * r->n + 1, sizeof(*batch));
	size_t *map = calloc(r->n + 1, sizeof(*map)), m = 0;
	int rc = 0;

	if (!batch || !map) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < r->n; i++) {
		struct tm_item *it = &r->items[i];

		d[i].unchecked = it->deferred || (it->ns && json_is_true(json_object_get(nsmissing, it->ns)));
		if (d[i].unchecked)
			continue;
		if ((rc = tm_kube_path(&d[i].gpath, &it->rsc, it->ns, it->name, err)) < 0 ||
		    (rc = tm_kube_call_apply(&d[i].dry, &d[i].dpath, &d[i].body, &it->rsc, it->obj, flags, err)) < 0)
			goto out;
		d[i].get.req = (struct tm_http_request){ .method = "GET", .path = d[i].gpath.data };
		d[i].get.want_json = true;
		batch[2 * m] = d[i].get;
		batch[2 * m + 1] = d[i].dry;
		map[m++] = i;
	}
	rc = tm_kube_do(r->k, batch, 2 * m, err);
	for (size_t j = 0; j < m; j++) {
		d[map[j]].get = batch[2 * j];
		d[map[j]].dry = batch[2 * j + 1];
	}
out:
	free(batch);
	free(map);
	return rc;
}

/* One item's diff appended to out, counted in s. */
static int diff_one(struct tm_run *r, struct tm_item *it, struct diff_item *d, struct tm_buf *out, bool color,
		    struct tm_diff_summary *s, struct tm_err *err)
{
	const json_t *live = NULL, *after = it->obj;
	int rc;

	if (!d->unchecked) {
		if (d->get.rc < 0 && d->get.rc != TM_ENOTFOUND) {
			*err = d->get.err;
			return tm_err_wrap(err, "diff %s", it->subject);
		}
		live = d->get.rc == 0 ? d->get.out : NULL;
		if (d->dry.rc < 0 && tm_handlers_refused(&d->dry.err)) {
			struct tm_apply_opts dro = *r->o;

			dro.dry_run = true;
			d->dry.rc = tm_handlers_reapply(r->k, &dro, it, live, &d->dry.out, &d->dry.status, &d->dry.err);
		}
		if (d->dry.rc == 0)
			after = d->dry.out;
		else if (!(it->rule->replace && d->dry.rc == TM_EINVALID)) {
			/* an immutable Job that changed would be replaced: show the new one */
			*err = d->dry.err;
			return tm_err_wrap(err, "diff %s", it->subject);
		}
	}
	if ((rc = tm_objdiff(out, it->subject, live, after, color, err)) < 0)
		return rc;
	if (d->unchecked) {
		s->unchecked++;
		tm_apply_report(r->o, TM_INFO, "diff", it->subject, false, "to create (not checked by the server: %s "
				"does not exist yet)", it->deferred ? "its CRD" : "its namespace");
	} else if (!live) {
		s->create++;
	} else if (rc) {
		s->change++;
	} else {
		s->same++;
	}
	return 0;
}

int tm_apply_diff(struct tm_diff_summary *sum, struct tm_buf *out, struct tm_kube *k, json_t *objects,
		  const struct tm_apply_opts *o, bool color, struct tm_err *err)
{
	struct tm_run r = { .k = k, .o = o };
	struct tm_diff_summary s = { 0 };
	struct diff_item *d = NULL;
	json_t *nsmissing = NULL;
	int rc;

	if ((rc = tm_apply_plan(&r, objects, err)) < 0 || (rc = tm_apply_missing_namespaces(&r, &nsmissing, err)) < 0)
		goto out;
	if (!(d = calloc(r.n ? r.n : 1, sizeof(*d)))) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < r.n; i++) {
		tm_buf_init(&d[i].gpath, "path", 8192);
		tm_buf_init(&d[i].dpath, "path", 8192);
		tm_buf_init(&d[i].body, "object", 32u << 20);
	}
	if ((rc = ask_all(&r, d, nsmissing, err)) < 0)
		goto out;
	for (size_t i = 0; i < r.n; i++)
		if ((rc = diff_one(&r, &r.items[i], &d[i], out, color, &s, err)) < 0)
			goto out;
	*sum = s;
out:
	for (size_t i = 0; d && i < r.n; i++)
		diff_item_release(&d[i]);
	free(d);
	json_decref(nsmissing);
	tm_run_release(&r);
	return rc;
}
