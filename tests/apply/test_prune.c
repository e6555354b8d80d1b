/* Pruning (prune.c, through tm_apply_prune): the members of an ApplySet listed by label in
 * every namespace of the inventory; what the new set holds, what a controller owns and
 * what policy keeps stay; the rest is deleted phase by phase in reverse order (what owns
 * pods in the foreground) and awaited until gone. */
#include "../testutil.h"
#include "../kube/scripted.h"
#include "tarmac/apply.h"
#include "tarmac/doc.h"
#include "tarmac/labels.h"


/* discovery, then the resource lists of the groups the inventory names */
#define DISCOVERY_CORE                                                                                               \
	{ "GET", "/version", 200, disco_version, 0, 0 }, { "GET", "/api", 200, disco_api, 0, 0 },                      \
		{ "GET", "/apis", 200, disco_apis, 0, 0 }, { "GET", "/api/v1", 200, disco_core, 0, 0 }
#define DISCOVERY DISCOVERY_CORE, { "GET", "/apis/apps/v1", 200, disco_apps, 0, 0 }

#define CM(name, extra) "{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"ns\"" extra "}}"
#define LIST(items) "{\"kind\":\"PartialObjectMetadataList\",\"metadata\":{},\"items\":[" items "]}"
#define EMPTY LIST("")
#define NOT_FOUND "{\"kind\":\"Status\",\"code\":404,\"reason\":\"NotFound\"}"
#define GONE 404, NOT_FOUND, 0, 0

/* The listing paths of one run: "<collection>?labelSelector=<part-of>%3D<id>". */
struct paths {
	char cm_ns[400], cm_other[400], dep_ns[400], dep_other[400], pvc_ns[400], pvc_other[400];
};

static void listing_paths(struct paths *p, const struct tm_applyset *s)
{
#define SEL "?labelSelector=" TM_APPLYSET_PART_OF "%%3D%s"
	snprintf(p->cm_ns, sizeof(p->cm_ns), "/api/v1/namespaces/ns/configmaps" SEL, s->id);
	snprintf(p->cm_other, sizeof(p->cm_other), "/api/v1/namespaces/other/configmaps" SEL, s->id);
	snprintf(p->dep_ns, sizeof(p->dep_ns), "/apis/apps/v1/namespaces/ns/deployments" SEL, s->id);
	snprintf(p->dep_other, sizeof(p->dep_other), "/apis/apps/v1/namespaces/other/deployments" SEL, s->id);
	snprintf(p->pvc_ns, sizeof(p->pvc_ns), "/api/v1/namespaces/ns/persistentvolumeclaims" SEL, s->id);
	snprintf(p->pvc_other, sizeof(p->pvc_other), "/api/v1/namespaces/other/persistentvolumeclaims" SEL, s->id);
#undef SEL
}

static json_t *keep_objects(void)
{
	json_t *keep = json_loads("[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"current\"}}]", 0,
				  NULL);

	cr_assert_not_null(keep);
	return keep;
}

Test(apply_prune, deletes_what_the_set_no_longer_holds_workloads_before_their_config)
{
	struct tm_applyset set;
	struct paths p;

	tm_applyset_init(&set, "airflow", "ns");
	listing_paths(&p, &set);
	const struct exchange ex[] = {
		DISCOVERY,
		/* every group-kind of the inventory, in the release's namespace and the other */
		{ "GET", p.cm_ns, 200,
		  LIST(CM("current", "") "," CM("old", "") "," CM("made", ",\"ownerReferences\":[{\"controller\":true}]") ","
		       CM("kept", ",\"annotations\":{\"" TM_POLICY_ANNOTATION "\":\"keep\"}")),
		  0, 0 },
		{ "GET", p.cm_other, GONE }, /* the namespace is gone: nothing there */
		{ "GET", p.dep_ns, 200, LIST("{\"metadata\":{\"name\":\"web\",\"namespace\":\"ns\"}}"), 0, 0 },
		{ "GET", p.dep_other, 200, EMPTY, 0, 0 },
		{ "GET", p.pvc_ns, 200, LIST("{\"metadata\":{\"name\":\"data\",\"namespace\":\"ns\"}}"), 0, 0 },
		{ "GET", p.pvc_other, 200, EMPTY, 0, 0 },
		/* the workloads phase first, in the foreground, awaited until gone */
		{ "DELETE", "/apis/apps/v1/namespaces/ns/deployments/web?propagationPolicy=Foreground", 200, "{}", 0, 0 },
		{ "GET", "/apis/apps/v1/namespaces/ns/deployments/web", 200, "{\"metadata\":{\"name\":\"web\"}}", 0, 0 },
		{ "GET", "/apis/apps/v1/namespaces/ns/deployments/web", GONE },
		/* then the config it read */
		{ "DELETE", "/api/v1/namespaces/ns/configmaps/old?propagationPolicy=Background", 200, "{}", 0, 0 },
		{ "GET", "/api/v1/namespaces/ns/configmaps/old", GONE },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	json_t *gks = json_pack("[s,s,s]", "ConfigMap", "Deployment.apps", "PersistentVolumeClaim");
	json_t *nss = json_pack("[s]", "other"), *keep = keep_objects();
	struct tm_prune_opts o = { .namespace = "ns", .wait = true, .kept_gks = json_array(), .kept_nss = json_array() };
	struct tm_prune_result res;
	struct tm_err err;
	char *kept;

	tm_err_init(&err);
	cr_assert_eq(tm_apply_prune(&res, k, &set, gks, nss, keep, &o, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(s.next, TM_ARRAY_LEN(ex), "every exchange made, in order");
	cr_assert_eq(res.deleted, 2);
	cr_assert_eq(res.kept, 2, "the annotated ConfigMap and the claim");
	cr_assert_eq(res.skipped, 1, "the ConfigMap a controller owns");
	/* what was kept stays in the inventory */
	kept = json_dumps(o.kept_gks, JSON_COMPACT);
	cr_assert_str_eq(kept, "[\"ConfigMap\",\"PersistentVolumeClaim\"]");
	free(kept);
	cr_assert_eq(json_array_size(o.kept_nss), 0);
	json_decref(o.kept_gks);
	json_decref(o.kept_nss);
	json_decref(gks);
	json_decref(nss);
	json_decref(keep);
	tm_kube_free(k);
}

Test(apply_prune, purge_takes_what_policy_keeps_and_a_dry_run_deletes_nothing)
{
	struct tm_applyset set;
	struct paths p;

	tm_applyset_init(&set, "airflow", "ns");
	listing_paths(&p, &set);
	const struct exchange ex[] = {
		DISCOVERY_CORE,
		{ "GET", p.cm_ns, 200, LIST(CM("kept", ",\"annotations\":{\"" TM_POLICY_ANNOTATION "\":\"keep\"}")), 0, 0 },
		{ "GET", p.pvc_ns, 200, LIST("{\"metadata\":{\"name\":\"data\",\"namespace\":\"ns\"}}"), 0, 0 },
		/* the server checks the deletions; none is awaited */
		{ "DELETE", "/api/v1/namespaces/ns/persistentvolumeclaims/data?propagationPolicy=Background&dryRun=All", 200,
		  "{}", 0, 0 },
		{ "DELETE", "/api/v1/namespaces/ns/configmaps/kept?propagationPolicy=Background&dryRun=All", 200, "{}", 0, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	json_t *gks = json_pack("[s,s]", "ConfigMap", "PersistentVolumeClaim"), *nss = json_array();
	struct tm_prune_opts o = { .namespace = "ns", .purge = true, .dry_run = true, .wait = true };
	struct tm_prune_result res;
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_apply_prune(&res, k, &set, gks, nss, NULL, &o, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(s.next, TM_ARRAY_LEN(ex), "every exchange made, in order");
	cr_assert_eq(res.deleted, 2);
	cr_assert_eq(res.kept, 0);
	json_decref(gks);
	json_decref(nss);
	tm_kube_free(k);
}

Test(apply_prune, a_refused_deletion_is_named_and_stops_before_the_next_phase)
{
	struct tm_applyset set;
	struct paths p;

	tm_applyset_init(&set, "airflow", "ns");
	listing_paths(&p, &set);
	const struct exchange ex[] = {
		DISCOVERY,
		{ "GET", p.cm_ns, 200, LIST(CM("old", "")), 0, 0 },
		{ "GET", p.dep_ns, 200,
		  LIST("{\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\"}},{\"metadata\":{\"name\":\"b\",\"namespace\":\"ns\"}}"),
		  0, 0 },
		/* both of the phase are asked; the refusal stops the run there */
		{ "DELETE", "/apis/apps/v1/namespaces/ns/deployments/a?propagationPolicy=Foreground", 403,
		  "{\"kind\":\"Status\",\"code\":403,\"reason\":\"Forbidden\",\"message\":\"deployments.apps \\\"a\\\" is "
		  "forbidden: User \\\"ci\\\" cannot delete resource\"}",
		  0, 0 },
		{ "DELETE", "/apis/apps/v1/namespaces/ns/deployments/b?propagationPolicy=Foreground", 200, "{}", 0, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	json_t *gks = json_pack("[s,s]", "ConfigMap", "Deployment.apps"), *nss = json_array();
	struct tm_prune_opts o = { .namespace = "ns", .wait = true };
	struct tm_prune_result res;
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_lt(tm_apply_prune(&res, k, &set, gks, nss, NULL, &o, &err), 0);
	cr_assert_eq(s.next, TM_ARRAY_LEN(ex), "nothing after the failed phase");
	cr_assert(strstr(tm_err_msg(&err), "prune Deployment ns/a: ") && strstr(tm_err_msg(&err), "cannot delete"), "%s",
		  tm_err_msg(&err));
	cr_assert_eq(res.deleted, 1);
	json_decref(gks);
	json_decref(nss);
	tm_kube_free(k);
}

Test(apply_prune, a_kind_no_longer_served_has_nothing_to_prune)
{
	struct tm_applyset set;
	struct paths p;

	tm_applyset_init(&set, "airflow", "ns");
	listing_paths(&p, &set);
	const struct exchange ex[] = {
		DISCOVERY_CORE,
		{ "GET", p.cm_ns, 200, EMPTY, 0, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	/* its CRD was removed since the last run: no group to ask, no listing */
	json_t *gks = json_pack("[s,s]", "ServiceMonitor.monitoring.coreos.com", "ConfigMap"), *nss = json_array();
	struct tm_prune_opts o = { .namespace = "ns" };
	struct tm_prune_result res;
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_apply_prune(&res, k, &set, gks, nss, NULL, &o, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(s.next, TM_ARRAY_LEN(ex), "every exchange made, in order");
	cr_assert_eq(res.deleted + res.kept + res.skipped, 0);
	json_decref(gks);
	json_decref(nss);
	tm_kube_free(k);
}
