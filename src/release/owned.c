/* The objects of a release and who owns them: live reads of many objects at once,
 * the ownership check of new objects, what a rollback applies again. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "release_private.h"
#include "tarmac/doc.h"

/* ------------------------------------------------------------------ objects */

void tm_release_object_key(char *out, size_t n, const json_t *obj)
{
	const char *av = json_string_value(json_object_get(obj, "apiVersion"));
	const char *slash = av ? strchr(av, '/') : NULL;

	snprintf(out, n, "%.*s|%s|%s|%s", slash ? (int)(slash - av) : 0, av ? av : "",
		 json_string_value(json_object_get(obj, "kind")),
		 json_string_value(tm_doc_get(obj, "metadata", "namespace", NULL)) ?: "",
		 json_string_value(tm_doc_get(obj, "metadata", "name", NULL)) ?: "");
}

bool tm_release_is_kind(const json_t *obj, const char *api_version, const char *kind)
{
	const char *av = json_string_value(json_object_get(obj, "apiVersion"));
	const char *k = json_string_value(json_object_get(obj, "kind"));

	return av && k && strcmp(k, kind) == 0 && (!api_version || strcmp(av, api_version) == 0);
}

void tm_release_subject_of(char *out, size_t n, const json_t *obj)
{
	const char *ns = json_string_value(tm_doc_get(obj, "metadata", "namespace", NULL));

	snprintf(out, n, "%s %s%s%s", json_string_value(json_object_get(obj, "kind")), ns ? ns : "", ns ? "/" : "",
		 json_string_value(tm_doc_get(obj, "metadata", "name", NULL)));
}

int tm_release_get_all(struct tm_kube_batch *b, struct tm_release_run *c, const json_t *objs, struct tm_err *err)
{
	size_t i;
	json_t *obj;
	int rc;

	if ((rc = tm_kube_batch_init(b, json_array_size(objs), 2048, err)) < 0)
		return rc;
	json_array_foreach(objs, i, obj) {
		struct tm_kube_call *call = &b->calls[i];
		struct tm_kube_rsc r;

		if (tm_kube_resolve(c->k, json_string_value(json_object_get(obj, "apiVersion")),
				    json_string_value(json_object_get(obj, "kind")), false, &r, &call->err) < 0 ||
		    tm_kube_path(&b->paths[i], &r, json_string_value(tm_doc_get(obj, "metadata", "namespace", NULL)),
				 json_string_value(tm_doc_get(obj, "metadata", "name", NULL)), &call->err) < 0) {
			/* a kind not served yet (its CRD comes with this run) or a bad name: not sent,
			 * and not there; apply says why */
			call->rc = TM_ENOTFOUND;
			continue;
		}
		call->req = (struct tm_http_request){ .method = "GET", .path = b->paths[i].data };
		call->want_json = true;
	}
	if ((rc = tm_kube_do(c->k, b->calls, b->n, err)) < 0)
		tm_kube_batch_release(b);
	return rc;
}

int tm_release_check_ownership(struct tm_release_run *c, json_t *objects, const json_t *prev_objects, struct tm_err *err)
{
	json_t *prev = json_object(), *fresh = json_array(), *obj;
	struct tm_kube_batch b = { 0 };
	struct tm_buf list = TM_BUF_INIT("objects", 8192);
	size_t i, nfresh, foreign = 0;
	char key[800];
	int rc = 0;

	if (!prev || !fresh) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	json_array_foreach(prev_objects, i, obj) {
		tm_release_object_key(key, sizeof(key), obj);
		json_object_set_new(prev, key, json_true());
	}
	json_array_foreach(objects, i, obj) {
		tm_release_object_key(key, sizeof(key), obj);
		if (!json_object_get(prev, key))
			json_array_append(fresh, obj);
	}
	nfresh = json_array_size(fresh);
	if (!nfresh || (rc = tm_release_get_all(&b, c, fresh, err)) < 0)
		goto out;
	for (i = 0; i < nfresh; i++) {
		json_t *o = json_array_get(fresh, i);
		const char *part;
		char subject[400];

		if (b.calls[i].rc == TM_ENOTFOUND)
			continue;
		if (b.calls[i].rc < 0) {
			rc = b.calls[i].rc;
			*err = b.calls[i].err;
			goto out;
		}
		part = json_string_value(tm_doc_get(b.calls[i].out, "metadata", "labels", TM_APPLYSET_PART_OF, NULL));
		if (part && strcmp(part, c->set.id) == 0)
			continue;
		tm_release_subject_of(subject, sizeof(subject), o);
		if (tm_release_is_kind(o, "v1", "Namespace")) {
			tm_release_report(c->o, TM_WARN, "owner", "%s exists and tarmac did not make it: left as it is",
					  subject);
			for (size_t j = 0; j < json_array_size(objects); j++)
				if (json_array_get(objects, j) == o) {
					json_array_remove(objects, j);
					break;
				}
			continue;
		}
		if (c->o->take_ownership) {
			tm_release_report(c->o, TM_WARN, "owner", "%s exists without this release's label: taking it over "
			       "(--take-ownership)", subject);
			if ((rc = tm_release_adopt(c, b.calls[i].out, b.paths[i].data, subject, err)) < 0)
				goto out;
			continue;
		}
		if (foreign++ < 5 && (rc = tm_buf_printf(&list, err, "%s%s", foreign > 1 ? ", " : "", subject)) < 0)
			goto out;
	}
	if (foreign)
		rc = tm_err_set(err, TM_ECONFLICT, "%zu object%s of the release exist%s and tarmac did not make %s: %s%s "
				"(%s%s belongs to %s); delete %s, use another release name or namespace, or adopt %s "
				"with --take-ownership", foreign, foreign == 1 ? "" : "s", foreign == 1 ? "s" : "",
				foreign == 1 ? "it" : "them", tm_buf_cstr(&list), foreign > 5 ? ", ..." : "",
				"no label " TM_APPLYSET_PART_OF "=", c->set.id, "another owner or nobody",
				foreign == 1 ? "it" : "them", foreign == 1 ? "it" : "them");
out:
	tm_kube_batch_release(&b);
	json_decref(prev);
	json_decref(fresh);
	tm_buf_release(&list);
	return rc;
}

bool tm_release_has_migration(const json_t *objects)
{
	size_t i;
	json_t *obj;

	json_array_foreach(objects, i, obj)
		if (tm_release_is_kind(obj, NULL, "Job") && tm_apply_phase_of(obj) == TM_PHASE_MIGRATE)
			return true;
	return false;
}

int tm_release_restore_objects(struct tm_release_run *c, const json_t *record, json_t **apply, struct tm_err *err)
{
	json_t *objs = json_object_get(record, "objects"), *out = json_array(), *secrets = json_array(), *obj;
	struct tm_kube_batch b = { 0 };
	size_t i;
	int rc = 0;

	if (!out || !secrets) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	json_array_foreach(objs, i, obj)
		json_array_append(tm_kind_is_secret(obj) || tm_release_is_kind(obj, NULL, "SealedSecret") ? secrets : out, obj);
	if (json_array_size(secrets) && (rc = tm_release_get_all(&b, c, secrets, err)) < 0)
		goto out;
	for (i = 0; i < json_array_size(secrets); i++) {
		char subject[400];

		tm_release_subject_of(subject, sizeof(subject), json_array_get(secrets, i));
		if (b.calls[i].rc == TM_ENOTFOUND) {
			rc = tm_err_set(err, TM_ENOTFOUND, "%s of that revision no longer exists, and records never hold "
					"secret data: run 'tarmac up' to create it, then roll back", subject);
			goto out;
		}
		if (b.calls[i].rc < 0) {
			rc = b.calls[i].rc;
			*err = b.calls[i].err;
			goto out;
		}
		tm_release_report(c->o, TM_DEBUG, "log", "%s kept as it is (secrets change by rotation, not by rollback)",
				  subject);
	}
	*apply = out;
	out = NULL;
out:
	tm_kube_batch_release(&b);
	json_decref(out);
	json_decref(secrets);
	return rc;
}


/* ------------------------------------------------------------------ lost members */

/* "group|plural|ns|name" of obj into key; false when its kind is not served (yet). */
static bool member_key(char *key, size_t n, struct tm_release_run *c, const json_t *obj, struct tm_kube_rsc *r)
{
	const char *ns = json_string_value(tm_doc_get(obj, "metadata", "namespace", NULL));
	struct tm_err e;

	tm_err_init(&e);
	if (tm_kube_resolve(c->k, json_string_value(json_object_get(obj, "apiVersion")),
			    json_string_value(json_object_get(obj, "kind")), false, r, &e) < 0)
		return false;
	snprintf(key, n, "%s|%s|%s|%s", r->group, r->name, r->namespaced && ns ? ns : "",
		 json_string_value(tm_doc_get(obj, "metadata", "name", NULL)) ?: "");
	return true;
}

/* One list per (resource, namespace) of objects, of what lacks a part-of label:
 * metadata only, so the check costs a request per kind, not per object. lists maps
 * "group|plural|ns|" to the call's index. */
static int list_unlabelled(struct tm_kube_batch *b, struct tm_release_run *c, const json_t *objects, json_t *lists,
			   struct tm_err *err)
{
	size_t i, n = 0;
	json_t *obj;
	int rc;

	if ((rc = tm_kube_batch_init(b, json_array_size(objects) + 1, 2048, err)) < 0)
		return rc;
	json_array_foreach(objects, i, obj) {
		const char *ns = json_string_value(tm_doc_get(obj, "metadata", "namespace", NULL));
		struct tm_kube_rsc r;
		char key[800];

		if (!member_key(key, sizeof(key), c, obj, &r))
			continue; /* a kind not served yet: nothing of it can have lost a label */
		key[strlen(key) - strlen(strrchr(key, '|')) + 1] = '\0';
		if (json_object_get(lists, key))
			continue;
		if ((rc = tm_kube_path(&b->paths[n], &r, r.namespaced ? ns : NULL, NULL, err)) < 0 ||
		    (rc = tm_buf_printf(&b->paths[n], err, "?labelSelector=%%21%s", TM_APPLYSET_PART_OF)) < 0)
			return rc;
		json_object_set_new(lists, key, json_integer((json_int_t)n));
		b->calls[n].req = (struct tm_http_request){ .method = "GET", .path = b->paths[n].data,
							    .accept = TM_KUBE_ACCEPT_METADATA };
		b->calls[n].want_json = true;
		n++;
	}
	return n ? tm_kube_do(c->k, b->calls, n, err) : 0;
}

int tm_release_lost_members(size_t *out, char *first, size_t n, struct tm_release_run *c, const json_t *objects,
			    struct tm_err *err)
{
	struct tm_kube_batch b = { 0 };
	json_t *lists = json_object(), *unlabelled = json_object(), *v, *item, *obj;
	size_t i, lost = 0;
	const char *lkey;
	char key[800];
	int rc;

	if (!lists || !unlabelled) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	if ((rc = list_unlabelled(&b, c, objects, lists, err)) < 0)
		goto out;
	json_object_foreach(lists, lkey, v) {
		struct tm_kube_call *call = &b.calls[json_integer_value(v)];
		const char *gr_end = strchr(strchr(lkey, '|') + 1, '|');

		if (call->rc == TM_ENOTFOUND)
			continue;
		if ((rc = call->rc) < 0) {
			*err = call->err;
			tm_err_wrap(err, "check that the release's objects still carry its label");
			goto out;
		}
		json_array_foreach(json_object_get(call->out, "items"), i, item) {
			json_t *md = json_object_get(item, "metadata");

			snprintf(key, sizeof(key), "%.*s|%s|%s", (int)(gr_end - lkey), lkey,
				 json_string_value(json_object_get(md, "namespace")) ?: "",
				 json_string_value(json_object_get(md, "name")) ?: "");
			json_object_set_new(unlabelled, key, json_true());
		}
	}
	json_array_foreach(objects, i, obj) {
		struct tm_kube_rsc r;

		if (!member_key(key, sizeof(key), c, obj, &r) || !json_object_get(unlabelled, key))
			continue;
		if (!lost++)
			tm_release_subject_of(first, n, obj);
	}
	*out = lost;
out:
	tm_kube_batch_release(&b);
	json_decref(lists);
	json_decref(unlabelled);
	return rc;
}
