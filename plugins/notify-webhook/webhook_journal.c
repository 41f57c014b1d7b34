/*
 * webhook_journal.c - an endpoint's durable queue: a directory holding
 *
 *   journal   {"notify-webhook-journal":1,"base":B}\n, then one record per line
 *   offset    "C\n": every record before logical position C is done
 *   lock      flock()ed around appends and the swap of a compaction
 *
 * A logical position is B plus the byte offset after the header line, so a
 * compaction, which rewrites the journal from C on with base C, changes no
 * position and needs no second file to agree with the first: a crash before
 * the rename leaves the old journal, after it the new one, and `offset`
 * means the same in both. `offset` is replaced with rename(), so it is
 * always whole.
 *
 * Appends come from any thread of this process (under the mutex) and from
 * other processes (`berth job run` beside the server) under flock; a
 * record is one write() of a whole line. Only complete lines are ever
 * read, so a line torn by a crash is never delivered, and the next append
 * cuts it off before writing. Reading, scanning, committing and
 * compacting are the sender thread's, so they use a descriptor of their
 * own (rfd) that no appender ever closes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "webhook.h"

#define HEADER_FMT "{\"notify-webhook-journal\":1,\"base\":%" PRIu64 "}\n"
#define HEADER_MAX 128
#define COPY_CHUNK (64u * 1024)

struct webhook_journal {
	pthread_mutex_t lock;
	struct webhook_journal_opts o;
	char *dir, *path, *tmp_path, *offset_path, *offset_tmp_path, *lock_path;
	int lock_fd;

	/* Appends, under `lock`. */
	int wfd;
	dev_t wdev;
	ino_t wino;
	uint64_t wbase, whlen;

	/* The sender's side. */
	int rfd;
	dev_t rdev;
	ino_t rino;
	uint64_t rbase, rhlen;

	/* Under `lock`: logical positions and the undelivered count. */
	uint64_t committed;
	uint64_t scan_end;          /* end of the last complete record counted */
	uint64_t pending;           /* records in [committed, scan_end) */
};

static void note(struct webhook_journal *j, int level, const char *fmt, ...)
	BERTH_PRINTF(3, 4);

static void note(struct webhook_journal *j, int level, const char *fmt, ...)
{
	char msg[BERTH_ERROR_MESSAGE_MAX];
	va_list ap;

	if (!j->o.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	j->o.log(j->o.log_ctx, level, msg);
}

/* ------------------------------------------------------------------------ */
/* Opening                                                                  */
/* ------------------------------------------------------------------------ */

/* 0 and *committed (0 when there is no file yet), or BERTH_E_INVALID when unreadable. */
static int read_offset(const char *path, uint64_t *committed)
{
	char buf[32], *end;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*committed = 0;
	if (fd < 0)
		return errno == ENOENT ? 0 : BERTH_E_IO;
	n = webhook_pread_full(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	if (n <= 0)
		return BERTH_E_INVALID;
	buf[n] = '\0';
	errno = 0;
	*committed = strtoull(buf, &end, 10);
	if (errno || end == buf || *end != '\n') {
		*committed = 0;
		return BERTH_E_INVALID;
	}
	return 0;
}

/* The header of the file open on fd: its base and length. */
static int read_header(int fd, uint64_t *base, uint64_t *hlen)
{
	char buf[HEADER_MAX + 1], *nl;
	json_t *doc, *b;
	ssize_t n = webhook_pread_full(fd, buf, HEADER_MAX, 0);
	int rc = BERTH_E_INVALID;

	if (n <= 0)
		return n == 0 ? BERTH_E_NOT_FOUND : BERTH_E_IO;
	buf[n] = '\0';
	nl = memchr(buf, '\n', (size_t)n);
	if (!nl)
		return BERTH_E_INVALID;
	doc = json_loadb(buf, (size_t)(nl - buf), 0, NULL);
	b = json_object_get(doc, "base");
	if (json_integer_value(json_object_get(doc, "notify-webhook-journal")) == 1 &&
	    json_is_integer(b) && json_integer_value(b) >= 0) {
		*base = (uint64_t)json_integer_value(b);
		*hlen = (uint64_t)(nl - buf + 1);
		rc = 0;
	}
	json_decref(doc);
	return rc;
}

/* A new journal holding only its header, in place atomically. Under flock. */
static int create_journal(struct webhook_journal *j, uint64_t base, berth_error *err)
{
	char header[HEADER_MAX];
	int n = snprintf(header, sizeof(header), HEADER_FMT, base);

	return webhook_replace_file(j->dir, j->tmp_path, j->path, header, (size_t)n, j->o.fsync,
				    err);
}

/*
 * Open the journal at j->path (creating it with base `base` when absent,
 * moving aside one whose header is unreadable). Under flock.
 */
static int open_journal(struct webhook_journal *j, int flags, uint64_t base, int *fd_out,
			dev_t *dev, ino_t *ino, uint64_t *base_out, uint64_t *hlen_out,
			berth_error *err)
{
	struct stat st;
	int fd = -1, rc;

	for (int tries = 0; tries < 3; tries++) {
		fd = open(j->path, flags | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT) {
			rc = create_journal(j, base, err);
			if (rc < 0)
				return rc;
			continue;
		}
		if (fd < 0)
			return webhook_io_fail(err, "open", j->path);
		rc = read_header(fd, base_out, hlen_out);
		if (rc == 0 && fstat(fd, &st) == 0) {
			*fd_out = fd;
			*dev = st.st_dev;
			*ino = st.st_ino;
			return 0;
		}
		close(fd);
		fd = -1;
		if (rc == BERTH_E_IO)
			return webhook_io_fail(err, "read", j->path);
		{
			/* Kept for a person to look at, never deleted. */
			char aside[4096];
			struct timespec now;

			clock_gettime(CLOCK_REALTIME, &now);
			snprintf(aside, sizeof(aside), "%s.unreadable-%lld%03ld", j->path,
				 (long long)now.tv_sec, now.tv_nsec / 1000000);
			if (rename(j->path, aside) != 0)
				return webhook_io_fail(err, "move aside", j->path);
			note(j, BERTH_LOG_ERROR,
			     "journal '%s' has no valid header: moved to '%s', starting a new one",
			     j->path, aside);
		}
	}
	return webhook_fail(err, BERTH_E_IO, "cannot open '%s': it keeps changing", j->path);
}

static int set_paths(struct webhook_journal *j, const char *dir)
{
	j->dir = strdup(dir);
	j->path = webhook_strf("%s/journal", dir);
	j->tmp_path = webhook_strf("%s/journal.tmp", dir);
	j->offset_path = webhook_strf("%s/offset", dir);
	j->offset_tmp_path = webhook_strf("%s/offset.tmp", dir);
	j->lock_path = webhook_strf("%s/lock", dir);
	if (!j->dir || !j->path || !j->tmp_path || !j->offset_path || !j->offset_tmp_path ||
	    !j->lock_path)
		return -1;
	return 0;
}

int webhook_journal_open(const char *dir, const struct webhook_journal_opts *o,
			 struct webhook_journal **out, berth_error *err)
{
	struct webhook_journal *j;
	struct stat st;
	uint64_t end;
	int rc, locked = 0;

	*out = NULL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return webhook_fail(err, BERTH_E_NOMEM, "out of memory");
	j->o = *o;
	j->lock_fd = j->wfd = j->rfd = -1;
	pthread_mutex_init(&j->lock, NULL);
	if (set_paths(j, dir) < 0) {
		rc = webhook_fail(err, BERTH_E_NOMEM, "out of memory");
		goto fail;
	}
	if (webhook_mkdir_p(dir) != 0) {
		rc = webhook_io_fail(err, "create the queue directory", dir);
		goto fail;
	}
	j->lock_fd = open(j->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (j->lock_fd < 0 || webhook_flock(j->lock_fd, LOCK_EX) != 0) {
		rc = webhook_io_fail(err, "lock", j->lock_path);
		goto fail;
	}
	locked = 1;
	rc = read_offset(j->offset_path, &j->committed);
	if (rc == BERTH_E_IO) {
		rc = webhook_io_fail(err, "read", j->offset_path);
		goto fail;
	}
	if (rc < 0)
		note(j, BERTH_LOG_ERROR,
		     "'%s' is unreadable: the journal is sent again from its start", j->offset_path);
	rc = open_journal(j, O_RDWR | O_APPEND, j->committed, &j->wfd, &j->wdev, &j->wino,
			  &j->wbase, &j->whlen, err);
	if (rc < 0)
		goto fail;
	rc = open_journal(j, O_RDONLY, j->committed, &j->rfd, &j->rdev, &j->rino, &j->rbase,
			  &j->rhlen, err);
	if (rc < 0)
		goto fail;
	if (fstat(j->rfd, &st) != 0) {
		rc = webhook_io_fail(err, "stat", j->path);
		goto fail;
	}
	end = j->rbase + (uint64_t)st.st_size - j->rhlen;
	if (j->committed < j->rbase || j->committed > end) {
		/* An offset that does not fit this journal: resend rather than lose. */
		if (j->committed > end)
			note(j, BERTH_LOG_WARN,
			     "offset %" PRIu64 " is past the journal's end: sending it again from "
			     "its start", j->committed);
		j->committed = j->rbase;
	}
	j->scan_end = j->committed;
	webhook_flock(j->lock_fd, LOCK_UN);
	*out = j;
	return 0;
fail:
	if (locked)
		webhook_flock(j->lock_fd, LOCK_UN);
	webhook_journal_close(j);
	return rc;
}

void webhook_journal_close(struct webhook_journal *j)
{
	if (!j)
		return;
	if (j->wfd >= 0)
		close(j->wfd);
	if (j->rfd >= 0)
		close(j->rfd);
	if (j->lock_fd >= 0)
		close(j->lock_fd);
	pthread_mutex_destroy(&j->lock);
	free(j->dir);
	free(j->path);
	free(j->tmp_path);
	free(j->offset_path);
	free(j->offset_tmp_path);
	free(j->lock_path);
	free(j);
}

/* ------------------------------------------------------------------------ */
/* Appending                                                                */
/* ------------------------------------------------------------------------ */

/* Make wfd the file at j->path again if a compaction elsewhere replaced it. Under both locks. */
static int follow_journal(struct webhook_journal *j, berth_error *err)
{
	struct stat st;
	uint64_t committed;

	if (j->wfd >= 0 && stat(j->path, &st) == 0 && st.st_dev == j->wdev &&
	    st.st_ino == j->wino)
		return 0;
	if (j->wfd >= 0)
		close(j->wfd);
	j->wfd = -1;
	/* A journal someone removed starts again where the deliveries stand. */
	if (read_offset(j->offset_path, &committed) < 0)
		committed = j->committed;
	return open_journal(j, O_RDWR | O_APPEND, committed, &j->wfd, &j->wdev, &j->wino,
			    &j->wbase, &j->whlen, err);
}

/* Cut a line a crash left without its '\n'. Under both locks. */
static int cut_torn_tail(struct webhook_journal *j, uint64_t *size)
{
	char buf[4096];
	uint64_t at = *size;

	while (at > j->whlen) {
		size_t n = at - j->whlen < sizeof(buf) ? (size_t)(at - j->whlen) : sizeof(buf);
		ssize_t got = webhook_pread_full(j->wfd, buf, n, at - n);

		if (got != (ssize_t)n)
			return -1;
		if (at == *size && buf[n - 1] == '\n')
			return 0;
		for (size_t i = n; i > 0; i--) {
			if (buf[i - 1] == '\n') {
				at = at - n + i;
				goto cut;
			}
		}
		at -= n;
	}
	at = j->whlen;
cut:
	if (ftruncate(j->wfd, (off_t)at) != 0)
		return -1;
	note(j, BERTH_LOG_WARN, "journal '%s': cut %" PRIu64 " bytes of a record a crash left "
	     "unfinished", j->path, *size - at);
	*size = at;
	return 0;
}

int webhook_journal_append(struct webhook_journal *j, const char *line, size_t len,
			   berth_error *err)
{
	struct iovec iov[2] = { { (void *)line, len }, { (void *)"\n", 1 } };
	struct stat st;
	uint64_t size, pos;
	size_t done = 0;
	int rc = 0;

	if (len == 0 || len >= WEBHOOK_RECORD_MAX || memchr(line, '\n', len))
		return webhook_fail(err, BERTH_E_INVALID, "not a journal record");
	pthread_mutex_lock(&j->lock);
	if (webhook_flock(j->lock_fd, LOCK_EX) != 0) {
		rc = webhook_io_fail(err, "lock", j->lock_path);
		pthread_mutex_unlock(&j->lock);
		return rc;
	}
	if ((rc = follow_journal(j, err)) < 0)
		goto out;
	if (fstat(j->wfd, &st) != 0) {
		rc = webhook_io_fail(err, "stat", j->path);
		goto out;
	}
	size = (uint64_t)st.st_size;
	if (size > j->whlen && cut_torn_tail(j, &size) != 0) {
		rc = webhook_io_fail(err, "repair", j->path);
		goto out;
	}
	pos = j->wbase + size - j->whlen;
	if (j->o.max_pending && pos >= j->committed &&
	    pos - j->committed + len + 1 > j->o.max_pending) {
		rc = webhook_fail(err, BERTH_E_NOSPACE,
				  "the queue holds %" PRIu64 " undelivered bytes (queue_max)",
				  pos - j->committed);
		goto out;
	}
	while (done < len + 1) {
		ssize_t n;
		struct iovec *v = iov;
		int cnt = 2;

		if (done >= len) {
			v = &iov[1];
			cnt = 1;
			iov[1].iov_base = (char *)"\n";
			iov[1].iov_len = 1;
		} else {
			iov[0].iov_base = (char *)line + done;
			iov[0].iov_len = len - done;
		}
		n = writev(j->wfd, v, cnt);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = webhook_io_fail(err, "append to", j->path);
			/* Leave no half record for the next reader. */
			if (ftruncate(j->wfd, (off_t)size) != 0)
				note(j, BERTH_LOG_ERROR, "cannot cut '%s' back: %s", j->path,
				     strerror(errno));
			goto out;
		}
		done += (size_t)n;
	}
	if (j->o.fsync && fdatasync(j->wfd) != 0) {
		rc = webhook_io_fail(err, "sync", j->path);
		goto out;
	}
	/* What the sender would count on its next scan, counted now. */
	if (j->wdev == j->rdev && j->wino == j->rino && pos == j->scan_end) {
		j->scan_end = pos + len + 1;
		j->pending++;
		if (j->o.on_depth)
			j->o.on_depth(j->o.depth_ctx, j->pending);
	}
out:
	webhook_flock(j->lock_fd, LOCK_UN);
	pthread_mutex_unlock(&j->lock);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Reading (the sender)                                                     */
/* ------------------------------------------------------------------------ */

static uint64_t phys(const struct webhook_journal *j, uint64_t pos)
{
	return j->rhlen + (pos - j->rbase);
}

/* The reader again after a compaction that could not reopen it. */
static int ensure_reader(struct webhook_journal *j, berth_error *err)
{
	int rc;

	if (j->rfd >= 0)
		return 0;
	pthread_mutex_lock(&j->lock);
	if (webhook_flock(j->lock_fd, LOCK_EX) != 0) {
		pthread_mutex_unlock(&j->lock);
		return webhook_io_fail(err, "lock", j->lock_path);
	}
	rc = open_journal(j, O_RDONLY, j->committed, &j->rfd, &j->rdev, &j->rino, &j->rbase,
			  &j->rhlen, err);
	if (rc == 0 && (j->committed < j->rbase || j->scan_end < j->rbase)) {
		j->committed = j->scan_end = j->rbase;
		j->pending = 0;
	}
	webhook_flock(j->lock_fd, LOCK_UN);
	pthread_mutex_unlock(&j->lock);
	return rc;
}

int webhook_journal_scan(struct webhook_journal *j, uint64_t *pending, berth_error *err)
{
	char buf[COPY_CHUNK];
	int rc = ensure_reader(j, err);

	if (rc < 0)
		return rc;

	for (;;) {
		uint64_t start, at, last_end, count = 0;

		pthread_mutex_lock(&j->lock);
		start = j->scan_end;
		pthread_mutex_unlock(&j->lock);
		/* Read without the lock: appenders must not wait on a long scan. */
		at = last_end = start;
		for (;;) {
			ssize_t n = webhook_pread_full(j->rfd, buf, sizeof(buf), phys(j, at));

			if (n < 0)
				return webhook_io_fail(err, "read", j->path);
			if (n == 0)
				break;
			for (ssize_t i = 0; i < n; i++) {
				if (buf[i] == '\n') {
					count++;
					last_end = at + (uint64_t)i + 1;
				}
			}
			at += (uint64_t)n;
		}
		pthread_mutex_lock(&j->lock);
		if (j->scan_end != start) {
			/* An append counted itself meanwhile: count again from there. */
			pthread_mutex_unlock(&j->lock);
			continue;
		}
		j->scan_end = last_end;
		j->pending += count;
		if (count && j->o.on_depth)
			j->o.on_depth(j->o.depth_ctx, j->pending);
		if (pending)
			*pending = j->pending;
		pthread_mutex_unlock(&j->lock);
		return 0;
	}
}

int webhook_journal_read(struct webhook_journal *j, uint64_t pos, char **line, size_t *len,
			 uint64_t *next, berth_error *err)
{
	uint64_t limit;
	size_t cap = 4096, got = 0;
	char *buf = NULL;
	int rc = BERTH_DECLINED;

	*line = NULL;
	*len = 0;
	pthread_mutex_lock(&j->lock);
	limit = j->scan_end;
	pthread_mutex_unlock(&j->lock);
	if (pos < j->rbase)
		return webhook_fail(err, BERTH_E_RANGE, "position %" PRIu64 " is before the journal",
				    pos);
	if (pos >= limit)
		return BERTH_DECLINED;
	for (;;) {
		size_t want;
		ssize_t n;
		char *nl;

		if (got == cap || !buf) {
			char *bigger;

			if (buf)
				cap *= 2;
			bigger = realloc(buf, cap + 1);
			if (!bigger) {
				rc = webhook_fail(err, BERTH_E_NOMEM, "out of memory");
				goto out;
			}
			buf = bigger;
		}
		want = cap - got;
		if (pos + got + want > limit)
			want = (size_t)(limit - pos - got);
		if (want == 0) {
			rc = webhook_fail(err, BERTH_E_IO, "'%s': record at %" PRIu64 " has no end",
					  j->path, pos);
			goto out;
		}
		n = webhook_pread_full(j->rfd, buf + got, want, phys(j, pos + got));
		if (n <= 0) {
			rc = n < 0 ? webhook_io_fail(err, "read", j->path)
				   : webhook_fail(err, BERTH_E_IO, "'%s' is shorter than scanned",
						  j->path);
			goto out;
		}
		nl = memchr(buf + got, '\n', (size_t)n);
		got += (size_t)n;
		if (nl) {
			size_t l = (size_t)(nl - buf);

			*next = pos + l + 1;
			buf[l] = '\0';
			*line = buf;
			*len = l;
			buf = NULL;
			rc = 0;
			goto out;
		}
		if (got >= WEBHOOK_RECORD_MAX) {
			/* Not a record of ours: hand back its start and skip the rest. */
			uint64_t at = pos + got;
			char c;

			while (at < limit && webhook_pread_full(j->rfd, &c, 1, phys(j, at)) == 1 && c != '\n')
				at++;
			*next = at + 1;
			buf[got] = '\0';
			*line = buf;
			*len = got;
			buf = NULL;
			rc = 0;
			goto out;
		}
	}
out:
	free(buf);
	return rc;
}

int webhook_journal_commit(struct webhook_journal *j, uint64_t pos, uint64_t n_records,
			   berth_error *err)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%" PRIu64 "\n", pos);
	int rc = webhook_replace_file(j->dir, j->offset_tmp_path, j->offset_path, text,
				      (size_t)n, j->o.fsync, err);

	if (rc < 0)
		return rc;
	pthread_mutex_lock(&j->lock);
	j->committed = pos;
	j->pending = j->pending > n_records ? j->pending - n_records : 0;
	if (j->o.on_depth)
		j->o.on_depth(j->o.depth_ctx, j->pending);
	pthread_mutex_unlock(&j->lock);
	return 0;
}

uint64_t webhook_journal_committed(struct webhook_journal *j)
{
	uint64_t c;

	pthread_mutex_lock(&j->lock);
	c = j->committed;
	pthread_mutex_unlock(&j->lock);
	return c;
}

uint64_t webhook_journal_file_size(struct webhook_journal *j)
{
	struct stat st;

	return fstat(j->rfd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* ------------------------------------------------------------------------ */
/* Compaction (the sender)                                                  */
/* ------------------------------------------------------------------------ */

/* Copy [from, to) of rfd (physical offsets) to fd; to == UINT64_MAX: to the end. */
static int copy_range(struct webhook_journal *j, int fd, uint64_t from, uint64_t to,
		      uint64_t *copied_to)
{
	char buf[COPY_CHUNK];

	while (from < to) {
		size_t want = to - from < sizeof(buf) ? (size_t)(to - from) : sizeof(buf);
		ssize_t n = webhook_pread_full(j->rfd, buf, want, from);

		if (n < 0)
			return -1;
		if (n == 0)
			break;
		if (webhook_write_all(fd, buf, (size_t)n) != 0)
			return -1;
		from += (uint64_t)n;
	}
	*copied_to = from;
	return 0;
}

int webhook_journal_compact(struct webhook_journal *j, int force, berth_error *err)
{
	char header[HEADER_MAX];
	uint64_t committed, scan_end, done_bytes, tail_bytes, copied;
	struct stat st;
	int fd = -1, rc = 0, locked = 0, n;

	pthread_mutex_lock(&j->lock);
	committed = j->committed;
	scan_end = j->scan_end;
	pthread_mutex_unlock(&j->lock);
	done_bytes = committed - j->rbase;
	tail_bytes = scan_end - committed;
	if (done_bytes == 0)
		return 0;
	/*
	 * Copying at most as much as it frees keeps the cost linear overall;
	 * with nothing left to copy, a smaller prefix is worth dropping.
	 */
	if (!force && !(done_bytes >= j->o.compact_min && done_bytes >= tail_bytes) &&
	    !(tail_bytes == 0 && done_bytes >= j->o.compact_min / 16))
		return 0;
	fd = open(j->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return webhook_io_fail(err, "create", j->tmp_path);
	n = snprintf(header, sizeof(header), HEADER_FMT, committed);
	/* Complete records never change: copy them before taking any lock. */
	if (webhook_write_all(fd, header, (size_t)n) != 0 ||
	    copy_range(j, fd, phys(j, committed), phys(j, scan_end), &copied) != 0) {
		rc = webhook_io_fail(err, "write", j->tmp_path);
		goto out;
	}
	pthread_mutex_lock(&j->lock);
	if (webhook_flock(j->lock_fd, LOCK_EX) != 0) {
		pthread_mutex_unlock(&j->lock);
		rc = webhook_io_fail(err, "lock", j->lock_path);
		goto out;
	}
	locked = 1;
	if (stat(j->path, &st) != 0 || st.st_dev != j->rdev || st.st_ino != j->rino) {
		/* Replaced under us (by hand): leave it alone. */
		rc = webhook_fail(err, BERTH_E_AGAIN, "'%s' changed during compaction", j->path);
		goto out;
	}
	/* What was appended since, up to the end (a torn tail is cut by the next append). */
	if (copy_range(j, fd, copied, UINT64_MAX, &copied) != 0 ||
	    (j->o.fsync && fdatasync(fd) != 0)) {
		rc = webhook_io_fail(err, "write", j->tmp_path);
		goto out;
	}
	close(fd);
	fd = -1;
	if (rename(j->tmp_path, j->path) != 0) {
		rc = webhook_io_fail(err, "rename into", j->path);
		goto out;
	}
	if (j->o.fsync)
		webhook_sync_dir(j->dir);
	close(j->rfd);
	close(j->wfd);
	j->rfd = j->wfd = -1;
	rc = open_journal(j, O_RDONLY, committed, &j->rfd, &j->rdev, &j->rino, &j->rbase,
			  &j->rhlen, err);
	if (rc == 0)
		rc = open_journal(j, O_RDWR | O_APPEND, committed, &j->wfd, &j->wdev, &j->wino,
				  &j->wbase, &j->whlen, err);
out:
	if (fd >= 0) {
		close(fd);
		unlink(j->tmp_path);
	}
	if (locked) {
		webhook_flock(j->lock_fd, LOCK_UN);
		pthread_mutex_unlock(&j->lock);
	}
	return rc;
}
