/* The release lock against a scripted API server: the race two runs lose or win. */
#include "../testutil.h"
#include "release/release_private.h"
#include "../kube/scripted.h"

#define LEASES "/apis/coordination.k8s.io/v1/namespaces/airflow/leases"
#define LEASE LEASES "/tarmac.lock.airflow"

/* The winner's Lease, renewed a second ago. */
static char *winner_lease(void)
{
	char when[40], *body = NULL;

	tm_format_rfc3339(when, tm_wall_ms() - 1000, true);
	cr_assert(asprintf(&body,
			   "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":"
			   "\"tarmac.lock.airflow\",\"resourceVersion\":\"7\",\"annotations\":{\"tarmac.io/command\":\"up\"}},"
			   "\"spec\":{\"holderIdentity\":\"ci-7/4242/2026-12-02T18:00:00Z\",\"leaseDurationSeconds\":60,"
			   "\"acquireTime\":\"%s\",\"renewTime\":\"%s\"}}", when, when) > 0);
	return body;
}

Test(release_lock, the_loser_of_a_create_race_names_the_winner)
{
	char *lease = winner_lease();
	const struct exchange a[] = {
		{ "GET", LEASE, 404, "{\"kind\":\"Status\",\"code\":404}", 0, 0 },
		{ "POST", LEASES, 409, "{\"kind\":\"Status\",\"reason\":\"AlreadyExists\",\"code\":409}", 0, 0 },
		{ "GET", LEASE, 200, lease, 0, 0 },
	};
	struct script s = SCRIPT(a);
	struct tm_lock_opts o = { .command = "upgrade" };
	struct tm_lock *l = NULL;
	struct tm_kube *k = open_scripted(&s);
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_lock_acquire(&l, k, "airflow", "airflow", &o, &err), TM_ELOCKED, "%s", tm_err_msg(&err));
	cr_assert_null(l);
	cr_assert_eq(s.next, 3);
	cr_assert(strstr(tm_err_msg(&err), "release 'airflow' is locked by host 'ci-7' pid 4242 (started "
				 "2026-12-02T18:00:00Z) ('tarmac up'), renewed 1 s ago") != NULL, "%s", tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), "--wait-for-lock") != NULL, "%s", tm_err_msg(&err));
	tm_kube_free(k);
	free(lease);
}

Test(release_lock, a_winner_gone_again_is_said_so)
{
	const struct exchange a[] = {
		{ "GET", LEASE, 404, "{}", 0, 0 },
		{ "POST", LEASES, 409, "{}", 0, 0 },
		{ "GET", LEASE, 404, "{}", 0, 0 },
	};
	struct script s = SCRIPT(a);
	struct tm_lock_opts o = { .command = "up" };
	struct tm_lock *l = NULL;
	struct tm_kube *k = open_scripted(&s);
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_lock_acquire(&l, k, "airflow", "airflow", &o, &err), TM_ELOCKED, "%s", tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), "has let it go since") != NULL, "%s", tm_err_msg(&err));
	tm_kube_free(k);
}
