/* Small shared helpers: monotonic time and Kubernetes-style name checks. */
#include <time.h>

#include "tarmac/util.h"

int64_t tm_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
