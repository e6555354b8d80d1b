/* Fields the API server dropped: what was sent and did not come back (a field the
 * cluster's version does not serve, or serves behind a feature gate that is off, as
 * Kubernetes 1.20 does with Job.spec.ttlSecondsAfterFinished). Each is said once per
 * kind and field in a run, and taken out of the item, so nothing after the apply (the
 * wait's reading of a Job's TTL) relies on what the cluster will not do. */
#include <stdio.h>
#include <string.h>

#include "apply_private.h"

/* A value the server may leave out because it equals the default (false, 0, "", an
 * empty map or list, null): its absence says nothing. */
static bool zero(const json_t *v)
{
	return json_is_null(v) || json_is_false(v) || (json_is_integer(v) && json_integer_value(v) == 0) ||
	       (json_is_real(v) && json_real_value(v) == 0.0) || (json_is_string(v) && !*json_string_value(v)) ||
	       (json_is_object(v) && json_object_size(v) == 0) || (json_is_array(v) && json_array_size(v) == 0);
}

static void say_once(struct tm_run *r, const struct tm_item *it, const char *path)
{
	char key[600];

	snprintf(key, sizeof(key), "%s %s", it->kind, path);
	if (!r->dropped)
		r->dropped = json_object();
	if (!r->dropped || json_object_get(r->dropped, key))
		return;
	json_object_set_new(r->dropped, key, json_true());
	tm_apply_report(r->o, TM_WARN, "dropped", it->subject, false,
			"the API server dropped %s (its version does not serve it, or a feature gate is off): tarmac "
			"does not rely on it here", path);
}

static void walk(struct tm_run *r, const struct tm_item *it, json_t *sent, const json_t *back, char *path, size_t n);

/* Each key of the map sent: gone from back (and not zero) is dropped; else walked into. */
static void walk_object(struct tm_run *r, const struct tm_item *it, json_t *sent, const json_t *back, char *path,
			size_t n)
{
	size_t len = strlen(path);
	const char *key;
	json_t *v;
	void *tmp;

	json_object_foreach_safe(sent, tmp, key, v) {
		const json_t *b = json_object_get(back, key);

		snprintf(path + len, n - len, "%s%s", len ? "." : "", key);
		if (!b && !zero(v)) {
			say_once(r, it, path);
			json_object_del(sent, key);
		} else if (b) {
			walk(r, it, v, b, path, n);
		}
		path[len] = '\0';
	}
}

/* The element of list back with the name sent has (containers, volumes, env, ports):
 * lists need not come back in the order sent (an HPA's metrics do not). */
static const json_t *same_name(const json_t *back, const json_t *sent)
{
	const char *name = json_string_value(json_object_get(sent, "name"));
	size_t i;
	json_t *b;

	json_array_foreach(back, i, b) {
		const char *bn = json_string_value(json_object_get(b, "name"));

		if (name && bn && strcmp(name, bn) == 0)
			return b;
	}
	return NULL;
}

static void walk(struct tm_run *r, const struct tm_item *it, json_t *sent, const json_t *back, char *path, size_t n)
{
	size_t len = strlen(path), i;
	json_t *v;

	if (json_is_object(sent) && json_is_object(back)) {
		walk_object(r, it, sent, back, path, n);
		return;
	}
	if (!json_is_array(sent) || !json_is_array(back))
		return;
	/* named elements only: another element is matched by nothing but its place, which
	 * the server may change */
	json_array_foreach(sent, i, v) {
		const json_t *b = same_name(back, v);

		if (!b)
			continue;
		snprintf(path + len, n - len, "[%s]", json_string_value(json_object_get(v, "name")));
		walk(r, it, v, b, path, n);
		path[len] = '\0';
	}
}

void tm_apply_dropped(struct tm_run *r, struct tm_item *it, const json_t *back)
{
	char path[512] = "spec";
	json_t *spec = json_object_get(it->obj, "spec"), *bspec = json_object_get(back, "spec");

	if (json_is_object(spec) && json_is_object(bspec))
		walk_object(r, it, spec, bspec, path, sizeof(path));
}
