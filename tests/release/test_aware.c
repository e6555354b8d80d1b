/* What diff and apply share with the release pipelines: the labels up gives objects. */
#include <string.h>

#include "tarmac/apply.h"
#include "tarmac/doc.h"
#include "release/release_private.h"
#include "../testutil.h"

/* KEP-3659 id of the parent Secret tarmac.applyset.airflow in namespace airflow:
 * base64url(sha256("tarmac.applyset.airflow.airflow.Secret.")), computed with python3 */
#define AIRFLOW_ID "applyset-9AI260KiDvY1igpAYkBUXZSUK2KJ61MVb5-eDTaKFAY-v1"

Test(release_aware, decorate_labels_every_object_as_the_inventory_names_it)
{
	json_t *objs = json_loads("[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\","
				  "\"labels\":{\"app.kubernetes.io/name\":\"airflow\"}}},"
				  "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\"}]", 0, NULL);
	struct tm_applyset set;
	struct tm_err err;
	size_t i;
	json_t *o;

	tm_err_init(&err);
	cr_assert_not_null(objs);
	tm_release_applyset(&set, "airflow", "airflow");
	cr_assert_str_eq(set.name, "tarmac.applyset.airflow");
	cr_assert_str_eq(set.id, AIRFLOW_ID);
	cr_assert_eq(tm_release_decorate(objs, "airflow", "airflow", &err), 0, "%s", tm_err_msg(&err));
	json_array_foreach(objs, i, o)
		cr_assert_str_eq(json_string_value(tm_doc_get(o, "metadata", "labels", TM_APPLYSET_PART_OF, NULL)),
				 AIRFLOW_ID, "object %zu", i);
	cr_assert_str_eq(json_string_value(tm_doc_get(json_array_get(objs, 0), "metadata", "labels",
						      "app.kubernetes.io/name", NULL)), "airflow", "other labels stay");
	json_decref(objs);
}

Test(release_aware, decorating_twice_changes_nothing_so_diff_and_up_agree)
{
	json_t *objs = json_loads("[{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"}}]", 0,
				  NULL);
	char once[72], twice[72], other[72];
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_release_decorate(objs, "airflow", "a", &err), 0);
	cr_assert_eq(tm_record_digest(once, objs, &err), 0);
	cr_assert_eq(tm_release_decorate(objs, "airflow", "a", &err), 0);
	cr_assert_eq(tm_record_digest(twice, objs, &err), 0);
	cr_assert_str_eq(once, twice);
	cr_assert_eq(tm_release_decorate(objs, "other", "a", &err), 0);
	cr_assert_eq(tm_record_digest(other, objs, &err), 0);
	cr_assert_str_neq(once, other, "another release's label is another object");
	json_decref(objs);
}
