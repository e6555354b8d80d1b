/* JSON values out as YAML text, path lookups, and RFC 7386 merge patches: deterministic (sorted keys), and quoting any string
 * that a YAML 1.1 reader (Kubernetes' go-yaml) or a 1.2 reader could misread. */
#include <stdarg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tarmac/doc.h"

int tm_doc_emit_scalar(struct tm_buf *out, json_t *v, struct tm_err *err)
{
	char tmp[64];

	switch (json_typeof(v)) {
	case JSON_INTEGER:
		return tm_buf_printf(out, err, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	case JSON_REAL: {
		double d = json_real_value(v);
		/* the shortest text that reads back as the same double */
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
			if (strtod(tmp, NULL) == d)
				break;
		}
		/* keep it a float for YAML readers: 2.0 stays "2.0", not the integer "2" */
		if (!strpbrk(tmp, ".eEn"))
			strncat(tmp, ".0", sizeof(tmp) - strlen(tmp) - 1);
		return tm_buf_puts(out, tmp, err);
	}
	case JSON_TRUE:
		return tm_buf_puts(out, "true", err);
	case JSON_FALSE:
		return tm_buf_puts(out, "false", err);
	case JSON_NULL:
		return tm_buf_puts(out, "null", err);
	default:
		return tm_err_set(err, TM_EINVALID, "not a scalar");
	}
}

/* Escapes what a double-quoted scalar cannot hold as it is: quotes, backslashes, line
 * breaks (NEL, LS, PS too), and the controls YAML readers refuse in a stream (C0, DEL, C1,
 * U+FFFE, U+FFFF). */
int tm_doc_yaml_escape(struct tm_buf *out, const char *s, size_t len, struct tm_err *err)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"':
			rc = tm_buf_puts(out, "\\\"", err);
			break;
		case '\\':
			rc = tm_buf_puts(out, "\\\\", err);
			break;
		case '\n':
			rc = tm_buf_puts(out, "\\n", err);
			break;
		case '\t':
			rc = tm_buf_puts(out, "\\t", err);
			break;
		case '\r':
			rc = tm_buf_puts(out, "\\r", err);
			break;
		default:
			/* NEL, LS and PS are line breaks to YAML readers: escape them too */
			if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] == 0x85) {
				rc = tm_buf_puts(out, "\\N", err);
				i++;
			} else if (c == 0xe2 && i + 2 < len && (unsigned char)s[i + 1] == 0x80 &&
				   ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9)) {
				rc = tm_buf_puts(out, (unsigned char)s[i + 2] == 0xa8 ? "\\L" : "\\P", err);
				i += 2;
			} else if (c < 0x20 || c == 0x7f) {
				rc = tm_buf_printf(out, err, "\\x%02x", c);
			} else if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] < 0xa0) {
				rc = tm_buf_printf(out, err, "\\x%02x", (unsigned char)s[i + 1]); /* C1 controls */
				i++;
			} else if (c == 0xef && i + 2 < len && (unsigned char)s[i + 1] == 0xbf &&
				   (unsigned char)s[i + 2] >= 0xbe) {
				rc = tm_buf_printf(out, err, "\\u%04x", 0xffc0u + ((unsigned char)s[i + 2] & 0x3f));
				i += 2;
			} else {
				rc = tm_buf_append(out, &s[i], 1, err);
			}
		}
	}
	return rc;
}

int tm_doc_yaml_quote(struct tm_buf *out, const char *s, size_t len, struct tm_err *err)
{
	int rc = tm_buf_puts(out, "\"", err);

	if (rc == 0)
		rc = tm_doc_yaml_escape(out, s, len, err);
	return rc ? rc : tm_buf_puts(out, "\"", err);
}

/* Words YAML 1.1 reads as booleans or null, in any of their spellings. */
static bool reserved_word(const char *s)
{
	static const char *const words[] = { "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~" };
	char low[8];
	size_t n = strlen(s);

	if (n == 0 || n >= sizeof(low))
		return n == 0;
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
	for (size_t i = 0; i < TM_ARRAY_LEN(words); i++)
		if (strcmp(low, words[i]) == 0)
			return true;
	return false;
}

/* Plain (unquoted) only for text that cannot be anything else: it starts with a letter,
 * '/' or '_' and holds only letters, digits and "_./-"; numbers-like text is quoted. */
static bool plain_safe(const char *s, size_t len)
{
	if (len == 0 || strlen(s) != len || reserved_word(s))
		return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '/' || s[0] == '_'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("_./-", c)))
			return false;
	}
	return true;
}

/* Multi-line text reads best as a literal block ("|"), as a ConfigMap's airflow.cfg
 * should; only when every character survives one unchanged. */
static bool literal_ok(const char *s, size_t len)
{
	if (len == 0 || strlen(s) != len || !memchr(s, '\n', len) || s[0] == ' ' || s[0] == '\n')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
			return false;
		if ((c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] == 0x85) ||
		    (c == 0xe2 && i + 2 < len && (unsigned char)s[i + 1] == 0x80 &&
		     ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9)))
			return false; /* NEL, LS, PS: a reader would break the line there */
		if (c == ' ' && (i + 1 == len || s[i + 1] == '\n'))
			return false; /* trailing spaces on a line: editors eat them; quote instead */
	}
	return true;
}

static int pad(struct tm_buf *out, int n, struct tm_err *err);

static int emit_literal(struct tm_buf *out, const char *s, size_t len, int indent, struct tm_err *err)
{
	size_t trailing = 0;
	const char *chomp;
	int rc;

	while (trailing < len && s[len - 1 - trailing] == '\n')
		trailing++;
	chomp = trailing == 0 ? "|-" : trailing == 1 ? "|" : "|+";
	rc = tm_buf_puts(out, chomp, err);
	/* the content lines are the text less its final newline (the line break that ends
	 * the block supplies it); "|+" keeps the rest as empty lines */
	len -= trailing ? 1 : 0;
	for (size_t i = 0; rc == 0;) {
		const char *nl = memchr(s + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - s) : len;
		rc = tm_buf_puts(out, "\n", err);
		if (rc == 0 && end > i)
			rc = pad(out, indent, err);
		if (rc == 0)
			rc = tm_buf_append(out, s + i, end - i, err);
		if (!nl)
			break;
		i = end + 1;
	}
	return rc;
}

static int emit_string(struct tm_buf *out, json_t *v, int indent, struct tm_err *err)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);

	if (plain_safe(s, len))
		return tm_buf_append(out, s, len, err);
	if (indent >= 0 && literal_ok(s, len))
		return emit_literal(out, s, len, indent, err);
	return tm_doc_yaml_quote(out, s, len, err);
}

static int pad(struct tm_buf *out, int n, struct tm_err *err)
{
	static const char spaces[] = "                                                                ";
	int rc = 0;

	while (rc == 0 && n > 0) {
		int k = n > 64 ? 64 : n;
		rc = tm_buf_append(out, spaces, (size_t)k, err);
		n -= k;
	}
	return rc;
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool is_block(json_t *v)
{
	return (json_is_object(v) && json_object_size(v) > 0) || (json_is_array(v) && json_array_size(v) > 0);
}

static int emit(struct tm_buf *out, json_t *v, int indent, bool first_inline, int depth, struct tm_err *err);

/* A mapping's entries, each on its own line at indent (the first one inline when the
 * caller already wrote the indentation, as after "- "). */
static int emit_object(struct tm_buf *out, json_t *v, int indent, bool first_inline, int depth, struct tm_err *err)
{
	size_t n = json_object_size(v), i = 0;
	const char **keys = malloc(n * sizeof(*keys));
	const char *k;
	json_t *c;
	int rc = 0;

	if (!keys)
		return tm_err_set(err, TM_ERROR, "out of memory");
	json_object_foreach(v, k, c) keys[i++] = k;
	qsort(keys, n, sizeof(*keys), cmp_keys);
	for (i = 0; rc == 0 && i < n; i++) {
		json_t *child = json_object_get(v, keys[i]);
		json_t *kv = json_string(keys[i]);

		if (!kv) {
			rc = tm_err_set(err, TM_ERROR, "out of memory");
			break;
		}
		if (i > 0)
			rc = tm_buf_puts(out, "\n", err);
		if (rc == 0 && (i > 0 || !first_inline))
			rc = pad(out, indent, err);
		if (rc == 0)
			rc = emit_string(out, kv, -1, err); /* keys: never a block */
		json_decref(kv);
		if (rc == 0)
			rc = tm_buf_puts(out, is_block(child) ? ":\n" : ": ", err);
		if (rc < 0)
			break;
		/* lists sit at the key's indent (as kubectl writes them), mappings two deeper */
		if (is_block(child))
			rc = emit(out, child, json_is_array(child) ? indent : indent + 2, false, depth + 1, err);
		else
			rc = emit(out, child, indent + 2, false, depth + 1, err);
	}
	free(keys);
	return rc;
}

static int emit_array(struct tm_buf *out, json_t *v, int indent, bool first_inline, int depth, struct tm_err *err)
{
	size_t i;
	json_t *c;
	int rc = 0;

	json_array_foreach(v, i, c) {
		if (i > 0 && (rc = tm_buf_puts(out, "\n", err)) < 0)
			return rc;
		if ((i > 0 || !first_inline) && (rc = pad(out, indent, err)) < 0)
			return rc;
		if ((rc = tm_buf_puts(out, "- ", err)) < 0)
			return rc;
		if ((rc = emit(out, c, indent + 2, true, depth + 1, err)) < 0)
			return rc;
	}
	return 0;
}

static int emit(struct tm_buf *out, json_t *v, int indent, bool first_inline, int depth, struct tm_err *err)
{
	if (depth > 200)
		return tm_err_set(err, TM_ELIMIT, "value nested deeper than 200 levels");
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (json_object_size(v) == 0)
			return tm_buf_puts(out, "{}", err);
		return emit_object(out, v, indent, first_inline, depth, err);
	case JSON_ARRAY:
		if (json_array_size(v) == 0)
			return tm_buf_puts(out, "[]", err);
		return emit_array(out, v, indent, first_inline, depth, err);
	case JSON_STRING:
		return emit_string(out, v, indent, err);
	default:
		return tm_doc_emit_scalar(out, v, err);
	}
}

int tm_doc_emit_yaml(struct tm_buf *out, json_t *v, int indent, struct tm_err *err)
{
	int rc = 0;

	if (is_block(v))
		rc = pad(out, indent, err);
	return rc ? rc : emit(out, v, indent, true, 0, err);
}

json_t *tm_doc_get(const json_t *v, ...)
{
	va_list ap;
	const char *key;

	va_start(ap, v);
	while (v && (key = va_arg(ap, const char *)))
		v = json_object_get(v, key);
	va_end(ap);
	/* jansson's getters hand out non-const pointers from const objects too */
	return (json_t *)v;
}

int tm_doc_merge_patch(json_t **target, json_t *patch)
{
	const char *k;
	json_t *v;

	if (!json_is_object(patch)) {
		json_t *copy = json_deep_copy(patch);
		if (!copy)
			return TM_ERROR;
		json_decref(*target);
		*target = copy;
		return 0;
	}
	if (!json_is_object(*target)) {
		json_t *fresh = json_object();
		if (!fresh)
			return TM_ERROR;
		json_decref(*target);
		*target = fresh;
	}
	json_object_foreach(patch, k, v) {
		if (json_is_null(v)) {
			json_object_del(*target, k);
			continue;
		}
		json_t *cur = json_incref(json_object_get(*target, k));
		if (!cur)
			cur = json_null();
		if (tm_doc_merge_patch(&cur, v) < 0 || json_object_set_new(*target, k, cur) < 0)
			return TM_ERROR;
	}
	return 0;
}
