/* The client over a scripted transport: each test plays the server's side. */
#include <signal.h>

#include "../testutil.h"
#include "tarmac/exitcode.h"
#include "tarmac/kube.h"
#include "scripted.h"

Test(kube_client, server_version)
{
	const struct exchange ex[] = { { "GET", "/version", 200, "{\"major\":\"1\",\"gitVersion\":\"v1.20.2\"}", 0, 0 } };
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	struct tm_err err;
	char *v = NULL;

	tm_err_init(&err);
	cr_assert_eq(tm_kube_server_version(k, &v, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(v, "v1.20.2");
	cr_assert_eq(tm_kube_requests(k), 1);
	free(v);
	tm_kube_free(k);
	cr_assert(s.freed, "the client frees its transport");
}

Test(kube_client, status_codes_map_to_codes_with_the_servers_message)
{
	const struct exchange ex[] = {
		{ "GET", "/a", 401, "{\"kind\":\"Status\",\"message\":\"Unauthorized\"}", 0, 0 },
		{ "GET", "/b", 403, "{\"kind\":\"Status\",\"message\":\"pods is forbidden: User \\\"u\\\" cannot list\"}", 0, 0 },
		{ "GET", "/c", 404, "{\"kind\":\"Status\",\"message\":\"not found\"}", 0, 0 },
		{ "GET", "/d", 409, "{}", 0, 0 },
		{ "GET", "/e", 503, "upstream down", 0, 0 },
		{ "GET", "/f", 429, NULL, 0, 0 },
		{ "GET", "/g", 400, "{\"message\":\"bad\"}", 0, 0 },
		{ "GET", "/h", 422, "{\"message\":\"spec.template: field is immutable\"}", 0, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	struct tm_kube_opts o = *tm_kube_get_opts(k);
	struct tm_err err;
	json_t *v = NULL;

	o.max_attempts = 1; /* the mapping itself, without retries */
	tm_kube_set_opts(k, &o);
	tm_err_init(&err);
	cr_assert_eq(tm_kube_get(k, "/a", &v, &err), TM_EAUTH);
	cr_assert(strstr(tm_err_msg(&err), "refused the credentials of context 'test'") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_kube_get(k, "/b", &v, &err), TM_EAUTH);
	cr_assert(strstr(tm_err_msg(&err), "GET /b: 403: pods is forbidden") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_kube_get(k, "/c", &v, &err), TM_ENOTFOUND);
	cr_assert_eq(tm_kube_get(k, "/d", &v, &err), TM_ECONFLICT);
	cr_assert_eq(tm_kube_get(k, "/e", &v, &err), TM_EUNAVAILABLE);
	cr_assert(strstr(tm_err_msg(&err), "503: upstream down") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_kube_get(k, "/f", &v, &err), TM_EUNAVAILABLE);
	cr_assert(strstr(tm_err_msg(&err), "no details given") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_kube_get(k, "/g", &v, &err), TM_ERROR);
	cr_assert_eq(tm_kube_get(k, "/h", &v, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "field is immutable") != NULL, "%s", tm_err_msg(&err));
	cr_assert_null(v);
	cr_assert_eq(tm_kube_requests(k), 8);
	tm_kube_free(k);
}

Test(kube_client, transport_failures_and_bad_bodies)
{
	const struct exchange ex[] = {
		{ "GET", "/version", 0, NULL, TM_EUNAVAILABLE, 0 },
		{ "GET", "/version", 200, "<html>proxy login</html>", 0, 0 },
		{ "GET", "/version", 200, "{\"major\":\"1\"}", 0, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	struct tm_kube_opts o = *tm_kube_get_opts(k);
	struct tm_err err;
	char *v = NULL;

	o.max_attempts = 1;
	tm_kube_set_opts(k, &o);
	tm_err_init(&err);
	cr_assert_eq(tm_kube_server_version(k, &v, &err), TM_EUNAVAILABLE);
	cr_assert(strstr(tm_err_msg(&err), "Connection refused") != NULL);
	cr_assert_eq(tm_kube_server_version(k, &v, &err), TM_ERROR);
	cr_assert(strstr(tm_err_msg(&err), "the answer is not JSON") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_kube_server_version(k, &v, &err), TM_ERROR);
	cr_assert(strstr(tm_err_msg(&err), "no gitVersion") != NULL);
	cr_assert_null(v);
	tm_kube_free(k);
}

static void count_events(void *ctx, const struct tm_event *ev)
{
	if (strcmp(ev->kind, "retry") == 0)
		(*(int *)ctx)++;
}

Test(kube_client, retries_5xx_429_and_dropped_connections_then_succeeds)
{
	const struct exchange ex[] = {
		{ "GET", "/x", 503, "{\"message\":\"etcd leader changed\"}", 0, 0 },
		{ "GET", "/x", 0, NULL, TM_EUNAVAILABLE, 0 },
		{ "GET", "/x", 429, "{}", 0, 2 }, /* Retry-After: 1 */
		{ "GET", "/x", 200, "{\"ok\":true}", 0, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	struct tm_kube_opts o = *tm_kube_get_opts(k);
	struct tm_err err;
	json_t *v = NULL;
	int retries = 0;
	int64_t t0;

	o.report = count_events;
	o.report_ctx = &retries;
	tm_kube_set_opts(k, &o);
	tm_err_init(&err);
	t0 = tm_now_ms();
	cr_assert_eq(tm_kube_get(k, "/x", &v, &err), 0, "%s", tm_err_msg(&err));
	cr_assert(json_is_true(json_object_get(v, "ok")));
	cr_assert_geq(tm_now_ms() - t0, 950, "Retry-After: 1 is honoured");
	cr_assert_eq(retries, 3);
	cr_assert_eq(tm_kube_stats(k)->retries, 3);
	cr_assert_eq(tm_kube_stats(k)->retry_5xx, 1);
	cr_assert_eq(tm_kube_stats(k)->retry_dropped, 1);
	cr_assert_eq(tm_kube_stats(k)->retry_429, 1);
	cr_assert_eq(tm_kube_requests(k), 4);
	json_decref(v);
	tm_kube_free(k);
}

Test(kube_client, gives_up_after_max_attempts_and_says_so)
{
	const struct exchange ex[] = {
		{ "GET", "/x", 500, "{\"message\":\"boom\"}", 0, 0 },
		{ "GET", "/x", 502, "{\"message\":\"boom\"}", 0, 0 },
		{ "GET", "/x", 500, "{\"message\":\"still boom\"}", 0, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	struct tm_kube_opts o = *tm_kube_get_opts(k);
	struct tm_err err;
	json_t *v = NULL;

	o.max_attempts = 3;
	tm_kube_set_opts(k, &o);
	tm_err_init(&err);
	cr_assert_eq(tm_kube_get(k, "/x", &v, &err), TM_EUNAVAILABLE);
	cr_assert(strstr(tm_err_msg(&err), "after 3 attempts") != NULL, "%s", tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), "still boom") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(s.next, 3);
	tm_kube_free(k);
}

Test(kube_client, a_conflict_names_the_fields_and_their_managers)
{
	const struct exchange ex[] = {
		{ "PATCH", "/apis/apps/v1/namespaces/airflow/deployments/scheduler?fieldManager=tarmac", 409,
		  "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"Apply failed with 1 conflict\",\"reason\":\"Conflict\","
		  "\"details\":{\"causes\":[{\"reason\":\"FieldManagerConflict\",\"message\":\"conflict with \\\"kubectl\\\" using apps/v1\","
		  "\"field\":\".spec.replicas\"}]},\"code\":409}", 0, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	struct tm_kube_rsc r = { .group = "apps", .version = "v1", .kind = "Deployment", .name = "deployments", .namespaced = true };
	struct tm_buf path = TM_BUF_INIT("p", 4096), body = TM_BUF_INIT("b", 1 << 20);
	json_t *obj = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:i}}", "apiVersion", "apps/v1", "kind", "Deployment", "metadata",
				"name", "scheduler", "namespace", "airflow", "spec", "replicas", 2);
	struct tm_kube_call c;
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_kube_call_apply(&c, &path, &body, &r, obj, 0, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(c.req.content_type, "application/apply-patch+yaml");
	cr_assert(strstr(c.req.body, "\"replicas\":2") != NULL);
	cr_assert_eq(tm_kube_do(k, &c, 1, NULL), 0);
	cr_assert_eq(c.rc, TM_ECONFLICT);
	cr_assert(strstr(tm_err_msg(&c.err), ".spec.replicas (manager 'kubectl')") != NULL, "%s", tm_err_msg(&c.err));
	cr_assert(strstr(tm_err_msg(&c.err), "--force-conflicts") != NULL, "%s", tm_err_msg(&c.err));
	cr_assert_eq(tm_kube_call_apply(&c, &path, &body, &r, obj, TM_APPLY_FORCE | TM_APPLY_DRY_RUN, &err), 0);
	cr_assert_str_eq(c.req.path, "/apis/apps/v1/namespaces/airflow/deployments/scheduler?fieldManager=tarmac&force=true&dryRun=All");
	tm_buf_release(&path);
	tm_buf_release(&body);
	json_decref(obj);
	tm_kube_free(k);
}

Test(kube_discovery, maps_kinds_to_resources_and_paths)
{
	const struct exchange ex[] = {
		DISCOVERY_OF_APPS,
		{ "GET", "/api/v1", 200, disco_core, 0, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	const char *gvs[] = { "apps/v1", "v1", "apps/v1", "monitoring.coreos.com/v1" };
	const char *const *served;
	struct tm_buf path = TM_BUF_INIT("p", 4096);
	struct tm_kube_rsc r;
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_kube_prefetch(k, gvs, 4, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(tm_kube_version(k), "1.20");
	cr_assert_eq(tm_kube_api_versions(k, &served), 3);
	cr_assert(tm_kube_serves(k, "policy/v1beta1"));
	cr_assert_eq(tm_kube_resolve(k, "apps/v1", "Deployment", false, &r, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(r.name, "deployments");
	cr_assert(r.namespaced);
	cr_assert_eq(tm_kube_path(&path, &r, "airflow", "scheduler", &err), 0);
	cr_assert_str_eq(path.data, "/apis/apps/v1/namespaces/airflow/deployments/scheduler");
	cr_assert_eq(tm_kube_resolve(k, "v1", "Namespace", false, &r, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_kube_path(&path, &r, "ignored", "airflow", &err), 0);
	cr_assert_str_eq(path.data, "/api/v1/namespaces/airflow");
	cr_assert_eq(tm_kube_resolve(k, "monitoring.coreos.com/v1", "ServiceMonitor", false, &r, &err), TM_ENOTFOUND);
	cr_assert(strstr(tm_err_msg(&err), "is its CRD installed?") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_kube_resolve(k, "apps/v1", "Rollout", false, &r, &err), TM_ENOTFOUND);
	cr_assert_eq(tm_kube_resolve(k, "apps/v1", "Deployment", false, &r, &err), 0);
	cr_assert_eq(tm_kube_path(&path, &r, "../x", "a", &err), TM_EINVALID, "names never escape their path");
	cr_assert_eq(tm_kube_requests(k), 5, "discovery and resource lists are fetched once");
	tm_buf_release(&path);
	tm_kube_free(k);
}

struct seen {
	int added, modified, deleted, synced;
	bool stop_on_ready;
};

static int watcher(void *ctx, size_t which, const char *type, json_t *obj)
{
	struct seen *s = ctx;

	cr_assert(which == 0 || which == SIZE_MAX);
	if (strcmp(type, "SYNCED") == 0)
		s->synced++;
	else if (strcmp(type, "ADDED") == 0)
		s->added++;
	else if (strcmp(type, "DELETED") == 0)
		s->deleted++;
	else if (strcmp(type, "MODIFIED") == 0) {
		s->modified++;
		if (json_is_true(json_object_get(json_object_get(obj, "status"), "ready")))
			return 1;
	}
	return 0;
}

Test(kube_watch, lists_then_follows_events_resuming_and_relisting)
{
	const struct exchange ex[] = {
		{ "GET", "/api/v1/namespaces/a/pods", 200,
		  "{\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[{\"metadata\":{\"name\":\"p\",\"resourceVersion\":\"9\"}}]}", 0, 0 },
		/* the server ends the first watch after one event */
		{ "GET", "/api/v1/namespaces/a/pods?watch=1&allowWatchBookmarks=true&resourceVersion=10&timeoutSeconds=31", 200,
		  "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"p\",\"resourceVersion\":\"11\"}}}\n"
		  "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"12\"}}}\n", 0, 0 },
		/* resumed from the bookmark; then the history is gone */
		{ "GET", "/api/v1/namespaces/a/pods?watch=1&allowWatchBookmarks=true&resourceVersion=12&timeoutSeconds=31", 200,
		  "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"message\":\"too old resource version\"}}\n", 0, 0 },
		{ "GET", "/api/v1/namespaces/a/pods", 200, "{\"metadata\":{\"resourceVersion\":\"20\"},\"items\":[]}", 0, 0 },
		{ "GET", "/api/v1/namespaces/a/pods?watch=1&allowWatchBookmarks=true&resourceVersion=20&timeoutSeconds=31", 200,
		  "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"p\",\"resourceVersion\":\"21\"}}}\n"
		  "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"q\",\"resourceVersion\":\"22\"},\"status\":{\"ready\":true}}}\n"
		  "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"never-read\"}}}\n", 0, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	const char *paths[] = { "/api/v1/namespaces/a/pods" };
	struct seen seen = { 0 };
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_kube_watch(k, paths, 1, tm_now_ms() + 30500, watcher, &seen, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(seen.added, 1);
	cr_assert_eq(seen.synced, 1);
	cr_assert_eq(seen.deleted, 1);
	cr_assert_eq(seen.modified, 2);
	cr_assert_eq(s.next, 5);
	tm_kube_free(k);
}

Test(kube_watch, a_deadline_ends_the_wait_with_a_timeout)
{
	const struct exchange ex[] = {
		{ "GET", "/apis/batch/v1/namespaces/a/jobs", 200, "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[]}", 0, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	const char *paths[] = { "/apis/batch/v1/namespaces/a/jobs" };
	struct seen seen = { 0 };
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_kube_watch(k, paths, 1, tm_now_ms() - 1, watcher, &seen, &err), TM_ETIMEOUT);
	cr_assert_eq(seen.synced, 1, "the list is judged before the deadline counts");
	tm_kube_free(k);
}

Test(kube_client, cancel_stops_retrying)
{
	static volatile sig_atomic_t stop;
	const struct exchange ex[] = {
		{ "GET", "/x", 503, "{}", 0, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	struct tm_kube_opts o = *tm_kube_get_opts(k);
	struct tm_err err;
	json_t *v = NULL;

	stop = 0;
	s.raise_on = &stop;
	o.cancel = &stop;
	o.base_backoff_ms = 2000;
	tm_kube_set_opts(k, &o);
	tm_err_init(&err);
	cr_assert_eq(tm_kube_get(k, "/x", &v, &err), TM_EINTERRUPTED);
	cr_assert(strstr(tm_err_msg(&err), "interrupted") != NULL, "%s", tm_err_msg(&err));
	tm_kube_free(k);
}

Test(kube_client, system_ca_bundle_honours_ssl_cert_file)
{
	setenv("SSL_CERT_FILE", "/etc/hostname", 1);
	cr_assert_str_eq(tm_system_ca_bundle(), "/etc/hostname");
	setenv("SSL_CERT_FILE", "/nonexistent", 1);
	cr_assert_str_neq(tm_system_ca_bundle() ? tm_system_ca_bundle() : "", "/nonexistent");
}

/* An exec plugin's credential is fetched before the first request and fetched again
 * when the server refuses it. */
Test(kube_client, exec_plugin_credentials_and_a_rerun_on_401)
{
	const struct exchange ex[] = {
		{ "GET", "/x", 401, "{\"kind\":\"Status\",\"message\":\"Unauthorized\"}", 0, 0 },
		{ "GET", "/x", 200, "{}", 0, 0 },
		{ "GET", "/y", 200, "{}", 0, 0 },
	};
	struct script s = SCRIPT(ex);
	char *dir = tu_mkdtemp(), *plugin = NULL, *counter = NULL;
	struct tm_kube_exec *x = calloc(1, sizeof(*x));
	struct tm_kube *k;
	struct tm_err err;
	json_t *v = NULL;
	FILE *f;

	cr_assert(asprintf(&plugin, "%s/plugin", dir) > 0 && asprintf(&counter, "%s/runs", dir) > 0);
	f = fopen(plugin, "w");
	cr_assert_not_null(f);
	/* token t1 on the first run, t2 after */
	fprintf(f, "#!/bin/sh\necho x >>'%s'\nn=$(wc -l <'%s')\n"
		   "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"t%%s\"}}' $n\n",
		counter, counter);
	fclose(f);
	chmod(plugin, 0700);
	x->command = strdup(plugin);
	x->args = calloc(1, sizeof(char *));
	x->env = calloc(1, sizeof(char *));
	x->api_version = strdup("client.authentication.k8s.io/v1");
	x->interactive_mode = strdup("Never");
	tm_kube_config_init(&s.cfg);
	s.cfg.server = strdup("https://127.0.0.1:6443");
	s.cfg.context = strdup("test");
	s.cfg.exec = x;
	k = open_scripted(&s);
	tm_err_init(&err);
	cr_assert_eq(tm_kube_get(k, "/x", &v, &err), 0, "%s", tm_err_msg(&err));
	json_decref(v);
	cr_assert_eq(tm_kube_get(k, "/y", &v, &err), 0, "%s", tm_err_msg(&err));
	json_decref(v);
	cr_assert_eq(s.ntokens, 2, "one run before the first request, one after the 401, none after");
	cr_assert_str_eq(s.tokens[0], "t1");
	cr_assert_str_eq(s.tokens[1], "t2");
	cr_assert_eq(tm_kube_stats(k)->reauth, 1);
	cr_assert_eq(tm_kube_stats(k)->retries, 0, "a re-authentication is not a retry");
	tm_kube_free(k);
	free(plugin);
	free(counter);
	tu_rmdir(dir);
}

/* ------------------------------------------------------------------ issue 11 */

Test(kube_client, a_request_that_keeps_timing_out_is_unreachable_not_a_wait)
{
	const struct exchange ex[] = {
		{ "GET", "/x", 0, NULL, TM_ETIMEOUT, 0 },
		{ "GET", "/x", 0, NULL, TM_ETIMEOUT, 0 },
	};
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	struct tm_kube_opts o = *tm_kube_get_opts(k);
	struct tm_err err;
	json_t *v = NULL;

	o.max_attempts = 2;
	tm_kube_set_opts(k, &o);
	tm_err_init(&err);
	cr_assert_eq(tm_kube_get(k, "/x", &v, &err), TM_EUNAVAILABLE, "%s", tm_err_msg(&err));
	cr_assert_eq(err.code, TM_EUNAVAILABLE);
	cr_assert_eq(tm_exit_for(err.code), TM_EXIT_UNREACHABLE, "exit 5, not 4 (a health wait)");
	cr_assert_eq(tm_kube_stats(k)->retry_timeout, 1, "timeouts are still retried");
	tm_kube_free(k);
}

Test(kube_client, a_certificate_failure_is_not_retried)
{
	/* the curl transport reports a server certificate it cannot verify as TM_EAUTH */
	const struct exchange ex[] = { { "GET", "/x", 0, NULL, TM_EAUTH, 0 } };
	struct script s = SCRIPT(ex);
	struct tm_kube *k = open_scripted(&s);
	struct tm_err err;
	json_t *v = NULL;

	tm_err_init(&err);
	cr_assert_eq(tm_kube_get(k, "/x", &v, &err), TM_EAUTH);
	cr_assert_eq(s.next, 1, "one attempt");
	cr_assert_eq(tm_kube_stats(k)->retries, 0);
	cr_assert_eq(tm_exit_for(err.code), TM_EXIT_UNREACHABLE);
	tm_kube_free(k);
}

Test(kube_client, an_answer_that_is_all_structure_is_refused_before_parsing)
{
	size_t n = 1u << 20, len = 0;
	char *bomb = malloc(3 * n + 2);
	struct exchange ex[] = { { "GET", "/x", 200, NULL, 0, 0 }, { "GET", "/y", 500, NULL, 0, 0 } };
	struct script s;
	struct tm_kube *k;
	struct tm_kube_opts o;
	struct tm_err err;
	json_t *v = NULL;

	cr_assert_not_null(bomb);
	bomb[len++] = '[';
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(bomb + len, i ? ",{}" : "{}");
	bomb[len++] = ']';
	bomb[len] = '\0';
	ex[0].body = ex[1].body = bomb;
	s = (struct script)SCRIPT(ex);
	k = open_scripted(&s);
	o = *tm_kube_get_opts(k);
	o.max_attempts = 1;
	tm_kube_set_opts(k, &o);
	tm_err_init(&err);
	cr_assert_eq(tm_kube_get(k, "/x", &v, &err), TM_ELIMIT, "%s", tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), "GET /x: the answer") != NULL, "%s", tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), "1048576 objects") != NULL, "%s", tm_err_msg(&err));
	cr_assert_null(v);
	/* an error body of the same shape is not parsed for its message either */
	cr_assert_eq(tm_kube_get(k, "/y", &v, &err), TM_EUNAVAILABLE);
	cr_assert(strstr(tm_err_msg(&err), "500") != NULL, "%s", tm_err_msg(&err));
	tm_kube_free(k);
	free(bomb);
}

static void keep_warnings(void *ctx, const struct tm_event *ev)
{
	struct tm_buf *b = ctx;

	if (ev->level == TM_WARN)
		cr_assert_eq(tm_buf_printf(b, NULL, "%s|%s\n", ev->kind, ev->msg), 0);
}

Test(kube_client, credentials_over_allowed_plain_http_are_warned_about_once)
{
	const struct exchange ex[] = { { "GET", "/a", 200, "{}", 0, 0 }, { "GET", "/b", 200, "{}", 0, 0 } };
	struct script s = SCRIPT(ex);
	struct tm_buf warnings = TM_BUF_INIT("warnings", 4096);
	struct tm_kube *k;
	struct tm_kube_opts o;
	struct tm_err err;
	json_t *v = NULL;

	tm_kube_config_init(&s.cfg);
	s.cfg.server = strdup("http://127.0.0.1:8080");
	s.cfg.context = strdup("local");
	s.cfg.token = strdup("tok");
	s.cfg.plain_http_creds = true;
	k = open_scripted(&s);
	o = *tm_kube_get_opts(k);
	o.report = keep_warnings;
	o.report_ctx = &warnings;
	tm_kube_set_opts(k, &o);
	tm_err_init(&err);
	cr_assert_eq(tm_kube_get(k, "/a", &v, &err), 0, "%s", tm_err_msg(&err));
	json_decref(v);
	cr_assert_eq(tm_kube_get(k, "/b", &v, &err), 0, "%s", tm_err_msg(&err));
	json_decref(v);
	cr_assert_str_eq(tm_buf_cstr(&warnings),
			 "auth|credentials go to 'http://127.0.0.1:8080' over plain http, unencrypted "
			 "(TARMAC_ALLOW_PLAIN_HTTP=1): for a test server on this machine only\n");
	tm_buf_release(&warnings);
	tm_kube_free(k);
}

Test(kube_client, an_exec_plugin_that_runs_out_of_time_is_an_auth_failure)
{
	struct script s = { .ex = NULL, .n = 0 };
	char *dir = tu_mkdtemp(), *p = NULL;
	struct tm_kube_exec *x;
	struct tm_kube *k;
	struct tm_kube_opts o;
	struct tm_err err;
	json_t *v = NULL;
	FILE *f;

	cr_assert(asprintf(&p, "%s/hang", dir) > 0);
	cr_assert_not_null(f = fopen(p, "w"));
	fputs("#!/bin/sh\nexec sleep 30\n", f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(p, 0700), 0);
	tm_kube_config_init(&s.cfg);
	s.cfg.server = strdup("https://127.0.0.1:6443");
	s.cfg.context = strdup("plug");
	cr_assert_not_null(x = calloc(1, sizeof(*x)));
	x->command = p;
	x->args = calloc(1, sizeof(char *));
	x->env = calloc(1, sizeof(char *));
	x->api_version = strdup("client.authentication.k8s.io/v1");
	x->interactive_mode = strdup("Never");
	s.cfg.exec = x;
	k = open_scripted(&s);
	o = *tm_kube_get_opts(k);
	o.exec_timeout_ms = 300;
	tm_kube_set_opts(k, &o);
	tm_err_init(&err);
	cr_assert_eq(tm_kube_get(k, "/x", &v, &err), TM_EAUTH, "%s", tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), "did not finish within 300 ms") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_exit_for(err.code), TM_EXIT_UNREACHABLE, "exit 5, not 4 (a health wait)");
	cr_assert_eq(s.next, 0, "no request went out without credentials");
	tm_kube_free(k);
	tu_rmdir(dir);
}
