/* tarmac secrets rotate fernet-key --finish, guarded: the old key is dropped only once the
 * staged "new,old" is what the release has deployed (its live Secret and its deployed
 * record, never the local files alone), so no pod is left reading with a dropped key. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tarmac/doc.h"
#include "tarmac/release.h"

/* The sha256 the newest deployed revision's record keeps for place p (into hash, "" for
 * none); *revision is its number (0: no deployed revision). */
static int recorded_hash(struct tm_cli *cli, const struct tm_secret_target *t, const struct tm_secret_place *p,
			 char hash[80], int *revision)
{
	struct tm_revision *revs = NULL, *dep = NULL;
	json_t *rec = NULL, *obj;
	size_t n = 0, i;
	int rc;

	hash[0] = '\0';
	*revision = 0;
	if ((rc = tm_release_list(&revs, &n, cli->kube, t->release, t->namespace, &cli->err)) < 0)
		goto out;
	for (i = n; i-- > 0 && !dep;)
		dep = revs[i].status == TM_REL_DEPLOYED ? &revs[i] : NULL;
	if (!dep || (rc = tm_release_read(&rec, cli->kube, t->release, t->namespace, dep, &cli->err)) < 0)
		goto out;
	*revision = dep->number;
	json_array_foreach(json_object_get(rec, "objects"), i, obj) {
		const char *name = json_string_value(tm_doc_get(obj, "metadata", "name", NULL));
		const char *h = json_string_value(tm_doc_get(obj, "dataHashes", p->key, NULL));

		if (name && h && strcmp(name, p->name) == 0 && tm_kind_is_secret(obj))
			snprintf(hash, 80, "%s", h);
	}
out:
	json_decref(rec);
	free(revs);
	return rc;
}

/* The verdict for the release t names: its live Fernet Secret and deployed record. */
static int verdict(struct tm_cli *cli, const struct tm_secret_target *t, const struct tm_secret_set *sealed,
		   enum tm_secret_finish *out, char secret[254], int *revision)
{
	struct tm_secret_place places[TM_SECRET_MAX_PLACES], *fernet = NULL;
	struct tm_secret_set *live = NULL;
	struct tm_stack_ctx ctx;
	json_t *objs = NULL;
	char hash[80] = "";
	size_t n = 0;
	int rc;

	*revision = 0;
	if ((rc = tm_secret_places(places, &n, t, &cli->err)) < 0)
		return rc;
	for (size_t i = 0; i < n && !fernet; i++)
		fernet = places[i].id == TM_SECRET_FERNET_KEY && places[i].form == TM_FORM_VALUE ? &places[i] : NULL;
	if (!fernet) { /* fernetKeySecretName: the values name a Secret tarmac does not make */
		*out = TM_FINISH_UNDEPLOYED;
		return 0;
	}
	snprintf(secret, 254, "%s", fernet->name);
	ctx = tm_cli_stack_ctx(cli);
	if ((rc = tm_stack_live_secrets(&ctx, &objs, fernet, 1, t->namespace, t->release, &cli->err)) < 0 ||
	    (rc = tm_secret_live_set(&live, fernet, 1, objs, &cli->err)) < 0 ||
	    (rc = recorded_hash(cli, t, fernet, hash, revision)) < 0)
		goto out;
	*out = tm_secret_finish_check(sealed, live, hash[0] ? hash : NULL);
out:
	tm_secret_set_free(live);
	tm_stack_live_free(objs);
	return rc;
}

int tm_cli_fernet_finish_check(struct tm_cli *cli, struct tm_secrets_cmd_opts *o, const char *env, const char *dir,
			       const struct tm_secret_key *key)
{
	enum tm_secret_finish f = TM_FINISH_UNDEPLOYED;
	struct tm_secret_set *sealed = NULL;
	struct tm_secret_target t;
	struct tm_values v = { 0 };
	const char *value = NULL;
	char secret[254] = "";
	size_t len = 0;
	int rc, revision = 0;

	/* nothing staged: tm_secret_rotate says so, without the cluster */
	if ((rc = tm_secret_set_open(&sealed, dir, key, &cli->err)) < 0 ||
	    tm_secret_set_get(sealed, TM_SECRET_FERNET_KEY, &value, &len) < 0 || !memchr(value, ',', len))
		goto out;
	if ((rc = tm_cli_secrets_target(cli, o, &v, &t)) < 0 || (rc = verdict(cli, &t, sealed, &f, secret, &revision)) < 0) {
		tm_err_wrap(&cli->err, "compare the staged Fernet keys with the deployed ones");
		goto out;
	}
	if (f == TM_FINISH_NOT_DEPLOYED)
		rc = tm_err_set(&cli->err, TM_ECONFLICT, "refusing to drop the old Fernet key: the pods of release '%s' in "
				"namespace '%s' still use it as primary (Secret '%s' does not hold the staged keys); run "
				"'tarmac up --env %s' (with your deploy's -f and -n) first: it rolls the pods onto both keys "
				"and its Job '%s-rotate-fernet-key' re-encrypts with the new one; then --finish",
				t.release, t.namespace, secret, env, t.release);
	else if (f == TM_FINISH_INCOMPLETE)
		rc = tm_err_set(&cli->err, TM_ECONFLICT, "refusing to drop the old Fernet key: Secret '%s/%s' holds the "
				"staged keys, but the deployed revision (%d) of release '%s' does not: the 'up' that applied "
				"them failed or is still running ('tarmac history'); run 'tarmac up --env %s' until it "
				"succeeds (its Job '%s-rotate-fernet-key' re-encrypts), then --finish",
				t.namespace, secret, revision, t.release, env, t.release);
	else if (f == TM_FINISH_UNDEPLOYED)
		tm_sink_log(&cli->sink, TM_INFO, "release '%s' in namespace '%s' holds no Fernet key of ours: nothing "
			    "deployed reads with the old one", t.release, t.namespace);
out:
	tm_secret_set_free(sealed);
	tm_values_release(&v);
	return rc;
}
