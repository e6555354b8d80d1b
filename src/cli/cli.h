/* Private to cli/: the per-run context, the command table row and option specs. */
#ifndef TARMAC_CLI_PRIVATE_H
#define TARMAC_CLI_PRIVATE_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "tarmac/cli.h"
#include "tarmac/apply.h"
#include "tarmac/exitcode.h"
#include "tarmac/kube.h"
#include "tarmac/render.h"
#include "tarmac/secret.h"
#include "tarmac/stack.h"
#include "tarmac/util.h"

enum tm_output { TM_OUTPUT_TEXT, TM_OUTPUT_JSON };

/* Global options, parsed once per run. Strings borrow from argv. */
struct tm_opts {
	const char *kubeconfig;
	const char *context;
	const char *namespace;
	const char *release;
	enum tm_output output;
	int verbose;
	bool no_color;
};

/* One option a command (or tarmac itself) accepts. */
enum tm_optkind { TM_OPT_FLAG, TM_OPT_VALUE, TM_OPT_COUNT };
struct tm_optspec {
	int id;            /* passed to the setter; unique within one table */
	const char *name;  /* long name without "--" */
	char shortname;    /* 0 for none */
	enum tm_optkind kind;
	const char *metavar; /* TM_OPT_VALUE: "PATH", "NAME" ... */
	const char *help;
};

/* Everything one invocation carries; nothing of it outlives tm_cli_main. */
struct tm_cli {
	struct tm_opts opts;
	FILE *out;              /* results */
	FILE *errf;             /* diagnostics and progress */
	struct tm_sink sink;    /* progress of long work, on errf */
	const struct tm_cmd *cmd;
	struct tm_err err;
	/* set up by the dispatcher when the command's row asks for it */
	struct tm_kube_config kcfg;
	bool have_kcfg;         /* kcfg was loaded */
	struct tm_kube *kube;   /* client for kcfg, or NULL */
};

/* What the dispatcher must set up before a command runs. */
enum tm_need {
	TM_NEED_NOTHING = 0,
	/* a cluster client in cli->kube before run(); no kubeconfig is an error (exit 5
	 * when the cluster is unreachable). Commands for which a cluster is optional
	 * (version) call tm_cli_connect() themselves. */
	TM_NEED_CLUSTER = 1u << 0,
	/* it may unseal or generate secrets: no core dumps from the start (a cluster
	 * command holds credentials, so TM_NEED_CLUSTER implies this too) */
	TM_NEED_SECRETS = 1u << 1,
};

struct tm_cmd {
	const char *name;
	const char *summary;   /* one line, for the command list */
	const char *synopsis;  /* "tarmac version [-o json]" */
	const char *description; /* a paragraph for 'tarmac help CMD' */
	const struct tm_optspec *opts; /* its own options, ended by a zero row; may be NULL */
	/* Called for each of its options; returns 0 or a TM_E* code with err set. */
	int (*set_opt)(void *cmdopts, int id, const char *value, struct tm_err *err);
	unsigned needs;        /* TM_NEED_* bits */
	/* Runs with cmdopts filled and the positional arguments; returns an exit code. */
	int (*run)(struct tm_cli *cli, void *cmdopts, int argc, char **argv);
	size_t opts_size;      /* bytes of the command's option struct (zeroed per run) */
};

extern const struct tm_cmd tm_commands[];
extern const size_t tm_ncommands;
extern const struct tm_optspec tm_global_opts[];

const struct tm_cmd *tm_cmd_find(const char *name);
/* Fills names (NULL-terminated, at most max-1 entries) with the command names. */
const char **tm_cmd_names(const char **names, size_t max);
/* Prints the "did you mean" lines for word among candidates (NULL-terminated). */
void tm_suggest(FILE *f, const char *word, const char *const *candidates, const char *prefix);

/* Help texts. */
void tm_help_main(struct tm_cli *cli, FILE *f);
void tm_help_cmd(const struct tm_cmd *cmd, FILE *f);

/* Prints v on the results stream as indented JSON with sorted keys (deterministic). */
int tm_cli_print_json(struct tm_cli *cli, const json_t *v);
/* Reports a failed module call: prints err (text or JSON) and returns the exit code. */
int tm_cli_fail(struct tm_cli *cli, struct tm_err *err);
/* Prints a usage error and returns TM_EXIT_USAGE. */
int tm_cli_usage(struct tm_cli *cli, const char *fmt, ...) TM_PRINTF(2, 3);

/* Resolves the kubeconfig from the global options and the environment, and opens a
 * client. Returns 0, or a TM_E* code with cli->err set (TM_ENOTFOUND: none exists). */
int tm_cli_connect(struct tm_cli *cli);

/* The render options (shared by every command that renders the stack). */
struct tm_render_args {
	const char *env;
	const char *kube_version;
	bool allow_unknown;
	const char *file_names[32];
	struct tm_buf file_text[32];
	struct tm_values_file files[32];
	size_t nfiles;
	struct tm_set_arg sets[256];
	struct tm_buf set_text[256];
	size_t nsets;
	const char *api_versions[64];
	size_t napi_versions;
};
/* Rows for a command's option table; ids 'e','f','s','S','F','u','k','a' are taken. */
#define TM_RENDER_OPTSPECS                                                                                   \
	{ 'e', "env", 0, TM_OPT_VALUE, "ENV", "environment overlay: dev, staging or prod (default dev)" },    \
	{ 'f', "values", 'f', TM_OPT_VALUE, "FILE", "a values file ('-': standard input); repeatable, later wins" }, \
	{ 's', "set", 0, TM_OPT_VALUE, "K=V", "set a value (a.b=c, a[0]=x, l={x,y}); repeatable" },           \
	{ 'S', "set-string", 0, TM_OPT_VALUE, "K=V", "set a value, always as text; repeatable" },             \
	{ 'F', "set-file", 0, TM_OPT_VALUE, "K=FILE", "set a value to a file's content; repeatable" },        \
	{ 'u', "allow-unknown-values", 0, TM_OPT_FLAG, NULL, "warn about unknown values keys, do not fail" }, \
	{ 'k', "kube-version", 0, TM_OPT_VALUE, "X.Y", "Kubernetes version to render for (default 1.30)" },   \
	{ 'a', "api-versions", 0, TM_OPT_VALUE, "G/V", "an extra API the cluster serves (a CRD's, e.g. monitoring.coreos.com/v1); repeatable" }
int tm_render_args_set(struct tm_render_args *a, int id, const char *value, struct tm_err *err);
/* Reads the files named by -f and --set-file and fills o for tm_render. */
int tm_render_args_load(struct tm_cli *cli, struct tm_render_args *a, struct tm_render_opts *o);
void tm_render_args_release(struct tm_render_args *a);

/* Commands and their option structs */
struct tm_version_opts {
	bool client; /* --client: never contact a cluster */
};
extern const struct tm_optspec tm_version_opts[];
int tm_version_set_opt(void *opts, int id, const char *value, struct tm_err *err);

int tm_cmd_help(struct tm_cli *cli, void *cmdopts, int argc, char **argv);
int tm_cmd_version(struct tm_cli *cli, void *cmdopts, int argc, char **argv);

/* The options of the environment's Secrets, for commands that deploy the stack
 * (struct tm_stack_secret_opts, tarmac/stack.h). */
#define TM_STACK_SECRETS_OPTSPECS                                                                             \
	{ 'd', "secrets-dir", 0, TM_OPT_VALUE, "DIR", "the environment's sealed secrets (default secrets/ENV)" },  \
	{ 'K', "key-file", 0, TM_OPT_VALUE, "PATH", "the environment's private key ('-': standard input; default $TARMAC_KEY_FILE, then where keygen puts it)" }, \
	{ 'Z', "sealed-secrets-cert", 0, TM_OPT_VALUE, "FILE", "deploy Bitnami SealedSecrets sealed to this controller certificate instead of Secrets" }, \
	{ 'N', "no-secrets", 0, TM_OPT_FLAG, NULL, "leave the environment's Secrets out (managed elsewhere)" }
int tm_cli_secret_opts_set(struct tm_stack_secret_opts *s, int id, const char *value, struct tm_err *err);

/* The DAG repository's options (struct tm_stack_dags_opts), for the commands that render
 * the stack with its DAGs pinned and for 'dags'. */
#define TM_DAGS_OPTSPECS                                                                                      \
	{ 'g', "dags-ref", 0, TM_OPT_VALUE, "REF", "this run's DAG ref (a branch, tag or full commit id) instead of the values'" }, \
	{ 'j', "dags-cache", 0, TM_OPT_VALUE, "DIR", "the DAG repository cache (default ~/.cache/tarmac/dags)" }
int tm_cli_dags_opts_set(struct tm_stack_dags_opts *d, int id, const char *value);

struct tm_render_cmd_opts {
	struct tm_render_args r;
	const char *output_dir; /* render --output-dir */
	struct tm_stack_secret_opts sec;
	bool show_secrets;      /* render --show-secrets */
};
extern const struct tm_optspec tm_render_cmd_optspecs[];
extern const struct tm_optspec tm_values_cmd_optspecs[];
int tm_render_cmd_set_opt(void *opts, int id, const char *value, struct tm_err *err);
int tm_cmd_render(struct tm_cli *cli, void *cmdopts, int argc, char **argv);
int tm_cmd_values(struct tm_cli *cli, void *cmdopts, int argc, char **argv);

struct tm_apply_cmd_opts {
	struct tm_render_args r;
	struct tm_stack_secret_opts sec;
	struct tm_stack_dags_opts dags;
	const char *manifests;  /* --manifests PATH|- */
	bool dry_run;           /* --dry-run=server */
	bool no_wait;
	bool force;             /* --force-conflicts */
	int64_t timeout_ms;     /* --timeout */
	int64_t phase_timeout_ms[TM_PHASE_COUNT];
	bool phase_set[TM_PHASE_COUNT]; /* set by PHASE=D, which a plain D does not override */
};
extern const struct tm_optspec tm_apply_cmd_optspecs[];
extern const struct tm_optspec tm_diff_cmd_optspecs[];
int tm_apply_cmd_set_opt(void *opts, int id, const char *value, struct tm_err *err);
int tm_cmd_apply(struct tm_cli *cli, void *cmdopts, int argc, char **argv);
int tm_cmd_diff(struct tm_cli *cli, void *cmdopts, int argc, char **argv);

/* dags fetch (cmd_dags.c) */
struct tm_dags_cmd_opts {
	struct tm_render_args r;
	struct tm_stack_dags_opts d;
	bool yes;                /* trust: no question asked */
};
extern const struct tm_optspec tm_dags_cmd_optspecs[];
int tm_dags_cmd_set_opt(void *opts, int id, const char *value, struct tm_err *err);
int tm_cmd_dags(struct tm_cli *cli, void *cmdopts, int argc, char **argv);
/* dags status (d resolved and fetched) and dags trust [HOST[:PORT]] (NULL: the repository's host). */
int tm_cli_dags_status(struct tm_cli *cli, const struct tm_stack_dags *d);
int tm_cli_dags_trust(struct tm_cli *cli, struct tm_dags_cmd_opts *o, const char *host);

/* Ctrl-C (signals.c). */
struct tm_signals {
	struct sigaction old_int, old_term;
};
/* Ctrl-C and SIGTERM raise the stop flag (waits and requests end, exit 130). */
void tm_cli_catch_signals(struct tm_signals *s);
void tm_cli_restore_signals(const struct tm_signals *s);
volatile sig_atomic_t *tm_cli_stop_flag(void);

/* Shared by the commands that talk to a cluster (cmd_apply.c). */
/* The stack module's context for this command: its cluster (if any), sink, stop flag. */
struct tm_stack_ctx tm_cli_stack_ctx(struct tm_cli *cli);
/* The client reports to the sink and stops on the stop flag. */
void tm_cli_set_kube_opts(struct tm_cli *cli);
/* The release a command works on and its namespace (tm_stack_release and
 * tm_stack_namespace of its flags and kubeconfig). */
const char *tm_cli_release_name(struct tm_cli *cli);
const char *tm_cli_release_ns(struct tm_cli *cli);
void tm_cli_fill_apply_opts(struct tm_cli *cli, const struct tm_apply_cmd_opts *o, struct tm_apply_opts *ao);
/* The stack rendered for this cluster: its version and served APIs (a CRD's API
 * counts as present when the cluster serves it) unless the options name them, its DAGs
 * pinned when dags is not NULL (what was pinned in *pinned; release it with
 * tm_stack_dags_release). The effective values too when values is not NULL (new
 * reference). */
int tm_cli_render_for_cluster(struct tm_cli *cli, struct tm_render_args *a, const struct tm_stack_dags_opts *dags,
			      struct tm_stack_dags *pinned, json_t **out, json_t **values);
/* "no retries" or "3 retries (2 after 5xx, ...)". */
/* diff's DAG part (src/cli/diff_dags.c): *out the change from the deployed revision's
 * commit to d's as JSON (NULL when d is not configured); printed as text by the other. */
int tm_cli_diff_dags(json_t **out, struct tm_cli *cli, const struct tm_stack_dags *d, struct tm_err *err);
void tm_cli_print_dags_change(FILE *f, const json_t *change);
void tm_cli_summary_retries(char *buf, size_t n, const struct tm_kube_stats *st);

/* up, install, upgrade, rollback, history, status, uninstall (cmd_release.c) */
struct tm_release_cmd_opts {
	struct tm_apply_cmd_opts a;
	bool no_rollback;
	bool wait_for_lock;
	bool take_ownership;
	bool allow_schema_downgrade;
	bool purge;
	int history_max;        /* -1: not given */
	bool history_max_set;
	int64_t lock_ttl_ms;
};
extern const struct tm_optspec tm_deploy_cmd_optspecs[];
extern const struct tm_optspec tm_rollback_cmd_optspecs[];
extern const struct tm_optspec tm_uninstall_cmd_optspecs[];
extern const struct tm_optspec tm_history_cmd_optspecs[];
int tm_release_cmd_set_opt(void *opts, int id, const char *value, struct tm_err *err);
int tm_cmd_up(struct tm_cli *cli, void *cmdopts, int argc, char **argv);
int tm_cmd_install(struct tm_cli *cli, void *cmdopts, int argc, char **argv);
int tm_cmd_upgrade(struct tm_cli *cli, void *cmdopts, int argc, char **argv);
int tm_cmd_rollback(struct tm_cli *cli, void *cmdopts, int argc, char **argv);
int tm_cmd_history(struct tm_cli *cli, void *cmdopts, int argc, char **argv);
int tm_cmd_status(struct tm_cli *cli, void *cmdopts, int argc, char **argv);
int tm_cmd_uninstall(struct tm_cli *cli, void *cmdopts, int argc, char **argv);

struct tm_secrets_cmd_opts {
	struct tm_render_args r;     /* --env, and values for kubeseal and external */
	const char *dir;             /* --dir: the environment's secrets directory */
	const char *out;             /* keygen --out */
	const char *key_file;        /* --key-file */
	const char *known_hosts;     /* init --known-hosts */
	const char *https_token;     /* init --https-token */
	bool force[TM_SECRET_COUNT]; /* init --force NAME */
	bool reveal, finish, rollback;
	bool new_key;                /* recover: the private key is lost */
	const char *cert;            /* kubeseal --cert */
	const char *secret_file;     /* kubeseal --secret-file */
	enum tm_kubeseal_scope scope;
};
extern const struct tm_optspec tm_secrets_cmd_optspecs[];
int tm_secrets_cmd_set_opt(void *opts, int id, const char *value, struct tm_err *err);
int tm_cmd_secrets(struct tm_cli *cli, void *cmdopts, int argc, char **argv);
/* secrets recover (cmd_secrets_recover.c): returns 0 or a TM_E* code with cli->err set. */
int tm_cli_secrets_recover(struct tm_cli *cli, struct tm_secrets_cmd_opts *o, const char *env, const char *dir);
/* The release the values of o describe, where up puts it (connects to the cluster; v
 * holds the values t borrows). */
int tm_cli_secrets_target(struct tm_cli *cli, struct tm_secrets_cmd_opts *o, struct tm_values *v,
			  struct tm_secret_target *t);
/* rotate fernet-key --finish (cmd_secrets_finish.c): 0 when the staged "new,old" is what
 * the release has deployed (or nothing is deployed), else TM_ECONFLICT naming the 'up'
 * to run first. Reads the cluster; changes nothing. */
int tm_cli_fernet_finish_check(struct tm_cli *cli, struct tm_secrets_cmd_opts *o, const char *env, const char *dir,
			       const struct tm_secret_key *key);

#endif
