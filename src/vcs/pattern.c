/* OpenSSH's pattern lists, for known_hosts host names and allowed_signers principals
 * and namespaces: "*" and "?" wildcards, comma-separated, "!" negates. */
#include <ctype.h>

#include "vcs_private.h"

/* OpenSSH keeps each pattern in a 1024-byte buffer and matches nothing past it */
#define PATTERN_MAX 1023

static bool same(char a, char b, bool fold)
{
	return fold ? tolower((unsigned char)a) == tolower((unsigned char)b) : a == b;
}

/* '*' any run, '?' one character. Greedy with one backtrack point (the last '*'), so
 * linear in practice and never exponential. */
static bool wildcard(const char *s, const char *p, size_t plen, bool fold)
{
	const char *pe = p + plen, *star = NULL, *mark = NULL;

	while (*s) {
		if (p < pe && *p != '*' && (*p == '?' || same(*p, *s, fold))) {
			p++;
			s++;
		} else if (p < pe && *p == '*') {
			star = ++p;
			mark = s;
		} else if (star) {
			p = star;
			s = ++mark;
		} else {
			return false;
		}
	}
	while (p < pe && *p == '*')
		p++;
	return p == pe;
}

bool tm_vcs_pattern_list(const char *s, const char *list, bool fold)
{
	bool positive = false;

	for (const char *p = list; *p;) {
		bool negated = *p == '!';
		size_t n = strcspn(p + negated, ",");

		if (n >= PATTERN_MAX)
			return false;
		if (wildcard(s, p + negated, n, fold)) {
			if (negated)
				return false;
			positive = true;
		}
		p += negated + n;
		p += *p == ',';
	}
	return positive;
}
