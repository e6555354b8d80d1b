/* Release records, versions, statuses and the lock's state: pure functions. */
#include <string.h>
#include <zlib.h>

#include "tarmac/apply.h"
#include "release/release_private.h"
#include "../testutil.h"

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	cr_assert_not_null(j, "%s", e.text);
	return j;
}

static const char *const stack =
	"[{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"airflow-fernet-key\",\"namespace\":\"a\"},"
	"\"type\":\"Opaque\",\"data\":{\"fernet-key\":\"c2VjcmV0LWJ5dGVzLTEyMzQ=\"},\"stringData\":{\"extra\":\"plain-secret-42\"}},"
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"airflow-scheduler\",\"namespace\":\"a\"},"
	"\"spec\":{\"replicas\":2}}]";

static const struct tm_record_meta meta = { .release = "airflow", .namespace = "a", .env = "prod", .revision = 3,
					    .tarmac_version = "0.1.0", .airflow_version = "3.2.0",
					    .schema_version = "3.2.0", .digest = "sha256:00", .description = "upgrade" };

Test(release_record, secrets_keep_names_and_hashes_never_data)
{
	json_t *objs = load(stack), *rec = NULL, *s;
	struct tm_err err;
	char *text;

	tm_err_init(&err);
	cr_assert_eq(tm_record_build(&rec, objs, NULL, &meta, &err), 0, "%s", tm_err_msg(&err));
	s = json_array_get(json_object_get(rec, "objects"), 0);
	cr_assert_null(json_object_get(s, "data"));
	cr_assert_null(json_object_get(s, "stringData"));
	cr_assert_str_eq(json_string_value(json_object_get(s, "type")), "Opaque");
	cr_assert_not_null(json_object_get(json_object_get(s, "dataHashes"), "fernet-key"));
	text = json_dumps(rec, JSON_COMPACT);
	cr_assert_null(strstr(text, "c2VjcmV0LWJ5dGVzLTEyMzQ="), "the base64 value leaked into the record");
	cr_assert_null(strstr(text, "secret-bytes-1234"));
	cr_assert_null(strstr(text, "plain-secret-42"), "stringData leaked into the record");
	free(text);
	/* the objects given are not changed */
	cr_assert_not_null(json_object_get(json_array_get(objs, 0), "data"));
	json_decref(rec);
	json_decref(objs);
}

Test(release_record, the_hash_is_of_the_value_bytes)
{
	json_t *objs = load(stack), *rec = NULL;
	struct tm_err err;
	char want[65], tagged[80];

	tm_err_init(&err);
	cr_assert_eq(tm_record_build(&rec, objs, NULL, &meta, &err), 0);
	tm_sha256_hex(want, "secret-bytes-1234", strlen("secret-bytes-1234"));
	snprintf(tagged, sizeof(tagged), "sha256:%s", want);
	cr_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(json_array_get(json_object_get(rec, "objects"), 0), "dataHashes"), "fernet-key")),
			 tagged);
	tm_sha256_hex(want, "plain-secret-42", strlen("plain-secret-42"));
	snprintf(tagged, sizeof(tagged), "sha256:%s", want);
	cr_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(json_array_get(json_object_get(rec, "objects"), 0), "dataHashes"), "extra")),
			 tagged);
	json_decref(rec);
	json_decref(objs);
}

Test(release_record, values_lose_secret_strings_but_not_secret_names)
{
	json_t *v = load("{\"data\":{\"metadataConnection\":{\"user\":\"airflow\",\"pass\":\"hunter2\"},"
			 "\"metadataSecretName\":\"my-db\"},\"webserverSecretKey\":\"abc\",\"redis\":{\"password\":\"pw1\","
			 "\"passwordSecretName\":\"redis-pw\"},\"dags\":{\"gitSync\":{\"sshKeySecret\":\"git-key\"}},"
			 "\"alerting\":{\"slack\":{\"webhookSecret\":{\"name\":\"n\",\"key\":\"slack-webhook-url\"}}},"
			 "\"apiToken\":\"t0k\",\"replicas\":3,\"list\":[{\"password\":\"inlist\"}],"
			 "\"config\":{\"core\":{\"fernet_key\":\"fk-in-config\"},\"webserver\":{\"secret_key\":\"sk-cfg\"}},"
			 "\"jwtSecret\":\"jwt-plain\",\"numeric\":{\"pass\":123456},"
			 "\"logs\":{\"remote\":{\"credentialsSecret\":\"gcs-creds\"}}}");
	json_t *r = tm_record_redact_values(v);
	char *text = json_dumps(r, JSON_COMPACT);

	cr_assert_null(strstr(text, "hunter2"));
	cr_assert_null(strstr(text, "\"abc\""));
	cr_assert_null(strstr(text, "pw1"));
	cr_assert_null(strstr(text, "t0k"));
	cr_assert_null(strstr(text, "inlist"));
	cr_assert_null(strstr(text, "fk-in-config"), "snake_case keys in config are secrets too");
	cr_assert_null(strstr(text, "sk-cfg"));
	cr_assert_null(strstr(text, "jwt-plain"), "a key ending in Secret that holds one");
	cr_assert_null(strstr(text, "123456"), "a password typed as a number");
	cr_assert_not_null(strstr(text, "gcs-creds"), "credentialsSecret names a Secret");
	cr_assert_not_null(strstr(text, "my-db"));
	cr_assert_not_null(strstr(text, "redis-pw"));
	cr_assert_not_null(strstr(text, "git-key"));
	cr_assert_not_null(strstr(text, "slack-webhook-url"));
	cr_assert_not_null(strstr(text, "\"user\":\"airflow\""));
	cr_assert_eq(json_integer_value(json_object_get(r, "replicas")), 3);
	free(text);
	json_decref(r);
	json_decref(v);
}

Test(release_record, gzip_round_trip_and_gzip_magic)
{
	json_t *objs = load(stack), *rec = NULL, *back = NULL, *values = load("{\"executor\":\"LocalExecutor\"}");
	struct tm_buf gz = TM_BUF_INIT("gz", 1u << 20);
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_record_build(&rec, objs, values, &meta, &err), 0);
	json_decref(values);
	cr_assert_eq(tm_record_encode(&gz, rec, &err), 0, "%s", tm_err_msg(&err));
	cr_assert(gz.len > 3 && memcmp(gz.data, "\x1f\x8b\x08", 3) == 0, "not gzip");
	cr_assert_eq(tm_record_decode(&back, gz.data, gz.len, &err), 0, "%s", tm_err_msg(&err));
	cr_assert(json_equal(back, rec));
	cr_assert_eq(json_integer_value(json_object_get(back, "revision")), 3);
	json_decref(back);
	json_decref(rec);
	json_decref(objs);
	tm_buf_release(&gz);
}

Test(release_record, corrupt_records_are_refused_with_their_cause)
{
	json_t *rec = NULL, *back = NULL;
	struct tm_buf gz = TM_BUF_INIT("gz", 1u << 20);
	struct tm_err err;
	json_t *objs = load(stack);

	tm_err_init(&err);
	cr_assert_eq(tm_record_build(&rec, objs, NULL, &meta, &err), 0);
	cr_assert_eq(tm_record_encode(&gz, rec, &err), 0);
	cr_assert_eq(tm_record_decode(&back, "{}", 2, &err), TM_EINVALID);
	cr_assert_not_null(strstr(tm_err_msg(&err), "not gzip"));
	cr_assert_eq(tm_record_decode(&back, gz.data, gz.len / 2, &err), TM_EINVALID);
	cr_assert_not_null(strstr(tm_err_msg(&err), "corrupt record"), "%s", tm_err_msg(&err));
	gz.data[gz.len / 2] ^= 0x55;
	cr_assert_eq(tm_record_decode(&back, gz.data, gz.len, &err), TM_EINVALID);
	cr_assert_null(back);
	json_decref(rec);
	json_decref(objs);
	tm_buf_release(&gz);
}

Test(release_record, gzip_of_something_else_is_not_a_record)
{
	unsigned char out[256];
	uLongf n = sizeof(out);
	const char *doc = "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"objects\":[]}";
	z_stream z;
	json_t *back = NULL;
	struct tm_err err;

	memset(&z, 0, sizeof(z));
	cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (unsigned char *)doc;
	z.avail_in = (uInt)strlen(doc);
	z.next_out = out;
	z.avail_out = (uInt)n;
	cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
	n = z.total_out;
	deflateEnd(&z);
	tm_err_init(&err);
	cr_assert_eq(tm_record_decode(&back, out, n, &err), TM_EINVALID);
	cr_assert_not_null(strstr(tm_err_msg(&err), "not a tarmac release record"), "%s", tm_err_msg(&err));
}

Test(release_record, digest_changes_with_any_object_and_ignores_key_order)
{
	json_t *a = load("[{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"data\":{\"x\":\"1\",\"y\":\"2\"}}]");
	json_t *b = load("[{\"apiVersion\":\"v1\",\"data\":{\"y\":\"2\",\"x\":\"1\"},\"kind\":\"ConfigMap\"}]");
	json_t *c = load("[{\"apiVersion\":\"v1\",\"data\":{\"y\":\"3\",\"x\":\"1\"},\"kind\":\"ConfigMap\"}]");
	char da[72], db[72], dc[72];
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_record_digest(da, a, &err), 0);
	cr_assert_eq(tm_record_digest(db, b, &err), 0);
	cr_assert_eq(tm_record_digest(dc, c, &err), 0);
	cr_assert_str_eq(da, db);
	cr_assert_str_neq(da, dc);
	cr_assert_eq(strncmp(da, "sha256:", 7), 0);
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

Test(release_status, table_is_complete_and_round_trips)
{
	for (int s = 0; s < TM_REL_STATUS_COUNT; s++) {
		cr_assert_not_null(tm_release_status_name((enum tm_release_status)s), "status %d has no name", s);
		cr_assert_eq(tm_release_status_find(tm_release_status_name((enum tm_release_status)s)), s);
	}
	cr_assert_null(tm_release_status_name(TM_REL_STATUS_COUNT));
	cr_assert_eq(tm_release_status_find("pending-upgrade"), -1);
	cr_assert_str_eq(tm_release_status_name(TM_REL_ROLLED_BACK), "rolled-back");
}

Test(release_version, compares_by_numbers)
{
	cr_assert_eq(tm_release_version_cmp("3.2.0", "3.2.0"), 0);
	cr_assert_eq(tm_release_version_cmp("3.10.0", "3.9.9"), 1);
	cr_assert_eq(tm_release_version_cmp("3.2", "3.2.1"), -1);
	cr_assert_eq(tm_release_version_cmp("2.10.5", "3.0.0"), -1);
	cr_assert_eq(tm_release_version_cmp("3.2.1-python3.12", "3.2.1"), 0);
	cr_assert_eq(tm_release_version_cmp("latest", "3.2.1"), -2);
	cr_assert_eq(tm_release_version_cmp("3.2.1", ""), -2);
	cr_assert_eq(tm_release_version_cmp(NULL, "3"), -2);
}

Test(release_version, airflow_version_from_values)
{
	json_t *v = load("{\"airflowVersion\":\"3.2.0\",\"defaultAirflowTag\":\"3.2.0\",\"images\":{\"airflow\":{\"tag\":\"3.2.1\"}}}");

	cr_assert_str_eq(tm_release_airflow_version(v), "3.2.1");
	json_object_set_new(json_object_get(json_object_get(v, "images"), "airflow"), "tag", json_string("my-build-7"));
	cr_assert_str_eq(tm_release_airflow_version(v), "3.2.0", "a custom tag runs what airflowVersion says");
	json_object_set_new(json_object_get(json_object_get(v, "images"), "airflow"), "tag", json_null());
	cr_assert_str_eq(tm_release_airflow_version(v), "3.2.0");
	json_decref(v);
}

static json_t *lease(const char *holder, const char *renew, int secs)
{
	json_t *l = load("{\"metadata\":{\"annotations\":{\"tarmac.io/command\":\"up\"}},\"spec\":{}}");
	json_t *spec = json_object_get(l, "spec");

	if (holder)
		json_object_set_new(spec, "holderIdentity", json_string(holder));
	if (renew)
		json_object_set_new(spec, "renewTime", json_string(renew));
	json_object_set_new(spec, "leaseDurationSeconds", json_integer(secs));
	return l;
}

Test(release_lock, held_until_the_ttl_after_the_last_renewal)
{
	int64_t renewed;
	char desc[600];
	json_t *l = lease("ci-7/4242/2026-11-22T10:00:00Z", "2026-11-22T10:00:30.500000Z", 60);

	cr_assert_eq(tm_parse_rfc3339_ms("2026-11-22T10:00:30.500000Z", &renewed), 0);
	cr_assert_eq(tm_lock_state(l, renewed + 59000, desc, sizeof(desc)), 0);
	cr_assert_not_null(strstr(desc, "host 'ci-7' pid 4242"), "%s", desc);
	cr_assert_not_null(strstr(desc, "'tarmac up'"), "%s", desc);
	cr_assert_not_null(strstr(desc, "free in 1 s"), "%s", desc);
	cr_assert_eq(tm_lock_state(l, renewed + 60000, desc, sizeof(desc)), 1);
	cr_assert_not_null(strstr(desc, "expired"), "%s", desc);
	json_decref(l);
}

Test(release_lock, no_holder_or_no_time_is_free)
{
	char desc[600];
	json_t *a = lease(NULL, "2026-11-22T10:00:30Z", 60), *b = lease("", NULL, 60), *c = lease("h/1/x", "garbage", 60);

	cr_assert_eq(tm_lock_state(a, 0, desc, sizeof(desc)), 1);
	cr_assert_eq(tm_lock_state(b, 0, desc, sizeof(desc)), 1);
	cr_assert_eq(tm_lock_state(c, 0, desc, sizeof(desc)), 1);
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

Test(release_time, rfc3339_round_trip_with_microseconds)
{
	char text[40];
	int64_t ms;

	cr_assert_eq(tm_parse_rfc3339_ms("2026-11-22T10:00:30.123456Z", &ms), 0);
	cr_assert_eq(ms % 1000, 123);
	tm_format_rfc3339(text, ms, true);
	cr_assert_str_eq(text, "2026-11-22T10:00:30.123000Z");
	tm_format_rfc3339(text, ms, false);
	cr_assert_str_eq(text, "2026-11-22T10:00:30Z");
	cr_assert_eq(tm_parse_rfc3339_ms("2026-11-22T11:00:30+01:00", &ms), 0);
	cr_assert_eq(ms, 1795341630000);
	cr_assert_eq(tm_parse_rfc3339_ms("2026-02-30T00:00:00Z", &ms), TM_EINVALID);
}

Test(apply_applyset, id_as_kubectl_computes_it)
{
	struct tm_applyset s;

	/* expected values computed independently (python hashlib + urlsafe_b64encode) */
	tm_applyset_init(&s, "tarmac.applyset.airflow", "airflow");
	cr_assert_str_eq(s.id, "applyset-9AI260KiDvY1igpAYkBUXZSUK2KJ61MVb5-eDTaKFAY-v1");
	tm_applyset_init(&s, "my-set", "ns1");
	cr_assert_str_eq(s.id, "applyset-coBgQZrV8DXsvqb1_TbTZPd45YyY9KtJtKROQEiT1XU-v1");
}

Test(apply_applyset, collect_sorts_group_kinds_and_other_namespaces)
{
	struct tm_applyset s;
	json_t *objs = load("[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"a\",\"namespace\":\"airflow\"}},"
			    "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"b\",\"namespace\":\"other\"}},"
			    "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"airflow\"}},"
			    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"c\",\"namespace\":\"airflow\"}}]");
	json_t *gks = json_array(), *nss = json_array(), *want_g = load("[\"ConfigMap\",\"Deployment.apps\",\"Namespace\"]");
	json_t *want_n = load("[\"other\"]");
	struct tm_err err;

	tm_err_init(&err);
	tm_applyset_init(&s, "p", "airflow");
	cr_assert_eq(tm_applyset_collect(gks, nss, objs, &s, &err), 0);
	cr_assert(json_equal(gks, want_g));
	cr_assert(json_equal(nss, want_n));
	cr_assert_eq(tm_applyset_label(&s, objs, &err), 0);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(json_array_get(objs, 2),
											     "metadata"),
									     "labels"),
							   TM_APPLYSET_PART_OF)),
			 s.id);
	json_decref(objs);
	json_decref(gks);
	json_decref(nss);
	json_decref(want_g);
	json_decref(want_n);
}

/* gzip of text (caller frees *out). */
static size_t gzip_text(unsigned char **out, const char *text, size_t len)
{
	z_stream z;
	size_t cap = len / 2 + 65536;

	cr_assert_not_null(*out = malloc(cap));
	memset(&z, 0, sizeof(z));
	cr_assert_eq(deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (unsigned char *)(uintptr_t)text;
	z.avail_in = (uInt)len;
	z.next_out = *out;
	z.avail_out = (uInt)cap;
	cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
	deflateEnd(&z);
	return z.total_out;
}

/* A record whose objects are 16 MB of "{}": 21 KB of gzip. */
Test(release_record, a_record_inflating_past_its_ratio_is_refused_early)
{
	const char *head = "{\"apiVersion\":\"tarmac.io/v1\",\"kind\":\"ReleaseRecord\",\"revision\":1,\"objects\":[";
	size_t n = (16u << 20) / 3, len = strlen(head);
	char *text = malloc(len + 3 * n + 8);
	unsigned char *gz = NULL;
	size_t gzlen;
	json_t *back = NULL;
	struct tm_err err;

	cr_assert_not_null(text);
	memcpy(text, head, len);
	for (size_t i = 0; i < n; i++) {
		memcpy(text + len, i ? ",{}" : "{} ", 3);
		len += 3;
	}
	memcpy(text + len, "]}", 3);
	len += 2;
	gzlen = gzip_text(&gz, text, len);
	cr_assert_lt(gzlen, 64u << 10, "%zu bytes of gzip", gzlen);
	tm_err_init(&err);
	cr_assert_eq(tm_record_decode(&back, gz, gzlen, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "corrupt record") != NULL, "%s", tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), "inflate to more than 4194304 bytes") != NULL, "%s", tm_err_msg(&err));
	cr_assert_null(back);
	free(gz);
	free(text);
}

/* Within the ratio (a random string keeps gzip honest) but all structure: the JSON
 * bound refuses it as a corrupt record. */
Test(release_record, a_record_that_is_all_structure_is_refused)
{
	const char *head = "{\"apiVersion\":\"tarmac.io/v1\",\"kind\":\"ReleaseRecord\",\"revision\":1,\"pad\":\"";
	size_t n = 2u << 20, len = strlen(head), rnd = 4u << 20;
	char *text = malloc(len + rnd + 3 * n + 16);
	unsigned char *gz = NULL;
	size_t gzlen;
	json_t *back = NULL;
	struct tm_err err;
	uint64_t x = 88172645463325252ull;

	cr_assert_not_null(text);
	memcpy(text, head, len);
	for (size_t i = 0; i < rnd; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		text[len++] = (char)('a' + x % 26);
	}
	memcpy(text + len, "\",\"objects\":[", 13);
	len += 13;
	for (size_t i = 0; i < n; i++) {
		memcpy(text + len, i ? ",{}" : "{} ", 3);
		len += 3;
	}
	memcpy(text + len, "]}", 3);
	len += 2;
	gzlen = gzip_text(&gz, text, len);
	tm_err_init(&err);
	cr_assert_eq(tm_record_decode(&back, gz, gzlen, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "corrupt record") != NULL, "%s", tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), "would take about") != NULL, "%s", tm_err_msg(&err));
	free(gz);
	free(text);
}
