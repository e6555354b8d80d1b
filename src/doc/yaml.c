/* YAML -> jansson over libyaml's event parser: core-schema scalars, aliases copied
 * under a budget (no "billion laughs"), merge keys, and errors that say file:line:col. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "tarmac/doc.h"

struct anchor {
	char *name;
	json_t *node;
	size_t nodes; /* size of the subtree, charged to the alias budget on each use */
};

struct yparser {
	yaml_parser_t p;
	yaml_event_t ev;
	bool have_ev;
	const char *name;
	struct anchor *anchors;
	size_t nanchors, capanchors;
	json_t *anchor_index; /* name -> index into anchors: lookups stay O(1) however many */
	const char *text;     /* the input, to place reader errors */
	size_t len;
	size_t alias_nodes;
	struct tm_err *err;
	bool share_aliases;   /* an alias is the anchored node itself (read-only trees) */
	json_t *marks;        /* JSON pointer -> "name:line:col", or NULL when not wanted */
	struct tm_buf pos;    /* "name:" then a position, for marks */
	size_t name_len;
	bool name_utf8;
	struct tm_buf path;   /* JSON pointer of the node being parsed */
};

static int fail_at(struct yparser *y, int code, const yaml_mark_t *m, const char *what, const char *detail)
{
	return tm_err_set(y->err, code, "%s:%zu:%zu: %s%s%s", y->name, m->line + 1, m->column + 1, what,
			  detail ? ": " : "", detail ? detail : "");
}

/* libyaml's reader errors (bad UTF-8, control characters) carry a byte offset, not a
 * mark: the line and column (in characters, as libyaml counts) of that offset. */
static yaml_mark_t mark_of_offset(const struct yparser *y, size_t offset)
{
	yaml_mark_t m = { 0 };
	const unsigned char *t = (const unsigned char *)y->text;

	for (size_t i = 0; i < offset && i < y->len; i++) {
		bool nel = t[i] == 0xc2 && i + 1 < y->len && t[i + 1] == 0x85;
		bool lsps = t[i] == 0xe2 && i + 2 < y->len && t[i + 1] == 0x80 && (t[i + 2] == 0xa8 || t[i + 2] == 0xa9);
		if (t[i] == '\n' || (t[i] == '\r' && !(i + 1 < y->len && t[i + 1] == '\n')) || nel || lsps) {
			m.line++;
			m.column = 0;
			i += nel ? 1 : lsps ? 2 : 0;
		} else if ((t[i] & 0xc0) != 0x80) {
			m.column++; /* one per character: continuation bytes do not count */
		}
	}
	m.index = offset;
	return m;
}

static int next_event(struct yparser *y)
{
	if (y->have_ev)
		yaml_event_delete(&y->ev);
	y->have_ev = false;
	if (!yaml_parser_parse(&y->p, &y->ev)) {
		const char *problem = y->p.problem ? y->p.problem : "malformed YAML";
		if (y->p.error == YAML_READER_ERROR) {
			yaml_mark_t at = mark_of_offset(y, y->p.problem_offset);
			char detail[32];
			if (y->p.problem_value >= 0)
				snprintf(detail, sizeof(detail), "#x%X", (unsigned)y->p.problem_value);
			return fail_at(y, TM_EINVALID, &at, problem, y->p.problem_value >= 0 ? detail : NULL);
		}
		return fail_at(y, TM_EINVALID, &y->p.problem_mark, problem, y->p.context);
	}
	y->have_ev = true;
	return 0;
}

static size_t count_nodes(json_t *v)
{
	size_t n = 1, i;
	const char *k;
	json_t *c;

	if (json_is_object(v))
		json_object_foreach(v, k, c) n += count_nodes(c);
	else if (json_is_array(v))
		json_array_foreach(v, i, c) n += count_nodes(c);
	return n;
}

/* Appends "/<token>" to the current JSON pointer (RFC 6901: '~' -> ~0, '/' -> ~1);
 * returns the length to restore afterwards, or -1 when out of room. */
static long push_path(struct yparser *y, const char *token, size_t len)
{
	size_t keep = y->path.len;

	if (!y->marks)
		return (long)keep;
	if (tm_buf_puts(&y->path, "/", y->err) < 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		const char *rep = token[i] == '~' ? "~0" : token[i] == '/' ? "~1" : NULL;
		if ((rep ? tm_buf_puts(&y->path, rep, y->err) : tm_buf_append(&y->path, &token[i], 1, y->err)) < 0)
			return -1;
	}
	return (long)keep;
}

static void pop_path(struct yparser *y, long keep)
{
	if (y->marks && keep >= 0) {
		y->path.len = (size_t)keep;
		if (y->path.data)
			y->path.data[keep] = '\0';
	}
}

/* Writes n in decimal at the end of buf; returns where the digits start. */
static char *decimal(char *end, size_t n)
{
	*--end = '\0';
	do
		*--end = (char)('0' + n % 10);
	while ((n /= 10) > 0);
	return end;
}

/* "name:line:col" for every node: formatted by hand, as there is one per node of a
 * values file (hundreds of thousands in a hostile one). */
static int mark(struct yparser *y, const yaml_mark_t *m)
{
	char num[24];
	json_t *v;

	if (!y->marks)
		return 0;
	y->pos.len = y->name_len;
	if (tm_buf_puts(&y->pos, ":", y->err) < 0 || tm_buf_puts(&y->pos, decimal(num + sizeof(num), m->line + 1), y->err) < 0 ||
	    tm_buf_puts(&y->pos, ":", y->err) < 0 || tm_buf_puts(&y->pos, decimal(num + sizeof(num), m->column + 1), y->err) < 0)
		return TM_ELIMIT;
	/* a file name that is not UTF-8 cannot be a JSON string: keep the position alone */
	v = y->name_utf8 ? json_stringn_nocheck(y->pos.data, y->pos.len)
			 : json_sprintf("line %zu, column %zu", m->line + 1, m->column + 1);
	if (!v || json_object_set_new(y->marks, tm_buf_cstr(&y->path), v) < 0)
		return tm_err_set(y->err, TM_ERROR, "%s: out of memory", y->name);
	return 0;
}

static int remember_anchor(struct yparser *y, const char *name, json_t *node)
{
	json_t *at = json_object_get(y->anchor_index, name);
	struct anchor *a;

	if (at) { /* a later anchor of the same name wins */
		a = &y->anchors[json_integer_value(at)];
		json_decref(a->node);
		a->node = json_incref(node);
		a->nodes = count_nodes(node);
		return 0;
	}
	if (y->nanchors == y->capanchors) {
		size_t cap = y->capanchors ? y->capanchors * 2 : 8;
		a = realloc(y->anchors, cap * sizeof(*a));
		if (!a)
			return tm_err_set(y->err, TM_ERROR, "%s: out of memory", y->name);
		y->anchors = a;
		y->capanchors = cap;
	}
	a = &y->anchors[y->nanchors];
	a->name = strdup(name);
	if (!a->name || json_object_set_new(y->anchor_index, name, json_integer((json_int_t)y->nanchors)) < 0) {
		free(a->name);
		return tm_err_set(y->err, TM_ERROR, "%s: out of memory", y->name);
	}
	a->node = json_incref(node);
	a->nodes = count_nodes(node);
	y->nanchors++;
	return 0;
}

/* Forgets every anchor (they do not cross documents). */
static void forget_anchors(struct yparser *y)
{
	for (size_t i = 0; i < y->nanchors; i++) {
		free(y->anchors[i].name);
		json_decref(y->anchors[i].node);
	}
	y->nanchors = 0;
	json_object_clear(y->anchor_index);
}

static bool all_digits(const char *s, const char *set)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!strchr(set, *s))
			return false;
	return true;
}

/* YAML 1.2 core schema for a plain (unquoted) scalar. */
static json_t *resolve_plain(const char *s)
{
	const char *d = s + (*s == '-' || *s == '+');
	char *end;

	if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
		return json_null();
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return json_true();
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return json_false();
	if (all_digits(d, "0123456789") || (!strncmp(s, "0x", 2) && all_digits(s + 2, "0123456789abcdefABCDEF")) ||
	    (!strncmp(s, "0o", 2) && all_digits(s + 2, "01234567"))) {
		int base = !strncmp(s, "0x", 2) ? 16 : !strncmp(s, "0o", 2) ? 8 : 10;
		long long v;
		errno = 0;
		v = strtoll(base == 10 ? s : s + 2, &end, base);
		if (errno == 0 && *end == '\0')
			return json_integer(v);
		return json_string(s); /* out of range: keep the text rather than lose digits */
	}
	/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
	{
		const char *p = d;
		bool digits = false;
		while (*p >= '0' && *p <= '9')
			p++, digits = true;
		if (*p == '.') {
			p++;
			while (*p >= '0' && *p <= '9')
				p++, digits = true;
		}
		if (digits && (*p == 'e' || *p == 'E')) {
			p++;
			if (*p == '-' || *p == '+')
				p++;
			if (!(*p >= '0' && *p <= '9'))
				return json_string(s);
			while (*p >= '0' && *p <= '9')
				p++;
		}
		if (digits && *p == '\0') {
			double v = strtod(s, &end);
			if (*end == '\0' && isfinite(v))
				return json_real(v);
		}
	}
	/* .inf and .nan have no JSON form: they stay strings */
	return json_string(s);
}

static int parse_node(struct yparser *y, json_t **out, int depth);

static int merge_into(struct yparser *y, json_t *map, json_t *src, const yaml_mark_t *m)
{
	const char *k;
	json_t *v;

	if (!json_is_object(src))
		return fail_at(y, TM_EINVALID, m, "the merge key '<<' takes a mapping or a list of mappings", NULL);
	json_object_foreach(src, k, v)
		if (!json_object_get(map, k) && json_object_set(map, k, v) < 0)
			return tm_err_set(y->err, TM_ERROR, "%s: out of memory", y->name);
	return 0;
}

static int parse_mapping(struct yparser *y, json_t **out, int depth)
{
	json_t *map = json_object(), *merges = NULL;
	int rc = 0;

	if (!map)
		return tm_err_set(y->err, TM_ERROR, "%s: out of memory", y->name);
	for (;;) {
		yaml_mark_t km;
		json_t *val = NULL;
		char *key = NULL;

		if ((rc = next_event(y)) < 0)
			goto out;
		if (y->ev.type == YAML_MAPPING_END_EVENT)
			break;
		km = y->ev.start_mark;
		if (y->ev.type != YAML_SCALAR_EVENT) {
			rc = fail_at(y, TM_EINVALID, &km, "a mapping key must be a plain value, not a mapping or list", NULL);
			goto out;
		}
		key = strndup((const char *)y->ev.data.scalar.value, y->ev.data.scalar.length);
		if (!key) {
			rc = tm_err_set(y->err, TM_ERROR, "%s: out of memory", y->name);
			goto out;
		}
		if (strlen(key) != y->ev.data.scalar.length) {
			rc = fail_at(y, TM_EINVALID, &km, "a mapping key contains a NUL character", NULL);
			free(key);
			goto out;
		}
		long keep = push_path(y, key, strlen(key));
		if (keep < 0 || (rc = next_event(y)) < 0 || (rc = parse_node(y, &val, depth + 1)) < 0) {
			rc = rc < 0 ? rc : TM_ELIMIT;
			free(key);
			goto out;
		}
		pop_path(y, keep);
		if (strcmp(key, "<<") == 0 && y->ev.type != YAML_SCALAR_EVENT) {
			/* merged after the mapping's own keys are known: explicit keys win */
			if (!merges)
				merges = json_array();
			json_array_append_new(merges, val);
			free(key);
			continue;
		}
		/* one hash operation per key: a set that does not grow the mapping replaced a key */
		size_t before = json_object_size(map);
		if (json_object_set_new(map, key, val) < 0) {
			rc = tm_err_set(y->err, TM_ERROR, "%s: out of memory", y->name);
			free(key);
			goto out;
		}
		if (json_object_size(map) == before) {
			rc = fail_at(y, TM_EINVALID, &km, "duplicate key", key);
			free(key);
			goto out;
		}
		free(key);
	}
	for (size_t i = 0; merges && i < json_array_size(merges); i++) {
		json_t *m = json_array_get(merges, i), *e;
		size_t j;
		yaml_mark_t at = y->ev.start_mark;
		if (json_is_array(m)) {
			json_array_foreach(m, j, e) if ((rc = merge_into(y, map, e, &at)) < 0) goto out;
		} else if ((rc = merge_into(y, map, m, &at)) < 0) {
			goto out;
		}
	}
	*out = map;
	map = NULL;
out:
	json_decref(merges);
	json_decref(map);
	return rc;
}

static int parse_sequence(struct yparser *y, json_t **out, int depth)
{
	json_t *seq = json_array();
	int rc = 0;

	if (!seq)
		return tm_err_set(y->err, TM_ERROR, "%s: out of memory", y->name);
	for (;;) {
		json_t *v = NULL;
		if ((rc = next_event(y)) < 0)
			goto out;
		if (y->ev.type == YAML_SEQUENCE_END_EVENT)
			break;
		char idx[32];
		char *digits = decimal(idx + sizeof(idx), json_array_size(seq));
		long keep = push_path(y, digits, strlen(digits));
		if (keep < 0 || (rc = parse_node(y, &v, depth + 1)) < 0) {
			rc = rc < 0 ? rc : TM_ELIMIT;
			goto out;
		}
		pop_path(y, keep);
		if (json_array_append_new(seq, v) < 0) {
			rc = tm_err_set(y->err, TM_ERROR, "%s: out of memory", y->name);
			goto out;
		}
	}
	*out = seq;
	seq = NULL;
out:
	json_decref(seq);
	return rc;
}

/* Parses the node whose first event is the current one. */
static int parse_node(struct yparser *y, json_t **out, int depth)
{
	yaml_event_t *ev = &y->ev;
	yaml_mark_t at = ev->start_mark;
	char *anchor = NULL;
	json_t *v = NULL;
	int rc = 0;

	if (depth > TM_DOC_MAX_DEPTH)
		return fail_at(y, TM_ELIMIT, &at, "nested deeper than the limit", NULL);
	if ((rc = mark(y, &at)) < 0)
		return rc;
	switch (ev->type) {
	case YAML_ALIAS_EVENT: {
		const char *name = (const char *)ev->data.alias.anchor;
		json_t *idx = json_object_get(y->anchor_index, name);
		const struct anchor *a = idx ? &y->anchors[json_integer_value(idx)] : NULL;
		if (!a)
			return fail_at(y, TM_EINVALID, &at, "unknown alias", name);
		y->alias_nodes += a->nodes;
		if (y->alias_nodes > TM_DOC_MAX_ALIAS_NODES)
			return fail_at(y, TM_ELIMIT, &at, "aliases expand to too many nodes", name);
		*out = y->share_aliases ? json_incref(a->node) : json_deep_copy(a->node);
		return *out ? 0 : tm_err_set(y->err, TM_ERROR, "%s: out of memory", y->name);
	}
	case YAML_SCALAR_EVENT: {
		const char *s = (const char *)ev->data.scalar.value;
		const char *tag = (const char *)ev->data.scalar.tag;
		if (ev->data.scalar.anchor && !(anchor = strdup((const char *)ev->data.scalar.anchor)))
			return tm_err_set(y->err, TM_ERROR, "%s: out of memory", y->name);
		if (strlen(s) != ev->data.scalar.length) {
			/* a "\0" escape: jansson would keep it, every C string after would stop there */
			rc = fail_at(y, TM_EINVALID, &at, "a value contains a NUL character (\\0)", NULL);
			goto out;
		}
		if (tag && strcmp(tag, "tag:yaml.org,2002:str") == 0)
			v = json_stringn(s, ev->data.scalar.length);
		else if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !tag)
			v = resolve_plain(s);
		else
			v = json_stringn(s, ev->data.scalar.length);
		if (!v) {
			rc = fail_at(y, TM_EINVALID, &at, "scalar is not valid UTF-8", NULL);
			goto out;
		}
		break;
	}
	case YAML_MAPPING_START_EVENT:
		if (ev->data.mapping_start.anchor && !(anchor = strdup((const char *)ev->data.mapping_start.anchor)))
			return tm_err_set(y->err, TM_ERROR, "%s: out of memory", y->name);
		if ((rc = parse_mapping(y, &v, depth)) < 0)
			goto out;
		break;
	case YAML_SEQUENCE_START_EVENT:
		if (ev->data.sequence_start.anchor && !(anchor = strdup((const char *)ev->data.sequence_start.anchor)))
			return tm_err_set(y->err, TM_ERROR, "%s: out of memory", y->name);
		if ((rc = parse_sequence(y, &v, depth)) < 0)
			goto out;
		break;
	default:
		return fail_at(y, TM_EINVALID, &at, "unexpected YAML event", NULL);
	}
	if (anchor && (rc = remember_anchor(y, anchor, v)) < 0)
		goto out;
	*out = v;
	v = NULL;
out:
	json_decref(v);
	free(anchor);
	return rc;
}

static int parse_all(json_t **out, json_t **marks, const char *text, size_t len, const char *name, bool stream,
		     bool share, struct tm_err *err)
{
	struct yparser y = { .name = name ? name : "<input>", .err = err, .share_aliases = share, .text = text, .len = len };

	tm_buf_init(&y.path, "YAML path", 1u << 20);
	tm_buf_init(&y.pos, "YAML position", 64u << 10);
	if (marks) {
		json_t *probe = json_string(y.name);
		y.name_utf8 = probe != NULL;
		json_decref(probe);
		y.name_len = strlen(y.name);
		if (tm_buf_puts(&y.pos, y.name, err) < 0)
			return TM_ELIMIT;
	}
	if ((marks && !(y.marks = json_object())) || !(y.anchor_index = json_object())) {
		json_decref(y.marks);
		json_decref(y.anchor_index);
		tm_buf_release(&y.pos);
		return tm_err_set(err, TM_ERROR, "out of memory");
	}
	json_t *docs = json_array();
	int rc = 0;

	if (!docs || !yaml_parser_initialize(&y.p)) {
		json_decref(docs);
		json_decref(y.marks);
		json_decref(y.anchor_index);
		tm_buf_release(&y.pos);
		return tm_err_set(err, TM_ERROR, "%s: out of memory", y.name);
	}
	yaml_parser_set_input_string(&y.p, (const unsigned char *)text, len);
	if ((rc = next_event(&y)) < 0) /* STREAM-START */
		goto out;
	for (;;) {
		json_t *doc = NULL;
		yaml_mark_t at;

		if ((rc = next_event(&y)) < 0)
			goto out;
		if (y.ev.type == YAML_STREAM_END_EVENT)
			break;
		at = y.ev.start_mark; /* DOCUMENT-START */
		if ((rc = next_event(&y)) < 0 || (rc = parse_node(&y, &doc, 0)) < 0)
			goto out;
		if ((rc = next_event(&y)) < 0) { /* DOCUMENT-END */
			json_decref(doc);
			goto out;
		}
		if (!stream && json_array_size(docs) > 0) {
			json_decref(doc);
			rc = fail_at(&y, TM_EINVALID, &at, "expected one YAML document, found a second", NULL);
			goto out;
		}
		forget_anchors(&y); /* anchors do not cross documents */
		if (stream && json_is_null(doc)) {
			json_decref(doc);
			continue;
		}
		json_array_append_new(docs, doc);
	}
	if (stream) {
		*out = docs;
		docs = NULL;
	} else {
		*out = json_array_size(docs) ? json_incref(json_array_get(docs, 0)) : json_null();
	}
	if (marks) {
		*marks = y.marks;
		y.marks = NULL;
	}
out:
	json_decref(y.marks);
	tm_buf_release(&y.path);
	tm_buf_release(&y.pos);
	if (y.have_ev)
		yaml_event_delete(&y.ev);
	forget_anchors(&y);
	json_decref(y.anchor_index);
	free(y.anchors);
	yaml_parser_delete(&y.p);
	json_decref(docs);
	return rc;
}

int tm_doc_parse_yaml(json_t **out, const char *text, size_t len, const char *name, struct tm_err *err)
{
	return parse_all(out, NULL, text, len, name, false, false, err);
}

int tm_doc_parse_yaml_readonly(json_t **out, const char *text, size_t len, const char *name, struct tm_err *err)
{
	return parse_all(out, NULL, text, len, name, false, true, err);
}

int tm_doc_parse_yaml_marked(json_t **out, json_t **marks, const char *text, size_t len, const char *name,
			     struct tm_err *err)
{
	return parse_all(out, marks, text, len, name, false, false, err);
}

int tm_doc_parse_yaml_stream(json_t **out, const char *text, size_t len, const char *name,
			     struct tm_err *err)
{
	return parse_all(out, NULL, text, len, name, true, false, err);
}
