/* tarmac uninstall: under the lock, prune what the release's inventory holds; with
 * --purge also its revision records, its PVCs and the inventory itself, else the last
 * deployed revision is marked uninstalled. */
#include <stdlib.h>
#include <string.h>

#include "release_private.h"
#include "tarmac/labels.h"

int tm_release_uninstall(struct tm_release_result *out, struct tm_kube *k, const struct tm_release_opts *o,
			 struct tm_err *err)
{
	struct tm_release_result res = { 0 };
	json_t *gks = NULL, *nss = NULL;
	struct tm_prune_opts po;
	char selector[300];
	bool exists;
	struct tm_release_run c;
	int rc;

	tm_release_run_init(&c, k, o);
	if ((rc = tm_kube_discover(k, err)) < 0 || (rc = tm_release_take_lock(&c, err)) < 0)
		goto out;
	if (!tm_release_exists(&c) && !o->purge) {
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
		tm_release_report(o, TM_INFO, "history", "deleted %zu revision record%s", c.nrevs, c.nrevs == 1 ? "" : "s");
	}
	memset(&po, 0, sizeof(po));
	po.namespace = o->ns;
	po.purge = o->purge;
	snprintf(selector, sizeof(selector), TM_LABEL_INSTANCE "=%s", o->name);
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
		struct tm_revision *dep = tm_release_newest(&c, TM_REL_DEPLOYED);

		if (!dep)
			dep = tm_release_latest(&c);
		if (dep) {
			snprintf(dep->description, sizeof(dep->description), "uninstalled (%u object%s kept)", res.prune.kept,
				 res.prune.kept == 1 ? "" : "s");
			if ((rc = tm_release_set_status(&c, dep, TM_REL_UNINSTALLED, NULL, err)) < 0)
				goto out;
			res.revision = dep->number;
		}
	}
out:
	rc = tm_release_drop_lock(&c, rc, err);
	if (out)
		*out = res;
	json_decref(gks);
	json_decref(nss);
	tm_release_run_release(&c);
	return rc;
}

