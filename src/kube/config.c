/* kubeconfig resolution as kubectl does it: --kubeconfig, the KUBECONFIG list merged
 * (first definition of a name wins), ~/.kube/config, then in-cluster credentials. */
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tarmac/doc.h"
#include "tarmac/kube.h"
#include "kube_private.h"

#define KUBECONFIG_MAX (4u << 20) /* a kubeconfig, CA or key file */
#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* A file the kubeconfig names is missing or unreadable: the kubeconfig is broken,
 * which is not the same as having none (TM_ENOTFOUND means exactly that). */
static int broken(struct tm_err *err, const char *fmt, ...) TM_PRINTF(2, 3);
static int broken(struct tm_err *err, const char *fmt, ...)
{
	char what[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (err && err->code == TM_ENOTFOUND)
		err->code = TM_EINVALID;
	tm_err_wrap(err, "%s", what);
	return TM_EINVALID;
}

void tm_kube_config_init(struct tm_kube_config *c)
{
	memset(c, 0, sizeof(*c));
	tm_buf_init(&c->ca_pem, "CA certificates", KUBECONFIG_MAX);
	tm_buf_init(&c->cert_pem, "client certificate", KUBECONFIG_MAX);
	tm_buf_init(&c->key_pem, "client key", KUBECONFIG_MAX);
}

void tm_kube_config_release(struct tm_kube_config *c)
{
	free(c->origin);
	free(c->context);
	free(c->server);
	free(c->namespace);
	tm_buf_release(&c->ca_pem);
	tm_buf_release(&c->cert_pem);
	tm_buf_wipe(&c->key_pem);
	if (c->token)
		tm_wipe(c->token, strlen(c->token));
	free(c->token);
	free(c->tls_server_name);
	free(c->proxy_url);
	tm_kube_exec_free(c->exec);
	tm_kube_config_init(c);
}

/* The merged view of one or more kubeconfig files. Named entries remember the file
 * they came from, because relative paths in them are relative to that file. */
struct merged {
	json_t *clusters, *users, *contexts; /* name -> {"v": entry, "file": path} */
	char *current;                       /* current-context, or NULL */
};

/* field is the list ("clusters"), entry the key of each item's body ("cluster"). */
static int add_named(json_t *into, json_t *list, const char *field, const char *entry, const char *file,
		     struct tm_err *err)
{
	size_t i;
	json_t *item;

	if (!list || json_is_null(list))
		return 0;
	if (!json_is_array(list))
		return tm_err_set(err, TM_EINVALID, "kubeconfig '%s': '%s' must be a list", file, field);
	json_array_foreach(list, i, item) {
		const char *name = json_string_value(json_object_get(item, "name"));
		json_t *v = json_object_get(item, entry);
		if (!name)
			return tm_err_set(err, TM_EINVALID, "kubeconfig '%s': %s[%zu] has no 'name'", file, field, i);
		if (v && !json_is_object(v))
			return tm_err_set(err, TM_EINVALID, "kubeconfig '%s': %s '%s' must be a mapping", file,
					  field, name);
		if (json_object_get(into, name))
			continue; /* kubectl: the first file to define a name wins */
		json_object_set_new(into, name, json_pack("{s:O?, s:s}", "v", v, "file", file));
	}
	return 0;
}

static int merge_file(struct merged *m, const char *path, struct tm_err *err)
{
	struct tm_buf text = TM_BUF_INIT("kubeconfig", KUBECONFIG_MAX);
	json_t *doc = NULL;
	const char *cur;
	int rc;

	if ((rc = tm_file_read_checked(&text, path, KUBECONFIG_MAX, TM_FILE_NO_SHARED_WRITE, err)) < 0)
		goto out;
	if ((rc = tm_doc_parse_yaml(&doc, text.data, text.len, path, err)) < 0)
		goto out;
	if (json_is_null(doc))
		goto out; /* an empty kubeconfig adds nothing */
	if (!json_is_object(doc)) {
		rc = tm_err_set(err, TM_EINVALID, "kubeconfig '%s': expected a mapping at the top", path);
		goto out;
	}
	if ((rc = add_named(m->clusters, json_object_get(doc, "clusters"), "clusters", "cluster", path, err)) < 0 ||
	    (rc = add_named(m->users, json_object_get(doc, "users"), "users", "user", path, err)) < 0 ||
	    (rc = add_named(m->contexts, json_object_get(doc, "contexts"), "contexts", "context", path, err)) < 0)
		goto out;
	cur = json_string_value(json_object_get(doc, "current-context"));
	if (!m->current && cur && *cur && !(m->current = strdup(cur)))
		rc = tm_err_set(err, TM_ERROR, "out of memory");
out:
	json_decref(doc);
	tm_buf_release(&text);
	return rc;
}

/* An optional string field; TM_EINVALID when present with another type. */
static int str_field(const char **out, json_t *obj, const char *key, const char *what, const char *file,
		     struct tm_err *err)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return tm_err_set(err, TM_EINVALID, "kubeconfig '%s': %s: '%s' must be a string", file, what, key);
	*out = json_string_value(v);
	return 0;
}

/* path relative to the kubeconfig file's directory unless absolute. */
char *tm_kube_resolve_path(const char *path, const char *kubeconfig_file)
{
	char *dir, *copy, *out = NULL;

	if (path[0] == '/')
		return strdup(path);
	copy = strdup(kubeconfig_file);
	if (!copy)
		return NULL;
	dir = dirname(copy);
	if (asprintf(&out, "%s/%s", dir, path) < 0)
		out = NULL;
	free(copy);
	return out;
}

/* Fills buf from "<key>-data" (base64) or "<key>" (a file), as kubeconfigs allow. */
static int pem_field(struct tm_buf *buf, json_t *obj, const char *key, const char *what, const char *file,
		     struct tm_err *err)
{
	char datakey[64];
	const char *data, *path;
	char *full = NULL;
	int rc;

	snprintf(datakey, sizeof(datakey), "%s-data", key);
	if ((rc = str_field(&data, obj, datakey, what, file, err)) < 0 ||
	    (rc = str_field(&path, obj, key, what, file, err)) < 0)
		return rc;
	if (data && *data) {
		size_t len = strlen(data), binlen = 0;
		unsigned char *bin = malloc(len + 1);
		if (!bin)
			return tm_err_set(err, TM_ERROR, "out of memory");
		if (sodium_base642bin(bin, len + 1, data, len, " \t\r\n", &binlen, NULL,
				      sodium_base64_VARIANT_ORIGINAL) != 0) {
			free(bin);
			return tm_err_set(err, TM_EINVALID, "kubeconfig '%s': %s: '%s' is not valid base64", file,
					  what, datakey);
		}
		tm_buf_clear(buf);
		rc = tm_buf_append(buf, bin, binlen, err);
		tm_wipe(bin, binlen);
		free(bin);
		return rc;
	}
	if (path && *path) {
		if (!(full = tm_kube_resolve_path(path, file)))
			return tm_err_set(err, TM_ERROR, "out of memory");
		rc = tm_file_read(buf, full, KUBECONFIG_MAX, err);
		if (rc < 0)
			rc = broken(err, "kubeconfig '%s': %s: '%s'", file, what, key);
		free(full);
		return rc;
	}
	return 0;
}

int tm_kube_check_header_value(const char *value, const char *what, struct tm_err *err)
{
	for (size_t i = 0; value && value[i]; i++) {
		unsigned char ch = (unsigned char)value[i];

		if (ch < 0x20 || ch == 0x7f)
			return tm_err_set(err, TM_EINVALID, "%s has a control character (0x%02x at byte %zu), which "
					  "would end the HTTP header it is sent in: refused", what, ch, i + 1);
	}
	return 0;
}

/* The host of an http:// URL is 127.0.0.1, [::1] or localhost, and the URL carries no
 * user:password. */
static bool loopback_http(const char *url)
{
	const char *h = url + 7, *end = h + strcspn(h, "/?#");
	size_t n;

	if (memchr(h, '@', (size_t)(end - h)))
		return false;
	if (strncmp(h, "[::1]", 5) == 0)
		return h + 5 == end || h[5] == ':';
	n = strcspn(h, ":/?#");
	return n == 9 && (strncmp(h, "127.0.0.1", 9) == 0 || strncasecmp(h, "localhost", 9) == 0);
}

/* Credentials go over TLS only. A test server on this machine may be plain http when
 * the caller opts in (TARMAC_ALLOW_PLAIN_HTTP=1); the client then warns. */
static int check_plain_http(struct tm_kube_config *c, const char *allow, const char *file, const char *cluster,
			    struct tm_err *err)
{
	bool loopback;

	if (strncmp(c->server, "http://", 7) != 0 || (!c->token && !c->exec))
		return 0;
	loopback = loopback_http(c->server);
	if (loopback && allow && strcmp(allow, "1") == 0) {
		c->plain_http_creds = true;
		return 0;
	}
	return tm_err_set(err, TM_EINVALID,
			  "kubeconfig '%s': cluster '%s': server '%s' is plain http, and the %s would go over it "
			  "unencrypted: refused; use an https:// server%s", file, cluster, c->server,
			  c->token ? "bearer token" : "exec plugin's token",
			  loopback ? ", or set TARMAC_ALLOW_PLAIN_HTTP=1 for a test server on this machine"
				   : " (plain http with credentials is allowed only to 127.0.0.1, ::1 or localhost, "
				     "with TARMAC_ALLOW_PLAIN_HTTP=1)");
}

static int read_token_file(char **out, const char *path, struct tm_err *err)
{
	struct tm_buf b = TM_BUF_INIT("token file", 64 * 1024);
	int rc;

	if ((rc = tm_file_read(&b, path, 64 * 1024, err)) == 0) {
		while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' || b.data[b.len - 1] == ' '))
			b.data[--b.len] = '\0';
		if (memchr(b.data, '\0', b.len))
			rc = tm_err_set(err, TM_EINVALID, "token file '%s' has a NUL byte: refused", path);
		else if ((rc = tm_kube_check_header_value(b.data, "the token", err)) < 0)
			tm_err_wrap(err, "token file '%s'", path);
		else if (!(*out = strdup(b.data)))
			rc = tm_err_set(err, TM_ERROR, "out of memory");
	}
	tm_buf_wipe(&b);
	return rc;
}

int tm_kube_dup_opt(char **out, const char *s, struct tm_err *err)
{
	*out = NULL;
	if (!s || !*s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : tm_err_set(err, TM_ERROR, "out of memory");
}

/* A token (from the kubeconfig, a token file or the service account) goes into the
 * Authorization header; the namespace into URL paths; the server, tls-server-name and
 * proxy-url into the URL and the connection. */
static int check_values(const struct tm_kube_config *c, const char *file, struct tm_err *err)
{
	int rc = 0;

	if (c->namespace && !tm_is_dns_label(c->namespace, 63))
		return tm_err_set(err, TM_EINVALID, "kubeconfig '%s': context '%s': namespace '%.80s' is not a DNS label "
				  "(lowercase letters, digits and '-', at most 63): fix the context's namespace", file, c->context, c->namespace);
	if ((rc = tm_kube_check_header_value(c->token, "the token", err)) < 0 ||
	    (rc = tm_kube_check_header_value(c->server, "'server'", err)) < 0 ||
	    (rc = tm_kube_check_header_value(c->tls_server_name, "'tls-server-name'", err)) < 0 ||
	    (rc = tm_kube_check_header_value(c->proxy_url, "'proxy-url'", err)) < 0)
		tm_err_wrap(err, "kubeconfig '%s': context '%s'", file, c->context);
	return rc;
}

/* A token string of the kubeconfig: a NUL inside would cut it short unseen. */
static int token_field(const char **out, json_t *user, const char *file, struct tm_err *err)
{
	json_t *v = json_object_get(user, "token");
	int rc;

	if ((rc = str_field(out, user, "token", "user", file, err)) < 0 || !*out)
		return rc;
	if (strlen(*out) != json_string_length(v))
		return tm_err_set(err, TM_EINVALID, "kubeconfig '%s': user: 'token' has a NUL byte: refused", file);
	return 0;
}

/* The cluster entry's server, CA, TLS options and proxy into c. */
static int take_cluster(struct tm_kube_config *c, json_t *cl, const char *cfile, const char *cluster_name,
			const char *xfile, struct tm_err *err)
{
	const char *server, *s;
	json_t *v = json_object_get(cl, "insecure-skip-tls-verify");
	int rc;

	if ((rc = str_field(&server, cl, "server", "cluster", cfile, err)) < 0)
		return rc;
	if (!server || (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0))
		return tm_err_set(err, TM_EINVALID, "kubeconfig '%s': cluster '%s': 'server' must be an http(s) URL",
				  cfile, cluster_name);
	if ((rc = tm_kube_dup_opt(&c->server, server, err)) < 0)
		return rc;
	while (strlen(c->server) > 8 && c->server[strlen(c->server) - 1] == '/')
		c->server[strlen(c->server) - 1] = '\0';
	if ((rc = pem_field(&c->ca_pem, cl, "certificate-authority", "cluster", cfile, err)) < 0)
		return rc;
	if (v && !json_is_boolean(v))
		return tm_err_set(err, TM_EINVALID, "kubeconfig '%s': cluster '%s': 'insecure-skip-tls-verify' must be true or "
				  "false", cfile, cluster_name);
	c->insecure = json_is_true(v);
	if ((rc = str_field(&s, cl, "tls-server-name", "cluster", cfile, err)) < 0 ||
	    (rc = tm_kube_dup_opt(&c->tls_server_name, s, err)) < 0 ||
	    (rc = str_field(&s, cl, "proxy-url", "cluster", cfile, err)) < 0 ||
	    (rc = tm_kube_dup_opt(&c->proxy_url, s, err)) < 0)
		return rc;
	return check_values(c, xfile, err);
}

/* The user entry's credentials into c: client certificate and key, a token (or a token
 * file), an exec plugin. */
static int take_user(struct tm_kube_config *c, json_t *user, const char *ufile, const char *user_name,
		     struct tm_err *err)
{
	const char *s;
	int rc;

	if ((rc = pem_field(&c->cert_pem, user, "client-certificate", "user", ufile, err)) < 0 ||
	    (rc = pem_field(&c->key_pem, user, "client-key", "user", ufile, err)) < 0)
		return rc;
	if ((c->cert_pem.len == 0) != (c->key_pem.len == 0))
		return tm_err_set(err, TM_EINVALID, "kubeconfig '%s': user '%s': a client certificate needs its key and a key "
				  "its certificate", ufile, user_name);
	if ((rc = token_field(&s, user, ufile, err)) < 0 || (rc = tm_kube_dup_opt(&c->token, s, err)) < 0)
		return rc;
	if (!c->token) {
		if ((rc = str_field(&s, user, "tokenFile", "user", ufile, err)) < 0)
			return rc;
		if (s && *s) {
			char *full = tm_kube_resolve_path(s, ufile);
			if (!full)
				return tm_err_set(err, TM_ERROR, "out of memory");
			rc = read_token_file(&c->token, full, err);
			free(full);
			if (rc < 0)
				return broken(err, "kubeconfig '%s': user '%s': '%s'", ufile, user_name, "tokenFile");
		}
	}
	if ((rc = tm_kube_exec_parse(&c->exec, json_object_get(user, "exec"), ufile, user_name, err)) < 0)
		return rc;
	return check_values(c, ufile, err);
}

static int resolve(struct tm_kube_config *c, struct merged *m, const char *want, const char *allow_http,
		   struct tm_err *err)
{
	const char *ctxname = want ? want : m->current, *cluster_name, *user_name, *ns, *cfile, *xfile;
	json_t *ctxe, *ctx, *cle, *ue;
	int rc;

	if (!ctxname)
		return tm_err_set(err, TM_EINVALID, "kubeconfig '%s' sets no current-context; choose one with --context",
				  c->origin);
	if (!(ctxe = json_object_get(m->contexts, ctxname)))
		return tm_err_set(err, TM_EINVALID, "context '%s' is not in kubeconfig '%s'%s", ctxname, c->origin,
				  want ? " (from --context)" : " (its current-context)");
	ctx = json_object_get(ctxe, "v");
	xfile = json_string_value(json_object_get(ctxe, "file"));
	if ((rc = str_field(&cluster_name, ctx, "cluster", "context", xfile, err)) < 0 ||
	    (rc = str_field(&user_name, ctx, "user", "context", xfile, err)) < 0 ||
	    (rc = str_field(&ns, ctx, "namespace", "context", xfile, err)) < 0)
		return rc;
	if (!cluster_name)
		return tm_err_set(err, TM_EINVALID, "kubeconfig '%s': context '%s' names no cluster", xfile, ctxname);
	if (!(cle = json_object_get(m->clusters, cluster_name)))
		return tm_err_set(err, TM_EINVALID, "kubeconfig '%s': context '%s' uses cluster '%s', which is not defined",
				  xfile, ctxname, cluster_name);
	cfile = json_string_value(json_object_get(cle, "file"));
	if ((rc = tm_kube_dup_opt(&c->context, ctxname, err)) < 0 || (rc = tm_kube_dup_opt(&c->namespace, ns, err)) < 0 ||
	    (rc = take_cluster(c, json_object_get(cle, "v"), cfile, cluster_name, xfile, err)) < 0)
		return rc;
	if (!user_name)
		return 0; /* no credentials: the server decides what anonymous may do */
	if (!(ue = json_object_get(m->users, user_name)))
		return tm_err_set(err, TM_EINVALID, "kubeconfig '%s': context '%s' uses user '%s', which is not defined",
				  xfile, ctxname, user_name);
	if ((rc = take_user(c, json_object_get(ue, "v"), json_string_value(json_object_get(ue, "file")), user_name,
			    err)) < 0)
		return rc;
	return check_plain_http(c, allow_http, cfile, cluster_name, err);
}

static int load_incluster(struct tm_kube_config *c, const struct tm_kube_source *src, struct tm_err *err)
{
	const char *dir = src->sa_dir ? src->sa_dir : SA_DIR;
	char path[4096];
	struct tm_buf ns = TM_BUF_INIT("namespace file", 4096);
	int rc;

	snprintf(path, sizeof(path), "%s/token", dir);
	if (!src->service_host || access(path, R_OK) != 0)
		return tm_err_set(err, TM_ENOTFOUND, "no kubeconfig found: pass --kubeconfig, set KUBECONFIG, or "
				  "create ~/.kube/config");
	if ((rc = tm_kube_dup_opt(&c->origin, "in-cluster", err)) < 0 || (rc = tm_kube_dup_opt(&c->context, "in-cluster", err)) < 0)
		return rc;
	if ((rc = read_token_file(&c->token, path, err)) < 0)
		return broken(err, "in-cluster service account");
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	if ((rc = tm_file_read(&c->ca_pem, path, KUBECONFIG_MAX, err)) < 0)
		return broken(err, "in-cluster service account");
	snprintf(path, sizeof(path), "%s/namespace", dir);
	if (tm_file_read(&ns, path, 4096, NULL) == 0 && ns.len) {
		while (ns.len && ns.data[ns.len - 1] == '\n')
			ns.data[--ns.len] = '\0';
		if (!tm_is_dns_label(ns.data, 63))
			rc = tm_err_set(err, TM_EINVALID, "in-cluster service account: namespace file '%s' does not "
					"hold a DNS label", path);
		else
			rc = tm_kube_dup_opt(&c->namespace, ns.data, err);
	}
	tm_buf_release(&ns);
	if (rc < 0)
		return rc;
	/* an IPv6 service address needs brackets in a URL */
	if (asprintf(&c->server, strchr(src->service_host, ':') ? "https://[%s]:%s" : "https://%s:%s",
		     src->service_host, src->service_port ? src->service_port : "443") < 0) {
		c->server = NULL;
		return tm_err_set(err, TM_ERROR, "out of memory");
	}
	return 0;
}

int tm_kube_config_load(struct tm_kube_config *out, const struct tm_kube_source *src, struct tm_err *err)
{
	struct merged m = { json_object(), json_object(), json_object(), NULL };
	struct tm_kube_config c;
	struct tm_buf origin = TM_BUF_INIT("kubeconfig list", 64 * 1024);
	char *list = NULL, *save = NULL, *home_cfg = NULL;
	int rc = 0, nfiles = 0;

	tm_kube_config_init(&c);
	if (!m.clusters || !m.users || !m.contexts) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	if (src->kubeconfig) {
		/* named explicitly: it must exist, and nothing else is merged */
		if ((rc = merge_file(&m, src->kubeconfig, err)) < 0) {
			/* a missing file named on the command line is bad input, not "no cluster" */
			if (rc == TM_ENOTFOUND && err)
				err->code = TM_EINVALID;
			rc = tm_err_wrap(err, "kubeconfig from --kubeconfig");
			goto out;
		}
		rc = tm_buf_puts(&origin, src->kubeconfig, err);
		nfiles = 1;
	} else if (src->kubeconfig_env && *src->kubeconfig_env) {
		list = strdup(src->kubeconfig_env);
		for (char *p = list ? strtok_r(list, ":", &save) : NULL; p; p = strtok_r(NULL, ":", &save)) {
			struct stat st;
			if (stat(p, &st) != 0)
				continue; /* kubectl skips list entries that do not exist */
			if ((rc = merge_file(&m, p, err)) < 0)
				goto out;
			if ((rc = tm_buf_printf(&origin, err, "%s%s", nfiles ? ":" : "", p)) < 0)
				goto out;
			nfiles++;
		}
	} else if (src->home && asprintf(&home_cfg, "%s/.kube/config", src->home) > 0 && access(home_cfg, F_OK) == 0) {
		if ((rc = merge_file(&m, home_cfg, err)) < 0)
			goto out;
		rc = tm_buf_puts(&origin, home_cfg, err);
		nfiles = 1;
	}
	if (rc < 0)
		goto out;
	if (nfiles == 0) {
		if ((rc = load_incluster(&c, src, err)) < 0)
			goto out;
	} else {
		if (!(c.origin = tm_buf_detach(&origin))) {
			rc = tm_err_set(err, TM_ERROR, "out of memory");
			goto out;
		}
		if ((rc = resolve(&c, &m, src->context, src->allow_plain_http, err)) < 0)
			goto out;
	}
	*out = c;
	tm_kube_config_init(&c);
out:
	tm_kube_config_release(&c);
	json_decref(m.clusters);
	json_decref(m.users);
	json_decref(m.contexts);
	free(m.current);
	free(list);
	free(home_cfg);
	tm_buf_release(&origin);
	return rc;
}
