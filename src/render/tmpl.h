/* Private to render/: the parsed form of a template. */
#ifndef TARMAC_RENDER_TMPL_H
#define TARMAC_RENDER_TMPL_H

#include "render_private.h"

enum expr_kind { E_LIT, E_NAME, E_ATTR, E_INDEX, E_NOT, E_AND, E_OR, E_CMP, E_FILTER, E_CONCAT };
enum cmp_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN };

struct render_ctx;
struct expr;

/* A filter: value | name args... Returns a new reference in *out or fails with err. */
struct filter {
	const char *name;
	int min_args, max_args;
	int (*fn)(struct render_ctx *rc, const struct expr *at, json_t *v, json_t **args, json_t **out);
};

struct expr {
	enum expr_kind kind;
	int line, col;
	json_t *lit;          /* E_LIT: borrowed from the template's literals */
	char *name;           /* E_NAME, E_ATTR, E_FILTER */
	struct expr *a, *b;   /* operands; E_ATTR/E_INDEX/E_FILTER: a is the base */
	enum cmp_op op;
	const struct filter *filter;
	struct expr **args;
	int nargs;
};

enum node_kind { N_TEXT, N_EXPR, N_IF, N_FOR, N_SET };

struct node {
	enum node_kind kind;
	int line, col;
	struct node *next;
	const char *text;     /* N_TEXT */
	size_t len;
	struct expr *expr;    /* N_EXPR, N_IF condition, N_FOR iterable, N_SET value */
	struct node *body;    /* N_IF, N_FOR */
	struct node *orelse;  /* N_IF: the elif (an N_IF) or else branch */
	bool is_elif;         /* N_IF reached through an elif: run in its chain's loop */
	char *var1, *var2;    /* N_FOR names, N_SET name */
};

struct tm_tmpl {
	char *name;
	char *src;
	struct node *root;
	json_t *literals;     /* owns every literal value */
	struct tm_arena arena; /* owns nodes, expressions, names */
};

/* How far the text of a {{ }} is trusted to be YAML already (tmpl_place.c). */
enum tm_trust {
	TM_TRUST_NONE,     /* a value: written as the YAML around it allows */
	TM_TRUST_DATA,     /* serialized by 'yaml', 'json' or 'quote': never starts a document */
	TM_TRUST_TEMPLATE, /* template text: a literal, or an 'include' */
};

/* What the YAML written so far is in the middle of: the lexical state at its end. */
struct tm_ylex {
	size_t done;          /* bytes of the output scanned */
	int col;              /* column of the next byte */
	int indent;           /* indentation of this line, -1 until its first non-space */
	int flow;             /* depth of [ and { */
	int block_parent;     /* in a block scalar: the indentation it must exceed; else -1 */
	int block_indent;     /* its content's indentation, -1 until known */
	char quote;           /* 0, '"' or '\'' while inside a quoted scalar */
	char pending;         /* '-', '?' or ':': an indicator when a blank follows */
	bool escaped;         /* after a '\' in "..." */
	bool sq_end;          /* after a ' in '...': closing, unless another ' follows */
	bool comment, header; /* the rest of the line is a comment / a block scalar header */
	bool node_start;      /* the next non-blank byte starts a node */
	bool in_plain;        /* inside a plain scalar */
	bool after_node;      /* a quoted scalar or a flow collection just ended */
	bool prop;            /* inside an anchor or tag */
	bool blank;           /* the last byte was a space or tab, or the line just began */
	bool must_end;        /* the byte at must_at must end the scalar a value was quoted as */
	size_t must_at;
	int must_line, must_col;
};

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
	struct tm_ylex lex;          /* where the next {{ }} lands in out */
};

/* Parsed bundle files, at most one per embedded file (so it never grows past the bundle). */
struct tm_tmpl_cache {
	struct {
		const struct tm_embedded_file *file;
		struct tm_tmpl *tmpl;
	} *slot;
	size_t n;
};


/* Shared by evaluation (tmpl_eval.c) and the filters (tmpl_filters.c). */
/* The error at line:col of the template being rendered, printf-style; returns code. */
int tm_tmpl_fail(struct render_ctx *rc, int line, int col, int code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* The same at expression e, TM_EINVALID. */
int tm_tmpl_fail_expr(struct render_ctx *rc, const struct expr *e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const char *tm_tmpl_type_name(json_t *v);
/* Appends a scalar's text form (nothing for null). */
int tm_tmpl_to_text(struct tm_buf *b, json_t *v, struct tm_err *err);
/* Turns b's text into a string value in *out and releases b. */
int tm_tmpl_give_text(struct render_ctx *rc, struct tm_buf *b, json_t **out);
/* A mapping's keys, sorted (the order every loop over a mapping uses). */
json_t *tm_tmpl_sorted_keys(json_t *obj);
/* Runs a node list in the current frame. */
int tm_tmpl_run(struct render_ctx *rc, const struct node *n);

const struct filter *tm_tmpl_find_filter(const char *name);

/* tmpl_place.c: lexer state for an output buffer that already holds at bytes. */
void tm_ylex_init(struct tm_ylex *lx, size_t at);
/* Appends the text of the {{ }} n to rc->out, written for where it lands. Errors:
 * TM_EINVALID naming n's template:line:col when the text cannot be placed there. */
int tm_tmpl_place(struct render_ctx *rc, const struct node *n, const char *s, size_t len, enum tm_trust trust);
/* At the end of a template's output: the checks still pending on its last bytes. */
int tm_tmpl_place_finish(struct render_ctx *rc);
/* The filter name nearest to a misspelt one, or NULL. */
const char *tm_tmpl_nearest_filter(const char *name);

#endif
