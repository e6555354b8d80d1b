/* tarmac status: the current revision, each workload's readiness as apply judges it,
 * the last failure and who holds the lock. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "release_private.h"
#include "tarmac/doc.h"

/* ------------------------------------------------------------------ status */

int tm_release_status(json_t **out, struct tm_kube *k, const char *release, const char *ns, struct tm_err *err)
{
	struct tm_release_opts o = { .name = release, .ns = ns };
	struct tm_revision *cur;
	const struct tm_revision *failed;
	struct tm_kube_batch b = { 0 };
	json_t *record = NULL, *work = json_array(), *comps = json_array(), *lease = NULL, *st = NULL, *obj;
	char lockdesc[700], path[600];
	const char *schema;
	struct ctx c;
	size_t i;
	int rc;

	rel_ctx_init(&c, k, &o);
	if (!work || !comps) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	if ((rc = tm_kube_discover(k, err)) < 0 || (rc = rel_load_revs(&c, err)) < 0)
		goto out;
	if (!(cur = rel_newest(&c, TM_REL_DEPLOYED)) && !(cur = rel_latest(&c))) {
		rc = tm_err_set(err, TM_ENOTFOUND, "release '%s' is not installed in namespace '%s'", release, ns);
		goto out;
	}
	failed = tm_release_last_failure(c.revs, c.nrevs);
	if (cur->status != TM_REL_UNINSTALLED) {
		if ((rc = tm_release_read(&record, k, release, ns, cur, err)) < 0)
			goto out;
		json_array_foreach(json_object_get(record, "objects"), i, obj)
			if (tm_kind_owns_pods(json_string_value(json_object_get(obj, "apiVersion")),
					      json_string_value(json_object_get(obj, "kind"))))
				json_array_append(work, obj);
		if ((rc = rel_get_all(&b, &c, work, err)) < 0)
			goto out;
		json_array_foreach(work, i, obj) {
			char reason[400] = "";
			int ready = -1;
			const char *comp = json_string_value(
				tm_doc_get(obj, "metadata", "labels", "app.kubernetes.io/component", NULL));

			if (b.calls[i].rc == TM_ENOTFOUND)
				snprintf(reason, sizeof(reason), "missing from the cluster");
			else if (b.calls[i].rc < 0)
				snprintf(reason, sizeof(reason), "%s", tm_err_msg(&b.calls[i].err));
			else
				ready = tm_apply_readiness(b.calls[i].out, reason, sizeof(reason));
			json_array_append_new(comps, json_pack("{s:s, s:s, s:s?, s:s, s:b, s:s}", "kind",
							       json_string_value(json_object_get(obj, "kind")), "name",
							       json_string_value(tm_doc_get(obj, "metadata", "name", NULL)),
							       "component", comp, "state",
							       ready > 0 ? "ready" : ready == 0 ? "waiting" : "failed", "ready",
							       ready > 0, "reason", reason));
		}
	}
	/* the schema the guards compare with: a failed upgrade whose migration completed
	 * moved it past the deployed revision's */
	schema = rel_schema_now(&c);
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
		       cur->airflow_version, "schemaVersion", schema,
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
	tm_kube_batch_release(&b);
	json_decref(record);
	json_decref(work);
	json_decref(comps);
	json_decref(lease);
	rel_ctx_release(&c);
	return rc;
}
