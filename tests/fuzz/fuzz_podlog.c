/* libFuzzer target: a container's log (anything it wrote) through the Secret blanking
 * and the excerpt shown in errors. The first input byte sizes the "secret" taken from
 * the input's start. */
#include <stdint.h>
#include <string.h>

#include "apply/podlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tm_buf log = TM_BUF_INIT("log", 1u << 20), out = TM_BUF_INIT("out", 1u << 16);
	struct tm_err err;
	size_t slen;
	int lines;

	if (size < 1)
		return 0;
	slen = data[0] % 32;
	if (slen > size - 1)
		slen = size - 1;
	tm_err_init(&err);
	if (tm_buf_append(&log, data + 1 + slen, size - 1 - slen, &err) < 0)
		goto out;
	if (tm_podlog_redact(&log, (const char *)data + 1, slen, &err) < 0)
		goto out;
	lines = tm_podlog_excerpt(&out, tm_buf_cstr(&log), log.len, "| ", &err);
	if (lines > TM_PODLOG_LINES)
		__builtin_trap();
	/* each shown line: "\n| " + at most TM_PODLOG_LINE_MAX bytes + "..." */
	if (lines >= 0 && out.len > (size_t)lines * (3 + TM_PODLOG_LINE_MAX + 3))
		__builtin_trap();
out:
	tm_buf_release(&log);
	tm_buf_release(&out);
	return 0;
}
