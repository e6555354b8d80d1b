/* Waiting for a phase (wait.c, through tm_apply and tm_apply_wait): the awaited object's
 * collection and its namespace's pods are listed then watched; a wait names the worst
 * pod's cause; a verdict waiting cannot fix ends the run at once; a deadline names what
 * was still awaited and why. */
#include "../testutil.h"
#include "apply/apply_private.h"
#include "../kube/scripted.h"
#include "tarmac/doc.h"

#define DEPS "/apis/apps/v1/namespaces/ns/deployments"
#define ONE "?fieldSelector=metadata.name%3Dd"
#define PODS "/api/v1/namespaces/ns/pods"
#define WATCH(rv) "watch=1&allowWatchBookmarks=true&resourceVersion=" rv "&timeoutSeconds=240"

#define META "\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\",\"namespace\":\"ns\","
#define WANT_SPEC "\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":{\"app\":\"d\"}}}"
#define SPEC WANT_SPEC ","
/* rolled out, not yet available */
#define NOT_AVAILABLE                                                                                              \
	"{" META "\"generation\":1,\"resourceVersion\":\"4\"}," SPEC "\"status\":{\"observedGeneration\":1,"          \
	"\"replicas\":1,\"updatedReplicas\":1,\"availableReplicas\":0}}"
#define AVAILABLE                                                                                                  \
	"{" META "\"generation\":1,\"resourceVersion\":\"6\"}," SPEC "\"status\":{\"observedGeneration\":1,"          \
	"\"replicas\":1,\"updatedReplicas\":1,\"availableReplicas\":1,\"readyReplicas\":1}}"
#define DEADLINE_EXCEEDED                                                                                          \
	"{" META "\"generation\":1,\"resourceVersion\":\"4\"}," SPEC "\"status\":{\"observedGeneration\":1,"          \
	"\"replicas\":1,\"updatedReplicas\":1,\"conditions\":[{\"type\":\"Progressing\",\"status\":\"False\","         \
	"\"reason\":\"ProgressDeadlineExceeded\",\"message\":\"ReplicaSet \\\"d-1\\\" has timed out progressing.\"}]}}"
#define PULLING_POD                                                                                                \
	"{\"metadata\":{\"name\":\"d-1-x\",\"resourceVersion\":\"3\",\"labels\":{\"app\":\"d\"}},\"status\":{"           \
	"\"phase\":\"Pending\",\"containerStatuses\":[{\"name\":\"a\",\"ready\":false,\"state\":{\"waiting\":{"       \
	"\"reason\":\"ImagePullBackOff\",\"message\":\"Back-off pulling image \\\"reg/a:1\\\"\"}}}]}}"
#define OTHER_POD                                                                                                  \
	"{\"metadata\":{\"name\":\"other\",\"resourceVersion\":\"2\",\"labels\":{\"app\":\"x\"}},\"status\":{"          \
	"\"phase\":\"Pending\",\"containerStatuses\":[{\"name\":\"b\",\"state\":{\"waiting\":{"                        \
	"\"reason\":\"CrashLoopBackOff\"}}}]}}"
#define LIST(rv, items) "{\"metadata\":{\"resourceVersion\":\"" rv "\"},\"items\":[" items "]}"

struct seen {
	char waits[8][512];
	size_t nwaits;
	bool ready;
};

static void record(void *ctx, const struct tm_event *ev)
{
	struct seen *s = ctx;

	if (strcmp(ev->kind, "wait") == 0 && s->nwaits < 8)
		snprintf(s->waits[s->nwaits++], sizeof(s->waits[0]), "%s: %s", ev->subject, ev->msg);
	if (strcmp(ev->kind, "ready") == 0 && ev->subject && strcmp(ev->subject, "Deployment ns/d") == 0)
		s->ready = true;
}

static json_t *wanted(void)
{
	json_t *o = json_loads("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"},"
			       WANT_SPEC "}", 0, NULL);

	cr_assert_not_null(o);
	return json_pack("[o]", o);
}

Test(apply_wait, lists_then_watches_until_the_object_is_ready_naming_its_pods_cause)
{
	const struct exchange ex[] = {
		DISCOVERY_OF_APPS,
		{ "PATCH", DEPS "/d?fieldManager=tarmac", 200, NOT_AVAILABLE, 0, 0 },
		/* one Deployment: its collection narrowed to it; the pods of its namespace */
		{ "GET", DEPS ONE, 200, LIST("5", NOT_AVAILABLE), 0, 0 },
		{ "GET", PODS, 200, LIST("7", PULLING_POD "," OTHER_POD), 0, 0 },
		{ "GET", DEPS ONE "&" WATCH("5"), 200,
		  "{\"type\":\"MODIFIED\",\"object\":" AVAILABLE "}\n", 0, 0 },
		/* the pods' watch (the client runs the streams one by one here): ends at once */
		{ "GET", PODS "?" WATCH("7"), 200, NULL, 0, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	struct seen seen = { 0 };
	struct tm_apply_opts o = { .namespace = "ns", .wait = true, .report = record, .report_ctx = &seen };
	struct tm_apply_result res;
	json_t *objs = wanted();
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_apply(&res, k, objs, &o, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(s.next, TM_ARRAY_LEN(ex), "every exchange made, in order");
	cr_assert_eq(res.waited, 1);
	cr_assert(seen.ready);
	cr_assert_eq(seen.nwaits, 1, "the wait reported once while it did not change");
	/* the counts, then the cause the worst matching pod gives; not the other pod's */
	cr_assert(strstr(seen.waits[0], "Deployment ns/d: 0/1 available; pod d-1-x: ") &&
			  strstr(seen.waits[0], "ImagePullBackOff") && !strstr(seen.waits[0], "CrashLoopBackOff"),
		  "%s", seen.waits[0]);
	json_decref(objs);
	tm_kube_free(k);
}

Test(apply_wait, a_verdict_waiting_cannot_fix_ends_the_run_at_once)
{
	const struct exchange ex[] = {
		DISCOVERY_OF_APPS,
		{ "PATCH", DEPS "/d?fieldManager=tarmac", 200, NOT_AVAILABLE, 0, 0 },
		{ "GET", DEPS ONE, 200, LIST("5", DEADLINE_EXCEEDED), 0, 0 },
		{ "GET", PODS, 200, LIST("7", ""), 0, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	struct tm_apply_opts o = { .namespace = "ns", .wait = true };
	struct tm_apply_result res;
	json_t *objs = wanted();
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_apply(&res, k, objs, &o, &err), TM_ERROR);
	cr_assert_eq(s.next, TM_ARRAY_LEN(ex), "no watch: the list already decided");
	cr_assert(strstr(tm_err_msg(&err), "wait for Deployment ns/d: ProgressDeadlineExceeded: ReplicaSet \"d-1\" has "
					   "timed out progressing."),
		  "%s", tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), "phase '"), "the phase is named: %s", tm_err_msg(&err));
	cr_assert_geq(res.failed_phase, 0);
	json_decref(objs);
	tm_kube_free(k);
}

Test(apply_wait, a_deadline_names_what_was_awaited_and_why)
{
	const struct exchange ex[] = {
		DISCOVERY_OF_APPS,
		{ "GET", DEPS ONE, 200, LIST("5", NOT_AVAILABLE), 0, 0 },
		{ "GET", PODS, 200, LIST("7", PULLING_POD), 0, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	struct tm_apply_opts o = { .namespace = "ns" };
	struct tm_run r = { .k = k, .o = &o };
	struct tm_item *it;
	json_t *objs = wanted();
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_apply_plan(&r, objs, &err), 0, "%s", tm_err_msg(&err));
	it = &r.items[0];
	/* the deadline has passed: the lists are still judged, then the wait ends */
	cr_assert_eq(tm_apply_wait(k, &it, 1, tm_now_ms() - 1, 90000, &o, &err), TM_ETIMEOUT);
	cr_assert_eq(s.next, TM_ARRAY_LEN(ex));
	cr_assert(strstr(tm_err_msg(&err), "wait for Deployment ns/d: 0/1 available; pod d-1-x: ") &&
			  strstr(tm_err_msg(&err), "ImagePullBackOff") && strstr(tm_err_msg(&err), "(not ready after 90 s)"),
		  "%s", tm_err_msg(&err));
	cr_assert_not(it->ready);
	tm_run_release(&r);
	json_decref(objs);
	tm_kube_free(k);
}

Test(apply_wait, objects_of_one_kind_share_a_collection_and_a_deleted_one_fails)
{
	const struct exchange ex[] = {
		DISCOVERY_OF_APPS,
		{ "GET", DEPS, 200, LIST("5", NOT_AVAILABLE), 0, 0 },
		{ "GET", PODS, 200, LIST("7", ""), 0, 0 },
		{ "GET", DEPS "?" WATCH("5"), 200, "{\"type\":\"DELETED\",\"object\":" NOT_AVAILABLE "}\n", 0, 0 },
		{ "GET", PODS "?" WATCH("7"), 200, NULL, 0, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	struct tm_apply_opts o = { .namespace = "ns" };
	struct tm_run r = { .k = k, .o = &o };
	struct tm_item *its[2];
	json_t *objs = wanted(), *second = json_deep_copy(json_array_get(objs, 0));
	struct tm_err err;

	json_object_set_new(json_object_get(second, "metadata"), "name", json_string("e"));
	json_array_append_new(objs, second);
	tm_err_init(&err);
	cr_assert_eq(tm_apply_plan(&r, objs, &err), 0, "%s", tm_err_msg(&err));
	its[0] = &r.items[0];
	its[1] = &r.items[1];
	cr_assert_eq(tm_apply_wait(k, its, 2, tm_now_ms() + 239500, 240000, &o, &err), TM_ERROR);
	cr_assert_eq(s.next, TM_ARRAY_LEN(ex), "one collection for both, unnarrowed");
	cr_assert(strstr(tm_err_msg(&err), "wait for Deployment ns/d: deleted while tarmac waited for it"), "%s",
		  tm_err_msg(&err));
	tm_run_release(&r);
	json_decref(objs);
	tm_kube_free(k);
}
