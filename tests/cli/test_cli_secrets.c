/* tarmac secrets as a user meets it: the messages, exit codes and files left behind,
 * and that no value is ever printed unless asked with --reveal. */
#include <stdarg.h>

#include "../secret/helpers.h"
#include "../clirun.h"

/* A scratch directory as the current directory, keys under its config/. */
static char *scratch(void)
{
	char *root = tu_mkdtemp(), cfg[600];

	snprintf(cfg, sizeof(cfg), "%s/config", root);
	cr_assert_eq(setenv("XDG_CONFIG_HOME", cfg, 1), 0);
	cr_assert_eq(unsetenv("TARMAC_KEY_FILE"), 0);
	cr_assert_eq(chdir(root), 0);
	return root;
}

static void keygen_and_init(void)
{
	struct run r;

	run_tarmac(&r, "secrets", "keygen", "--env", "dev", NULL);
	cr_assert_eq(r.rc, TM_EXIT_OK, "%s", err_of(&r));
	cr_assert(strstr(out_of(&r), "secrets/dev/recipient.pub") != NULL, "%s", out_of(&r));
	done(&r);
	run_tarmac(&r, "secrets", "init", "--env", "dev", NULL);
	cr_assert_eq(r.rc, TM_EXIT_OK, "%s", err_of(&r));
	cr_assert(strstr(out_of(&r), "generated    fernet-key\n") != NULL, "%s", out_of(&r));
	done(&r);
}

Test(secret_cli, keygen_init_list_and_nothing_printed_is_a_value)
{
	char *root = scratch(), *values[TM_SECRET_COUNT];
	struct run r, lst, js;

	keygen_and_init();
	cr_assert_eq(access("config/tarmac/keys/dev.key", F_OK), 0);
	run_tarmac(&r, "secrets", "init", "--env", "dev", NULL);
	cr_assert_eq(r.rc, 0);
	cr_assert(strstr(out_of(&r), "kept         fernet-key\n") != NULL, "%s", out_of(&r));
	done(&r);
	run_tarmac(&lst, "secrets", "list", "--env", "dev", NULL);
	cr_assert_eq(lst.rc, 0, "%s", err_of(&lst));
	cr_assert(strstr(out_of(&lst), "jwt-secret ") != NULL);
	run_tarmac(&js, "-o", "json", "secrets", "list", "--env", "dev", NULL);
	cr_assert_eq(js.rc, 0);
	cr_assert(strstr(out_of(&js), "\"fingerprint\": \"sha256:") != NULL, "%s", out_of(&js));
	for (int i = 0; i < TM_SECRET_COUNT; i++) {
		if (tm_secret_given((enum tm_secret_id)i))
			continue; /* not made by init */
		run_tarmac(&r, "secrets", "show", tm_secret_name((enum tm_secret_id)i), "--env", "dev", "--reveal", NULL);
		cr_assert_eq(r.rc, 0, "%s", err_of(&r));
		values[i] = strdup(out_of(&r));
		cr_assert_gt(strlen(values[i]), 20);
		done(&r);
	}
	for (int i = 0; i < TM_SECRET_COUNT; i++) {
		/* the deploy key: every base64 line of it */
		char *v, *save = NULL;

		if (tm_secret_given((enum tm_secret_id)i))
			continue;
		v = strdup(values[i]);
		for (char *line = strtok_r(v, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			if (strncmp(line, "-----", 5) == 0 || strlen(line) < 16)
				continue;
			cr_assert_null(strstr(out_of(&lst), line), "list printed %s", tm_secret_name((enum tm_secret_id)i));
			cr_assert_null(strstr(out_of(&js), line));
		}
		free(v);
		free(values[i]);
	}
	done(&lst);
	done(&js);
	tu_rmdir(root);
}

Test(secret_cli, show_without_reveal_refuses_and_says_why)
{
	char *root = scratch();
	struct run r;

	keygen_and_init();
	run_tarmac(&r, "secrets", "show", "fernet", "--env", "dev", NULL);
	cr_assert_eq(r.rc, TM_EXIT_USAGE);
	cr_assert_str_eq(out_of(&r), "");
	cr_assert(strstr(err_of(&r), "refusing to print secret 'fernet-key' without --reveal: the value would stay in "
				      "your terminal's scrollback") != NULL, "%s", err_of(&r));
	done(&r);
	run_tarmac(&r, "secrets", "show", "nope", "--env", "dev", "--reveal", NULL);
	cr_assert_eq(r.rc, TM_EXIT_USAGE);
	done(&r);
	run_tarmac(&r, "secrets", "list", NULL);
	cr_assert_eq(r.rc, TM_EXIT_USAGE);
	cr_assert(strstr(err_of(&r), "secrets list needs --env ENV") != NULL, "%s", err_of(&r));
	done(&r);
	run_tarmac(&r, "secrets", "init", "--env", "dev", "--force", "fernet-keyz", NULL);
	cr_assert_eq(r.rc, TM_EXIT_USAGE);
	cr_assert(strstr(err_of(&r), "no secret 'fernet-keyz'") != NULL, "%s", err_of(&r));
	done(&r);
	tu_rmdir(root);
}

/* Runs show --reveal of jwt-secret with the given key file; returns the run (caller done()s). */
static void show_with(struct run *r, const char *dir, const char *key)
{
	run_tarmac(r, "secrets", "show", "jwt-secret", "--env", "dev", "--dir", dir, "--key-file", key, "--reveal", NULL);
}

Test(secret_cli, wrong_key_corrupt_truncated_and_version_read_apart)
{
	char *root = scratch(), *text;
	struct run r;
	size_t len;

	keygen_and_init();
	run_tarmac(&r, "secrets", "keygen", "--env", "prod", "--dir", "other", "--out", "other.key", NULL);
	cr_assert_eq(r.rc, 0, "%s", err_of(&r));
	done(&r);
	show_with(&r, "secrets/dev", "other.key");
	cr_assert_eq(r.rc, TM_EXIT_ERROR);
	cr_assert(strstr(err_of(&r), "is sealed to key") != NULL && strstr(err_of(&r), "(of environment 'prod')"),
		  "%s", err_of(&r));
	done(&r);
	text = slurp("secrets/dev/jwt-secret.sealed", &len);
	/* flipped byte */
	cr_assert_eq(mkdir("flip", 0755), 0);
	cr_assert_eq(link("secrets/dev/recipient.pub", "flip/recipient.pub"), 0);
	text[len - 10] = text[len - 10] == 'A' ? 'B' : 'A';
	spit("flip/jwt-secret.sealed", text, len, 0644);
	text[len - 10] = text[len - 10] == 'A' ? 'B' : 'A';
	show_with(&r, "flip", "config/tarmac/keys/dev.key");
	cr_assert_eq(r.rc, TM_EXIT_ERROR);
	cr_assert(strstr(err_of(&r), "flip/jwt-secret.sealed: the body does not match its fingerprint") != NULL, "%s",
		  err_of(&r));
	done(&r);
	/* truncated */
	spit("flip/jwt-secret.sealed", text, len / 2, 0644);
	show_with(&r, "flip", "config/tarmac/keys/dev.key");
	cr_assert_eq(r.rc, TM_EXIT_ERROR);
	cr_assert(strstr(err_of(&r), "truncated") != NULL, "%s", err_of(&r));
	done(&r);
	/* a version from the future */
	text[15] = '7';
	spit("flip/jwt-secret.sealed", text, len, 0644);
	show_with(&r, "flip", "config/tarmac/keys/dev.key");
	cr_assert_eq(r.rc, TM_EXIT_ERROR);
	cr_assert(strstr(err_of(&r), "sealed secret file format version 7 is not supported") != NULL, "%s", err_of(&r));
	done(&r);
	/* -v names the error class */
	run_tarmac(&r, "-v", "secrets", "show", "jwt", "--env", "dev", "--key-file", "other.key", "--reveal", NULL);
	cr_assert(strstr(err_of(&r), "(wrong key, raised at") != NULL, "%s", err_of(&r));
	done(&r);
	free(text);
	tu_rmdir(root);
}

Test(secret_cli, key_file_from_the_environment_and_mode_checks)
{
	char *root = scratch();
	struct run r;

	keygen_and_init();
	cr_assert_eq(rename("config/tarmac/keys/dev.key", "elsewhere.key"), 0);
	run_tarmac(&r, "secrets", "show", "jwt", "--env", "dev", "--reveal", NULL);
	cr_assert_eq(r.rc, TM_EXIT_ERROR);
	cr_assert(strstr(err_of(&r), "pass --key-file or set TARMAC_KEY_FILE") != NULL, "%s", err_of(&r));
	done(&r);
	cr_assert_eq(setenv("TARMAC_KEY_FILE", "elsewhere.key", 1), 0);
	run_tarmac(&r, "secrets", "show", "jwt", "--env", "dev", "--reveal", NULL);
	cr_assert_eq(r.rc, 0, "%s", err_of(&r));
	done(&r);
	cr_assert_eq(chmod("elsewhere.key", 0644), 0);
	run_tarmac(&r, "secrets", "show", "jwt", "--env", "dev", "--reveal", NULL);
	cr_assert_eq(r.rc, TM_EXIT_ERROR);
	cr_assert(strstr(err_of(&r), "'elsewhere.key' is accessible to group or others (mode 0644)") != NULL, "%s",
		  err_of(&r));
	cr_assert_str_eq(out_of(&r), "");
	done(&r);
	tu_rmdir(root);
}

Test(secret_cli, force_warns_what_breaks_and_rotate_rolls_back)
{
	char *root = scratch(), *before;
	struct run r;

	keygen_and_init();
	run_tarmac(&r, "secrets", "show", "db-password", "--env", "dev", "--reveal", NULL);
	before = strdup(out_of(&r));
	done(&r);
	run_tarmac(&r, "secrets", "init", "--env", "dev", "--force", "db-password", NULL);
	cr_assert_eq(r.rc, 0, "%s", err_of(&r));
	cr_assert(strstr(err_of(&r), "regenerating 'db-password'") != NULL, "%s", err_of(&r));
	cr_assert(strstr(err_of(&r), "ALTER ROLE") != NULL, "%s", err_of(&r));
	cr_assert(strstr(out_of(&r), "regenerated  db-password\n") != NULL, "%s", out_of(&r));
	done(&r);
	run_tarmac(&r, "secrets", "rotate", "db-password", "--env", "dev", "--rollback", NULL);
	cr_assert_eq(r.rc, 0, "%s", err_of(&r));
	done(&r);
	run_tarmac(&r, "secrets", "show", "db-password", "--env", "dev", "--reveal", NULL);
	cr_assert_str_eq(out_of(&r), before);
	done(&r);
	run_tarmac(&r, "secrets", "rotate", "fernet", "--env", "dev", "--finish", NULL);
	cr_assert_eq(r.rc, TM_EXIT_ERROR);
	cr_assert(strstr(err_of(&r), "no fernet-key rotation is staged") != NULL, "%s", err_of(&r));
	done(&r);
	free(before);
	tu_rmdir(root);
}

Test(secret_cli, help_describes_secrets)
{
	struct run r;

	run_tarmac(&r, "help", "secrets", NULL);
	cr_assert_eq(r.rc, 0);
	cr_assert(strstr(out_of(&r), "--reveal") != NULL);
	cr_assert(strstr(out_of(&r), "--key-file") != NULL);
	done(&r);
}

/* render without secrets/<env>/ leaves the Secrets out and says so on stderr, not in the YAML */
Test(secret_cli, render_says_when_it_leaves_the_secrets_out)
{
	char *root = scratch();
	struct run r;

	run_tarmac(&r, "render", "--env", "prod", NULL);
	cr_assert_eq(r.rc, TM_EXIT_OK, "%s", err_of(&r));
	cr_assert(strstr(err_of(&r), "warn") != NULL, "%s", err_of(&r));
	cr_assert(strstr(err_of(&r), "no sealed secrets in 'secrets/prod': the stack's Secrets are left out") != NULL,
		  "%s", err_of(&r));
	cr_assert_null(strstr(out_of(&r), "no sealed secrets"));
	cr_assert_null(strstr(out_of(&r), "kind: Secret\n"), "no Secret rendered");
	cr_assert(strstr(out_of(&r), "kind: Deployment") != NULL);
	done(&r);
	run_tarmac(&r, "render", "--env", "prod", "--no-secrets", NULL);
	cr_assert_eq(r.rc, TM_EXIT_OK, "%s", err_of(&r));
	cr_assert_null(strstr(err_of(&r), "no sealed secrets"), "--no-secrets asked for it: %s", err_of(&r));
	done(&r);
	keygen_and_init();
	run_tarmac(&r, "render", "--env", "dev", NULL);
	cr_assert_eq(r.rc, TM_EXIT_OK, "%s", err_of(&r));
	cr_assert_null(strstr(err_of(&r), "no sealed secrets"), "%s", err_of(&r));
	cr_assert(strstr(out_of(&r), "kind: Secret\n") != NULL);
	done(&r);
	tu_rmdir(root);
}

/* --finish compares with the cluster, never the files alone: no cluster, no finish */
Test(secret_cli, finish_without_the_cluster_is_refused_and_changes_nothing)
{
	char *root = scratch(), *staged;
	struct run r;

	keygen_and_init();
	run_tarmac(&r, "secrets", "rotate", "fernet-key", "--env", "dev", NULL);
	cr_assert_eq(r.rc, TM_EXIT_OK, "%s", err_of(&r));
	cr_assert(strstr(out_of(&r), "run 'tarmac up --env dev'") != NULL, "%s", out_of(&r));
	cr_assert(strstr(out_of(&r), "rotate-fernet-key") != NULL, "%s", out_of(&r));
	done(&r);
	run_tarmac(&r, "secrets", "show", "fernet-key", "--env", "dev", "--reveal", NULL);
	staged = strdup(out_of(&r));
	cr_assert(strchr(staged, ',') != NULL);
	done(&r);
	cr_assert_eq(setenv("KUBECONFIG", "/nonexistent/kubeconfig", 1), 0);
	run_tarmac(&r, "secrets", "rotate", "fernet-key", "--env", "dev", "--finish", NULL);
	cr_assert_neq(r.rc, TM_EXIT_OK);
	cr_assert(strstr(err_of(&r), "compare the staged Fernet keys with the deployed ones") != NULL, "%s", err_of(&r));
	done(&r);
	cr_assert_eq(unsetenv("KUBECONFIG"), 0);
	run_tarmac(&r, "secrets", "show", "fernet-key", "--env", "dev", "--reveal", NULL);
	cr_assert_str_eq(out_of(&r), staged, "the staged keys are still there");
	done(&r);
	free(staged);
	tu_rmdir(root);
}

/* a staged rotation: the Job re-encrypts; without a migration Job to model it on, the
 * manual step is named instead */
Test(secret_cli, a_staged_rotation_renders_its_job_or_names_the_manual_step)
{
	char *root = scratch();
	struct run r;

	keygen_and_init();
	run_tarmac(&r, "secrets", "rotate", "fernet-key", "--env", "dev", NULL);
	cr_assert_eq(r.rc, TM_EXIT_OK, "%s", err_of(&r));
	done(&r);
	run_tarmac(&r, "render", "--env", "dev", NULL);
	cr_assert_eq(r.rc, TM_EXIT_OK, "%s", err_of(&r));
	cr_assert(strstr(out_of(&r), "name: airflow-rotate-fernet-key\n") != NULL);
	cr_assert(strstr(out_of(&r), "- rotate-fernet-key\n") != NULL, "the Job runs 'airflow rotate-fernet-key'");
	done(&r);
	run_tarmac(&r, "render", "--env", "dev", "--set", "migrateDatabaseJob.enabled=false", NULL);
	cr_assert_eq(r.rc, TM_EXIT_OK, "%s", err_of(&r));
	cr_assert_null(strstr(out_of(&r), "airflow-rotate-fernet-key"));
	cr_assert(strstr(err_of(&r), "exec deploy/airflow-scheduler -- airflow rotate-fernet-key' by hand") != NULL,
		  "%s", err_of(&r));
	done(&r);
	tu_rmdir(root);
}
