/* libFuzzer target: templates (bundle/ today, users' overlays later). Parsing and
 * rendering any input must end in text or an error with a position; never a crash,
 * a leak or a hang (the step and depth limits bound every render). */
#include <stdint.h>
#include <string.h>

#include "render/render_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static json_t *scope;
	struct tm_tmpl *t = NULL;
	struct tm_buf out = TM_BUF_INIT("out", 1u << 20);
	struct tm_err err;

	if (!scope)
		scope = json_loads("{\"values\":{\"a\":[1,2,{\"b\":\"c\"}],\"m\":{\"k\":\"v\",\"n\":null},\"s\":\"x\","
				   "\"t\":true,\"n\":3},\"release\":{\"name\":\"r\",\"namespace\":\"ns\"}}", 0, NULL);
	tm_err_init(&err);
	if (tm_tmpl_parse(&t, "fuzz.tmpl", (const char *)data, size, &err) == 0) {
		if (tm_tmpl_render(t, scope, &out, &err) < 0 && err.depth == 0)
			__builtin_trap();
	} else if (t || err.depth == 0) {
		__builtin_trap();
	}
	tm_buf_release(&out);
	tm_tmpl_free(t);
	return 0;
}
