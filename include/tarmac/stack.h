/* The stack a command deploys, assembled for one cluster: where the release lives (the
 * defaults and the namespace rule, decided here only), the bundle rendered with the
 * cluster's version and APIs, the environment's Secrets joined to it (made on first use,
 * guarded against replacing live ones, sealed for a controller), and what the task pod
 * templates name checked to exist. Used by render, apply, diff, up, install, upgrade
 * and the secrets commands; it neither prints nor exits: it reports through the
 * context's report function. */
#ifndef TARMAC_STACK_H
#define TARMAC_STACK_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>

#include "tarmac/kube.h"
#include "tarmac/render.h"
#include "tarmac/secret.h"
#include "tarmac/util.h"
#include "tarmac/vcs.h"

/* What the stack works with. */
struct tm_stack_ctx {
	struct tm_kube *kube;              /* the cluster, or NULL (nothing is asked of one) */
	tm_report_fn report;               /* warnings and progress; may be NULL */
	void *report_ctx;
	const volatile sig_atomic_t *stop; /* Ctrl-C: key generation stops; may be NULL */
};

/* ------------------------------------------------------------------ where */

/* The release: the flag, else TM_DEFAULT_RELEASE. */
const char *tm_stack_release(const char *flag);
/* The release's namespace: the flag, else the kubeconfig context's namespace unless it
 * is "default" (NULL: none read), else TM_DEFAULT_NAMESPACE. */
const char *tm_stack_namespace(const char *flag, const char *context_ns);
/* The namespace of an object given as it is (--manifests) that names none: the flag,
 * else the context's, else "default" (kubectl's rule for the same files). */
const char *tm_stack_manifest_namespace(const char *flag, const char *context_ns);
/* The environment: the flag, else TM_DEFAULT_ENV. */
const char *tm_stack_env(const char *flag);
/* The environment's sealed secrets: the flag (TM_EINVALID when empty), else
 * secrets/<env>, into out. */
int tm_stack_secrets_dir(char *out, size_t n, const char *flag, const char *env, struct tm_err *err);

/* ------------------------------------------------------------------ render */

/* Renders the bundle with ro for the cluster: its version (unless ro names one) and the
 * APIs it serves besides those ro names, in the release's namespace ns. Without a
 * cluster, ro as it is (no version: TM_DEFAULT_KUBE_VERSION). *objects and (when values
 * is not NULL) the effective values: new references. */
int tm_stack_render(const struct tm_stack_ctx *s, const struct tm_render_opts *ro, const char *ns, json_t **objects,
		    json_t **values, struct tm_err *err);

/* Objects given as they are: a file, "-" (standard input) or a directory's .yaml, .yml
 * and .json files in name order; a List's items count as objects. */
int tm_stack_load_manifests(const char *path, json_t **out, struct tm_err *err);

/* ------------------------------------------------------------------ secrets */

/* The environment's Secrets as the command line chose them. */
struct tm_stack_secret_opts {
	const char *dir;      /* --secrets-dir (default secrets/<env>) */
	const char *key_file; /* --key-file */
	const char *cert;     /* --sealed-secrets-cert */
	bool none;            /* --no-secrets */
};
/* What tm_stack_secrets does besides reading: MAKE generates what is missing (the key
 * pair, then each secret) unless the release is installed; GUARD (with a cluster)
 * refuses to replace a live secret except by a rotation. */
enum { TM_STACK_MAKE = 1u << 0, TM_STACK_GUARD = 1u << 1 };
/* Adds the environment's Secrets (unsealed in memory; generated first when flags say so)
 * to objects, annotates their consumers, adds a staged Fernet rotation's Job, and (with
 * a cluster) checks the Secrets the values name exist. *secrets_out: the Secret objects,
 * to wipe with tm_secret_objects_free once the run is done (NULL when there are none). */
int tm_stack_secrets(const struct tm_stack_ctx *s, const struct tm_stack_secret_opts *o, const char *env,
		     const char *release, const char *ns, json_t *values, json_t *objects, unsigned flags,
		     json_t **secrets_out, struct tm_err *err);

/* The stack's Secrets as the cluster holds them, into *out (name -> object; absent ones
 * left out): the release's own in one list, then one GET for each place the list did
 * not hold. Free with tm_stack_live_free, which wipes their data. */
int tm_stack_live_secrets(const struct tm_stack_ctx *s, json_t **out, const struct tm_secret_place *p, size_t n,
			  const char *ns, const char *release, struct tm_err *err);
void tm_stack_live_free(json_t *live);

/* ------------------------------------------------------------------ the DAG repository */

/* Where the DAGs come from, as the command line adds to the values. */
struct tm_stack_dags_opts {
	const char *cache_dir;                /* --dags-cache (NULL: the user's cache directory) */
	const char *ref;                      /* --dags-ref: this run's ref instead of the values' */
	struct tm_stack_secret_opts secrets;  /* where the deploy key and known_hosts are */
};
struct tm_stack_dags {
	bool configured;                      /* dags.gitSync.enabled with a repo */
	bool follow;                          /* dags.gitSync.follow: git-sync follows the ref */
	char repo[1024];
	char ref[256];                        /* what was resolved */
	char commit[TM_VCS_ID_LEN + 1];
	char cache[4096];                     /* the cache it was fetched into */
	const char *cache_dir;                /* --dags-cache (borrowed from the options) */
	size_t files, bytes;                  /* what subPath holds in the commit */
	bool verified;                        /* dags.gitSync.verify.allowedSigners: signer says who signed */
	struct tm_vcs_signer signer;
	struct tm_set_arg *sets;              /* tm_stack_dags_pin's render sets (owned) */
	char pin[80];                         /* "dags.gitSync.commit=<id>" */
};
/* With the DAG repository configured: fetches it into the cache (the deploy key and
 * known_hosts of env for ssh, unsealed in memory) and resolves the ref (--dags-ref, else
 * dags.gitSync.rev, branch, ref) to its commit, which must then be signed by a key
 * dags.gitSync.verify.allowedSigners allows, when set (tm_vcs_verify_commit; the file
 * is read relative to the current directory). out->configured false otherwise, and
 * nothing is fetched (TM_EINVALID when o->ref names a ref all the same). */
int tm_stack_dags_resolve(const struct tm_stack_ctx *s, const struct tm_stack_dags_opts *o, const char *env,
			  const json_t *values, struct tm_stack_dags *out, struct tm_err *err);

/* The render options with the DAGs pinned: the values of ro decide whether the DAG
 * repository is configured; if so it is fetched and its ref resolved (as
 * tm_stack_dags_resolve), and unless dags.gitSync.follow *pinned is ro with a last
 * --set dags.gitSync.commit=<commit> (git-sync then checks out exactly that commit).
 * Otherwise *pinned is ro. Release d with tm_stack_dags_release after rendering. */
int tm_stack_dags_pin(const struct tm_stack_ctx *s, const struct tm_stack_dags_opts *o, const char *env,
		      const struct tm_render_opts *ro, struct tm_render_opts *pinned, struct tm_stack_dags *d,
		      struct tm_err *err);
void tm_stack_dags_release(struct tm_stack_dags *d);
/* The files that changed from commit from to d's commit, from d's cache (nothing is
 * fetched: tm_stack_dags_resolve brought both). TM_ENOTFOUND when from is not there
 * (a commit no branch or tag reaches any more). */
int tm_stack_dags_changes(const struct tm_stack_dags *d, const char *from, struct tm_vcs_changes *out,
			  struct tm_err *err);
/* A struct tm_release_opts dag_note function (dags: a struct tm_stack_dags): "3 files
 * changed" from from to to, when to is the resolved commit; empty when unknown. */
void tm_stack_dags_note(void *dags, const char *from, const char *to, char *out, size_t n);

/* ------------------------------------------------------------------ checks */

/* With a cluster: what the task pod templates name and objects lack must exist in ns;
 * TM_ENOTFOUND naming each, or a warning only on a dry run. */
int tm_stack_task_refs(const struct tm_stack_ctx *s, const json_t *objects, const char *ns, bool dry_run,
		       struct tm_err *err);

#endif
