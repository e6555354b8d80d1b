/* Values checked against bundle/values.schema.yaml (a subset of JSON Schema: type,
 * enum, minimum, maximum, minLength, maxLength, required, properties,
 * additionalProperties, propertyNames, items, description, and format k8s-name or
 * dns-label for names, commit-id for a full git commit id). Every problem names the file:line:col
 * that set the value, and an unknown key gets the nearest known one. */
#include <stdlib.h>
#include <string.h>

#include "tarmac/doc.h"
#include "render_private.h"

#define MAX_PROBLEMS 20

struct checker {
	const struct tm_values *v;
	bool allow_unknown;
	size_t nproblems; /* counted even when a message could not be kept */
	json_t *problems; /* array of strings */
	json_t *unknown;  /* array of strings: ignored keys, when allowed */
	struct tm_buf ptr;
	struct tm_err *err;
};

/* "scheduler.replicas" from "/scheduler/replicas" (for messages) */
static void dotted(const char *ptr, char *out, size_t n)
{
	size_t o = 0;

	for (const char *p = ptr; *p && o + 1 < n; p++) {
		if (*p == '/') {
			if (p != ptr)
				out[o++] = '.';
		} else if (*p == '~' && (p[1] == '0' || p[1] == '1')) {
			out[o++] = p[1] == '0' ? '~' : '/';
			p++;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
	if (o == 0)
		snprintf(out, n, "(the values)");
}

/* The node at an RFC 6901 pointer in v, or NULL. */
static json_t *at_pointer(json_t *v, const char *ptr)
{
	char tok[1024];

	while (v && *ptr == '/') {
		size_t n = 0;
		for (ptr++; *ptr && *ptr != '/'; ptr++) {
			char c = *ptr;
			if (c == '~' && (ptr[1] == '0' || ptr[1] == '1'))
				c = *++ptr == '0' ? '~' : '/';
			if (n + 1 < sizeof(tok))
				tok[n++] = c;
		}
		tok[n] = '\0';
		v = json_is_object(v) ? json_object_get(v, tok)
		    : json_is_array(v) ? json_array_get(v, strtoul(tok, NULL, 10)) : NULL;
	}
	return v;
}

/* The smallest pointer at or below ptr (the node v) that has an origin, into *best (a
 * key of origin). Walks v, not every origin: linear in what is below ptr. */
static void first_origin(json_t *origin, json_t *v, struct tm_buf *ptr, const char **best)
{
	void *it = json_object_iter_at(origin, tm_buf_cstr(ptr));
	size_t keep = ptr->len, i;
	const char *k;
	json_t *c;

	if (it && (!*best || strcmp(json_object_iter_key(it), *best) < 0))
		*best = json_object_iter_key(it);
	json_object_foreach(json_is_object(v) ? v : NULL, k, c) {
		if (tm_buf_puts(ptr, "/", NULL) < 0)
			return;
		for (const char *q = k; *q; q++)
			if ((*q == '~' ? tm_buf_puts(ptr, "~0", NULL) : *q == '/' ? tm_buf_puts(ptr, "~1", NULL)
										 : tm_buf_append(ptr, q, 1, NULL)) < 0)
				return;
		first_origin(origin, c, ptr, best);
		ptr->len = keep;
		ptr->data[keep] = '\0';
	}
	json_array_foreach(json_is_array(v) ? v : NULL, i, c) {
		if (tm_buf_printf(ptr, NULL, "/%zu", i) < 0)
			return;
		first_origin(origin, c, ptr, best);
		ptr->len = keep;
		ptr->data[keep] = '\0';
	}
}

/* Where the value at ptr came from: its own origin, or the first origin below it. */
static const char *where(const struct checker *c, const char *ptr)
{
	json_t *o = json_object_get(c->v->origin, ptr);
	struct tm_buf walk = TM_BUF_INIT("values path", 1u << 20);
	const char *best = NULL;

	if (o)
		return json_string_value(o);
	if (c->v->origin && tm_buf_puts(&walk, ptr, NULL) == 0)
		first_origin(c->v->origin, at_pointer(c->v->tree, ptr), &walk, &best);
	tm_buf_release(&walk);
	return best ? json_string_value(json_object_get(c->v->origin, best)) : "values";
}

/* Where the key at ptr was written (an unknown key is named there, not where its value
 * starts); a key without a recorded position falls back on where its value came from. */
static const char *key_where(const struct checker *c, const char *ptr)
{
	json_t *o = c->v->keys ? json_object_get(c->v->keys, ptr) : NULL;

	return o ? json_string_value(o) : where(c, ptr);
}

/* Records a problem about the value at `about`, placed at `at` (a file:line:col). */
static int problem_at(struct checker *c, const char *at, const char *about, const char *fmt, const char *a,
		      const char *b)
{
	char name[512], msg[1024];

	json_t *text;

	if (c->nproblems++ >= MAX_PROBLEMS)
		return 0;
	dotted(about, name, sizeof(name));
	snprintf(msg, sizeof(msg), fmt, a ? a : "", b ? b : "");
	text = json_sprintf("%s: %s: %s", at, name, msg);
	/* a cut inside a UTF-8 character makes the text invalid: keep the problem anyway */
	if (!text)
		text = json_sprintf("%s: a value that is not valid UTF-8 text, or too long to show", at);
	if (!text || json_array_append_new(c->problems, text) < 0)
		return tm_err_set(c->err, TM_ERROR, "out of memory");
	return 0;
}

/* A problem with the value being checked now. */
static int problem(struct checker *c, const char *fmt, const char *a, const char *b)
{
	return problem_at(c, where(c, tm_buf_cstr(&c->ptr)), tm_buf_cstr(&c->ptr), fmt, a, b);
}

static const char *type_of(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	default:
		return "null";
	}
}

static bool type_ok(json_t *v, const char *t)
{
	const char *have = type_of(v);

	return strcmp(have, t) == 0 || (strcmp(t, "number") == 0 && strcmp(have, "integer") == 0);
}

static int check(struct checker *c, json_t *v, json_t *schema, int depth);

/* "a number from 1 to 10", "a number of at least 1", "text of at most 63 characters". */
static void bounds(char *out, size_t n, const json_t *mn, const json_t *mx, const char *what, const char *unit)
{
	if (json_is_number(mn) && json_is_number(mx))
		snprintf(out, n, "%s %s%g to %g%s", what, strcmp(what, "a number") == 0 ? "from " : "", json_number_value(mn),
			 json_number_value(mx), unit);
	else if (json_is_number(mn))
		snprintf(out, n, "%s at least %g%s", what, json_number_value(mn), unit);
	else
		snprintf(out, n, "%s at most %g%s", what, json_number_value(mx), unit);
}

/* executor: one of Airflow 3's executors, or a comma-separated list of them (Airflow 3
 * runs several; the first is the default), each named once; the chart's hybrid
 * CeleryKubernetesExecutor only alone (the stack writes it as the list). A dotted
 * module path names a custom executor. NULL when s fits. */
static const char *executors_problem(const char *s)
{
	static const char *const known[] = { "LocalExecutor", "CeleryExecutor", "KubernetesExecutor" };
	const char *p = s;

	if (strcmp(s, "CeleryKubernetesExecutor") == 0)
		return NULL;
	if (!*s)
		return "an executor";
	while (*p) {
		size_t n = strcspn(p, ","), k;
		bool ok = memchr(p, '.', n) && !memchr(p, ' ', n);

		for (k = 0; k < TM_ARRAY_LEN(known) && !ok; k++)
			ok = strlen(known[k]) == n && strncmp(p, known[k], n) == 0;
		if (!ok || n == 0)
			return "LocalExecutor, CeleryExecutor, KubernetesExecutor (or a module.Class path), "
			       "or a comma-separated list of them without spaces (CeleryKubernetesExecutor only alone: "
			       "Airflow 3 runs it as CeleryExecutor,KubernetesExecutor)";
		for (const char *q = s; q < p; q += strcspn(q, ",") + 1)
			if (strcspn(q, ",") == n && strncmp(q, p, n) == 0)
				return "each executor once in the list";
		p += n;
		if (*p == ',' && !*++p)
			return "a list that does not end with a comma";
	}
	return NULL;
}

/* "format": what a name must look like before it goes into an object or an API path.
 * NULL when s fits; else what was expected. */
static const char *format_problem(json_t *schema, const char *s)
{
	const char *f = json_string_value(json_object_get(schema, "format"));

	if (!f)
		return NULL;
	if (strcmp(f, "k8s-name") == 0)
		return tm_is_dns_subdomain(s) ? NULL : "a Kubernetes object name (lowercase letters, digits, '-' and '.', "
						       "starting and ending alphanumeric, at most 253 characters)";
	if (strcmp(f, "dns-label") == 0)
		return tm_is_dns_label(s, 63) ? NULL : "a DNS label (lowercase letters, digits and '-', starting and "
						       "ending alphanumeric, at most 63 characters)";
	if (strcmp(f, "cfg-value") == 0)
		return strstr(s, "{{") ? "a value as airflow.cfg takes it: this is Helm template text ('{{'), which tarmac "
					 "does not evaluate; write the value itself (the executor, dags_folder, StatsD and "
					 "the pod template file tarmac sets by itself: leave those out)"
		       : strpbrk(s, "\r\n") ? "one line (airflow.cfg takes no line break in a value)" : NULL;
	if (strcmp(f, "executors") == 0)
		return executors_problem(s);
	if (strcmp(f, "commit-id") == 0)
		return strlen(s) == 40 && strspn(s, "0123456789abcdef") == 40 ? NULL
			: "a full commit id (40 lowercase hex digits)";
	return "a value of a format this tarmac does not know (a schema mistake)";
}

static int check_object(struct checker *c, json_t *v, json_t *schema, int depth)
{
	json_t *props = json_object_get(schema, "properties"), *addl = json_object_get(schema, "additionalProperties");
	json_t *req = json_object_get(schema, "required"), *sv, *r;
	size_t keep = c->ptr.len, i;
	const char *k;
	int rc;

	json_array_foreach(req, i, r) {
		if (json_is_string(r) && !json_object_get(v, json_string_value(r)))
			problem(c, "the key '%s' is required%s", json_string_value(r), NULL);
	}
	json_object_foreach(v, k, sv) {
		json_t *sub = json_object_get(props, k);
		if ((rc = tm_buf_puts(&c->ptr, "/", c->err)) < 0)
			return rc;
		for (const char *q = k; *q; q++)
			if ((rc = *q == '~' ? tm_buf_puts(&c->ptr, "~0", c->err) : *q == '/' ? tm_buf_puts(&c->ptr, "~1", c->err)
									      : tm_buf_append(&c->ptr, q, 1, c->err)) < 0)
				return rc;
		if (json_is_object(json_object_get(schema, "propertyNames"))) {
			const char *want = format_problem(json_object_get(schema, "propertyNames"), k);
			if (want)
				problem(c, "the key must be %s, got '%s'", want, k);
		}
		if (!sub && json_is_object(addl))
			sub = addl;
		if (!sub && !json_is_false(addl)) {
			/* no additionalProperties: anything goes below this key */
		} else if (!sub) {
			char name[512];
			dotted(tm_buf_cstr(&c->ptr), name, sizeof(name));
			if (c->allow_unknown) {
				json_array_append_new(c->unknown, json_sprintf("%s: %s", key_where(c, tm_buf_cstr(&c->ptr)), name));
			} else {
				/* "did you mean": the nearest property name */
				const char *pk, *best = NULL;
				json_t *px;
				int bestd = 3;
				json_object_foreach(props, pk, px) {
					int d = tm_edit_distance(k, pk, 2);
					if (d < bestd) {
						bestd = d;
						best = pk;
					}
				}
				/* placed at the key's own line, named by its parent */
				char *parent = strndup(tm_buf_cstr(&c->ptr), keep);
				if (!parent)
					return tm_err_set(c->err, TM_ERROR, "out of memory");
				if (best)
					problem_at(c, key_where(c, tm_buf_cstr(&c->ptr)), parent, "unknown key '%s' (did you mean '%s'?)", k, best);
				else
					problem_at(c, key_where(c, tm_buf_cstr(&c->ptr)), parent, "unknown key '%s'%s", k, NULL);
				free(parent);
			}
		} else if ((rc = check(c, sv, sub, depth + 1)) < 0) {
			return rc;
		}
		c->ptr.len = keep;
		if (c->ptr.data)
			c->ptr.data[keep] = '\0';
	}
	return 0;
}

static int check(struct checker *c, json_t *v, json_t *schema, int depth)
{
	json_t *t = json_object_get(schema, "type"), *en = json_object_get(schema, "enum"), *x;
	size_t i;

	if (depth > 64)
		return tm_err_set(c->err, TM_ELIMIT, "values schema nested too deeply");
	if (json_is_string(t) && !type_ok(v, json_string_value(t))) {
		return problem(c, "expected %s, got %s", json_string_value(t), type_of(v));
	}
	if (json_is_array(t)) {
		bool ok = false;
		json_array_foreach(t, i, x) ok |= json_is_string(x) && type_ok(v, json_string_value(x));
		if (!ok) {
			char *want = json_dumps(t, JSON_COMPACT);
			problem(c, "expected one of the types %s, got %s", want, type_of(v));
			free(want);
			return 0;
		}
	}
	if (json_is_array(en)) {
		bool ok = false;
		json_array_foreach(en, i, x) ok |= json_equal(x, v);
		if (!ok) {
			char *want = json_dumps(en, JSON_COMPACT), *got = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			problem(c, "expected one of %s, got %s", want, got);
			free(want);
			free(got);
			return 0;
		}
	}
	if (json_is_number(v)) {
		json_t *mn = json_object_get(schema, "minimum"), *mx = json_object_get(schema, "maximum");
		if ((json_is_number(mn) && json_number_value(v) < json_number_value(mn)) ||
		    (json_is_number(mx) && json_number_value(v) > json_number_value(mx))) {
			char want[128], got[64];
			bounds(want, sizeof(want), mn, mx, "a number", "");
			snprintf(got, sizeof(got), "%g", json_number_value(v));
			return problem(c, "expected %s, got %s", want, got);
		}
	}
	if (json_is_string(v)) {
		json_t *mn = json_object_get(schema, "minLength"), *mx = json_object_get(schema, "maxLength");
		size_t len = json_string_length(v);
		if ((json_is_integer(mn) && len < (size_t)json_integer_value(mn)) ||
		    (json_is_integer(mx) && len > (size_t)json_integer_value(mx))) {
			char want[128], got[64];
			bounds(want, sizeof(want), mn, mx, "text of", " characters");
			snprintf(got, sizeof(got), "%zu", len);
			return problem(c, "expected %s, got %s", want, got);
		}
	}
	if (json_is_string(v)) {
		const char *want = format_problem(schema, json_string_value(v));
		if (want)
			return problem(c, "expected %s, got '%s'", want, json_string_value(v));
	}
	if (json_is_object(v))
		return check_object(c, v, schema, depth);
	if (json_is_array(v) && json_is_object(json_object_get(schema, "items"))) {
		size_t keep = c->ptr.len;
		json_array_foreach(v, i, x) {
			int rc;
			char idx[24];
			int n = snprintf(idx, sizeof(idx), "/%zu", i);
			if ((rc = tm_buf_append(&c->ptr, idx, (size_t)n, c->err)) < 0 ||
			    (rc = check(c, x, json_object_get(schema, "items"), depth + 1)) < 0)
				return rc;
			c->ptr.len = keep;
			c->ptr.data[keep] = '\0';
		}
	}
	return 0;
}

int tm_values_validate(const struct tm_values *v, json_t *schema, bool allow_unknown, json_t **ignored,
		       struct tm_err *err)
{
	struct checker c = { .v = v, .allow_unknown = allow_unknown, .err = err };
	struct tm_buf msg = TM_BUF_INIT("values problems", 64 * 1024);
	size_t i, n;
	json_t *p;
	int rc;

	tm_buf_init(&c.ptr, "values path", 1u << 20);
	c.problems = json_array();
	c.unknown = json_array();
	if (!c.problems || !c.unknown) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	if ((rc = check(&c, v->tree, schema, 0)) < 0)
		goto out;
	n = c.nproblems;
	if (n == 0) {
		if (ignored) {
			*ignored = c.unknown;
			c.unknown = NULL;
		}
		goto out;
	}
	if (n == 1 && json_array_size(c.problems) == 1) {
		rc = tm_err_set(err, TM_EINVALID, "%s", json_string_value(json_array_get(c.problems, 0)));
		goto out;
	}
	json_array_foreach(c.problems, i, p) {
		if (tm_buf_printf(&msg, NULL, "\n  %s", json_string_value(p)) < 0)
			break;
	}
	rc = tm_err_set(err, TM_EINVALID, "%zu problems in the values%s:%s", n,
			n > MAX_PROBLEMS ? " (the first 20)" : "", tm_buf_cstr(&msg));
out:
	json_decref(c.problems);
	json_decref(c.unknown);
	tm_buf_release(&c.ptr);
	tm_buf_release(&msg);
	return rc;
}
