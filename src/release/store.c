/* Revision records as Secrets: list (metadata only), read (head and parts at once,
 * checked), write (parts first, head last), status updates on the head's metadata,
 * deletion and the sweep of parts a killed run left without their head. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "tarmac/doc.h"
#include "release_private.h"
#include "tarmac/labels.h"

#define ACCEPT_METADATA TM_KUBE_ACCEPT_METADATA
#define A_PREFIX "tarmac.io/"

static void head_name(char *out, size_t n, const char *release, int number)
{
	snprintf(out, n, "tarmac.release.v1.%s.v%d", release, number);
}

static void part_name(char *out, size_t n, const char *release, int number, int part)
{
	snprintf(out, n, "tarmac.release.v1.%s.v%d.part%d", release, number, part);
}

static int secrets_path(struct tm_buf *out, const char *ns, const char *name, struct tm_err *err)
{
	tm_buf_clear(out);
	if (strpbrk(ns, "/?#%") || (name && strpbrk(name, "/?#%")))
		return tm_err_set(err, TM_EINVALID, "'%s': not a valid name", name ? name : ns);
	return tm_buf_printf(out, err, "/api/v1/namespaces/%s/secrets%s%s", ns, name ? "/" : "", name ? name : "");
}

/* ------------------------------------------------------------------ metadata <-> struct */

static const char *ann(const json_t *md, const char *key)
{
	char full[80];

	snprintf(full, sizeof(full), A_PREFIX "%s", key);
	return json_string_value(tm_doc_get(md, "annotations", full, NULL));
}

#define COPY(dst, src) snprintf((dst), sizeof(dst), "%s", (src) ? (src) : "")

/* The revision a head Secret describes; false when its labels are not a record's. */
static bool rev_from_metadata(struct tm_revision *r, const json_t *md)
{
	const char *num = json_string_value(tm_doc_get(md, "labels", TM_LABEL_REVISION, NULL));
	const char *st = json_string_value(tm_doc_get(md, "labels", TM_LABEL_STATUS, NULL));
	const char *parts = ann(md, "parts");
	char *end;
	long v;
	int s;

	memset(r, 0, sizeof(*r));
	if (!num || (v = strtol(num, &end, 10)) <= 0 || *end || v > 1000000000 || (s = tm_release_status_find(st)) < 0)
		return false;
	r->number = (int)v;
	r->status = (enum tm_release_status)s;
	/* 0: not a number of parts, which reading reports as a corrupt record */
	r->parts = 1;
	if (parts) {
		long p = strtol(parts, &end, 10);

		r->parts = end != parts && !*end && p >= 1 && p <= TM_RECORD_MAX_PARTS ? (int)p : 0;
	}
	COPY(r->description, ann(md, "description"));
	COPY(r->error, ann(md, "error"));
	COPY(r->airflow_version, ann(md, "airflow-version"));
	COPY(r->dag_commit, ann(md, "dag-commit"));
	COPY(r->schema_version, ann(md, "schema-version"));
	COPY(r->tarmac_version, ann(md, "tarmac-version"));
	COPY(r->env, ann(md, "env"));
	COPY(r->digest, ann(md, "digest"));
	COPY(r->record_sha256, ann(md, "record-sha256"));
	COPY(r->created, ann(md, "created"));
	COPY(r->updated, ann(md, "updated"));
	return true;
}

/* The mutable part of a head's metadata, as a merge patch or a new object's metadata. */
static json_t *rev_metadata(const char *release, const struct tm_revision *r, bool full)
{
	char num[16];
	json_t *md;

	snprintf(num, sizeof(num), "%d", r->number);
	md = json_pack("{s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s}}", "labels", TM_LABEL_MANAGED_BY,
		       TM_MANAGER, TM_LABEL_RELEASE, release, TM_LABEL_REVISION, num, TM_LABEL_STATUS, tm_release_status_name(r->status),
		       "annotations", A_PREFIX "description", r->description, A_PREFIX "error", r->error,
		       A_PREFIX "schema-version", r->schema_version, A_PREFIX "updated", r->updated);
	if (md && full) {
		json_t *a = json_object_get(md, "annotations");
		char parts[16];

		snprintf(parts, sizeof(parts), "%d", r->parts);
		json_object_set_new(a, A_PREFIX "parts", json_string(parts));
		json_object_set_new(a, A_PREFIX "airflow-version", json_string(r->airflow_version));
		json_object_set_new(a, A_PREFIX "dag-commit", json_string(r->dag_commit));
		json_object_set_new(a, A_PREFIX "tarmac-version", json_string(r->tarmac_version));
		json_object_set_new(a, A_PREFIX "env", json_string(r->env));
		json_object_set_new(a, A_PREFIX "digest", json_string(r->digest));
		json_object_set_new(a, A_PREFIX "record-sha256", json_string(r->record_sha256));
		json_object_set_new(a, A_PREFIX "created", json_string(r->created));
	}
	return md;
}

static int by_number(const void *a, const void *b)
{
	const struct tm_revision *x = a, *y = b;

	return (x->number > y->number) - (x->number < y->number);
}

/* Every record Secret of the release (heads and parts), metadata only. */
static int list_all(json_t **out, struct tm_kube *k, const char *release, const char *ns, struct tm_err *err)
{
	struct tm_buf path = TM_BUF_INIT("path", 2048);
	struct tm_kube_call c = { 0 };
	int rc;

	if ((rc = secrets_path(&path, ns, NULL, err)) < 0 ||
	    (rc = tm_buf_printf(&path, err, "?labelSelector=" TM_LABEL_RELEASE "%%3D%s&fieldSelector=type%%3D%s", release,
				TM_RECORD_TYPE)) < 0)
		goto out;
	c.req = (struct tm_http_request){ .method = "GET", .path = path.data, .accept = ACCEPT_METADATA };
	c.want_json = true;
	if ((rc = tm_kube_do(k, &c, 1, err)) < 0)
		goto out;
	if ((rc = c.rc) < 0) {
		*err = c.err;
		tm_err_wrap(err, "list the revisions of release '%s'", release);
		goto out;
	}
	*out = json_incref(json_object_get(c.out, "items"));
out:
	tm_kube_call_release(&c);
	tm_buf_release(&path);
	return rc;
}

int tm_release_list(struct tm_revision **out, size_t *n, struct tm_kube *k, const char *release, const char *ns,
		    struct tm_err *err)
{
	json_t *items = NULL, *it;
	struct tm_revision *revs = NULL;
	size_t i, m = 0;
	int rc;

	if ((rc = list_all(&items, k, release, ns, err)) < 0)
		return rc;
	if (!(revs = calloc(json_array_size(items) + 1, sizeof(*revs)))) {
		json_decref(items);
		return tm_err_set(err, TM_ERROR, "out of memory");
	}
	json_array_foreach(items, i, it) {
		json_t *md = json_object_get(it, "metadata");

		if (tm_doc_get(md, "labels", TM_LABEL_PART, NULL) || !rev_from_metadata(&revs[m], md))
			continue;
		m++;
	}
	qsort(revs, m, sizeof(*revs), by_number);
	json_decref(items);
	*out = revs;
	*n = m;
	return 0;
}

/* ------------------------------------------------------------------ read */

static int append_b64(struct tm_buf *out, const char *b64, struct tm_err *err)
{
	size_t cap = b64 ? strlen(b64) : 0, len = 0;
	unsigned char *bin = malloc(cap + 1);
	int rc;

	if (!bin)
		return tm_err_set(err, TM_ERROR, "out of memory");
	if (!b64 || sodium_base642bin(bin, cap + 1, b64, cap, NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL) < 0) {
		free(bin);
		return tm_err_set(err, TM_EINVALID, "corrupt record: data.release is not base64");
	}
	rc = tm_buf_append(out, bin, len, err);
	free(bin);
	return rc;
}

int tm_release_read(json_t **out, struct tm_kube *k, const char *release, const char *ns,
		    const struct tm_revision *rev, struct tm_err *err)
{
	int parts = rev->parts;
	struct tm_kube_batch b = { 0 };
	struct tm_kube_call *c;
	struct tm_buf gz = TM_BUF_INIT("release record", (size_t)TM_RECORD_MAX_PARTS * TM_RECORD_PART_MAX);
	char name[300], hex[65], tagged[80];
	int rc;

	if (parts < 1 || parts > TM_RECORD_MAX_PARTS)
		return tm_err_set(err, TM_EINVALID, "corrupt record: revision %d's tarmac.io/parts is not a number from 1 "
				  "to %d", rev->number, TM_RECORD_MAX_PARTS);
	if ((rc = tm_kube_batch_init(&b, (size_t)parts, 1024, err)) < 0)
		return rc;
	c = b.calls;
	for (int i = 0; i < parts; i++) {
		if (i == 0)
			head_name(name, sizeof(name), release, rev->number);
		else
			part_name(name, sizeof(name), release, rev->number, i);
		if ((rc = secrets_path(&b.paths[i], ns, name, err)) < 0)
			goto out;
		c[i].req = (struct tm_http_request){ .method = "GET", .path = b.paths[i].data };
		c[i].want_json = true;
	}
	if ((rc = tm_kube_do(k, c, (size_t)parts, err)) < 0)
		goto out;
	for (int i = 0; i < parts; i++) {
		if ((rc = c[i].rc) < 0) {
			*err = c[i].err;
			goto fail;
		}
		if ((rc = append_b64(&gz, json_string_value(tm_doc_get(c[i].out, "data", "release", NULL)), err)) < 0)
			goto fail;
	}
	tm_sha256_hex(hex, gz.data ? gz.data : "", gz.len);
	snprintf(tagged, sizeof(tagged), "sha256:%s", hex);
	if (!rev->record_sha256[0]) {
		rc = tm_err_set(err, TM_EINVALID, "corrupt record: its head has no tarmac.io/record-sha256 to check it by");
		goto fail;
	}
	if (strcmp(tagged, rev->record_sha256) != 0) {
		rc = tm_err_set(err, TM_EINVALID, "corrupt record: its %d part%s hash to %s, the head says %s", parts,
				parts == 1 ? "" : "s", tagged, rev->record_sha256);
		goto fail;
	}
	if ((rc = tm_record_decode(out, gz.data, gz.len, err)) < 0)
		goto fail;
	goto out;
fail:
	tm_err_wrap(err, "read revision %d of release '%s'", rev->number, release);
out:
	tm_kube_batch_release(&b);
	tm_buf_release(&gz);
	return rc;
}

/* ------------------------------------------------------------------ write */

static json_t *record_secret(const char *name, const char *ns, json_t *md, const void *data, size_t len)
{
	size_t b64len = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = malloc(b64len);
	json_t *obj;

	if (!b64 || !md) {
		free(b64);
		json_decref(md);
		return NULL;
	}
	sodium_bin2base64(b64, b64len, data, len, sodium_base64_VARIANT_ORIGINAL);
	json_object_set_new(md, "name", json_string(name));
	json_object_set_new(md, "namespace", json_string(ns));
	obj = json_pack("{s:s, s:s, s:o, s:s, s:b, s:{s:s}}", "apiVersion", "v1", "kind", "Secret", "metadata", md, "type",
			TM_RECORD_TYPE, "immutable", 1, "data", "release", b64);
	free(b64);
	return obj;
}

/* Whether the Secret that answered a POST with 409 holds what that POST sent. */
static bool same_as_sent(struct tm_kube *k, const char *ns, const json_t *obj)
{
	struct tm_buf path = TM_BUF_INIT("path", 1024);
	json_t *live = NULL;
	struct tm_err e;
	bool same = false;

	tm_err_init(&e);
	if (secrets_path(&path, ns, json_string_value(tm_doc_get(obj, "metadata", "name", NULL)), &e) == 0 &&
	    tm_kube_get(k, path.data, &live, &e) == 0)
		same = json_equal(tm_doc_get(live, "data", "release", NULL), tm_doc_get(obj, "data", "release", NULL));
	json_decref(live);
	tm_buf_release(&path);
	return same;
}

/* Part p of the record (gz) as a Secret to POST: its object into sent (index p) and its
 * JSON into *body. The head (p 0) carries the revision's metadata. */
static int part_body(char **body, json_t *sent, const struct tm_buf *gz, size_t p, const char *release, const char *ns,
		     const struct tm_revision *rev, struct tm_err *err)
{
	size_t off = p * TM_RECORD_PART_MAX;
	size_t len = gz->len - off < TM_RECORD_PART_MAX ? gz->len - off : TM_RECORD_PART_MAX;
	char name[300], num[16], pnum[16];
	json_t *md, *obj;

	snprintf(num, sizeof(num), "%d", rev->number);
	snprintf(pnum, sizeof(pnum), "%zu", p);
	if (p == 0) {
		head_name(name, sizeof(name), release, rev->number);
		md = rev_metadata(release, rev, true);
	} else {
		part_name(name, sizeof(name), release, rev->number, (int)p);
		md = json_pack("{s:{s:s, s:s, s:s, s:s}}", "labels", TM_LABEL_MANAGED_BY, TM_MANAGER, TM_LABEL_RELEASE, release,
			       TM_LABEL_REVISION, num, TM_LABEL_PART, pnum);
	}
	if (!(obj = record_secret(name, ns, md, gz->data + off, len)) || !(*body = json_dumps(obj, JSON_COMPACT)) ||
	    json_array_append_new(sent, obj) < 0) {
		if (!*body)
			json_decref(obj);
		return tm_err_set(err, TM_ERROR, "out of memory");
	}
	return 0;
}

/* POSTs the parts first, all at once, and the head only when they are in, so a reader
 * never finds a head whose parts are missing. A 409 on a Secret equal to ours is our own
 * POST retried after its answer was lost. */
static int post_parts(struct tm_kube *k, const char *release, const char *ns, struct tm_kube_call *c, size_t nparts,
		      const json_t *sent, const struct tm_revision *rev, struct tm_err *err)
{
	int rc;

	for (int round = 0; round < 2; round++) {
		size_t from = round == 0 ? 1 : 0, cnt = round == 0 ? nparts - 1 : 1;

		if (!cnt)
			continue;
		if ((rc = tm_kube_do(k, c + from, cnt, err)) < 0)
			return rc;
		for (size_t j = from; j < from + cnt; j++) {
			if ((rc = c[j].rc) == TM_ECONFLICT && same_as_sent(k, ns, json_array_get(sent, j)))
				rc = 0;
			if (rc < 0) {
				*err = c[j].err;
				if (rc == TM_ECONFLICT && j == 0)
					tm_err_wrap(err, "revision %d exists already", rev->number);
				tm_err_wrap(err, "write revision %d of release '%s'", rev->number, release);
				return rc;
			}
		}
	}
	return 0;
}

int tm_release_write(struct tm_kube *k, const char *release, const char *ns, struct tm_revision *rev,
		     const json_t *record, struct tm_err *err)
{
	struct tm_buf gz = TM_BUF_INIT("release record", (size_t)TM_RECORD_MAX_PARTS * TM_RECORD_PART_MAX);
	struct tm_buf path = TM_BUF_INIT("path", 1024);
	struct tm_kube_call c[TM_RECORD_MAX_PARTS];
	char *bodies[TM_RECORD_MAX_PARTS] = { 0 };
	json_t *sent = json_array(); /* the objects posted, index = part */
	char hex[65];
	size_t nparts;
	int rc;

	memset(c, 0, sizeof(c));
	if (!sent)
		return tm_err_set(err, TM_ERROR, "out of memory");
	if ((rc = tm_record_encode(&gz, record, err)) < 0) {
		if (rc == TM_ELIMIT)
			tm_err_wrap(err, "the record of revision %d is larger than %d Secrets of %u KiB", rev->number,
				    TM_RECORD_MAX_PARTS, TM_RECORD_PART_MAX / 1024);
		goto out;
	}
	nparts = gz.len ? (gz.len + TM_RECORD_PART_MAX - 1) / TM_RECORD_PART_MAX : 1;
	rev->parts = (int)nparts;
	tm_sha256_hex(hex, gz.data, gz.len);
	snprintf(rev->record_sha256, sizeof(rev->record_sha256), "sha256:%s", hex);
	if ((rc = secrets_path(&path, ns, NULL, err)) < 0)
		goto out;
	for (size_t p = 0; p < nparts; p++) {
		if ((rc = part_body(&bodies[p], sent, &gz, p, release, ns, rev, err)) < 0)
			goto out;
		c[p].req = (struct tm_http_request){ .method = "POST", .path = path.data, .content_type = "application/json",
						     .body = bodies[p], .body_len = strlen(bodies[p]) };
	}
	rc = post_parts(k, release, ns, c, nparts, sent, rev, err);
out:
	for (size_t i = 0; i < TM_RECORD_MAX_PARTS; i++) {
		tm_kube_call_release(&c[i]);
		free(bodies[i]);
	}
	json_decref(sent);
	tm_buf_release(&gz);
	tm_buf_release(&path);
	return rc;
}

int tm_release_update(struct tm_kube *k, const char *release, const char *ns, const struct tm_revision *rev,
		      struct tm_err *err)
{
	struct tm_buf path = TM_BUF_INIT("path", 1024);
	json_t *patch = json_pack("{s:o}", "metadata", rev_metadata(release, rev, false)), *ans = NULL;
	char name[300], *body = patch ? json_dumps(patch, JSON_COMPACT) : NULL;
	int rc;

	head_name(name, sizeof(name), release, rev->number);
	if (!body) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	if ((rc = secrets_path(&path, ns, name, err)) < 0 ||
	    (rc = tm_kube_request(k, "PATCH", path.data, "application/merge-patch+json", body, &ans, err)) < 0)
		tm_err_wrap(err, "mark revision %d of release '%s' %s", rev->number, release,
			    tm_release_status_name(rev->status));
out:
	json_decref(patch);
	json_decref(ans);
	free(body);
	tm_buf_release(&path);
	return rc;
}

/* DELETEs of these names at once; a 404 counts as done. */
static int delete_names(struct tm_kube *k, const char *ns, char (*names)[300], size_t n, struct tm_err *err)
{
	struct tm_kube_batch b;
	struct tm_kube_call *c;
	int rc;

	if ((rc = tm_kube_batch_init(&b, n, 1024, err)) < 0)
		return rc;
	c = b.calls;
	for (size_t i = 0; i < n; i++) {
		if ((rc = secrets_path(&b.paths[i], ns, names[i], err)) < 0)
			goto out;
		c[i].req = (struct tm_http_request){ .method = "DELETE", .path = b.paths[i].data };
	}
	if (n && (rc = tm_kube_do(k, c, n, err)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (c[i].rc < 0 && c[i].rc != TM_ENOTFOUND) {
			rc = c[i].rc;
			*err = c[i].err;
			tm_err_wrap(err, "delete Secret '%s/%s'", ns, names[i]);
			break;
		}
out:
	tm_kube_batch_release(&b);
	return rc;
}

int tm_release_delete(struct tm_kube *k, const char *release, const char *ns, const struct tm_revision *rev,
		      struct tm_err *err)
{
	int parts = rev->parts > 0 && rev->parts <= TM_RECORD_MAX_PARTS ? rev->parts : 1;
	char (*names)[300] = calloc((size_t)parts, sizeof(*names));
	int rc;

	if (!names)
		return tm_err_set(err, TM_ERROR, "out of memory");
	head_name(names[0], sizeof(names[0]), release, rev->number);
	if ((rc = delete_names(k, ns, names, 1, err)) == 0) {
		for (int i = 1; i < parts; i++)
			part_name(names[i], sizeof(names[i]), release, rev->number, i);
		rc = delete_names(k, ns, names + 1, (size_t)parts - 1, err);
	}
	free(names);
	return rc;
}

int tm_release_sweep(unsigned *n, struct tm_kube *k, const char *release, const char *ns, struct tm_err *err)
{
	json_t *items = NULL, *heads = json_object(), *it;
	char (*names)[300] = NULL;
	size_t i, m = 0;
	int rc;

	*n = 0;
	if (!heads)
		return tm_err_set(err, TM_ERROR, "out of memory");
	if ((rc = list_all(&items, k, release, ns, err)) < 0)
		goto out;
	json_array_foreach(items, i, it) {
		json_t *labels = tm_doc_get(it, "metadata", "labels", NULL);
		const char *num = json_string_value(json_object_get(labels, TM_LABEL_REVISION));

		if (num && !json_object_get(labels, TM_LABEL_PART))
			json_object_set_new(heads, num, json_true());
	}
	if (!(names = calloc(json_array_size(items) + 1, sizeof(*names)))) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	json_array_foreach(items, i, it) {
		json_t *md = json_object_get(it, "metadata");
		const char *num = json_string_value(tm_doc_get(md, "labels", TM_LABEL_REVISION, NULL));
		const char *name = json_string_value(json_object_get(md, "name"));

		if (name && num && tm_doc_get(md, "labels", TM_LABEL_PART, NULL) && !json_object_get(heads, num))
			snprintf(names[m++], sizeof(names[0]), "%s", name);
	}
	if ((rc = delete_names(k, ns, names, m, err)) == 0)
		*n = (unsigned)m;
out:
	free(names);
	json_decref(items);
	json_decref(heads);
	return rc;
}
