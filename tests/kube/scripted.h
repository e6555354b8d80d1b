/* Tests' API server: a script of exchanges the client must make in order (method and
 * path checked), each answered with a status and body, or a transport failure. Used by
 * the kube, apply and release tests. */
#ifndef TARMAC_TESTS_SCRIPTED_H
#define TARMAC_TESTS_SCRIPTED_H

#include <signal.h>

#include "../testutil.h"
#include "tarmac/kube.h"

struct exchange {
	const char *method, *path; /* expected request */
	long status;
	const char *body;
	int transport_rc;          /* <0: the transport fails instead of answering */
	long retry_after;          /* Retry-After + 1; 0: none */
};

struct script {
	const struct exchange *ex;
	size_t n, next;
	bool freed;
	struct tm_kube_config cfg; /* the client borrows it */
	char *tokens[4];           /* set_auth calls seen */
	size_t ntokens;
	volatile sig_atomic_t *raise_on; /* set this flag after the first exchange */
	char *bodies[16];          /* the first request bodies, in order (NULL: none) */
};

static inline int scripted(void *ctx, const struct tm_http_request *req, struct tm_http_response *resp, struct tm_err *err)
{
	struct script *s = ctx;
	const struct exchange *e;

	cr_assert_lt(s->next, s->n, "unexpected request %s %s", req->method, req->path);
	if (s->next < TM_ARRAY_LEN(s->bodies) && req->body)
		s->bodies[s->next] = strndup(req->body, req->body_len);
	e = &s->ex[s->next++];
	cr_assert_str_eq(req->method, e->method);
	cr_assert_str_eq(req->path, e->path);
	if (s->raise_on)
		*s->raise_on = 1;
	if (e->transport_rc < 0)
		return tm_err_set(err, e->transport_rc, "cannot reach the cluster at 'https://x': Connection refused");
	resp->status = e->status;
	resp->retry_after = e->retry_after ? e->retry_after - 1 : -1;
	if (!e->body)
		return 0;
	if (req->on_data) {
		/* a stream arrives in small pieces: lines are cut anywhere */
		size_t len = strlen(e->body);
		for (size_t off = 0; off < len; off += 7) {
			int r = req->on_data(req->on_data_ctx, e->body + off, len - off < 7 ? len - off : 7);
			if (r)
				return 0;
		}
		return 0;
	}
	return tm_buf_puts(&resp->body, e->body, err);
}

static inline int scripted_auth(void *ctx, const char *token, const struct tm_buf *cert, const struct tm_buf *key,
			 struct tm_err *err)
{
	struct script *s = ctx;

	(void)cert;
	(void)key;
	(void)err;
	cr_assert_lt(s->ntokens, 4);
	s->tokens[s->ntokens++] = strdup(token ? token : "");
	return 0;
}

static inline void scripted_free(void *ctx)
{
	struct script *s = ctx;

	s->freed = true;
	for (size_t i = 0; i < s->ntokens; i++)
		free(s->tokens[i]);
	for (size_t i = 0; i < TM_ARRAY_LEN(s->bodies); i++)
		free(s->bodies[i]);
	tm_kube_config_release(&s->cfg);
}

static inline struct tm_kube *open_scripted(struct script *s)
{
	struct tm_transport tr = { .roundtrip = scripted, .set_auth = scripted_auth, .free = scripted_free, .ctx = s };
	struct tm_kube *k = NULL;
	struct tm_kube_opts o;
	struct tm_err err;

	if (!s->cfg.server) {
		tm_kube_config_init(&s->cfg);
		s->cfg.server = strdup("https://127.0.0.1:6443");
		s->cfg.context = strdup("test");
	}
	tm_err_init(&err);
	cr_assert_eq(tm_kube_open(&k, &s->cfg, &tr, &err), 0, "%s", tm_err_msg(&err));
	/* retries in tests: quick */
	o = *tm_kube_get_opts(k);
	o.base_backoff_ms = 5;
	o.max_backoff_ms = 20;
	tm_kube_set_opts(k, &o);
	return k;
}

#define SCRIPT(ex) { ex, TM_ARRAY_LEN(ex), 0, false, { 0 }, { 0 }, 0, NULL, { 0 } }

/* Discovery answers of a 1.20 server with apps/v1 and a few core kinds. */
static const char *const __attribute__((unused)) disco_version = "{\"major\":\"1\",\"minor\":\"20+\",\"gitVersion\":\"v1.20.2\"}";
static const char *const __attribute__((unused)) disco_api = "{\"kind\":\"APIVersions\",\"versions\":[\"v1\"]}";
static const char *const __attribute__((unused)) disco_apis =
	"{\"kind\":\"APIGroupList\",\"groups\":[{\"name\":\"apps\",\"versions\":[{\"groupVersion\":\"apps/v1\",\"version\":\"v1\"}]},"
	"{\"name\":\"policy\",\"versions\":[{\"groupVersion\":\"policy/v1beta1\",\"version\":\"v1beta1\"}]}]}";
static const char *const __attribute__((unused)) disco_apps =
	"{\"kind\":\"APIResourceList\",\"groupVersion\":\"apps/v1\",\"resources\":["
	"{\"name\":\"deployments\",\"namespaced\":true,\"kind\":\"Deployment\"},"
	"{\"name\":\"deployments/status\",\"namespaced\":true,\"kind\":\"Deployment\"},"
	"{\"name\":\"statefulsets\",\"namespaced\":true,\"kind\":\"StatefulSet\"}]}";
static const char *const __attribute__((unused)) disco_core =
	"{\"kind\":\"APIResourceList\",\"groupVersion\":\"v1\",\"resources\":["
	"{\"name\":\"namespaces\",\"namespaced\":false,\"kind\":\"Namespace\"},"
	"{\"name\":\"configmaps\",\"namespaced\":true,\"kind\":\"ConfigMap\"},"
	"{\"name\":\"secrets\",\"namespaced\":true,\"kind\":\"Secret\"},"
	"{\"name\":\"persistentvolumeclaims\",\"namespaced\":true,\"kind\":\"PersistentVolumeClaim\"}]}";

/* The exchanges of discovery before anything of apps/v1 is asked for. */
#define DISCOVERY_OF_APPS                                                                                   \
	{ "GET", "/version", 200, disco_version, 0, 0 }, { "GET", "/api", 200, disco_api, 0, 0 },             \
		{ "GET", "/apis", 200, disco_apis, 0, 0 }, { "GET", "/apis/apps/v1", 200, disco_apps, 0, 0 }

#endif
