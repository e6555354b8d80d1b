/* The bundle parsed once per process: every caller gets defaults of its own. */
#include "../testutil.h"
#include "tarmac/doc.h"
#include "render/render_private.h"

static void defaults(struct tm_values *v, const char *env, bool origins)
{
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_bundle_defaults(v, env, origins, &err), 0, "%s", tm_err_msg(&err));
}

Test(render_bundle, defaults_are_the_callers_own)
{
	struct tm_values a, b;

	defaults(&a, "prod", false);
	cr_assert_null(a.origin);
	cr_assert_not_null(json_object_get(a.tree, "scheduler"));
	json_object_clear(a.tree);
	defaults(&b, "prod", false);
	cr_assert_not_null(json_object_get(b.tree, "scheduler"), "a caller's change reached the next caller");
	tm_values_release(&a);
	tm_values_release(&b);
}

Test(render_bundle, defaults_follow_the_environment_and_keep_origins)
{
	struct tm_values dev, prod, none;
	const char *k;
	json_t *o;
	bool overlay = false;

	defaults(&dev, "dev", true);
	defaults(&prod, "prod", true);
	defaults(&none, NULL, false);
	cr_assert_not_null(dev.origin);
	cr_assert_not_null(dev.keys);
	json_object_foreach(prod.origin, k, o) overlay |= strstr(json_string_value(o), "bundle/overlays/prod.yaml:") != NULL;
	cr_assert(overlay, "no leaf of prod's defaults comes from its overlay");
	cr_assert(!json_equal(dev.tree, prod.tree), "dev and prod got the same defaults");
	cr_assert(!json_equal(none.tree, prod.tree), "no environment got prod's overlay");
	tm_values_release(&dev);
	tm_values_release(&prod);
	tm_values_release(&none);
}

Test(render_bundle, schema_is_parsed_once)
{
	struct tm_err err;
	json_t *a = NULL, *b = NULL;

	tm_err_init(&err);
	cr_assert_eq(tm_bundle_schema(&a, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_bundle_schema(&b, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_not_null(a);
	cr_assert_eq(a, b);
	cr_assert_not_null(json_object_get(a, "properties"));
}
