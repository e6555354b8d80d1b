/* YAML out: what we write reads back as exactly the same value, and looks like what
 * kubectl users expect (sorted keys, literal blocks for multi-line text). */
#include "../testutil.h"
#include "tarmac/doc.h"

static char *emit(json_t *v)
{
	struct tm_buf b = TM_BUF_INIT("yaml", 1 << 20);
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_doc_emit_yaml(&b, v, 0, &err), 0, "%s", tm_err_msg(&err));
	return tm_buf_detach(&b);
}

static void roundtrip(json_t *v)
{
	char *body = emit(v), *text = NULL;
	struct tm_err err;
	json_t *back = NULL;

	cr_assert(asprintf(&text, "%s\n", body) > 0); /* callers end the last line */
	free(body);
	tm_err_init(&err);
	cr_assert_eq(tm_doc_parse_yaml(&back, text, strlen(text), "emitted", &err), 0, "%s\n---\n%s",
		     tm_err_msg(&err), text);
	cr_assert(json_equal(v, back), "round trip changed the value:\n%s", text);
	json_decref(back);
	free(text);
}

Test(doc_emit, tricky_strings_survive_a_round_trip)
{
	const char *strs[] = { "", "yes", "No", "on", "OFF", "y", "~", "null", "true", "1", "1.0", "0x1F", "0o7",
			       "1e3", ".inf", "-", "-x", "#x", "a: b", "a #b", " lead", "trail ", "@at", "`tick",
			       "{x}", "[x]", "*star", "&amp", "!bang", "%pct", "'single'", "\"double\"",
			       "line1\nline2\n", "no newline\nat end", "two\n\n", "tab\tin", "cr\r\n", "\x01ctl",
			       "ünïcode", "app.kubernetes.io/name", "checksum/config", "nel\xc2\x85x", "ls\xe2\x80\xa8x",
			       "ps\xe2\x80\xa9x", "multi\nline\xe2\x80\xa8with ls\n" };
	json_t *obj = json_object(), *arr = json_array();

	for (size_t i = 0; i < TM_ARRAY_LEN(strs); i++) {
		json_object_set_new(obj, strs[i], json_string(strs[i]));
		json_array_append_new(arr, json_string(strs[i]));
	}
	roundtrip(obj);
	roundtrip(arr);
	json_decref(obj);
	json_decref(arr);
}

Test(doc_emit, structure_and_numbers_survive)
{
	json_t *v = json_loads("{\"b\":[1,-2,3.5,2.0,1e300,true,false,null,[],{},[[1,2],[3]],"
			       "[{\"x\":1,\"y\":[{\"z\":{}}]}]],\"a\":{\"n\":{\"m\":{\"k\":\"v\"}}},\"e\":{},\"f\":[]}",
			       0, NULL);
	cr_assert_not_null(v);
	roundtrip(v);
	json_decref(v);
}

Test(doc_emit, reads_like_kubectl)
{
	json_t *v = json_loads("{\"metadata\":{\"name\":\"web\",\"labels\":{\"app\":\"web\"}},"
			       "\"data\":{\"airflow.cfg\":\"[core]\\nexecutor = KubernetesExecutor\\n\"},"
			       "\"spec\":{\"ports\":[{\"port\":80,\"name\":\"http\"}]}}", 0, NULL);
	char *text = emit(v);

	cr_assert_str_eq(text, "data:\n"
			       "  airflow.cfg: |\n"
			       "    [core]\n"
			       "    executor = KubernetesExecutor\n"
			       "metadata:\n"
			       "  labels:\n"
			       "    app: web\n"
			       "  name: web\n"
			       "spec:\n"
			       "  ports:\n"
			       "  - name: http\n"
			       "    port: 80");
	free(text);
	json_decref(v);
}

Test(doc_emit, indent_applies_to_every_line)
{
	json_t *v = json_loads("{\"a\":{\"b\":1},\"c\":[1]}", 0, NULL);
	struct tm_buf b = TM_BUF_INIT("yaml", 4096);
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_doc_emit_yaml(&b, v, 4, &err), 0);
	cr_assert_str_eq(b.data, "    a:\n      b: 1\n    c:\n    - 1");
	tm_buf_release(&b);
	json_decref(v);
}

/* The examples of RFC 7386, section 3. */
Test(doc_merge_patch, rfc7386_examples)
{
	static const char *const cases[][3] = {
		{ "{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
		{ "{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}" },
		{ "{\"a\":\"b\"}", "{\"a\":null}", "{}" },
		{ "{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}" },
		{ "{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
		{ "{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}" },
		{ "{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}" },
		{ "{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}" },
		{ "[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]" },
		{ "{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]" },
		{ "{\"a\":\"foo\"}", "null", "null" },
		{ "{\"a\":\"foo\"}", "\"bar\"", "\"bar\"" },
		{ "{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}" },
		{ "[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}" },
		{ "{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}" },
	};
	for (size_t i = 0; i < TM_ARRAY_LEN(cases); i++) {
		json_t *t = json_loads(cases[i][0], JSON_DECODE_ANY, NULL), *p = json_loads(cases[i][1], JSON_DECODE_ANY, NULL);
		json_t *want = json_loads(cases[i][2], JSON_DECODE_ANY, NULL);
		cr_assert(t && p && want, "case %zu", i);
		cr_assert_eq(tm_doc_merge_patch(&t, p), 0);
		cr_assert(json_equal(t, want), "case %zu", i);
		json_decref(t);
		json_decref(p);
		json_decref(want);
	}
}
