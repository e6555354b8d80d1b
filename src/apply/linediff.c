/* The line diff under 'tarmac diff': Myers' O(ND) search from both ends with bounded
 * work, printed as unified hunks exactly as diff -u prints them. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apply/objdiff.h"

#define DIFF_MAX_LINES (1 << 26) /* per side; keeps every index an int */
/* Edit steps one middle-snake search may take before it settles for the furthest point
 * it reached: diffs with up to about twice this many changed lines stay minimal. */
#define DIFF_SEARCH_STEPS 4096
/* Diagonals visited and lines compared in one diff before the rest is done coarsely
 * (a block of deletions then insertions per remaining stretch): bounds the time on
 * huge, wholly different inputs. Objects of a few thousand lines never get near it. */
#define DIFF_WORK_BUDGET 40000000L

#define COLOR_DEL "\033[31m"
#define COLOR_ADD "\033[32m"
#define COLOR_HUNK "\033[36m"
#define COLOR_HEAD "\033[1m"
#define COLOR_RESET "\033[0m"

/* ------------------------------------------------------------------ lines */

struct line {
	const char *p;
	size_t len; /* without the '\n' */
	bool nl;    /* ends in '\n' (only a text's last line may not) */
	uint32_t hash;
};

static bool line_equal(const struct line *x, const struct line *y)
{
	return x->hash == y->hash && x->len == y->len && x->nl == y->nl && memcmp(x->p, y->p, x->len) == 0;
}

/* "" has no lines; "a" has one, without a newline; "a\n" has one, with. */
static int split_lines(struct line **out, int *n, const char *s, const char *name, struct tm_err *err)
{
	size_t count = 0, len = strlen(s);
	struct line *v;

	for (const char *p = s; (p = memchr(p, '\n', len - (size_t)(p - s))); p++)
		count++;
	if (len > 0 && s[len - 1] != '\n')
		count++;
	if (count > DIFF_MAX_LINES)
		return tm_err_set(err, TM_ELIMIT, "'%s' has more than %d lines", name, DIFF_MAX_LINES);
	if (!(v = calloc(count ? count : 1, sizeof(*v))))
		return tm_err_set(err, TM_ERROR, "out of memory");
	for (size_t i = 0, off = 0; i < count; i++) {
		const char *nl = memchr(s + off, '\n', len - off);
		uint32_t h = 2166136261u; /* FNV-1a */

		v[i].p = s + off;
		v[i].len = nl ? (size_t)(nl - (s + off)) : len - off;
		v[i].nl = nl != NULL;
		for (size_t j = 0; j < v[i].len; j++)
			h = (h ^ (unsigned char)v[i].p[j]) * 16777619u;
		v[i].hash = (h ^ (v[i].nl ? 0x5bd1e995u : 0)) * 16777619u;
		off += v[i].len + 1;
	}
	*out = v;
	*n = (int)count;
	return 0;
}

/* Numbers equal lines alike: id[i] is the index (in a's lines followed by b's) of the
 * first line with that content, so the search compares ints, not text. */
static int intern_lines(int **out, const struct line *la, int na, const struct line *lb, int nb, struct tm_err *err)
{
	size_t total = (size_t)na + (size_t)nb, size = 16;
	int *slot = NULL, *id = NULL;
	int rc = 0;

	while (size < 2 * total)
		size *= 2;
	if (!(slot = malloc(size * sizeof(*slot))) || !(id = malloc((total ? total : 1) * sizeof(*id)))) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	memset(slot, 0xff, size * sizeof(*slot)); /* -1: empty */
	for (size_t i = 0; i < total; i++) {
		const struct line *l = i < (size_t)na ? &la[i] : &lb[i - (size_t)na];
		for (size_t pos = l->hash & (size - 1);; pos = (pos + 1) & (size - 1)) {
			int s = slot[pos];
			const struct line *o = s < 0 ? NULL : s < na ? &la[s] : &lb[s - na];
			if (!o) {
				slot[pos] = (int)i;
				id[i] = (int)i;
				break;
			}
			if (line_equal(o, l)) {
				id[i] = s;
				break;
			}
		}
	}
	*out = id;
	id = NULL;
out:
	free(slot);
	free(id);
	return rc;
}

struct differ {
	const int *a, *b;  /* line ids */
	char *da, *db;     /* 1: the line is deleted from a / inserted from b */
	int *fd, *bd;      /* per diagonal k = x - y: furthest x of the forward / backward search */
	long budget;       /* work left before the rest is done coarsely */
};

/* A point on a shortest edit path through a[xoff..xlim) x b[yoff..ylim), strictly
 * inside it (Myers' middle snake: forward from the start and backward from the end,
 * one edit step at a time, until the two searches meet on a diagonal). Both ranges are
 * non-empty and their first and last lines differ. Diagonals stay within the grid;
 * an x clamped to the end of its diagonal is still reachable in the same number of
 * steps, so the search stays exact. Past DIFF_SEARCH_STEPS or the budget it settles
 * for the furthest forward point: a valid split, no longer a minimal one. false when
 * there is none to give. */
static bool find_split(struct differ *df, int xoff, int xlim, int yoff, int ylim, int *sx, int *sy)
{
	const int *a = df->a, *b = df->b;
	int *fd = df->fd, *bd = df->bd;
	const int dmin = xoff - ylim, dmax = xlim - yoff, fmid = xoff - yoff, bmid = xlim - ylim;
	const bool odd = (fmid - bmid) & 1;
	int fmin = fmid, fmax = fmid, bmin = bmid, bmax = bmid, best = -1;

	fd[fmid] = xoff;
	bd[bmid] = xlim;
	for (int c = 1; c <= DIFF_SEARCH_STEPS && df->budget > 0; c++) {
		/* widen by a diagonal on each side; at the grid's edge step back in instead, so
		 * the range keeps the parity of this step. The values just outside are
		 * sentinels that lose every comparison. */
		if (fmin > dmin)
			fd[--fmin - 1] = -1;
		else
			fmin++;
		if (fmax < dmax)
			fd[++fmax + 1] = -1;
		else
			fmax--;
		for (int k = fmax; k >= fmin; k -= 2) {
			int lo = fd[k - 1], hi = fd[k + 1];
			int x = lo < hi ? hi : lo + 1, y, x0;

			if (x > xlim)
				x = xlim;
			if (x > ylim + k)
				x = ylim + k;
			x0 = x;
			y = x - k;
			while (x < xlim && y < ylim && a[x] == b[y])
				x++, y++;
			fd[k] = x;
			df->budget -= 1 + (x - x0);
			if (odd && k >= bmin && k <= bmax && bd[k] <= x) {
				*sx = x;
				*sy = y;
				return true;
			}
		}
		if (bmin > dmin)
			bd[--bmin - 1] = INT_MAX;
		else
			bmin++;
		if (bmax < dmax)
			bd[++bmax + 1] = INT_MAX;
		else
			bmax--;
		for (int k = bmax; k >= bmin; k -= 2) {
			int lo = bd[k - 1], hi = bd[k + 1];
			int x = lo < hi ? lo : hi - 1, y, x0;

			if (x < xoff)
				x = xoff;
			if (x < yoff + k)
				x = yoff + k;
			x0 = x;
			y = x - k;
			while (x > xoff && y > yoff && a[x - 1] == b[y - 1])
				x--, y--;
			bd[k] = x;
			df->budget -= 1 + (x0 - x);
			if (!odd && k >= fmin && k <= fmax && x <= fd[k]) {
				*sx = x;
				*sy = y;
				return true;
			}
		}
	}
	for (int k = fmin; k <= fmax; k++) {
		int x = fd[k], y = x - k;
		if ((x == xoff && y == yoff) || (x == xlim && y == ylim) || x + y <= best)
			continue;
		best = x + y;
		*sx = x;
		*sy = y;
	}
	return best >= 0;
}

static void compare(struct differ *df, int xoff, int xlim, int yoff, int ylim)
{
	int x, y;

	for (;;) {
		while (xoff < xlim && yoff < ylim && df->a[xoff] == df->b[yoff])
			xoff++, yoff++;
		while (xlim > xoff && ylim > yoff && df->a[xlim - 1] == df->b[ylim - 1])
			xlim--, ylim--;
		if (xoff == xlim || yoff == ylim || df->budget <= 0 || !find_split(df, xoff, xlim, yoff, ylim, &x, &y)) {
			memset(df->da + xoff, 1, (size_t)(xlim - xoff));
			memset(df->db + yoff, 1, (size_t)(ylim - yoff));
			return;
		}
		/* recursion on the first half only (it holds half the edits, so the depth stays
		 * logarithmic); the second half is this loop's next turn */
		compare(df, xoff, x, yoff, y);
		xoff = x;
		yoff = y;
	}
}

/* A run of deleted lines a[a0..a1) replaced by b[b0..b1) (either may be empty). */
struct change {
	int a0, a1, b0, b1;
};

static int put_line(struct tm_buf *out, char mark, const struct line *l, bool color, struct tm_err *err)
{
	const char *on = !color ? NULL : mark == '-' ? COLOR_DEL : mark == '+' ? COLOR_ADD : NULL;
	char m[2] = { mark, '\0' };
	int rc = 0;

	if (on)
		rc = tm_buf_puts(out, on, err);
	if (rc == 0)
		rc = tm_buf_puts(out, m, err);
	if (rc == 0)
		rc = tm_buf_append(out, l->p, l->len, err);
	if (rc == 0 && on)
		rc = tm_buf_puts(out, COLOR_RESET, err);
	if (rc == 0)
		rc = tm_buf_puts(out, "\n", err);
	if (rc == 0 && !l->nl)
		rc = tm_buf_puts(out, "\\ No newline at end of file\n", err);
	return rc;
}

/* diff -u's ranges: "start,count", "start" alone for one line, and for none the
 * line before the gap ("0,0" at the top). */
static int put_range(struct tm_buf *out, char sign, int start, int count, struct tm_err *err)
{
	if (count == 1)
		return tm_buf_printf(out, err, "%c%d", sign, start + 1);
	return tm_buf_printf(out, err, "%c%d,%d", sign, count ? start + 1 : start, count);
}

static int put_hunk(struct tm_buf *out, const struct line *la, int na, const struct line *lb,
		    const struct change *ch, int first, int last, int context, bool color, struct tm_err *err)
{
	int pre = ch[first].a0 < context ? ch[first].a0 : context;
	int post = na - ch[last].a1 < context ? na - ch[last].a1 : context;
	int sa = ch[first].a0 - pre, ea = ch[last].a1 + post, sb = ch[first].b0 - pre, eb = ch[last].b1 + post;
	int rc = 0, i = sa;

	if (color)
		rc = tm_buf_puts(out, COLOR_HUNK, err);
	if (rc == 0)
		rc = tm_buf_puts(out, "@@ ", err);
	if (rc == 0)
		rc = put_range(out, '-', sa, ea - sa, err);
	if (rc == 0)
		rc = tm_buf_puts(out, " ", err);
	if (rc == 0)
		rc = put_range(out, '+', sb, eb - sb, err);
	if (rc == 0)
		rc = tm_buf_puts(out, color ? " @@" COLOR_RESET "\n" : " @@\n", err);
	for (int c = first; rc == 0 && c <= last + 1; c++) {
		int upto = c <= last ? ch[c].a0 : ea;
		for (; rc == 0 && i < upto; i++)
			rc = put_line(out, ' ', &la[i], color, err);
		if (c > last)
			break;
		for (int j = ch[c].a0; rc == 0 && j < ch[c].a1; j++)
			rc = put_line(out, '-', &la[j], color, err);
		for (int j = ch[c].b0; rc == 0 && j < ch[c].b1; j++)
			rc = put_line(out, '+', &lb[j], color, err);
		i = ch[c].a1;
	}
	return rc;
}

/* The runs of lines the comparison marked (deleted in a, inserted in b) as changes into
 * ch; their count. */
static size_t changes(const struct differ *df, int na, int nb, struct change *ch)
{
	size_t nch = 0;

	for (int i = 0, j = 0; i < na || j < nb;) {
		if ((i < na && df->da[i]) || (j < nb && df->db[j])) {
			struct change *c = &ch[nch++];
			c->a0 = i;
			c->b0 = j;
			while (i < na && df->da[i])
				i++;
			while (j < nb && df->db[j])
				j++;
			c->a1 = i;
			c->b1 = j;
		} else {
			i++, j++;
		}
	}
	return nch;
}

/* The unified diff of the changes: the two names, then the hunks; changes whose context
 * would touch or overlap go in one hunk, as diff -u does. */
static int put_diff(struct tm_buf *out, const char *a_name, const char *b_name, const struct line *la, int na,
		    const struct line *lb, const struct change *ch, size_t nch, int context, bool color,
		    struct tm_err *err)
{
	int rc;

	if (color)
		rc = tm_buf_printf(out, err, COLOR_HEAD "--- %s" COLOR_RESET "\n" COLOR_HEAD "+++ %s" COLOR_RESET "\n",
				   a_name, b_name);
	else
		rc = tm_buf_printf(out, err, "--- %s\n+++ %s\n", a_name, b_name);
	for (size_t first = 0; rc == 0 && first < nch;) {
		size_t last = first;

		while (last + 1 < nch && (long long)ch[last + 1].a0 - ch[last].a1 <= 2LL * context)
			last++;
		rc = put_hunk(out, la, na, lb, ch, (int)first, (int)last, context, color, err);
		first = last + 1;
	}
	return rc;
}

int tm_diff_lines(struct tm_buf *out, const char *a_name, const char *a, const char *b_name, const char *b,
		  int context, bool color, struct tm_err *err)
{
	struct line *la = NULL, *lb = NULL;
	struct change *ch = NULL;
	struct differ df = { 0 };
	int *id = NULL, *diag = NULL;
	size_t mark = out->len, nch = 0;
	int na = 0, nb = 0, rc = 0;

	a = a ? a : "";
	b = b ? b : "";
	a_name = a_name ? a_name : "a";
	b_name = b_name ? b_name : "b";
	if (context < 0)
		context = 0;
	if (strcmp(a, b) == 0)
		return 0;
	if ((rc = split_lines(&la, &na, a, a_name, err)) < 0 || (rc = split_lines(&lb, &nb, b, b_name, err)) < 0 ||
	    (rc = intern_lines(&id, la, na, lb, nb, err)) < 0)
		goto out;
	/* diagonals run from -nb to na; the searches also touch one beyond each end */
	df.a = id;
	df.b = id + na;
	df.da = calloc((size_t)na + 1, 1);
	df.db = calloc((size_t)nb + 1, 1);
	diag = malloc(2 * ((size_t)na + (size_t)nb + 3) * sizeof(*diag));
	ch = malloc(((size_t)na + (size_t)nb + 1) * sizeof(*ch));
	if (!df.da || !df.db || !diag || !ch) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	df.fd = diag + nb + 1;
	df.bd = diag + (na + nb + 3) + nb + 1;
	df.budget = DIFF_WORK_BUDGET;
	compare(&df, 0, na, 0, nb);

	if ((nch = changes(&df, na, nb, ch)) == 0)
		goto out; /* the same lines after all (cannot happen: the texts differ) */
	if ((rc = put_diff(out, a_name, b_name, la, na, lb, ch, nch, context, color, err)) == 0)
		rc = 1;
out:
	if (rc < 0) {
		/* nothing half-written: the caller's buffer is as it was */
		out->len = mark;
		if (out->data)
			out->data[mark] = '\0';
	}
	free(la);
	free(lb);
	free(id);
	free(df.da);
	free(df.db);
	free(diag);
	free(ch);
	return rc;
}
