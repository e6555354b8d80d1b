/* Object diffs: unified hunks as diff -u prints them, server bookkeeping left out,
 * Secret values never shown, and diffs that patch a into b (checked by a small
 * applier here, on fixed, large and random inputs). */
#include <sodium.h>

#include "../testutil.h"
#include "apply/objdiff.h"

/* ------------------------------------------------------------------ helpers */

static char *difftext(const char *a, const char *b, int context, bool color, int want)
{
	struct tm_buf out = TM_BUF_INIT("diff", 64u << 20);
	struct tm_err err;
	char *s;

	tm_err_init(&err);
	cr_assert_eq(tm_diff_lines(&out, "A", a, "B", b, context, color, &err), want, "%s", tm_err_msg(&err));
	s = tm_buf_detach(&out);
	return s ? s : strdup("");
}

static json_t *js(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, 0, &e);

	cr_assert_not_null(v, "%s: %s", text, e.text);
	return v;
}

static void assert_json(const json_t *got, const char *want_text)
{
	json_t *want = js(want_text);
	char *dump = json_dumps(got, JSON_SORT_KEYS | JSON_ENCODE_ANY);

	cr_assert(json_equal((json_t *)got, want), "got %s", dump ? dump : "NULL");
	free(dump);
	json_decref(want);
}

static char *objdiff_titled(const char *title, const json_t *live, const json_t *desired, bool color, int want)
{
	struct tm_buf out = TM_BUF_INIT("diff", 1u << 20);
	struct tm_err err;
	char *s;

	tm_err_init(&err);
	cr_assert_eq(tm_objdiff(&out, title, live, desired, color, &err), want, "%s", tm_err_msg(&err));
	s = tm_buf_detach(&out);
	return s ? s : strdup("");
}

static char *objdiff(const json_t *live, const json_t *desired, bool color, int want)
{
	return objdiff_titled("Deployment airflow/web", live, desired, color, want);
}

/* One line of a text being patched: its bytes and whether a newline ends it. */
struct pline {
	const char *p;
	size_t len;
	bool nl;
};

/* memchr, not strchr: ASan's strict string checks make each strchr read to the end */
static size_t to_plines(const char *s, struct pline *v, size_t max)
{
	size_t n = 0, left = strlen(s);

	while (left > 0) {
		const char *e = memchr(s, '\n', left);
		size_t len = e ? (size_t)(e - s) : left;

		cr_assert_lt(n, max);
		v[n].p = s;
		v[n].len = len;
		v[n].nl = e != NULL;
		n++;
		s += len + (e != NULL);
		left -= len + (e != NULL);
	}
	return n;
}

static void parse_range(const char **s, long *start, long *count)
{
	char *end;

	*start = strtol(*s, &end, 10);
	*count = 1;
	if (*end == ',')
		*count = strtol(end + 1, &end, 10);
	*s = end;
}

/* Applies an uncoloured unified diff to a and returns the result (malloc'd). Every
 * context and '-' line must match a exactly, the @@ counts must match the lines that
 * follow, and hunks must come in order without overlapping. */
static char *patch(const char *a, const char *diff)
{
	size_t max = strlen(a) + 2, na, nd, cur = 0, nres = 0;
	struct pline *al = calloc(max, sizeof(*al)), *dl;
	struct tm_buf res = TM_BUF_INIT("patched", 64u << 20);
	char *d = strdup(diff), *text;
	size_t i = 2;

	dl = calloc(strlen(diff) + 2, sizeof(*dl));
	na = to_plines(a, al, max);
	nd = to_plines(d, dl, strlen(diff) + 2);
	cr_assert_geq(nd, 3, "a diff has two headers and a hunk");
	cr_assert(strncmp(dl[0].p, "--- ", 4) == 0 && strncmp(dl[1].p, "+++ ", 4) == 0);
	while (i < nd) {
		const char *h = dl[i].p;
		long as, ac, bs, bc, seen_a = 0, seen_b = 0;
		size_t start;

		cr_assert(strncmp(h, "@@ -", 4) == 0, "expected a hunk header: %.*s", (int)dl[i].len, h);
		h += 4;
		parse_range(&h, &as, &ac);
		cr_assert(strncmp(h, " +", 2) == 0);
		h += 2;
		parse_range(&h, &bs, &bc);
		cr_assert(strncmp(h, " @@", 3) == 0);
		start = ac == 0 ? (size_t)as : (size_t)as - 1; /* an empty range names the line before */
		cr_assert_geq(start, cur, "hunks overlap or go backwards");
		cr_assert_leq(start + (size_t)ac, na);
		for (; cur < start; cur++, nres++) {
			cr_assert(tm_buf_append(&res, al[cur].p, al[cur].len, NULL) == 0);
			cr_assert(tm_buf_puts(&res, al[cur].nl ? "\n" : "", NULL) == 0);
		}
		/* the + side starts where the patched text is, by the same convention */
		cr_assert_eq((size_t)(bc == 0 ? bs : bs - 1), nres, "hunk +%ld,%ld starts at line %zu of b", bs, bc,
			     nres + 1);
		for (i++; i < nd && dl[i].p[0] != '@'; i++) {
			char m = dl[i].p[0];
			bool nl = !(i + 1 < nd && dl[i + 1].p[0] == '\\');
			struct pline body = { dl[i].p + 1, dl[i].len - 1, nl };

			cr_assert(m == ' ' || m == '-' || m == '+', "bad line: %.*s", (int)dl[i].len, dl[i].p);
			if (m != '+') {
				cr_assert_lt(cur, na);
				cr_assert(body.len == al[cur].len && body.nl == al[cur].nl &&
					  memcmp(body.p, al[cur].p, body.len) == 0,
					  "line %zu of a does not match the diff", cur + 1);
				cur++;
				seen_a++;
			}
			if (m != '-') {
				cr_assert(tm_buf_append(&res, body.p, body.len, NULL) == 0);
				cr_assert(tm_buf_puts(&res, nl ? "\n" : "", NULL) == 0);
				seen_b++;
				nres++;
			}
			if (!nl)
				i++; /* the "\ No newline" marker */
		}
		cr_assert_eq(seen_a, ac, "hunk -%ld,%ld covers %ld lines of a", as, ac, seen_a);
		cr_assert_eq(seen_b, bc, "hunk +%ld,%ld covers %ld lines of b", bs, bc, seen_b);
	}
	for (; cur < na; cur++) {
		cr_assert(tm_buf_append(&res, al[cur].p, al[cur].len, NULL) == 0);
		cr_assert(tm_buf_puts(&res, al[cur].nl ? "\n" : "", NULL) == 0);
	}
	text = tm_buf_detach(&res);
	free(al);
	free(dl);
	free(d);
	return text ? text : strdup("");
}

static void assert_round_trip(const char *a, const char *b, int context)
{
	char *d = difftext(a, b, context, false, strcmp(a, b) != 0);

	if (strcmp(a, b) == 0) {
		cr_assert_str_eq(d, "");
	} else {
		char *got = patch(a, d);
		cr_assert_str_eq(got, b, "the diff does not turn a into b:\n%s", d);
		free(got);
	}
	free(d);
}

/* ------------------------------------------------------------------ line diffs */

Test(apply_objdiff, equal_texts_append_nothing)
{
	struct tm_buf out = TM_BUF_INIT("diff", 1024);
	struct tm_err err;

	tm_err_init(&err);
	cr_assert(tm_buf_puts(&out, "kept", &err) == 0);
	cr_assert_eq(tm_diff_lines(&out, "A", "x\ny\n", "B", "x\ny\n", 3, true, &err), 0);
	cr_assert_eq(tm_diff_lines(&out, "A", "", "B", "", 3, true, &err), 0);
	cr_assert_str_eq(tm_buf_cstr(&out), "kept");
	tm_buf_release(&out);
}

Test(apply_objdiff, one_changed_line)
{
	char *d = difftext("a\nb\nc\n", "a\nx\nc\n", 3, false, 1);

	cr_assert_str_eq(d, "--- A\n+++ B\n@@ -1,3 +1,3 @@\n a\n-b\n+x\n c\n");
	free(d);
}

/* Expectations below are what GNU diff -u prints for the same inputs. */
static char *seq(int from, int to, int change1, const char *as1, int change2, const char *as2)
{
	struct tm_buf b = TM_BUF_INIT("seq", 1 << 20);

	for (int i = from; i <= to; i++) {
		int rc = i == change1 ? tm_buf_printf(&b, NULL, "%s\n", as1)
			 : i == change2 ? tm_buf_printf(&b, NULL, "%s\n", as2)
					: tm_buf_printf(&b, NULL, "%d\n", i);
		cr_assert_eq(rc, 0);
	}
	return tm_buf_detach(&b);
}

Test(apply_objdiff, hunks_merge_when_context_touches)
{
	char *a = seq(1, 20, 0, NULL, 0, NULL), *b = seq(1, 20, 3, "x", 10, "y"), *d;

	/* six unchanged lines between the changes: the contexts meet, one hunk */
	d = difftext(a, b, 3, false, 1);
	cr_assert_str_eq(d, "--- A\n+++ B\n@@ -1,13 +1,13 @@\n 1\n 2\n-3\n+x\n 4\n 5\n 6\n 7\n 8\n 9\n-10\n+y\n"
			    " 11\n 12\n 13\n");
	free(d);
	free(b);
	/* seven: two hunks */
	b = seq(1, 20, 3, "x", 11, "y");
	d = difftext(a, b, 3, false, 1);
	cr_assert_str_eq(d, "--- A\n+++ B\n@@ -1,6 +1,6 @@\n 1\n 2\n-3\n+x\n 4\n 5\n 6\n"
			    "@@ -8,7 +8,7 @@\n 8\n 9\n 10\n-11\n+y\n 12\n 13\n 14\n");
	free(d);
	free(a);
	free(b);
}

Test(apply_objdiff, empty_ranges_name_the_line_before)
{
	const char *a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", *b = "1\n2\n3\n4\n6\n7\n8\n9\n10\n";
	char *d = difftext(a, b, 0, false, 1);

	cr_assert_str_eq(d, "--- A\n+++ B\n@@ -5 +4,0 @@\n-5\n");
	free(d);
	d = difftext(b, a, 0, false, 1);
	cr_assert_str_eq(d, "--- A\n+++ B\n@@ -4,0 +5 @@\n+5\n");
	free(d);
	d = difftext(a, b, 3, false, 1);
	cr_assert_str_eq(d, "--- A\n+++ B\n@@ -2,7 +2,6 @@\n 2\n 3\n 4\n-5\n 6\n 7\n 8\n");
	free(d);
	d = difftext("", "a\nb", 3, false, 1);
	cr_assert_str_eq(d, "--- A\n+++ B\n@@ -0,0 +1,2 @@\n+a\n+b\n\\ No newline at end of file\n");
	free(d);
	d = difftext("a\nb", "", 3, false, 1);
	cr_assert_str_eq(d, "--- A\n+++ B\n@@ -1,2 +0,0 @@\n-a\n-b\n\\ No newline at end of file\n");
	free(d);
}

Test(apply_objdiff, missing_final_newline)
{
	char *d = difftext("a\nb", "a\nb\n", 3, false, 1);

	cr_assert_str_eq(d, "--- A\n+++ B\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n");
	free(d);
	d = difftext("a\nb", "a\nc", 3, false, 1);
	cr_assert_str_eq(d, "--- A\n+++ B\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n"
			    "\\ No newline at end of file\n");
	free(d);
	/* an unchanged last line without a newline is context, and says so */
	d = difftext("x\nend", "y\nend", 3, false, 1);
	cr_assert_str_eq(d, "--- A\n+++ B\n@@ -1,2 +1,2 @@\n-x\n+y\n end\n\\ No newline at end of file\n");
	free(d);
	assert_round_trip("a\nb", "a\nb\n", 3);
	assert_round_trip("a\nb\n", "a\nb", 0);
	assert_round_trip("p\nq", "q", 1);
}

Test(apply_objdiff, color_only_when_asked)
{
	char *plain = difftext("a\nb\nc\n", "a\nx\nc\n", 3, false, 1);
	char *col = difftext("a\nb\nc\n", "a\nx\nc\n", 3, true, 1);

	cr_assert_null(strchr(plain, '\033'));
	cr_assert_str_eq(col, "\033[1m--- A\033[0m\n\033[1m+++ B\033[0m\n\033[36m@@ -1,3 +1,3 @@\033[0m\n a\n"
			      "\033[31m-b\033[0m\n\033[32m+x\033[0m\n c\n");
	free(plain);
	free(col);
}

Test(apply_objdiff, full_buffer_is_a_limit_and_leaves_it_as_it_was)
{
	struct tm_buf out = TM_BUF_INIT("diff output", 40);
	struct tm_err err;

	tm_err_init(&err);
	cr_assert(tm_buf_puts(&out, "before", &err) == 0);
	cr_assert_eq(tm_diff_lines(&out, "A", "a\nb\nc\n", "B", "a\nxxxxxxxxxxxxxxxxxxxxxxxx\nc\n", 3, false, &err),
		     TM_ELIMIT);
	cr_assert_str_eq(tm_buf_cstr(&out), "before");
	cr_assert_not_null(strstr(tm_err_msg(&err), "diff output"));
	tm_buf_release(&out);
}

/* A text of n lines "line <i>", with every 97th line changed, every 89th dropped and a
 * line added after every 83rd. */
static char *big(int n, bool edited)
{
	struct tm_buf b = TM_BUF_INIT("big", 1 << 24);

	for (int i = 0; i < n; i++) {
		int rc = 0;
		if (edited && i % 89 == 5)
			continue;
		if (edited && i % 97 == 7)
			rc = tm_buf_printf(&b, NULL, "changed %d\n", i);
		else
			rc = tm_buf_printf(&b, NULL, "line %d\n", i);
		if (rc == 0 && edited && i % 83 == 11)
			rc = tm_buf_printf(&b, NULL, "added after %d\n", i);
		cr_assert_eq(rc, 0);
	}
	return tm_buf_detach(&b);
}

static int count_marks(const char *d, char m)
{
	const char *end = d + strlen(d), *p = d;
	int n = 0;

	/* past the two header lines, then one line at a time */
	for (int line = 0; p < end; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (line >= 2 && p[0] == m)
			n++;
		p = nl ? nl + 1 : end;
	}
	return n;
}

Test(apply_objdiff, five_thousand_lines_with_scattered_changes)
{
	char *a = big(5000, false), *b = big(5000, true), *d;
	int changed = 0, dropped = 0, added = 0;

	for (int i = 0; i < 5000; i++) {
		dropped += i % 89 == 5;
		changed += i % 89 != 5 && i % 97 == 7;
		added += i % 83 == 11 && i % 89 != 5;
	}
	assert_round_trip(a, b, 3);
	d = difftext(a, b, 3, false, 1);
	/* minimal: exactly the edited lines, no more */
	cr_assert_eq(count_marks(d, '-'), changed + dropped);
	cr_assert_eq(count_marks(d, '+'), changed + added);
	free(d);
	free(a);
	free(b);
}

/* Lines from a tiny alphabet: long inputs with many matches and many edits, so the
 * search runs out of steps and must still produce a correct (if longer) diff. */
static char *noise(unsigned *state, int n)
{
	struct tm_buf b = TM_BUF_INIT("noise", 1 << 24);

	for (int i = 0; i < n; i++) {
		*state = *state * 1103515245u + 12345u;
		cr_assert_eq(tm_buf_printf(&b, NULL, "%c\n", 'a' + (int)((*state >> 16) % 6)), 0);
	}
	return tm_buf_detach(&b);
}

Test(apply_objdiff, huge_different_inputs_stay_correct)
{
	unsigned st = 7;
	char *a = noise(&st, 30000), *b = noise(&st, 30000);

	assert_round_trip(a, b, 3);
	free(a);
	free(b);
}

static int lcs(const struct pline *x, int n, const struct pline *y, int m)
{
	int *t = calloc((size_t)(n + 1) * (size_t)(m + 1), sizeof(int)), r;

	for (int i = n - 1; i >= 0; i--)
		for (int j = m - 1; j >= 0; j--) {
			bool eq = x[i].len == y[j].len && x[i].nl == y[j].nl && memcmp(x[i].p, y[j].p, x[i].len) == 0;
			int down = t[(i + 1) * (m + 1) + j], right = t[i * (m + 1) + j + 1];
			t[i * (m + 1) + j] = eq ? 1 + t[(i + 1) * (m + 1) + j + 1] : down > right ? down : right;
		}
	r = t[0];
	free(t);
	return r;
}

static char *random_text(unsigned *state, int alphabet)
{
	struct tm_buf b = TM_BUF_INIT("random", 4096);
	int n;

	*state = *state * 1103515245u + 12345u;
	n = (int)((*state >> 16) % 25);
	for (int i = 0; i < n; i++) {
		*state = *state * 1103515245u + 12345u;
		cr_assert_eq(tm_buf_printf(&b, NULL, "%c\n", 'a' + (int)((*state >> 16) % (unsigned)alphabet)), 0);
	}
	*state = *state * 1103515245u + 12345u;
	if (b.len > 0 && (*state >> 16) % 4 == 0)
		b.data[--b.len] = '\0'; /* now and then no final newline */
	return b.data ? tm_buf_detach(&b) : strdup("");
}

Test(apply_objdiff, random_sequences_round_trip_minimally)
{
	unsigned st = 20240601;

	for (int round = 0; round < 600; round++) {
		char *a = random_text(&st, 2 + round % 5), *b = random_text(&st, 2 + round % 5), *d;
		struct pline xa[32], xb[32];
		int na = (int)to_plines(a, xa, 32), nb = (int)to_plines(b, xb, 32), context = round % 5;

		assert_round_trip(a, b, context);
		d = difftext(a, b, context, false, strcmp(a, b) != 0);
		/* Myers gives a shortest edit script: as many deletions and insertions as
		 * the longest common subsequence leaves */
		cr_assert_eq(count_marks(d, '-') + count_marks(d, '+'), na + nb - 2 * lcs(xa, na, xb, nb),
			     "not minimal for\n%s\n---\n%s\n---\n%s", a, b, d);
		free(d);
		free(a);
		free(b);
	}
}

/* ------------------------------------------------------------------ objects */

#define DEPLOY "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"," \
	       "\"namespace\":\"airflow\"},\"spec\":{\"replicas\":%d}}"

static json_t *deploy(int replicas)
{
	char text[256];

	snprintf(text, sizeof(text), DEPLOY, replicas);
	return js(text);
}

Test(apply_objdiff, normalize_drops_server_bookkeeping)
{
	json_t *live = js("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
			  "\"managedFields\":[{\"manager\":\"tarmac\"}],\"resourceVersion\":\"42\",\"uid\":\"u-1\","
			  "\"generation\":3,\"creationTimestamp\":\"2024-01-01T00:00:00Z\",\"selfLink\":\"/x\","
			  "\"deletionGracePeriodSeconds\":30,\"labels\":{},"
			  "\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":\"{}\","
			  "\"deployment.kubernetes.io/revision\":\"3\"}},"
			  "\"spec\":{\"replicas\":1},\"status\":{\"readyReplicas\":1}}");
	json_t *keep = js("{\"metadata\":{\"name\":\"x\",\"annotations\":{\"team\":\"data\","
			  "\"deployment.kubernetes.io/revision\":\"3\"},\"labels\":{\"app\":\"x\"}}}");
	json_t *before = json_deep_copy(live), *n;

	n = tm_objdiff_normalize(live);
	assert_json(n, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
		    "\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":1}}");
	cr_assert(json_equal(live, before), "the input is not touched");
	json_decref(n);
	n = tm_objdiff_normalize(keep);
	assert_json(n, "{\"metadata\":{\"name\":\"x\",\"annotations\":{\"team\":\"data\"},"
		    "\"labels\":{\"app\":\"x\"}}}");
	json_decref(n);
	cr_assert_null(tm_objdiff_normalize(NULL));
	json_decref(live);
	json_decref(before);
	json_decref(keep);
}

Test(apply_objdiff, same_object_after_normalising_is_no_diff)
{
	json_t *live = js("{\"status\":{\"replicas\":1},\"spec\":{\"replicas\":1},\"metadata\":{\"resourceVersion\":\"9\","
			  "\"namespace\":\"airflow\",\"managedFields\":[],\"name\":\"web\"},\"kind\":\"Deployment\","
			  "\"apiVersion\":\"apps/v1\"}");
	json_t *desired = deploy(1);
	struct tm_buf out = TM_BUF_INIT("diff", 1 << 20);
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_objdiff(&out, "Deployment airflow/web", live, desired, true, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(out.len, 0);
	tm_buf_release(&out);
	json_decref(live);
	json_decref(desired);
}

Test(apply_objdiff, changed_field_is_one_hunk)
{
	json_t *live = deploy(1), *desired = deploy(2);
	char *d = objdiff(live, desired, false, 1);

	cr_assert_str_eq(d, "--- live Deployment airflow/web\n+++ desired Deployment airflow/web\n"
			    "@@ -4,4 +4,4 @@\n   name: web\n   namespace: airflow\n spec:\n-  replicas: 1\n"
			    "+  replicas: 2\n");
	free(d);
	d = objdiff(live, desired, true, 1);
	cr_assert_not_null(strstr(d, "\033[31m-  replicas: 1\033[0m\n"));
	cr_assert_not_null(strstr(d, "\033[32m+  replicas: 2\033[0m\n"));
	cr_assert_not_null(strstr(d, "\033[36m@@ -4,4 +4,4 @@\033[0m\n"));
	cr_assert_not_null(strstr(d, "\033[1m--- live Deployment airflow/web\033[0m\n"));
	free(d);
	json_decref(live);
	json_decref(desired);
}

Test(apply_objdiff, new_object_is_all_additions)
{
	json_t *desired = deploy(2);
	char *d = objdiff(NULL, desired, false, 1);

	cr_assert_str_eq(d, "--- (none)\n+++ desired Deployment airflow/web\n@@ -0,0 +1,7 @@\n+apiVersion: apps/v1\n"
			    "+kind: Deployment\n+metadata:\n+  name: web\n+  namespace: airflow\n+spec:\n"
			    "+  replicas: 2\n");
	free(d);
	json_decref(desired);
}

static char *b64(const char *s)
{
	size_t n = sodium_base64_encoded_len(strlen(s), sodium_base64_VARIANT_ORIGINAL);
	char *out = malloc(n);

	sodium_bin2base64(out, n, (const unsigned char *)s, strlen(s), sodium_base64_VARIANT_ORIGINAL);
	return out;
}

static const char *const secret_values[] = { "old-pass-ONE", "new-pass-TWO", "gone-pass-THREE", "fresh-pass-FOUR",
					      "same-pass-FIVE" };

static void assert_no_secret_bytes(const char *d)
{
	for (size_t i = 0; i < TM_ARRAY_LEN(secret_values); i++) {
		char *enc = b64(secret_values[i]);
		cr_assert_null(strstr(d, secret_values[i]), "'%s' leaked:\n%s", secret_values[i], d);
		cr_assert_null(strstr(d, enc), "base64 of '%s' leaked:\n%s", secret_values[i], d);
		/* nor a telling piece of it */
		cr_assert_null(strstr(d, "pass-"));
		free(enc);
	}
}

Test(apply_objdiff, secrets_show_keys_never_values)
{
	char *old = b64("old-pass-ONE"), *nw = b64("new-pass-TWO"), *gone = b64("gone-pass-THREE");
	char *fresh = b64("fresh-pass-FOUR"), *same = b64("same-pass-FIVE"), *d;
	json_t *live = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:s, s:{s:s, s:s, s:s}}", "apiVersion", "v1", "kind",
				 "Secret", "metadata", "name", "db", "namespace", "airflow", "annotations",
				 "kubectl.kubernetes.io/last-applied-configuration",
				 "{\"stringData\":{\"password\":\"old-pass-ONE\"}}", "type", "Opaque", "data",
				 "password", old, "legacy", gone, "same", same);
	json_t *desired = json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion", "v1", "kind",
				    "Secret", "metadata", "name", "db", "namespace", "airflow", "type", "Opaque",
				    "data", "password", nw, "token", fresh, "stringData", "same", "same-pass-FIVE");

	cr_assert_not_null(live);
	cr_assert_not_null(desired);
	d = objdiff_titled("Secret airflow/db", live, desired, false, 1);
	assert_no_secret_bytes(d);
	cr_assert_str_eq(d, "--- live Secret airflow/db\n+++ desired Secret airflow/db\n"
			    "@@ -1,8 +1,8 @@\n"
			    " apiVersion: v1\n"
			    " data:\n"
			    "-  legacy: \"(hidden)\"\n"
			    "-  password: \"(hidden)\"\n"
			    "+  password: \"(hidden, changed)\"\n"
			    "   same: \"(hidden)\"\n"
			    "+  token: \"(hidden)\"\n"
			    " kind: Secret\n"
			    " metadata:\n"
			    "   name: db\n");
	free(d);

	/* new, and gone: still only keys */
	d = objdiff(NULL, desired, true, 1);
	assert_no_secret_bytes(d);
	cr_assert_not_null(strstr(d, "+  same: \"(hidden)\""));
	free(d);
	d = objdiff(live, NULL, false, 1);
	assert_no_secret_bytes(d);
	cr_assert_not_null(strstr(d, "+++ (none)\n"));
	cr_assert_not_null(strstr(d, "-  legacy: \"(hidden)\""));
	free(d);
	/* the same values written either way are no change */
	json_object_del(desired, "stringData");
	json_object_set_new(json_object_get(desired, "data"), "same", json_string(same));
	json_object_set_new(json_object_get(desired, "data"), "password", json_string(old));
	json_object_set_new(json_object_get(desired, "data"), "legacy", json_string(gone));
	json_object_del(json_object_get(desired, "data"), "token");
	d = objdiff(live, desired, true, 0);
	cr_assert_str_eq(d, "");
	free(d);

	free(old);
	free(nw);
	free(gone);
	free(fresh);
	free(same);
	json_decref(live);
	json_decref(desired);
}

Test(apply_objdiff, normalize_never_copies_secret_values)
{
	json_t *s = js("{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"x\"},"
		       "\"data\":{\"k\":\"c2VjcmV0\"},\"stringData\":{\"j\":\"secret\"},\"type\":\"Opaque\"}");
	json_t *n = tm_objdiff_normalize(s);

	assert_json(n, "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"x\"},"
		    "\"type\":\"Opaque\"}");
	json_decref(n);
	json_decref(s);
}

Test(apply_objdiff, undecodable_data_is_hidden_and_compared_as_text)
{
	json_t *live = js("{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"data\":{\"k\":\"not base64!\",\"other\":\"abc!\"}}");
	json_t *desired = js("{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"data\":{\"k\":\"not base64!\",\"other\":\"abd!\"}}");
	char *d = objdiff(live, desired, false, 1);

	cr_assert_null(strstr(d, "base64"));
	cr_assert_null(strstr(d, "abc"));
	cr_assert_null(strstr(d, "abd"));
	cr_assert_not_null(strstr(d, "   k: \"(hidden)\"\n"));
	cr_assert_not_null(strstr(d, "+  other: \"(hidden, changed)\"\n"));
	free(d);
	json_decref(live);
	json_decref(desired);
}

Test(apply_objdiff, neither_side_is_invalid)
{
	struct tm_buf out = TM_BUF_INIT("diff", 1024);
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_objdiff(&out, "ConfigMap a/b", NULL, NULL, false, &err), TM_EINVALID);
	cr_assert_str_eq(tm_err_msg(&err), "diff 'ConfigMap a/b': neither a live nor a desired object");
	tm_buf_release(&out);
}
