/* Template expressions: names, literals, operators, filters (docs/templates.md), parsed
 * inside a tag into the template's arena. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl_parser.h"

/* line and column (1-based) of a position in the source */
void tm_tmpl_pos_of(struct parser *ps, const char *at, int *line, int *col)
{
	const char *q = ps->src;
	int l = 1, c = 1;

	if (ps->mark_at && ps->mark_at <= at) {
		q = ps->mark_at;
		l = ps->mark_line;
		c = ps->mark_col;
	}
	for (; q < at && q < ps->end; q++) {
		if (*q == '\n') {
			l++;
			c = 1;
		} else {
			c++;
		}
	}
	ps->mark_at = q;
	ps->mark_line = l;
	ps->mark_col = c;
	*line = l;
	*col = c;
}

int tm_tmpl_perr(struct parser *ps, const char *at, const char *fmt, const char *detail)
{
	int line, col;
	char msg[256];

	tm_tmpl_pos_of(ps, at, &line, &col);
	snprintf(msg, sizeof(msg), fmt, detail ? detail : "");
	return tm_err_set(ps->err, TM_EINVALID, "%s:%d:%d: %s", ps->t->name, line, col, msg);
}

void *tm_tmpl_palloc(struct parser *ps, size_t n)
{
	void *p = tm_arena_alloc(&ps->t->arena, n);

	if (p)
		memset(p, 0, n);
	else
		tm_err_set(ps->err, TM_ELIMIT, "%s: template too large", ps->t->name);
	return p;
}

/* ------------------------------------------------------------------ expressions */

void tm_tmpl_skip_ws(struct parser *ps)
{
	while (ps->p < ps->tag_end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static bool is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident(char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

/* Accepts a keyword or symbol at the current position (after white space). */
bool tm_tmpl_accept(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	tm_tmpl_skip_ws(ps);
	if ((size_t)(ps->tag_end - ps->p) < n || strncmp(ps->p, word, n) != 0)
		return false;
	if (is_ident_start(word[0]) && ps->p + n < ps->tag_end && is_ident(ps->p[n]))
		return false; /* "in" must not match "index" */
	ps->p += n;
	return true;
}

char *tm_tmpl_ident(struct parser *ps)
{
	const char *s;

	tm_tmpl_skip_ws(ps);
	s = ps->p;
	if (s >= ps->tag_end || !is_ident_start(*s))
		return NULL;
	while (ps->p < ps->tag_end && is_ident(*ps->p))
		ps->p++;
	return tm_arena_strndup(&ps->t->arena, s, (size_t)(ps->p - s));
}

static struct expr *new_expr(struct parser *ps, enum expr_kind k, const char *at)
{
	struct expr *e = tm_tmpl_palloc(ps, sizeof(*e));

	if (e) {
		e->kind = k;
		tm_tmpl_pos_of(ps, at, &e->line, &e->col);
	}
	return e;
}

static struct expr *literal(struct parser *ps, json_t *v, const char *at)
{
	struct expr *e;

	if (!v || json_array_append_new(ps->t->literals, v) < 0) {
		tm_err_set(ps->err, TM_ERROR, "out of memory");
		return NULL;
	}
	if ((e = new_expr(ps, E_LIT, at)))
		e->lit = v; /* borrowed from t->literals */
	return e;
}

static struct expr *parse_or(struct parser *ps);

static struct expr *parse_string(struct parser *ps)
{
	const char *start = ps->p++;
	struct tm_buf b = TM_BUF_INIT("string literal", 65536);
	struct expr *e = NULL;

	while (ps->p < ps->tag_end && *ps->p != '"') {
		char c = *ps->p++;
		if (c == '\\') {
			if (ps->p >= ps->tag_end)
				break;
			c = *ps->p++;
			switch (c) {
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case '"':
			case '\\':
				break;
			default:
				tm_tmpl_perr(ps, ps->p - 2, "unknown escape in a string (use \\\", \\\\, \\n or \\t)", NULL);
				goto out;
			}
		}
		if (tm_buf_append(&b, &c, 1, ps->err) < 0)
			goto out;
	}
	if (ps->p >= ps->tag_end) {
		tm_tmpl_perr(ps, start, "string not closed (expected '\"')", NULL);
		goto out;
	}
	ps->p++;
	e = literal(ps, json_stringn(tm_buf_cstr(&b), b.len), start);
	if (!e && ps->err && ps->err->code == TM_ERROR)
		tm_tmpl_perr(ps, start, "string is not valid UTF-8", NULL);
out:
	tm_buf_release(&b);
	return e;
}

static struct expr *parse_number(struct parser *ps)
{
	const char *start = ps->p;
	char buf[64];
	bool real = false;
	size_t n;

	if (*ps->p == '-')
		ps->p++;
	while (ps->p < ps->tag_end && ((*ps->p >= '0' && *ps->p <= '9') || *ps->p == '.' || *ps->p == 'e' ||
				       *ps->p == 'E')) {
		real |= *ps->p == '.' || *ps->p == 'e' || *ps->p == 'E';
		ps->p++;
	}
	n = (size_t)(ps->p - start);
	if (n >= sizeof(buf)) {
		tm_tmpl_perr(ps, start, "number too long", NULL);
		return NULL;
	}
	memcpy(buf, start, n);
	buf[n] = '\0';
	errno = 0;
	if (real) {
		char *endp;
		double d = strtod(buf, &endp);
		if (*endp || errno || !isfinite(d)) {
			tm_tmpl_perr(ps, start, "bad number '%s'", buf);
			return NULL;
		}
		return literal(ps, json_real(d), start);
	} else {
		char *endp;
		long long v = strtoll(buf, &endp, 10);
		if (*endp || errno || n == 0 || (n == 1 && buf[0] == '-')) {
			tm_tmpl_perr(ps, start, "bad number '%s'", buf);
			return NULL;
		}
		return literal(ps, json_integer(v), start);
	}
}

/* primary: literal | name | ( expr ) */
static struct expr *parse_primary(struct parser *ps)
{
	const char *at;
	struct expr *e;
	char *name;

	tm_tmpl_skip_ws(ps);
	at = ps->p;
	if (at >= ps->tag_end) {
		tm_tmpl_perr(ps, at, "expected a value, found the end of the tag", NULL);
		return NULL;
	}
	if (*at == '"')
		return parse_string(ps);
	if ((*at >= '0' && *at <= '9') || (*at == '-' && at + 1 < ps->tag_end && at[1] >= '0' && at[1] <= '9'))
		return parse_number(ps);
	if (*at == '(') {
		ps->p++;
		if (++ps->depth > TM_TMPL_MAX_DEPTH) {
			tm_err_set(ps->err, TM_ELIMIT, "%s: expression nested too deeply", ps->t->name);
			return NULL;
		}
		e = tm_tmpl_parse_filtered(ps);
		ps->depth--;
		if (e && !tm_tmpl_accept(ps, ")")) {
			tm_tmpl_perr(ps, ps->p, "expected ')'", NULL);
			return NULL;
		}
		return e;
	}
	if (!(name = tm_tmpl_ident(ps))) {
		tm_tmpl_perr(ps, at, "expected a value (a name, \"text\", a number or '('), found '%.1s'", at);
		return NULL;
	}
	if (!strcmp(name, "true"))
		return literal(ps, json_true(), at);
	if (!strcmp(name, "false"))
		return literal(ps, json_false(), at);
	if (!strcmp(name, "null"))
		return literal(ps, json_null(), at);
	if ((e = new_expr(ps, E_NAME, at)))
		e->name = name;
	return e;
}

/* postfix: primary ( .name | [expr] )* */
static struct expr *parse_postfix(struct parser *ps)
{
	struct expr *e = parse_primary(ps);

	while (e) {
		const char *at;
		tm_tmpl_skip_ws(ps);
		at = ps->p;
		if (tm_tmpl_accept(ps, ".")) {
			struct expr *a = new_expr(ps, E_ATTR, at);
			if (!a || !(a->name = tm_tmpl_ident(ps))) {
				if (a)
					tm_tmpl_perr(ps, ps->p, "expected a key name after '.'", NULL);
				return NULL;
			}
			a->a = e;
			e = a;
		} else if (tm_tmpl_accept(ps, "[")) {
			struct expr *a = new_expr(ps, E_INDEX, at);
			if (++ps->depth > TM_TMPL_MAX_DEPTH) {
				tm_err_set(ps->err, TM_ELIMIT, "%s: expression nested too deeply", ps->t->name);
				return NULL;
			}
			if (!a || !(a->b = parse_or(ps)))
				return NULL;
			ps->depth--;
			if (!tm_tmpl_accept(ps, "]")) {
				tm_tmpl_perr(ps, ps->p, "expected ']'", NULL);
				return NULL;
			}
			a->a = e;
			e = a;
		} else {
			break;
		}
	}
	return e;
}

/* concat: postfix ( '~' postfix )* : text joined */
static struct expr *parse_concat(struct parser *ps)
{
	struct expr *left = parse_postfix(ps);

	while (left) {
		const char *at;
		struct expr *e;
		tm_tmpl_skip_ws(ps);
		at = ps->p;
		if (!tm_tmpl_accept(ps, "~"))
			break;
		if (!(e = new_expr(ps, E_CONCAT, at)))
			return NULL;
		e->a = left;
		if (!(e->b = parse_postfix(ps)))
			return NULL;
		left = e;
	}
	return left;
}

static struct expr *parse_cmp(struct parser *ps)
{
	static const struct {
		const char *sym;
		enum cmp_op op;
	} ops[] = { { "==", OP_EQ }, { "!=", OP_NE }, { "<=", OP_LE }, { ">=", OP_GE },
		    { "<", OP_LT },  { ">", OP_GT },  { "in", OP_IN } };
	struct expr *left = parse_concat(ps), *e;

	if (!left)
		return NULL;
	for (size_t i = 0; i < TM_ARRAY_LEN(ops); i++) {
		const char *at;
		tm_tmpl_skip_ws(ps);
		at = ps->p;
		if (!tm_tmpl_accept(ps, ops[i].sym))
			continue;
		if (!(e = new_expr(ps, E_CMP, at)))
			return NULL;
		e->op = ops[i].op;
		e->a = left;
		if (!(e->b = parse_concat(ps)))
			return NULL;
		return e;
	}
	return left;
}

static struct expr *parse_not(struct parser *ps)
{
	const char *at;
	struct expr *e;

	tm_tmpl_skip_ws(ps);
	at = ps->p;
	if (!tm_tmpl_accept(ps, "not"))
		return parse_cmp(ps);
	if (++ps->depth > TM_TMPL_MAX_DEPTH) {
		tm_err_set(ps->err, TM_ELIMIT, "%s: expression nested too deeply", ps->t->name);
		return NULL;
	}
	e = new_expr(ps, E_NOT, at);
	if (e && !(e->a = parse_not(ps)))
		e = NULL;
	ps->depth--;
	return e;
}

static struct expr *parse_binary(struct parser *ps, const char *word, enum expr_kind kind,
				 struct expr *(*next)(struct parser *))
{
	struct expr *left = next(ps);

	while (left) {
		const char *at;
		struct expr *e;
		tm_tmpl_skip_ws(ps);
		at = ps->p;
		if (!tm_tmpl_accept(ps, word))
			break;
		if (!(e = new_expr(ps, kind, at)))
			return NULL;
		e->a = left;
		if (!(e->b = next(ps)))
			return NULL;
		left = e;
	}
	return left;
}

static struct expr *parse_and(struct parser *ps)
{
	return parse_binary(ps, "and", E_AND, parse_not);
}

static struct expr *parse_or(struct parser *ps)
{
	return parse_binary(ps, "or", E_OR, parse_and);
}

/* filters: expr ( '|' name arg* )*, where an arg is a postfix expression */
struct expr *tm_tmpl_parse_filtered(struct parser *ps)
{
	struct expr *e = parse_or(ps);

	while (e && tm_tmpl_accept(ps, "|")) {
		const char *at;
		struct expr *f, *args[4];
		int nargs = 0;

		tm_tmpl_skip_ws(ps);
		at = ps->p;
		if (!(f = new_expr(ps, E_FILTER, at)))
			return NULL;
		if (!(f->name = tm_tmpl_ident(ps))) {
			tm_tmpl_perr(ps, at, "expected a filter name after '|'", NULL);
			return NULL;
		}
		if (!(f->filter = tm_tmpl_find_filter(f->name))) {
			char hint[128] = "";
			const char *near = tm_tmpl_nearest_filter(f->name);
			if (near)
				snprintf(hint, sizeof(hint), " (did you mean '%s'?)", near);
			int line, col;
			tm_tmpl_pos_of(ps, at, &line, &col);
			tm_err_set(ps->err, TM_EINVALID, "%s:%d:%d: unknown filter '%s'%s", ps->t->name, line, col,
				   f->name, hint);
			return NULL;
		}
		for (;;) {
			tm_tmpl_skip_ws(ps);
			if (ps->p >= ps->tag_end || *ps->p == '|' || *ps->p == ')')
				break;
			if (nargs == (int)TM_ARRAY_LEN(args)) {
				tm_tmpl_perr(ps, ps->p, "too many arguments for filter '%s'", f->name);
				return NULL;
			}
			if (!(args[nargs++] = parse_postfix(ps)))
				return NULL;
		}
		if (nargs < f->filter->min_args || nargs > f->filter->max_args) {
			char what[96];
			snprintf(what, sizeof(what), "%s' takes %d to %d arguments, got %d", f->name, f->filter->min_args,
				 f->filter->max_args, nargs);
			tm_tmpl_perr(ps, at, "filter '%s", what);
			return NULL;
		}
		f->a = e;
		f->nargs = nargs;
		if (nargs) {
			if (!(f->args = tm_tmpl_palloc(ps, (size_t)nargs * sizeof(*f->args))))
				return NULL;
			memcpy(f->args, args, (size_t)nargs * sizeof(*args));
		}
		e = f;
	}
	return e;
}

int tm_tmpl_expect_end(struct parser *ps, const char *what)
{
	tm_tmpl_skip_ws(ps);
	if (ps->p < ps->tag_end)
		return tm_tmpl_perr(ps, ps->p, "unexpected '%s' (expected the end of the tag)", what);
	return 0;
}

