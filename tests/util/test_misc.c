/* Name checks, time and process hardening. */
#include <sys/prctl.h>
#include <sys/resource.h>

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

Test(util_misc, dns_subdomains)
{
	cr_assert(tm_is_dns_subdomain("airflow-fernet-key"));
	cr_assert(tm_is_dns_subdomain("a.b-c.d"));
	cr_assert(tm_is_dns_subdomain("0"));
	cr_assert_not(tm_is_dns_subdomain(NULL));
	cr_assert_not(tm_is_dns_subdomain(""));
	cr_assert_not(tm_is_dns_subdomain("../kube-system/secrets/x"));
	cr_assert_not(tm_is_dns_subdomain(".."));
	cr_assert_not(tm_is_dns_subdomain("a..b"));
	cr_assert_not(tm_is_dns_subdomain("a.-b"));
	cr_assert_not(tm_is_dns_subdomain("a-.b"));
	cr_assert_not(tm_is_dns_subdomain("a."));
	cr_assert_not(tm_is_dns_subdomain("Upper"));
	cr_assert_not(tm_is_dns_subdomain("a/b"));
	cr_assert_not(tm_is_dns_subdomain("a b"));
	cr_assert_not(tm_is_dns_subdomain("x\n---"));
	{
		char longest[255];
		memset(longest, 'a', 253);
		longest[253] = '\0';
		cr_assert(tm_is_dns_subdomain(longest));
		longest[253] = 'a';
		longest[254] = '\0';
		cr_assert_not(tm_is_dns_subdomain(longest));
	}
}

Test(util_misc, no_core_dumps_once_asked)
{
	struct rlimit rl;
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1, "a test process starts dumpable");
	cr_assert_eq(tm_proc_no_core_dumps(&err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
	cr_assert_eq(getrlimit(RLIMIT_CORE, &rl), 0);
	cr_assert_eq(rl.rlim_cur, 0);
	cr_assert_eq(rl.rlim_max, 0, "the hard limit too: nothing can raise it again");
}

Test(util_misc, utf8_cut_never_splits_a_character)
{
	const char *s = "ab\xc3\xa9" "c\xe2\x82\xac"; /* a b é c € */

	cr_assert_eq(tm_utf8_cut(s, 8, 100), 8, "what fits stays whole");
	cr_assert_eq(tm_utf8_cut(s, 8, 8), 8);
	cr_assert_eq(tm_utf8_cut(s, 8, 3), 2, "the cut backs up before é");
	cr_assert_eq(tm_utf8_cut(s, 8, 4), 4);
	cr_assert_eq(tm_utf8_cut(s, 8, 6), 5, "and before €");
	cr_assert_eq(tm_utf8_cut(s, 8, 7), 5);
	cr_assert_eq(tm_utf8_cut(s, 8, 0), 0);
}
