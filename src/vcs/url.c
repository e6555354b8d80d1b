/* Repository URLs as git reads them: the scheme, the ssh user, the host and the port
 * that host keys and credentials are looked up for. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tarmac/vcs.h"

static const struct {
	const char *prefix;
	enum tm_vcs_scheme scheme;
	int port;
} SCHEMES[] = {
	{ "ssh://", TM_VCS_SSH, 22 },       { "git+ssh://", TM_VCS_SSH, 22 }, { "ssh+git://", TM_VCS_SSH, 22 },
	{ "https://", TM_VCS_HTTPS, 443 }, { "http://", TM_VCS_HTTP, 80 },   { "file://", TM_VCS_LOCAL, 0 },
};

/* "host", "[v6]" or either with ":port", up to the end of the authority (len). */
static int host_port(struct tm_vcs_url *u, const char *p, size_t len, bool port_allowed, const char *url,
		     struct tm_err *err)
{
	const char *end = p + len, *colon;
	size_t hlen;

	if (*p == '[') {
		const char *close = memchr(p, ']', len);

		if (!close)
			return tm_err_set(err, TM_EINVALID, "repository '%s': expected ']' after the IPv6 address", url);
		hlen = (size_t)(close - p - 1);
		p++;
		colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = port_allowed ? memchr(p, ':', len) : NULL;
		hlen = colon ? (size_t)(colon - p) : len;
	}
	if (!hlen || hlen >= sizeof(u->host))
		return tm_err_set(err, TM_EINVALID, "repository '%s': expected a host name", url);
	memcpy(u->host, p, hlen);
	u->host[hlen] = '\0';
	if (colon && port_allowed) {
		char *stop;
		long port = strtol(colon + 1, &stop, 10);

		if (stop != end || port < 1 || port > 65535)
			return tm_err_set(err, TM_EINVALID, "repository '%s': expected a port from 1 to 65535 after ':'",
					  url);
		u->port = (int)port;
	}
	return 0;
}

/* The authority of "scheme://[user@]host[:port]/path" at p. */
static int authority(struct tm_vcs_url *u, const char *p, const char *url, struct tm_err *err)
{
	size_t len = strcspn(p, "/"), at;
	const char *userend = memchr(p, '@', len);

	if (p[len] != '/')
		return tm_err_set(err, TM_EINVALID, "repository '%s': expected a path after the host", url);
	if (userend) {
		at = (size_t)(userend - p);
		/* https://user:token@host: only the user is kept (a token belongs in a sealed secret) */
		snprintf(u->user, sizeof(u->user), "%.*s", (int)strcspn(p, ":@"), p);
		p += at + 1;
		len -= at + 1;
	}
	return host_port(u, p, len, true, url, err);
}

int tm_vcs_url_parse(struct tm_vcs_url *out, const char *url, struct tm_err *err)
{
	const char *colon, *slash, *at;

	memset(out, 0, sizeof(*out));
	if (!url || !*url)
		return tm_err_set(err, TM_EINVALID, "no repository: set dags.gitSync.repo");
	for (size_t i = 0; i < sizeof(SCHEMES) / sizeof(SCHEMES[0]); i++) {
		size_t n = strlen(SCHEMES[i].prefix);

		if (strncmp(url, SCHEMES[i].prefix, n) != 0)
			continue;
		out->scheme = SCHEMES[i].scheme;
		out->port = SCHEMES[i].port;
		if (out->scheme == TM_VCS_LOCAL)
			return 0;
		if (authority(out, url + n, url, err) < 0)
			return err->code;
		if (out->scheme == TM_VCS_SSH && !out->user[0])
			snprintf(out->user, sizeof(out->user), "git");
		return 0;
	}
	if (strstr(url, "://"))
		return tm_err_set(err, TM_EINVALID, "repository '%s': expected ssh://, https://, http://, file://, "
				  "user@host:path or a local path", url);
	/* scp style: a ':' before any '/' */
	colon = strchr(url[0] == '[' ? strchr(url, ']') ? strchr(url, ']') : url : url, ':');
	slash = strchr(url, '/');
	if (!colon || (slash && slash < colon)) {
		out->scheme = TM_VCS_LOCAL;
		return 0;
	}
	out->scheme = TM_VCS_SSH;
	out->port = 22;
	at = memchr(url, '@', (size_t)(colon - url));
	snprintf(out->user, sizeof(out->user), "%.*s", at ? (int)(at - url) : 3, at ? url : "git");
	return host_port(out, at ? at + 1 : url, (size_t)(colon - (at ? at + 1 : url)), false, url, err);
}
