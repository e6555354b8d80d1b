/* The libcurl transport: one multi handle per run, so every exchange shares one
 * connection pool (keep-alive; HTTP/2 streams multiplexed on one connection when the
 * server offers it), and a batch of exchanges runs at once. TLS material is passed
 * from memory. Single-threaded: the batch loop polls the sockets. */
#include <curl/curl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tarmac/kube.h"

#ifndef TM_VERSION
#define TM_VERSION "dev"
#endif

#define DEFAULT_TIMEOUT_MS 60000L
#define IDLE_HANDLES 32 /* easy handles kept for reuse between batches */
#define TICK_MS 1000

struct curl_tr {
	CURLM *m;
	char *base;        /* URL prefix requests are made against */
	char *connect_to;  /* tls-server-name: "name:port:host:port", or NULL */
	char *token_header; /* "Authorization: Bearer ..."; wiped on free */
	struct tm_buf ca, cert, key;
	bool insecure;
	char *proxy;
	const char *bundle; /* system CA bundle when ca is empty */
	CURL *idle[IDLE_HANDLES];
	size_t nidle;
};

/* One exchange of a batch. */
struct slot {
	struct curl_tr *t;
	CURL *h;
	const struct tm_http_request *req;
	struct tm_http_response *resp;
	int *rc;
	struct tm_err *err;
	struct curl_slist *hdr;
	struct tm_buf url;
	bool active;   /* added to the multi handle and not finished */
	bool stopped;  /* on_data asked to end it: not an error */
	bool capped;   /* the body cap was hit */
	bool *stop_all; /* the batch's flag, for on_data's 2 */
	char errbuf[CURL_ERROR_SIZE];
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct slot *s = ud;
	size_t len = size * n;
	int r;

	if (s->req->on_data) {
		r = s->req->on_data(s->req->on_data_ctx, p, len);
		if (r == 0)
			return len;
		s->stopped = true;
		if (r > 1)
			*s->stop_all = true;
		return 0; /* curl ends the transfer with CURLE_WRITE_ERROR */
	}
	/* returning short makes curl fail with CURLE_WRITE_ERROR: the cap was hit */
	if (tm_buf_append(&s->resp->body, p, len, NULL) < 0) {
		s->capped = true;
		return 0;
	}
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct slot *s = ud;
	size_t len = size * n;

	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0)
		s->resp->retry_after = -1; /* a new response (after a 100 Continue) */
	else if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		char tmp[32];
		size_t k = len - 12 < sizeof(tmp) - 1 ? len - 12 : sizeof(tmp) - 1;
		char *end;
		long v;

		memcpy(tmp, p + 12, k);
		tmp[k] = '\0';
		v = strtol(tmp, &end, 10);
		/* seconds only: the API server never sends the HTTP-date form */
		if (end != tmp && v >= 0 && v < 86400)
			s->resp->retry_after = v;
	}
	return len;
}

/* Which CA the server's certificate was checked against, for the message when it
 * could not be: the kubeconfig's (with its first certificate's subject), or the
 * system bundle. */
static void describe_ca(const struct curl_tr *t, char *out, size_t n)
{
	BIO *bio;
	X509 *x = NULL;
	char subject[256] = "";

	if (!t->ca.len) {
		snprintf(out, n, t->bundle ? "the system CA bundle '%s' (SSL_CERT_FILE overrides it)"
					   : "no CA: no system bundle was found (set SSL_CERT_FILE)%s",
			 t->bundle ? t->bundle : "");
		return;
	}
	if ((bio = BIO_new_mem_buf(t->ca.data, (int)t->ca.len)) && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)))
		X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
	X509_free(x);
	BIO_free(bio);
	snprintf(out, n, "the kubeconfig's certificate-authority%s%s%s", subject[0] ? " '" : "", subject,
		 subject[0] ? "'" : "");
}

static int map_curl_error(CURLcode cc, const struct slot *s)
{
	const struct tm_http_request *req = s->req;
	const char *detail = s->errbuf[0] ? s->errbuf : curl_easy_strerror(cc);
	const char *server = s->t->base;

	if (s->capped)
		return tm_err_set(s->err, TM_ELIMIT, "%s %s: response body exceeds %zu bytes", req->method, req->path,
				  s->resp->body.max);
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return tm_err_set(s->err, TM_ETIMEOUT, "%s %s: no complete answer within %.1f s", req->method, req->path,
				  (double)(req->timeout_ms ? req->timeout_ms : DEFAULT_TIMEOUT_MS) / 1000.0);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH: {
		char ca[400];

		/* TM_EAUTH: not retried, as asking again gets the same certificate */
		describe_ca(s->t, ca, sizeof(ca));
		return tm_err_set(s->err, TM_EAUTH, "cannot verify the server '%s' against %s: %s; check the cluster's "
				  "certificate-authority in the kubeconfig (and tls-server-name)", server, ca, detail);
	}
	default:
		return tm_err_set(s->err, TM_EUNAVAILABLE, "%s %s: cannot reach the cluster at '%s': %s", req->method,
				  req->path, server, detail);
	}
}

/* Options every exchange shares; set once per easy handle. */
static CURL *easy_new(struct curl_tr *t)
{
	CURL *h = curl_easy_init();

	if (!h)
		return NULL;
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "tarmac/" TM_VERSION);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(h, CURLOPT_PIPEWAIT, 1L); /* wait for HTTP/2 to multiplex, do not open more */
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
	if (t->connect_to) {
		struct curl_slist *ct = curl_slist_append(NULL, t->connect_to);

		/* the list must outlive the handle's transfers: keep it on the handle */
		curl_easy_setopt(h, CURLOPT_CONNECT_TO, ct);
		curl_easy_setopt(h, CURLOPT_PRIVATE, ct);
	}
	if (t->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (t->proxy)
		curl_easy_setopt(h, CURLOPT_PROXY, t->proxy);
	return h;
}

static void easy_free(CURL *h)
{
	struct curl_slist *ct = NULL;

	if (!h)
		return;
	curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&ct);
	curl_easy_cleanup(h);
	curl_slist_free_all(ct);
}

/* TLS credentials are set per exchange, so new ones (an exec plugin's) take effect. */
static void set_tls(struct curl_tr *t, CURL *h)
{
	struct curl_blob blob;

	if (t->ca.len) {
		blob = (struct curl_blob){ t->ca.data, t->ca.len, CURL_BLOB_NOCOPY };
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	} else if (t->bundle) {
		curl_easy_setopt(h, CURLOPT_CAINFO, t->bundle);
	}
	if (t->cert.len) {
		blob = (struct curl_blob){ t->cert.data, t->cert.len, CURL_BLOB_NOCOPY };
		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &blob);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		blob = (struct curl_blob){ t->key.data, t->key.len, CURL_BLOB_NOCOPY };
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &blob);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	}
}

static int slot_start(struct slot *s, struct tm_err *err)
{
	struct curl_tr *t = s->t;
	const struct tm_http_request *req = s->req;
	char line[256];
	int rc;

	s->resp->status = 0;
	s->resp->retry_after = -1;
	tm_buf_clear(&s->resp->body);
	tm_buf_init(&s->url, "request URL", 16384);
	if ((rc = tm_buf_printf(&s->url, err, "%s%s", t->base, req->path)) < 0)
		return rc;
	snprintf(line, sizeof(line), "Accept: %s", req->accept ? req->accept : "application/json");
	s->hdr = curl_slist_append(s->hdr, line);
	/* no "Expect: 100-continue" round trip before bodies */
	s->hdr = curl_slist_append(s->hdr, "Expect:");
	if (t->token_header)
		s->hdr = curl_slist_append(s->hdr, t->token_header);
	if (req->content_type) {
		snprintf(line, sizeof(line), "Content-Type: %s", req->content_type);
		s->hdr = curl_slist_append(s->hdr, line);
	}
	if (!s->hdr || !(s->h = t->nidle ? t->idle[--t->nidle] : easy_new(t)))
		return tm_err_set(err, TM_ERROR, "out of memory");
	s->errbuf[0] = '\0';
	curl_easy_setopt(s->h, CURLOPT_ERRORBUFFER, s->errbuf);
	curl_easy_setopt(s->h, CURLOPT_URL, s->url.data);
	curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->hdr);
	curl_easy_setopt(s->h, CURLOPT_NOBODY, strcmp(req->method, "HEAD") == 0 ? 1L : 0L);
	if (req->body) {
		curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		curl_easy_setopt(s->h, CURLOPT_CUSTOMREQUEST, req->method);
	} else {
		curl_easy_setopt(s->h, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(s->h, CURLOPT_CUSTOMREQUEST, strcmp(req->method, "GET") ? req->method : NULL);
	}
	curl_easy_setopt(s->h, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS);
	curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(s->h, CURLOPT_HEADERDATA, s);
	set_tls(t, s->h);
	if (curl_multi_add_handle(t->m, s->h) != CURLM_OK)
		return tm_err_set(err, TM_ERROR, "cannot start a request to '%s'", t->base);
	s->active = true;
	return 0;
}

/* Takes a slot out of the multi handle and keeps its easy handle for reuse. */
static void slot_end(struct slot *s)
{
	struct curl_tr *t = s->t;

	if (s->h) {
		if (s->active)
			curl_multi_remove_handle(t->m, s->h);
		/* the header list points at our buffers: unhook it before they go */
		curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(s->h, CURLOPT_ERRORBUFFER, NULL);
		if (t->nidle < IDLE_HANDLES)
			t->idle[t->nidle++] = s->h;
		else
			easy_free(s->h);
		s->h = NULL;
	}
	s->active = false;
	/* its copy of the bearer token is wiped like every other */
	for (struct curl_slist *h = s->hdr; h; h = h->next)
		if (strncmp(h->data, "Authorization:", 14) == 0)
			tm_wipe(h->data, strlen(h->data));
	curl_slist_free_all(s->hdr);
	s->hdr = NULL;
	tm_buf_release(&s->url);
}

static void slot_done(struct slot *s, CURLcode cc)
{
	if (cc == CURLE_OK || (cc == CURLE_WRITE_ERROR && s->stopped)) {
		curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->resp->status);
		*s->rc = 0;
	} else {
		*s->rc = map_curl_error(cc, s);
	}
	slot_end(s);
}

static bool cancelled(const struct tm_http_request *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (reqs[i].cancel && *reqs[i].cancel)
			return true;
	return false;
}

static void roundtrip_many(void *ctx, size_t n, const struct tm_http_request *reqs, struct tm_http_response *resps,
			   int *rcs, struct tm_err *errs)
{
	struct curl_tr *t = ctx;
	struct slot *slots = calloc(n ? n : 1, sizeof(*slots));
	bool stop_all = false;
	int64_t last_tick = tm_now_ms();
	size_t left = 0;
	int running = 0;

	for (size_t i = 0; i < n; i++)
		rcs[i] = tm_err_set(&errs[i], TM_ERROR, "%s %s: not started", reqs[i].method, reqs[i].path);
	if (!slots)
		return;
	for (size_t i = 0; i < n; i++) {
		slots[i] = (struct slot){ .t = t, .req = &reqs[i], .resp = &resps[i], .rc = &rcs[i], .err = &errs[i],
					  .stop_all = &stop_all };
		if ((rcs[i] = slot_start(&slots[i], &errs[i])) < 0)
			slot_end(&slots[i]);
		else
			left++;
	}
	while (left) {
		CURLMsg *msg;
		int q;

		curl_multi_perform(t->m, &running);
		while ((msg = curl_multi_info_read(t->m, &q))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			for (size_t i = 0; i < n; i++)
				if (slots[i].active && slots[i].h == msg->easy_handle) {
					slot_done(&slots[i], msg->data.result);
					left--;
					break;
				}
		}
		if (!left)
			break;
		if (cancelled(reqs, n) || stop_all) {
			for (size_t i = 0; i < n; i++) {
				if (!slots[i].active)
					continue;
				if (stop_all && !cancelled(reqs, n)) {
					/* ended on purpose by a watcher: what came so far counts */
					curl_easy_getinfo(slots[i].h, CURLINFO_RESPONSE_CODE, &resps[i].status);
					rcs[i] = 0;
				} else {
					rcs[i] = tm_err_set(&errs[i], TM_EINTERRUPTED, "%s %s: interrupted", reqs[i].method,
							    reqs[i].path);
				}
				slot_end(&slots[i]);
			}
			break;
		}
		curl_multi_poll(t->m, NULL, 0, 100, NULL);
		if (tm_now_ms() - last_tick >= TICK_MS) {
			/* idle streams get a tick, so a watcher can refresh progress and check
			 * its deadline */
			last_tick = tm_now_ms();
			for (size_t i = 0; i < n; i++) {
				int r;

				if (!slots[i].active || !reqs[i].on_data)
					continue;
				r = reqs[i].on_data(reqs[i].on_data_ctx, NULL, 0);
				if (r > 1)
					stop_all = true;
				else if (r == 1) {
					slots[i].stopped = true;
					curl_easy_getinfo(slots[i].h, CURLINFO_RESPONSE_CODE, &resps[i].status);
					rcs[i] = 0;
					slot_end(&slots[i]);
					left--;
				}
			}
		}
	}
	free(slots);
}

static int roundtrip(void *ctx, const struct tm_http_request *req, struct tm_http_response *resp,
		     struct tm_err *err)
{
	int rc = TM_ERROR;

	roundtrip_many(ctx, 1, req, resp, &rc, err);
	return rc;
}

static void drop_connections(struct curl_tr *t)
{
	while (t->nidle)
		easy_free(t->idle[--t->nidle]);
	if (t->m)
		curl_multi_cleanup(t->m);
	t->m = curl_multi_init();
	if (t->m) {
		curl_multi_setopt(t->m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
		curl_multi_setopt(t->m, CURLMOPT_MAX_HOST_CONNECTIONS, 8L);
	}
}

static int copy_buf(struct tm_buf *dst, const struct tm_buf *src, struct tm_err *err)
{
	tm_buf_init(dst, src->what, src->max);
	return src->len ? tm_buf_append(dst, src->data, src->len, err) : 0;
}

static int set_auth(void *ctx, const char *token, const struct tm_buf *cert, const struct tm_buf *key,
		    struct tm_err *err)
{
	struct curl_tr *t = ctx;
	bool new_cert = cert && (cert->len != t->cert.len || memcmp(cert->data, t->cert.data, cert->len) != 0);
	int rc;

	if (token && (rc = tm_kube_check_header_value(token, "the exec plugin's token", err)) < 0)
		return rc;
	if (t->token_header) {
		tm_wipe(t->token_header, strlen(t->token_header));
		free(t->token_header);
		t->token_header = NULL;
	}
	if (token && asprintf(&t->token_header, "Authorization: Bearer %s", token) < 0) {
		t->token_header = NULL;
		return tm_err_set(err, TM_ERROR, "out of memory");
	}
	if (cert && key) {
		tm_buf_release(&t->cert);
		tm_buf_wipe(&t->key);
		if ((rc = copy_buf(&t->cert, cert, err)) < 0 || (rc = copy_buf(&t->key, key, err)) < 0)
			return rc;
	}
	/* connections made with the old certificate stay authenticated as it: drop them */
	if (new_cert)
		drop_connections(t);
	return t->m ? 0 : tm_err_set(err, TM_ERROR, "cannot start libcurl");
}

static void tr_free(void *ctx)
{
	struct curl_tr *t = ctx;

	if (!t)
		return;
	while (t->nidle)
		easy_free(t->idle[--t->nidle]);
	if (t->m)
		curl_multi_cleanup(t->m);
	free(t->base);
	free(t->connect_to);
	free(t->proxy);
	if (t->token_header)
		tm_wipe(t->token_header, strlen(t->token_header));
	free(t->token_header);
	tm_buf_release(&t->ca);
	tm_buf_release(&t->cert);
	tm_buf_wipe(&t->key);
	free(t);
}

/* tls-server-name: requests go to https://<name>:<port> so TLS sends and checks that
 * name, and CONNECT_TO sends the connection to the server URL's real host. */
static int set_server(struct curl_tr *t, const struct tm_kube_config *cfg, struct tm_err *err)
{
	CURLU *u = NULL;
	char *host = NULL, *port = NULL, *url = NULL;
	int rc = 0;

	if (!cfg->tls_server_name || !*cfg->tls_server_name) {
		if (!(t->base = strdup(cfg->server)))
			return tm_err_set(err, TM_ERROR, "out of memory");
		return 0;
	}
	if (!(u = curl_url()) || curl_url_set(u, CURLUPART_URL, cfg->server, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_HOST, cfg->tls_server_name, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK) {
		rc = tm_err_set(err, TM_EINVALID, "context '%s': cannot use tls-server-name '%s' with server '%s'",
				cfg->context ? cfg->context : "", cfg->tls_server_name, cfg->server);
		goto out;
	}
	/* curl_url_get gives "https://name:port/": drop the '/' like the server field */
	if (*url && url[strlen(url) - 1] == '/')
		url[strlen(url) - 1] = '\0';
	if (!(t->base = strdup(url)) ||
	    asprintf(&t->connect_to, "%s:%s:%s:%s", cfg->tls_server_name, port, host, port) < 0) {
		t->connect_to = NULL;
		rc = tm_err_set(err, TM_ERROR, "out of memory");
	}
out:
	curl_free(host);
	curl_free(port);
	curl_free(url);
	curl_url_cleanup(u);
	return rc;
}

int tm_transport_curl(struct tm_transport *out, const struct tm_kube_config *cfg, struct tm_err *err)
{
	struct curl_tr *t = calloc(1, sizeof(*t));
	int rc = 0;

	if (!t)
		return tm_err_set(err, TM_ERROR, "out of memory");
	tm_buf_init(&t->ca, "CA", 1);
	tm_buf_init(&t->cert, "cert", 1);
	tm_buf_init(&t->key, "key", 1);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		rc = tm_err_set(err, TM_ERROR, "cannot start libcurl");
		goto out;
	}
	drop_connections(t);
	if (!t->m) {
		rc = tm_err_set(err, TM_ERROR, "cannot start libcurl");
		goto out;
	}
	if ((rc = set_server(t, cfg, err)) < 0 || (rc = tm_kube_check_header_value(cfg->token, "the token", err)) < 0)
		goto out;
	if ((cfg->proxy_url && !(t->proxy = strdup(cfg->proxy_url))) ||
	    (cfg->token && asprintf(&t->token_header, "Authorization: Bearer %s", cfg->token) < 0)) {
		t->token_header = NULL;
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	if ((rc = copy_buf(&t->ca, &cfg->ca_pem, err)) < 0 || (rc = copy_buf(&t->cert, &cfg->cert_pem, err)) < 0 ||
	    (rc = copy_buf(&t->key, &cfg->key_pem, err)) < 0)
		goto out;
	t->insecure = cfg->insecure;
	if (!t->ca.len)
		t->bundle = tm_system_ca_bundle();
	*out = (struct tm_transport){ .roundtrip = roundtrip, .roundtrip_many = roundtrip_many, .set_auth = set_auth,
				      .free = tr_free, .ctx = t };
	t = NULL;
out:
	tr_free(t);
	return rc;
}
