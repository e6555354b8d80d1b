/* Help texts, generated from the command table and option specs so they cannot
 * drift from what the parser accepts. */
#include <string.h>

#include "cli.h"

static void print_opts(FILE *f, const struct tm_optspec *t)
{
	for (; t && t->id; t++) {
		char left[64];
		if (t->shortname)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", t->shortname, t->name,
				 t->metavar ? " " : "", t->metavar ? t->metavar : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", t->name, t->metavar ? " " : "",
				 t->metavar ? t->metavar : "");
		fprintf(f, "  %-26s %s\n", left, t->help);
	}
}

void tm_help_main(struct tm_cli *cli, FILE *f)
{
	(void)cli;
	fputs("tarmac: install, upgrade and roll back Apache Airflow 3 on Kubernetes\n\n"
	      "Usage: tarmac [global options] COMMAND [options] [args]\n\nCommands:\n", f);
	for (size_t i = 0; i < tm_ncommands; i++)
		fprintf(f, "  %-12s %s\n", tm_commands[i].name, tm_commands[i].summary);
	fputs("\nGlobal options (accepted before or after the command):\n", f);
	print_opts(f, tm_global_opts);
	fputs("\nRun 'tarmac help COMMAND' or 'tarmac COMMAND --help' for a command's options.\n"
	      "Exit codes: 0 ok, 1 error, 2 usage, 3 diff found changes, 4 health wait timed out,\n"
	      "            5 cluster unreachable (no answer in time) or unauthorized, 6 release locked,\n"
	      "            130 stopped by Ctrl-C or SIGTERM (both 130: within a second, whatever it\n"
	      "            awaited, the lock freed and an exec plugin's process group ended).\n", f);
}

/* Prints text filled to width columns (descriptions are written as one line). */
static void print_wrapped(FILE *f, const char *text, int width)
{
	int col = 0;

	while (*text) {
		size_t w = strcspn(text, " ");
		if (col > 0 && col + 1 + (int)w > width) {
			fputc('\n', f);
			col = 0;
		} else if (col > 0) {
			fputc(' ', f);
			col++;
		}
		fwrite(text, 1, w, f);
		col += (int)w;
		text += w;
		text += strspn(text, " ");
	}
	fputc('\n', f);
}

void tm_help_cmd(const struct tm_cmd *cmd, FILE *f)
{
	fprintf(f, "Usage: %s\n\n", cmd->synopsis);
	print_wrapped(f, cmd->description, 78);
	if (cmd->opts && cmd->opts->id) {
		fputs("\nOptions:\n", f);
		print_opts(f, cmd->opts);
	}
	fputs("\nGlobal options:\n", f);
	print_opts(f, tm_global_opts);
}

int tm_cmd_help(struct tm_cli *cli, void *cmdopts, int argc, char **argv)
{
	const struct tm_cmd *cmd;

	(void)cmdopts;
	if (argc == 0) {
		tm_help_main(cli, cli->out);
		return TM_EXIT_OK;
	}
	if (argc > 1)
		return tm_cli_usage(cli, "help takes one command name, got %d arguments", argc);
	cmd = tm_cmd_find(argv[0]);
	if (!cmd) {
		const char *names[64];
		tm_cli_usage(cli, "'%s' is not a tarmac command", argv[0]);
		tm_suggest(cli->errf, argv[0], tm_cmd_names(names, TM_ARRAY_LEN(names)), "");
		return TM_EXIT_USAGE;
	}
	tm_help_cmd(cmd, cli->out);
	return TM_EXIT_OK;
}
