/* allowed_signers (vcs/signers.c) read as ssh-keygen reads it: principals (quoted,
 * pattern lists), options, keys; the lines that allow a key, by principal, namespace
 * and time. Keys from sshsig_fixtures.h (ssh-keygen). */
#include <sodium.h>

#include "../testutil.h"
#include "sshsig_fixtures.h"
#include "tarmac/vcs.h"

static int parse(struct tm_vcs_signers *s, struct tm_err *err, const char *text)
{
	tm_err_init(err);
	return tm_vcs_signers_parse(s, text, strlen(text), err);
}

static void bad(const char *text, const char *want)
{
	struct tm_vcs_signers s = { 0, NULL };
	struct tm_err err;

	cr_assert_eq(parse(&s, &err, text), TM_EINVALID, "accepted: %s", text);
	cr_assert(strstr(tm_err_msg(&err), want), "'%s' lacks '%s'", tm_err_msg(&err), want);
	cr_assert_eq(s.n, 0);
}

/* The blob of "type base64". */
static size_t blob(unsigned char *out, size_t cap, const char *line)
{
	const char *b64 = strchr(line, ' ') + 1;
	size_t n;

	cr_assert_eq(sodium_base642bin(out, cap, b64, strlen(b64), NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	return n;
}

Test(vcs_signers, lines_principals_options_and_keys)
{
	const char *text = "# team\n"
			   "\n"
			   "   \t\n"
			   "alice@example.com,bob@example.com " ED_KEY " laptop\r\n"
			   "\"carol smith\" namespaces=\"git,file\",valid-after=\"20230101\",valid-before=\"20240101Z\" "
			   RSA_KEY "\n"
			   "*@ci.example.com CERT-AUTHORITY,namespaces=\"q\\\"x\" " P256_KEY;
	struct tm_vcs_signers s = { 0, NULL };
	struct tm_err err;

	cr_assert_eq(parse(&s, &err, text), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(s.n, 3);
	cr_assert_eq(s.e[0].line, 4);
	cr_assert_str_eq(s.e[0].principals, "alice@example.com,bob@example.com");
	cr_assert_str_eq(s.e[0].type, "ssh-ed25519");
	cr_assert_null(s.e[0].namespaces);
	cr_assert_eq(s.e[0].valid_after, 0);
	cr_assert_eq(s.e[1].line, 5);
	cr_assert_str_eq(s.e[1].principals, "carol smith");
	cr_assert_str_eq(s.e[1].namespaces, "git,file");
	cr_assert_eq(s.e[1].valid_before, 1704067200, "Z is UTC");
	cr_assert_gt(s.e[1].valid_after, 0);
	cr_assert_str_eq(s.e[1].type, "ssh-rsa");
	cr_assert(s.e[2].cert_authority);
	cr_assert_str_eq(s.e[2].namespaces, "q\"x");
	cr_assert_str_eq(s.e[2].type, "ecdsa-sha2-nistp256");
	tm_vcs_signers_release(&s);
	cr_assert_eq(s.n, 0);
}

Test(vcs_signers, every_key_type_ssh_keygen_writes_is_read)
{
	struct tm_vcs_signers s = { 0, NULL };
	struct tm_err err;
	char line[256];

	cr_assert_eq(parse(&s, &err, "a " ED_KEY "\nb " RSA_KEY "\nc " P256_KEY "\nd " P384_KEY "\ne " P521_KEY "\n"), 0,
		     "%s", tm_err_msg(&err));
	cr_assert_eq(s.n, 5);
	tm_vcs_signers_release(&s);
	/* a key column naming a type its blob does not hold */
	snprintf(line, sizeof(line), "a ssh-rsa %s\n", strchr(ED_KEY, ' ') + 1);
	bad(line, "allowed_signers:1: expected a ssh-rsa key, the base64 holds another");
	/* security keys and certificates are read (a signature by one is refused later) */
	snprintf(line, sizeof(line), "a sk-ssh-ed25519@openssh.com %s\n", strchr(ED_KEY, ' ') + 1);
	bad(line, "expected a sk-ssh-ed25519@openssh.com key, the base64 holds another");
}

Test(vcs_signers, malformed_lines_name_their_number)
{
	bad("alice\n", "allowed_signers:1: expected principals, then a key");
	bad("# c\nalice  \n", "allowed_signers:2: expected principals, then a key");
	bad("\"alice " ED_KEY "\n", "allowed_signers:1: expected principals");
	bad("alice ssh-ed25519 !!!!\n", "allowed_signers:1: expected a base64 ssh-ed25519 key");
	bad("alice rsa-foo AAAA\n", "allowed_signers:1: expected an option");
	bad("alice namespaces=\"git\"\n", "allowed_signers:1: expected a key after the options");
	bad("alice namespaces=\"git " ED_KEY "\n", "allowed_signers:1: expected a key after the options");
	bad("alice namespaces=git " ED_KEY "\n", "allowed_signers:1: expected a quoted namespaces list");
	bad("alice namespaces=\"a\",namespaces=\"b\" " ED_KEY "\n", "expected one namespaces option");
	bad("alice valid-after=\"2023\" " ED_KEY "\n", "allowed_signers:1: expected a valid-after time");
	bad("alice valid-before=\"20231301\" " ED_KEY "\n", "expected a valid-before time");
	bad("alice valid-after=\"20240101\",valid-before=\"20230101\" " ED_KEY "\n", "valid-before after valid-after");
	bad("alice valid-after=\"20230101\",valid-after=\"20230101\" " ED_KEY "\n", "expected one valid-after");
	bad("alice namespaces=\"git\", " ED_KEY "\n", "expected an option");
	bad("alice no-touch-required " ED_KEY "\n", "expected an option");
}

Test(vcs_signers, find_says_why_no_line_allows_a_key)
{
	const char *text = "alice namespaces=\"file\" " ED_KEY "\n"
			   "bob valid-before=\"20230101Z\" " ED_KEY "\n"
			   "carol cert-authority " RSA_KEY "\n"
			   "dave,!eve " P256_KEY "\n";
	unsigned char ed[128], rsa[1024], p256[256], other[128];
	size_t edn = blob(ed, sizeof(ed), ED_KEY), rsan = blob(rsa, sizeof(rsa), RSA_KEY),
	       p256n = blob(p256, sizeof(p256), P256_KEY), othern = blob(other, sizeof(other), OTHER_KEY), line = 99;
	struct tm_vcs_signers s = { 0, NULL };
	struct tm_err err;

	cr_assert_eq(parse(&s, &err, text), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_vcs_signers_find(&line, &s, ed, edn, NULL, NULL, MSG_TIME), TM_SIGNER_OK);
	cr_assert_eq(line, 0);
	cr_assert_eq(tm_vcs_signers_find(&line, &s, ed, edn, NULL, "file", MSG_TIME), TM_SIGNER_OK);
	cr_assert_eq(tm_vcs_signers_find(NULL, &s, ed, edn, NULL, "git", MSG_TIME), TM_SIGNER_NAMESPACE);
	cr_assert_eq(tm_vcs_signers_find(NULL, &s, ed, edn, "bob", "git", MSG_TIME), TM_SIGNER_EXPIRED);
	cr_assert_eq(tm_vcs_signers_find(&line, &s, ed, edn, "bob", "git", 1600000000), TM_SIGNER_OK);
	cr_assert_eq(line, 1);
	cr_assert_eq(tm_vcs_signers_find(NULL, &s, ed, edn, "zed", "git", MSG_TIME), TM_SIGNER_PRINCIPAL);
	cr_assert_eq(tm_vcs_signers_find(NULL, &s, rsa, rsan, NULL, NULL, MSG_TIME), TM_SIGNER_UNLISTED,
		     "a cert-authority line is not the key's own");
	cr_assert_eq(tm_vcs_signers_find(NULL, &s, other, othern, NULL, NULL, MSG_TIME), TM_SIGNER_UNLISTED);
	cr_assert_eq(tm_vcs_signers_find(NULL, &s, p256, p256n, "dave", "git", MSG_TIME), TM_SIGNER_OK);
	cr_assert_eq(tm_vcs_signers_find(NULL, &s, p256, p256n, "eve", "git", MSG_TIME), TM_SIGNER_PRINCIPAL,
		     "a negated principal");
	cr_assert_eq(tm_vcs_signers_find(NULL, &s, p256, p256n, "Dave", "git", MSG_TIME), TM_SIGNER_PRINCIPAL,
		     "principals are case-sensitive");
	tm_vcs_signers_release(&s);
}
