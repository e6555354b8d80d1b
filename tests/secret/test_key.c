/* Key files: keygen writes a 0600 private key and a committable recipient; loading
 * refuses shared-readable keys, the wrong kind of file and altered ones. */
#include <dirent.h>
#include <signal.h>
#include <sodium.h>

#include "helpers.h"

Test(secret_key, keygen_writes_both_files_with_the_same_key_id)
{
	struct env e;
	struct tm_secret_key *k;
	struct tm_secret_recipient *r;
	struct stat st;
	char *text, rec[600];

	env_make(&e);
	cr_assert_eq(stat(e.key, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "private key mode %o", st.st_mode & 0777);
	snprintf(rec, sizeof(rec), "%s/recipient.pub", e.dir);
	cr_assert_eq(stat(rec, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0644);
	text = slurp(rec, NULL);
	cr_assert(strncmp(text, "tarmac-recipient v1\nalg: x25519\nkey-id: ", 40) == 0, "%s", text);
	cr_assert(strstr(text, "\nenv: dev\ncreated: 2023-11-14T22:13:20Z\n\n") != NULL, "%s", text);
	free(text);
	text = slurp(e.key, NULL);
	cr_assert(strncmp(text, "tarmac-key v1\nalg: x25519\n", 26) == 0);
	free(text);
	k = env_key(&e);
	r = env_recipient(&e);
	cr_assert_str_eq(tm_secret_key_id(k), e.id);
	cr_assert_str_eq(tm_secret_recipient_id(r), e.id);
	cr_assert_eq(strlen(e.id), 16);
	tm_secret_key_free(k);
	tm_secret_recipient_free(r);
	env_drop(&e);
}

Test(secret_key, keygen_never_replaces_an_existing_key)
{
	struct env e;
	struct tm_err err;
	char rec[600], id[17], other[600];
	char *before;
	struct tm_secret_keygen_opts o = { .env = "dev", .recipient_path = rec, .key_path = other };

	env_make(&e);
	snprintf(rec, sizeof(rec), "%s/recipient.pub", e.dir);
	snprintf(other, sizeof(other), "%s/other.key", e.root);
	before = slurp(rec, NULL);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_keygen(id, &o, &err), TM_ECONFLICT);
	cr_assert(strstr(tm_err_msg(&err), "exists already") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(access(other, F_OK), -1, "no private key is left behind");
	o.recipient_path = other;
	o.key_path = e.key;
	cr_assert_eq(tm_secret_keygen(id, &o, &err), TM_ECONFLICT);
	{
		char *after = slurp(rec, NULL);
		cr_assert_str_eq(after, before);
		free(after);
	}
	free(before);
	env_drop(&e);
}

Test(secret_key, group_or_world_readable_private_key_is_refused)
{
	struct env e;
	struct tm_secret_key *k = NULL;
	struct tm_err err;

	env_make(&e);
	cr_assert_eq(chmod(e.key, 0640), 0);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_key_load(&k, e.key, &err), TM_EINVALID);
	cr_assert_null(k);
	cr_assert(strstr(tm_err_msg(&err), "accessible to group or others") != NULL, "%s", tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), "chmod 600") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(chmod(e.key, 0604), 0);
	cr_assert_eq(tm_secret_key_load(&k, e.key, &err), TM_EINVALID);
	cr_assert_eq(chmod(e.key, 0600), 0);
	cr_assert_eq(tm_secret_key_load(&k, e.key, &err), 0, "%s", tm_err_msg(&err));
	tm_secret_key_free(k);
	env_drop(&e);
}

Test(secret_key, the_wrong_kind_of_file_says_what_it_is)
{
	struct env e;
	struct tm_secret_key *k = NULL;
	struct tm_secret_recipient *r = NULL;
	struct tm_err err;
	char rec[600];
	char *pub, *priv;
	size_t plen, klen;

	env_make(&e);
	snprintf(rec, sizeof(rec), "%s/recipient.pub", e.dir);
	pub = slurp(rec, &plen);
	priv = slurp(e.key, &klen);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_key_parse(&k, pub, plen, "x.key", &err), TM_EINVALID);
	cr_assert_str_eq(tm_err_msg(&err), "x.key:1: this is a public recipient key file, not a private key file");
	cr_assert_eq(tm_secret_recipient_parse(&r, priv, klen, "r.pub", &err), TM_EINVALID);
	cr_assert_str_eq(tm_err_msg(&err), "r.pub:1: this is a private key file, not a public recipient key file");
	cr_assert_eq(tm_secret_key_parse(&k, "hello\n", 6, "h", &err), TM_ECORRUPT);
	cr_assert(strstr(tm_err_msg(&err), "h:1: not a private key file") != NULL, "%s", tm_err_msg(&err));
	free(pub);
	free(priv);
	env_drop(&e);
}

/* Edits one line of a key file's text and parses it. */
static int parse_edited(const char *text, const char *from, const char *to, struct tm_err *err)
{
	struct tm_secret_key *k = NULL;
	char buf[4096];
	const char *at = strstr(text, from);
	int rc;

	cr_assert_not_null(at, "%s not in key file", from);
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
	tm_err_init(err);
	rc = tm_secret_key_parse(&k, buf, strlen(buf), "k", err);
	tm_secret_key_free(k);
	return rc;
}

Test(secret_key, altered_key_files_are_corrupt_or_unsupported)
{
	struct env e;
	struct tm_err err;
	char *priv, idline[64];

	env_make(&e);
	priv = slurp(e.key, NULL);
	cr_assert_eq(parse_edited(priv, "tarmac-key v1", "tarmac-key v2", &err), TM_EVERSION);
	cr_assert_str_eq(tm_err_msg(&err), "k:1: a private key file format version 2 is not supported (this tarmac reads v1)");
	cr_assert_eq(parse_edited(priv, "alg: x25519", "alg: x448", &err), TM_EVERSION);
	cr_assert(strstr(tm_err_msg(&err), "k:2: key algorithm 'x448' is not supported") != NULL, "%s", tm_err_msg(&err));
	snprintf(idline, sizeof(idline), "key-id: %s", e.id);
	cr_assert_eq(parse_edited(priv, idline, "key-id: 0000000000000000", &err), TM_ECORRUPT);
	cr_assert(strstr(tm_err_msg(&err), "header says 0000000000000000") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(parse_edited(priv, "env: dev", "env: Dev!", &err), TM_ECORRUPT);
	cr_assert_eq(parse_edited(priv, "\n\n", "\n", &err), TM_ECORRUPT);
	cr_assert_eq(parse_edited(priv, "=\n", "=", &err), TM_ECORRUPT);
	cr_assert(strstr(tm_err_msg(&err), "truncated") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(parse_edited(priv, "\n", "\r\n", &err), TM_ECORRUPT);
	cr_assert(strstr(tm_err_msg(&err), "carriage returns") != NULL, "%s", tm_err_msg(&err));
	/* 33 bytes of key instead of 32 */
	{
		const char *body = strstr(priv, "\n\n") + 2;
		char b64[128];
		unsigned char raw[33] = { 0 };
		sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
		strcat(b64, "\n");
		cr_assert_eq(parse_edited(priv, body, b64, &err), TM_ECORRUPT);
		cr_assert(strstr(tm_err_msg(&err), "the key is 33 bytes, not 32") != NULL, "%s", tm_err_msg(&err));
	}
	free(priv);
	env_drop(&e);
}

Test(secret_key, default_path_follows_xdg_then_home)
{
	struct tm_buf b = TM_BUF_INIT("p", 4096);
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_secret_default_key_path(&b, "prod", "/x/cfg", "/home/u", &err), 0);
	cr_assert_str_eq(b.data, "/x/cfg/tarmac/keys/prod.key");
	cr_assert_eq(tm_secret_default_key_path(&b, "prod", "relative", "/home/u", &err), 0);
	cr_assert_str_eq(b.data, "/home/u/.config/tarmac/keys/prod.key");
	cr_assert_eq(tm_secret_default_key_path(&b, "prod", NULL, "/home/u", &err), 0);
	cr_assert_str_eq(b.data, "/home/u/.config/tarmac/keys/prod.key");
	cr_assert_eq(tm_secret_default_key_path(&b, "prod", NULL, NULL, &err), TM_ENOTFOUND);
	tm_buf_release(&b);
}

Test(secret_key, keygen_makes_the_key_directory_private)
{
	char *root = tu_mkdtemp(), rec[600], key[600], id[17];
	struct tm_secret_keygen_opts o = { .env = "prod", .recipient_path = rec, .key_path = key };
	struct tm_err err;
	struct stat st;

	snprintf(rec, sizeof(rec), "%s/repo/secrets/prod/recipient.pub", root);
	snprintf(key, sizeof(key), "%s/cfg/tarmac/keys/prod.key", root);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_keygen(id, &o, &err), 0, "%s", tm_err_msg(&err));
	snprintf(key, sizeof(key), "%s/cfg/tarmac/keys", root);
	cr_assert_eq(stat(key, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700);
	tu_rmdir(root);
}

Test(secret_key, key_open_prefers_the_flag_then_the_variable_then_the_default)
{
	struct env a, b;
	struct tm_secret_key *k = NULL;
	struct tm_err err;
	char cfg[600], dflt[700];
	struct tm_secret_key_source src = { .env = "dev", .xdg_config_home = cfg };

	env_make(&a);
	env_make_named(&b, "prod");
	snprintf(cfg, sizeof(cfg), "%s/cfg", a.root);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_key_open(&k, &src, &err), TM_ENOTFOUND);
	cr_assert(strstr(tm_err_msg(&err), "pass --key-file or set TARMAC_KEY_FILE") != NULL, "%s", tm_err_msg(&err));
	snprintf(dflt, sizeof(dflt), "%s/tarmac", cfg);
	cr_assert_eq(mkdir(cfg, 0700), 0);
	cr_assert_eq(mkdir(dflt, 0700), 0);
	snprintf(dflt, sizeof(dflt), "%s/tarmac/keys", cfg);
	cr_assert_eq(mkdir(dflt, 0700), 0);
	snprintf(dflt, sizeof(dflt), "%s/tarmac/keys/dev.key", cfg);
	cr_assert_eq(rename(a.key, dflt), 0);
	cr_assert_eq(tm_secret_key_open(&k, &src, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(tm_secret_key_id(k), a.id);
	tm_secret_key_free(k);
	src.env_key_file = b.key;
	cr_assert_eq(tm_secret_key_open(&k, &src, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(tm_secret_key_id(k), b.id);
	tm_secret_key_free(k);
	src.key_file = dflt;
	cr_assert_eq(tm_secret_key_open(&k, &src, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(tm_secret_key_id(k), a.id);
	tm_secret_key_free(k);
	env_drop(&a);
	env_drop(&b);
}

Test(secret_key, a_symlink_at_the_default_key_path_is_refused_a_named_one_is_followed)
{
	struct env a;
	struct tm_secret_key *k = NULL;
	struct tm_err err;
	char cfg[600], dflt[700];
	struct tm_secret_key_source src = { .env = "dev", .xdg_config_home = cfg };

	env_make(&a);
	snprintf(cfg, sizeof(cfg), "%s/cfg", a.root);
	cr_assert_eq(mkdir(cfg, 0700), 0);
	snprintf(dflt, sizeof(dflt), "%s/tarmac", cfg);
	cr_assert_eq(mkdir(dflt, 0700), 0);
	snprintf(dflt, sizeof(dflt), "%s/tarmac/keys", cfg);
	cr_assert_eq(mkdir(dflt, 0700), 0);
	snprintf(dflt, sizeof(dflt), "%s/tarmac/keys/dev.key", cfg);
	cr_assert_eq(symlink(a.key, dflt), 0);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_key_open(&k, &src, &err), TM_EINVALID);
	cr_assert_null(k);
	cr_assert(strstr(tm_err_msg(&err), "dev.key' is a symbolic link") != NULL, "%s", tm_err_msg(&err));
	/* named by the operator (--key-file), a link is theirs to make: a Kubernetes Secret
	 * volume mounts its files as links */
	src.key_file = dflt;
	cr_assert_eq(tm_secret_key_open(&k, &src, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(tm_secret_key_id(k), a.id);
	tm_secret_key_free(k);
	env_drop(&a);
}

Test(secret_key, an_interrupted_keygen_writes_neither_file)
{
	char *root = tu_mkdtemp(), rec[600], key[600], id[17];
	volatile sig_atomic_t stop = 1;
	struct tm_secret_keygen_opts o = { .env = "prod", .recipient_path = rec, .key_path = key, .stop = &stop };
	struct tm_err err;
	int n = 0;

	snprintf(rec, sizeof(rec), "%s/recipient.pub", root);
	snprintf(key, sizeof(key), "%s/prod.key", root);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_keygen(id, &o, &err), TM_EINTERRUPTED);
	{
		DIR *d = opendir(root);
		struct dirent *de;
		while ((de = readdir(d)))
			n += de->d_name[0] != '.';
		closedir(d);
	}
	cr_assert_eq(n, 0, "no key, no recipient, no temporary file");
	stop = 0;
	cr_assert_eq(tm_secret_keygen(id, &o, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(access(rec, F_OK), 0);
	cr_assert_eq(access(key, F_OK), 0);
	tu_rmdir(root);
}
