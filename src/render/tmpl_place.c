/* Where a {{ }} lands in the YAML a template has written so far, and its text written
 * there so that no value can change the structure around it: escaped inside quotes,
 * re-indented inside a block scalar, plain only when it is plain-safe (docs/templates.md). */
#include <string.h>

#include "tarmac/doc.h"
#include "tmpl.h"

void tm_ylex_init(struct tm_ylex *lx, size_t at)
{
	memset(lx, 0, sizeof(*lx));
	lx->done = at;
	lx->indent = lx->block_parent = lx->block_indent = -1;
	lx->node_start = lx->blank = true;
}

/* ------------------------------------------------------------------ the lexer */

static void line_break(struct tm_ylex *lx)
{
	if (lx->header) {
		lx->block_parent = lx->indent < 0 ? 0 : lx->indent;
		lx->block_indent = -1;
		lx->header = false;
	}
	if (lx->quote == '\'' && lx->sq_end)
		lx->quote = 0;
	lx->sq_end = lx->comment = lx->in_plain = lx->after_node = lx->prop = false;
	lx->pending = 0;
	lx->node_start = lx->blank = true;
	lx->col = 0;
	lx->indent = -1;
}

/* Leading spaces of a line; inside a block scalar, whether the line is still in it.
 * Returns true when c was taken (indentation or block content). */
static bool indentation(struct tm_ylex *lx, unsigned char c)
{
	if (lx->indent >= 0) {
		if (lx->block_parent < 0)
			return false;
		lx->col++;
		return true;
	}
	if (c == ' ') {
		lx->col++;
		return true;
	}
	lx->indent = lx->col;
	if (lx->block_parent < 0)
		return false;
	if (lx->block_indent < 0 && lx->indent > lx->block_parent)
		lx->block_indent = lx->indent;
	if (lx->block_indent >= 0 && lx->indent >= lx->block_indent) {
		lx->col++;
		return true;
	}
	lx->block_parent = lx->block_indent = -1; /* a less indented line ends the block */
	return false;
}

static bool quoted(struct tm_ylex *lx, unsigned char c)
{
	if (lx->quote == '"') {
		if (lx->escaped)
			lx->escaped = false;
		else if (c == '\\')
			lx->escaped = true;
		else if (c == '"')
			lx->quote = 0, lx->after_node = true;
		return true;
	}
	if (lx->quote == '\'') {
		if (!lx->sq_end) {
			lx->sq_end = c == '\'';
			return true;
		}
		lx->sq_end = false;
		if (c == '\'')
			return true; /* '' is a quote inside the scalar */
		lx->quote = 0;
		lx->after_node = true; /* c follows the closed scalar */
	}
	return false;
}

/* The first byte of a node. */
static void node_first(struct tm_ylex *lx, unsigned char c)
{
	lx->node_start = false;
	switch (c) {
	case '"':
	case '\'':
		lx->quote = (char)c;
		return;
	case '[':
	case '{':
		lx->flow++;
		lx->node_start = true;
		return;
	case '|':
	case '>':
		if (!lx->flow) {
			lx->header = true; /* a block scalar starts at the end of this line */
			return;
		}
		break;
	case '-':
	case '?':
	case ':':
		lx->pending = (char)c; /* an indicator when a blank follows */
		return;
	case '&':
	case '!':
		lx->prop = true; /* an anchor or tag: the node follows after a blank */
		return;
	}
	lx->in_plain = true;
}

static void feed(struct tm_ylex *lx, unsigned char c)
{
	bool blank = c == ' ' || c == '\t', was_blank = lx->blank;

	if (c == '\n') {
		line_break(lx);
		return;
	}
	if (indentation(lx, c))
		return;
	lx->col++;
	if (quoted(lx, c) || lx->comment || lx->header)
		return;
	lx->blank = blank;
	if (lx->pending) {
		lx->pending = 0;
		if (blank) {
			lx->node_start = true;
			lx->in_plain = lx->after_node = false;
			return;
		}
		lx->in_plain = true; /* "-x", "a:b": more of a plain scalar */
	}
	if (blank) {
		if (lx->prop)
			lx->prop = false, lx->node_start = true;
		return;
	}
	if (c == '#' && was_blank) {
		lx->comment = true;
	} else if (lx->flow && c == ',') {
		lx->node_start = true;
		lx->in_plain = lx->after_node = false;
	} else if (lx->flow && (c == ']' || c == '}')) {
		lx->flow--;
		lx->after_node = true;
		lx->in_plain = lx->node_start = false;
	} else if (lx->node_start) {
		node_first(lx, c);
	} else if (c == ':') {
		lx->pending = ':';
	}
}

/* Brings the lexer up to the end of what the template wrote so far. A value written as
 * a quoted scalar must be all of its scalar: the byte after it must end the scalar. */
static int scan(struct render_ctx *rc)
{
	struct tm_ylex *lx = &rc->lex;
	const unsigned char *d = (const unsigned char *)rc->out->data;

	for (; lx->done < rc->out->len; lx->done++) {
		if (lx->must_end && lx->done == lx->must_at) {
			lx->must_end = false;
			if (!strchr(" \t\r\n:,]}", d[lx->done]))
				return tm_tmpl_fail(rc, lx->must_line, lx->must_col, TM_EINVALID,
						    "a value that is not plain-safe YAML is written here as a quoted scalar, "
						    "and the template continues the scalar after it: make the value "
						    "the whole scalar, or '| quote' the whole text");
		}
		feed(lx, d[lx->done]);
	}
	return 0;
}

int tm_tmpl_place_finish(struct render_ctx *rc)
{
	return scan(rc);
}

/* ------------------------------------------------------------------ characters */

/* One character of valid UTF-8 (jansson's strings are); its length in *n. */
static unsigned cp_at(const unsigned char *s, size_t len, size_t *n)
{
	unsigned c = s[0];

	if (c >= 0xf0 && len >= 4) {
		*n = 4;
		return ((c & 0x07u) << 18) | ((s[1] & 0x3fu) << 12) | ((s[2] & 0x3fu) << 6) | (s[3] & 0x3fu);
	}
	if (c >= 0xe0 && len >= 3) {
		*n = 3;
		return ((c & 0x0fu) << 12) | ((s[1] & 0x3fu) << 6) | (s[2] & 0x3fu);
	}
	if (c >= 0xc0 && len >= 2) {
		*n = 2;
		return ((c & 0x1fu) << 6) | (s[1] & 0x3fu);
	}
	*n = 1;
	return c;
}

static bool is_break(unsigned cp)
{
	return cp == '\n' || cp == '\r' || cp == 0x85 || cp == 0x2028 || cp == 0x2029;
}

/* What YAML readers accept in a stream, besides line breaks. */
static bool printable(unsigned cp)
{
	return cp == '\t' || (cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xd7ff) ||
	       (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/* Why s cannot be written as (part of) a plain scalar, or NULL when it can: it must read
 * back as the same text and end nowhere but where it ends. */
static const char *plain_problem(const char *s, size_t len, bool flow)
{
	const unsigned char *u = (const unsigned char *)s;

	if (len == 0)
		return NULL;
	if (u[0] == ' ' || u[0] == '\t' || u[len - 1] == ' ' || u[len - 1] == '\t')
		return "white space at its start or end";
	if ((u[0] && strchr("#&*!|>'\"%@`,[]{}", u[0])) || (strchr("-?:", u[0]) && (len == 1 || u[1] == ' ' || u[1] == '\t')))
		return "a YAML indicator at its start";
	if (len >= 3 && (!memcmp(s, "---", 3) || !memcmp(s, "...", 3)))
		return "a document marker at its start";
	if (len == 2 && !memcmp(s, "<<", 2))
		return "the merge key '<<'";
	if (u[len - 1] == ':')
		return "a ':' at its end";
	for (size_t i = 0, n; i < len; i += n) {
		unsigned cp = cp_at(u + i, len - i, &n);
		if (is_break(cp))
			return "a line break";
		if (cp == '\t' || !printable(cp))
			return "a tab or control character";
		if (cp == ':' && i + 1 < len && u[i + 1] == ' ')
			return "': '";
		if (cp == ' ' && i + 1 < len && u[i + 1] == '#')
			return "' #'";
		if (flow && strchr(",[]{}", (int)cp) && cp)
			return "a flow indicator (one of , [ ] { })";
	}
	return NULL;
}

/* A line break or a character YAML refuses in s, for contexts that cannot hold one. */
static const char *inline_problem(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0, n; i < len; i += n) {
		unsigned cp = cp_at(u + i, len - i, &n);
		if (is_break(cp))
			return "a line break";
		if (!printable(cp))
			return "a control character";
	}
	return NULL;
}

/* ------------------------------------------------------------------ writing a value */

static int fail_here(struct render_ctx *rc, const struct node *n, const char *why, const char *what)
{
	return tm_tmpl_fail(rc, n->line, n->col, TM_EINVALID, "the value written here holds %s, which %s", why, what);
}

static int pad(struct tm_buf *out, int n, struct tm_err *err)
{
	int rc = 0;

	for (; rc == 0 && n > 0; n -= 32)
		rc = tm_buf_append(out, "                                ", n > 32 ? 32 : (size_t)n, err);
	return rc;
}

/* Inside a block scalar: every line break of the value (\r\n, \r, NEL, LS, PS become \n)
 * is followed by indentation deeper than the line's, so each continuation line stays in
 * the block (and, for an ini file such as airflow.cfg, in the same value). */
static int write_block(struct render_ctx *rc, const struct node *n, const char *s, size_t len, int cont)
{
	const unsigned char *u = (const unsigned char *)s;
	int r = 0;

	for (size_t i = 0, k; r == 0 && i < len; i += k) {
		unsigned cp = cp_at(u + i, len - i, &k);
		if (is_break(cp)) {
			if (cp == '\r' && i + 1 < len && u[i + 1] == '\n')
				k++;
			r = tm_buf_puts(rc->out, "\n", rc->err);
			/* an empty line needs no indentation; the value's last line does (text may follow) */
			if (r == 0 && (i + k == len || !is_break(cp_at(u + i + k, len - i - k, &(size_t){ 0 }))))
				r = pad(rc->out, cont, rc->err);
		} else if (!printable(cp)) {
			return fail_here(rc, n, "a control character", "a YAML block scalar cannot hold");
		} else {
			r = tm_buf_append(rc->out, s + i, k, rc->err);
		}
	}
	return r;
}

static int write_single_quoted(struct render_ctx *rc, const struct node *n, const char *s, size_t len)
{
	const char *why = inline_problem(s, len);
	int r = 0;

	if (why)
		return fail_here(rc, n, why, "a single-quoted YAML scalar cannot hold: use double quotes with '| quote'");
	for (size_t i = 0; r == 0 && i < len; i++)
		r = tm_buf_append(rc->out, s[i] == '\'' ? "''" : s + i, 1 + (s[i] == '\''), rc->err);
	return r;
}

/* Data serialized by a filter ('yaml', 'json', 'quote') never starts a document: no line
 * of it may begin with "---" or "..." at the first column. */
static int check_data(struct render_ctx *rc, const struct node *n, const char *s, size_t len)
{
	bool line_start = rc->lex.col == 0 && rc->lex.indent < 0;

	for (size_t i = 0; i < len; i++) {
		if (line_start && len - i >= 3 && (!memcmp(s + i, "---", 3) || !memcmp(s + i, "...", 3)) &&
		    (len - i == 3 || strchr(" \t\r\n", s[i + 3])))
			return fail_here(rc, n, "a document marker at the start of a line",
					 "would start a new YAML document: indent it ('| indent N')");
		line_start = s[i] == '\n';
	}
	return 0;
}

int tm_tmpl_place(struct render_ctx *rc, const struct node *n, const char *s, size_t len, enum tm_trust trust)
{
	struct tm_ylex *lx = &rc->lex;
	const char *why = NULL;
	int r;

	if ((r = scan(rc)) < 0)
		return r;
	if (trust == TM_TRUST_DATA && (r = check_data(rc, n, s, len)) < 0)
		return r;
	if (trust != TM_TRUST_NONE || len == 0)
		return tm_buf_append(rc->out, s, len, rc->err);
	if (lx->block_parent >= 0) {
		int bi = lx->block_indent;
		if (lx->indent >= 0 || (bi >= 0 ? lx->col >= bi : lx->col > lx->block_parent)) {
			if (lx->indent < 0 && bi < 0 && (s[0] == ' ' || s[0] == '\t' || is_break((unsigned char)s[0])))
				return fail_here(rc, n, "white space at its start",
						 "would set the indentation of the block scalar it starts");
			return write_block(rc, n, s, len, (lx->indent >= 0 ? lx->indent : lx->col) + 2);
		}
		lx->block_parent = lx->block_indent = -1; /* the value starts a less indented line */
	}
	if (lx->quote == '"' && !lx->escaped)
		return tm_doc_yaml_escape(rc->out, s, len, rc->err);
	if (lx->quote == '\'' && !lx->sq_end)
		return write_single_quoted(rc, n, s, len);
	if (lx->comment && !(why = inline_problem(s, len)))
		return tm_buf_append(rc->out, s, len, rc->err);
	if (lx->comment)
		return fail_here(rc, n, why, "would end the YAML comment it is in");
	if (lx->pending || lx->in_plain) {
		if ((why = plain_problem(s, len, lx->flow > 0)))
			return fail_here(rc, n, why, "cannot be part of a longer plain YAML scalar: make the value the "
						     "whole scalar ('key: {{ v }}') or '| quote' the whole text");
		return tm_buf_append(rc->out, s, len, rc->err);
	}
	if (!lx->node_start || lx->header || lx->quote)
		return fail_here(rc, n, "text", "cannot follow a quoted scalar, a flow collection or a block scalar "
						"header on its line");
	if (!plain_problem(s, len, lx->flow > 0))
		return tm_buf_append(rc->out, s, len, rc->err);
	/* the whole scalar, quoted: it must end where the value ends (checked by scan) */
	if ((r = tm_doc_yaml_quote(rc->out, s, len, rc->err)) < 0)
		return r;
	lx->must_end = true;
	lx->must_at = rc->out->len;
	lx->must_line = n->line;
	lx->must_col = n->col;
	return 0;
}
