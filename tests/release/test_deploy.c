/* The release pipelines (release.c, through tm_release_deploy) against a scripted API
 * server: what a refused upgrade does before and after its lock, and what a dry run of a
 * first install asks without writing anything. */
#include "../testutil.h"
#include "../kube/scripted.h"
#include "release/release_private.h"
#include "tarmac/doc.h"
#include "tarmac/labels.h"

#define RECORDS                                                                                                      \
	"/api/v1/namespaces/ns/secrets?labelSelector=" TM_LABEL_RELEASE "%3Dairflow&fieldSelector=type%3D" TM_RECORD_TYPE
#define NO_RECORDS "{\"kind\":\"SecretList\",\"metadata\":{\"resourceVersion\":\"9\"},\"items\":[]}"
#define LEASES "/apis/coordination.k8s.io/v1/namespaces/ns/leases"
#define LEASE LEASES "/tarmac.lock.airflow"
#define NOT_FOUND 404, "{\"kind\":\"Status\",\"code\":404,\"reason\":\"NotFound\"}", 0, 0
#define DISCOVERY                                                                                                    \
	{ "GET", "/version", 200, disco_version, 0, 0 }, { "GET", "/api", 200, disco_api, 0, 0 },                      \
		{ "GET", "/apis", 200, disco_apis, 0, 0 }


static json_t *stack(void)
{
	json_t *objs = json_loads("[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"},"
				  "\"data\":{\"k\":\"v\"}}]", 0, NULL);

	cr_assert_not_null(objs);
	return objs;
}

static struct tm_release_opts opts(void)
{
	struct tm_release_opts o = { .name = "airflow", .ns = "ns", .env = "dev", .command = "upgrade",
				     .tarmac_version = "0.1.0", .history_max = 10 };

	o.apply.namespace = "ns";
	return o;
}

Test(release_deploy, an_upgrade_of_a_release_not_installed_is_refused_under_the_lock_and_gives_it_back)
{
	const struct exchange ex[] = {
		DISCOVERY,
		{ "GET", RECORDS, 200, NO_RECORDS, 0, 0 },
		/* the namespace exists; the lock is free: created */
		{ "GET", "/api/v1/namespaces/ns", 200, "{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"ns\"}}", 0, 0 },
		{ "GET", LEASE, NOT_FOUND },
		{ "POST", LEASES, 201, "{\"kind\":\"Lease\",\"metadata\":{\"name\":\"tarmac.lock.airflow\",\"resourceVersion\":\"41\"}}",
		  0, 0 },
		/* under the lock: the records read again and recovered (nothing to sweep) */
		{ "GET", RECORDS, 200, NO_RECORDS, 0, 0 },
		{ "GET", RECORDS, 200, NO_RECORDS, 0, 0 },
		/* refused: the lock goes back, at the version this run wrote */
		{ "DELETE", LEASE, 200, "{\"kind\":\"Status\",\"status\":\"Success\"}", 0, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	struct tm_release_opts o = opts();
	struct tm_release_result res;
	json_t *objs = stack();
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_release_deploy(&res, k, TM_RELEASE_UPGRADE, objs, NULL, &o, &err), TM_ENOTFOUND);
	cr_assert_str_eq(tm_err_msg(&err), "release 'airflow' is not installed in namespace 'ns': use 'tarmac install' "
					   "or 'tarmac up'");
	cr_assert_eq(s.next, TM_ARRAY_LEN(ex), "every exchange made, in order: nothing applied, nothing recorded");
	cr_assert(strstr(s.bodies[6], "\"holderIdentity\""), "%s", s.bodies[6]);
	cr_assert_str_eq(s.bodies[9], "{\"preconditions\":{\"resourceVersion\":\"41\"}}");
	cr_assert_eq(res.revision, 0);
	json_decref(objs);
	tm_kube_free(k);
}

Test(release_deploy, a_dry_run_of_a_first_install_writes_nothing_and_takes_no_lock)
{
	const struct exchange ex[] = {
		DISCOVERY,
		{ "GET", RECORDS, 200, NO_RECORDS, 0, 0 },
		{ "GET", "/api/v1", 200, disco_core, 0, 0 },
		/* its namespace does not exist yet: the ConfigMap cannot be checked */
		{ "GET", "/api/v1/namespaces/ns", NOT_FOUND },
		/* no inventory yet: nothing to prune */
		{ "GET", "/api/v1/namespaces/ns/secrets/tarmac.applyset.airflow", NOT_FOUND },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	struct tm_release_opts o = opts();
	struct tm_release_result res;
	json_t *objs = stack();
	struct tm_applyset set;
	struct tm_err err;

	o.dry_run = true;
	o.apply.dry_run = true;
	tm_err_init(&err);
	cr_assert_eq(tm_release_deploy(&res, k, TM_RELEASE_INSTALL, objs, NULL, &o, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(s.next, TM_ARRAY_LEN(ex), "every exchange made, in order");
	cr_assert_eq(res.apply.skipped, 1);
	cr_assert_eq(res.revision, 0);
	cr_assert_eq(res.prune.deleted, 0);
	/* the objects are labeled as the release's members before anything is asked */
	tm_release_applyset(&set, "airflow", "ns");
	cr_assert_str_eq(json_string_value(tm_doc_get(json_array_get(objs, 0), "metadata", "labels", TM_APPLYSET_PART_OF,
						      NULL)),
			 set.id);
	json_decref(objs);
	tm_kube_free(k);
}
