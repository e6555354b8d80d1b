/* kubeconfig exec credential plugins (client-go's protocol): run the plugin with an
 * argv and never a shell, hand it KUBERNETES_EXEC_INFO, read an ExecCredential back
 * from its stdout under a deadline and a size cap. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tarmac/doc.h"
#include "tarmac/kube.h"

#define EXEC_OUT_MAX (1u << 20) /* a plugin's stdout: tokens and PEM, never this big */
#define EXEC_INFO_ENV "KUBERNETES_EXEC_INFO"
#define EXEC_SLICE_MS 50        /* how often a wait looks at the cancel flag */
#define EXEC_KILL_GRACE_MS 300  /* between SIGTERM and SIGKILL to the plugin's group */
#define EXEC_LINE_MAX 300       /* a stderr line is cut there */
#define EXEC_LINES_MAX 20       /* stderr lines reported; the rest is read and dropped */

extern char **environ;

void tm_kube_cred_init(struct tm_kube_cred *c)
{
	memset(c, 0, sizeof(*c));
	tm_buf_init(&c->cert_pem, "exec plugin client certificate", EXEC_OUT_MAX);
	tm_buf_init(&c->key_pem, "exec plugin client key", EXEC_OUT_MAX);
}

void tm_kube_cred_release(struct tm_kube_cred *c)
{
	if (c->token)
		tm_wipe(c->token, strlen(c->token));
	free(c->token);
	tm_buf_release(&c->cert_pem);
	tm_buf_wipe(&c->key_pem);
	tm_kube_cred_init(c);
}

/* ------------------------------------------------------------------ the plugin's input */

/* "KUBERNETES_EXEC_INFO=<ExecCredential>" as client-go encodes it: kind, apiVersion,
 * spec.interactive always, spec.cluster only when the kubeconfig asks for it. */
static int exec_info(char **out, const struct tm_kube_config *cfg, bool interactive, struct tm_err *err)
{
	json_t *cred = NULL, *spec, *cluster = NULL;
	char *b64 = NULL, *text = NULL;
	int rc = 0;

	*out = NULL;
	cred = json_pack("{s:s, s:s, s:{s:b}}", "kind", "ExecCredential", "apiVersion", cfg->exec->api_version,
			 "spec", "interactive", interactive);
	if (!cred)
		goto oom;
	if (cfg->exec->provide_cluster_info) {
		spec = json_object_get(cred, "spec"); /* borrowed */
		if (!(cluster = json_pack("{s:s}", "server", cfg->server ? cfg->server : "")))
			goto oom;
		if (cfg->ca_pem.len) {
			size_t n = sodium_base64_encoded_len(cfg->ca_pem.len, sodium_base64_VARIANT_ORIGINAL);
			if (!(b64 = malloc(n)))
				goto oom;
			sodium_bin2base64(b64, n, (const unsigned char *)cfg->ca_pem.data, cfg->ca_pem.len,
					  sodium_base64_VARIANT_ORIGINAL);
			if (json_object_set_new(cluster, "certificate-authority-data", json_string(b64)) < 0)
				goto oom;
		}
		if (cfg->tls_server_name &&
		    json_object_set_new(cluster, "tls-server-name", json_string(cfg->tls_server_name)) < 0)
			goto oom;
		if (cfg->insecure && json_object_set_new(cluster, "insecure-skip-tls-verify", json_true()) < 0)
			goto oom;
		if (cfg->proxy_url && json_object_set_new(cluster, "proxy-url", json_string(cfg->proxy_url)) < 0)
			goto oom;
		rc = json_object_set_new(spec, "cluster", cluster); /* steals cluster, even on failure */
		cluster = NULL;
		if (rc < 0)
			goto oom;
	}
	if (!(text = json_dumps(cred, JSON_COMPACT)) || asprintf(out, EXEC_INFO_ENV "=%s", text) < 0) {
		*out = NULL;
		goto oom;
	}
	rc = 0;
	goto out;
oom:
	rc = tm_err_set(err, TM_ERROR, "out of memory");
out:
	json_decref(cluster);
	json_decref(cred);
	free(b64);
	free(text);
	return rc;
}

/* Length of the "NAME" part of "NAME=value". */
static size_t env_name_len(const char *e)
{
	const char *eq = strchr(e, '=');
	return eq ? (size_t)(eq - e) : strlen(e);
}

static bool env_same_name(const char *a, const char *b)
{
	size_t n = env_name_len(a);
	return n == env_name_len(b) && memcmp(a, b, n) == 0;
}

/* The plugin's environment: ours, then exec.env, then KUBERNETES_EXEC_INFO, a later
 * entry replacing an earlier one of the same name (client-go appends and Go keeps the
 * last). *out borrows every string; only the array is the caller's to free. */
static int build_env(char ***out, char *const *extra, char *info, struct tm_err *err)
{
	size_t n = 0, k = 0;
	char **v;

	for (char **e = environ; e && *e; e++)
		n++;
	for (char *const *e = extra; *e; e++)
		n++;
	if (!(v = calloc(n + 2, sizeof(*v))))
		return tm_err_set(err, TM_ERROR, "out of memory");
	for (char **e = environ; e && *e; e++)
		v[k++] = *e;
	for (char *const *e = extra; *e; e++)
		v[k++] = *e;
	v[k++] = info;
	/* drop every entry a later one overrides; quadratic, but environments are small */
	n = 0;
	for (size_t i = 0; i < k; i++) {
		bool later = false;
		for (size_t j = i + 1; j < k && !later; j++)
			later = env_same_name(v[i], v[j]);
		if (!later)
			v[n++] = v[i];
	}
	v[n] = NULL;
	*out = v;
	return 0;
}

/* ------------------------------------------------------------------ running it */

struct run {
	const char *command;
	pid_t pid;
	pid_t pgid;  /* the group to end: the plugin's pid, kept after it is reaped */
	int fd;      /* read end of the plugin's stdout, or -1 */
	bool group;  /* the plugin leads its own process group */
	const volatile sig_atomic_t *cancel; /* Ctrl-C or SIGTERM: stop waiting for it */
	char *out;   /* stdout; holds the credential: wiped */
	size_t len;
	int efd;     /* read end of its stderr (not interactive), or -1 */
	char line[EXEC_LINE_MAX]; /* the stderr line being read, then the last one */
	size_t line_len;
	unsigned lines; /* stderr lines reported */
	const struct tm_kube_exec_opts *o;
};

/* The child's setup: stdout (and stderr when not interactive) into the pipes, stdin
 * from /dev/null when not interactive, signals a parent may ignore or block reset (an
 * exec'd child would inherit them), and its own process group when not interactive: a
 * timeout then kills what it started too (a shell script's children hold the pipe open);
 * an interactive one must stay in the terminal's foreground group to read a password.
 * Returns 0 or an errno. */
static int spawn_setup(posix_spawn_file_actions_t *fa, posix_spawnattr_t *at, const int *p, const int *ep,
		       bool interactive)
{
	static const int reset[] = { SIGPIPE, SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGCHLD,
				     SIGTSTP, SIGTTIN, SIGTTOU, SIGALRM, SIGUSR1, SIGUSR2 };
	short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | (interactive ? 0 : POSIX_SPAWN_SETPGROUP);
	sigset_t none, dfl;
	int e;

	sigemptyset(&none);
	sigemptyset(&dfl);
	for (size_t i = 0; i < TM_ARRAY_LEN(reset); i++)
		sigaddset(&dfl, reset[i]);
	if ((e = posix_spawn_file_actions_adddup2(fa, p[1], STDOUT_FILENO)) != 0 ||
	    (!interactive && (e = posix_spawn_file_actions_adddup2(fa, ep[1], STDERR_FILENO)) != 0) ||
	    (!interactive && (e = posix_spawn_file_actions_addopen(fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0)) != 0) ||
	    (e = posix_spawnattr_setflags(at, flags)) != 0 || (e = posix_spawnattr_setsigmask(at, &none)) != 0 ||
	    (e = posix_spawnattr_setsigdefault(at, &dfl)) != 0 || (e = posix_spawnattr_setpgroup(at, 0)) != 0)
		return e;
	return 0;
}

/* Starts the plugin (argv: its command and args) with its output on pipes of ours. */
static int spawn_plugin(struct run *r, const struct tm_kube_exec *x, char **envp, bool interactive,
			struct tm_err *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	char **argv = NULL;
	size_t nargs = 0;
	int p[2] = { -1, -1 }, ep[2] = { -1, -1 }, rc = 0, e;
	bool fa_ok = false, at_ok = false;

	for (char **a = x->args; *a; a++)
		nargs++;
	if (!(argv = calloc(nargs + 2, sizeof(*argv)))) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	argv[0] = x->command;
	memcpy(argv + 1, x->args, nargs * sizeof(*argv));
	/* stderr comes through us when not interactive, so it is reported escaped */
	if (pipe2(p, O_CLOEXEC) < 0 || (!interactive && pipe2(ep, O_CLOEXEC) < 0)) {
		rc = tm_err_errno(err, errno, "exec plugin '%s': pipe", x->command);
		goto out;
	}
	if ((e = posix_spawn_file_actions_init(&fa)) == 0) {
		fa_ok = true;
		if ((e = posix_spawnattr_init(&at)) == 0) {
			at_ok = true;
			e = spawn_setup(&fa, &at, p, ep, interactive);
		}
	}
	if (e != 0) {
		rc = tm_err_set(err, TM_ERROR, "exec plugin '%s': spawn setup: %s", x->command, strerror(e));
		goto out;
	}
	/* posix_spawnp searches PATH only for a name without '/', as Go's exec.Command */
	if ((e = posix_spawnp(&r->pid, x->command, &fa, &at, argv, envp)) == ENOENT) {
		rc = x->install_hint ? tm_err_set(err, TM_EAUTH, "exec plugin '%s' not found: %s", x->command, x->install_hint)
				     : tm_err_set(err, TM_EAUTH, "exec plugin '%s' not found (in PATH or at that path)",
						  x->command);
		goto out;
	}
	if (e != 0) {
		rc = tm_err_set(err, TM_EAUTH, "exec plugin '%s' could not be started: %s", x->command, strerror(e));
		goto out;
	}
	r->group = !interactive;
	r->pgid = r->pid;
	r->fd = p[0];
	p[0] = -1;
	r->efd = ep[0];
	ep[0] = -1;
out:
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (at_ok)
		posix_spawnattr_destroy(&at);
	for (int i = 0; i < 2; i++) {
		/* our write ends must go, or we would never see EOF */
		if (p[i] >= 0)
			close(p[i]);
		if (ep[i] >= 0)
			close(ep[i]);
	}
	free(argv);
	return rc;
}

/* Whether the plugin and everything it started are gone (reaps the plugin; its
 * children, reparented, are init's to reap). */
static bool all_gone(struct run *r)
{
	int st;

	if (r->pid > 0 && waitpid(r->pid, &st, WNOHANG) == r->pid)
		r->pid = 0;
	if (!r->group)
		return r->pid == 0;
	return kill(-r->pgid, 0) < 0 && errno == ESRCH;
}

/* Ends the plugin and its process group: SIGTERM, a short grace to clean up (a
 * plugin may hold a lock file or a browser login), then SIGKILL; reaps the plugin. */
static void kill_and_reap(struct run *r)
{
	int64_t until = tm_now_ms() + EXEC_KILL_GRACE_MS;
	int st;

	if (r->pid <= 0)
		return;
	kill(r->group ? -r->pgid : r->pid, SIGTERM);
	while (!all_gone(r) && tm_now_ms() < until)
		nanosleep(&(struct timespec){ 0, 10 * 1000000L }, NULL);
	/* even when the leader went, its children may ignore SIGTERM */
	if (r->group)
		kill(-r->pgid, SIGKILL);
	else if (r->pid > 0)
		kill(r->pid, SIGKILL);
	while (r->pid > 0 && waitpid(r->pid, &st, 0) < 0 && errno == EINTR)
		;
	r->pid = 0;
}

static bool run_cancelled(const struct run *r)
{
	return r->cancel && *r->cancel;
}

/* One line of the plugin's stderr, reported as it comes (a login URL must be seen
 * while the plugin waits); the sink escapes it. The last stays in r->line. */
static void stderr_line(struct run *r)
{
	if (!r->line_len)
		return;
	r->line[r->line_len] = '\0';
	r->line_len = 0;
	if (r->lines < EXEC_LINES_MAX && r->o->report) {
		r->lines++;
		tm_reportf(r->o->report, r->o->report_ctx, TM_INFO, "exec", NULL, false, "exec plugin '%s' says: %s%s",
			   r->command, r->line, r->lines == EXEC_LINES_MAX ? " (further lines not shown)" : "");
	}
}

/* Reads what its stderr holds now (the caller polled it readable). */
static void stderr_read(struct run *r)
{
	char chunk[512];
	ssize_t n = read(r->efd, chunk, sizeof(chunk));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		stderr_line(r);
		close(r->efd);
		r->efd = -1;
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (chunk[i] == '\n')
			stderr_line(r);
		else if (r->line_len < sizeof(r->line) - 1) {
			r->line[r->line_len++] = chunk[i];
		}
	}
}

/* What it wrote before it ended: never waits (a child of it may hold stderr open). */
static void stderr_drain(struct run *r)
{
	for (int i = 0; i < 64 && r->efd >= 0; i++) {
		struct pollfd pfd = { .fd = r->efd, .events = POLLIN };

		if (poll(&pfd, 1, 0) <= 0)
			break;
		stderr_read(r);
	}
	stderr_line(r); /* a last line without its newline */
}

/* A plugin that failed usually said why on stderr: its last line goes into the
 * message (set in this file, one frame), keeping where it was raised. */
static void add_last_line(struct tm_err *err, const struct run *r)
{
	char msg[TM_ERR_TEXT];
	const char *file;
	int line, code;

	if (!err || !r->line[0])
		return;
	snprintf(msg, sizeof(msg), "%s", tm_err_msg(err));
	file = err->file;
	line = err->line;
	code = err->code;
	tm_err_init(err);
	tm_err_set(err, code, "%s; its last line on stderr: '%s'", msg, r->line);
	err->file = file;
	err->line = line;
}

/* Waits up to ms for the plugin's stderr (a sleep when it has none); reads it. */
static void stderr_poll(struct run *r, int ms)
{
	struct pollfd pfd = { .fd = r->efd, .events = POLLIN };

	if (r->efd < 0) {
		nanosleep(&(struct timespec){ 0, ms * 1000000L }, NULL);
		return;
	}
	if (poll(&pfd, 1, ms) > 0)
		stderr_read(r);
}

/* Reads the plugin's stdout until EOF and waits for it to exit, both before
 * deadline (monotonic ms). On success *status is its wait status and the child is
 * reaped; on failure the caller kills and reaps it. */
static int collect(struct run *r, int64_t deadline, int64_t timeout_ms, int *status, struct tm_err *err)
{
	for (;;) {
		int64_t left = deadline - tm_now_ms();
		struct pollfd pfd[2] = { { .fd = r->fd, .events = POLLIN }, { .fd = r->efd, .events = POLLIN } };
		ssize_t n;
		int pr;

		if (run_cancelled(r))
			goto cancelled;
		if (left <= 0)
			goto timeout;
		/* short slices: a signal handler's flag is seen within EXEC_SLICE_MS */
		pr = poll(pfd, 2, left > EXEC_SLICE_MS ? EXEC_SLICE_MS : (int)left);
		if (pr < 0 && errno != EINTR)
			return tm_err_errno(err, errno, "exec plugin '%s': poll", r->command);
		if (pr > 0 && r->efd >= 0 && pfd[1].revents)
			stderr_read(r);
		if (pr <= 0 || !pfd[0].revents)
			continue;
		/* room for one byte past the cap, to tell "exactly 1 MiB" from "more" */
		n = read(r->fd, r->out + r->len, EXEC_OUT_MAX + 1 - r->len);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return tm_err_errno(err, errno, "exec plugin '%s': read its output", r->command);
		}
		if (n == 0)
			break;
		r->len += (size_t)n;
		if (r->len > EXEC_OUT_MAX)
			return tm_err_set(err, TM_ELIMIT, "exec plugin '%s' printed more than %u bytes", r->command,
					  EXEC_OUT_MAX);
	}
	/* EOF: the plugin closed stdout, and normally exits right after. No portable way
	 * to poll a pid here (pidfd is Linux 5.3+), so check every few milliseconds. */
	for (;;) {
		pid_t w = waitpid(r->pid, status, WNOHANG);
		int64_t left;

		if (w == r->pid) {
			r->pid = 0;
			return 0;
		}
		if (w < 0 && errno != EINTR)
			return tm_err_errno(err, errno, "exec plugin '%s': wait", r->command);
		left = deadline - tm_now_ms();
		if (run_cancelled(r))
			goto cancelled;
		if (left <= 0)
			goto timeout;
		stderr_poll(r, left < 5 ? (int)left : 5);
	}
cancelled:
	return tm_err_set(err, TM_EINTERRUPTED, "interrupted while exec plugin '%s' ran; ended it", r->command);
timeout:
	return tm_err_set(err, TM_ETIMEOUT, "exec plugin '%s' did not finish within %lld ms; killed it", r->command,
			  (long long)timeout_ms);
}

/* ------------------------------------------------------------------ entry point */

int tm_kube_exec_run(struct tm_kube_cred *out, const struct tm_kube_config *cfg, const struct tm_kube_exec_opts *o,
		     struct tm_err *err)
{
	const struct tm_kube_exec *x = cfg->exec;
	struct tm_kube_cred c;
	struct run r = { .fd = -1, .efd = -1, .o = o, .cancel = o->cancel };
	char *info = NULL, **envp = NULL;
	bool interactive = o->interactive;
	int64_t timeout_ms = o->timeout_ms, deadline = tm_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int rc, status = 0;

	tm_kube_cred_init(&c);
	if (!x) {
		rc = tm_err_set(err, TM_EINVALID, "context '%s' has no exec plugin", cfg->context ? cfg->context : "");
		goto out;
	}
	r.command = x->command;
	/* interactiveMode decides whether the terminal the caller has is offered */
	if (x->interactive_mode && strcmp(x->interactive_mode, "Never") == 0) {
		interactive = false;
	} else if (x->interactive_mode && strcmp(x->interactive_mode, "Always") == 0 && !interactive) {
		rc = tm_err_set(err, TM_EAUTH, "exec plugin '%s' needs a terminal (interactiveMode Always) and standard input is not one",
				x->command);
		goto out;
	}
	if ((rc = exec_info(&info, cfg, interactive, err)) < 0 || (rc = build_env(&envp, x->env, info, err)) < 0)
		goto out;
	if (!(r.out = malloc(EXEC_OUT_MAX + 1))) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	if ((rc = spawn_plugin(&r, x, envp, interactive, err)) < 0 ||
	    (rc = collect(&r, deadline, timeout_ms, &status, err)) < 0)
		goto out;
	if (WIFSIGNALED(status)) {
		rc = tm_err_set(err, TM_EAUTH, "exec plugin '%s' was killed by signal %d", x->command, WTERMSIG(status));
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		rc = tm_err_set(err, TM_EAUTH, "exec plugin '%s' exited with status %d", x->command,
				WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		goto out;
	}
	if ((rc = tm_kube_exec_cred_parse(&c, r.out, r.len, x, err)) < 0)
		goto out;
	*out = c;
	tm_kube_cred_init(&c);
out:
	kill_and_reap(&r);
	if (r.fd >= 0)
		close(r.fd);
	stderr_drain(&r);
	if (r.efd >= 0)
		close(r.efd);
	if (rc < 0 && rc != TM_EINTERRUPTED)
		add_last_line(err, &r);
	if (r.out) {
		tm_wipe(r.out, r.len);
		free(r.out);
	}
	tm_kube_cred_release(&c);
	free(envp);
	free(info);
	return rc;
}
