/* The log/progress sink behind every module's report callback. Three shapes of the
 * same events: a TTY gets one status line redrawn in place plus permanent lines,
 * a pipe or file gets one plain line per event, -o json gets JSON lines. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "tarmac/util.h"

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
	s->width = 80;
	s->start_ms = tm_now_ms();
	if (automode && mode != TM_SINK_JSON)
		s->mode = tty && !(term && strcmp(term, "dumb") == 0) ? TM_SINK_TTY : TM_SINK_PLAIN;
	s->color = color && s->mode == TM_SINK_TTY && !getenv("NO_COLOR");
	if (s->mode == TM_SINK_TTY && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10)
		s->width = ws.ws_col;
}

void tm_sink_flush(struct tm_sink *s)
{
	if (s->status_shown) {
		fputs("\r\033[K", s->out);
		s->status_shown = false;
	}
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
	char line[1024];
	int n;

	if (ev->level == TM_DEBUG && s->verbosity < 1)
		return;
	if (s->mode == TM_SINK_JSON) {
		emit_json(s, ev);
		return;
	}
	n = snprintf(line, sizeof(line), "%s%s%s%s%s", ev->level >= TM_WARN ? tm_level_name(ev->level) : "",
		     ev->level >= TM_WARN ? ": " : "", ev->subject ? ev->subject : "",
		     ev->subject ? ": " : "", ev->msg ? ev->msg : "");
	if (n < 0)
		return;
	if (s->mode == TM_SINK_TTY) {
		if (s->color) {
			pre = level_color(ev->level);
			post = *pre ? "\033[0m" : "";
		}
		if (s->status_shown)
			fputs("\r\033[K", s->out);
		if (ev->status) {
			/* a status line must fit the terminal or the redraw scrolls */
			int room = s->width - 10;
			fprintf(s->out, "[%6.1fs] %s%.*s%s", secs, pre, room > 0 ? room : 0, line, post);
			s->status_shown = true;
		} else {
			fprintf(s->out, "%s%s%s\n", pre, line, post);
			s->status_shown = false;
		}
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
