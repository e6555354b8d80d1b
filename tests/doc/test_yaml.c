/* YAML -> JSON: core-schema scalars, strictness about bad input, and the limits
 * that keep hostile input (alias bombs, deep nesting) from hurting us. */
#include "../testutil.h"
#include "tarmac/doc.h"

static json_t *parse_ok(const char *text)
{
	struct tm_err err;
	json_t *v = NULL;

	tm_err_init(&err);
	cr_assert_eq(tm_doc_parse_yaml(&v, text, strlen(text), "t.yaml", &err), 0, "%s", tm_err_msg(&err));
	return v;
}

static int parse_err(const char *text, struct tm_err *err)
{
	json_t *v = NULL;
	int rc;

	tm_err_init(err);
	rc = tm_doc_parse_yaml(&v, text, strlen(text), "t.yaml", err);
	cr_assert_null(v, "no output on failure");
	return rc;
}

Test(doc_yaml, core_schema_scalars)
{
	json_t *v = parse_ok("a: ~\nb: null\nc: true\nd: False\ne: 42\nf: -7\ng: 0x1F\nh: 0o17\n"
			     "i: 1.5\nj: 2e3\nk: \"true\"\nl: '42'\nm: yes\nn: 1.2.3\no: .inf\np:\n"
			     "q: 99999999999999999999999\nr: !!str 12\n");

	cr_assert(json_is_null(json_object_get(v, "a")));
	cr_assert(json_is_null(json_object_get(v, "b")));
	cr_assert(json_is_true(json_object_get(v, "c")));
	cr_assert(json_is_false(json_object_get(v, "d")));
	cr_assert_eq(json_integer_value(json_object_get(v, "e")), 42);
	cr_assert_eq(json_integer_value(json_object_get(v, "f")), -7);
	cr_assert_eq(json_integer_value(json_object_get(v, "g")), 31);
	cr_assert_eq(json_integer_value(json_object_get(v, "h")), 15);
	cr_assert_float_eq(json_real_value(json_object_get(v, "i")), 1.5, 1e-9);
	cr_assert_float_eq(json_real_value(json_object_get(v, "j")), 2000.0, 1e-9);
	cr_assert_str_eq(json_string_value(json_object_get(v, "k")), "true", "quoted stays a string");
	cr_assert_str_eq(json_string_value(json_object_get(v, "l")), "42");
	cr_assert_str_eq(json_string_value(json_object_get(v, "m")), "yes", "YAML 1.2: yes is a string");
	cr_assert_str_eq(json_string_value(json_object_get(v, "n")), "1.2.3");
	cr_assert_str_eq(json_string_value(json_object_get(v, "o")), ".inf");
	cr_assert(json_is_null(json_object_get(v, "p")));
	cr_assert_str_eq(json_string_value(json_object_get(v, "q")), "99999999999999999999999",
			 "digits are never lost");
	cr_assert_str_eq(json_string_value(json_object_get(v, "r")), "12", "!!str tag wins");
	json_decref(v);
}

Test(doc_yaml, nested_structures_and_block_scalars)
{
	json_t *v = parse_ok("spec:\n  containers:\n  - name: web\n    args: [a, b]\n  script: |\n    line1\n    line2\n");
	json_t *c = json_array_get(json_object_get(json_object_get(v, "spec"), "containers"), 0);

	cr_assert_str_eq(json_string_value(json_object_get(c, "name")), "web");
	cr_assert_eq(json_array_size(json_object_get(c, "args")), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "spec"), "script")), "line1\nline2\n");
	json_decref(v);
}

Test(doc_yaml, empty_input_is_null)
{
	json_t *v = parse_ok("");
	cr_assert(json_is_null(v));
	json_decref(v);
	v = parse_ok("# only a comment\n");
	cr_assert(json_is_null(v));
	json_decref(v);
}

Test(doc_yaml, duplicate_keys_are_errors_with_position)
{
	struct tm_err err;

	cr_assert_eq(parse_err("a: 1\nb: 2\na: 3\n", &err), TM_EINVALID);
	cr_assert_str_eq(tm_err_msg(&err), "t.yaml:3:1: duplicate key: a");
}

Test(doc_yaml, syntax_errors_name_line_and_column)
{
	struct tm_err err;

	cr_assert_eq(parse_err("a: 1\nb: [1, 2\nc: 3\n", &err), TM_EINVALID);
	cr_assert(strncmp(tm_err_msg(&err), "t.yaml:", 7) == 0, "%s", tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), "did not find expected") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(parse_err("a: b: c\n", &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "t.yaml:1:") != NULL, "%s", tm_err_msg(&err));
}

Test(doc_yaml, complex_keys_are_refused)
{
	struct tm_err err;

	cr_assert_eq(parse_err("? [a, b]\n: 1\n", &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "mapping key must be a plain value") != NULL, "%s", tm_err_msg(&err));
}

Test(doc_yaml, aliases_are_copies_and_merge_keys_work)
{
	json_t *v = parse_ok("base: &b {cpu: 1, mem: 2}\nworker:\n  <<: *b\n  mem: 4\nsame: *b\n");
	json_t *w = json_object_get(v, "worker");

	cr_assert_eq(json_integer_value(json_object_get(w, "cpu")), 1);
	cr_assert_eq(json_integer_value(json_object_get(w, "mem")), 4, "explicit keys win over merged ones");
	cr_assert(json_equal(json_object_get(v, "same"), json_object_get(v, "base")));
	cr_assert_neq(json_object_get(v, "same"), json_object_get(v, "base"), "a copy, not shared");
	json_decref(v);
}

Test(doc_yaml, unknown_alias_is_an_error)
{
	struct tm_err err;

	cr_assert_eq(parse_err("a: *nope\n", &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "unknown alias: nope") != NULL, "%s", tm_err_msg(&err));
}

Test(doc_yaml, alias_bomb_hits_the_budget)
{
	struct tm_err err;
	const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
			   "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
			   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
			   "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
			   "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
			   "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";

	cr_assert_eq(parse_err(bomb, &err), TM_ELIMIT);
	cr_assert(strstr(tm_err_msg(&err), "aliases expand to too many nodes") != NULL, "%s", tm_err_msg(&err));
}

Test(doc_yaml, nesting_depth_is_capped)
{
	struct tm_err err;
	char deep[512];
	size_t n = 0;

	for (int i = 0; i < 150; i++)
		deep[n++] = '[';
	deep[n] = '\0';
	cr_assert_eq(parse_err(deep, &err), TM_ELIMIT);
	cr_assert(strstr(tm_err_msg(&err), "nested deeper than the limit") != NULL, "%s", tm_err_msg(&err));
}

Test(doc_yaml, one_document_api_refuses_two)
{
	struct tm_err err;

	cr_assert_eq(parse_err("a: 1\n---\nb: 2\n", &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "expected one YAML document") != NULL, "%s", tm_err_msg(&err));
}

Test(doc_yaml, stream_keeps_order_and_drops_empty_documents)
{
	const char *text = "---\nkind: A\n---\n---\n# nothing\n---\nkind: B\n";
	struct tm_err err;
	json_t *docs = NULL;

	tm_err_init(&err);
	cr_assert_eq(tm_doc_parse_yaml_stream(&docs, text, strlen(text), "m.yaml", &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(json_array_size(docs), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(docs, 0), "kind")), "A");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(docs, 1), "kind")), "B");
	json_decref(docs);
}

Test(doc_yaml, invalid_utf8_is_refused)
{
	struct tm_err err;

	cr_assert_eq(parse_err("a: \"\\xff\"\nb: \xc3\x28\n", &err), TM_EINVALID);
}

Test(doc_yaml, marks_say_where_every_node_starts)
{
	const char *text = "scheduler:\n  replicas: 2\n  env:\n  - name: A\n\"a/b~c\": x\ne: {}\nl: [*x]\n";
	const char *anchored = "a: &x {k: 1}\nb: *x\n";
	struct tm_err err;
	json_t *v = NULL, *marks = NULL, *want;

	tm_err_init(&err);
	cr_assert_eq(tm_doc_parse_yaml_marked(&v, &marks, text, strlen(text), "prod.yaml", &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "prod.yaml:7:5: unknown alias") != NULL, "%s", tm_err_msg(&err));
	cr_assert_null(v);
	text = "scheduler:\n  replicas: 2\n  env:\n  - name: A\n\"a/b~c\": x\ne: {}\nl: []\n";
	cr_assert_eq(tm_doc_parse_yaml_marked(&v, &marks, text, strlen(text), "prod.yaml", &err), 0, "%s",
		     tm_err_msg(&err));
	/* a tree beside the document: positions at the leaves (empty collections included),
	 * and each mapping entry's key where the key itself is written */
	want = json_loads("{\"scheduler\": [\"prod.yaml:1:1\", {\"replicas\": [\"prod.yaml:2:3\", \"prod.yaml:2:13\"],"
			  " \"env\": [\"prod.yaml:3:3\", [{\"name\": [\"prod.yaml:4:5\", \"prod.yaml:4:11\"]}]]}],"
			  " \"a/b~c\": [\"prod.yaml:5:1\", \"prod.yaml:5:10\"], \"e\": [\"prod.yaml:6:1\", \"prod.yaml:6:4\"],"
			  " \"l\": [\"prod.yaml:7:1\", \"prod.yaml:7:4\"]}", 0, NULL);
	cr_assert_not_null(want);
	cr_assert(json_equal(marks, want), "%s", json_dumps(marks, JSON_SORT_KEYS));
	json_decref(want);
	json_decref(v);
	json_decref(marks);
	/* an alias is marked where it stands */
	cr_assert_eq(tm_doc_parse_yaml_marked(&v, &marks, anchored, strlen(anchored), "a.yaml", &err), 0);
	want = json_loads("{\"a\": [\"a.yaml:1:1\", {\"k\": [\"a.yaml:1:8\", \"a.yaml:1:11\"]}],"
			  " \"b\": [\"a.yaml:2:1\", \"a.yaml:2:4\"]}", 0, NULL);
	cr_assert_not_null(want);
	cr_assert(json_equal(marks, want), "%s", json_dumps(marks, JSON_SORT_KEYS));
	json_decref(want);
	json_decref(v);
	json_decref(marks);
}

/* A "\0" escape would be kept by jansson and cut every C string made from it: a label
 * value silently truncated. It is refused where it is written. */
Test(doc_yaml, nul_in_a_value_is_refused_with_its_position)
{
	struct tm_err err;

	cr_assert_eq(parse_err("labels:\n  team: \"data\\0ops\"\n", &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "t.yaml:2:9: a value contains a NUL character") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(parse_err("- [a, \"\\x00\"]\n", &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "t.yaml:1:7:") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(parse_err("\"k\\0\": v\n", &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "t.yaml:1:1: a mapping key contains a NUL character") != NULL, "%s",
		  tm_err_msg(&err));
}

/* libyaml's reader errors carry a byte offset only: they were all reported at 1:1. */
Test(doc_yaml, reader_errors_name_their_real_line_and_column)
{
	struct tm_err err;

	cr_assert_eq(parse_err("a: 1\nb: caf\xc3\xa9 \xff\n", &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "t.yaml:2:9: invalid leading UTF-8 octet: #xFF") != NULL, "%s",
		  tm_err_msg(&err));
	cr_assert_eq(parse_err("a: 1\r\nb: 2\r\nc: x\x01y\n", &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "t.yaml:3:5: control characters are not allowed: #x1") != NULL, "%s",
		  tm_err_msg(&err));
	cr_assert_eq(parse_err("a: \xc3\x28\n", &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "t.yaml:1:5: invalid trailing UTF-8 octet") != NULL, "%s", tm_err_msg(&err));
}

/* Anchors are found by name in constant time: 200,000 of them, and an alias of the
 * first and of the last, parse at once (they took quadratic time). */
Test(doc_yaml, many_anchors_parse_in_linear_time, .timeout = 20)
{
	struct tm_buf b = TM_BUF_INIT("yaml", 16u << 20);
	struct tm_err err;
	json_t *v = NULL;

	for (int i = 0; i < 200000; i++)
		cr_assert_eq(tm_buf_printf(&b, NULL, "k%x: &a%x v%d\n", i, i, i), 0);
	cr_assert_eq(tm_buf_puts(&b, "first: *a0\nlast: *a30d3f\nagain: &a0 w\nnew: *a0\n", NULL), 0);
	tm_err_init(&err);
	cr_assert_eq(tm_doc_parse_yaml(&v, b.data, b.len, "big.yaml", &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(json_string_value(json_object_get(v, "first")), "v0");
	cr_assert_str_eq(json_string_value(json_object_get(v, "last")), "v199999");
	cr_assert_str_eq(json_string_value(json_object_get(v, "new")), "w", "a later anchor of the same name wins");
	json_decref(v);
	tm_buf_release(&b);
}
