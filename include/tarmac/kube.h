/* kube: kubeconfig resolution and HTTP to the Kubernetes API server. Knows nothing
 * of Airflow. The client sits on a swappable transport so tests can script the
 * server's side of every exchange. */
#ifndef TARMAC_KUBE_H
#define TARMAC_KUBE_H

#include <jansson.h>
#include <signal.h>

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
	const char *allow_plain_http; /* $TARMAC_ALLOW_PLAIN_HTTP: "1" lets credentials go
				       * over http:// to a loopback server (tests); or NULL */
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
	bool plain_http_creds; /* credentials over http:// to loopback, allowed by
				* allow_plain_http: the client warns before its first request */
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
 * provideClusterInfo), stdin /dev/null unless interactive; stderr passed through when
 * interactive, else read a line at a time and reported through o->report (the last
 * line also ends a failure's message).
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
 * printed more than 1 MiB), TM_ETIMEOUT, TM_EINTERRUPTED (*cancel was raised: seen
 * within 50 ms). Ended means SIGTERM, 300 ms of grace, SIGKILL. The token never
 * appears in a message. */
struct tm_kube_exec_opts {
	bool interactive;                    /* the caller has a terminal the plugin may use */
	int64_t timeout_ms;
	const volatile sig_atomic_t *cancel; /* Ctrl-C or SIGTERM: the plugin is ended */
	tm_report_fn report;                 /* its stderr, a line each (not interactive) */
	void *report_ctx;
};
int tm_kube_exec_run(struct tm_kube_cred *out, const struct tm_kube_config *cfg, const struct tm_kube_exec_opts *o,
		     struct tm_err *err);
/* The ExecCredential a plugin printed (out, len) into c (src/kube/exec_cred.c): TM_EINVALID
 * naming what is wrong without quoting the secret; the secrets of the parsed tree are wiped. */
int tm_kube_exec_cred_parse(struct tm_kube_cred *c, const char *out, size_t len, const struct tm_kube_exec *x,
			    struct tm_err *err);

/* A token or other header value is refused when it holds a control character (below
 * 0x20, or 0x7f): CR or LF would end the header and start another. Errors:
 * TM_EINVALID naming what (the value itself never appears in the message). */
int tm_kube_check_header_value(const char *value, const char *what, struct tm_err *err);

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
	long timeout_ms;          /* the whole exchange; 0: 60 s */
	/* Streaming (watches): the body goes to on_data as it arrives instead of into the
	 * response. on_data returns 0 to go on, 1 to end this exchange, 2 to end every
	 * exchange of the batch; an exchange ended so is a success. While the exchange
	 * waits, on_data(ctx, NULL, 0) is called about once a second (a tick). */
	int (*on_data)(void *ctx, const char *p, size_t n);
	void *on_data_ctx;
	const volatile sig_atomic_t *cancel; /* when *cancel: stop (TM_EINTERRUPTED) */
};

struct tm_http_response {
	long status;       /* HTTP status; 0 when no response came */
	struct tm_buf body; /* capped by the client */
	long retry_after;  /* seconds from a Retry-After header; -1: none */
};

/* One HTTP exchange. Returns 0 when a response arrived (whatever its status), or
 * TM_EUNAVAILABLE (could not connect, TLS failed, connection dropped), TM_EAUTH (the
 * server's certificate does not verify: the client does not retry it), TM_ETIMEOUT,
 * TM_ELIMIT (body over its cap), TM_EINTERRUPTED, with err set. */
struct tm_transport {
	int (*roundtrip)(void *ctx, const struct tm_http_request *req, struct tm_http_response *resp,
			 struct tm_err *err);
	/* n exchanges at once (HTTP/2 streams on one connection when the server offers it);
	 * rcs[i] and errs[i] as roundtrip's. NULL: the client runs them one by one. */
	void (*roundtrip_many)(void *ctx, size_t n, const struct tm_http_request *reqs,
			       struct tm_http_response *resps, int *rcs, struct tm_err *errs);
	/* New credentials from an exec plugin: the token and, when cert is non-NULL, the
	 * client certificate and key replace the old ones. NULL: not supported. */
	int (*set_auth)(void *ctx, const char *token, const struct tm_buf *cert, const struct tm_buf *key,
			struct tm_err *err);
	void (*free)(void *ctx);
	void *ctx;
};

/* The libcurl transport for cfg: one connection pool for the run (keep-alive, HTTP/2
 * when offered), TLS from memory, the system CA bundle when cfg names none
 * (SSL_CERT_FILE first), tls-server-name and proxy-url. Copies what it needs. */
int tm_transport_curl(struct tm_transport *out, const struct tm_kube_config *cfg, struct tm_err *err);

/* ------------------------------------------------------------------ client */

/* Accept header of a list that only needs metadata (names, labels): PartialObjectMetadataList */
#define TM_KUBE_ACCEPT_METADATA "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
#define TM_KUBE_MAX_BODY (64u << 20) /* largest response body accepted */

struct tm_kube;

/* Opens a client over tr (taken over: freed with the client, even on failure), or
 * over the curl transport when tr is NULL. cfg is borrowed: it must outlive the
 * client (exec plugins are re-run from it). */
int tm_kube_open(struct tm_kube **out, const struct tm_kube_config *cfg, struct tm_transport *tr,
		 struct tm_err *err);
void tm_kube_free(struct tm_kube *k);

/* How the client behaves; tm_kube_open sets the defaults shown. */
struct tm_kube_opts {
	tm_report_fn report;   /* retries and re-authentication are reported here; may be NULL */
	void *report_ctx;
	const volatile sig_atomic_t *cancel; /* Ctrl-C: requests stop with TM_EINTERRUPTED */
	int max_attempts;      /* per request, counting the first (6) */
	long base_backoff_ms;  /* first retry delay before jitter, doubling (250) */
	long max_backoff_ms;   /* cap of one backoff delay (10000); a Retry-After is honoured up to 60 s */
	long timeout_ms;       /* one exchange (60000) */
	long exec_timeout_ms;  /* an exec plugin's run (60000); running out is TM_EAUTH */
	bool interactive;      /* exec plugins may prompt */
};
void tm_kube_set_opts(struct tm_kube *k, const struct tm_kube_opts *o);
const struct tm_kube_opts *tm_kube_get_opts(const struct tm_kube *k);

/* One API call in a batch. The caller fills req (and want_json); the client fills
 * the rest. A call left without req.method is not sent, and keeps the rc and err the
 * caller gave it (an object whose path could not be built, in a batch of many). */
struct tm_kube_call {
	struct tm_http_request req;
	bool want_json;   /* parse a 2xx body into out */
	bool apply;       /* a server-side apply: a 409 names the conflicting fields */
	struct tm_buf *text; /* non-NULL: a 2xx body is appended here as it came (logs) */
	int max_attempts; /* 0: the client's max_attempts */
	json_t *out;      /* new reference, or NULL */
	long status;      /* last HTTP status, 0 when none came */
	int rc;           /* 0 or TM_E*: see tm_kube_get for the status mapping */
	struct tm_err err;
	int attempts;
};
void tm_kube_call_release(struct tm_kube_call *c);

/* n calls, each with a path buffer (capped at path_max), allocated together: the
 * usual shape of a batch. Release frees both, and each call's answer. */
struct tm_kube_batch {
	struct tm_kube_call *calls;
	struct tm_buf *paths;
	size_t n;
};
int tm_kube_batch_init(struct tm_kube_batch *b, size_t n, size_t path_max, struct tm_err *err);
void tm_kube_batch_release(struct tm_kube_batch *b);

/* Runs the calls at once, retrying each with backoff and jitter on 429 (after its
 * Retry-After), 5xx, timeouts and dropped connections, re-running an exec plugin
 * on a 401. Returns 0 when every call got its final answer (each call's rc says
 * which), or TM_EINTERRUPTED (cancelled) or TM_ERROR (out of memory) with err set (err
 * may be NULL). */
int tm_kube_do(struct tm_kube *k, struct tm_kube_call *calls, size_t n, struct tm_err *err);

/* GET path and parse the JSON answer into *out (new reference). Status codes map to
 * TM_EAUTH (401, 403), TM_ENOTFOUND (404), TM_ECONFLICT (409), TM_EUNAVAILABLE (429,
 * 5xx after the retries), TM_EINVALID (422), TM_ERROR otherwise, with the server's
 * Status message in err. A request still timing out after the retries is
 * TM_EUNAVAILABLE (TM_ETIMEOUT is for the deadlines of waits); an exec plugin that
 * does not finish in time is TM_EAUTH; an answer tm_json_check refuses is TM_ELIMIT. */
int tm_kube_get(struct tm_kube *k, const char *path, json_t **out, struct tm_err *err);
/* One call of any method; body may be NULL. *out may be NULL when not wanted. */
int tm_kube_request(struct tm_kube *k, const char *method, const char *path, const char *content_type,
		    const char *body, json_t **out, struct tm_err *err);

/* GET path and append its body as it is (text/plain: pod logs) to out, trying at most
 * attempts times (0: the client's setting), 15 s each. Errors as tm_kube_get. */
int tm_kube_get_text(struct tm_kube *k, const char *path, int attempts, struct tm_buf *out, struct tm_err *err);

/* The server's /version: *out receives its gitVersion ("v1.20.2"), caller frees. */
int tm_kube_server_version(struct tm_kube *k, char **out, struct tm_err *err);

/* What the client did so far (for benchmarks, -v and the closing summary). */
struct tm_kube_stats {
	unsigned requests;     /* exchanges attempted */
	unsigned retries;      /* of which repeats */
	unsigned retry_429, retry_5xx, retry_dropped, retry_timeout;
	unsigned reauth;       /* exec plugin re-runs after a 401 or expiry */
};
unsigned tm_kube_requests(const struct tm_kube *k);

/* Sleeps ms, waking early to return TM_EINTERRUPTED when the client's cancel flag
 * is raised (for callers that poll the API). */
int tm_kube_sleep(struct tm_kube *k, long ms);
const struct tm_kube_stats *tm_kube_stats(const struct tm_kube *k);

/* ------------------------------------------------------------------ discovery */

/* A resource type the server serves. */
struct tm_kube_rsc {
	char group[128];       /* "" for the core group */
	char version[64];
	char kind[128];
	char name[128];        /* plural: "deployments" */
	bool namespaced;
};

/* Asks /version, /api and /apis once (cached for the client's life). */
int tm_kube_discover(struct tm_kube *k, struct tm_err *err);
/* After discovery: "1.20" (major.minor; NULL when the server did not say), and the served "group/version" list
 * (every version, preferred or not; core as "v1"). Borrowed. */
const char *tm_kube_version(const struct tm_kube *k);
size_t tm_kube_api_versions(const struct tm_kube *k, const char *const **out);
bool tm_kube_serves(const struct tm_kube *k, const char *api_version);
/* Fetches the resource lists of these group/versions at once (cached). Versions the
 * server does not serve are skipped. */
int tm_kube_prefetch(struct tm_kube *k, const char *const *api_versions, size_t n, struct tm_err *err);
/* The resource of apiVersion+kind. TM_ENOTFOUND names both when the server has no
 * such kind (a CRD not installed). refresh drops the cached list first (after a CRD
 * was created). */
int tm_kube_resolve(struct tm_kube *k, const char *api_version, const char *kind, bool refresh,
		    struct tm_kube_rsc *out, struct tm_err *err);
/* A group-kind as kubectl's ApplySet writes it ("Deployment.apps", "ConfigMap"): the
 * resource of any served version of its group. TM_ENOTFOUND when none serves it. */
int tm_kube_resolve_gk(struct tm_kube *k, const char *gk, struct tm_kube_rsc *out, struct tm_err *err);
/* Fetches the resource lists of every served version of the groups of gks at once. */
int tm_kube_prefetch_gks(struct tm_kube *k, const char *const *gks, size_t n, struct tm_err *err);
/* "/apis/apps/v1/namespaces/ns/deployments[/name]" into out (cleared first); ns is
 * ignored for cluster-scoped resources; name may be NULL for the collection. */
int tm_kube_path(struct tm_buf *out, const struct tm_kube_rsc *r, const char *ns, const char *name,
		 struct tm_err *err);

/* ------------------------------------------------------------------ server-side apply */

enum { TM_APPLY_FORCE = 1, TM_APPLY_DRY_RUN = 2 };
#define TM_FIELD_MANAGER "tarmac"

/* Prepares c as a server-side apply of obj (PATCH application/apply-patch+yaml,
 * fieldManager=tarmac, force and dryRun=All by flags). path and body are filled and
 * must outlive the call. */
int tm_kube_call_apply(struct tm_kube_call *c, struct tm_buf *path, struct tm_buf *body,
		       const struct tm_kube_rsc *r, const json_t *obj, unsigned flags, struct tm_err *err);
/* Prepares c as a DELETE with propagationPolicy (Background, Foreground, Orphan). */
int tm_kube_call_delete(struct tm_kube_call *c, struct tm_buf *path, const struct tm_kube_rsc *r,
			const char *ns, const char *name, const char *propagation, bool dry_run,
			struct tm_err *err);

/* ------------------------------------------------------------------ watch */

/* Called for each object of a watched collection: after the initial list with type
 * "ADDED" for every item, then "SYNCED" (which = SIZE_MAX, obj NULL) once all lists
 * are in, then for each watch event (ADDED, MODIFIED, DELETED), and "TICK" (which =
 * SIZE_MAX, obj NULL) about once a second. obj is borrowed. Return 0 to go on, 1 when
 * done, or a negative TM_E* code (with the error in the watcher's own err) to stop. */
typedef int (*tm_kube_event_fn)(void *ctx, size_t which, const char *type, json_t *obj);

/* Lists, then watches, the collections at paths (each may carry a query:
 * "...pods?labelSelector=a%3Db") until fn says done (returns 0), the deadline
 * (monotonic ms, tm_now_ms) passes (TM_ETIMEOUT), cancel (TM_EINTERRUPTED), fn
 * returns an error (that code), or the API fails after retries. Watches the server
 * ends are resumed from the last resourceVersion; a 410 Gone relists. */
int tm_kube_watch(struct tm_kube *k, const char *const *paths, size_t n, int64_t deadline_ms,
		  tm_kube_event_fn fn, void *ctx, struct tm_err *err);

#endif
