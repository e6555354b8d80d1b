/* The log/progress sink behind every module's report callback. Three shapes of the
 * same events: a TTY gets a board of status lines (one per subject) redrawn in place
 * under the permanent lines,
 * a pipe or file gets one plain line per event, -o json gets JSON lines. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "tarmac/util.h"

/* ------------------------------------------------------------------ escaping */

static bool is_control(const unsigned char *p)
{
	return (*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f);
}

size_t tm_escape_controls(char *out, size_t n, const char *text)
{
	const unsigned char *p = (const unsigned char *)(text ? text : "");
	size_t used = 0;

	if (!n)
		return 0;
	for (; *p; p++) {
		if (!is_control(p)) {
			if (used + 1 >= n)
				break;
			out[used++] = (char)*p;
			continue;
		}
		/* a C1 control is two bytes in UTF-8: both are shown */
		if (used + (*p == 0xc2 ? 8 : 4) >= n)
			break;
		used += (size_t)snprintf(out + used, n - used, "\\x%02x", *p);
		if (*p == 0xc2)
			used += (size_t)snprintf(out + used, n - used, "\\x%02x", *++p);
	}
	out[used] = '\0';
	return (size_t)((const char *)p - (text ? text : ""));
}

void tm_fprintf_escaped(FILE *f, const char *fmt, ...)
{
	char *text = NULL, *safe;
	size_t n;
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	/* at most 8 bytes of output per 2 of input (a C1 control), 4 per 1 otherwise */
	n = (size_t)len * 4 + 1;
	if ((safe = malloc(n))) {
		tm_escape_controls(safe, n, text);
		fputs(safe, f);
	}
	free(safe);
	free(text);
}

/* ------------------------------------------------------------------ levels */

static const char *const level_names[] = {
	[TM_DEBUG] = "debug",
	[TM_INFO] = "info",
	[TM_WARN] = "warning",
	[TM_ERRORLVL] = "error",
};

const char *tm_level_name(enum tm_level lvl)
{
	if ((unsigned)lvl >= TM_ARRAY_LEN(level_names))
		return "unknown";
	return level_names[lvl];
}

void tm_sink_init(struct tm_sink *s, FILE *out, enum tm_sink_mode mode, bool automode,
		  bool color, int verbosity)
{
	int fd = fileno(out);
	bool tty = fd >= 0 && isatty(fd);
	const char *term = getenv("TERM");
	struct winsize ws;

	s->out = out;
	s->mode = mode;
	s->verbosity = verbosity;
	s->status_shown = false;
	s->drawn = 0;
	s->nboard = 0;
	s->width = 80;
	s->start_ms = tm_now_ms();
	if (automode && mode != TM_SINK_JSON)
		s->mode = tty && !(term && strcmp(term, "dumb") == 0) ? TM_SINK_TTY : TM_SINK_PLAIN;
	s->color = color && s->mode == TM_SINK_TTY && !getenv("NO_COLOR");
	if (s->mode == TM_SINK_TTY && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10)
		s->width = ws.ws_col;
}

/* Erases the board from the screen (its entries stay). The cursor is at the start
 * of the line below it. */
static void board_erase(struct tm_sink *s)
{
	if (s->drawn > 0)
		fprintf(s->out, "\033[%dA\r\033[J", s->drawn);
	s->drawn = 0;
	s->status_shown = false;
}

static void board_draw(struct tm_sink *s)
{
	int64_t now = tm_now_ms();

	for (int i = 0; i < s->nboard; i++) {
		const struct tm_sink_status *b = &s->board[i];
		char line[800];
		/* a board line must fit the terminal or the redraw scrolls */
		int room = s->width - 1;

		char raw[800];

		snprintf(raw, sizeof(raw), "[%6.1fs] %s%s%s", (double)(now - b->since_ms) / 1000.0, b->subject,
			 b->subject[0] ? ": " : "", b->text);
		tm_escape_controls(line, sizeof(line), raw);
		fprintf(s->out, "%s%.*s%s\n", s->color ? "\033[2m" : "", room > 0 ? room : 0, line, s->color ? "\033[0m" : "");
	}
	s->drawn = s->nboard;
	s->status_shown = s->nboard > 0;
}

static int board_find(const struct tm_sink *s, const char *subject)
{
	for (int i = 0; i < s->nboard; i++)
		if (strncmp(s->board[i].subject, subject, sizeof(s->board[i].subject) - 1) == 0)
			return i;
	return -1;
}

static void board_remove(struct tm_sink *s, const char *subject)
{
	int i = board_find(s, subject ? subject : "");

	if (i < 0)
		return;
	memmove(&s->board[i], &s->board[i + 1], (size_t)(s->nboard - i - 1) * sizeof(s->board[0]));
	s->nboard--;
}

static void board_set(struct tm_sink *s, const char *subject, const char *text)
{
	int i = board_find(s, subject ? subject : "");

	if (i < 0) {
		if (s->nboard == TM_SINK_BOARD) {
			/* the oldest entry makes room */
			memmove(&s->board[0], &s->board[1], (size_t)(TM_SINK_BOARD - 1) * sizeof(s->board[0]));
			s->nboard--;
		}
		i = s->nboard++;
		snprintf(s->board[i].subject, sizeof(s->board[i].subject), "%s", subject ? subject : "");
		s->board[i].since_ms = tm_now_ms();
	}
	snprintf(s->board[i].text, sizeof(s->board[i].text), "%s", text ? text : "");
}

void tm_sink_flush(struct tm_sink *s)
{
	board_erase(s);
	s->nboard = 0;
	fflush(s->out);
}

static const char *level_color(enum tm_level lvl)
{
	switch (lvl) {
	case TM_WARN:
		return "\033[33m";
	case TM_ERRORLVL:
		return "\033[31m";
	case TM_DEBUG:
		return "\033[2m";
	default:
		return "";
	}
}

/* A JSON string of text that may not be valid UTF-8 (a cut message, a file name):
 * bytes jansson refuses become '?', so the event keeps its text. */
static json_t *lossy_string(const char *text)
{
	json_t *v = json_string(text ? text : "");
	char *copy;

	if (v || !text)
		return v;
	if (!(copy = strdup(text)))
		return NULL;
	for (unsigned char *p = (unsigned char *)copy; *p; p++)
		if (*p >= 0x80)
			*p = '?';
	v = json_string(copy);
	free(copy);
	return v;
}

static void emit_json(struct tm_sink *s, const struct tm_event *ev)
{
	struct timespec ts;
	json_t *o = json_object();
	char *line;

	if (!o)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* json_*_new steal nothing here: set_new takes ownership of the fresh values */
	json_object_set_new(o, "time", json_real((double)ts.tv_sec + ts.tv_nsec / 1e9));
	json_object_set_new(o, "level", json_string(tm_level_name(ev->level)));
	json_object_set_new(o, "event", json_string(ev->kind ? ev->kind : "log"));
	if (ev->subject)
		json_object_set_new(o, "subject", lossy_string(ev->subject));
	json_object_set_new(o, "message", lossy_string(ev->msg ? ev->msg : ""));
	if (ev->status)
		json_object_set_new(o, "status", json_true());
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (line) {
		fputs(line, s->out);
		fputc('\n', s->out);
		free(line);
	}
	json_decref(o);
	fflush(s->out);
}

void tm_sink_event(struct tm_sink *s, const struct tm_event *ev)
{
	double secs = (double)(tm_now_ms() - s->start_ms) / 1000.0;
	const char *pre = "", *post = "";
	char raw[1024], line[1024];
	int n;

	if (ev->level == TM_DEBUG && s->verbosity < 1)
		return;
	if (s->mode == TM_SINK_JSON) {
		emit_json(s, ev);
		return;
	}
	n = snprintf(raw, sizeof(raw), "%s%s%s%s%s", ev->level >= TM_WARN ? tm_level_name(ev->level) : "",
		     ev->level >= TM_WARN ? ": " : "", ev->subject ? ev->subject : "",
		     ev->subject ? ": " : "", ev->msg ? ev->msg : "");
	if (n < 0)
		return;
	/* the text may come from the cluster: no escape sequence of its own gets through */
	tm_escape_controls(line, sizeof(line), raw);
	if (s->mode == TM_SINK_TTY) {
		if (s->color) {
			pre = level_color(ev->level);
			post = *pre ? "\033[0m" : "";
		}
		board_erase(s);
		if (ev->status) {
			board_set(s, ev->subject, ev->msg);
		} else {
			/* a final word on a subject takes its line off the board */
			board_remove(s, ev->subject);
			fprintf(s->out, "%s%s%s\n", pre, line, post);
		}
		board_draw(s);
		fflush(s->out);
		return;
	}
	/* plain: every event is a line, with the elapsed time so logs can be read later */
	fprintf(s->out, "[%6.1fs] %s\n", secs, line);
	fflush(s->out);
}

void tm_sink_report(void *sink, const struct tm_event *ev)
{
	tm_sink_event(sink, ev);
}

void tm_sink_log(struct tm_sink *s, enum tm_level lvl, const char *fmt, ...)
{
	struct tm_event ev = { .level = lvl, .kind = "log" };
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ev.msg = msg;
	tm_sink_event(s, &ev);
}

void tm_vreportf(tm_report_fn fn, void *ctx, enum tm_level lvl, const char *kind, const char *subject, bool status,
		 const char *fmt, va_list ap)
{
	char msg[1200];

	if (!fn)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	fn(ctx, &(struct tm_event){ .level = lvl, .kind = kind, .subject = subject, .msg = msg, .status = status });
}

void tm_reportf(tm_report_fn fn, void *ctx, enum tm_level lvl, const char *kind, const char *subject, bool status,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tm_vreportf(fn, ctx, lvl, kind, subject, status, fmt, ap);
	va_end(ap);
}
