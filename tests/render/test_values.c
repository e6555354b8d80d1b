/* Values: Helm's merge rules, --set's syntax, and the origin of every leaf. */
#include "../testutil.h"
#include "render/render_private.h"

static void merge(struct tm_values *v, const char *text, const char *name)
{
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_values_merge_yaml(v, text, strlen(text), name, &err), 0, "%s", tm_err_msg(&err));
}

static void set(struct tm_values *v, const char *arg, enum tm_set_kind kind)
{
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_values_set(v, arg, kind, &err), 0, "%s", tm_err_msg(&err));
}

static void tree_is(struct tm_values *v, const char *json)
{
	json_t *want = json_loads(json, 0, NULL);
	char *got = json_dumps(v->tree, JSON_COMPACT | JSON_SORT_KEYS);

	cr_assert_not_null(want, "bad expectation %s", json);
	cr_assert(json_equal(v->tree, want), "got %s\nwant %s", got, json);
	free(got);
	json_decref(want);
}

static const char *origin(struct tm_values *v, const char *ptr)
{
	return json_string_value(json_object_get(v->origin, ptr));
}

Test(render_values, helm_merge_rules)
{
	struct tm_values v;

	tm_values_init(&v);
	merge(&v, "scheduler:\n  replicas: 1\n  env: [a, b]\n  resources: {cpu: 1}\nstatsd: {enabled: true}\n",
	      "values.yaml");
	merge(&v, "scheduler:\n  replicas: 2\n  env: [c]\n  resources: null\nstatsd: {extra: 1}\n", "prod.yaml");
	tree_is(&v, "{\"scheduler\":{\"replicas\":2,\"env\":[\"c\"]},\"statsd\":{\"enabled\":true,\"extra\":1}}");
	cr_assert_str_eq(origin(&v, "/scheduler/replicas"), "prod.yaml:2:13");
	cr_assert_str_eq(origin(&v, "/scheduler/env/0"), "prod.yaml:3:9");
	cr_assert_null(origin(&v, "/scheduler/env/1"), "the replaced list's origins are gone");
	cr_assert_null(origin(&v, "/scheduler/resources/cpu"), "deleted keys have no origin");
	cr_assert_str_eq(origin(&v, "/statsd/enabled"), "values.yaml:5:19");
	cr_assert_str_eq(origin(&v, "/statsd/extra"), "prod.yaml:5:17");
	tm_values_release(&v);
}

Test(render_values, set_syntax)
{
	struct tm_values v;

	tm_values_init(&v);
	merge(&v, "a: {keep: 1, gone: 2}\nlist: [x, y]\n", "values.yaml");
	set(&v, "a.b=true,a.n=42,a.s=0123,a.neg=-5,a.f=1.5,a.gone=null", TM_SET_TYPED);
	set(&v, "tags={x,2,false},list[3]=z", TM_SET_TYPED);
	set(&v, "labels.app\\.kubernetes\\.io/name=airflow,esc=a\\,b", TM_SET_TYPED);
	set(&v, "str=true,str2=7", TM_SET_STRING);
	set(&v, "deep[1].name=w", TM_SET_TYPED);
	tree_is(&v, "{\"a\":{\"keep\":1,\"b\":true,\"n\":42,\"s\":\"0123\",\"neg\":-5,\"f\":\"1.5\"},"
		    "\"list\":[\"x\",\"y\",null,\"z\"],\"tags\":[\"x\",2,false],"
		    "\"labels\":{\"app.kubernetes.io/name\":\"airflow\"},\"esc\":\"a,b\","
		    "\"str\":\"true\",\"str2\":\"7\",\"deep\":[null,{\"name\":\"w\"}]}");
	cr_assert_str_eq(origin(&v, "/a/n"), "--set a.n", "origins name the key, never the value");
	cr_assert_str_eq(origin(&v, "/labels/app.kubernetes.io~1name"), "--set labels.app\\.kubernetes\\.io/name");
	cr_assert_str_eq(origin(&v, "/str"), "--set-string str");
	cr_assert_str_eq(origin(&v, "/a/keep"), "values.yaml:1:11");
	cr_assert_null(origin(&v, "/a/gone"));
	tm_values_release(&v);
}

Test(render_values, set_errors_point_at_the_mistake)
{
	const struct {
		const char *arg, *msg;
	} bad[] = {
		{ "novalue", "--set 'novalue': expected '=' and a value at column 8" },
		{ "=x", "expected a key name at column 1" },
		{ "a..b=1", "expected a key name at column 3" },
		{ "a[x]=1", "expected a list index from 0 to 10000" },
		{ "a[99999]=1", "expected a list index from 0 to 10000" },
		{ "a={x,y", "--set 'a=...': expected '}' to close the list" },
		{ "db.password=s3cr\\", "--set 'db.password=...': a '\\' at the end escapes nothing" },
		{ "a={x}y", "expected ',' or the end after '}'" },
		{ "a=b\\", "a '\\' at the end escapes nothing" },
		{ "", "--set needs key=value" },
		{ "sched\xd2ler.replicas=3", "the key is not valid UTF-8 text" }, /* found by fuzz_values */
	};
	for (size_t i = 0; i < TM_ARRAY_LEN(bad); i++) {
		struct tm_values v;
		struct tm_err err;

		tm_values_init(&v);
		tm_err_init(&err);
		cr_assert_eq(tm_values_set(&v, bad[i].arg, TM_SET_TYPED, &err), TM_EINVALID, "%s", bad[i].arg);
		cr_assert(strstr(tm_err_msg(&err), bad[i].msg) != NULL, "%s: got '%s'", bad[i].arg, tm_err_msg(&err));
		tm_values_release(&v);
	}
}

Test(render_values, set_into_a_scalar_is_refused)
{
	struct tm_values v;
	struct tm_err err;

	tm_values_init(&v);
	merge(&v, "a: text\nl: [1]\n", "values.yaml");
	tm_err_init(&err);
	cr_assert_eq(tm_values_set(&v, "a.b=1", TM_SET_TYPED, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "'b' is inside something that is not a mapping") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_values_set(&v, "a[0]=1", TM_SET_TYPED, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "index [0] is used on something that is not a list") != NULL);
	tm_values_release(&v);
}

Test(render_values, set_file_text)
{
	struct tm_values v;
	struct tm_err err;

	tm_values_init(&v);
	tm_err_init(&err);
	cr_assert_eq(tm_values_set_text(&v, "dags.gitSync.knownHosts", "host ssh-ed25519 AAAA\n", 22,
					"--set-file dags.gitSync.knownHosts=kh", &err), 0, "%s", tm_err_msg(&err));
	tree_is(&v, "{\"dags\":{\"gitSync\":{\"knownHosts\":\"host ssh-ed25519 AAAA\\n\"}}}");
	cr_assert_str_eq(origin(&v, "/dags/gitSync/knownHosts"), "--set-file dags.gitSync.knownHosts=kh");
	cr_assert_eq(tm_values_set_text(&v, "a=b", "x", 1, "--set-file a=b", &err), TM_EINVALID);
	/* a NUL would cut the value short wherever it is used as text */
	cr_assert_eq(tm_values_set_text(&v, "labels.team", "data\0ops", 8, "--set-file labels.team=t", &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "--set-file labels.team=t: the content holds a NUL character at byte 4") != NULL,
		  "%s", tm_err_msg(&err));
	cr_assert_null(json_object_get(v.tree, "labels"));
	tm_values_release(&v);
}

/* Origins are dropped by walking what is replaced, not every origin: 100,000 keys merge
 * in linear time, and replacing a subtree still forgets exactly its origins. */
Test(render_values, many_keys_merge_in_linear_time, .timeout = 20)
{
	struct tm_buf b = TM_BUF_INIT("yaml", 16u << 20);
	struct tm_values v;
	struct tm_err err;

	cr_assert_eq(tm_buf_puts(&b, "big:\n", NULL), 0);
	for (int i = 0; i < 100000; i++)
		cr_assert_eq(tm_buf_printf(&b, NULL, "  k%d: {x: %d}\n", i, i), 0);
	tm_values_init(&v);
	tm_err_init(&err);
	cr_assert_eq(tm_values_merge_yaml(&v, b.data, b.len, "a.yaml", &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(origin(&v, "/big/k99999/x"), "a.yaml:100001:15");
	cr_assert_eq(tm_values_merge_yaml(&v, "big: {k5: 1, k7: null}\n", 23, "b.yaml", &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(origin(&v, "/big/k5"), "b.yaml:1:11");
	cr_assert_null(json_object_get(v.origin, "/big/k5/x"));
	cr_assert_null(json_object_get(v.origin, "/big/k7/x"));
	cr_assert_str_eq(origin(&v, "/big/k6/x"), "a.yaml:8:11");
	tm_values_release(&v);
	tm_buf_release(&b);
}

Test(render_values, bad_files_are_named)
{
	struct tm_values v;
	struct tm_err err;

	tm_values_init(&v);
	tm_err_init(&err);
	cr_assert_eq(tm_values_merge_yaml(&v, "- a\n- b\n", 8, "list.yaml", &err), TM_EINVALID);
	cr_assert_str_eq(tm_err_msg(&err), "list.yaml: values must be a mapping at the top, not a list");
	cr_assert_eq(tm_values_merge_yaml(&v, "a: [\n", 5, "broken.yaml", &err), TM_EINVALID);
	cr_assert(strncmp(tm_err_msg(&err), "broken.yaml:2:1: ", 17) == 0, "%s", tm_err_msg(&err));
	merge(&v, "", "empty.yaml");
	tree_is(&v, "{}");
	tm_values_release(&v);
}
