/* libFuzzer target: live objects as the API server returns them, through every
 * readiness rule, the pod explanation (and the container and Secrets behind it),
 * selectors and the object diff. */
#include <stdint.h>

#include "apply/objdiff.h"
#include "apply/podlog.h"
#include "apply/ready.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const tm_ready_fn fns[] = { tm_ready_deployment, tm_ready_statefulset, tm_ready_daemonset, tm_ready_job,
					   tm_ready_pvc,        tm_ready_crd,         tm_ready_service,   tm_ready_pod };
	json_t *obj = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	struct tm_readiness r;
	struct tm_buf out = TM_BUF_INIT("diff", 1u << 20);
	struct tm_err err;
	json_t *norm, *names;
	const char *container;
	bool previous;
	char cause[64];

	if (!obj)
		return 0;
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		fns[i](obj, &r);
	(void)tm_pod_cause(obj, cause, sizeof(cause));
	(void)tm_pod_culprit(obj, &container, &previous);
	if ((names = json_array())) {
		tm_err_init(&err);
		(void)tm_pod_secret_names(obj, names, &err);
		json_decref(names);
	}
	(void)tm_selector_matches(json_object_get(json_object_get(obj, "spec"), "selector"),
				  json_object_get(json_object_get(obj, "metadata"), "labels"));
	tm_err_init(&err);
	norm = tm_objdiff_normalize(obj);
	(void)tm_objdiff(&out, "fuzz", norm, obj, false, &err);
	json_decref(norm);
	tm_buf_release(&out);
	json_decref(obj);
	return 0;
}
