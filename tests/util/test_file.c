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

/* ------------------------------------------------------------------ TM_FILE_PLAIN */

Test(util_file, plain_read_refuses_links_fifos_and_directories)
{
	char *dir = tu_mkdtemp(), *real = path_in(dir, "real"), *link = path_in(dir, "link");
	char *fifo = path_in(dir, "fifo");
	struct tm_buf b = TM_BUF_INIT("file", 100);
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_file_write_atomic(real, "private", 7, 0600, &err), 0);
	cr_assert_eq(symlink(real, link), 0);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	cr_assert_eq(tm_file_read_checked(&b, real, 100, TM_FILE_PLAIN, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_str_eq(b.data, "private");
	cr_assert_eq(tm_file_read_checked(&b, link, 100, TM_FILE_PLAIN, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "is a symbolic link") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(b.len, 0, "nothing of the link's target was read");
	/* a FIFO would block a plain open(): it is refused at once */
	cr_assert_eq(tm_file_read_checked(&b, fifo, 100, TM_FILE_PLAIN, &err), TM_EINVALID);
	cr_assert(strstr(tm_err_msg(&err), "not a regular file") != NULL, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_file_read_checked(&b, dir, 100, TM_FILE_PLAIN, &err), TM_EINVALID);
	/* without the check a link is followed, as for a values file */
	cr_assert_eq(tm_file_read(&b, link, 100, &err), 0);
	cr_assert_str_eq(b.data, "private");
	tm_buf_release(&b);
	free(real);
	free(link);
	free(fifo);
	tu_rmdir(dir);
}

/* ------------------------------------------------------------------ file sets */

static struct tm_file_set stage_pair(const char *a, const char *b, unsigned flags)
{
	struct tm_file_set s;
	struct tm_err err;

	tm_file_set_init(&s);
	tm_err_init(&err);
	cr_assert_eq(tm_file_set_add(&s, a, "A", 1, 0600, flags, &err), 0, "%s", tm_err_msg(&err));
	cr_assert_eq(tm_file_set_add(&s, b, "B", 1, 0644, flags, &err), 0, "%s", tm_err_msg(&err));
	return s;
}

Test(util_file, set_places_every_file_with_its_mode)
{
	char *dir = tu_mkdtemp(), *a = path_in(dir, "a.key"), *b = path_in(dir, "b.pub"), *got;
	struct tm_file_set s = stage_pair(a, b, TM_FILE_NEW);
	struct tm_err err;
	struct stat st;

	cr_assert_eq(count_entries(dir), 2, "two temporary files, nothing in place yet");
	cr_assert_neq(access(a, F_OK), 0);
	tm_err_init(&err);
	cr_assert_eq(tm_file_set_commit(&s, NULL, &err), 0, "%s", tm_err_msg(&err));
	tm_file_set_release(&s);
	cr_assert_eq(count_entries(dir), 2, "the two files, no temporary left");
	got = slurp(a);
	cr_assert_str_eq(got, "A");
	free(got);
	cr_assert_eq(stat(a, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(stat(b, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0644);
	free(a);
	free(b);
	tu_rmdir(dir);
}

Test(util_file, set_with_stop_raised_writes_nothing_and_leaves_no_temporary)
{
	char *dir = tu_mkdtemp(), *a = path_in(dir, "a.key"), *b = path_in(dir, "b.pub");
	struct tm_file_set s = stage_pair(a, b, TM_FILE_NEW);
	volatile sig_atomic_t stop = 1;
	struct tm_err err;

	tm_err_init(&err);
	cr_assert_eq(tm_file_set_commit(&s, &stop, &err), TM_EINTERRUPTED);
	cr_assert(strstr(tm_err_msg(&err), "interrupted") != NULL, "%s", tm_err_msg(&err));
	tm_file_set_release(&s);
	cr_assert_eq(count_entries(dir), 0, "neither file nor any temporary");
	free(a);
	free(b);
	tu_rmdir(dir);
}

Test(util_file, set_failing_part_way_removes_the_new_files_it_placed)
{
	char *dir = tu_mkdtemp(), *a = path_in(dir, "a.key"), *b = path_in(dir, "b.pub"), *got;
	struct tm_file_set s = stage_pair(a, b, TM_FILE_NEW);
	struct tm_err err;

	tm_err_init(&err);
	/* b appears after staging (another run): a new file never replaces it */
	{
		FILE *f = fopen(b, "w");
		cr_assert_not_null(f);
		fputs("theirs", f);
		fclose(f);
	}
	cr_assert_eq(tm_file_set_commit(&s, NULL, &err), TM_ECONFLICT);
	cr_assert(strstr(tm_err_msg(&err), "exists already") != NULL, "%s", tm_err_msg(&err));
	tm_file_set_release(&s);
	cr_assert_neq(access(a, F_OK), 0, "a half pair is not left behind");
	got = slurp(b);
	cr_assert_str_eq(got, "theirs");
	free(got);
	cr_assert_eq(count_entries(dir), 1);
	free(a);
	free(b);
	tu_rmdir(dir);
}

Test(util_file, set_replaces_existing_files)
{
	char *dir = tu_mkdtemp(), *a = path_in(dir, "a"), *b = path_in(dir, "b"), *got;
	struct tm_err err;
	struct tm_file_set s;

	tm_err_init(&err);
	cr_assert_eq(tm_file_write_atomic(a, "old", 3, 0644, &err), 0);
	s = stage_pair(a, b, 0);
	cr_assert_eq(tm_file_set_commit(&s, NULL, &err), 0, "%s", tm_err_msg(&err));
	tm_file_set_release(&s);
	got = slurp(a);
	cr_assert_str_eq(got, "A");
	free(got);
	cr_assert_eq(count_entries(dir), 2);
	free(a);
	free(b);
	tu_rmdir(dir);
}

Test(util_file, signals_held_during_a_commit_arrive_after_it)
{
	sigset_t saved, pending;

	tm_signals_hold(&saved);
	raise(SIGTERM); /* held: pending, not delivered */
	sigpending(&pending);
	cr_assert(sigismember(&pending, SIGTERM));
	signal(SIGTERM, SIG_IGN); /* let it go harmlessly */
	tm_signals_restore(&saved);
	sigpending(&pending);
	cr_assert_not(sigismember(&pending, SIGTERM));
}
