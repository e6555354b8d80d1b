/* The caller-owned error struct: the innermost failure writes the message, callers
 * prepend their context. Frames live in one fixed text area; nothing is allocated,
 * so reporting an out-of-memory error cannot itself fail. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tarmac/util.h"

static const char *const code_names[] = {
	[0] = "ok",
	[-TM_ERROR] = "error",
	[-TM_ENOTFOUND] = "not found",
	[-TM_ECONFLICT] = "conflict",
	[-TM_EAUTH] = "unauthorized",
	[-TM_ETIMEOUT] = "timeout",
	[-TM_EUNAVAILABLE] = "unavailable",
	[-TM_EINVALID] = "invalid",
	[-TM_ELOCKED] = "locked",
	[-TM_ELIMIT] = "limit exceeded",
	[-TM_EINTERRUPTED] = "interrupted",
	[-TM_EWRONGKEY] = "wrong key",
	[-TM_ECORRUPT] = "corrupt",
	[-TM_EVERSION] = "unsupported version",
};

const char *tm_code_name(int code)
{
	if (code > 0 || code < TM_CODE_MIN || !code_names[-code])
		return "unknown";
	return code_names[-code];
}

void tm_err_init(struct tm_err *err)
{
	err->code = TM_OK;
	err->depth = 0;
	err->used = 0;
	err->truncated = false;
	err->file = NULL;
	err->line = 0;
	err->text[0] = '\0';
	err->render[0] = '\0';
}

/* Appends one frame; on overflow keeps what fits and marks the chain truncated. */
static void push_frame(struct tm_err *err, const char *fmt, va_list ap)
{
	size_t room;
	int n;

	if (err->depth >= TM_ERR_FRAMES || err->used >= sizeof(err->text) - 1) {
		err->truncated = true;
		return;
	}
	room = sizeof(err->text) - err->used;
	n = vsnprintf(err->text + err->used, room, fmt, ap);
	if (n < 0) {
		err->truncated = true;
		return;
	}
	err->frame[err->depth++] = err->used;
	if ((size_t)n >= room) {
		err->truncated = true;
		err->used = sizeof(err->text);
	} else {
		err->used += (uint16_t)(n + 1);
	}
}

static int set_va(struct tm_err *err, const char *file, int line, int code, const char *fmt,
		  va_list ap)
{
	if (code >= 0)
		code = TM_ERROR; /* an error is never "ok" */
	if (!err)
		return code;
	tm_err_init(err);
	err->code = code;
	err->file = file;
	err->line = line;
	push_frame(err, fmt, ap);
	return code;
}

int tm_err_set_at(struct tm_err *err, const char *file, int line, int code, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = set_va(err, file, line, code, fmt, ap);
	va_end(ap);
	return rc;
}

int tm_err_errno_at(struct tm_err *err, const char *file, int line, int errnum, const char *fmt, ...)
{
	char head[1024];
	va_list ap;
	int code = TM_ERROR;

	if (errnum == ENOENT)
		code = TM_ENOTFOUND;
	else if (errnum == EFBIG || errnum == ENOSPC || errnum == EDQUOT)
		code = TM_ELIMIT;
	else if (errnum == EINTR)
		code = TM_EINTERRUPTED;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	return tm_err_set_at(err, file, line, code, "%s: %s", head, strerror(errnum));
}

int tm_err_wrap(struct tm_err *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return TM_ERROR;
	if (err->code == TM_OK)
		err->code = TM_ERROR; /* wrapping means something failed */
	va_start(ap, fmt);
	push_frame(err, fmt, ap);
	va_end(ap);
	return err->code;
}

const char *tm_err_frame(const struct tm_err *err, int i)
{
	if (i < 0 || i >= err->depth)
		return NULL;
	return err->text + err->frame[err->depth - 1 - i];
}

const char *tm_err_msg(struct tm_err *err)
{
	size_t off = 0;
	int i;

	err->render[0] = '\0';
	if (err->depth == 0) {
		snprintf(err->render, sizeof(err->render), "%s",
			 err->code == TM_OK ? "no error" : tm_code_name(err->code));
		return err->render;
	}
	for (i = 0; i < err->depth && off < sizeof(err->render) - 1; i++) {
		int n = snprintf(err->render + off, sizeof(err->render) - off, "%s%s",
				 i ? ": " : "", tm_err_frame(err, i));
		if (n < 0)
			break;
		off += (size_t)n;
	}
	if (off >= sizeof(err->render) - 1 || err->truncated) {
		/* say so rather than silently dropping context */
		size_t at = off < sizeof(err->render) - 16 ? off : sizeof(err->render) - 16;
		snprintf(err->render + at, sizeof(err->render) - at, " [truncated]");
	}
	return err->render;
}
