/* kube: kubeconfig resolution and HTTP to the Kubernetes API server. Knows nothing
 * of Airflow. The client sits on a swappable transport so tests can script the
 * server's side of every exchange. */
#ifndef TARMAC_KUBE_H
#define TARMAC_KUBE_H

#include <jansson.h>

#include "tarmac/util.h"

/* ------------------------------------------------------------------ configuration */

/* Where the kubeconfig comes from, resolved as kubectl does: kubeconfig alone when
 * set; else the ':'-separated kubeconfig_env list merged (the first file to define a
 * name wins, current-context from the first file that sets it); else
 * <home>/.kube/config; else in-cluster service-account credentials. */
struct tm_kube_source {
	const char *kubeconfig;     /* --kubeconfig, or NULL */
	const char *kubeconfig_env; /* $KUBECONFIG, or NULL */
	const char *home;           /* $HOME, or NULL */
	const char *context;        /* --context, or NULL for current-context */
	const char *sa_dir;         /* NULL: /var/run/secrets/kubernetes.io/serviceaccount */
	const char *service_host;   /* $KUBERNETES_SERVICE_HOST (in-cluster), or NULL */
	const char *service_port;   /* $KUBERNETES_SERVICE_PORT, or NULL */
};

/* One context, resolved to what a client needs. Owns everything it points to. */
struct tm_kube_config {
	char *origin;          /* "/root/.kube/config" or "in-cluster", for messages */
	char *context;         /* context name ("in-cluster" there) */
	char *server;          /* "https://host:port" without a trailing '/' */
	char *namespace;       /* the context's namespace, or NULL */
	struct tm_buf ca_pem;  /* CA certificates; empty: the system bundle */
	struct tm_buf cert_pem; /* client certificate, or empty */
	struct tm_buf key_pem; /* client key, or empty; wiped on release */
	char *token;           /* bearer token, or NULL; wiped on release */
	bool insecure;         /* insecure-skip-tls-verify */
	char *tls_server_name; /* or NULL */
	char *proxy_url;       /* or NULL */
	bool has_exec;         /* user.exec is set (credential plugins: see kube issue) */
};

void tm_kube_config_init(struct tm_kube_config *c);
void tm_kube_config_release(struct tm_kube_config *c);
/* Errors: TM_ENOTFOUND when there is no kubeconfig at all and no in-cluster
 * account; TM_EINVALID for a kubeconfig that is broken or lacks the context, with
 * the file and the field named. */
int tm_kube_config_load(struct tm_kube_config *out, const struct tm_kube_source *src,
			struct tm_err *err);

/* ------------------------------------------------------------------ transport */

struct tm_http_request {
	const char *method;       /* "GET", "PATCH", ... */
	const char *path;         /* "/api/v1/namespaces?limit=500", appended to the server */
	const char *accept;       /* NULL: application/json */
	const char *content_type; /* NULL when there is no body */
	const char *body;
	size_t body_len;
};

struct tm_http_response {
	long status;       /* HTTP status; 0 when no response came */
	struct tm_buf body; /* capped by the client */
};

/* One HTTP exchange. Returns 0 when a response arrived (whatever its status), or
 * TM_EUNAVAILABLE (could not connect, TLS failed, connection dropped), TM_ETIMEOUT,
 * TM_ELIMIT (body over its cap), with err set. */
struct tm_transport {
	int (*roundtrip)(void *ctx, const struct tm_http_request *req, struct tm_http_response *resp,
			 struct tm_err *err);
	void (*free)(void *ctx);
	void *ctx;
};

/* The libcurl transport for cfg: one handle reused for the run (keep-alive, HTTP/2
 * when offered), TLS from memory, the system CA bundle when cfg names none
 * (SSL_CERT_FILE first). Copies what it needs from cfg. */
int tm_transport_curl(struct tm_transport *out, const struct tm_kube_config *cfg, struct tm_err *err);
/* Where the system CA bundle is, or NULL. */
const char *tm_kube_system_ca_bundle(void);

/* ------------------------------------------------------------------ client */

#define TM_KUBE_MAX_BODY (64u << 20) /* largest response body accepted */

struct tm_kube;

/* Opens a client over tr (taken over: freed with the client, even on failure), or
 * over the curl transport when tr is NULL. cfg is copied where needed. */
int tm_kube_open(struct tm_kube **out, const struct tm_kube_config *cfg, struct tm_transport *tr,
		 struct tm_err *err);
void tm_kube_free(struct tm_kube *k);

/* GET path and parse the JSON answer into *out (new reference). Status codes map to
 * TM_EAUTH (401, 403), TM_ENOTFOUND (404), TM_ECONFLICT (409), TM_EUNAVAILABLE (429,
 * 5xx), TM_ERROR otherwise, with the server's Status message in err. */
int tm_kube_get(struct tm_kube *k, const char *path, json_t **out, struct tm_err *err);

/* The server's /version: *out receives its gitVersion ("v1.20.2"), caller frees. */
int tm_kube_server_version(struct tm_kube *k, char **out, struct tm_err *err);

/* Requests made through this client so far (for benchmarks and -v). */
unsigned tm_kube_requests(const struct tm_kube *k);

#endif
