/* The libcurl transport: one easy handle per run, so connections are reused
 * (keep-alive, HTTP/2 when the server offers it), TLS material passed from memory. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tarmac/kube.h"

#ifndef TM_VERSION
#define TM_VERSION "dev"
#endif

struct curl_tr {
	CURL *h;
	char *server;
	char *token_header; /* "Authorization: Bearer ..."; wiped on free */
	struct tm_buf ca, cert, key;
	char errbuf[CURL_ERROR_SIZE];
};

const char *tm_kube_system_ca_bundle(void)
{
	/* the static binary's OpenSSL knows no distro paths: look where distros keep them */
	static const char *const paths[] = {
		"/etc/ssl/certs/ca-certificates.crt", /* Debian, Ubuntu, Alpine, Arch */
		"/etc/pki/tls/certs/ca-bundle.crt",   /* Fedora, RHEL */
		"/etc/ssl/ca-bundle.pem",             /* openSUSE */
		"/etc/ssl/cert.pem",                  /* Alpine, macOS-like */
		"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	};
	const char *env = getenv("SSL_CERT_FILE");

	if (env && *env && access(env, R_OK) == 0)
		return env;
	for (size_t i = 0; i < TM_ARRAY_LEN(paths); i++)
		if (access(paths[i], R_OK) == 0)
			return paths[i];
	return NULL;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct tm_http_response *r = ud;

	/* returning short makes curl fail with CURLE_WRITE_ERROR: the cap was hit */
	if (tm_buf_append(&r->body, p, size * n, NULL) < 0)
		return 0;
	return size * n;
}

static int map_curl_error(CURLcode cc, const struct curl_tr *t, const struct tm_http_request *req,
			  struct tm_http_response *resp, struct tm_err *err)
{
	const char *detail = t->errbuf[0] ? t->errbuf : curl_easy_strerror(cc);

	switch (cc) {
	case CURLE_WRITE_ERROR:
		return tm_err_set(err, TM_ELIMIT, "%s %s: response body exceeds %zu bytes", req->method, req->path,
				  resp->body.max);
	case CURLE_OPERATION_TIMEDOUT:
		return tm_err_set(err, TM_ETIMEOUT, "%s %s%s: %s", req->method, t->server, req->path, detail);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		return tm_err_set(err, TM_EUNAVAILABLE, "cannot verify the server '%s': %s", t->server, detail);
	default:
		return tm_err_set(err, TM_EUNAVAILABLE, "cannot reach the cluster at '%s': %s", t->server, detail);
	}
}

static int roundtrip(void *ctx, const struct tm_http_request *req, struct tm_http_response *resp,
		     struct tm_err *err)
{
	struct curl_tr *t = ctx;
	struct curl_slist *hdr = NULL;
	struct tm_buf url = TM_BUF_INIT("request URL", 16384), accept = TM_BUF_INIT("header", 1024),
		      ctype = TM_BUF_INIT("header", 1024);
	CURLcode cc;
	int rc;

	resp->status = 0;
	tm_buf_clear(&resp->body);
	if ((rc = tm_buf_printf(&url, err, "%s%s", t->server, req->path)) < 0 ||
	    (rc = tm_buf_printf(&accept, err, "Accept: %s", req->accept ? req->accept : "application/json")) < 0)
		goto out;
	hdr = curl_slist_append(hdr, accept.data);
	if (t->token_header)
		hdr = curl_slist_append(hdr, t->token_header);
	if (req->content_type) {
		if ((rc = tm_buf_printf(&ctype, err, "Content-Type: %s", req->content_type)) < 0)
			goto out;
		hdr = curl_slist_append(hdr, ctype.data);
	}
	if (!hdr) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	t->errbuf[0] = '\0';
	curl_easy_setopt(t->h, CURLOPT_URL, url.data);
	curl_easy_setopt(t->h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(t->h, CURLOPT_CUSTOMREQUEST, req->method);
	curl_easy_setopt(t->h, CURLOPT_NOBODY, strcmp(req->method, "HEAD") == 0 ? 1L : 0L);
	if (req->body) {
		curl_easy_setopt(t->h, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(t->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	} else {
		curl_easy_setopt(t->h, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(t->h, CURLOPT_CUSTOMREQUEST, strcmp(req->method, "GET") ? req->method : NULL);
	}
	curl_easy_setopt(t->h, CURLOPT_WRITEDATA, resp);
	cc = curl_easy_perform(t->h);
	if (cc != CURLE_OK) {
		rc = map_curl_error(cc, t, req, resp, err);
		goto out;
	}
	curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &resp->status);
	rc = 0;
out:
	/* the header list points at our buffers: unhook it before they go; its copy of the
	 * bearer token is wiped like every other */
	curl_easy_setopt(t->h, CURLOPT_HTTPHEADER, NULL);
	for (struct curl_slist *h = hdr; h; h = h->next)
		if (strncmp(h->data, "Authorization:", 14) == 0)
			tm_wipe(h->data, strlen(h->data));
	curl_slist_free_all(hdr);
	tm_buf_release(&url);
	tm_buf_release(&accept);
	tm_buf_release(&ctype);
	return rc;
}

static void tr_free(void *ctx)
{
	struct curl_tr *t = ctx;

	if (!t)
		return;
	if (t->h)
		curl_easy_cleanup(t->h);
	free(t->server);
	if (t->token_header)
		tm_wipe(t->token_header, strlen(t->token_header));
	free(t->token_header);
	tm_buf_release(&t->ca);
	tm_buf_release(&t->cert);
	tm_buf_wipe(&t->key);
	free(t);
}

static int copy_buf(struct tm_buf *dst, const struct tm_buf *src, struct tm_err *err)
{
	tm_buf_init(dst, src->what, src->max);
	return src->len ? tm_buf_append(dst, src->data, src->len, err) : 0;
}

int tm_transport_curl(struct tm_transport *out, const struct tm_kube_config *cfg, struct tm_err *err)
{
	struct curl_tr *t = calloc(1, sizeof(*t));
	struct curl_blob blob;
	const char *bundle;
	int rc = 0;

	if (!t)
		return tm_err_set(err, TM_ERROR, "out of memory");
	tm_buf_init(&t->ca, "CA", 1);
	tm_buf_init(&t->cert, "cert", 1);
	tm_buf_init(&t->key, "key", 1);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(t->h = curl_easy_init()) ||
	    !(t->server = strdup(cfg->server))) {
		rc = tm_err_set(err, TM_ERROR, "cannot start libcurl");
		goto out;
	}
	if (cfg->token && asprintf(&t->token_header, "Authorization: Bearer %s", cfg->token) < 0) {
		t->token_header = NULL;
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	if ((rc = copy_buf(&t->ca, &cfg->ca_pem, err)) < 0 || (rc = copy_buf(&t->cert, &cfg->cert_pem, err)) < 0 ||
	    (rc = copy_buf(&t->key, &cfg->key_pem, err)) < 0)
		goto out;
	curl_easy_setopt(t->h, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(t->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->h, CURLOPT_USERAGENT, "tarmac/" TM_VERSION);
	curl_easy_setopt(t->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(t->h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(t->h, CURLOPT_TIMEOUT_MS, 120000L);
	curl_easy_setopt(t->h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(t->h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(t->h, CURLOPT_PROTOCOLS_STR, "https,http");
	if (t->ca.len) {
		blob = (struct curl_blob){ t->ca.data, t->ca.len, CURL_BLOB_NOCOPY };
		curl_easy_setopt(t->h, CURLOPT_CAINFO_BLOB, &blob);
	} else if ((bundle = tm_kube_system_ca_bundle())) {
		curl_easy_setopt(t->h, CURLOPT_CAINFO, bundle);
	}
	if (t->cert.len) {
		blob = (struct curl_blob){ t->cert.data, t->cert.len, CURL_BLOB_NOCOPY };
		curl_easy_setopt(t->h, CURLOPT_SSLCERT_BLOB, &blob);
		curl_easy_setopt(t->h, CURLOPT_SSLCERTTYPE, "PEM");
		blob = (struct curl_blob){ t->key.data, t->key.len, CURL_BLOB_NOCOPY };
		curl_easy_setopt(t->h, CURLOPT_SSLKEY_BLOB, &blob);
		curl_easy_setopt(t->h, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (cfg->insecure) {
		curl_easy_setopt(t->h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(t->h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (cfg->proxy_url)
		curl_easy_setopt(t->h, CURLOPT_PROXY, cfg->proxy_url);
	out->roundtrip = roundtrip;
	out->free = tr_free;
	out->ctx = t;
	t = NULL;
out:
	tr_free(t);
	return rc;
}
