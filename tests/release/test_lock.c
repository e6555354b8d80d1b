/* The release lock against a scripted API server: the race two runs lose or win. */
#include "../testutil.h"
#include "tarmac/release.h"

#define LEASES "/apis/coordination.k8s.io/v1/namespaces/airflow/leases"
#define LEASE LEASES "/tarmac.lock.airflow"

struct answer {
	const char *method, *path;
	long status;
	const char *body;
};

struct script {
	const struct answer *a;
	size_t n, next;
	struct tm_kube_config cfg;
};

static int scripted(void *ctx, const struct tm_http_request *req, struct tm_http_response *resp, struct tm_err *err)
{
	struct script *s = ctx;
	const struct answer *a;

	cr_assert_lt(s->next, s->n, "unexpected request %s %s", req->method, req->path);
	a = &s->a[s->next++];
	cr_assert_str_eq(req->method, a->method);
	cr_assert_str_eq(req->path, a->path);
	resp->status = a->status;
	resp->retry_after = -1;
	return tm_buf_puts(&resp->body, a->body, err);
}

static void scripted_free(void *ctx)
{
	tm_kube_config_release(&((struct script *)ctx)->cfg);
}

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
	const struct answer a[] = {
		{ "GET", LEASE, 404, "{\"kind\":\"Status\",\"code\":404}" },
		{ "POST", LEASES, 409, "{\"kind\":\"Status\",\"reason\":\"AlreadyExists\",\"code\":409}" },
		{ "GET", LEASE, 200, lease },
	};
	struct script s = { a, TM_ARRAY_LEN(a), 0, { 0 } };
	struct tm_transport tr = { .roundtrip = scripted, .free = scripted_free, .ctx = &s };
	struct tm_lock_opts o = { .command = "upgrade" };
	struct tm_lock *l = NULL;
	struct tm_kube *k = NULL;
	struct tm_err err;

	tm_kube_config_init(&s.cfg);
	s.cfg.server = strdup("https://127.0.0.1:6443");
	s.cfg.context = strdup("test");
	tm_err_init(&err);
	cr_assert_eq(tm_kube_open(&k, &s.cfg, &tr, &err), 0, "%s", tm_err_msg(&err));
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
	const struct answer a[] = {
		{ "GET", LEASE, 404, "{}" },
		{ "POST", LEASES, 409, "{}" },
		{ "GET", LEASE, 404, "{}" },
	};
	struct script s = { a, TM_ARRAY_LEN(a), 0, { 0 } };
	struct tm_transport tr = { .roundtrip = scripted, .free = scripted_free, .ctx = &s };
	struct tm_lock_opts o = { .command = "up" };
	struct tm_lock *l = NULL;
	struct tm_kube *k = NULL;
	struct tm_err err;

	tm_kube_config_init(&s.cfg);
	s.cfg.server = strdup("https://127.0.0.1:6443");
	s.cfg.context = strdup("test");
	tm_err_init(&err);
	cr_assert_eq(tm_kube_open(&k, &s.cfg, &tr, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_lock_acquire(&l, k, "airflow", "airflow", &o, &err), TM_ELOCKED, "%s", tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), "has let it go since") != NULL, "%s", tm_err_msg(&err));
	tm_kube_free(k);
}
