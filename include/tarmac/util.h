/* util: the error struct, capped buffers, an arena, atomic files and the log/progress
 * sink. Depends on no other tarmac module; every other module depends on it. */
#ifndef TARMAC_UTIL_H
#define TARMAC_UTIL_H

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#if defined(__GNUC__) || defined(__clang__)
#define TM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define TM_NODISCARD __attribute__((warn_unused_result))
#else
#define TM_PRINTF(f, a)
#define TM_NODISCARD
#endif

#define TM_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------ errors
 * Functions return 0 or one of these negative codes. Callers branch only on the
 * named ones; everything else is TM_ERROR. The detail goes into a struct tm_err. */
enum tm_code {
	TM_OK = 0,
	TM_ERROR = -1,       /* anything callers do not branch on */
	TM_ENOTFOUND = -2,   /* the thing asked for does not exist */
	TM_ECONFLICT = -3,   /* someone else owns or changed it */
	TM_EAUTH = -4,       /* unauthorized or forbidden */
	TM_ETIMEOUT = -5,    /* a deadline passed */
	TM_EUNAVAILABLE = -6, /* a peer could not be reached */
	TM_EINVALID = -7,    /* bad input: file:line:col says where */
	TM_ELOCKED = -8,     /* a lock is held by someone else */
	TM_ELIMIT = -9,      /* a size cap was hit */
	TM_EINTERRUPTED = -10, /* the user asked us to stop (Ctrl-C) */
	/* Key and sealed files: "wrong key", "corrupt" and "unsupported" must read apart
	 * (STYLE.md, signify): each asks the user for a different fix. */
	TM_EWRONGKEY = -11,  /* sealed to another key than the one given */
	TM_ECORRUPT = -12,   /* a key or sealed file was altered, truncated or is not one */
	TM_EVERSION = -13    /* a file format version or algorithm this tarmac does not read */
};
#define TM_CODE_MIN TM_EVERSION

/* "not found", "conflict", ...; "unknown" for a code outside the table. */
const char *tm_code_name(int code);

/* The caller owns a struct tm_err (on its stack, usually). The innermost failure sets
 * it with tm_err_set(); each caller on the way out may prepend what it was doing
 * with tm_err_wrap(). The rendered message reads outermost first:
 *   "load values 'prod.yaml': prod.yaml:3:7: expected a mapping". */
#define TM_ERR_FRAMES 12
#define TM_ERR_TEXT 2048
struct tm_err {
	int code;                    /* TM_OK when nothing failed */
	int depth;                   /* frames in use; [0] is the innermost */
	uint16_t frame[TM_ERR_FRAMES]; /* offsets into text */
	uint16_t used;
	bool truncated;              /* some context did not fit */
	const char *file;            /* where the innermost error was set */
	int line;
	char text[TM_ERR_TEXT];
	char render[TM_ERR_TEXT + 64];
};

void tm_err_init(struct tm_err *err);
/* Sets the innermost message (replacing any earlier error) and returns code,
 * so "return tm_err_set(err, TM_EINVALID, ...)" reads naturally. err may be NULL. */
#define tm_err_set(err, code, ...) tm_err_set_at((err), __FILE__, __LINE__, (code), __VA_ARGS__)
int tm_err_set_at(struct tm_err *err, const char *file, int line, int code, const char *fmt, ...)
	TM_PRINTF(5, 6);
/* Adds the context a caller was in; returns the stored code. No-op on a NULL err. */
int tm_err_wrap(struct tm_err *err, const char *fmt, ...) TM_PRINTF(2, 3);
/* Sets from errno with strerror appended: "open 'x': Permission denied". */
#define tm_err_errno(err, errnum, ...) \
	tm_err_errno_at((err), __FILE__, __LINE__, (errnum), __VA_ARGS__)
int tm_err_errno_at(struct tm_err *err, const char *file, int line, int errnum, const char *fmt, ...)
	TM_PRINTF(5, 6);
/* The whole chain, outermost first, joined by ": ". Valid until the next call on err. */
const char *tm_err_msg(struct tm_err *err);
/* Frame i counted from the outermost (0) to depth-1 (innermost). */
const char *tm_err_frame(const struct tm_err *err, int i);

/* ------------------------------------------------------------------ buffers
 * A growable byte buffer with a hard maximum. data is always NUL-terminated
 * (the NUL is not counted in len) so text can be used as a C string. */
struct tm_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;       /* most bytes it may ever hold */
	const char *what; /* named in the error when max is hit: "HTTP response body" */
};
#define TM_BUF_INIT(what_, max_) { NULL, 0, 0, (max_), (what_) }

void tm_buf_init(struct tm_buf *b, const char *what, size_t max);
/* TM_ELIMIT when the result would exceed max (the buffer is unchanged), TM_ERROR
 * when memory runs out. err may be NULL. */
int tm_buf_append(struct tm_buf *b, const void *p, size_t n, struct tm_err *err) TM_NODISCARD;
int tm_buf_puts(struct tm_buf *b, const char *s, struct tm_err *err) TM_NODISCARD;
int tm_buf_printf(struct tm_buf *b, struct tm_err *err, const char *fmt, ...) TM_PRINTF(3, 4)
	TM_NODISCARD;
int tm_buf_vprintf(struct tm_buf *b, struct tm_err *err, const char *fmt, va_list ap) TM_NODISCARD;
/* "" for a buffer that never grew. */
const char *tm_buf_cstr(const struct tm_buf *b);
void tm_buf_clear(struct tm_buf *b);
/* Hands the bytes to the caller (free()) and leaves b empty; NULL if it never grew. */
char *tm_buf_detach(struct tm_buf *b);
void tm_buf_release(struct tm_buf *b);
/* Zeroes the whole allocation, then releases it: for keys and tokens. (Copies left
 * behind by growth are not reached: size secret buffers up front.) */
void tm_buf_wipe(struct tm_buf *b);
/* Zeroes memory in a way the compiler may not optimise away. */
void tm_wipe(void *p, size_t n);

/* ------------------------------------------------------------------ arena
 * Many small allocations freed at once (one render's strings). Blocks are chained;
 * max caps the total bytes taken from malloc. Allocation failure returns NULL. */
struct tm_arena_block;
struct tm_arena {
	struct tm_arena_block *head;
	size_t total; /* bytes taken from malloc */
	size_t max;
};

void tm_arena_init(struct tm_arena *a, size_t max);
void *tm_arena_alloc(struct tm_arena *a, size_t n);
char *tm_arena_strdup(struct tm_arena *a, const char *s);
char *tm_arena_strndup(struct tm_arena *a, const char *s, size_t n);
char *tm_arena_printf(struct tm_arena *a, const char *fmt, ...) TM_PRINTF(2, 3);
void tm_arena_release(struct tm_arena *a);

/* ------------------------------------------------------------------ files
 * Atomic replace: writes <path>.tmp.<pid> (O_EXCL|O_NOFOLLOW, given mode), fsyncs,
 * renames over path and fsyncs the directory. On a failure before the rename the
 * temporary file is removed and path is left exactly as it was; a failure to fsync
 * the directory after it is still an error (path holds the new content, but a power
 * cut could undo the rename). */
int tm_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
			 struct tm_err *err);
/* The same, with the content produced by a callback writing to fd (tm_fd_write_all).
 * A non-zero return from the callback aborts the write; its error is kept. */
typedef int (*tm_file_writer)(int fd, void *ctx, struct tm_err *err);
int tm_file_write_atomic_with(const char *path, mode_t mode, tm_file_writer fn, void *ctx,
			      struct tm_err *err);
int tm_fd_write_all(int fd, const void *data, size_t len, const char *name, struct tm_err *err);
/* Reads a whole file into out (cleared first). TM_ELIMIT past max bytes, TM_ENOTFOUND
 * when it does not exist. "-" reads standard input. */
int tm_file_read(struct tm_buf *out, const char *path, size_t max, struct tm_err *err);
/* mkdir -p: path and its missing parents, each made with mode. */
int tm_file_mkdirs(const char *path, mode_t mode, struct tm_err *err);
/* tm_file_read that first checks the opened file's mode (no race with a swap):
 * TM_FILE_NO_SHARED_WRITE refuses a file group or others may write (kubeconfigs,
 * sealed files), TM_FILE_NO_SHARED_READ one they may read (private keys). The
 * refusal is TM_EINVALID and says which chmod fixes it. */
enum { TM_FILE_NO_SHARED_WRITE = 1, TM_FILE_NO_SHARED_READ = 2, TM_FILE_PLAIN = 4 };
/* TM_FILE_PLAIN: the file itself, never through a symbolic link (O_NOFOLLOW), and a
 * regular file (no FIFO, device or directory): for files in secrets/<env>/ and the key
 * directory, where a committed link could copy any local file out. TM_EINVALID. */
int tm_file_read_checked(struct tm_buf *out, const char *path, size_t max, unsigned checks,
			 struct tm_err *err);

/* A group of files that change together (a key pair; a deploy key's sealed half and
 * its .pub): each is staged as <path>.tmp.<pid> (written, fsynced), then
 * tm_file_set_commit puts them all in place, in the order added, with SIGINT, SIGTERM
 * and SIGHUP held back, so Ctrl-C lands before the first or after the last. A file
 * added TM_FILE_NEW must not exist (it never replaces one, even one made meanwhile:
 * TM_ECONFLICT); the others replace what is there. A commit failing part way removes
 * the new files it placed; files it replaced stay replaced (callers add the previous
 * copies first). tm_file_set_release removes every temporary file left. */
#define TM_FILE_SET_MAX 8
enum { TM_FILE_NEW = 1 };
struct tm_file_set {
	size_t n;
	struct tm_file_staged {
		char *path, *tmp; /* tmp: NULL once placed */
		unsigned flags;
		bool placed;
	} f[TM_FILE_SET_MAX];
};
void tm_file_set_init(struct tm_file_set *s);
int tm_file_set_add(struct tm_file_set *s, const char *path, const void *data, size_t len, mode_t mode,
		    unsigned flags, struct tm_err *err);
/* TM_EINTERRUPTED, placing nothing, when *stop (may be NULL) is set on entry. */
int tm_file_set_commit(struct tm_file_set *s, const volatile sig_atomic_t *stop, struct tm_err *err);
void tm_file_set_release(struct tm_file_set *s);

/* Holds SIGINT, SIGTERM and SIGHUP back (they stay pending) for a few steps that
 * must not be split, and lets them through again. */
void tm_signals_hold(sigset_t *saved);
void tm_signals_restore(const sigset_t *saved);

/* ------------------------------------------------------------------ process */
/* No core dumps while secrets are in memory: RLIMIT_CORE 0 (soft and hard) and
 * PR_SET_DUMPABLE 0 (no core, no ptrace attach by other processes of the user). */
int tm_proc_no_core_dumps(struct tm_err *err);

/* ------------------------------------------------------------------ TLS */
/* Where the system CA bundle is (SSL_CERT_FILE first, then where distributions keep
 * it: the static binary's OpenSSL knows no distribution's paths), or NULL. */
const char *tm_system_ca_bundle(void);

/* ------------------------------------------------------------------ hashing */
/* Lowercase hex SHA-256 of data into out (65 bytes with the NUL). */
void tm_sha256_hex(char out[65], const void *data, size_t len);

/* ------------------------------------------------------------------ time */
/* Monotonic milliseconds, for deadlines and elapsed times. */
int64_t tm_now_ms(void);
/* Wall-clock Unix milliseconds, for timestamps others read (leases, records). */
int64_t tm_wall_ms(void);
/* RFC 3339 date-time ("2026-01-02T03:04:05Z", "...05.123456+01:00") to Unix
 * milliseconds (digits past the millisecond are dropped). TM_EINVALID otherwise. */
int tm_parse_rfc3339_ms(const char *s, int64_t *out);
/* Unix ms as "2026-01-02T03:04:05Z", or with micro "2026-01-02T03:04:05.123000Z"
 * (Kubernetes' MicroTime). */
void tm_format_rfc3339(char out[40], int64_t unix_ms, bool micro);
/* "90s", "10m", "1h30m", "1.5s", "250ms", or plain seconds ("30") into milliseconds.
 * TM_EINVALID for anything else or past a week. */
int tm_parse_duration_ms(const char *s, int64_t *out);

/* ------------------------------------------------------------------ names
 * RFC 1123 label (what Kubernetes wants for namespaces and release names):
 * lowercase alphanumerics and '-', starting and ending alphanumeric, 1..max chars. */
bool tm_is_dns_label(const char *s, size_t max);
/* RFC 1123 subdomain (what Kubernetes wants for most object names: Secret, ConfigMap,
 * ServiceAccount, PVC, StorageClass, PriorityClass): dot-separated labels, at most
 * 253 characters in all. */
bool tm_is_dns_subdomain(const char *s);

/* How many bytes of s (len long, valid UTF-8) fit in max without splitting a character:
 * len when it fits, else max backed up over continuation bytes. */
size_t tm_utf8_cut(const char *s, size_t len, size_t max);

/* Edits between a and b (insert, delete, substitute, swap two neighbours), for "did
 * you mean". Returns cap+1 as soon as the distance must exceed cap (and for words
 * over 64 characters). */
int tm_edit_distance(const char *a, const char *b, int cap);

/* ------------------------------------------------------------------ log/progress sink
 * Where modules' reports end up. Modules never print: they call a tm_report callback;
 * cli points it at a sink. TTY mode redraws one status line in place, plain mode
 * writes a line per event, JSON mode writes one JSON object per line. */
enum tm_level { TM_DEBUG, TM_INFO, TM_WARN, TM_ERRORLVL };
enum tm_sink_mode { TM_SINK_PLAIN, TM_SINK_TTY, TM_SINK_JSON };

struct tm_event {
	enum tm_level level;
	const char *kind;    /* short tag: "log", "phase", "wait", "ready", ... */
	const char *subject; /* what it is about, or NULL: "Deployment airflow/scheduler" */
	const char *msg;     /* human text */
	bool status;         /* a passing status line a TTY may overwrite in place */
};
typedef void (*tm_report_fn)(void *ctx, const struct tm_event *ev);
/* Formats the message and calls fn (nothing when fn is NULL): how modules report. */
void tm_reportf(tm_report_fn fn, void *ctx, enum tm_level lvl, const char *kind, const char *subject, bool status,
		const char *fmt, ...) TM_PRINTF(7, 8);
void tm_vreportf(tm_report_fn fn, void *ctx, enum tm_level lvl, const char *kind, const char *subject, bool status,
		 const char *fmt, va_list ap) TM_PRINTF(7, 0);

/* A TTY keeps the latest status of each subject on a board of lines redrawn in
 * place under the permanent lines ("scheduler: 1/2 available, pod ...: ..."). */
#define TM_SINK_BOARD 10
struct tm_sink_status {
	char subject[160];
	char text[512];
	int64_t since_ms;
};

struct tm_sink {
	FILE *out;
	enum tm_sink_mode mode;
	int verbosity;       /* 0: info and up; 1+: debug too */
	bool color;
	bool status_shown;   /* a TTY status board is on screen */
	int drawn;           /* lines of it on screen */
	int width;           /* TTY columns for status lines */
	int64_t start_ms;
	struct tm_sink_status board[TM_SINK_BOARD];
	int nboard;
};

/* mode and color follow the stream when auto is set: TTY + color on a terminal
 * (unless NO_COLOR or TERM=dumb), plain otherwise. */
void tm_sink_init(struct tm_sink *s, FILE *out, enum tm_sink_mode mode, bool automode,
		  bool color, int verbosity);
void tm_sink_event(struct tm_sink *s, const struct tm_event *ev);
/* tm_report_fn over a struct tm_sink *. */
void tm_sink_report(void *sink, const struct tm_event *ev);
void tm_sink_log(struct tm_sink *s, enum tm_level lvl, const char *fmt, ...) TM_PRINTF(3, 4);
/* The one escaping of text that may come from the cluster or a plugin (a Lease
 * holder, events, conditions, messages, plugin stderr) on its way to a terminal or
 * log: C0 controls other than newline and tab, DEL and C1 controls (UTF-8 0xc2
 * 0x80-0x9f) become "\xHH" text, so no escape sequence reaches the terminal. Writes
 * at most n bytes to out, NUL included, cutting before an escape that would not fit;
 * returns how many characters of text it consumed. */
size_t tm_escape_controls(char *out, size_t n, const char *text);
/* fprintf with the whole formatted text escaped as tm_escape_controls does: for
 * output that carries cluster text (status, history, error lines). */
void tm_fprintf_escaped(FILE *f, const char *fmt, ...) TM_PRINTF(2, 3);
/* Clears a TTY status board so ordinary output can follow; the board is emptied. */
void tm_sink_flush(struct tm_sink *s);
const char *tm_level_name(enum tm_level lvl);

#endif
