/* secrets/<env>/: init generates what is missing and nothing else, --force keeps the
 * old value as previous, rotation stages and finishes, rollback swaps back. */
#include <dirent.h>
#include <signal.h>

#include "helpers.h"

#define KNOWN_HOSTS "# the git server\n[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOkqdOQUmWdcdkxS3Ykq+5gFu6TJ7Oom8RqxwHXYFXZL\n"

#define GIVEN 1 /* dags-https-token: given by its user, never generated */

static void init(const struct env *e, enum tm_secret_action act[TM_SECRET_COUNT], const char *force, int64_t now)
{
	struct tm_secret_init_opts o = { .dir = e->dir, .env = "dev", .now = now };
	struct tm_err err;
	enum tm_secret_id id;

	if (force) {
		cr_assert_eq(tm_secret_lookup(force, &id), 0);
		o.force[id] = true;
	}
	tm_err_init(&err);
	cr_assert_eq(tm_secret_init(act, &o, &err), 0, "%s", tm_err_msg(&err));
}

static char *value_of(const struct env *e, enum tm_secret_id id)
{
	struct tm_secret_key *k = env_key(e);
	struct tm_secret_set *s = NULL;
	struct tm_err err;
	const char *v;
	char *copy;

	tm_err_init(&err);
	cr_assert_eq(tm_secret_set_open(&s, e->dir, k, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_secret_set_get(s, id, &v, NULL), 0);
	copy = strdup(v);
	tm_secret_set_free(s);
	tm_secret_key_free(k);
	return copy;
}

static void list(const struct env *e, struct tm_secret_listed **items, size_t *n)
{
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_secret_list(items, n, e->dir, &err), 0, "%s", tm_err_msg(&err));
}

Test(secret_store, init_generates_everything_once)
{
	struct env e;
	enum tm_secret_action act[TM_SECRET_COUNT];
	struct tm_secret_listed *a, *b;
	size_t na, nb;
	char path[700], *pub;

	env_make(&e);
	init(&e, act, NULL, 1700000100);
	for (int i = 0; i < TM_SECRET_COUNT; i++)
		cr_assert_eq(act[i], tm_secret_given((enum tm_secret_id)i) ? TM_SECRET_ABSENT : TM_SECRET_GENERATED, "%s",
			     tm_secret_name((enum tm_secret_id)i));
	list(&e, &a, &na);
	cr_assert_eq(na, TM_SECRET_COUNT - GIVEN, "every secret but the given ones");
	cr_assert_str_eq(a[0].file, "admin-password.sealed");
	cr_assert_str_eq(a[0].meta.created, "2023-11-14T22:15:00Z");
	cr_assert_str_eq(a[0].meta.key_id, e.id);
	init(&e, act, NULL, 1700000200);
	for (int i = 0; i < TM_SECRET_COUNT; i++)
		cr_assert_eq(act[i], tm_secret_given((enum tm_secret_id)i) ? TM_SECRET_ABSENT : TM_SECRET_KEPT);
	list(&e, &b, &nb);
	cr_assert_eq(nb, na);
	for (size_t i = 0; i < na; i++) {
		cr_assert_str_eq(a[i].meta.fingerprint, b[i].meta.fingerprint, "%s was rewritten", a[i].file);
		cr_assert_str_eq(b[i].meta.created, "2023-11-14T22:15:00Z");
	}
	snprintf(path, sizeof(path), "%s/git-ssh-key.pub", e.dir);
	pub = slurp(path, NULL);
	cr_assert(strncmp(pub, "ssh-ed25519 ", 12) == 0 && strstr(pub, " tarmac-dev-deploy-key\n"), "%s", pub);
	free(pub);
	free(a);
	free(b);
	env_drop(&e);
}

Test(secret_store, force_regenerates_one_and_keeps_the_old_as_previous)
{
	struct env e;
	enum tm_secret_action act[TM_SECRET_COUNT];
	struct tm_secret_listed *items;
	size_t n;
	char *before, *after, *jwt_before, *jwt_after;

	env_make(&e);
	init(&e, act, NULL, 0);
	before = value_of(&e, TM_SECRET_DB_PASSWORD);
	jwt_before = value_of(&e, TM_SECRET_JWT_SECRET);
	init(&e, act, "db-password", 0);
	cr_assert_eq(act[TM_SECRET_DB_PASSWORD], TM_SECRET_REGENERATED);
	cr_assert_eq(act[TM_SECRET_JWT_SECRET], TM_SECRET_KEPT);
	after = value_of(&e, TM_SECRET_DB_PASSWORD);
	jwt_after = value_of(&e, TM_SECRET_JWT_SECRET);
	cr_assert_str_neq(before, after);
	cr_assert_str_eq(jwt_before, jwt_after);
	list(&e, &items, &n);
	cr_assert_eq(n, TM_SECRET_COUNT - GIVEN + 1);
	cr_assert_str_eq(items[2].file, "db-password.previous.sealed");
	cr_assert(items[2].previous);
	cr_assert_str_eq(items[2].meta.name, "db-password");
	/* rollback brings the old password back */
	{
		struct tm_err err;
		char *rolled;
		tm_err_init(&err);
		cr_assert_eq(tm_secret_rotate(e.dir, TM_SECRET_DB_PASSWORD, TM_ROTATE_ROLLBACK, NULL, 0, NULL, &err), 0, "%s",
			     tm_err_msg(&err));
		rolled = value_of(&e, TM_SECRET_DB_PASSWORD);
		cr_assert_str_eq(rolled, before);
		free(rolled);
		cr_assert_eq(tm_secret_rotate(e.dir, TM_SECRET_JWT_SECRET, TM_ROTATE_ROLLBACK, NULL, 0, NULL, &err), TM_ENOTFOUND);
		cr_assert(strstr(tm_err_msg(&err), "no previous value") != NULL, "%s", tm_err_msg(&err));
	}
	free(items);
	free(before);
	free(after);
	free(jwt_before);
	free(jwt_after);
	env_drop(&e);
}

Test(secret_store, fernet_rotation_stages_then_finishes)
{
	struct env e;
	enum tm_secret_action act[TM_SECRET_COUNT];
	struct tm_secret_key *k;
	struct tm_err err;
	char *old, *staged, *done, want[200];

	env_make(&e);
	init(&e, act, NULL, 0);
	k = env_key(&e);
	old = value_of(&e, TM_SECRET_FERNET_KEY);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_rotate(e.dir, TM_SECRET_FERNET_KEY, TM_ROTATE_FINISH, k, 0, NULL, &err), TM_ECONFLICT);
	cr_assert_eq(tm_secret_rotate(e.dir, TM_SECRET_FERNET_KEY, TM_ROTATE_START, NULL, 0, NULL, &err), TM_EINVALID);
	cr_assert_eq(tm_secret_rotate(e.dir, TM_SECRET_FERNET_KEY, TM_ROTATE_START, k, 0, NULL, &err), 0, "%s", tm_err_msg(&err));
	staged = value_of(&e, TM_SECRET_FERNET_KEY);
	cr_assert_eq(strlen(staged), 44 + 1 + 44);
	snprintf(want, sizeof(want), ",%s", old);
	cr_assert_str_eq(staged + 44, want, "the old key stays behind the new one");
	cr_assert_eq(tm_secret_rotate(e.dir, TM_SECRET_FERNET_KEY, TM_ROTATE_START, k, 0, NULL, &err), TM_ECONFLICT);
	cr_assert(strstr(tm_err_msg(&err), "--finish") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_secret_rotate(e.dir, TM_SECRET_FERNET_KEY, TM_ROTATE_FINISH, k, 0, NULL, &err), 0, "%s", tm_err_msg(&err));
	done = value_of(&e, TM_SECRET_FERNET_KEY);
	cr_assert_eq(strlen(done), 44);
	cr_assert_eq(strncmp(done, staged, 44), 0);
	cr_assert_eq(tm_secret_rotate(e.dir, TM_SECRET_API_SECRET_KEY, TM_ROTATE_FINISH, k, 0, NULL, &err), TM_EINVALID);
	free(old);
	free(staged);
	free(done);
	tm_secret_key_free(k);
	env_drop(&e);
}

Test(secret_store, rotating_the_deploy_key_keeps_both_public_keys)
{
	struct env e;
	enum tm_secret_action act[TM_SECRET_COUNT];
	struct tm_err err;
	char p[700], pp[700], *first, *second, *prev;

	env_make(&e);
	init(&e, act, NULL, 0);
	snprintf(p, sizeof(p), "%s/git-ssh-key.pub", e.dir);
	snprintf(pp, sizeof(pp), "%s/git-ssh-key.previous.pub", e.dir);
	first = slurp(p, NULL);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_rotate(e.dir, TM_SECRET_GIT_SSH_KEY, TM_ROTATE_START, NULL, 0, NULL, &err), 0, "%s", tm_err_msg(&err));
	second = slurp(p, NULL);
	prev = slurp(pp, NULL);
	cr_assert_str_neq(first, second);
	cr_assert_str_eq(prev, first);
	free(prev);
	cr_assert_eq(tm_secret_rotate(e.dir, TM_SECRET_GIT_SSH_KEY, TM_ROTATE_ROLLBACK, NULL, 0, NULL, &err), 0);
	prev = slurp(p, NULL);
	cr_assert_str_eq(prev, first);
	free(prev);
	free(first);
	free(second);
	env_drop(&e);
}

Test(secret_store, init_without_keygen_says_so)
{
	char *root = tu_mkdtemp();
	struct tm_secret_init_opts o = { .dir = root, .env = "dev" };
	enum tm_secret_action act[TM_SECRET_COUNT];
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_secret_init(act, &o, &err), TM_ENOTFOUND);
	cr_assert(strstr(tm_err_msg(&err), "run 'tarmac secrets keygen' first") != NULL, "%s", tm_err_msg(&err));
	tu_rmdir(root);
}

Test(secret_store, known_hosts_is_checked_and_kept_in_plain_text)
{
	struct env e;
	enum tm_secret_action act[TM_SECRET_COUNT];
	struct tm_secret_init_opts o = { .env = "dev" };
	struct tm_err err;
	char kh[700], stored[700], *text;
	struct tm_secret_key *k;
	struct tm_secret_set *s = NULL;

	env_make(&e);
	o.dir = e.dir;
	o.known_hosts_path = kh;
	snprintf(kh, sizeof(kh), "%s/kh", e.root);
	snprintf(stored, sizeof(stored), "%s/known_hosts", e.dir);
	spit(kh, "example.com ssh-ed25519\n", 24, 0644);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_init(act, &o, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "kh:1: expected 'HOSTS KEYTYPE BASE64-KEY'") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(access(stored, F_OK), -1, "nothing written after a bad known_hosts");
	{
		char sealed[700];
		snprintf(sealed, sizeof(sealed), "%s/fernet-key.sealed", e.dir);
		cr_assert_eq(access(sealed, F_OK), -1, "no secret generated after a bad known_hosts");
	}
	spit(kh, KNOWN_HOSTS, strlen(KNOWN_HOSTS), 0644);
	cr_assert_eq(tm_secret_init(act, &o, &err), 0, "%s", tm_err_msg(&err));
	text = slurp(stored, NULL);
	cr_assert_str_eq(text, KNOWN_HOSTS);
	free(text);
	k = env_key(&e);
	cr_assert_eq(tm_secret_set_open(&s, e.dir, k, &err), 0, "%s", tm_err_msg(&err));
	tm_secret_set_free(s);
	tm_secret_key_free(k);
	env_drop(&e);
}

Test(secret_store, another_environments_key_opens_nothing)
{
	struct env e, other;
	enum tm_secret_action act[TM_SECRET_COUNT];
	struct tm_secret_key *k;
	struct tm_secret_set *s = NULL;
	struct tm_err err;

	env_make(&e);
	env_make_named(&other, "prod");
	init(&e, act, NULL, 0);
	k = env_key(&other);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_set_open(&s, e.dir, k, &err), TM_EWRONGKEY);
	cr_assert_null(s);
	cr_assert(strstr(tm_err_msg(&err), "of environment 'prod'") != NULL, "%s", tm_err_msg(&err));
	tm_secret_key_free(k);
	env_drop(&e);
	env_drop(&other);
}

Test(secret_store, a_sealed_file_copied_over_another_is_caught)
{
	struct env e;
	enum tm_secret_action act[TM_SECRET_COUNT];
	struct tm_secret_listed *items = NULL;
	size_t n = 0, len;
	struct tm_err err;
	char from[700], to[700], *text;

	env_make(&e);
	init(&e, act, NULL, 0);
	snprintf(from, sizeof(from), "%s/jwt-secret.sealed", e.dir);
	snprintf(to, sizeof(to), "%s/api-secret-key.sealed", e.dir);
	text = slurp(from, &len);
	spit(to, text, len, 0644);
	free(text);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_list(&items, &n, e.dir, &err), TM_ECORRUPT);
	cr_assert(strstr(tm_err_msg(&err), "holds secret 'jwt-secret', not 'api-secret-key'") != NULL, "%s", tm_err_msg(&err));
	/* and init, which must not keep a value under the wrong name */
	cr_assert_eq(tm_secret_init(act, &(struct tm_secret_init_opts){ .dir = e.dir, .env = "dev" }, &err), TM_ECORRUPT);
	/* a group-writable sealed file is refused (anyone in the group could swap it) */
	cr_assert_eq(chmod(from, 0664), 0);
	cr_assert_eq(tm_secret_rotate(e.dir, TM_SECRET_JWT_SECRET, TM_ROTATE_START, NULL, 0, NULL, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "writable by group or others") != NULL, "%s", tm_err_msg(&err));
	env_drop(&e);
}

/* ------------------------------------------------------------------ links and formats */

static int count_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	cr_assert_not_null(d);
	while ((de = readdir(d)))
		n += strstr(de->d_name, ".tmp.") != NULL;
	closedir(d);
	return n;
}

Test(secret_store, a_symlinked_known_hosts_is_never_read)
{
	struct env e;
	enum tm_secret_action act[TM_SECRET_COUNT];
	struct tm_secret_key *k;
	struct tm_secret_set *s = NULL;
	struct tm_err err;
	char kh[700];

	env_make(&e);
	init(&e, act, NULL, 0);
	snprintf(kh, sizeof(kh), "%s/known_hosts", e.dir);
	/* the committed link points at the environment's own private key */
	cr_assert_eq(symlink(e.key, kh), 0);
	k = env_key(&e);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_set_open(&s, e.dir, k, &err), TM_EINVALID);
	cr_assert_null(s);
	cr_assert(strstr(tm_err_msg(&err), "known_hosts' is a symbolic link") != NULL, "%s", tm_err_msg(&err));
	/* the private key's text put there as a file is refused by its format */
	cr_assert_eq(unlink(kh), 0);
	{
		size_t len;
		char *text = slurp(e.key, &len);
		spit(kh, text, len, 0644);
		free(text);
	}
	cr_assert_eq(tm_secret_set_open(&s, e.dir, k, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "known_hosts:1: expected 'HOSTS KEYTYPE BASE64-KEY'") != NULL, "%s",
		  tm_err_msg(&err));
	tm_secret_key_free(k);
	env_drop(&e);
}

Test(secret_store, rotating_the_deploy_key_refuses_a_symlinked_pub)
{
	struct env e;
	enum tm_secret_action act[TM_SECRET_COUNT];
	struct tm_err err;
	char p[700], pp[700], sealed[700], *before, *after;

	env_make(&e);
	init(&e, act, NULL, 0);
	snprintf(p, sizeof(p), "%s/git-ssh-key.pub", e.dir);
	snprintf(pp, sizeof(pp), "%s/git-ssh-key.previous.pub", e.dir);
	snprintf(sealed, sizeof(sealed), "%s/git-ssh-key.sealed", e.dir);
	cr_assert_eq(unlink(p), 0);
	cr_assert_eq(symlink(e.key, p), 0);
	before = slurp(sealed, NULL);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_rotate(e.dir, TM_SECRET_GIT_SSH_KEY, TM_ROTATE_START, NULL, 0, NULL, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "git-ssh-key.pub' is a symbolic link") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(access(pp, F_OK), -1, "the link's target was not copied to previous.pub");
	after = slurp(sealed, NULL);
	cr_assert_str_eq(after, before, "nothing was rotated");
	cr_assert_eq(count_tmp(e.dir), 0);
	free(after);
	free(before);
	/* a regular file that is not a public key is refused too */
	cr_assert_eq(unlink(p), 0);
	spit(p, "hello\n", 6, 0644);
	cr_assert_eq(tm_secret_rotate(e.dir, TM_SECRET_GIT_SSH_KEY, TM_ROTATE_START, NULL, 0, NULL, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "git-ssh-key.pub:1: expected an OpenSSH public key") != NULL, "%s",
		  tm_err_msg(&err));
	cr_assert_eq(access(pp, F_OK), -1);
	env_drop(&e);
}

Test(secret_store, symlinked_sealed_files_and_recipient_are_refused)
{
	struct env e;
	enum tm_secret_action act[TM_SECRET_COUNT];
	struct tm_secret_listed *items = NULL;
	size_t n = 0;
	struct tm_err err;
	char f[700], moved[700];

	env_make(&e);
	init(&e, act, NULL, 0);
	snprintf(f, sizeof(f), "%s/jwt-secret.sealed", e.dir);
	snprintf(moved, sizeof(moved), "%s/jwt", e.root);
	cr_assert_eq(rename(f, moved), 0);
	cr_assert_eq(symlink(moved, f), 0);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_list(&items, &n, e.dir, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "jwt-secret.sealed' is a symbolic link") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(unlink(f), 0);
	cr_assert_eq(rename(moved, f), 0);
	snprintf(f, sizeof(f), "%s/recipient.pub", e.dir);
	cr_assert_eq(rename(f, moved), 0);
	cr_assert_eq(symlink(moved, f), 0);
	cr_assert_eq(tm_secret_init(act, &(struct tm_secret_init_opts){ .dir = e.dir, .env = "dev" }, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "recipient.pub' is a symbolic link") != NULL, "%s", tm_err_msg(&err));
	env_drop(&e);
}

Test(secret_store, an_interrupted_init_leaves_whole_secrets_and_no_temporary)
{
	struct env e;
	enum tm_secret_action act[TM_SECRET_COUNT];
	volatile sig_atomic_t stop = 1;
	struct tm_secret_init_opts o = { .env = "dev", .stop = &stop };
	struct tm_err err;
	char p[700];

	env_make(&e);
	o.dir = e.dir;
	tm_err_init(&err);
	cr_assert_eq(tm_secret_init(act, &o, &err), TM_EINTERRUPTED);
	cr_assert(strstr(tm_err_msg(&err), "interrupted") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(count_tmp(e.dir), 0);
	snprintf(p, sizeof(p), "%s/fernet-key.sealed", e.dir);
	cr_assert_eq(access(p, F_OK), -1);
	/* the next run completes it */
	stop = 0;
	cr_assert_eq(tm_secret_init(act, &o, &err), 0, "%s", tm_err_msg(&err));
	snprintf(p, sizeof(p), "%s/git-ssh-key.pub", e.dir);
	cr_assert_eq(access(p, F_OK), 0);
	/* a rotation stopped before its files are in place changes nothing */
	{
		char *before, *after;
		snprintf(p, sizeof(p), "%s/git-ssh-key.sealed", e.dir);
		before = slurp(p, NULL);
		stop = 1;
		cr_assert_eq(tm_secret_rotate(e.dir, TM_SECRET_GIT_SSH_KEY, TM_ROTATE_START, NULL, 0, &stop, &err),
			     TM_EINTERRUPTED);
		after = slurp(p, NULL);
		cr_assert_str_eq(after, before);
		free(before);
		free(after);
		snprintf(p, sizeof(p), "%s/git-ssh-key.previous.sealed", e.dir);
		cr_assert_eq(access(p, F_OK), -1);
		cr_assert_eq(count_tmp(e.dir), 0);
	}
	env_drop(&e);
}

Test(secret_store, a_given_token_is_sealed_from_its_file_and_replaced_only_with_force)
{
	struct env e;
	enum tm_secret_action act[TM_SECRET_COUNT];
	struct tm_secret_init_opts o;
	struct tm_err err;
	char path[700];
	char *v;
	FILE *f;

	env_make(&e);
	snprintf(path, sizeof(path), "%s/token", e.root);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs("ghp_first\n", f);
	fclose(f);
	o = (struct tm_secret_init_opts){ .dir = e.dir, .env = "dev", .https_token_path = path };
	tm_err_init(&err);
	cr_assert_eq(tm_secret_init(act, &o, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(act[TM_SECRET_GIT_HTTPS_TOKEN], TM_SECRET_SEALED);
	cr_assert_str_eq(v = value_of(&e, TM_SECRET_GIT_HTTPS_TOKEN), "ghp_first", "the line end is not part of it");
	free(v);
	cr_assert_eq(tm_secret_init(act, &o, &err), TM_ECONFLICT);
	cr_assert(strstr(tm_err_msg(&err), "add --force dags-https-token") != NULL, "%s", tm_err_msg(&err));
	cr_assert_not_null(f = fopen(path, "w"));
	fputs("ghp_second", f);
	fclose(f);
	o.force[TM_SECRET_GIT_HTTPS_TOKEN] = true;
	tm_err_init(&err);
	cr_assert_eq(tm_secret_init(act, &o, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(act[TM_SECRET_GIT_HTTPS_TOKEN], TM_SECRET_SEALED);
	cr_assert_eq(act[TM_SECRET_FERNET_KEY], TM_SECRET_KEPT);
	cr_assert_str_eq(v = value_of(&e, TM_SECRET_GIT_HTTPS_TOKEN), "ghp_second");
	free(v);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs("two\nlines\n", f);
	fclose(f);
	cr_assert_eq(tm_secret_init(act, &o, &err), TM_EINVALID, "a token is one line");
	o = (struct tm_secret_init_opts){ .dir = e.dir, .env = "dev" };
	o.force[TM_SECRET_GIT_HTTPS_TOKEN] = true;
	cr_assert_eq(tm_secret_init(act, &o, &err), TM_EINVALID, "--force without a token cannot make one");
	cr_assert(strstr(tm_err_msg(&err), "is not generated") != NULL, "%s", tm_err_msg(&err));
	env_drop(&e);
}
