/* libFuzzer target: release records as read back from the cluster (untrusted: anyone
 * with Secret write access can change them). The input is tried as gzip data, and
 * gzip'd by us, so both the inflater's and the record checks' paths are reached. */
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "release/release_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char gz[1u << 18];
	json_t *rec = NULL;
	struct tm_err err;
	z_stream z;

	tm_err_init(&err);
	if (tm_record_decode(&rec, data, size, &err) == 0)
		json_decref(rec);
	rec = NULL;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 1, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return 0;
	z.next_in = (unsigned char *)(uintptr_t)data;
	z.avail_in = (uInt)size;
	z.next_out = gz;
	z.avail_out = sizeof(gz);
	if (deflate(&z, Z_FINISH) == Z_STREAM_END && tm_record_decode(&rec, gz, z.total_out, &err) == 0) {
		/* a record that passed the checks must hold up to what readers do with it */
		json_t *objs = json_object_get(rec, "objects"), *o;
		size_t i;

		json_array_foreach(objs, i, o)
			(void)tm_apply_phase_of(o);
		json_decref(rec);
	}
	deflateEnd(&z);
	return 0;
}
