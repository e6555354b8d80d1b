/* Template filters: value | name args. The table and every filter's code. */
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "tarmac/doc.h"
#include "tmpl.h"

static int need_text(struct render_ctx *rc, const struct expr *at, json_t *v, const char *filter)
{
	if (json_is_object(v) || json_is_array(v))
		return tm_tmpl_fail_expr(rc, at, "'%s' needs text, got %s", filter, tm_tmpl_type_name(v));
	return 0;
}

/* The text of a scalar as a new string value. */
static int text_of(struct render_ctx *rc, const struct expr *at, json_t *v, const char *filter, struct tm_buf *b)
{
	int r;

	if ((r = need_text(rc, at, v, filter)) < 0)
		return r;
	return tm_tmpl_to_text(b, v, rc->err);
}

static int f_default(struct render_ctx *rc, const struct expr *at, json_t *v, json_t **args, json_t **out)
{
	(void)rc, (void)at;
	*out = json_incref(json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0) ? args[0] : v);
	return 0;
}

static int f_required(struct render_ctx *rc, const struct expr *at, json_t *v, json_t **args, json_t **out)
{
	if (json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
		return tm_tmpl_fail_expr(rc, at, "required: %s", json_is_string(args[0]) ? json_string_value(args[0]) : "a value is missing");
	*out = json_incref(v);
	return 0;
}

static int f_quote(struct render_ctx *rc, const struct expr *at, json_t *v, json_t **args, json_t **out)
{
	struct tm_buf t = TM_BUF_INIT("text", TM_TMPL_MAX_OUTPUT), q = TM_BUF_INIT("text", TM_TMPL_MAX_OUTPUT);
	int r;

	(void)args;
	if ((r = text_of(rc, at, v, "quote", &t)) == 0)
		r = tm_doc_yaml_quote(&q, tm_buf_cstr(&t), t.len, rc->err);
	tm_buf_release(&t);
	return r < 0 ? (tm_buf_release(&q), r) : tm_tmpl_give_text(rc, &q, out);
}

static int f_yaml(struct render_ctx *rc, const struct expr *at, json_t *v, json_t **args, json_t **out)
{
	struct tm_buf b = TM_BUF_INIT("yaml", TM_TMPL_MAX_OUTPUT);
	int r;

	(void)at, (void)args;
	if ((r = tm_doc_emit_yaml(&b, v, 0, rc->err)) < 0) {
		tm_buf_release(&b);
		return r;
	}
	return tm_tmpl_give_text(rc, &b, out);
}

static int f_json(struct render_ctx *rc, const struct expr *at, json_t *v, json_t **args, json_t **out)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

	(void)at, (void)args;
	if (!s)
		return tm_err_set(rc->err, TM_ERROR, "out of memory");
	*out = json_string(s);
	free(s);
	return 0;
}

static int int_arg(struct render_ctx *rc, const struct expr *at, json_t *a, const char *filter, long lo, long hi,
		   long *n)
{
	if (!json_is_integer(a) || json_integer_value(a) < lo || json_integer_value(a) > hi) {
		char range[64];
		snprintf(range, sizeof(range), "a whole number from %ld to %ld", lo, hi);
		return tm_tmpl_fail_expr(rc, at, "'%s' takes %s", filter, range);
	}
	*n = (long)json_integer_value(a);
	return 0;
}

static int indent_text(struct render_ctx *rc, const struct expr *at, json_t *v, json_t *narg, bool newline,
		       json_t **out)
{
	struct tm_buf t = TM_BUF_INIT("text", TM_TMPL_MAX_OUTPUT), o = TM_BUF_INIT("text", TM_TMPL_MAX_OUTPUT);
	long n;
	int r;

	if ((r = int_arg(rc, at, narg, newline ? "nindent" : "indent", 0, 64, &n)) < 0 ||
	    (r = text_of(rc, at, v, newline ? "nindent" : "indent", &t)) < 0)
		goto out;
	if (newline && (r = tm_buf_puts(&o, "\n", rc->err)) < 0)
		goto out;
	for (size_t i = 0; i < t.len;) {
		const char *nl = memchr(t.data + i, '\n', t.len - i);
		size_t end = nl ? (size_t)(nl - t.data) : t.len;
		/* empty lines stay empty: no trailing spaces */
		if (end > i && (r = tm_buf_append(&o, "                                                                ",
						   (size_t)n, rc->err)) < 0)
			goto out;
		if ((r = tm_buf_append(&o, t.data + i, end - i + (nl ? 1 : 0), rc->err)) < 0)
			goto out;
		i = end + 1;
	}
	tm_buf_release(&t);
	return tm_tmpl_give_text(rc, &o, out);
out:
	tm_buf_release(&t);
	tm_buf_release(&o);
	return r;
}

static int f_indent(struct render_ctx *rc, const struct expr *at, json_t *v, json_t **args, json_t **out)
{
	return indent_text(rc, at, v, args[0], false, out);
}

static int f_nindent(struct render_ctx *rc, const struct expr *at, json_t *v, json_t **args, json_t **out)
{
	return indent_text(rc, at, v, args[0], true, out);
}

static int map_chars(struct render_ctx *rc, const struct expr *at, json_t *v, const char *filter, int mode,
		     json_t **out)
{
	struct tm_buf t = TM_BUF_INIT("text", TM_TMPL_MAX_OUTPUT);
	int r;

	if ((r = text_of(rc, at, v, filter, &t)) < 0)
		return r;
	for (size_t i = 0; i < t.len; i++) {
		char c = t.data[i];
		if (mode == 0 && c >= 'A' && c <= 'Z')
			t.data[i] = (char)(c + 32);
		else if (mode == 1 && c >= 'a' && c <= 'z')
			t.data[i] = (char)(c - 32);
	}
	if (mode == 2 && t.len) {
		size_t s = 0, e = t.len;
		while (s < e && strchr(" \t\r\n", t.data[s]))
			s++;
		while (e > s && strchr(" \t\r\n", t.data[e - 1]))
			e--;
		memmove(t.data, t.data + s, e - s);
		t.len = e - s;
		t.data[t.len] = '\0';
	}
	return tm_tmpl_give_text(rc, &t, out);
}

static int f_lower(struct render_ctx *rc, const struct expr *at, json_t *v, json_t **args, json_t **out)
{
	(void)args;
	return map_chars(rc, at, v, "lower", 0, out);
}

static int f_upper(struct render_ctx *rc, const struct expr *at, json_t *v, json_t **args, json_t **out)
{
	(void)args;
	return map_chars(rc, at, v, "upper", 1, out);
}

static int f_trim(struct render_ctx *rc, const struct expr *at, json_t *v, json_t **args, json_t **out)
{
	(void)args;
	return map_chars(rc, at, v, "trim", 2, out);
}

static int f_replace(struct render_ctx *rc, const struct expr *at, json_t *v, json_t **args, json_t **out)
{
	struct tm_buf t = TM_BUF_INIT("text", TM_TMPL_MAX_OUTPUT), o = TM_BUF_INIT("text", TM_TMPL_MAX_OUTPUT);
	const char *from, *to;
	size_t fl;
	int r;

	if (!json_is_string(args[0]) || !json_is_string(args[1]) || json_string_length(args[0]) == 0 ||
	    strlen(json_string_value(args[0])) != json_string_length(args[0]))
		return tm_tmpl_fail_expr(rc, at, "'replace' takes two texts, the first not empty");
	from = json_string_value(args[0]);
	to = json_string_value(args[1]);
	fl = strlen(from);
	if ((r = text_of(rc, at, v, "replace", &t)) < 0)
		return r;
	for (const char *p = tm_buf_cstr(&t); r == 0 && *p;) {
		const char *hit = strstr(p, from);
		if (!hit) {
			r = tm_buf_puts(&o, p, rc->err);
			break;
		}
		if ((r = tm_buf_append(&o, p, (size_t)(hit - p), rc->err)) == 0)
			r = tm_buf_puts(&o, to, rc->err);
		p = hit + fl;
	}
	tm_buf_release(&t);
	if (r < 0) {
		tm_buf_release(&o);
		return r;
	}
	return tm_tmpl_give_text(rc, &o, out);
}

static int f_join(struct render_ctx *rc, const struct expr *at, json_t *v, json_t **args, json_t **out)
{
	struct tm_buf o = TM_BUF_INIT("text", TM_TMPL_MAX_OUTPUT);
	size_t i;
	json_t *x;
	int r = 0;

	if (!json_is_array(v) || !json_is_string(args[0]))
		return tm_tmpl_fail_expr(rc, at, "'join' needs a list and a separator text, got %s", tm_tmpl_type_name(v));
	json_array_foreach(v, i, x) {
		if ((r = need_text(rc, at, x, "join")) < 0 || (i && (r = tm_buf_puts(&o, json_string_value(args[0]), rc->err)) < 0) ||
		    (r = tm_tmpl_to_text(&o, x, rc->err)) < 0) {
			tm_buf_release(&o);
			return r;
		}
	}
	return tm_tmpl_give_text(rc, &o, out);
}

static int f_b64(struct render_ctx *rc, const struct expr *at, json_t *v, json_t **args, json_t **out)
{
	struct tm_buf t = TM_BUF_INIT("text", TM_TMPL_MAX_OUTPUT);
	char *enc;
	size_t n;
	int r;

	(void)args;
	if ((r = text_of(rc, at, v, "b64", &t)) < 0)
		return r;
	n = sodium_base64_encoded_len(t.len, sodium_base64_VARIANT_ORIGINAL);
	if (!(enc = malloc(n))) {
		tm_buf_release(&t);
		return tm_err_set(rc->err, TM_ERROR, "out of memory");
	}
	sodium_bin2base64(enc, n, (const unsigned char *)tm_buf_cstr(&t), t.len, sodium_base64_VARIANT_ORIGINAL);
	*out = json_string(enc);
	free(enc);
	tm_buf_release(&t);
	return 0;
}

static int f_sha256(struct render_ctx *rc, const struct expr *at, json_t *v, json_t **args, json_t **out)
{
	struct tm_buf t = TM_BUF_INIT("text", TM_TMPL_MAX_OUTPUT);
	char hex[65];
	int r;

	(void)args;
	/* a mapping or list is hashed in its canonical JSON form (for checksum annotations) */
	if (json_is_object(v) || json_is_array(v)) {
		char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
		if (!s)
			return tm_err_set(rc->err, TM_ERROR, "out of memory");
		r = tm_buf_puts(&t, s, rc->err);
		free(s);
	} else {
		r = tm_tmpl_to_text(&t, v, rc->err);
	}
	(void)at;
	if (r == 0) {
		tm_sha256_hex(hex, tm_buf_cstr(&t), t.len);
		*out = json_string(hex);
	}
	tm_buf_release(&t);
	return r;
}

static int f_trunc(struct render_ctx *rc, const struct expr *at, json_t *v, json_t **args, json_t **out)
{
	struct tm_buf t = TM_BUF_INIT("text", TM_TMPL_MAX_OUTPUT);
	long n;
	int r;

	if ((r = int_arg(rc, at, args[0], "trunc", 0, 1 << 20, &n)) < 0 || (r = text_of(rc, at, v, "trunc", &t)) < 0)
		return r;
	if (t.len > (size_t)n) {
		size_t cut = tm_utf8_cut(t.data, t.len, (size_t)n);
		t.len = cut;
		t.data[cut] = '\0';
	}
	return tm_tmpl_give_text(rc, &t, out);
}

static int f_string(struct render_ctx *rc, const struct expr *at, json_t *v, json_t **args, json_t **out)
{
	struct tm_buf t = TM_BUF_INIT("text", TM_TMPL_MAX_OUTPUT);
	int r;

	(void)args;
	if ((r = text_of(rc, at, v, "string", &t)) < 0)
		return r;
	return tm_tmpl_give_text(rc, &t, out);
}

static int f_int(struct render_ctx *rc, const struct expr *at, json_t *v, json_t **args, json_t **out)
{
	(void)args;
	if (json_is_integer(v)) {
		*out = json_incref(v);
		return 0;
	}
	if (json_is_real(v) && isfinite(json_real_value(v)) && fabs(json_real_value(v)) < 9e18) {
		*out = json_integer((json_int_t)json_real_value(v));
		return 0;
	}
	if (json_is_string(v)) {
		char *end;
		long long n = strtoll(json_string_value(v), &end, 10);
		if (json_string_length(v) && !*end) {
			*out = json_integer(n);
			return 0;
		}
	}
	return tm_tmpl_fail_expr(rc, at, "'int' cannot make a number of %s", json_is_string(v) ? json_string_value(v) : tm_tmpl_type_name(v));
}

static int f_keys(struct render_ctx *rc, const struct expr *at, json_t *v, json_t **args, json_t **out)
{
	(void)args;
	if (!json_is_object(v))
		return tm_tmpl_fail_expr(rc, at, "'keys' needs a mapping, got %s", tm_tmpl_type_name(v));
	*out = tm_tmpl_sorted_keys(v);
	return *out ? 0 : tm_err_set(rc->err, TM_ERROR, "out of memory");
}

static int f_length(struct render_ctx *rc, const struct expr *at, json_t *v, json_t **args, json_t **out)
{
	(void)args;
	if (json_is_object(v))
		*out = json_integer((json_int_t)json_object_size(v));
	else if (json_is_array(v))
		*out = json_integer((json_int_t)json_array_size(v));
	else if (json_is_string(v))
		*out = json_integer((json_int_t)json_string_length(v));
	else if (json_is_null(v))
		*out = json_integer(0);
	else
		return tm_tmpl_fail_expr(rc, at, "'length' needs a list, mapping or text, got %s", tm_tmpl_type_name(v));
	return 0;
}

/* "partials/x.yaml" | include: renders that bundle file with the names in scope here
 * and gives its text (for | nindent). Reads only the embedded bundle. */
static int f_include(struct render_ctx *rc, const struct expr *at, json_t *v, json_t **args, json_t **out)
{
	const struct tm_embedded_file *f;
	const struct tm_tmpl *t = NULL;
	struct tm_buf text = TM_BUF_INIT("included template", TM_TMPL_MAX_OUTPUT), *saved = rc->out;
	const struct tm_tmpl *saved_t = rc->t;
	int r;

	(void)args;
	if (!json_is_string(v))
		return tm_tmpl_fail_expr(rc, at, "'include' needs the path of a bundle file, got %s", tm_tmpl_type_name(v));
	if (!(f = tm_embedded_find(json_string_value(v))))
		return tm_tmpl_fail_expr(rc, at, "'include': the bundle has no '%s'", json_string_value(v));
	if (rc->depth > TM_TMPL_MAX_DEPTH / 2)
		return tm_tmpl_fail(rc, at->line, at->col, TM_ELIMIT, "'include' nested too deeply (does '%s' include itself?)",
			    json_string_value(v));
	if ((r = tm_tmpl_cache_get(&t, rc->cache, f, rc->err)) < 0)
		return r;
	{
		/* the partial's own 'set' names stay inside it; its text is YAML of its own */
		struct frame fr = { json_object(), rc->top };
		struct tm_ylex saved_lex = rc->lex;
		rc->out = &text;
		rc->t = t;
		rc->top = &fr;
		tm_ylex_init(&rc->lex, 0);
		r = fr.vars ? tm_tmpl_run(rc, t->root) : tm_err_set(rc->err, TM_ERROR, "out of memory");
		if (r == 0)
			r = tm_tmpl_place_finish(rc);
		rc->lex = saved_lex;
		rc->top = fr.up;
		rc->out = saved;
		rc->t = saved_t;
		json_decref(fr.vars);
	}
	if (r < 0) {
		tm_buf_release(&text);
		return r;
	}
	/* a partial ends its last line; the caller places the text */
	while (text.len && text.data[text.len - 1] == '\n')
		text.data[--text.len] = '\0';
	return tm_tmpl_give_text(rc, &text, out);
}

static const struct filter filters[] = {
	{ "include", 0, 0, f_include },
	{ "b64", 0, 0, f_b64 },         { "default", 1, 1, f_default }, { "indent", 1, 1, f_indent },
	{ "int", 0, 0, f_int },         { "join", 1, 1, f_join },       { "json", 0, 0, f_json },
	{ "keys", 0, 0, f_keys },       { "length", 0, 0, f_length },   { "lower", 0, 0, f_lower },
	{ "nindent", 1, 1, f_nindent }, { "quote", 0, 0, f_quote },     { "replace", 2, 2, f_replace },
	{ "required", 1, 1, f_required }, { "sha256", 0, 0, f_sha256 }, { "string", 0, 0, f_string },
	{ "trim", 0, 0, f_trim },       { "trunc", 1, 1, f_trunc },     { "upper", 0, 0, f_upper },
	{ "yaml", 0, 0, f_yaml },
};

const struct filter *tm_tmpl_find_filter(const char *name)
{
	for (size_t i = 0; i < TM_ARRAY_LEN(filters); i++)
		if (strcmp(filters[i].name, name) == 0)
			return &filters[i];
	return NULL;
}

const char *tm_tmpl_nearest_filter(const char *name)
{
	const char *best = NULL;
	int bestd = 3;

	for (size_t i = 0; i < TM_ARRAY_LEN(filters); i++) {
		int d = tm_edit_distance(name, filters[i].name, 2);
		if (d < bestd) {
			bestd = d;
			best = filters[i].name;
		}
	}
	return best;
}

