/* Template evaluation: expressions over jansson values and statements writing text
 * (the filters are in tmpl_filters.c). Deterministic: no clock, no randomness,
 * sorted mapping order. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tarmac/doc.h"
#include "tmpl.h"

struct tm_tmpl_cache *tm_tmpl_cache_new(void)
{
	struct tm_tmpl_cache *c = calloc(1, sizeof(*c));

	if (c && !(c->slot = calloc(tm_embedded_nfiles ? tm_embedded_nfiles : 1, sizeof(*c->slot)))) {
		free(c);
		return NULL;
	}
	return c;
}

void tm_tmpl_cache_free(struct tm_tmpl_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		tm_tmpl_free(c->slot[i].tmpl);
	free(c->slot);
	free(c);
}

int tm_tmpl_cache_get(const struct tm_tmpl **out, struct tm_tmpl_cache *c, const struct tm_embedded_file *f,
		      struct tm_err *err)
{
	struct tm_tmpl *t = NULL;
	char name[300];
	int rc = 0;

	for (size_t i = 0; i < c->n && !t; i++)
		if (c->slot[i].file == f)
			t = c->slot[i].tmpl;
	if (!t) {
		snprintf(name, sizeof(name), "bundle/%s", f->path);
		if (c->n >= tm_embedded_nfiles)
			rc = tm_err_set(err, TM_ERROR, "internal: '%s' is not a file of the bundle", name);
		else if ((rc = tm_tmpl_parse(&t, name, (const char *)f->data, f->len, err)) == 0)
			c->slot[c->n].file = f, c->slot[c->n++].tmpl = t;
	}
	if (rc == 0)
		*out = t;
	return rc;
}

static int vfail(struct render_ctx *rc, int line, int col, int code, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	return tm_err_set(rc->err, code, "%s:%d:%d: %s", rc->t->name, line, col, msg);
}

int tm_tmpl_fail(struct render_ctx *rc, int line, int col, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail(rc, line, col, code, fmt, ap);
	va_end(ap);
	return r;
}

int tm_tmpl_fail_expr(struct render_ctx *rc, const struct expr *e, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail(rc, e->line, e->col, TM_EINVALID, fmt, ap);
	va_end(ap);
	return r;
}

const char *tm_tmpl_type_name(json_t *v)
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
int tm_tmpl_to_text(struct tm_buf *b, json_t *v, struct tm_err *err)
{
	if (json_is_string(v))
		return tm_buf_append(b, json_string_value(v), json_string_length(v), err);
	if (json_is_null(v))
		return 0;
	return tm_doc_emit_scalar(b, v, err);
}

static int eval(struct render_ctx *rc, const struct expr *e, json_t **out);

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
		return tm_tmpl_fail_expr(rc, e, "'in' needs a list, a mapping or text on its right, got %s", tm_tmpl_type_name(b));
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
	return tm_tmpl_fail_expr(rc, e, "cannot order %s against %s", tm_tmpl_type_name(a), tm_tmpl_type_name(b));
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

/* a[b]: an object by key, a list by index (negative from the end), null for null;
 * a missing entry is null. */
static int index_value(struct render_ctx *rc, const struct expr *e, json_t *a, json_t *b, json_t **out)
{
	json_t *v = NULL;

	if (json_is_object(a) && json_is_string(b)) {
		v = json_object_get(a, json_string_value(b));
	} else if (json_is_array(a) && json_is_integer(b)) {
		json_int_t i = json_integer_value(b);

		if (i < 0)
			i += (json_int_t)json_array_size(a);
		v = i >= 0 ? json_array_get(a, (size_t)i) : NULL;
	} else if (!json_is_null(a)) {
		return tm_tmpl_fail_expr(rc, e, "cannot index %s with %s", tm_tmpl_type_name(a), tm_tmpl_type_name(b));
	}
	*out = json_incref(v ? v : json_null());
	return 0;
}

/* a ~ b: both as text, joined. */
static int concat(struct render_ctx *rc, const struct expr *e, json_t *a, json_t *b, json_t **out)
{
	struct tm_buf t = TM_BUF_INIT("text", TM_TMPL_MAX_OUTPUT);
	int r;

	if (json_is_object(a) || json_is_array(a) || json_is_object(b) || json_is_array(b))
		return tm_tmpl_fail_expr(rc, e, "'~' joins text, not %s and %s", tm_tmpl_type_name(a), tm_tmpl_type_name(b));
	if ((r = tm_tmpl_to_text(&t, a, rc->err)) == 0 && (r = tm_tmpl_to_text(&t, b, rc->err)) == 0)
		return tm_tmpl_give_text(rc, &t, out);
	tm_buf_release(&t);
	return r;
}

/* The value of a name in scope. */
static int name_value(struct render_ctx *rc, const struct expr *e, json_t **out)
{
	json_t *v = lookup(rc, e->name);

	if (!v)
		return tm_tmpl_fail_expr(rc, e, "unknown name '%s'%s", e->name,
					 " (names: values, release, environment, capabilities, or a loop or set name)");
	*out = json_incref(v);
	return 0;
}

/* Evaluates e into *out (a new reference). */
static int eval(struct render_ctx *rc, const struct expr *e, json_t **out)
{
	json_t *a = NULL, *b = NULL;
	bool res = false;
	int r = 0;

	if (++rc->depth > TM_TMPL_MAX_DEPTH) {
		rc->depth--;
		return tm_tmpl_fail(rc, e->line, e->col, TM_ELIMIT, "expression nested too deeply");
	}
	/* the operands first, for the kinds that take both */
	if ((e->kind == E_INDEX || e->kind == E_CMP || e->kind == E_CONCAT) &&
	    ((r = eval(rc, e->a, &a)) < 0 || (r = eval(rc, e->b, &b)) < 0))
		goto out;
	switch (e->kind) {
	case E_LIT:
		*out = json_incref(e->lit);
		break;
	case E_NAME:
		r = name_value(rc, e, out);
		break;
	case E_ATTR:
		/* a missing step is null, so '| default' can catch it */
		if ((r = eval(rc, e->a, &a)) == 0)
			*out = json_incref(json_is_object(a) && json_object_get(a, e->name) ? json_object_get(a, e->name)
											      : json_null());
		break;
	case E_INDEX:
		r = index_value(rc, e, a, b, out);
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
		if (truthy(a) == (e->kind == E_OR))
			*out = json_incref(a);
		else
			r = eval(rc, e->b, out);
		break;
	case E_CMP:
		if ((r = compare(rc, e, a, b, &res)) == 0)
			*out = json_boolean(res);
		break;
	case E_FILTER:
		r = eval_filter(rc, e, out);
		break;
	case E_CONCAT:
		r = concat(rc, e, a, b, out);
		break;
	}
out:
	json_decref(a);
	json_decref(b);
	rc->depth--;
	return r;
}

int tm_tmpl_give_text(struct render_ctx *rc, struct tm_buf *b, json_t **out)
{
	*out = json_stringn(tm_buf_cstr(b), b->len);
	tm_buf_release(b);
	return *out ? 0 : tm_err_set(rc->err, TM_EINVALID, "%s: filter produced text that is not UTF-8", rc->t->name);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A mapping's keys, sorted: the order every loop over a mapping uses. */
json_t *tm_tmpl_sorted_keys(json_t *obj)
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

/* ------------------------------------------------------------------ statements */

static int step(struct render_ctx *rc, const struct node *n)
{
	if (++rc->steps > TM_TMPL_MAX_STEPS)
		return tm_tmpl_fail(rc, n->line, n->col, TM_ELIMIT, "template ran more than the step limit (a runaway loop?)");
	return 0;
}

/* How far the text of e is already YAML: literals and includes are template text;
 * 'yaml', 'json' and 'quote' serialize; indentation keeps what it indents; 'a and b'
 * gives a only when a is false-like (no text that could matter). */
static enum tm_trust trust_of(const struct expr *e)
{
	enum tm_trust a, b;

	switch (e->kind) {
	case E_LIT:
		return TM_TRUST_TEMPLATE;
	case E_FILTER:
		if (!strcmp(e->filter->name, "include"))
			return TM_TRUST_TEMPLATE;
		if (!strcmp(e->filter->name, "yaml") || !strcmp(e->filter->name, "json") || !strcmp(e->filter->name, "quote"))
			return TM_TRUST_DATA;
		if (!strcmp(e->filter->name, "indent") || !strcmp(e->filter->name, "nindent"))
			return trust_of(e->a);
		return TM_TRUST_NONE;
	case E_AND:
		return trust_of(e->b);
	case E_OR:
		a = trust_of(e->a);
		b = trust_of(e->b);
		return a < b ? a : b;
	default:
		return TM_TRUST_NONE;
	}
}

static int emit_value(struct render_ctx *rc, const struct node *n, json_t *v)
{
	struct tm_buf t = TM_BUF_INIT("text", TM_TMPL_MAX_OUTPUT);
	int r;

	if (json_is_object(v) || json_is_array(v))
		return tm_tmpl_fail(rc, n->line, n->col, TM_EINVALID, "cannot write %s as text: use '| yaml' or '| json'",
			    tm_tmpl_type_name(v));
	if ((r = tm_tmpl_to_text(&t, v, rc->err)) == 0)
		r = tm_tmpl_place(rc, n, tm_buf_cstr(&t), t.len, trust_of(n->expr));
	tm_buf_release(&t);
	return r;
}

/* Runs body in a new frame holding the given name(s). */
static int run_scoped(struct render_ctx *rc, const struct node *body, json_t *vars)
{
	struct frame f = { vars, rc->top };
	int r;

	rc->top = &f;
	r = tm_tmpl_run(rc, body);
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
			r = tm_tmpl_fail(rc, n->line, n->col, TM_EINVALID, "'for %s, %s' needs a mapping, got a list", n->var1, n->var2);
			goto out;
		}
		count = json_array_size(iter);
	} else if (json_is_object(iter)) {
		if (!(keys = tm_tmpl_sorted_keys(iter))) {
			r = tm_err_set(rc->err, TM_ERROR, "out of memory");
			goto out;
		}
		count = json_array_size(keys);
	} else {
		r = tm_tmpl_fail(rc, n->line, n->col, TM_EINVALID, "'for' needs a list or a mapping, got %s", tm_tmpl_type_name(iter));
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

int tm_tmpl_run(struct render_ctx *rc, const struct node *n)
{
	int r = 0;

	if (++rc->depth > TM_TMPL_MAX_DEPTH) {
		rc->depth--;
		return tm_tmpl_fail(rc, n ? n->line : 0, n ? n->col : 0, TM_ELIMIT, "blocks nested too deeply");
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
					r = tm_tmpl_fail(rc, n->line, n->col, TM_ERROR, "internal: no frame for 'set'");
					break;
				}
				json_object_set(into, n->var1, v);
			}
			break;
		}
		if (r == 0 && rc->out->len > TM_TMPL_MAX_OUTPUT)
			r = tm_tmpl_fail(rc, n->line, n->col, TM_ELIMIT, "template output exceeds its limit");
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
	tm_ylex_init(&rc.lex, out->len);
	if ((r = run_scoped(&rc, t->root, vars)) == 0)
		r = tm_tmpl_place_finish(&rc);
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
