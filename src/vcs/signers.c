/* OpenSSH's allowed_signers file (ssh-keygen(1), ALLOWED SIGNERS) read as ssh-keygen
 * reads it: principals, options, a public key per line; and the lines that allow a key
 * for a principal and namespace at a time, as check_allowed_keys_line judges them. */
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include "vcs_private.h"

#define SPACE " \t\r\n"
#define KEY_MAX 16384 /* decoded bytes: an RSA key of 16384 bits fits with room */

/* The key types ssh-keygen reads in a key column (with their -cert-v01 forms): a field
 * naming one of these starts the key, anything else is options. */
static const char *const key_types[] = {
	"ssh-ed25519", "ssh-rsa", "ssh-dss", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
	"sk-ecdsa-sha2-nistp256@openssh.com", "sk-ssh-ed25519@openssh.com", "ssh-xmss@openssh.com",
};

static bool is_key_type(const char *s, size_t n)
{
	static const char cert[] = "-cert-v01@openssh.com";

	for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++) {
		const char *t = key_types[i], *at = strchr(t, '@');
		size_t tn = strlen(t), base = at ? (size_t)(at - t) : tn;

		if (n == tn && memcmp(s, t, n) == 0)
			return true;
		/* "ssh-ed25519-cert-v01@openssh.com", "sk-ssh-ed25519-cert-v01@openssh.com" */
		if (n == base + strlen(cert) && memcmp(s, t, base) == 0 && memcmp(s + base, cert, strlen(cert)) == 0)
			return true;
	}
	return false;
}

/* The principals field, as OpenSSH's strdelimw: up to whitespace, or a quoted run (the
 * quotes removed). Advances *cp past it and the whitespace after. NULL when unterminated. */
static char *principals_field(char **cp)
{
	char *start = *cp, *s = start + strcspn(start, SPACE "\"");

	if (!*s)
		return NULL;
	if (*s == '"') {
		memmove(s, s + 1, strlen(s)); /* the NUL too */
		if (!(s = strchr(s, '"')))
			return NULL;
	}
	*s++ = '\0';
	*cp = s + strspn(s, SPACE);
	return start;
}

/* Past the options field: up to unquoted whitespace. false inside an open quote. */
static bool past_options(char **cp)
{
	bool quoted = false;
	char *s = *cp;

	for (; *s && (quoted || !strchr(" \t", *s)); s++) {
		if (*s == '\\' && s[1] == '"')
			s++;
		else if (*s == '"')
			quoted = !quoted;
	}
	*cp = s;
	return !quoted;
}

/* YYYYMMDD[HHMM[SS]] with an optional Z or UTC suffix, as OpenSSH's parse_absolute_time
 * (strptime, then timegm or mktime with tm_isdst 0). 0 when malformed. */
static int64_t absolute_time(const char *s)
{
	size_t l = strlen(s);
	bool utc = false;
	char buf[32];
	const char *fmt, *end;
	struct tm tm;
	time_t t;

	if (l > 1 && strcasecmp(s + l - 1, "Z") == 0) {
		utc = true;
		l--;
	} else if (l > 3 && strcasecmp(s + l - 3, "UTC") == 0) {
		utc = true;
		l -= 3;
	}
	if (l == 8) {
		fmt = "%Y-%m-%d";
		snprintf(buf, sizeof(buf), "%.4s-%.2s-%.2s", s, s + 4, s + 6);
	} else if (l == 12) {
		fmt = "%Y-%m-%dT%H:%M";
		snprintf(buf, sizeof(buf), "%.4s-%.2s-%.2sT%.2s:%.2s", s, s + 4, s + 6, s + 8, s + 10);
	} else if (l == 14) {
		fmt = "%Y-%m-%dT%H:%M:%S";
		snprintf(buf, sizeof(buf), "%.4s-%.2s-%.2sT%.2s:%.2s:%.2s", s, s + 4, s + 6, s + 8, s + 10, s + 12);
	} else {
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	if (!(end = strptime(buf, fmt, &tm)) || *end)
		return 0;
	t = utc ? timegm(&tm) : mktime(&tm);
	return t < 0 ? 0 : (int64_t)t;
}

/* A quoted option value ("..." with \" for a quote), advancing *p past it. */
static char *dequote(const char **p)
{
	const char *s = *p;
	char *out;
	size_t i = 0;

	if (*s++ != '"' || !(out = malloc(strlen(s) + 1)))
		return NULL;
	while (*s && *s != '"') {
		if (s[0] == '\\' && s[1] == '"')
			s++;
		out[i++] = *s++;
	}
	if (!*s) {
		free(out);
		return NULL;
	}
	out[i] = '\0';
	*p = s + 1;
	return out;
}

static bool option_is(const char **p, const char *name)
{
	size_t n = strlen(name);

	if (strncasecmp(*p, name, n) != 0 || (*p)[n] != '=')
		return false;
	*p += n + 1;
	return true;
}

/* A time option's value into *t. */
static int time_option(int64_t *t, const char **p, const char *name, unsigned line, struct tm_err *err)
{
	char *v;

	if (*t)
		return tm_err_set(err, TM_EINVALID, "allowed_signers:%u: expected one %s option", line, name);
	if (!(v = dequote(p)))
		return tm_err_set(err, TM_EINVALID, "allowed_signers:%u: expected a quoted %s time", line, name);
	*t = absolute_time(v);
	free(v);
	if (!*t)
		return tm_err_set(err, TM_EINVALID, "allowed_signers:%u: expected a %s time as YYYYMMDD[HHMM[SS]][Z]",
				  line, name);
	return 0;
}

/* The options field (NUL-terminated), as OpenSSH's sshsigopt_parse. */
static int options(struct tm_vcs_allowed_signer *e, const char *p, struct tm_err *err)
{
	int rc;

	while (*p) {
		if (strncasecmp(p, "cert-authority", strlen("cert-authority")) == 0) {
			p += strlen("cert-authority");
			e->cert_authority = true;
		} else if (option_is(&p, "namespaces")) {
			if (e->namespaces)
				return tm_err_set(err, TM_EINVALID, "allowed_signers:%u: expected one namespaces option",
						  e->line);
			if (!(e->namespaces = dequote(&p)))
				return tm_err_set(err, TM_EINVALID, "allowed_signers:%u: expected a quoted namespaces list",
						  e->line);
		} else if (option_is(&p, "valid-after")) {
			if ((rc = time_option(&e->valid_after, &p, "valid-after", e->line, err)) < 0)
				return rc;
		} else if (option_is(&p, "valid-before")) {
			if ((rc = time_option(&e->valid_before, &p, "valid-before", e->line, err)) < 0)
				return rc;
		}
		if (!*p)
			break;
		if (*p != ',' || !*++p)
			return tm_err_set(err, TM_EINVALID, "allowed_signers:%u: expected an option (namespaces, "
					  "valid-after, valid-before, cert-authority) at '%.40s'", e->line, p);
	}
	if (e->valid_after && e->valid_before && e->valid_before <= e->valid_after)
		return tm_err_set(err, TM_EINVALID, "allowed_signers:%u: expected valid-before after valid-after",
				  e->line);
	return 0;
}

/* "type base64": the blob, whose own type must be the one named. */
static int key_field(struct tm_vcs_allowed_signer *e, char *cp, struct tm_err *err)
{
	size_t tn = strcspn(cp, " \t"), bn;
	char *b64 = cp + tn + strspn(cp + tn, " \t");
	struct tm_vcs_wire w, type;

	if (!is_key_type(cp, tn) || tn >= sizeof(e->type))
		return tm_err_set(err, TM_EINVALID, "allowed_signers:%u: expected a key type (ssh-ed25519, ssh-rsa, "
				  "ecdsa-sha2-nistp256, ...) at '%.40s'", e->line, cp);
	memcpy(e->type, cp, tn);
	e->type[tn] = '\0';
	bn = strcspn(b64, SPACE);
	if (!(e->key = malloc(bn / 4 * 3 + 3)) ||
	    sodium_base642bin(e->key, bn / 4 * 3 + 3, b64, bn, NULL, &e->keylen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    e->keylen > KEY_MAX)
		return tm_err_set(err, TM_EINVALID, "allowed_signers:%u: expected a base64 %s key", e->line, e->type);
	w = (struct tm_vcs_wire){ e->key, e->keylen };
	if (!tm_vcs_wire_string(&w, &type) || type.n != tn || memcmp(type.p, e->type, tn) != 0)
		return tm_err_set(err, TM_EINVALID, "allowed_signers:%u: expected a %s key, the base64 holds another",
				  e->line, e->type);
	return 0;
}

/* One line (modifiable, NUL-terminated) that is neither blank nor a comment. */
static int parse_line(struct tm_vcs_allowed_signer *e, char *cp, struct tm_err *err)
{
	char *principals = principals_field(&cp), *opts;
	size_t tn;
	int rc;

	if (!principals || !*cp)
		return tm_err_set(err, TM_EINVALID, "allowed_signers:%u: expected principals, then a key", e->line);
	if (!(e->principals = strdup(principals)))
		return tm_err_set(err, TM_ERROR, "out of memory");
	tn = strcspn(cp, " \t");
	if (!is_key_type(cp, tn)) {
		opts = cp;
		if (!past_options(&cp) || !*cp)
			return tm_err_set(err, TM_EINVALID, "allowed_signers:%u: expected a key after the options",
					  e->line);
		*cp++ = '\0';
		cp += strspn(cp, " \t");
		if ((rc = options(e, opts, err)) < 0)
			return rc;
	}
	return key_field(e, cp, err);
}

static void entry_release(struct tm_vcs_allowed_signer *e)
{
	free(e->principals);
	free(e->namespaces);
	free(e->key);
}

/* Appends a zeroed entry for line. */
static struct tm_vcs_allowed_signer *grow(struct tm_vcs_signers *s, size_t *cap, unsigned line)
{
	struct tm_vcs_allowed_signer *e;

	if (s->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		if (!(e = realloc(s->e, ncap * sizeof(*e))))
			return NULL;
		s->e = e;
		*cap = ncap;
	}
	e = &s->e[s->n];
	memset(e, 0, sizeof(*e));
	e->line = line;
	return e;
}

int tm_vcs_signers_parse(struct tm_vcs_signers *out, const char *text, size_t len, struct tm_err *err)
{
	struct tm_vcs_signers s = { 0, NULL };
	struct tm_vcs_allowed_signer *e;
	size_t cap = 0, at = 0;
	char *line = NULL, *cp;
	unsigned no = 0;
	int rc = 0;

	while (at < len) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (text + at)) : len - at;

		no++;
		free(line);
		if (!(line = strndup(text + at, n))) {
			rc = tm_err_set(err, TM_ERROR, "out of memory");
			goto out;
		}
		at += n + (nl != NULL);
		cp = line + strspn(line, SPACE);
		if (*cp == '#' || !*cp)
			continue;
		if (!(e = grow(&s, &cap, no))) {
			rc = tm_err_set(err, TM_ERROR, "out of memory");
			goto out;
		}
		s.n++;
		if ((rc = parse_line(e, cp, err)) < 0)
			goto out;
	}
	*out = s;
	s.n = 0;
	s.e = NULL;
out:
	free(line);
	tm_vcs_signers_release(&s);
	return rc;
}

void tm_vcs_signers_release(struct tm_vcs_signers *s)
{
	for (size_t i = 0; i < s->n; i++)
		entry_release(&s->e[i]);
	free(s->e);
	s->e = NULL;
	s->n = 0;
}

enum tm_vcs_signer_verdict tm_vcs_signers_find(size_t *line_out, const struct tm_vcs_signers *s,
					       const unsigned char *key, size_t keylen, const char *principal,
					       const char *ns, int64_t when)
{
	enum tm_vcs_signer_verdict v = TM_SIGNER_UNLISTED;

	for (size_t i = 0; i < s->n; i++) {
		const struct tm_vcs_allowed_signer *e = &s->e[i];

		/* a cert-authority line vouches for certificates only, never for its own key */
		if (e->cert_authority || e->keylen != keylen || memcmp(e->key, key, keylen) != 0)
			continue;
		if (principal && !tm_vcs_pattern_list(principal, e->principals, false)) {
			v = v == TM_SIGNER_UNLISTED ? TM_SIGNER_PRINCIPAL : v;
			continue;
		}
		if (ns && e->namespaces && !tm_vcs_pattern_list(ns, e->namespaces, false)) {
			v = TM_SIGNER_NAMESPACE;
			continue;
		}
		if ((e->valid_after && when < e->valid_after) || (e->valid_before && when > e->valid_before)) {
			v = v == TM_SIGNER_NAMESPACE ? v : TM_SIGNER_EXPIRED;
			continue;
		}
		if (line_out)
			*line_out = i;
		return TM_SIGNER_OK;
	}
	return v;
}
