/*
 * fs_read.c - stat and the three ways of reading an object.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"

static int64_t mtime_ms(const struct stat *sb)
{
	return (int64_t)sb->st_mtim.tv_sec * 1000 + sb->st_mtim.tv_nsec / 1000000;
}

/*
 * Only regular files are objects. A directory is a prefix, not an object,
 * so reading one is NOT_FOUND; anything else (a FIFO, a device, a socket) is
 * something an operator put there and is refused rather than touched.
 */
static int check_object(const struct stat *sb, const char *q, berth_error *err)
{
	if (S_ISREG(sb->st_mode))
		return 0;
	if (S_ISDIR(sb->st_mode))
		return fs_fail(err, BERTH_E_NOT_FOUND,
			       "cannot read '%s': is a directory", q);
	if (S_ISLNK(sb->st_mode))
		return fs_fail_errno(err, ELOOP, "cannot read '%s'", q);
	return fs_fail(err, BERTH_E_IO, "cannot read '%s': not a regular file", q);
}

/*
 * Open key for reading and fstat it. O_NONBLOCK keeps a FIFO planted in the
 * tree from blocking the worker; it has no effect on regular files.
 * Returns the descriptor or a negative status with err filled.
 */
static int open_object(const struct fs_state *fs, const char *key,
		       struct stat *sb, berth_error *err)
{
	char q[FS_QUOTE_MAX + 8];
	int dir = -1, fd = -1, rc;

	rc = fs_key_check(key, 0, err);
	if (rc < 0)
		return rc;
	fs_quote(q, sizeof(q), key);
	fd = fs_open_object(fs, key, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	if (fd >= 0)
		goto opened;
	dir = fs_open_parent(fs, key, 0);
	if (dir < 0) {
		rc = fs_fail_errno(err, -dir, "cannot open '%s'", q);
		goto out;
	}
	fd = openat(dir, fs_key_base(key),
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
opened:
	if (fd < 0) {
		rc = fs_fail_errno(err, errno, "cannot open '%s'", q);
		goto out;
	}
	if (fstat(fd, sb) < 0) {
		rc = fs_fail_errno(err, errno, "cannot stat '%s'", q);
		goto out;
	}
	rc = check_object(sb, q, err);
out:
	fs_close_dir(fs, dir);
	if (rc < 0) {
		if (fd >= 0)
			close(fd);
		return rc;
	}
	return fd;
}

int fs_stat(void *state, const char *key, berth_stat *st, berth_error *err)
{
	const struct fs_state *fs = state;
	char q[FS_QUOTE_MAX + 8];
	struct stat sb;
	int dir, rc;

	rc = fs_key_check(key, 0, err);
	if (rc < 0)
		return rc;
	fs_quote(q, sizeof(q), key);
	dir = fs_open_parent(fs, key, 0);
	if (dir < 0)
		return fs_fail_errno(err, -dir, "cannot stat '%s'", q);
	if (fstatat(dir, fs_key_base(key), &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = fs_fail_errno(err, errno, "cannot stat '%s'", q);
		goto out;
	}
	if (S_ISDIR(sb.st_mode)) {
		st->size = 0;
		st->is_dir = 1;
	} else if (S_ISREG(sb.st_mode)) {
		st->size = (uint64_t)sb.st_size;
		st->is_dir = 0;
	} else if (S_ISLNK(sb.st_mode)) {
		rc = fs_fail_errno(err, ELOOP, "cannot stat '%s'", q);
		goto out;
	} else {
		rc = fs_fail(err, BERTH_E_IO,
			     "cannot stat '%s': not a regular file or directory", q);
		goto out;
	}
	st->mtime_ms = mtime_ms(&sb);
out:
	fs_close_dir(fs, dir);
	return rc;
}

int fs_read_all(void *state, const char *key, void *buf, size_t cap,
		size_t *len, berth_error *err)
{
	char q[FS_QUOTE_MAX + 8];
	struct stat sb;
	uint64_t size;
	size_t got = 0;
	int fd, rc = 0;

	fd = open_object(state, key, &sb, err);
	if (fd < 0)
		return fd;
	fs_quote(q, sizeof(q), key);
	size = (uint64_t)sb.st_size;
	if (size > cap) {
		if (len)
			*len = size > SIZE_MAX ? SIZE_MAX : (size_t)size;
		rc = fs_fail(err, BERTH_E_RANGE,
			     "cannot read '%s': %llu bytes do not fit in %zu", q,
			     (unsigned long long)size, cap);
		goto out;
	}
	/* Objects are replaced by rename, so this fd sees one version only. */
	while (got < size) {
		ssize_t n = read(fd, (char *)buf + got, (size_t)size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = fs_fail_errno(err, errno, "cannot read '%s'", q);
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (len)
		*len = got;
out:
	close(fd);
	return rc;
}

/*
 * The handle carries both a positioned fd and a stream wrapping the same fd
 * ((void *)(fd + 1), so fd 0 is not NULL). The host uses exactly one: it
 * either sends and closes h->fd itself, or calls read_at() and read_close().
 * Nothing is allocated, so whichever path it takes nothing leaks.
 */
int fs_open_read(void *state, const char *key, uint64_t offset,
		 berth_read_handle *h, berth_error *err)
{
	char q[FS_QUOTE_MAX + 8];
	struct stat sb;
	int fd, rc = 0;

	fd = open_object(state, key, &sb, err);
	if (fd < 0)
		return fd;
	fs_quote(q, sizeof(q), key);
	if (offset > (uint64_t)sb.st_size) {
		rc = fs_fail(err, BERTH_E_RANGE,
			     "cannot read '%s' from offset %llu: it has %llu bytes",
			     q, (unsigned long long)offset,
			     (unsigned long long)sb.st_size);
		goto out;
	}
	/* A new descriptor is at 0 already; the host's blob GETs open at 0
	 * and send ranges by offset, so this saves a system call each. */
	if (offset > 0 && lseek(fd, (off_t)offset, SEEK_SET) < 0) {
		rc = fs_fail_errno(err, errno, "cannot seek '%s'", q);
		goto out;
	}
	/* The descriptor keeps O_NONBLOCK: it is a regular file (open_object
	 * checked), for which the flag changes nothing, and clearing it cost
	 * two system calls per blob GET. */
	h->fd = fd;
	h->size = (uint64_t)sb.st_size;
	h->stream = (void *)(intptr_t)(fd + 1);
out:
	if (rc < 0)
		close(fd);
	return rc;
}

ssize_t fs_read_at(void *state, void *stream, uint64_t offset, void *buf,
		   size_t cap, berth_error *err)
{
	int fd = (int)((intptr_t)stream - 1);
	ssize_t n;

	(void)state;
	if (!stream)
		return fs_fail(err, BERTH_E_INVALID, "cannot read: no open object");
	if (offset > (uint64_t)INT64_MAX)
		return fs_fail(err, BERTH_E_RANGE,
			       "cannot read at offset %llu: out of range",
			       (unsigned long long)offset);
	if (cap > SSIZE_MAX)
		cap = SSIZE_MAX;
	do
		n = pread(fd, buf, cap, (off_t)offset);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return fs_fail_errno(err, errno, "cannot read open object");
	return n;
}

void fs_read_close(void *state, void *stream)
{
	(void)state;
	if (stream)
		close((int)((intptr_t)stream - 1));
}
