/* libFuzzer target: YAML streams (values files, manifests: untrusted input). Any
 * input must parse or fail with an error message; never crash, leak or hang. */
#include <stdint.h>
#include <string.h>

#include "tarmac/doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tm_err err;
	json_t *out = NULL;
	int rc;

	tm_err_init(&err);
	rc = tm_doc_parse_yaml_stream(&out, (const char *)data, size, "fuzz.yaml", &err);
	if (rc == 0) {
		char *s = json_dumps(out, JSON_COMPACT); /* what we produce must serialise */
		if (!s)
			__builtin_trap();
		free(s);
		json_decref(out);
	} else if (out || err.depth == 0) {
		__builtin_trap(); /* a failure always says why and leaves no output */
	}
	return 0;
}
