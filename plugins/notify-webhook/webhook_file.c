/*
 * webhook_file.c - the file operations the queue and the dead-letter file
 * are built on: whole writes and reads despite short counts and EINTR,
 * flock, fsync of a directory (what makes a rename durable), mkdir -p, and
 * the atomic replacement of a small file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "webhook.h"

int webhook_io_fail(berth_error *err, const char *what, const char *path)
{
	int e = errno;

	return webhook_fail(err, e == ENOSPC ? BERTH_E_NOSPACE : BERTH_E_IO,
			    "cannot %s '%s': %s", what, path, strerror(e));
}

int webhook_flock(int fd, int op)
{
	while (flock(fd, op) != 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

int webhook_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t webhook_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int webhook_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int webhook_mkdir_p(const char *path)
{
	char *copy = strdup(path);
	int rc = 0;

	if (!copy)
		return -1;
	for (char *p = copy + 1; *p && rc == 0; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0700) != 0 && errno != EEXIST)
			rc = -1;
		*p = '/';
	}
	if (rc == 0 && mkdir(copy, 0700) != 0 && errno != EEXIST)
		rc = -1;
	free(copy);
	return rc;
}

int webhook_replace_file(const char *dir, const char *tmp, const char *path, const char *data,
			 size_t len, int do_fsync, berth_error *err)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return webhook_io_fail(err, "create", tmp);
	if (webhook_write_all(fd, data, len) != 0 || (do_fsync && fdatasync(fd) != 0)) {
		int rc = webhook_io_fail(err, "write", tmp);

		close(fd);
		unlink(tmp);
		return rc;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		int rc = webhook_io_fail(err, "rename into", path);

		unlink(tmp);
		return rc;
	}
	if (do_fsync && webhook_sync_dir(dir) != 0)
		return webhook_io_fail(err, "sync", dir);
	return 0;
}
