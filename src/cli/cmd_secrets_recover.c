/* tarmac secrets recover: seals the live values of an installed release back into
 * secrets/<env>/ (a deleted sealed file, a lost private key), so the next 'up' deploys
 * what runs. Values are read once from the cluster and never printed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

struct recover {
	struct tm_cli *cli;
	struct tm_secrets_cmd_opts *o;
	const char *env, *dir;
	char recipient[4200];
	struct tm_buf keypath;
};

/* The private key: the configured one, or for a lost key (or none yet) a new pair
 * whose recipient.pub replaces the old one. *fresh says which. */
static int open_key(struct recover *r, struct tm_secret_key **key, bool *fresh)
{
	struct tm_secret_key_source src = { .key_file = r->o->key_file, .env_key_file = getenv("TARMAC_KEY_FILE"),
					    .env = r->env, .xdg_config_home = getenv("XDG_CONFIG_HOME"), .home = getenv("HOME") };
	struct tm_secret_keygen_opts ko = { .env = r->env, .recipient_path = r->recipient };
	struct tm_err *err = &r->cli->err;
	char id[TM_SECRET_KEY_ID_LEN + 1];
	struct stat st;
	bool have_recipient = stat(r->recipient, &st) == 0;
	int rc = tm_secret_key_open(key, &src, err);

	*fresh = false;
	if (rc == 0 && !have_recipient)
		return tm_err_set(err, TM_ENOTFOUND, "'%s' is missing, but the private key exists: restore it from version "
				  "control (or move the key away and use --new-key)", r->recipient);
	if (rc == 0 && r->o->new_key)
		return tm_err_set(err, TM_ECONFLICT, "--new-key, but the private key %s exists: move it away first (or "
				  "leave out --new-key to seal to it)", tm_secret_key_id(*key));
	if (rc != TM_ENOTFOUND)
		return rc;
	if (have_recipient && !r->o->new_key)
		return tm_err_wrap(err, "'%s' is there, but not its private key: name the key with --key-file or "
				   "TARMAC_KEY_FILE; if it is lost, --new-key makes a new key pair and seals the live "
				   "values to it", r->recipient);
	tm_err_init(err);
	ko.key_path = src.key_file ? src.key_file : src.env_key_file;
	if (ko.key_path && strcmp(ko.key_path, "-") == 0)
		return tm_err_set(err, TM_EINVALID, "a new key pair cannot go to standard input: name a file with --key-file");
	if (!ko.key_path) {
		if ((rc = tm_secret_default_key_path(&r->keypath, r->env, src.xdg_config_home, src.home, err)) < 0)
			return rc;
		ko.key_path = r->keypath.data;
	}
	/* the old recipient.pub is useless without its key; version control keeps it */
	if (have_recipient && unlink(r->recipient) < 0)
		return tm_err_errno(err, errno, "remove '%s'", r->recipient);
	if ((rc = tm_secret_keygen(id, &ko, err)) < 0 || (rc = tm_secret_key_load(key, ko.key_path, err)) < 0)
		return rc;
	tm_sink_log(&r->cli->sink, TM_WARN, "made key %s for environment '%s': public %s (commit it), private %s (back "
		    "it up)", id, r->env, r->recipient, ko.key_path);
	*fresh = true;
	return 0;
}

int tm_cli_secrets_target(struct tm_cli *cli, struct tm_secrets_cmd_opts *o, struct tm_values *v,
			  struct tm_secret_target *t)
{
	struct tm_render_opts ro;
	int rc;

	if ((rc = tm_cli_connect(cli)) < 0 || (rc = tm_render_args_load(cli, &o->r, &ro)) < 0 ||
	    (rc = tm_render_values(v, &ro, &cli->err)) < 0)
		return rc;
	tm_cli_set_kube_opts(cli);
	/* where up puts the release */
	*t = (struct tm_secret_target){ .release = tm_cli_release_name(cli), .namespace = tm_cli_release_ns(cli),
					.values = v->tree };
	return 0;
}

/* The live stored secrets of the release the values describe. */
static int read_live(struct recover *r, struct tm_values *v, struct tm_secret_set **live)
{
	struct tm_cli *cli = r->cli;
	struct tm_secret_place places[TM_SECRET_MAX_PLACES];
	struct tm_secret_target t;
	struct tm_stack_ctx ctx;
	json_t *objs = NULL;
	size_t n = 0;
	int rc;

	if ((rc = tm_cli_secrets_target(cli, r->o, v, &t)) < 0)
		return rc;
	ctx = tm_cli_stack_ctx(cli);
	if ((rc = tm_secret_places(places, &n, &t, &cli->err)) < 0 ||
	    (rc = tm_stack_live_secrets(&ctx, &objs, places, n, t.namespace, t.release, &cli->err)) < 0 ||
	    (rc = tm_secret_live_set(live, places, n, objs, &cli->err)) < 0)
		goto out;
	for (int id = 0; id < TM_SECRET_COUNT; id++)
		if (tm_secret_set_has(*live, (enum tm_secret_id)id))
			goto out;
	rc = tm_err_set(&cli->err, TM_ENOTFOUND, "release '%s' has no live Secret of the stack in namespace '%s': nothing "
			"to recover (a first 'tarmac up' makes new secrets)", t.release, t.namespace);
out:
	tm_stack_live_free(objs);
	return rc;
}

static void print(struct recover *r, const enum tm_secret_recovered act[TM_SECRET_COUNT], bool fresh)
{
	static const char *const what[] = { [TM_RECOVER_KEPT] = "kept", [TM_RECOVER_SEALED] = "sealed",
					    [TM_RECOVER_REPLACED] = "replaced", [TM_RECOVER_RESEALED] = "resealed",
					    [TM_RECOVER_DROPPED] = "removed" };
	json_t *j = r->cli->opts.output == TM_OUTPUT_JSON ? json_object() : NULL;
	int n[TM_RECOVER_DROPPED + 1] = { 0 };

	for (int id = 0; id < TM_SECRET_COUNT; id++) {
		const char *name = tm_secret_name((enum tm_secret_id)id);

		if (act[id] == TM_RECOVER_NONE)
			continue;
		n[act[id]]++;
		if (j)
			json_object_set_new(j, name, json_string(what[act[id]]));
		else
			fprintf(r->cli->out, "%-9s %s%s\n", what[act[id]], name, act[id] == TM_RECOVER_DROPPED ?
				" (sealed to the lost key, not live: 'tarmac secrets init' makes it again if needed)" : "");
	}
	if (j) {
		tm_cli_print_json(r->cli, j);
		json_decref(j);
		return;
	}
	fprintf(r->cli->out, "recovered the live values into %s/: %d sealed, %d kept%s (commit it)\n", r->dir,
		n[TM_RECOVER_SEALED] + n[TM_RECOVER_REPLACED] + n[TM_RECOVER_RESEALED], n[TM_RECOVER_KEPT],
		fresh ? ", to a new key" : "");
	fflush(r->cli->out);
}

int tm_cli_secrets_recover(struct tm_cli *cli, struct tm_secrets_cmd_opts *o, const char *env, const char *dir)
{
	struct recover r = { .cli = cli, .o = o, .env = env, .dir = dir, .keypath = TM_BUF_INIT("key path", 4096) };
	struct tm_secret_recover_opts ro = { .dir = dir };
	enum tm_secret_recovered act[TM_SECRET_COUNT];
	struct tm_secret_set *live = NULL;
	struct tm_secret_key *key = NULL;
	struct tm_values v = { 0 };
	bool fresh = false;
	int rc;

	snprintf(r.recipient, sizeof(r.recipient), "%s/recipient.pub", dir);
	memcpy(ro.force, o->force, sizeof(ro.force));
	/* the cluster first: nothing is made on disk unless there is something to recover */
	if ((rc = read_live(&r, &v, &live)) < 0 || (rc = open_key(&r, &key, &fresh)) < 0)
		goto out;
	ro.new_key = fresh;
	if ((rc = tm_secret_recover(act, live, key, &ro, &cli->err)) < 0)
		goto out;
	print(&r, act, fresh);
out:
	tm_secret_set_free(live);
	tm_secret_key_free(key);
	tm_values_release(&v);
	tm_buf_release(&r.keypath);
	return rc;
}
