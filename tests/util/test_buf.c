/* Capped buffers: growth, NUL termination, and the cap that protects every reader. */
#include "../testutil.h"
#include "tarmac/util.h"

Test(util_buf, appends_and_stays_nul_terminated)
{
	struct tm_buf b = TM_BUF_INIT("test", 1 << 20);

	cr_assert_str_eq(tm_buf_cstr(&b), "");
	cr_assert_eq(tm_buf_puts(&b, "hello", NULL), 0);
	cr_assert_eq(tm_buf_printf(&b, NULL, ", %s %d", "world", 42), 0);
	cr_assert_eq(b.len, strlen("hello, world 42"));
	cr_assert_str_eq(tm_buf_cstr(&b), "hello, world 42");
	cr_assert_eq(tm_buf_append(&b, "\0x", 2, NULL), 0);
	cr_assert_eq(b.len, 17);
	cr_assert_eq(b.data[17], '\0');
	tm_buf_release(&b);
}

Test(util_buf, grows_through_many_doublings)
{
	struct tm_buf b = TM_BUF_INIT("test", 10 << 20);

	for (int i = 0; i < 100000; i++)
		cr_assert_eq(tm_buf_printf(&b, NULL, "%05d", i % 100000), 0);
	cr_assert_eq(b.len, 500000);
	cr_assert(strncmp(b.data + 5 * 99999, "99999", 5) == 0);
	tm_buf_release(&b);
}

Test(util_buf, cap_is_enforced_and_leaves_buffer_unchanged)
{
	struct tm_buf b;
	struct tm_err err;

	tm_buf_init(&b, "HTTP response body", 8);
	tm_err_init(&err);
	cr_assert_eq(tm_buf_puts(&b, "12345678", &err), 0);
	cr_assert_eq(tm_buf_puts(&b, "9", &err), TM_ELIMIT);
	cr_assert_eq(err.code, TM_ELIMIT);
	cr_assert_str_eq(tm_err_msg(&err), "HTTP response body exceeds its limit of 8 bytes");
	cr_assert_str_eq(tm_buf_cstr(&b), "12345678");
	cr_assert_eq(tm_buf_printf(&b, &err, "%d", 1), TM_ELIMIT);
	cr_assert_eq(b.len, 8);
	tm_buf_release(&b);
}

Test(util_buf, huge_append_is_refused_without_overflow)
{
	struct tm_buf b = TM_BUF_INIT("test", 64);

	cr_assert_eq(tm_buf_puts(&b, "x", NULL), 0);
	cr_assert_eq(tm_buf_append(&b, "y", SIZE_MAX - 1, NULL), TM_ELIMIT);
	cr_assert_eq(b.len, 1);
	tm_buf_release(&b);
}

Test(util_buf, detach_hands_over_and_clear_keeps_memory)
{
	struct tm_buf b = TM_BUF_INIT("test", 1024);
	char *p;

	cr_assert_eq(tm_buf_puts(&b, "abc", NULL), 0);
	tm_buf_clear(&b);
	cr_assert_eq(b.len, 0);
	cr_assert_str_eq(tm_buf_cstr(&b), "");
	cr_assert_eq(tm_buf_puts(&b, "def", NULL), 0);
	p = tm_buf_detach(&b);
	cr_assert_str_eq(p, "def");
	cr_assert_null(b.data);
	cr_assert_eq(b.len, 0);
	free(p);
	tm_buf_release(&b);
}
