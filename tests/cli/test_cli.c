/* The tarmac command as a user meets it: help, version, exit codes, "did you mean". */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <yaml.h>

#include "../clirun.h"

Test(cli, help_lists_every_command_and_global_option)
{
	struct run r;

	run_tarmac(&r, "--help", NULL);
	cr_assert_eq(r.rc, TM_EXIT_OK);
	for (size_t i = 0; i < tm_ncommands; i++)
		cr_assert(strstr(out_of(&r), tm_commands[i].name) != NULL, "%s missing", tm_commands[i].name);
	for (const struct tm_optspec *o = tm_global_opts; o->id; o++)
		cr_assert(strstr(out_of(&r), o->name) != NULL, "--%s missing", o->name);
	cr_assert(strstr(out_of(&r), "5 cluster unreachable") != NULL);
	done(&r);
}

Test(cli, no_command_is_a_usage_error_with_help_on_stderr)
{
	struct run r;

	run_tarmac(&r, NULL);
	cr_assert_eq(r.rc, TM_EXIT_USAGE);
	cr_assert(strstr(err_of(&r), "Usage: tarmac") != NULL);
	cr_assert_str_eq(out_of(&r), "");
	done(&r);
}

Test(cli, help_cmd_and_cmd_help_agree)
{
	struct run a, b;

	run_tarmac(&a, "help", "version", NULL);
	run_tarmac(&b, "version", "--help", NULL);
	cr_assert_eq(a.rc, 0);
	cr_assert_eq(b.rc, 0);
	cr_assert(strstr(out_of(&a), "Usage: tarmac version") != NULL);
	cr_assert_str_eq(out_of(&a), out_of(&b));
	done(&a);
	done(&b);
}

Test(cli, unknown_command_suggests_the_nearest)
{
	struct run r;

	run_tarmac(&r, "verison", NULL);
	cr_assert_eq(r.rc, TM_EXIT_USAGE);
	cr_assert(strstr(err_of(&r), "'verison' is not a tarmac command") != NULL, "%s", err_of(&r));
	cr_assert(strstr(err_of(&r), "Did you mean 'version'?") != NULL, "%s", err_of(&r));
	done(&r);
	run_tarmac(&r, "help", "vers", NULL);
	cr_assert_eq(r.rc, TM_EXIT_USAGE);
	cr_assert(strstr(err_of(&r), "Did you mean 'version'?") != NULL, "prefix match: %s", err_of(&r));
	done(&r);
	run_tarmac(&r, "zzzzzzzz", NULL);
	cr_assert(strstr(err_of(&r), "Did you mean") == NULL, "nothing close: %s", err_of(&r));
	done(&r);
}

Test(cli, unknown_option_suggests_the_nearest)
{
	struct run r;

	run_tarmac(&r, "version", "--kubeconfg", "x", NULL);
	cr_assert_eq(r.rc, TM_EXIT_USAGE);
	cr_assert(strstr(err_of(&r), "unknown option '--kubeconfg' for 'tarmac version'") != NULL, "%s",
		  err_of(&r));
	cr_assert(strstr(err_of(&r), "Did you mean '--kubeconfig'?") != NULL, "%s", err_of(&r));
	done(&r);
}

Test(cli, option_values_are_checked)
{
	struct run r;

	run_tarmac(&r, "-o", "yaml", "version", NULL);
	cr_assert_eq(r.rc, TM_EXIT_USAGE);
	cr_assert(strstr(err_of(&r), "--output 'yaml': expected 'text' or 'json'") != NULL);
	done(&r);
	run_tarmac(&r, "version", "--namespace", "Bad_NS", NULL);
	cr_assert_eq(r.rc, TM_EXIT_USAGE);
	cr_assert(strstr(err_of(&r), "--namespace 'Bad_NS'") != NULL);
	done(&r);
	run_tarmac(&r, "version", "--release", NULL);
	cr_assert_eq(r.rc, TM_EXIT_USAGE);
	cr_assert(strstr(err_of(&r), "needs a value") != NULL);
	done(&r);
	run_tarmac(&r, "version", "--no-color=yes", NULL);
	cr_assert_eq(r.rc, TM_EXIT_USAGE);
	cr_assert(strstr(err_of(&r), "takes no value") != NULL);
	done(&r);
	run_tarmac(&r, "version", "extra", NULL);
	cr_assert_eq(r.rc, TM_EXIT_USAGE);
	done(&r);
}

Test(cli, global_options_anywhere_and_in_every_spelling)
{
	struct run r;

	json_error_t jerr;
	json_t *o;

	run_tarmac(&r, "version", "-ojson", "-vv", "--namespace=prod", "--release", "af2", "--no-color",
		   "--kubeconfig", "/nonexistent", "--context", "ctx", "--client", NULL);
	cr_assert_eq(r.rc, TM_EXIT_OK, "%s", err_of(&r));
	o = json_loads(out_of(&r), 0, &jerr);
	cr_assert_not_null(o, "-ojson after the command: %s", jerr.text);
	cr_assert(json_is_string(json_object_get(o, "version")));
	json_decref(o);
	done(&r);
	/* after the command, = or a separate word: they take effect (render puts them into
	 * every object) */
	run_tarmac(&r, "render", "--namespace=elsewhere", "--no-secrets", "--release", "af2", NULL);
	cr_assert_eq(r.rc, TM_EXIT_OK, "%s", err_of(&r));
	cr_assert(strstr(out_of(&r), "namespace: \"elsewhere\"") || strstr(out_of(&r), "namespace: elsewhere"),
		  "--namespace= not applied");
	cr_assert(strstr(out_of(&r), "name: af2-scheduler"), "--release not applied");
	cr_assert_null(strstr(out_of(&r), "namespace: airflow"));
	done(&r);
}

Test(cli, version_reports_the_linked_libraries)
{
	struct run r;
	char want[64];

	run_tarmac(&r, "version", NULL);
	cr_assert_eq(r.rc, TM_EXIT_OK);
	cr_assert(strncmp(out_of(&r), "tarmac 0.", 9) == 0, "%s", out_of(&r));
	/* the versions are the libraries' own, read at run time */
	snprintf(want, sizeof(want), "libcurl    %s\n", curl_version_info(CURLVERSION_NOW)->version);
	cr_assert(strstr(out_of(&r), want) != NULL, "%s", out_of(&r));
	snprintf(want, sizeof(want), "libsodium  %s\n", sodium_version_string());
	cr_assert(strstr(out_of(&r), want) != NULL);
	snprintf(want, sizeof(want), "libyaml    %s\n", yaml_get_version_string());
	cr_assert(strstr(out_of(&r), want) != NULL);
	for (const char *l = "libgit2\0openssl\0jansson\0"; *l; l += strlen(l) + 1)
		cr_assert(strstr(out_of(&r), l) != NULL, "%s missing", l);
	done(&r);
}

Test(cli, version_json)
{
	struct run r;
	json_error_t jerr;
	json_t *o, *libs;

	run_tarmac(&r, "-o", "json", "version", NULL);
	cr_assert_eq(r.rc, TM_EXIT_OK);
	o = json_loads(out_of(&r), 0, &jerr);
	cr_assert_not_null(o, "%s", jerr.text);
	cr_assert(json_is_string(json_object_get(o, "version")));
	cr_assert(json_is_string(json_object_get(o, "commit")));
	cr_assert(json_is_string(json_object_get(o, "target")));
	libs = json_object_get(o, "libraries");
	cr_assert_eq(json_object_size(libs), 9);
	cr_assert_str_eq(json_string_value(json_object_get(libs, "jansson")), jansson_version_str());
	json_decref(o);
	done(&r);
}

Test(cli, runs_twice_in_one_process_with_no_leftover_state)
{
	struct run a, b;

	run_tarmac(&a, "-o", "json", "version", NULL);
	run_tarmac(&b, "version", NULL);
	cr_assert_eq(a.rc, 0);
	cr_assert_eq(b.rc, 0);
	cr_assert_eq(out_of(&a)[0], '{');
	cr_assert_eq(out_of(&b)[0], 't', "the second run must not inherit -o json");
	done(&a);
	done(&b);
}

Test(cli, exit_code_contract)
{
	cr_assert_eq(tm_exit_for(TM_OK), 0);
	cr_assert_eq(tm_exit_for(TM_ERROR), 1);
	cr_assert_eq(tm_exit_for(TM_EINVALID), 1);
	cr_assert_eq(tm_exit_for(TM_ETIMEOUT), 4);
	cr_assert_eq(tm_exit_for(TM_EUNAVAILABLE), 5);
	cr_assert_eq(tm_exit_for(TM_EAUTH), 5);
	cr_assert_eq(tm_exit_for(TM_ELOCKED), 6);
	for (int c = TM_EXIT_OK; c <= TM_EXIT_LOCKED; c++)
		cr_assert_str_neq(tm_exit_name(c), "unknown", "exit %d has no name", c);
	cr_assert_str_eq(tm_exit_name(TM_EXIT_DIFF), "changes");
}


Test(cli, a_bad_kubeconfig_is_an_error_not_a_missing_cluster)
{
	struct run r;

	run_tarmac(&r, "version", "--kubeconfig", "/nonexistent/kc", NULL);
	cr_assert_eq(r.rc, TM_EXIT_ERROR);
	cr_assert(strstr(out_of(&r), "tarmac 0.") != NULL, "the client part is still printed");
	cr_assert(strstr(err_of(&r), "error: kubeconfig from --kubeconfig: open '/nonexistent/kc'") != NULL, "%s",
		  err_of(&r));
	done(&r);
}

Test(cli, no_kubeconfig_anywhere_means_client_only)
{
	struct run r;

	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	setenv("HOME", "/nonexistent-home", 1);
	run_tarmac(&r, "version", NULL);
	cr_assert_eq(r.rc, TM_EXIT_OK, "%s", err_of(&r));
	cr_assert(strstr(out_of(&r), "server: no kubeconfig found") != NULL, "%s", out_of(&r));
	done(&r);
}

Test(cli, unreachable_cluster_exits_5)
{
	char *dir = tu_mkdtemp(), *kc = NULL;
	const char *text = "current-context: x\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
			   "contexts:\n- name: x\n  context: {cluster: c}\n";
	struct tm_err err;
	struct run r;

	cr_assert(asprintf(&kc, "%s/kc", dir) > 0);
	tm_err_init(&err);
	cr_assert_eq(tm_file_write_atomic(kc, text, strlen(text), 0600, &err), 0);
	run_tarmac(&r, "version", "--kubeconfig", kc, NULL);
	cr_assert_eq(r.rc, TM_EXIT_UNREACHABLE, "%s", err_of(&r));
	cr_assert(strstr(err_of(&r), "cannot reach the cluster at 'https://127.0.0.1:1'") != NULL, "%s", err_of(&r));
	done(&r);
	free(kc);
	tu_rmdir(dir);
}

Test(cli, a_kubeconfig_namespace_must_be_a_dns_label)
{
	char *dir = tu_mkdtemp(), *kc = NULL;
	const char *text = "current-context: x\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
			   "contexts:\n- name: x\n  context: {cluster: c, namespace: '../kube-system'}\n";
	struct tm_err err;
	struct run r;

	cr_assert(asprintf(&kc, "%s/kc", dir) > 0);
	tm_err_init(&err);
	cr_assert_eq(tm_file_write_atomic(kc, text, strlen(text), 0600, &err), 0);
	run_tarmac(&r, "status", "--kubeconfig", kc, NULL);
	cr_assert_eq(r.rc, TM_EXIT_ERROR, "%s", err_of(&r));
	cr_assert(strstr(err_of(&r), "context 'x': namespace '../kube-system' is not a DNS label") != NULL,
		  "%s", err_of(&r));
	done(&r);
	/* the kubeconfig itself is malformed: --namespace naming another does not make it usable */
	run_tarmac(&r, "version", "--kubeconfig", kc, "-n", "airflow", NULL);
	cr_assert_eq(r.rc, TM_EXIT_ERROR, "%s", err_of(&r));
	cr_assert(strstr(err_of(&r), "fix the context's namespace") != NULL, "%s", err_of(&r));
	done(&r);
	free(kc);
	tu_rmdir(dir);
}

/* The command table turns core dumps off before a command that holds secrets runs. */
Test(cli, commands_holding_secrets_turn_core_dumps_off)
{
	struct rlimit rl;
	struct run r;

	cr_assert_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
	run_tarmac(&r, "values", "--env", "dev", NULL);
	done(&r);
	cr_assert_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1, "values holds no secret: left as it was");
	run_tarmac(&r, "secrets", NULL);
	cr_assert_eq(r.rc, TM_EXIT_USAGE);
	done(&r);
	cr_assert_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
	cr_assert_eq(getrlimit(RLIMIT_CORE, &rl), 0);
	cr_assert_eq(rl.rlim_cur, 0);
	cr_assert_eq(rl.rlim_max, 0);
}

/* A full disk is a failure with a message, not exit 0 (issue 12); a pipe whose reader
 * left is not tarmac's failure. */
Test(cli, output_that_cannot_be_written_is_an_error)
{
	char *argv[] = { "tarmac", "render", "--env", "prod", NULL };
	struct tu_capture err;
	FILE *full = fopen("/dev/full", "w");
	int fds[2], rc;

	cr_assert_not_null(full);
	tu_capture_start(&err);
	rc = tm_cli_main(4, argv, full, err.f);
	fclose(full);
	cr_assert_eq(rc, TM_EXIT_ERROR, "exit %d", rc);
	cr_assert(strstr(tu_capture_text(&err), "error: write to standard output: ") != NULL, "%s", tu_capture_text(&err));
	tu_capture_end(&err);

	cr_assert_eq(pipe(fds), 0);
	close(fds[0]);
	signal(SIGPIPE, SIG_IGN);
	FILE *pipe_out = fdopen(fds[1], "w");
	cr_assert_not_null(pipe_out);
	tu_capture_start(&err);
	rc = tm_cli_main(4, argv, pipe_out, err.f);
	fclose(pipe_out);
	cr_assert_eq(rc, TM_EXIT_OK, "a reader that left made exit %d: %s", rc, tu_capture_text(&err));
	tu_capture_end(&err);
}
