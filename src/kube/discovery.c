/* Discovery: the server's version and API groups (asked once per client, in one
 * batch), resource lists per group/version fetched when first needed, kind to
 * resource mapping and API paths. */
#include <stdlib.h>
#include <string.h>

#include "kube_private.h"

static int add_version(struct tm_kube *k, const char *gv)
{
	char **grown;

	for (size_t i = 0; i < k->napi_versions; i++)
		if (strcmp(k->api_versions[i], gv) == 0)
			return 0;
	if (!(grown = realloc(k->api_versions, (k->napi_versions + 1) * sizeof(*grown))))
		return TM_ERROR;
	k->api_versions = grown;
	if (!(k->api_versions[k->napi_versions] = strdup(gv)))
		return TM_ERROR;
	k->napi_versions++;
	return 0;
}

/* The number a version part starts with ("20+": some distributions add a '+'), or -1. */
static long version_part(const char *s)
{
	char *end;
	long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	v = strtol(s, &end, 10);
	return (*end == '\0' || *end == '+') && v <= 999 ? v : -1;
}

/* "1.20" from /version's major and minor; left empty (unknown) when they are not
 * numbers. */
static void set_version(struct tm_kube *k, json_t *v)
{
	long ma = version_part(json_string_value(json_object_get(v, "major")));
	long mi = version_part(json_string_value(json_object_get(v, "minor")));

	k->version[0] = '\0';
	if (ma >= 0 && mi >= 0)
		snprintf(k->version, sizeof(k->version), "%ld.%ld", ma, mi);
}

int tm_kube_discover(struct tm_kube *k, struct tm_err *err)
{
	struct tm_kube_call c[3] = {
		{ .req = { .method = "GET", .path = "/version" }, .want_json = true },
		{ .req = { .method = "GET", .path = "/api" }, .want_json = true },
		{ .req = { .method = "GET", .path = "/apis" }, .want_json = true },
	};
	json_t *v, *g;
	size_t i, j;
	int rc;

	if (k->discovered)
		return 0;
	if ((rc = tm_kube_do(k, c, 3, err)) < 0)
		goto out;
	for (i = 0; i < 3; i++)
		if ((rc = c[i].rc) < 0) {
			*err = c[i].err;
			tm_err_wrap(err, "discover the cluster's APIs");
			goto out;
		}
	set_version(k, c[0].out);
	json_array_foreach(json_object_get(c[1].out, "versions"), i, v)
		if (json_is_string(v) && add_version(k, json_string_value(v)) < 0)
			goto oom;
	json_array_foreach(json_object_get(c[2].out, "groups"), i, g)
		json_array_foreach(json_object_get(g, "versions"), j, v) {
			const char *gv = json_string_value(json_object_get(v, "groupVersion"));

			if (gv && add_version(k, gv) < 0)
				goto oom;
		}
	k->discovered = true;
	rc = 0;
	goto out;
oom:
	rc = tm_err_set(err, TM_ERROR, "out of memory");
out:
	for (i = 0; i < 3; i++)
		tm_kube_call_release(&c[i]);
	return rc;
}

const char *tm_kube_version(const struct tm_kube *k)
{
	return k->discovered && k->version[0] ? k->version : NULL;
}

size_t tm_kube_api_versions(const struct tm_kube *k, const char *const **out)
{
	*out = (const char *const *)k->api_versions;
	return k->napi_versions;
}

bool tm_kube_serves(const struct tm_kube *k, const char *api_version)
{
	for (size_t i = 0; i < k->napi_versions; i++)
		if (strcmp(k->api_versions[i], api_version) == 0)
			return true;
	return false;
}

static const char *gv_path(char *buf, size_t n, const char *api_version)
{
	snprintf(buf, n, "%s%s", strchr(api_version, '/') ? "/apis/" : "/api/", api_version);
	return buf;
}

int tm_kube_prefetch(struct tm_kube *k, const char *const *api_versions, size_t n, struct tm_err *err)
{
	struct tm_kube_call *c = calloc(n ? n : 1, sizeof(*c));
	char (*paths)[320] = calloc(n ? n : 1, sizeof(*paths));
	const char **gvs = calloc(n ? n : 1, sizeof(*gvs));
	size_t m = 0;
	int rc = 0;

	if (!c || !paths || !gvs) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	if ((rc = tm_kube_discover(k, err)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		bool dup = false;

		if (!tm_kube_serves(k, api_versions[i]) || json_object_get(k->rlists, api_versions[i]))
			continue;
		for (size_t j = 0; j < m && !dup; j++)
			dup = strcmp(gvs[j], api_versions[i]) == 0;
		if (dup)
			continue;
		gvs[m] = api_versions[i];
		c[m].req = (struct tm_http_request){ .method = "GET",
						     .path = gv_path(paths[m], sizeof(paths[m]), api_versions[i]) };
		c[m].want_json = true;
		m++;
	}
	if (m && (rc = tm_kube_do(k, c, m, err)) < 0)
		goto out;
	for (size_t j = 0; j < m; j++) {
		if (c[j].rc < 0) {
			rc = c[j].rc;
			*err = c[j].err;
			tm_err_wrap(err, "discover the resources of '%s'", gvs[j]);
			goto out;
		}
		json_object_set(k->rlists, gvs[j], c[j].out);
	}
out:
	if (c)
		for (size_t j = 0; j < m; j++)
			tm_kube_call_release(&c[j]);
	free(c);
	free(paths);
	free(gvs);
	return rc;
}

static int copy_field(char *dst, size_t n, const char *src)
{
	if (!src || strlen(src) >= n)
		return -1;
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

int tm_kube_resolve(struct tm_kube *k, const char *api_version, const char *kind, bool refresh,
		    struct tm_kube_rsc *out, struct tm_err *err)
{
	const char *slash = strchr(api_version, '/');
	json_t *r;
	size_t i;
	int rc;

	if ((rc = tm_kube_discover(k, err)) < 0)
		return rc;
	if (refresh) {
		struct tm_kube_call c = { .req = { .method = "GET", .path = "/apis" }, .want_json = true };
		json_t *g, *v;
		size_t gi, vi;

		/* a CRD was just created: its group/version is new to the server's list */
		json_object_del(k->rlists, api_version);
		if (!tm_kube_serves(k, api_version)) {
			if ((rc = tm_kube_do(k, &c, 1, err)) == 0 && (rc = c.rc) < 0)
				*err = c.err;
			if (rc < 0) {
				tm_kube_call_release(&c);
				return rc;
			}
			json_array_foreach(json_object_get(c.out, "groups"), gi, g)
				json_array_foreach(json_object_get(g, "versions"), vi, v) {
					const char *gv = json_string_value(json_object_get(v, "groupVersion"));

					if (gv && add_version(k, gv) < 0) {
						tm_kube_call_release(&c);
						return tm_err_set(err, TM_ERROR, "out of memory");
					}
				}
			tm_kube_call_release(&c);
		}
	}
	if (!tm_kube_serves(k, api_version))
		return tm_err_set(err, TM_ENOTFOUND, "the cluster does not serve '%s' (kind '%s'): is its CRD installed?",
				  api_version, kind);
	if ((rc = tm_kube_prefetch(k, &api_version, 1, err)) < 0)
		return rc;
	json_array_foreach(json_object_get(json_object_get(k->rlists, api_version), "resources"), i, r) {
		const char *name = json_string_value(json_object_get(r, "name"));
		const char *rk = json_string_value(json_object_get(r, "kind"));

		if (!name || !rk || strchr(name, '/') || strcmp(rk, kind) != 0)
			continue;
		memset(out, 0, sizeof(*out));
		if (copy_field(out->kind, sizeof(out->kind), rk) < 0 || copy_field(out->name, sizeof(out->name), name) < 0)
			break;
		if (slash) {
			if ((size_t)(slash - api_version) >= sizeof(out->group))
				break;
			memcpy(out->group, api_version, (size_t)(slash - api_version));
			if (copy_field(out->version, sizeof(out->version), slash + 1) < 0)
				break;
		} else if (copy_field(out->version, sizeof(out->version), api_version) < 0) {
			break;
		}
		out->namespaced = json_is_true(json_object_get(r, "namespaced"));
		return 0;
	}
	return tm_err_set(err, TM_ENOTFOUND, "the cluster serves '%s' but has no kind '%s' in it", api_version, kind);
}

/* Names and namespaces go into the path as they are: refuse what would change it. */
static bool path_safe(const char *s)
{
	return s && *s && !strpbrk(s, "/?#%") && strcmp(s, ".") && strcmp(s, "..");
}

int tm_kube_path(struct tm_buf *out, const struct tm_kube_rsc *r, const char *ns, const char *name,
		 struct tm_err *err)
{
	int rc;

	tm_buf_clear(out);
	if ((r->namespaced && !path_safe(ns)) || (name && !path_safe(name)))
		return tm_err_set(err, TM_EINVALID, "%s '%s%s%s': not a valid object name", r->kind,
				  r->namespaced && ns ? ns : "", r->namespaced && ns ? "/" : "", name ? name : "");
	if ((rc = r->group[0] ? tm_buf_printf(out, err, "/apis/%s/%s", r->group, r->version)
			      : tm_buf_printf(out, err, "/api/%s", r->version)) < 0)
		return rc;
	if (r->namespaced && (rc = tm_buf_printf(out, err, "/namespaces/%s", ns)) < 0)
		return rc;
	if ((rc = tm_buf_printf(out, err, "/%s", r->name)) < 0)
		return rc;
	if (name && (rc = tm_buf_printf(out, err, "/%s", name)) < 0)
		return rc;
	return 0;
}

/* ------------------------------------------------------------------ group-kinds */

/* Whether "group/version" (core: "v1") belongs to group (glen bytes; 0: core). */
static bool gv_in_group(const char *gv, const char *group, size_t glen)
{
	const char *slash = strchr(gv, '/');

	return glen ? slash && (size_t)(slash - gv) == glen && strncmp(gv, group, glen) == 0 : !slash;
}

/* "Deployment.apps" -> its group ("apps"; "" for "ConfigMap") and kind. */
static const char *gk_group(const char *gk)
{
	const char *dot = strchr(gk, '.');

	return dot ? dot + 1 : "";
}

int tm_kube_prefetch_gks(struct tm_kube *k, const char *const *gks, size_t n, struct tm_err *err)
{
	const char *const *gvs;
	size_t ngv = tm_kube_api_versions(k, &gvs), m = 0;
	const char **want = calloc(ngv ? ngv : 1, sizeof(*want));
	int rc;

	if (!want)
		return tm_err_set(err, TM_ERROR, "out of memory");
	for (size_t j = 0; j < ngv; j++)
		for (size_t i = 0; i < n; i++)
			if (gks[i] && gv_in_group(gvs[j], gk_group(gks[i]), strlen(gk_group(gks[i])))) {
				want[m++] = gvs[j];
				break;
			}
	rc = tm_kube_prefetch(k, want, m, err);
	free(want);
	return rc;
}

int tm_kube_resolve_gk(struct tm_kube *k, const char *gk, struct tm_kube_rsc *out, struct tm_err *err)
{
	const char *group = gk_group(gk);
	const char *const *gvs;
	size_t n = tm_kube_api_versions(k, &gvs), glen = strlen(group);
	char kind[160];
	int rc = TM_ENOTFOUND;

	snprintf(kind, sizeof(kind), "%.*s", (int)(*group ? (size_t)(group - 1 - gk) : strlen(gk)), gk);
	for (size_t i = 0; i < n; i++) {
		struct tm_err e;

		if (!gv_in_group(gvs[i], group, glen))
			continue;
		tm_err_init(&e);
		if ((rc = tm_kube_resolve(k, gvs[i], kind, false, out, &e)) == 0)
			return 0;
		if (rc != TM_ENOTFOUND) {
			*err = e;
			return rc;
		}
	}
	return tm_err_set(err, TM_ENOTFOUND, "the cluster serves no '%s'", gk);
}

/* ------------------------------------------------------------------ call builders */

int tm_kube_call_apply(struct tm_kube_call *c, struct tm_buf *path, struct tm_buf *body,
		       const struct tm_kube_rsc *r, const json_t *obj, unsigned flags, struct tm_err *err)
{
	json_t *md = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *name = json_string_value(json_object_get(md, "name"));
	char *text;
	int rc;

	if ((rc = tm_kube_path(path, r, ns, name, err)) < 0 ||
	    (rc = tm_buf_printf(path, err, "?fieldManager=%s%s%s", TM_FIELD_MANAGER,
				flags & TM_APPLY_FORCE ? "&force=true" : "", flags & TM_APPLY_DRY_RUN ? "&dryRun=All" : "")) < 0)
		return rc;
	/* JSON is YAML: the 1.20 server takes apply patches only as apply-patch+yaml */
	if (!(text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER)))
		return tm_err_set(err, TM_ERROR, "out of memory");
	tm_buf_clear(body);
	rc = tm_buf_puts(body, text, err);
	free(text);
	if (rc < 0)
		return rc;
	memset(c, 0, sizeof(*c));
	c->req = (struct tm_http_request){ .method = "PATCH", .path = path->data,
					   .content_type = "application/apply-patch+yaml", .body = body->data,
					   .body_len = body->len };
	c->want_json = true;
	c->apply = true;
	return 0;
}

int tm_kube_call_delete(struct tm_kube_call *c, struct tm_buf *path, const struct tm_kube_rsc *r,
			const char *ns, const char *name, const char *propagation, bool dry_run,
			struct tm_err *err)
{
	int rc;

	if ((rc = tm_kube_path(path, r, ns, name, err)) < 0 ||
	    (rc = tm_buf_printf(path, err, "?propagationPolicy=%s%s", propagation ? propagation : "Background",
				dry_run ? "&dryRun=All" : "")) < 0)
		return rc;
	memset(c, 0, sizeof(*c));
	c->req = (struct tm_http_request){ .method = "DELETE", .path = path->data };
	c->want_json = true;
	return 0;
}
