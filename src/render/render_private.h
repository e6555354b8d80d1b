/* Private to render/ (and its tests): the template engine, the embedded bundle and what
 * is parsed from it once, and the values machinery tm_render is built from. */
#ifndef TARMAC_RENDER_PRIVATE_H
#define TARMAC_RENDER_PRIVATE_H

#include "tarmac/render.h"

#define TM_TMPL_MAX_STEPS 2000000      /* loop iterations and tag evaluations per render */
#define TM_TMPL_MAX_DEPTH 64           /* nesting of blocks and of expressions */

/* ------------------------------------------------------------------ the embedded bundle */

/* bundle/ as the build embedded it (tools/embed.c), sorted by path. data is
 * NUL-terminated (not counted in len). */
struct tm_embedded_file {
	const char *path; /* "values.yaml", "templates/scheduler.yaml", ... */
	const unsigned char *data;
	size_t len;
};
extern const struct tm_embedded_file tm_embedded_files[];
extern const size_t tm_embedded_nfiles;

/* The embedded file at path, or NULL. */
const struct tm_embedded_file *tm_embedded_find(const char *path);

/* The bundle parsed once per process (src/render/bundle.c), safe from any thread. */
/* values.schema.yaml parsed: borrowed, lives as long as the process; NULL when the bundle
 * has no schema. Errors: the parser's (a broken build). */
int tm_bundle_schema(json_t **out, struct tm_err *err);
/* values.yaml with overlays/<env>.yaml merged over it (env NULL: no overlay), with or
 * without origins: a copy the caller owns (tm_values_release). The overlay must exist
 * (tm_embedded_find). */
struct tm_values;
int tm_bundle_defaults(struct tm_values *out, const char *env, bool origins, struct tm_err *err);

/* ------------------------------------------------------------------ templates */

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

/* Partials parsed once and kept for many renders (one tm_render renders every
 * template of the bundle, and they include the same partials). */
struct tm_tmpl_cache;
struct tm_tmpl_cache *tm_tmpl_cache_new(void);
void tm_tmpl_cache_free(struct tm_tmpl_cache *c);
/* The embedded file f parsed, from the cache or parsed into it (owned by the cache).
 * Errors: tm_tmpl_parse's. */
int tm_tmpl_cache_get(const struct tm_tmpl **out, struct tm_tmpl_cache *c, const struct tm_embedded_file *f,
		      struct tm_err *err);
/* tm_tmpl_render with partials from (and into) cache. */
int tm_tmpl_render_cached(const struct tm_tmpl *t, json_t *scope, struct tm_tmpl_cache *cache, struct tm_buf *out,
			  struct tm_err *err);

void tm_values_init(struct tm_values *v);
/* The same without origins: merging is cheaper and messages name no positions. */
void tm_values_init_fast(struct tm_values *v);
/* Deep-merges one YAML document over v, as Helm does: mappings merge key by key,
 * lists and scalars replace, a null deletes the key. name is the file's name for
 * origins and messages. Errors: TM_EINVALID (YAML errors with file:line:col, a
 * document that is not a mapping), TM_ELIMIT. */
int tm_values_merge_yaml(struct tm_values *v, const char *text, size_t len, const char *name,
			 struct tm_err *err);

/* How --set reads a value. */
enum tm_set_kind {
	TM_SET_TYPED,  /* --set: true/false/null and integers are typed; null deletes */
	TM_SET_STRING, /* --set-string: always text */
};

/* Applies one --set argument: "a.b=c,d[0].e=f", with '\' escaping '.', ',', '=',
 * '[' and '\', and "{x,y}" for a list. Errors: TM_EINVALID naming the argument
 * and the column of the mistake. */
int tm_values_set(struct tm_values *v, const char *arg, enum tm_set_kind kind, struct tm_err *err);

/* Sets key (in --set's path syntax) to the given text, with origin as its provenance
 * ("--set-file k=path"). */
int tm_values_set_text(struct tm_values *v, const char *key, const char *text, size_t len, const char *origin,
		       struct tm_err *err);

/* Checks v against a schema (a subset of JSON Schema: type, enum, minimum, maximum,
 * minLength, maxLength, required, properties, additionalProperties, items). Every
 * problem names where the value came from. With allow_unknown, keys the schema does
 * not know are listed in *ignored (a new array of "origin: key" texts) instead of
 * failing. Errors: TM_EINVALID listing up to 20 problems. */
int tm_values_validate(const struct tm_values *v, json_t *schema, bool allow_unknown, json_t **ignored,
		       struct tm_err *err);


#endif
