/* tm_doc_copy: a copy whose mappings and lists are the copy's own. */
#include "../testutil.h"
#include "tarmac/doc.h"

Test(doc_copy, equal_and_independent)
{
	json_t *v = json_loads("{\"a\": {\"b\": [1, \"x\", {\"c\": null}], \"d\": true}, \"e\": 2.5}", 0, NULL), *c;

	cr_assert_not_null(v);
	c = tm_doc_copy(v);
	cr_assert(json_equal(c, v));
	cr_assert_neq(json_object_get(c, "a"), json_object_get(v, "a"));
	/* changing the copy's containers leaves the original as it was */
	cr_assert_eq(json_object_set_new(json_object_get(c, "a"), "new", json_string("y")), 0);
	cr_assert_eq(json_array_clear(tm_doc_get(c, "a", "b", NULL)), 0);
	cr_assert_null(tm_doc_get(v, "a", "new", NULL));
	cr_assert_eq(json_array_size(tm_doc_get(v, "a", "b", NULL)), 3);
	json_decref(c);
	cr_assert_null(tm_doc_copy(NULL));
	json_decref(v);
}

Test(doc_copy, refuses_a_runaway_depth)
{
	json_t *v = json_array(), *cur = v, *c;

	for (int i = 0; i < 600; i++) {
		json_t *next = json_array();
		cr_assert_eq(json_array_append_new(cur, next), 0);
		cur = next;
	}
	c = tm_doc_copy(v);
	cr_assert_null(c, "a tree deeper than any parser makes is refused, not copied partly");
	json_decref(v);
}
