/* The tarmac command's tables: the global options and one row per command. A row
 * declares what its command needs (cluster, secrets, lock), so the dispatcher in main.c
 * does that setup once. */
#include <string.h>

#include "cli.h"

const struct tm_optspec tm_global_opts[] = {
	{ 'k', "kubeconfig", 0, TM_OPT_VALUE, "PATH", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)" },
	{ 'c', "context", 0, TM_OPT_VALUE, "NAME", "kubeconfig context to use (default: its current-context)" },
	{ 'n', "namespace", 'n', TM_OPT_VALUE, "NS", "namespace of the release (default: the context's, else 'airflow')" },
	{ 'r', "release", 0, TM_OPT_VALUE, "NAME", "release name (default: airflow)" },
	{ 'o', "output", 'o', TM_OPT_VALUE, "FORMAT", "output format: text or json" },
	{ 'v', "verbose", 'v', TM_OPT_COUNT, NULL, "more detail; repeat for more (-vv)" },
	{ 'C', "no-color", 0, TM_OPT_FLAG, NULL, "never color the output (NO_COLOR is honoured too)" },
	{ 'h', "help", 'h', TM_OPT_FLAG, NULL, "show help" },
	{ 0 }
};

const struct tm_cmd tm_commands[] = {
	{
		.name = "help",
		.summary = "show help for tarmac or for one command",
		.synopsis = "tarmac help [COMMAND]",
		.description = "Without a command, lists the commands and global options. With one, shows "
			       "its synopsis, description and options (the same as 'tarmac COMMAND --help').",
		.run = tm_cmd_help,
	},
	{
		.name = "apply",
		.summary = "apply the stack (or manifests) phase by phase, waiting for each to be ready",
		.synopsis = "tarmac apply [--env ENV] [-f FILE]... [--set K=V]... [--manifests PATH] [--dry-run=server] "
			    "[--no-wait] [--timeout D] [--phase-timeout [PHASE=]D] [--force-conflicts]",
		.description = "Renders the stack for the cluster (its version and APIs from discovery) and "
			       "applies it with server-side apply (field manager 'tarmac') in phases: cluster, "
			       "crds, rbac, config, storage, services, database, middleware, migrate, workloads, "
			       "policy. The objects of a phase are applied at once; then tarmac watches them "
			       "until each is ready and names the cause from their pods when one is not "
			       "(ImagePullBackOff, CrashLoopBackOff, Unschedulable, a failed Job). Jobs whose "
			       "spec changed are deleted and created again. --manifests applies given objects "
			       "the same way. Requests are retried with backoff on 429, 5xx and dropped "
			       "connections. Ctrl-C stops cleanly and says where. Where a release is installed "
			       "(--release, default airflow, in the namespace) apply refuses, as do given "
			       "manifests naming its objects: it would change them outside the release's "
			       "history and take them out of its inventory; use 'tarmac up'. Exit 4 when a "
			       "wait ran out of time, 5 when the cluster is unreachable or refuses the "
			       "credentials.",
		.opts = tm_apply_cmd_optspecs,
		.set_opt = tm_apply_cmd_set_opt,
		.needs = TM_NEED_CLUSTER,
		.opts_size = sizeof(struct tm_apply_cmd_opts),
		.run = tm_cmd_apply,
	},
	{
		.name = "diff",
		.summary = "show what apply would change, object by object",
		.synopsis = "tarmac diff [--env ENV] [-f FILE]... [--set K=V]... [--manifests PATH] [-o json]",
		.description = "Asks the API server for a dry run of applying every object and prints a "
			       "unified diff of each against the live object, without managed fields and "
			       "status; Secret values are never shown, only which keys change. Where a release "
			       "is installed (--release, default airflow, in the namespace), the stack is "
			       "compared as 'tarmac up' would apply it, with the release's labels, so nothing "
			       "shows right after 'up'; given manifests are compared as they are. Ends with a "
			       "summary. Exit 0 when nothing would change, 3 when something would.",
		.opts = tm_diff_cmd_optspecs,
		.set_opt = tm_apply_cmd_set_opt,
		.needs = TM_NEED_CLUSTER,
		.opts_size = sizeof(struct tm_apply_cmd_opts),
		.run = tm_cmd_diff,
	},
	{
		.name = "up",
		.summary = "install the release, or upgrade it: the one command for bootstrap and CI",
		.synopsis = "tarmac up [--env ENV] [-f FILE]... [--set K=V]... [--dry-run=server] [--no-rollback] "
			    "[--wait-for-lock] [--timeout D] [--history-max N]",
		.description = "Renders the stack for the cluster and compares it with the deployed revision: "
			       "when nothing changed, and every object still carries the release's label and "
			       "kind in its inventory, it says so and records nothing (a few requests; a "
			       "lost label or kind is put back by applying again as a new revision). "
			       "Otherwise it takes the release's lock (a Lease renewed while it runs, free by "
			       "itself a TTL after a killed run), settles what a stopped run left (pending "
			       "revisions become failed), records revision N as pending, applies phase by "
			       "phase with waits, deletes what the release no longer has in reverse phase "
			       "order (only objects carrying its ApplySet label; PVCs and kept Secrets stay), "
			       "and marks N deployed. When applying or waiting fails it marks N failed and rolls "
			       "back to the last deployed revision as N+1, unless --no-rollback. Refuses values "
			       "naming an Airflow older than the DB schema unless --allow-schema-downgrade. "
			       "Exit 6 when another run holds the lock.",
		.opts = tm_deploy_cmd_optspecs,
		.set_opt = tm_release_cmd_set_opt,
		.needs = TM_NEED_CLUSTER,
		.opts_size = sizeof(struct tm_release_cmd_opts),
		.run = tm_cmd_up,
	},
	{
		.name = "install",
		.summary = "install the release (fails when it exists)",
		.synopsis = "tarmac install [--env ENV] [-f FILE]... [--set K=V]... [--dry-run=server] [--wait-for-lock]",
		.description = "As 'tarmac up', for a release that does not exist yet (or was uninstalled). "
			       "Objects of the stack that exist already and were not made by this release are "
			       "refused unless --take-ownership; a namespace that exists is left as it is.",
		.opts = tm_deploy_cmd_optspecs,
		.set_opt = tm_release_cmd_set_opt,
		.needs = TM_NEED_CLUSTER,
		.opts_size = sizeof(struct tm_release_cmd_opts),
		.run = tm_cmd_install,
	},
	{
		.name = "upgrade",
		.summary = "upgrade the release to a new revision (fails when it does not exist)",
		.synopsis = "tarmac upgrade [--env ENV] [-f FILE]... [--set K=V]... [--dry-run=server] [--no-rollback]",
		.description = "As 'tarmac up', for an installed release, and always records a new revision, "
			       "even when nothing changed (which also repairs objects changed by hand). "
			       "Atomic: a failure rolls back to the last deployed revision unless --no-rollback.",
		.opts = tm_deploy_cmd_optspecs,
		.set_opt = tm_release_cmd_set_opt,
		.needs = TM_NEED_CLUSTER,
		.opts_size = sizeof(struct tm_release_cmd_opts),
		.run = tm_cmd_upgrade,
	},
	{
		.name = "rollback",
		.summary = "apply an earlier revision's objects again as a new revision",
		.synopsis = "tarmac rollback [N] [--allow-schema-downgrade] [--wait-for-lock] [--timeout D]",
		.description = "Applies revision N's recorded objects (default: the newest revision deployed before "
			       "the newest one, so after a failed upgrade the one deployed now) as a new revision "
			       "described 'rollback to N', waits for them and prunes what N did not have. The "
			       "revision it leaves becomes rolled-back; a failed one stays failed. Secrets are "
			       "kept as they are (records never hold secret data). Refuses a revision whose "
			       "Airflow is older than the DB schema, since it cannot run on a migrated "
			       "database, unless --allow-schema-downgrade.",
		.opts = tm_rollback_cmd_optspecs,
		.set_opt = tm_release_cmd_set_opt,
		.needs = TM_NEED_CLUSTER,
		.opts_size = sizeof(struct tm_release_cmd_opts),
		.run = tm_cmd_rollback,
	},
	{
		.name = "history",
		.summary = "list the release's revisions with their status",
		.synopsis = "tarmac history [-o json]",
		.description = "Lists every recorded revision, oldest first: number, time, status (pending, "
			       "deployed, superseded, failed, rolled-back, uninstalled), Airflow version and "
			       "description. Reads metadata only.",
		.opts = tm_history_cmd_optspecs,
		.set_opt = tm_release_cmd_set_opt,
		.needs = TM_NEED_CLUSTER,
		.opts_size = sizeof(struct tm_release_cmd_opts),
		.run = tm_cmd_history,
	},
	{
		.name = "status",
		.summary = "show the deployed revision, each component's readiness and the last error",
		.synopsis = "tarmac status [-o json]",
		.description = "Shows the release's current revision, its status, Airflow version and the DB schema "
			       "(the newest a migration reached: a failed upgrade's may be past the revision), "
			       "who holds the lock, each workload's readiness as apply judges it (with the "
			       "reason when it is not ready) and the error of the newest failed revision, until "
			       "a later deploy or uninstall (a rollback away from it does not clear it).",
		.opts = tm_history_cmd_optspecs,
		.set_opt = tm_release_cmd_set_opt,
		.needs = TM_NEED_CLUSTER,
		.opts_size = sizeof(struct tm_release_cmd_opts),
		.run = tm_cmd_status,
	},
	{
		.name = "uninstall",
		.summary = "delete the release's objects in reverse phase order",
		.synopsis = "tarmac uninstall [--purge] [--wait-for-lock] [--timeout D]",
		.description = "Deletes every object of the release (found by its ApplySet label, nothing else) "
			       "in reverse phase order, waiting for each phase to go. PVCs, Secrets marked "
			       "'tarmac.io/resource-policy: keep' and the namespace stay, and the last revision is "
			       "marked uninstalled, so 'tarmac up' can install it again on the same data. "
			       "--purge deletes those too, with the PVCs of the release's StatefulSets, every "
			       "revision record and the inventory.",
		.opts = tm_uninstall_cmd_optspecs,
		.set_opt = tm_release_cmd_set_opt,
		.needs = TM_NEED_CLUSTER,
		.opts_size = sizeof(struct tm_release_cmd_opts),
		.run = tm_cmd_uninstall,
	},
	{
		.name = "render",
		.summary = "print the Kubernetes objects tarmac would deploy",
		.synopsis = "tarmac render [--env ENV] [-f FILE]... [--set K=V]... [--output-dir DIR] [-o json]",
		.description = "Renders the embedded Airflow stack with the environment's overlay, the values "
			       "files and --set options (later ones win), and prints the objects as YAML in "
			       "bundle order, or writes one file per object under --output-dir (each written "
			       "atomically). The same input always gives byte-identical output. Touches no cluster.",
		.opts = tm_render_cmd_optspecs,
		.set_opt = tm_render_cmd_set_opt,
		.needs = TM_NEED_SECRETS,
		.opts_size = sizeof(struct tm_render_cmd_opts),
		.run = tm_cmd_render,
	},
	{
		.name = "values",
		.summary = "print the effective values and where each one was set",
		.synopsis = "tarmac values [--env ENV] [-f FILE]... [--set K=V]... [-o json]",
		.description = "Merges the bundle's defaults, the environment's overlay, the values files and "
			       "--set options as render does, checks them against the schema, and prints every "
			       "value with the file:line:col or flag that set it.",
		.opts = tm_values_cmd_optspecs,
		.set_opt = tm_render_cmd_set_opt,
		.opts_size = sizeof(struct tm_render_cmd_opts),
		.run = tm_cmd_values,
	},
	{
		.name = "dags",
		.summary = "fetch, check and show the DAG repository; trust its ssh host key",
		.synopsis = "tarmac dags fetch|status|trust [HOST[:PORT]] [--env ENV] [-f FILE]... [--set K=V]... "
			    "[--dags-ref REF] [--dags-cache DIR] [--yes] [-o json]",
		.description = "'fetch' brings every branch and tag of the repository that dags.gitSync.repo names "
			       "into a bare cache under ~/.cache/tarmac/dags ($XDG_CACHE_HOME, or --dags-cache), "
			       "keyed by its URL (only what is new is transferred; runs on the same repository "
			       "wait for each other), resolves the ref (--dags-ref, else dags.gitSync.rev, branch, "
			       "then ref; an abbreviated commit id, or a name that is a branch and a tag of "
			       "different commits, is refused) and checks the commit as 'up' does before "
			       "deploying: dags.gitSync.subPath holds a .py file or an .airflowignore, within "
			       "dags.gitSync.verify.maxFiles and maxBytes. Useful before going offline: a later "
			       "run finds the cache warm. 'status' also shows the commit the release runs, how "
			       "many files differ from the head, and the commit of every revision. 'trust' reads "
			       "the host key an ssh server presents (HOST[:PORT], else the repository's host), "
			       "prints its SHA256 fingerprint, and after you confirm (or with --yes) adds it to "
			       "secrets/ENV/known_hosts. ssh repositories are read with the environment's deploy "
			       "key (git-ssh-key, unsealed in memory only) and their host key must be in that "
			       "known_hosts: an unknown or changed key is refused, naming its fingerprint as "
			       "ssh-keygen -l prints it.",
		.opts = tm_dags_cmd_optspecs,
		.set_opt = tm_dags_cmd_set_opt,
		.needs = TM_NEED_SECRETS,
		.opts_size = sizeof(struct tm_dags_cmd_opts),
		.run = tm_cmd_dags,
	},
	{
		.name = "secrets",
		.summary = "make, seal, list, show and rotate the environment's secrets",
		.synopsis = "tarmac secrets keygen|init|list|show NAME|rotate NAME|kubeseal|external|recover --env ENV [--dir DIR] "
			    "[--key-file PATH] [...]",
		.description = "Secrets are generated once, sealed to the environment's public key in "
			       "secrets/<env>/ (commit it) and never changed unless asked. 'keygen' makes the "
			       "environment's X25519 key pair: recipient.pub in the secrets directory, the private "
			       "key 0600 outside the repository (--out). 'init' generates every missing secret "
			       "(fernet-key, api-secret-key, jwt-secret, webserver-secret-key, db-password, "
			       "redis-password, admin-password, git-ssh-key; --known-hosts FILE stores the git "
			       "server's host keys); --force NAME regenerates one and says what breaks. 'list' shows "
			       "name, creation time and fingerprint, without the private key. 'show NAME --reveal' "
			       "prints one value. 'rotate fernet' stages a new Fernet key in front of the old one "
			       "and 'tarmac up' deploys both and runs the Job '<release>-rotate-fernet-key' (airflow "
			       "rotate-fernet-key re-encrypts with the new key); '--finish' then drops the old one, "
			       "and refuses (exit 1, naming the 'up' to run) while the release's Secret or deployed "
			       "revision is not on both keys yet (it reads the cluster and values like 'recover'); "
			       "other secrets get a new value at once, the old "
			       "kept for '--rollback'. 'kubeseal --cert FILE' prints the environment's Kubernetes "
			       "Secrets as Bitnami SealedSecrets (or seals --secret-file). 'external' lists the "
			       "Secrets the values say exist already. 'recover' seals the live values of an installed "
			       "release back into the secrets directory after a sealed file was deleted or the "
			       "private key was lost (--new-key); 'up' refuses to replace a live secret otherwise. "
			       "The private key comes from --key-file ('-': "
			       "standard input), TARMAC_KEY_FILE, or keygen's default path. No file of the secrets "
			       "directory is read through a symlink. Ctrl-C finishes or removes what is being "
			       "written (a key pair is written whole or not at all) and exits 130. See docs/secrets.md.",
		.opts = tm_secrets_cmd_optspecs,
		.set_opt = tm_secrets_cmd_set_opt,
		.needs = TM_NEED_SECRETS,
		.opts_size = sizeof(struct tm_secrets_cmd_opts),
		.run = tm_cmd_secrets,
	},
	{
		.name = "version",
		.summary = "print tarmac's version, build, linked libraries and the cluster's version",
		.synopsis = "tarmac version [--client] [-o json]",
		.description = "Prints tarmac's version and git commit, the target it was built for and the "
			       "versions of the libraries linked into it, read from the libraries themselves "
			       "at run time (so a static binary reports what it really carries). When a "
			       "kubeconfig is found (--kubeconfig, KUBECONFIG, ~/.kube/config or in-cluster), "
			       "it also asks the API server for its version, like 'kubectl version'; an "
			       "unreachable cluster then exits with 5. --client never contacts a cluster.",
		.opts = tm_version_opts,
		.set_opt = tm_version_set_opt,
		.opts_size = sizeof(struct tm_version_opts),
		.run = tm_cmd_version,
	},
};
const size_t tm_ncommands = TM_ARRAY_LEN(tm_commands);

const struct tm_cmd *tm_cmd_find(const char *name)
{
	for (size_t i = 0; i < tm_ncommands; i++)
		if (strcmp(tm_commands[i].name, name) == 0)
			return &tm_commands[i];
	return NULL;
}
