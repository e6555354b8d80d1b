/* The release's inventory as a kubectl ApplySet: the set id, the part-of label on
 * every member, and the parent Secret listing the group-kinds and namespaces that
 * pruning must search. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "apply_private.h"
#include "tarmac/doc.h"
#include "tarmac/labels.h"

void tm_applyset_init(struct tm_applyset *s, const char *name, const char *ns)
{
	unsigned char md[crypto_hash_sha256_BYTES];
	char in[400], b64[64];

	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->ns, sizeof(s->ns), "%s", ns);
	/* KEP-3659: base64url, unpadded, of sha256("<name>.<namespace>.<Kind>.<group>") */
	snprintf(in, sizeof(in), "%s.%s.Secret.", s->name, s->ns);
	crypto_hash_sha256(md, (const unsigned char *)in, strlen(in));
	sodium_bin2base64(b64, sizeof(b64), md, sizeof(md), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(s->id, sizeof(s->id), "applyset-%s-v1", b64);
}

static json_t *child_object(json_t *parent, const char *key)
{
	json_t *o = json_object_get(parent, key);

	if (json_is_object(o))
		return o;
	o = json_object();
	if (!o || json_object_set_new(parent, key, o) < 0)
		return NULL;
	return o;
}

int tm_applyset_label(const struct tm_applyset *s, json_t *objects, struct tm_err *err)
{
	size_t i;
	json_t *obj, *md, *labels;

	json_array_foreach(objects, i, obj) {
		if (!(md = child_object(obj, "metadata")) || !(labels = child_object(md, "labels")) ||
		    json_object_set_new(labels, TM_APPLYSET_PART_OF, json_string(s->id)) < 0)
			return tm_err_set(err, TM_ERROR, "out of memory");
	}
	return 0;
}

/* Inserts s into the sorted array a unless it is there. */
static int add_sorted(json_t *a, const char *s)
{
	size_t i, n = json_array_size(a);

	for (i = 0; i < n; i++) {
		int c = strcmp(json_string_value(json_array_get(a, i)), s);

		if (c == 0)
			return 0;
		if (c > 0)
			break;
	}
	return json_array_insert_new(a, i, json_string(s));
}

int tm_applyset_collect(json_t *gks, json_t *nss, const json_t *objects, const struct tm_applyset *s,
			struct tm_err *err)
{
	size_t i;
	json_t *obj;

	json_array_foreach(objects, i, obj) {
		const char *av = json_string_value(json_object_get(obj, "apiVersion"));
		const char *kind = json_string_value(json_object_get(obj, "kind"));
		const char *ns = json_string_value(tm_doc_get(obj, "metadata", "namespace", NULL));
		const char *slash = av ? strchr(av, '/') : NULL;
		char gk[300];

		if (!av || !kind)
			return tm_err_set(err, TM_EINVALID, "object %zu has no apiVersion or kind", i + 1);
		if (slash)
			snprintf(gk, sizeof(gk), "%s.%.*s", kind, (int)(slash - av), av);
		else
			snprintf(gk, sizeof(gk), "%s", kind);
		if (add_sorted(gks, gk) < 0 || (ns && strcmp(ns, s->ns) != 0 && add_sorted(nss, ns) < 0))
			return tm_err_set(err, TM_ERROR, "out of memory");
	}
	return 0;
}

int tm_applyset_merge(json_t *gks, json_t *nss, const json_t *more_gks, const json_t *more_nss, struct tm_err *err)
{
	size_t i;
	json_t *v;

	json_array_foreach(more_gks, i, v)
		if (json_is_string(v) && add_sorted(gks, json_string_value(v)) < 0)
			return tm_err_set(err, TM_ERROR, "out of memory");
	json_array_foreach(more_nss, i, v)
		if (json_is_string(v) && add_sorted(nss, json_string_value(v)) < 0)
			return tm_err_set(err, TM_ERROR, "out of memory");
	return 0;
}

/* "a,b,c" into a sorted array. */
static int split_list(json_t *a, const char *text)
{
	while (text && *text) {
		const char *comma = strchr(text, ',');
		size_t n = comma ? (size_t)(comma - text) : strlen(text);
		char item[300];

		if (n && n < sizeof(item)) {
			memcpy(item, text, n);
			item[n] = '\0';
			if (add_sorted(a, item) < 0)
				return TM_ERROR;
		}
		text = comma ? comma + 1 : NULL;
	}
	return 0;
}

static int join_list(struct tm_buf *out, const json_t *a, struct tm_err *err)
{
	size_t i;
	json_t *v;
	int rc;

	tm_buf_clear(out);
	json_array_foreach(a, i, v)
		if ((rc = tm_buf_printf(out, err, "%s%s", i ? "," : "", json_string_value(v))) < 0)
			return rc;
	return 0;
}

static int parent_path(struct tm_buf *path, const struct tm_applyset *s, struct tm_kube *k, struct tm_kube_rsc *rsc,
		       struct tm_err *err)
{
	int rc;

	if ((rc = tm_kube_resolve(k, "v1", "Secret", false, rsc, err)) < 0)
		return rc;
	return tm_kube_path(path, rsc, s->ns, s->name, err);
}

int tm_applyset_read(json_t **gks, json_t **nss, bool *exists, const struct tm_applyset *s, struct tm_kube *k,
		     struct tm_err *err)
{
	struct tm_buf path = TM_BUF_INIT("path", 1024);
	struct tm_kube_rsc rsc;
	json_t *live = NULL, *g = json_array(), *n = json_array();
	const char *tooling, *id;
	int rc;

	*exists = false;
	if (!g || !n) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	if ((rc = parent_path(&path, s, k, &rsc, err)) < 0)
		goto out;
	rc = tm_kube_get(k, path.data, &live, err);
	if (rc == TM_ENOTFOUND) {
		rc = 0;
		goto done;
	}
	if (rc < 0) {
		tm_err_wrap(err, "read the inventory Secret '%s/%s'", s->ns, s->name);
		goto out;
	}
	*exists = true;
	tooling = json_string_value(tm_doc_get(live, "metadata", "annotations", TM_APPLYSET_TOOLING, NULL));
	id = json_string_value(tm_doc_get(live, "metadata", "labels", TM_APPLYSET_ID, NULL));
	if ((tooling && strncmp(tooling, "tarmac/", 7) != 0) || (id && strcmp(id, s->id) != 0)) {
		rc = tm_err_set(err, TM_ECONFLICT, "the Secret '%s/%s' is the inventory of another tool ('%s'): tarmac "
				"leaves it and its objects alone; choose another release name", s->ns, s->name,
				tooling ? tooling : "unknown");
		goto out;
	}
	if (split_list(g, json_string_value(tm_doc_get(live, "metadata", "annotations", TM_APPLYSET_GKS, NULL))) < 0 ||
	    split_list(n, json_string_value(tm_doc_get(live, "metadata", "annotations", TM_APPLYSET_NAMESPACES, NULL))) < 0) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
done:
	*gks = g;
	*nss = n;
	g = n = NULL;
out:
	json_decref(live);
	json_decref(g);
	json_decref(n);
	tm_buf_release(&path);
	return rc;
}

int tm_applyset_write(const struct tm_applyset *s, struct tm_kube *k, const json_t *gks, const json_t *nss,
		      const char *tooling, struct tm_err *err)
{
	struct tm_buf path = TM_BUF_INIT("path", 1024), body = TM_BUF_INIT("inventory", 1u << 20);
	struct tm_buf gtext = TM_BUF_INIT("group-kinds", 1u << 20), ntext = TM_BUF_INIT("namespaces", 1u << 20);
	struct tm_kube_call c = { 0 };
	struct tm_kube_rsc rsc;
	json_t *obj = NULL;
	int rc;

	if ((rc = parent_path(&path, s, k, &rsc, err)) < 0 || (rc = join_list(&gtext, gks, err)) < 0 ||
	    (rc = join_list(&ntext, nss, err)) < 0)
		goto out;
	obj = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s}}, s:s}", "apiVersion", "v1", "kind",
			"Secret", "metadata", "name", s->name, "namespace", s->ns, "labels", TM_APPLYSET_ID, s->id,
			TM_LABEL_MANAGED_BY, TM_MANAGER, "annotations", TM_APPLYSET_TOOLING, tooling,
			TM_APPLYSET_GKS, tm_buf_cstr(&gtext), TM_APPLYSET_NAMESPACES, tm_buf_cstr(&ntext), "type",
			"tarmac.io/applyset");
	if (!obj) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	if ((rc = tm_kube_call_apply(&c, &path, &body, &rsc, obj, TM_APPLY_FORCE, err)) < 0 ||
	    (rc = tm_kube_do(k, &c, 1, err)) < 0)
		goto out;
	if ((rc = c.rc) < 0) {
		*err = c.err;
		tm_err_wrap(err, "write the inventory Secret '%s/%s'", s->ns, s->name);
	}
out:
	tm_kube_call_release(&c);
	json_decref(obj);
	tm_buf_release(&path);
	tm_buf_release(&body);
	tm_buf_release(&gtext);
	tm_buf_release(&ntext);
	return rc;
}

int tm_applyset_delete(const struct tm_applyset *s, struct tm_kube *k, struct tm_err *err)
{
	struct tm_buf path = TM_BUF_INIT("path", 1024);
	struct tm_kube_call c = { 0 };
	struct tm_kube_rsc rsc;
	int rc;

	if ((rc = tm_kube_resolve(k, "v1", "Secret", false, &rsc, err)) < 0 ||
	    (rc = tm_kube_call_delete(&c, &path, &rsc, s->ns, s->name, "Background", false, err)) < 0 ||
	    (rc = tm_kube_do(k, &c, 1, err)) < 0)
		goto out;
	if ((rc = c.rc) == TM_ENOTFOUND)
		rc = 0;
	else if (rc < 0)
		*err = c.err;
out:
	tm_kube_call_release(&c);
	tm_buf_release(&path);
	return rc;
}
