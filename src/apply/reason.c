/* One-line reasons built into fixed buffers, and defensive reads of live objects: a
 * missing or wrongly typed field means "not there yet", never a crash. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "apply/reason.h"
#include "tarmac/doc.h"

/* ------------------------------------------------------------------ one-line text */

void tm_line_init(struct tm_line *l, char *buf, size_t n)
{
	l->buf = buf;
	l->n = n;
	l->len = 0;
	l->cut = false;
	buf[0] = '\0';
}

void tm_line_vadd(struct tm_line *l, const char *fmt, va_list ap)
{
	int w;

	if (l->cut)
		return;
	w = vsnprintf(l->buf + l->len, l->n - l->len, fmt, ap);
	if (w < 0) {
		l->buf[l->len] = '\0';
		l->cut = true;
	} else if ((size_t)w >= l->n - l->len) {
		l->len = l->n - 1;
		l->cut = true;
	} else {
		l->len += (size_t)w;
	}
}

void tm_line_add(struct tm_line *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tm_line_vadd(l, fmt, ap);
	va_end(ap);
}

/* Reasons end up on one terminal line, so kubelet messages with newlines or tabs are
 * flattened. A cut text ends in "..." and never splits a UTF-8 character (the API
 * server only hands out valid UTF-8, so backing up over continuation bytes suffices). */
void tm_line_end(struct tm_line *l)
{
	size_t i, cut;

	for (i = 0; i < l->len; i++) {
		unsigned char c = (unsigned char)l->buf[i];
		if (c < 0x20 || c == 0x7f)
			l->buf[i] = ' ';
	}
	/* kubelet and eviction messages often end in a space */
	while (l->len > 0 && l->buf[l->len - 1] == ' ')
		l->buf[--l->len] = '\0';
	if (!l->cut)
		return;
	cut = l->n >= 4 ? l->n - 4 : l->n - 1;
	if (cut > l->len) /* vsnprintf failed early: there is room */
		cut = l->len;
	cut = tm_utf8_cut(l->buf, l->len, cut);
	l->buf[cut] = '\0';
	if (l->n >= 4)
		memcpy(l->buf + cut, "...", 4);
	l->len = strlen(l->buf);
}

void tm_reason_set(struct tm_readiness *out, enum tm_verdict v, const char *fmt, ...)
{
	struct tm_line l;
	va_list ap;

	out->verdict = v;
	tm_line_init(&l, out->reason, sizeof(out->reason));
	va_start(ap, fmt);
	tm_line_vadd(&l, fmt, ap);
	va_end(ap);
	tm_line_end(&l);
}

void tm_reason_ready(struct tm_readiness *out)
{
	out->verdict = TM_VERDICT_READY;
	out->reason[0] = '\0';
}

/* "Reason: message", or whichever half exists, or fallback. */
void tm_line_reason_msg(struct tm_line *l, const char *reason, const char *msg, const char *fallback)
{
	bool r = reason && *reason, m = msg && *msg;

	if (r && m)
		tm_line_add(l, "%s: %s", reason, msg);
	else if (r || m)
		tm_line_add(l, "%s", r ? reason : msg);
	else
		tm_line_add(l, "%s", fallback);
}

/* ------------------------------------------------------------------ JSON access */

const char *tm_jstr(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

bool tm_jstr_is(const json_t *obj, const char *key, const char *want)
{
	const char *s = tm_jstr(obj, key);

	return s && strcmp(s, want) == 0;
}

/* Status counters are omitted when zero, and a garbled one must not count as progress,
 * so anything but an integer reads as dflt. */
long long tm_jint_or(const json_t *v, long long dflt)
{
	return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

const json_t *tm_condition(const json_t *obj, const char *type)
{
	const json_t *list = tm_doc_get(obj, "status", "conditions", NULL);
	const json_t *c;
	size_t i;

	if (!json_is_array(list))
		return NULL;
	json_array_foreach(list, i, c) {
		if (tm_jstr_is(c, "type", type))
			return c;
	}
	return NULL;
}

bool tm_condition_is(const json_t *obj, const char *type, const char *status)
{
	return tm_jstr_is(tm_condition(obj, type), "status", status);
}

/* ------------------------------------------------------------------ shared checks */

bool tm_ready_usable(const json_t *obj, struct tm_readiness *out)
{
	if (!obj) {
		tm_reason_set(out, TM_VERDICT_WAIT, "no object to inspect");
		return false;
	}
	if (!json_is_object(obj)) {
		tm_reason_set(out, TM_VERDICT_WAIT, "not a JSON object");
		return false;
	}
	return true;
}

const char *tm_condition_msg(const json_t *c)
{
	return tm_jstr(c, "message");
}

