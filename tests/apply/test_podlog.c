/* A failing container's log lines in errors: which container is blamed, which Secrets
 * its pod can read, how their values are blanked, and the excerpt shown. */
#include <jansson.h>
#include <string.h>

#include "../testutil.h"
#include "apply/podlog.h"
#include "apply/ready.h"

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);

	cr_assert_not_null(j, "%s: %s", text, jerr.text);
	return j;
}

static void expect_culprit(const char *status, const char *want, bool want_previous)
{
	char text[2048];
	json_t *pod;
	const char *name = "unset";
	bool previous = !want_previous, found;

	snprintf(text, sizeof(text), "{\"status\": %s}", status);
	pod = parse(text);
	found = tm_pod_culprit(pod, &name, &previous);
	if (!want) {
		cr_assert(!found, "%s: blamed %s", status, name);
		cr_assert_null(name);
	} else {
		cr_assert(found, "%s: nobody blamed", status);
		cr_assert_str_eq(name, want, "%s", status);
		cr_assert_eq(previous, want_previous, "%s", status);
	}
	json_decref(pod);
}

Test(apply_podlog, culprit_is_the_container_that_exited_non_zero)
{
	expect_culprit("{\"containerStatuses\": [{\"name\": \"a\", \"state\": {\"running\": {}}},"
		       "{\"name\": \"b\", \"state\": {\"terminated\": {\"exitCode\": 3}}}]}", "b", false);
	/* crash loop: the run that failed is the previous one */
	expect_culprit("{\"containerStatuses\": [{\"name\": \"a\", \"state\": {\"waiting\": {\"reason\": "
		       "\"CrashLoopBackOff\"}}, \"lastState\": {\"terminated\": {\"exitCode\": 1}}}]}", "a", true);
	/* init containers come first */
	expect_culprit("{\"initContainerStatuses\": [{\"name\": \"wait\", \"state\": {\"terminated\": {\"exitCode\": 2}}}],"
		       "\"containerStatuses\": [{\"name\": \"main\", \"state\": {\"terminated\": {\"exitCode\": 1}}}]}",
		       "wait", false);
	/* clean exits, a first start and nonsense blame nobody */
	expect_culprit("{\"containerStatuses\": [{\"name\": \"a\", \"state\": {\"terminated\": {\"exitCode\": 0}}}]}", NULL,
		       false);
	expect_culprit("{\"containerStatuses\": [{\"name\": \"a\", \"state\": {\"waiting\": {\"reason\": "
		       "\"ContainerCreating\"}}}]}", NULL, false);
	expect_culprit("{\"containerStatuses\": 7}", NULL, false);
	expect_culprit("{\"containerStatuses\": [{\"state\": {\"terminated\": {\"exitCode\": 1}}}]}", NULL, false);
}

Test(apply_podlog, secret_names_from_env_envfrom_and_volumes)
{
	json_t *pod = parse(
		"{\"spec\": {\"initContainers\": [{\"env\": [{\"name\": \"P\", \"valueFrom\": {\"secretKeyRef\": "
		"{\"name\": \"db\", \"key\": \"password\"}}}]}],"
		"\"containers\": [{\"env\": [{\"name\": \"Q\", \"valueFrom\": {\"secretKeyRef\": {\"name\": \"db\"}}},"
		"{\"name\": \"C\", \"valueFrom\": {\"configMapKeyRef\": {\"name\": \"cm\"}}}, {\"name\": \"V\", \"value\": \"x\"}],"
		"\"envFrom\": [{\"secretRef\": {\"name\": \"env\"}}, {\"configMapRef\": {\"name\": \"cm2\"}}]}],"
		"\"volumes\": [{\"name\": \"a\", \"secret\": {\"secretName\": \"files\"}},"
		"{\"name\": \"b\", \"projected\": {\"sources\": [{\"secret\": {\"name\": \"proj\"}}, {\"configMap\": "
		"{\"name\": \"cm3\"}}]}}, {\"name\": \"c\", \"emptyDir\": {}}]}}");
	json_t *names = json_array(), *want = parse("[\"db\", \"env\", \"files\", \"proj\"]");
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_pod_secret_names(pod, names, &err), 0, "%s", tm_err_msg(&err));
	cr_assert(json_equal(names, want), "got %s", json_dumps(names, JSON_COMPACT));
	json_decref(pod);
	json_decref(names);
	json_decref(want);
}

static void expect_redacted(const char *log, const char *value, const char *want)
{
	struct tm_buf b = TM_BUF_INIT("log", 1 << 16);
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_buf_puts(&b, log, &err), 0);
	cr_assert_eq(tm_podlog_redact(&b, value, strlen(value), &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(tm_buf_cstr(&b), want, "log %s value %s", log, value);
	tm_buf_release(&b);
}

Test(apply_podlog, secret_values_are_blanked)
{
	expect_redacted("connecting with s3cret-pw to s3cret-pw\n", "s3cret-pw",
			"connecting with [redacted] to [redacted]\n");
	expect_redacted("postgresql://u:hunter22@db/x", "hunter22", "postgresql://u:[redacted]@db/x");
	/* a multi-line value (a key file): each long enough line on its own too */
	expect_redacted("line two of the key: BBBBBBBB\n", "AAAAAAAAAA\nBBBBBBBB\nC",
			"line two of the key: [redacted]\n");
	/* values too short to hide anything are left, so "1" does not blank every digit */
	expect_redacted("replicas: 1 of 123\n", "1", "replicas: 1 of 123\n");
	expect_redacted("nothing to hide\n", "absent-value", "nothing to hide\n");
	expect_redacted("", "value", "");
}

static void expect_excerpt(const char *log, int want_lines, const char *want)
{
	struct tm_buf out = TM_BUF_INIT("out", 1 << 16);
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_podlog_excerpt(&out, log, strlen(log), "| ", &err), want_lines);
	cr_assert_str_eq(tm_buf_cstr(&out), want);
	tm_buf_release(&out);
}

Test(apply_podlog, excerpt_keeps_the_last_non_empty_lines)
{
	expect_excerpt("a\n\nb  \r\n\n", 2, "\n| a\n| b");
	expect_excerpt("", 0, "");
	expect_excerpt("\n\n \n", 0, "");
	expect_excerpt("no newline at the end", 1, "\n| no newline at the end");
	expect_excerpt("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", TM_PODLOG_LINES, "\n| 3\n| 4\n| 5\n| 6\n| 7\n| 8\n| 9\n| 10");
}

Test(apply_podlog, excerpt_cuts_long_lines_on_a_utf8_boundary)
{
	char log[400], want[400];
	size_t i;

	/* TM_PODLOG_LINE_MAX - 1 ASCII bytes, then a 2-byte character across the limit */
	for (i = 0; i < TM_PODLOG_LINE_MAX - 1; i++)
		log[i] = 'x';
	memcpy(log + i, "\xc3\xa9tail", 7);
	snprintf(want, sizeof(want), "\n| %.*s...", TM_PODLOG_LINE_MAX - 1, log);
	expect_excerpt(log, 1, want);
}

Test(apply_podlog, no_note_without_a_client_or_a_culprit)
{
	struct tm_buf out = TM_BUF_INIT("out", 1 << 16);
	struct tm_err err;
	json_t *pod = parse("{\"status\": {\"containerStatuses\": [{\"name\": \"a\", \"state\": {\"terminated\": "
			    "{\"exitCode\": 1}}}]}}");

	tm_err_init(&err);
	cr_assert_eq(tm_podlog_note(NULL, pod, &out, &err), 0);
	cr_assert_eq(out.len, 0);
	json_decref(pod);
	tm_buf_release(&out);
}
