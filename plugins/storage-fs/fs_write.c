/*
 * fs_write.c - streamed writes.
 *
 * A replacing write goes to ".<base>.tmp-<random>" in the target's own
 * directory and becomes visible at commit by rename(2), which is atomic
 * within one filesystem: readers see the old object or the new one, never
 * a mix, and a crash leaves at worst a hidden temporary file. With fsync on,
 * the data is synced before the rename and the directory after it, so a
 * committed object survives power loss.
 *
 * An APPEND write (upload data) writes the key in place; commit syncs it and
 * cancel keeps what was written, as the ABI says.
 *
 * With fsync on, every FS_WRITEBACK_STEP bytes written start their
 * writeback (sync_file_range), so the disk works while the rest arrives and
 * the fsync at commit waits only for the tail, not for a whole layer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"

#define FS_FILE_MODE 0644
/* Attempts at a fresh temporary name or at a create/open race. */
#define FS_OPEN_TRIES 8
#define FS_WRITEBACK_STEP (8 * 1024 * 1024)

struct fs_writer {
	int fd;
	int dir;               /* the target's directory */
	int append;
	int created;           /* APPEND created the file: sync its directory */
	int failed;            /* status of a failed write(), or 0 */
	off_t end;             /* where the next write lands */
	off_t unsynced;        /* start of the bytes whose writeback is not started */
	char *key;             /* owned copy; its last segment is the target */
	char tmp[NAME_MAX + 1];
};

static void writer_free(const struct fs_state *fs, struct fs_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	fs_close_dir(fs, w->dir);
	free(w->key);
	free(w);
}

static int open_temp(struct fs_writer *w, const char *q, berth_error *err)
{
	int i;

	for (i = 0; i < FS_OPEN_TRIES; i++) {
		if (fs_temp_name(w->tmp, sizeof(w->tmp), fs_key_base(w->key)) < 0)
			return fs_fail(err, BERTH_E_INTERNAL,
				       "cannot name a temporary file for '%s'", q);
		w->fd = openat(w->dir, w->tmp,
			       O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, FS_FILE_MODE);
		if (w->fd >= 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	return fs_fail_errno(err, errno, "cannot create a temporary file for '%s'", q);
}

/*
 * Open the target for appending; create it with O_EXCL when absent so we
 * know whether its directory entry is new and needs syncing at commit.
 * O_NONBLOCK keeps a planted FIFO from blocking; regular files ignore it.
 */
static int open_append(struct fs_writer *w, const char *q, berth_error *err)
{
	const char *base = fs_key_base(w->key);
	struct stat sb;
	int i;

	for (i = 0; i < FS_OPEN_TRIES; i++) {
		w->fd = openat(w->dir, base,
			       O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW |
			       O_NONBLOCK | O_NOCTTY);
		if (w->fd >= 0 || errno != ENOENT)
			break;
		w->fd = openat(w->dir, base,
			       O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC |
			       O_NOFOLLOW, FS_FILE_MODE);
		if (w->fd >= 0) {
			w->created = 1;
			break;
		}
		if (errno != EEXIST)
			break;
	}
	if (w->fd < 0)
		return fs_fail_errno(err, errno, "cannot open '%s' for appending", q);
	if (fstat(w->fd, &sb) < 0)
		return fs_fail_errno(err, errno, "cannot stat '%s'", q);
	if (!S_ISREG(sb.st_mode))
		return fs_fail(err, BERTH_E_IO,
			       "cannot append to '%s': not a regular file", q);
	w->end = w->unsynced = sb.st_size;
	return 0;
}

int fs_write_open(void *state, const char *key, unsigned flags, void **writer,
		  berth_error *err)
{
	const struct fs_state *fs = state;
	char q[FS_QUOTE_MAX + 8];
	struct fs_writer *w = NULL;
	int rc;

	*writer = NULL;
	rc = fs_key_check(key, 0, err);
	if (rc < 0)
		return rc;
	fs_quote(q, sizeof(q), key);
	if (flags & ~(unsigned)BERTH_WRITE_APPEND)
		return fs_fail(err, BERTH_E_UNSUPPORTED,
			       "cannot write '%s': unknown flags 0x%x", q, flags);
	w = calloc(1, sizeof(*w));
	if (!w || !(w->key = strdup(key))) {
		free(w);
		return fs_fail(err, BERTH_E_NOMEM, "cannot write '%s': out of memory", q);
	}
	w->fd = -1;
	w->append = !!(flags & BERTH_WRITE_APPEND);
	w->dir = fs_open_parent(fs, key, FS_PARENT_CREATE);
	if (w->dir == -ENOTDIR) {
		rc = fs_fail(err, BERTH_E_EXISTS,
			     "cannot write '%s': a parent is not a directory", q);
		goto out;
	}
	if (w->dir < 0) {
		rc = fs_fail_errno(err, -w->dir, "cannot write '%s'", q);
		goto out;
	}
	rc = w->append ? open_append(w, q, err) : open_temp(w, q, err);
out:
	if (rc < 0)
		writer_free(fs, w);
	else
		*writer = w;
	return rc;
}

int fs_write(void *state, void *writer, const void *buf, size_t len,
	     berth_error *err)
{
	const struct fs_state *fs = state;
	struct fs_writer *w = writer;
	char q[FS_QUOTE_MAX + 8];
	const char *p = buf;

	if (w->failed) {
		fs_quote(q, sizeof(q), w->key);
		return fs_fail(err, w->failed,
			       "cannot write '%s': an earlier write failed", q);
	}
	while (len > 0) {
		ssize_t n = write(w->fd, p, len > SSIZE_MAX ? SSIZE_MAX : len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fs_quote(q, sizeof(q), w->key);
			w->failed = fs_fail_errno(err, errno, "cannot write '%s'", q);
			return w->failed;
		}
		p += n;
		len -= (size_t)n;
		w->end += n;
	}
	/* Only a hint: a failure here shows again at the commit's fsync. */
	if (fs->fsync && w->end - w->unsynced >= FS_WRITEBACK_STEP) {
		sync_file_range(w->fd, w->unsynced, w->end - w->unsynced, SYNC_FILE_RANGE_WRITE);
		w->unsynced = w->end;
	}
	return 0;
}

static int commit_replace(const struct fs_state *fs, struct fs_writer *w,
			  const char *q, berth_error *err)
{
	int fd = w->fd, rc;

	w->fd = -1;
	if (fs->fsync && fsync(fd) < 0) {
		rc = fs_fail_errno(err, errno, "cannot sync '%s'", q);
		close(fd);
		goto fail;
	}
	/* Some filesystems (NFS) report a failed write only at close. */
	if (close(fd) < 0) {
		rc = fs_fail_errno(err, errno, "cannot write '%s'", q);
		goto fail;
	}
	if (renameat(w->dir, w->tmp, w->dir, fs_key_base(w->key)) < 0) {
		rc = fs_fail_errno(err, errno, "cannot commit '%s'", q);
		goto fail;
	}
	rc = fs_sync_dir(fs, w->dir);
	if (rc < 0)
		return fs_fail_errno(err, -rc, "cannot sync the directory of '%s'", q);
	return 0;
fail:
	unlinkat(w->dir, w->tmp, 0);
	return rc;
}

static int commit_append(const struct fs_state *fs, struct fs_writer *w,
			 const char *q, berth_error *err)
{
	int fd = w->fd, rc;

	w->fd = -1;
	if (fs->fsync && fsync(fd) < 0) {
		rc = fs_fail_errno(err, errno, "cannot sync '%s'", q);
		close(fd);
		return rc;
	}
	if (close(fd) < 0)
		return fs_fail_errno(err, errno, "cannot write '%s'", q);
	if (w->created) {
		rc = fs_sync_dir(fs, w->dir);
		if (rc < 0)
			return fs_fail_errno(err, -rc,
					     "cannot sync the directory of '%s'", q);
	}
	return 0;
}

int fs_write_commit(void *state, void *writer, berth_error *err)
{
	const struct fs_state *fs = state;
	struct fs_writer *w = writer;
	char q[FS_QUOTE_MAX + 8];
	int rc;

	fs_quote(q, sizeof(q), w->key);
	if (w->failed) {
		rc = fs_fail(err, w->failed,
			     "cannot commit '%s': an earlier write failed", q);
		if (!w->append)
			unlinkat(w->dir, w->tmp, 0);
	} else if (w->append) {
		rc = commit_append(fs, w, q, err);
	} else {
		rc = commit_replace(fs, w, q, err);
	}
	writer_free(fs, w);
	return rc;
}

void fs_write_cancel(void *state, void *writer)
{
	const struct fs_state *fs = state;
	struct fs_writer *w = writer;

	if (!w)
		return;
	if (!w->append)
		unlinkat(w->dir, w->tmp, 0);
	writer_free(fs, w);
}
