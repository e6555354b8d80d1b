/* Pruning: list the members of an ApplySet by label, keep what the new set holds (and
 * what policy keeps), delete the rest phase by phase in reverse phase order, waiting
 * for each phase to be gone so workloads stop before their config disappears. */
#include <stdlib.h>
#include <string.h>

#include "apply_private.h"
#include "tarmac/doc.h"

#define DEFAULT_PRUNE_TIMEOUT_MS (5 * 60 * 1000)
/* metadata is all pruning reads: ask for PartialObjectMetadataList, JSON as fallback */
#define ACCEPT_METADATA TM_KUBE_ACCEPT_METADATA
#define ACCEPT_ONE_METADATA "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"

struct member {
	struct tm_kube_rsc rsc;
	char ns[64], name[254];
	char subject[400];
	enum tm_phase phase;
	bool gone;
};

struct listing {
	struct tm_kube_rsc rsc;
	const char *ns; /* NULL: cluster-wide */
	const char *selector;
	struct tm_buf path;
};

static void report(const struct tm_prune_opts *o, enum tm_level lvl, const char *kind, const char *subject,
		   const char *fmt, ...) TM_PRINTF(5, 6);
static void report(const struct tm_prune_opts *o, enum tm_level lvl, const char *kind, const char *subject,
		   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tm_vreportf(o->report, o->report_ctx, lvl, kind, subject, false, fmt, ap);
	va_end(ap);
}

/* The resource lists of every group in gks, fetched in one batch. */
static int prefetch_gks(struct tm_kube *k, const json_t *gks, struct tm_err *err)
{
	size_t n = json_array_size(gks), i;
	const char **names = calloc(n ? n : 1, sizeof(*names));
	json_t *gk;
	int rc;

	if (!names)
		return tm_err_set(err, TM_ERROR, "out of memory");
	json_array_foreach(gks, i, gk)
		names[i] = json_string_value(gk);
	rc = tm_kube_prefetch_gks(k, names, n, err);
	free(names);
	return rc;
}

static void keep_key(char *out, size_t n, const char *group, const char *kind, const char *ns, const char *name)
{
	snprintf(out, n, "%s|%s|%s|%s", group, kind, ns ? ns : "", name);
}

/* The set of objects to keep: "group|Kind|ns|name". An object without a namespace
 * is entered both as cluster-scoped and as in the default namespace, since which it
 * is is only known once listed. */
static int keep_set(json_t **out, const json_t *keep, const char *default_ns, struct tm_err *err)
{
	json_t *set = json_object(), *obj;
	size_t i;

	if (!set)
		return tm_err_set(err, TM_ERROR, "out of memory");
	json_array_foreach(keep, i, obj) {
		const char *av = json_string_value(json_object_get(obj, "apiVersion"));
		const char *kind = json_string_value(json_object_get(obj, "kind"));
		const char *ns = json_string_value(tm_doc_get(obj, "metadata", "namespace", NULL));
		const char *name = json_string_value(tm_doc_get(obj, "metadata", "name", NULL));
		const char *slash = av ? strchr(av, '/') : NULL;
		char group[200], key[800];

		if (!av || !kind || !name)
			continue;
		snprintf(group, sizeof(group), "%.*s", slash ? (int)(slash - av) : 0, av);
		keep_key(key, sizeof(key), group, kind, ns ? ns : "", name);
		json_object_set_new(set, key, json_true());
		if (!ns && default_ns) {
			keep_key(key, sizeof(key), group, kind, default_ns, name);
			json_object_set_new(set, key, json_true());
		}
	}
	*out = set;
	return 0;
}

static bool controlled(const json_t *md)
{
	size_t i;
	json_t *ref;

	json_array_foreach(json_object_get(md, "ownerReferences"), i, ref)
		if (json_is_true(json_object_get(ref, "controller")))
			return true;
	return false;
}

/* Why an object is kept without --purge, or NULL. */
static const char *kept_by_policy(const struct tm_kube_rsc *r, const json_t *md)
{
	const char *policy = json_string_value(tm_doc_get(md, "annotations", TM_POLICY_ANNOTATION, NULL));

	if (!r->group[0] && strcmp(r->kind, "PersistentVolumeClaim") == 0)
		return "a volume claim: its data stays";
	if (!r->group[0] && strcmp(r->kind, "Namespace") == 0)
		return "a namespace: deleting it would delete what is kept in it";
	if (policy && strcmp(policy, "keep") == 0)
		return TM_POLICY_ANNOTATION ": keep";
	return NULL;
}

/* A kept member stays in the set: its group-kind and namespace stay in the inventory. */
static int note_kept(const struct tm_prune_opts *o, const struct tm_applyset *s, const struct tm_kube_rsc *r,
		     const char *ns, struct tm_err *err)
{
	char gk[300];
	json_t *g, *n;
	int rc;

	if (!o->kept_gks || !o->kept_nss)
		return 0;
	snprintf(gk, sizeof(gk), "%s%s%s", r->kind, r->group[0] ? "." : "", r->group);
	g = json_pack("[s]", gk);
	n = ns && strcmp(ns, s->ns) != 0 ? json_pack("[s]", ns) : json_array();
	rc = g && n ? tm_applyset_merge(o->kept_gks, o->kept_nss, g, n, err) : tm_err_set(err, TM_ERROR, "out of memory");
	json_decref(g);
	json_decref(n);
	return rc;
}

static enum tm_phase member_phase(const struct tm_kube_rsc *r, const json_t *md)
{
	char av[200];
	json_t *pseudo;
	enum tm_phase p;

	if (r->group[0])
		snprintf(av, sizeof(av), "%s/%s", r->group, r->version);
	else
		snprintf(av, sizeof(av), "%s", r->version);
	pseudo = json_pack("{s:s, s:s, s:O}", "apiVersion", av, "kind", r->kind, "metadata", md);
	p = tm_apply_phase_of(pseudo);
	json_decref(pseudo);
	return p;
}

/* "a=b,c" as a query value: '=' as %3D, ',' as %2C (cut to fit n). */
static void query_selector(char *out, size_t n, const char *sel)
{
	out[0] = '\0';
	for (const char *p = sel; *p && strlen(out) + 4 < n; p++) {
		size_t at = strlen(out);

		if (*p == '=' || *p == ',')
			snprintf(out + at, n - at, "%%%02X", (unsigned char)*p);
		else
			snprintf(out + at, n - at, "%c", *p);
	}
}

/* The lists to ask for into l (*nl of them): every served group-kind of the inventory
 * in the release's namespace and the additional ones (cluster-wide for cluster-scoped
 * kinds), by the part-of selector; with purge_pvcs, the claims by that selector too. */
static int plan_listings(struct tm_kube *k, const struct tm_applyset *s, const json_t *gks, const json_t *nss,
			 const struct tm_prune_opts *o, struct listing *l, size_t *nl, const char *selector,
			 const char *pvc_selector, struct tm_err *err)
{
	size_t nns = json_array_size(nss) + 1, i, j;
	struct tm_kube_rsc r;
	json_t *gk;
	int rc;

	json_array_foreach(gks, i, gk) {
		struct tm_err e;

		tm_err_init(&e);
		if ((rc = tm_kube_resolve_gk(k, json_string_value(gk), &r, &e)) == TM_ENOTFOUND) {
			report(o, TM_DEBUG, "log", json_string_value(gk), "not served any more: nothing of it to prune");
			continue;
		}
		if (rc < 0) {
			*err = e;
			return rc;
		}
		for (j = 0; j < (r.namespaced ? nns : 1); j++)
			l[(*nl)++] = (struct listing){ .rsc = r, .selector = selector,
						       .ns = !r.namespaced ? NULL : j == 0 ? s->ns
									    : json_string_value(json_array_get(nss, j - 1)) };
	}
	if (!o->purge || !o->purge_pvcs)
		return 0;
	if ((rc = tm_kube_resolve(k, "v1", "PersistentVolumeClaim", false, &r, err)) < 0)
		return rc;
	for (j = 0; j < nns; j++)
		l[(*nl)++] = (struct listing){ .rsc = r, .selector = pvc_selector,
					       .ns = j == 0 ? s->ns : json_string_value(json_array_get(nss, j - 1)) };
	return 0;
}

/* Appends one member to delete to *m (*nm of them). */
static int add_member(struct member **m, size_t *nm, const struct tm_kube_rsc *rsc, const char *ns, const char *name,
		      const char *subject, const json_t *md, struct tm_err *err)
{
	struct member *grown = realloc(*m, (*nm + 1) * sizeof(**m)), *x;

	if (!grown)
		return tm_err_set(err, TM_ERROR, "out of memory");
	*m = grown;
	x = &grown[(*nm)++];
	memset(x, 0, sizeof(*x));
	x->rsc = *rsc;
	snprintf(x->ns, sizeof(x->ns), "%s", ns ? ns : "");
	snprintf(x->name, sizeof(x->name), "%s", name);
	snprintf(x->subject, sizeof(x->subject), "%s", subject);
	x->phase = member_phase(rsc, md);
	return 0;
}

/* Sorts the items of one listing: kept (named by keep, listed already, owned by a
 * controller, or kept by policy unless purging), else members to delete. */
static int take_items(const struct listing *l, const json_t *items, const struct tm_applyset *s, json_t *keep,
		      const struct tm_prune_opts *o, struct member **m, size_t *nm, struct tm_prune_result *res,
		      struct tm_err *err)
{
	size_t j;
	json_t *item;
	int rc;

	json_array_foreach(items, j, item) {
		json_t *md = json_object_get(item, "metadata");
		const char *name = json_string_value(json_object_get(md, "name"));
		const char *ns = json_string_value(json_object_get(md, "namespace"));
		const char *why;
		char key[800], subject[400];

		if (!name)
			continue;
		keep_key(key, sizeof(key), l->rsc.group, l->rsc.kind, ns ? ns : "", name);
		if (json_object_get(keep, key))
			continue;
		json_object_set_new(keep, key, json_true()); /* listed once even if two selectors match */
		snprintf(subject, sizeof(subject), "%s %s%s%s", l->rsc.kind, ns ? ns : "", ns ? "/" : "", name);
		if (controlled(md)) {
			res->skipped++;
			report(o, TM_DEBUG, "log", subject, "owned by a controller: left to it");
		} else if (!o->purge && (why = kept_by_policy(&l->rsc, md))) {
			res->kept++;
			report(o, TM_INFO, "kept", subject, "kept (%s)", why);
			if ((rc = note_kept(o, s, &l->rsc, ns, err)) < 0)
				return rc;
		} else if ((rc = add_member(m, nm, &l->rsc, ns, name, subject, md, err)) < 0) {
			return rc;
		}
	}
	return 0;
}

/* Lists every (group-kind, namespace) pair at once and collects the members to delete. */
static int find_members(struct tm_kube *k, const struct tm_applyset *s, const json_t *gks, const json_t *nss,
			json_t *keep, const struct tm_prune_opts *o, struct member **out, size_t *nout,
			struct tm_prune_result *res, struct tm_err *err)
{
	size_t cap = (json_array_size(gks) + 1) * (json_array_size(nss) + 1), nl = 0, nm = 0, i;
	struct listing *l = calloc(cap ? cap : 1, sizeof(*l));
	struct tm_kube_call *c = calloc(cap ? cap : 1, sizeof(*c));
	struct member *m = NULL;
	char selector[200], pvc_selector[400];
	int rc = 0;

	if (!l || !c) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	snprintf(selector, sizeof(selector), TM_APPLYSET_PART_OF "%%3D%s", s->id);
	query_selector(pvc_selector, sizeof(pvc_selector), o->purge_pvcs ? o->purge_pvcs : "");
	if ((rc = prefetch_gks(k, gks, err)) < 0 ||
	    (rc = plan_listings(k, s, gks, nss, o, l, &nl, selector, pvc_selector, err)) < 0)
		goto out;
	for (i = 0; i < nl; i++) {
		tm_buf_init(&l[i].path, "path", 2048);
		if ((rc = tm_kube_path(&l[i].path, &l[i].rsc, l[i].ns, NULL, err)) < 0 ||
		    (rc = tm_buf_printf(&l[i].path, err, "?labelSelector=%s", l[i].selector)) < 0)
			goto out;
		c[i].req = (struct tm_http_request){ .method = "GET", .path = l[i].path.data, .accept = ACCEPT_METADATA };
		c[i].want_json = true;
	}
	if (nl && (rc = tm_kube_do(k, c, nl, err)) < 0)
		goto out;
	for (i = 0; i < nl; i++) {
		if (c[i].rc == TM_ENOTFOUND)
			continue;
		if ((rc = c[i].rc) < 0) {
			*err = c[i].err;
			tm_err_wrap(err, "list the %s of release inventory '%s'", l[i].rsc.name, s->id);
			goto out;
		}
		if ((rc = take_items(&l[i], json_object_get(c[i].out, "items"), s, keep, o, &m, &nm, res, err)) < 0)
			goto out;
	}
	*out = m;
	*nout = nm;
	m = NULL;
out:
	for (i = 0; l && c && i < cap; i++) {
		tm_kube_call_release(&c[i]);
		tm_buf_release(&l[i].path);
	}
	free(l);
	free(c);
	free(m);
	return rc;
}

/* Polls the deleted members of one phase until each answers 404. */
static int wait_gone(struct tm_kube *k, struct member **ms, size_t n, int64_t deadline, const struct tm_prune_opts *o,
		     struct tm_err *err)
{
	struct tm_kube_batch b;
	struct tm_kube_call *c;
	int rc;

	if ((rc = tm_kube_batch_init(&b, n, 2048, err)) < 0)
		return rc;
	c = b.calls;
	for (size_t i = 0; i < n; i++)
		if ((rc = tm_kube_path(&b.paths[i], &ms[i]->rsc, ms[i]->ns, ms[i]->name, err)) < 0)
			goto out;
	for (;;) {
		size_t left = 0, first = 0;

		for (size_t i = 0; i < n; i++) {
			tm_kube_call_release(&c[i]);
			memset(&c[i], 0, sizeof(c[i]));
			c[i].req = (struct tm_http_request){ .method = "GET", .path = b.paths[i].data,
							     .accept = ACCEPT_ONE_METADATA };
		}
		if ((rc = tm_kube_do(k, c, n, err)) < 0)
			goto out;
		for (size_t i = 0; i < n; i++) {
			if (ms[i]->gone || c[i].rc == TM_ENOTFOUND) {
				ms[i]->gone = true;
				continue;
			}
			if (c[i].rc < 0) {
				rc = c[i].rc;
				*err = c[i].err;
				goto out;
			}
			if (!left++)
				first = i;
		}
		if (!left)
			break;
		if (tm_now_ms() > deadline) {
			rc = tm_err_set(err, TM_ETIMEOUT, "%s still there after its deletion (%zu object%s in all): a finalizer "
					"may be holding it", ms[first]->subject, left, left == 1 ? "" : "s");
			goto out;
		}
		report(o, TM_INFO, "wait", ms[first]->subject, "waiting for %zu deleted object%s to go", left,
		       left == 1 ? "" : "s");
		if ((rc = tm_kube_sleep(k, 300)) < 0) {
			tm_err_set(err, rc, "interrupted while waiting for %s to be deleted", ms[first]->subject);
			goto out;
		}
	}
out:
	tm_kube_batch_release(&b);
	return rc;
}

static int delete_phase(struct tm_kube *k, struct member **ms, size_t n, const struct tm_prune_opts *o,
			struct tm_prune_result *res, struct tm_err *err)
{
	struct tm_kube_batch b;
	struct tm_kube_call *c;
	int rc, first = 0;

	if ((rc = tm_kube_batch_init(&b, n, 2048, err)) < 0)
		return rc;
	c = b.calls;
	for (size_t i = 0; i < n; i++) {
		/* what owns pods goes in the foreground: the object stays until its pods are
		 * gone, so waiting for it waits for them, before the config they read is deleted */
		const char *policy = tm_kind_rule_of_group(ms[i]->rsc.group, ms[i]->rsc.kind)->pods ? "Foreground" : "Background";
		if ((rc = tm_kube_call_delete(&c[i], &b.paths[i], &ms[i]->rsc, ms[i]->ns[0] ? ms[i]->ns : NULL, ms[i]->name,
					      policy, o->dry_run, err)) < 0)
			goto out;
	}
	if ((rc = tm_kube_do(k, c, n, err)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (c[i].rc == TM_ENOTFOUND) {
			ms[i]->gone = true;
			continue;
		}
		if (c[i].rc < 0) {
			tm_err_wrap(&c[i].err, "prune %s", ms[i]->subject);
			report(o, TM_ERRORLVL, "deleted", ms[i]->subject, "%s", tm_err_msg(&c[i].err));
			if (!first) {
				first = c[i].rc;
				*err = c[i].err;
			}
			continue;
		}
		res->deleted++;
		report(o, TM_INFO, "deleted", ms[i]->subject, "%s", o->dry_run ? "would be deleted (server dry run)" : "deleted");
	}
	rc = first;
out:
	tm_kube_batch_release(&b);
	return rc;
}

int tm_apply_prune(struct tm_prune_result *out, struct tm_kube *k, const struct tm_applyset *s, const json_t *gks,
		   const json_t *nss, const json_t *keep, const struct tm_prune_opts *o, struct tm_err *err)
{
	struct tm_prune_result res = { 0 };
	struct member *m = NULL, **batch = NULL;
	json_t *set = NULL;
	size_t nm = 0;
	int64_t deadline = tm_now_ms() + (o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_PRUNE_TIMEOUT_MS);
	int rc;

	if ((rc = tm_kube_discover(k, err)) < 0 || (rc = keep_set(&set, keep, o->namespace, err)) < 0 ||
	    (rc = find_members(k, s, gks, nss, set, o, &m, &nm, &res, err)) < 0)
		goto out;
	if (!(batch = calloc(nm ? nm : 1, sizeof(*batch)))) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	for (int p = TM_PHASE_COUNT - 1; p >= 0; p--) {
		size_t n = 0;

		for (size_t i = 0; i < nm; i++)
			if (m[i].phase == (enum tm_phase)p)
				batch[n++] = &m[i];
		if (!n)
			continue;
		report(o, TM_INFO, "phase", tm_phase_name((enum tm_phase)p), "deleting %zu object%s", n, n == 1 ? "" : "s");
		if ((rc = delete_phase(k, batch, n, o, &res, err)) < 0)
			goto out;
		/* a Namespace takes its contents (the lock and records of a purged release
		 * among them) with it: not waited for */
		if (p != TM_PHASE_CLUSTER && o->wait && !o->dry_run && (rc = wait_gone(k, batch, n, deadline, o, err)) < 0)
			goto out;
	}
	rc = 0;
out:
	if (out)
		*out = res;
	free(m);
	free(batch);
	json_decref(set);
	return rc;
}

int tm_apply_readiness(const json_t *live, char *reason, size_t n)
{
	const struct tm_kind_rule *rule = tm_kind_rule(json_string_value(json_object_get(live, "apiVersion")),
						       json_string_value(json_object_get(live, "kind")));
	struct tm_readiness rd = { TM_VERDICT_READY, "" };

	if (rule->ready)
		rule->ready(live, &rd);
	snprintf(reason, n, "%s", rd.reason);
	return rd.verdict == TM_VERDICT_READY ? 1 : rd.verdict == TM_VERDICT_FAILED ? -1 : 0;
}
