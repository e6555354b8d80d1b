/* SSH signatures (vcs/sshsig.c, vcs/sigkeys.c) accepted and refused as git verify-commit
 * with gpg.format=ssh accepts and refuses them. The verdicts on the two-step cases
 * (principals, namespaces, times) were checked against ssh-keygen 9.2 -Y find-principals
 * and -Y verify, as git runs them. */
#include <sodium.h>

#include "../testutil.h"
#include "sshsig_fixtures.h"
#include "tarmac/vcs.h"

static int check(struct tm_vcs_signer *who, struct tm_err *err, const char *sig, size_t siglen, const char *msg,
		 const char *allowed, int64_t when)
{
	tm_err_init(err);
	memset(who, 0, sizeof(*who));
	return tm_vcs_sshsig_check(who, sig, siglen, msg, strlen(msg), "git", allowed, strlen(allowed), when, err);
}

/* allowed_signers listing every fixture key but OTHER */
#define ALLOWED                                                                                                \
	"# the DAG repository's committers\n"                                                                   \
	"alice@example.com " ED_KEY " alice's laptop\n"                                                        \
	"rsa@example.com " RSA_KEY "\n"                                                                         \
	"p256@example.com " P256_KEY "\n"                                                                       \
	"p384@example.com " P384_KEY "\n"                                                                       \
	"p521@example.com " P521_KEY "\n"

static void accepted(const char *sig, const char *principal, const char *fp, const char *type)
{
	struct tm_vcs_signer who;
	struct tm_err err;
	int rc = check(&who, &err, sig, strlen(sig), MSG, ALLOWED, MSG_TIME);

	cr_assert_eq(rc, 0, "%s: %s", type, tm_err_msg(&err));
	cr_assert_str_eq(who.principal, principal);
	cr_assert_str_eq(who.fp, fp);
	cr_assert_str_eq(who.type, type);
}

static void refused(int code, const char *want, const char *sig, size_t siglen, const char *msg, const char *allowed,
		    int64_t when)
{
	struct tm_vcs_signer who;
	struct tm_err err;
	int rc = check(&who, &err, sig, siglen, msg, allowed, when);

	cr_assert_eq(rc, code, "want %d, got %d: %s", code, rc, rc ? tm_err_msg(&err) : "accepted");
	cr_assert(strstr(tm_err_msg(&err), want), "'%s' lacks '%s'", tm_err_msg(&err), want);
	cr_assert_str_eq(who.principal, "", "who is written on success only");
}

Test(vcs_sshsig, every_key_type_ssh_keygen_signs_with_is_verified)
{
	accepted(ED_SIG, "alice@example.com", ED_FP, "ssh-ed25519");
	accepted(RSA_SIG, "rsa@example.com", RSA_FP, "ssh-rsa");
	accepted(RSA_SHA256_SIG, "rsa@example.com", RSA_FP, "ssh-rsa");
	accepted(P256_SIG, "p256@example.com", P256_FP, "ecdsa-sha2-nistp256");
	accepted(P384_SIG, "p384@example.com", P384_FP, "ecdsa-sha2-nistp384");
	accepted(P521_SIG, "p521@example.com", P521_FP, "ecdsa-sha2-nistp521");
}

Test(vcs_sshsig, a_tampered_message_is_a_bad_signature_naming_the_key)
{
	const char *tampered = MSG "and one line more\n";
	const char *sigs[] = { ED_SIG, RSA_SIG, RSA_SHA256_SIG, P256_SIG, P384_SIG, P521_SIG };
	const char *fps[] = { ED_FP, RSA_FP, RSA_FP, P256_FP, P384_FP, P521_FP };

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		refused(TM_EINVALID, "bad signature", sigs[i], strlen(sigs[i]), tampered, ALLOWED, MSG_TIME);
		refused(TM_EINVALID, fps[i], sigs[i], strlen(sigs[i]), tampered, ALLOWED, MSG_TIME);
	}
}

Test(vcs_sshsig, a_signature_for_another_namespace_is_refused)
{
	refused(TM_EINVALID, "signed for namespace 'file', not 'git'", ED_FILE_SIG, strlen(ED_FILE_SIG), MSG, ALLOWED,
		MSG_TIME);
}

Test(vcs_sshsig, an_unlisted_key_is_refused_by_its_fingerprint)
{
	refused(TM_EINVALID, "key " OTHER_FP " (ssh-ed25519) is not in allowed_signers", OTHER_SIG, strlen(OTHER_SIG), MSG,
		ALLOWED, MSG_TIME);
	/* a cert-authority line vouches for certificates, not for its own key (ssh-keygen) */
	refused(TM_EINVALID, "not in allowed_signers", ED_SIG, strlen(ED_SIG), MSG,
		"alice@example.com cert-authority " ED_KEY "\n", MSG_TIME);
}

Test(vcs_sshsig, namespaces_and_validity_limit_a_key)
{
	refused(TM_EINVALID, "does not allow it for namespace 'git'", ED_SIG, strlen(ED_SIG), MSG,
		"alice namespaces=\"file,ci-*\" " ED_KEY "\n", MSG_TIME);
	struct tm_vcs_signer who;
	struct tm_err err;

	cr_assert_eq(check(&who, &err, ED_SIG, strlen(ED_SIG), MSG, "alice NAMESPACES=\"file,g?t\" " ED_KEY "\n",
			   MSG_TIME), 0, "%s", tm_err_msg(&err));
	/* expired before the commit was made; not yet valid; the bounds themselves are in */
	refused(TM_EINVALID, "outside its valid-after/valid-before in allowed_signers at 2023-11-14T22:13:20Z", ED_SIG,
		strlen(ED_SIG), MSG, "alice valid-before=\"20230101\" " ED_KEY "\n", MSG_TIME);
	refused(TM_EINVALID, "valid-after/valid-before", ED_SIG, strlen(ED_SIG), MSG,
		"alice valid-after=\"20231114221321Z\" " ED_KEY "\n", MSG_TIME);
	cr_assert_eq(check(&who, &err, ED_SIG, strlen(ED_SIG), MSG,
			   "alice valid-after=\"20231114221320Z\",valid-before=\"20231114221321UTC\" " ED_KEY "\n",
			   MSG_TIME), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(check(&who, &err, ED_SIG, strlen(ED_SIG), MSG,
			   "alice valid-before=\"20231114221320Z\" " ED_KEY "\n", MSG_TIME), 0, "%s", tm_err_msg(&err));
	/* the time is the commit's, not now */
	refused(TM_EINVALID, "valid-after", ED_SIG, strlen(ED_SIG), MSG, "alice valid-before=\"20231114Z\" " ED_KEY "\n",
		MSG_TIME);
	cr_assert_eq(check(&who, &err, ED_SIG, strlen(ED_SIG), MSG, "alice valid-before=\"20231114Z\" " ED_KEY "\n",
			   MSG_TIME - 86400), 0);
}

Test(vcs_sshsig, principals_come_from_the_first_line_as_git_finds_them)
{
	struct tm_vcs_signer who;
	struct tm_err err;

	cr_assert_eq(check(&who, &err, ED_SIG, strlen(ED_SIG), MSG, "alice,bob " ED_KEY "\n", MSG_TIME), 0);
	cr_assert_str_eq(who.principal, "alice");
	/* find-principals prints the pattern; verify -I matches it against itself */
	cr_assert_eq(check(&who, &err, ED_SIG, strlen(ED_SIG), MSG, "*@example.com " ED_KEY "\n", MSG_TIME), 0);
	cr_assert_str_eq(who.principal, "*@example.com");
	cr_assert_eq(check(&who, &err, ED_SIG, strlen(ED_SIG), MSG, "!bob,alice " ED_KEY "\n", MSG_TIME), 0);
	cr_assert_str_eq(who.principal, "alice");
	cr_assert_eq(check(&who, &err, ED_SIG, strlen(ED_SIG), MSG, "\"alice smith\" " ED_KEY "\n", MSG_TIME), 0);
	cr_assert_str_eq(who.principal, "alice smith");
	/* an expired line is passed over when finding principals */
	cr_assert_eq(check(&who, &err, ED_SIG, strlen(ED_SIG), MSG,
			   "alice valid-before=\"20230101\" " ED_KEY "\nbob " ED_KEY "\n", MSG_TIME), 0);
	cr_assert_str_eq(who.principal, "bob");
	/* the first line's principal, allowed for git by a later line */
	cr_assert_eq(check(&who, &err, ED_SIG, strlen(ED_SIG), MSG,
			   "alice namespaces=\"file\" " ED_KEY "\nalice " ED_KEY "\n", MSG_TIME), 0);
	/* but not another principal's later line: git refuses this file too */
	refused(TM_EINVALID, "namespace 'git'", ED_SIG, strlen(ED_SIG), MSG,
		"bob namespaces=\"file\" " ED_KEY "\nalice " ED_KEY "\n", MSG_TIME);
}

/* The blob of ED_SIG and an armour around any blob. */
static size_t ed_blob(unsigned char *out, size_t cap)
{
	const char *b = strchr(ED_SIG, '\n') + 1, *e = strstr(ED_SIG, "\n-----END");
	size_t n;

	cr_assert_eq(sodium_base642bin(out, cap, b, (size_t)(e - b), "\n", &n, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	return n;
}

static char *armour(const unsigned char *blob, size_t n)
{
	size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = malloc(cap), *out = NULL;

	cr_assert_not_null(b64);
	sodium_bin2base64(b64, cap, blob, n, sodium_base64_VARIANT_ORIGINAL);
	cr_assert(asprintf(&out, "-----BEGIN SSH SIGNATURE-----\n%s\n-----END SSH SIGNATURE-----\n", b64) > 0);
	free(b64);
	return out;
}

static void refused_blob(int code, const char *want, const unsigned char *blob, size_t n)
{
	char *a = armour(blob, n);

	refused(code, want, a, strlen(a), MSG, ALLOWED, MSG_TIME);
	free(a);
}

Test(vcs_sshsig, malformed_armour_is_corrupt)
{
	const char *pgp = "-----BEGIN PGP SIGNATURE-----\n\niQEz\n-----END PGP SIGNATURE-----\n";
	const char *no_footer = "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n";
	const char *bad64 = "-----BEGIN SSH SIGNATURE-----\nU1NI*U0lH\n-----END SSH SIGNATURE-----\n";
	char crlf[4096];
	struct tm_vcs_signer who;
	struct tm_err err;
	size_t j = 0;

	refused(TM_ECORRUPT, "not an SSH signature", pgp, strlen(pgp), MSG, ALLOWED, MSG_TIME);
	refused(TM_ECORRUPT, "not an SSH signature", "", 0, MSG, ALLOWED, MSG_TIME);
	refused(TM_ECORRUPT, "no '-----END SSH SIGNATURE-----'", no_footer, strlen(no_footer), MSG, ALLOWED, MSG_TIME);
	refused(TM_ECORRUPT, "base64", bad64, strlen(bad64), MSG, ALLOWED, MSG_TIME);
	/* CRLF line ends and text after the footer are read as ssh-keygen reads them */
	for (const char *p = ED_SIG; *p; p++) {
		if (*p == '\n')
			crlf[j++] = '\r';
		crlf[j++] = *p;
	}
	memcpy(crlf + j, "trailer", 8);
	cr_assert_eq(check(&who, &err, crlf, strlen(crlf), MSG, ALLOWED, MSG_TIME), 0, "%s", tm_err_msg(&err));
	/* the length given is the length read: no NUL needed, none read past */
	refused(TM_ECORRUPT, "END", ED_SIG, strlen(ED_SIG) - 3, MSG, ALLOWED, MSG_TIME);
}

Test(vcs_sshsig, every_truncation_of_the_blob_is_corrupt)
{
	unsigned char blob[1024];
	size_t n = ed_blob(blob, sizeof(blob));

	for (size_t i = 0; i < n; i++)
		refused_blob(TM_ECORRUPT, "malformed", blob, i);
}

Test(vcs_sshsig, lengths_past_the_end_versions_and_trailing_bytes)
{
	unsigned char blob[1024], b[1024];
	size_t n = ed_blob(blob, sizeof(blob));

	/* the publickey's length (after "SSHSIG" and the version) claims 4 GiB */
	memcpy(b, blob, n);
	memset(b + 10, 0xff, 4);
	refused_blob(TM_ECORRUPT, "truncated or oversized", b, n);
	/* version 2 */
	memcpy(b, blob, n);
	b[9] = 2;
	refused_blob(TM_EVERSION, "version 2", b, n);
	/* a byte after the signature */
	memcpy(b, blob, n);
	b[n] = 0;
	refused_blob(TM_ECORRUPT, "trailing data", b, n + 1);
	/* the magic */
	memcpy(b, blob, n);
	b[0] = 'X';
	refused_blob(TM_ECORRUPT, "magic", b, n);
	/* a namespace a terminal would act on is not shown: it is refused as corrupt */
	memcpy(b, blob, n);
	memcpy((unsigned char *)memmem(b, n, "\0\0\0\3git", 7) + 5, "\x1b", 1);
	refused_blob(TM_ECORRUPT, "control character", b, n);
	/* a flipped bit in the signature itself */
	memcpy(b, blob, n);
	b[n - 1] ^= 1;
	refused_blob(TM_EINVALID, "bad signature", b, n);
}

static void put(unsigned char **p, const void *s, size_t n)
{
	(*p)[0] = (unsigned char)(n >> 24);
	(*p)[1] = (unsigned char)(n >> 16);
	(*p)[2] = (unsigned char)(n >> 8);
	(*p)[3] = (unsigned char)n;
	memcpy(*p + 4, s, n);
	*p += 4 + n;
}

/* An SSHSIG blob by the key blob with a zero signature of algorithm alg (n bytes). */
static size_t blob_of(unsigned char *out, const unsigned char *key, size_t keylen, const char *alg, size_t n)
{
	unsigned char sig[1024], zero[512] = { 0 }, *g = sig, *p = out;

	put(&g, alg, strlen(alg));
	put(&g, zero, n);
	memcpy(p, "SSHSIG\0\0\0\1", 10);
	p += 10;
	put(&p, key, keylen);
	put(&p, "git", 3);
	put(&p, "", 0);
	put(&p, "sha512", 6);
	put(&p, sig, (size_t)(g - sig));
	return (size_t)(p - out);
}

/* The same by a key of type (a 32-byte body) with a zero ed25519 signature. */
static size_t blob_of_type(unsigned char *out, const char *type)
{
	unsigned char key[128], zero[32] = { 0 }, *k = key;

	put(&k, type, strlen(type));
	put(&k, zero, 32);
	return blob_of(out, key, (size_t)(k - key), "ssh-ed25519", 64);
}

Test(vcs_sshsig, security_keys_certificates_and_dsa_are_refused_clearly)
{
	unsigned char b[512];

	refused_blob(TM_EVERSION, "security key (sk-ssh-ed25519@openssh.com)", b,
		     blob_of_type(b, "sk-ssh-ed25519@openssh.com"));
	refused_blob(TM_EVERSION, "SSH certificate (ssh-ed25519-cert-v01@openssh.com)", b,
		     blob_of_type(b, "ssh-ed25519-cert-v01@openssh.com"));
	refused_blob(TM_EVERSION, "a ssh-dss key: tarmac verifies", b, blob_of_type(b, "ssh-dss"));
	/* the frame itself is sound: a zero signature by a zero ed25519 key is just bad */
	refused_blob(TM_EINVALID, "bad signature", b, blob_of_type(b, "ssh-ed25519"));
}

Test(vcs_sshsig, rsa_with_sha1_is_refused_as_openssh_refuses_it)
{
	const char *b64 = strchr(RSA_KEY, ' ') + 1;
	unsigned char key[1024], b[2048];
	size_t n;

	cr_assert_eq(sodium_base642bin(key, sizeof(key), b64, strlen(b64), NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL),
		     0);
	refused_blob(TM_EVERSION, "SHA-1 (ssh-rsa)", b, blob_of(b, key, n, "ssh-rsa", 384));
	refused_blob(TM_EINVALID, "bad signature", b, blob_of(b, key, n, "rsa-sha2-256", 384));
	refused_blob(TM_EINVALID, "bad signature", b, blob_of(b, key, n, "rsa-sha2-512", 385));
	refused_blob(TM_ECORRUPT, "malformed RSA signature", b, blob_of(b, key, n, "rsa-sha2-1024", 384));
}

Test(vcs_sshsig, a_malformed_allowed_signers_is_refused_with_its_line)
{
	refused(TM_EINVALID, "allowed_signers:3:", ED_SIG, strlen(ED_SIG), MSG,
		"# ok\nalice " ED_KEY "\nbob ssh-ed25519\n", MSG_TIME);
}
