/* The options shared by the commands that render the stack: --env, -f, --set,
 * --set-string, --set-file, --allow-unknown-values, --kube-version, --api-versions, and
 * those of the environment's Secrets. Files named on the command line are read here, so
 * render itself touches no files. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int tm_render_args_set(struct tm_render_args *a, int id, const char *value, struct tm_err *err)
{
	switch (id) {
	case 'e':
		if (!tm_is_dns_label(value, 63))
			return tm_err_set(err, TM_EINVALID, "'%s' is not an environment name", value);
		a->env = value;
		return 0;
	case 'f':
		if (a->nfiles == TM_ARRAY_LEN(a->file_names))
			return tm_err_set(err, TM_EINVALID, "at most %zu values files", TM_ARRAY_LEN(a->file_names));
		a->file_names[a->nfiles++] = value;
		return 0;
	case 's':
	case 'S':
	case 'F':
		if (a->nsets == TM_ARRAY_LEN(a->sets))
			return tm_err_set(err, TM_EINVALID, "at most %zu --set options", TM_ARRAY_LEN(a->sets));
		a->sets[a->nsets++] = (struct tm_set_arg){
			.kind = id == 's' ? TM_ARG_SET : id == 'S' ? TM_ARG_SET_STRING : TM_ARG_SET_FILE, .arg = value };
		return 0;
	case 'u':
		a->allow_unknown = true;
		return 0;
	case 'a':
		if (!strchr(value, '/') || strchr(value, ' '))
			return tm_err_set(err, TM_EINVALID, "'%s' is not an API like group/version", value);
		if (a->napi_versions == TM_ARRAY_LEN(a->api_versions))
			return tm_err_set(err, TM_EINVALID, "at most %zu --api-versions", TM_ARRAY_LEN(a->api_versions));
		a->api_versions[a->napi_versions++] = value;
		return 0;
	case 'k': {
		unsigned maj, min;
		char tail;
		if (sscanf(value, "%u.%u%c", &maj, &min, &tail) != 2 || maj != 1 || min > 99)
			return tm_err_set(err, TM_EINVALID, "'%s' is not a Kubernetes version like 1.30", value);
		a->kube_version = value;
		return 0;
	}
	}
	return tm_err_set(err, TM_ERROR, "internal: unknown render option %d", id);
}

int tm_render_args_load(struct tm_cli *cli, struct tm_render_args *a, struct tm_render_opts *o)
{
	int rc;

	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < a->nfiles; i++) {
		tm_buf_init(&a->file_text[i], "values file", TM_VALUES_MAX_FILE);
		if ((rc = tm_file_read(&a->file_text[i], a->file_names[i], TM_VALUES_MAX_FILE, &cli->err)) < 0)
			return tm_err_wrap(&cli->err, "values file '%s'", a->file_names[i]);
		a->files[i] = (struct tm_values_file){ a->file_names[i], a->file_text[i].data, a->file_text[i].len };
	}
	for (size_t i = 0; i < a->nsets; i++) {
		const char *eq;
		char *path;
		if (a->sets[i].kind != TM_ARG_SET_FILE)
			continue;
		if (!(eq = strchr(a->sets[i].arg, '=')) || !eq[1])
			return tm_err_set(&cli->err, TM_EINVALID, "--set-file '%s': expected key=file", a->sets[i].arg);
		tm_buf_init(&a->set_text[i], "--set-file content", TM_VALUES_MAX_FILE);
		path = (char *)eq + 1;
		if ((rc = tm_file_read(&a->set_text[i], path, TM_VALUES_MAX_FILE, &cli->err)) < 0)
			return tm_err_wrap(&cli->err, "--set-file '%s'", a->sets[i].arg);
		a->sets[i].text = a->set_text[i].data;
		a->sets[i].len = a->set_text[i].len;
	}
	o->env = tm_stack_env(a->env);
	o->release = tm_cli_release_name(cli);
	o->namespace = tm_cli_release_ns(cli);
	o->kube_version = a->kube_version; /* NULL: the cluster's, else render's default */
	o->files = a->files;
	o->nfiles = a->nfiles;
	o->sets = a->sets;
	o->nsets = a->nsets;
	o->allow_unknown = a->allow_unknown;
	o->api_versions = a->api_versions;
	o->napi_versions = a->napi_versions;
	o->report = tm_sink_report;
	o->report_ctx = &cli->sink;
	return 0;
}

void tm_render_args_release(struct tm_render_args *a)
{
	for (size_t i = 0; i < a->nfiles; i++)
		tm_buf_release(&a->file_text[i]);
	for (size_t i = 0; i < a->nsets; i++)
		tm_buf_release(&a->set_text[i]);
}

int tm_cli_secret_opts_set(struct tm_stack_secret_opts *s, int id, const char *value, struct tm_err *err)
{
	switch (id) {
	case 'd':
		s->dir = value;
		return 0;
	case 'K':
		s->key_file = value;
		return 0;
	case 'Z':
		s->cert = value;
		return 0;
	case 'N':
		s->none = true;
		return 0;
	}
	return tm_err_set(err, TM_EINVALID, "unknown option");
}

