/* tarmac up, install, upgrade, rollback, history, status and uninstall: options into
 * a struct tm_release_opts, one call into the release module, the result printed. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tarmac/release.h"
#include "tarmac/secret.h"

#define DEFAULT_HISTORY_MAX 10

#define LOCK_OPTSPECS                                                                                          \
	{ 'L', "wait-for-lock", 0, TM_OPT_FLAG, NULL, "wait while another run holds the release's lock (up to --timeout) instead of failing" }, \
	{ 'T', "lock-ttl", 0, TM_OPT_VALUE, "D", "how long the lock outlives a run that stops renewing it (default 60s)" }

#define WAIT_OPTSPECS                                                                                          \
	{ 'W', "no-wait", 0, TM_OPT_FLAG, NULL, "apply phase after phase without waiting for readiness" },     \
	{ 't', "timeout", 0, TM_OPT_VALUE, "D", "give up after D for the whole run (90s, 10m, 1h; default none)" }, \
	{ 'P', "phase-timeout", 0, TM_OPT_VALUE, "[PHASE=]D", "how long one phase may wait (default 5m); PHASE=D for one phase; repeatable" }

#define HISTORY_OPTSPEC                                                                                        \
	{ 'H', "history-max", 0, TM_OPT_VALUE, "N", "revisions to keep (default 10; 0 keeps all)" }

const struct tm_optspec tm_deploy_cmd_optspecs[] = {
	TM_RENDER_OPTSPECS,
	TM_STACK_SECRETS_OPTSPECS,
	TM_DAGS_OPTSPECS,
	WAIT_OPTSPECS,
	LOCK_OPTSPECS,
	HISTORY_OPTSPEC,
	{ 'D', "dry-run", 0, TM_OPT_VALUE, "MODE", "'server': the API server checks everything; nothing is recorded, applied or pruned" },
	{ 'x', "force-conflicts", 0, TM_OPT_FLAG, NULL, "take ownership of fields another field manager owns" },
	{ 'R', "no-rollback", 0, TM_OPT_FLAG, NULL, "on failure, leave the failed revision in place for debugging" },
	{ 'O', "take-ownership", 0, TM_OPT_FLAG, NULL, "adopt existing objects of the stack that tarmac did not make; they end as rendered" },
	{ 'G', "allow-schema-downgrade", 0, TM_OPT_FLAG, NULL, "deploy an Airflow older than the DB schema (restore or downgrade the DB first)" },
	{ 0 }
};

const struct tm_optspec tm_rollback_cmd_optspecs[] = {
	WAIT_OPTSPECS,
	LOCK_OPTSPECS,
	HISTORY_OPTSPEC,
	{ 'x', "force-conflicts", 0, TM_OPT_FLAG, NULL, "take ownership of fields another field manager owns" },
	{ 'G', "allow-schema-downgrade", 0, TM_OPT_FLAG, NULL, "roll back to an Airflow older than the DB schema (restore or downgrade the DB first)" },
	{ 0 }
};

const struct tm_optspec tm_uninstall_cmd_optspecs[] = {
	WAIT_OPTSPECS,
	LOCK_OPTSPECS,
	{ 'p', "purge", 0, TM_OPT_FLAG, NULL, "delete PVCs, kept Secrets, the namespace and the history too" },
	{ 0 }
};

const struct tm_optspec tm_history_cmd_optspecs[] = {
	{ 0 }
};

int tm_release_cmd_set_opt(void *opts, int id, const char *value, struct tm_err *err)
{
	struct tm_release_cmd_opts *o = opts;
	int64_t ms;
	char *end;
	long n;

	switch (id) {
	case 'R':
		o->no_rollback = true;
		return 0;
	case 'L':
		o->wait_for_lock = true;
		return 0;
	case 'O':
		o->take_ownership = true;
		return 0;
	case 'G':
		o->allow_schema_downgrade = true;
		return 0;
	case 'p':
		o->purge = true;
		return 0;
	case 'H':
		n = strtol(value, &end, 10);
		if (end == value || *end || n < 0 || n > 10000)
			return tm_err_set(err, TM_EINVALID, "'%s' is not a number of revisions (0 to 10000)", value);
		o->history_max = (int)n;
		o->history_max_set = true;
		return 0;
	case 'T':
		if (tm_parse_duration_ms(value, &ms) < 0 || ms < 3000)
			return tm_err_set(err, TM_EINVALID, "'%s' is not a lock TTL of at least 3s (like 30s or 2m)", value);
		o->lock_ttl_ms = ms;
		return 0;
	}
	return tm_apply_cmd_set_opt(&o->a, id, value, err);
}

/* ------------------------------------------------------------------ common */

static const char *release_name(struct tm_cli *cli)
{
	return tm_cli_release_name(cli);
}

/* The namespace render puts the stack in, and so where the release lives. */
static const char *release_ns(struct tm_cli *cli)
{
	return tm_cli_release_ns(cli);
}

/* The usage exit code for a release name Kubernetes would refuse, else TM_EXIT_OK. */
static int check_name(struct tm_cli *cli)
{
	if (!tm_is_dns_label(release_name(cli), 53))
		return tm_cli_usage(cli, "'%s' is not a release name: lowercase letters, digits and '-', at most 53",
				    release_name(cli));
	return TM_EXIT_OK;
}

static void fill_opts(struct tm_cli *cli, struct tm_release_cmd_opts *o, const char *command,
		      struct tm_release_opts *ro)
{
	memset(ro, 0, sizeof(*ro));
	ro->name = release_name(cli);
	ro->ns = release_ns(cli);
	ro->env = tm_stack_env(o->a.r.env);
	ro->command = command;
	ro->tarmac_version = TM_VERSION;
	ro->history_max = o->history_max_set ? o->history_max : DEFAULT_HISTORY_MAX;
	ro->dry_run = o->a.dry_run;
	ro->atomic = !o->no_rollback;
	ro->take_ownership = o->take_ownership;
	ro->allow_schema_downgrade = o->allow_schema_downgrade;
	ro->purge = o->purge;
	ro->lock.ttl_ms = o->lock_ttl_ms;
	ro->lock.wait = o->wait_for_lock;
	ro->lock.wait_ms = o->a.timeout_ms;
	ro->lock.cfg = &cli->kcfg;
	ro->lock.lost = tm_cli_stop_flag();
	ro->lock.report = tm_sink_report;
	ro->lock.report_ctx = &cli->sink;
	tm_cli_fill_apply_opts(cli, &o->a, &ro->apply);
	ro->apply.namespace = ro->ns;
	ro->report = tm_sink_report;
	ro->report_ctx = &cli->sink;
}

/* The closing line of a run that applied something. */
static void summary(struct tm_cli *cli, const char *what, const struct tm_release_result *r, int64_t start)
{
	char retries[256];

	tm_cli_summary_retries(retries, sizeof(retries), tm_kube_stats(cli->kube));
	tm_sink_log(&cli->sink, TM_INFO, "%s in %.1f s: %u created, %u applied, %u replaced, %u awaited, %u pruned%s%.0u%s; "
		    "%u requests, %s", what, (double)(tm_now_ms() - start) / 1000.0, r->apply.created, r->apply.applied,
		    r->apply.replaced, r->apply.waited, r->prune.deleted, r->prune.kept ? ", " : "", r->prune.kept,
		    r->prune.kept ? " kept" : "", tm_kube_requests(cli->kube), retries);
}

static void print_result(struct tm_cli *cli, const char *command, const struct tm_release_opts *ro,
			 const struct tm_release_result *r, int rc)
{
	if (cli->opts.output == TM_OUTPUT_JSON) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:b, s:b, s:i, s:i, s:i, s:s, s:i}", "command", command,
				      "release", ro->name, "namespace", ro->ns, "revision", r->revision, "unchanged",
				      r->unchanged, "dryRun", ro->dry_run, "rolledBackTo", r->rolled_back_to,
				      "rollbackRevision", r->rollback_revision, "pruned", r->prune.deleted, "result",
				      tm_exit_name(tm_exit_for(rc)), "requests", tm_kube_requests(cli->kube));

		tm_cli_print_json(cli, j);
		json_decref(j);
		return;
	}
	if (rc < 0)
		return;
	if (r->unchanged)
		fprintf(cli->out, "release %s: nothing changed since revision %d; no new revision (%u requests)\n", ro->name,
			r->revision, tm_kube_requests(cli->kube));
	else if (ro->dry_run)
		fprintf(cli->out, "release %s: server dry run passed (%u objects checked by the server, %u Jobs would be "
			"replaced, %u not checked yet, %u would be pruned); nothing recorded\n", ro->name,
			r->apply.created + r->apply.applied, r->apply.replaced, r->apply.skipped, r->prune.deleted);
	else
		fprintf(cli->out, "release %s: revision %d deployed\n", ro->name, r->revision);
	fflush(cli->out);
}

/* ------------------------------------------------------------------ up, install, upgrade */

static int deploy(struct tm_cli *cli, struct tm_release_cmd_opts *o, int argc, enum tm_release_mode mode,
		  const char *command)
{
	struct tm_release_opts ro;
	struct tm_release_result res = { 0 };
	struct tm_signals sig;
	json_t *objects = NULL, *values = NULL, *secrets = NULL;
	struct tm_stack_ctx ctx = tm_cli_stack_ctx(cli);
	struct tm_stack_dags pinned = { 0 };
	int64_t start = tm_now_ms();
	int usage, rc;

	if (argc > 0) {
		tm_render_args_release(&o->a.r);
		return tm_cli_usage(cli, "%s takes no arguments (values come with -f and --set)", command);
	}
	if ((usage = check_name(cli)) != TM_EXIT_OK) {
		tm_render_args_release(&o->a.r);
		return usage;
	}
	tm_cli_catch_signals(&sig);
	tm_cli_set_kube_opts(cli);
	fill_opts(cli, o, command, &ro);
	o->a.dags.secrets = o->a.sec;
	if ((rc = tm_cli_render_for_cluster(cli, &o->a.r, &o->a.dags, &pinned, &objects, &values)) < 0 ||
	    (rc = tm_stack_secrets(&ctx, &o->a.sec, ro.env, ro.name, ro.ns, values, objects,
				   TM_STACK_GUARD | (ro.dry_run ? 0 : TM_STACK_MAKE), &secrets, &cli->err)) < 0 ||
	    (rc = tm_stack_task_refs(&ctx, objects, ro.ns, ro.dry_run, &cli->err)) < 0)
		goto out;
	ro.dag_commit = pinned.configured ? pinned.commit : NULL;
	ro.dag_note = tm_stack_dags_note;
	ro.dag_note_ctx = &pinned;
	rc = tm_release_deploy(&res, cli->kube, mode, objects, values, &ro, &cli->err);
	if (!res.unchanged && (res.revision || res.apply.objects))
		summary(cli, rc == 0 ? (ro.dry_run ? "checked" : "deployed") : "stopped", &res, start);
	print_result(cli, command, &ro, &res, rc);
out:
	tm_cli_restore_signals(&sig);
	tm_stack_dags_release(&pinned);
	json_decref(objects);
	json_decref(values);
	tm_secret_objects_free(secrets);
	tm_render_args_release(&o->a.r);
	return rc < 0 ? tm_cli_fail(cli, &cli->err) : TM_EXIT_OK;
}

int tm_cmd_up(struct tm_cli *cli, void *cmdopts, int argc, char **argv)
{
	(void)argv;
	return deploy(cli, cmdopts, argc, TM_RELEASE_UP, "up");
}

int tm_cmd_install(struct tm_cli *cli, void *cmdopts, int argc, char **argv)
{
	(void)argv;
	return deploy(cli, cmdopts, argc, TM_RELEASE_INSTALL, "install");
}

int tm_cmd_upgrade(struct tm_cli *cli, void *cmdopts, int argc, char **argv)
{
	(void)argv;
	return deploy(cli, cmdopts, argc, TM_RELEASE_UPGRADE, "upgrade");
}

/* ------------------------------------------------------------------ rollback, uninstall */

int tm_cmd_rollback(struct tm_cli *cli, void *cmdopts, int argc, char **argv)
{
	struct tm_release_cmd_opts *o = cmdopts;
	struct tm_release_opts ro;
	struct tm_release_result res = { 0 };
	struct tm_signals sig;
	long target = 0;
	int64_t start = tm_now_ms();
	int usage, rc;

	if (argc > 1)
		return tm_cli_usage(cli, "rollback takes at most one revision number");
	if (argc == 1) {
		char *end;

		target = strtol(argv[0], &end, 10);
		if (end == argv[0] || *end || target <= 0 || target > 1000000000)
			return tm_cli_usage(cli, "'%s' is not a revision number (see 'tarmac history')", argv[0]);
	}
	if ((usage = check_name(cli)) != TM_EXIT_OK)
		return usage;
	tm_cli_catch_signals(&sig);
	tm_cli_set_kube_opts(cli);
	fill_opts(cli, o, "rollback", &ro);
	rc = tm_release_rollback(&res, cli->kube, (int)target, &ro, &cli->err);
	if (res.revision)
		summary(cli, rc == 0 ? "rolled back" : "stopped", &res, start);
	if (rc == 0 && cli->opts.output != TM_OUTPUT_JSON)
		fprintf(cli->out, "release %s: rolled back to revision %d as revision %d\n", ro.name, res.rolled_back_to,
			res.revision);
	else
		print_result(cli, "rollback", &ro, &res, rc);
	tm_cli_restore_signals(&sig);
	return rc < 0 ? tm_cli_fail(cli, &cli->err) : TM_EXIT_OK;
}

int tm_cmd_uninstall(struct tm_cli *cli, void *cmdopts, int argc, char **argv)
{
	struct tm_release_cmd_opts *o = cmdopts;
	struct tm_release_opts ro;
	struct tm_release_result res = { 0 };
	struct tm_signals sig;
	int usage, rc;

	(void)argv;
	if (argc > 0)
		return tm_cli_usage(cli, "uninstall takes no arguments (the release comes from --release)");
	if ((usage = check_name(cli)) != TM_EXIT_OK)
		return usage;
	tm_cli_catch_signals(&sig);
	tm_cli_set_kube_opts(cli);
	fill_opts(cli, o, "uninstall", &ro);
	rc = tm_release_uninstall(&res, cli->kube, &ro, &cli->err);
	if (cli->opts.output == TM_OUTPUT_JSON) {
		print_result(cli, "uninstall", &ro, &res, rc);
	} else if (rc == 0) {
		fprintf(cli->out, "release %s: uninstalled; %u objects deleted, %u kept%s\n", ro.name, res.prune.deleted,
			res.prune.kept, ro.purge ? ", history purged" : res.prune.kept ? " (PVCs, generated Secrets, the "
							"namespace: --purge deletes them)" : "");
		fflush(cli->out);
	}
	tm_cli_restore_signals(&sig);
	return rc < 0 ? tm_cli_fail(cli, &cli->err) : TM_EXIT_OK;
}

/* ------------------------------------------------------------------ history, status */

int tm_cmd_history(struct tm_cli *cli, void *cmdopts, int argc, char **argv)
{
	struct tm_revision *revs = NULL;
	size_t n = 0;
	int usage, rc;

	(void)cmdopts;
	(void)argv;
	if (argc > 0)
		return tm_cli_usage(cli, "history takes no arguments (the release comes from --release)");
	if ((usage = check_name(cli)) != TM_EXIT_OK)
		return usage;
	tm_cli_set_kube_opts(cli);
	if ((rc = tm_release_list(&revs, &n, cli->kube, release_name(cli), release_ns(cli), &cli->err)) < 0)
		goto out;
	if (!n) {
		rc = tm_err_set(&cli->err, TM_ENOTFOUND, "release '%s' has no history in namespace '%s'", release_name(cli),
				release_ns(cli));
		goto out;
	}
	if (cli->opts.output == TM_OUTPUT_JSON) {
		json_t *a = json_array();

		for (size_t i = 0; a && i < n; i++) {
			struct tm_revision *r = &revs[i];

			json_array_append_new(a, json_pack("{s:i, s:s, s:s, s:s, s:s?, s:s, s:s, s:s, s:s, s:s, s:i, s:s?}",
							   "revision", r->number, "status",
							   tm_release_status_name(r->status), "description",
							   r->description, "airflowVersion", r->airflow_version,
							   "dagCommit", r->dag_commit[0] ? r->dag_commit : NULL,
							   "schemaVersion", r->schema_version,
							   "tarmacVersion", r->tarmac_version, "env", r->env, "created",
							   r->created, "updated", r->updated, "recordParts", r->parts,
							   "error", r->error[0] ? r->error : NULL));
		}
		tm_cli_print_json(cli, a);
		json_decref(a);
		goto out;
	}
	fprintf(cli->out, "%-9s %-21s %-12s %-10s %s\n", "REVISION", "UPDATED", "STATUS", "AIRFLOW", "DESCRIPTION");
	for (size_t i = 0; i < n; i++)
		tm_fprintf_escaped(cli->out, "%-9d %-21s %-12s %-10s %s\n", revs[i].number, revs[i].updated,
			tm_release_status_name(revs[i].status), revs[i].airflow_version[0] ? revs[i].airflow_version : "-",
			revs[i].description);
	fflush(cli->out);
out:
	free(revs);
	return rc < 0 ? tm_cli_fail(cli, &cli->err) : TM_EXIT_OK;
}

int tm_cmd_status(struct tm_cli *cli, void *cmdopts, int argc, char **argv)
{
	json_t *st = NULL, *comp;
	size_t i;
	int usage, rc, notready = 0;

	(void)cmdopts;
	(void)argv;
	if (argc > 0)
		return tm_cli_usage(cli, "status takes no arguments (the release comes from --release)");
	if ((usage = check_name(cli)) != TM_EXIT_OK)
		return usage;
	tm_cli_set_kube_opts(cli);
	if ((rc = tm_release_status(&st, cli->kube, release_name(cli), release_ns(cli), &cli->err)) < 0)
		goto out;
	json_array_foreach(json_object_get(st, "components"), i, comp)
		notready += !json_is_true(json_object_get(comp, "ready"));
	if (cli->opts.output == TM_OUTPUT_JSON) {
		tm_cli_print_json(cli, st);
		goto out;
	}
	tm_fprintf_escaped(cli->out, "release:   %s (namespace %s)\nrevision:  %d, %s, %s (%s)\nairflow:   %s%s%s%s\nlock:      %s\n",
		json_string_value(json_object_get(st, "release")), json_string_value(json_object_get(st, "namespace")),
		(int)json_integer_value(json_object_get(st, "revision")), json_string_value(json_object_get(st, "status")),
		json_string_value(json_object_get(st, "description")), json_string_value(json_object_get(st, "updated")),
		json_string_value(json_object_get(st, "airflowVersion")),
		json_string_value(json_object_get(st, "schemaVersion")) ? " (DB schema for " : "",
		json_string_value(json_object_get(st, "schemaVersion")) ?: "",
		json_string_value(json_object_get(st, "schemaVersion")) ? ")" : "",
		json_string_value(json_object_get(st, "lock")));
	if (json_array_size(json_object_get(st, "components"))) {
		fprintf(cli->out, "\n%-24s %-38s %-8s %s\n", "COMPONENT", "OBJECT", "STATE", "DETAIL");
		json_array_foreach(json_object_get(st, "components"), i, comp) {
			char object[300];

			snprintf(object, sizeof(object), "%s/%s", json_string_value(json_object_get(comp, "kind")),
				 json_string_value(json_object_get(comp, "name")));
			tm_fprintf_escaped(cli->out, "%-24s %-38s %-8s %s\n", json_string_value(json_object_get(comp, "component")) ?: "-",
				object, json_string_value(json_object_get(comp, "state")),
				json_string_value(json_object_get(comp, "reason")));
		}
	}
	if (json_string_value(json_object_get(st, "lastError")))
		tm_fprintf_escaped(cli->out, "\nlast failure (revision %d): %s\n",
			(int)json_integer_value(json_object_get(st, "lastErrorRevision")),
			json_string_value(json_object_get(st, "lastError")));
	fflush(cli->out);
	if (notready)
		tm_sink_log(&cli->sink, TM_INFO, "%d of %zu components not ready", notready,
			    json_array_size(json_object_get(st, "components")));
out:
	json_decref(st);
	return rc < 0 ? tm_cli_fail(cli, &cli->err) : TM_EXIT_OK;
}
