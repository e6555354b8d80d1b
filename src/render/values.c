/* Values: defaults, overlays, -f files and --set merged as Helm merges them, with the
 * origin (file:line:col or the flag) of every leaf kept beside the tree. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tarmac/doc.h"
#include "render_private.h"

#define MAX_SET_INDEX 10000 /* --set a[N]: pads with nulls up to N */

void tm_values_init(struct tm_values *v)
{
	v->tree = json_object();
	v->origin = json_object();
	v->keys = json_object();
}

void tm_values_init_fast(struct tm_values *v)
{
	v->tree = json_object();
	v->origin = NULL;
	v->keys = NULL;
}

void tm_values_release(struct tm_values *v)
{
	json_decref(v->tree);
	json_decref(v->origin);
	json_decref(v->keys);
	v->tree = v->origin = v->keys = NULL;
}

/* ptr + "/" + token, escaped per RFC 6901. */
static int ptr_push(struct tm_buf *ptr, const char *token, struct tm_err *err)
{
	int rc = tm_buf_puts(ptr, "/", err);

	for (const char *c = token; rc == 0 && *c; c++)
		rc = *c == '~' ? tm_buf_puts(ptr, "~0", err) : *c == '/' ? tm_buf_puts(ptr, "~1", err)
								   : tm_buf_append(ptr, c, 1, err);
	return rc;
}

static void ptr_pop(struct tm_buf *ptr, size_t keep)
{
	ptr->len = keep;
	if (ptr->data)
		ptr->data[keep] = '\0';
}

/* "/<i>" appended to a JSON pointer: list indexes, without printf (one per list item). */
static int ptr_push_index(struct tm_buf *ptr, size_t i, struct tm_err *err)
{
	char num[24], *d = num + sizeof(num);

	do
		*--d = (char)('0' + i % 10);
	while ((i /= 10) > 0);
	*--d = '/';
	return tm_buf_append(ptr, d, (size_t)(num + sizeof(num) - d), err);
}

/* Forgets the origins (of values and keys) of old (the node at ptr, about to be replaced
 * or deleted) and of everything below it. Walks old rather than every origin, so that
 * merging many keys stays linear (origins are only ever recorded at paths of the tree). */
static int drop_origins(struct tm_values *v, json_t *old, struct tm_buf *ptr, struct tm_err *err)
{
	size_t keep = ptr->len, i;
	const char *k;
	json_t *c;
	int rc = 0;

	if (!v->origin || !old)
		return 0;
	json_object_del(v->origin, tm_buf_cstr(ptr));
	if (v->keys)
		json_object_del(v->keys, tm_buf_cstr(ptr));
	if (json_is_object(old)) {
		json_object_foreach(old, k, c) {
			if ((rc = ptr_push(ptr, k, err)) < 0 || (rc = drop_origins(v, c, ptr, err)) < 0)
				return rc;
			ptr_pop(ptr, keep);
		}
	} else if (json_is_array(old)) {
		json_array_foreach(old, i, c) {
			if ((rc = ptr_push_index(ptr, i, err)) < 0 || (rc = drop_origins(v, c, ptr, err)) < 0)
				return rc;
			ptr_pop(ptr, keep);
		}
	}
	return 0;
}

/* The mark of a child (key k, or index i when k is NULL) in a marks tree
 * (tm_doc_parse_yaml_marked); below an alias (a position for a whole collection), the
 * alias's position. */
static json_t *child_mark(json_t *marks, const char *k, size_t i)
{
	if (json_is_string(marks))
		return marks;
	return k ? json_array_get(json_object_get(marks, k), 1) : json_array_get(marks, i);
}

/* Records where the key at ptr (k in a mapping whose marks are marks) was written, when
 * the source said. */
static int add_key_origin(struct tm_values *v, struct tm_buf *ptr, json_t *marks, const char *k, struct tm_err *err)
{
	json_t *at = json_is_string(marks) ? marks : json_array_get(json_object_get(marks, k), 0);

	if (!v->keys || !json_is_string(at))
		return 0;
	return json_object_set(v->keys, tm_buf_cstr(ptr), at) < 0 ? tm_err_set(err, TM_ERROR, "out of memory") : 0;
}

/* Records origins for the leaves of v placed at ptr: from marks (v's marks tree) where
 * the source had them, otherwise the fallback text. */
static int add_origins(struct tm_values *vs, json_t *v, struct tm_buf *ptr, json_t *marks, const char *fallback,
		       struct tm_err *err)
{
	size_t keep = ptr->len, i;
	const char *k;
	json_t *c;
	int rc = 0;

	if (!vs->origin)
		return 0;
	if ((json_is_object(v) && json_object_size(v)) || (json_is_array(v) && json_array_size(v))) {
		if (json_is_object(v)) {
			json_object_foreach(v, k, c) {
				if ((rc = ptr_push(ptr, k, err)) < 0 || (rc = add_key_origin(vs, ptr, marks, k, err)) < 0 ||
				    (rc = add_origins(vs, c, ptr, child_mark(marks, k, 0), fallback, err)) < 0)
					return rc;
				ptr_pop(ptr, keep);
			}
		} else {
			json_array_foreach(v, i, c) {
				if ((rc = ptr_push_index(ptr, i, err)) < 0 ||
				    (rc = add_origins(vs, c, ptr, child_mark(marks, NULL, i), fallback, err)) < 0)
					return rc;
				ptr_pop(ptr, keep);
			}
		}
		return 0;
	}
	{
		json_t *o = json_is_string(marks) ? json_incref(marks) : json_string(fallback);
		if (!o || json_object_set_new(vs->origin, tm_buf_cstr(ptr), o) < 0)
			return tm_err_set(err, TM_ERROR, "out of memory");
	}
	return 0;
}

/* Helm's coalescing: maps merge, anything else replaces, null deletes. */
static int merge(struct tm_values *v, json_t *dst, json_t *src, struct tm_buf *ptr, json_t *marks,
		 const char *fallback, struct tm_err *err)
{
	size_t keep = ptr->len;
	const char *k;
	json_t *sv;
	int rc;

	json_object_foreach(src, k, sv) {
		json_t *dv = json_object_get(dst, k);
		if ((rc = ptr_push(ptr, k, err)) < 0)
			return rc;
		if (json_is_null(sv)) {
			if ((rc = drop_origins(v, dv, ptr, err)) < 0)
				return rc;
			json_object_del(dst, k);
		} else if (json_is_object(sv) && json_is_object(dv)) {
			if ((rc = add_key_origin(v, ptr, marks, k, err)) < 0 ||
			    (rc = merge(v, dv, sv, ptr, child_mark(marks, k, 0), fallback, err)) < 0)
				return rc;
		} else {
			/* taken over, not copied: the document is dropped after the merge and
			 * shares no node (tm_doc_parse_yaml) */
			json_t *copy = json_incref(sv);
			if ((rc = drop_origins(v, dv, ptr, err)) < 0) {
				json_decref(copy);
				return rc;
			}
			if (json_object_set_new(dst, k, copy) < 0)
				return tm_err_set(err, TM_ERROR, "out of memory");
			if ((rc = add_key_origin(v, ptr, marks, k, err)) < 0 ||
			    (rc = add_origins(v, copy, ptr, child_mark(marks, k, 0), fallback, err)) < 0)
				return rc;
		}
		ptr_pop(ptr, keep);
	}
	return 0;
}

int tm_values_merge_yaml(struct tm_values *v, const char *text, size_t len, const char *name, struct tm_err *err)
{
	struct tm_buf ptr = TM_BUF_INIT("values path", 1u << 20);
	json_t *doc = NULL, *marks = NULL;
	int rc;

	rc = v->origin ? tm_doc_parse_yaml_marked(&doc, &marks, text, len, name, err)
		       : tm_doc_parse_yaml(&doc, text, len, name, err);
	if (rc < 0)
		goto out;
	if (json_is_null(doc))
		goto out; /* an empty values file changes nothing */
	if (!json_is_object(doc)) {
		rc = tm_err_set(err, TM_EINVALID, "%s: values must be a mapping at the top, not %s", name,
				json_is_array(doc) ? "a list" : "a single value");
		goto out;
	}
	rc = merge(v, v->tree, doc, &ptr, marks, name, err);
out:
	json_decref(doc);
	json_decref(marks);
	tm_buf_release(&ptr);
	return rc;
}

/* ------------------------------------------------------------------ --set */

/* One step of a --set path: a key, or an index into a list. */
struct step {
	char *key; /* NULL for an index */
	long index;
};

struct setparse {
	const char *flag; /* "--set", "--set-string", "--set-file", for messages */
	const char *arg;  /* the whole argument, for messages */
	const char *p;
	const char *value; /* where the value of the current key=value starts, once known */
	struct tm_err *err;
};

/* A value may be a password: messages show the argument only up to the mistake, and
 * never past the '=' of the value being read. */
static int set_fail(struct setparse *sp, const char *what)
{
	long col = (long)(sp->p - sp->arg) + 1;
	int shown = (int)(sp->value && sp->p >= sp->value ? sp->value - sp->arg : (long)strnlen(sp->arg, (size_t)col));

	return tm_err_set(sp->err, TM_EINVALID, "%s '%.*s%s': %s at column %ld", sp->flag, shown, sp->arg,
			  sp->value && sp->p >= sp->value ? "..." : "", what, col);
}

/* Reads text up to one of the stop characters (unescaped), unescaping '\x' to 'x'. */
static int read_until(struct setparse *sp, const char *stops, struct tm_buf *out)
{
	while (*sp->p && !strchr(stops, *sp->p)) {
		if (*sp->p == '\\') {
			sp->p++;
			if (!*sp->p)
				return set_fail(sp, "a '\\' at the end escapes nothing");
		}
		if (tm_buf_append(out, sp->p, 1, sp->err) < 0)
			return TM_ELIMIT;
		sp->p++;
	}
	return 0;
}

static void free_steps(struct step *steps, int n)
{
	for (int i = 0; i < n; i++)
		free(steps[i].key);
}

/* key ( '.' key | '[' N ']' )* up to '=' (or the end, when allow_end) */
static int parse_key(struct setparse *sp, struct step *steps, int max, int *n, bool allow_end)
{
	*n = 0;
	for (;;) {
		struct tm_buf key = TM_BUF_INIT("--set key", 4096);
		int rc;

		if (*n == max)
			return set_fail(sp, "the key is nested too deeply");
		if ((rc = read_until(sp, ".[=,", &key)) < 0) {
			tm_buf_release(&key);
			return rc;
		}
		if (key.len == 0) {
			tm_buf_release(&key);
			return set_fail(sp, "expected a key name");
		}
		{
			json_t *probe = json_stringn(key.data, key.len); /* jansson checks UTF-8 */
			json_decref(probe);
			if (!probe || strlen(key.data) != key.len) {
				tm_buf_release(&key);
				return set_fail(sp, "the key is not valid UTF-8 text");
			}
		}
		steps[(*n)++] = (struct step){ tm_buf_detach(&key), -1 };
		while (*sp->p == '[') {
			char *end;
			long idx;
			sp->p++;
			errno = 0;
			idx = strtol(sp->p, &end, 10);
			if (end == sp->p || *end != ']' || errno || idx < 0 || idx > MAX_SET_INDEX)
				return set_fail(sp, "expected a list index from 0 to 10000 and ']'");
			sp->p = end + 1;
			if (*n == max)
				return set_fail(sp, "the key is nested too deeply");
			steps[(*n)++] = (struct step){ NULL, idx };
		}
		if (*sp->p == '.') {
			sp->p++;
			continue;
		}
		if (*sp->p == '=' || (allow_end && !*sp->p))
			return 0;
		return set_fail(sp, *sp->p ? "expected '.', '[' or '=' after the key" : "expected '=' and a value");
	}
}

static json_t *typed(const char *s, size_t len, enum tm_set_kind kind)
{
	if (kind == TM_SET_TYPED) {
		char *end;
		long long n;
		if (!strcmp(s, "true"))
			return json_true();
		if (!strcmp(s, "false"))
			return json_false();
		if (!strcmp(s, "null"))
			return json_null();
		/* integers as Helm reads them: no leading zeros, so "0123" stays text */
		errno = 0;
		n = strtoll(s, &end, 10);
		if (len && !*end && !errno && (s[0] != '0' || len == 1) && !(s[0] == '-' && s[1] == '0'))
			return json_integer(n);
	}
	return json_stringn(s, len);
}

/* "{a,b,c}": a list of typed items */
static int parse_list(struct setparse *sp, enum tm_set_kind kind, json_t **out)
{
	struct tm_buf b = TM_BUF_INIT("--set value", TM_VALUES_MAX_FILE);
	json_t *list = json_array();
	int rc = 0;

	if (!list)
		return tm_err_set(sp->err, TM_ERROR, "out of memory");
	sp->p++; /* '{' */
	while (*sp->p != '}') {
		json_t *item;
		tm_buf_clear(&b);
		if ((rc = read_until(sp, ",}", &b)) < 0)
			goto out;
		if (!*sp->p) {
			rc = set_fail(sp, "expected '}' to close the list");
			goto out;
		}
		if (!(item = typed(tm_buf_cstr(&b), b.len, kind)) || json_array_append_new(list, item) < 0) {
			rc = set_fail(sp, "a list item is not valid UTF-8");
			goto out;
		}
		if (*sp->p == ',')
			sp->p++;
	}
	sp->p++; /* '}' */
	if (*sp->p && *sp->p != ',') {
		rc = set_fail(sp, "expected ',' or the end after '}'");
		goto out;
	}
	*out = list;
	list = NULL;
out:
	json_decref(list);
	tm_buf_release(&b);
	return rc;
}

/* A value up to an unescaped ',', or a "{...}" list. */
static int parse_value(struct setparse *sp, enum tm_set_kind kind, json_t **out)
{
	struct tm_buf b = TM_BUF_INIT("--set value", TM_VALUES_MAX_FILE);
	int rc;

	if (*sp->p == '{')
		return parse_list(sp, kind, out);
	if ((rc = read_until(sp, ",", &b)) == 0) {
		*out = typed(tm_buf_cstr(&b), b.len, kind);
		if (!*out)
			rc = set_fail(sp, "the value is not valid UTF-8");
	}
	tm_buf_release(&b);
	return rc;
}

/* Walks steps from the root, creating mappings and lists as needed, and places val
 * (taken over) at the end; a null val deletes. Origins follow. */
static int assign(struct tm_values *v, struct step *steps, int n, json_t *val, const char *origin, struct tm_err *err)
{
	struct tm_buf ptr = TM_BUF_INIT("values path", 1u << 20);
	json_t *cur = v->tree;
	int rc = 0;

	for (int i = 0; i < n && rc == 0; i++) {
		bool last = i + 1 == n;
		char idx[32];
		json_t *next;

		if (steps[i].key) {
			if (!json_is_object(cur)) {
				rc = tm_err_set(err, TM_EINVALID, "%s: '%s' is inside something that is not a mapping", origin,
						steps[i].key);
				break;
			}
			rc = ptr_push(&ptr, steps[i].key, err);
			next = json_object_get(cur, steps[i].key);
		} else {
			if (!json_is_array(cur)) {
				rc = tm_err_set(err, TM_EINVALID, "%s: index [%ld] is used on something that is not a list",
						origin, steps[i].index);
				break;
			}
			snprintf(idx, sizeof(idx), "%ld", steps[i].index);
			rc = ptr_push(&ptr, idx, err);
			/* Helm pads a list with nulls up to the index */
			while (rc == 0 && json_array_size(cur) <= (size_t)steps[i].index)
				rc = json_array_append_new(cur, json_null()) < 0 ? tm_err_set(err, TM_ERROR, "out of memory") : 0;
			next = json_array_get(cur, (size_t)steps[i].index);
		}
		if (rc < 0)
			break;
		if (last) {
			if ((rc = drop_origins(v, next, &ptr, err)) < 0)
				break;
			if (json_is_null(val) && steps[i].key) {
				json_object_del(cur, steps[i].key);
				break;
			}
			rc = steps[i].key ? json_object_set(cur, steps[i].key, val) : json_array_set(cur, (size_t)steps[i].index, val);
			if (rc < 0) {
				rc = tm_err_set(err, TM_ERROR, "out of memory");
				break;
			}
			rc = add_origins(v, val, &ptr, NULL, origin, err);
			break;
		}
		/* a missing step (or a null) becomes what the next step needs */
		if (!next || json_is_null(next)) {
			json_t *made = steps[i + 1].key ? json_object() : json_array();
			/* the container keeps its reference; ours is only borrowed from here */
			if (!made || (steps[i].key ? json_object_set_new(cur, steps[i].key, made)
						   : json_array_set_new(cur, (size_t)steps[i].index, made)) < 0) {
				rc = tm_err_set(err, TM_ERROR, "out of memory");
				break;
			}
			next = made;
		}
		cur = next;
	}
	json_decref(val);
	tm_buf_release(&ptr);
	return rc;
}

int tm_values_set(struct tm_values *v, const char *arg, enum tm_set_kind kind, struct tm_err *err)
{
	const char *flag = kind == TM_SET_STRING ? "--set-string" : "--set";
	struct setparse sp = { flag, arg, arg, NULL, err };

	if (!*arg)
		return tm_err_set(err, TM_EINVALID, "%s needs key=value", flag);
	while (*sp.p) {
		struct step steps[64];
		const char *start = sp.p;
		char *origin = NULL;
		json_t *val = NULL;
		int n = 0, rc;

		sp.value = NULL;
		if ((rc = parse_key(&sp, steps, (int)TM_ARRAY_LEN(steps), &n, false)) == 0) {
			sp.p++; /* '=' */
			sp.value = sp.p;
			rc = parse_value(&sp, kind, &val);
		}
		if (rc < 0) {
			free_steps(steps, n);
			return rc;
		}
		/* the origin names the key, never the value (it may be a password) */
		if (asprintf(&origin, "%s %.*s", flag, (int)(sp.value - 1 - start), start) < 0) {
			free_steps(steps, n);
			json_decref(val);
			return tm_err_set(err, TM_ERROR, "out of memory");
		}
		rc = assign(v, steps, n, val, origin, err);
		free(origin);
		free_steps(steps, n);
		if (rc < 0)
			return rc;
		if (*sp.p == ',')
			sp.p++;
	}
	return 0;
}

int tm_values_set_text(struct tm_values *v, const char *key, const char *text, size_t len, const char *origin,
		       struct tm_err *err)
{
	struct setparse sp = { "--set-file", key, key, NULL, err };
	struct step steps[64];
	json_t *val;
	int n = 0, rc;

	if ((rc = parse_key(&sp, steps, (int)TM_ARRAY_LEN(steps), &n, true)) < 0 || *sp.p) {
		free_steps(steps, n);
		return rc < 0 ? rc : tm_err_set(err, TM_EINVALID, "%s: expected only a key", origin);
	}
	if (memchr(text, '\0', len)) {
		free_steps(steps, n);
		return tm_err_set(err, TM_EINVALID, "%s: the content holds a NUL character at byte %zu (values are text)",
				  origin, (size_t)((const char *)memchr(text, '\0', len) - text));
	}
	if (!(val = json_stringn(text, len))) {
		free_steps(steps, n);
		return tm_err_set(err, TM_EINVALID, "%s: the content is not valid UTF-8 text", origin);
	}
	rc = assign(v, steps, n, val, origin, err);
	free_steps(steps, n);
	return rc;
}
