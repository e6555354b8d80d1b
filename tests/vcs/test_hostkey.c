/* Host keys (vcs/hostkey.c) judged as OpenSSH judges them. The key, the hashed lines and
 * the fingerprint below were made by ssh-keygen (-t ed25519, -H, -l). */
#include <sodium.h>

#include "../testutil.h"
#include "tarmac/vcs.h"

#define KEY "AAAAC3NzaC1lZDI1NTE5AAAAIKGQfBNf+bnGIeEXIjmg6TgaDcN39LvUqKvY4gBsgY/s"
#define KEY_FP "SHA256:jIp0hJ7PvF0NMGQUgGHBIsNqchY5dxo+1bkr9F0woE8"
/* ssh-keygen -H of "example.com,[10.0.0.1]:2222 ssh-ed25519 KEY" */
#define HASHED_EXAMPLE "|1|Zy3IGYsJ7rvw5A8hAK7fU42vocA=|DxoDiELObpTiuJznmSY5dzfvh2Y="
#define HASHED_PORT "|1|PR6+KnRST26XhvlwXWQFFmne18c=|yn5J+NtOw/qOauxz05g06fdNWF8="
/* another ed25519 key (ssh-keygen), not the server's */
#define OTHER "AAAAC3NzaC1lZDI1NTE5AAAAIBpgEnTc6YOHCufKXQKhwMTH6q6Fq0p7W18fa8FZQpYC"

static size_t blob(unsigned char *out, size_t n, const char *b64)
{
	size_t len = 0;

	cr_assert_eq(sodium_base642bin(out, n, b64, strlen(b64), NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	return len;
}

static enum tm_vcs_host_verdict check(const char *kh, const char *host, int port, const char *key)
{
	unsigned char b[512];
	size_t n = blob(b, sizeof(b), key);

	return tm_vcs_host_check(kh, strlen(kh), host, port, b, n);
}

Test(vcs_hostkey, the_fingerprint_is_ssh_keygens)
{
	unsigned char b[512];
	size_t n = blob(b, sizeof(b), KEY);
	char fp[TM_VCS_FP_LEN];

	tm_vcs_fingerprint(fp, b, n);
	cr_assert_str_eq(fp, KEY_FP);
}

Test(vcs_hostkey, plain_patterns_with_ports_wildcards_and_negation)
{
	const char *kh = "# comment\n\nexample.com,[10.0.0.1]:2222 ssh-ed25519 " KEY " host\n"
			 "*.corp.example,!bad.corp.example ssh-ed25519 " KEY "\n";

	cr_assert_eq(check(kh, "example.com", 22, KEY), TM_HOST_TRUSTED);
	cr_assert_eq(check(kh, "EXAMPLE.com", 22, KEY), TM_HOST_TRUSTED, "names are matched case-insensitively");
	cr_assert_eq(check(kh, "10.0.0.1", 2222, KEY), TM_HOST_TRUSTED);
	/* another port is another host, as for ssh */
	cr_assert_eq(check(kh, "example.com", 2222, KEY), TM_HOST_UNKNOWN);
	cr_assert_eq(check(kh, "10.0.0.1", 22, KEY), TM_HOST_UNKNOWN);
	cr_assert_eq(check(kh, "git.corp.example", 22, KEY), TM_HOST_TRUSTED);
	cr_assert_eq(check(kh, "bad.corp.example", 22, KEY), TM_HOST_UNKNOWN, "a negated pattern excludes");
	cr_assert_eq(check(kh, "example.org", 22, KEY), TM_HOST_UNKNOWN);
	/* many stars against a long near-miss: answered at once (a backtracking matcher took
	 * longer than libFuzzer's 10 s on such a line) */
	cr_assert_eq(check("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b ssh-ed25519 " KEY "\n",
			   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 22, KEY),
		     TM_HOST_UNKNOWN);
	cr_assert_eq(check("*a*a*b ssh-ed25519 " KEY "\n", "xaxxaxb", 22, KEY), TM_HOST_TRUSTED);
}

Test(vcs_hostkey, hashed_names_from_ssh_keygen)
{
	const char *kh = HASHED_EXAMPLE " ssh-ed25519 " KEY "\n" HASHED_PORT " ssh-ed25519 " KEY "\n";

	cr_assert_eq(check(kh, "example.com", 22, KEY), TM_HOST_TRUSTED);
	cr_assert_eq(check(kh, "10.0.0.1", 2222, KEY), TM_HOST_TRUSTED);
	cr_assert_eq(check(kh, "example.org", 22, KEY), TM_HOST_UNKNOWN);
	cr_assert_eq(check(kh, "example.com", 22, OTHER), TM_HOST_CHANGED);
}

Test(vcs_hostkey, another_key_of_the_same_type_is_a_change_and_revoked_wins)
{
	const char *kh = "example.com ssh-ed25519 " OTHER "\n";
	const char *revoked = "example.com ssh-ed25519 " KEY "\n@revoked * ssh-ed25519 " KEY "\n";
	const char *ca = "@cert-authority example.com ssh-ed25519 " KEY "\n";

	cr_assert_eq(check(kh, "example.com", 22, KEY), TM_HOST_CHANGED);
	cr_assert_eq(check(revoked, "example.com", 22, KEY), TM_HOST_REVOKED);
	cr_assert_eq(check(ca, "example.com", 22, KEY), TM_HOST_UNKNOWN, "a CA line trusts no plain key");
	cr_assert_eq(check("", "example.com", 22, KEY), TM_HOST_UNKNOWN);
	cr_assert_eq(check("example.com ssh-ed25519 !!!notbase64\n", "example.com", 22, KEY), TM_HOST_UNKNOWN);
}

Test(vcs_url, schemes_users_hosts_and_ports)
{
	struct tm_vcs_url u;
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_vcs_url_parse(&u, "ssh://deploy@git.example.com:2222/org/dags.git", &err), 0, "%s", tm_err_msg(&err));
	cr_assert(u.scheme == TM_VCS_SSH && u.port == 2222);
	cr_assert_str_eq(u.user, "deploy");
	cr_assert_str_eq(u.host, "git.example.com");
	cr_assert_eq(tm_vcs_url_parse(&u, "git@github.com:org/dags.git", &err), 0);
	cr_assert(u.scheme == TM_VCS_SSH && u.port == 22);
	cr_assert_str_eq(u.user, "git");
	cr_assert_str_eq(u.host, "github.com");
	cr_assert_eq(tm_vcs_url_parse(&u, "ssh://[::1]:2200/srv/dags", &err), 0);
	cr_assert_str_eq(u.host, "::1");
	cr_assert_str_eq(u.user, "git", "ssh without a user logs in as git");
	cr_assert_eq(u.port, 2200);
	cr_assert_eq(tm_vcs_url_parse(&u, "https://ci:secret@git.example.com/org/dags.git", &err), 0);
	cr_assert(u.scheme == TM_VCS_HTTPS && u.port == 443);
	cr_assert_str_eq(u.user, "ci", "the password is not kept");
	cr_assert_eq(tm_vcs_url_parse(&u, "/srv/git/dags.git", &err), 0);
	cr_assert_eq(u.scheme, TM_VCS_LOCAL);
	cr_assert_eq(tm_vcs_url_parse(&u, "file:///srv/git/dags.git", &err), 0);
	cr_assert_eq(u.scheme, TM_VCS_LOCAL);
	cr_assert_eq(tm_vcs_url_parse(&u, "ftp://x/y", &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "expected ssh://"), "%s", tm_err_msg(&err));
	cr_assert_eq(tm_vcs_url_parse(&u, "ssh://host:99999/x", &err), TM_EINVALID);
	cr_assert_eq(tm_vcs_url_parse(&u, "ssh://host", &err), TM_EINVALID);
	cr_assert_eq(tm_vcs_url_parse(&u, "", &err), TM_EINVALID);
}
