/* render: the template language (docs/templates.md) and, with the render issue, values
 * and the object list. Never touches the network or the file system on its own. */
#ifndef TARMAC_RENDER_H
#define TARMAC_RENDER_H

#include <jansson.h>

#include "tarmac/util.h"

#define TM_TMPL_MAX_OUTPUT (32u << 20) /* bytes one template may produce */
#define TM_TMPL_MAX_STEPS 2000000      /* loop iterations and tag evaluations per render */
#define TM_TMPL_MAX_DEPTH 64           /* nesting of blocks and of expressions */

struct tm_tmpl;

/* Parses template text (copied). name is used in every message: "name:line:col: ...".
 * Errors: TM_EINVALID with the position and what was expected. */
int tm_tmpl_parse(struct tm_tmpl **out, const char *name, const char *text, size_t len,
		  struct tm_err *err);
void tm_tmpl_free(struct tm_tmpl *t);

/* Renders t with the names in scope (an object: values, release, ...; borrowed) and
 * appends the text to out. Errors: TM_EINVALID (a type error, a failed 'required'),
 * TM_ELIMIT (output, steps or depth over their caps), each with template:line:col. */
int tm_tmpl_render(const struct tm_tmpl *t, json_t *scope, struct tm_buf *out, struct tm_err *err);

#endif
