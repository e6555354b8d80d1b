/* libFuzzer target: what an API server (or anything between it and tarmac) sends on a
 * watch stream. The input is the stream; it is cut into pieces as a network would. */
#include <stdint.h>
#include <string.h>

#include "tarmac/kube.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct feed {
	const uint8_t *data;
	size_t size;
	int watches;
};

static int roundtrip(void *ctx, const struct tm_http_request *req, struct tm_http_response *resp, struct tm_err *err)
{
	struct feed *f = ctx;
	static const char list[] = "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[{\"metadata\":{\"name\":\"a\"}}]}";

	(void)err;
	resp->retry_after = -1;
	if (!strstr(req->path, "watch=1")) {
		resp->status = 200;
		return tm_buf_puts(&resp->body, list, NULL) < 0 ? TM_ELIMIT : 0;
	}
	/* the second watch is refused, which ends the run */
	if (f->watches++) {
		resp->status = 403;
		return 0;
	}
	resp->status = 200;
	for (size_t off = 0; off < f->size;) {
		size_t n = f->size - off < 1 + f->data[off] % 97 ? f->size - off : 1 + f->data[off] % 97;

		if (req->on_data(req->on_data_ctx, (const char *)f->data + off, n))
			break;
		off += n;
	}
	return 0;
}

static int on_event(void *ctx, size_t which, const char *type, json_t *obj)
{
	(void)ctx;
	(void)which;
	/* what a watcher reads of an event */
	if (obj)
		(void)json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	return type && strcmp(type, "MODIFIED") == 0 && json_object_get(obj, "done") ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct feed f = { data, size, 0 };
	struct tm_transport tr = { .roundtrip = roundtrip, .ctx = &f };
	struct tm_kube_config cfg;
	struct tm_kube *k = NULL;
	const char *paths[] = { "/api/v1/namespaces/a/pods" };
	struct tm_err err;

	tm_kube_config_init(&cfg);
	cfg.server = (char *)"https://fuzz";
	cfg.context = (char *)"fuzz";
	tm_err_init(&err);
	if (tm_kube_open(&k, &cfg, &tr, &err) == 0) {
		/* a stream the server ends with an error is resumed after a backoff: keep it
		 * short, so the fuzzer spends its time on parsing */
		struct tm_kube_opts o = *tm_kube_get_opts(k);

		o.base_backoff_ms = 1;
		o.max_backoff_ms = 1;
		tm_kube_set_opts(k, &o);
		(void)tm_kube_watch(k, paths, 1, tm_now_ms() + 5000, on_event, NULL, &err);
	}
	tm_kube_free(k);
	return 0;
}
