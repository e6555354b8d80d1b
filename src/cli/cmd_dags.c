/* tarmac dags fetch|status|trust: the DAG repository the environment's values name,
 * fetched into the cache and its ref resolved (and checked) as 'up' will pin it; its
 * status against the release; its ssh host key trusted (cmd_dags_status.c, _trust.c). */
#include <string.h>

#include "cli.h"

const struct tm_optspec tm_dags_cmd_optspecs[] = {
	TM_RENDER_OPTSPECS,
	{ 'd', "secrets-dir", 0, TM_OPT_VALUE, "DIR", "the environment's sealed secrets (default secrets/ENV)" },
	{ 'K', "key-file", 0, TM_OPT_VALUE, "PATH", "the environment's private key (default $TARMAC_KEY_FILE, then where keygen puts it)" },
	TM_DAGS_OPTSPECS,
	{ 'y', "yes", 0, TM_OPT_FLAG, NULL, "trust: add the host key without asking (check its fingerprint first)" },
	{ 0 }
};

int tm_dags_cmd_set_opt(void *opts, int id, const char *value, struct tm_err *err)
{
	struct tm_dags_cmd_opts *o = opts;

	switch (id) {
	case 'd':
	case 'K':
		return tm_cli_secret_opts_set(&o->d.secrets, id, value, err);
	case 'g':
	case 'j':
		return tm_cli_dags_opts_set(&o->d, id, value);
	case 'y':
		o->yes = true;
		return 0;
	}
	return tm_render_args_set(&o->r, id, value, err);
}

int tm_cli_dags_opts_set(struct tm_stack_dags_opts *d, int id, const char *value)
{
	if (id == 'g')
		d->ref = value;
	else
		d->cache_dir = value;
	return 0;
}

static int print_fetched(struct tm_cli *cli, const struct tm_stack_dags *d)
{
	json_t *j;
	int rc;

	if (cli->opts.output != TM_OUTPUT_JSON) {
		fprintf(cli->out, "%s %s is %s\ncache: %s\n", d->repo, d->ref, d->commit, d->cache);
		if (d->verified)
			fprintf(cli->out, "signed by %s (%s)\n", d->signer.principal, d->signer.fp);
		return 0;
	}
	j = json_pack("{s:s, s:s, s:s, s:s}", "repository", d->repo, "ref", d->ref, "commit", d->commit, "cache",
		      d->cache);
	/* json_object_set_new steals the signer object */
	if (j && d->verified &&
	    json_object_set_new(j, "signer", json_pack("{s:s, s:s, s:s}", "principal", d->signer.principal,
						       "fingerprint", d->signer.fp, "type", d->signer.type)) < 0) {
		json_decref(j);
		j = NULL;
	}
	rc = j ? tm_cli_print_json(cli, j) : tm_err_set(&cli->err, TM_ERROR, "out of memory");
	json_decref(j);
	return rc;
}

/* The repository fetched and its ref resolved and checked, as 'up' pins it. */
static int resolve(struct tm_cli *cli, struct tm_dags_cmd_opts *o, struct tm_stack_dags *d)
{
	struct tm_stack_ctx s = tm_cli_stack_ctx(cli);
	struct tm_render_opts ro;
	struct tm_values v = { 0 };
	int rc;

	/* the values are all it needs: no template is rendered */
	if ((rc = tm_render_args_load(cli, &o->r, &ro)) == 0 && (rc = tm_render_values(&v, &ro, &cli->err)) == 0 &&
	    (rc = tm_stack_dags_resolve(&s, &o->d, tm_stack_env(o->r.env), v.tree, d, &cli->err)) == 0 && !d->configured)
		rc = tm_err_set(&cli->err, TM_EINVALID, "environment '%s' has no DAG repository: set dags.gitSync.enabled "
				"and dags.gitSync.repo", tm_stack_env(o->r.env));
	tm_values_release(&v);
	return rc;
}

static int run(struct tm_cli *cli, struct tm_dags_cmd_opts *o, const char *sub, const char *arg)
{
	struct tm_stack_dags d;
	int rc;

	if (strcmp(sub, "trust") == 0)
		return tm_cli_dags_trust(cli, o, arg);
	if ((rc = resolve(cli, o, &d)) < 0)
		return rc;
	return strcmp(sub, "fetch") == 0 ? print_fetched(cli, &d) : tm_cli_dags_status(cli, &d);
}

int tm_cmd_dags(struct tm_cli *cli, void *cmdopts, int argc, char **argv)
{
	struct tm_dags_cmd_opts *o = cmdopts;
	struct tm_signals sig;
	bool trust = argc >= 1 && strcmp(argv[0], "trust") == 0;
	int rc;

	if (argc < 1 || (!trust && argc != 1) || (trust && argc > 2) ||
	    (!trust && strcmp(argv[0], "fetch") != 0 && strcmp(argv[0], "status") != 0)) {
		tm_render_args_release(&o->r);
		return tm_cli_usage(cli, "dags needs a subcommand: fetch, status or trust [HOST[:PORT]]");
	}
	tm_cli_catch_signals(&sig);
	rc = run(cli, o, argv[0], argc == 2 ? argv[1] : NULL);
	tm_cli_restore_signals(&sig);
	tm_render_args_release(&o->r);
	return rc < 0 ? tm_cli_fail(cli, &cli->err) : TM_EXIT_OK;
}
