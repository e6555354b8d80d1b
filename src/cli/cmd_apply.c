/* tarmac apply and tarmac diff: the rendered stack (or given manifests) applied phase
 * by phase with waits, or compared with the cluster through a server dry run. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "tarmac/apply.h"
#include "tarmac/doc.h"
#include "tarmac/release.h"
#include "tarmac/secret.h"
#include "tarmac/stack.h"

const struct tm_optspec tm_apply_cmd_optspecs[] = {
	TM_RENDER_OPTSPECS,
	TM_STACK_SECRETS_OPTSPECS,
	TM_DAGS_OPTSPECS,
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
	TM_DAGS_OPTSPECS,
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
		return tm_cli_secret_opts_set(&o->sec, id, value, err);
	case 'g':
	case 'j':
		return tm_cli_dags_opts_set(&o->dags, id, value);
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

/* ------------------------------------------------------------------ the objects */

/* A command's stack context: its cluster (if any), its sink, its stop flag. */
struct tm_stack_ctx tm_cli_stack_ctx(struct tm_cli *cli)
{
	return (struct tm_stack_ctx){ .kube = cli->kube, .report = tm_sink_report, .report_ctx = &cli->sink,
				      .stop = tm_cli_stop_flag() };
}

int tm_cli_render_for_cluster(struct tm_cli *cli, struct tm_render_args *a, const struct tm_stack_dags_opts *dags,
			      struct tm_stack_dags *pinned, json_t **out, json_t **values)
{
	struct tm_stack_ctx ctx = tm_cli_stack_ctx(cli);
	struct tm_render_opts ro, pro;
	int rc;

	memset(pinned, 0, sizeof(*pinned));
	if ((rc = tm_render_args_load(cli, a, &ro)) < 0)
		return rc;
	pro = ro;
	if (dags && (rc = tm_stack_dags_pin(&ctx, dags, tm_stack_env(a->env), &ro, &pro, pinned, &cli->err)) < 0)
		return rc;
	return tm_stack_render(&ctx, &pro, tm_cli_release_ns(cli), out, values, &cli->err);
}

const char *tm_cli_release_name(struct tm_cli *cli)
{
	return tm_stack_release(cli->opts.release);
}

const char *tm_cli_release_ns(struct tm_cli *cli)
{
	return tm_stack_namespace(cli->opts.namespace, cli->kcfg.namespace);
}

static int load_objects(struct tm_cli *cli, struct tm_apply_cmd_opts *o, const struct tm_apply_opts *ao, json_t **out,
			json_t **secrets, struct tm_stack_dags *pinned)
{
	json_t *values = NULL;
	int rc;

	if (o->manifests) {
		if (o->r.env || o->r.nfiles || o->r.nsets)
			return tm_err_set(&cli->err, TM_EINVALID, "--manifests takes the objects as they are: --env, -f and "
					  "--set do not apply to them");
		return tm_stack_load_manifests(o->manifests, out, &cli->err);
	}
	o->dags.secrets = o->sec;
	if ((rc = tm_cli_render_for_cluster(cli, &o->r, &o->dags, pinned, out, &values)) == 0) {
		struct tm_stack_ctx ctx = tm_cli_stack_ctx(cli);

		rc = tm_stack_secrets(&ctx, &o->sec, tm_stack_env(o->r.env), tm_cli_release_name(cli), ao->namespace,
				      values, *out, 0, secrets, &cli->err);
	}
	json_decref(values);
	return rc;
}

void tm_cli_set_kube_opts(struct tm_cli *cli)
{
	struct tm_kube_opts ko = *tm_kube_get_opts(cli->kube);

	ko.report = tm_sink_report;
	ko.report_ctx = &cli->sink;
	ko.cancel = tm_cli_stop_flag();
	tm_kube_set_opts(cli->kube, &ko);
}

void tm_cli_fill_apply_opts(struct tm_cli *cli, const struct tm_apply_cmd_opts *o, struct tm_apply_opts *ao)
{
	memset(ao, 0, sizeof(*ao));
	ao->namespace = o->manifests ? tm_stack_manifest_namespace(cli->opts.namespace, cli->kcfg.namespace)
				     : tm_cli_release_ns(cli);
	ao->dry_run = o->dry_run;
	ao->force_conflicts = o->force;
	ao->wait = !o->no_wait;
	ao->timeout_ms = o->timeout_ms;
	memcpy(ao->phase_timeout_ms, o->phase_timeout_ms, sizeof(ao->phase_timeout_ms));
	ao->report = tm_sink_report;
	ao->report_ctx = &cli->sink;
}

/* apply and diff take no positional arguments: the usage exit code, or 0. */
static int no_arguments(struct tm_cli *cli, struct tm_apply_cmd_opts *o, int argc, const char *cmd)
{
	if (argc == 0)
		return TM_EXIT_OK;
	tm_render_args_release(&o->r);
	return tm_cli_usage(cli, "%s takes no arguments (values come with -f and --set, objects with --manifests)", cmd);
}

/* What apply and diff share before their own work: Ctrl-C caught (undo with
 * tm_cli_restore_signals whatever this returns), the client reporting to the sink, the
 * objects loaded (and the DAG commit pinned: release *pinned with tm_stack_dags_release
 * whatever this returns). 0 or a TM_E* code with cli->err set. */
static int begin(struct tm_cli *cli, struct tm_apply_cmd_opts *o, struct tm_signals *sig, json_t **objects,
		 json_t **secrets, struct tm_apply_opts *ao, struct tm_stack_dags *pinned)
{
	memset(pinned, 0, sizeof(*pinned));
	tm_cli_catch_signals(sig);
	tm_cli_set_kube_opts(cli);
	tm_cli_fill_apply_opts(cli, o, ao);
	return load_objects(cli, o, ao, objects, secrets, pinned);
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
	struct tm_stack_dags pinned;
	json_t *objects = NULL, *secrets = NULL;
	char retries[256];
	int rc, usage;

	(void)argv;
	if ((usage = no_arguments(cli, o, argc, "apply")) != TM_EXIT_OK)
		return usage;
	if ((rc = begin(cli, o, &sig, &objects, &secrets, &ao, &pinned)) < 0 ||
	    (rc = refuse_on_release(cli, o, objects)) < 0)
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
	tm_stack_dags_release(&pinned);
	json_decref(objects);
	tm_secret_objects_free(secrets);
	tm_render_args_release(&o->r);
	return rc < 0 ? tm_cli_fail(cli, &cli->err) : TM_EXIT_OK;
}

/* The object diff (and the DAG change, when the DAGs are pinned) as text or JSON. */
static void print_diff(struct tm_cli *cli, const struct tm_diff_summary *sum, const struct tm_buf *out,
		       json_t *dags)
{
	if (cli->opts.output == TM_OUTPUT_JSON) {
		json_t *j = json_pack("{s:i, s:i, s:i, s:i, s:s%, s:O?}", "create", sum->create, "change", sum->change,
				      "unchanged", sum->same, "unchecked", sum->unchecked, "diff", tm_buf_cstr(out),
				      out->len, "dags", dags);
		char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;

		if (s)
			fprintf(cli->out, "%s\n", s);
		free(s);
		json_decref(j);
	} else {
		fwrite(tm_buf_cstr(out), 1, out->len, cli->out);
		if (dags)
			tm_cli_print_dags_change(cli->out, dags);
	}
	fflush(cli->out);
	tm_sink_log(&cli->sink, TM_INFO, "%u to create, %u to change, %u unchanged%s%.0u%s", sum->create + sum->unchecked,
		    sum->change, sum->same, sum->unchecked ? " (" : "", sum->unchecked,
		    sum->unchecked ? " of the new ones not checked by the server: namespace or CRD not there yet)" : "");
}

int tm_cmd_diff(struct tm_cli *cli, void *cmdopts, int argc, char **argv)
{
	struct tm_apply_cmd_opts *o = cmdopts;
	struct tm_apply_opts ao;
	struct tm_diff_summary sum = { 0 };
	struct tm_buf out = TM_BUF_INIT("diff", 256u << 20);
	struct tm_signals sig;
	struct tm_stack_dags pinned;
	json_t *objects = NULL, *secrets = NULL, *dags = NULL;
	bool color = cli->sink.mode == TM_SINK_TTY && !cli->opts.no_color && !getenv("NO_COLOR") &&
		     isatty(fileno(cli->out));
	bool dags_changed = false;
	int rc, usage;

	(void)argv;
	if ((usage = no_arguments(cli, o, argc, "diff")) != TM_EXIT_OK)
		return usage;
	if ((rc = begin(cli, o, &sig, &objects, &secrets, &ao, &pinned)) < 0 ||
	    (rc = diff_as_release(cli, o, objects)) < 0 ||
	    (rc = tm_apply_diff(&sum, &out, cli->kube, objects, &ao, color, &cli->err)) < 0 ||
	    (rc = tm_cli_diff_dags(&dags, cli, &pinned, &cli->err)) < 0)
		goto out;
	print_diff(cli, &sum, &out, dags);
	dags_changed = json_is_true(json_object_get(dags, "changed"));
out:
	tm_cli_restore_signals(&sig);
	tm_stack_dags_release(&pinned);
	json_decref(objects);
	json_decref(dags);
	tm_secret_objects_free(secrets);
	tm_buf_release(&out);
	tm_render_args_release(&o->r);
	if (rc < 0)
		return tm_cli_fail(cli, &cli->err);
	return sum.create + sum.change + sum.unchecked || dags_changed ? TM_EXIT_DIFF : TM_EXIT_OK;
}
