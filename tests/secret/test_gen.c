/* Generated values, checked by independent peers where one exists: Fernet keys by
 * python3-cryptography, the deploy key by ssh-keygen. */
#include <sodium.h>

#include "helpers.h"

Test(secret_gen, name_table_is_complete_and_lookup_knows_aliases)
{
	enum tm_secret_id id;

	for (int i = 0; i < TM_SECRET_COUNT; i++) {
		cr_assert_not_null(tm_secret_name((enum tm_secret_id)i), "secret %d has no name", i);
		cr_assert_not_null(tm_secret_breaks((enum tm_secret_id)i), "secret %d has no warning", i);
		cr_assert_eq(tm_secret_lookup(tm_secret_name((enum tm_secret_id)i), &id), 0);
		cr_assert_eq((int)id, i);
	}
	cr_assert_null(tm_secret_name(TM_SECRET_COUNT));
	cr_assert_eq(tm_secret_lookup("fernet", &id), 0);
	cr_assert_eq(id, TM_SECRET_FERNET_KEY);
	cr_assert_eq(tm_secret_lookup("jwt", &id), 0);
	cr_assert_eq(id, TM_SECRET_JWT_SECRET);
	cr_assert_eq(tm_secret_lookup("fernet-keys", &id), TM_ENOTFOUND);
}

static void gen(struct tm_buf *b, enum tm_secret_id id)
{
	struct tm_err err;

	tm_buf_init(b, "secret", TM_SECRET_MAX_VALUE);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_generate(b, id, "tarmac-test", &err), 0, "%s", tm_err_msg(&err));
}

Test(secret_gen, shapes_of_the_values)
{
	struct tm_buf b, c;
	unsigned char raw[64];
	size_t n;

	gen(&b, TM_SECRET_FERNET_KEY);
	cr_assert_eq(b.len, 44, "%zu", b.len);
	cr_assert_eq(sodium_base642bin(raw, sizeof(raw), b.data, b.len, NULL, &n, NULL, sodium_base64_VARIANT_URLSAFE), 0);
	cr_assert_eq(n, 32);
	gen(&c, TM_SECRET_FERNET_KEY);
	cr_assert_str_neq(b.data, c.data);
	tm_buf_wipe(&b);
	tm_buf_wipe(&c);
	gen(&b, TM_SECRET_JWT_SECRET);
	cr_assert_eq(b.len, 86); /* 64 bytes, unpadded */
	cr_assert_eq(strspn(b.data, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), b.len);
	tm_buf_wipe(&b);
	gen(&b, TM_SECRET_API_SECRET_KEY);
	cr_assert_eq(b.len, 43);
	tm_buf_wipe(&b);
	gen(&b, TM_SECRET_DB_PASSWORD);
	cr_assert_eq(b.len, 32);
	cr_assert_eq(strspn(b.data, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"), b.len);
	tm_buf_wipe(&b);
}

Test(secret_gen, passwords_use_the_whole_alphabet)
{
	/* 200 passwords of 32: each of the 62 characters shows up (a biased or truncated
	 * alphabet would leave some out with overwhelming probability) */
	bool seen[256] = { false };
	int distinct = 0;

	for (int i = 0; i < 200; i++) {
		struct tm_buf b;
		gen(&b, TM_SECRET_REDIS_PASSWORD);
		for (size_t j = 0; j < b.len; j++)
			seen[(unsigned char)b.data[j]] = true;
		tm_buf_wipe(&b);
	}
	for (int c = 0; c < 256; c++)
		distinct += seen[c];
	cr_assert_eq(distinct, 62);
}

Test(secret_gen, every_fernet_key_works_with_python_cryptography)
{
	static const char script[] =
		"import sys\n"
		"from cryptography.fernet import Fernet, MultiFernet\n"
		"n = 0\n"
		"for line in sys.stdin.read().split():\n"
		"    f = Fernet(line.encode())\n"
		"    assert f.decrypt(f.encrypt(b'tarmac')) == b'tarmac'\n"
		"    n += 1\n"
		"print(n)\n";
	struct tm_buf all = TM_BUF_INIT("keys", 1 << 20);
	char *out = NULL;
	char *argv[] = { "python3", "-c", (char *)script, NULL };

	for (int i = 0; i < 50; i++) {
		struct tm_buf b;
		gen(&b, TM_SECRET_FERNET_KEY);
		cr_assert_eq(tm_buf_printf(&all, NULL, "%s\n", b.data), 0);
		tm_buf_wipe(&b);
	}
	cr_assert_eq(run_peer(argv, all.data, all.len, &out), 0, "python3 refused a key");
	cr_assert_str_eq(out, "50\n");
	free(out);
	tm_buf_wipe(&all);
}

Test(secret_gen, ssh_keygen_derives_our_public_key_from_our_private_key)
{
	char *root = tu_mkdtemp(), path[600], *out = NULL;
	struct tm_buf key, pub = TM_BUF_INIT("pub", 4096);
	struct tm_err err;
	char *argv[] = { "ssh-keygen", "-y", "-f", path, NULL };

	gen(&key, TM_SECRET_GIT_SSH_KEY);
	cr_assert(strncmp(key.data, "-----BEGIN OPENSSH PRIVATE KEY-----\n", 36) == 0);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_ssh_public_line(&pub, key.data, key.len, &err), 0, "%s", tm_err_msg(&err));
	cr_assert(strncmp(pub.data, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI", 37) == 0, "%s", pub.data);
	cr_assert(strstr(pub.data, " tarmac-test") != NULL, "%s", pub.data);
	snprintf(path, sizeof(path), "%s/id", root);
	spit(path, key.data, key.len, 0600);
	cr_assert_eq(run_peer(argv, NULL, 0, &out), 0, "ssh-keygen could not read the key");
	/* ssh-keygen -y prints "type base64 comment" (comment since OpenSSH 8.9) */
	cr_assert(strncmp(out, pub.data, strlen("ssh-ed25519 ") + 68) == 0, "ssh-keygen: %s\nours: %s", out, pub.data);
	free(out);
	tm_buf_wipe(&key);
	tm_buf_release(&pub);
	tu_rmdir(root);
}

Test(secret_gen, openssh_parser_refuses_damaged_keys)
{
	struct tm_buf key, pub = TM_BUF_INIT("pub", 4096);
	struct tm_err err;
	char *copy;

	gen(&key, TM_SECRET_GIT_SSH_KEY);
	tm_err_init(&err);
	copy = strdup(key.data);
	copy[60] = copy[60] == 'A' ? 'B' : 'A';
	cr_assert_eq(tm_secret_ssh_public_line(&pub, copy, key.len, &err), TM_ECORRUPT);
	free(copy);
	cr_assert_eq(tm_secret_ssh_public_line(&pub, key.data, key.len - 10, &err), TM_ECORRUPT);
	cr_assert_eq(tm_secret_ssh_public_line(&pub, "x", 1, &err), TM_ECORRUPT);
	cr_assert_eq(pub.len, 0);
	tm_buf_wipe(&key);
}
