/* kubeconfig resolution as kubectl does it, on real files in a scratch directory. */
#include <sys/stat.h>

#include "../testutil.h"
#include "tarmac/kube.h"

/* base64 of "-----BEGIN CERTIFICATE-----\nCA\n" (content is not parsed here) */
#define CA_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCg=="

static char *write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	char *p = NULL;
	struct tm_err err;

	cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
	tm_err_init(&err);
	cr_assert_eq(tm_file_write_atomic(p, text, strlen(text), mode, &err), 0, "%s", tm_err_msg(&err));
	return p;
}

static const char *KC_A =
	"apiVersion: v1\nkind: Config\ncurrent-context: a\n"
	"clusters:\n- name: ca\n  cluster:\n    server: https://127.0.0.1:6443/\n    certificate-authority-data: " CA_B64 "\n"
	"- name: shared\n  cluster: {server: 'https://from-a:1'}\n"
	"users:\n- name: ua\n  user: {token: tok-a}\n"
	"contexts:\n- name: a\n  context: {cluster: ca, user: ua, namespace: team-a}\n"
	"- name: s\n  context: {cluster: shared, user: ua}\n";

static const char *KC_B =
	"apiVersion: v1\nkind: Config\ncurrent-context: b\n"
	"clusters:\n- name: shared\n  cluster: {server: 'https://from-b:2'}\n"
	"- name: cb\n  cluster: {server: 'https://b:443', certificate-authority: certs/ca.pem, insecure-skip-tls-verify: true}\n"
	"users:\n- name: ub\n  user: {tokenFile: tok}\n"
	"contexts:\n- name: b\n  context: {cluster: cb, user: ub}\n";

static int load(struct tm_kube_config *c, const struct tm_kube_source *src, struct tm_err *err)
{
	tm_err_init(err);
	tm_kube_config_init(c);
	return tm_kube_config_load(c, src, err);
}

Test(kube_config, explicit_file_current_context)
{
	char *dir = tu_mkdtemp(), *a = write_file(dir, "a.yaml", KC_A, 0600);
	struct tm_kube_source src = { .kubeconfig = a, .kubeconfig_env = "/ignored", .home = "/ignored" };
	struct tm_kube_config c;
	struct tm_err err;

	cr_assert_eq(load(&c, &src, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(c.context, "a");
	cr_assert_str_eq(c.server, "https://127.0.0.1:6443", "trailing slash dropped");
	cr_assert_str_eq(c.namespace, "team-a");
	cr_assert_str_eq(c.token, "tok-a");
	cr_assert_str_eq(tm_buf_cstr(&c.ca_pem), "-----BEGIN CERTIFICATE-----\nCA\n");
	cr_assert_not(c.insecure);
	cr_assert_str_eq(c.origin, a);
	tm_kube_config_release(&c);
	free(a);
	tu_rmdir(dir);
}

Test(kube_config, context_option_and_unknown_context)
{
	char *dir = tu_mkdtemp(), *a = write_file(dir, "a.yaml", KC_A, 0600);
	struct tm_kube_source src = { .kubeconfig = a, .context = "s" };
	struct tm_kube_config c;
	struct tm_err err;

	cr_assert_eq(load(&c, &src, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(c.server, "https://from-a:1");
	cr_assert_null(c.namespace);
	tm_kube_config_release(&c);
	src.context = "nope";
	cr_assert_eq(load(&c, &src, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "context 'nope' is not in kubeconfig") != NULL, "%s", tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), "(from --context)") != NULL);
	free(a);
	tu_rmdir(dir);
}

Test(kube_config, env_list_merges_first_definition_wins)
{
	char *dir = tu_mkdtemp(), *a = write_file(dir, "a.yaml", KC_A, 0600);
	char *b = write_file(dir, "b.yaml", KC_B, 0600), *list = NULL;
	struct tm_kube_source src = { 0 };
	struct tm_kube_config c;
	struct tm_err err;

	cr_assert(asprintf(&list, "%s/missing.yaml:%s:%s", dir, b, a) > 0);
	src.kubeconfig_env = list;
	src.context = "s"; /* context from a, cluster 'shared' defined first by b */
	cr_assert_eq(load(&c, &src, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(c.server, "https://from-b:2");
	tm_kube_config_release(&c);
	free(list);
	free(a);
	free(b);
	tu_rmdir(dir);
}

Test(kube_config, relative_paths_follow_the_file_and_token_files_are_read)
{
	char *dir = tu_mkdtemp(), *b = write_file(dir, "b.yaml", KC_B, 0600), *sub = NULL;
	struct tm_kube_source src = { .kubeconfig = b };
	struct tm_kube_config c;
	struct tm_err err;

	cr_assert(asprintf(&sub, "%s/certs", dir) > 0);
	cr_assert_eq(mkdir(sub, 0700), 0);
	free(write_file(dir, "certs/ca.pem", "PEM-CA\n", 0644));
	free(write_file(dir, "tok", "sekrit-token\n", 0600));
	cr_assert_eq(load(&c, &src, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(tm_buf_cstr(&c.ca_pem), "PEM-CA\n");
	cr_assert_str_eq(c.token, "sekrit-token", "newline trimmed");
	cr_assert(c.insecure);
	tm_kube_config_release(&c);
	free(sub);
	free(b);
	tu_rmdir(dir);
}

Test(kube_config, group_writable_kubeconfig_is_refused)
{
	char *dir = tu_mkdtemp(), *a = write_file(dir, "a.yaml", KC_A, 0664);
	struct tm_kube_source src = { .kubeconfig = a };
	struct tm_kube_config c;
	struct tm_err err;

	cr_assert_eq(load(&c, &src, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "is writable by group or others (mode 0664)") != NULL, "%s",
		  tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), "chmod go-w") != NULL);
	free(a);
	tu_rmdir(dir);
}

Test(kube_config, broken_fields_are_named)
{
	char *dir = tu_mkdtemp(), *p;
	struct tm_kube_source src = { 0 };
	struct tm_kube_config c;
	struct tm_err err;

	p = write_file(dir, "x.yaml", "current-context: x\nclusters:\n- name: c\n  cluster: {server: https://h, certificate-authority-data: '%%%'}\n"
		       "contexts:\n- name: x\n  context: {cluster: c}\n", 0600);
	src.kubeconfig = p;
	cr_assert_eq(load(&c, &src, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "'certificate-authority-data' is not valid base64") != NULL, "%s",
		  tm_err_msg(&err));
	free(p);
	p = write_file(dir, "y.yaml", "current-context: x\nclusters:\n- name: c\n  cluster: {server: ftp://h}\n"
		       "contexts:\n- name: x\n  context: {cluster: c}\n", 0600);
	src.kubeconfig = p;
	cr_assert_eq(load(&c, &src, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "'server' must be an http(s) URL") != NULL, "%s", tm_err_msg(&err));
	free(p);
	p = write_file(dir, "z.yaml", "current-context: x\nclusters:\n- name: c\n  cluster: {server: https://h}\n"
		       "users:\n- name: u\n  user: {client-certificate-data: " CA_B64 "}\n"
		       "contexts:\n- name: x\n  context: {cluster: c, user: u}\n", 0600);
	src.kubeconfig = p;
	cr_assert_eq(load(&c, &src, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "needs its key") != NULL, "%s", tm_err_msg(&err));
	free(p);
	p = write_file(dir, "w.yaml", "clusters: []\n", 0600);
	src.kubeconfig = p;
	cr_assert_eq(load(&c, &src, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "sets no current-context") != NULL, "%s", tm_err_msg(&err));
	free(p);
	tu_rmdir(dir);
}

Test(kube_config, missing_explicit_file_is_bad_input)
{
	struct tm_kube_source src = { .kubeconfig = "/nonexistent/kubeconfig" };
	struct tm_kube_config c;
	struct tm_err err;

	cr_assert_eq(load(&c, &src, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "kubeconfig from --kubeconfig: open '/nonexistent/kubeconfig'") != NULL,
		  "%s", tm_err_msg(&err));
}

Test(kube_config, nothing_anywhere_is_not_found)
{
	struct tm_kube_source src = { .home = "/nonexistent-home", .sa_dir = "/nonexistent-sa" };
	struct tm_kube_config c;
	struct tm_err err;

	cr_assert_eq(load(&c, &src, &err), TM_ENOTFOUND);
	cr_assert(strstr(tm_err_msg(&err), "no kubeconfig found") != NULL);
}

Test(kube_config, home_config_is_used)
{
	char *dir = tu_mkdtemp(), *kdir = NULL, *p;
	struct tm_kube_source src = { 0 };
	struct tm_kube_config c;
	struct tm_err err;

	cr_assert(asprintf(&kdir, "%s/.kube", dir) > 0);
	cr_assert_eq(mkdir(kdir, 0700), 0);
	p = write_file(dir, ".kube/config", KC_A, 0600);
	src.home = dir;
	cr_assert_eq(load(&c, &src, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(c.context, "a");
	tm_kube_config_release(&c);
	free(p);
	free(kdir);
	tu_rmdir(dir);
}

Test(kube_config, in_cluster_service_account)
{
	char *dir = tu_mkdtemp();
	struct tm_kube_source src = { .sa_dir = dir, .service_host = "10.0.0.1", .service_port = "443" };
	struct tm_kube_config c;
	struct tm_err err;

	free(write_file(dir, "token", "sa-token\n", 0600));
	free(write_file(dir, "ca.crt", "SA-CA\n", 0644));
	free(write_file(dir, "namespace", "airflow\n", 0644));
	cr_assert_eq(load(&c, &src, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(c.server, "https://10.0.0.1:443");
	cr_assert_str_eq(c.token, "sa-token");
	cr_assert_str_eq(c.namespace, "airflow");
	cr_assert_str_eq(tm_buf_cstr(&c.ca_pem), "SA-CA\n");
	cr_assert_str_eq(c.origin, "in-cluster");
	tm_kube_config_release(&c);
	src.service_host = "fd00::1";
	cr_assert_eq(load(&c, &src, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(c.server, "https://[fd00::1]:443");
	tm_kube_config_release(&c);
	tu_rmdir(dir);
}

/* A file the kubeconfig names but that is missing makes the kubeconfig broken: it must
 * not read as "no kubeconfig" (that would let 'version' skip the cluster silently). */
Test(kube_config, missing_referenced_file_is_broken_not_absent)
{
	char *dir = tu_mkdtemp(), *p;
	struct tm_kube_source src = { 0 };
	struct tm_kube_config c;
	struct tm_err err;

	p = write_file(dir, "k.yaml", "current-context: x\nclusters:\n- name: c\n  cluster: {server: https://h}\n"
		       "users:\n- name: u\n  user: {client-certificate: nope.crt, client-key: nope.key}\n"
		       "contexts:\n- name: x\n  context: {cluster: c, user: u}\n", 0600);
	src.kubeconfig = p;
	cr_assert_eq(load(&c, &src, &err), TM_EINVALID, "%s", tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), "'client-certificate'") != NULL, "%s", tm_err_msg(&err));
	free(p);
	p = write_file(dir, "t.yaml", "current-context: x\nclusters:\n- name: c\n  cluster: {server: https://h}\n"
		       "users:\n- name: u\n  user: {tokenFile: /nonexistent/token}\n"
		       "contexts:\n- name: x\n  context: {cluster: c, user: u}\n", 0600);
	src.kubeconfig = p;
	cr_assert_eq(load(&c, &src, &err), TM_EINVALID, "%s", tm_err_msg(&err));
	free(p);
	tu_rmdir(dir);
}

#define EXEC_KC(user) \
	"current-context: x\nclusters:\n- name: c\n  cluster: {server: https://h}\n" \
	"users:\n- name: u\n  user:\n" user "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"

Test(kube_config, exec_block_is_parsed)
{
	char *dir = tu_mkdtemp(), *want = NULL, *p;
	struct tm_kube_source src = { 0 };
	struct tm_kube_config c;
	struct tm_err err;
	struct tm_kube_exec *x;

	p = write_file(dir, "k.yaml", EXEC_KC(
		"    exec:\n"
		"      apiVersion: client.authentication.k8s.io/v1\n"
		"      command: plugins/get-token\n"
		"      args: [--region, 'eu west', '8080']\n"
		"      env:\n      - {name: AWS_PROFILE, value: prod}\n      - {name: EMPTY}\n"
		"      provideClusterInfo: true\n"
		"      interactiveMode: Never\n"
		"      installHint: install get-token from the wiki\n"), 0600);
	src.kubeconfig = p;
	cr_assert_eq(load(&c, &src, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_not_null(x = c.exec);
	/* a command with a '/' is relative to the kubeconfig's directory */
	cr_assert(asprintf(&want, "%s/plugins/get-token", dir) > 0);
	cr_assert_str_eq(x->command, want);
	cr_assert_str_eq(x->args[0], "--region");
	cr_assert_str_eq(x->args[1], "eu west");
	cr_assert_str_eq(x->args[2], "8080");
	cr_assert_null(x->args[3]);
	cr_assert_str_eq(x->env[0], "AWS_PROFILE=prod");
	cr_assert_str_eq(x->env[1], "EMPTY=");
	cr_assert_null(x->env[2]);
	cr_assert_str_eq(x->api_version, "client.authentication.k8s.io/v1");
	cr_assert(x->provide_cluster_info);
	cr_assert_str_eq(x->interactive_mode, "Never");
	cr_assert_str_eq(x->install_hint, "install get-token from the wiki");
	tm_kube_config_release(&c);
	cr_assert_null(c.exec);
	free(want);
	free(p);
	tu_rmdir(dir);
}

Test(kube_config, exec_command_in_path_or_absolute_is_kept)
{
	char *dir = tu_mkdtemp(), *p;
	struct tm_kube_source src = { 0 };
	struct tm_kube_config c;
	struct tm_err err;

	p = write_file(dir, "k.yaml", EXEC_KC(
		"    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: aws}\n"), 0600);
	src.kubeconfig = p;
	cr_assert_eq(load(&c, &src, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(c.exec->command, "aws");
	cr_assert_not_null(c.exec->args);
	cr_assert_null(c.exec->args[0]);
	cr_assert_not_null(c.exec->env);
	cr_assert_null(c.exec->env[0]);
	cr_assert_null(c.exec->interactive_mode, "v1beta1 leaves it unset (IfAvailable)");
	cr_assert_not(c.exec->provide_cluster_info);
	tm_kube_config_release(&c);
	free(p);
	p = write_file(dir, "k2.yaml", EXEC_KC(
		"    exec: {apiVersion: client.authentication.k8s.io/v1, command: /usr/local/bin/x, interactiveMode: Always}\n"),
		0600);
	src.kubeconfig = p;
	cr_assert_eq(load(&c, &src, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(c.exec->command, "/usr/local/bin/x");
	cr_assert_str_eq(c.exec->interactive_mode, "Always");
	tm_kube_config_release(&c);
	free(p);
	tu_rmdir(dir);
}

Test(kube_config, exec_errors_name_file_user_and_field)
{
	static const struct {
		const char *user, *needle;
	} cases[] = {
		{ "    exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: x, interactiveMode: Never}\n",
		  "'apiVersion' 'client.authentication.k8s.io/v1alpha1' is not supported" },
		{ "    exec: {command: x, interactiveMode: Never}\n", "'apiVersion' is required" },
		{ "    exec: {apiVersion: client.authentication.k8s.io/v1, command: x}\n",
		  "'interactiveMode' is required with client.authentication.k8s.io/v1" },
		{ "    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: x, interactiveMode: Sometimes}\n",
		  "'interactiveMode' 'Sometimes' is not one of" },
		{ "    exec: {apiVersion: client.authentication.k8s.io/v1beta1}\n", "'command' is required" },
		{ "    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: [x]}\n", "'command' must be a string" },
		{ "    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: x, args: [--port, 8080]}\n",
		  "args[1] must be a string" },
		{ "    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: x, args: --port}\n",
		  "'args' must be a list" },
		{ "    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: x, env: [{value: v}]}\n",
		  "env[0]: 'name' must be" },
		{ "    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: x, env: [{name: 'A=B', value: v}]}\n",
		  "env[0]: 'name' must be" },
		{ "    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: x, env: [{name: N, value: 1}]}\n",
		  "env 'N': 'value' must be a string" },
		{ "    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: x, provideClusterInfo: yes}\n",
		  "'provideClusterInfo' must be true or false" },
		{ "    exec: x\n", "exec: must be a mapping" },
	};
	char *dir = tu_mkdtemp();
	struct tm_kube_source src = { 0 };
	struct tm_kube_config c;
	struct tm_err err;

	for (size_t i = 0; i < TM_ARRAY_LEN(cases); i++) {
		char *text = NULL, *p, *head = NULL;
		cr_assert(asprintf(&text, EXEC_KC("%s"), cases[i].user) > 0);
		p = write_file(dir, "k.yaml", text, 0600);
		src.kubeconfig = p;
		cr_assert_eq(load(&c, &src, &err), TM_EINVALID, "case %zu: %s", i, tm_err_msg(&err));
		cr_assert(asprintf(&head, "kubeconfig '%s': user 'u': exec: ", p) > 0);
		cr_assert(strstr(tm_err_msg(&err), head) != NULL, "case %zu: %s", i, tm_err_msg(&err));
		cr_assert(strstr(tm_err_msg(&err), cases[i].needle) != NULL, "case %zu: %s", i, tm_err_msg(&err));
		free(head);
		free(text);
		free(p);
	}
	tu_rmdir(dir);
}

/* ------------------------------------------------------------------ issue 11: credentials and names */

static const char *KC_HTTP =
	"apiVersion: v1\nkind: Config\ncurrent-context: h\n"
	"clusters:\n- {name: local, cluster: {server: 'http://127.0.0.1:8080'}}\n"
	"- {name: six, cluster: {server: 'http://[::1]:8080'}}\n"
	"- {name: named, cluster: {server: 'http://localhost:8080'}}\n"
	"- {name: remote, cluster: {server: 'http://10.1.2.3:8080'}}\n"
	"- {name: sneaky, cluster: {server: 'http://127.0.0.1.example.com:8080'}}\n"
	"users:\n- {name: tok, user: {token: plain-secret}}\n"
	"- {name: plug, user: {exec: {command: p, apiVersion: client.authentication.k8s.io/v1, interactiveMode: Never}}}\n"
	"contexts:\n- {name: h, context: {cluster: local, user: tok}}\n"
	"- {name: six, context: {cluster: six, user: plug}}\n"
	"- {name: named, context: {cluster: named, user: tok}}\n"
	"- {name: remote, context: {cluster: remote, user: tok}}\n"
	"- {name: sneaky, context: {cluster: sneaky, user: tok}}\n"
	"- {name: anon, context: {cluster: remote}}\n";

Test(kube_config, credentials_over_plain_http_are_refused)
{
	char *dir = tu_mkdtemp(), *p = write_file(dir, "h.yaml", KC_HTTP, 0600);
	static const char *const ctxs[] = { "h", "six", "named", "remote", "sneaky" };
	struct tm_kube_source src = { .kubeconfig = p };
	struct tm_kube_config c;
	struct tm_err err;

	for (size_t i = 0; i < TM_ARRAY_LEN(ctxs); i++) {
		src.context = ctxs[i];
		cr_assert_eq(load(&c, &src, &err), TM_EINVALID, "%s", ctxs[i]);
		cr_assert(strstr(tm_err_msg(&err), "is plain http") != NULL, "%s", tm_err_msg(&err));
		cr_assert(strstr(tm_err_msg(&err), "use an https:// server") != NULL, "%s", tm_err_msg(&err));
		cr_assert(strstr(tm_err_msg(&err), i < 3 ? "set TARMAC_ALLOW_PLAIN_HTTP=1" : "allowed only to 127.0.0.1") !=
				  NULL, "%s", tm_err_msg(&err));
		cr_assert(strstr(tm_err_msg(&err), "plain-secret") == NULL);
	}
	/* no credentials: nothing to protect */
	src.context = "anon";
	cr_assert_eq(load(&c, &src, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_not(c.plain_http_creds);
	tm_kube_config_release(&c);
	free(p);
	tu_rmdir(dir);
}

Test(kube_config, plain_http_to_loopback_only_with_the_opt_in)
{
	char *dir = tu_mkdtemp(), *p = write_file(dir, "h.yaml", KC_HTTP, 0600);
	static const char *const ok[] = { "h", "six", "named" }, *const never[] = { "remote", "sneaky" };
	struct tm_kube_source src = { .kubeconfig = p, .allow_plain_http = "1" };
	struct tm_kube_config c;
	struct tm_err err;

	for (size_t i = 0; i < TM_ARRAY_LEN(ok); i++) {
		src.context = ok[i];
		cr_assert_eq(load(&c, &src, &err), 0, "%s: %s", ok[i], tm_err_msg(&err));
		cr_assert(c.plain_http_creds, "%s: the client is told to warn", ok[i]);
		tm_kube_config_release(&c);
	}
	for (size_t i = 0; i < TM_ARRAY_LEN(never); i++) {
		src.context = never[i];
		cr_assert_eq(load(&c, &src, &err), TM_EINVALID, "%s", never[i]);
	}
	src.context = "h";
	src.allow_plain_http = "yes";
	cr_assert_eq(load(&c, &src, &err), TM_EINVALID, "only \"1\" opts in");
	free(p);
	tu_rmdir(dir);
}

Test(kube_config, tokens_with_control_characters_are_refused_unquoted)
{
	static const char *const bad[] = { "\"abc\\r\\nImpersonate-User: system:admin\"", "\"abc\\ndef\"", "\"a\\tb\"",
					   "\"a\\x7fb\"", "\"a\\x01b\"" };
	char *dir = tu_mkdtemp();

	for (size_t i = 0; i < TM_ARRAY_LEN(bad); i++) {
		char *text = NULL, *p;
		struct tm_kube_source src = { 0 };
		struct tm_kube_config c;
		struct tm_err err;

		cr_assert(asprintf(&text, "clusters: [{name: c, cluster: {server: 'https://k:6443'}}]\n"
				   "users: [{name: u, user: {token: %s}}]\n"
				   "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n", bad[i]) > 0);
		src.kubeconfig = p = write_file(dir, "k.yaml", text, 0600);
		cr_assert_eq(load(&c, &src, &err), TM_EINVALID, "%s", bad[i]);
		cr_assert(strstr(tm_err_msg(&err), "control character") != NULL, "%s", tm_err_msg(&err));
		cr_assert(strstr(tm_err_msg(&err), "abc") == NULL && strstr(tm_err_msg(&err), "Impersonate") == NULL,
			  "the token is not shown: %s", tm_err_msg(&err));
		free(text);
		free(p);
	}
	tu_rmdir(dir);
}

Test(kube_config, token_files_with_control_characters_or_nul_are_refused)
{
	char *dir = tu_mkdtemp(), *p = write_file(dir, "k.yaml",
		"clusters: [{name: c, cluster: {server: 'https://k:6443'}}]\nusers: [{name: u, user: {tokenFile: tok}}]\n"
		"contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n", 0600);
	struct tm_kube_source src = { .kubeconfig = p };
	struct tm_kube_config c;
	struct tm_err err;
	char *tok = NULL;
	FILE *f;

	free(write_file(dir, "tok", "secret-part\r\nImpersonate-User: system:admin\n", 0600));
	cr_assert_eq(load(&c, &src, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "control character (0x0d at byte 12)") != NULL, "%s", tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), "secret-part") == NULL, "%s", tm_err_msg(&err));
	cr_assert(asprintf(&tok, "%s/tok", dir) > 0);
	cr_assert_not_null(f = fopen(tok, "w"));
	fwrite("abc\0def\n", 1, 8, f);
	fclose(f);
	cr_assert_eq(load(&c, &src, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "NUL byte") != NULL, "%s", tm_err_msg(&err));
	free(tok);
	free(p);
	tu_rmdir(dir);
}

Test(kube_config, namespaces_from_the_kubeconfig_are_dns_labels)
{
	static const char *const bad[] = { "'../kube-system/secrets/x'", "'a/b'", "'UPPER'", "'a?b'", "'a%2Fb'",
					   "'-lead'", "'x-very-long-namespace-name-that-goes-over-sixty-three-characters-x'" };
	char *dir = tu_mkdtemp();

	for (size_t i = 0; i < TM_ARRAY_LEN(bad); i++) {
		char *text = NULL, *p;
		struct tm_kube_source src = { 0 };
		struct tm_kube_config c;
		struct tm_err err;

		cr_assert(asprintf(&text, "clusters: [{name: c, cluster: {server: 'https://k:6443'}}]\n"
				   "contexts: [{name: x, context: {cluster: c, namespace: %s}}]\ncurrent-context: x\n",
				   bad[i]) > 0);
		src.kubeconfig = p = write_file(dir, "k.yaml", text, 0600);
		cr_assert_eq(load(&c, &src, &err), TM_EINVALID, "%s", bad[i]);
		cr_assert(strstr(tm_err_msg(&err), "is not a DNS label") != NULL, "%s", tm_err_msg(&err));
		cr_assert(strstr(tm_err_msg(&err), "context 'x'") != NULL, "%s", tm_err_msg(&err));
		free(text);
		free(p);
	}
	tu_rmdir(dir);
}

Test(kube_config, in_cluster_namespace_file_is_a_dns_label)
{
	char *dir = tu_mkdtemp();
	struct tm_kube_source src = { .sa_dir = dir, .service_host = "10.0.0.1" };
	struct tm_kube_config c;
	struct tm_err err;

	free(write_file(dir, "token", "sa-token\n", 0600));
	free(write_file(dir, "ca.crt", "SA-CA\n", 0644));
	free(write_file(dir, "namespace", "../default\n", 0644));
	cr_assert_eq(load(&c, &src, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "does not hold a DNS label") != NULL, "%s", tm_err_msg(&err));
	tu_rmdir(dir);
}
