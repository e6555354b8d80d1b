/* The arena: aligned bump allocation, large blocks, the cap and one-shot release. */
#include <stdalign.h>
#include <stdint.h>

#include "../testutil.h"
#include "tarmac/util.h"

Test(util_arena, allocations_are_aligned_and_distinct)
{
	struct tm_arena a;
	char *prev = NULL;

	tm_arena_init(&a, 64 << 20);
	for (int i = 1; i < 5000; i++) {
		char *p = tm_arena_alloc(&a, (size_t)(i % 37) + 1);
		cr_assert_not_null(p);
		cr_assert_eq((uintptr_t)p % alignof(max_align_t), 0);
		memset(p, 0xab, (size_t)(i % 37) + 1); /* ASan catches overlap or overrun */
		cr_assert_neq(p, prev);
		prev = p;
	}
	tm_arena_release(&a);
	cr_assert_eq(a.total, 0);
	cr_assert_null(a.head);
}

Test(util_arena, strings)
{
	struct tm_arena a;
	char *s, *t, *u;

	tm_arena_init(&a, 1 << 20);
	s = tm_arena_strdup(&a, "airflow");
	t = tm_arena_strndup(&a, "scheduler-extra", 9);
	u = tm_arena_printf(&a, "%s-%s-%d", s, t, 2);
	cr_assert_str_eq(s, "airflow");
	cr_assert_str_eq(t, "scheduler");
	cr_assert_str_eq(u, "airflow-scheduler-2");
	tm_arena_release(&a);
}

Test(util_arena, large_request_keeps_the_current_block_usable)
{
	struct tm_arena a;
	char *small1, *big, *small2;

	tm_arena_init(&a, 64 << 20);
	small1 = tm_arena_alloc(&a, 16);
	big = tm_arena_alloc(&a, 1 << 20);
	small2 = tm_arena_alloc(&a, 16);
	cr_assert_not_null(small1);
	cr_assert_not_null(big);
	cr_assert_not_null(small2);
	memset(big, 1, 1 << 20);
	/* the small ones share the first block: the big one did not waste it */
	cr_assert_lt((size_t)(small2 - small1), (size_t)16384);
	tm_arena_release(&a);
}

Test(util_arena, cap_refuses_instead_of_growing)
{
	struct tm_arena a;
	int n = 0;

	tm_arena_init(&a, 100000);
	while (tm_arena_alloc(&a, 1000) && n < 10000)
		n++;
	cr_assert_lt(n, 100);
	cr_assert_gt(n, 10);
	cr_assert_leq(a.total, (size_t)100000);
	cr_assert_null(tm_arena_alloc(&a, 200000));
	tm_arena_release(&a);
}
