/* Private to apply/: building one-line reasons and reading live objects defensively,
 * shared by the readiness rules (ready.c) and the pod explanations (pod.c). */
#ifndef TARMAC_APPLY_REASON_H
#define TARMAC_APPLY_REASON_H

#include <stdarg.h>

#include "apply/ready.h"
#include "tarmac/util.h"

/* Text built piece by piece into a fixed buffer. Once a piece does not fit, the rest
 * is dropped and tm_line_end marks the cut. */
struct tm_line {
	char *buf;
	size_t n;   /* size of buf, >= 1 */
	size_t len; /* bytes in use, always < n */
	bool cut;
};

void tm_line_init(struct tm_line *l, char *buf, size_t n);
void tm_line_vadd(struct tm_line *l, const char *fmt, va_list ap) TM_PRINTF(2, 0);
void tm_line_add(struct tm_line *l, const char *fmt, ...) TM_PRINTF(2, 3);
/* Flattens control characters, trims trailing spaces, marks a cut with "...". */
void tm_line_end(struct tm_line *l);
/* "Reason: message", or whichever half exists, or fallback. */
void tm_line_reason_msg(struct tm_line *l, const char *reason, const char *msg, const char *fallback);

/* Sets out's verdict and its reason from a format. */
void tm_reason_set(struct tm_readiness *out, enum tm_verdict v, const char *fmt, ...) TM_PRINTF(3, 4);
void tm_reason_ready(struct tm_readiness *out);

/* A string field, or NULL; whether it equals want. */
const char *tm_jstr(const json_t *obj, const char *key);
bool tm_jstr_is(const json_t *obj, const char *key, const char *want);
/* An integer, or dflt for anything else (status counters are omitted when zero). */
long long tm_jint_or(const json_t *v, long long dflt);
/* status.conditions[type], or NULL; whether its status is status; its message. */
const json_t *tm_condition(const json_t *obj, const char *type);
bool tm_condition_is(const json_t *obj, const char *type, const char *status);
const char *tm_condition_msg(const json_t *c);
/* False (with a waiting reason) for NULL or a non-object. */
bool tm_ready_usable(const json_t *obj, struct tm_readiness *out);

#endif
