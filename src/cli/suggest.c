/* "did you mean": the nearest commands or options to a mistyped word, by edit
 * distance (tm_edit_distance) with a prefix match allowed too. */
#include <string.h>

#include "cli.h"

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
