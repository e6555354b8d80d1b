/* Shared by the secret tests: a scratch environment with a key pair, files, and a
 * way to ask an independent peer (python3-cryptography, ssh-keygen) for a verdict. */
#ifndef TARMAC_TEST_SECRET_HELPERS_H
#define TARMAC_TEST_SECRET_HELPERS_H

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include "../testutil.h"
#include "tarmac/secret.h"

extern char **environ;

/* A scratch directory with secrets/dev/recipient.pub and a private key at key. */
struct env {
	char *root;
	char dir[512];  /* root/secrets/dev */
	char key[512];  /* root/dev.key */
	char id[TM_SECRET_KEY_ID_LEN + 1];
};

static inline void env_make_named(struct env *e, const char *name)
{
	char rec[600];
	struct tm_err err;
	struct tm_secret_keygen_opts o = { .env = name, .recipient_path = rec, .key_path = e->key, .now = 1700000000 };

	e->root = tu_mkdtemp();
	snprintf(e->dir, sizeof(e->dir), "%s/secrets/%s", e->root, name);
	snprintf(e->key, sizeof(e->key), "%s/%s.key", e->root, name);
	snprintf(rec, sizeof(rec), "%s/recipient.pub", e->dir);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_keygen(e->id, &o, &err), 0, "%s", tm_err_msg(&err));
}

static inline void env_make(struct env *e)
{
	env_make_named(e, "dev");
}

static inline void env_drop(struct env *e)
{
	tu_rmdir(e->root);
}

static inline struct tm_secret_key *env_key(const struct env *e)
{
	struct tm_secret_key *k = NULL;
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_secret_key_load(&k, e->key, &err), 0, "%s", tm_err_msg(&err));
	return k;
}

static inline struct tm_secret_recipient *env_recipient(const struct env *e)
{
	struct tm_secret_recipient *r = NULL;
	struct tm_err err;
	char p[600];

	snprintf(p, sizeof(p), "%s/recipient.pub", e->dir);
	tm_err_init(&err);
	cr_assert_eq(tm_secret_recipient_load(&r, p, &err), 0, "%s", tm_err_msg(&err));
	return r;
}

/* The whole file (NUL-terminated; caller frees), or NULL when it does not exist. */
static inline char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	size_t n = 0;

	if (!f)
		return NULL;
	{
		FILE *m = open_memstream(&p, &n);
		int c;
		while ((c = fgetc(f)) != EOF)
			fputc(c, m);
		fclose(m);
	}
	fclose(f);
	if (len)
		*len = n;
	return p;
}

static inline void spit(const char *path, const void *p, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	cr_assert_geq(fd, 0, "open %s", path);
	cr_assert_eq(write(fd, p, n), (ssize_t)n);
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
}

/* Runs argv (a peer program from PATH) with stdin from in (may be NULL) and
 * captures stdout into *out (caller frees). Returns the exit status, -1 when it
 * did not run or did not exit normally. */
static inline int run_peer(char *const argv[], const char *in, size_t inlen, char **out)
{
	char dir_tmpl[] = "/tmp/tarmac-peer-XXXXXX", inp[64], outp[64];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st = 0, rc;

	cr_assert_not_null(mkdtemp(dir_tmpl));
	snprintf(inp, sizeof(inp), "%s/in", dir_tmpl);
	snprintf(outp, sizeof(outp), "%s/out", dir_tmpl);
	spit(inp, in ? in : "", in ? inlen : 0, 0600);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, inp, O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc == 0 && waitpid(pid, &st, 0) < 0)
		rc = -1;
	if (out)
		*out = slurp(outp, NULL);
	unlink(inp);
	unlink(outp);
	rmdir(dir_tmpl);
	if (rc != 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

#endif
