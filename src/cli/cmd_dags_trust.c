/* tarmac dags trust [HOST[:PORT]]: the host key the git server presents, read once,
 * shown by its fingerprint, confirmed (or --yes) and added to the environment's
 * known_hosts, which fetch then holds every connection to. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "tarmac/doc.h"
#include "tarmac/vcs.h"

#define SCAN_TIMEOUT_MS 15000

struct target {
	char host[256];
	int port;
};

/* "host", "host:port" or "[host]:port" (an IPv6 address needs the brackets). */
static int parse_target(struct target *t, const char *arg, struct tm_err *err)
{
	const char *colon = NULL, *h = arg;
	size_t hlen;
	char *end;

	if (*arg == '[') {
		const char *close = strchr(arg, ']');

		if (!close || (close[1] && close[1] != ':'))
			return tm_err_set(err, TM_EINVALID, "'%s': expected [HOST]:PORT", arg);
		h = arg + 1;
		hlen = (size_t)(close - h);
		colon = close[1] ? close + 1 : NULL;
	} else {
		colon = strchr(arg, ':');
		hlen = colon ? (size_t)(colon - arg) : strlen(arg);
		if (colon && strchr(colon + 1, ':'))
			return tm_err_set(err, TM_EINVALID, "'%s': an IPv6 address goes in brackets: [ADDRESS]:PORT", arg);
	}
	t->port = 22;
	if (colon && ((t->port = (int)strtol(colon + 1, &end, 10)) < 1 || t->port > 65535 || *end || end == colon + 1))
		return tm_err_set(err, TM_EINVALID, "'%s': the port must be a number from 1 to 65535", arg);
	if (hlen == 0 || hlen >= sizeof(t->host))
		return tm_err_set(err, TM_EINVALID, "'%s': expected HOST[:PORT]", arg);
	memcpy(t->host, h, hlen);
	t->host[hlen] = '\0';
	return 0;
}

/* No argument: the host of the ssh repository the values name. */
static int target_from_values(struct target *t, struct tm_cli *cli, struct tm_dags_cmd_opts *o)
{
	struct tm_render_opts ro;
	struct tm_values v = { 0 };
	struct tm_vcs_url url;
	const char *repo;
	int rc;

	if ((rc = tm_render_args_load(cli, &o->r, &ro)) < 0 || (rc = tm_render_values(&v, &ro, &cli->err)) < 0)
		goto out;
	repo = json_string_value(tm_doc_get(v.tree, "dags", "gitSync", "repo", NULL));
	if (!repo)
		rc = tm_err_set(&cli->err, TM_EINVALID, "no HOST given and environment '%s' names no DAG repository "
				"(dags.gitSync.repo)", tm_stack_env(o->r.env));
	else if ((rc = tm_vcs_url_parse(&url, repo, &cli->err)) == 0 && url.scheme != TM_VCS_SSH)
		rc = tm_err_set(&cli->err, TM_EINVALID, "dags.gitSync.repo '%s' is not an ssh URL: only ssh has host keys",
				repo);
	if (rc == 0) {
		snprintf(t->host, sizeof(t->host), "%s", url.host);
		t->port = url.port;
	}
out:
	tm_values_release(&v);
	return rc;
}

/* yes on the terminal, or --yes; anything else refuses. */
static int confirm(struct tm_cli *cli, const struct tm_dags_cmd_opts *o, const char *what)
{
	char answer[16] = "";

	if (o->yes)
		return 0;
	if (!isatty(STDIN_FILENO))
		return tm_err_set(&cli->err, TM_EINVALID, "not confirmed: check %s with the server's owner (ssh-keygen "
				  "-lf on the server's host key), then run again with --yes", what);
	fprintf(cli->errf, "Trust %s? Type yes to add it: ", what);
	fflush(cli->errf);
	if (!fgets(answer, sizeof(answer), stdin) || strcmp(answer, "yes\n") != 0)
		return tm_err_set(&cli->err, TM_EINVALID, "not confirmed: known_hosts is unchanged");
	return 0;
}

static int print_trusted(struct tm_cli *cli, const struct target *t, const struct tm_vcs_host_key *k, const char *fp,
			 const char *file, bool added)
{
	json_t *j;
	int rc;

	if (cli->opts.output != TM_OUTPUT_JSON) {
		fprintf(cli->out, "%s %s:%d %s key %s in %s\n", added ? "trusted" : "already trusted", t->host, t->port,
			k->type, fp, file);
		return 0;
	}
	j = json_pack("{s:s, s:i, s:s, s:s, s:s, s:b}", "host", t->host, "port", t->port, "type", k->type, "fingerprint",
		      fp, "knownHosts", file, "added", added);
	rc = j ? tm_cli_print_json(cli, j) : tm_err_set(&cli->err, TM_ERROR, "out of memory");
	json_decref(j);
	return rc;
}

/* What the environment's known_hosts already says of the key: trusted (nothing to
 * add), unknown (add it), or a refusal for a changed or revoked key. */
static int known_verdict(bool *trusted, struct tm_cli *cli, const char *dir, const struct target *t,
			 const struct tm_vcs_host_key *k, const char *fp)
{
	struct tm_buf kh;
	enum tm_vcs_host_verdict v;
	int rc;

	if ((rc = tm_secret_known_hosts_read(&kh, dir, &cli->err)) < 0)
		return rc;
	v = tm_vcs_host_check(tm_buf_cstr(&kh), kh.len, t->host, t->port, k->blob, k->len);
	tm_buf_release(&kh);
	*trusted = v == TM_HOST_TRUSTED;
	if (v == TM_HOST_REVOKED)
		return tm_err_set(&cli->err, TM_EINVALID, "%s:%d presents %s key %s, which %s/known_hosts marks @revoked",
				  t->host, t->port, k->type, fp, dir);
	if (v == TM_HOST_CHANGED)
		return tm_err_set(&cli->err, TM_EINVALID, "%s:%d presents %s key %s, but %s/known_hosts holds another %s "
				  "key for it: the server's key changed, or someone is in between. If the change is "
				  "expected, remove the old line, then run trust again", t->host, t->port, k->type, fp,
				  dir, k->type);
	return 0;
}

int tm_cli_dags_trust(struct tm_cli *cli, struct tm_dags_cmd_opts *o, const char *arg)
{
	struct tm_vcs_host_key k;
	struct target t;
	char dir[4096], fp[TM_VCS_FP_LEN], line[3200], what[600], file[4200];
	bool trusted = false;
	int rc;

	if ((rc = arg ? parse_target(&t, arg, &cli->err) : target_from_values(&t, cli, o)) < 0 ||
	    (rc = tm_stack_secrets_dir(dir, sizeof(dir), o->d.secrets.dir, tm_stack_env(o->r.env), &cli->err)) < 0 ||
	    (rc = tm_vcs_host_key_scan(&k, t.host, t.port, SCAN_TIMEOUT_MS, &cli->err)) < 0)
		return rc;
	tm_vcs_fingerprint(fp, k.blob, k.len);
	if ((rc = known_verdict(&trusted, cli, dir, &t, &k, fp)) < 0)
		return rc;
	snprintf(what, sizeof(what), "%s:%d's %s key %s", t.host, t.port, k.type, fp);
	if (!trusted) {
		fprintf(cli->errf, "%s presents %s key %s\n", t.host, k.type, fp);
		tm_vcs_known_hosts_line(line, sizeof(line), &k, t.host, t.port);
		if ((rc = confirm(cli, o, what)) < 0 ||
		    (rc = tm_secret_known_hosts_add(dir, line, tm_cli_stop_flag(), &cli->err)) < 0)
			return rc;
	}
	snprintf(file, sizeof(file), "%s/known_hosts", dir);
	return print_trusted(cli, &t, &k, fp, file, !trusted);
}
