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
	struct tm_kube_exec *exec; /* user.exec (a credential plugin), or NULL */
};

/* users[].user.exec of a kubeconfig: a credential plugin (client-go's protocol,
 * client.authentication.k8s.io v1 and v1beta1). */
struct tm_kube_exec {
	char *command;          /* a name without '/' is looked up in PATH when run; a relative
				 * path with a '/' was made absolute against the directory of the
				 * kubeconfig that defined the user (as client-go does) */
	char **args;            /* NULL-terminated; never NULL */
	char **env;             /* "NAME=value", NULL-terminated; never NULL; wiped on release */
	char *api_version;      /* "client.authentication.k8s.io/v1" or ".../v1beta1" */
	bool provide_cluster_info; /* put spec.cluster into KUBERNETES_EXEC_INFO */
	char *interactive_mode; /* "Never", "IfAvailable", "Always"; NULL: IfAvailable (v1beta1) */
	char *install_hint;     /* shown when the command is missing; or NULL */
};

/* What a plugin handed back. */
struct tm_kube_cred {
	char *token;            /* bearer token, or NULL; wiped on release */
	struct tm_buf cert_pem; /* client certificate, or empty */
	struct tm_buf key_pem;  /* client key, or empty; wiped on release */
	int64_t expires;        /* status.expirationTimestamp as Unix seconds; 0: none given */
};

void tm_kube_cred_init(struct tm_kube_cred *c);
void tm_kube_cred_release(struct tm_kube_cred *c);

/* Runs the plugin of cfg->exec: posix_spawn with an argv (never a shell), the process
 * environment plus exec.env, KUBERNETES_EXEC_INFO set to an ExecCredential of the
 * plugin's apiVersion (spec.interactive = interactive; spec.cluster from cfg when
 * provideClusterInfo), stdin /dev/null unless interactive, stderr passed through.
 * interactive says whether the caller's stdin is a terminal the plugin may use;
 * interactiveMode Never turns it off, Always fails without it (TM_EAUTH).
 * Reads stdout (capped at 1 MiB) as an ExecCredential of the same apiVersion and
 * fills *out (written only on success; release it with tm_kube_cred_release). The
 * plugin gets timeout_ms to finish, then it and (when not interactive) its process
 * group are killed and it is reaped. A plugin may return both a token and a
 * certificate with its key.
 * Errors: TM_EAUTH (the plugin is missing: with the install hint; it exited non-zero
 * or was killed: with its exit status), TM_EINVALID (its output is not an
 * ExecCredential of the right apiVersion, or has neither a token nor a certificate
 * and key, or a bad expirationTimestamp; also cfg without exec), TM_ELIMIT (it
 * printed more than 1 MiB), TM_ETIMEOUT. The token never appears in a message. */
int tm_kube_exec_run(struct tm_kube_cred *out, const struct tm_kube_config *cfg, bool interactive,
		     int64_t timeout_ms, struct tm_err *err);

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
