/* No value can add an object or a key (issue 11): payloads that would break out of their
 * YAML context, put into every string leaf the values and the schema allow (and as keys
 * of free-form mappings), in every environment, render the same objects with the same
 * key paths as a benign value, or fail with a clear error. */
#include "../testutil.h"
#include "tarmac/doc.h"
#include "render/render_private.h"

#define BENIGN "benign"

static const char *const PAYLOADS[] = {
	"x\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: injected\n"
	"roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\n"
	"subjects: [{kind: ServiceAccount, name: default, namespace: default}]\n",
	"x\n  injected: x",
	"x\ninjected: x\n",
	"{a: 1}, [x], &a, *a, # c, x: y",
	"- x\n- injected",
	"x\" injected: \"x\n---\nkind: X\n",
	"x' injected: 'x\n---\nkind: X\n",
	"x\\\n---\nkind: X\n",
	"x\r\n---\r\nkind: X\r\n",
	"x\xc2\x85---\xc2\x85kind: X\xe2\x80\xa8---\xe2\x80\xa9kind: Y",
	"|\n  x\ninjected: x",
	"&a x", "*a", "# c", "\"", "'", "\\",
};

/* Every optional part on, so that every template renders. */
static const char FEATURES[] =
	"executor: CeleryKubernetesExecutor\n"
	"dags:\n  gitSync: {enabled: true, repo: 'https://git.example/dags.git', sshKeySecret: git-ssh,"
	" knownHosts: 'git.example ssh-ed25519 AAAA', subPath: dags}\n"
	"logs:\n  remote: {enabled: true, provider: s3, baseLogFolder: 's3://bucket/logs', credentialsSecret: aws}\n"
	"networkPolicies: {enabled: true}\nresourceQuota: {enabled: true}\nlimitRange: {enabled: true}\n"
	"createUserJob: {enabled: true}\npgbouncer: {enabled: true, podDisruptionBudget: {enabled: true}}\n"
	"workers: {hpa: {enabled: true}}\n"
	"podTemplates: {cpuIntensive: {enabled: true}, gpu: {enabled: true, modelCache: {enabled: true}}}\n"
	"monitoring:\n  alertmanager: {enabled: true, slack: {enabled: true}, pagerduty: {enabled: true},"
	" email: {enabled: true, to: a@b.example, from: c@b.example, smarthost: 'smtp:25', authUsername: u}}\n";

static const char *const APIS[] = { "monitoring.coreos.com/v1", "monitoring.coreos.com/v1alpha1" };

/* One place a string can go: the value at ptr, or (key) a new key of the mapping at ptr
 * whose value is keyval. */
struct spot {
	char *ptr;
	bool key;
	json_t *keyval;
};

struct spots {
	struct spot *v;
	size_t n, cap;
};

static void add_spot(struct spots *s, const char *ptr, bool key, json_t *keyval)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		cr_assert_not_null(s->v);
	}
	s->v[s->n++] = (struct spot){ strdup(ptr), key, json_incref(keyval) };
}

static void push(struct tm_buf *p, const char *tok)
{
	cr_assert_eq(tm_buf_puts(p, "/", NULL), 0);
	for (const char *c = tok; *c; c++)
		cr_assert_eq(*c == '~' ? tm_buf_puts(p, "~0", NULL) : *c == '/' ? tm_buf_puts(p, "~1", NULL)
									 : tm_buf_append(p, c, 1, NULL), 0);
}

static void pop(struct tm_buf *p, size_t keep)
{
	p->len = keep;
	p->data[keep] = '\0';
}

/* Every string leaf of the effective values. */
static void walk_values(struct spots *s, json_t *v, struct tm_buf *p)
{
	size_t keep = p->len, i;
	const char *k;
	json_t *c;

	if (json_is_string(v))
		add_spot(s, tm_buf_cstr(p), false, NULL);
	json_object_foreach(json_is_object(v) ? v : NULL, k, c) {
		push(p, k);
		walk_values(s, c, p);
		pop(p, keep);
	}
	json_array_foreach(json_is_array(v) ? v : NULL, i, c) {
		char idx[32];
		snprintf(idx, sizeof(idx), "%zu", i);
		push(p, idx);
		walk_values(s, c, p);
		pop(p, keep);
	}
}

static bool takes(json_t *schema, const char *type)
{
	json_t *t = json_object_get(schema, "type"), *x;
	size_t i;

	if (json_is_string(t))
		return !strcmp(json_string_value(t), type);
	json_array_foreach(t, i, x) if (json_is_string(x) && !strcmp(json_string_value(x), type)) return true;
	return false;
}

/* What the schema allows beyond the values: string properties absent (or not strings)
 * in the values, a new key of every free-form mapping, and strings under it. */
static void walk_schema(struct spots *s, json_t *schema, json_t *v, struct tm_buf *p, int depth)
{
	json_t *props = json_object_get(schema, "properties"), *addl = json_object_get(schema, "additionalProperties"), *c;
	size_t keep = p->len;
	const char *k;

	if (depth > 6)
		return;
	if (takes(schema, "string") && !json_is_string(v) && depth > 0)
		add_spot(s, tm_buf_cstr(p), false, NULL);
	json_object_foreach(json_is_object(props) ? props : NULL, k, c) {
		push(p, k);
		walk_schema(s, c, json_object_get(v, k), p, depth + 1);
		pop(p, keep);
	}
	if (!json_is_object(addl) || (!takes(addl, "string") && !takes(addl, "object")))
		return;
	json_t *val = takes(addl, "string") ? json_string(BENIGN) : json_object();
	add_spot(s, tm_buf_cstr(p), true, val);
	json_decref(val);
	push(p, "injected");
	walk_schema(s, addl, NULL, p, depth + 1);
	pop(p, keep);
	json_object_foreach(json_is_object(v) ? v : NULL, k, c) {
		if (json_object_get(props, k) || !json_is_object(c))
			continue;
		push(p, k);
		walk_schema(s, addl, c, p, depth + 1);
		pop(p, keep);
	}
}

/* Puts leaf at sp's place (or, for a key spot, leaf as a new key there) into over, the
 * values file being built: lists replace as a whole, so a list on the way is copied
 * from the effective values once and changed in the copy. */
static void apply_spot(json_t *over, json_t *values, const struct spot *sp, const char *leaf)
{
	json_t *cur_o = over, *cur_v = values, *lv = json_string(leaf);
	char *path = strdup(sp->ptr), *save = NULL, *tok, *next;
	bool inside_copy = false;

	cr_assert_not_null(lv);
	for (tok = strtok_r(path + 1, "/", &save); tok; tok = next) {
		char name[512];
		size_t n = 0;
		json_t *child_o;

		next = strtok_r(NULL, "/", &save);
		for (char *q = tok; *q && n + 1 < sizeof(name); q++)
			name[n++] = (q[0] == '~' && q[1]) ? (*++q == '0' ? '~' : '/') : *q;
		name[n] = '\0';
		if (!next && !sp->key) {
			if (json_is_array(cur_o))
				cr_assert_eq(json_array_set(cur_o, strtoul(name, NULL, 10), lv), 0);
			else
				cr_assert_eq(json_object_set(cur_o, name, lv), 0);
			break;
		}
		if (json_is_array(cur_o)) {
			child_o = json_array_get(cur_o, strtoul(name, NULL, 10));
		} else if ((child_o = json_object_get(cur_o, name))) {
			inside_copy |= json_is_array(child_o);
		} else {
			json_t *cv = inside_copy ? NULL : json_object_get(cur_v, name);
			child_o = json_is_array(cv) ? json_deep_copy(cv) : json_object();
			inside_copy |= json_is_array(cv);
			cr_assert_eq(json_object_set_new(cur_o, name, child_o), 0);
		}
		cur_v = inside_copy ? NULL : json_object_get(cur_v, name);
		cur_o = child_o;
	}
	if (sp->key)
		cr_assert_eq(json_object_set(cur_o, leaf, sp->keyval), 0);
	free(path);
	json_decref(lv);
}

/* The values file that puts leaf at the spots listed in which[0..n). */
static char *override_text(json_t *values, const struct spots *s, const size_t *which, size_t n, const char *leaf)
{
	struct tm_buf b = TM_BUF_INIT("values", 1 << 22);
	json_t *over = json_object();

	for (size_t i = 0; i < n; i++)
		apply_spot(over, values, &s->v[which[i]], leaf);
	cr_assert_eq(tm_doc_emit_yaml(&b, over, 0, NULL), 0);
	cr_assert_eq(tm_buf_puts(&b, "\n", NULL), 0);
	json_decref(over);
	return tm_buf_detach(&b);
}

/* ------------------------------------------------------------------ rendering and shapes */

/* "kind namespace name" and every key path of every object, names and keys JSON-escaped
 * so that a benign token in them can be replaced by the payload's escaped form. */
static void shape_of(struct tm_buf *b, json_t *v, struct tm_buf *p)
{
	size_t keep = p->len, i;
	const char *k;
	json_t *c;

	json_object_foreach(json_is_object(v) ? v : NULL, k, c) {
		json_t *ks = json_string(k);
		char *e = json_dumps(ks, JSON_ENCODE_ANY);
		json_decref(ks);
		cr_assert_eq(tm_buf_printf(p, NULL, "/%s", e), 0);
		cr_assert_eq(tm_buf_printf(b, NULL, "  %s\n", tm_buf_cstr(p)), 0);
		shape_of(b, c, p);
		free(e);
		pop(p, keep);
	}
	json_array_foreach(json_is_array(v) ? v : NULL, i, c) {
		cr_assert_eq(tm_buf_printf(p, NULL, "/%zu", i), 0);
		cr_assert_eq(tm_buf_printf(b, NULL, "  %s\n", tm_buf_cstr(p)), 0);
		shape_of(b, c, p);
		pop(p, keep);
	}
}

static int cmp_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The key paths of one object as a set: sorted, so that a key that sorts elsewhere
 * (the payload instead of the benign text) is the same set. */
static void sorted_paths(struct tm_buf *b, json_t *o)
{
	struct tm_buf raw = TM_BUF_INIT("paths", 64u << 20), p = TM_BUF_INIT("path", 1 << 20);
	char **lines = NULL, *save = NULL;
	size_t n = 0, cap = 0;

	cr_assert_eq(tm_buf_puts(&p, "", NULL), 0);
	cr_assert_eq(tm_buf_puts(&raw, "", NULL), 0);
	shape_of(&raw, o, &p);
	for (char *l = raw.data ? strtok_r(raw.data, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
		if (n == cap)
			lines = realloc(lines, (cap = cap ? cap * 2 : 256) * sizeof(*lines));
		lines[n++] = l;
	}
	qsort(lines, n, sizeof(*lines), cmp_lines);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(tm_buf_printf(b, NULL, "%s\n", lines[i]), 0);
	free(lines);
	tm_buf_release(&raw);
	tm_buf_release(&p);
}

static char *shape(json_t *objects)
{
	struct tm_buf b = TM_BUF_INIT("shape", 64u << 20);
	size_t i;
	json_t *o;

	json_array_foreach(objects, i, o) {
		json_t *meta = json_object_get(o, "metadata"), *id3;
		id3 = json_pack("[O,O,O]", json_object_get(o, "kind"),
				json_object_get(meta, "namespace") ? json_object_get(meta, "namespace") : json_null(),
				json_object_get(meta, "name"));
		char *id = json_dumps(id3, 0);
		cr_assert_eq(tm_buf_printf(&b, NULL, "%s\n", id), 0);
		free(id);
		json_decref(id3);
		sorted_paths(&b, o);
	}
	return b.data ? tm_buf_detach(&b) : strdup("");
}

/* The render with the files given; the objects' shape, or NULL with err set. */
static char *render_shape(const char *env, const struct tm_values_file *files, size_t nfiles, struct tm_err *err)
{
	struct tm_render_opts o = { .env = env, .release = "airflow", .namespace = "airflow", .kube_version = "1.30",
				    .files = files, .nfiles = nfiles, .api_versions = APIS, .napi_versions = 2 };
	struct tm_rendered r = { 0 };
	char *s = NULL;

	tm_err_init(err);
	if (tm_render(&r, &o, err) == 0)
		s = shape(r.objects);
	tm_rendered_release(&r);
	return s;
}

/* Sorts the path lines ("  /...") of each object's block in s, in place. */
static void resort(char *s)
{
	char **lines = NULL, *save = NULL;
	size_t n = 0, cap = 0;
	struct tm_buf out = TM_BUF_INIT("shape", 64u << 20);

	for (char *l = strtok_r(s, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (n == cap)
			lines = realloc(lines, (cap = cap ? cap * 2 : 1024) * sizeof(*lines));
		lines[n++] = l;
	}
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && lines[j][0] == ' '; j++)
			;
		qsort(lines + i + 1, j - i - 1, sizeof(*lines), cmp_lines);
		for (size_t k = i; k < j; k++)
			cr_assert_eq(tm_buf_printf(&out, NULL, "%s\n", lines[k]), 0);
	}
	if (out.len)
		memcpy(s, out.data, out.len + 1);
	tm_buf_release(&out);
	free(lines);
}

/* s with every "benign" replaced by the payload as JSON escapes it (inner text). */
static char *expect_from(const char *s, const char *payload)
{
	json_t *ps = json_string(payload);
	char *e = json_dumps(ps, JSON_ENCODE_ANY);
	struct tm_buf b = TM_BUF_INIT("shape", 64u << 20);
	size_t el = strlen(e) - 2;

	for (const char *q = s, *hit; *q; q = hit + strlen(BENIGN)) {
		if (!(hit = strstr(q, BENIGN))) {
			cr_assert_eq(tm_buf_puts(&b, q, NULL), 0);
			break;
		}
		cr_assert_eq(tm_buf_append(&b, q, (size_t)(hit - q), NULL), 0);
		cr_assert_eq(tm_buf_append(&b, e + 1, el, NULL), 0);
	}
	free(e);
	json_decref(ps);
	char *r = b.data ? tm_buf_detach(&b) : strdup("");
	resort(r);
	return r;
}

struct counts {
	size_t spots, renders, same, refused, broken;
};

/* A refusal is clear when it names where: a file, a template or a flag, with a position;
 * never the YAML parser stumbling over the rendered text. */
static bool clear_error(const char *msg)
{
	return strlen(msg) > 20 && (strstr(msg, ".yaml:") || strstr(msg, "--set")) && !strstr(msg, "(rendered)");
}

/* A group's benign render, made once: it is the same for every payload (render is
 * deterministic), so the payloads after the first only render with themselves. */
struct memo {
	const size_t *which;
	size_t n;
	char *shape; /* NULL: the benign text did not render */
};

struct run {
	const char *env;
	bool features;
	json_t *values;
	const struct spots *s;
	struct counts c;
	struct memo *memo;
	size_t nmemo;
};

static char *render_with(struct run *rn, const size_t *which, size_t n, const char *leaf, struct tm_err *err)
{
	struct tm_values_file files[2] = { { "features.yaml", FEATURES, sizeof(FEATURES) - 1 } };
	size_t fi = rn->features ? 1 : 0;
	char *text = override_text(rn->values, rn->s, which, n, leaf), *got;

	files[fi] = (struct tm_values_file){ "injected.yaml", text, strlen(text) };
	got = render_shape(rn->env, files, fi + 1, err);
	rn->c.renders++;
	free(text);
	return got;
}

static char *benign_shape(struct run *rn, const size_t *which, size_t n)
{
	struct tm_err err;
	char *got;

	for (size_t i = 0; i < rn->nmemo; i++)
		if (rn->memo[i].which == which && rn->memo[i].n == n)
			return rn->memo[i].shape ? strdup(rn->memo[i].shape) : NULL;
	got = render_with(rn, which, n, BENIGN, &err);
	rn->memo = realloc(rn->memo, (rn->nmemo + 1) * sizeof(*rn->memo));
	cr_assert_not_null(rn->memo);
	rn->memo[rn->nmemo++] = (struct memo){ which, n, got ? strdup(got) : NULL };
	return got;
}

/* Payload p at all the spots which[0..n) at once; where that fails or differs, each half
 * again, down to single spots: a single spot must render the benign shape with the
 * payload in place of the benign text, or be refused clearly. */
static void check_group(struct run *rn, const size_t *which, size_t n, const char *p)
{
	struct tm_err err;
	char *base, *got, *want = NULL;
	bool ok;

	if (n == 0)
		return;
	base = benign_shape(rn, which, n);
	got = render_with(rn, which, n, p, &err);
	ok = base && got && !strcmp((want = expect_from(base, p)), got);
	if (!ok && n == 1) {
		const struct spot *sp = &rn->s->v[which[0]];
		if (got) {
			cr_log_error("%s %s%s (every part on: %d): payload '%s' changed the objects or keys", rn->env, sp->ptr,
				     sp->key ? " (as a key)" : "", rn->features, p);
			rn->c.broken++;
		} else {
			cr_assert(clear_error(tm_err_msg(&err)), "%s %s%s: unclear refusal: %s", rn->env, sp->ptr,
				  sp->key ? " (as a key)" : "", tm_err_msg(&err));
			rn->c.refused++;
		}
	} else if (!ok) {
		check_group(rn, which, n / 2, p);
		check_group(rn, which + n / 2, n - n / 2, p);
	} else {
		rn->c.same += n;
	}
	free(base);
	free(got);
	free(want);
}

/* Splits which[0..n) into the spots that take the benign text (acc) and those whose
 * schema refuses it (ref: an enum, a pattern), halving where a render fails. */
static void partition(struct run *rn, const size_t *which, size_t n, size_t *acc, size_t *nacc, size_t *ref,
		      size_t *nref)
{
	struct tm_err err;
	char *got;

	if (n == 0)
		return;
	if ((got = render_with(rn, which, n, BENIGN, &err))) {
		memcpy(acc + *nacc, which, n * sizeof(*which));
		*nacc += n;
	} else if (n == 1) {
		ref[(*nref)++] = which[0];
	} else {
		partition(rn, which, n / 2, acc, nacc, ref, nref);
		partition(rn, which + n / 2, n - n / 2, acc, nacc, ref, nref);
	}
	free(got);
}

/* A spot that refuses the benign text must refuse the payload too, clearly. */
static void check_refusing(struct run *rn, size_t spot, const char *p)
{
	const struct spot *sp = &rn->s->v[spot];
	struct tm_err err;
	char *got = render_with(rn, &spot, 1, p, &err);

	if (got) {
		cr_log_error("%s %s: payload '%s' renders where the benign text is refused", rn->env, sp->ptr, p);
		rn->c.broken++;
	} else {
		cr_assert(clear_error(tm_err_msg(&err)), "%s %s: unclear refusal: %s", rn->env, sp->ptr, tm_err_msg(&err));
		rn->c.refused++;
	}
	free(got);
}

/* The payloads of one parity (half the list, so that each test stays short). */
static void property(const char *env, bool features, size_t parity)
{
	struct tm_render_opts o = { .env = env, .release = "airflow", .namespace = "airflow" };
	struct tm_values_file ff = { "features.yaml", FEATURES, sizeof(FEATURES) - 1 };
	const struct tm_embedded_file *sf = tm_embedded_find("values.schema.yaml");
	struct tm_buf p = TM_BUF_INIT("path", 1 << 20);
	struct spots s = { 0 };
	struct tm_values v;
	struct tm_err err;
	json_t *schema = NULL;
	size_t *all;

	if (features)
		o.files = &ff, o.nfiles = 1;
	tm_err_init(&err);
	cr_assert_eq(tm_render_values(&v, &o, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_doc_parse_yaml_readonly(&schema, (const char *)sf->data, sf->len, "schema", &err), 0);
	cr_assert_eq(tm_buf_puts(&p, "", NULL), 0);
	walk_values(&s, v.tree, &p);
	walk_schema(&s, schema, v.tree, &p, 0);
	struct run rn = { .env = env, .features = features, .values = v.tree, .s = &s, .c = { .spots = s.n } };
	size_t *acc = calloc(s.n, sizeof(*acc)), *ref = calloc(s.n, sizeof(*ref)), nacc = 0, nref = 0;
	all = calloc(s.n, sizeof(*all));
	for (size_t i = 0; i < s.n; i++)
		all[i] = i;
	partition(&rn, all, s.n, acc, &nacc, ref, &nref);
	for (size_t i = parity; i < TM_ARRAY_LEN(PAYLOADS); i += 2) {
		check_group(&rn, acc, nacc, PAYLOADS[i]);
		for (size_t j = 0; j < nref; j++)
			check_refusing(&rn, ref[j], PAYLOADS[i]);
	}
	for (size_t i = 0; i < rn.nmemo; i++)
		free(rn.memo[i].shape);
	free(rn.memo);
	free(acc);
	free(ref);
	size_t npay = (TM_ARRAY_LEN(PAYLOADS) + 1 - parity) / 2;
	fprintf(stderr, "injection %s%s: %zu places x %zu payloads in %zu renders: %zu kept the objects and keys, "
		"%zu refused clearly, %zu changed them\n", env, features ? " (every part on)" : "", rn.c.spots, npay,
		rn.c.renders, rn.c.same, rn.c.refused, rn.c.broken);
	cr_assert_eq(rn.c.broken, 0, "%zu places let a payload change the objects or keys", rn.c.broken);
	cr_assert_gt(rn.c.spots, 150, "the walk found too few places (%zu)", rn.c.spots);
	cr_assert_eq(rn.c.same + rn.c.refused, rn.c.spots * npay);
	cr_assert_gt(rn.c.same, rn.c.refused, "most payloads should render (escaped), not be refused");
	for (size_t i = 0; i < s.n; i++) {
		free(s.v[i].ptr);
		json_decref(s.v[i].keyval);
	}
	free(all);
	free(s.v);
	json_decref(schema);
	tm_values_release(&v);
	tm_buf_release(&p);
}

Test(render_injection, every_string_leaf_dev_even)
{
	property("dev", false, 0);
}

Test(render_injection, every_string_leaf_dev_odd)
{
	property("dev", false, 1);
}

Test(render_injection, every_string_leaf_dev_every_part_on_even)
{
	property("dev", true, 0);
}

Test(render_injection, every_string_leaf_dev_every_part_on_odd)
{
	property("dev", true, 1);
}

Test(render_injection, every_string_leaf_staging_every_part_on_even)
{
	property("staging", true, 0);
}

Test(render_injection, every_string_leaf_staging_every_part_on_odd)
{
	property("staging", true, 1);
}

Test(render_injection, every_string_leaf_prod_even)
{
	property("prod", false, 0);
}

Test(render_injection, every_string_leaf_prod_odd)
{
	property("prod", false, 1);
}

Test(render_injection, every_string_leaf_prod_every_part_on_even)
{
	property("prod", true, 0);
}

Test(render_injection, every_string_leaf_prod_every_part_on_odd)
{
	property("prod", true, 1);
}

/* The end-to-end case: a values file that made 'tarmac up' create a
 * ClusterRoleBinding to cluster-admin. */
Test(render_injection, cluster_admin_binding_from_a_values_file)
{
	static const char *const at[] = {
		"images: {airflow: {tag: %s}}", "images: {airflow: {repository: %s}}", "defaultAirflowTag: %s",
		"config: {core: {parallelism: %s}}", "config: {logging: {%s: x}}", "scheduler: {serviceAccount: {name: %s}}",
		"workers: {serviceAccount: {name: %s}}", "data: {metadataConnection: {user: %s}}",
		"logs: {remote: {enabled: true, provider: s3, baseLogFolder: %s}}",
	};
	static const char PAYLOAD[] = "\"1\\n---\\napiVersion: rbac.authorization.k8s.io/v1\\nkind: ClusterRoleBinding\\n"
				      "metadata: {name: pwned}\\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: "
				      "ClusterRole, name: cluster-admin}\\nsubjects: [{kind: Group, name: "
				      "'system:authenticated'}]\\n\"";
	size_t rendered = 0;

	for (size_t i = 0; i < TM_ARRAY_LEN(at); i++) {
		struct tm_values_file file;
		struct tm_rendered r = { 0 };
		struct tm_err err;
		struct tm_render_opts o = { .env = "dev", .release = "airflow", .namespace = "airflow", .files = &file,
					    .nfiles = 1 };
		char *text = NULL;
		size_t j;
		json_t *obj;

		cr_assert(asprintf(&text, "pgbouncer: {enabled: true}\n%s\n", at[i]) > 0);
		char *full = NULL;
		cr_assert(asprintf(&full, text, PAYLOAD) > 0);
		file = (struct tm_values_file){ "evil.yaml", full, strlen(full) };
		tm_err_init(&err);
		if (tm_render(&r, &o, &err) < 0) {
			cr_assert(clear_error(tm_err_msg(&err)), "%s: %s", at[i], tm_err_msg(&err));
		} else {
			rendered++;
			json_array_foreach(r.objects, j, obj) {
				cr_assert_str_neq(json_string_value(json_object_get(obj, "kind")), "ClusterRoleBinding",
						  "%s: a value made a ClusterRoleBinding", at[i]);
				cr_assert_str_neq(json_string_value(tm_doc_get(obj, "metadata", "name", NULL)), "pwned");
			}
		}
		tm_rendered_release(&r);
		free(text);
		free(full);
	}
	cr_assert_gt(rendered, 0, "every case was refused: the escaping is not exercised");
}
