/* secrets/<env>/: recipient.pub, one <name>.sealed per secret, the value it replaced
 * as <name>.previous.sealed, and the deploy key's public half (git-ssh-key.pub) and
 * known_hosts in plain text (neither is secret; both are reviewed in diffs).
 * Generating, rotating and unsealing them. Plaintext is only ever in memory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "secret_private.h"

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define SSH_PUB_FILE "git-ssh-key.pub"
#define SSH_PUB_PREVIOUS "git-ssh-key.previous.pub"
#define KNOWN_HOSTS_FILE "known_hosts"
#define KNOWN_HOSTS_MAX (1u << 20)
#define MAX_LISTED 1024

struct paths {
	char cur[4096], prev[4096];
};

static int paths_for(struct paths *p, const char *dir, const char *name, struct tm_err *err)
{
	char f[128];
	int rc;

	snprintf(f, sizeof(f), "%s.sealed", name);
	if ((rc = tm_secret_path(p->cur, sizeof(p->cur), dir, f, err)) < 0)
		return rc;
	snprintf(f, sizeof(f), "%s.previous.sealed", name);
	return tm_secret_path(p->prev, sizeof(p->prev), dir, f, err);
}

/* Reads a sealed file. TM_ENOTFOUND when absent. */
static int read_sealed(struct tm_buf *text, const char *path, struct tm_err *err)
{
	return tm_file_read_checked(text, path, TM_SECRET_MAX_FILE, TM_SECRET_DIR_FILE_CHECKS, err);
}

/* The header of file <name>[.previous].sealed must name <name>: a file copied over
 * another secret's would otherwise be served under the wrong name. */
static int check_name(const struct tm_secret_meta *m, const char *name, const char *path, struct tm_err *err)
{
	if (strcmp(m->name, name) != 0)
		return tm_err_set(err, TM_ECORRUPT, "%s holds secret '%s', not '%s': renamed or copied over", path,
				  m->name, name);
	return 0;
}

/* ------------------------------------------------------------------ list */

static int by_file(const void *a, const void *b)
{
	return strcmp(((const struct tm_secret_listed *)a)->file, ((const struct tm_secret_listed *)b)->file);
}

/* "x.sealed" -> "x", "x.previous.sealed" -> "x" (previous set); false for others. */
static bool sealed_name(const char *file, char name[64], bool *previous)
{
	size_t n = strlen(file), s = strlen(".sealed"), p = strlen(".previous");

	if (n <= s || strcmp(file + n - s, ".sealed") != 0)
		return false;
	n -= s;
	*previous = n > p && memcmp(file + n - p, ".previous", p) == 0;
	if (*previous)
		n -= p;
	if (n >= 64)
		return false;
	memcpy(name, file, n);
	name[n] = '\0';
	return tm_is_dns_label(name, 63);
}

int tm_secret_list(struct tm_secret_listed **out, size_t *n, const char *dir, struct tm_err *err)
{
	struct tm_secret_listed *items = NULL;
	struct tm_buf text = TM_BUF_INIT("sealed file", TM_SECRET_MAX_FILE);
	size_t count = 0;
	struct dirent *de;
	DIR *d = opendir(dir);
	int rc = 0;

	if (!d)
		return tm_err_errno(err, errno, "open secrets directory '%s'", dir);
	if (!(items = calloc(MAX_LISTED, sizeof(*items)))) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	while ((de = readdir(d))) {
		char name[64], path[4096];
		bool prev;
		if (strlen(de->d_name) >= sizeof(items[0].file) || !sealed_name(de->d_name, name, &prev))
			continue;
		if (count == MAX_LISTED) {
			rc = tm_err_set(err, TM_ELIMIT, "'%s' holds more than %d sealed files", dir, MAX_LISTED);
			goto out;
		}
		if ((rc = tm_secret_path(path, sizeof(path), dir, de->d_name, err)) < 0 ||
		    (rc = read_sealed(&text, path, err)) < 0 ||
		    (rc = tm_secret_inspect(&items[count].meta, text.data, text.len, path, err)) < 0 ||
		    (rc = check_name(&items[count].meta, name, path, err)) < 0)
			goto out;
		memcpy(items[count].file, de->d_name, strlen(de->d_name) + 1);
		items[count].previous = prev;
		count++;
	}
	qsort(items, count, sizeof(*items), by_file);
	*out = items;
	*n = count;
	items = NULL;
out:
	closedir(d);
	free(items);
	tm_buf_release(&text);
	return rc;
}

/* ------------------------------------------------------------------ writing */

static int load_recipient(struct tm_secret_recipient **r, const char *dir, struct tm_err *err)
{
	char path[4096];
	int rc;

	if ((rc = tm_secret_path(path, sizeof(path), dir, "recipient.pub", err)) < 0)
		return rc;
	if ((rc = tm_secret_recipient_load(r, path, err)) == TM_ENOTFOUND)
		tm_err_wrap(err, "no recipient key in '%s': run 'tarmac secrets keygen' first", dir);
	return rc;
}

static int write_text(const char *dir, const char *file, const char *text, size_t len,
		      const volatile sig_atomic_t *stop, struct tm_err *err)
{
	struct tm_file_set fs;
	char path[4096];
	int rc;

	if ((rc = tm_secret_path(path, sizeof(path), dir, file, err)) < 0)
		return rc;
	tm_file_set_init(&fs);
	if ((rc = tm_file_set_add(&fs, path, text, len, 0644, 0, err)) == 0)
		rc = tm_file_set_commit(&fs, stop, err);
	tm_file_set_release(&fs);
	return rc;
}

/* Reads dir/file into out; TM_ENOTFOUND when it is not there. */
static int read_text(struct tm_buf *out, const char *dir, const char *file, size_t max, struct tm_err *err)
{
	char path[4096];
	int rc;

	if ((rc = tm_secret_path(path, sizeof(path), dir, file, err)) < 0)
		return rc;
	return tm_file_read_checked(out, path, max, TM_SECRET_DIR_FILE_CHECKS, err);
}

/* dir/file, an OpenSSH public key line; TM_ENOTFOUND when it is not there. */
static int read_pub(struct tm_buf *out, const char *dir, const char *file, struct tm_err *err)
{
	char path[4096];
	int rc;

	if ((rc = tm_secret_path(path, sizeof(path), dir, file, err)) < 0 ||
	    (rc = tm_file_read_checked(out, path, 4096, TM_SECRET_DIR_FILE_CHECKS, err)) < 0)
		return rc;
	return tm_secret_ssh_pub_check(out->data, out->len, path, err);
}

/* Stages in fs what replacing name's value writes: the old text (may be NULL) as
 * <name>.previous.sealed, the new sealed value, and for the deploy key (pub: its new
 * public line) the old .pub as git-ssh-key.previous.pub and the new .pub. The
 * previous copies come first: a commit failing part way never loses a value. */
static int stage_secret(struct tm_file_set *fs, const char *dir, const struct paths *p, const struct tm_buf *old,
			const struct tm_secret_recipient *r, const char *name, int64_t now, const struct tm_buf *value,
			const struct tm_buf *pub, struct tm_err *err)
{
	struct tm_buf sealed = TM_BUF_INIT("sealed file", TM_SECRET_MAX_FILE), prevpub = TM_BUF_INIT("ssh public key", 4096);
	char created[32], path[4096];
	int rc;

	tm_secret_time_text(created, now);
	if ((rc = tm_secret_seal(&sealed, r, name, created, value->data, value->len, err)) < 0 ||
	    (old && (rc = tm_file_set_add(fs, p->prev, old->data, old->len, 0644, 0, err)) < 0) ||
	    (rc = tm_file_set_add(fs, p->cur, sealed.data, sealed.len, 0644, 0, err)) < 0 || !pub)
		goto out;
	if (old && (rc = read_pub(&prevpub, dir, SSH_PUB_FILE, err)) == 0 &&
	    ((rc = tm_secret_path(path, sizeof(path), dir, SSH_PUB_PREVIOUS, err)) < 0 ||
	     (rc = tm_file_set_add(fs, path, prevpub.data, prevpub.len, 0644, 0, err)) < 0))
		goto out;
	if (rc < 0 && rc != TM_ENOTFOUND)
		goto out;
	if (rc == TM_ENOTFOUND && err)
		tm_err_init(err); /* no old .pub to keep: nothing failed */
	if ((rc = tm_secret_path(path, sizeof(path), dir, SSH_PUB_FILE, err)) == 0)
		rc = tm_file_set_add(fs, path, pub->data, pub->len, 0644, 0, err);
out:
	tm_buf_release(&sealed);
	tm_buf_release(&prevpub);
	return rc;
}

/* Seals value as name and puts it (and what stage_secret adds) in place together. */
static int store_value(const char *dir, const struct paths *p, const struct tm_buf *old,
		       const struct tm_secret_recipient *r, const char *name, int64_t now, const struct tm_buf *value,
		       const struct tm_buf *pub, const volatile sig_atomic_t *stop, struct tm_err *err)
{
	struct tm_file_set fs;
	int rc;

	tm_file_set_init(&fs);
	if ((rc = stage_secret(&fs, dir, p, old, r, name, now, value, pub, err)) == 0)
		rc = tm_file_set_commit(&fs, stop, err);
	tm_file_set_release(&fs);
	return rc;
}

/* A new value of id, and for the deploy key its public line into pub. */
static int generate(struct tm_buf *value, struct tm_buf *pub, enum tm_secret_id id, const char *env,
		    struct tm_err *err)
{
	char comment[96];
	int rc;

	snprintf(comment, sizeof(comment), "tarmac-%s-deploy-key", env ? env : "env");
	if ((rc = tm_secret_generate(value, id, comment, err)) < 0 || id != TM_SECRET_GIT_SSH_KEY)
		return rc;
	if ((rc = tm_secret_ssh_public_line(pub, value->data, value->len, err)) == 0)
		rc = tm_buf_puts(pub, "\n", err);
	return rc;
}

/* What init works with: the environment's key, scratch buffers, what the user gave. */
struct init_run {
	const struct tm_secret_init_opts *o;
	struct tm_secret_recipient *r;
	struct tm_buf old, value, pub, kh, token;
};

/* The given token: the file's text without its line end (one line, not empty). */
static int read_token(struct tm_buf *out, const char *path, struct tm_err *err)
{
	int rc;

	/* reserved up front: no reallocation leaves a copy of the token behind */
	if ((rc = tm_secret_reserve(out, TM_SECRET_MAX_VALUE, err)) < 0 ||
	    (rc = tm_file_read(out, strcmp(path, "-") == 0 ? "/dev/stdin" : path, TM_SECRET_MAX_VALUE, err)) < 0)
		return tm_err_wrap(err, "--https-token");
	while (out->len && (out->data[out->len - 1] == '\n' || out->data[out->len - 1] == '\r'))
		out->data[--out->len] = '\0';
	if (!out->len || memchr(out->data, '\n', out->len) || strlen(out->data) != out->len)
		return tm_err_set(err, TM_EINVALID, "--https-token %s: expected the token on one line", path);
	return 0;
}

/* An existing sealed value must be sound and sealed to this environment's key. */
static int check_existing(struct init_run *w, const struct paths *p, const char *name, bool force, struct tm_err *err)
{
	struct tm_secret_meta m;
	int rc;

	if ((rc = tm_secret_inspect(&m, w->old.data, w->old.len, p->cur, err)) < 0 ||
	    (rc = check_name(&m, name, p->cur, err)) < 0)
		return rc;
	if (strcmp(m.key_id, w->r->id) != 0 && !force)
		return tm_err_set(err, TM_EWRONGKEY, "%s is sealed to key %s, but recipient.pub is key %s", p->cur,
				  m.key_id, w->r->id);
	return 0;
}

/* One secret: kept, made, sealed from what the user gave, or absent (given, not given). */
static int init_one(enum tm_secret_action *done, struct init_run *w, enum tm_secret_id id, struct tm_err *err)
{
	const char *name = tm_secret_name(id);
	bool given = tm_secret_given(id) && w->token.len, force = w->o->force[id], exists;
	struct paths p;
	int rc;

	if ((rc = paths_for(&p, w->o->dir, name, err)) < 0)
		return rc;
	if ((rc = read_sealed(&w->old, p.cur, err)) < 0 && rc != TM_ENOTFOUND)
		return rc;
	if ((exists = rc == 0) && (rc = check_existing(w, &p, name, force, err)) < 0)
		return rc;
	if (exists && given && !force)
		return tm_err_set(err, TM_ECONFLICT, "%s is sealed already: add --force %s to replace it", name, name);
	*done = TM_SECRET_KEPT;
	if (exists && !force)
		return 0;
	*done = TM_SECRET_ABSENT;
	if (tm_secret_given(id) && !given && !force)
		return 0;
	tm_buf_wipe(&w->value);
	tm_buf_clear(&w->pub);
	if (given)
		rc = tm_buf_append(&w->value, w->token.data, w->token.len, err);
	else
		rc = generate(&w->value, &w->pub, id, w->o->env, err);
	if (rc < 0 || (rc = store_value(w->o->dir, &p, exists ? &w->old : NULL, w->r, name, w->o->now, &w->value,
					id == TM_SECRET_GIT_SSH_KEY ? &w->pub : NULL, w->o->stop, err)) < 0)
		return rc;
	*done = given ? TM_SECRET_SEALED : exists ? TM_SECRET_REGENERATED : TM_SECRET_GENERATED;
	return 0;
}

int tm_secret_init(enum tm_secret_action actions[TM_SECRET_COUNT], const struct tm_secret_init_opts *o,
		   struct tm_err *err)
{
	struct init_run w = { .o = o, .old = TM_BUF_INIT("sealed file", TM_SECRET_MAX_FILE),
			      .value = TM_BUF_INIT("secret", TM_SECRET_MAX_VALUE), .pub = TM_BUF_INIT("ssh public key", 4096),
			      .kh = TM_BUF_INIT("known_hosts", KNOWN_HOSTS_MAX),
			      .token = TM_BUF_INIT("token", TM_SECRET_MAX_VALUE) };
	enum tm_secret_action done[TM_SECRET_COUNT];
	int rc;

	if ((rc = load_recipient(&w.r, o->dir, err)) < 0)
		goto out;
	/* what the user gave is checked before anything is written: a bad file changes nothing */
	if (o->known_hosts_path &&
	    ((rc = tm_file_read(&w.kh, o->known_hosts_path, KNOWN_HOSTS_MAX, err)) < 0 ||
	     (rc = tm_secret_known_hosts_check(w.kh.data, w.kh.len, o->known_hosts_path, err)) < 0)) {
		tm_err_wrap(err, "--known-hosts");
		goto out;
	}
	if (o->https_token_path && (rc = read_token(&w.token, o->https_token_path, err)) < 0)
		goto out;
	for (int id = 0; id < TM_SECRET_COUNT; id++)
		if ((rc = init_one(&done[id], &w, (enum tm_secret_id)id, err)) < 0)
			goto out;
	if (o->known_hosts_path && (rc = write_text(o->dir, KNOWN_HOSTS_FILE, w.kh.data, w.kh.len, o->stop, err)) < 0)
		goto out;
	memcpy(actions, done, sizeof(done));
out:
	tm_secret_recipient_free(w.r);
	tm_buf_release(&w.old);
	tm_buf_wipe(&w.value);
	tm_buf_wipe(&w.token);
	tm_buf_release(&w.pub);
	tm_buf_release(&w.kh);
	return rc;
}

/* ------------------------------------------------------------------ rotation */

/* Swaps two files in one step where the kernel can (renameat2), else through the
 * two atomic writes (a crash in between leaves both holding the same value). */
static int swap_files(const char *a, const char *b, const struct tm_buf *at, const struct tm_buf *bt,
		      struct tm_err *err)
{
	int rc;

#ifdef SYS_renameat2
	if (syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0) {
		char dir[4096];
		const char *slash = strrchr(a, '/');
		int fd;
		snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - a) : 1, slash ? a : ".");
		if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
			fsync(fd);
			close(fd);
		}
		return 0;
	}
#endif
	if ((rc = tm_file_write_atomic(a, bt->data, bt->len, 0644, err)) < 0)
		return rc;
	return tm_file_write_atomic(b, at->data, at->len, 0644, err);
}

static int rollback(const char *dir, enum tm_secret_id id, const volatile sig_atomic_t *stop, struct tm_err *err)
{
	const char *name = tm_secret_name(id);
	struct tm_buf cur = TM_BUF_INIT("sealed file", TM_SECRET_MAX_FILE), prev = TM_BUF_INIT("sealed file", TM_SECRET_MAX_FILE);
	struct tm_buf pc = TM_BUF_INIT("ssh public key", 4096), pp = TM_BUF_INIT("ssh public key", 4096);
	struct tm_secret_meta m;
	struct paths p;
	sigset_t saved;
	bool pubs;
	int rc;

	if ((rc = paths_for(&p, dir, name, err)) < 0 || (rc = read_sealed(&cur, p.cur, err)) < 0)
		goto out;
	if ((rc = read_sealed(&prev, p.prev, err)) < 0) {
		if (rc == TM_ENOTFOUND)
			rc = tm_err_set(err, TM_ENOTFOUND, "secret '%s' has no previous value to roll back to", name);
		goto out;
	}
	if ((rc = tm_secret_inspect(&m, prev.data, prev.len, p.prev, err)) < 0 || (rc = check_name(&m, name, p.prev, err)) < 0 ||
	    (rc = tm_secret_inspect(&m, cur.data, cur.len, p.cur, err)) < 0 || (rc = check_name(&m, name, p.cur, err)) < 0)
		goto out;
	/* both public halves or neither: a missing one is no error, a link or a bad one is */
	if (id == TM_SECRET_GIT_SSH_KEY && (rc = read_pub(&pc, dir, SSH_PUB_FILE, err)) == 0)
		rc = read_pub(&pp, dir, SSH_PUB_PREVIOUS, err);
	if (rc < 0 && rc != TM_ENOTFOUND)
		goto out;
	if (rc == TM_ENOTFOUND && err)
		tm_err_init(err); /* one half missing: the sealed files are swapped alone */
	pubs = id == TM_SECRET_GIT_SSH_KEY && rc == 0;
	if (stop && *stop) {
		rc = tm_err_set(err, TM_EINTERRUPTED, "interrupted before '%s' was rolled back", name);
		goto out;
	}
	tm_signals_hold(&saved);
	rc = swap_files(p.cur, p.prev, &cur, &prev, err);
	if (rc == 0 && pubs) {
		char a[4096], b[4096];
		if ((rc = tm_secret_path(a, sizeof(a), dir, SSH_PUB_FILE, err)) == 0 &&
		    (rc = tm_secret_path(b, sizeof(b), dir, SSH_PUB_PREVIOUS, err)) == 0)
			rc = swap_files(a, b, &pc, &pp, err);
	}
	tm_signals_restore(&saved);
out:
	tm_buf_release(&cur);
	tm_buf_release(&prev);
	tm_buf_release(&pc);
	tm_buf_release(&pp);
	return rc;
}

/* fernet-key's start ("new,old") and finish ("new") from the stored value. */
static int fernet_value(struct tm_buf *value, const struct tm_buf *stored, enum tm_secret_rotate_step step,
			struct tm_err *err)
{
	const char *comma = memchr(stored->data, ',', stored->len);
	int rc;

	if (step == TM_ROTATE_START) {
		if (comma)
			return tm_err_set(err, TM_ECONFLICT, "a fernet-key rotation is staged already: finish it with "
					  "'tarmac secrets rotate fernet-key --finish' (after the 'tarmac up' that runs the "
					  "rotate-fernet-key Job)");
		if ((rc = tm_secret_generate(value, TM_SECRET_FERNET_KEY, NULL, err)) < 0 ||
		    (rc = tm_buf_puts(value, ",", err)) < 0)
			return rc;
		return tm_buf_append(value, stored->data, stored->len, err);
	}
	if (!comma)
		return tm_err_set(err, TM_ECONFLICT, "no fernet-key rotation is staged: start one with "
				  "'tarmac secrets rotate fernet-key'");
	return tm_buf_append(value, stored->data, (size_t)(comma - stored->data), err);
}

int tm_secret_rotate(const char *dir, enum tm_secret_id id, enum tm_secret_rotate_step step,
		     const struct tm_secret_key *key, int64_t now, const volatile sig_atomic_t *stop, struct tm_err *err)
{
	const char *name = tm_secret_name(id);
	struct tm_secret_recipient *r = NULL;
	struct tm_buf old = TM_BUF_INIT("sealed file", TM_SECRET_MAX_FILE);
	struct tm_buf stored = TM_BUF_INIT("secret", TM_SECRET_MAX_FILE), value = TM_BUF_INIT("secret", TM_SECRET_MAX_VALUE);
	struct tm_buf pub = TM_BUF_INIT("ssh public key", 4096);
	struct tm_secret_meta m;
	struct paths p;
	int rc;

	if (!name)
		return tm_err_set(err, TM_ERROR, "internal: secret %d", (int)id);
	if (step == TM_ROTATE_ROLLBACK)
		return rollback(dir, id, stop, err);
	if (step == TM_ROTATE_FINISH && id != TM_SECRET_FERNET_KEY)
		return tm_err_set(err, TM_EINVALID, "only fernet-key rotates in two steps; '%s' needs no --finish", name);
	if ((rc = load_recipient(&r, dir, err)) < 0 || (rc = paths_for(&p, dir, name, err)) < 0)
		goto out;
	if ((rc = read_sealed(&old, p.cur, err)) < 0) {
		if (rc == TM_ENOTFOUND)
			rc = tm_err_set(err, TM_ENOTFOUND, "secret '%s' does not exist in '%s': 'tarmac secrets init' "
					"makes it", name, dir);
		goto out;
	}
	if ((rc = tm_secret_inspect(&m, old.data, old.len, p.cur, err)) < 0 || (rc = check_name(&m, name, p.cur, err)) < 0)
		goto out;
	if (id == TM_SECRET_FERNET_KEY) {
		if (!key) {
			rc = tm_err_set(err, TM_EINVALID, "rotating fernet-key needs the private key (the old key is kept "
					"next to the new one)");
			goto out;
		}
		if ((rc = tm_secret_reserve(&value, TM_SECRET_MAX_VALUE, err)) < 0 ||
		    (rc = tm_secret_unseal(&stored, NULL, key, old.data, old.len, p.cur, err)) < 0 ||
		    (rc = fernet_value(&value, &stored, step, err)) < 0)
			goto out;
	} else if ((rc = generate(&value, &pub, id, r->env, err)) < 0) {
		goto out;
	}
	rc = store_value(dir, &p, &old, r, name, now, &value, id == TM_SECRET_GIT_SSH_KEY ? &pub : NULL, stop, err);
out:
	tm_secret_recipient_free(r);
	tm_buf_release(&old);
	tm_buf_wipe(&stored);
	tm_buf_wipe(&value);
	tm_buf_release(&pub);
	return rc;
}

/* ------------------------------------------------------------------ unsealing */

void tm_secret_set_free(struct tm_secret_set *s)
{
	if (!s)
		return;
	for (int i = 0; i < TM_SECRET_COUNT; i++)
		tm_buf_wipe(&s->value[i]);
	tm_buf_release(&s->known_hosts);
	sodium_memzero(s, sizeof(*s));
	free(s);
}

int tm_secret_set_get(const struct tm_secret_set *s, enum tm_secret_id id, const char **value, size_t *len)
{
	if ((unsigned)id >= TM_SECRET_COUNT || !s->have[id])
		return TM_ENOTFOUND;
	*value = s->value[id].data;
	if (len)
		*len = s->value[id].len;
	return 0;
}

void tm_secret_set_known_hosts(const struct tm_secret_set *s, const char **text, size_t *len)
{
	*text = s->known_hosts.len ? s->known_hosts.data : "";
	*len = s->known_hosts.len;
}

int tm_secret_set_open(struct tm_secret_set **out, const char *dir, const struct tm_secret_key *key,
		       struct tm_err *err)
{
	static const char context[] = "tarmac content-hash v1";
	struct tm_secret_set *s = NULL;
	struct tm_secret_recipient *r = NULL;
	struct tm_buf text = TM_BUF_INIT("sealed file", TM_SECRET_MAX_FILE);
	char path[4096];
	int rc;

	if ((rc = tm_secret_ready(err)) < 0 || (rc = load_recipient(&r, dir, err)) < 0)
		goto out;
	if (strcmp(r->id, key->id) != 0) {
		rc = tm_err_set(err, TM_EWRONGKEY, "the private key given is %s (of environment '%s'), but '%s' is "
				"sealed to key %s", key->id, key->env, dir, r->id);
		goto out;
	}
	if (!(s = calloc(1, sizeof(*s)))) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	tm_buf_init(&s->known_hosts, "known_hosts", KNOWN_HOSTS_MAX);
	for (int id = 0; id < TM_SECRET_COUNT; id++) {
		const char *name = tm_secret_name((enum tm_secret_id)id);
		struct tm_secret_meta m;
		struct paths p;
		tm_buf_init(&s->value[id], "secret", TM_SECRET_MAX_FILE);
		if ((rc = paths_for(&p, dir, name, err)) < 0)
			goto out;
		if ((rc = read_sealed(&text, p.cur, err)) == TM_ENOTFOUND)
			continue;
		if (rc < 0 || (rc = tm_secret_unseal(&s->value[id], &m, key, text.data, text.len, p.cur, err)) < 0 ||
		    (rc = check_name(&m, name, p.cur, err)) < 0)
			goto out;
		s->have[id] = true;
	}
	rc = read_text(&s->known_hosts, dir, KNOWN_HOSTS_FILE, KNOWN_HOSTS_MAX, err);
	if (rc == TM_ENOTFOUND) {
		if (err)
			tm_err_init(err); /* no known_hosts is fine: nothing failed */
		rc = 0;
	} else if (rc < 0 || (rc = tm_secret_path(path, sizeof(path), dir, KNOWN_HOSTS_FILE, err)) < 0 ||
		   (rc = tm_secret_known_hosts_check(s->known_hosts.data, s->known_hosts.len, path, err)) < 0) {
		goto out;
	}
	crypto_generichash(s->hash_key, sizeof(s->hash_key), (const unsigned char *)context, sizeof(context) - 1,
			   key->sk, sizeof(key->sk));
	*out = s;
	s = NULL;
out:
	tm_secret_recipient_free(r);
	tm_buf_release(&text);
	tm_secret_set_free(s);
	return rc;
}

int tm_secret_set_open_previous(struct tm_secret_set **out, const char *dir, const struct tm_secret_key *key,
				struct tm_err *err)
{
	struct tm_secret_set *s = tm_secret_set_new();
	struct tm_buf text = TM_BUF_INIT("sealed file", TM_SECRET_MAX_FILE);
	int rc = 0;

	if (!s)
		return tm_err_set(err, TM_ERROR, "out of memory");
	for (int id = 0; id < TM_SECRET_COUNT; id++) {
		const char *name = tm_secret_name((enum tm_secret_id)id);
		struct tm_secret_meta m;
		struct paths p;
		struct tm_err e;

		tm_err_init(&e);
		if ((rc = paths_for(&p, dir, name, err)) < 0)
			goto out;
		if ((rc = read_sealed(&text, p.prev, &e)) == TM_ENOTFOUND)
			continue;
		if (rc == 0)
			rc = tm_secret_unseal(&s->value[id], &m, key, text.data, text.len, p.prev, &e);
		if (rc == TM_EWRONGKEY)
			continue; /* sealed to a key this environment had before: not a value it can check */
		if (rc < 0 || (rc = check_name(&m, name, p.prev, &e)) < 0) {
			if (err)
				*err = e;
			goto out;
		}
		s->have[id] = true;
	}
	rc = 0;
	*out = s;
	s = NULL;
out:
	tm_buf_release(&text);
	tm_secret_set_free(s);
	return rc;
}

int tm_secret_known_hosts_read(struct tm_buf *out, const char *dir, struct tm_err *err)
{
	int rc;

	tm_buf_init(out, "known_hosts", KNOWN_HOSTS_MAX);
	if ((rc = read_text(out, dir, KNOWN_HOSTS_FILE, KNOWN_HOSTS_MAX, err)) == TM_ENOTFOUND) {
		tm_err_init(err);
		return 0;
	}
	return rc;
}

int tm_secret_known_hosts_add(const char *dir, const char *line, const volatile sig_atomic_t *stop,
			      struct tm_err *err)
{
	struct tm_buf kh;
	char path[4096];
	int rc;

	if ((rc = tm_secret_known_hosts_read(&kh, dir, err)) < 0 ||
	    (kh.len && kh.data[kh.len - 1] != '\n' && (rc = tm_buf_puts(&kh, "\n", err)) < 0) ||
	    (rc = tm_buf_printf(&kh, err, "%s\n", line)) < 0 ||
	    (rc = tm_secret_path(path, sizeof(path), dir, KNOWN_HOSTS_FILE, err)) < 0 ||
	    (rc = tm_secret_known_hosts_check(kh.data, kh.len, path, err)) < 0)
		goto out;
	rc = write_text(dir, KNOWN_HOSTS_FILE, kh.data, kh.len, stop, err);
out:
	tm_buf_release(&kh);
	return rc;
}
