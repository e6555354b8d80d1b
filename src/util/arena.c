/* A bump allocator over chained blocks: one render makes thousands of small strings
 * that all die together, so they are freed with one call and never one by one. */
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "tarmac/util.h"

#define ARENA_BLOCK 16384
#define ARENA_ALIGN alignof(max_align_t)

struct tm_arena_block {
	struct tm_arena_block *next;
	size_t size; /* usable bytes after the header */
	size_t used;
	alignas(max_align_t) unsigned char mem[];
};

void tm_arena_init(struct tm_arena *a, size_t max)
{
	a->head = NULL;
	a->total = 0;
	a->max = max;
}

void *tm_arena_alloc(struct tm_arena *a, size_t n)
{
	struct tm_arena_block *blk = a->head;
	size_t at, size;

	if (n == 0)
		n = 1;
	if (n > SIZE_MAX - ARENA_ALIGN)
		return NULL;
	if (blk) {
		at = (blk->used + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
		if (at <= blk->size && n <= blk->size - at) {
			blk->used = at + n;
			return blk->mem + at;
		}
	}
	/* a large request gets a block of its own; the current block stays in use */
	size = n > ARENA_BLOCK / 4 ? n : ARENA_BLOCK;
	if (size > SIZE_MAX - sizeof(*blk) || a->total + size + sizeof(*blk) > a->max)
		return NULL;
	blk = malloc(sizeof(*blk) + size);
	if (!blk)
		return NULL;
	a->total += sizeof(*blk) + size;
	blk->size = size;
	blk->used = n;
	if (size == n && a->head) {
		/* keep the partly used block at the head so its room is not lost */
		blk->next = a->head->next;
		a->head->next = blk;
	} else {
		blk->next = a->head;
		a->head = blk;
	}
	return blk->mem;
}

char *tm_arena_strndup(struct tm_arena *a, const char *s, size_t n)
{
	char *p = tm_arena_alloc(a, n + 1);

	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *tm_arena_strdup(struct tm_arena *a, const char *s)
{
	return tm_arena_strndup(a, s, strlen(s));
}

char *tm_arena_printf(struct tm_arena *a, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !(p = tm_arena_alloc(a, (size_t)n + 1)))
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void tm_arena_release(struct tm_arena *a)
{
	struct tm_arena_block *b = a->head, *next;

	for (; b; b = next) {
		next = b->next;
		free(b);
	}
	a->head = NULL;
	a->total = 0;
}
