/* The Secrets' consumers: every pod template that reads a generated Secret (env,
 * envFrom, volumes, projected volumes) carries checksum/secret-<name> with that
 * Secret's content hash, so a rotation rolls all of them together; and the Job that
 * re-encrypts with a new Fernet key while the old one is still staged. */
#include <string.h>

#include "tarmac/doc.h"
#include "tarmac/secret.h"
#include "tarmac/labels.h"

/* The pod template of a workload or Job, or NULL. CronJobs nest one level deeper. */
static json_t *pod_template(json_t *obj)
{
	json_t *spec = json_object_get(obj, "spec"), *t;

	if ((t = json_object_get(spec, "template")) && json_is_object(json_object_get(t, "spec")))
		return t;
	if ((t = tm_doc_get(spec, "jobTemplate", "spec", "template", NULL)) && json_is_object(json_object_get(t, "spec")))
		return t;
	return NULL;
}

static void add_name(json_t *names, const json_t *v)
{
	if (json_is_string(v))
		json_object_set_new(names, json_string_value(v), json_true());
}

static void container_refs(json_t *names, json_t *containers)
{
	size_t i, j;
	json_t *c, *e;

	json_array_foreach(containers, i, c) {
		json_array_foreach(json_object_get(c, "env"), j, e)
			add_name(names, tm_doc_get(e, "valueFrom", "secretKeyRef", "name", NULL));
		json_array_foreach(json_object_get(c, "envFrom"), j, e)
			add_name(names, tm_doc_get(e, "secretRef", "name", NULL));
	}
}

/* The names of the Secrets a pod spec reads, as an object used as a set. */
static json_t *secret_refs(json_t *podspec)
{
	json_t *names = json_object(), *v, *src;
	size_t i, j;

	if (!names)
		return NULL;
	container_refs(names, json_object_get(podspec, "containers"));
	container_refs(names, json_object_get(podspec, "initContainers"));
	json_array_foreach(json_object_get(podspec, "volumes"), i, v) {
		add_name(names, tm_doc_get(v, "secret", "secretName", NULL));
		json_array_foreach(tm_doc_get(v, "projected", "sources", NULL), j, src)
			add_name(names, tm_doc_get(src, "secret", "name", NULL));
	}
	return names;
}

int tm_secret_checksum_consumers(unsigned *annotated, json_t *objects, const json_t *secrets, struct tm_err *err)
{
	json_t *hashes = json_object(), *obj, *s;
	size_t i;
	unsigned n = 0;

	if (!hashes)
		return tm_err_set(err, TM_ERROR, "out of memory");
	json_array_foreach(secrets, i, s) {
		const char *name = json_string_value(tm_doc_get(s, "metadata", "name", NULL));
		json_t *hash = tm_doc_get(s, "metadata", "annotations", TM_CONTENT_HASH_ANNOTATION, NULL);

		if (name && json_is_string(hash))
			json_object_set(hashes, name, hash);
	}
	json_array_foreach(objects, i, obj) {
		json_t *t = pod_template(obj), *refs, *md, *ann;
		const char *name;
		void *it;

		if (!t || !(refs = secret_refs(json_object_get(t, "spec"))))
			continue;
		for (it = json_object_iter(refs); it; it = json_object_iter_next(refs, it)) {
			json_t *hash;
			char key[300];

			name = json_object_iter_key(it);
			if (!(hash = json_object_get(hashes, name)))
				continue; /* external, or not one tarmac makes */
			md = json_object_get(t, "metadata");
			if (!json_is_object(md)) {
				md = json_object();
				json_object_set_new(t, "metadata", md);
			}
			ann = json_object_get(md, "annotations");
			if (!json_is_object(ann)) {
				ann = json_object();
				json_object_set_new(md, "annotations", ann);
			}
			snprintf(key, sizeof(key), "checksum/secret-%s", name);
			if (!ann || json_object_set(ann, key, hash) < 0) {
				json_decref(refs);
				json_decref(hashes);
				return tm_err_set(err, TM_ERROR, "out of memory");
			}
			n++;
		}
		json_decref(refs);
	}
	json_decref(hashes);
	if (annotated)
		*annotated = n;
	return 0;
}

int tm_secret_rotation_job(json_t **out, const json_t *objects, const struct tm_secret_set *s, const char *release,
			   struct tm_err *err)
{
	const char *fernet = NULL, *comp;
	char name[300];
	size_t len = 0, i;
	json_t *obj = NULL, *job, *c;

	*out = NULL;
	if (tm_secret_set_get(s, TM_SECRET_FERNET_KEY, &fernet, &len) < 0 || !memchr(fernet, ',', len))
		return 0; /* no rotation staged */
	json_array_foreach(objects, i, obj) {
		comp = json_string_value(tm_doc_get(obj, "metadata", "labels", TM_LABEL_COMPONENT, NULL));
		if (comp && strcmp(comp, "run-airflow-migrations") == 0 &&
		    strcmp(json_string_value(json_object_get(obj, "kind")) ?: "", "Job") == 0)
			break;
	}
	if (i == json_array_size(objects))
		return tm_err_set(err, TM_ENOTFOUND, "a Fernet key rotation is staged, but the stack has no migration Job to "
				  "model the rotation Job on (migrateDatabaseJob.enabled is false)");
	/* the migration Job's pod (image, config, env, secrets) with another command, run
	 * after the workloads have rolled onto "new,old" */
	if (!(job = json_deep_copy(obj)))
		return tm_err_set(err, TM_ERROR, "out of memory");
	snprintf(name, sizeof(name), "%s-rotate-fernet-key", release);
	json_object_set_new(json_object_get(job, "metadata"), "name", json_string(name));
	json_object_del(json_object_get(job, "metadata"), "resourceVersion");
	json_object_set_new(tm_doc_get(job, "metadata", "labels", NULL), TM_LABEL_COMPONENT,
			    json_string("rotate-fernet-key"));
	if (!json_is_object(tm_doc_get(job, "metadata", "annotations", NULL)))
		json_object_set_new(json_object_get(job, "metadata"), "annotations", json_object());
	json_object_set_new(tm_doc_get(job, "metadata", "annotations", NULL), TM_PHASE_ANNOTATION, json_string("policy"));
	json_object_set_new(tm_doc_get(job, "spec", "template", "metadata", "labels", NULL), TM_LABEL_COMPONENT,
			    json_string("rotate-fernet-key"));
	c = json_array_get(tm_doc_get(job, "spec", "template", "spec", "containers", NULL), 0);
	if (!c) {
		json_decref(job);
		return tm_err_set(err, TM_EINVALID, "the migration Job has no container to copy");
	}
	json_object_set_new(c, "name", json_string("rotate-fernet-key"));
	json_object_set_new(c, "args", json_pack("[s, s]", "airflow", "rotate-fernet-key"));
	*out = job;
	return 0;
}
