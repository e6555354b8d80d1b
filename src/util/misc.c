/* Small shared helpers: monotonic time, Kubernetes-style name checks, edit distance,
 * SHA-256 in hex. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tarmac/util.h"

int64_t tm_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tm_parse_duration_ms(const char *s, int64_t *out)
{
	double total = 0;
	bool any = false;

	if (!s || !*s)
		return TM_EINVALID;
	while (*s) {
		char *end;
		double v = strtod(s, &end), unit;

		if (end == s || !(v >= 0) || *s == '+' || *s == '-' || *s == ' ')
			return TM_EINVALID;
		s = end;
		if (strncmp(s, "ms", 2) == 0) {
			unit = 1;
			s += 2;
		} else if (*s == 's' || (!*s && !any)) {
			unit = 1000; /* a bare number is seconds, only on its own */
			s += *s == 's';
		} else if (*s == 'm') {
			unit = 60000;
			s++;
		} else if (*s == 'h') {
			unit = 3600000;
			s++;
		} else {
			return TM_EINVALID;
		}
		total += v * unit;
		any = true;
		if (total > 7.0 * 24 * 3600000)
			return TM_EINVALID;
	}
	*out = (int64_t)total;
	return 0;
}

static bool is_alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool tm_is_dns_label(const char *s, size_t max)
{
	size_t n = 0;

	if (!s || !is_alnum_lower(s[0]))
		return false;
	for (; s[n]; n++) {
		if (n >= max)
			return false;
		if (!is_alnum_lower(s[n]) && s[n] != '-')
			return false;
	}
	return s[n - 1] != '-';
}

bool tm_is_dns_subdomain(const char *s)
{
	size_t n = s ? strlen(s) : 0, start = 0;

	if (n == 0 || n > 253)
		return false;
	/* each dot-separated part as a label; Kubernetes does not cap a part at 63 here */
	for (size_t i = 0; i <= n; i++) {
		if (s[i] != '.' && s[i] != '\0')
			continue;
		if (i == start || !is_alnum_lower(s[start]) || !is_alnum_lower(s[i - 1]))
			return false;
		for (size_t j = start; j < i; j++)
			if (!is_alnum_lower(s[j]) && s[j] != '-')
				return false;
		start = i + 1;
	}
	return true;
}

size_t tm_utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

int tm_edit_distance(const char *a, const char *b, int cap)
{
	size_t la = strlen(a), lb = strlen(b);
	int d[3][65]; /* three rolling rows: i-2, i-1, i */
	int best;

	if (la > 64 || lb > 64)
		return cap + 1;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		int *cur = d[i % 3], *prev = d[(i - 1) % 3], *prev2 = d[(i + 1) % 3];
		cur[0] = (int)i;
		best = cur[0];
		for (size_t j = 1; j <= lb; j++) {
			int cost = a[i - 1] != b[j - 1];
			int v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (prev[j - 1] + cost < v)
				v = prev[j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			cur[j] = v;
			if (v < best)
				best = v;
		}
		if (best > cap)
			return cap + 1;
	}
	return d[la % 3][lb] > cap ? cap + 1 : d[la % 3][lb];
}

void tm_sha256_hex(char out[65], const void *data, size_t len)
{
	unsigned char md[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(md, data, len);
	sodium_bin2hex(out, 65, md, sizeof(md));
}

/* ------------------------------------------------------------------ wall-clock time */

static bool digits(const char **s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if ((*s)[i] < '0' || (*s)[i] > '9')
			return false;
		v = v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	*out = v;
	return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (eras of 400 years). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int tm_parse_rfc3339_ms(const char *s, int64_t *out)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0, dim, frac = 0, scale = 100;

	if (!digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo) || *s++ != '-' || !digits(&s, 2, &d))
		return TM_EINVALID;
	if (*s != 'T' && *s != 't')
		return TM_EINVALID;
	s++;
	if (!digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &mi) || *s++ != ':' || !digits(&s, 2, &se))
		return TM_EINVALID;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return TM_EINVALID;
		for (; *s >= '0' && *s <= '9'; s++, scale /= 10)
			frac += (*s - '0') * scale;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '+' ? 1 : -1;
		if (!digits(&s, 2, &oh) || *s++ != ':' || !digits(&s, 2, &om) || oh > 23 || om > 59)
			return TM_EINVALID;
	} else {
		return TM_EINVALID;
	}
	if (*s || mo < 1 || mo > 12 || h > 23 || mi > 59 || se > 59)
		return TM_EINVALID;
	dim = mdays[mo - 1] + (mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
	if (d < 1 || d > dim)
		return TM_EINVALID;
	*out = (days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - sign * (oh * 3600 + om * 60)) * 1000 + frac;
	return 0;
}

int64_t tm_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tm_format_rfc3339(char out[40], int64_t unix_ms, bool micro)
{
	time_t secs = (time_t)(unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000);
	struct tm t;
	char base[32];

	gmtime_r(&secs, &t);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &t);
	if (micro)
		snprintf(out, 40, "%s.%06dZ", base, (int)(unix_ms - (int64_t)secs * 1000) * 1000);
	else
		snprintf(out, 40, "%sZ", base);
}

const char *tm_system_ca_bundle(void)
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
