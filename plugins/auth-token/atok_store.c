/*
 * atok_store.c - the accounts as the hooks see them: an immutable snapshot
 * of the users and robots files, swapped when a file changes.
 *
 * A hook takes a reference to the current snapshot and drops it when it
 * returns, so a reload never frees what a concurrent request still reads.
 * Files are stat()ed at most once a second (on the request that comes
 * after the second has passed): an edit, a `berth passwd` or a deleted
 * robot line counts from the next second on, with no signal to send.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth_token.h"

#define ACCOUNTS_FILE_MAX (64u * 1024 * 1024)
#define RECHECK_MS 1000

static void sig_of(const struct stat *st, atok_file_sig *sig)
{
	sig->exists = 1;
	sig->dev = (uint64_t)st->st_dev;
	sig->ino = (uint64_t)st->st_ino;
	sig->size = (uint64_t)st->st_size;
	sig->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static void sig_now(const char *path, atok_file_sig *sig)
{
	struct stat st;

	memset(sig, 0, sizeof(*sig));
	if (path && stat(path, &st) == 0)
		sig_of(&st, sig);
}

static int sig_equal(const atok_file_sig *a, const atok_file_sig *b)
{
	return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && a->mtime_ns == b->mtime_ns;
}

/* The whole file, NUL-terminated; its signature from the open file. */
static int read_file(const char *path, char **out, size_t *len, atok_file_sig *sig,
		     berth_error *err)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, rc = 0;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return atok_fail(err, errno == ENOENT ? BERTH_E_NOT_FOUND : BERTH_E_IO,
				 "cannot open '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = atok_fail(err, BERTH_E_IO, "'%s' is not a readable file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > ACCOUNTS_FILE_MAX) {
		rc = atok_fail(err, BERTH_E_TOO_LARGE, "'%s' is larger than %u bytes", path,
			       ACCOUNTS_FILE_MAX);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = atok_fail(err, BERTH_E_NOMEM, "out of memory");
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = atok_fail(err, BERTH_E_IO, "cannot read '%s': %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	sig_of(&st, sig);
	*out = buf;
	*len = got;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

struct report_ctx {
	atok_store *s;
	const char *path;
};

static void report_line(void *ctx, size_t line, const char *why)
{
	struct report_ctx *r = ctx;

	r->s->host->log(r->s->self, BERTH_LOG_WARN, "%s:%zu: %s", r->path, line, why);
}

/*
 * Parse one file into acc. A file that is gone counts as empty (deleting
 * the robots file revokes every robot) unless `required`.
 */
static int load_one(atok_store *s, const char *path, int robots, int required,
		    atok_accounts *acc, atok_file_sig *sig, berth_error *err)
{
	struct report_ctx rctx = {s, path};
	char *text = NULL;
	size_t len = 0;
	int rc;

	memset(sig, 0, sizeof(*sig));
	if (!path)
		return 0;
	rc = read_file(path, &text, &len, sig, err);
	if (rc == BERTH_E_NOT_FOUND && !required) {
		s->host->log(s->self, BERTH_LOG_ERROR, "%s: %s; no %s until it is back", path,
			     "the file is gone", robots ? "robots" : "users");
		return 0;
	}
	if (rc < 0)
		return rc;
	rc = robots ? atok_robots_parse(text, len, acc, report_line, &rctx)
		    : atok_users_parse(text, len, acc, report_line, &rctx);
	free(text);
	if (rc < 0)
		return atok_fail(err, rc, "cannot read '%s': out of memory", path);
	return 0;
}

static void db_free(atok_db *db)
{
	if (!db)
		return;
	atok_accounts_free(&db->acc);
	free(db);
}

void atok_db_put(atok_db *db)
{
	if (db && atomic_fetch_sub(&db->refs, 1) == 1)
		db_free(db);
}

static atok_db *db_build(atok_store *s, int required, atok_file_sig *users_sig,
			 atok_file_sig *robots_sig, berth_error *err)
{
	atok_db *db = calloc(1, sizeof(*db));
	struct report_ctx rctx = {s, NULL};
	int rc;

	if (!db) {
		atok_fail(err, BERTH_E_NOMEM, "out of memory");
		return NULL;
	}
	atomic_init(&db->refs, 1);
	rc = load_one(s, s->users_path, 0, required, &db->acc, users_sig, err);
	if (rc == 0)
		rc = load_one(s, s->robots_path, 1, required, &db->acc, robots_sig, err);
	if (rc < 0) {
		db_free(db);
		return NULL;
	}
	rctx.path = s->robots_path ? s->robots_path : s->users_path;
	atok_accounts_index(&db->acc, report_line, &rctx);
	return db;
}

int atok_store_init(atok_store *s, const berth_host *host, const berth_instance *self,
		    const char *users_path, const char *robots_path, berth_error *err)
{
	memset(s, 0, sizeof(*s));
	s->host = host;
	s->self = self;
	s->users_path = users_path;
	s->robots_path = robots_path;
	s->current = db_build(s, 1, &s->users_sig, &s->robots_sig, err);
	if (!s->current)
		return err ? err->code : BERTH_E_IO;
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		db_free(s->current);
		s->current = NULL;
		return atok_fail(err, BERTH_E_NOMEM, "cannot create a mutex");
	}
	s->checked_ms = host->monotonic_ms();
	return 0;
}

void atok_store_destroy(atok_store *s)
{
	if (!s->current)
		return;
	atok_db_put(s->current);
	s->current = NULL;
	pthread_mutex_destroy(&s->lock);
}

/* Called with the lock held. */
static void reload_locked(atok_store *s, int force)
{
	atok_file_sig users, robots, new_users, new_robots;
	berth_error err = {0};
	atok_db *db;

	sig_now(s->users_path, &users);
	sig_now(s->robots_path, &robots);
	if (!force && sig_equal(&users, &s->users_sig) && sig_equal(&robots, &s->robots_sig))
		return;
	db = db_build(s, 0, &new_users, &new_robots, &err);
	if (!db) {
		/* Keep serving the last good accounts; try again in a second. */
		s->host->log(s->self, BERTH_LOG_ERROR, "accounts not reloaded: %s", err.message);
		return;
	}
	s->users_sig = new_users;
	s->robots_sig = new_robots;
	atok_db_put(s->current);
	s->current = db;
	s->generation++;
	s->host->log(s->self, BERTH_LOG_INFO, "accounts reloaded: %zu users, %zu robots",
		     db->acc.n_users, db->acc.n_robots);
}

atok_db *atok_store_get(atok_store *s)
{
	int64_t now = s->host->monotonic_ms();
	atok_db *db;

	pthread_mutex_lock(&s->lock);
	if (now - s->checked_ms >= RECHECK_MS) {
		s->checked_ms = now;
		reload_locked(s, 0);
	}
	db = s->current;
	atomic_fetch_add(&db->refs, 1);
	pthread_mutex_unlock(&s->lock);
	return db;
}

void atok_store_reload(atok_store *s)
{
	pthread_mutex_lock(&s->lock);
	s->checked_ms = s->host->monotonic_ms();
	reload_locked(s, 1);
	pthread_mutex_unlock(&s->lock);
}
