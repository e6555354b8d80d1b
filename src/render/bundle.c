/* The embedded bundle parsed once per process. What is parsed from the constant bundle
 * is constant too, so keeping it is not per-run state (STYLE.md's rule against mutable
 * globals is about that): a command or a test that renders many times parses the
 * schema and the defaults once. Entries are made under one lock and never change
 * after; they live as long as the process. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tarmac/doc.h"
#include "render_private.h"

#define SCHEMA_PATH "values.schema.yaml"

struct defaults {
	char *env; /* "" for no environment */
	bool origins;
	struct tm_values v;
	struct defaults *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *schema;
static struct defaults *defaults;

int tm_bundle_schema(json_t **out, struct tm_err *err)
{
	const struct tm_embedded_file *f = tm_embedded_find(SCHEMA_PATH);
	int rc = 0;

	pthread_mutex_lock(&lock);
	if (f && !schema)
		rc = tm_doc_parse_yaml_readonly(&schema, (const char *)f->data, f->len, "bundle/" SCHEMA_PATH, err);
	if (rc == 0)
		*out = schema;
	pthread_mutex_unlock(&lock);
	return rc;
}

static int merge_file(struct tm_values *v, const char *path, struct tm_err *err)
{
	const struct tm_embedded_file *f = tm_embedded_find(path);
	char name[256];

	if (!f)
		return tm_err_set(err, TM_ERROR, "the bundle has no '%s' (a broken build)", path);
	snprintf(name, sizeof(name), "bundle/%s", path);
	return tm_values_merge_yaml(v, (const char *)f->data, f->len, name, err);
}

/* values.yaml with the environment's overlay over it, merged as a values file would be. */
static int make_defaults(struct defaults **out, const char *env, bool origins, struct tm_err *err)
{
	struct defaults *d = calloc(1, sizeof(*d));
	char path[256];
	int rc;

	if (!d || !(d->env = strdup(env))) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	d->origins = origins;
	if (origins)
		tm_values_init(&d->v);
	else
		tm_values_init_fast(&d->v);
	if (!d->v.tree || (origins && (!d->v.origin || !d->v.keys))) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	snprintf(path, sizeof(path), "overlays/%s.yaml", env);
	if ((rc = merge_file(&d->v, "values.yaml", err)) < 0 || (*env && (rc = merge_file(&d->v, path, err)) < 0))
		goto out;
	*out = d;
	d = NULL;
out:
	if (d) {
		tm_values_release(&d->v);
		free(d->env);
	}
	free(d);
	return rc;
}

static int copy_values(struct tm_values *out, const struct tm_values *v, struct tm_err *err)
{
	struct tm_values c = { tm_doc_copy(v->tree), tm_doc_copy(v->origin), tm_doc_copy(v->keys) };

	if (!c.tree || (v->origin && !c.origin) || (v->keys && !c.keys)) {
		tm_values_release(&c);
		return tm_err_set(err, TM_ERROR, "out of memory");
	}
	*out = c;
	return 0;
}

int tm_bundle_defaults(struct tm_values *out, const char *env, bool origins, struct tm_err *err)
{
	struct defaults *d;
	int rc = 0;

	env = env ? env : "";
	pthread_mutex_lock(&lock);
	for (d = defaults; d && (strcmp(d->env, env) != 0 || d->origins != origins); d = d->next)
		;
	if (!d && (rc = make_defaults(&d, env, origins, err)) == 0) {
		d->next = defaults;
		defaults = d;
	}
	if (rc == 0)
		rc = copy_values(out, &d->v, err);
	pthread_mutex_unlock(&lock);
	return rc;
}
