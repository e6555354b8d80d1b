/* tarmac version: tarmac's own version and build, and the versions of the linked
 * libraries as the libraries report them at run time. */
#include <curl/curl.h>
#include <git2.h>
#include <jansson.h>
#include <libssh2.h>
#include <openssl/crypto.h>
#include <sodium.h>
#include <stdlib.h>
#include <yaml.h>
#include <zlib.h>

#include "cli.h"

#ifndef TM_VERSION
#error "TM_VERSION must come from the build (build.zig)"
#endif
#ifndef TM_COMMIT
#define TM_COMMIT "unknown"
#endif
#ifndef TM_TARGET
#define TM_TARGET "unknown"
#endif
#ifndef TM_OPTIMIZE
#define TM_OPTIMIZE "unknown"
#endif
#ifndef TM_LINKAGE
#define TM_LINKAGE "dynamic"
#endif

struct lib_version {
	const char *name;
	char version[96];
};

enum { LIB_GIT2, LIB_CURL, LIB_OPENSSL, LIB_YAML, LIB_JANSSON, LIB_SODIUM, LIB_SSH2, LIB_ZLIB,
       LIB_NGHTTP2, LIB_COUNT };

static void read_versions(struct lib_version v[LIB_COUNT])
{
	const curl_version_info_data *ci = curl_version_info(CURLVERSION_NOW);
	int maj = 0, min = 0, rev = 0;

	v[LIB_GIT2].name = "libgit2";
	git_libgit2_version(&maj, &min, &rev);
	snprintf(v[LIB_GIT2].version, sizeof(v[0].version), "%d.%d.%d", maj, min, rev);
	v[LIB_CURL].name = "libcurl";
	snprintf(v[LIB_CURL].version, sizeof(v[0].version), "%s", ci->version);
	v[LIB_OPENSSL].name = "openssl";
	snprintf(v[LIB_OPENSSL].version, sizeof(v[0].version), "%s", OpenSSL_version(OPENSSL_VERSION_STRING));
	v[LIB_YAML].name = "libyaml";
	snprintf(v[LIB_YAML].version, sizeof(v[0].version), "%s", yaml_get_version_string());
	v[LIB_JANSSON].name = "jansson";
	snprintf(v[LIB_JANSSON].version, sizeof(v[0].version), "%s", jansson_version_str());
	v[LIB_SODIUM].name = "libsodium";
	snprintf(v[LIB_SODIUM].version, sizeof(v[0].version), "%s", sodium_version_string());
	v[LIB_SSH2].name = "libssh2";
	snprintf(v[LIB_SSH2].version, sizeof(v[0].version), "%s", libssh2_version(0));
	v[LIB_ZLIB].name = "zlib";
	snprintf(v[LIB_ZLIB].version, sizeof(v[0].version), "%s", zlibVersion());
	v[LIB_NGHTTP2].name = "nghttp2";
	snprintf(v[LIB_NGHTTP2].version, sizeof(v[0].version), "%s",
		 ci->age >= CURLVERSION_FIFTH && ci->nghttp2_version ? ci->nghttp2_version : "none");
}

enum server_state { SERVER_SKIPPED, SERVER_NONE, SERVER_OK, SERVER_FAILED };
struct server {
	enum server_state state;
	char *version;
};

static int print_json(struct tm_cli *cli, const struct lib_version v[LIB_COUNT], const struct server *s)
{
	json_t *root = NULL, *libs = NULL;
	char *text = NULL;
	int rc = TM_EXIT_ERROR;

	/* json_pack's "o" steals libs; everything else is copied */
	libs = json_object();
	if (!libs)
		goto out;
	for (int i = 0; i < LIB_COUNT; i++)
		if (json_object_set_new(libs, v[i].name, json_string(v[i].version)) < 0)
			goto out;
	root = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "version", TM_VERSION, "commit", TM_COMMIT,
			 "target", TM_TARGET, "optimize", TM_OPTIMIZE, "linkage", TM_LINKAGE,
			 "libraries", libs);
	libs = NULL;
	if (root && s->state == SERVER_OK)
		json_object_set_new(root, "server", json_pack("{s:s, s:s, s:s}", "version", s->version, "url",
							      cli->kcfg.server, "context", cli->kcfg.context));
	if (!root || !(text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER)))
		goto out;
	fprintf(cli->out, "%s\n", text);
	rc = TM_EXIT_OK;
out:
	if (rc != TM_EXIT_OK)
		fputs("error: out of memory formatting the version\n", cli->errf);
	free(text);
	json_decref(root);
	json_decref(libs);
	return rc;
}

const struct tm_optspec tm_version_opts[] = {
	{ 1, "client", 0, TM_OPT_FLAG, NULL, "only tarmac's own version: do not contact a cluster" },
	{ 0 }
};

int tm_version_set_opt(void *opts, int id, const char *value, struct tm_err *err)
{
	struct tm_version_opts *o = opts;

	(void)value;
	(void)err;
	if (id == 1)
		o->client = true;
	return 0;
}

/* The cluster's side: its version, or why there is none. Returns an exit code. */
static int server_version(struct tm_cli *cli, struct server *s)
{
	int rc = tm_cli_connect(cli);

	if (rc == TM_ENOTFOUND) {
		s->state = SERVER_NONE; /* no kubeconfig anywhere: a client-only answer is complete */
		return TM_EXIT_OK;
	}
	if (rc == 0) {
		rc = tm_kube_server_version(cli->kube, &s->version, &cli->err);
		tm_sink_log(&cli->sink, TM_DEBUG, "%u request(s) to %s", tm_kube_requests(cli->kube), cli->kcfg.server);
	}
	if (rc < 0) {
		s->state = SERVER_FAILED;
		return tm_exit_for(rc);
	}
	s->state = SERVER_OK;
	return TM_EXIT_OK;
}

int tm_cmd_version(struct tm_cli *cli, void *cmdopts, int argc, char **argv)
{
	struct tm_version_opts *o = cmdopts;
	struct lib_version v[LIB_COUNT];
	struct server s = { SERVER_SKIPPED, NULL };
	int rc = TM_EXIT_OK;

	(void)argv;
	if (argc > 0)
		return tm_cli_usage(cli, "version takes no arguments");
	read_versions(v);
	if (!o->client)
		rc = server_version(cli, &s);
	if (cli->opts.output == TM_OUTPUT_JSON) {
		int prc = print_json(cli, v, &s);
		rc = rc ? rc : prc;
	} else {
		fprintf(cli->out, "tarmac %s (commit %s)\nbuilt for %s, %s, %s\n", TM_VERSION, TM_COMMIT,
			TM_TARGET, TM_OPTIMIZE, TM_LINKAGE);
		for (int i = 0; i < LIB_COUNT; i++)
			fprintf(cli->out, "  %-10s %s\n", v[i].name, v[i].version);
		if (s.state == SERVER_OK)
			fprintf(cli->out, "server: %s at %s (context '%s')\n", s.version, cli->kcfg.server,
				cli->kcfg.context);
		else if (s.state == SERVER_NONE)
			fprintf(cli->out, "server: no kubeconfig found (no cluster asked)\n");
	}
	if (s.state == SERVER_FAILED)
		rc = tm_cli_fail(cli, &cli->err);
	free(s.version);
	return rc;
}
