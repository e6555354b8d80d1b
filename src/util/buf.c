/* Growable byte buffers with a hard maximum: every HTTP body, file and event that
 * tarmac reads goes through one, so no input can make it allocate without bound. */
#include <stdlib.h>
#include <string.h>

#include "tarmac/util.h"

void tm_buf_init(struct tm_buf *b, const char *what, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->what = what ? what : "buffer";
}

static int grow(struct tm_buf *b, size_t need, struct tm_err *err)
{
	size_t cap;
	char *p;

	if (need > b->max || need < b->len)
		return tm_err_set(err, TM_ELIMIT, "%s exceeds its limit of %zu bytes", b->what, b->max);
	if (need + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need + 1)
		cap = cap > SIZE_MAX / 2 ? need + 1 : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	p = realloc(b->data, cap);
	if (!p)
		return tm_err_set(err, TM_ERROR, "%s: out of memory growing to %zu bytes", b->what, cap);
	b->data = p;
	b->cap = cap;
	return 0;
}

int tm_buf_append(struct tm_buf *b, const void *p, size_t n, struct tm_err *err)
{
	int rc;

	if (n > SIZE_MAX - b->len - 1)
		return tm_err_set(err, TM_ELIMIT, "%s exceeds its limit of %zu bytes", b->what, b->max);
	if ((rc = grow(b, b->len + n, err)) < 0)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int tm_buf_puts(struct tm_buf *b, const char *s, struct tm_err *err)
{
	return tm_buf_append(b, s, strlen(s), err);
}

int tm_buf_vprintf(struct tm_buf *b, struct tm_err *err, const char *fmt, va_list ap)
{
	va_list cp;
	int n, rc;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return tm_err_set(err, TM_ERROR, "%s: bad format", b->what);
	if ((rc = grow(b, b->len + (size_t)n, err)) < 0)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int tm_buf_printf(struct tm_buf *b, struct tm_err *err, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = tm_buf_vprintf(b, err, fmt, ap);
	va_end(ap);
	return rc;
}

const char *tm_buf_cstr(const struct tm_buf *b)
{
	return b->data ? b->data : "";
}

void tm_buf_clear(struct tm_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *tm_buf_detach(struct tm_buf *b)
{
	char *p = b->data;

	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void tm_buf_release(struct tm_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void tm_wipe(void *p, size_t n)
{
	if (p && n)
		explicit_bzero(p, n);
}

void tm_buf_wipe(struct tm_buf *b)
{
	tm_wipe(b->data, b->cap);
	tm_buf_release(b);
}
