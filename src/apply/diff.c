/* 'tarmac diff': a server dry run of every object next to its live version, shown as
 * one unified diff per object that would change. */
#include <stdlib.h>
#include <string.h>

#include "apply_private.h"
#include "handlers.h"
#include "objdiff.h"
#include "tarmac/doc.h"

int tm_apply_diff(struct tm_diff_summary *sum, struct tm_buf *out, struct tm_kube *k, json_t *objects,
		  const struct tm_apply_opts *o, bool color, struct tm_err *err)
{
	struct tm_run r = { .k = k, .o = o };
	struct tm_diff_summary s = { 0 };
	struct tm_kube_call *get = NULL, *dry = NULL;
	struct tm_buf *gpaths = NULL, *dpaths = NULL, *bodies = NULL;
	json_t *nsmissing = NULL;
	bool *unchecked = NULL;
	int rc;

	if ((rc = tm_apply_plan(&r, objects, err)) < 0)
		goto out;
	if ((rc = tm_apply_missing_namespaces(&r, &nsmissing, err)) < 0)
		goto out;
	get = calloc(r.n ? r.n : 1, sizeof(*get));
	dry = calloc(r.n ? r.n : 1, sizeof(*dry));
	gpaths = calloc(r.n ? r.n : 1, sizeof(*gpaths));
	dpaths = calloc(r.n ? r.n : 1, sizeof(*dpaths));
	bodies = calloc(r.n ? r.n : 1, sizeof(*bodies));
	unchecked = calloc(r.n ? r.n : 1, sizeof(*unchecked));
	if (!get || !dry || !gpaths || !dpaths || !bodies || !unchecked) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < r.n; i++) {
		struct tm_item *it = &r.items[i];

		tm_buf_init(&gpaths[i], "path", 8192);
		tm_buf_init(&dpaths[i], "path", 8192);
		tm_buf_init(&bodies[i], "object", 32u << 20);
		unchecked[i] = it->deferred || (it->ns && json_is_true(json_object_get(nsmissing, it->ns)));
		if (unchecked[i])
			continue;
		if ((rc = tm_kube_path(&gpaths[i], &it->rsc, it->ns, it->name, err)) < 0 ||
		    (rc = tm_kube_call_apply(&dry[i], &dpaths[i], &bodies[i], &it->rsc, it->obj,
					     TM_APPLY_DRY_RUN | (o->force_conflicts ? TM_APPLY_FORCE : 0), err)) < 0)
			goto out;
		get[i].req = (struct tm_http_request){ .method = "GET", .path = gpaths[i].data };
		get[i].want_json = true;
	}
	{
		/* every live object and every dry run in one batch */
		size_t m = 0;
		struct tm_kube_call *batch = calloc(2 * r.n + 1, sizeof(*batch));
		size_t *map = calloc(r.n + 1, sizeof(*map));

		if (!batch || !map) {
			free(batch);
			free(map);
			rc = tm_err_set(err, TM_ERROR, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < r.n; i++)
			if (!unchecked[i]) {
				batch[2 * m] = get[i];
				batch[2 * m + 1] = dry[i];
				map[m++] = i;
			}
		rc = tm_kube_do(k, batch, 2 * m, err);
		for (size_t j = 0; j < m; j++) {
			get[map[j]] = batch[2 * j];
			dry[map[j]] = batch[2 * j + 1];
		}
		free(batch);
		free(map);
		if (rc < 0)
			goto out;
	}
	for (size_t i = 0; i < r.n; i++) {
		struct tm_item *it = &r.items[i];
		const json_t *live = NULL, *after = it->obj;
		int d;

		if (!unchecked[i]) {
			if (get[i].rc < 0 && get[i].rc != TM_ENOTFOUND) {
				*err = get[i].err;
				rc = tm_err_wrap(err, "diff %s", it->subject);
				goto out;
			}
			live = get[i].rc == 0 ? get[i].out : NULL;
			if (dry[i].rc < 0 && tm_handlers_refused(&dry[i].err)) {
				struct tm_apply_opts dro = *o;

				dro.dry_run = true;
				dry[i].rc = tm_handlers_reapply(k, &dro, it, &dry[i].out, &dry[i].status, &dry[i].err);
			}
			if (dry[i].rc == 0)
				after = dry[i].out;
			else if (!(it->rule->replace && dry[i].rc == TM_EINVALID)) {
				/* an immutable Job that changed would be replaced: show the new one */
				*err = dry[i].err;
				rc = tm_err_wrap(err, "diff %s", it->subject);
				goto out;
			}
		}
		if ((d = tm_objdiff(out, it->subject, live, after, color, err)) < 0) {
			rc = d;
			goto out;
		}
		if (unchecked[i]) {
			s.unchecked++;
			tm_apply_report(o, TM_INFO, "diff", it->subject, false, "to create (not checked by the server: %s "
					"does not exist yet)", it->deferred ? "its CRD" : "its namespace");
		} else if (!live) {
			s.create++;
		} else if (d) {
			s.change++;
		} else {
			s.same++;
		}
	}
	*sum = s;
	rc = 0;
out:
	for (size_t i = 0; i < r.n; i++) {
		if (get)
			tm_kube_call_release(&get[i]);
		if (dry)
			tm_kube_call_release(&dry[i]);
		if (gpaths)
			tm_buf_release(&gpaths[i]);
		if (dpaths)
			tm_buf_release(&dpaths[i]);
		if (bodies)
			tm_buf_release(&bodies[i]);
	}
	free(get);
	free(dry);
	free(gpaths);
	free(dpaths);
	free(bodies);
	free(unchecked);
	json_decref(nsmissing);
	tm_run_release(&r);
	return rc;
}
