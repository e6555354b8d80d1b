/* Which revision 'tarmac rollback' goes to, what the revision it replaces becomes, and
 * which failure 'status' still reports: pure functions over the revision list. */
#include <string.h>

#include "release_private.h"

/* Ran to the end once: its objects are a state the release was in. */
static bool ran(const struct tm_revision *r)
{
	return r->status == TM_REL_DEPLOYED || r->status == TM_REL_SUPERSEDED || r->status == TM_REL_ROLLED_BACK;
}

static const struct tm_revision *find(const struct tm_revision *revs, size_t n, int number)
{
	for (size_t i = 0; i < n; i++)
		if (revs[i].number == number)
			return &revs[i];
	return NULL;
}

static const struct tm_revision *deployed(const struct tm_revision *revs, size_t n)
{
	for (size_t i = n; i-- > 0;)
		if (revs[i].status == TM_REL_DEPLOYED)
			return &revs[i];
	return NULL;
}

static int default_target(const struct tm_revision *revs, size_t n, struct tm_err *err)
{
	/* older than the newest revision: after a failed one that is the deployed one */
	for (size_t i = n - 1; i-- > 0;)
		if (ran(&revs[i]))
			return revs[i].number;
	return tm_err_set(err, TM_ENOTFOUND, "no revision before %d was deployed: nothing to roll back to (see "
			  "'tarmac history')", revs[n - 1].number);
}

int tm_release_rollback_plan(struct tm_rollback_plan *out, const struct tm_revision *revs, size_t n, int requested,
			     struct tm_err *err)
{
	const struct tm_revision *to, *cur = deployed(revs, n);
	int number;

	if (!n)
		return tm_err_set(err, TM_ENOTFOUND, "no revision recorded (see 'tarmac history')");
	if (requested <= 0 && (number = default_target(revs, n, err)) < 0)
		return number;
	if (requested > 0)
		number = requested;
	if (!(to = find(revs, n, number)))
		return tm_err_set(err, TM_ENOTFOUND, "no revision %d (see 'tarmac history'; --history-max bounds how many "
				  "are kept)", number);
	if (to->status == TM_REL_FAILED || to->status == TM_REL_PENDING)
		return tm_err_set(err, TM_EINVALID, "revision %d %s; roll back to one that was deployed (see 'tarmac "
				  "history')", number, to->status == TM_REL_FAILED ? "failed" : "never finished");
	if (to == cur && cur == &revs[n - 1])
		return tm_err_set(err, TM_EINVALID, "revision %d is the one deployed now", number);
	out->target = number;
	/* rolled-back only when the rollback leaves it; behind a newer failed revision it
	 * was replaced by that one, which stays failed */
	out->replaced_as = cur == &revs[n - 1] ? TM_REL_ROLLED_BACK : TM_REL_SUPERSEDED;
	return 0;
}

bool tm_release_is_rollback(const struct tm_revision *r)
{
	return strncmp(r->description, "rollback to ", 12) == 0;
}

const struct tm_revision *tm_release_last_failure(const struct tm_revision *revs, size_t n)
{
	for (size_t i = n; i-- > 0;) {
		if (revs[i].status == TM_REL_FAILED)
			return &revs[i];
		/* a deploy, an install or an uninstall since the failure settles it; a
		 * rollback away from it does not */
		if (revs[i].status != TM_REL_PENDING && !tm_release_is_rollback(&revs[i]))
			return NULL;
	}
	return NULL;
}
