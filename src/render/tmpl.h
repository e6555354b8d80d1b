/* Private to render/: the parsed form of a template. */
#ifndef TARMAC_RENDER_TMPL_H
#define TARMAC_RENDER_TMPL_H

#include "tarmac/render.h"

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


/* Shared by evaluation (tmpl_eval.c) and the filters (tmpl_filters.c). */
int tm_tmpl_fail(struct render_ctx *rc, int line, int col, int code, const char *fmt, const char *a, const char *b);
int tm_tmpl_fail_expr(struct render_ctx *rc, const struct expr *e, const char *fmt, const char *a, const char *b);
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
/* The filter name nearest to a misspelt one, or NULL. */
const char *tm_tmpl_nearest_filter(const char *name);

#endif
