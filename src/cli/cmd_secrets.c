/* tarmac secrets: the environment's key pair, its sealed secrets in secrets/<env>/,
 * rotation, and SealedSecrets for a sealed-secrets controller. Prints values only
 * for 'show --reveal'. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "tarmac/doc.h"

enum { OPT_DIR = 'd', OPT_OUT = 'O', OPT_KEY = 'K', OPT_KNOWN = 'H', OPT_TOKEN = 'T', OPT_FORCE = 'x', OPT_REVEAL = 'R',
       OPT_FINISH = 'z', OPT_ROLLBACK = 'b', OPT_CERT = 'c', OPT_SCOPE = 'p', OPT_SECRET_FILE = 'i',
       OPT_NEW_KEY = 'w' };

const struct tm_optspec tm_secrets_cmd_optspecs[] = {
	TM_RENDER_OPTSPECS,
	{ OPT_DIR, "dir", 0, TM_OPT_VALUE, "DIR", "the environment's secrets directory (default: secrets/<env>)" },
	{ OPT_OUT, "out", 0, TM_OPT_VALUE, "PATH", "keygen: where the private key goes (default: "
	  "$XDG_CONFIG_HOME/tarmac/keys/<env>.key, else ~/.config/tarmac/keys/<env>.key)" },
	{ OPT_KEY, "key-file", 0, TM_OPT_VALUE, "PATH", "the private key ('-': standard input; default: "
	  "$TARMAC_KEY_FILE, else keygen's default path)" },
	{ OPT_KNOWN, "known-hosts", 0, TM_OPT_VALUE, "FILE", "init: the git server's host keys for the deploy key" },
	{ OPT_TOKEN, "https-token", 0, TM_OPT_VALUE, "FILE", "init: seal the https DAG repository's token from FILE ('-': standard input)" },
	{ OPT_FORCE, "force", 0, TM_OPT_VALUE, "NAME", "init: regenerate this secret although it exists; recover: "
	  "replace its sealed file although it holds another value; repeatable" },
	{ OPT_REVEAL, "reveal", 0, TM_OPT_FLAG, NULL, "show: print the value" },
	{ OPT_FINISH, "finish", 0, TM_OPT_FLAG, NULL, "rotate fernet: drop the old key" },
	{ OPT_ROLLBACK, "rollback", 0, TM_OPT_FLAG, NULL, "rotate: go back to the previous value" },
	{ OPT_NEW_KEY, "new-key", 0, TM_OPT_FLAG, NULL, "recover: the private key is lost; make a new key pair "
	  "(replacing recipient.pub) and seal the live values to it" },
	{ OPT_CERT, "cert", 0, TM_OPT_VALUE, "FILE", "kubeseal: the sealed-secrets controller's certificate (PEM)" },
	{ OPT_SCOPE, "scope", 0, TM_OPT_VALUE, "SCOPE", "kubeseal: strict (default), namespace-wide or cluster-wide" },
	{ OPT_SECRET_FILE, "secret-file", 0, TM_OPT_VALUE, "FILE", "kubeseal: seal this Secret (YAML or JSON, "
	  "'-': standard input) instead of the environment's" },
	{ 0 }
};

int tm_secrets_cmd_set_opt(void *opts, int id, const char *value, struct tm_err *err)
{
	struct tm_secrets_cmd_opts *o = opts;
	enum tm_secret_id sid;

	switch (id) {
	case OPT_DIR:
		o->dir = value;
		return 0;
	case OPT_OUT:
		o->out = value;
		return 0;
	case OPT_KEY:
		o->key_file = value;
		return 0;
	case OPT_TOKEN:
		o->https_token = value;
		return 0;
	case OPT_KNOWN:
		o->known_hosts = value;
		return 0;
	case OPT_FORCE:
		if (tm_secret_lookup(value, &sid) < 0)
			return tm_err_set(err, TM_EINVALID, "no secret '%s' (see 'tarmac help secrets')", value);
		o->force[sid] = true;
		return 0;
	case OPT_REVEAL:
		o->reveal = true;
		return 0;
	case OPT_FINISH:
		o->finish = true;
		return 0;
	case OPT_ROLLBACK:
		o->rollback = true;
		return 0;
	case OPT_NEW_KEY:
		o->new_key = true;
		return 0;
	case OPT_CERT:
		o->cert = value;
		return 0;
	case OPT_SCOPE:
		if (tm_kubeseal_scope_parse(value, &o->scope) < 0)
			return tm_err_set(err, TM_EINVALID, "'%s': expected strict, namespace-wide or cluster-wide", value);
		return 0;
	case OPT_SECRET_FILE:
		o->secret_file = value;
		return 0;
	}
	return tm_render_args_set(&o->r, id, value, err);
}

/* Everything a subcommand needs resolved: the environment and its directory. */
struct ctx {
	struct tm_cli *cli;
	struct tm_secrets_cmd_opts *o;
	const char *env;
	char dir[4096];
};

/* The private key: --key-file, else $TARMAC_KEY_FILE, else keygen's default path. */
static int load_key(struct ctx *c, struct tm_secret_key **key)
{
	struct tm_secret_key_source src = {
		.key_file = c->o->key_file,
		.env_key_file = getenv("TARMAC_KEY_FILE"),
		.env = c->env,
		.xdg_config_home = getenv("XDG_CONFIG_HOME"),
		.home = getenv("HOME"),
	};

	return tm_secret_key_open(key, &src, &c->cli->err);
}

static int cmd_keygen(struct ctx *c)
{
	struct tm_buf keypath = TM_BUF_INIT("key path", 4096);
	char recipient[4200], id[TM_SECRET_KEY_ID_LEN + 1];
	struct tm_secret_keygen_opts ko = { .env = c->env, .recipient_path = recipient, .stop = tm_cli_stop_flag() };
	int rc;

	snprintf(recipient, sizeof(recipient), "%s/recipient.pub", c->dir);
	if (c->o->out) {
		ko.key_path = c->o->out;
	} else {
		if ((rc = tm_secret_default_key_path(&keypath, c->env, getenv("XDG_CONFIG_HOME"), getenv("HOME"),
						     &c->cli->err)) < 0)
			goto out;
		ko.key_path = keypath.data;
	}
	if ((rc = tm_secret_keygen(id, &ko, &c->cli->err)) < 0)
		goto out;
	if (c->cli->opts.output == TM_OUTPUT_JSON) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "env", c->env, "key_id", id, "recipient", recipient,
				      "key_file", ko.key_path);
		rc = tm_cli_print_json(c->cli, j);
		json_decref(j);
	} else {
		fprintf(c->cli->out, "key %s for environment '%s'\n  public (commit it):  %s\n  private (0600, keep it "
			"out of the repository and back it up): %s\n", id, c->env, recipient, ko.key_path);
	}
out:
	tm_buf_release(&keypath);
	return rc;
}

static const char *action_name(enum tm_secret_action a)
{
	static const char *const names[] = { [TM_SECRET_KEPT] = "kept", [TM_SECRET_GENERATED] = "generated",
					     [TM_SECRET_REGENERATED] = "regenerated", [TM_SECRET_SEALED] = "sealed",
					     [TM_SECRET_ABSENT] = "not given" };

	return names[a];
}

static int cmd_init(struct ctx *c)
{
	struct tm_secret_init_opts io = { .dir = c->dir, .env = c->env, .known_hosts_path = c->o->known_hosts,
					  .https_token_path = c->o->https_token, .stop = tm_cli_stop_flag() };
	enum tm_secret_action act[TM_SECRET_COUNT];
	json_t *j = NULL;
	int rc;

	memcpy(io.force, c->o->force, sizeof(io.force));
	for (int id = 0; id < TM_SECRET_COUNT; id++)
		if (io.force[id] && !tm_secret_given((enum tm_secret_id)id))
			tm_sink_log(&c->cli->sink, TM_WARN, "regenerating '%s' (the old value is kept as %s.previous.sealed): %s",
				    tm_secret_name((enum tm_secret_id)id), tm_secret_name((enum tm_secret_id)id),
				    tm_secret_breaks((enum tm_secret_id)id));
	if ((rc = tm_secret_init(act, &io, &c->cli->err)) < 0)
		return rc;
	if (c->cli->opts.output == TM_OUTPUT_JSON && !(j = json_object()))
		return tm_err_set(&c->cli->err, TM_ERROR, "out of memory");
	for (int id = 0; id < TM_SECRET_COUNT; id++) {
		const char *name = tm_secret_name((enum tm_secret_id)id);
		if (j)
			json_object_set_new(j, name, json_string(action_name(act[id])));
		else
			fprintf(c->cli->out, "%-12s %s\n", action_name(act[id]), name);
	}
	if (j) {
		rc = tm_cli_print_json(c->cli, j);
		json_decref(j);
	} else {
		fprintf(c->cli->out, "sealed in %s/ (commit it)\n", c->dir);
	}
	return rc;
}

static int cmd_list(struct ctx *c)
{
	struct tm_secret_listed *items = NULL;
	size_t n = 0;
	json_t *arr = NULL;
	int rc;

	if ((rc = tm_secret_list(&items, &n, c->dir, &c->cli->err)) < 0)
		return rc;
	if (c->cli->opts.output == TM_OUTPUT_JSON) {
		if (!(arr = json_array())) {
			rc = tm_err_set(&c->cli->err, TM_ERROR, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_pack("{s:s, s:s, s:b, s:s, s:s, s:s}", "name", items[i].meta.name,
							     "file", items[i].file, "previous", items[i].previous,
							     "created", items[i].meta.created, "key_id", items[i].meta.key_id,
							     "fingerprint", items[i].meta.fingerprint));
		rc = tm_cli_print_json(c->cli, arr);
		goto out;
	}
	fprintf(c->cli->out, "%-32s %-20s  %-16s  %s\n", "NAME", "CREATED", "KEY", "FINGERPRINT");
	for (size_t i = 0; i < n; i++) {
		char name[96];
		snprintf(name, sizeof(name), "%s%s", items[i].meta.name, items[i].previous ? " (previous)" : "");
		fprintf(c->cli->out, "%-32s %-20s  %-16s  %.23s\n", name, items[i].meta.created, items[i].meta.key_id,
			items[i].meta.fingerprint);
	}
out:
	json_decref(arr);
	free(items);
	return rc;
}

static int cmd_show(struct ctx *c, int argc, char **argv)
{
	struct tm_secret_key *key = NULL;
	struct tm_buf text = TM_BUF_INIT("sealed file", TM_SECRET_MAX_FILE), value = TM_BUF_INIT("secret", TM_SECRET_MAX_FILE);
	struct tm_secret_meta m;
	enum tm_secret_id id;
	char path[4300];
	int rc;

	if (argc != 2)
		return tm_cli_usage(c->cli, "secrets show takes one secret name");
	if (tm_secret_lookup(argv[1], &id) < 0)
		return tm_cli_usage(c->cli, "no secret '%s' (see 'tarmac help secrets')", argv[1]);
	if (!c->o->reveal)
		return tm_cli_usage(c->cli, "refusing to print secret '%s' without --reveal: the value would stay in "
				    "your terminal's scrollback and any log of this session; 'tarmac secrets list' shows "
				    "what exists without values", tm_secret_name(id));
	snprintf(path, sizeof(path), "%s/%s.sealed", c->dir, tm_secret_name(id));
	if ((rc = tm_file_read_checked(&text, path, TM_SECRET_MAX_FILE, TM_FILE_NO_SHARED_WRITE | TM_FILE_PLAIN,
				       &c->cli->err)) < 0 ||
	    (rc = load_key(c, &key)) < 0 ||
	    (rc = tm_secret_unseal(&value, &m, key, text.data, text.len, path, &c->cli->err)) < 0)
		goto out;
	if (strcmp(m.name, tm_secret_name(id)) != 0) {
		rc = tm_err_set(&c->cli->err, TM_ECORRUPT, "%s holds secret '%s', not '%s'", path, m.name, tm_secret_name(id));
		goto out;
	}
	if (c->cli->opts.output == TM_OUTPUT_JSON) {
		json_t *j = json_pack("{s:s, s:s, s:s%}", "name", m.name, "created", m.created, "value", value.data, value.len);
		char *dump = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
		if (dump)
			fprintf(c->cli->out, "%s\n", dump);
		else
			rc = tm_err_set(&c->cli->err, TM_ERROR, "out of memory");
		/* both copies hold the value */
		if (dump)
			tm_wipe(dump, strlen(dump));
		if (j)
			tm_wipe((char *)json_string_value(json_object_get(j, "value")), value.len);
		free(dump);
		json_decref(j);
	} else {
		fwrite(value.data, 1, value.len, c->cli->out);
		if (value.len && value.data[value.len - 1] != '\n')
			fputc('\n', c->cli->out);
	}
out:
	tm_secret_key_free(key);
	tm_buf_release(&text);
	tm_buf_wipe(&value);
	return rc;
}

static int cmd_rotate(struct ctx *c, int argc, char **argv)
{
	struct tm_secret_key *key = NULL;
	enum tm_secret_rotate_step step = c->o->rollback ? TM_ROTATE_ROLLBACK : c->o->finish ? TM_ROTATE_FINISH
											     : TM_ROTATE_START;
	enum tm_secret_id id;
	const char *name;
	int rc;

	if (argc != 2)
		return tm_cli_usage(c->cli, "secrets rotate takes one secret name");
	if (tm_secret_lookup(argv[1], &id) < 0)
		return tm_cli_usage(c->cli, "no secret '%s' (see 'tarmac help secrets')", argv[1]);
	if (c->o->rollback && c->o->finish)
		return tm_cli_usage(c->cli, "--finish and --rollback exclude each other");
	name = tm_secret_name(id);
	if (id == TM_SECRET_FERNET_KEY && step != TM_ROTATE_ROLLBACK && (rc = load_key(c, &key)) < 0)
		return rc;
	if (step == TM_ROTATE_START && id != TM_SECRET_FERNET_KEY)
		tm_sink_log(&c->cli->sink, TM_WARN, "rotating '%s': %s", name, tm_secret_breaks(id));
	/* the deployed pods must be on "new,old" before "old" goes */
	rc = step == TM_ROTATE_FINISH ? tm_cli_fernet_finish_check(c->cli, c->o, c->env, c->dir, key) : 0;
	if (rc == 0)
		rc = tm_secret_rotate(c->dir, id, step, key, 0, tm_cli_stop_flag(), &c->cli->err);
	tm_secret_key_free(key);
	if (rc < 0)
		return rc;
	if (step == TM_ROTATE_ROLLBACK)
		fprintf(c->cli->out, "%s: rolled back to the previous value (the one replaced is now %s.previous.sealed)\n",
			name, name);
	else if (id == TM_SECRET_FERNET_KEY && step == TM_ROTATE_START)
		fprintf(c->cli->out, "fernet-key: a new key is staged in front of the old one; run 'tarmac up --env %s' "
			"(the pods roll onto both keys, then tarmac runs and awaits the Job <release>-rotate-fernet-key: "
			"'airflow rotate-fernet-key' re-encrypts with the new key), then 'tarmac secrets rotate fernet-key "
			"--finish --env %s' and 'tarmac up --env %s'\n", c->env, c->env, c->env);
	else if (id == TM_SECRET_FERNET_KEY)
		fprintf(c->cli->out, "fernet-key: the old key is dropped; 'tarmac up --env %s' deploys the new one alone\n",
			c->env);
	else
		fprintf(c->cli->out, "%s: new value sealed; the old one is kept as %s.previous.sealed "
			"('--rollback' restores it)\n", name, name);
	return 0;
}

/* Effective values for the environment (for kubeseal and external). */
static int load_values(struct ctx *c, struct tm_values *v, struct tm_secret_target *t)
{
	struct tm_render_opts ro;
	int rc;

	if ((rc = tm_render_args_load(c->cli, &c->o->r, &ro)) < 0 || (rc = tm_render_values(v, &ro, &c->cli->err)) < 0)
		return rc;
	t->release = ro.release;
	t->namespace = ro.namespace;
	t->values = v->tree;
	return 0;
}

static int emit(struct tm_cli *cli, json_t *arr)
{
	struct tm_buf out = TM_BUF_INIT("SealedSecrets", 256u << 20);
	size_t i;
	json_t *obj;
	int rc = 0;

	if (cli->opts.output == TM_OUTPUT_JSON)
		return tm_cli_print_json(cli, arr);
	json_array_foreach(arr, i, obj) {
		if ((rc = tm_buf_puts(&out, "---\n", &cli->err)) < 0 || (rc = tm_doc_emit_yaml(&out, obj, 0, &cli->err)) < 0 ||
		    (rc = tm_buf_puts(&out, "\n", &cli->err)) < 0)
			break;
	}
	if (rc == 0)
		fwrite(tm_buf_cstr(&out), 1, out.len, cli->out);
	tm_buf_release(&out);
	return rc;
}

static int cmd_kubeseal(struct ctx *c)
{
	struct tm_buf pem = TM_BUF_INIT("certificate", TM_SECRET_MAX_FILE), text = TM_BUF_INIT("Secret file", TM_SECRET_MAX_FILE);
	struct tm_secret_cert *cert = NULL;
	struct tm_secret_key *key = NULL;
	struct tm_secret_set *set = NULL;
	struct tm_values v = { 0 };
	struct tm_secret_target t;
	json_t *secrets = NULL, *sealed = json_array(), *one;
	size_t i;
	int rc;

	if (!sealed)
		return tm_err_set(&c->cli->err, TM_ERROR, "out of memory");
	if (!c->o->cert) {
		rc = tm_cli_usage(c->cli, "secrets kubeseal needs --cert (the controller's certificate: 'kubeseal "
				  "--fetch-cert' prints it)");
		goto out;
	}
	if ((rc = tm_file_read(&pem, c->o->cert, TM_SECRET_MAX_FILE, &c->cli->err)) < 0 ||
	    (rc = tm_secret_cert_parse(&cert, pem.data, pem.len, c->o->cert, &c->cli->err)) < 0)
		goto out;
	if (c->o->secret_file) {
		json_t *doc = NULL;
		if ((rc = tm_file_read(&text, c->o->secret_file, TM_SECRET_MAX_FILE, &c->cli->err)) < 0 ||
		    (rc = tm_doc_parse_yaml(&doc, text.data, text.len, c->o->secret_file, &c->cli->err)) < 0)
			goto out;
		secrets = json_pack("[o]", doc);
	} else {
		if ((rc = load_values(c, &v, &t)) < 0 || (rc = load_key(c, &key)) < 0 ||
		    (rc = tm_secret_set_open(&set, c->dir, key, &c->cli->err)) < 0 ||
		    (rc = tm_secret_objects(&secrets, set, &t, &c->cli->err)) < 0)
			goto out;
	}
	json_array_foreach(secrets, i, one) {
		json_t *ss = NULL;
		if ((rc = tm_secret_kubeseal(&ss, one, cert, c->o->scope, &c->cli->err)) < 0)
			goto out;
		json_array_append_new(sealed, ss);
	}
	rc = emit(c->cli, sealed);
out:
	tm_secret_objects_free(secrets);
	if (text.data)
		tm_wipe(text.data, text.len); /* a Secret manifest holds values */
	tm_buf_release(&text);
	tm_buf_release(&pem);
	json_decref(sealed);
	tm_secret_cert_free(cert);
	tm_secret_key_free(key);
	tm_secret_set_free(set);
	tm_values_release(&v);
	return rc;
}

static int cmd_external(struct ctx *c)
{
	struct tm_values v = { 0 };
	struct tm_secret_target t;
	json_t *arr = NULL, *e;
	size_t i;
	int rc;

	if ((rc = load_values(c, &v, &t)) < 0 || (rc = tm_secret_external(&arr, NULL, &t, &c->cli->err)) < 0)
		goto out;
	if (c->cli->opts.output == TM_OUTPUT_JSON) {
		rc = tm_cli_print_json(c->cli, arr);
		goto out;
	}
	json_array_foreach(arr, i, e)
		fprintf(c->cli->out, "%s key %s  (%s)\n", json_string_value(json_object_get(e, "name")),
			json_string_value(json_object_get(e, "key")), json_string_value(json_object_get(e, "because")));
	if (!json_array_size(arr))
		fprintf(c->cli->out, "none: tarmac makes every Secret the stack needs\n");
out:
	json_decref(arr);
	tm_values_release(&v);
	return rc;
}

int tm_cmd_secrets(struct tm_cli *cli, void *cmdopts, int argc, char **argv)
{
	struct tm_secrets_cmd_opts *o = cmdopts;
	struct ctx c = { .cli = cli, .o = o };
	const char *sub = argc > 0 ? argv[0] : NULL;
	struct tm_signals sig;
	int rc = 0;

	/* Ctrl-C and SIGTERM only raise the stop flag: files being written are finished or
	 * removed, never left half (a key pair, a deploy key and its .pub), then exit 130 */
	tm_cli_catch_signals(&sig);
	if (!sub) {
		rc = tm_cli_usage(cli, "secrets needs a subcommand: keygen, init, list, show, rotate, kubeseal, external or recover");
		goto done;
	}
	c.env = o->r.env;
	if (!c.env && !(strcmp(sub, "kubeseal") == 0 && o->secret_file)) {
		rc = tm_cli_usage(cli, "secrets %s needs --env ENV", sub);
		goto done;
	}
	if (tm_stack_secrets_dir(c.dir, sizeof(c.dir), o->dir, c.env ? c.env : "", &cli->err) < 0) {
		rc = tm_cli_usage(cli, "--dir: %s", tm_err_msg(&cli->err));
		goto done;
	}
	if (strcmp(sub, "show") != 0 && strcmp(sub, "rotate") != 0 && argc > 1) {
		rc = tm_cli_usage(cli, "secrets %s takes no arguments", sub);
		goto done;
	}
	if (strcmp(sub, "keygen") == 0)
		rc = cmd_keygen(&c);
	else if (strcmp(sub, "init") == 0)
		rc = cmd_init(&c);
	else if (strcmp(sub, "list") == 0)
		rc = cmd_list(&c);
	else if (strcmp(sub, "show") == 0)
		rc = cmd_show(&c, argc, argv);
	else if (strcmp(sub, "rotate") == 0)
		rc = cmd_rotate(&c, argc, argv);
	else if (strcmp(sub, "kubeseal") == 0)
		rc = cmd_kubeseal(&c);
	else if (strcmp(sub, "external") == 0)
		rc = cmd_external(&c);
	else if (strcmp(sub, "recover") == 0)
		rc = tm_cli_secrets_recover(cli, o, c.env, c.dir);
	else
		rc = tm_cli_usage(cli, "'%s' is not a secrets subcommand: keygen, init, list, show, rotate, kubeseal, "
				  "external or recover", sub);
done:
	tm_render_args_release(&o->r);
	tm_cli_restore_signals(&sig);
	if (rc < 0)
		return tm_cli_fail(cli, &cli->err);
	return rc;
}
