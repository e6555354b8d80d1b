/* tarmac status: the current revision, each workload's readiness as apply judges it,
 * the last failure and who holds the lock. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "release_private.h"
#include "tarmac/doc.h"
#include "tarmac/labels.h"

/* ------------------------------------------------------------------ status */

/* Each workload of revision cur's record (the kinds that own pods) as the cluster has
 * it now, appended to comps: kind, name, component, state (ready, waiting, failed) and
 * why. */
static int components(struct tm_release_run *c, const struct tm_revision *cur, json_t *comps, struct tm_err *err)
{
	struct tm_kube_batch b = { 0 };
	json_t *record = NULL, *work = json_array(), *obj;
	size_t i;
	int rc;

	if (!work)
		return tm_err_set(err, TM_ERROR, "out of memory");
	if ((rc = tm_release_read(&record, c->k, c->o->name, c->o->ns, cur, err)) < 0)
		goto out;
	json_array_foreach(json_object_get(record, "objects"), i, obj)
		if (tm_kind_owns_pods(json_string_value(json_object_get(obj, "apiVersion")),
				      json_string_value(json_object_get(obj, "kind"))))
			json_array_append(work, obj);
	if ((rc = tm_release_get_all(&b, c, work, err)) < 0)
		goto out;
	json_array_foreach(work, i, obj) {
		char reason[400] = "";
		int ready = -1;

		if (b.calls[i].rc == TM_ENOTFOUND)
			snprintf(reason, sizeof(reason), "missing from the cluster");
		else if (b.calls[i].rc < 0)
			snprintf(reason, sizeof(reason), "%s", tm_err_msg(&b.calls[i].err));
		else
			ready = tm_apply_readiness(b.calls[i].out, reason, sizeof(reason));
		json_array_append_new(comps, json_pack("{s:s, s:s, s:s?, s:s, s:b, s:s}", "kind",
						       json_string_value(json_object_get(obj, "kind")), "name",
						       json_string_value(tm_doc_get(obj, "metadata", "name", NULL)), "component",
						       json_string_value(tm_doc_get(obj, "metadata", "labels", TM_LABEL_COMPONENT,
										    NULL)),
						       "state", ready > 0 ? "ready" : ready == 0 ? "waiting" : "failed",
						       "ready", ready > 0, "reason", reason));
	}
out:
	tm_kube_batch_release(&b);
	json_decref(record);
	json_decref(work);
	return rc;
}

/* Who holds the release's lock, or "free" (and who held it last), into out. */
static void lock_state(struct tm_kube *k, const char *release, const char *ns, char *out, size_t n)
{
	json_t *lease = NULL;
	char path[600], desc[600];
	struct tm_err e;

	tm_err_init(&e);
	snprintf(path, sizeof(path), "/apis/coordination.k8s.io/v1/namespaces/%s/leases/tarmac.lock.%s", ns, release);
	if (tm_kube_get(k, path, &lease, &e) == 0) {
		if (tm_lock_state(lease, tm_wall_ms(), desc, sizeof(desc)) == 0)
			snprintf(out, n, "held by %s", desc);
		else
			snprintf(out, n, "free (last held by %s)", desc);
	} else {
		snprintf(out, n, "free");
	}
	json_decref(lease);
}

int tm_release_status(json_t **out, struct tm_kube *k, const char *release, const char *ns, struct tm_err *err)
{
	struct tm_release_opts o = { .name = release, .ns = ns };
	struct tm_revision *cur;
	const struct tm_revision *failed;
	json_t *comps = json_array(), *st = NULL;
	char lockdesc[700];
	struct tm_release_run c;
	int rc;

	tm_release_run_init(&c, k, &o);
	if (!comps) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	if ((rc = tm_kube_discover(k, err)) < 0 || (rc = tm_release_load_revisions(&c, err)) < 0)
		goto out;
	if (!(cur = tm_release_newest(&c, TM_REL_DEPLOYED)) && !(cur = tm_release_latest(&c))) {
		rc = tm_err_set(err, TM_ENOTFOUND, "release '%s' is not installed in namespace '%s'", release, ns);
		goto out;
	}
	failed = tm_release_last_failure(c.revs, c.nrevs);
	if (cur->status != TM_REL_UNINSTALLED && (rc = components(&c, cur, comps, err)) < 0)
		goto out;
	lock_state(k, release, ns, lockdesc, sizeof(lockdesc));
	/* the schema the guards compare with (tm_release_schema_now): a failed upgrade whose
	 * migration completed moved it past the deployed revision's */
	st = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s?, s:s, s:s, s:s, s:O, s:s?, s:s}", "release", release, "namespace",
		       ns, "revision", cur->number, "status", tm_release_status_name(cur->status), "airflowVersion",
		       cur->airflow_version, "schemaVersion", tm_release_schema_now(&c), "description", cur->description,
		       "updated", cur->updated, "env", cur->env, "components", comps, "lastError",
		       failed ? failed->error : NULL, "lock", lockdesc);
	if (!st) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	if (failed)
		json_object_set_new(st, "lastErrorRevision", json_integer(failed->number));
	*out = st;
	rc = 0;
out:
	json_decref(comps);
	tm_release_run_release(&c);
	return rc;
}
