/* What an exec credential plugin printed: an ExecCredential of the configured
 * apiVersion with a token or a client certificate and key (client-go's protocol), read
 * without ever quoting the secret in an error, and wiped from the parsed tree. */
#include <stdlib.h>
#include <string.h>

#include "kube_private.h"
#include "tarmac/doc.h"

/* A string member of status, or NULL when absent, null or empty. */
static int status_str(const char **out, json_t *status, const char *key, const char *command, struct tm_err *err)
{
	json_t *v = json_object_get(status, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return tm_err_set(err, TM_EINVALID, "exec plugin '%s': status.%s must be a string", command, key);
	if (json_string_length(v))
		*out = json_string_value(v);
	return 0;
}

/* jansson has no secure free: overwrite secret strings in the tree before decref. */
static void wipe_member(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_string(v))
		tm_wipe((char *)json_string_value(v), json_string_length(v));
}

/* An object of kind ExecCredential, the configured apiVersion, with a status. */
static int check_envelope(const json_t *doc, const struct tm_kube_exec *x, struct tm_err *err)
{
	const char *kind = json_string_value(json_object_get(doc, "kind"));
	const char *api = json_string_value(json_object_get(doc, "apiVersion"));

	if (!json_is_object(doc))
		return tm_err_set(err, TM_EINVALID, "exec plugin '%s' printed JSON that is not an object", x->command);
	if (!kind || strcmp(kind, "ExecCredential") != 0)
		return tm_err_set(err, TM_EINVALID, "exec plugin '%s' printed kind '%.64s', not ExecCredential", x->command,
				  kind ? kind : "");
	if (!api || strcmp(api, x->api_version) != 0)
		return tm_err_set(err, TM_EINVALID, "exec plugin '%s' is configured for apiVersion '%s' but printed '%.64s'",
				  x->command, x->api_version, api ? api : "");
	if (!json_is_object(json_object_get(doc, "status")))
		return tm_err_set(err, TM_EINVALID, "exec plugin '%s' printed an ExecCredential without a status",
				  x->command);
	return 0;
}

/* The status's token or certificate and key, and when it expires, into c. */
static int take_status(struct tm_kube_cred *c, json_t *status, const char *command, struct tm_err *err)
{
	const char *token, *cert, *key, *exp;
	int rc;

	if ((rc = status_str(&token, status, "token", command, err)) < 0 ||
	    (rc = status_str(&cert, status, "clientCertificateData", command, err)) < 0 ||
	    (rc = status_str(&key, status, "clientKeyData", command, err)) < 0 ||
	    (rc = status_str(&exp, status, "expirationTimestamp", command, err)) < 0)
		return rc;
	if (!token && !cert && !key)
		return tm_err_set(err, TM_EINVALID, "exec plugin '%s' returned neither a token nor a client certificate and "
				  "key", command);
	if (!cert != !key)
		return tm_err_set(err, TM_EINVALID, "exec plugin '%s' returned a client %s without its %s", command,
				  cert ? "certificate" : "key", cert ? "key" : "certificate");
	if (exp && tm_parse_rfc3339_ms(exp, &c->expires) < 0)
		return tm_err_set(err, TM_EINVALID, "exec plugin '%s': status.expirationTimestamp '%.64s' is not an RFC "
				  "3339 time", command, exp);
	c->expires /= 1000;
	if (token && (rc = tm_kube_check_header_value(token, "the token", err)) < 0)
		return tm_err_wrap(err, "exec plugin '%s'", command);
	if (token && !(c->token = strdup(token)))
		return tm_err_set(err, TM_ERROR, "out of memory");
	/* one append each: a buffer that never grows leaves no unwiped copies behind */
	if (cert && ((rc = tm_buf_puts(&c->cert_pem, cert, err)) < 0 || (rc = tm_buf_puts(&c->key_pem, key, err)) < 0))
		return rc;
	return 0;
}

int tm_kube_exec_cred_parse(struct tm_kube_cred *c, const char *out, size_t len, const struct tm_kube_exec *x,
			    struct tm_err *err)
{
	json_t *doc = NULL, *status;
	json_error_t jerr;
	int rc;

	if (len == 0)
		return tm_err_set(err, TM_EINVALID, "exec plugin '%s' printed nothing on standard output", x->command);
	/* jansson's message may quote the text near the error, which can be the token:
	 * only the position goes into ours */
	if ((rc = tm_json_check(out, len, err)) < 0)
		return tm_err_wrap(err, "exec plugin '%s' printed more JSON than an ExecCredential holds", x->command);
	if (!(doc = json_loadb(out, len, 0, &jerr)))
		return tm_err_set(err, TM_EINVALID, "exec plugin '%s' printed something that is not JSON (line %d, column "
				  "%d)", x->command, jerr.line, jerr.column);
	status = json_object_get(doc, "status");
	if ((rc = check_envelope(doc, x, err)) == 0)
		rc = take_status(c, status, x->command, err);
	if (json_is_object(status)) {
		wipe_member(status, "token");
		wipe_member(status, "clientKeyData");
	}
	json_decref(doc);
	return rc;
}
