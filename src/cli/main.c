/* The tarmac command's dispatcher: parses the global and the command's options against
 * the tables in commands.c, does the setup a command's row asks for, runs it, and checks
 * that its output was written. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

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

/* What the command wrote must have reached its file: a full disk is a failure, not exit 0
 * (git's run_builtin checks the same). A pipe or socket whose reader left is not. */
static int check_output(FILE *out, FILE *errf, int rc)
{
	struct stat st;
	int e;

	errno = 0;
	if (fflush(out) == 0 && !ferror(out))
		return rc;
	e = errno;
	if (fstat(fileno(out), &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		return rc;
	fprintf(errf, "error: write to standard output: %s\n",
		e ? strerror(e) : "a write failed (a full disk?)");
	return rc == TM_EXIT_OK ? TM_EXIT_ERROR : rc;
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
	rc = check_output(out, errf, rc);
	fflush(errf);
	free(ps.cmdopts);
	free(ps.pos);
	return rc;
}
