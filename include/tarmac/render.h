/* render: the template language (docs/templates.md) and, with the render issue, values
 * and the object list. Never touches the network or the file system on its own. */
#ifndef TARMAC_RENDER_H
#define TARMAC_RENDER_H

#include <jansson.h>

#include "tarmac/util.h"

#define TM_TMPL_MAX_OUTPUT (32u << 20) /* bytes one template may produce */

/* ------------------------------------------------------------------ values */

/* The effective values and where each leaf came from. */
struct tm_values {
	json_t *tree;   /* owned; always an object */
	json_t *origin; /* owned; JSON pointer of a leaf -> "file:line:col" or "--set k=v";
			 * NULL when the caller asked for no origins (the fast path) */
	json_t *keys;   /* owned; JSON pointer of a key set in a file -> "file:line:col" of the
			 * key itself (for unknown keys); NULL on the fast path */
};

#define TM_VALUES_MAX_FILE (8u << 20) /* one values file */

void tm_values_release(struct tm_values *v);

/* ------------------------------------------------------------------ rendering the stack */

/* One user values file, already read by the caller (render reads no files). */
struct tm_values_file {
	const char *name; /* for origins and messages */
	const char *text;
	size_t len;
};

/* One --set, --set-string or --set-file, in command-line order. */
struct tm_set_arg {
	enum { TM_ARG_SET, TM_ARG_SET_STRING, TM_ARG_SET_FILE } kind;
	const char *arg;  /* "a.b=c" (for --set-file: "key=path") */
	const char *text; /* --set-file: the file's content, read by the caller */
	size_t len;
};

/* What a command renders with when the user names none (the only place they are written). */
#define TM_DEFAULT_ENV "dev"
#define TM_DEFAULT_RELEASE "airflow"
#define TM_DEFAULT_NAMESPACE "airflow"  /* when neither -n nor the kubeconfig's context names one */
#define TM_DEFAULT_KUBE_VERSION "1.30"  /* rendering without a cluster */

struct tm_render_opts {
	const char *env;          /* "dev", "staging", "prod": bundle/overlays/<env>.yaml */
	const char *release;      /* release name (labels, object names) */
	const char *namespace;    /* where namespaced objects go */
	const char *kube_version; /* "1.30": what the templates may assume (capabilities) */
	const struct tm_values_file *files;
	size_t nfiles;
	const struct tm_set_arg *sets;
	size_t nsets;
	bool allow_unknown;       /* unknown values keys are warnings, not errors */
	/* "group/version" APIs served beyond Kubernetes' own (CRDs: monitoring.coreos.com/v1),
	 * from --api-versions or, once the cluster is asked, discovery. An object of an API
	 * outside Kubernetes' own and not listed is left out with a warning, or fails when
	 * values.requiredApis names it. */
	const char *const *api_versions;
	size_t napi_versions;
	tm_report_fn report;      /* warnings; may be NULL */
	void *report_ctx;
};

struct tm_rendered {
	struct tm_values values; /* the effective values with origins */
	json_t *objects;         /* the objects, in bundle order (templates sorted by name) */
	json_t *sources;         /* parallel to objects: the template each came from */
};

void tm_rendered_release(struct tm_rendered *r);

/* Merges values (bundle defaults, the environment's overlay, files, sets), checks
 * them against the schema, renders every template under templates/ and parses the
 * result into objects with tarmac's standard labels, namespaces and checksum
 * annotations. Deterministic. Errors: TM_EINVALID with file:line:col. */
int tm_render(struct tm_rendered *out, const struct tm_render_opts *o, struct tm_err *err);

/* What the task pod templates of the objects' config ConfigMap reference (ServiceAccount,
 * ConfigMap, Secret, PersistentVolumeClaim) and the objects do not hold: a new array of
 * {"kind", "name", "template"}, each once, for a check before apply (task_refs.c).
 * Errors: TM_EINVALID when a template does not parse. */
int tm_render_task_refs(json_t **out, const json_t *objects, struct tm_err *err);

/* Only the values part of tm_render (for 'tarmac values'). */
int tm_render_values(struct tm_values *out, const struct tm_render_opts *o, struct tm_err *err);

#endif
