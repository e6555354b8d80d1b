/* Template evaluation: expressions over jansson values, statements writing text,
 * and the filters. Deterministic: no clock, no randomness, sorted mapping order. */
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "tarmac/doc.h"
#include "tmpl.h"

/* Names visible at one point: a chain of frames, innermost first. */
struct frame {
	json_t *vars; /* owned object */
	struct frame *up;
};

struct render_ctx {
	const struct tm_tmpl *t;
	json_t *scope;      /* the caller's names (borrowed) */
	struct frame *top;
	struct tm_buf *out;
	long steps;
	int depth;
	struct tm_err *err;
	struct tm_tmpl_cache *cache; /* partials parsed once, however often included */
};

#define CACHE_SLOTS 32
struct tm_tmpl_cache {
	struct {
		const struct tm_embedded_file *file;
		struct tm_tmpl *tmpl;
	} slot[CACHE_SLOTS];
	int n;
};

struct tm_tmpl_cache *tm_tmpl_cache_new(void)
{
	return calloc(1, sizeof(struct tm_tmpl_cache));
}

void tm_tmpl_cache_free(struct tm_tmpl_cache *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->n; i++)
		tm_tmpl_free(c->slot[i].tmpl);
	free(c);
}

static int fail(struct render_ctx *rc, int line, int col, int code, const char *fmt, const char *a,
		const char *b)
{
	char msg[512];

	snprintf(msg, sizeof(msg), fmt, a ? a : "", b ? b : "");
	return tm_err_set(rc->err, code, "%s:%d:%d: %s", rc->t->name, line, col, msg);
}

static int fail_expr(struct render_ctx *rc, const struct expr *e, const char *fmt, const char *a, const char *b)
{
	return fail(rc, e->line, e->col, TM_EINVALID, fmt, a, b);
}

static const char *type_name(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "a mapping";
	case JSON_ARRAY:
		return "a list";
	case JSON_STRING:
		return "text";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

static bool truthy(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return json_object_size(v) > 0;
	case JSON_ARRAY:
		return json_array_size(v) > 0;
	case JSON_STRING:
		return json_string_length(v) > 0;
	case JSON_INTEGER:
		return json_integer_value(v) != 0;
	case JSON_REAL:
		return json_real_value(v) != 0.0;
	case JSON_TRUE:
		return true;
	default:
		return false;
	}
}

/* Text form of a scalar for output and string filters; NULL for mappings/lists. */
static int to_text(struct tm_buf *b, json_t *v, struct tm_err *err)
{
	if (json_is_string(v))
		return tm_buf_append(b, json_string_value(v), json_string_length(v), err);
	if (json_is_null(v))
		return 0;
	return tm_doc_emit_scalar(b, v, err);
}

static int eval(struct render_ctx *rc, const struct expr *e, json_t **out);
static int give_text(struct render_ctx *rc, struct tm_buf *b, json_t **out);

static json_t *lookup(struct render_ctx *rc, const char *name)
{
	for (struct frame *f = rc->top; f; f = f->up) {
		json_t *v = json_object_get(f->vars, name);
		if (v)
			return v;
	}
	return json_object_get(rc->scope, name);
}

static int compare(struct render_ctx *rc, const struct expr *e, json_t *a, json_t *b, bool *res)
{
	if (e->op == OP_EQ || e->op == OP_NE) {
		bool eq = json_equal(a, b);
		/* 1 == 1.0: numbers compare by value whatever their JSON type */
		if (!eq && json_is_number(a) && json_is_number(b))
			eq = json_number_value(a) == json_number_value(b);
		*res = e->op == OP_EQ ? eq : !eq;
		return 0;
	}
	if (e->op == OP_IN) {
		if (json_is_array(b)) {
			size_t i;
			json_t *x;
			*res = false;
			json_array_foreach(b, i, x) if (json_equal(a, x)) *res = true;
			return 0;
		}
		if (json_is_object(b) && json_is_string(a)) {
			*res = json_object_get(b, json_string_value(a)) != NULL;
			return 0;
		}
		if (json_is_string(b) && json_is_string(a)) {
			*res = strstr(json_string_value(b), json_string_value(a)) != NULL;
			return 0;
		}
		return fail_expr(rc, e, "'in' needs a list, a mapping or text on its right, got %s", type_name(b), NULL);
	}
	if (json_is_number(a) && json_is_number(b)) {
		double x = json_number_value(a), y = json_number_value(b);
		*res = e->op == OP_LT ? x < y : e->op == OP_LE ? x <= y : e->op == OP_GT ? x > y : x >= y;
		return 0;
	}
	if (json_is_string(a) && json_is_string(b)) {
		int c = strcmp(json_string_value(a), json_string_value(b));
		*res = e->op == OP_LT ? c < 0 : e->op == OP_LE ? c <= 0 : e->op == OP_GT ? c > 0 : c >= 0;
		return 0;
	}
	return fail_expr(rc, e, "cannot order %s against %s", type_name(a), type_name(b));
}

static int eval_filter(struct render_ctx *rc, const struct expr *e, json_t **out)
{
	json_t *base = NULL, *args[4] = { 0 };
	int r;

	if ((r = eval(rc, e->a, &base)) < 0)
		return r;
	for (int i = 0; i < e->nargs; i++)
		if ((r = eval(rc, e->args[i], &args[i])) < 0)
			goto out;
	r = e->filter->fn(rc, e, base, args, out);
out:
	json_decref(base);
	for (int i = 0; i < e->nargs; i++)
		json_decref(args[i]);
	return r;
}

/* Evaluates e into *out (a new reference). */
static int eval(struct render_ctx *rc, const struct expr *e, json_t **out)
{
	json_t *a = NULL, *b = NULL;
	int r = 0;

	if (++rc->depth > TM_TMPL_MAX_DEPTH) {
		rc->depth--;
		return fail(rc, e->line, e->col, TM_ELIMIT, "expression nested too deeply%s%s", NULL, NULL);
	}
	switch (e->kind) {
	case E_LIT:
		*out = json_incref(e->lit);
		break;
	case E_NAME: {
		json_t *v = lookup(rc, e->name);
		if (!v) {
			r = fail_expr(rc, e, "unknown name '%s'%s", e->name,
				      " (names: values, release, environment, capabilities, or a loop or set name)");
			break;
		}
		*out = json_incref(v);
		break;
	}
	case E_ATTR:
		if ((r = eval(rc, e->a, &a)) < 0)
			break;
		/* a missing step is null, so '| default' can catch it */
		*out = json_incref(json_is_object(a) && json_object_get(a, e->name) ? json_object_get(a, e->name)
										      : json_null());
		break;
	case E_INDEX:
		if ((r = eval(rc, e->a, &a)) < 0 || (r = eval(rc, e->b, &b)) < 0)
			break;
		if (json_is_object(a) && json_is_string(b)) {
			json_t *v = json_object_get(a, json_string_value(b));
			*out = json_incref(v ? v : json_null());
		} else if (json_is_array(a) && json_is_integer(b)) {
			json_int_t i = json_integer_value(b);
			if (i < 0)
				i += (json_int_t)json_array_size(a);
			json_t *v = i >= 0 ? json_array_get(a, (size_t)i) : NULL;
			*out = json_incref(v ? v : json_null());
		} else if (json_is_null(a)) {
			*out = json_null();
		} else {
			r = fail_expr(rc, e, "cannot index %s with %s", type_name(a), type_name(b));
		}
		break;
	case E_NOT:
		if ((r = eval(rc, e->a, &a)) == 0)
			*out = json_boolean(!truthy(a));
		break;
	case E_AND:
	case E_OR:
		/* short-circuit, and give back the deciding operand */
		if ((r = eval(rc, e->a, &a)) < 0)
			break;
		if (truthy(a) == (e->kind == E_OR)) {
			*out = json_incref(a);
			break;
		}
		r = eval(rc, e->b, out);
		break;
	case E_CMP: {
		bool res = false;
		if ((r = eval(rc, e->a, &a)) < 0 || (r = eval(rc, e->b, &b)) < 0 ||
		    (r = compare(rc, e, a, b, &res)) < 0)
			break;
		*out = json_boolean(res);
		break;
	}
	case E_FILTER:
		r = eval_filter(rc, e, out);
		break;
	case E_CONCAT: {
		struct tm_buf t = TM_BUF_INIT("text", TM_TMPL_MAX_OUTPUT);
		if ((r = eval(rc, e->a, &a)) < 0 || (r = eval(rc, e->b, &b)) < 0)
			break;
		if (json_is_object(a) || json_is_array(a) || json_is_object(b) || json_is_array(b)) {
			r = fail_expr(rc, e, "'~' joins text, not %s and %s", type_name(a), type_name(b));
			break;
		}
		if ((r = to_text(&t, a, rc->err)) == 0 && (r = to_text(&t, b, rc->err)) == 0)
			r = give_text(rc, &t, out);
		else
			tm_buf_release(&t);
		break;
	}
	}
	json_decref(a);
	json_decref(b);
	rc->depth--;
	return r;
}

/* ------------------------------------------------------------------ filters */

static int need_text(struct render_ctx *rc, const struct expr *at, json_t *v, const char *filter)
{
	if (json_is_object(v) || json_is_array(v))
		return fail_expr(rc, at, "'%s' needs text, got %s", filter, type_name(v));
	return 0;
}

/* The text of a scalar as a new string value. */
static int text_of(struct render_ctx *rc, const struct expr *at, json_t *v, const char *filter, struct tm_buf *b)
{
	int r;

	if ((r = need_text(rc, at, v, filter)) < 0)
		return r;
	return to_text(b, v, rc->err);
}

static int give_text(struct render_ctx *rc, struct tm_buf *b, json_t **out)
{
	*out = json_stringn(tm_buf_cstr(b), b->len);
	tm_buf_release(b);
	return *out ? 0 : tm_err_set(rc->err, TM_EINVALID, "%s: filter produced text that is not UTF-8", rc->t->name);
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
		return fail_expr(rc, at, "required: %s%s", json_is_string(args[0]) ? json_string_value(args[0]) : "a value is missing", NULL);
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
	return r < 0 ? (tm_buf_release(&q), r) : give_text(rc, &q, out);
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
	return give_text(rc, &b, out);
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
		return fail_expr(rc, at, "'%s' takes %s", filter, range);
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
	return give_text(rc, &o, out);
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
	return give_text(rc, &t, out);
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
		return fail_expr(rc, at, "'replace' takes two texts, the first not empty%s%s", NULL, NULL);
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
	return give_text(rc, &o, out);
}

static int f_join(struct render_ctx *rc, const struct expr *at, json_t *v, json_t **args, json_t **out)
{
	struct tm_buf o = TM_BUF_INIT("text", TM_TMPL_MAX_OUTPUT);
	size_t i;
	json_t *x;
	int r = 0;

	if (!json_is_array(v) || !json_is_string(args[0]))
		return fail_expr(rc, at, "'join' needs a list and a separator text, got %s%s", type_name(v), NULL);
	json_array_foreach(v, i, x) {
		if ((r = need_text(rc, at, x, "join")) < 0 || (i && (r = tm_buf_puts(&o, json_string_value(args[0]), rc->err)) < 0) ||
		    (r = to_text(&o, x, rc->err)) < 0) {
			tm_buf_release(&o);
			return r;
		}
	}
	return give_text(rc, &o, out);
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
		r = to_text(&t, v, rc->err);
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
		size_t cut = (size_t)n;
		while (cut > 0 && ((unsigned char)t.data[cut] & 0xC0) == 0x80)
			cut--; /* never split a UTF-8 character */
		t.len = cut;
		t.data[cut] = '\0';
	}
	return give_text(rc, &t, out);
}

static int f_string(struct render_ctx *rc, const struct expr *at, json_t *v, json_t **args, json_t **out)
{
	struct tm_buf t = TM_BUF_INIT("text", TM_TMPL_MAX_OUTPUT);
	int r;

	(void)args;
	if ((r = text_of(rc, at, v, "string", &t)) < 0)
		return r;
	return give_text(rc, &t, out);
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
	return fail_expr(rc, at, "'int' cannot make a number of %s%s", json_is_string(v) ? json_string_value(v) : type_name(v), NULL);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A mapping's keys, sorted: the order every loop over a mapping uses. */
static json_t *sorted_keys(json_t *obj)
{
	size_t n = json_object_size(obj), i = 0;
	const char **keys = malloc((n ? n : 1) * sizeof(*keys));
	json_t *arr = json_array(), *x;
	const char *k;

	if (!keys || !arr) {
		free(keys);
		json_decref(arr);
		return NULL;
	}
	json_object_foreach(obj, k, x) keys[i++] = k;
	qsort(keys, n, sizeof(*keys), cmp_str);
	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_string(keys[i]));
	free(keys);
	return arr;
}

static int f_keys(struct render_ctx *rc, const struct expr *at, json_t *v, json_t **args, json_t **out)
{
	(void)args;
	if (!json_is_object(v))
		return fail_expr(rc, at, "'keys' needs a mapping, got %s%s", type_name(v), NULL);
	*out = sorted_keys(v);
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
		return fail_expr(rc, at, "'length' needs a list, mapping or text, got %s%s", type_name(v), NULL);
	return 0;
}

/* "partials/x.yaml" | include: renders that bundle file with the names in scope here
 * and gives its text (for | nindent). Reads only the embedded bundle. */
static int run(struct render_ctx *rc, const struct node *n);

static int f_include(struct render_ctx *rc, const struct expr *at, json_t *v, json_t **args, json_t **out)
{
	const struct tm_embedded_file *f;
	struct tm_tmpl *t = NULL, *owned = NULL;
	struct tm_buf text = TM_BUF_INIT("included template", TM_TMPL_MAX_OUTPUT), *saved = rc->out;
	const struct tm_tmpl *saved_t = rc->t;
	char name[300];
	int r;

	(void)args;
	if (!json_is_string(v))
		return fail_expr(rc, at, "'include' needs the path of a bundle file, got %s%s", type_name(v), NULL);
	if (!(f = tm_embedded_find(json_string_value(v))))
		return fail_expr(rc, at, "'include': the bundle has no '%s'%s", json_string_value(v), NULL);
	if (rc->depth > TM_TMPL_MAX_DEPTH / 2)
		return fail(rc, at->line, at->col, TM_ELIMIT, "'include' nested too deeply (does '%s' include itself?)%s",
			    json_string_value(v), NULL);
	for (int i = 0; i < rc->cache->n && !t; i++)
		if (rc->cache->slot[i].file == f)
			t = rc->cache->slot[i].tmpl;
	if (!t) {
		snprintf(name, sizeof(name), "bundle/%s", f->path);
		if ((r = tm_tmpl_parse(&t, name, (const char *)f->data, f->len, rc->err)) < 0)
			return r;
		if (rc->cache->n < CACHE_SLOTS) {
			rc->cache->slot[rc->cache->n].file = f;
			rc->cache->slot[rc->cache->n++].tmpl = t;
		} else {
			owned = t; /* the cache is full: this one is freed after use */
		}
	}
	{
		/* the partial's own 'set' names stay inside it */
		struct frame fr = { json_object(), rc->top };
		rc->out = &text;
		rc->t = t;
		rc->top = &fr;
		r = fr.vars ? run(rc, t->root) : tm_err_set(rc->err, TM_ERROR, "out of memory");
		rc->top = fr.up;
		rc->out = saved;
		rc->t = saved_t;
		json_decref(fr.vars);
	}
	tm_tmpl_free(owned);
	if (r < 0) {
		tm_buf_release(&text);
		return r;
	}
	/* a partial ends its last line; the caller places the text */
	while (text.len && text.data[text.len - 1] == '\n')
		text.data[--text.len] = '\0';
	return give_text(rc, &text, out);
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

/* ------------------------------------------------------------------ statements */

static int step(struct render_ctx *rc, const struct node *n)
{
	if (++rc->steps > TM_TMPL_MAX_STEPS)
		return fail(rc, n->line, n->col, TM_ELIMIT, "template ran more than the step limit (a runaway loop?)%s%s",
			    NULL, NULL);
	return 0;
}

static int emit_value(struct render_ctx *rc, const struct node *n, json_t *v)
{
	if (json_is_object(v) || json_is_array(v))
		return fail(rc, n->line, n->col, TM_EINVALID, "cannot write %s as text: use '| yaml' or '| json'%s",
			    type_name(v), NULL);
	return to_text(rc->out, v, rc->err);
}

/* Runs body in a new frame holding the given name(s). */
static int run_scoped(struct render_ctx *rc, const struct node *body, json_t *vars)
{
	struct frame f = { vars, rc->top };
	int r;

	rc->top = &f;
	r = run(rc, body);
	rc->top = f.up;
	return r;
}

static int run_for(struct render_ctx *rc, const struct node *n)
{
	json_t *iter = NULL, *keys = NULL, *vars = NULL;
	size_t count;
	int r;

	if ((r = eval(rc, n->expr, &iter)) < 0)
		return r;
	if (json_is_null(iter)) {
		count = 0; /* a missing list loops zero times */
	} else if (json_is_array(iter)) {
		if (n->var2) {
			r = fail(rc, n->line, n->col, TM_EINVALID, "'for %s, %s' needs a mapping, got a list", n->var1, n->var2);
			goto out;
		}
		count = json_array_size(iter);
	} else if (json_is_object(iter)) {
		if (!(keys = sorted_keys(iter))) {
			r = tm_err_set(rc->err, TM_ERROR, "out of memory");
			goto out;
		}
		count = json_array_size(keys);
	} else {
		r = fail(rc, n->line, n->col, TM_EINVALID, "'for' needs a list or a mapping, got %s%s", type_name(iter), NULL);
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		json_t *loop;
		if ((r = step(rc, n)) < 0)
			goto out;
		json_decref(vars);
		vars = json_object();
		loop = json_pack("{s:I, s:b, s:b}", "index", (json_int_t)i, "first", i == 0, "last", i + 1 == count);
		json_object_set_new(vars, "loop", loop);
		if (keys) {
			json_t *k = json_array_get(keys, i);
			if (n->var2) {
				json_object_set(vars, n->var1, k);
				json_object_set(vars, n->var2, json_object_get(iter, json_string_value(k)));
			} else {
				json_object_set(vars, n->var1, k);
			}
		} else {
			json_object_set(vars, n->var1, json_array_get(iter, i));
		}
		if ((r = run_scoped(rc, n->body, vars)) < 0)
			goto out;
	}
out:
	json_decref(vars);
	json_decref(keys);
	json_decref(iter);
	return r;
}

static int run(struct render_ctx *rc, const struct node *n)
{
	int r = 0;

	if (++rc->depth > TM_TMPL_MAX_DEPTH) {
		rc->depth--;
		return fail(rc, n ? n->line : 0, n ? n->col : 0, TM_ELIMIT, "blocks nested too deeply%s%s", NULL, NULL);
	}
	for (; n && r == 0; n = n->next) {
		json_t *v = NULL;

		if ((r = step(rc, n)) < 0)
			break;
		switch (n->kind) {
		case N_TEXT:
			r = tm_buf_append(rc->out, n->text, n->len, rc->err);
			break;
		case N_EXPR:
			if ((r = eval(rc, n->expr, &v)) == 0)
				r = emit_value(rc, n, v);
			break;
		case N_IF: {
			/* an if/elif/elif/else chain is one loop, not nested calls */
			const struct node *branch = n, *run_this = NULL;
			while (branch) {
				json_decref(v);
				v = NULL;
				if ((r = eval(rc, branch->expr, &v)) < 0)
					break;
				if (truthy(v)) {
					run_this = branch->body;
					break;
				}
				if (branch->orelse && branch->orelse->is_elif) {
					branch = branch->orelse;
					continue;
				}
				run_this = branch->orelse;
				break;
			}
			if (r == 0 && run_this) {
				json_t *vars = json_object();
				r = vars ? run_scoped(rc, run_this, vars) : tm_err_set(rc->err, TM_ERROR, "out of memory");
				json_decref(vars);
			}
			break;
		}
		case N_FOR:
			r = run_for(rc, n);
			break;
		case N_SET:
			if ((r = eval(rc, n->expr, &v)) == 0) {
				/* visible to the end of the enclosing block */
				json_t *into = rc->top ? rc->top->vars : NULL;
				if (!into) {
					r = fail(rc, n->line, n->col, TM_ERROR, "internal: no frame for 'set'%s%s", NULL, NULL);
					break;
				}
				json_object_set(into, n->var1, v);
			}
			break;
		}
		if (r == 0 && rc->out->len > TM_TMPL_MAX_OUTPUT)
			r = fail(rc, n->line, n->col, TM_ELIMIT, "template output exceeds its limit%s%s", NULL, NULL);
		json_decref(v);
	}
	rc->depth--;
	return r;
}

int tm_tmpl_render_cached(const struct tm_tmpl *t, json_t *scope, struct tm_tmpl_cache *cache, struct tm_buf *out,
			  struct tm_err *err)
{
	struct render_ctx rc = { .t = t, .scope = scope, .out = out, .err = err, .cache = cache };
	json_t *vars = json_object();
	int r;

	if (!vars)
		return tm_err_set(err, TM_ERROR, "out of memory");
	r = run_scoped(&rc, t->root, vars);
	json_decref(vars);
	return r;
}

int tm_tmpl_render(const struct tm_tmpl *t, json_t *scope, struct tm_buf *out, struct tm_err *err)
{
	struct tm_tmpl_cache *cache = tm_tmpl_cache_new();
	int r;

	if (!cache)
		return tm_err_set(err, TM_ERROR, "out of memory");
	r = tm_tmpl_render_cached(t, scope, cache, out, err);
	tm_tmpl_cache_free(cache);
	return r;
}
