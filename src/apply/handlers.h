/* Private to apply/: taking probes and lifecycle hooks away on servers whose apply
 * cannot (handlers.c). */
#ifndef TARMAC_APPLY_HANDLERS_H
#define TARMAC_APPLY_HANDLERS_H

#include "apply_private.h"

/* Whether err is an apply's refusal to leave an emptied probe or hook behind. */
bool tm_handlers_refused(const struct tm_err *err);
/* The handlers (liveness, readiness and startup probes, postStart and preStop hooks) of
 * the containers of live's pod template (at the key path tmpl) that want's same-named
 * containers lack: *patch, a strategic merge patch setting each to null, and their names
 * appended to what. Returns 1 with a patch, 0 when there is nothing to remove. */
int tm_handlers_removal(const json_t *live, const json_t *want, const char *const *tmpl, json_t **patch,
			struct tm_buf *what, struct tm_err *err);
/* Puts live's versions of what patch removes back into obj (-1: out of memory). */
int tm_handlers_keep(json_t *obj, const json_t *patch, const json_t *live);
/* Takes what patch removes out of obj. */
void tm_handlers_strip(json_t *obj, const json_t *patch);
/* After it's apply was refused (tm_handlers_refused): removes the handlers it drops,
 * then applies it again, the answer in *out and *status. A dry run applies with them
 * kept and takes them out of the answer. The refusal stays in err when it drops none.
 * live_in: the object as the server holds it, when the caller has it (NULL: read it). */
int tm_handlers_reapply(struct tm_kube *k, const struct tm_apply_opts *o, struct tm_item *it, const json_t *live_in,
			json_t **out, long *status, struct tm_err *err);

#endif
