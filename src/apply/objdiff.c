/* Object diffs for 'tarmac diff': server bookkeeping and Secret values taken out, both
 * sides printed as sorted YAML, then the line diff of linediff.c. */
#include <limits.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apply/objdiff.h"
#include "tarmac/apply.h"
#include "tarmac/doc.h"

#define OBJ_YAML_MAX (64u << 20) /* one object printed as YAML */

/* ------------------------------------------------------------------ normalising */

/* An empty map and no map mean the same to the API server (it drops empty ones), so
 * neither side shows one. */
static void drop_if_empty(json_t *meta, const char *key)
{
	json_t *v = json_object_get(meta, key);

	if (json_is_null(v) || (json_is_object(v) && json_object_size(v) == 0))
		json_object_del(meta, key);
}

json_t *tm_objdiff_normalize(const json_t *obj)
{
	static const char *const server_owned[] = { "managedFields", "resourceVersion", "uid", "generation",
						    "creationTimestamp", "selfLink", "deletionGracePeriodSeconds" };
	static const char *const server_annotations[] = { "kubectl.kubernetes.io/last-applied-configuration",
							  "deployment.kubernetes.io/revision" };
	bool secret = tm_kind_is_secret(obj);
	json_t *copy, *meta, *ann;
	const char *k;
	json_t *v;

	if (!obj)
		return NULL;
	if (!json_is_object(obj))
		return json_deep_copy(obj);
	if (!(copy = json_object()))
		return NULL;
	/* copied field by field so a Secret's values are never duplicated into memory
	 * nobody wipes */
	json_object_foreach((json_t *)obj, k, v) {
		json_t *c;
		if (strcmp(k, "status") == 0 || (secret && (strcmp(k, "data") == 0 || strcmp(k, "stringData") == 0)))
			continue;
		if (!(c = json_deep_copy(v)) || json_object_set_new(copy, k, c) < 0) {
			json_decref(copy);
			return NULL;
		}
	}
	meta = json_object_get(copy, "metadata");
	if (!json_is_object(meta))
		return copy;
	for (size_t i = 0; i < TM_ARRAY_LEN(server_owned); i++)
		json_object_del(meta, server_owned[i]);
	ann = json_object_get(meta, "annotations");
	if (json_is_object(ann))
		for (size_t i = 0; i < TM_ARRAY_LEN(server_annotations); i++)
			json_object_del(ann, server_annotations[i]);
	drop_if_empty(meta, "annotations");
	drop_if_empty(meta, "labels");
	return copy;
}

/* ------------------------------------------------------------------ Secret values */

/* What one key of a Secret holds, compared but never shown: the bytes (data decoded
 * from base64, stringData as it is), or the JSON value itself when it is not a
 * string or not valid base64 (the server would refuse it; still never shown). */
struct secret_val {
	enum { SV_NONE, SV_BYTES, SV_OTHER } form;
	const unsigned char *bytes;
	size_t len;
	const json_t *json;
	unsigned char *owned; /* decoded bytes: wiped before they are freed */
	size_t owned_cap;
};

static void secret_val_release(struct secret_val *sv)
{
	if (sv->owned) {
		sodium_memzero(sv->owned, sv->owned_cap);
		free(sv->owned);
	}
	memset(sv, 0, sizeof(*sv));
}

/* stringData wins over data, as the API server merges them on write. */
static int secret_val_get(struct secret_val *sv, const json_t *obj, const char *key, struct tm_err *err)
{
	const json_t *sd = json_object_get(json_object_get(obj, "stringData"), key);
	const json_t *d = json_object_get(json_object_get(obj, "data"), key);
	const char *text;
	size_t len, binlen = 0;

	memset(sv, 0, sizeof(*sv));
	if (json_is_string(sd)) {
		sv->form = SV_BYTES;
		sv->bytes = (const unsigned char *)json_string_value(sd);
		sv->len = json_string_length(sd);
		return 0;
	}
	if (sd || (d && !json_is_string(d))) {
		sv->form = SV_OTHER;
		sv->json = sd ? sd : d;
		return 0;
	}
	if (!d)
		return 0;
	text = json_string_value(d);
	len = json_string_length(d);
	sv->owned_cap = len / 4 * 3 + 3;
	if (!(sv->owned = malloc(sv->owned_cap)))
		return tm_err_set(err, TM_ERROR, "out of memory");
	if (sodium_base642bin(sv->owned, sv->owned_cap, text, len, NULL, &binlen, NULL,
			      sodium_base64_VARIANT_ORIGINAL) == 0) {
		sv->form = SV_BYTES;
		sv->bytes = sv->owned;
		sv->len = binlen;
	} else {
		sv->form = SV_OTHER;
		sv->json = d;
	}
	return 0;
}

static bool secret_val_equal(const struct secret_val *a, const struct secret_val *b)
{
	if (a->form != b->form)
		return false;
	switch (a->form) {
	case SV_BYTES:
		return a->len == b->len && (a->len == 0 || sodium_memcmp(a->bytes, b->bytes, a->len) == 0);
	case SV_OTHER:
		return json_equal((json_t *)a->json, (json_t *)b->json);
	default:
		return true;
	}
}

/* Every key of data and stringData into keys, each as "(hidden)". */
static int collect_keys(json_t *keys, const json_t *obj)
{
	static const char *const fields[] = { "data", "stringData" };
	const char *k;
	json_t *v;

	for (size_t i = 0; obj && i < TM_ARRAY_LEN(fields); i++) {
		json_t *m = json_object_get(obj, fields[i]);
		if (!json_is_object(m))
			continue;
		json_object_foreach(m, k, v) {
			if (json_object_set_new(keys, k, json_string("(hidden)")) < 0)
				return TM_ERROR;
		}
	}
	return 0;
}

/* Puts a "data" map of placeholders on the normalised copies (either may be NULL):
 * both sides show their keys under data, whether the source used data or stringData,
 * so a manifest with stringData does not look like it moves every key. */
static int hide_secret(json_t *live_n, json_t *desired_n, const json_t *live, const json_t *desired,
		       struct tm_err *err)
{
	json_t *lkeys = json_object(), *dkeys = json_object();
	struct secret_val lv = { 0 }, dv = { 0 };
	const char *k;
	json_t *v;
	int rc = 0;

	if (!lkeys || !dkeys || collect_keys(lkeys, live) < 0 || collect_keys(dkeys, desired) < 0) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	json_object_foreach(dkeys, k, v) {
		if (!live || !json_object_get(lkeys, k))
			continue;
		if ((rc = secret_val_get(&lv, live, k, err)) < 0 || (rc = secret_val_get(&dv, desired, k, err)) < 0)
			goto out;
		if (!secret_val_equal(&lv, &dv) && json_string_set(v, "(hidden, changed)") < 0) {
			rc = tm_err_set(err, TM_ERROR, "out of memory");
			goto out;
		}
		secret_val_release(&lv);
		secret_val_release(&dv);
	}
	for (int side = 0; side < 2; side++) {
		json_t *n = side ? desired_n : live_n, *keys = side ? dkeys : lkeys;
		if (!n || !json_is_object(n))
			continue;
		/* a side not recognised as a Secret was copied whole: take its values out too */
		json_object_del(n, "data");
		json_object_del(n, "stringData");
		if (json_object_size(keys) > 0 && json_object_set(n, "data", keys) < 0) {
			rc = tm_err_set(err, TM_ERROR, "out of memory");
			goto out;
		}
	}
out:
	secret_val_release(&lv);
	secret_val_release(&dv);
	json_decref(lkeys);
	json_decref(dkeys);
	return rc;
}

/* ------------------------------------------------------------------ objects */

static int emit_doc(struct tm_buf *out, json_t *v, struct tm_err *err)
{
	int rc = tm_doc_emit_yaml(out, v, 0, err);

	return rc ? rc : tm_buf_puts(out, "\n", err); /* the emitter leaves the last line open */
}

int tm_objdiff(struct tm_buf *out, const char *title, const json_t *live, const json_t *desired, bool color,
	       struct tm_err *err)
{
	struct tm_buf ly = TM_BUF_INIT("live object as YAML", OBJ_YAML_MAX);
	struct tm_buf dy = TM_BUF_INIT("desired object as YAML", OBJ_YAML_MAX);
	json_t *ln = NULL, *dn = NULL;
	char *aname = NULL, *bname = NULL;
	int rc = 0;

	if (!title)
		title = "";
	if (!live && !desired) {
		rc = tm_err_set(err, TM_EINVALID, "neither a live nor a desired object");
		goto out;
	}
	if ((live && !(ln = tm_objdiff_normalize(live))) || (desired && !(dn = tm_objdiff_normalize(desired)))) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	if ((tm_kind_is_secret(live) || tm_kind_is_secret(desired)) && (rc = hide_secret(ln, dn, live, desired, err)) < 0)
		goto out;
	if ((ln && (rc = emit_doc(&ly, ln, err)) < 0) || (dn && (rc = emit_doc(&dy, dn, err)) < 0))
		goto out;
	if (asprintf(&aname, "%s%s", live ? "live " : "(none)", live ? title : "") < 0)
		aname = NULL; /* asprintf leaves it undefined on failure */
	if (asprintf(&bname, "%s%s", desired ? "desired " : "(none)", desired ? title : "") < 0)
		bname = NULL;
	if (!aname || !bname) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	rc = tm_diff_lines(out, aname, tm_buf_cstr(&ly), bname, tm_buf_cstr(&dy), 3, color, err);
out:
	if (rc < 0)
		tm_err_wrap(err, "diff '%s'", title);
	free(aname);
	free(bname);
	json_decref(ln);
	json_decref(dn);
	tm_buf_release(&ly);
	tm_buf_release(&dy);
	return rc;
}
