/* Private to apply/: the last lines a failing container wrote, for an error message,
 * with the values of every Secret the pod can read blanked out. */
#ifndef TARMAC_APPLY_PODLOG_H
#define TARMAC_APPLY_PODLOG_H

#include <jansson.h>

#include "tarmac/kube.h"
#include "tarmac/util.h"

#define TM_PODLOG_LINES 8      /* lines shown */
#define TM_PODLOG_LINE_MAX 120 /* bytes of one line shown */
#define TM_PODLOG_MIN_SECRET 4 /* shorter values are not blanked (they would blank everything) */

/* Appends the names of the Secrets a pod's containers can read (env valueFrom, envFrom,
 * secret and projected volumes) to names, a JSON array, each once. */
int tm_pod_secret_names(const json_t *pod, json_t *names, struct tm_err *err);

/* Replaces every occurrence of value (len bytes) in text with "[redacted]", and every
 * line of a multi-line value that is at least TM_PODLOG_MIN_SECRET bytes long. */
int tm_podlog_redact(struct tm_buf *text, const char *value, size_t len, struct tm_err *err);

/* Appends the last TM_PODLOG_LINES non-empty lines of log to out, each on its own line
 * after indent, cut at TM_PODLOG_LINE_MAX bytes on a UTF-8 boundary. Returns how many. */
int tm_podlog_excerpt(struct tm_buf *out, const char *log, size_t len, const char *indent, struct tm_err *err);

/* A note for the error about pod: "\n  last lines of container "x" (...):\n    | ...",
 * read through the API server; or why they are not shown. Appends nothing when no
 * container exited non-zero. Never fails the caller: only out of memory and Ctrl-C
 * (TM_EINTERRUPTED) are errors. */
int tm_podlog_note(struct tm_kube *k, const json_t *pod, struct tm_buf *out, struct tm_err *err);

#endif
