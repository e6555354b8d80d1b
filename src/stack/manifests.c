/* Objects given as they are (--manifests): a file, standard input or a directory of
 * them, each a YAML stream of Kubernetes objects. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tarmac/doc.h"
#include "tarmac/stack.h"

/* all the files of one --manifests together */
#define MANIFEST_MAX (64u << 20)

/* Appends the objects of one YAML stream; a List's items count as objects. */
static int add_stream(json_t *all, const struct tm_buf *text, const char *name, struct tm_err *err)
{
	json_t *docs = NULL, *d;
	size_t i;
	int rc;

	if ((rc = tm_doc_parse_yaml_stream(&docs, text->data ? text->data : "", text->len, name, err)) < 0)
		return rc;
	json_array_foreach(docs, i, d) {
		const char *kind = json_string_value(json_object_get(d, "kind"));
		json_t *items = json_object_get(d, "items");

		if (json_is_null(d))
			continue;
		if (!json_is_object(d)) {
			rc = tm_err_set(err, TM_EINVALID, "%s: document %zu: expected a Kubernetes object (a mapping)", name, i + 1);
			break;
		}
		if (kind && strlen(kind) >= 4 && strcmp(kind + strlen(kind) - 4, "List") == 0 && json_is_array(items)) {
			json_array_extend(all, items);
			continue;
		}
		json_array_append(all, d);
	}
	json_decref(docs);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool manifest_name(const char *n)
{
	size_t l = strlen(n);

	return n[0] != '.' && ((l > 5 && (strcmp(n + l - 5, ".yaml") == 0 || strcmp(n + l - 5, ".json") == 0)) ||
			       (l > 4 && strcmp(n + l - 4, ".yml") == 0));
}

int tm_stack_load_manifests(const char *path, json_t **out, struct tm_err *err)
{
	json_t *all = json_array();
	struct tm_buf text = TM_BUF_INIT("manifests", MANIFEST_MAX);
	struct stat st;
	char **names = NULL;
	size_t n = 0;
	int rc = 0;

	if (!all)
		return tm_err_set(err, TM_ERROR, "out of memory");
	if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *e;

		if (!d) {
			rc = tm_err_errno(err, errno, "open directory '%s'", path);
			goto out;
		}
		while ((e = readdir(d))) {
			char **grown;

			if (!manifest_name(e->d_name))
				continue;
			if (!(grown = realloc(names, (n + 1) * sizeof(*names))) || !(grown[n] = strdup(e->d_name))) {
				names = grown ? grown : names;
				closedir(d);
				rc = tm_err_set(err, TM_ERROR, "out of memory");
				goto out;
			}
			names = grown;
			n++;
		}
		closedir(d);
		if (n)
			qsort(names, n, sizeof(*names), by_name);
		for (size_t i = 0; i < n; i++) {
			char full[4096];

			snprintf(full, sizeof(full), "%s/%s", path, names[i]);
			if ((rc = tm_file_read(&text, full, MANIFEST_MAX, err)) < 0 ||
			    (rc = add_stream(all, &text, full, err)) < 0)
				goto out;
		}
		if (!n) {
			rc = tm_err_set(err, TM_EINVALID, "--manifests '%s': no .yaml, .yml or .json files in it", path);
			goto out;
		}
	} else if ((rc = tm_file_read(&text, path, MANIFEST_MAX, err)) < 0 ||
		   (rc = add_stream(all, &text, strcmp(path, "-") ? path : "<stdin>", err)) < 0) {
		goto out;
	}
	*out = all;
	all = NULL;
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	tm_buf_release(&text);
	json_decref(all);
	return rc;
}

