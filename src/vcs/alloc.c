/* What libgit2 allocates with. In the release binary (TM_WITH_MIMALLOC) mimalloc: with
 * musl's allocator a clone of the benchmark's 20,000-file repository peaked at 107 MB,
 * with mimalloc at 73 MB, in half the time (bench/dags). The test build, linked against
 * Debian's libgit2, keeps libgit2's default. Set once, before libgit2 first starts. */
#include "vcs_private.h"

#ifdef TM_WITH_MIMALLOC
#include <git2/sys/alloc.h>
#include <mimalloc.h>
#include <string.h>

static void *a_malloc(size_t n, const char *file, int line)
{
	(void)file, (void)line;
	return mi_malloc(n);
}

static void *a_calloc(size_t nelem, size_t elsize, const char *file, int line)
{
	(void)file, (void)line;
	return mi_calloc(nelem, elsize);
}

static char *a_strdup(const char *s, const char *file, int line)
{
	(void)file, (void)line;
	return mi_strdup(s);
}

static char *a_strndup(const char *s, size_t n, const char *file, int line)
{
	(void)file, (void)line;
	return mi_strndup(s, n);
}

/* exactly n bytes of s (libgit2 promises they are there), then a NUL */
static char *a_substrdup(const char *s, size_t n, const char *file, int line)
{
	char *p = n < SIZE_MAX ? mi_malloc(n + 1) : NULL;

	(void)file, (void)line;
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static void *a_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file, (void)line;
	return mi_realloc(p, n);
}

static void *a_reallocarray(void *p, size_t nelem, size_t elsize, const char *file, int line)
{
	(void)file, (void)line;
	return mi_reallocn(p, nelem, elsize);
}

static void *a_mallocarray(size_t nelem, size_t elsize, const char *file, int line)
{
	(void)file, (void)line;
	return mi_mallocn(nelem, elsize);
}

static void a_free(void *p)
{
	mi_free(p);
}

void tm_vcs_allocator(void)
{
	static git_allocator a = { a_malloc, a_calloc, a_strdup, a_strndup, a_substrdup,
				   a_realloc, a_reallocarray, a_mallocarray, a_free };
	static bool set;

	if (!set && git_libgit2_opts(GIT_OPT_SET_ALLOCATOR, &a) == 0)
		set = true;
}
#else
void tm_vcs_allocator(void)
{
}
#endif
