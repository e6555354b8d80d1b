/* Revision records: what a revision applied (Secrets reduced to names and hashes),
 * the values without secret strings, the versions it ran; gzip'd JSON. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "tarmac/doc.h"
#include "release_private.h"

#define RECORD_API "tarmac.io/v1"
#define RECORD_KIND "ReleaseRecord"

static const char *const status_names[TM_REL_STATUS_COUNT] = {
	[TM_REL_PENDING] = "pending",         [TM_REL_DEPLOYED] = "deployed",
	[TM_REL_SUPERSEDED] = "superseded",   [TM_REL_FAILED] = "failed",
	[TM_REL_ROLLED_BACK] = "rolled-back", [TM_REL_UNINSTALLED] = "uninstalled",
};

const char *tm_release_status_name(enum tm_release_status s)
{
	return (unsigned)s < TM_REL_STATUS_COUNT ? status_names[s] : NULL;
}

int tm_release_status_find(const char *s)
{
	for (int i = 0; s && i < TM_REL_STATUS_COUNT; i++)
		if (strcmp(status_names[i], s) == 0)
			return i;
	return -1;
}

/* ------------------------------------------------------------------ redaction */

static bool ends_with(const char *s, size_t n, const char *end)
{
	size_t e = strlen(end);

	return n >= e && strcmp(s + n - e, end) == 0;
}

/* A key whose value is a secret: passwords, tokens, keys, secrets, in any spelling
 * (fernetKey, fernet_key, FERNET-KEY); not the names of Secrets that hold them
 * ("passwordSecretName", "credentialsSecretRef", "sshKeySecret") nor files. */
static bool secret_key(const char *key)
{
	static const char *const words[] = { "password", "passwd", "pass", "token", "fernetkey", "secretkey",
					     "privatekey", "secret", "apikey", "credential", "webhookurl" };
	/* keys of our values that name a Secret rather than hold one */
	static const char *const names[] = { "sshkeysecret", "credentialssecret" };
	char low[128];
	size_t n = 0, i;

	for (i = 0; key[i] && n < sizeof(low) - 1; i++)
		if (key[i] != '_' && key[i] != '-' && key[i] != '.')
			low[n++] = (char)(key[i] >= 'A' && key[i] <= 'Z' ? key[i] + 32 : key[i]);
	low[n] = '\0';
	if (ends_with(low, n, "name") || ends_with(low, n, "ref") || ends_with(low, n, "file") || ends_with(low, n, "path"))
		return false;
	for (i = 0; i < TM_ARRAY_LEN(names); i++)
		if (strcmp(low, names[i]) == 0)
			return false;
	for (i = 0; i < TM_ARRAY_LEN(words); i++)
		if (strstr(low, words[i]))
			return true;
	return false;
}

static void redact(json_t *v)
{
	const char *key;
	json_t *child;
	size_t i;

	if (json_is_object(v)) {
		void *tmp;

		json_object_foreach_safe(v, tmp, key, child) {
			/* any scalar: --set a.pass=123456 is typed as a number */
			if ((json_is_string(child) || json_is_number(child)) && secret_key(key))
				json_object_set_new(v, key, json_string("(redacted)"));
			else
				redact(child);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, child)
			redact(child);
	}
}

json_t *tm_record_redact_values(const json_t *values)
{
	json_t *copy = json_deep_copy(values);

	if (copy)
		redact(copy);
	return copy;
}

/* A Secret as a record keeps it: everything but data and stringData, plus a sha256 of
 * each value's bytes, so a change shows without the value. */
static json_t *secret_for_record(const json_t *secret)
{
	json_t *copy = json_object(), *hashes = json_object(), *v;
	const char *key;

	if (!copy || !hashes)
		goto oom;
	/* only what is not data is copied: no stray copy of a value outlives the run */
	json_object_foreach((json_t *)secret, key, v)
		if (strcmp(key, "data") != 0 && strcmp(key, "stringData") != 0 &&
		    json_object_set_new(copy, key, json_deep_copy(v)) < 0)
			goto oom;
	json_object_foreach(json_object_get(secret, "data"), key, v) {
		const char *b64 = json_string_value(v);
		size_t cap = b64 ? strlen(b64) : 0, len = 0;
		unsigned char *bin = malloc(cap + 1);
		char hex[65], tagged[80];

		if (!bin)
			goto oom;
		if (!b64 || sodium_base642bin(bin, cap + 1, b64, cap, "\n\r ", &len, NULL, sodium_base64_VARIANT_ORIGINAL) < 0)
			len = 0; /* not base64: the server would refuse it anyway; hash nothing */
		tm_sha256_hex(hex, bin, len);
		tm_wipe(bin, cap + 1);
		free(bin);
		snprintf(tagged, sizeof(tagged), "sha256:%s", hex);
		json_object_set_new(hashes, key, json_string(tagged));
	}
	json_object_foreach(json_object_get(secret, "stringData"), key, v) {
		const char *s = json_string_value(v);
		char hex[65], tagged[80];

		tm_sha256_hex(hex, s ? s : "", s ? strlen(s) : 0);
		snprintf(tagged, sizeof(tagged), "sha256:%s", hex);
		json_object_set_new(hashes, key, json_string(tagged));
	}
	if (json_object_set_new(copy, "dataHashes", hashes) < 0)
		goto oom_nohashes;
	return copy;
oom:
	json_decref(hashes);
oom_nohashes:
	json_decref(copy);
	return NULL;
}

static int set_opt_string(json_t *o, const char *key, const char *v)
{
	return json_object_set_new(o, key, v ? json_string(v) : json_null());
}

int tm_record_build(json_t **out, const json_t *objects, const json_t *values, const struct tm_record_meta *m,
		    struct tm_err *err)
{
	json_t *rec = json_object(), *objs = json_array(), *obj, *schema = NULL;
	size_t i;

	if (!rec || !objs)
		goto oom;
	json_array_foreach(objects, i, obj) {
		json_t *copy = tm_kind_is_secret(obj) ? secret_for_record(obj) : json_deep_copy(obj);

		if (!copy || json_array_append_new(objs, copy) < 0)
			goto oom;
	}
	/* objects and schema go in first: from then on rec owns them */
	if (json_object_set_new(rec, "objects", objs) < 0) {
		objs = NULL;
		goto oom;
	}
	objs = NULL;
	if (!(schema = json_pack("{s:s?}", "airflowVersion", m->schema_version)) ||
	    json_object_set_new(rec, "schema", schema) < 0)
		goto oom;
	if (json_object_set_new(rec, "apiVersion", json_string(RECORD_API)) < 0 ||
	    json_object_set_new(rec, "kind", json_string(RECORD_KIND)) < 0 ||
	    json_object_set_new(rec, "release", json_string(m->release)) < 0 ||
	    json_object_set_new(rec, "namespace", json_string(m->namespace)) < 0 ||
	    json_object_set_new(rec, "revision", json_integer(m->revision)) < 0 ||
	    set_opt_string(rec, "env", m->env) < 0 || set_opt_string(rec, "description", m->description) < 0 ||
	    set_opt_string(rec, "tarmacVersion", m->tarmac_version) < 0 ||
	    set_opt_string(rec, "airflowVersion", m->airflow_version) < 0 ||
	    set_opt_string(rec, "dagCommit", m->dag_commit) < 0 || set_opt_string(rec, "digest", m->digest) < 0 ||
	    json_object_set_new(rec, "values", values ? tm_record_redact_values(values) : json_object()) < 0)
		goto oom;
	*out = rec;
	return 0;
oom:
	json_decref(objs);
	json_decref(rec);
	return tm_err_set(err, TM_ERROR, "out of memory");
}

/* A SealedSecret's ciphertext is new on every seal; its template's content hash says
 * whether the values changed. The digest leaves the ciphertext out. */
static json_t *digest_view(const json_t *objects)
{
	json_t *view = json_array(), *obj;
	size_t i;

	if (!view)
		return NULL;
	json_array_foreach(objects, i, obj) {
		const char *kind = json_string_value(json_object_get(obj, "kind"));
		json_t *o = json_incref(obj);

		if (kind && strcmp(kind, "SealedSecret") == 0) {
			json_decref(o);
			if (!(o = json_deep_copy(obj))) {
				json_decref(view);
				return NULL;
			}
			json_object_del(json_object_get(o, "spec"), "encryptedData");
		}
		if (json_array_append_new(view, o) < 0) {
			json_decref(view);
			return NULL;
		}
	}
	return view;
}

int tm_record_digest(char out[72], const json_t *objects, struct tm_err *err)
{
	json_t *view = digest_view(objects);
	char *text = view ? json_dumps(view, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	char hex[65];

	json_decref(view);
	if (!text)
		return tm_err_set(err, TM_ERROR, "out of memory");
	tm_sha256_hex(hex, text, strlen(text));
	tm_wipe(text, strlen(text)); /* it held Secret data */
	free(text);
	snprintf(out, 72, "sha256:%s", hex);
	return 0;
}

/* ------------------------------------------------------------------ gzip */

int tm_record_encode(struct tm_buf *out, const json_t *record, struct tm_err *err)
{
	char *text = json_dumps(record, JSON_COMPACT | JSON_PRESERVE_ORDER);
	z_stream z;
	int rc = 0, zrc;

	tm_buf_clear(out);
	if (!text)
		return tm_err_set(err, TM_ERROR, "out of memory");
	memset(&z, 0, sizeof(z));
	/* windowBits 15 + 16: a gzip wrapper (magic 1f 8b), as Helm's records have */
	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(text);
		return tm_err_set(err, TM_ERROR, "gzip: cannot start");
	}
	z.next_in = (unsigned char *)text;
	z.avail_in = (uInt)strlen(text);
	do {
		unsigned char chunk[65536];

		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zrc = deflate(&z, Z_FINISH);
		if (zrc == Z_STREAM_ERROR) {
			rc = tm_err_set(err, TM_ERROR, "gzip the record: stream error");
			break;
		}
		if ((rc = tm_buf_append(out, chunk, sizeof(chunk) - z.avail_out, err)) < 0)
			break;
	} while (zrc != Z_STREAM_END);
	deflateEnd(&z);
	free(text);
	return rc;
}

/* The most a record of len bytes of gzip may inflate to. */
static size_t inflate_max(size_t len)
{
	size_t by_ratio = len > TM_RECORD_MAX_JSON / TM_RECORD_MAX_RATIO ? TM_RECORD_MAX_JSON : len * TM_RECORD_MAX_RATIO;

	if (by_ratio < TM_RECORD_RATIO_FLOOR)
		by_ratio = TM_RECORD_RATIO_FLOOR;
	return by_ratio < TM_RECORD_MAX_JSON ? by_ratio : TM_RECORD_MAX_JSON;
}

/* Inflates gz into text (capped at text's max: a bomb is never inflated whole). */
static int gunzip(struct tm_buf *text, const void *gz, size_t len, struct tm_err *err)
{
	z_stream z;
	int rc = 0, zrc = Z_OK;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return tm_err_set(err, TM_ERROR, "gunzip: cannot start");
	z.next_in = (unsigned char *)(uintptr_t)gz;
	z.avail_in = (uInt)len;
	while (rc == 0 && zrc != Z_STREAM_END) {
		unsigned char chunk[65536];

		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zrc = inflate(&z, Z_NO_FLUSH);
		if (zrc != Z_OK && zrc != Z_STREAM_END)
			rc = tm_err_set(err, TM_EINVALID, "corrupt record: %s", zrc == Z_BUF_ERROR ? "truncated gzip data"
							: z.msg ? z.msg : "bad gzip data");
		else if ((rc = tm_buf_append(text, chunk, sizeof(chunk) - z.avail_out, NULL)) == TM_ERROR)
			rc = tm_err_set(err, TM_ERROR, "out of memory");
		else if (rc < 0)
			rc = tm_err_set(err, TM_EINVALID, "corrupt record: %zu bytes of gzip inflate to more than %zu bytes, "
					"and no record tarmac writes inflates past %u MiB by more than %u times: not read "
					"further", len, text->max, (unsigned)(TM_RECORD_RATIO_FLOOR >> 20),
					(unsigned)TM_RECORD_MAX_RATIO);
	}
	if (rc == 0 && z.avail_in)
		rc = tm_err_set(err, TM_EINVALID, "corrupt record: %u bytes after the gzip data", z.avail_in);
	inflateEnd(&z);
	return rc;
}

/* A record's shape: tarmac's apiVersion and kind, a revision number, objects each with
 * an apiVersion, a kind and a name. */
static int check_shape(const json_t *rec, struct tm_err *err)
{
	const char *api = json_string_value(json_object_get(rec, "apiVersion"));
	const char *kind = json_string_value(json_object_get(rec, "kind"));
	const json_t *objects = json_object_get(rec, "objects");

	if (!api || strcmp(api, RECORD_API) != 0 || !kind || strcmp(kind, RECORD_KIND) != 0)
		return tm_err_set(err, TM_EINVALID, "not a tarmac release record (apiVersion '%s', kind '%s'; expected '"
				  RECORD_API "', '" RECORD_KIND "')", api ? api : "", kind ? kind : "");
	if (!json_is_array(objects) || !json_is_integer(json_object_get(rec, "revision")))
		return tm_err_set(err, TM_EINVALID, "corrupt record: no objects list or revision number");
	for (size_t i = 0; i < json_array_size(objects); i++) {
		json_t *o = json_array_get(objects, i);

		if (!json_is_object(o) || !json_is_string(json_object_get(o, "apiVersion")) ||
		    !json_is_string(json_object_get(o, "kind")) || !json_is_string(tm_doc_get(o, "metadata", "name", NULL)))
			return tm_err_set(err, TM_EINVALID, "corrupt record: object %zu has no apiVersion, kind or name", i + 1);
	}
	return 0;
}

int tm_record_decode(json_t **out, const void *gz, size_t len, struct tm_err *err)
{
	struct tm_buf text = TM_BUF_INIT("release record", inflate_max(len));
	json_t *rec = NULL;
	json_error_t jerr;
	int rc;

	if (len < 3 || memcmp(gz, "\x1f\x8b\x08", 3) != 0)
		return tm_err_set(err, TM_EINVALID, "corrupt record: not gzip data");
	if ((rc = gunzip(&text, gz, len, err)) < 0)
		goto out;
	if ((rc = tm_json_check(tm_buf_cstr(&text), text.len, err)) < 0) {
		rc = err ? (err->code = TM_EINVALID) : TM_EINVALID;
		tm_err_wrap(err, "corrupt record");
		goto out;
	}
	if (!(rec = json_loadb(tm_buf_cstr(&text), text.len, JSON_REJECT_DUPLICATES, &jerr))) {
		rc = tm_err_set(err, TM_EINVALID, "corrupt record: JSON at %d:%d: %s", jerr.line, jerr.column, jerr.text);
		goto out;
	}
	if ((rc = check_shape(rec, err)) < 0)
		goto out;
	*out = rec;
	rec = NULL;
out:
	json_decref(rec);
	tm_buf_release(&text);
	return rc;
}
