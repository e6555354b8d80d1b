/* The guard's decision: may the sealed value of each secret replace the live one?
 * Only when it is the same value, or a recorded rotation of it (<name>.previous.sealed,
 * which rotate and init --force keep, holds the live value). Pure: sets in, verdicts out. */
#include <sodium.h>

#include "secret_private.h"

static const char *const verdict_names[TM_GUARD_VERDICT_COUNT] = {
	[TM_GUARD_UNUSED] = "unused", [TM_GUARD_SAME] = "same",       [TM_GUARD_ROTATED] = "rotated",
	[TM_GUARD_MISSING] = "missing", [TM_GUARD_CHANGED] = "changed",
};

const char *tm_secret_verdict_name(enum tm_secret_verdict v)
{
	return (unsigned)v < TM_GUARD_VERDICT_COUNT ? verdict_names[v] : NULL;
}

static bool equal(const struct tm_secret_set *a, const struct tm_secret_set *b, int id)
{
	return tm_secret_set_has(a, id) && a->value[id].len == b->value[id].len &&
	       sodium_memcmp(a->value[id].data, b->value[id].data, a->value[id].len) == 0;
}

int tm_secret_guard(enum tm_secret_verdict out[TM_SECRET_COUNT], const struct tm_secret_set *sealed,
		    const struct tm_secret_set *previous, const struct tm_secret_set *live)
{
	int refused = 0;

	for (int id = 0; id < TM_SECRET_COUNT; id++) {
		/* a deploy key that is not stored is external: tm_secret_objects leaves its
		 * Secret alone, so there is nothing to replace */
		if (!tm_secret_set_has(live, id) ||
		    (id == TM_SECRET_GIT_SSH_KEY && sealed && !tm_secret_set_has(sealed, id)))
			out[id] = TM_GUARD_UNUSED;
		else if (!tm_secret_set_has(sealed, id))
			out[id] = TM_GUARD_MISSING;
		else if (equal(sealed, live, id))
			out[id] = TM_GUARD_SAME;
		else if (equal(previous, live, id))
			out[id] = TM_GUARD_ROTATED;
		else
			out[id] = TM_GUARD_CHANGED;
		refused += out[id] == TM_GUARD_MISSING || out[id] == TM_GUARD_CHANGED;
	}
	return refused;
}
