/* Private to kube/: the client's state, shared by client.c, discovery.c, ssa.c and
 * watch.c. */
#ifndef TARMAC_KUBE_PRIVATE_H
#define TARMAC_KUBE_PRIVATE_H

#include "tarmac/kube.h"

struct tm_kube {
	struct tm_transport tr;
	const struct tm_kube_config *cfg; /* borrowed */
	char *server;
	char *context;
	struct tm_kube_opts opts;
	struct tm_kube_stats stats;
	uint64_t rng;            /* jitter; not for secrets */
	/* exec credential plugin */
	bool have_cred;
	bool warned_plain_http;  /* the plain-http warning was reported */
	int64_t cred_expires;    /* Unix seconds, 0: none */
	/* discovery */
	bool discovered;
	char version[32];        /* "1.20" */
	char **api_versions;     /* served group/versions */
	size_t napi_versions;
	json_t *rlists;          /* group/version -> APIResourceList (owned) */
};

/* A delay for retry number attempt (1-based): base * 2^(attempt-1) capped, with
 * jitter in [delay/2, delay]. */
long tm_kube_backoff(struct tm_kube *k, int attempt);
/* Whether the client's cancel flag is raised (Ctrl-C). */
bool tm_kube_cancelled(const struct tm_kube *k);
/* Runs the transport on n requests (one by one when it has no batch entry). */
void tm_kube_roundtrip_many(struct tm_kube *k, size_t n, const struct tm_http_request *reqs,
			    struct tm_http_response *resps, int *rcs, struct tm_err *errs);
/* Runs the exec plugin when the context has one and its credential is missing,
 * about to expire, or was refused (refused). 0 without a plugin. */
int tm_kube_refresh_cred(struct tm_kube *k, bool refused, struct tm_err *err);
/* Maps a non-2xx status to an error with the server's message. */
int tm_kube_map_status(const struct tm_kube *k, const struct tm_http_request *req, long status,
		       const struct tm_buf *body, bool apply, struct tm_err *err);
void tm_kube_report(struct tm_kube *k, enum tm_level lvl, const char *kind, const char *fmt, ...)
	TM_PRINTF(4, 5);

/* kubeconfig reading, shared by config.c and config_exec.c */
char *tm_kube_resolve_path(const char *path, const char *kubeconfig_file); /* NULL: no memory */
int tm_kube_dup_opt(char **out, const char *s, struct tm_err *err); /* NULL or "" stay NULL */
int tm_kube_exec_parse(struct tm_kube_exec **out, json_t *jx, const char *file, const char *user,
		       struct tm_err *err);
void tm_kube_exec_free(struct tm_kube_exec *x);

#endif
