/* The tarmac command: the one command table, global options and the dispatcher.
 * A row declares what its command needs so the setup happens here, once. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const struct tm_optspec tm_global_opts[] = {
	{ 'k', "kubeconfig", 0, TM_OPT_VALUE, "PATH", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)" },
	{ 'c', "context", 0, TM_OPT_VALUE, "NAME", "kubeconfig context to use (default: its current-context)" },
	{ 'n', "namespace", 'n', TM_OPT_VALUE, "NS", "namespace of the release (default: the context's, else 'airflow')" },
	{ 'r', "release", 0, TM_OPT_VALUE, "NAME", "release name (default: airflow)" },
	{ 'o', "output", 'o', TM_OPT_VALUE, "FORMAT", "output format: text or json" },
	{ 'v', "verbose", 'v', TM_OPT_COUNT, NULL, "more detail; repeat for more (-vv)" },
	{ 'C', "no-color", 0, TM_OPT_FLAG, NULL, "never color the output (NO_COLOR is honoured too)" },
	{ 'h', "help", 'h', TM_OPT_FLAG, NULL, "show help" },
	{ 0 }
};

const struct tm_cmd tm_commands[] = {
	{
		.name = "help",
		.summary = "show help for tarmac or for one command",
		.synopsis = "tarmac help [COMMAND]",
		.description = "Without a command, lists the commands and global options. With one, shows "
			       "its synopsis, description and options (the same as 'tarmac COMMAND --help').",
		.run = tm_cmd_help,
	},
	{
		.name = "apply",
		.summary = "apply the stack (or manifests) phase by phase, waiting for each to be ready",
		.synopsis = "tarmac apply [--env ENV] [-f FILE]... [--set K=V]... [--manifests PATH] [--dry-run=server] "
			    "[--no-wait] [--timeout D] [--phase-timeout [PHASE=]D] [--force-conflicts]",
		.description = "Renders the stack for the cluster (its version and APIs from discovery) and "
			       "applies it with server-side apply (field manager 'tarmac') in phases: cluster, "
			       "crds, rbac, config, storage, services, database, middleware, migrate, workloads, "
			       "policy. The objects of a phase are applied at once; then tarmac watches them "
			       "until each is ready and names the cause from their pods when one is not "
			       "(ImagePullBackOff, CrashLoopBackOff, Unschedulable, a failed Job). Jobs whose "
			       "spec changed are deleted and created again. --manifests applies given objects "
			       "the same way. Requests are retried with backoff on 429, 5xx and dropped "
			       "connections. Ctrl-C stops cleanly and says where. Where a release is installed "
			       "(--release, default airflow, in the namespace) apply refuses, as do given "
			       "manifests naming its objects: it would change them outside the release's "
			       "history and take them out of its inventory; use 'tarmac up'. Exit 4 when a "
			       "wait ran out of time, 5 when the cluster is unreachable or refuses the "
			       "credentials.",
		.opts = tm_apply_cmd_optspecs,
		.set_opt = tm_apply_cmd_set_opt,
		.needs = TM_NEED_CLUSTER,
		.opts_size = sizeof(struct tm_apply_cmd_opts),
		.run = tm_cmd_apply,
	},
	{
		.name = "diff",
		.summary = "show what apply would change, object by object",
		.synopsis = "tarmac diff [--env ENV] [-f FILE]... [--set K=V]... [--manifests PATH] [-o json]",
		.description = "Asks the API server for a dry run of applying every object and prints a "
			       "unified diff of each against the live object, without managed fields and "
			       "status; Secret values are never shown, only which keys change. Where a release "
			       "is installed (--release, default airflow, in the namespace), the stack is "
			       "compared as 'tarmac up' would apply it, with the release's labels, so nothing "
			       "shows right after 'up'; given manifests are compared as they are. Ends with a "
			       "summary. Exit 0 when nothing would change, 3 when something would.",
		.opts = tm_diff_cmd_optspecs,
		.set_opt = tm_apply_cmd_set_opt,
		.needs = TM_NEED_CLUSTER,
		.opts_size = sizeof(struct tm_apply_cmd_opts),
		.run = tm_cmd_diff,
	},
	{
		.name = "up",
		.summary = "install the release, or upgrade it: the one command for bootstrap and CI",
		.synopsis = "tarmac up [--env ENV] [-f FILE]... [--set K=V]... [--dry-run=server] [--no-rollback] "
			    "[--wait-for-lock] [--timeout D] [--history-max N]",
		.description = "Renders the stack for the cluster and compares it with the deployed revision: "
			       "when nothing changed, and every object still carries the release's label and "
			       "kind in its inventory, it says so and records nothing (a few requests; a "
			       "lost label or kind is put back by applying again as a new revision). "
			       "Otherwise it takes the release's lock (a Lease renewed while it runs, free by "
			       "itself a TTL after a killed run), settles what a stopped run left (pending "
			       "revisions become failed), records revision N as pending, applies phase by "
			       "phase with waits, deletes what the release no longer has in reverse phase "
			       "order (only objects carrying its ApplySet label; PVCs and kept Secrets stay), "
			       "and marks N deployed. When applying or waiting fails it marks N failed and rolls "
			       "back to the last deployed revision as N+1, unless --no-rollback. Refuses values "
			       "naming an Airflow older than the DB schema unless --allow-schema-downgrade. "
			       "Exit 6 when another run holds the lock.",
		.opts = tm_deploy_cmd_optspecs,
		.set_opt = tm_release_cmd_set_opt,
		.needs = TM_NEED_CLUSTER,
		.opts_size = sizeof(struct tm_release_cmd_opts),
		.run = tm_cmd_up,
	},
	{
		.name = "install",
		.summary = "install the release (fails when it exists)",
		.synopsis = "tarmac install [--env ENV] [-f FILE]... [--set K=V]... [--dry-run=server] [--wait-for-lock]",
		.description = "As 'tarmac up', for a release that does not exist yet (or was uninstalled). "
			       "Objects of the stack that exist already and were not made by this release are "
			       "refused unless --take-ownership; a namespace that exists is left as it is.",
		.opts = tm_deploy_cmd_optspecs,
		.set_opt = tm_release_cmd_set_opt,
		.needs = TM_NEED_CLUSTER,
		.opts_size = sizeof(struct tm_release_cmd_opts),
		.run = tm_cmd_install,
	},
	{
		.name = "upgrade",
		.summary = "upgrade the release to a new revision (fails when it does not exist)",
		.synopsis = "tarmac upgrade [--env ENV] [-f FILE]... [--set K=V]... [--dry-run=server] [--no-rollback]",
		.description = "As 'tarmac up', for an installed release, and always records a new revision, "
			       "even when nothing changed (which also repairs objects changed by hand). "
			       "Atomic: a failure rolls back to the last deployed revision unless --no-rollback.",
		.opts = tm_deploy_cmd_optspecs,
		.set_opt = tm_release_cmd_set_opt,
		.needs = TM_NEED_CLUSTER,
		.opts_size = sizeof(struct tm_release_cmd_opts),
		.run = tm_cmd_upgrade,
	},
	{
		.name = "rollback",
		.summary = "apply an earlier revision's objects again as a new revision",
		.synopsis = "tarmac rollback [N] [--allow-schema-downgrade] [--wait-for-lock] [--timeout D]",
		.description = "Applies revision N's recorded objects (default: the newest revision deployed before "
			       "the newest one, so after a failed upgrade the one deployed now) as a new revision "
			       "described 'rollback to N', waits for them and prunes what N did not have. The "
			       "revision it leaves becomes rolled-back; a failed one stays failed. Secrets are "
			       "kept as they are (records never hold secret data). Refuses a revision whose "
			       "Airflow is older than the DB schema, since it cannot run on a migrated "
			       "database, unless --allow-schema-downgrade.",
		.opts = tm_rollback_cmd_optspecs,
		.set_opt = tm_release_cmd_set_opt,
		.needs = TM_NEED_CLUSTER,
		.opts_size = sizeof(struct tm_release_cmd_opts),
		.run = tm_cmd_rollback,
	},
	{
		.name = "history",
		.summary = "list the release's revisions with their status",
		.synopsis = "tarmac history [-o json]",
		.description = "Lists every recorded revision, oldest first: number, time, status (pending, "
			       "deployed, superseded, failed, rolled-back, uninstalled), Airflow version and "
			       "description. Reads metadata only.",
		.opts = tm_history_cmd_optspecs,
		.set_opt = tm_release_cmd_set_opt,
		.needs = TM_NEED_CLUSTER,
		.opts_size = sizeof(struct tm_release_cmd_opts),
		.run = tm_cmd_history,
	},
	{
		.name = "status",
		.summary = "show the deployed revision, each component's readiness and the last error",
		.synopsis = "tarmac status [-o json]",
		.description = "Shows the release's current revision, its status, Airflow version and the DB schema "
			       "(the newest a migration reached: a failed upgrade's may be past the revision), "
			       "who holds the lock, each workload's readiness as apply judges it (with the "
			       "reason when it is not ready) and the error of the newest failed revision, until "
			       "a later deploy or uninstall (a rollback away from it does not clear it).",
		.opts = tm_history_cmd_optspecs,
		.set_opt = tm_release_cmd_set_opt,
		.needs = TM_NEED_CLUSTER,
		.opts_size = sizeof(struct tm_release_cmd_opts),
		.run = tm_cmd_status,
	},
	{
		.name = "uninstall",
		.summary = "delete the release's objects in reverse phase order",
		.synopsis = "tarmac uninstall [--purge] [--wait-for-lock] [--timeout D]",
		.description = "Deletes every object of the release (found by its ApplySet label, nothing else) "
			       "in reverse phase order, waiting for each phase to go. PVCs, Secrets marked "
			       "'tarmac.io/resource-policy: keep' and the namespace stay, and the last revision is "
			       "marked uninstalled, so 'tarmac up' can install it again on the same data. "
			       "--purge deletes those too, with the PVCs of the release's StatefulSets, every "
			       "revision record and the inventory.",
		.opts = tm_uninstall_cmd_optspecs,
		.set_opt = tm_release_cmd_set_opt,
		.needs = TM_NEED_CLUSTER,
		.opts_size = sizeof(struct tm_release_cmd_opts),
		.run = tm_cmd_uninstall,
	},
	{
		.name = "render",
		.summary = "print the Kubernetes objects tarmac would deploy",
		.synopsis = "tarmac render [--env ENV] [-f FILE]... [--set K=V]... [--output-dir DIR] [-o json]",
		.description = "Renders the embedded Airflow stack with the environment's overlay, the values "
			       "files and --set options (later ones win), and prints the objects as YAML in "
			       "bundle order, or writes one file per object under --output-dir (each written "
			       "atomically). The same input always gives byte-identical output. Touches no cluster.",
		.opts = tm_render_cmd_optspecs,
		.set_opt = tm_render_cmd_set_opt,
		.needs = TM_NEED_SECRETS,
		.opts_size = sizeof(struct tm_render_cmd_opts),
		.run = tm_cmd_render,
	},
	{
		.name = "values",
		.summary = "print the effective values and where each one was set",
		.synopsis = "tarmac values [--env ENV] [-f FILE]... [--set K=V]... [-o json]",
		.description = "Merges the bundle's defaults, the environment's overlay, the values files and "
			       "--set options as render does, checks them against the schema, and prints every "
			       "value with the file:line:col or flag that set it.",
		.opts = tm_values_cmd_optspecs,
		.set_opt = tm_render_cmd_set_opt,
		.opts_size = sizeof(struct tm_render_cmd_opts),
		.run = tm_cmd_values,
	},
	{
		.name = "secrets",
		.summary = "make, seal, list, show and rotate the environment's secrets",
		.synopsis = "tarmac secrets keygen|init|list|show NAME|rotate NAME|kubeseal|external|recover --env ENV [--dir DIR] "
			    "[--key-file PATH] [...]",
		.description = "Secrets are generated once, sealed to the environment's public key in "
			       "secrets/<env>/ (commit it) and never changed unless asked. 'keygen' makes the "
			       "environment's X25519 key pair: recipient.pub in the secrets directory, the private "
			       "key 0600 outside the repository (--out). 'init' generates every missing secret "
			       "(fernet-key, api-secret-key, jwt-secret, webserver-secret-key, db-password, "
			       "redis-password, admin-password, git-ssh-key; --known-hosts FILE stores the git "
			       "server's host keys); --force NAME regenerates one and says what breaks. 'list' shows "
			       "name, creation time and fingerprint, without the private key. 'show NAME --reveal' "
			       "prints one value. 'rotate fernet' stages a new Fernet key in front of the old one "
			       "and 'tarmac up' deploys both and runs the Job '<release>-rotate-fernet-key' (airflow "
			       "rotate-fernet-key re-encrypts with the new key); '--finish' then drops the old one, "
			       "and refuses (exit 1, naming the 'up' to run) while the release's Secret or deployed "
			       "revision is not on both keys yet (it reads the cluster and values like 'recover'); "
			       "other secrets get a new value at once, the old "
			       "kept for '--rollback'. 'kubeseal --cert FILE' prints the environment's Kubernetes "
			       "Secrets as Bitnami SealedSecrets (or seals --secret-file). 'external' lists the "
			       "Secrets the values say exist already. 'recover' seals the live values of an installed "
			       "release back into the secrets directory after a sealed file was deleted or the "
			       "private key was lost (--new-key); 'up' refuses to replace a live secret otherwise. "
			       "The private key comes from --key-file ('-': "
			       "standard input), TARMAC_KEY_FILE, or keygen's default path. No file of the secrets "
			       "directory is read through a symlink. Ctrl-C finishes or removes what is being "
			       "written (a key pair is written whole or not at all) and exits 130. See docs/secrets.md.",
		.opts = tm_secrets_cmd_optspecs,
		.set_opt = tm_secrets_cmd_set_opt,
		.needs = TM_NEED_SECRETS,
		.opts_size = sizeof(struct tm_secrets_cmd_opts),
		.run = tm_cmd_secrets,
	},
	{
		.name = "version",
		.summary = "print tarmac's version, build, linked libraries and the cluster's version",
		.synopsis = "tarmac version [--client] [-o json]",
		.description = "Prints tarmac's version and git commit, the target it was built for and the "
			       "versions of the libraries linked into it, read from the libraries themselves "
			       "at run time (so a static binary reports what it really carries). When a "
			       "kubeconfig is found (--kubeconfig, KUBECONFIG, ~/.kube/config or in-cluster), "
			       "it also asks the API server for its version, like 'kubectl version'; an "
			       "unreachable cluster then exits with 5. --client never contacts a cluster.",
		.opts = tm_version_opts,
		.set_opt = tm_version_set_opt,
		.opts_size = sizeof(struct tm_version_opts),
		.run = tm_cmd_version,
	},
};
const size_t tm_ncommands = TM_ARRAY_LEN(tm_commands);

const struct tm_cmd *tm_cmd_find(const char *name)
{
	for (size_t i = 0; i < tm_ncommands; i++)
		if (strcmp(tm_commands[i].name, name) == 0)
			return &tm_commands[i];
	return NULL;
}

int tm_cli_usage(struct tm_cli *cli, const char *fmt, ...)
{
	va_list ap;

	fputs("tarmac: ", cli->errf);
	va_start(ap, fmt);
	vfprintf(cli->errf, fmt, ap);
	va_end(ap);
	fputc('\n', cli->errf);
	return TM_EXIT_USAGE;
}

int tm_cli_print_json(struct tm_cli *cli, const json_t *v)
{
	char *s = v ? json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;

	if (!s)
		return tm_err_set(&cli->err, TM_ERROR, "out of memory");
	fprintf(cli->out, "%s\n", s);
	fflush(cli->out);
	free(s);
	return 0;
}

int tm_cli_fail(struct tm_cli *cli, struct tm_err *err)
{
	int code = tm_exit_for(err->code);

	tm_sink_flush(&cli->sink);
	if (cli->opts.output == TM_OUTPUT_JSON) {
		/* the subject names the exit code's meaning, for scripts reading the JSON lines */
		struct tm_event ev = { .level = TM_ERRORLVL, .kind = "error", .subject = tm_exit_name(code),
				       .msg = tm_err_msg(err) };
		tm_sink_event(&cli->sink, &ev);
	} else {
		/* the message may quote the cluster (a Lease holder, a server's message) */
		tm_fprintf_escaped(cli->errf, "error: %s\n", tm_err_msg(err));
		if (cli->opts.verbose && err->file)
			fprintf(cli->errf, "  (%s, raised at %s:%d)\n", tm_code_name(err->code), err->file,
				err->line);
	}
	return code;
}

int tm_cli_connect(struct tm_cli *cli)
{
	struct tm_kube_source src = {
		.kubeconfig = cli->opts.kubeconfig,
		.kubeconfig_env = getenv("KUBECONFIG"),
		.home = getenv("HOME"),
		.context = cli->opts.context,
		.service_host = getenv("KUBERNETES_SERVICE_HOST"),
		.service_port = getenv("KUBERNETES_SERVICE_PORT"),
		.allow_plain_http = getenv("TARMAC_ALLOW_PLAIN_HTTP"),
	};
	int rc;

	if (cli->kube)
		return 0;
	if (!cli->have_kcfg) {
		if ((rc = tm_kube_config_load(&cli->kcfg, &src, &cli->err)) < 0)
			return rc;
		cli->have_kcfg = true;
		if (cli->kcfg.insecure)
			tm_sink_log(&cli->sink, TM_WARN, "context '%s' skips TLS verification "
				    "(insecure-skip-tls-verify): the server's identity is not checked", cli->kcfg.context);
	}
	if ((rc = tm_kube_open(&cli->kube, &cli->kcfg, NULL, &cli->err)) == 0) {
		/* every command hears the client: retries, re-authentication, plain http */
		struct tm_kube_opts ko = *tm_kube_get_opts(cli->kube);

		ko.report = tm_sink_report;
		ko.report_ctx = &cli->sink;
		/* Ctrl-C and SIGTERM end whatever the client awaits: an exec plugin, a connect,
		 * a read, a watch (tm_cli_main catches them for every cluster command) */
		ko.cancel = tm_cli_stop_flag();
		tm_kube_set_opts(cli->kube, &ko);
	}
	return rc;
}

/* ------------------------------------------------------------------ option parsing */

static const struct tm_optspec *find_long(const struct tm_optspec *t, const char *name, size_t n)
{
	for (; t && t->id; t++)
		if (strlen(t->name) == n && strncmp(t->name, name, n) == 0)
			return t;
	return NULL;
}

static const struct tm_optspec *find_short(const struct tm_optspec *t, char c)
{
	for (; t && t->id; t++)
		if (t->shortname && t->shortname == c)
			return t;
	return NULL;
}

static int set_global(struct tm_cli *cli, const struct tm_optspec *o, const char *v, bool *help)
{
	struct tm_opts *g = &cli->opts;

	switch (o->id) {
	case 'k':
		g->kubeconfig = v;
		break;
	case 'c':
		g->context = v;
		break;
	case 'n':
		if (!tm_is_dns_label(v, 63))
			return tm_cli_usage(cli, "--namespace '%s': expected a DNS label (lowercase letters, "
					    "digits and '-', at most 63)", v);
		g->namespace = v;
		break;
	case 'r':
		/* Helm's limit: the release name is a prefix of object names */
		if (!tm_is_dns_label(v, 53))
			return tm_cli_usage(cli, "--release '%s': expected a DNS label (lowercase letters, "
					    "digits and '-', at most 53)", v);
		g->release = v;
		break;
	case 'o':
		if (strcmp(v, "text") == 0)
			g->output = TM_OUTPUT_TEXT;
		else if (strcmp(v, "json") == 0)
			g->output = TM_OUTPUT_JSON;
		else
			return tm_cli_usage(cli, "--output '%s': expected 'text' or 'json'", v);
		break;
	case 'v':
		g->verbose++;
		break;
	case 'C':
		g->no_color = true;
		break;
	case 'h':
		*help = true;
		break;
	}
	return 0;
}

/* Names of all options in the tables, for "did you mean". */
static void suggest_option(struct tm_cli *cli, const char *word, const struct tm_optspec *a,
			   const struct tm_optspec *b)
{
	const char *names[64];
	size_t n = 0;

	for (const struct tm_optspec *t = a; t && t->id && n < 63; t++)
		names[n++] = t->name;
	for (const struct tm_optspec *t = b; t && t->id && n < 63; t++)
		names[n++] = t->name;
	names[n] = NULL;
	tm_suggest(cli->errf, word, names, "--");
}

struct parse_state {
	struct tm_cli *cli;
	const struct tm_cmd *cmd; /* NULL while still before the command word */
	void *cmdopts;
	bool help;
	char **pos;  /* positional arguments, in order */
	int npos;
};

/* Applies option o with value v (NULL for flags). Returns an exit code, 0 to go on. */
static int apply_opt(struct parse_state *ps, const struct tm_optspec *o, const char *v, bool global)
{
	struct tm_cli *cli = ps->cli;
	int rc;

	if (global)
		return set_global(cli, o, v, &ps->help);
	rc = ps->cmd->set_opt(ps->cmdopts, o->id, v, &cli->err);
	if (rc < 0) {
		tm_cli_usage(cli, "--%s: %s", o->name, tm_err_msg(&cli->err));
		return TM_EXIT_USAGE;
	}
	return 0;
}

static int parse_long(struct parse_state *ps, int argc, char **argv, int *i)
{
	const char *arg = argv[*i] + 2, *eq = strchr(arg, '='), *v = NULL;
	size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
	const struct tm_optspec *cmdt = ps->cmd ? ps->cmd->opts : NULL;
	const struct tm_optspec *o = find_long(cmdt, arg, n);
	bool global = false;

	if (!o) {
		o = find_long(tm_global_opts, arg, n);
		global = o != NULL;
	}
	if (!o) {
		char name[128];
		snprintf(name, sizeof(name), "%.*s", (int)n, arg);
		tm_cli_usage(ps->cli, "unknown option '--%s'%s%s%s", name,
			     ps->cmd ? " for 'tarmac " : "", ps->cmd ? ps->cmd->name : "", ps->cmd ? "'" : "");
		suggest_option(ps->cli, name, cmdt, tm_global_opts);
		return TM_EXIT_USAGE;
	}
	if (o->kind == TM_OPT_VALUE) {
		if (eq)
			v = eq + 1;
		else if (*i + 1 < argc)
			v = argv[++*i];
		else
			return tm_cli_usage(ps->cli, "option '--%s' needs a value (%s)", o->name, o->metavar);
	} else if (eq) {
		return tm_cli_usage(ps->cli, "option '--%s' takes no value", o->name);
	}
	return apply_opt(ps, o, v, global);
}

static int parse_short(struct parse_state *ps, int argc, char **argv, int *i)
{
	const char *arg = argv[*i];
	const struct tm_optspec *cmdt = ps->cmd ? ps->cmd->opts : NULL;

	/* -vv, -ojson, -o json, -n ns */
	for (size_t k = 1; arg[k]; k++) {
		const struct tm_optspec *o = find_short(cmdt, arg[k]);
		bool global = false;
		int rc;

		if (!o) {
			o = find_short(tm_global_opts, arg[k]);
			global = o != NULL;
		}
		if (!o)
			return tm_cli_usage(ps->cli, "unknown option '-%c'%s%s%s", arg[k],
					    ps->cmd ? " for 'tarmac " : "", ps->cmd ? ps->cmd->name : "",
					    ps->cmd ? "'" : "");
		if (o->kind == TM_OPT_VALUE) {
			const char *v = arg[k + 1] ? arg + k + 1 : NULL;
			if (!v) {
				if (*i + 1 >= argc)
					return tm_cli_usage(ps->cli, "option '-%c' needs a value (%s)", arg[k],
							    o->metavar);
				v = argv[++*i];
			}
			return apply_opt(ps, o, v, global);
		}
		if ((rc = apply_opt(ps, o, NULL, global)) != 0)
			return rc;
	}
	return 0;
}

const char **tm_cmd_names(const char **names, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < tm_ncommands && n + 1 < max; i++)
		names[n++] = tm_commands[i].name;
	names[n] = NULL;
	return names;
}

/* Reads argv: global options anywhere, the command word, then the command's own
 * options mixed with positionals (as kubectl and git allow). */
static int parse_argv(struct parse_state *ps, int argc, char **argv)
{
	bool dashdash = false;
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!dashdash && strcmp(a, "--") == 0) {
			dashdash = true;
			continue;
		}
		if (!dashdash && a[0] == '-' && a[1] == '-' && a[2]) {
			if ((rc = parse_long(ps, argc, argv, &i)) != 0)
				return rc;
			continue;
		}
		if (!dashdash && a[0] == '-' && a[1]) {
			if ((rc = parse_short(ps, argc, argv, &i)) != 0)
				return rc;
			continue;
		}
		if (!ps->cmd) {
			ps->cmd = tm_cmd_find(a);
			if (!ps->cmd) {
				const char *names[64];
				tm_cli_usage(ps->cli, "'%s' is not a tarmac command (see 'tarmac --help')", a);
				tm_suggest(ps->cli->errf, a, tm_cmd_names(names, TM_ARRAY_LEN(names)), "");
				return TM_EXIT_USAGE;
			}
			if (ps->cmd->opts_size) {
				ps->cmdopts = calloc(1, ps->cmd->opts_size);
				if (!ps->cmdopts)
					return tm_cli_usage(ps->cli, "out of memory");
			}
			continue;
		}
		ps->pos[ps->npos++] = argv[i];
	}
	return 0;
}

int tm_cli_main(int argc, char **argv, FILE *out, FILE *errf)
{
	struct tm_cli cli = { .out = out, .errf = errf };
	struct parse_state ps = { .cli = &cli };
	struct tm_signals sig;
	bool caught = false;
	int rc;

	tm_err_init(&cli.err);
	tm_kube_config_init(&cli.kcfg);
	cli.opts.release = "airflow";
	ps.pos = calloc((size_t)argc + 1, sizeof(*ps.pos));
	if (!ps.pos) {
		fputs("tarmac: out of memory\n", errf);
		return TM_EXIT_ERROR;
	}
	if ((rc = parse_argv(&ps, argc, argv)) != 0)
		goto out;
	tm_sink_init(&cli.sink, errf, cli.opts.output == TM_OUTPUT_JSON ? TM_SINK_JSON : TM_SINK_PLAIN,
		     true, !cli.opts.no_color, cli.opts.verbose);
	if (!ps.cmd) {
		tm_help_main(&cli, ps.help ? out : errf);
		rc = ps.help ? TM_EXIT_OK : TM_EXIT_USAGE;
		goto out;
	}
	cli.cmd = ps.cmd;
	if (ps.help) {
		tm_help_cmd(ps.cmd, out);
		rc = TM_EXIT_OK;
		goto out;
	}
	if ((ps.cmd->needs & (TM_NEED_SECRETS | TM_NEED_CLUSTER)) && tm_proc_no_core_dumps(&cli.err) < 0) {
		rc = tm_cli_fail(&cli, &cli.err);
		goto out;
	}
	if (ps.cmd->needs & TM_NEED_CLUSTER) {
		/* from here on a signal only raises the stop flag: the command ends what it
		 * awaits, frees the lock and exits 130 (commands may catch again: nesting keeps
		 * a signal already seen) */
		tm_cli_catch_signals(&sig);
		caught = true;
		if (tm_cli_connect(&cli) < 0) {
			rc = tm_cli_fail(&cli, &cli.err);
			goto out;
		}
	}
	rc = ps.cmd->run(&cli, ps.cmdopts, ps.npos, ps.pos);
	tm_sink_flush(&cli.sink);
out:
	if (caught)
		tm_cli_restore_signals(&sig);
	tm_kube_free(cli.kube);
	tm_kube_config_release(&cli.kcfg);
	fflush(out);
	fflush(errf);
	free(ps.cmdopts);
	free(ps.pos);
	return rc;
}
