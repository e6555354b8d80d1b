/* The log/progress sink in its three modes. */
#include <jansson.h>

#include "../testutil.h"
#include "tarmac/util.h"

Test(util_sink, plain_mode_writes_one_line_per_event)
{
	struct tu_capture c;
	struct tm_sink s;
	struct tm_event ev = { .level = TM_INFO, .kind = "wait", .subject = "Deployment airflow/scheduler",
			       .msg = "1/2 available", .status = true };

	tu_capture_start(&c);
	tm_sink_init(&s, c.f, TM_SINK_PLAIN, false, true, 0);
	tm_sink_event(&s, &ev);
	tm_sink_log(&s, TM_WARN, "insecure-skip-tls-verify is set for '%s'", "prod");
	tm_sink_log(&s, TM_DEBUG, "hidden at verbosity 0");
	const char *t = tu_capture_text(&c);
	cr_assert(strstr(t, "] Deployment airflow/scheduler: 1/2 available\n") != NULL, "%s", t);
	cr_assert(strstr(t, "] warning: insecure-skip-tls-verify is set for 'prod'\n") != NULL, "%s", t);
	cr_assert(strstr(t, "hidden") == NULL);
	cr_assert(strchr(t, '\r') == NULL, "plain output never redraws");
	cr_assert(strstr(t, "\033[") == NULL, "no color outside a TTY");
	tu_capture_end(&c);
}

Test(util_sink, debug_shows_with_verbosity)
{
	struct tu_capture c;
	struct tm_sink s;

	tu_capture_start(&c);
	tm_sink_init(&s, c.f, TM_SINK_PLAIN, false, false, 1);
	tm_sink_log(&s, TM_DEBUG, "GET /version 200");
	cr_assert(strstr(tu_capture_text(&c), "GET /version 200") != NULL);
	tu_capture_end(&c);
}

Test(util_sink, json_mode_writes_parseable_lines)
{
	struct tu_capture c;
	struct tm_sink s;
	struct tm_event ev = { .level = TM_INFO, .kind = "phase", .subject = "database",
			       .msg = "applying 3 objects \"quoted\"" };
	json_error_t jerr;
	json_t *o;

	tu_capture_start(&c);
	tm_sink_init(&s, c.f, TM_SINK_JSON, true, true, 0);
	tm_sink_event(&s, &ev);
	tm_sink_log(&s, TM_ERRORLVL, "second");
	const char *t = tu_capture_text(&c);
	const char *nl = strchr(t, '\n');
	cr_assert_not_null(nl);
	o = json_loadb(t, (size_t)(nl - t), 0, &jerr);
	cr_assert_not_null(o, "%s", jerr.text);
	cr_assert_str_eq(json_string_value(json_object_get(o, "event")), "phase");
	cr_assert_str_eq(json_string_value(json_object_get(o, "subject")), "database");
	cr_assert_str_eq(json_string_value(json_object_get(o, "message")), "applying 3 objects \"quoted\"");
	cr_assert_str_eq(json_string_value(json_object_get(o, "level")), "info");
	cr_assert(json_is_real(json_object_get(o, "time")));
	json_decref(o);
	o = json_loads(nl + 1, JSON_DISABLE_EOF_CHECK, &jerr);
	cr_assert_not_null(o, "%s", jerr.text);
	cr_assert_str_eq(json_string_value(json_object_get(o, "level")), "error");
	json_decref(o);
	tu_capture_end(&c);
}

/* A message cut inside a UTF-8 character still reaches the JSON line (found in review). */
Test(util_sink, json_keeps_messages_that_are_not_utf8)
{
	struct tu_capture c;
	struct tm_sink s;
	json_t *o;

	tu_capture_start(&c);
	tm_sink_init(&s, c.f, TM_SINK_JSON, true, false, 0);
	tm_sink_log(&s, TM_ERRORLVL, "open '\xc3': broken");
	o = json_loads(tu_capture_text(&c), JSON_DISABLE_EOF_CHECK, NULL);
	cr_assert_not_null(o);
	cr_assert_str_eq(json_string_value(json_object_get(o, "message")), "open '?': broken");
	json_decref(o);
	tu_capture_end(&c);
}

Test(util_sink, tty_mode_redraws_status_lines_in_place)
{
	struct tu_capture c;
	struct tm_sink s;
	struct tm_event st1 = { .level = TM_INFO, .subject = "scheduler", .msg = "0/2 available", .status = true };
	struct tm_event st2 = { .level = TM_INFO, .subject = "scheduler", .msg = "1/2 available", .status = true };
	struct tm_event done = { .level = TM_INFO, .subject = "scheduler", .msg = "ready" };

	tu_capture_start(&c);
	tm_sink_init(&s, c.f, TM_SINK_TTY, false, false, 0);
	tm_sink_event(&s, &st1);
	tm_sink_event(&s, &st2);
	tm_sink_event(&s, &done);
	const char *t = tu_capture_text(&c);
	/* the second status and the final line each erase the board drawn before */
	cr_assert(strstr(t, "0/2 available\n\033[1A\r\033[J[") != NULL, "%s", t);
	cr_assert(strstr(t, "1/2 available\n\033[1A\r\033[Jscheduler: ready\n") != NULL, "%s", t);
	cr_assert(!s.status_shown, "the final word takes the subject off the board");
	cr_assert_eq(s.nboard, 0);
	tu_capture_end(&c);
}

Test(util_sink, level_names_are_complete)
{
	for (int l = TM_DEBUG; l <= TM_ERRORLVL; l++)
		cr_assert_str_neq(tm_level_name((enum tm_level)l), "unknown");
	cr_assert_str_eq(tm_level_name((enum tm_level)99), "unknown");
}

Test(util_sink, tty_board_keeps_one_line_per_subject)
{
	struct tu_capture c;
	struct tm_sink s;
	struct tm_event a = { .level = TM_INFO, .subject = "Deployment airflow/scheduler", .msg = "0/2 available", .status = true };
	struct tm_event b = { .level = TM_INFO, .subject = "Deployment airflow/triggerer", .msg = "0/1 available", .status = true };
	struct tm_event a2 = { .level = TM_INFO, .subject = "Deployment airflow/scheduler", .msg = "1/2 available", .status = true };
	struct tm_event log = { .level = TM_INFO, .kind = "log", .msg = "phase workloads" };

	tu_capture_start(&c);
	tm_sink_init(&s, c.f, TM_SINK_TTY, false, false, 0);
	tm_sink_event(&s, &a);
	tm_sink_event(&s, &b);
	tm_sink_event(&s, &a2);
	cr_assert_eq(s.nboard, 2);
	cr_assert_eq(s.drawn, 2);
	tm_sink_event(&s, &log);
	const char *t = tu_capture_text(&c);
	/* two lines erased, the permanent line, then the board again, scheduler first */
	const char *p = strstr(t, "\033[2A\r\033[Jphase workloads\n");
	cr_assert_not_null(p, "%s", t);
	cr_assert(strstr(p, "scheduler: 1/2 available\n") < strstr(p, "triggerer: 0/1 available\n"), "%s", t);
	tm_sink_flush(&s);
	cr_assert_eq(s.nboard, 0);
	cr_assert(strstr(tu_capture_text(&c), "\033[2A\r\033[J") != NULL);
	tu_capture_end(&c);
}

/* ------------------------------------------------------------------ escaping */

static void expect_escaped(const char *in, const char *want)
{
	char out[256];

	tm_escape_controls(out, sizeof(out), in);
	cr_assert_str_eq(out, want);
}

Test(util_sink, escaping_shows_control_characters_as_text)
{
	expect_escaped("plain text, \"quoted\" and UTF-8: \xc3\xa9t\xc3\xa9", "plain text, \"quoted\" and UTF-8: \xc3\xa9t\xc3\xa9");
	expect_escaped("clear\033[2J title\033]0;pwned\007", "clear\\x1b[2J title\\x1b]0;pwned\\x07");
	expect_escaped("cr\rback\bdel\x7f", "cr\\x0dback\\x08del\\x7f");
	expect_escaped("kept: a\tb\nc", "kept: a\tb\nc");
	/* U+009B is a one-character CSI on some terminals */
	expect_escaped("c1 \xc2\x9b" "2J, not c1 \xc2\xa0", "c1 \\xc2\\x9b2J, not c1 \xc2\xa0");
	expect_escaped("", "");
	expect_escaped(NULL, "");
}

Test(util_sink, escaping_cuts_before_an_escape_that_does_not_fit)
{
	char out[8];

	cr_assert_eq(tm_escape_controls(out, sizeof(out), "abcd\033[2J"), 4, "stops before the escape");
	cr_assert_str_eq(out, "abcd");
	cr_assert_eq(tm_escape_controls(out, sizeof(out), "abc\033[2J"), 4);
	cr_assert_str_eq(out, "abc\\x1b");
	cr_assert_eq(tm_escape_controls(out, 1, "abc"), 0);
	cr_assert_str_eq(out, "");
}

Test(util_sink, every_mode_but_json_escapes_what_the_cluster_says)
{
	static const enum tm_sink_mode modes[] = { TM_SINK_PLAIN, TM_SINK_TTY };
	struct tm_event ev = { .level = TM_WARN, .kind = "lock", .subject = "release \033[31mairflow",
			       .msg = "held by 'evil\033]0;pwned\007'" };

	for (size_t i = 0; i < TM_ARRAY_LEN(modes); i++) {
		struct tu_capture c;
		struct tm_sink s;
		const char *t;

		tu_capture_start(&c);
		tm_sink_init(&s, c.f, modes[i], false, false, 0);
		tm_sink_event(&s, &ev);
		ev.status = true;
		tm_sink_event(&s, &ev); /* a TTY board line too */
		ev.status = false;
		tm_sink_flush(&s);
		t = tu_capture_text(&c);
		cr_assert(strstr(t, "release \\x1b[31mairflow: held by 'evil\\x1b]0;pwned\\x07'") != NULL, "%s", t);
		cr_assert(strstr(t, "\033]") == NULL && strstr(t, "\033[31m") == NULL && strchr(t, '\007') == NULL,
			  "mode %d let a raw sequence through: %s", (int)modes[i], t);
		tu_capture_end(&c);
	}
}

Test(util_sink, fprintf_escaped_escapes_the_whole_text)
{
	struct tu_capture c;

	tu_capture_start(&c);
	tm_fprintf_escaped(c.f, "lock:      %s\n%-6s|\n", "host\033[2J/1/x", "\033");
	cr_assert_str_eq(tu_capture_text(&c), "lock:      host\\x1b[2J/1/x\n\\x1b     |\n");
	tu_capture_end(&c);
}
