/* Where a {{ }} lands in the YAML written so far, and how its text is written there
 * (src/render/tmpl_place.c): escaped in quotes, re-indented in block scalars, plain
 * only when plain-safe, refused with template:line:col where it cannot be placed. */
#include "../testutil.h"
#include "tarmac/doc.h"
#include "render/render_private.h"

/* Renders text with values.v = v; the output (caller frees) or NULL with err set. */
static char *place(const char *text, const char *v, struct tm_err *err)
{
	struct tm_tmpl *t = NULL;
	struct tm_buf out = TM_BUF_INIT("out", 1 << 20);
	json_t *scope = json_pack("{s:{s:s}}", "values", "v", v);
	char *res = NULL;

	tm_err_init(err);
	if (tm_tmpl_parse(&t, "t.yaml", text, strlen(text), err) == 0 && tm_tmpl_render(t, scope, &out, err) == 0)
		res = out.data ? tm_buf_detach(&out) : strdup("");
	tm_buf_release(&out);
	tm_tmpl_free(t);
	json_decref(scope);
	return res;
}

static void expect(const char *text, const char *v, const char *want)
{
	struct tm_err err;
	char *got = place(text, v, &err);

	cr_assert_not_null(got, "%s\n-> %s", text, tm_err_msg(&err));
	cr_assert_str_eq(got, want, "template:\n%s", text);
	free(got);
}

static void refused(const char *text, const char *v, const char *msg)
{
	struct tm_err err;
	char *got = place(text, v, &err);

	cr_assert_null(got, "expected a refusal from:\n%s\ngot:\n%s", text, got ? got : "");
	cr_assert_eq(err.code, TM_EINVALID, "%s", tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), msg) != NULL, "wanted '%s' in '%s'", msg, tm_err_msg(&err));
}

/* What the text reads back as (one document). */
static json_t *read_back(const char *text)
{
	json_t *doc = NULL;
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_doc_parse_yaml(&doc, text, strlen(text), "out", &err), 0, "%s\n%s", tm_err_msg(&err), text);
	return doc;
}

Test(render_place, plain_safe_values_are_written_as_they_are)
{
	expect("k: {{ values.v }}\n", "web-1.2:3", "k: web-1.2:3\n");
	expect("k: pre-{{ values.v }}-post\n", "x", "k: pre-x-post\n");
	expect("k: {a: {{ values.v }}, b: [{{ values.v }}]}\n", "x.y/z", "k: {a: x.y/z, b: [x.y/z]}\n");
	expect("k: \"say {{ values.v }}\"\n", "hello world", "k: \"say hello world\"\n");
	expect("k: {{ values.v }}\n", "a,b [c] {d}", "k: a,b [c] {d}\n"); /* block context: flow characters are text */
}

Test(render_place, a_whole_scalar_is_quoted_when_it_is_not_plain_safe)
{
	static const char *const bad[] = { "a: b", "x #c", "- x", "&a", "*a", "# c", "{a: 1}", "[x]", "'", "\"",
					   "x\n---\nkind: X", "x\n  injected: x", "---", "<<", "a:", " x", "x\t" };
	for (size_t i = 0; i < TM_ARRAY_LEN(bad); i++) {
		struct tm_err err;
		char *got = place("k: {{ values.v }}\nother: 1\n", bad[i], &err);
		cr_assert_not_null(got, "%s", tm_err_msg(&err));
		json_t *doc = read_back(got);
		cr_assert_str_eq(json_string_value(json_object_get(doc, "k")), bad[i], "read back from:\n%s", got);
		cr_assert_eq(json_object_size(doc), 2, "keys changed:\n%s", got);
		json_decref(doc);
		free(got);
	}
	expect("k: {{ values.v }}\n", "a: b", "k: \"a: b\"\n");
	expect("k: {a: {{ values.v }}}\n", "x, y", "k: {a: \"x, y\"}\n");
	expect("- {{ values.v }}\n", "x\ny", "- \"x\\ny\"\n");
}

Test(render_place, double_quoted_scalars_get_escapes)
{
	expect("k: \"a {{ values.v }} b\"\n", "q\"s\\l\nn\x01", "k: \"a q\\\"s\\\\l\\nn\\x01 b\"\n");
	expect("k: \"{{ values.v }}\"\n", "x\xc2\x85y\xe2\x80\xa8z", "k: \"x\\Ny\\Lz\"\n");
}

Test(render_place, single_quoted_scalars_double_the_quote_and_refuse_line_breaks)
{
	expect("k: 'a {{ values.v }}'\n", "it's", "k: 'a it''s'\n");
	refused("k: 'a {{ values.v }}'\n", "x\ny", "t.yaml:1:7: the value written here holds a line break");
	refused("k: 'a {{ values.v }}'\n", "x\xe2\x80\xa9y", "single-quoted");
}

Test(render_place, block_scalars_keep_every_line_of_a_value_inside)
{
	const char *t = "data:\n  airflow.cfg: |\n    [core]\n    k = {{ values.v }}\n    other = 1\nnext: 2\n";
	expect(t, "a\n---\nkind: X\n[core]\nexecutor = x",
	       "data:\n  airflow.cfg: |\n    [core]\n    k = a\n      ---\n      kind: X\n      [core]\n"
	       "      executor = x\n    other = 1\nnext: 2\n");
	expect(t, "a\r\nb\rc", "data:\n  airflow.cfg: |\n    [core]\n    k = a\n      b\n      c\n    other = 1\nnext: 2\n");
	expect(t, "a\n\nb\n", "data:\n  airflow.cfg: |\n    [core]\n    k = a\n\n      b\n      \n    other = 1\nnext: 2\n");
	refused(t, "a\x02", "a control character, which a YAML block scalar cannot hold");
	/* a value at the start of a line: the block's indentation is the line's */
	expect("f: |\n  {{ values.v }} = 1\n", "k\nx", "f: |\n  k\n    x = 1\n");
	refused("f: |\n  {{ values.v }}\n", " x", "would set the indentation");
	expect("f: |\n  x\n{{ values.v }}: 1\n", "a b", "f: |\n  x\na b: 1\n"); /* a less indented line ends the block */
}

Test(render_place, part_of_a_plain_scalar_must_be_plain_safe)
{
	refused("k: pre-{{ values.v }}\n", "x\ninjected: 1", "t.yaml:1:8: the value written here holds a line break, "
							     "which cannot be part of a longer plain YAML scalar");
	refused("k: pre{{ values.v }}\n", " #c", "white space at its start or end");
	refused("k: {a: pre-{{ values.v }}}\n", "x, b: 1", "a flow indicator");
	refused("k: {{ values.v }}-post\n", "a: b", "t.yaml:1:4: a value that is not plain-safe YAML is written here "
							 "as a quoted scalar, and the template continues the scalar");
}

Test(render_place, comments_and_odd_places)
{
	expect("# about {{ values.v }}\nk: 1\n", "x: y", "# about x: y\nk: 1\n");
	refused("# about {{ values.v }}\nk: 1\n", "x\nk: 2", "would end the YAML comment");
	refused("k: \"a\"{{ values.v }}\n", "x", "cannot follow a quoted scalar");
	refused("k: |{{ values.v }}\n  x\n", "2", "block scalar header");
	expect("k: \"a\"{{ values.v }}\n", "", "k: \"a\"\n"); /* nothing written: nothing to place */
}

Test(render_place, filters_that_serialize_are_trusted)
{
	expect("k: {{ values.v | quote }}\n", "a\nb", "k: \"a\\nb\"\n");
	expect("k:{{ values.v | yaml | nindent 2 }}\n", "a\n---\nb", "k:\n  |-\n  a\n  ---\n  b\n");
	expect("{{ \"a: 1\\nb: 2\" }}\n", "", "a: 1\nb: 2\n"); /* a literal is template text */
	refused("{{ values.v | yaml }}\n", "a\n---\nb", "a document marker at the start of a line");
}
