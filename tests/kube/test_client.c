/* The client over a scripted transport: each test plays the server's side. */
#include "../testutil.h"
#include "tarmac/kube.h"

struct exchange {
	const char *method, *path; /* expected request */
	long status;
	const char *body;
	int transport_rc;          /* <0: the transport fails instead of answering */
};

struct script {
	const struct exchange *ex;
	size_t n, next;
	bool freed;
};

static int scripted(void *ctx, const struct tm_http_request *req, struct tm_http_response *resp, struct tm_err *err)
{
	struct script *s = ctx;
	const struct exchange *e;

	cr_assert_lt(s->next, s->n, "unexpected request %s %s", req->method, req->path);
	e = &s->ex[s->next++];
	cr_assert_str_eq(req->method, e->method);
	cr_assert_str_eq(req->path, e->path);
	if (e->transport_rc < 0)
		return tm_err_set(err, e->transport_rc, "cannot reach the cluster at 'https://x': Connection refused");
	resp->status = e->status;
	return e->body ? tm_buf_puts(&resp->body, e->body, err) : 0;
}

static void scripted_free(void *ctx)
{
	((struct script *)ctx)->freed = true;
}

static struct tm_kube *open_scripted(struct script *s)
{
	struct tm_kube_config cfg;
	struct tm_transport tr = { scripted, scripted_free, s };
	struct tm_kube *k = NULL;
	struct tm_err err;

	tm_kube_config_init(&cfg);
	cfg.server = strdup("https://127.0.0.1:6443");
	cfg.context = strdup("test");
	tm_err_init(&err);
	cr_assert_eq(tm_kube_open(&k, &cfg, &tr, &err), 0, "%s", tm_err_msg(&err));
	tm_kube_config_release(&cfg);
	return k;
}

Test(kube_client, server_version)
{
	const struct exchange ex[] = { { "GET", "/version", 200, "{\"major\":\"1\",\"gitVersion\":\"v1.20.2\"}", 0 } };
	struct script s = { ex, 1, 0, false };
	struct tm_kube *k = open_scripted(&s);
	struct tm_err err;
	char *v = NULL;

	tm_err_init(&err);
	cr_assert_eq(tm_kube_server_version(k, &v, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(v, "v1.20.2");
	cr_assert_eq(tm_kube_requests(k), 1);
	free(v);
	tm_kube_free(k);
	cr_assert(s.freed, "the client frees its transport");
}

Test(kube_client, status_codes_map_to_codes_with_the_servers_message)
{
	const struct exchange ex[] = {
		{ "GET", "/a", 401, "{\"kind\":\"Status\",\"message\":\"Unauthorized\"}", 0 },
		{ "GET", "/b", 403, "{\"kind\":\"Status\",\"message\":\"pods is forbidden: User \\\"u\\\" cannot list\"}", 0 },
		{ "GET", "/c", 404, "{\"kind\":\"Status\",\"message\":\"not found\"}", 0 },
		{ "GET", "/d", 409, "{}", 0 },
		{ "GET", "/e", 503, "upstream down", 0 },
		{ "GET", "/f", 429, NULL, 0 },
		{ "GET", "/g", 400, "{\"message\":\"bad\"}", 0 },
	};
	struct script s = { ex, TM_ARRAY_LEN(ex), 0, false };
	struct tm_kube *k = open_scripted(&s);
	struct tm_err err;
	json_t *v = NULL;

	tm_err_init(&err);
	cr_assert_eq(tm_kube_get(k, "/a", &v, &err), TM_EAUTH);
	cr_assert(strstr(tm_err_msg(&err), "refused the credentials of context 'test'") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_kube_get(k, "/b", &v, &err), TM_EAUTH);
	cr_assert(strstr(tm_err_msg(&err), "GET /b: 403: pods is forbidden") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_kube_get(k, "/c", &v, &err), TM_ENOTFOUND);
	cr_assert_eq(tm_kube_get(k, "/d", &v, &err), TM_ECONFLICT);
	cr_assert_eq(tm_kube_get(k, "/e", &v, &err), TM_EUNAVAILABLE);
	cr_assert(strstr(tm_err_msg(&err), "503: upstream down") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_kube_get(k, "/f", &v, &err), TM_EUNAVAILABLE);
	cr_assert(strstr(tm_err_msg(&err), "no details given") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_kube_get(k, "/g", &v, &err), TM_ERROR);
	cr_assert_null(v);
	cr_assert_eq(tm_kube_requests(k), 7);
	tm_kube_free(k);
}

Test(kube_client, transport_failures_and_bad_bodies)
{
	const struct exchange ex[] = {
		{ "GET", "/version", 0, NULL, TM_EUNAVAILABLE },
		{ "GET", "/version", 200, "<html>proxy login</html>", 0 },
		{ "GET", "/version", 200, "{\"major\":\"1\"}", 0 },
	};
	struct script s = { ex, TM_ARRAY_LEN(ex), 0, false };
	struct tm_kube *k = open_scripted(&s);
	struct tm_err err;
	char *v = NULL;

	tm_err_init(&err);
	cr_assert_eq(tm_kube_server_version(k, &v, &err), TM_EUNAVAILABLE);
	cr_assert(strstr(tm_err_msg(&err), "Connection refused") != NULL);
	cr_assert_eq(tm_kube_server_version(k, &v, &err), TM_ERROR);
	cr_assert(strstr(tm_err_msg(&err), "the answer is not JSON") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_kube_server_version(k, &v, &err), TM_ERROR);
	cr_assert(strstr(tm_err_msg(&err), "no gitVersion") != NULL);
	cr_assert_null(v);
	tm_kube_free(k);
}

Test(kube_client, system_ca_bundle_honours_ssl_cert_file)
{
	setenv("SSL_CERT_FILE", "/etc/hostname", 1);
	cr_assert_str_eq(tm_kube_system_ca_bundle(), "/etc/hostname");
	setenv("SSL_CERT_FILE", "/nonexistent", 1);
	cr_assert_str_neq(tm_kube_system_ca_bundle() ? tm_kube_system_ca_bundle() : "", "/nonexistent");
}
