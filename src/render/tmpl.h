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

const struct filter *tm_tmpl_find_filter(const char *name);
/* The filter name nearest to a misspelt one, or NULL. */
const char *tm_tmpl_nearest_filter(const char *name);

#endif
