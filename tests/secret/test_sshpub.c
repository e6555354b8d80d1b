/* known_hosts and .pub files: each key decoded and walked as its type; a private key,
 * a mislabelled key or a stray file is refused with file:line. Keys are built here
 * from random bytes (the wire format is what is checked); ssh-keygen's own output is
 * checked in tests/integration/secrets. */
#include <sodium.h>

#include "helpers.h"

struct blob {
	unsigned char b[1024];
	size_t n;
};

static void put(struct blob *k, const void *p, size_t n)
{
	unsigned char be[4] = { (unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8),
				(unsigned char)n };

	cr_assert_leq(k->n + 4 + n, sizeof(k->b));
	memcpy(k->b + k->n, be, 4);
	memcpy(k->b + k->n + 4, p, n);
	k->n += 4 + n;
}

static void put_s(struct blob *k, const char *s)
{
	put(k, s, strlen(s));
}

static void put_random(struct blob *k, size_t n, unsigned char first)
{
	unsigned char r[512];

	cr_assert_leq(n, sizeof(r));
	randombytes_buf(r, n);
	r[0] = first;
	put(k, r, n);
}

/* "TYPE BASE64" of k into out. */
static void line_of(char *out, size_t cap, const char *type, const struct blob *k)
{
	char b64[2048];

	sodium_bin2base64(b64, sizeof(b64), k->b, k->n, sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, cap, "%s %s", type, b64);
}

static void ed25519(char *out, size_t cap)
{
	struct blob k = { .n = 0 };

	put_s(&k, "ssh-ed25519");
	put_random(&k, 32, 7);
	line_of(out, cap, "ssh-ed25519", &k);
}

static int kh(const char *text, struct tm_err *err)
{
	tm_err_init(err);
	return tm_secret_known_hosts_check(text, strlen(text), "secrets/dev/known_hosts", err);
}

static int pub(const char *text, struct tm_err *err)
{
	tm_err_init(err);
	return tm_secret_ssh_pub_check(text, strlen(text), "secrets/dev/git-ssh-key.pub", err);
}

Test(secret_sshpub, known_hosts_of_every_key_type_is_accepted)
{
	struct blob rsa = { .n = 0 }, ec = { .n = 0 }, ec5 = { .n = 0 }, sk = { .n = 0 };
	char e[256], r[1024], p256[512], p521[512], skl[512], text[4096], salt[64], hash[64];
	unsigned char raw[20];
	struct tm_err err;

	ed25519(e, sizeof(e));
	put_s(&rsa, "ssh-rsa");
	put(&rsa, "\x01\x00\x01", 3);
	put_random(&rsa, 257, 0);
	line_of(r, sizeof(r), "ssh-rsa", &rsa);
	put_s(&ec, "ecdsa-sha2-nistp256");
	put_s(&ec, "nistp256");
	put_random(&ec, 65, 4);
	line_of(p256, sizeof(p256), "ecdsa-sha2-nistp256", &ec);
	put_s(&ec5, "ecdsa-sha2-nistp521");
	put_s(&ec5, "nistp521");
	put_random(&ec5, 133, 4);
	line_of(p521, sizeof(p521), "ecdsa-sha2-nistp521", &ec5);
	put_s(&sk, "sk-ssh-ed25519@openssh.com");
	put_random(&sk, 32, 1);
	put_s(&sk, "ssh:");
	line_of(skl, sizeof(skl), "sk-ssh-ed25519@openssh.com", &sk);
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(salt, sizeof(salt), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(hash, sizeof(hash), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
	snprintf(text, sizeof(text),
		 "# git servers\n\n[127.0.0.1]:2222 %s\ngit.example.com,10.0.0.1 %s a comment\n"
		 "*.example.org %s\n|1|%s|%s %s\n@cert-authority *.corp %s\n@revoked old.example.com %s\n"
		 "\tindented.example %s\n",
		 e, r, p256, salt, hash, e, p521, e, skl);
	cr_assert_eq(kh(text, &err), 0, "%s", tm_err_msg(&err));
}

Test(secret_sshpub, a_private_key_is_not_known_hosts)
{
	struct tm_buf priv = TM_BUF_INIT("key", 16384);
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_secret_generate(&priv, TM_SECRET_GIT_SSH_KEY, "c", &err), 0);
	cr_assert_eq(kh(priv.data, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "secrets/dev/known_hosts:1: this is a private key") != NULL, "%s",
		  tm_err_msg(&err));
	cr_assert_eq(pub(priv.data, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "git-ssh-key.pub:1: this is a private key") != NULL, "%s", tm_err_msg(&err));
	/* its base64 body alone (no armour lines) is no key line either */
	cr_assert_eq(kh(strchr(priv.data, '\n') + 1, &err), TM_EINVALID);
	tm_buf_wipe(&priv);
}

Test(secret_sshpub, other_files_are_refused_with_their_line)
{
	char e[256], text[1024];
	struct blob k = { .n = 0 };
	struct tm_err err;

	ed25519(e, sizeof(e));
	cr_assert_eq(kh("apiVersion: v1\nkind: Config\nclusters: []\n", &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "known_hosts:1: ") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(kh("root:$6$salt$hash:19000:0:99999:7:::\n", &err), TM_EINVALID);
	snprintf(text, sizeof(text), "# ok\nhost %s\nhost ssh-ed25519 AAAA\n", e);
	cr_assert_eq(kh(text, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "known_hosts:3: expected 'HOSTS KEYTYPE BASE64-KEY'") != NULL, "%s",
		  tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), ": the base64 is not a public key of that type") != NULL, "%s",
		  tm_err_msg(&err));
	/* an ed25519 blob labelled ssh-rsa */
	snprintf(text, sizeof(text), "host ssh-rsa %s\n", strchr(e, ' ') + 1);
	cr_assert_eq(kh(text, &err), TM_EINVALID);
	/* trailing bytes after the key */
	put_s(&k, "ssh-ed25519");
	put_random(&k, 32, 1);
	put_s(&k, "extra");
	line_of(e, sizeof(e), "ssh-ed25519", &k);
	snprintf(text, sizeof(text), "host %s\n", e);
	cr_assert_eq(kh(text, &err), TM_EINVALID);
	cr_assert_eq(kh("# only comments\n\n", &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "holds no host key") != NULL, "%s", tm_err_msg(&err));
	ed25519(e, sizeof(e));
	snprintf(text, sizeof(text), "@trusted host %s\n", e);
	cr_assert_eq(kh(text, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "expected @cert-authority or @revoked") != NULL, "%s", tm_err_msg(&err));
	snprintf(text, sizeof(text), "|1|AAAA|BBBB %s\n", e);
	cr_assert_eq(kh(text, &err), TM_EINVALID, "a hashed host that is not two 20-byte values");
	snprintf(text, sizeof(text), "host %s\r\n", e);
	cr_assert_eq(kh(text, &err), TM_EINVALID, "CRLF");
}

Test(secret_sshpub, pub_file_is_one_public_key_line)
{
	struct tm_buf priv = TM_BUF_INIT("key", 16384), line = TM_BUF_INIT("pub", 4096);
	char e[256], two[600];
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_secret_generate(&priv, TM_SECRET_GIT_SSH_KEY, "tarmac-dev-deploy-key", &err), 0);
	cr_assert_eq(tm_secret_ssh_public_line(&line, priv.data, priv.len, &err), 0);
	cr_assert_eq(tm_buf_puts(&line, "\n", &err), 0);
	cr_assert_eq(pub(line.data, &err), 0, "what tarmac writes: %s", tm_err_msg(&err));
	ed25519(e, sizeof(e));
	cr_assert_eq(pub(e, &err), 0, "no final newline, no comment: %s", tm_err_msg(&err));
	snprintf(two, sizeof(two), "%s\n%s\n", e, e);
	cr_assert_eq(pub(two, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "git-ssh-key.pub:2: expected one line") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(pub("", &err), TM_EINVALID);
	cr_assert_eq(pub("tarmac-recipient v1\nalg: x25519\n", &err), TM_EINVALID);
	cr_assert_eq(pub("ssh-ed25519\n", &err), TM_EINVALID);
	tm_buf_wipe(&priv);
	tm_buf_release(&line);
}
