/* Exec credential plugins: real /bin/sh plugins in a scratch directory, run through
 * tm_kube_exec_run as a kubeconfig user would have them run. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "../testutil.h"
#include "tarmac/kube.h"

#define V1 "client.authentication.k8s.io/v1"
#define V1BETA1 "client.authentication.k8s.io/v1beta1"
/* every plugin that prints a token prints this one: no error message may carry it */
#define SECRET "s3cr3t-T0KEN-5f2a"
#define TIMEOUT 10000

/* dir/name holding "#!/bin/sh" and body, mode 0700; caller frees the path. */
static char *plugin(const char *dir, const char *name, const char *body)
{
	char *p = NULL;
	FILE *f;

	cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
	cr_assert_not_null(f = fopen(p, "w"));
	fprintf(f, "#!/bin/sh\n%s", body);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(p, 0700), 0);
	return p;
}

static void strv_add(char ***v, const char *s)
{
	size_t n = 0;

	while ((*v)[n])
		n++;
	cr_assert_not_null(*v = realloc(*v, (n + 2) * sizeof(**v)));
	cr_assert_not_null((*v)[n] = strdup(s));
	(*v)[n + 1] = NULL;
}

/* A config as tm_kube_config_load would leave it, with an exec block (all heap, so
 * tm_kube_config_release frees it). */
static void setup(struct tm_kube_config *cfg, const char *command, const char *api, const char *mode)
{
	struct tm_kube_exec *x;

	tm_kube_config_init(cfg);
	cr_assert_not_null(cfg->server = strdup("https://127.0.0.1:6443"));
	cr_assert_not_null(cfg->context = strdup("test"));
	cr_assert_not_null(x = calloc(1, sizeof(*x)));
	cr_assert_not_null(x->command = strdup(command));
	cr_assert_not_null(x->args = calloc(1, sizeof(char *)));
	cr_assert_not_null(x->env = calloc(1, sizeof(char *)));
	cr_assert_not_null(x->api_version = strdup(api));
	if (mode)
		cr_assert_not_null(x->interactive_mode = strdup(mode));
	cfg->exec = x;
}

static int run(struct tm_kube_cred *c, const struct tm_kube_config *cfg, bool interactive, int64_t ms,
	       struct tm_err *err)
{
	tm_err_init(err);
	tm_kube_cred_init(c);
	return tm_kube_exec_run(c, cfg, &(struct tm_kube_exec_opts){ .interactive = interactive, .timeout_ms = ms }, err);
}

/* The plugin must fail with code and a message containing needle, never the token. */
static void expect_fail(const struct tm_kube_config *cfg, int code, const char *needle)
{
	struct tm_kube_cred c;
	struct tm_err err;
	int rc = run(&c, cfg, false, TIMEOUT, &err);

	cr_assert_eq(rc, code, "got %d: %s", rc, tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), needle) != NULL, "'%s' not in: %s", needle, tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), SECRET) == NULL, "the token leaked into: %s", tm_err_msg(&err));
	cr_assert_null(c.token, "out is written only on success");
}

static char *slurp(const char *path)
{
	struct tm_buf b = TM_BUF_INIT("test file", 1 << 20);
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_file_read(&b, path, 1 << 20, &err), 0, "%s", tm_err_msg(&err));
	return b.data ? b.data : strdup("");
}

/* No child of ours is left behind, not even a zombie. */
static void assert_no_children(void)
{
	cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "a child was left behind");
	cr_assert_eq(errno, ECHILD);
}

Test(kube_exec, token_v1)
{
	char *dir = tu_mkdtemp(), *p = plugin(dir, "tok",
		"cat <<'EOF'\n{\"apiVersion\": \"" V1 "\", \"kind\": \"ExecCredential\", \"status\": {\"token\": \"" SECRET "\"}}\nEOF\n");
	struct tm_kube_config cfg;
	struct tm_kube_cred c;
	struct tm_err err;

	setup(&cfg, p, V1, "Never");
	cr_assert_eq(run(&c, &cfg, false, TIMEOUT, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(c.token, SECRET);
	cr_assert_eq(c.expires, 0);
	cr_assert_eq(c.cert_pem.len, 0);
	cr_assert_eq(c.key_pem.len, 0);
	assert_no_children();
	tm_kube_cred_release(&c);
	cr_assert_null(c.token);
	tm_kube_config_release(&cfg);
	free(p);
	tu_rmdir(dir);
}

Test(kube_exec, token_v1beta1_default_interactive_mode)
{
	char *dir = tu_mkdtemp(), *p = plugin(dir, "tok",
		"printf '{\"apiVersion\":\"%s\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"beta-token\"}}' \"$1\"\n");
	struct tm_kube_config cfg;
	struct tm_kube_cred c;
	struct tm_err err;

	setup(&cfg, p, V1BETA1, NULL);
	strv_add(&cfg.exec->args, V1BETA1);
	cr_assert_eq(run(&c, &cfg, false, TIMEOUT, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(c.token, "beta-token");
	tm_kube_cred_release(&c);
	tm_kube_config_release(&cfg);
	free(p);
	tu_rmdir(dir);
}

Test(kube_exec, client_certificate_and_key)
{
	char *dir = tu_mkdtemp(), *p = plugin(dir, "cert",
		"cat <<'EOF'\n{\"apiVersion\": \"" V1 "\", \"kind\": \"ExecCredential\", \"status\": {\n"
		"  \"clientCertificateData\": \"-----BEGIN CERTIFICATE-----\\nQ0VSVA==\\n-----END CERTIFICATE-----\\n\",\n"
		"  \"clientKeyData\": \"-----BEGIN PRIVATE KEY-----\\nS0VZ\\n-----END PRIVATE KEY-----\\n\"}}\nEOF\n");
	struct tm_kube_config cfg;
	struct tm_kube_cred c;
	struct tm_err err;

	setup(&cfg, p, V1, "IfAvailable");
	cr_assert_eq(run(&c, &cfg, false, TIMEOUT, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_null(c.token);
	cr_assert_str_eq(tm_buf_cstr(&c.cert_pem), "-----BEGIN CERTIFICATE-----\nQ0VSVA==\n-----END CERTIFICATE-----\n");
	cr_assert_str_eq(tm_buf_cstr(&c.key_pem), "-----BEGIN PRIVATE KEY-----\nS0VZ\n-----END PRIVATE KEY-----\n");
	tm_kube_cred_release(&c);
	cr_assert_eq(c.key_pem.len, 0);
	tm_kube_config_release(&cfg);
	free(p);
	tu_rmdir(dir);
}

/* The plugin copies KUBERNETES_EXEC_INFO to a file; the test reads it as JSON. */
static json_t *exec_info_seen(struct tm_kube_config *cfg, const char *dir, bool interactive)
{
	struct tm_kube_cred c;
	struct tm_err err;
	json_error_t jerr;
	char *path = NULL, *text;
	json_t *info;

	cr_assert(asprintf(&path, "%s/info.json", dir) > 0);
	cr_assert_eq(run(&c, cfg, interactive, TIMEOUT, &err), 0, "%s", tm_err_msg(&err));
	text = slurp(path);
	info = json_loads(text, 0, &jerr);
	cr_assert_not_null(info, "KUBERNETES_EXEC_INFO is not JSON: %s (%s)", text, jerr.text);
	tm_kube_cred_release(&c);
	free(text);
	free(path);
	return info;
}

Test(kube_exec, exec_info_carries_the_cluster_when_asked)
{
	char *dir = tu_mkdtemp(), *env = NULL, *p = plugin(dir, "info",
		"printf '%s' \"$KUBERNETES_EXEC_INFO\" > \"$INFO_OUT\"\n"
		"echo '{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"t\"}}'\n");
	struct tm_kube_config cfg;
	json_t *info, *cluster;

	setup(&cfg, p, V1, "IfAvailable");
	cr_assert(asprintf(&env, "INFO_OUT=%s/info.json", dir) > 0);
	strv_add(&cfg.exec->env, env);
	cfg.exec->provide_cluster_info = true;
	cr_assert_eq(tm_buf_puts(&cfg.ca_pem, "-----BEGIN CERTIFICATE-----\nCA\n", NULL), 0);
	cfg.insecure = true;
	cr_assert_not_null(cfg.tls_server_name = strdup("api.internal"));
	cr_assert_not_null(cfg.proxy_url = strdup("http://proxy:3128"));

	info = exec_info_seen(&cfg, dir, false);
	cr_assert_str_eq(json_string_value(json_object_get(info, "kind")), "ExecCredential");
	cr_assert_str_eq(json_string_value(json_object_get(info, "apiVersion")), V1);
	cr_assert(json_is_false(json_object_get(json_object_get(info, "spec"), "interactive")));
	cr_assert_null(json_object_get(info, "status"));
	cluster = json_object_get(json_object_get(info, "spec"), "cluster");
	cr_assert(json_is_object(cluster));
	cr_assert_str_eq(json_string_value(json_object_get(cluster, "server")), "https://127.0.0.1:6443");
	/* base64 of the CA PEM above */
	cr_assert_str_eq(json_string_value(json_object_get(cluster, "certificate-authority-data")),
			 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCg==");
	cr_assert_str_eq(json_string_value(json_object_get(cluster, "tls-server-name")), "api.internal");
	cr_assert_str_eq(json_string_value(json_object_get(cluster, "proxy-url")), "http://proxy:3128");
	cr_assert(json_is_true(json_object_get(cluster, "insecure-skip-tls-verify")));
	json_decref(info);

	/* IfAvailable offers the caller's terminal; without provideClusterInfo no cluster */
	cfg.exec->provide_cluster_info = false;
	info = exec_info_seen(&cfg, dir, true);
	cr_assert(json_is_true(json_object_get(json_object_get(info, "spec"), "interactive")));
	cr_assert_null(json_object_get(json_object_get(info, "spec"), "cluster"));
	json_decref(info);

	/* Never keeps the plugin non-interactive whatever the caller has */
	free(cfg.exec->interactive_mode);
	cr_assert_not_null(cfg.exec->interactive_mode = strdup("Never"));
	info = exec_info_seen(&cfg, dir, true);
	cr_assert(json_is_false(json_object_get(json_object_get(info, "spec"), "interactive")));
	json_decref(info);

	tm_kube_config_release(&cfg);
	free(env);
	free(p);
	tu_rmdir(dir);
}

Test(kube_exec, env_entries_reach_the_plugin_and_override)
{
	/* n PREFIX: entries starting so in the environment the plugin was started with (a
	 * shell would fold duplicates into one before any child could see them) */
	char *dir = tu_mkdtemp(), *p = plugin(dir, "env",
		"n() { tr '\\000' '\\n' < /proc/$$/environ | grep -c \"^$1\"; }\n"
		"echo \"{\\\"apiVersion\\\":\\\"" V1 "\\\",\\\"kind\\\":\\\"ExecCredential\\\","
		"\\\"status\\\":{\\\"token\\\":\\\"$FOO|$TM_EXEC_OVERRIDDEN|$TM_EXEC_KEPT|$(readlink /proc/self/fd/0)|"
		"$(n TM_EXEC_OVERRIDDEN=)|$(n 'KUBERNETES_EXEC_INFO={')$(n KUBERNETES_EXEC_INFO=)\\\"}}\"\n");
	struct tm_kube_config cfg;
	struct tm_kube_cred c;
	struct tm_err err;

	cr_assert_eq(setenv("TM_EXEC_OVERRIDDEN", "outer", 1), 0);
	cr_assert_eq(setenv("TM_EXEC_KEPT", "kept", 1), 0);
	cr_assert_eq(setenv("KUBERNETES_EXEC_INFO", "stale", 1), 0); /* a parent plugin's, say */
	setup(&cfg, p, V1, "Never");
	strv_add(&cfg.exec->env, "FOO=bar baz");
	strv_add(&cfg.exec->env, "TM_EXEC_OVERRIDDEN=inner");
	cr_assert_eq(run(&c, &cfg, false, TIMEOUT, &err), 0, "%s", tm_err_msg(&err));
	/* stdin is /dev/null when not interactive; each name appears once, with the last value */
	cr_assert_str_eq(c.token, "bar baz|inner|kept|/dev/null|1|11");
	tm_kube_cred_release(&c);
	tm_kube_config_release(&cfg);
	free(p);
	tu_rmdir(dir);
}

Test(kube_exec, args_arrive_in_order_without_shell_parsing)
{
	static const char *const args[] = { "a b", "it's \"quoted\"", "$HOME", "*", "", "; rm -rf /", "-x" };
	char *dir = tu_mkdtemp(), *out = NULL, *got, *p = plugin(dir, "args",
		"for a in \"$@\"; do printf '[%s]\\n' \"$a\"; done > \"$ARGS_OUT\"\n"
		"echo '{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"t\"}}'\n");
	char *env = NULL;
	struct tm_kube_config cfg;
	struct tm_kube_cred c;
	struct tm_err err;

	setup(&cfg, p, V1, "Never");
	for (size_t i = 0; i < TM_ARRAY_LEN(args); i++)
		strv_add(&cfg.exec->args, args[i]);
	cr_assert(asprintf(&out, "%s/args.txt", dir) > 0);
	cr_assert(asprintf(&env, "ARGS_OUT=%s", out) > 0);
	strv_add(&cfg.exec->env, env);
	cr_assert_eq(run(&c, &cfg, false, TIMEOUT, &err), 0, "%s", tm_err_msg(&err));
	got = slurp(out);
	cr_assert_str_eq(got, "[a b]\n[it's \"quoted\"]\n[$HOME]\n[*]\n[]\n[; rm -rf /]\n[-x]\n");
	free(got);
	tm_kube_cred_release(&c);
	tm_kube_config_release(&cfg);
	free(env);
	free(out);
	free(p);
	tu_rmdir(dir);
}

/* The plugin prints an ExecCredential expiring at $1. */
static int expiring_at(int64_t *out, const char *stamp, struct tm_err *err)
{
	char *dir = tu_mkdtemp(), *p = plugin(dir, "exp",
		"printf '{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\",\"status\":"
		"{\"token\":\"" SECRET "\",\"expirationTimestamp\":\"%s\"}}' \"$1\"\n");
	struct tm_kube_config cfg;
	struct tm_kube_cred c;
	int rc;

	setup(&cfg, p, V1, "Never");
	strv_add(&cfg.exec->args, stamp);
	rc = run(&c, &cfg, false, TIMEOUT, err);
	*out = c.expires;
	if (rc == 0)
		cr_assert_str_eq(c.token, SECRET);
	else
		cr_assert(strstr(tm_err_msg(err), SECRET) == NULL, "%s", tm_err_msg(err));
	tm_kube_cred_release(&c);
	tm_kube_config_release(&cfg);
	free(p);
	tu_rmdir(dir);
	return rc;
}

Test(kube_exec, expiration_timestamps)
{
	static const struct {
		const char *stamp;
		int64_t want;
	} ok[] = {
		{ "2026-01-02T03:04:05Z", 1767323045 },
		{ "2026-01-02T05:04:05.123456+02:00", 1767323045 },
		{ "2026-01-01T22:04:05-05:00", 1767323045 },
		{ "2026-01-02t03:04:05.5z", 1767323045 },
		{ "2000-02-29T23:59:59Z", 951868799 },
		{ "1969-12-31T23:00:00Z", -3600 },
	};
	static const char *const bad[] = {
		"tomorrow", "2026-01-02 03:04:05Z", "2026-01-02T03:04:05", "2026-13-01T00:00:00Z",
		"2025-02-29T00:00:00Z", "2026-01-02T24:00:00Z", "2026-01-02T03:04:05.Z", "2026-01-02T03:04:05+0100",
		"2026-01-02T03:04:05Zjunk",
	};
	struct tm_err err;
	int64_t got;

	for (size_t i = 0; i < TM_ARRAY_LEN(ok); i++) {
		cr_assert_eq(expiring_at(&got, ok[i].stamp, &err), 0, "%s: %s", ok[i].stamp, tm_err_msg(&err));
		cr_assert_eq(got, ok[i].want, "%s: got %lld", ok[i].stamp, (long long)got);
	}
	for (size_t i = 0; i < TM_ARRAY_LEN(bad); i++) {
		cr_assert_eq(expiring_at(&got, bad[i], &err), TM_EINVALID, "%s accepted", bad[i]);
		cr_assert(strstr(tm_err_msg(&err), "expirationTimestamp") != NULL, "%s", tm_err_msg(&err));
	}
}

Test(kube_exec, bad_output_is_invalid_and_never_shows_the_token)
{
	static const struct {
		const char *out, *needle;
	} cases[] = {
		/* jansson's own message quotes the text it choked on: ours must not */
		{ "{\"apiVersion\": \"" V1 "\", \"status\": {\"token\": \"" SECRET "\\q\"}}", "not JSON (line 1" },
		{ "{\"apiVersion\": \"" V1 "\", \"status\": {\"token\": \"" SECRET, "not JSON (line 1" },
		{ "{\"apiVersion\": \"" V1 "\", \"status\": {\"token\" \"" SECRET "\"}}", "not JSON (line 1" },
		{ "{\"apiVersion\": \"" V1 "\", \"status\": {\"token\": " SECRET "}}", "not JSON (line 1" },
		{ SECRET, "not JSON" },
		{ "{\"apiVersion\":\"" V1BETA1 "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"" SECRET "\"}}",
		  "configured for apiVersion '" V1 "' but printed '" V1BETA1 "'" },
		{ "{\"kind\":\"ExecCredential\",\"status\":{\"token\":\"" SECRET "\"}}", "but printed ''" },
		{ "{\"apiVersion\":\"" V1 "\",\"kind\":\"Secret\",\"status\":{\"token\":\"" SECRET "\"}}",
		  "kind 'Secret', not ExecCredential" },
		{ "{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\",\"status\":{}}", "neither a token nor" },
		{ "{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"\"}}", "neither a token nor" },
		{ "{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\"}", "without a status" },
		{ "{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":42}}", "status.token must be a string" },
		{ "{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"" SECRET "\",\"clientKeyData\":\"k\"}}",
		  "client key without its certificate" },
		{ "[\"" SECRET "\"]", "not an object" },
		{ "", "printed nothing" },
	};
	char *dir = tu_mkdtemp(), *p = plugin(dir, "bad", "printf '%s' \"$1\"\n");
	struct tm_kube_config cfg;

	setup(&cfg, p, V1, "Never");
	strv_add(&cfg.exec->args, "");
	for (size_t i = 0; i < TM_ARRAY_LEN(cases); i++) {
		free(cfg.exec->args[0]);
		cr_assert_not_null(cfg.exec->args[0] = strdup(cases[i].out));
		expect_fail(&cfg, TM_EINVALID, cases[i].needle);
	}
	assert_no_children();
	tm_kube_config_release(&cfg);
	free(p);
	tu_rmdir(dir);
}

Test(kube_exec, exit_status_and_signal_are_auth_errors)
{
	char *dir = tu_mkdtemp(), *p = plugin(dir, "fail",
		"echo '{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"" SECRET "\"}}'\n"
		"echo 'plugin says: login required' >&2\n"
		"[ \"$1\" = kill ] && kill -9 $$\nexit 3\n");
	struct tm_kube_config cfg;

	setup(&cfg, p, V1, "Never");
	expect_fail(&cfg, TM_EAUTH, "exited with status 3");
	strv_add(&cfg.exec->args, "kill");
	expect_fail(&cfg, TM_EAUTH, "was killed by signal 9");
	assert_no_children();
	tm_kube_config_release(&cfg);
	free(p);
	tu_rmdir(dir);
}

Test(kube_exec, missing_command_gives_the_install_hint)
{
	struct tm_kube_config cfg;

	setup(&cfg, "tarmac-no-such-plugin-xyz", V1, "Never");
	expect_fail(&cfg, TM_EAUTH, "exec plugin 'tarmac-no-such-plugin-xyz' not found");
	cr_assert_not_null(cfg.exec->install_hint = strdup("install it with: brew install xyz"));
	expect_fail(&cfg, TM_EAUTH, "not found: install it with: brew install xyz");
	free(cfg.exec->command);
	cr_assert_not_null(cfg.exec->command = strdup("/nonexistent/dir/plugin"));
	expect_fail(&cfg, TM_EAUTH, "'/nonexistent/dir/plugin' not found: install it with");
	tm_kube_config_release(&cfg);
}

Test(kube_exec, always_needs_a_terminal)
{
	char *dir = tu_mkdtemp(), *log = NULL, *env = NULL, *p = plugin(dir, "tty", "echo ran > \"$LOG\"\nexit 1\n");
	struct tm_kube_config cfg;

	setup(&cfg, p, V1, "Always");
	cr_assert(asprintf(&log, "%s/log", dir) > 0);
	cr_assert(asprintf(&env, "LOG=%s", log) > 0);
	strv_add(&cfg.exec->env, env);
	expect_fail(&cfg, TM_EAUTH, "needs a terminal (interactiveMode Always)");
	cr_assert_neq(access(log, F_OK), 0, "the plugin must not run");
	tm_kube_config_release(&cfg);
	free(env);
	free(log);
	free(p);
	tu_rmdir(dir);
}

/* /proc/<pid> is gone, or it is a zombie waiting for a reaper that is not us. */
static bool dead(pid_t pid)
{
	char path[64], *text = NULL, *close_paren;
	struct tm_buf b = TM_BUF_INIT("stat", 4096);
	bool gone;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (tm_file_read(&b, path, 4096, NULL) < 0)
		return true;
	text = b.data;
	close_paren = text ? strrchr(text, ')') : NULL;
	gone = close_paren && (close_paren[2] == 'Z' || close_paren[2] == 'X');
	tm_buf_release(&b);
	return gone;
}

/* The plugin writes its child's pid to $PIDFILE (dir/pid); returns that path. */
static char *pass_pidfile(struct tm_kube_config *cfg, const char *dir, char **env)
{
	char *pidfile = NULL;

	cr_assert(asprintf(&pidfile, "%s/pid", dir) > 0);
	cr_assert(asprintf(env, "PIDFILE=%s", pidfile) > 0);
	strv_add(&cfg->exec->env, *env);
	return pidfile;
}

/* The child the plugin recorded in pidfile is gone within tries x 10 ms. */
static void assert_child_ended(const char *pidfile, int tries)
{
	char *text = slurp(pidfile);
	pid_t child = (pid_t)atoi(text);
	int i;

	cr_assert_gt(child, 0);
	for (i = 0; i < tries && !dead(child); i++)
		usleep(10000);
	cr_assert(dead(child), "the plugin's child %d survived", (int)child);
	free(text);
}

Test(kube_exec, a_hanging_plugin_is_killed_at_the_timeout)
{
	char *dir = tu_mkdtemp(), *pidfile = NULL, *env = NULL;
	/* the shell's own child holds stdout open too: it must die with the plugin */
	char *p = plugin(dir, "hang", "sleep 30 &\necho $! > \"$PIDFILE\"\nwait\n");
	char *q = plugin(dir, "closed", "exec >&-\nsleep 30\n");
	struct tm_kube_config cfg;
	struct tm_kube_cred c;
	struct tm_err err;
	int64_t t0;

	setup(&cfg, p, V1, "Never");
	pidfile = pass_pidfile(&cfg, dir, &env);
	t0 = tm_now_ms();
	cr_assert_eq(run(&c, &cfg, false, 500, &err), TM_ETIMEOUT, "%s", tm_err_msg(&err));
	cr_assert_lt(tm_now_ms() - t0, 3000, "took %lld ms", (long long)(tm_now_ms() - t0));
	cr_assert(strstr(tm_err_msg(&err), "did not finish within 500 ms") != NULL, "%s", tm_err_msg(&err));
	assert_no_children();
	assert_child_ended(pidfile, 200);

	/* closing stdout early does not end the wait for the exit */
	free(cfg.exec->command);
	cr_assert_not_null(cfg.exec->command = strdup(q));
	t0 = tm_now_ms();
	cr_assert_eq(run(&c, &cfg, false, 500, &err), TM_ETIMEOUT, "%s", tm_err_msg(&err));
	cr_assert_lt(tm_now_ms() - t0, 3000);
	assert_no_children();

	tm_kube_config_release(&cfg);
	free(env);
	free(pidfile);
	free(p);
	free(q);
	tu_rmdir(dir);
}

Test(kube_exec, output_over_one_mebibyte_is_refused)
{
	char *dir = tu_mkdtemp(), *p = plugin(dir, "big",
		"printf '{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"'\n"
		"head -c 1100000 /dev/zero | tr '\\000' a\nprintf '\"}}'\n");
	struct tm_kube_config cfg;
	int64_t t0 = tm_now_ms();

	setup(&cfg, p, V1, "Never");
	expect_fail(&cfg, TM_ELIMIT, "printed more than 1048576 bytes");
	cr_assert_lt(tm_now_ms() - t0, 5000);
	assert_no_children();
	tm_kube_config_release(&cfg);
	free(p);
	tu_rmdir(dir);
}

Test(kube_exec, no_exec_block_is_invalid)
{
	struct tm_kube_config cfg;
	struct tm_kube_cred c;
	struct tm_err err;

	tm_kube_config_init(&cfg);
	cr_assert_not_null(cfg.context = strdup("plain"));
	cr_assert_eq(run(&c, &cfg, false, TIMEOUT, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "context 'plain' has no exec plugin") != NULL, "%s", tm_err_msg(&err));
	tm_kube_config_release(&cfg);
}

/* From a kubeconfig on disk: the relative command resolves next to the file and runs. */
Test(kube_exec, kubeconfig_relative_command_runs)
{
	char *dir = tu_mkdtemp(), *bin = NULL, *kc = NULL, *p;
	struct tm_kube_source src = { 0 };
	struct tm_kube_config cfg;
	struct tm_kube_cred c;
	struct tm_err err;
	FILE *f;

	cr_assert(asprintf(&bin, "%s/bin", dir) > 0);
	cr_assert_eq(mkdir(bin, 0700), 0);
	p = plugin(bin, "plug", "echo \"{\\\"apiVersion\\\":\\\"" V1BETA1 "\\\",\\\"kind\\\":\\\"ExecCredential\\\","
			  "\\\"status\\\":{\\\"token\\\":\\\"$1-$GREETING\\\"}}\"\n");
	cr_assert(asprintf(&kc, "%s/kubeconfig", dir) > 0);
	cr_assert_not_null(f = fopen(kc, "w"));
	fputs("current-context: x\nclusters:\n- name: c\n  cluster: {server: https://h}\n"
	      "users:\n- name: u\n  user:\n    exec:\n      apiVersion: " V1BETA1 "\n      command: ./bin/plug\n"
	      "      args: [hello]\n      env: [{name: GREETING, value: world}]\n"
	      "contexts:\n- name: x\n  context: {cluster: c, user: u}\n", f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(kc, 0600), 0);
	src.kubeconfig = kc;
	tm_err_init(&err);
	tm_kube_config_init(&cfg);
	cr_assert_eq(tm_kube_config_load(&cfg, &src, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(run(&c, &cfg, false, TIMEOUT, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(c.token, "hello-world");
	tm_kube_cred_release(&c);
	tm_kube_config_release(&cfg);
	free(p);
	free(kc);
	free(bin);
	tu_rmdir(dir);
}

/* ------------------------------------------------------------------ issue 11 */

Test(kube_exec, a_token_with_a_line_break_is_refused_unquoted)
{
	char *dir = tu_mkdtemp(), *p = plugin(dir, "crlf",
		"cat <<'EOF'\n{\"apiVersion\": \"" V1 "\", \"kind\": \"ExecCredential\", \"status\": {\"token\": \"" SECRET
		"\\r\\nImpersonate-User: system:admin\"}}\nEOF\n");
	struct tm_kube_config cfg;

	setup(&cfg, p, V1, "Never");
	expect_fail(&cfg, TM_EINVALID, "the token has a control character (0x0d at byte 18)");
	assert_no_children();
	tm_kube_config_release(&cfg);
	free(p);
	tu_rmdir(dir);
}

Test(kube_exec, output_that_is_all_structure_is_refused_before_parsing)
{
	char *dir = tu_mkdtemp(), *p = plugin(dir, "bomb",
		"printf '{\"apiVersion\": \"" V1 "\", \"kind\": \"ExecCredential\", \"status\": {\"token\": \"" SECRET
		"\"}, \"x\": ['\nyes '{},' | head -n 300000 | tr -d '\\n'\nprintf '{}]}'\n");
	struct tm_kube_config cfg;

	setup(&cfg, p, V1, "Never");
	expect_fail(&cfg, TM_ELIMIT, "would take about");
	assert_no_children();
	tm_kube_config_release(&cfg);
	free(p);
	tu_rmdir(dir);
}

/* ------------------------------------------------------------------ cancel and stderr */

struct raiser {
	volatile sig_atomic_t flag;
	int after_ms;
};

static void *raise_later(void *arg)
{
	struct raiser *r = arg;

	usleep((useconds_t)r->after_ms * 1000);
	r->flag = 1;
	return NULL;
}

Test(kube_exec, cancel_ends_the_plugin_and_its_group_at_once)
{
	char *dir = tu_mkdtemp(), *pidfile = NULL, *env = NULL;
	/* ignores SIGTERM, as a plugin stuck in a login may: SIGKILL must follow */
	char *p = plugin(dir, "hang", "trap '' TERM\nsleep 30 &\necho $! > \"$PIDFILE\"\nwait\nwait\n");
	struct raiser rs = { .after_ms = 300 };
	struct tm_kube_config cfg;
	struct tm_kube_cred c;
	struct tm_err err;
	pthread_t th;
	int64_t t0, took;

	setup(&cfg, p, V1, "Never");
	pidfile = pass_pidfile(&cfg, dir, &env);
	tm_err_init(&err);
	tm_kube_cred_init(&c);
	t0 = tm_now_ms();
	cr_assert_eq(pthread_create(&th, NULL, raise_later, &rs), 0);
	cr_assert_eq(tm_kube_exec_run(&c, &cfg, &(struct tm_kube_exec_opts){ .timeout_ms = TIMEOUT, .cancel = &rs.flag },
				      &err),
		     TM_EINTERRUPTED, "%s", tm_err_msg(&err));
	took = tm_now_ms() - t0;
	pthread_join(th, NULL);
	/* 300 ms until the flag, 50 ms to see it, 300 ms of grace before SIGKILL */
	cr_assert_lt(took, 1000, "took %lld ms", (long long)took);
	cr_assert(strstr(tm_err_msg(&err), "interrupted while exec plugin") != NULL, "%s", tm_err_msg(&err));
	assert_no_children();
	assert_child_ended(pidfile, 100);
	tm_kube_config_release(&cfg);
	free(env);
	free(pidfile);
	free(p);
	tu_rmdir(dir);
}

struct heard {
	char lines[8][400];
	int n;
};

static void hear(void *ctx, const struct tm_event *ev)
{
	struct heard *h = ctx;

	if (h->n < 8)
		snprintf(h->lines[h->n++], sizeof(h->lines[0]), "%s", ev->msg);
}

Test(kube_exec, stderr_is_reported_a_line_at_a_time_and_ends_a_failure)
{
	char *dir = tu_mkdtemp();
	char *ok = plugin(dir, "ok", "echo 'open https://login.example/ to sign in' >&2\n"
				     "printf '{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"" SECRET "\"}}'\n"
				     "printf 'no newline' >&2\n");
	char *bad = plugin(dir, "bad", "echo first >&2\nprintf 'denied \\033]0;pwned\\007\\n' >&2\nexit 3\n");
	struct heard h = { .n = 0 };
	struct tm_kube_exec_opts o = { .timeout_ms = TIMEOUT, .report = hear, .report_ctx = &h };
	struct tm_kube_config cfg;
	struct tm_kube_cred c;
	struct tm_err err;

	setup(&cfg, ok, V1, "Never");
	tm_err_init(&err);
	tm_kube_cred_init(&c);
	cr_assert_eq(tm_kube_exec_run(&c, &cfg, &o, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(h.n, 2);
	cr_assert(strstr(h.lines[0], "' says: open https://login.example/ to sign in") != NULL, "%s", h.lines[0]);
	cr_assert(strstr(h.lines[1], "' says: no newline") != NULL, "%s", h.lines[1]);
	tm_kube_cred_release(&c);

	free(cfg.exec->command);
	cr_assert_not_null(cfg.exec->command = strdup(bad));
	h.n = 0;
	tm_err_init(&err);
	cr_assert_eq(tm_kube_exec_run(&c, &cfg, &o, &err), TM_EAUTH);
	cr_assert(strstr(tm_err_msg(&err), "exited with status 3; its last line on stderr: 'denied \033]0;pwned\007'") != NULL,
		  "%s", tm_err_msg(&err));
	cr_assert(strstr(err.file, "exec.c") != NULL, "raised where the exit status was read");
	cr_assert_eq(h.n, 2);
	assert_no_children();
	tm_kube_config_release(&cfg);
	free(ok);
	free(bad);
	tu_rmdir(dir);
}
