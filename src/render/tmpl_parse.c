/* Template parsing: text -> a tree of nodes and expressions (docs/templates.md).
 * Everything a template owns lives in one arena, literals in one jansson array. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl.h"

struct parser {
	struct tm_tmpl *t;
	const char *src, *end;
	const char *p;        /* lexer position inside the current tag */
	const char *tag_end;  /* where the current tag's body ends */
	int depth;
	struct tm_err *err;
	/* the last position asked for, so that line/column counting moves forward
	 * instead of rescanning from the start (positions are asked for in order) */
	const char *mark_at;
	int mark_line, mark_col;
};

/* line and column (1-based) of a position in the source */
static void pos_of(struct parser *ps, const char *at, int *line, int *col)
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

static int fail(struct parser *ps, const char *at, const char *fmt, const char *detail)
{
	int line, col;
	char msg[256];

	pos_of(ps, at, &line, &col);
	snprintf(msg, sizeof(msg), fmt, detail ? detail : "");
	return tm_err_set(ps->err, TM_EINVALID, "%s:%d:%d: %s", ps->t->name, line, col, msg);
}

static void *alloc(struct parser *ps, size_t n)
{
	void *p = tm_arena_alloc(&ps->t->arena, n);

	if (p)
		memset(p, 0, n);
	else
		tm_err_set(ps->err, TM_ELIMIT, "%s: template too large", ps->t->name);
	return p;
}

/* ------------------------------------------------------------------ expressions */

static void skip_ws(struct parser *ps)
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
static bool accept(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	skip_ws(ps);
	if ((size_t)(ps->tag_end - ps->p) < n || strncmp(ps->p, word, n) != 0)
		return false;
	if (is_ident_start(word[0]) && ps->p + n < ps->tag_end && is_ident(ps->p[n]))
		return false; /* "in" must not match "index" */
	ps->p += n;
	return true;
}

static char *ident(struct parser *ps)
{
	const char *s;

	skip_ws(ps);
	s = ps->p;
	if (s >= ps->tag_end || !is_ident_start(*s))
		return NULL;
	while (ps->p < ps->tag_end && is_ident(*ps->p))
		ps->p++;
	return tm_arena_strndup(&ps->t->arena, s, (size_t)(ps->p - s));
}

static struct expr *new_expr(struct parser *ps, enum expr_kind k, const char *at)
{
	struct expr *e = alloc(ps, sizeof(*e));

	if (e) {
		e->kind = k;
		pos_of(ps, at, &e->line, &e->col);
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
static struct expr *parse_filtered(struct parser *ps);

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
				fail(ps, ps->p - 2, "unknown escape in a string (use \\\", \\\\, \\n or \\t)", NULL);
				goto out;
			}
		}
		if (tm_buf_append(&b, &c, 1, ps->err) < 0)
			goto out;
	}
	if (ps->p >= ps->tag_end) {
		fail(ps, start, "string not closed (expected '\"')", NULL);
		goto out;
	}
	ps->p++;
	e = literal(ps, json_stringn(tm_buf_cstr(&b), b.len), start);
	if (!e && ps->err && ps->err->code == TM_ERROR)
		fail(ps, start, "string is not valid UTF-8", NULL);
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
		fail(ps, start, "number too long", NULL);
		return NULL;
	}
	memcpy(buf, start, n);
	buf[n] = '\0';
	errno = 0;
	if (real) {
		char *endp;
		double d = strtod(buf, &endp);
		if (*endp || errno || !isfinite(d)) {
			fail(ps, start, "bad number '%s'", buf);
			return NULL;
		}
		return literal(ps, json_real(d), start);
	} else {
		char *endp;
		long long v = strtoll(buf, &endp, 10);
		if (*endp || errno || n == 0 || (n == 1 && buf[0] == '-')) {
			fail(ps, start, "bad number '%s'", buf);
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

	skip_ws(ps);
	at = ps->p;
	if (at >= ps->tag_end) {
		fail(ps, at, "expected a value, found the end of the tag", NULL);
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
		e = parse_filtered(ps);
		ps->depth--;
		if (e && !accept(ps, ")")) {
			fail(ps, ps->p, "expected ')'", NULL);
			return NULL;
		}
		return e;
	}
	if (!(name = ident(ps))) {
		fail(ps, at, "expected a value (a name, \"text\", a number or '('), found '%.1s'", at);
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
		skip_ws(ps);
		at = ps->p;
		if (accept(ps, ".")) {
			struct expr *a = new_expr(ps, E_ATTR, at);
			if (!a || !(a->name = ident(ps))) {
				if (a)
					fail(ps, ps->p, "expected a key name after '.'", NULL);
				return NULL;
			}
			a->a = e;
			e = a;
		} else if (accept(ps, "[")) {
			struct expr *a = new_expr(ps, E_INDEX, at);
			if (++ps->depth > TM_TMPL_MAX_DEPTH) {
				tm_err_set(ps->err, TM_ELIMIT, "%s: expression nested too deeply", ps->t->name);
				return NULL;
			}
			if (!a || !(a->b = parse_or(ps)))
				return NULL;
			ps->depth--;
			if (!accept(ps, "]")) {
				fail(ps, ps->p, "expected ']'", NULL);
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
		skip_ws(ps);
		at = ps->p;
		if (!accept(ps, "~"))
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
		skip_ws(ps);
		at = ps->p;
		if (!accept(ps, ops[i].sym))
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

	skip_ws(ps);
	at = ps->p;
	if (!accept(ps, "not"))
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
		skip_ws(ps);
		at = ps->p;
		if (!accept(ps, word))
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
static struct expr *parse_filtered(struct parser *ps)
{
	struct expr *e = parse_or(ps);

	while (e && accept(ps, "|")) {
		const char *at;
		struct expr *f, *args[4];
		int nargs = 0;

		skip_ws(ps);
		at = ps->p;
		if (!(f = new_expr(ps, E_FILTER, at)))
			return NULL;
		if (!(f->name = ident(ps))) {
			fail(ps, at, "expected a filter name after '|'", NULL);
			return NULL;
		}
		if (!(f->filter = tm_tmpl_find_filter(f->name))) {
			char hint[128] = "";
			const char *near = tm_tmpl_nearest_filter(f->name);
			if (near)
				snprintf(hint, sizeof(hint), " (did you mean '%s'?)", near);
			int line, col;
			pos_of(ps, at, &line, &col);
			tm_err_set(ps->err, TM_EINVALID, "%s:%d:%d: unknown filter '%s'%s", ps->t->name, line, col,
				   f->name, hint);
			return NULL;
		}
		for (;;) {
			skip_ws(ps);
			if (ps->p >= ps->tag_end || *ps->p == '|' || *ps->p == ')')
				break;
			if (nargs == (int)TM_ARRAY_LEN(args)) {
				fail(ps, ps->p, "too many arguments for filter '%s'", f->name);
				return NULL;
			}
			if (!(args[nargs++] = parse_postfix(ps)))
				return NULL;
		}
		if (nargs < f->filter->min_args || nargs > f->filter->max_args) {
			char what[96];
			snprintf(what, sizeof(what), "%s' takes %d to %d arguments, got %d", f->name, f->filter->min_args,
				 f->filter->max_args, nargs);
			fail(ps, at, "filter '%s", what);
			return NULL;
		}
		f->a = e;
		f->nargs = nargs;
		if (nargs) {
			if (!(f->args = alloc(ps, (size_t)nargs * sizeof(*f->args))))
				return NULL;
			memcpy(f->args, args, (size_t)nargs * sizeof(*args));
		}
		e = f;
	}
	return e;
}

static int expect_end(struct parser *ps, const char *what)
{
	skip_ws(ps);
	if (ps->p < ps->tag_end)
		return fail(ps, ps->p, "unexpected '%s' (expected the end of the tag)", what);
	return 0;
}

/* ------------------------------------------------------------------ statements */

struct tag {
	char kind;          /* '{' expression, '%' statement, '#' comment */
	const char *open;   /* at "{{" */
	const char *body;   /* first byte inside */
	const char *close;  /* at "}}" / "%}" / "#}" */
	const char *after;  /* first byte after the tag (and its line, if standalone) */
	const char *text_end; /* where the text before the tag ends */
};

/* Finds the next tag at or after from; false at the end of the source. */
static int next_tag(struct parser *ps, const char *from, struct tag *tg, bool *found)
{
	const char *q = from;

	*found = false;
	for (; q + 1 < ps->end; q++) {
		const char *closer;
		const char *c;
		if (q[0] != '{' || (q[1] != '{' && q[1] != '%' && q[1] != '#'))
			continue;
		tg->kind = q[1];
		closer = q[1] == '{' ? "}}" : q[1] == '%' ? "%}" : "#}";
		tg->open = q;
		tg->body = q + 2;
		/* a closer inside a "string" does not end the tag: {{ "}}" }} */
		bool in_str = false;
		for (c = tg->body; c + 1 < ps->end; c++) {
			if (tg->kind != '#' && in_str && c[0] == '\\') {
				c++;
				continue;
			}
			if (tg->kind != '#' && c[0] == '"')
				in_str = !in_str;
			else if (!in_str && c[0] == closer[0] && c[1] == closer[1])
				break;
		}
		if (c + 1 >= ps->end)
			return fail(ps, q, "tag not closed (expected '%s')", closer);
		tg->close = c;
		tg->after = c + 2;
		tg->text_end = q;
		if (tg->kind != '{') {
			/* a statement or comment alone on its line takes the line with it */
			const char *ls = q, *le = tg->after;
			while (ls > ps->src && (ls[-1] == ' ' || ls[-1] == '\t'))
				ls--;
			while (le < ps->end && (*le == ' ' || *le == '\t'))
				le++;
			if ((ls == ps->src || ls[-1] == '\n') && (le == ps->end || *le == '\n')) {
				tg->text_end = ls;
				tg->after = le < ps->end ? le + 1 : le;
			}
		}
		*found = true;
		return 0;
	}
	return 0;
}

static struct node *new_node(struct parser *ps, enum node_kind k, const char *at)
{
	struct node *n = alloc(ps, sizeof(*n));

	if (n) {
		n->kind = k;
		pos_of(ps, at, &n->line, &n->col);
	}
	return n;
}

/* Parses nodes until a closing statement; *stop receives which ("end", "else",
 * "elif", or NULL at the end of the source) and ps->p its tag. */
static int parse_block(struct parser *ps, const char **pos, struct node **out, const char **stop,
		       const char **stop_at);

static int append(struct node ***tail, struct node *n)
{
	**tail = n;
	*tail = &n->next;
	return 0;
}

static int fail_node(struct parser *ps, const struct node *n, const char *what)
{
	return tm_err_set(ps->err, TM_EINVALID, "%s:%d:%d: %s", ps->t->name, n->line, n->col, what);
}

/* After "{% if cond %}": the body, then any elif/else chain, up to "{% end %}". */
static int parse_if(struct parser *ps, const char **pos, struct node *n)
{
	const char *stop, *stop_at;
	struct node *e;
	int rc;

	if ((rc = parse_block(ps, pos, &n->body, &stop, &stop_at)) < 0)
		return rc;
	if (!stop)
		return fail_node(ps, n, "'if' is never closed with '{% end %}'");
	if (!strcmp(stop, "elif")) {
		if (!(e = new_node(ps, N_IF, stop_at)))
			return TM_ELIMIT;
		if (!(e->expr = parse_filtered(ps)))
			return ps->err ? ps->err->code : TM_EINVALID;
		if ((rc = expect_end(ps, "elif")) < 0)
			return rc;
		e->is_elif = true;
		n->orelse = e;
		return parse_if(ps, pos, e);
	}
	if (!strcmp(stop, "else")) {
		if ((rc = expect_end(ps, "else")) < 0)
			return rc;
		if ((rc = parse_block(ps, pos, &n->orelse, &stop, &stop_at)) < 0)
			return rc;
		if (!stop || strcmp(stop, "end") != 0)
			return fail_node(ps, n, "the 'else' of this 'if' is never closed with '{% end %}'");
	}
	return expect_end(ps, "end");
}

static int parse_statement(struct parser *ps, const char **pos, struct tag *tg, struct node ***tail,
			   const char **stop, const char **stop_at, bool *done)
{
	const char *at;
	struct node *n;
	char *word;
	int rc;

	ps->p = tg->body;
	ps->tag_end = tg->close;
	skip_ws(ps);
	at = ps->p;
	if (!(word = ident(ps)))
		return fail(ps, at, "expected a statement (if, elif, else, for, set, end)", NULL);
	if (!strcmp(word, "end") || !strcmp(word, "else") || !strcmp(word, "elif")) {
		*stop = word;
		*stop_at = at;
		*done = true;
		return 0;
	}
	if (++ps->depth > TM_TMPL_MAX_DEPTH)
		return tm_err_set(ps->err, TM_ELIMIT, "%s: blocks nested too deeply", ps->t->name);
	if (!strcmp(word, "if")) {
		if (!(n = new_node(ps, N_IF, at)) || !(n->expr = parse_filtered(ps)))
			return ps->err ? ps->err->code : TM_EINVALID;
		if ((rc = expect_end(ps, "if")) < 0 || (rc = parse_if(ps, pos, n)) < 0)
			return rc;
	} else if (!strcmp(word, "for")) {
		if (!(n = new_node(ps, N_FOR, at)))
			return TM_ELIMIT;
		if (!(n->var1 = ident(ps)))
			return fail(ps, ps->p, "expected a loop name after 'for'", NULL);
		if (accept(ps, ",") && !(n->var2 = ident(ps)))
			return fail(ps, ps->p, "expected a second loop name after ','", NULL);
		if (!accept(ps, "in"))
			return fail(ps, ps->p, "expected 'in' in 'for'", NULL);
		if (!(n->expr = parse_filtered(ps)))
			return ps->err ? ps->err->code : TM_EINVALID;
		if ((rc = expect_end(ps, "for")) < 0)
			return rc;
		if ((rc = parse_block(ps, pos, &n->body, stop, stop_at)) < 0)
			return rc;
		if (!*stop || strcmp(*stop, "end") != 0)
			return fail_node(ps, n, "'for' is never closed with '{% end %}'");
		if ((rc = expect_end(ps, "end")) < 0)
			return rc;
		*stop = NULL;
	} else if (!strcmp(word, "set")) {
		if (!(n = new_node(ps, N_SET, at)))
			return TM_ELIMIT;
		if (!(n->var1 = ident(ps)))
			return fail(ps, ps->p, "expected a name after 'set'", NULL);
		if (!accept(ps, "="))
			return fail(ps, ps->p, "expected '=' in 'set'", NULL);
		if (!(n->expr = parse_filtered(ps)))
			return ps->err ? ps->err->code : TM_EINVALID;
		if ((rc = expect_end(ps, "set")) < 0)
			return rc;
	} else {
		return fail(ps, at, "unknown statement '%s' (expected if, elif, else, for, set or end)", word);
	}
	ps->depth--;
	return append(tail, n);
}

static int parse_block(struct parser *ps, const char **pos, struct node **out, const char **stop,
		       const char **stop_at)
{
	struct node **tail = out;
	int rc;

	*stop = NULL;
	*stop_at = NULL;
	for (;;) {
		struct tag tg;
		bool found, done = false;
		struct node *n;

		if ((rc = next_tag(ps, *pos, &tg, &found)) < 0)
			return rc;
		if (!found) {
			if (*pos < ps->end) {
				if (!(n = new_node(ps, N_TEXT, *pos)))
					return TM_ELIMIT;
				n->text = *pos;
				n->len = (size_t)(ps->end - *pos);
				append(&tail, n);
			}
			*pos = ps->end;
			return 0;
		}
		if (tg.text_end > *pos) {
			if (!(n = new_node(ps, N_TEXT, *pos)))
				return TM_ELIMIT;
			n->text = *pos;
			n->len = (size_t)(tg.text_end - *pos);
			append(&tail, n);
		}
		*pos = tg.after;
		if (tg.kind == '#')
			continue;
		if (tg.kind == '{') {
			ps->p = tg.body;
			ps->tag_end = tg.close;
			if (!(n = new_node(ps, N_EXPR, tg.open)) || !(n->expr = parse_filtered(ps)))
				return ps->err ? ps->err->code : TM_EINVALID;
			if ((rc = expect_end(ps, "value")) < 0)
				return rc;
			append(&tail, n);
			continue;
		}
		if ((rc = parse_statement(ps, pos, &tg, &tail, stop, stop_at, &done)) < 0)
			return rc;
		if (done)
			return 0;
	}
}

int tm_tmpl_parse(struct tm_tmpl **out, const char *name, const char *text, size_t len, struct tm_err *err)
{
	struct tm_tmpl *t = calloc(1, sizeof(*t));
	struct parser ps = { .t = t, .err = err };
	const char *pos, *stop, *stop_at;
	int rc;

	if (!t)
		return tm_err_set(err, TM_ERROR, "out of memory");
	tm_arena_init(&t->arena, 64u << 20);
	t->literals = json_array();
	t->name = tm_arena_strdup(&t->arena, name ? name : "<template>");
	t->src = tm_arena_strndup(&t->arena, text, len);
	if (!t->literals || !t->name || !t->src) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	if (strlen(t->src) != len) {
		rc = tm_err_set(err, TM_EINVALID, "%s: the template contains a NUL byte", t->name);
		goto out;
	}
	ps.src = pos = t->src;
	ps.end = t->src + len;
	if ((rc = parse_block(&ps, &pos, &t->root, &stop, &stop_at)) < 0)
		goto out;
	if (stop) {
		rc = fail(&ps, stop_at, "'%s' without a matching 'if' or 'for'", stop);
		goto out;
	}
	*out = t;
	t = NULL;
out:
	tm_tmpl_free(t);
	return rc;
}

void tm_tmpl_free(struct tm_tmpl *t)
{
	if (!t)
		return;
	json_decref(t->literals);
	tm_arena_release(&t->arena);
	free(t);
}
