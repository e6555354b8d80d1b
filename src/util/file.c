/* Files: atomic replace (tmp + fsync + rename + directory fsync) so a crash or a
 * failed write never leaves a half-written key, sealed secret or bundle behind; sets
 * of files replaced together; capped whole-file reads that can refuse links. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tarmac/util.h"

int tm_fd_write_all(int fd, const void *data, size_t len, const char *name, struct tm_err *err)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return tm_err_errno(err, errno, "write '%s'", name);
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsync the directory holding path, so the rename itself survives a power cut. */
static int sync_parent(const char *path, struct tm_err *err)
{
	char *copy = strdup(path);
	int fd = -1, rc = 0;

	if (!copy)
		return tm_err_set(err, TM_ERROR, "out of memory");
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rc = tm_err_errno(err, errno, "open directory of '%s'", path);
		goto out;
	}
	if (fsync(fd) < 0 && errno != EINVAL) /* some filesystems cannot sync a directory */
		rc = tm_err_errno(err, errno, "fsync directory of '%s'", path);
out:
	if (fd >= 0)
		close(fd);
	free(copy);
	return rc;
}

/* Creates <path>.tmp.<pid> (O_EXCL|O_NOFOLLOW, exactly mode), fills it with fn and
 * fsyncs it; tmp gets its name. On failure nothing of it is left. */
static int write_tmp(struct tm_buf *tmp, const char *path, mode_t mode, tm_file_writer fn, void *ctx,
		     struct tm_err *err)
{
	int fd = -1, rc;

	if ((rc = tm_buf_printf(tmp, err, "%s.tmp.%ld", path, (long)getpid())) < 0)
		return rc;
	/* The pid makes the name ours alone: a leftover of that name can only come from an
	 * earlier, dead process that had the same pid, so removing it is safe. */
	for (int attempt = 0; attempt < 2; attempt++) {
		fd = open(tmp->data, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd >= 0 || errno != EEXIST || attempt == 1)
			break;
		if (unlink(tmp->data) < 0 && errno != ENOENT)
			break;
	}
	if (fd < 0)
		return tm_err_errno(err, errno, "create '%s'", tmp->data);
	/* umask may have narrowed the mode; secrets rely on exactly what was asked */
	if (fchmod(fd, mode) < 0)
		rc = tm_err_errno(err, errno, "chmod '%s'", tmp->data);
	if (rc == 0)
		rc = fn(fd, ctx, err);
	if (rc == 0 && fsync(fd) < 0)
		rc = tm_err_errno(err, errno, "fsync '%s'", tmp->data);
	if (close(fd) < 0 && rc == 0)
		rc = tm_err_errno(err, errno, "close '%s'", tmp->data);
	if (rc < 0)
		unlink(tmp->data);
	return rc;
}

int tm_file_write_atomic_with(const char *path, mode_t mode, tm_file_writer fn, void *ctx,
			      struct tm_err *err)
{
	struct tm_buf tmp = TM_BUF_INIT("temporary path", 4096);
	int rc;

	if ((rc = write_tmp(&tmp, path, mode, fn, ctx, err)) < 0)
		goto out;
	if (rename(tmp.data, path) < 0) {
		rc = tm_err_errno(err, errno, "rename '%s' to '%s'", tmp.data, path);
		unlink(tmp.data);
		goto out;
	}
	rc = sync_parent(path, err);
out:
	if (rc < 0)
		tm_err_wrap(err, "write '%s'", path);
	tm_buf_release(&tmp);
	return rc;
}

struct mem_src {
	const void *data;
	size_t len;
	const char *path;
};

static int write_mem(int fd, void *ctx, struct tm_err *err)
{
	struct mem_src *m = ctx;

	return tm_fd_write_all(fd, m->data, m->len, m->path, err);
}

int tm_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
			 struct tm_err *err)
{
	struct mem_src m = { data, len, path };

	return tm_file_write_atomic_with(path, mode, write_mem, &m, err);
}

/* ------------------------------------------------------------------ file sets */

void tm_signals_hold(sigset_t *saved)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, saved);
}

void tm_signals_restore(const sigset_t *saved)
{
	pthread_sigmask(SIG_SETMASK, saved, NULL);
}

void tm_file_set_init(struct tm_file_set *s)
{
	memset(s, 0, sizeof(*s));
}

int tm_file_set_add(struct tm_file_set *s, const char *path, const void *data, size_t len, mode_t mode,
		    unsigned flags, struct tm_err *err)
{
	struct tm_buf tmp = TM_BUF_INIT("temporary path", 4096);
	struct mem_src m = { data, len, path };
	struct tm_file_staged *f;
	int rc;

	if (s->n == TM_FILE_SET_MAX)
		return tm_err_set(err, TM_ERROR, "internal: more than %d files in one set", TM_FILE_SET_MAX);
	f = &s->f[s->n];
	if (!(f->path = strdup(path))) {
		rc = tm_err_set(err, TM_ERROR, "out of memory");
		goto out;
	}
	if ((rc = write_tmp(&tmp, path, mode, write_mem, &m, err)) < 0)
		goto out;
	f->tmp = tm_buf_detach(&tmp);
	f->flags = flags;
	s->n++;
out:
	if (rc < 0) {
		free(f->path);
		f->path = NULL;
		tm_err_wrap(err, "write '%s'", path);
	}
	tm_buf_release(&tmp);
	return rc;
}

/* Puts one staged file in place: a new one never over an existing file. */
static int place(struct tm_file_staged *f, struct tm_err *err)
{
	if (!(f->flags & TM_FILE_NEW)) {
		if (rename(f->tmp, f->path) < 0)
			return tm_err_errno(err, errno, "rename '%s' to '%s'", f->tmp, f->path);
	} else if (link(f->tmp, f->path) < 0) {
		if (errno == EEXIST)
			return tm_err_set(err, TM_ECONFLICT, "'%s' exists already (made while this ran?); "
					  "refusing to replace it", f->path);
		return tm_err_errno(err, errno, "link '%s' to '%s'", f->tmp, f->path);
	} else {
		unlink(f->tmp);
	}
	free(f->tmp);
	f->tmp = NULL;
	f->placed = true;
	return 0;
}

int tm_file_set_commit(struct tm_file_set *s, const volatile sig_atomic_t *stop, struct tm_err *err)
{
	sigset_t saved;
	int rc = 0;

	if (stop && *stop)
		return tm_err_set(err, TM_EINTERRUPTED, "interrupted before '%s' was written",
				  s->n ? s->f[0].path : "anything");
	tm_signals_hold(&saved);
	for (size_t i = 0; i < s->n && rc == 0; i++)
		rc = place(&s->f[i], err);
	if (rc < 0) {
		for (size_t i = 0; i < s->n; i++)
			if (s->f[i].placed && (s->f[i].flags & TM_FILE_NEW))
				unlink(s->f[i].path);
	}
	tm_signals_restore(&saved);
	for (size_t i = 0; i < s->n && rc == 0; i++)
		rc = sync_parent(s->f[i].path, err);
	return rc;
}

void tm_file_set_release(struct tm_file_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->f[i].tmp)
			unlink(s->f[i].tmp);
		free(s->f[i].tmp);
		free(s->f[i].path);
	}
	tm_file_set_init(s);
}

/* ------------------------------------------------------------------ reading */

static int check_mode(int fd, const char *path, unsigned checks, struct tm_err *err)
{
	struct stat st;

	if (!checks)
		return 0;
	if (fstat(fd, &st) < 0)
		return tm_err_errno(err, errno, "stat '%s'", path);
	if ((checks & TM_FILE_PLAIN) && !S_ISREG(st.st_mode))
		return tm_err_set(err, TM_EINVALID, "'%s' is not a regular file (a directory, FIFO or device); "
				  "refusing it", path);
	if ((checks & TM_FILE_NO_SHARED_WRITE) && (st.st_mode & (S_IWGRP | S_IWOTH)))
		return tm_err_set(err, TM_EINVALID, "'%s' is writable by group or others (mode %04o); "
			"refusing it: run 'chmod go-w %s'", path, (unsigned)(st.st_mode & 07777), path);
	if ((checks & TM_FILE_NO_SHARED_READ) && (st.st_mode & (S_IRWXG | S_IRWXO)))
		return tm_err_set(err, TM_EINVALID, "'%s' is accessible to group or others (mode %04o); "
			"refusing it: run 'chmod 600 %s'", path, (unsigned)(st.st_mode & 07777), path);
	return 0;
}

/* A FIFO would block open() and read(): O_NONBLOCK lets fstat refuse it first. */
static int open_flags(unsigned checks)
{
	return O_RDONLY | O_CLOEXEC | ((checks & TM_FILE_PLAIN) ? O_NOFOLLOW | O_NONBLOCK : 0);
}

int tm_file_read_checked(struct tm_buf *out, const char *path, size_t max, unsigned checks,
			 struct tm_err *err)
{
	const char *what = strcmp(path, "-") == 0 ? "standard input" : path;
	char chunk[16384];
	size_t saved_max = out->max;
	int fd, rc = 0;

	tm_buf_clear(out);
	fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, open_flags(checks));
	if (fd < 0 && errno == ELOOP && (checks & TM_FILE_PLAIN))
		return tm_err_set(err, TM_EINVALID, "'%s' is a symbolic link; tarmac does not follow links here (one "
				  "could copy any local file out): put the file itself in its place", path);
	if (fd < 0)
		return tm_err_errno(err, errno, "open '%s'", path);
	if (fd != STDIN_FILENO && (rc = check_mode(fd, path, checks, err)) < 0) {
		close(fd);
		return rc;
	}
	out->max = max;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		/* EINTR ends the read (TM_EINTERRUPTED): the only signals tarmac catches are
		 * Ctrl-C and SIGTERM, and a key awaited on a terminal or pipe must stop on them */
		if (n < 0) {
			rc = tm_err_errno(err, errno, "read '%s'", what);
			break;
		}
		if (n == 0)
			break;
		if ((rc = tm_buf_append(out, chunk, (size_t)n, NULL)) < 0) {
			rc = tm_err_set(err, rc, "'%s' is larger than %zu bytes", what, out->max);
			break;
		}
	}
	out->max = saved_max;
	if (fd != STDIN_FILENO)
		close(fd);
	if (rc == 0 && !out->data)
		rc = tm_buf_append(out, "", 0, err); /* data is never NULL after a read */
	return rc;
}

int tm_file_read(struct tm_buf *out, const char *path, size_t max, struct tm_err *err)
{
	return tm_file_read_checked(out, path, max, 0, err);
}

int tm_file_mkdirs(const char *path, mode_t mode, struct tm_err *err)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return tm_err_set(err, TM_EINVALID, "path '%s' is too long", path);
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return tm_err_errno(err, errno, "create directory '%s'", buf);
		buf[i] = path[i];
	}
	return 0;
}
