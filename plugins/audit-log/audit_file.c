/*
 * audit_file.c - the audit file: durable appends, rotation by size,
 * reopening after logrotate, and failures reported once per burst.
 *
 * Lines come from worker threads (request after()), the event thread
 * (deliver()), emitting threads (overflow()), and the main thread reopens.
 * One mutex covers the descriptor, the size and the sync state, so that a
 * rotation never races a write: O_APPEND with one write() per line would
 * keep lines whole without it, but not keep every file under max_size nor
 * stop a line from landing in a file being renamed away. The lock is held
 * for one write() (and one fdatasync() under fsync: always); a writer that
 * cannot get it within lock_wait_ms drops its line and counts it, so a
 * stuck disk never holds request threads for ever.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"

struct audit_file {
	struct audit_file_options opt;
	char *path;
	struct audit_file_events ev;
	pthread_mutex_t lock;
	int fd;                   /* always open: a failed rotation or reopen keeps the old one */
	uint64_t size;            /* bytes in the current file */
	int dirty;                /* written since the last sync */
	int64_t last_sync_ms;     /* monotonic */
	/* A burst of failures is reported at its start and at its end. */
	int failing;
	uint64_t lost_in_burst;
	int rotate_failing;
	int sync_failing;
	/* Set by writers that gave up waiting for the lock: read without it. */
	atomic_int busy_reported;
};

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

BERTH_PRINTF(3, 4)
static void report(struct audit_file *f, int level, const char *fmt, ...)
{
	char msg[BERTH_ERROR_MESSAGE_MAX];
	va_list ap;

	if (!f->ev.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	f->ev.log(f->ev.ctx, level, msg);
}

/*
 * Open the path for appending. A file this creates gets opt.mode exactly
 * (whatever the umask); an existing file keeps the mode it has, which the
 * operator may have chosen.
 */
static int open_path(const struct audit_file *f, uint64_t *size, int *err_no)
{
	int flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY;
	struct stat st;
	int fd, created = 1;

	fd = open(f->path, flags | O_CREAT | O_EXCL, f->opt.mode);
	if (fd < 0 && errno == EEXIST) {
		created = 0;
		fd = open(f->path, flags);
	}
	if (fd < 0) {
		*err_no = errno;
		return -1;
	}
	if ((created && fchmod(fd, f->opt.mode) != 0) || fstat(fd, &st) != 0) {
		*err_no = errno;
		close(fd);
		return -1;
	}
	*size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	return fd;
}

static void sync_now(struct audit_file *f)
{
	if (!f->dirty)
		return;
	f->last_sync_ms = monotonic_ms();
	/* fdatasync on a pipe or /dev/null says EINVAL: nothing to make durable. */
	if (fdatasync(f->fd) != 0 && errno != EINVAL && errno != EROFS) {
		if (!f->sync_failing)
			report(f, BERTH_LOG_ERROR, "cannot sync audit log '%s': %s", f->path,
			       strerror(errno));
		f->sync_failing = 1;
		return;
	}
	f->sync_failing = 0;
	f->dirty = 0;
}

int audit_file_open(const struct audit_file_options *opt, const struct audit_file_events *ev,
		    struct audit_file **out, berth_error *err)
{
	struct audit_file *f;
	int err_no = 0, rc = 0;

	*out = NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return audit_fail(err, BERTH_E_NOMEM, "out of memory");
	f->fd = -1;
	f->opt = *opt;
	if (f->opt.lock_wait_ms <= 0)
		f->opt.lock_wait_ms = 1000;
	if (ev)
		f->ev = *ev;
	f->path = strdup(opt->path);
	if (!f->path) {
		rc = audit_fail(err, BERTH_E_NOMEM, "out of memory");
		goto out;
	}
	f->opt.path = f->path;
	f->fd = open_path(f, &f->size, &err_no);
	if (f->fd < 0) {
		rc = audit_fail(err, BERTH_E_CONFIG, "cannot open audit log '%s': %s", f->path,
				strerror(err_no));
		goto out;
	}
	err_no = pthread_mutex_init(&f->lock, NULL);
	if (err_no != 0) {
		rc = audit_fail(err, BERTH_E_INTERNAL, "cannot make a lock: %s", strerror(err_no));
		goto out;
	}
	f->last_sync_ms = monotonic_ms();
	*out = f;
	f = NULL;
out:
	if (f) {
		if (f->fd >= 0)
			close(f->fd);
		free(f->path);
		free(f);
	}
	return rc;
}

/* path.<n> into out; 0, or -1 when it would not fit. */
static int numbered(char *out, size_t cap, const char *path, int n)
{
	int len = snprintf(out, cap, "%s.%d", path, n);

	return len < 0 || (size_t)len >= cap ? -1 : 0;
}

/*
 * path.<keep-1> -> path.<keep>, ..., path -> path.1, then a new path. The
 * oldest file is replaced by the rename, so at most `keep` old files stay.
 * With keep 0 the file is simply started afresh. A failed rename is
 * reported and the current file kept: a file over max_size loses nothing.
 */
static void rotate(struct audit_file *f)
{
	char from[PATH_MAX], to[PATH_MAX];
	uint64_t size = 0;
	int err_no = 0, fd;

	if (f->opt.fsync != AUDIT_FSYNC_NEVER)
		sync_now(f);
	if (f->opt.keep == 0) {
		if (unlink(f->path) != 0 && errno != ENOENT)
			goto failed;
	} else {
		for (int i = f->opt.keep - 1; i >= 1; i--) {
			if (numbered(from, sizeof(from), f->path, i) != 0 ||
			    numbered(to, sizeof(to), f->path, i + 1) != 0) {
				errno = ENAMETOOLONG;
				goto failed;
			}
			if (rename(from, to) != 0 && errno != ENOENT)
				goto failed;
		}
		if (numbered(to, sizeof(to), f->path, 1) != 0) {
			errno = ENAMETOOLONG;
			goto failed;
		}
		if (rename(f->path, to) != 0)
			goto failed;
	}
	fd = open_path(f, &size, &err_no);
	if (fd < 0) {
		/* The old file is renamed but still open: keep writing there. */
		errno = err_no;
		goto failed;
	}
	close(f->fd);
	f->fd = fd;
	f->size = size;
	f->dirty = 0;
	if (f->rotate_failing)
		report(f, BERTH_LOG_INFO, "audit log '%s' rotates again", f->path);
	f->rotate_failing = 0;
	return;
failed:
	if (!f->rotate_failing)
		report(f, BERTH_LOG_ERROR,
		       "cannot rotate audit log '%s': %s; writing on past max_size", f->path,
		       strerror(errno));
	f->rotate_failing = 1;
}

/* Wait for the lock, but not for ever. */
static int lock_bounded(struct audit_file *f)
{
	struct timespec until;
	int64_t wait = f->opt.lock_wait_ms;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(wait / 1000);
	until.tv_nsec += (long)(wait % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	return pthread_mutex_timedlock(&f->lock, &until);
}

static void lost(struct audit_file *f, const char *why)
{
	if (!f->failing)
		report(f, BERTH_LOG_ERROR,
		       "cannot write audit log '%s': %s; audit lines are lost until it works "
		       "again (counted in berth_audit_write_failures_total)",
		       f->path, why);
	f->failing = 1;
	f->lost_in_burst++;
	if (f->ev.lost)
		f->ev.lost(f->ev.ctx);
}

/*
 * A write the kernel cut short (disk full, file size limit) leaves part of
 * a line; take it back so the next line does not continue it.
 */
static void undo_partial(struct audit_file *f, size_t written)
{
	off_t end = lseek(f->fd, 0, SEEK_END);

	if (end >= (off_t)written && ftruncate(f->fd, end - (off_t)written) == 0)
		return;
	/* Could not cut it: end it, so at least the next line starts clean. */
	if (write(f->fd, "\n", 1) == 1)
		f->size++;
}

int audit_file_write(struct audit_file *f, const char *line, size_t len)
{
	ssize_t n;
	int rc = 0;

	if (!f || !line || len == 0)
		return BERTH_E_INVALID;
	if (lock_bounded(f) != 0) {
		/* Another writer is stuck in write() or fsync (a hung disk). */
		if (atomic_exchange(&f->busy_reported, 1) == 0)
			report(f, BERTH_LOG_ERROR,
			       "audit log '%s' busy for over %lld ms: audit lines are lost until it "
			       "answers (counted in berth_audit_write_failures_total)",
			       f->path, (long long)f->opt.lock_wait_ms);
		if (f->ev.lost)
			f->ev.lost(f->ev.ctx);
		return BERTH_E_AGAIN;
	}
	atomic_store(&f->busy_reported, 0);
	if (f->opt.max_size && f->size > 0 && f->size + len > f->opt.max_size)
		rotate(f);
	do {
		n = write(f->fd, line, len);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)len) {
		int err_no = n < 0 ? errno : 0;

		if (n > 0)
			undo_partial(f, (size_t)n);
		lost(f, err_no ? strerror(err_no) : "short write (disk full or file size limit)");
		rc = err_no == ENOSPC ? BERTH_E_NOSPACE : BERTH_E_IO;
		goto out;
	}
	f->size += len;
	f->dirty = 1;
	if (f->failing)
		report(f, BERTH_LOG_INFO, "audit log '%s' is written again; %llu line%s lost",
		       f->path, (unsigned long long)f->lost_in_burst,
		       f->lost_in_burst == 1 ? " was" : "s were");
	f->failing = 0;
	f->lost_in_burst = 0;
	if (f->ev.written)
		f->ev.written(f->ev.ctx);
	if (f->opt.fsync == AUDIT_FSYNC_ALWAYS ||
	    (f->opt.fsync == AUDIT_FSYNC_INTERVAL &&
	     monotonic_ms() - f->last_sync_ms >= f->opt.fsync_interval_ms))
		sync_now(f);
out:
	pthread_mutex_unlock(&f->lock);
	return rc;
}

void audit_file_sync(struct audit_file *f)
{
	if (!f || f->opt.fsync == AUDIT_FSYNC_NEVER)
		return;
	if (lock_bounded(f) != 0)
		return;
	sync_now(f);
	pthread_mutex_unlock(&f->lock);
}

void audit_file_reopen(struct audit_file *f)
{
	uint64_t size = 0;
	int err_no = 0, fd;

	if (!f)
		return;
	/* The main thread may wait: it does nothing else while it reopens. */
	pthread_mutex_lock(&f->lock);
	fd = open_path(f, &size, &err_no);
	if (fd < 0) {
		report(f, BERTH_LOG_ERROR, "cannot reopen audit log '%s': %s; still writing to the "
		       "file open before", f->path, strerror(err_no));
		goto out;
	}
	if (f->opt.fsync != AUDIT_FSYNC_NEVER)
		sync_now(f);
	close(f->fd);
	f->fd = fd;
	f->size = size;
	f->dirty = 0;
	report(f, BERTH_LOG_INFO, "audit log '%s' reopened", f->path);
out:
	pthread_mutex_unlock(&f->lock);
}

void audit_file_close(struct audit_file *f)
{
	if (!f)
		return;
	if (f->opt.fsync != AUDIT_FSYNC_NEVER)
		sync_now(f);
	close(f->fd);
	pthread_mutex_destroy(&f->lock);
	free(f->path);
	free(f);
}
