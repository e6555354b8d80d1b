/* The exec credential stanza of a kubeconfig user (users[].user.exec), checked and
 * copied as kubectl reads it: api version, command made absolute, args, env. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube_private.h"

static void free_strv(char **v, bool wipe)
{
	for (char **p = v; p && *p; p++) {
		if (wipe)
			tm_wipe(*p, strlen(*p));
		free(*p);
	}
	free(v);
}

void tm_kube_exec_free(struct tm_kube_exec *x)
{
	if (!x)
		return;
	free(x->command);
	free_strv(x->args, false);
	free_strv(x->env, true); /* people do put API keys into a plugin's env */
	free(x->api_version);
	free(x->interactive_mode);
	free(x->install_hint);
	free(x);
}

/* ------------------------------------------------------------------ users[].user.exec */

static const char *const exec_api_versions[] = {
	"client.authentication.k8s.io/v1",
	"client.authentication.k8s.io/v1beta1",
};
static const char *const exec_interactive_modes[] = { "Never", "IfAvailable", "Always" };

static bool in_table(const char *s, const char *const *table, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, table[i]) == 0)
			return true;
	return false;
}

/* "kubeconfig 'f': user 'u': exec: ..." for every problem in an exec block. */
static int exec_bad(struct tm_err *err, const char *file, const char *user, const char *fmt, ...)
	TM_PRINTF(4, 5);
static int exec_bad(struct tm_err *err, const char *file, const char *user, const char *fmt, ...)
{
	char what[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return tm_err_set(err, TM_EINVALID, "kubeconfig '%s': user '%s': exec: %s", file, user, what);
}

/* An optional string of an exec block; *out borrows from the document. */
static int exec_str(const char **out, json_t *x, const char *key, const char *file, const char *user,
		    struct tm_err *err)
{
	json_t *v = json_object_get(x, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return exec_bad(err, file, user, "'%s' must be a string", key);
	*out = json_string_value(v);
	return 0;
}

/* args: a list of strings, copied into a NULL-terminated vector. */
static int exec_args(char ***out, json_t *list, const char *file, const char *user, struct tm_err *err)
{
	size_t i, n = json_is_array(list) ? json_array_size(list) : 0;
	char **v;
	json_t *item;

	if (list && !json_is_null(list) && !json_is_array(list))
		return exec_bad(err, file, user, "'args' must be a list of strings");
	if (!(v = calloc(n + 1, sizeof(*v))))
		return tm_err_set(err, TM_ERROR, "out of memory");
	*out = v; /* filled in place so the caller's cleanup frees a partial vector */
	json_array_foreach(list, i, item) {
		/* an unquoted 8080 is a number in YAML: kubectl refuses it too */
		if (!json_is_string(item))
			return exec_bad(err, file, user, "args[%zu] must be a string (quote it)", i);
		if (!(v[i] = strdup(json_string_value(item))))
			return tm_err_set(err, TM_ERROR, "out of memory");
	}
	return 0;
}

/* env: a list of {name, value}, copied as "NAME=value". */
static int exec_env(char ***out, json_t *list, const char *file, const char *user, struct tm_err *err)
{
	size_t i, n = json_is_array(list) ? json_array_size(list) : 0;
	char **v;
	json_t *item;

	if (list && !json_is_null(list) && !json_is_array(list))
		return exec_bad(err, file, user, "'env' must be a list of {name, value}");
	if (!(v = calloc(n + 1, sizeof(*v))))
		return tm_err_set(err, TM_ERROR, "out of memory");
	*out = v;
	json_array_foreach(list, i, item) {
		const char *name = json_string_value(json_object_get(item, "name")), *value = "";
		json_t *jvalue = json_object_get(item, "value");

		if (!json_is_object(item))
			return exec_bad(err, file, user, "env[%zu] must be a mapping with 'name' and 'value'", i);
		if (!name || !*name || strchr(name, '='))
			return exec_bad(err, file, user, "env[%zu]: 'name' must be a non-empty string without '='", i);
		if (jvalue && !json_is_null(jvalue) && !json_is_string(jvalue))
			return exec_bad(err, file, user, "env '%s': 'value' must be a string (quote it)", name);
		if (json_is_string(jvalue))
			value = json_string_value(jvalue);
		if (asprintf(&v[i], "%s=%s", name, value) < 0) {
			v[i] = NULL;
			return tm_err_set(err, TM_ERROR, "out of memory");
		}
	}
	return 0;
}

/* client-go resolves a command with a '/' in it against the directory of the
 * kubeconfig that defined the user (a bare name is looked up in PATH when run).
 * The result is made absolute so a later chdir cannot change what runs. */
static int exec_command(char **out, const char *command, const char *file, struct tm_err *err)
{
	char *rel = NULL, cwd[4096];

	*out = NULL;
	if (command[0] == '/' || !strchr(command, '/'))
		return tm_kube_dup_opt(out, command, err);
	if (!(rel = tm_kube_resolve_path(command, file)))
		return tm_err_set(err, TM_ERROR, "out of memory");
	if (rel[0] == '/') {
		*out = rel;
		return 0;
	}
	if (!getcwd(cwd, sizeof(cwd))) {
		free(rel);
		return tm_err_errno(err, errno, "exec command '%s': current directory", command);
	}
	if (asprintf(out, "%s/%s", cwd, rel) < 0) {
		*out = NULL;
		free(rel);
		return tm_err_set(err, TM_ERROR, "out of memory");
	}
	free(rel);
	return 0;
}

int tm_kube_exec_parse(struct tm_kube_exec **out, json_t *jx, const char *file, const char *user,
		      struct tm_err *err)
{
	struct tm_kube_exec *x = NULL;
	const char *command, *api, *mode, *hint;
	json_t *pci;
	int rc;

	*out = NULL;
	if (!jx || json_is_null(jx))
		return 0;
	if (!json_is_object(jx))
		return exec_bad(err, file, user, "must be a mapping");
	if ((rc = exec_str(&command, jx, "command", file, user, err)) < 0 ||
	    (rc = exec_str(&api, jx, "apiVersion", file, user, err)) < 0 ||
	    (rc = exec_str(&mode, jx, "interactiveMode", file, user, err)) < 0 ||
	    (rc = exec_str(&hint, jx, "installHint", file, user, err)) < 0)
		return rc;
	if (!command || !*command)
		return exec_bad(err, file, user, "'command' is required");
	if (!api || !*api)
		return exec_bad(err, file, user, "'apiVersion' is required (%s or %s)", exec_api_versions[0],
				exec_api_versions[1]);
	if (!in_table(api, exec_api_versions, TM_ARRAY_LEN(exec_api_versions)))
		return exec_bad(err, file, user, "'apiVersion' '%s' is not supported (use %s or %s)", api,
				exec_api_versions[0], exec_api_versions[1]);
	if (mode && !in_table(mode, exec_interactive_modes, TM_ARRAY_LEN(exec_interactive_modes)))
		return exec_bad(err, file, user, "'interactiveMode' '%s' is not one of Never, IfAvailable, Always",
				mode);
	/* v1 made the field mandatory; v1beta1 defaults it to IfAvailable (kept as NULL) */
	if (!mode && strcmp(api, exec_api_versions[0]) == 0)
		return exec_bad(err, file, user, "'interactiveMode' is required with %s (Never, IfAvailable or Always)",
				api);
	pci = json_object_get(jx, "provideClusterInfo");
	if (pci && !json_is_null(pci) && !json_is_boolean(pci))
		return exec_bad(err, file, user, "'provideClusterInfo' must be true or false");

	if (!(x = calloc(1, sizeof(*x))))
		return tm_err_set(err, TM_ERROR, "out of memory");
	x->provide_cluster_info = json_is_true(pci);
	if ((rc = exec_command(&x->command, command, file, err)) < 0 ||
	    (rc = exec_args(&x->args, json_object_get(jx, "args"), file, user, err)) < 0 ||
	    (rc = exec_env(&x->env, json_object_get(jx, "env"), file, user, err)) < 0 ||
	    (rc = tm_kube_dup_opt(&x->api_version, api, err)) < 0 || (rc = tm_kube_dup_opt(&x->interactive_mode, mode, err)) < 0 ||
	    (rc = tm_kube_dup_opt(&x->install_hint, hint, err)) < 0)
		goto out;
	*out = x;
	x = NULL;
out:
	tm_kube_exec_free(x);
	return rc;
}
