/* The Kubernetes client over a transport: requests, status mapping with the
 * server's own message, JSON decoding under a size cap. */
#include <stdlib.h>
#include <string.h>

#include "tarmac/kube.h"

struct tm_kube {
	struct tm_transport tr;
	char *server;
	char *context;
	unsigned requests;
};

int tm_kube_open(struct tm_kube **out, const struct tm_kube_config *cfg, struct tm_transport *tr,
		 struct tm_err *err)
{
	struct tm_kube *k = calloc(1, sizeof(*k));
	int rc = 0;

	if (!k || !(k->server = strdup(cfg->server)) || !(k->context = strdup(cfg->context ? cfg->context : ""))) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		if (tr && tr->free)
			tr->free(tr->ctx);
		goto out;
	}
	if (tr)
		k->tr = *tr;
	else if ((rc = tm_transport_curl(&k->tr, cfg, err)) < 0)
		goto out;
	*out = k;
	k = NULL;
out:
	tm_kube_free(k);
	return rc;
}

void tm_kube_free(struct tm_kube *k)
{
	if (!k)
		return;
	if (k->tr.free)
		k->tr.free(k->tr.ctx);
	free(k->server);
	free(k->context);
	free(k);
}

unsigned tm_kube_requests(const struct tm_kube *k)
{
	return k->requests;
}

/* The message of a metav1.Status body, or a short excerpt of whatever came. */
static void status_message(const struct tm_buf *body, char *msg, size_t n)
{
	json_t *st = json_loadb(tm_buf_cstr(body), body->len, 0, NULL);
	const char *m = json_string_value(json_object_get(st, "message"));

	if (m && *m)
		snprintf(msg, n, "%s", m);
	else if (body->len)
		snprintf(msg, n, "%.200s", tm_buf_cstr(body));
	else
		snprintf(msg, n, "no details given");
	json_decref(st);
}

static int map_status(const struct tm_kube *k, const struct tm_http_request *req, long status,
		      const struct tm_buf *body, struct tm_err *err)
{
	char msg[512];
	int code;

	if (status >= 200 && status < 300)
		return 0;
	status_message(body, msg, sizeof(msg));
	switch (status) {
	case 401:
		return tm_err_set(err, TM_EAUTH, "the cluster at '%s' refused the credentials of context '%s' (401 Unauthorized): %s",
				  k->server, k->context, msg);
	case 403:
		code = TM_EAUTH;
		break;
	case 404:
		code = TM_ENOTFOUND;
		break;
	case 409:
		code = TM_ECONFLICT;
		break;
	case 429:
		code = TM_EUNAVAILABLE;
		break;
	default:
		code = status >= 500 ? TM_EUNAVAILABLE : TM_ERROR;
	}
	return tm_err_set(err, code, "%s %s: %ld: %s", req->method, req->path, status, msg);
}

int tm_kube_get(struct tm_kube *k, const char *path, json_t **out, struct tm_err *err)
{
	struct tm_http_request req = { .method = "GET", .path = path };
	struct tm_http_response resp = { 0 };
	json_error_t jerr;
	json_t *doc;
	int rc;

	tm_buf_init(&resp.body, "response body", TM_KUBE_MAX_BODY);
	k->requests++;
	if ((rc = k->tr.roundtrip(k->tr.ctx, &req, &resp, err)) < 0)
		goto out;
	if ((rc = map_status(k, &req, resp.status, &resp.body, err)) < 0)
		goto out;
	doc = json_loadb(tm_buf_cstr(&resp.body), resp.body.len, 0, &jerr);
	if (!doc) {
		rc = tm_err_set(err, TM_ERROR, "GET %s: the answer is not JSON (%s at byte %d)", path, jerr.text,
				jerr.position);
		goto out;
	}
	*out = doc;
out:
	tm_buf_release(&resp.body);
	return rc;
}

int tm_kube_server_version(struct tm_kube *k, char **out, struct tm_err *err)
{
	json_t *v = NULL;
	const char *gv;
	int rc;

	if ((rc = tm_kube_get(k, "/version", &v, err)) < 0)
		return rc;
	gv = json_string_value(json_object_get(v, "gitVersion"));
	if (!gv)
		rc = tm_err_set(err, TM_ERROR, "GET /version: the answer has no gitVersion");
	else if (!(*out = strdup(gv)))
		rc = tm_err_set(err, TM_ERROR, "out of memory");
	json_decref(v);
	return rc;
}
