/* What parsing a JSON text with jansson would cost in memory, estimated from the text
 * alone before it is parsed, so an answer or record that is all structure ("[{},{},..."
 * takes ~240 bytes per 3 bytes of text) is refused instead of taking gigabytes. */
#include <string.h>

#include "tarmac/doc.h"

/* Upper bounds of jansson 2.14's allocations, each rounded up with 16 bytes of malloc
 * overhead: an object is its struct (72) and 8 hash buckets (128); an array its
 * struct (40) and an 8-slot table (64); a string its struct (32) and the bytes; a
 * key a pair (56 + the key) plus the buckets it makes the table grow by (2 x 16); an
 * integer or real its struct (24). Any value may be an array slot: the table grows
 * by doubling, old and new held at once while it copies (3 x 8, rounded). true, false
 * and null are shared singletons and cost only their slot. */
#define COST_OBJECT 240u
#define COST_ARRAY 144u
#define COST_STRING 80u
#define COST_KEY 112u
#define COST_NUMBER 48u
#define COST_SLOT 32u

struct json_census {
	size_t objects, arrays, strings, keys, numbers, literals;
	size_t text;    /* bytes inside strings and keys */
	size_t longest; /* the longest string token */
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The end of the string token that starts at text[i] (the opening quote): the index
 * after its closing quote, or len when it never closes. */
static size_t string_end(const char *text, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		if (text[i] == '\\')
			i++;
		else if (text[i] == '"')
			return i + 1;
	}
	return len;
}

/* Counts tokens without judging the syntax: jansson stops at the first error, so what
 * it holds then is bounded by the count of the whole text. */
static void census(struct json_census *c, const char *text, size_t len)
{
	size_t i = 0, j;

	memset(c, 0, sizeof(*c));
	while (i < len) {
		char ch = text[i];

		if (ch == '"') {
			size_t n;

			j = string_end(text, len, i);
			n = j - i;
			c->text += n;
			if (n > c->longest)
				c->longest = n;
			i = j;
			while (j < len && is_space(text[j]))
				j++;
			if (j < len && text[j] == ':')
				c->keys++;
			else
				c->strings++;
			continue;
		}
		if (ch == '{')
			c->objects++;
		else if (ch == '[')
			c->arrays++;
		else if (ch == '-' || (ch >= '0' && ch <= '9')) {
			c->numbers++;
			while (i + 1 < len && strchr("0123456789+-.eE", text[i + 1]) && text[i + 1])
				i++;
		} else if (ch >= 'a' && ch <= 'z') {
			c->literals++;
			while (i + 1 < len && text[i + 1] >= 'a' && text[i + 1] <= 'z')
				i++;
		}
		i++;
	}
}

static size_t census_cost(const struct json_census *c)
{
	size_t values = c->objects + c->arrays + c->strings + c->numbers + c->literals;

	/* the lexer's buffer doubles up to twice the longest token, and the token is
	 * copied out of it */
	return c->objects * COST_OBJECT + c->arrays * COST_ARRAY + c->strings * COST_STRING + c->keys * COST_KEY +
	       c->numbers * COST_NUMBER + values * COST_SLOT + c->text + 3 * c->longest + 4096;
}

size_t tm_json_cost(const char *text, size_t len)
{
	struct json_census c;

	census(&c, text, len);
	return census_cost(&c);
}

size_t tm_json_budget(size_t len)
{
	size_t b = TM_JSON_MEM_FLOOR + (len > (TM_JSON_MEM_MAX / TM_JSON_MEM_RATIO) ? TM_JSON_MEM_MAX
										  : len * TM_JSON_MEM_RATIO);

	return b < TM_JSON_MEM_MAX ? b : TM_JSON_MEM_MAX;
}

int tm_json_check(const char *text, size_t len, struct tm_err *err)
{
	struct json_census c;
	size_t cost, budget = tm_json_budget(len);

	census(&c, text, len);
	cost = census_cost(&c);
	if (cost <= budget)
		return 0;
	return tm_err_set(err, TM_ELIMIT,
			  "%zu bytes of JSON with %zu objects and %zu arrays would take about %zu MiB to hold, over the "
			  "%zu MiB allowed for that size (%u bytes per byte of text, at most %u MiB)",
			  len, c.objects, c.arrays, cost >> 20, budget >> 20, (unsigned)TM_JSON_MEM_RATIO,
			  (unsigned)(TM_JSON_MEM_MAX >> 20));
}
