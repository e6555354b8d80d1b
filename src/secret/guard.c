/* The guard's decisions: may the sealed value of each secret replace the live one? Only
 * when it is the same value, or a recorded rotation of it (<name>.previous.sealed, which
 * rotate and init --force keep, holds the live value). And may a Fernet rotation finish?
 * Only once what it staged is deployed. Pure: sets in, verdicts out. */
#include <sodium.h>
#include <string.h>

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

/* Whether a's value of id has the recorded "sha256:<hex>". */
static bool hashes_to(const struct tm_secret_set *a, int id, const char *recorded)
{
	char hex[65];

	if (!tm_secret_set_has(a, id) || strncmp(recorded, "sha256:", 7) != 0)
		return false;
	tm_sha256_hex(hex, a->value[id].data, a->value[id].len);
	return strcmp(hex, recorded + 7) == 0;
}

/* Nothing live holds id: only the record can say what it was. */
static enum tm_secret_verdict by_record(const struct tm_secret_set *sealed, const struct tm_secret_set *previous,
					const char *recorded, int id)
{
	/* without a sealed value tm_secret_objects names it: nothing would be replaced */
	if (!recorded || !tm_secret_set_has(sealed, id))
		return TM_GUARD_UNUSED;
	if (hashes_to(sealed, id, recorded))
		return TM_GUARD_SAME;
	return hashes_to(previous, id, recorded) ? TM_GUARD_ROTATED : TM_GUARD_CHANGED;
}

int tm_secret_guard(enum tm_secret_verdict out[TM_SECRET_COUNT], const struct tm_secret_set *sealed,
		    const struct tm_secret_set *previous, const struct tm_secret_set *live,
		    const char *const recorded[TM_SECRET_COUNT])
{
	int refused = 0;

	for (int id = 0; id < TM_SECRET_COUNT; id++) {
		/* a deploy key that is not stored is external: tm_secret_objects leaves its
		 * Secret alone, so there is nothing to replace */
		if (id == TM_SECRET_GIT_SSH_KEY && sealed && !tm_secret_set_has(sealed, id))
			out[id] = TM_GUARD_UNUSED;
		else if (!tm_secret_set_has(live, id))
			out[id] = by_record(sealed, previous, recorded ? recorded[id] : NULL, id);
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

static const char *const finish_names[TM_FINISH_COUNT] = {
	[TM_FINISH_UNDEPLOYED] = "undeployed", [TM_FINISH_DEPLOYED] = "deployed",
	[TM_FINISH_NOT_DEPLOYED] = "not deployed", [TM_FINISH_INCOMPLETE] = "incomplete",
};

const char *tm_secret_finish_name(enum tm_secret_finish f)
{
	return (unsigned)f < TM_FINISH_COUNT ? finish_names[f] : NULL;
}

enum tm_secret_finish tm_secret_finish_check(const struct tm_secret_set *sealed, const struct tm_secret_set *live,
					     const char *recorded)
{
	const int id = TM_SECRET_FERNET_KEY;

	if (!tm_secret_set_has(live, id)) {
		/* a Secret deleted by hand: what the deployed revision applied decides */
		if (!recorded)
			return TM_FINISH_UNDEPLOYED;
		return hashes_to(sealed, id, recorded) ? TM_FINISH_DEPLOYED : TM_FINISH_NOT_DEPLOYED;
	}
	if (!equal(sealed, live, id))
		return TM_FINISH_NOT_DEPLOYED;
	return recorded && !hashes_to(sealed, id, recorded) ? TM_FINISH_INCOMPLETE : TM_FINISH_DEPLOYED;
}
