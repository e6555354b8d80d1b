/* Name checks and time. */
#include "../testutil.h"
#include "tarmac/util.h"

Test(util_misc, dns_labels)
{
	cr_assert(tm_is_dns_label("airflow", 63));
	cr_assert(tm_is_dns_label("a", 63));
	cr_assert(tm_is_dns_label("prod-2", 63));
	cr_assert_not(tm_is_dns_label("", 63));
	cr_assert_not(tm_is_dns_label(NULL, 63));
	cr_assert_not(tm_is_dns_label("-x", 63));
	cr_assert_not(tm_is_dns_label("x-", 63));
	cr_assert_not(tm_is_dns_label("Prod", 63));
	cr_assert_not(tm_is_dns_label("a_b", 63));
	cr_assert_not(tm_is_dns_label("a.b", 63));
	cr_assert(tm_is_dns_label("abcde", 5));
	cr_assert_not(tm_is_dns_label("abcdef", 5));
}

Test(util_misc, monotonic_clock_moves_forward)
{
	int64_t a = tm_now_ms();
	usleep(20000);
	cr_assert_geq(tm_now_ms() - a, 19);
}

Test(util_misc, edit_distance)
{
	cr_assert_eq(tm_edit_distance("version", "version", 3), 0);
	cr_assert_eq(tm_edit_distance("verison", "version", 3), 1); /* swap */
	cr_assert_eq(tm_edit_distance("vrsion", "version", 3), 1);
	cr_assert_eq(tm_edit_distance("kitten", "sitting", 5), 3);
	cr_assert_eq(tm_edit_distance("abcdef", "uvwxyz", 2), 3, "capped at cap+1");
}
