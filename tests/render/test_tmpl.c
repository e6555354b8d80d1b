/* The template language as docs/templates.md promises it. */
#include "../testutil.h"
#include "render/render_private.h"

static const char *SCOPE = "{\"values\":{\"name\":\"web\",\"replicas\":2,\"ratio\":0.5,\"on\":true,\"off\":false,"
			   "\"empty\":\"\",\"list\":[\"a\",\"b\",\"c\"],\"map\":{\"z\":1,\"a\":2,\"m\":3},"
			   "\"labels\":{\"app.kubernetes.io/name\":\"airflow\",\"tier\":\"web\"},"
			   "\"resources\":{\"limits\":{\"cpu\":\"2\"}},\"nested\":{\"x\":{\"y\":\"deep\"}}},"
			   "\"release\":{\"name\":\"af\",\"namespace\":\"prod\"},\"environment\":\"prod\"}";

/* Renders text with SCOPE; returns the output (caller frees) or NULL with err set. */
static char *render(const char *text, struct tm_err *err)
{
	struct tm_tmpl *t = NULL;
	struct tm_buf out = TM_BUF_INIT("out", 1 << 20);
	json_t *scope = json_loads(SCOPE, 0, NULL);
	char *res = NULL;

	cr_assert_not_null(scope);
	tm_err_init(err);
	if (tm_tmpl_parse(&t, "t.yaml", text, strlen(text), err) == 0 && tm_tmpl_render(t, scope, &out, err) == 0)
		res = out.data ? tm_buf_detach(&out) : strdup(""); /* nothing written: "" */
	tm_buf_release(&out);
	tm_tmpl_free(t);
	json_decref(scope);
	return res;
}

static void expect(const char *text, const char *want)
{
	struct tm_err err;
	char *got = render(text, &err);

	cr_assert_not_null(got, "%s\n-> %s", text, tm_err_msg(&err));
	cr_assert_str_eq(got, want, "template:\n%s", text);
	free(got);
}

static void expect_error(const char *text, int code, const char *msg)
{
	struct tm_err err;
	char *got = render(text, &err);

	cr_assert_null(got, "expected an error from:\n%s\ngot:\n%s", text, got ? got : "");
	cr_assert_eq(err.code, code, "%s", tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), msg) != NULL, "wanted '%s' in '%s'", msg, tm_err_msg(&err));
}

Test(render_tmpl, substitution_of_scalars)
{
	expect("name: {{ values.name }}\nreplicas: {{ values.replicas }}\n", "name: web\nreplicas: 2\n");
	expect("{{ values.ratio }} {{ values.on }} {{ values.off }} [{{ values.missing }}]", "0.5 true false []");
	expect("{{ release.name }}-{{ release.namespace }}", "af-prod");
	expect("{{ \"a\\\"b\\n\" }}", "a\"b\n");
	expect("{{ values.labels[\"app.kubernetes.io/name\"] }} {{ values.list[1] }} {{ values.list[-1] }}",
	       "airflow b c");
	expect("text without tags", "text without tags");
	expect("{{ release.name ~ \"-\" ~ values.replicas ~ values.missing }}", "af-2");
	expect("{{ \"{{ $labels.pod }}\" }} {% if \"%}\" %}ok{% end %}", "{{ $labels.pod }} ok");
	expect("{% if release.name ~ \"x\" == \"afx\" %}joined before compared{% end %}", "joined before compared");
	expect("", "");
}

Test(render_tmpl, conditionals_and_truthiness)
{
	expect("{% if values.on %}yes{% else %}no{% end %}", "yes");
	expect("{% if values.off %}yes{% elif values.replicas > 1 %}many{% else %}no{% end %}", "many");
	expect("{% if values.empty or values.missing %}x{% else %}falsy{% end %}", "falsy");
	expect("{% if not values.list %}x{% elif values.name == \"web\" and values.replicas >= 2 %}ok{% end %}", "ok");
	expect("{% if \"b\" in values.list %}in{% end %}{% if \"tier\" in values.labels %} key{% end %}", "in key");
	expect("{% if values.replicas == 2.0 %}numbers compare by value{% end %}", "numbers compare by value");
	expect("{{ values.missing or \"fallback\" }} {{ values.name and values.replicas }}", "fallback 2");
}

Test(render_tmpl, standalone_tags_leave_no_lines)
{
	expect("a:\n  {% if values.on %}\n  b: 1\n  {% end %}\n  {# comment #}\nc: 2\n", "a:\n  b: 1\nc: 2\n");
	expect("x{% if values.on %}y{% end %}z\n", "xyz\n");
}

Test(render_tmpl, loops_over_lists_and_sorted_mappings)
{
	expect("{% for x in values.list %}{{ loop.index }}={{ x }}{% if not loop.last %},{% end %}{% end %}",
	       "0=a,1=b,2=c");
	expect("{% for k, v in values.map %}{{ k }}:{{ v }} {% end %}", "a:2 m:3 z:1 ");
	expect("{% for k in values.map %}{{ k }}{% end %}", "amz");
	expect("{% for x in values.missing %}never{% end %}done", "done");
	expect("env:\n{% for k, v in values.labels %}\n- name: {{ k | quote }}\n  value: {{ v | quote }}\n{% end %}\n",
	       "env:\n- name: \"app.kubernetes.io/name\"\n  value: \"airflow\"\n- name: \"tier\"\n  value: \"web\"\n");
}

/* A long elif chain is a loop, not nested blocks (found in review). */
Test(render_tmpl, long_elif_chains)
{
	struct tm_buf t = TM_BUF_INIT("t", 1 << 20);
	struct tm_err err;
	char *got;

	cr_assert_eq(tm_buf_puts(&t, "{% if values.replicas == 0 %}0", NULL), 0);
	for (int i = 1; i < 200; i++)
		cr_assert_eq(tm_buf_printf(&t, NULL, "{%% elif values.replicas == %d %%}%d", i + 100, i), 0);
	cr_assert_eq(tm_buf_puts(&t, "{% elif values.replicas == 2 %}two{% else %}none{% end %}", NULL), 0);
	got = render(t.data, &err);
	cr_assert_not_null(got, "%s", tm_err_msg(&err));
	cr_assert_str_eq(got, "two");
	free(got);
	tm_buf_release(&t);
}

Test(render_tmpl, set_is_scoped_to_its_block)
{
	expect("{% set full = release.name %}{{ full }}-{{ values.name }}", "af-web");
	expect("{% if true %}{% set x = 1 %}{{ x }}{% end %}", "1");
	expect_error("{% if true %}{% set x = 1 %}{% end %}{{ x }}", TM_EINVALID, "unknown name 'x'");
}

Test(render_tmpl, filters)
{
	expect("{{ values.missing | default \"d\" }} {{ values.empty | default 7 }} {{ values.name | default \"x\" }}",
	       "d 7 web");
	expect("{{ values.replicas | quote }} {{ \"say \\\"hi\\\"\" | quote }}", "\"2\" \"say \\\"hi\\\"\"");
	expect("spec:\n  resources:{{ values.resources | yaml | nindent 4 }}\n",
	       "spec:\n  resources:\n    limits:\n      cpu: \"2\"\n");
	expect("{{ values.map | json }}", "{\"a\":2,\"m\":3,\"z\":1}");
	expect("{{ \"AbC\" | lower }}{{ \"AbC\" | upper }}[{{ \"  t \" | trim }}]", "abcABC[t]");
	expect("{{ \"a-b-c\" | replace \"-\" \"_\" }} {{ values.list | join \",\" }}", "a_b_c a,b,c");
	expect("{{ \"hello\" | b64 }} {{ \"abc\" | sha256 }}",
	       "aGVsbG8= ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	expect("{{ \"abcdef\" | trunc 3 }} {{ \"42\" | int }} {{ 3 | string | quote }} {{ values.map | keys | join \"\" }}",
	       "abc 42 \"3\" amz");
	expect("{{ values.list | length }} {{ values.map | length }} {{ values.name | length }}", "3 3 3");
	expect("{{ \"a\\nb\\n\\nc\" | indent 2 }}", "  a\n  b\n\n  c");
}

Test(render_tmpl, hashing_a_mapping_is_stable)
{
	struct tm_err err;
	char *a = render("{{ values.map | sha256 }}", &err), *b = render("{{ values.map | sha256 }}", &err);

	cr_assert_not_null(a);
	cr_assert_str_eq(a, b);
	cr_assert_eq(strlen(a), 64);
	free(a);
	free(b);
}

Test(render_tmpl, errors_name_the_template_position)
{
	expect_error("a\n  {{ values.name | indnet 2 }}", TM_EINVALID,
		     "t.yaml:2:20: unknown filter 'indnet' (did you mean 'indent'?)");
	expect_error("{{ values.map }}", TM_EINVALID, "t.yaml:1:1: cannot write a mapping as text: use '| yaml' or '| json'");
	expect_error("{{ nope }}", TM_EINVALID, "t.yaml:1:4: unknown name 'nope'");
	expect_error("{{ values.missing | required \"set values.missing\" }}", TM_EINVALID,
		     "required: set values.missing");
	expect_error("x\n{% if values.on %}\nnever closed\n", TM_EINVALID, "t.yaml:2:4: 'if' is never closed");
	expect_error("{% end %}", TM_EINVALID, "'end' without a matching 'if' or 'for'");
	expect_error("{{ values.name ", TM_EINVALID, "t.yaml:1:1: tag not closed (expected '}}')");
	expect_error("{% frob %}", TM_EINVALID, "unknown statement 'frob'");
	expect_error("{{ values.name values }}", TM_EINVALID, "expected the end of the tag");
	expect_error("{{ \"abc\" | trunc }}", TM_EINVALID, "filter 'trunc' takes 1 to 1 arguments, got 0");
	expect_error("{{ values.list < 3 }}", TM_EINVALID, "cannot order a list against a number");
	expect_error("{{ \"x\" | int }}", TM_EINVALID, "'int' cannot make a number of x");
	expect_error("{% for x in values.name %}{% end %}", TM_EINVALID, "'for' needs a list or a mapping, got text");
	expect_error("{{ values.list ~ \"x\" }}", TM_EINVALID, "'~' joins text, not a list and text");
	expect_error("{{ values.name | indent 999 }}", TM_EINVALID, "'indent' takes a whole number from 0 to 64");
}

Test(render_tmpl, limits_stop_runaway_templates)
{
	struct tm_buf text = TM_BUF_INIT("t", 1 << 20);
	struct tm_err err;
	char *got;

	/* 200^3 = 8,000,000 iterations: over the step limit */
	cr_assert_eq(tm_buf_puts(&text, "{% set l = values.list %}", NULL), 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(tm_buf_printf(&text, NULL, "{%% for x%d in values.big %%}", i), 0);
	cr_assert_eq(tm_buf_puts(&text, "x{% end %}{% end %}{% end %}", NULL), 0);
	{
		struct tm_tmpl *t = NULL;
		struct tm_buf out = TM_BUF_INIT("out", 64u << 20);
		json_t *scope = json_pack("{s:{s:[]}}", "values", "big");
		for (int i = 0; i < 200; i++)
			json_array_append_new(json_object_get(json_object_get(scope, "values"), "big"), json_integer(i));
		tm_err_init(&err);
		cr_assert_eq(tm_tmpl_parse(&t, "t.yaml", text.data, text.len, &err), 0, "%s", tm_err_msg(&err));
		cr_assert_eq(tm_tmpl_render(t, scope, &out, &err), TM_ELIMIT);
		cr_assert(strstr(tm_err_msg(&err), "step limit") != NULL, "%s", tm_err_msg(&err));
		tm_buf_release(&out);
		tm_tmpl_free(t);
		json_decref(scope);
	}
	tm_buf_release(&text);
	/* index nesting counts too (found in review: a[a[a[...]]] recursed unbounded) */
	tm_buf_init(&text, "t", 1 << 20);
	cr_assert_eq(tm_buf_puts(&text, "{{ ", NULL), 0);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(tm_buf_puts(&text, "values.list[", NULL), 0);
	cr_assert_eq(tm_buf_puts(&text, "0", NULL), 0);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(tm_buf_puts(&text, "]", NULL), 0);
	cr_assert_eq(tm_buf_puts(&text, " }}", NULL), 0);
	got = render(text.data, &err);
	cr_assert_null(got);
	cr_assert_eq(err.code, TM_ELIMIT, "%s", tm_err_msg(&err));
	tm_buf_release(&text);
	/* expression nesting */
	tm_buf_init(&text, "t", 1 << 20);
	cr_assert_eq(tm_buf_puts(&text, "{{ ", NULL), 0);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(tm_buf_puts(&text, "(", NULL), 0);
	cr_assert_eq(tm_buf_puts(&text, "1 }}", NULL), 0);
	got = render(text.data, &err);
	cr_assert_null(got);
	cr_assert_eq(err.code, TM_ELIMIT);
	tm_buf_release(&text);
}

Test(render_tmpl, output_is_deterministic)
{
	struct tm_err err;
	const char *t = "{% for k, v in values.labels %}{{ k }}={{ v }};{% end %}{{ values | sha256 }}";
	char *a = render(t, &err), *b = render(t, &err);

	cr_assert_not_null(a);
	cr_assert_str_eq(a, b);
	free(a);
	free(b);
}
