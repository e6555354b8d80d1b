/* Helpers shared by the Criterion tests: scratch directories and captured output. */
#ifndef TARMAC_TESTUTIL_H
#define TARMAC_TESTUTIL_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A fresh directory under $TMPDIR (or /tmp); removed by tu_rmdir. */
static inline char *tu_mkdtemp(void)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char *p = NULL;

	cr_assert(asprintf(&p, "%s/tarmac-test-XXXXXX", base) > 0);
	cr_assert_not_null(mkdtemp(p));
	return p;
}

static inline int tu_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes a scratch directory and everything below it, then frees dir. */
static inline void tu_rmdir(char *dir)
{
	cr_assert_eq(nftw(dir, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(dir);
}

/* Captures what a function writes to a FILE *. */
struct tu_capture {
	FILE *f;
	char *data;
	size_t len;
};

static inline void tu_capture_start(struct tu_capture *c)
{
	c->data = NULL;
	c->len = 0;
	c->f = open_memstream(&c->data, &c->len);
	cr_assert_not_null(c->f);
}

static inline const char *tu_capture_text(struct tu_capture *c)
{
	fflush(c->f);
	return c->data ? c->data : "";
}

static inline void tu_capture_end(struct tu_capture *c)
{
	fclose(c->f);
	free(c->data);
}

#endif
