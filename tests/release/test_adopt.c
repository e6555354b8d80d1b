/* Adoption (--take-ownership): which field managers hand their fields to tarmac. */
#include "../testutil.h"
#include "release/release_private.h"

/* A ConfigMap made by kubectl with an extra key, later status-less controller touches. */
static const char *LIVE =
	"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\",\"resourceVersion\":\"7\","
	"\"managedFields\":["
	"{\"manager\":\"kubectl-create\",\"operation\":\"Update\",\"apiVersion\":\"v1\",\"fieldsType\":\"FieldsV1\","
	" \"fieldsV1\":{\"f:data\":{\".\":{},\"f:a\":{},\"f:extra\":{}}}},"
	"{\"manager\":\"helm\",\"operation\":\"Update\",\"apiVersion\":\"v1\",\"fieldsType\":\"FieldsV1\","
	" \"fieldsV1\":{\"f:data\":{\"f:b\":{}},\"f:metadata\":{\"f:labels\":{\"f:x\":{}}},\"f:status\":{\"f:s\":{}}}},"
	"{\"manager\":\"kube-controller-manager\",\"operation\":\"Update\",\"apiVersion\":\"v1\","
	" \"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{\"f:annotations\":{\"f:rev\":{}}}}},"
	"{\"manager\":\"someone\",\"operation\":\"Update\",\"apiVersion\":\"v1\",\"subresource\":\"status\","
	" \"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:status\":{}}}"
	"]}}";

Test(release_adopt, the_makers_fields_become_one_apply_entry_of_tarmac)
{
	json_t *live = json_loads(LIVE, 0, NULL), *out = NULL, *want;
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_not_null(live);
	cr_assert_eq(tm_release_adopted_fields(&out, live, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_not_null(out);
	/* the control plane's entry and the subresource's stay as they were, in order */
	cr_assert_eq(json_array_size(out), 3, "%s", json_dumps(out, JSON_COMPACT));
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(out, 0), "manager")), "kube-controller-manager");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(out, 1), "subresource")), "status");
	want = json_loads("{\"manager\":\"tarmac\",\"operation\":\"Apply\",\"apiVersion\":\"v1\",\"fieldsType\":\"FieldsV1\","
			  "\"fieldsV1\":{\"f:data\":{\".\":{},\"f:a\":{},\"f:extra\":{},\"f:b\":{}},"
			  "\"f:metadata\":{\"f:labels\":{\"f:x\":{}}}}}", 0, NULL);
	cr_assert(json_equal(json_array_get(out, 2), want), "%s", json_dumps(json_array_get(out, 2), JSON_SORT_KEYS));
	json_decref(want);
	json_decref(out);
	json_decref(live);
}

Test(release_adopt, nothing_to_hand_over_when_tarmac_alone_made_it)
{
	json_t *live = json_loads("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"managedFields\":["
				  "{\"manager\":\"tarmac\",\"operation\":\"Apply\",\"apiVersion\":\"v1\","
				  "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:data\":{\"f:a\":{}}}},"
				  "{\"manager\":\"kube-controller-manager\",\"operation\":\"Update\",\"apiVersion\":\"v1\","
				  "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:data\":{\"f:z\":{}}}}]}}",
				  0, NULL),
	       *out = json_true();
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_release_adopted_fields(&out, live, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_null(out);
	/* no managedFields at all: nothing either */
	json_object_del(json_object_get(live, "metadata"), "managedFields");
	out = json_true();
	cr_assert_eq(tm_release_adopted_fields(&out, live, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_null(out);
	json_decref(live);
}
