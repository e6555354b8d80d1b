/* Atomic writes: the new content appears whole or not at all; a failure in the
 * middle leaves the old file intact and no temporary file behind. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "../testutil.h"
#include "tarmac/util.h"

static char *path_in(const char *dir, const char *name)
{
	char *p = NULL;
	cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static char *slurp(const char *path)
{
	struct tm_buf b = TM_BUF_INIT("test file", 1 << 20);
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_file_read(&b, path, 1 << 20, &err), 0, "%s", tm_err_msg(&err));
	return tm_buf_detach(&b);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

Test(util_file, creates_with_exact_mode_and_replaces)
{
	char *dir = tu_mkdtemp(), *p = path_in(dir, "key"), *got;
	struct tm_err err;
	struct stat st;
	mode_t old = umask(077);

	tm_err_init(&err);
	cr_assert_eq(tm_file_write_atomic(p, "first", 5, 0640, &err), 0, "%s", tm_err_msg(&err));
	umask(old);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0640);
	got = slurp(p);
	cr_assert_str_eq(got, "first");
	free(got);
	cr_assert_eq(tm_file_write_atomic(p, "second, longer", 14, 0600, &err), 0);
	got = slurp(p);
	cr_assert_str_eq(got, "second, longer");
	free(got);
	cr_assert_eq(count_entries(dir), 1, "no temporary file may remain");
	free(p);
	tu_rmdir(dir);
}

struct half_writer {
	int chunks_before_failure;
};

/* Writes real bytes, then fails the way a full disk would. */
static int fail_midway(int fd, void *ctx, struct tm_err *err)
{
	struct half_writer *h = ctx;
	char chunk[4096];

	memset(chunk, 'N', sizeof(chunk));
	for (int i = 0; i < h->chunks_before_failure; i++)
		if (tm_fd_write_all(fd, chunk, sizeof(chunk), "test", err) < 0)
			return -1;
	return tm_err_set(err, TM_ELIMIT, "disk full after %d chunks", h->chunks_before_failure);
}

Test(util_file, failure_midway_keeps_the_old_file)
{
	char *dir = tu_mkdtemp(), *p = path_in(dir, "sealed"), *got;
	struct half_writer h = { 8 };
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_file_write_atomic(p, "OLD CONTENT", 11, 0600, &err), 0);
	cr_assert_eq(tm_file_write_atomic_with(p, 0600, fail_midway, &h, &err), TM_ELIMIT);
	cr_assert(strstr(tm_err_msg(&err), "disk full after 8 chunks") != NULL);
	cr_assert(strstr(tm_err_msg(&err), "write '") == tm_err_msg(&err), "context names the file");
	got = slurp(p);
	cr_assert_str_eq(got, "OLD CONTENT");
	free(got);
	cr_assert_eq(count_entries(dir), 1, "the temporary file was removed");
	free(p);
	tu_rmdir(dir);
}

/* A real kernel failure in the middle of write(2): the file size limit is hit
 * after some bytes went to disk (each Criterion test is its own process). */
Test(util_file, real_efbig_midway_keeps_the_old_file)
{
	char *dir = tu_mkdtemp(), *p = path_in(dir, "values"), *got, *big;
	struct rlimit rl = { 64 * 1024, 64 * 1024 };
	size_t n = 1 << 20;
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_file_write_atomic(p, "OLD", 3, 0644, &err), 0);
	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	big = malloc(n);
	memset(big, 'x', n);
	cr_assert_eq(tm_file_write_atomic(p, big, n, 0644, &err), TM_ELIMIT, "got %s", tm_err_msg(&err));
	cr_assert(strstr(tm_err_msg(&err), "File too large") != NULL, "%s", tm_err_msg(&err));
	got = slurp(p);
	cr_assert_str_eq(got, "OLD");
	free(got);
	free(big);
	cr_assert_eq(count_entries(dir), 1);
	free(p);
	tu_rmdir(dir);
}

Test(util_file, stale_temporary_of_a_dead_process_is_replaced)
{
	char *dir = tu_mkdtemp(), *p = path_in(dir, "f"), *tmp = NULL, *got;
	struct tm_err err;
	int fd;

	cr_assert(asprintf(&tmp, "%s.tmp.%ld", p, (long)getpid()) > 0);
	fd = open(tmp, O_CREAT | O_WRONLY, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	tm_err_init(&err);
	cr_assert_eq(tm_file_write_atomic(p, "ok", 2, 0600, &err), 0, "%s", tm_err_msg(&err));
	got = slurp(p);
	cr_assert_str_eq(got, "ok");
	free(got);
	cr_assert_eq(count_entries(dir), 1);
	free(tmp);
	free(p);
	tu_rmdir(dir);
}

Test(util_file, temporary_path_that_is_a_symlink_is_not_followed)
{
	char *dir = tu_mkdtemp(), *p = path_in(dir, "f"), *victim = path_in(dir, "victim");
	char *tmp = NULL, *got;
	struct tm_err err;

	cr_assert(asprintf(&tmp, "%s.tmp.%ld", p, (long)getpid()) > 0);
	tm_err_init(&err);
	cr_assert_eq(tm_file_write_atomic(victim, "untouched", 9, 0600, &err), 0);
	cr_assert_eq(symlink(victim, tmp), 0);
	/* the stale entry is unlinked (not followed) and the write goes ahead */
	cr_assert_eq(tm_file_write_atomic(p, "new", 3, 0600, &err), 0, "%s", tm_err_msg(&err));
	got = slurp(victim);
	cr_assert_str_eq(got, "untouched");
	free(got);
	free(tmp);
	free(victim);
	free(p);
	tu_rmdir(dir);
}

Test(util_file, missing_directory_is_not_found)
{
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_file_write_atomic("/nonexistent-dir-tarmac/x", "a", 1, 0600, &err), TM_ENOTFOUND);
	cr_assert(strstr(tm_err_msg(&err), "write '/nonexistent-dir-tarmac/x': create") != NULL, "%s",
		  tm_err_msg(&err));
}

Test(util_file, read_is_capped_and_reports_missing_files)
{
	char *dir = tu_mkdtemp(), *p = path_in(dir, "big");
	struct tm_buf b = TM_BUF_INIT("file", 1 << 20);
	char data[5000];
	struct tm_err err;

	memset(data, 'y', sizeof(data));
	tm_err_init(&err);
	cr_assert_eq(tm_file_write_atomic(p, data, sizeof(data), 0600, &err), 0);
	cr_assert_eq(tm_file_read(&b, p, 4096, &err), TM_ELIMIT);
	cr_assert(strstr(tm_err_msg(&err), "is larger than 4096 bytes") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(b.max, (size_t)1 << 20, "the buffer's own cap is restored");
	cr_assert_eq(tm_file_read(&b, p, 5000, &err), 0);
	cr_assert_eq(b.len, 5000);
	cr_assert_eq(tm_file_read(&b, "/nonexistent-tarmac-file", 10, &err), TM_ENOTFOUND);
	tm_buf_release(&b);
	free(p);
	tu_rmdir(dir);
}

Test(util_file, empty_file_reads_as_empty_string)
{
	char *dir = tu_mkdtemp(), *p = path_in(dir, "empty");
	struct tm_buf b = TM_BUF_INIT("file", 100);
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_file_write_atomic(p, "", 0, 0600, &err), 0);
	cr_assert_eq(tm_file_read(&b, p, 100, &err), 0);
	cr_assert_not_null(b.data);
	cr_assert_str_eq(b.data, "");
	tm_buf_release(&b);
	free(p);
	tu_rmdir(dir);
}
