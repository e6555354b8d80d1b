/* Private to the template parser (tmpl_expr.c, tmpl_parse.c): the parser's state and
 * what the statement parser asks of the expression parser. */
#ifndef TARMAC_TMPL_PARSER_H
#define TARMAC_TMPL_PARSER_H

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

/* Line and column (1-based) of a position in the source. */
void tm_tmpl_pos_of(struct parser *ps, const char *at, int *line, int *col);
/* TM_EINVALID "NAME:LINE:COL: " and fmt with detail in its one %s. */
int tm_tmpl_perr(struct parser *ps, const char *at, const char *fmt, const char *detail);
/* n zeroed bytes of the template's arena (TM_ELIMIT set when it is full). */
void *tm_tmpl_palloc(struct parser *ps, size_t n);
void tm_tmpl_skip_ws(struct parser *ps);
/* Takes word (a keyword or operator) at the position, if it is there. */
bool tm_tmpl_accept(struct parser *ps, const char *word);
/* A name at the position (in the arena), or NULL. */
char *tm_tmpl_ident(struct parser *ps);
/* An expression with its filters ("a | f x"), or NULL with the error set. */
struct expr *tm_tmpl_parse_filtered(struct parser *ps);
/* Nothing but blanks may follow in the tag; what names the statement. */
int tm_tmpl_expect_end(struct parser *ps, const char *what);

#endif
