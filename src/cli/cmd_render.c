/* tarmac render and tarmac values: the stack as it would be deployed, and the values
 * it was rendered from with the file:line (or flag) that set each one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "tarmac/doc.h"
#include "tarmac/secret.h"

#include <sodium.h>
#include <stdint.h>

const struct tm_optspec tm_render_cmd_optspecs[] = {
	TM_RENDER_OPTSPECS,
	TM_STACK_SECRETS_OPTSPECS,
	{ 'O', "output-dir", 0, TM_OPT_VALUE, "DIR", "write one file per object under DIR instead of standard output" },
	{ 'V', "show-secrets", 0, TM_OPT_FLAG, NULL, "print the Secrets' values (hidden otherwise)" },
	{ 0 }
};

const struct tm_optspec tm_values_cmd_optspecs[] = {
	TM_RENDER_OPTSPECS,
	{ 0 }
};

int tm_render_cmd_set_opt(void *opts, int id, const char *value, struct tm_err *err)
{
	struct tm_render_cmd_opts *o = opts;

	switch (id) {
	case 'O':
		o->output_dir = value;
		return 0;
	case 'V':
		o->show_secrets = true;
		return 0;
	case 'd':
	case 'K':
	case 'Z':
	case 'N':
		return tm_cli_secret_opts_set(&o->sec, id, value, err);
	}
	return tm_render_args_set(&o->r, id, value, err);
}

/* "---\n# Source: templates/x.yaml\n<yaml>\n" for one object */
static int object_yaml(struct tm_buf *b, json_t *obj, const char *source, struct tm_err *err)
{
	int rc;

	if ((rc = tm_buf_printf(b, err, "---\n# Source: %s\n", source)) == 0 && (rc = tm_doc_emit_yaml(b, obj, 0, err)) == 0)
		rc = tm_buf_puts(b, "\n", err);
	return rc;
}

/* <dir>/<NNN>-<kind>-<name>.yaml, each written atomically; the number keeps the order. */
static int write_dir(struct tm_cli *cli, const char *dir, struct tm_rendered *r)
{
	struct tm_buf b = TM_BUF_INIT("rendered object", TM_TMPL_MAX_OUTPUT);
	size_t i;
	json_t *obj;
	int rc = 0;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return tm_err_errno(&cli->err, errno, "create output directory '%s'", dir);
	json_array_foreach(r->objects, i, obj) {
		char path[4096];
		const char *kind = json_string_value(json_object_get(obj, "kind"));
		const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
		tm_buf_clear(&b);
		if ((rc = object_yaml(&b, obj, json_string_value(json_array_get(r->sources, i)), &cli->err)) < 0)
			break;
		if (strchr(kind, '/') || strchr(name, '/')) {
			rc = tm_err_set(&cli->err, TM_EINVALID, "%s '%s': a '/' cannot be part of a file name", kind, name);
			break;
		}
		if ((size_t)snprintf(path, sizeof(path), "%s/%03zu-%s-%s.yaml", dir, i, kind, name) >= sizeof(path)) {
			rc = tm_err_set(&cli->err, TM_EINVALID, "--output-dir '%s': the path of %s '%s' is too long", dir,
					kind, name);
			break;
		}
		for (char *p = path + strlen(dir) + 1; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p + 32);
		if ((rc = tm_file_write_atomic(path, b.data, b.len, 0644, &cli->err)) < 0)
			break;
	}
	tm_buf_release(&b);
	return rc;
}

/* The prologue render and values share: no positional arguments, files read. */
static int prepare(struct tm_cli *cli, struct tm_render_cmd_opts *o, int argc, const char *cmd,
		   struct tm_render_opts *ro)
{
	int rc = 0;

	if (argc > 0)
		rc = tm_cli_usage(cli, "%s takes no arguments (values come with -f and --set)", cmd);
	else if (tm_render_args_load(cli, &o->r, ro) < 0)
		rc = tm_cli_fail(cli, &cli->err);
	if (rc != 0)
		tm_render_args_release(&o->r);
	return rc;
}

/* Replaces every Secret value by a marker (wiping the value first): render shows
 * them only with --show-secrets, and the marker is not base64, so output applied by
 * hand fails instead of deploying empty Secrets. */
static void hide_values(json_t *secrets)
{
	size_t i;
	json_t *s, *v;
	const char *key;

	json_array_foreach(secrets, i, s) {
		json_t *data = json_object_get(s, "data");

		if (!tm_kind_is_secret(s))
			continue; /* a SealedSecret holds ciphertext only */
		json_object_foreach(data, key, v) {
			sodium_memzero((char *)(uintptr_t)json_string_value(v), json_string_length(v));
			json_object_set_new(data, key, json_string("<hidden: tarmac render --show-secrets>"));
		}
	}
}

int tm_cmd_render(struct tm_cli *cli, void *cmdopts, int argc, char **argv)
{
	struct tm_render_cmd_opts *o = cmdopts;
	struct tm_render_opts ro;
	struct tm_rendered r = { 0 };
	struct tm_buf out = TM_BUF_INIT("rendered stack", 256u << 20);
	size_t i;
	json_t *obj, *secrets = NULL;
	int rc;

	(void)argv;
	if ((rc = prepare(cli, o, argc, "render", &ro)) != 0)
		return rc;
	if ((rc = tm_render(&r, &ro, &cli->err)) < 0)
		goto out;
	/* without secrets/<env>/recipient.pub this only warns that the Secrets are left out */
	if (!o->sec.none) {
		size_t before = json_array_size(r.objects);

		struct tm_stack_ctx ctx = tm_cli_stack_ctx(cli);

		if ((rc = tm_stack_secrets(&ctx, &o->sec, ro.env, ro.release, ro.namespace, r.values.tree, r.objects, 0,
					   &secrets, &cli->err)) < 0)
			goto out;
		for (i = before; i < json_array_size(r.objects); i++)
			json_array_append_new(r.sources, json_string("secrets (unsealed in memory)"));
		if (!o->show_secrets)
			hide_values(secrets);
	}
	if (o->output_dir) {
		rc = write_dir(cli, o->output_dir, &r);
		if (rc == 0)
			tm_sink_log(&cli->sink, TM_INFO, "wrote %zu objects to '%s'", json_array_size(r.objects), o->output_dir);
		goto out;
	}
	if (cli->opts.output == TM_OUTPUT_JSON) {
		rc = tm_cli_print_json(cli, r.objects);
		goto out;
	}
	json_array_foreach(r.objects, i, obj) {
		if ((rc = object_yaml(&out, obj, json_string_value(json_array_get(r.sources, i)), &cli->err)) < 0)
			goto out;
	}
	fwrite(tm_buf_cstr(&out), 1, out.len, cli->out);
out:
	if (o->show_secrets)
		tm_buf_wipe(&out);
	else
		tm_buf_release(&out);
	tm_secret_objects_free(secrets);
	tm_rendered_release(&r);
	tm_render_args_release(&o->r);
	return rc < 0 ? tm_cli_fail(cli, &cli->err) : TM_EXIT_OK;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Appends one step to the dotted path (for people) and the JSON pointer (for origins). */
static int push_step(struct tm_cli *cli, struct tm_buf *path, struct tm_buf *ptr, const char *key, bool index)
{
	int rc = index ? tm_buf_printf(path, &cli->err, "[%s]", key)
		       : tm_buf_printf(path, &cli->err, "%s%s", path->len ? "." : "", key);

	if (rc == 0)
		rc = tm_buf_puts(ptr, "/", &cli->err);
	for (const char *q = key; rc == 0 && *q; q++)
		rc = *q == '~' ? tm_buf_puts(ptr, "~0", &cli->err)
		     : *q == '/' ? tm_buf_puts(ptr, "~1", &cli->err) : tm_buf_append(ptr, q, 1, &cli->err);
	return rc;
}

static void truncate_to(struct tm_buf *b, size_t len)
{
	b->len = len;
	if (b->data)
		b->data[len] = '\0';
}

static int print_leaf(struct tm_cli *cli, json_t *v, struct tm_buf *path, json_t *origin, struct tm_buf *ptr)
{
	struct tm_buf val = TM_BUF_INIT("value", 1u << 20);
	json_t *o = json_object_get(origin, tm_buf_cstr(ptr));
	int rc;

	if (json_is_string(v))
		rc = tm_doc_yaml_quote(&val, json_string_value(v), json_string_length(v), &cli->err);
	else if (json_is_object(v) || json_is_array(v))
		rc = tm_buf_puts(&val, json_is_object(v) ? "{}" : "[]", &cli->err);
	else
		rc = tm_doc_emit_scalar(&val, v, &cli->err);
	if (rc == 0)
		fprintf(cli->out, "%s = %s%s%s\n", tm_buf_cstr(path), tm_buf_cstr(&val), o ? "  # " : "",
			o ? json_string_value(o) : "");
	tm_buf_release(&val);
	return rc;
}

/* One line per leaf, "path = value  # origin", in sorted order. */
static int print_leaves(struct tm_cli *cli, json_t *v, struct tm_buf *path, json_t *origin, struct tm_buf *ptr)
{
	size_t keep = path->len, pkeep = ptr->len, n, i = 0;
	const char **keys = NULL;
	const char *k;
	json_t *c;
	int rc = 0;

	if (!(json_is_object(v) && json_object_size(v)) && !(json_is_array(v) && json_array_size(v)))
		return print_leaf(cli, v, path, origin, ptr);
	if (json_is_array(v)) {
		json_array_foreach(v, i, c) {
			char idx[32];
			snprintf(idx, sizeof(idx), "%zu", i);
			if ((rc = push_step(cli, path, ptr, idx, true)) == 0)
				rc = print_leaves(cli, c, path, origin, ptr);
			truncate_to(path, keep);
			truncate_to(ptr, pkeep);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	n = json_object_size(v);
	if (!(keys = malloc(n * sizeof(*keys))))
		return tm_err_set(&cli->err, TM_ERROR, "out of memory");
	json_object_foreach(v, k, c) keys[i++] = k;
	qsort(keys, n, sizeof(*keys), by_name);
	for (i = 0; rc == 0 && i < n; i++) {
		if ((rc = push_step(cli, path, ptr, keys[i], false)) == 0)
			rc = print_leaves(cli, json_object_get(v, keys[i]), path, origin, ptr);
		truncate_to(path, keep);
		truncate_to(ptr, pkeep);
	}
	free(keys);
	return rc;
}

int tm_cmd_values(struct tm_cli *cli, void *cmdopts, int argc, char **argv)
{
	struct tm_render_cmd_opts *o = cmdopts;
	struct tm_render_opts ro;
	struct tm_values v = { 0 };
	struct tm_buf path = TM_BUF_INIT("values path", 1u << 20), ptr = TM_BUF_INIT("values path", 1u << 20);
	int rc;

	(void)argv;
	if ((rc = prepare(cli, o, argc, "values", &ro)) != 0)
		return rc;
	if ((rc = tm_render_values(&v, &ro, &cli->err)) < 0)
		goto out;
	if (cli->opts.output == TM_OUTPUT_JSON) {
		json_t *both = json_pack("{s:O, s:O}", "values", v.tree, "origins", v.origin);
		rc = tm_cli_print_json(cli, both);
		json_decref(both);
		goto out;
	}
	if ((rc = tm_buf_puts(&path, "", &cli->err)) == 0 && (rc = tm_buf_puts(&ptr, "", &cli->err)) == 0)
		rc = print_leaves(cli, v.tree, &path, v.origin, &ptr);
out:
	tm_buf_release(&path);
	tm_buf_release(&ptr);
	tm_values_release(&v);
	tm_render_args_release(&o->r);
	return rc < 0 ? tm_cli_fail(cli, &cli->err) : TM_EXIT_OK;
}
