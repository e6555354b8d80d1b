/* libFuzzer target: values from users: a YAML values file (the input after its first
 * line) merged over defaults, then the first line applied as a --set argument. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "render/render_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	size_t first = nl ? (size_t)(nl - (const char *)data) : size;
	char *set = strndup((const char *)data, first);
	struct tm_values v;
	struct tm_err err;
	static const char defaults[] = "scheduler: {replicas: 2, env: [a]}\nlist: [1, 2]\nmap: {a: {b: c}}\n";

	tm_values_init(&v);
	tm_err_init(&err);
	if (tm_values_merge_yaml(&v, defaults, sizeof(defaults) - 1, "defaults.yaml", &err) != 0)
		__builtin_trap();
	if (nl && tm_values_merge_yaml(&v, nl + 1, size - first - 1, "user.yaml", &err) < 0 && err.depth == 0)
		__builtin_trap();
	tm_err_init(&err);
	if (set && tm_values_set(&v, set, TM_SET_TYPED, &err) < 0 && err.depth == 0)
		__builtin_trap();
	if (!json_is_object(v.tree))
		__builtin_trap(); /* the values stay a mapping whatever happens */
	free(set);
	tm_values_release(&v);
	return 0;
}
