/* The last lines a failing container wrote, read through the API server for an error
 * message. A container's output may hold anything it was given, so every value of
 * every Secret the pod can read is blanked out first, and nothing is shown when one of
 * those Secrets cannot be read. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "apply/podlog.h"
#include "apply/reason.h"
#include "tarmac/doc.h"

#define LOG_TAIL 40          /* lines asked for: enough left after the empty ones */
#define LOG_BYTES 16384      /* bytes asked for at most */
#define LOG_ATTEMPTS 2       /* a node that does not answer must not hold the error up */
#define REDACTED "[redacted]"

static int add_name(json_t *names, const char *name, struct tm_err *err)
{
	const json_t *v;
	size_t i;

	if (!name || !*name)
		return 0;
	json_array_foreach(names, i, v) {
		if (strcmp(json_string_value(v), name) == 0)
			return 0;
	}
	if (json_array_append_new(names, json_string(name)) < 0)
		return tm_err_set(err, TM_ERROR, "out of memory");
	return 0;
}

static int container_refs(const json_t *c, json_t *names, struct tm_err *err)
{
	const json_t *arr, *e;
	size_t i;
	int rc;

	arr = json_object_get(c, "env");
	json_array_foreach(arr, i, e) {
		if ((rc = add_name(names, tm_jstr(tm_doc_get(e, "valueFrom", "secretKeyRef", NULL), "name"), err)) < 0)
			return rc;
	}
	arr = json_object_get(c, "envFrom");
	json_array_foreach(arr, i, e) {
		if ((rc = add_name(names, tm_jstr(json_object_get(e, "secretRef"), "name"), err)) < 0)
			return rc;
	}
	return 0;
}

static int volume_refs(const json_t *vol, json_t *names, struct tm_err *err)
{
	const json_t *sources = tm_doc_get(vol, "projected", "sources", NULL), *src;
	size_t i;
	int rc;

	if ((rc = add_name(names, tm_jstr(json_object_get(vol, "secret"), "secretName"), err)) < 0)
		return rc;
	json_array_foreach(sources, i, src) {
		if ((rc = add_name(names, tm_jstr(json_object_get(src, "secret"), "name"), err)) < 0)
			return rc;
	}
	return 0;
}

int tm_pod_secret_names(const json_t *pod, json_t *names, struct tm_err *err)
{
	static const char *const lists[] = { "initContainers", "containers", "ephemeralContainers" };
	const json_t *spec = json_object_get(pod, "spec"), *arr, *x;
	size_t k, i;
	int rc;

	for (k = 0; k < TM_ARRAY_LEN(lists); k++) {
		arr = json_object_get(spec, lists[k]);
		json_array_foreach(arr, i, x) {
			if ((rc = container_refs(x, names, err)) < 0)
				return rc;
		}
	}
	arr = json_object_get(spec, "volumes");
	json_array_foreach(arr, i, x) {
		if ((rc = volume_refs(x, names, err)) < 0)
			return rc;
	}
	return 0;
}

/* text with every occurrence of needle replaced. */
static int replace_all(struct tm_buf *text, const char *needle, size_t len, struct tm_err *err)
{
	struct tm_buf out = TM_BUF_INIT("pod log", text->max ? text->max + LOG_BYTES : 0);
	const char *p = tm_buf_cstr(text), *end = p + text->len, *hit;
	int rc = 0;

	if (len < TM_PODLOG_MIN_SECRET || !memmem(p, text->len, needle, len))
		return 0;
	while ((hit = memmem(p, (size_t)(end - p), needle, len))) {
		if ((rc = tm_buf_append(&out, p, (size_t)(hit - p), err)) < 0 || (rc = tm_buf_puts(&out, REDACTED, err)) < 0)
			goto out;
		p = hit + len;
	}
	if ((rc = tm_buf_append(&out, p, (size_t)(end - p), err)) < 0)
		goto out;
	tm_buf_wipe(text);
	*text = out;
	return 0;
out:
	tm_buf_wipe(&out);
	return rc;
}

int tm_podlog_redact(struct tm_buf *text, const char *value, size_t len, struct tm_err *err)
{
	const char *line = value, *nl, *end = value + len;
	int rc;

	if ((rc = replace_all(text, value, len, err)) < 0)
		return rc;
	while (line < end && (nl = memchr(line, '\n', (size_t)(end - line)))) {
		if ((rc = replace_all(text, line, (size_t)(nl - line), err)) < 0)
			return rc;
		line = nl + 1;
	}
	return line > value ? replace_all(text, line, (size_t)(end - line), err) : 0;
}

int tm_podlog_excerpt(struct tm_buf *out, const char *log, size_t len, const char *indent, struct tm_err *err)
{
	const char *starts[TM_PODLOG_LINES], *p = log + len, *eol;
	size_t lens[TM_PODLOG_LINES], have = 0, i;
	int rc;

	/* walk back over the lines, keeping the last non-empty ones */
	while (p > log && have < TM_PODLOG_LINES) {
		eol = p;
		while (p > log && p[-1] != '\n')
			p--;
		size_t n = (size_t)(eol - p);
		while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n) {
			starts[have] = p;
			lens[have++] = n;
		}
		if (p > log)
			p--; /* the newline before this line */
	}
	for (i = have; i-- > 0;) {
		size_t n = tm_utf8_cut(starts[i], lens[i], TM_PODLOG_LINE_MAX);

		if ((rc = tm_buf_printf(out, err, "\n%s%.*s%s", indent, (int)n, starts[i], n < lens[i] ? "..." : "")) < 0)
			return rc;
	}
	return (int)have;
}

static void free_wiped(unsigned char *p, size_t n)
{
	if (p)
		tm_wipe(p, n);
	free(p);
}

/* Blanks every value of Secret ns/name out of log. A Secret that cannot be read is an
 * error: its values could be in the log. */
static int redact_secret(struct tm_kube *k, const char *ns, const char *name, struct tm_buf *log, struct tm_err *err)
{
	struct tm_buf path = TM_BUF_INIT("path", 1024);
	json_t *secret = NULL, *v;
	unsigned char *bin = NULL;
	size_t cap = 0;
	const char *key;
	int rc;

	if ((rc = tm_buf_printf(&path, err, "/api/v1/namespaces/%s/secrets/%s", ns, name)) < 0 ||
	    (rc = tm_kube_get(k, tm_buf_cstr(&path), &secret, err)) < 0)
		goto out;
	json_object_foreach(json_object_get(secret, "data"), key, v) {
		const char *b64 = json_string_value(v);
		size_t blen = b64 ? strlen(b64) : 0, n = 0;

		if (!blen)
			continue;
		if (blen > cap) {
			free_wiped(bin, cap);
			if (!(bin = malloc(blen))) {
				cap = 0;
				rc = tm_err_set(err, TM_ERROR, "out of memory");
				goto out;
			}
			cap = blen;
		}
		if (sodium_base642bin(bin, blen, b64, blen, NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
			continue; /* not base64: the server would not have stored it */
		if ((rc = tm_podlog_redact(log, (const char *)bin, n, err)) < 0)
			goto out;
	}
out:
	free_wiped(bin, cap);
	json_decref(secret);
	tm_buf_release(&path);
	return rc;
}

/* The log, blanked; *why says what stopped it when rc is 0 and log is empty. */
static int read_log(struct tm_kube *k, const json_t *pod, const char *container, bool previous, struct tm_buf *log,
		    struct tm_err *why, struct tm_err *err)
{
	const char *ns = tm_jstr(json_object_get(pod, "metadata"), "namespace");
	const char *name = tm_jstr(json_object_get(pod, "metadata"), "name");
	struct tm_buf path = TM_BUF_INIT("path", 2048);
	json_t *names = json_array();
	const json_t *v;
	size_t i;
	int rc;

	if (!names)
		return tm_err_set(err, TM_ERROR, "out of memory");
	if (!ns || !name) {
		rc = tm_err_set(why, TM_EINVALID, "the pod has no name or namespace");
		goto soft;
	}
	if ((rc = tm_pod_secret_names(pod, names, err)) < 0 ||
	    (rc = tm_buf_printf(&path, err, "/api/v1/namespaces/%s/pods/%s/log?container=%s&tailLines=%d&limitBytes=%d%s",
				ns, name, container, LOG_TAIL, LOG_BYTES, previous ? "&previous=true" : "")) < 0)
		goto out;
	if ((rc = tm_kube_get_text(k, tm_buf_cstr(&path), LOG_ATTEMPTS, log, why)) < 0)
		goto soft;
	json_array_foreach(names, i, v) {
		if ((rc = redact_secret(k, ns, json_string_value(v), log, why)) < 0) {
			tm_err_wrap(why, "withheld: Secret '%s' could not be read to blank its values", json_string_value(v));
			goto soft;
		}
	}
	rc = 0;
	goto out;
soft:
	rc = rc == TM_EINTERRUPTED ? rc : 0;
	if (rc == 0)
		tm_buf_wipe(log);
out:
	json_decref(names);
	tm_buf_release(&path);
	return rc;
}

int tm_podlog_note(struct tm_kube *k, const json_t *pod, struct tm_buf *out, struct tm_err *err)
{
	struct tm_buf log = TM_BUF_INIT("pod log", 4 * LOG_BYTES);
	struct tm_err why;
	const char *container;
	bool previous;
	int rc;

	if (!k || !tm_pod_culprit(pod, &container, &previous))
		return 0;
	tm_err_init(&why);
	if ((rc = read_log(k, pod, container, previous, &log, &why, err)) < 0)
		goto out;
	if ((rc = tm_buf_printf(out, err, "\n  last lines of container \"%s\"%s", container,
				previous ? " (its previous run)" : "")) < 0)
		goto out;
	if (why.code != TM_OK)
		rc = tm_buf_printf(out, err, ": not shown (%s)", tm_err_msg(&why));
	else if ((rc = tm_buf_puts(out, ":", err)) == 0 &&
		 (rc = tm_podlog_excerpt(out, tm_buf_cstr(&log), log.len, "    | ", err)) == 0)
		rc = tm_buf_puts(out, " it wrote nothing", err);
out:
	tm_buf_wipe(&log);
	return rc < 0 ? rc : 0;
}
