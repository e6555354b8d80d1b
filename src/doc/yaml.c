/* YAML -> jansson over libyaml's event parser: core-schema scalars, aliases copied
 * under a budget (no "billion laughs"), merge keys, and errors that say file:line:col. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "tarmac/doc.h"

struct anchor {
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
	bool want_marks;      /* build a tree of positions beside the document */
	json_t *mk_root;      /* the document's marks (owned) */
	json_t *mk_in;        /* where the next node's mark goes: a list (a mapping entry's or a list's marks) */
	struct tm_buf pos;    /* "name:" then a position, for marks */
	size_t name_len;
	bool name_utf8;
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
static json_t *position(struct yparser *y, const yaml_mark_t *m)
{
	char num[24];

	y->pos.len = y->name_len;
	if (tm_buf_puts(&y->pos, ":", NULL) < 0 || tm_buf_puts(&y->pos, decimal(num + sizeof(num), m->line + 1), NULL) < 0 ||
	    tm_buf_puts(&y->pos, ":", NULL) < 0 || tm_buf_puts(&y->pos, decimal(num + sizeof(num), m->column + 1), NULL) < 0)
		return NULL;
	/* a file name that is not UTF-8 cannot be a JSON string: keep the position alone */
	return y->name_utf8 ? json_stringn_nocheck(y->pos.data, y->pos.len)
			    : json_sprintf("line %zu, column %zu", m->line + 1, m->column + 1);
}

/* Puts v (taken over) where the current node's mark goes. */
static int place_mark(struct yparser *y, json_t *in, const char *key, json_t *v)
{
	int rc;

	if (!v)
		return tm_err_set(y->err, TM_ERROR, "%s: out of memory", y->name);
	if (!in) {
		json_decref(y->mk_root);
		y->mk_root = v;
		return 0;
	}
	rc = json_is_object(in) ? json_object_set_new(in, key, v) : json_array_append_new(in, v);
	return rc < 0 ? tm_err_set(y->err, TM_ERROR, "%s: out of memory", y->name) : 0;
}

/* The mark of the node starting at m: a position for a scalar or an alias, a mapping
 * or list of its children's marks for a collection (*self, borrowed). */
static int mark(struct yparser *y, const yaml_mark_t *m, yaml_event_type_t type, json_t **self)
{
	json_t *v;
	int rc;

	*self = NULL;
	if (!y->want_marks)
		return 0;
	v = type == YAML_MAPPING_START_EVENT ? json_object() : type == YAML_SEQUENCE_START_EVENT ? json_array()
												 : position(y, m);
	if ((rc = place_mark(y, y->mk_in, NULL, v)) == 0)
		*self = v;
	return rc;
}

/* Starts the mark of the mapping entry key in self (a mapping's marks): a list holding
 * the key's position, to which the value's mark is appended. */
static int key_entry(struct yparser *y, json_t *self, const char *key, const yaml_mark_t *km)
{
	json_t *entry = json_array();
	int rc;

	if ((rc = place_mark(y, self, key, entry)) < 0)
		return rc;
	return place_mark(y, entry, NULL, position(y, km));
}

/* Anchors live in an array, found through anchor_index (name -> slot). A later anchor of
 * the same name wins: it takes a new slot and the index points there (one hash
 * operation per anchor). */
static int remember_anchor(struct yparser *y, const char *name, json_t *node)
{
	struct anchor *a;

	if (y->nanchors == y->capanchors) {
		size_t cap = y->capanchors ? y->capanchors * 2 : 8;
		a = realloc(y->anchors, cap * sizeof(*a));
		if (!a)
			return tm_err_set(y->err, TM_ERROR, "%s: out of memory", y->name);
		y->anchors = a;
		y->capanchors = cap;
	}
	if (json_object_set_new(y->anchor_index, name, json_integer((json_int_t)y->nanchors)) < 0)
		return tm_err_set(y->err, TM_ERROR, "%s: out of memory", y->name);
	a = &y->anchors[y->nanchors++];
	a->node = json_incref(node);
	a->nodes = count_nodes(node);
	return 0;
}

/* Forgets every anchor (they do not cross documents). */
static void forget_anchors(struct yparser *y)
{
	for (size_t i = 0; i < y->nanchors; i++)
		json_decref(y->anchors[i].node);
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
	/* copies, so that no node of a document is shared (values take nodes over) */
	json_object_foreach(src, k, v)
		if (!json_object_get(map, k) && json_object_set_new(map, k, y->share_aliases ? json_incref(v) : json_deep_copy(v)) < 0)
			return tm_err_set(y->err, TM_ERROR, "%s: out of memory", y->name);
	return 0;
}

static int parse_mapping(struct yparser *y, json_t **out, int depth, json_t *self)
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
		/* the entry's mark is [key's position, value's mark]: the value's goes in second */
		if (self && (rc = key_entry(y, self, key, &km)) < 0) {
			free(key);
			goto out;
		}
		y->mk_in = self ? json_object_get(self, key) : NULL;
		if ((rc = next_event(y)) < 0 || (rc = parse_node(y, &val, depth + 1)) < 0) {
			free(key);
			goto out;
		}
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

static int parse_sequence(struct yparser *y, json_t **out, int depth, json_t *self)
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
		y->mk_in = self;
		if ((rc = parse_node(y, &v, depth + 1)) < 0)
			goto out;
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
	json_t *in = y->mk_in, *self = NULL;
	char *anchor = NULL;
	json_t *v = NULL;
	int rc = 0;

	if (depth > TM_DOC_MAX_DEPTH)
		return fail_at(y, TM_ELIMIT, &at, "nested deeper than the limit", NULL);
	if ((rc = mark(y, &at, ev->type, &self)) < 0)
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
		if ((rc = parse_mapping(y, &v, depth, self)) < 0)
			goto out;
		break;
	case YAML_SEQUENCE_START_EVENT:
		if (ev->data.sequence_start.anchor && !(anchor = strdup((const char *)ev->data.sequence_start.anchor)))
			return tm_err_set(y->err, TM_ERROR, "%s: out of memory", y->name);
		if ((rc = parse_sequence(y, &v, depth, self)) < 0)
			goto out;
		break;
	default:
		return fail_at(y, TM_EINVALID, &at, "unexpected YAML event", NULL);
	}
	y->mk_in = in;
	/* an empty collection is a leaf: its mark is its position */
	if (self && ((json_is_object(v) && !json_object_size(v)) || (json_is_array(v) && !json_array_size(v)))) {
		if (json_is_array(in))
			json_array_remove(in, json_array_size(in) - 1);
		if ((rc = place_mark(y, in, NULL, position(y, &at))) < 0)
			goto out;
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

	tm_buf_init(&y.pos, "YAML position", 64u << 10);
	y.want_marks = marks != NULL;
	if (marks) {
		json_t *probe = json_string(y.name);
		y.name_utf8 = probe != NULL;
		json_decref(probe);
		y.name_len = strlen(y.name);
		if (tm_buf_puts(&y.pos, y.name, err) < 0)
			return TM_ELIMIT;
	}
	if (!(y.anchor_index = json_object())) {
		tm_buf_release(&y.pos);
		return tm_err_set(err, TM_ERROR, "out of memory");
	}
	json_t *docs = json_array();
	int rc = 0;

	if (!docs || !yaml_parser_initialize(&y.p)) {
		json_decref(docs);
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
		*marks = y.mk_root ? y.mk_root : json_null();
		y.mk_root = NULL;
	}
out:
	json_decref(y.mk_root);
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
