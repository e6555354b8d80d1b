/* doc: YAML and JSON documents as jansson values. Knows nothing of Kubernetes. */
#ifndef TARMAC_DOC_H
#define TARMAC_DOC_H

#include <jansson.h>

#include "tarmac/util.h"

/* Limits on what one YAML input may make (untrusted input: values files, manifests). */
#define TM_DOC_MAX_DEPTH 100        /* nesting of mappings and sequences */
#define TM_DOC_MAX_ALIAS_NODES 100000 /* nodes copied through aliases, in all */

/* Parses YAML text holding exactly one document (an empty text is a null document)
 * into *out (a new reference the caller decrefs). Scalars follow YAML 1.2's core
 * schema: null/~, true/false, integers (decimal, 0x, 0o), floats; quoted scalars
 * are always strings. Aliases are copied; the merge key "<<" is honoured (copying too:
 * no node of the result is shared, so a caller may take subtrees over). Duplicate
 * keys and non-scalar keys are errors. name is used in messages: "name:line:col: ...".
 * Errors: TM_EINVALID (with position), TM_ELIMIT (depth or alias budget). */
int tm_doc_parse_yaml(json_t **out, const char *text, size_t len, const char *name, struct tm_err *err);

/* tm_doc_parse_yaml for trees nobody modifies (schemas): an alias is the anchored
 * node itself, not a copy, so the result may share subtrees. */
int tm_doc_parse_yaml_readonly(json_t **out, const char *text, size_t len, const char *name, struct tm_err *err);

/* tm_doc_parse_yaml that also gives, in *marks (a new reference), where each node
 * starts, as a tree beside the document: for a scalar, an alias or an empty mapping or
 * list, "name:line:col"; for any other list, a list of its items' marks; for any other
 * mapping, a mapping of [the key's "name:line:col", the value's mark] (keys merged in
 * with "<<" have none). Walking both trees together costs no lookup by path, however
 * large the document. */
int tm_doc_parse_yaml_marked(json_t **out, json_t **marks, const char *text, size_t len, const char *name,
			     struct tm_err *err);

/* The same for a stream of documents ("---"-separated): *out is an array of the
 * documents in order, with empty (null) documents left out. */
int tm_doc_parse_yaml_stream(json_t **out, const char *text, size_t len, const char *name,
			     struct tm_err *err);

/* Applies an RFC 7386 JSON merge patch to *target in place: mappings merge key by key,
 * null deletes, anything else replaces (a non-mapping patch replaces the whole value).
 * Returns 0 or TM_ERROR when memory runs out. */
int tm_doc_merge_patch(json_t **target, json_t *patch);

/* A copy of v's mappings and lists (a tree with no cycles, as the parsers make), sharing
 * its scalars (tarmac never changes a scalar in place); NULL when memory runs out or v
 * nests deeper than any parsed document. New reference. */
json_t *tm_doc_copy(json_t *v);

/* Walks a NULL-terminated path of object keys from v: tm_doc_get(obj, "metadata",
 * "annotations", key, NULL). A missing or non-object step gives NULL. Borrowed. */
json_t *tm_doc_get(const json_t *v, ...) __attribute__((sentinel));

/* Appends v as block YAML, every line indented by indent spaces, without a final
 * newline: the caller ends the line (a literal block needs that line break). Mappings are sorted by key; a string is quoted whenever a YAML 1.1 or 1.2
 * reader could take it for anything but that string. Deterministic. */
int tm_doc_emit_yaml(struct tm_buf *out, json_t *v, int indent, struct tm_err *err);
/* Appends s as a YAML double-quoted scalar. */
int tm_doc_yaml_quote(struct tm_buf *out, const char *s, size_t len, struct tm_err *err);
/* Appends s escaped for the inside of a double-quoted scalar (tm_doc_yaml_quote less its
 * quotes): '"', '\\', line breaks and characters YAML readers refuse become escapes. */
int tm_doc_yaml_escape(struct tm_buf *out, const char *s, size_t len, struct tm_err *err);
/* Appends a number or boolean as YAML/JSON text: integers in decimal, reals in the
 * shortest form that reads back the same. */
int tm_doc_emit_scalar(struct tm_buf *out, json_t *v, struct tm_err *err);

/* JSON from outside (API answers, watch events, records, plugin output) is checked
 * before jansson parses it: jansson takes about 240 bytes for "{}", so 20 MB of "{},"
 * would take 1.6 GiB. The memory a text may take grows with its size: a floor, then
 * TM_JSON_MEM_RATIO bytes per byte of text, never more than TM_JSON_MEM_MAX. */
#define TM_JSON_MEM_FLOOR (16u << 20)
#define TM_JSON_MEM_RATIO 32u
#define TM_JSON_MEM_MAX (256u << 20)
/* An upper bound of what jansson allocates to parse text (counted from its tokens). */
size_t tm_json_cost(const char *text, size_t len);
/* The memory a text of len bytes may take. */
size_t tm_json_budget(size_t len);
/* 0 when text may be parsed, or TM_ELIMIT saying what it would take (no text quoted:
 * it may hold secrets). Callers parse with json_loadb afterwards. */
int tm_json_check(const char *text, size_t len, struct tm_err *err);

#endif
