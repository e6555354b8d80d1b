/* "did you mean": the nearest commands or options to a mistyped word, by edit
 * distance with adjacent swaps counted as one edit (git's help.autocorrect idea). */
#include <string.h>

#include "cli.h"

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

void tm_suggest(FILE *f, const char *word, const char *const *candidates, const char *prefix)
{
	size_t len = strlen(word);
	/* short words tolerate one edit; longer ones about a third of their length */
	int cap = len < 4 ? 1 : (int)(len / 3 + 1), best = cap + 1;

	for (const char *const *c = candidates; *c; c++) {
		int d = tm_edit_distance(word, *c, cap);
		if (d < best)
			best = d;
	}
	const char *hits[16];
	int nhits = 0;

	for (const char *const *c = candidates; *c && nhits < 16; c++) {
		bool prefix_match = len >= 2 && strncmp(*c, word, len) == 0;
		if ((best <= cap && tm_edit_distance(word, *c, cap) == best) || prefix_match)
			hits[nhits++] = *c;
	}
	if (nhits == 1)
		fprintf(f, "Did you mean '%s%s'?\n", prefix, hits[0]);
	else if (nhits > 1)
		fputs("Did you mean one of these?\n", f);
	for (int i = 0; nhits > 1 && i < nhits; i++)
		fprintf(f, "  %s%s\n", prefix, hits[i]);
}
