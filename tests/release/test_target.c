/* The rollback target, what the replaced revision becomes, and the failure status
 * reports: pure functions over a revision list. */
#include <string.h>

#include "release/release_private.h"
#include "../testutil.h"

/* revs from "1:superseded 2:deployed 3:failed"; descriptions "rollback to ..." where
 * the status is followed by "/r" */
static size_t parse(struct tm_revision *revs, const char *spec)
{
	char buf[256], *save = NULL;
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save), n++) {
		char *colon = strchr(tok, ':'), *slash = strchr(tok, '/');

		memset(&revs[n], 0, sizeof(revs[n]));
		revs[n].number = atoi(tok);
		if (slash)
			*slash = 0;
		revs[n].status = tm_release_status_find(colon + 1);
		cr_assert_geq((int)revs[n].status, 0, "%s", colon + 1);
		snprintf(revs[n].description, sizeof(revs[n].description), "%s", slash ? "rollback to 1" : "upgrade");
	}
	return n;
}

static int plan(const char *spec, int requested, struct tm_rollback_plan *p, int *code)
{
	struct tm_revision revs[16];
	size_t n = parse(revs, spec);
	struct tm_err err;
	int rc;

	tm_err_init(&err);
	memset(p, 0, sizeof(*p));
	rc = tm_release_rollback_plan(p, revs, n, requested, &err);
	*code = err.code;
	return rc;
}

/* rollback without N: where it goes, and what the revision it replaces becomes */
static const struct {
	const char *history;
	int target;
	enum tm_release_status replaced_as;
	const char *why;
} DEFAULTS[] = {
	{ "1:superseded 2:deployed 3:failed", 2, TM_REL_SUPERSEDED,
	  "after a failure, the deployed one; 3 stays failed and 2 was replaced by it, not rolled back from" },
	{ "1:superseded 2:deployed 3:failed 4:failed/r", 2, TM_REL_SUPERSEDED, "the failed automatic rollback too" },
	{ "1:superseded 2:superseded 3:failed 4:deployed", 2, TM_REL_ROLLED_BACK,
	  "after a deploy, the one before it (failed ones skipped); the rollback leaves 4" },
	{ "1:rolled-back 2:superseded 3:deployed", 2, TM_REL_ROLLED_BACK, "the newest one before the deployed one" },
};

Test(release_target, default_targets)
{
	for (size_t i = 0; i < TM_ARRAY_LEN(DEFAULTS); i++) {
		struct tm_rollback_plan p;
		int code;

		cr_assert_eq(plan(DEFAULTS[i].history, 0, &p, &code), 0, "%s", DEFAULTS[i].history);
		cr_assert_eq(p.target, DEFAULTS[i].target, "%s: %s", DEFAULTS[i].history, DEFAULTS[i].why);
		cr_assert_eq(p.replaced_as, DEFAULTS[i].replaced_as, "%s: %s", DEFAULTS[i].history, DEFAULTS[i].why);
	}
}

Test(release_target, nothing_to_go_to)
{
	struct tm_rollback_plan p;
	int code;

	cr_assert_lt(plan("1:deployed", 0, &p, &code), 0);
	cr_assert_eq(code, TM_ENOTFOUND);
	cr_assert_lt(plan("1:failed", 0, &p, &code), 0);
	cr_assert_eq(code, TM_ENOTFOUND);
	cr_assert_lt(plan("1:failed 2:failed", 0, &p, &code), 0);
	cr_assert_eq(code, TM_ENOTFOUND);
	cr_assert_eq(p.target, 0, "out is written only on success");
}

Test(release_target, a_requested_revision)
{
	struct tm_rollback_plan p;
	int code;

	cr_assert_eq(plan("1:superseded 2:deployed 3:failed", 1, &p, &code), 0);
	cr_assert_eq(p.target, 1);
	cr_assert_eq(p.replaced_as, TM_REL_SUPERSEDED);
	cr_assert_eq(plan("1:superseded 2:deployed 3:failed", 2, &p, &code), 0, "the deployed one, past a failure");
	cr_assert_lt(plan("1:superseded 2:deployed 3:failed", 3, &p, &code), 0);
	cr_assert_eq(code, TM_EINVALID);
	cr_assert_lt(plan("1:superseded 2:deployed", 2, &p, &code), 0, "the one deployed now");
	cr_assert_eq(code, TM_EINVALID);
	cr_assert_lt(plan("1:superseded 2:deployed", 7, &p, &code), 0);
	cr_assert_eq(code, TM_ENOTFOUND);
}

static int last_failure(const char *spec)
{
	struct tm_revision revs[16];
	size_t n = parse(revs, spec);
	const struct tm_revision *f = tm_release_last_failure(revs, n);

	return f ? f->number : 0;
}

Test(release_target, last_failure_until_a_later_deploy)
{
	cr_assert_eq(last_failure("1:superseded 2:deployed 3:failed"), 3);
	cr_assert_eq(last_failure("1:superseded 2:superseded 3:failed 4:deployed/r"), 3, "rolled back from: still news");
	cr_assert_eq(last_failure("1:superseded 2:superseded 3:failed 4:failed/r"), 4);
	cr_assert_eq(last_failure("1:superseded 2:superseded 3:failed 4:superseded/r 5:deployed"), 0, "a later deploy");
	cr_assert_eq(last_failure("1:superseded 2:failed 3:uninstalled"), 0, "an uninstall");
	cr_assert_eq(last_failure("1:failed 2:uninstalled 3:deployed"), 0, "uninstall and install");
	cr_assert_eq(last_failure("1:deployed"), 0);
}
