/* The memory bound on JSON from outside: the estimate is never below what jansson
 * really allocates (counted through its allocator hooks), and structure-heavy texts
 * are refused while real Kubernetes answers pass with room to spare. */
#include "../testutil.h"
#include "tarmac/doc.h"

/* jansson's allocations as the estimate counts them: rounded up to 16, plus 16. */
static size_t live, peak;

static void *count_malloc(size_t n)
{
	size_t cost = ((n + 15) & ~(size_t)15) + 16;
	size_t *p = malloc(n + 16);

	if (!p)
		return NULL;
	p[0] = cost;
	live += cost;
	if (live > peak)
		peak = live;
	return p + 2;
}

static void count_free(void *q)
{
	size_t *p = q;

	if (!p)
		return;
	live -= p[-2];
	free(p - 2);
}

/* What parsing text really took at its peak, in the estimate's terms. */
static size_t parse_peak(const char *text, size_t len)
{
	json_error_t jerr;
	json_t *v;

	json_set_alloc_funcs(count_malloc, count_free);
	live = peak = 0;
	v = json_loadb(text, len, 0, &jerr);
	json_decref(v);
	json_set_alloc_funcs(malloc, free);
	return peak;
}

/* n copies of unit between open and close, comma-separated. */
static char *repeat(const char *open, const char *unit, size_t n, const char *close, size_t *len)
{
	struct tm_buf b = TM_BUF_INIT("json", SIZE_MAX / 2);

	cr_assert_eq(tm_buf_puts(&b, open, NULL), 0);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(tm_buf_printf(&b, NULL, i ? ",%s" : "%s", unit), 0);
	cr_assert_eq(tm_buf_puts(&b, close, NULL), 0);
	*len = b.len;
	return tm_buf_detach(&b);
}

static void assert_bound(const char *what, const char *text, size_t len)
{
	size_t real = parse_peak(text, len), est = tm_json_cost(text, len);

	cr_assert_geq(est, real, "%s: estimated %zu bytes, jansson took %zu", what, est, real);
	cr_assert_leq(est, 3 * real + 8192, "%s: estimated %zu bytes, jansson took only %zu", what, est, real);
}

Test(doc_json_bound, estimate_is_an_upper_bound_for_every_shape)
{
	static const struct { const char *open, *unit, *close; } shapes[] = {
		{ "[", "{}", "]" },
		{ "[", "[]", "]" },
		{ "[", "\"\"", "]" },
		{ "[", "1", "]" },
		{ "[", "-1.5e3", "]" },
		{ "[", "true", "]" },
		{ "[", "null", "]" },
		{ "[", "\"a string with \\\" and \\\\ and \\u00e9\"", "]" },
		{ "[", "{\"a\":{},\"b\":[],\"c\":\"x\",\"d\":1}", "]" },
		{ "[", "[[[[]]]]", "]" },
		{ "{\"k\":[", "{\"name\":\"x\"}", "]}" },
	};

	for (size_t i = 0; i < TM_ARRAY_LEN(shapes); i++)
		for (size_t n = 1; n <= 20000; n *= 10) {
			size_t len;
			char *t = repeat(shapes[i].open, shapes[i].unit, n, shapes[i].close, &len);
			char what[128];

			snprintf(what, sizeof(what), "%zu x %s", n, shapes[i].unit);
			assert_bound(what, t, len);
			free(t);
		}
}

Test(doc_json_bound, many_keys_and_a_long_string)
{
	struct tm_buf b = TM_BUF_INIT("json", 64u << 20);
	char *big;

	cr_assert_eq(tm_buf_puts(&b, "{", NULL), 0);
	for (int i = 0; i < 50000; i++)
		cr_assert_eq(tm_buf_printf(&b, NULL, "%s\"key-%d\":{}", i ? "," : "", i), 0);
	cr_assert_eq(tm_buf_puts(&b, "}", NULL), 0);
	assert_bound("50000 keys", b.data, b.len);
	tm_buf_clear(&b);
	cr_assert_not_null(big = malloc(3u << 20));
	memset(big, 'x', 3u << 20);
	cr_assert_eq(tm_buf_printf(&b, NULL, "{\"data\":\"%.*s\"}", 3 << 20, big), 0);
	assert_bound("a 3 MiB string", b.data, b.len);
	free(big);
	tm_buf_release(&b);
}

Test(doc_json_bound, a_truncated_text_is_bounded_too)
{
	size_t len;
	char *t = repeat("[", "{\"a\":[1,2,{\"b\":\"c\"}]}", 5000, "]", &len);

	assert_bound("cut in half", t, len / 2);
	assert_bound("an unclosed string", "[\"abc", 5);
	free(t);
}

Test(doc_json_bound, twenty_megabytes_of_empty_objects_is_refused_at_once)
{
	size_t len;
	char *t = repeat("[", "{}", (20u << 20) / 3, "]", &len);
	struct tm_err err;
	int64_t t0 = tm_now_ms();

	tm_err_init(&err);
	cr_assert_gt(len, 6u << 20);
	cr_assert_eq(tm_json_check(t, len, &err), TM_ELIMIT);
	cr_assert(strstr(tm_err_msg(&err), "would take about") != NULL, "%s", tm_err_msg(&err));
	cr_assert_lt(tm_now_ms() - t0, 2000, "the check is one pass over the text");
	free(t);
}

Test(doc_json_bound, small_answers_always_pass_and_the_budget_is_capped)
{
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_json_check("{}", 2, &err), 0);
	cr_assert_eq(tm_json_budget(0), TM_JSON_MEM_FLOOR);
	cr_assert_eq(tm_json_budget(1u << 20), TM_JSON_MEM_FLOOR + TM_JSON_MEM_RATIO * (1u << 20));
	cr_assert_eq(tm_json_budget(SIZE_MAX / 2), TM_JSON_MEM_MAX);
}

/* A real answer's shape: a list of Pods as the API server sends them (managedFields,
 * labels, status conditions), repeated. It passes, with the estimate (about 14 bytes
 * per byte) well under the budget's 32. */
Test(doc_json_bound, kubernetes_lists_pass_with_room)
{
	static const char *pod =
		"{\"metadata\":{\"name\":\"airflow-scheduler-7d9f8b6c5d-x2x9q\",\"generateName\":\"airflow-scheduler-7d9f8b6c5d-\","
		"\"namespace\":\"airflow\",\"uid\":\"0b8a4c7e-2f1d-4f6a-9c3e-1a2b3c4d5e6f\",\"resourceVersion\":\"123456\","
		"\"creationTimestamp\":\"2026-12-02T18:00:00Z\",\"labels\":{\"app.kubernetes.io/name\":\"airflow\","
		"\"component\":\"scheduler\",\"pod-template-hash\":\"7d9f8b6c5d\",\"release\":\"airflow\"},"
		"\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"airflow-scheduler-7d9f8b6c5d\","
		"\"uid\":\"9c3e1a2b-3c4d-5e6f-0b8a-4c7e2f1d4f6a\",\"controller\":true,\"blockOwnerDeletion\":true}],"
		"\"managedFields\":[{\"manager\":\"kube-controller-manager\",\"operation\":\"Update\",\"apiVersion\":\"v1\","
		"\"time\":\"2026-12-02T18:00:00Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{\"f:generateName\":{},"
		"\"f:labels\":{\".\":{},\"f:component\":{},\"f:pod-template-hash\":{},\"f:release\":{}}},\"f:spec\":{\"f:containers\":"
		"{\"k:{\\\"name\\\":\\\"scheduler\\\"}\":{\".\":{},\"f:image\":{},\"f:imagePullPolicy\":{},\"f:name\":{}}}}}}]},"
		"\"spec\":{\"containers\":[{\"name\":\"scheduler\",\"image\":\"apache/airflow:3.0.2\",\"args\":[\"scheduler\"],"
		"\"env\":[{\"name\":\"AIRFLOW__CORE__EXECUTOR\",\"value\":\"KubernetesExecutor\"}],\"resources\":{\"requests\":"
		"{\"cpu\":\"500m\",\"memory\":\"1Gi\"}},\"volumeMounts\":[{\"name\":\"config\",\"mountPath\":\"/opt/airflow/airflow.cfg\","
		"\"subPath\":\"airflow.cfg\",\"readOnly\":true}],\"terminationMessagePath\":\"/dev/termination-log\","
		"\"imagePullPolicy\":\"IfNotPresent\"}],\"restartPolicy\":\"Always\",\"terminationGracePeriodSeconds\":30,"
		"\"serviceAccountName\":\"airflow-scheduler\",\"nodeName\":\"node-1\"},\"status\":{\"phase\":\"Running\","
		"\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"2026-12-02T18:00:10Z\"}],"
		"\"podIP\":\"10.0.0.12\",\"startTime\":\"2026-12-02T18:00:00Z\",\"containerStatuses\":[{\"name\":\"scheduler\","
		"\"ready\":true,\"restartCount\":0,\"image\":\"apache/airflow:3.0.2\",\"started\":true}]}}";
	size_t len;
	char *t = repeat("{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[", pod,
			 4000, "]}", &len);
	struct tm_err err;
	size_t cost = tm_json_cost(t, len);

	tm_err_init(&err);
	cr_assert_gt(len, 6u << 20, "%zu bytes", len);
	cr_assert_eq(tm_json_check(t, len, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_lt(cost, len * TM_JSON_MEM_RATIO * 2 / 3, "%zu bytes of estimate for %zu of text: %.1f per byte", cost, len,
		     (double)cost / (double)len);
	free(t);
}
