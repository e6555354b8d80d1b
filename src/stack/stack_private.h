/* Private to stack/: the live-secrets guard of up, install and upgrade (guard.c). */
#ifndef TARMAC_STACK_PRIVATE_H
#define TARMAC_STACK_PRIVATE_H

#include "tarmac/stack.h"

/* The stack's Secrets as the cluster holds them, read before anything is applied. */
struct tm_stack_guard {
	struct tm_secret_place places[TM_SECRET_MAX_PLACES];
	size_t nplaces;
	json_t *live;               /* the live Secrets by name */
	struct tm_secret_set *set;  /* the stored secrets they hold */
	bool installed;             /* a live Secret holds one, or the release has records: nothing is generated */
	/* for a Secret gone from the cluster, what the deployed revision's record says it held */
	int revision;               /* that revision, 0 when none was read */
	char hashes[TM_SECRET_COUNT][72];
	const char *recorded[TM_SECRET_COUNT];
};
int tm_stack_guard_read(const struct tm_stack_ctx *s, struct tm_stack_guard *g, const struct tm_secret_target *t,
			struct tm_err *err);
/* TM_ECONFLICT naming each secret whose sealed value (sealed NULL: no sealed files)
 * would replace its live value without a rotation (previous: the values of
 * <name>.previous.sealed), and the way out. */
int tm_stack_guard_check(const struct tm_stack_ctx *s, const struct tm_stack_guard *g, const struct tm_secret_set *sealed,
			 const struct tm_secret_set *previous, const char *dir, const char *env, struct tm_err *err);
void tm_stack_guard_release(struct tm_stack_guard *g);

/* Where the environment's private key comes from: --key-file, $TARMAC_KEY_FILE, then
 * keygen's default place under $XDG_CONFIG_HOME or $HOME (secrets.c). */
struct tm_secret_key_source tm_stack_key_source(const struct tm_stack_secret_opts *o, const char *env);

#endif
