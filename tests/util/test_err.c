/* The error struct: innermost message first written, context prepended, codes kept. */
#include <errno.h>

#include "../testutil.h"
#include "tarmac/util.h"

Test(util_err, innermost_message_with_context_outermost_first)
{
	struct tm_err err;
	int rc;

	tm_err_init(&err);
	rc = tm_err_set(&err, TM_EINVALID, "prod.yaml:3:7: expected a mapping, got '%s'", "[");
	cr_assert_eq(rc, TM_EINVALID);
	rc = tm_err_wrap(&err, "load values '%s'", "prod.yaml");
	cr_assert_eq(rc, TM_EINVALID);
	tm_err_wrap(&err, "render");
	cr_assert_str_eq(tm_err_msg(&err),
			 "render: load values 'prod.yaml': prod.yaml:3:7: expected a mapping, got '['");
	cr_assert_eq(err.depth, 3);
	cr_assert_str_eq(tm_err_frame(&err, 0), "render");
	cr_assert_str_eq(tm_err_frame(&err, 2), "prod.yaml:3:7: expected a mapping, got '['");
	cr_assert_null(tm_err_frame(&err, 3));
	cr_assert_not_null(err.file);
	cr_assert(strstr(err.file, "test_err.c") != NULL);
}

Test(util_err, set_replaces_an_earlier_error)
{
	struct tm_err err;

	tm_err_init(&err);
	tm_err_set(&err, TM_ENOTFOUND, "first");
	tm_err_wrap(&err, "ctx");
	tm_err_set(&err, TM_ECONFLICT, "second");
	cr_assert_eq(err.code, TM_ECONFLICT);
	cr_assert_str_eq(tm_err_msg(&err), "second");
}

Test(util_err, a_non_negative_code_still_means_failure)
{
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_err_set(&err, 0, "oops"), TM_ERROR);
	cr_assert_eq(err.code, TM_ERROR);
}

Test(util_err, null_err_is_allowed)
{
	cr_assert_eq(tm_err_set(NULL, TM_ETIMEOUT, "x"), TM_ETIMEOUT);
	cr_assert_eq(tm_err_wrap(NULL, "y"), TM_ERROR);
}

Test(util_err, errno_maps_to_codes_and_names_the_cause)
{
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_err_errno(&err, ENOENT, "open '%s'", "/nope"), TM_ENOTFOUND);
	cr_assert_str_eq(tm_err_msg(&err), "open '/nope': No such file or directory");
	cr_assert_eq(tm_err_errno(&err, ENOSPC, "write"), TM_ELIMIT);
	cr_assert_eq(tm_err_errno(&err, EIO, "write"), TM_ERROR);
}

Test(util_err, overflow_is_marked_not_silent)
{
	struct tm_err err;
	char big[3000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	tm_err_init(&err);
	tm_err_set(&err, TM_ERROR, "%s", big);
	for (int i = 0; i < 20; i++)
		tm_err_wrap(&err, "frame %d", i);
	cr_assert(err.truncated);
	cr_assert(strstr(tm_err_msg(&err), "[truncated]") != NULL);
	cr_assert(err.depth <= TM_ERR_FRAMES);
}

Test(util_err, code_name_table_is_complete)
{
	for (int c = 0; c >= TM_CODE_MIN; c--)
		cr_assert_str_neq(tm_code_name(c), "unknown", "code %d has no name", c);
	cr_assert_str_eq(tm_code_name(TM_CODE_MIN - 1), "unknown");
	cr_assert_str_eq(tm_code_name(1), "unknown");
	cr_assert_str_eq(tm_code_name(TM_ENOTFOUND), "not found");
}

Test(util_err, empty_error_renders)
{
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_str_eq(tm_err_msg(&err), "no error");
	err.code = TM_ETIMEOUT;
	cr_assert_str_eq(tm_err_msg(&err), "timeout");
}
