/* tarmac apply and tarmac diff: the rendered stack (or given manifests) applied phase
 * by phase with waits, or compared with the cluster through a server dry run. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "tarmac/apply.h"
#include "tarmac/doc.h"
#include "tarmac/release.h"
#include "tarmac/secret.h"

#define MANIFEST_MAX (64u << 20)

const struct tm_optspec tm_apply_cmd_optspecs[] = {
	TM_RENDER_OPTSPECS,
	TM_STACK_SECRETS_OPTSPECS,
	{ 'm', "manifests", 0, TM_OPT_VALUE, "PATH", "apply these manifests (a file, a directory of .yaml/.json files, or '-') instead of the stack" },
	{ 'D', "dry-run", 0, TM_OPT_VALUE, "MODE", "'server': the API server checks everything, nothing is stored or awaited" },
	{ 'W', "no-wait", 0, TM_OPT_FLAG, NULL, "apply phase after phase without waiting for readiness" },
	{ 't', "timeout", 0, TM_OPT_VALUE, "D", "give up after D for the whole run (90s, 10m, 1h; default none)" },
	{ 'P', "phase-timeout", 0, TM_OPT_VALUE, "[PHASE=]D", "how long one phase may wait (default 5m); PHASE=D for one phase; repeatable" },
	{ 'x', "force-conflicts", 0, TM_OPT_FLAG, NULL, "take ownership of fields another field manager owns" },
	{ 0 }
};

const struct tm_optspec tm_diff_cmd_optspecs[] = {
	TM_RENDER_OPTSPECS,
	TM_STACK_SECRETS_OPTSPECS,
	{ 'm', "manifests", 0, TM_OPT_VALUE, "PATH", "compare these manifests (file, directory or '-') instead of the stack" },
	{ 'x', "force-conflicts", 0, TM_OPT_FLAG, NULL, "compare as if taking ownership of fields other managers own" },
	{ 0 }
};

int tm_apply_cmd_set_opt(void *opts, int id, const char *value, struct tm_err *err)
{
	struct tm_apply_cmd_opts *o = opts;
	int64_t ms;
	const char *eq;
	int p;

	switch (id) {
	case 'd':
	case 'K':
	case 'Z':
	case 'N':
		return tm_stack_secrets_set(&o->sec, id, value, err);
	case 'm':
		o->manifests = value;
		return 0;
	case 'D':
		if (strcmp(value, "server") == 0)
			o->dry_run = true;
		else if (strcmp(value, "none") != 0)
			return tm_err_set(err, TM_EINVALID, "'%s': the dry run modes are 'server' and 'none'", value);
		return 0;
	case 'W':
		o->no_wait = true;
		return 0;
	case 'x':
		o->force = true;
		return 0;
	case 't':
		if (tm_parse_duration_ms(value, &ms) < 0 || ms <= 0)
			return tm_err_set(err, TM_EINVALID, "'%s' is not a duration like 90s, 10m or 1h30m", value);
		o->timeout_ms = ms;
		return 0;
	case 'P':
		if ((eq = strchr(value, '='))) {
			char name[32];

			snprintf(name, sizeof(name), "%.*s", (int)(eq - value), value);
			if ((p = tm_phase_find(name)) < 0) {
				struct tm_buf all = TM_BUF_INIT("phases", 512);

				for (int i = 0; i < TM_PHASE_COUNT; i++)
					if (tm_buf_printf(&all, NULL, "%s%s", i ? ", " : "", tm_phase_name((enum tm_phase)i)) < 0)
						break;
				tm_err_set(err, TM_EINVALID, "'%s' is not a phase (%s)", name, tm_buf_cstr(&all));
				tm_buf_release(&all);
				return TM_EINVALID;
			}
			value = eq + 1;
		} else {
			p = -1;
		}
		if (tm_parse_duration_ms(value, &ms) < 0 || ms <= 0)
			return tm_err_set(err, TM_EINVALID, "'%s' is not a duration like 90s, 10m or 1h30m", value);
		for (int i = 0; i < TM_PHASE_COUNT; i++)
			if (p < 0 ? !o->phase_set[i] : i == p) {
				o->phase_timeout_ms[i] = ms;
				o->phase_set[i] = p >= 0;
			}
		return 0;
	}
	return tm_render_args_set(&o->r, id, value, err);
}

/* ------------------------------------------------------------------ Ctrl-C */

/* The one mutable global: a signal handler can reach nothing else. The release lock
 * raises it too when the lock is lost, so waits stop the same way. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

volatile sig_atomic_t *tm_cli_stop_flag(void)
{
	return &interrupted;
}

void tm_cli_catch_signals(struct tm_signals *s)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* nested in tm_cli_main's catch: a signal that came already must not be lost */
	if (sigaction(SIGINT, NULL, &s->old_int) < 0 || s->old_int.sa_handler != on_signal)
		interrupted = 0;
	sigaction(SIGINT, &sa, &s->old_int);
	sigaction(SIGTERM, &sa, &s->old_term);
}

void tm_cli_restore_signals(const struct tm_signals *s)
{
	sigaction(SIGINT, &s->old_int, NULL);
	sigaction(SIGTERM, &s->old_term, NULL);
}

/* ------------------------------------------------------------------ the objects */

/* Appends the objects of one YAML stream; a List's items count as objects. */
static int add_stream(json_t *all, const struct tm_buf *text, const char *name, struct tm_err *err)
{
	json_t *docs = NULL, *d;
	size_t i;
	int rc;

	if ((rc = tm_doc_parse_yaml_stream(&docs, text->data ? text->data : "", text->len, name, err)) < 0)
		return rc;
	json_array_foreach(docs, i, d) {
		const char *kind = json_string_value(json_object_get(d, "kind"));
		json_t *items = json_object_get(d, "items");

		if (json_is_null(d))
			continue;
		if (!json_is_object(d)) {
			rc = tm_err_set(err, TM_EINVALID, "%s: document %zu: expected a Kubernetes object (a mapping)", name, i + 1);
			break;
		}
		if (kind && strlen(kind) > 4 && strcmp(kind + strlen(kind) - 4, "List") == 0 && json_is_array(items)) {
			json_array_extend(all, items);
			continue;
		}
		json_array_append(all, d);
	}
	json_decref(docs);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool manifest_name(const char *n)
{
	size_t l = strlen(n);

	return n[0] != '.' && ((l > 5 && (strcmp(n + l - 5, ".yaml") == 0 || strcmp(n + l - 5, ".json") == 0)) ||
			       (l > 4 && strcmp(n + l - 4, ".yml") == 0));
}

/* --manifests: a file, '-', or a directory's .yaml/.yml/.json files in name order. */
static int load_manifests(struct tm_cli *cli, const char *path, json_t **out)
{
	json_t *all = json_array();
	struct tm_buf text = TM_BUF_INIT("manifests", MANIFEST_MAX);
	struct stat st;
	char **names = NULL;
	size_t n = 0;
	int rc = 0;

	if (!all)
		return tm_err_set(&cli->err, TM_ERROR, "out of memory");
	if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *e;

		if (!d) {
			rc = tm_err_errno(&cli->err, errno, "open directory '%s'", path);
			goto out;
		}
		while ((e = readdir(d))) {
			char **grown;

			if (!manifest_name(e->d_name))
				continue;
			if (!(grown = realloc(names, (n + 1) * sizeof(*names))) || !(grown[n] = strdup(e->d_name))) {
				names = grown ? grown : names;
				closedir(d);
				rc = tm_err_set(&cli->err, TM_ERROR, "out of memory");
				goto out;
			}
			names = grown;
			n++;
		}
		closedir(d);
		qsort(names, n, sizeof(*names), by_name);
		for (size_t i = 0; i < n; i++) {
			char full[4096];

			snprintf(full, sizeof(full), "%s/%s", path, names[i]);
			if ((rc = tm_file_read(&text, full, MANIFEST_MAX, &cli->err)) < 0 ||
			    (rc = add_stream(all, &text, full, &cli->err)) < 0)
				goto out;
		}
		if (!n) {
			rc = tm_err_set(&cli->err, TM_EINVALID, "--manifests '%s': no .yaml, .yml or .json files in it", path);
			goto out;
		}
	} else if ((rc = tm_file_read(&text, path, MANIFEST_MAX, &cli->err)) < 0 ||
		   (rc = add_stream(all, &text, strcmp(path, "-") ? path : "<stdin>", &cli->err)) < 0) {
		goto out;
	}
	*out = all;
	all = NULL;
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	tm_buf_release(&text);
	json_decref(all);
	return rc;
}

int tm_cli_render_for_cluster(struct tm_cli *cli, struct tm_render_args *a, json_t **out, json_t **values)
{
	struct tm_render_opts ro;
	struct tm_rendered r = { 0 };
	const char *const *served;
	const char **apis = NULL;
	size_t nserved;
	int rc;

	if ((rc = tm_render_args_load(cli, a, &ro)) < 0)
		return rc;
	if ((rc = tm_kube_discover(cli->kube, &cli->err)) < 0)
		return rc;
	if (!a->kube_version && tm_kube_version(cli->kube))
		ro.kube_version = tm_kube_version(cli->kube);
	nserved = tm_kube_api_versions(cli->kube, &served);
	if (!(apis = calloc(nserved + a->napi_versions + 1, sizeof(*apis))))
		return tm_err_set(&cli->err, TM_ERROR, "out of memory");
	memcpy(apis, a->api_versions, a->napi_versions * sizeof(*apis));
	memcpy(apis + a->napi_versions, served, nserved * sizeof(*apis));
	ro.api_versions = apis;
	ro.napi_versions = nserved + a->napi_versions;
	ro.namespace = tm_cli_release_ns(cli);
	rc = tm_render(&r, &ro, &cli->err);
	if (rc == 0) {
		*out = r.objects;
		r.objects = NULL;
		if (values)
			*values = json_incref(r.values.tree);
	}
	tm_rendered_release(&r);
	free(apis);
	return rc;
}

const char *tm_cli_release_name(struct tm_cli *cli)
{
	return cli->opts.release ? cli->opts.release : TM_DEFAULT_RELEASE;
}

const char *tm_cli_release_ns(struct tm_cli *cli)
{
	if (cli->opts.namespace)
		return cli->opts.namespace;
	if (cli->kcfg.namespace && strcmp(cli->kcfg.namespace, "default") != 0)
		return cli->kcfg.namespace;
	return TM_DEFAULT_NAMESPACE;
}

static int load_objects(struct tm_cli *cli, struct tm_apply_cmd_opts *o, const struct tm_apply_opts *ao, json_t **out,
			json_t **secrets)
{
	json_t *values = NULL;
	int rc;

	if (o->manifests) {
		if (o->r.env || o->r.nfiles || o->r.nsets)
			return tm_err_set(&cli->err, TM_EINVALID, "--manifests takes the objects as they are: --env, -f and "
					  "--set do not apply to them");
		return load_manifests(cli, o->manifests, out);
	}
	if ((rc = tm_cli_render_for_cluster(cli, &o->r, out, &values)) == 0)
		rc = tm_cli_stack_secrets(cli, &o->sec, o->r.env ? o->r.env : TM_DEFAULT_ENV, tm_cli_release_name(cli),
					  ao->namespace, values, *out, false, secrets);
	json_decref(values);
	return rc;
}

void tm_cli_set_kube_opts(struct tm_cli *cli)
{
	struct tm_kube_opts ko = *tm_kube_get_opts(cli->kube);

	ko.report = tm_sink_report;
	ko.report_ctx = &cli->sink;
	ko.cancel = &interrupted;
	tm_kube_set_opts(cli->kube, &ko);
}

void tm_cli_fill_apply_opts(struct tm_cli *cli, const struct tm_apply_cmd_opts *o, struct tm_apply_opts *ao)
{
	memset(ao, 0, sizeof(*ao));
	ao->namespace = cli->opts.namespace ? cli->opts.namespace
		       : cli->kcfg.namespace ? cli->kcfg.namespace : o->manifests ? "default" : TM_DEFAULT_NAMESPACE;
	ao->dry_run = o->dry_run;
	ao->force_conflicts = o->force;
	ao->wait = !o->no_wait;
	ao->timeout_ms = o->timeout_ms;
	memcpy(ao->phase_timeout_ms, o->phase_timeout_ms, sizeof(ao->phase_timeout_ms));
	ao->report = tm_sink_report;
	ao->report_ctx = &cli->sink;
}

/* What apply and diff share before their own work: no arguments, Ctrl-C caught, the
 * client reporting to the sink, the objects loaded. Returns a usage exit code (> 0,
 * nothing to undo), or 0 / a TM_E* code with the signals caught (undo them). */
static int begin(struct tm_cli *cli, struct tm_apply_cmd_opts *o, int argc, const char *cmd, struct tm_signals *sig,
		 json_t **objects, json_t **secrets, struct tm_apply_opts *ao)
{
	if (argc > 0) {
		tm_render_args_release(&o->r);
		return tm_cli_usage(cli, "%s takes no arguments (values come with -f and --set, objects with --manifests)",
				    cmd);
	}
	tm_cli_catch_signals(sig);
	tm_cli_set_kube_opts(cli);
	tm_cli_fill_apply_opts(cli, o, ao);
	return load_objects(cli, o, ao, objects, secrets);
}

/* diff with a release installed: the stack is compared as 'up' would apply it, with
 * the release's labels (the same function decorates both), so no drift shows right
 * after 'up'. Given manifests are compared as they are, as apply would apply them. */
static int diff_as_release(struct tm_cli *cli, const struct tm_apply_cmd_opts *o, json_t *objects)
{
	const char *name = tm_cli_release_name(cli), *ns = tm_cli_release_ns(cli);
	int latest = 0, rc;

	if (o->manifests)
		return 0;
	if ((rc = tm_release_installed(&latest, cli->kube, name, ns, &cli->err)) < 0 || !latest)
		return rc;
	tm_sink_log(&cli->sink, TM_DEBUG, "release '%s' (revision %d) is installed in namespace '%s': comparing the "
		    "stack as 'tarmac up' applies it, with the release's labels", name, latest, ns);
	return tm_release_decorate(objects, name, ns, &cli->err);
}

/* apply with a release installed is refused: it would change the release's objects
 * outside its history (no revision to roll back to) and, applying under the same
 * field manager without the release's labels, take them out of its inventory. Given
 * manifests are refused only when they name live members of the release. */
static int refuse_on_release(struct tm_cli *cli, const struct tm_apply_cmd_opts *o, const json_t *objects)
{
	const char *name = tm_cli_release_name(cli), *ns = tm_cli_release_ns(cli);
	char first[400] = "";
	size_t members = 0;
	int latest = 0, rc;

	if (o->manifests) {
		if ((rc = tm_release_members(&members, first, sizeof(first), cli->kube, name, ns, objects, &cli->err)) < 0 ||
		    !members)
			return rc;
		return tm_err_set(&cli->err, TM_ECONFLICT, "%zu of these objects (%s%s) belong to release '%s' in namespace "
				  "'%s': change them through the release ('tarmac up' with -f/--set), not 'tarmac apply', "
				  "which would leave them outside its history and its inventory", members, first,
				  members > 1 ? ", ..." : "", name, ns);
	}
	if ((rc = tm_release_installed(&latest, cli->kube, name, ns, &cli->err)) < 0 || !latest)
		return rc;
	return tm_err_set(&cli->err, TM_ECONFLICT, "release '%s' is installed in namespace '%s' (revision %d): use 'tarmac "
			  "up' (or 'tarmac upgrade'), which records a revision and keeps its inventory labels; 'tarmac diff' "
			  "shows what it would change, 'tarmac up --dry-run server' checks it. 'tarmac apply' is for a "
			  "namespace without a release", name, ns, latest);
}

void tm_cli_summary_retries(char *buf, size_t n, const struct tm_kube_stats *st)
{
	if (!st->retries) {
		snprintf(buf, n, "no retries");
		return;
	}
	snprintf(buf, n, "%u retr%s (%u after 5xx, %u after 429, %u dropped connections, %u timeouts)", st->retries,
		 st->retries == 1 ? "y" : "ies", st->retry_5xx, st->retry_429, st->retry_dropped, st->retry_timeout);
}

int tm_cmd_apply(struct tm_cli *cli, void *cmdopts, int argc, char **argv)
{
	struct tm_apply_cmd_opts *o = cmdopts;
	struct tm_apply_opts ao;
	struct tm_apply_result res;
	struct tm_signals sig;
	json_t *objects = NULL, *secrets = NULL;
	char retries[256];
	int rc;

	(void)argv;
	if ((rc = begin(cli, o, argc, "apply", &sig, &objects, &secrets, &ao)) > 0)
		return rc;
	if (rc < 0 || (rc = refuse_on_release(cli, o, objects)) < 0)
		goto out;
	rc = tm_apply(&res, cli->kube, objects, &ao, &cli->err);
	tm_cli_summary_retries(retries, sizeof(retries), tm_kube_stats(cli->kube));
	if (rc == 0)
		tm_sink_log(&cli->sink, TM_INFO, "%s %u objects in %.1f s: %u created, %u applied, %u replaced, %u awaited%s%.0u%s; "
			    "%u requests, %s", o->dry_run ? "checked" : "applied", res.objects, (double)res.elapsed_ms / 1000.0,
			    res.created, res.applied, res.replaced, res.waited, res.skipped ? ", " : "", res.skipped,
			    res.skipped ? " not checked (namespace or CRD not there yet)" : "",
			    tm_kube_requests(cli->kube), retries);
	else
		tm_sink_log(&cli->sink, TM_INFO, "stopped after %.1f s; %u requests, %s", (double)res.elapsed_ms / 1000.0,
			    tm_kube_requests(cli->kube), retries);
out:
	tm_cli_restore_signals(&sig);
	json_decref(objects);
	tm_secret_objects_free(secrets);
	tm_render_args_release(&o->r);
	return rc < 0 ? tm_cli_fail(cli, &cli->err) : TM_EXIT_OK;
}

int tm_cmd_diff(struct tm_cli *cli, void *cmdopts, int argc, char **argv)
{
	struct tm_apply_cmd_opts *o = cmdopts;
	struct tm_apply_opts ao;
	struct tm_diff_summary sum = { 0 };
	struct tm_buf out = TM_BUF_INIT("diff", 256u << 20);
	struct tm_signals sig;
	json_t *objects = NULL, *secrets = NULL;
	bool color = cli->sink.mode == TM_SINK_TTY && !cli->opts.no_color && !getenv("NO_COLOR") &&
		     isatty(fileno(cli->out));
	int rc;

	(void)argv;
	if ((rc = begin(cli, o, argc, "diff", &sig, &objects, &secrets, &ao)) > 0)
		return rc;
	if (rc < 0 || (rc = diff_as_release(cli, o, objects)) < 0)
		goto out;
	if ((rc = tm_apply_diff(&sum, &out, cli->kube, objects, &ao, color, &cli->err)) < 0)
		goto out;
	if (cli->opts.output == TM_OUTPUT_JSON) {
		json_t *j = json_pack("{s:i, s:i, s:i, s:i, s:s%}", "create", sum.create, "change", sum.change, "unchanged",
				      sum.same, "unchecked", sum.unchecked, "diff", tm_buf_cstr(&out), out.len);
		char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;

		if (s)
			fprintf(cli->out, "%s\n", s);
		free(s);
		json_decref(j);
	} else {
		fwrite(tm_buf_cstr(&out), 1, out.len, cli->out);
	}
	fflush(cli->out);
	tm_sink_log(&cli->sink, TM_INFO, "%u to create, %u to change, %u unchanged%s%.0u%s", sum.create + sum.unchecked,
		    sum.change, sum.same, sum.unchecked ? " (" : "", sum.unchecked,
		    sum.unchecked ? " of the new ones not checked by the server: namespace or CRD not there yet)" : "");
out:
	tm_cli_restore_signals(&sig);
	json_decref(objects);
	tm_secret_objects_free(secrets);
	tm_buf_release(&out);
	tm_render_args_release(&o->r);
	if (rc < 0)
		return tm_cli_fail(cli, &cli->err);
	return sum.create + sum.change + sum.unchecked ? TM_EXIT_DIFF : TM_EXIT_OK;
}
