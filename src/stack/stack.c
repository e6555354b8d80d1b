/* Where a release lives (every default and the namespace rule, written here only) and
 * the bundle rendered for the cluster it goes to. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tarmac/stack.h"

const char *tm_stack_release(const char *flag)
{
	return flag ? flag : TM_DEFAULT_RELEASE;
}

const char *tm_stack_namespace(const char *flag, const char *context_ns)
{
	if (flag)
		return flag;
	/* "default" is where a kubeconfig points when it says nothing: not a choice */
	if (context_ns && strcmp(context_ns, "default") != 0)
		return context_ns;
	return TM_DEFAULT_NAMESPACE;
}

const char *tm_stack_manifest_namespace(const char *flag, const char *context_ns)
{
	return flag ? flag : context_ns ? context_ns : "default";
}

const char *tm_stack_env(const char *flag)
{
	return flag ? flag : TM_DEFAULT_ENV;
}

int tm_stack_secrets_dir(char *out, size_t n, const char *flag, const char *env, struct tm_err *err)
{
	if (flag && !*flag)
		return tm_err_set(err, TM_EINVALID, "the secrets directory is an empty path");
	if ((size_t)snprintf(out, n, "%s%s", flag ? flag : "secrets/", flag ? "" : env) >= n)
		return tm_err_set(err, TM_EINVALID, "the secrets directory's path is too long");
	return 0;
}

int tm_stack_render(const struct tm_stack_ctx *s, const struct tm_render_opts *ro, const char *ns, json_t **objects,
		    json_t **values, struct tm_err *err)
{
	struct tm_render_opts o = *ro;
	struct tm_rendered r = { 0 };
	const char *const *served = NULL;
	const char **apis = NULL;
	size_t nserved = 0;
	int rc;

	if (s->kube) {
		if ((rc = tm_kube_discover(s->kube, err)) < 0)
			return rc;
		if (!ro->kube_version && tm_kube_version(s->kube))
			o.kube_version = tm_kube_version(s->kube);
		nserved = tm_kube_api_versions(s->kube, &served);
	}
	if (!(apis = calloc(nserved + ro->napi_versions + 1, sizeof(*apis))))
		return tm_err_set(err, TM_ERROR, "out of memory");
	if (ro->napi_versions)
		memcpy(apis, ro->api_versions, ro->napi_versions * sizeof(*apis));
	if (nserved)
		memcpy(apis + ro->napi_versions, served, nserved * sizeof(*apis));
	o.api_versions = apis;
	o.napi_versions = nserved + ro->napi_versions;
	o.namespace = ns;
	if ((rc = tm_render(&r, &o, err)) == 0) {
		*objects = r.objects;
		r.objects = NULL;
		if (values)
			*values = json_incref(r.values.tree);
	}
	tm_rendered_release(&r);
	free(apis);
	return rc;
}
