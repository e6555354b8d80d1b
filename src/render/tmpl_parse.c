/* Template parsing: text -> a tree of nodes (text, output tags, statements), their
 * expressions parsed by tmpl_expr.c (docs/templates.md). Everything a template owns
 * lives in one arena, literals in one jansson array. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl_parser.h"

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
			return tm_tmpl_perr(ps, q, "tag not closed (expected '%s')", closer);
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
	struct node *n = tm_tmpl_palloc(ps, sizeof(*n));

	if (n) {
		n->kind = k;
		tm_tmpl_pos_of(ps, at, &n->line, &n->col);
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
		if (!(e->expr = tm_tmpl_parse_filtered(ps)))
			return ps->err ? ps->err->code : TM_EINVALID;
		if ((rc = tm_tmpl_expect_end(ps, "elif")) < 0)
			return rc;
		e->is_elif = true;
		n->orelse = e;
		return parse_if(ps, pos, e);
	}
	if (!strcmp(stop, "else")) {
		if ((rc = tm_tmpl_expect_end(ps, "else")) < 0)
			return rc;
		if ((rc = parse_block(ps, pos, &n->orelse, &stop, &stop_at)) < 0)
			return rc;
		if (!stop || strcmp(stop, "end") != 0)
			return fail_node(ps, n, "the 'else' of this 'if' is never closed with '{% end %}'");
	}
	return tm_tmpl_expect_end(ps, "end");
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
	tm_tmpl_skip_ws(ps);
	at = ps->p;
	if (!(word = tm_tmpl_ident(ps)))
		return tm_tmpl_perr(ps, at, "expected a statement (if, elif, else, for, set, end)", NULL);
	if (!strcmp(word, "end") || !strcmp(word, "else") || !strcmp(word, "elif")) {
		*stop = word;
		*stop_at = at;
		*done = true;
		return 0;
	}
	if (++ps->depth > TM_TMPL_MAX_DEPTH)
		return tm_err_set(ps->err, TM_ELIMIT, "%s: blocks nested too deeply", ps->t->name);
	if (!strcmp(word, "if")) {
		if (!(n = new_node(ps, N_IF, at)) || !(n->expr = tm_tmpl_parse_filtered(ps)))
			return ps->err ? ps->err->code : TM_EINVALID;
		if ((rc = tm_tmpl_expect_end(ps, "if")) < 0 || (rc = parse_if(ps, pos, n)) < 0)
			return rc;
	} else if (!strcmp(word, "for")) {
		if (!(n = new_node(ps, N_FOR, at)))
			return TM_ELIMIT;
		if (!(n->var1 = tm_tmpl_ident(ps)))
			return tm_tmpl_perr(ps, ps->p, "expected a loop name after 'for'", NULL);
		if (tm_tmpl_accept(ps, ",") && !(n->var2 = tm_tmpl_ident(ps)))
			return tm_tmpl_perr(ps, ps->p, "expected a second loop name after ','", NULL);
		if (!tm_tmpl_accept(ps, "in"))
			return tm_tmpl_perr(ps, ps->p, "expected 'in' in 'for'", NULL);
		if (!(n->expr = tm_tmpl_parse_filtered(ps)))
			return ps->err ? ps->err->code : TM_EINVALID;
		if ((rc = tm_tmpl_expect_end(ps, "for")) < 0)
			return rc;
		if ((rc = parse_block(ps, pos, &n->body, stop, stop_at)) < 0)
			return rc;
		if (!*stop || strcmp(*stop, "end") != 0)
			return fail_node(ps, n, "'for' is never closed with '{% end %}'");
		if ((rc = tm_tmpl_expect_end(ps, "end")) < 0)
			return rc;
		*stop = NULL;
	} else if (!strcmp(word, "set")) {
		if (!(n = new_node(ps, N_SET, at)))
			return TM_ELIMIT;
		if (!(n->var1 = tm_tmpl_ident(ps)))
			return tm_tmpl_perr(ps, ps->p, "expected a name after 'set'", NULL);
		if (!tm_tmpl_accept(ps, "="))
			return tm_tmpl_perr(ps, ps->p, "expected '=' in 'set'", NULL);
		if (!(n->expr = tm_tmpl_parse_filtered(ps)))
			return ps->err ? ps->err->code : TM_EINVALID;
		if ((rc = tm_tmpl_expect_end(ps, "set")) < 0)
			return rc;
	} else {
		return tm_tmpl_perr(ps, at, "unknown statement '%s' (expected if, elif, else, for, set or end)", word);
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
			if (!(n = new_node(ps, N_EXPR, tg.open)) || !(n->expr = tm_tmpl_parse_filtered(ps)))
				return ps->err ? ps->err->code : TM_EINVALID;
			if ((rc = tm_tmpl_expect_end(ps, "value")) < 0)
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
		rc = tm_tmpl_perr(&ps, stop_at, "'%s' without a matching 'if' or 'for'", stop);
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
