/* Lookup in the bundle the build embedded (tools/embed.c writes the table). */
#include <stdlib.h>
#include <string.h>

#include "render_private.h"

static int by_path(const void *key, const void *elem)
{
	return strcmp(key, ((const struct tm_embedded_file *)elem)->path);
}

const struct tm_embedded_file *tm_embedded_find(const char *path)
{
	return bsearch(path, tm_embedded_files, tm_embedded_nfiles, sizeof(tm_embedded_files[0]), by_path);
}
