/* secret: the environment's key pair, secrets generated once and sealed at rest in
 * secrets/<env>/, the Kubernetes Secrets made from them, and Bitnami SealedSecrets.
 * Formats and the threat model: docs/secrets.md. Never logs, prints or writes a
 * secret's plaintext; unsealed values live in memory that is wiped when freed.
 * Errors distinct for files: TM_EWRONGKEY, TM_ECORRUPT, TM_EVERSION (util.h). */
#ifndef TARMAC_SECRET_H
#define TARMAC_SECRET_H

#include <jansson.h>

#include "tarmac/util.h"

#define TM_SECRET_KEY_ID_LEN 16  /* hex characters: the first 8 bytes of SHA-256(public key) */
#define TM_SECRET_MAX_FILE (1u << 20) /* one key or sealed file */
#define TM_SECRET_MAX_VALUE (64u << 10) /* one secret's plaintext */

/* ------------------------------------------------------------------ the secrets */

/* What `tarmac secrets init` keeps per environment. Names are the file names
 * (<name>.sealed) and what list, show and rotate take. */
enum tm_secret_id {
	TM_SECRET_FERNET_KEY,           /* "fernet-key": 32 random bytes, URL-safe base64 (44) */
	TM_SECRET_API_SECRET_KEY,       /* "api-secret-key" */
	TM_SECRET_JWT_SECRET,           /* "jwt-secret" */
	TM_SECRET_WEBSERVER_SECRET_KEY, /* "webserver-secret-key": Airflow 2 */
	TM_SECRET_DB_PASSWORD,          /* "db-password": the metadata database user's */
	TM_SECRET_REDIS_PASSWORD,       /* "redis-password": the Celery broker's */
	TM_SECRET_ADMIN_PASSWORD,       /* "admin-password": the first Airflow user's */
	TM_SECRET_GIT_SSH_KEY,          /* "git-ssh-key": OpenSSH ed25519 private key text */
	TM_SECRET_GIT_HTTPS_TOKEN,      /* "dags-https-token": given, never generated (secrets init --https-token) */
	TM_SECRET_COUNT
};

/* "fernet-key", ...; NULL outside the enum. */
const char *tm_secret_name(enum tm_secret_id id);
/* A name or a short alias ("fernet", "jwt") into *out. TM_ENOTFOUND for others. */
int tm_secret_lookup(const char *name, enum tm_secret_id *out);
/* What stops working when the secret changes: for --force and rotate warnings. */
const char *tm_secret_breaks(enum tm_secret_id id);
/* The secret is given by its user (a token a server issued), never generated. */
bool tm_secret_given(enum tm_secret_id id);

/* A new value for id (for git-ssh-key the private key; comment goes into it),
 * appended to out. Wipe out after use (tm_buf_wipe). */
int tm_secret_generate(struct tm_buf *out, enum tm_secret_id id, const char *comment, struct tm_err *err);

/* An unencrypted OpenSSH ed25519 private key (the deploy key), opened: libsodium's key
 * layout (sk is the seed then pk), for signing in memory. Wipe it after use. */
#define TM_SECRET_SSH_COMMENT_MAX 256
struct tm_secret_ssh_key {
	unsigned char pk[32];
	unsigned char sk[64];
	char comment[TM_SECRET_SSH_COMMENT_MAX + 1];
};
/* TM_ECORRUPT naming what is wrong for anything but an unencrypted ed25519 key whose
 * halves agree. out is wiped on failure. */
int tm_secret_ssh_key_parse(struct tm_secret_ssh_key *out, const char *private_key, size_t len, struct tm_err *err);
void tm_secret_ssh_key_wipe(struct tm_secret_ssh_key *k);
/* The "ssh-ed25519 AAAA... comment" line of an OpenSSH private key made by
 * tm_secret_generate. TM_ECORRUPT for anything but an unencrypted ed25519 key. */
int tm_secret_ssh_public_line(struct tm_buf *out, const char *private_key, size_t len, struct tm_err *err);

/* Format checks of the plain-text SSH files of secrets/<env>/ (name is for
 * "file:line" in messages; TM_EINVALID): a .pub file is one OpenSSH public key line;
 * known_hosts is '#' comments, blank lines and "[@cert-authority|@revoked] HOSTS
 * KEYTYPE BASE64 [COMMENT]" lines (hashed |1| hosts allowed), each key decoded and
 * walked as a public key of its type, and at least one key. */
int tm_secret_ssh_pub_check(const char *text, size_t len, const char *name, struct tm_err *err);
int tm_secret_known_hosts_check(const char *text, size_t len, const char *name, struct tm_err *err);

/* ------------------------------------------------------------------ keys */

/* The environment's public recipient key (secrets/<env>/recipient.pub) and its
 * private key (0600, outside the repository). The private key is wiped when freed. */
struct tm_secret_recipient;
struct tm_secret_key;

struct tm_secret_keygen_opts {
	const char *env;            /* recorded in both files */
	const char *recipient_path; /* written 0644; must not exist */
	const char *key_path;       /* written 0600 (its directory made 0700); must not exist */
	int64_t now;                /* creation time (Unix seconds); 0: the clock */
	const volatile sig_atomic_t *stop; /* may be NULL: when set, nothing is written */
};
/* Makes an X25519 key pair and writes both files or neither (staged, then put in
 * place together; a signal waits until both are); key_id gets the key id.
 * TM_ECONFLICT when either file exists (overwriting would orphan sealed secrets),
 * TM_EINTERRUPTED when *stop was set. */
int tm_secret_keygen(char key_id[TM_SECRET_KEY_ID_LEN + 1], const struct tm_secret_keygen_opts *o,
		     struct tm_err *err);

/* $XDG_CONFIG_HOME/tarmac/keys/<env>.key, else $HOME/.config/tarmac/keys/<env>.key
 * (either may be NULL). TM_ENOTFOUND when neither is set. */
int tm_secret_default_key_path(struct tm_buf *out, const char *env, const char *xdg_config_home,
			       const char *home, struct tm_err *err);

/* Parse a recipient or private key file's text; name is for messages ("file:line").
 * Errors: TM_ECORRUPT (malformed, truncated, key id not matching the key),
 * TM_EVERSION (format version or algorithm), TM_EINVALID (the other kind of file). */
int tm_secret_recipient_parse(struct tm_secret_recipient **out, const char *text, size_t len, const char *name,
			      struct tm_err *err);
int tm_secret_key_parse(struct tm_secret_key **out, const char *text, size_t len, const char *name,
			struct tm_err *err);
/* Read and parse. The private key file is refused when group or others may access it
 * (TM_EINVALID, naming the chmod); "-" reads standard input. */
int tm_secret_recipient_load(struct tm_secret_recipient **out, const char *path, struct tm_err *err);
int tm_secret_key_load(struct tm_secret_key **out, const char *path, struct tm_err *err);
/* Where the private key comes from, most specific first; the caller fills the
 * environment's parts (modules read no environment variables). */
struct tm_secret_key_source {
	const char *key_file;        /* --key-file; "-": standard input */
	const char *env_key_file;    /* $TARMAC_KEY_FILE */
	const char *env;             /* the environment, for the default path */
	const char *xdg_config_home; /* $XDG_CONFIG_HOME */
	const char *home;            /* $HOME */
};
/* Loads the first key named: key_file, env_key_file, then the default path. A missing
 * default key is TM_ENOTFOUND saying how to name one. */
int tm_secret_key_open(struct tm_secret_key **out, const struct tm_secret_key_source *src, struct tm_err *err);
void tm_secret_recipient_free(struct tm_secret_recipient *r);
void tm_secret_key_free(struct tm_secret_key *k);
/* The 16-hex key id; borrowed. */
const char *tm_secret_recipient_id(const struct tm_secret_recipient *r);
const char *tm_secret_key_id(const struct tm_secret_key *k);

/* ------------------------------------------------------------------ sealed files */

/* What a sealed file's header says: readable without the private key. The
 * fingerprint is SHA-256 of the ciphertext, so it tells files apart and shows
 * tampering but says nothing about the value. */
struct tm_secret_meta {
	char name[64];        /* "fernet-key" */
	char created[32];     /* RFC 3339 UTC: when this value was sealed */
	char key_id[TM_SECRET_KEY_ID_LEN + 1];
	char fingerprint[72]; /* "sha256:<64 hex>" */
};

/* The text of a sealed file holding value for recipient r; appended to out.
 * created is an RFC 3339 time (NULL: now). */
int tm_secret_seal(struct tm_buf *out, const struct tm_secret_recipient *r, const char *name, const char *created,
		   const void *value, size_t len, struct tm_err *err);
/* Parses a sealed file's header and checks its body against the fingerprint,
 * without a key. Errors: TM_ECORRUPT, TM_EVERSION, each with name:line. */
int tm_secret_inspect(struct tm_secret_meta *out, const char *text, size_t len, const char *name,
		      struct tm_err *err);
/* Opens a sealed file with k; the plaintext is appended to out (wipe it after use),
 * meta (may be NULL) gets the header. TM_EWRONGKEY when sealed to another key, else
 * as tm_secret_inspect; a body that does not open or does not match its header is
 * TM_ECORRUPT. */
int tm_secret_unseal(struct tm_buf *out, struct tm_secret_meta *meta, const struct tm_secret_key *k,
		     const char *text, size_t len, const char *name, struct tm_err *err);

/* ------------------------------------------------------------------ secrets/<env>/ */

/* Every <name>.sealed and <name>.previous.sealed in dir, sorted by file name, each
 * inspected (no key needed). *out is a new array the caller frees. */
struct tm_secret_listed {
	char file[96]; /* "fernet-key.previous.sealed" */
	bool previous;
	struct tm_secret_meta meta;
};
int tm_secret_list(struct tm_secret_listed **out, size_t *n, const char *dir, struct tm_err *err);

enum tm_secret_action { TM_SECRET_KEPT, TM_SECRET_GENERATED, TM_SECRET_REGENERATED, TM_SECRET_SEALED,
			TM_SECRET_ABSENT /* a given secret nobody gave */ };

struct tm_secret_init_opts {
	const char *dir;              /* secrets/<env>/ with recipient.pub */
	const char *env;              /* for the deploy key's comment */
	const char *known_hosts_path; /* copied to <dir>/known_hosts when set */
	const char *https_token_path; /* sealed as dags-https-token when set ("-": standard input) */
	bool force[TM_SECRET_COUNT];  /* regenerate these even when present */
	int64_t now;                  /* 0: the clock */
	const volatile sig_atomic_t *stop; /* may be NULL; see below */
};
/* Generates and seals every missing secret (and the forced ones; the value they
 * replace is kept as <name>.previous.sealed). Never needs the private key.
 * actions[id] says what happened. The deploy key's public line goes to
 * <dir>/git-ssh-key.pub. TM_ENOTFOUND without recipient.pub. Each secret's files
 * (with the deploy key, both halves and both previous copies) are put in place
 * together; once *stop is set, the next secret is not written (TM_EINTERRUPTED) and
 * no temporary file is left. */
int tm_secret_init(enum tm_secret_action actions[TM_SECRET_COUNT], const struct tm_secret_init_opts *o,
		   struct tm_err *err);

enum tm_secret_rotate_step {
	TM_ROTATE_START,    /* fernet-key: stage "new,old"; others: new value, old kept as previous */
	TM_ROTATE_FINISH,   /* fernet-key only: drop the old key ("new") */
	TM_ROTATE_ROLLBACK, /* swap <name>.sealed and <name>.previous.sealed */
};
/* Rotates one secret in dir. key is needed for fernet-key's start and finish (the
 * stored value is read) and ignored otherwise. TM_ECONFLICT for a fernet start with
 * a rotation already staged or a finish with none; TM_ENOTFOUND without the secret
 * (or, for rollback, without a previous value); TM_EINTERRUPTED, nothing changed,
 * when *stop (may be NULL) was set before the files were put in place together. */
int tm_secret_rotate(const char *dir, enum tm_secret_id id, enum tm_secret_rotate_step step,
		     const struct tm_secret_key *key, int64_t now, const volatile sig_atomic_t *stop,
		     struct tm_err *err);

/* The unsealed secrets of one environment, in memory only; wiped when freed. */
struct tm_secret_set;
/* Opens every current <name>.sealed of dir with key (which must be recipient.pub's
 * pair: TM_EWRONGKEY otherwise), plus known_hosts when present. A missing secret is
 * no error here: tm_secret_objects names it if it is needed. */
int tm_secret_set_open(struct tm_secret_set **out, const char *dir, const struct tm_secret_key *key,
		       struct tm_err *err);
/* The value of id (borrowed, NUL-terminated), or TM_ENOTFOUND. */
int tm_secret_set_get(const struct tm_secret_set *s, enum tm_secret_id id, const char **value, size_t *len);
/* The environment's known_hosts text (borrowed; empty when it has none). */
void tm_secret_set_known_hosts(const struct tm_secret_set *s, const char **text, size_t *len);
void tm_secret_set_free(struct tm_secret_set *s);
/* dir's known_hosts as it is on disk (out empty when there is none). */
int tm_secret_known_hosts_read(struct tm_buf *out, const char *dir, struct tm_err *err);
/* Appends a known_hosts line to dir's known_hosts (made when missing), checked and
 * written atomically: a bad line changes nothing. */
int tm_secret_known_hosts_add(const char *dir, const char *line, const volatile sig_atomic_t *stop,
			      struct tm_err *err);

/* ------------------------------------------------------------------ Kubernetes Secrets */

/* Where the Secrets go and the effective values that say which to make. */
struct tm_secret_target {
	const char *release;
	const char *namespace;
	json_t *values; /* tm_values.tree; borrowed */
};

/* The metadata database URI: <protocol>://<user>:<password>@<host>:<port>/<db>?sslmode=<m>
 * with user and password percent-encoded. Derived each time from the stored password
 * and the current values (host moves, sslmode changes), never stored. */
struct tm_secret_db {
	const char *protocol, *user, *host, *db, *sslmode;
	long port;
};
int tm_secret_db_uri(struct tm_buf *out, const struct tm_secret_db *p, const char *password, struct tm_err *err);
/* What the values say Airflow connects to: metadataConnection, through PgBouncer
 * (<release>-pgbouncer.<ns>:6543, database <release>-metadata) when it is enabled,
 * the built-in PostgreSQL's Service when no host is set. Strings borrow from
 * t->values or the arena. */
int tm_secret_db_from_values(struct tm_secret_db *out, const struct tm_secret_target *t, struct tm_arena *a,
			     struct tm_err *err);

/* The Secrets the templates reference, as the official chart names and keys them,
 * that tarmac makes (not those the values say exist already), each with the
 * annotations tarmac.io/resource-policy: keep and tarmac.io/content-hash (a keyed
 * BLAKE2b of the data, keyed from the private key: pods roll when a value changes,
 * the hash tells nothing). *out is a new array; free it with tm_secret_objects_free.
 * TM_ENOTFOUND naming the secret (and 'tarmac secrets init') when one is missing. */
int tm_secret_objects(json_t **out, const struct tm_secret_set *s, const struct tm_secret_target *t,
		      struct tm_err *err);
/* Wipes every data and stringData value, then releases the array. NULL is fine. */
void tm_secret_objects_free(json_t *objects);
/* The Secrets that must exist already (for a pre-apply check): a new array of
 * {"name", "key", "because"} (because: the values key, or why tarmac cannot make it).
 * s may be NULL (the deploy key is then taken as present). */
int tm_secret_external(json_t **out, const struct tm_secret_set *s, const struct tm_secret_target *t,
		       struct tm_err *err);

/* ------------------------------------------------------------------ live values
 * An installed release's secrets are never replaced by accident (docs/secrets.md,
 * "The live values win"): before anything is applied, what the sealed files hold is
 * compared with what the live Secrets hold, and secrets recover seals the live values. */

/* How a Secret key holds a stored secret. */
enum tm_secret_form {
	TM_FORM_VALUE,           /* the value itself */
	TM_FORM_URI_PASSWORD,    /* the password of scheme://user:password@host..., percent-encoded */
	TM_FORM_PGBOUNCER_USERS, /* the password of a users.txt line "user" "password" */
	TM_FORM_KNOWN_HOSTS,     /* the deploy key's known_hosts (not a stored secret: id is TM_SECRET_COUNT) */
};
#define TM_SECRET_MAX_PLACES 16
/* One Secret key tm_secret_objects fills from a stored secret. */
struct tm_secret_place {
	enum tm_secret_id id;
	char name[254];  /* the Secret */
	const char *key; /* static */
	enum tm_secret_form form;
};
/* Where tm_secret_objects puts each stored secret for these values (the Secrets it
 * makes, not external ones; the deploy key's Secret whenever git-sync names one). */
int tm_secret_places(struct tm_secret_place out[TM_SECRET_MAX_PLACES], size_t *n, const struct tm_secret_target *t,
		     struct tm_err *err);
/* The stored secrets as the cluster holds them: live maps each place's Secret name to
 * the object read from the cluster (a name absent: no such Secret). *out holds a value
 * for every secret some live place holds (and known_hosts). TM_ECONFLICT when two live
 * places of one secret disagree, TM_ECORRUPT when one cannot be read back (both name
 * the Secret and key, never a value). */
int tm_secret_live_set(struct tm_secret_set **out, const struct tm_secret_place *places, size_t n,
		       const json_t *live, struct tm_err *err);
/* Whether s holds a value for id (s may be NULL). */
bool tm_secret_set_has(const struct tm_secret_set *s, enum tm_secret_id id);
/* The previous values of dir (<name>.previous.sealed) that open with key; the others
 * (absent, or sealed to an older key) are left out. */
int tm_secret_set_open_previous(struct tm_secret_set **out, const char *dir, const struct tm_secret_key *key,
				struct tm_err *err);

/* What deploying the sealed value of one secret would do to the live one. */
enum tm_secret_verdict {
	TM_GUARD_UNUSED,  /* nothing live holds it: nothing to protect */
	TM_GUARD_SAME,    /* the sealed value is the live one */
	TM_GUARD_ROTATED, /* the sealed value replaces the live one on purpose: <name>.previous.sealed
			   * (kept by rotate and init --force) holds the live value */
	TM_GUARD_MISSING, /* live, but no sealed file holds it: refused */
	TM_GUARD_CHANGED, /* differs from the live value with no rotation recorded: refused */
	TM_GUARD_VERDICT_COUNT
};
/* "unused", "same", ...; NULL outside the enum. */
const char *tm_secret_verdict_name(enum tm_secret_verdict v);
/* The verdict for each secret, from the sealed values (NULL: no sealed files), the
 * previous ones (may be NULL) and the live ones. Where nothing live holds a secret,
 * recorded[id] (may be NULL, or hold NULLs) is the "sha256:<hex>" of the value the
 * release's deployed record says its Secret held (a Secret deleted by hand): a sealed
 * value that is neither it nor a rotation of it is refused too. Returns how many are
 * refused. Pure. */
int tm_secret_guard(enum tm_secret_verdict out[TM_SECRET_COUNT], const struct tm_secret_set *sealed,
		    const struct tm_secret_set *previous, const struct tm_secret_set *live,
		    const char *const recorded[TM_SECRET_COUNT]);

/* May 'rotate fernet-key --finish' drop the old key? Only once the staged "new,old" is
 * what the release has deployed: dropping it earlier removes the key the pods read with. */
enum tm_secret_finish {
	TM_FINISH_UNDEPLOYED,   /* no live Secret and no record hold a Fernet key: nothing runs on it */
	TM_FINISH_DEPLOYED,     /* the live Secret holds the staged keys, and so does the deployed record */
	TM_FINISH_NOT_DEPLOYED, /* the cluster holds another value (the old key first): deploy first */
	TM_FINISH_INCOMPLETE,   /* the live Secret holds them, the newest deployed revision does not:
				 * the deploy that applied them failed or is still running */
	TM_FINISH_COUNT
};
/* "undeployed", "deployed", ...; NULL outside the enum. */
const char *tm_secret_finish_name(enum tm_secret_finish f);
/* The verdict from the sealed (staged) set, the live one (may be NULL) and recorded, the
 * "sha256:<hex>" the newest deployed revision's record keeps for the Fernet Secret (NULL:
 * no record, or none of it). Pure. */
enum tm_secret_finish tm_secret_finish_check(const struct tm_secret_set *sealed, const struct tm_secret_set *live,
					     const char *recorded);

enum tm_secret_recovered {
	TM_RECOVER_NONE,     /* nothing live holds it; its file is left alone */
	TM_RECOVER_KEPT,     /* its file holds the live value already */
	TM_RECOVER_SEALED,   /* there was no file */
	TM_RECOVER_REPLACED, /* forced over another value, which is kept as <name>.previous.sealed */
	TM_RECOVER_RESEALED, /* its file did not open with key (a lost key): sealed again */
	TM_RECOVER_DROPPED,  /* not live, and sealed to another key (a lost key): removed */
};
struct tm_secret_recover_opts {
	const char *dir;             /* secrets/<env>/ with recipient.pub matching key */
	bool force[TM_SECRET_COUNT]; /* replace these although they open and differ */
	bool new_key;                /* key is new (the old one is lost): files that do not open with it go */
	int64_t now;                 /* 0: the clock */
};
/* Seals every value of live into dir: a file already holding the live value is kept,
 * a missing one written. One that opens with key and holds another value is refused
 * unless forced, one that does not open unless new_key: TM_ECONFLICT naming each,
 * nothing written. With new_key, files (and previous files) that do not open with it
 * are removed once the live values are written. The deploy key's public line and
 * known_hosts follow. actions[id] says what happened. */
int tm_secret_recover(enum tm_secret_recovered actions[TM_SECRET_COUNT], const struct tm_secret_set *live,
		      const struct tm_secret_key *key, const struct tm_secret_recover_opts *o, struct tm_err *err);

/* ------------------------------------------------------------------ SealedSecrets */

/* A sealed-secrets controller's certificate (PEM X.509 with an RSA key). */
struct tm_secret_cert;
int tm_secret_cert_parse(struct tm_secret_cert **out, const char *pem, size_t len, const char *name,
			 struct tm_err *err);
void tm_secret_cert_free(struct tm_secret_cert *c);

enum tm_kubeseal_scope { TM_KUBESEAL_STRICT, TM_KUBESEAL_NAMESPACE_WIDE, TM_KUBESEAL_CLUSTER_WIDE };
/* "strict", "namespace-wide", "cluster-wide" */
const char *tm_kubeseal_scope_name(enum tm_kubeseal_scope s);
int tm_kubeseal_scope_parse(const char *s, enum tm_kubeseal_scope *out);

/* One Secret (data and/or stringData) as a bitnami.com/v1alpha1 SealedSecret in
 * kubeseal's wire format for cert: per key RSA-OAEP(SHA-256, label) of a fresh
 * AES-256 key, then AES-256-GCM with a zero nonce. The label is "<ns>/<name>"
 * (strict), "<ns>" or "". spec.template keeps the Secret's labels, annotations and
 * type. *out is new. TM_EINVALID for a Secret without the name or namespace the
 * scope needs. */
int tm_secret_kubeseal(json_t **out, const json_t *secret, const struct tm_secret_cert *cert,
		       enum tm_kubeseal_scope scope, struct tm_err *err);

/* Gives every pod template among objects that reads one of secrets (env, envFrom,
 * secret or projected volumes) the annotation checksum/secret-<name> = that Secret's
 * tarmac.io/content-hash, so a changed Secret rolls all its consumers together.
 * *annotated (may be NULL) counts the annotations set. */
int tm_secret_checksum_consumers(unsigned *annotated, json_t *objects, const json_t *secrets, struct tm_err *err);
/* When s holds a staged Fernet rotation ("new,old"), *out is a Job like the stack's
 * migration Job running 'airflow rotate-fernet-key', in the last apply phase (after
 * the pods rolled onto both keys); otherwise *out is NULL. TM_ENOTFOUND when a rotation
 * is staged but the stack has no migration Job to model it on. */
int tm_secret_rotation_job(json_t **out, const json_t *objects, const struct tm_secret_set *s, const char *release,
			   struct tm_err *err);

#endif
