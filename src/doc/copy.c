/* A deep copy of a parsed document. jansson's json_deep_copy guards against cycles with a
 * table of every container on the way, keyed by its printed address; a tree tarmac parsed
 * has no cycles (aliases are copied, never shared as parents) and a bounded depth, so this
 * copy skips that bookkeeping and shares the scalars: it is what makes a copy of the
 * bundle's defaults cheaper than parsing them again. */
#include "tarmac/doc.h"

static json_t *copy(json_t *v, int depth)
{
	json_t *c = NULL, *x;
	const char *k;
	size_t i;

	if (depth > TM_DOC_MAX_DEPTH)
		return NULL;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (!(c = json_object()))
			return NULL;
		json_object_foreach(v, k, x) {
			if (json_object_set_new_nocheck(c, k, copy(x, depth + 1)) < 0) {
				json_decref(c);
				return NULL;
			}
		}
		return c;
	case JSON_ARRAY:
		if (!(c = json_array()))
			return NULL;
		json_array_foreach(v, i, x) {
			if (json_array_append_new(c, copy(x, depth + 1)) < 0) {
				json_decref(c);
				return NULL;
			}
		}
		return c;
	default:
		/* scalars: shared, tarmac never changes one in place (no json_*_set) */
		return json_incref(v);
	}
}

json_t *tm_doc_copy(json_t *v)
{
	return v ? copy(v, 0) : NULL;
}
