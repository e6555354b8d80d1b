/* The host key an ssh server presents, fetched once (libssh2's key exchange, no login)
 * so that 'tarmac dags trust' can show its fingerprint and seal it into known_hosts.
 * The key type is the one libssh2 negotiates, which is the one fetch will meet. */
#include <errno.h>
#include <fcntl.h>
#include <libssh2.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "vcs_private.h"

/* Connects fd to ai within timeout_ms: 0, or the errno why not. */
static int connect_within(int fd, const struct addrinfo *ai, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int soerr = 0;

	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return errno;
	if (poll(&p, 1, timeout_ms) != 1)
		return ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		return errno;
	return soerr;
}

/* A TCP connection to host:port within timeout_ms, or -1 with err set. */
static int dial(const char *host, int port, int timeout_ms, struct tm_err *err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
	char service[16];
	int fd = -1, gai, why = ECONNREFUSED;

	snprintf(service, sizeof(service), "%d", port);
	if ((gai = getaddrinfo(host, service, &hints, &res)) != 0) {
		tm_err_set(err, TM_EUNAVAILABLE, "resolve %s: %s", host, gai_strerror(gai));
		return -1;
	}
	for (ai = res; ai && fd < 0; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
			continue;
		if ((why = connect_within(fd, ai, timeout_ms)) != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		tm_err_set(err, TM_EUNAVAILABLE, "connect to %s port %d: %s", host, port, strerror(why));
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

static int handshake(struct tm_vcs_host_key *out, LIBSSH2_SESSION *s, int fd, const char *host, int port,
		     struct tm_err *err)
{
	const char *key;
	size_t len = 0;
	int type;

	if (libssh2_session_handshake(s, fd) != 0) {
		char *msg = NULL;

		libssh2_session_last_error(s, &msg, NULL, 0);
		return tm_err_set(err, TM_EUNAVAILABLE, "ssh handshake with %s port %d: %s", host, port,
				  msg ? msg : "failed");
	}
	if (!(key = libssh2_session_hostkey(s, &len, &type)) || len > sizeof(out->blob) ||
	    !tm_vcs_blob_type(out->type, sizeof(out->type), (const unsigned char *)key, len))
		return tm_err_set(err, TM_EUNAVAILABLE, "%s port %d presented no usable host key", host, port);
	memcpy(out->blob, key, len);
	out->len = len;
	return 0;
}

int tm_vcs_host_key_scan(struct tm_vcs_host_key *out, const char *host, int port, int timeout_ms, struct tm_err *err)
{
	LIBSSH2_SESSION *s;
	int fd, rc;

	memset(out, 0, sizeof(*out));
	if ((fd = dial(host, port, timeout_ms, err)) < 0)
		return TM_EUNAVAILABLE;
	libssh2_init(0);
	if (!(s = libssh2_session_init())) {
		close(fd);
		libssh2_exit();
		return tm_err_set(err, TM_ERROR, "out of memory");
	}
	libssh2_session_set_timeout(s, timeout_ms);
	rc = handshake(out, s, fd, host, port, err);
	libssh2_session_disconnect(s, "tarmac: host key read");
	libssh2_session_free(s);
	close(fd);
	libssh2_exit();
	return rc;
}

void tm_vcs_known_hosts_line(char *out, size_t n, const struct tm_vcs_host_key *k, const char *host, int port)
{
	char b64[sizeof(k->blob) * 4 / 3 + 8];

	sodium_bin2base64(b64, sizeof(b64), k->blob, k->len, sodium_base64_VARIANT_ORIGINAL);
	if (port == 22)
		snprintf(out, n, "%s %s %s", host, k->type, b64);
	else
		snprintf(out, n, "[%s]:%d %s %s", host, port, k->type, b64);
}
