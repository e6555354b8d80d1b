/* Values against the schema: each problem says where the bad value was set. */
#include "../testutil.h"
#include "tarmac/doc.h"
#include "render/render_private.h"

static const char *SCHEMA =
	"type: object\n"
	"additionalProperties: false\n"
	"required: [executor]\n"
	"properties:\n"
	"  executor: {type: string, enum: [KubernetesExecutor, CeleryExecutor], description: the executor}\n"
	"  scheduler:\n"
	"    type: object\n"
	"    additionalProperties: false\n"
	"    properties:\n"
	"      replicas: {type: integer, minimum: 1, maximum: 10}\n"
	"      env: {type: array, items: {type: object, required: [name], properties: {name: {type: string, minLength: 1}}}}\n"
	"  labels: {type: object, additionalProperties: {type: string}}\n"
	"  extra: {type: object}\n"
	"  ratio: {type: [number, \"null\"]}\n"
	"  secretName: {type: [string, \"null\"], format: k8s-name}\n"
	"  ns: {type: string, format: dns-label}\n"
	"  maps: {type: object, propertyNames: {format: k8s-name}, additionalProperties: {type: object}}\n";

static json_t *schema(void)
{
	json_t *s = NULL;
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_doc_parse_yaml(&s, SCHEMA, strlen(SCHEMA), "schema", &err), 0, "%s", tm_err_msg(&err));
	return s;
}

static int validate(const char *values, bool allow, json_t **ignored, struct tm_err *err)
{
	struct tm_values v;
	json_t *s = schema();
	int rc;

	tm_values_init(&v);
	tm_err_init(err);
	cr_assert_eq(tm_values_merge_yaml(&v, values, strlen(values), "my.yaml", err), 0, "%s", tm_err_msg(err));
	rc = tm_values_validate(&v, s, allow, ignored, err);
	tm_values_release(&v);
	json_decref(s);
	return rc;
}

Test(render_schema, good_values_pass)
{
	struct tm_err err;
	json_t *ignored = NULL;

	cr_assert_eq(validate("executor: CeleryExecutor\nscheduler: {replicas: 2, env: [{name: A}]}\n"
			      "labels: {team: data}\nextra: {anything: [1, {x: y}]}\nratio: null\n",
			      false, &ignored, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(json_array_size(ignored), 0);
	json_decref(ignored);
}

Test(render_schema, each_problem_names_file_line_and_key)
{
	struct tm_err err;

	cr_assert_eq(validate("executor: LocalExecutor\n", false, NULL, &err), TM_EINVALID);
	cr_assert_str_eq(tm_err_msg(&err), "my.yaml:1:11: executor: expected one of "
					   "[\"KubernetesExecutor\",\"CeleryExecutor\"], got \"LocalExecutor\"");
	cr_assert_eq(validate("executor: CeleryExecutor\nscheduler:\n  replicas: two\n", false, NULL, &err), TM_EINVALID);
	cr_assert_str_eq(tm_err_msg(&err), "my.yaml:3:13: scheduler.replicas: expected integer, got string");
	cr_assert_eq(validate("executor: CeleryExecutor\nscheduler: {replicas: 11}\n", false, NULL, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "expected a number from 1 to 10, got 11") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(validate("executor: CeleryExecutor\nlabels: {team: 7}\n", false, NULL, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "labels.team: expected string, got integer") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(validate("executor: CeleryExecutor\nscheduler: {env: [{value: x}]}\n", false, NULL, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "scheduler.env.0: the key 'name' is required") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(validate("scheduler: {}\n", false, NULL, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "the key 'executor' is required") != NULL, "%s", tm_err_msg(&err));
}

Test(render_schema, unknown_keys_suggest_the_nearest)
{
	struct tm_err err;

	cr_assert_eq(validate("executor: CeleryExecutor\nscheduler:\n  replicsa: 2\n", false, NULL, &err), TM_EINVALID);
	cr_assert_str_eq(tm_err_msg(&err), "my.yaml:3:3: scheduler: unknown key 'replicsa' (did you mean 'replicas'?)");
	cr_assert_eq(validate("executor: CeleryExecutor\nzzz: {a: 1}\n", false, NULL, &err), TM_EINVALID);
	cr_assert_str_eq(tm_err_msg(&err), "my.yaml:2:1: (the values): unknown key 'zzz'");
}

/* An unknown key is named where the key is written, whatever its value: a mapping
 * (which has no position of its own), a scalar further right, a key nested deeper. */
Test(render_schema, unknown_keys_are_placed_at_the_key)
{
	struct tm_err err;

	cr_assert_eq(validate("schedular:\n  replicas: 2\nexecutor: CeleryExecutor\n", false, NULL, &err), TM_EINVALID);
	cr_assert_str_eq(tm_err_msg(&err), "my.yaml:1:1: (the values): unknown key 'schedular' (did you mean 'scheduler'?)");
	cr_assert_eq(validate("executor: CeleryExecutor\nscheduler:\n  env: []\n  replicsa:     2\n", false, NULL, &err),
		     TM_EINVALID);
	cr_assert_str_eq(tm_err_msg(&err), "my.yaml:4:3: scheduler: unknown key 'replicsa' (did you mean 'replicas'?)");
	/* a wrong value is still placed at the value */
	cr_assert_eq(validate("executor: CeleryExecutor\nscheduler:\n  replicas:   two\n", false, NULL, &err), TM_EINVALID);
	cr_assert_str_eq(tm_err_msg(&err), "my.yaml:3:15: scheduler.replicas: expected integer, got string");
}

/* A later file that sets the same unknown key is where it is named: the key's position
 * follows the value, as origins do. */
Test(render_schema, unknown_key_position_follows_the_last_file)
{
	struct tm_values v;
	struct tm_err err;
	json_t *s = schema();
	const char *a = "executor: CeleryExecutor\nbogus:\n  x: 1\n", *b = "\n\n  bogus: {y: 2}\n";

	tm_values_init(&v);
	tm_err_init(&err);
	cr_assert_eq(tm_values_merge_yaml(&v, a, strlen(a), "a.yaml", &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_values_merge_yaml(&v, b, strlen(b), "b.yaml", &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_values_validate(&v, s, false, NULL, &err), TM_EINVALID);
	cr_assert_str_eq(tm_err_msg(&err), "b.yaml:3:3: (the values): unknown key 'bogus'");
	/* deleted by a null: no position left behind */
	cr_assert_eq(tm_values_merge_yaml(&v, "bogus: null\n", 12, "c.yaml", &err), 0, "%s", tm_err_msg(&err));
	cr_assert_null(json_object_get(v.keys, "/bogus"));
	cr_assert_null(json_object_get(v.keys, "/bogus/x"));
	cr_assert_eq(tm_values_validate(&v, s, false, NULL, &err), 0, "%s", tm_err_msg(&err));
	tm_values_release(&v);
	json_decref(s);
}

Test(render_schema, several_problems_are_listed_together)
{
	struct tm_err err;

	cr_assert_eq(validate("executor: X\nscheduler: {replicas: 0, bogus: 1}\n", false, NULL, &err), TM_EINVALID);
	cr_assert(strncmp(tm_err_msg(&err), "3 problems in the values:\n  my.yaml:1:11: executor", 50) == 0, "%s",
		  tm_err_msg(&err));
}

Test(render_schema, allow_unknown_lists_what_was_ignored)
{
	struct tm_err err;
	json_t *ignored = NULL;

	cr_assert_eq(validate("executor: CeleryExecutor\nscheduler: {replicsa: 2}\nzzz: 1\n", true, &ignored, &err), 0,
		     "%s", tm_err_msg(&err));
	cr_assert_eq(json_array_size(ignored), 2);
	cr_assert_str_eq(json_string_value(json_array_get(ignored, 0)), "my.yaml:2:13: scheduler.replicsa");
	cr_assert_str_eq(json_string_value(json_array_get(ignored, 1)), "my.yaml:3:1: zzz");
	json_decref(ignored);
}

Test(render_schema, names_must_be_dns_names_before_they_reach_a_path)
{
	struct tm_err err;

	cr_assert_eq(validate("executor: CeleryExecutor\nsecretName: my-secret.v2\nns: team-a\nmaps: {extra.one: {}}\n",
			      false, NULL, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(validate("executor: CeleryExecutor\nsecretName: null\n", false, NULL, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(validate("executor: CeleryExecutor\nsecretName: ../../kube-system/secrets/x\n", false, NULL, &err),
		     TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "my.yaml:2:13: secretName: expected a Kubernetes object name (lowercase") != NULL,
		  "%s", tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), "got '../../kube-system/secrets/x'") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(validate("executor: CeleryExecutor\nsecretName: \"x\\n---\\nkind: Pod\"\n", false, NULL, &err),
		     TM_EINVALID);
	cr_assert_eq(validate("executor: CeleryExecutor\nsecretName: Upper\n", false, NULL, &err), TM_EINVALID);
	cr_assert_eq(validate("executor: CeleryExecutor\nns: a.b\n", false, NULL, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "ns: expected a DNS label") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(validate("executor: CeleryExecutor\nmaps: {../x: {}}\n", false, NULL, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "the key must be a Kubernetes object name") != NULL, "%s", tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), "got '../x'") != NULL, "%s", tm_err_msg(&err));
}
