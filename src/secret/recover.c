/* secrets recover: the live values of an installed release sealed back into
 * secrets/<env>/ after a sealed file was deleted or the private key was lost. A file
 * that holds another value is never replaced unless asked; all files are checked
 * before the first is written. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "secret_private.h"

/* Whether the file at path opens with key: 0 (v holds the value), 1 (sealed to another
 * key, or not a sealed file of ours), TM_ENOTFOUND, or an error. old gets its text. */
static int opens(struct tm_buf *old, struct tm_buf *v, const char *path, const struct tm_secret_key *key,
		 struct tm_err *err)
{
	struct tm_err e;
	int rc;

	tm_buf_clear(old);
	tm_err_init(&e);
	if ((rc = tm_file_read_checked(old, path, TM_SECRET_MAX_FILE, TM_SECRET_DIR_FILE_CHECKS, &e)) == TM_ENOTFOUND)
		return rc;
	if (rc == 0 && (rc = tm_secret_reserve(v, TM_SECRET_MAX_FILE, &e)) == 0)
		rc = tm_secret_unseal(v, NULL, key, old->data, old->len, path, &e);
	if (rc == TM_EWRONGKEY || rc == TM_ECORRUPT || rc == TM_EVERSION)
		return 1;
	if (rc < 0 && err)
		*err = e;
	return rc;
}

/* What recovering id does to its file (old gets the file's text). */
static int plan(enum tm_secret_recovered *act, struct tm_buf *old, const struct tm_secret_set *live, int id,
		const struct tm_secret_key *key, const struct tm_secret_recover_opts *o, const char *path,
		struct tm_err *err)
{
	struct tm_buf v = TM_BUF_INIT("secret", TM_SECRET_MAX_FILE);
	int rc = opens(old, &v, path, key, err);

	if (!live->have[id])
		rc = rc == 1 ? 1 : 0; /* not recovered: only whether a new key drops it matters */
	if (!live->have[id])
		*act = rc == 1 && o->new_key ? TM_RECOVER_DROPPED : TM_RECOVER_NONE;
	else if (rc == TM_ENOTFOUND)
		*act = TM_RECOVER_SEALED;
	else if (rc == 0 && v.len == live->value[id].len && sodium_memcmp(v.data, live->value[id].data, v.len) == 0)
		*act = TM_RECOVER_KEPT;
	else if (rc == 0)
		*act = o->force[id] ? TM_RECOVER_REPLACED : TM_RECOVER_NONE; /* NONE: refused */
	else if (rc == 1)
		*act = o->new_key || o->force[id] ? TM_RECOVER_RESEALED : TM_RECOVER_NONE;
	tm_buf_wipe(&v);
	return rc < 0 && rc != TM_ENOTFOUND ? rc : 0;
}

static int write_file(const char *dir, const char *file, const void *data, size_t len, struct tm_err *err)
{
	char path[4096];
	int rc;

	if ((rc = tm_secret_path(path, sizeof(path), dir, file, err)) < 0)
		return rc;
	return tm_file_write_atomic(path, data, len, 0644, err);
}

/* Writes one plan: a forced replacement keeps the old file as <name>.previous.sealed. */
static int write_one(const struct tm_secret_recipient *r, const struct tm_secret_set *live, int id,
		     enum tm_secret_recovered act, const struct tm_buf *old, const struct tm_secret_recover_opts *o,
		     struct tm_err *err)
{
	struct tm_buf sealed = TM_BUF_INIT("sealed file", TM_SECRET_MAX_FILE), pub = TM_BUF_INIT("ssh public key", 4096);
	const char *name = tm_secret_name((enum tm_secret_id)id);
	char file[128], created[32];
	int rc;

	tm_secret_time_text(created, o->now);
	snprintf(file, sizeof(file), "%s.previous.sealed", name);
	if (act == TM_RECOVER_REPLACED && (rc = write_file(o->dir, file, old->data, old->len, err)) < 0)
		goto out;
	snprintf(file, sizeof(file), "%s.sealed", name);
	if ((rc = tm_secret_seal(&sealed, r, name, created, live->value[id].data, live->value[id].len, err)) < 0 ||
	    (rc = write_file(o->dir, file, sealed.data, sealed.len, err)) < 0)
		goto out;
	if (id == TM_SECRET_GIT_SSH_KEY &&
	    ((rc = tm_secret_ssh_public_line(&pub, live->value[id].data, live->value[id].len, err)) < 0 ||
	     (rc = tm_buf_puts(&pub, "\n", err)) < 0 || (rc = write_file(o->dir, "git-ssh-key.pub", pub.data, pub.len, err)) < 0))
		goto out;
out:
	tm_buf_release(&sealed);
	tm_buf_release(&pub);
	return rc;
}

/* With a new key: what no longer opens goes (version control keeps it). */
static int drop_unopenable(const struct tm_secret_key *key, const enum tm_secret_recovered act[TM_SECRET_COUNT],
			   const struct tm_secret_recover_opts *o, struct tm_err *err)
{
	struct tm_buf old = TM_BUF_INIT("sealed file", TM_SECRET_MAX_FILE), v = TM_BUF_INIT("secret", TM_SECRET_MAX_FILE);
	char path[4096], file[128];
	int rc = 0;

	for (int id = 0; rc == 0 && id < TM_SECRET_COUNT; id++) {
		for (int prev = 0; rc == 0 && prev < 2; prev++) {
			if (!prev && act[id] != TM_RECOVER_DROPPED)
				continue;
			snprintf(file, sizeof(file), "%s%s.sealed", tm_secret_name((enum tm_secret_id)id), prev ? ".previous" : "");
			if ((rc = tm_secret_path(path, sizeof(path), o->dir, file, err)) < 0)
				break;
			if ((rc = opens(&old, &v, path, key, err)) == 1 && unlink(path) < 0)
				rc = tm_err_errno(err, errno, "remove '%s'", path);
			tm_buf_wipe(&v);
			rc = rc < 0 && rc != TM_ENOTFOUND ? rc : 0;
		}
	}
	tm_buf_release(&old);
	return rc;
}

/* TM_ECONFLICT naming every refused secret. */
static int refuse(const enum tm_secret_recovered act[TM_SECRET_COUNT], const struct tm_secret_set *live,
		  const char *dir, struct tm_err *err)
{
	char names[512] = "";
	size_t len = 0;

	for (int id = 0; id < TM_SECRET_COUNT; id++)
		if (live->have[id] && act[id] == TM_RECOVER_NONE && len < sizeof(names))
			len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s.sealed", len ? ", " : "",
						tm_secret_name((enum tm_secret_id)id));
	return tm_err_set(err, TM_ECONFLICT, "%s in '%s' hold%s another value than the live Secrets (or do not open with "
			  "this key); nothing was written. If the live values are the ones to keep, repeat with --force "
			  "NAME for each (a replaced value is kept as NAME.previous.sealed)", names, dir,
			  strchr(names, ',') ? "" : "s");
}

int tm_secret_recover(enum tm_secret_recovered actions[TM_SECRET_COUNT], const struct tm_secret_set *live,
		      const struct tm_secret_key *key, const struct tm_secret_recover_opts *o, struct tm_err *err)
{
	struct tm_buf old[TM_SECRET_COUNT];
	enum tm_secret_recovered act[TM_SECRET_COUNT] = { 0 };
	struct tm_secret_recipient *r = NULL;
	char path[4096], file[128];
	bool refused = false;
	int rc;

	for (int id = 0; id < TM_SECRET_COUNT; id++)
		tm_buf_init(&old[id], "sealed file", TM_SECRET_MAX_FILE);
	/* the live known_hosts came from the cluster: checked before any file is written */
	if (live->known_hosts.len && (rc = tm_secret_known_hosts_check(live->known_hosts.data, live->known_hosts.len,
									"the live known_hosts", err)) < 0)
		goto out;
	if ((rc = tm_secret_path(path, sizeof(path), o->dir, "recipient.pub", err)) < 0 ||
	    (rc = tm_secret_recipient_load(&r, path, err)) < 0)
		goto out;
	if (strcmp(r->id, key->id) != 0) {
		rc = tm_err_set(err, TM_EWRONGKEY, "'%s' is key %s, but the private key given is %s", path, r->id, key->id);
		goto out;
	}
	for (int id = 0; id < TM_SECRET_COUNT; id++) {
		snprintf(file, sizeof(file), "%s.sealed", tm_secret_name((enum tm_secret_id)id));
		if ((rc = tm_secret_path(path, sizeof(path), o->dir, file, err)) < 0 ||
		    (rc = plan(&act[id], &old[id], live, id, key, o, path, err)) < 0)
			goto out;
		refused |= live->have[id] && act[id] == TM_RECOVER_NONE;
	}
	if (refused) {
		rc = refuse(act, live, o->dir, err);
		goto out;
	}
	for (int id = 0; id < TM_SECRET_COUNT; id++)
		if (act[id] >= TM_RECOVER_SEALED && act[id] <= TM_RECOVER_RESEALED &&
		    (rc = write_one(r, live, id, act[id], &old[id], o, err)) < 0)
			goto out;
	if (live->known_hosts.len &&
	    (rc = write_file(o->dir, "known_hosts", live->known_hosts.data, live->known_hosts.len, err)) < 0)
		goto out;
	if (o->new_key && (rc = drop_unopenable(key, act, o, err)) < 0)
		goto out;
	memcpy(actions, act, sizeof(act));
out:
	for (int id = 0; id < TM_SECRET_COUNT; id++)
		tm_buf_release(&old[id]);
	tm_secret_recipient_free(r);
	return rc;
}
