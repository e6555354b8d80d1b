/* The environment's Secrets joined to the rendered stack: generated and sealed on
 * first use (up, install, upgrade), unsealed in memory with the private key, their
 * consumers annotated, a staged Fernet rotation's Job added, Secrets named in values
 * checked to exist. Files and keys are read here because render reads none. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "stack_private.h"
#include "tarmac/labels.h"
#include "tarmac/doc.h"

static void say(const struct tm_stack_ctx *s, enum tm_level lvl, const char *fmt, ...) TM_PRINTF(3, 4);
static void say(const struct tm_stack_ctx *s, enum tm_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tm_vreportf(s->report, s->report_ctx, lvl, "secrets", NULL, false, fmt, ap);
	va_end(ap);
}

/* mkdir -p, for secrets/<env> on first use. */
static int make_dirs(const char *dir, struct tm_err *err)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s", dir);
	for (char *p = path + 1;; p++) {
		if (*p == '/' || !*p) {
			char c = *p;

			*p = '\0';
			if (mkdir(path, 0755) < 0 && errno != EEXIST)
				return tm_err_errno(err, errno, "create '%s'", path);
			*p = c;
			if (!c)
				return 0;
		}
	}
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* First use of an environment: its key pair, then every secret. */
static int generate(const struct tm_stack_ctx *s, const struct tm_stack_secret_opts *o, const char *dir, const char *env,
		    struct tm_err *err)
{
	struct tm_buf keypath = TM_BUF_INIT("key path", 4096);
	enum tm_secret_action actions[TM_SECRET_COUNT];
	struct tm_secret_init_opts io = { .dir = dir, .env = env, .stop = s->stop };
	char recipient[4200], id[TM_SECRET_KEY_ID_LEN + 1];
	struct tm_secret_keygen_opts ko = { .env = env, .recipient_path = recipient, .stop = s->stop };
	int rc = 0, made = 0;

	snprintf(recipient, sizeof(recipient), "%s/recipient.pub", dir);
	if (!exists(recipient)) {
		const char *key = o->key_file ? o->key_file : getenv("TARMAC_KEY_FILE");

		if (key && strcmp(key, "-") == 0)
			return tm_err_set(err, TM_EINVALID, "'%s' has no recipient.pub, and a key from standard input "
					  "cannot be made: run 'tarmac secrets keygen --env %s' first", dir, env);
		if (!key) {
			if ((rc = tm_secret_default_key_path(&keypath, env, getenv("XDG_CONFIG_HOME"), getenv("HOME"),
							     err)) < 0)
				goto out;
			key = keypath.data;
		}
		if (exists(key)) {
			rc = tm_err_set(err, TM_ECONFLICT, "'%s' has no recipient.pub, but the private key '%s' exists: "
					"restore recipient.pub from version control (or move the key away to start over)",
					dir, key);
			goto out;
		}
		if ((rc = make_dirs(dir, err)) < 0)
			goto out;
		ko.key_path = key;
		if ((rc = tm_secret_keygen(id, &ko, err)) < 0)
			goto out;
		say(s, TM_WARN, "made key %s for environment '%s': public %s (commit it), private %s (back it up: "
		    "without it the sealed secrets cannot be opened)", id, env, recipient, key);
	}
	if ((rc = tm_secret_init(actions, &io, err)) < 0)
		goto out;
	for (int i = 0; i < TM_SECRET_COUNT; i++)
		if (actions[i] == TM_SECRET_GENERATED) {
			made++;
			say(s, TM_DEBUG, "generated and sealed '%s'", tm_secret_name((enum tm_secret_id)i));
		}
	if (made)
		say(s, TM_INFO, "generated and sealed %d secret%s into %s (existing ones are never regenerated)", made,
		    made == 1 ? "" : "s", dir);
out:
	tm_buf_release(&keypath);
	return rc;
}

/* Secrets the values name instead of tarmac's own must exist with their key. */
static int check_external(const struct tm_stack_ctx *s, const json_t *ext, const char *ns, struct tm_err *err)
{
	struct tm_buf missing = TM_BUF_INIT("missing", 8192);
	size_t i, n = 0;
	json_t *e;
	int rc = 0;

	json_array_foreach(ext, i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *key = json_string_value(json_object_get(e, "key"));
		const char *because = json_string_value(json_object_get(e, "because"));
		json_t *live = NULL;
		char path[600];
		struct tm_err gerr;
		int grc;

		if (!name)
			continue;
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s", ns, name);
		tm_err_init(&gerr);
		grc = tm_kube_get(s->kube, path, &live, &gerr);
		if (grc == 0 && (!key || tm_doc_get(live, "data", key, NULL))) {
			json_decref(live);
			continue;
		}
		json_decref(live);
		if (grc < 0 && grc != TM_ENOTFOUND) {
			*err = gerr;
			rc = tm_err_wrap(err, "check the Secret '%s/%s' the values name", ns, name);
			goto out;
		}
		if (n++ < 8 && (rc = tm_buf_printf(&missing, err, "%s'%s/%s'%s%s%s (%s)", n > 1 ? "; " : "", ns, name,
						   grc == 0 ? " has no key '" : "", grc == 0 && key ? key : "",
						   grc == 0 ? "'" : " does not exist", because ? because : "")) < 0)
			goto out;
	}
	if (n)
		rc = tm_err_set(err, TM_ENOTFOUND, "%zu Secret%s the values name %s missing: %s; create %s first, or "
				"drop the values key to let tarmac generate %s", n, n == 1 ? "" : "s", n == 1 ? "is" : "are",
				tm_buf_cstr(&missing), n == 1 ? "it" : "them", n == 1 ? "it" : "them");
out:
	tm_buf_release(&missing);
	return rc;
}

/* Replaces each Secret of secrets in objects by its SealedSecret. */
static int seal_for_controller(const char *cert_path, json_t *secrets, struct tm_err *err)
{
	struct tm_buf pem = TM_BUF_INIT("certificate", 1u << 20);
	struct tm_secret_cert *cert = NULL;
	size_t i;
	json_t *s;
	int rc;

	if ((rc = tm_file_read(&pem, cert_path, 1u << 20, err)) < 0 ||
	    (rc = tm_secret_cert_parse(&cert, pem.data, pem.len, cert_path, err)) < 0)
		goto out;
	json_array_foreach(secrets, i, s) {
		json_t *sealed = NULL, *plain;

		if ((rc = tm_secret_kubeseal(&sealed, s, cert, TM_KUBESEAL_STRICT, err)) < 0)
			goto out;
		/* the plaintext Secret it replaces is wiped, not just freed */
		if (!(plain = json_pack("[O]", s))) {
			json_decref(sealed);
			rc = tm_err_set(err, TM_ERROR, "out of memory");
			goto out;
		}
		/* kept on uninstall like the Secret it stands for (the controller's Secret goes
		 * with its SealedSecret) */
		if (!json_is_object(tm_doc_get(sealed, "metadata", "annotations", NULL)))
			json_object_set_new(json_object_get(sealed, "metadata"), "annotations", json_object());
		json_object_set_new(tm_doc_get(sealed, "metadata", "annotations", NULL), TM_POLICY_ANNOTATION,
				    json_string("keep"));
		json_array_set_new(secrets, i, sealed);
		tm_secret_objects_free(plain);
	}
out:
	tm_secret_cert_free(cert);
	tm_buf_release(&pem);
	return rc;
}

/* The guard's half after the sealed files are open: each value against the live one. */
static int guard(const struct tm_stack_ctx *s, const struct tm_stack_guard *g, const struct tm_secret_set *set,
		 const struct tm_secret_key *key, const char *dir, const char *env, struct tm_err *err)
{
	struct tm_secret_set *prev = NULL;
	int rc;

	if ((rc = tm_secret_set_open_previous(&prev, dir, key, err)) < 0)
		return tm_err_wrap(err, "secrets of environment '%s'", env);
	rc = tm_stack_guard_check(s, g, set, prev, dir, env, err);
	tm_secret_set_free(prev);
	return rc;
}

/* The Secrets' consumers annotated with their checksums, and a staged Fernet key
 * rotation's Job into *job (NULL when none is staged, or with a warning when the stack
 * has no migration Job to make it from). */
static int annotate_and_rotate(const struct tm_stack_ctx *s, json_t *objects, json_t *secrets,
			       const struct tm_secret_set *set, const char *env, const char *release, const char *ns,
			       unsigned *annotated, json_t **job, struct tm_err *err)
{
	int rc;

	/* the rotation Job is made from the annotated migration Job: its spec carries the
	 * Fernet key's checksum, so every rotation replaces (and runs) it again */
	if ((rc = tm_secret_checksum_consumers(annotated, objects, secrets, err)) < 0)
		return rc;
	if ((rc = tm_secret_rotation_job(job, objects, set, release, err)) != TM_ENOTFOUND)
		return rc;
	/* both keys still go out; the re-encryption is the manual step RUNBOOK names */
	say(s, TM_WARN, "%s: once this deploy is done, run 'kubectl -n %s exec deploy/%s-scheduler -- airflow "
	    "rotate-fernet-key' by hand, then 'tarmac secrets rotate fernet-key --finish --env %s'", tm_err_msg(err),
	    ns ? ns : "NAMESPACE", release, env);
	tm_err_init(err);
	return 0;
}

struct tm_secret_key_source tm_stack_key_source(const struct tm_stack_secret_opts *o, const char *env)
{
	return (struct tm_secret_key_source){ .key_file = o->key_file, .env_key_file = getenv("TARMAC_KEY_FILE"),
					      .env = env, .xdg_config_home = getenv("XDG_CONFIG_HOME"),
					      .home = getenv("HOME") };
}

int tm_stack_secrets(const struct tm_stack_ctx *s, const struct tm_stack_secret_opts *o, const char *env,
		     const char *release, const char *ns, json_t *values, json_t *objects, unsigned flags,
		     json_t **secrets_out, struct tm_err *err)
{
	struct tm_secret_key_source src = tm_stack_key_source(o, env);
	struct tm_secret_target target = { .release = release, .namespace = ns, .values = values };
	struct tm_secret_key *key = NULL;
	struct tm_secret_set *set = NULL;
	struct tm_stack_guard g = { 0 };
	bool guarded = (flags & TM_STACK_GUARD) && s->kube;
	json_t *secrets = NULL, *ext = NULL, *job = NULL;
	char dir[4096], recipient[4200];
	unsigned annotated = 0;
	int rc = 0;

	*secrets_out = NULL;
	if (o->none)
		return 0;
	if ((rc = tm_stack_secrets_dir(dir, sizeof(dir), o->dir, env, err)) < 0)
		return tm_err_wrap(err, "--secrets-dir");
	snprintf(recipient, sizeof(recipient), "%s/recipient.pub", dir);
	/* the live Secrets first: an installed release's secrets are never generated again */
	if (guarded && (rc = tm_stack_guard_read(s, &g, &target, err)) < 0)
		goto out;
	if ((flags & TM_STACK_MAKE) && !g.installed && (rc = generate(s, o, dir, env, err)) < 0)
		goto out;
	if (!exists(recipient)) {
		if (g.installed) {
			rc = tm_stack_guard_check(s, &g, NULL, NULL, dir, env, err);
			tm_err_wrap(err, "no sealed secrets in '%s'", dir);
			goto out;
		}
		say(s, TM_WARN, "no sealed secrets in '%s': the stack's Secrets are left out ('tarmac up' makes them, or "
		    "'tarmac secrets keygen' and 'init')", dir);
		goto out;
	}
	if ((rc = tm_secret_key_open(&key, &src, err)) < 0 || (rc = tm_secret_set_open(&set, dir, key, err)) < 0 ||
	    (g.installed && (rc = guard(s, &g, set, key, dir, env, err)) < 0) ||
	    (rc = tm_secret_objects(&secrets, set, &target, err)) < 0 ||
	    (rc = tm_secret_external(&ext, set, &target, err)) < 0) {
		tm_err_wrap(err, "secrets of environment '%s'", env);
		goto out;
	}
	if ((s->kube && (rc = check_external(s, ext, ns, err)) < 0) ||
	    (rc = annotate_and_rotate(s, objects, secrets, set, env, release, ns, &annotated, &job, err)) < 0)
		goto out;
	if (o->cert && (rc = seal_for_controller(o->cert, secrets, err)) < 0)
		goto out;
	if (json_array_extend(objects, secrets) < 0 || (job && json_array_append(objects, job) < 0)) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	say(s, TM_DEBUG, "%zu %s from '%s', %u pod template annotation%s%s", json_array_size(secrets),
	    o->cert ? "SealedSecrets" : "Secrets", dir, annotated, annotated == 1 ? "" : "s",
	    job ? "; a Fernet key rotation is staged: its Job runs after the workloads" : "");
	*secrets_out = secrets;
	secrets = NULL;
out:
	tm_secret_objects_free(secrets);
	tm_secret_set_free(set);
	tm_secret_key_free(key);
	tm_stack_guard_release(&g);
	json_decref(ext);
	json_decref(job);
	return rc;
}
