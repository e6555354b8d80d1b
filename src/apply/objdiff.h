/* Object diffs for 'tarmac diff': normalise live and desired objects (no server
 * bookkeeping, no secret bytes), print them as YAML and show a unified line diff. */
#ifndef TARMAC_APPLY_OBJDIFF_H
#define TARMAC_APPLY_OBJDIFF_H

#include <jansson.h>
#include <stdbool.h>

#include "tarmac/util.h"

/* A deep copy of obj without what the server owns or what must never be shown:
 * metadata.managedFields, resourceVersion, uid, generation, creationTimestamp,
 * selfLink, deletionGracePeriodSeconds, the annotations
 * kubectl.kubernetes.io/last-applied-configuration and deployment.kubernetes.io/revision,
 * and status; annotations and labels left empty are dropped too. For a Secret (kind
 * Secret, apiVersion v1) data and stringData are left out, so their values are never
 * copied (tm_objdiff puts the keys back). NULL on NULL or OOM. */
json_t *tm_objdiff_normalize(const json_t *obj);

/* Appends to out a unified diff (3 lines of context, "--- live <title>",
 * "+++ desired <title>", @@ hunks) of the normalised live object against the desired
 * one, both printed as YAML with sorted keys (tm_doc_emit_yaml). live NULL means the
 * object is new: every line is an addition ("--- (none)"); desired NULL, that it goes
 * away (all deletions); both NULL is TM_EINVALID. With color, ANSI red/green/cyan
 * (bold headers).
 * For a Secret (kind Secret, apiVersion v1) no value of data or stringData ever
 * reaches out: each key's value is replaced on both sides by "(hidden)", and a
 * changed value by "(hidden, changed)" on the desired side, so a reader sees which
 * keys were added, removed or changed and nothing else. Both sides list their keys
 * under data, whether they came from data or stringData; a stringData value equals the
 * data value whose base64 decodes to it.
 * Returns 1 when the objects differ, 0 when they are the same (nothing appended),
 * or a TM_E* code (TM_ELIMIT when out is full); on an error out is left as it was. */
int tm_objdiff(struct tm_buf *out, const char *title, const json_t *live, const json_t *desired, bool color,
	       struct tm_err *err);

/* The line diff underneath: a and b are NUL-terminated texts split on '\n'. Minimal
 * edit script (Myers), hunks with `context` lines around changes, headers a_name and
 * b_name, as GNU diff -u prints them (a last line without a newline gets its
 * "\ No newline at end of file"). Inputs so large and different that a minimal
 * script would take too long get a correct but longer one. Returns 1 when they differ
 * (hunks appended), 0 when equal, or a TM_E* code with out left as it was. */
int tm_diff_lines(struct tm_buf *out, const char *a_name, const char *a, const char *b_name, const char *b,
		  int context, bool color, struct tm_err *err);

#endif
