/* The stack module's own decisions: where a release lives (every default and the
 * namespace rule), the secrets directory, objects given as they are, and a render
 * without a cluster. */
#include "../testutil.h"
#include "tarmac/stack.h"

Test(stack, the_namespace_rule)
{
	cr_assert_str_eq(tm_stack_namespace("ns", "ctx"), "ns", "the flag wins");
	cr_assert_str_eq(tm_stack_namespace(NULL, "ctx"), "ctx", "then the context's");
	cr_assert_str_eq(tm_stack_namespace(NULL, "default"), TM_DEFAULT_NAMESPACE, "a context left at default is no choice");
	cr_assert_str_eq(tm_stack_namespace(NULL, NULL), TM_DEFAULT_NAMESPACE);
	cr_assert_str_eq(tm_stack_namespace("default", NULL), "default", "asked for by name, default is a choice");
	/* objects given as they are: kubectl's rule */
	cr_assert_str_eq(tm_stack_manifest_namespace(NULL, "default"), "default");
	cr_assert_str_eq(tm_stack_manifest_namespace(NULL, NULL), "default");
	cr_assert_str_eq(tm_stack_manifest_namespace(NULL, "ctx"), "ctx");
	cr_assert_str_eq(tm_stack_manifest_namespace("ns", "ctx"), "ns");
}

Test(stack, release_env_and_secrets_dir_defaults)
{
	char dir[64];
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_str_eq(tm_stack_release(NULL), TM_DEFAULT_RELEASE);
	cr_assert_str_eq(tm_stack_release("r"), "r");
	cr_assert_str_eq(tm_stack_env(NULL), TM_DEFAULT_ENV);
	cr_assert_str_eq(tm_stack_env("prod"), "prod");
	cr_assert_eq(tm_stack_secrets_dir(dir, sizeof(dir), NULL, "prod", &err), 0);
	cr_assert_str_eq(dir, "secrets/prod");
	cr_assert_eq(tm_stack_secrets_dir(dir, sizeof(dir), "/x/y", "prod", &err), 0);
	cr_assert_str_eq(dir, "/x/y", "a directory given is taken as it is, without the environment");
	cr_assert_eq(tm_stack_secrets_dir(dir, sizeof(dir), "", "prod", &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "an empty path"), "%s", tm_err_msg(&err));
	cr_assert_eq(tm_stack_secrets_dir(dir, 8, NULL, "production", &err), TM_EINVALID, "too long is refused, not cut");
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

Test(stack, manifests_of_a_directory_in_name_order_with_lists_unpacked)
{
	char *dir = tu_mkdtemp();
	struct tm_err err;
	json_t *objs = NULL;

	tm_err_init(&err);
	write_file(dir, "b.yaml", "kind: ConfigMap\nmetadata: {name: b}\n---\n---\nkind: ConfigMap\nmetadata: {name: c}\n");
	write_file(dir, "a.json", "{\"kind\": \"List\", \"items\": [{\"kind\": \"Secret\", \"metadata\": {\"name\": \"a1\"}},"
				  " {\"kind\": \"Secret\", \"metadata\": {\"name\": \"a2\"}}]}");
	write_file(dir, "notes.txt", "not: [a manifest");
	write_file(dir, ".hidden.yaml", "not: [a manifest");
	cr_assert_eq(tm_stack_load_manifests(dir, &objs, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(json_array_size(objs), 4, "a List named List is unpacked too");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(objs, 0), "metadata"), "name")), "a1");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(objs, 1), "metadata"), "name")), "a2");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(objs, 3), "metadata"), "name")), "c");
	json_decref(objs);
	tu_rmdir(dir);
}

Test(stack, manifests_that_are_not_objects_are_refused_by_file_and_document)
{
	char *dir = tu_mkdtemp(), path[4096];
	struct tm_err err;
	json_t *objs = NULL;

	tm_err_init(&err);
	write_file(dir, "x.yaml", "kind: ConfigMap\n---\n- a list\n");
	snprintf(path, sizeof(path), "%s/x.yaml", dir);
	cr_assert_eq(tm_stack_load_manifests(path, &objs, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "x.yaml: document 2: expected a Kubernetes object"), "%s", tm_err_msg(&err));
	cr_assert_null(objs);
	remove(path);
	cr_assert_eq(tm_stack_load_manifests(dir, &objs, &err), TM_EINVALID, "an empty directory");
	cr_assert(strstr(tm_err_msg(&err), "no .yaml, .yml or .json files"), "%s", tm_err_msg(&err));
	tu_rmdir(dir);
}

Test(stack, render_without_a_cluster_takes_the_namespace_given)
{
	struct tm_stack_ctx ctx = { 0 };
	struct tm_render_opts ro = { .env = TM_DEFAULT_ENV, .release = "r", .kube_version = TM_DEFAULT_KUBE_VERSION };
	struct tm_err err;
	json_t *objs = NULL, *values = NULL, *o;
	size_t i, namespaced = 0;

	tm_err_init(&err);
	cr_assert_eq(tm_stack_render(&ctx, &ro, "elsewhere", &objs, &values, &err), 0, "%s", tm_err_msg(&err));
	cr_assert(json_is_object(values));
	json_array_foreach(objs, i, o) {
		const char *ns = json_string_value(json_object_get(json_object_get(o, "metadata"), "namespace"));

		if (ns) {
			cr_assert_str_eq(ns, "elsewhere");
			namespaced++;
		}
	}
	cr_assert_gt(namespaced, 10);
	json_decref(objs);
	json_decref(values);
}
