/*
 * test_file.c - the audit file (audit_file.c) on a real file system:
 * creation mode whatever the umask, appending to what is there, rotation
 * by size (the rename chain, keep, no file over max_size, every line kept),
 * reopening after the file was moved away, concurrent writers whose lines
 * stay whole, and a file that cannot grow (RLIMIT_FSIZE standing in for a
 * full disk): no half line left, one error per burst, every lost line
 * counted, and a message once it works again.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "test.h"

static char dir[256];

struct seen {
	pthread_mutex_t lock;
	int errors, infos, lost, written;
	char last[512];
};

static void on_log(void *ctx, int level, const char *message)
{
	struct seen *s = ctx;

	pthread_mutex_lock(&s->lock);
	if (level == BERTH_LOG_ERROR)
		s->errors++;
	else
		s->infos++;
	snprintf(s->last, sizeof(s->last), "%s", message);
	pthread_mutex_unlock(&s->lock);
}

static void on_lost(void *ctx)
{
	struct seen *s = ctx;

	pthread_mutex_lock(&s->lock);
	s->lost++;
	pthread_mutex_unlock(&s->lock);
}

static void on_written(void *ctx)
{
	struct seen *s = ctx;

	pthread_mutex_lock(&s->lock);
	s->written++;
	pthread_mutex_unlock(&s->lock);
}

static struct audit_file *open_file(const char *path, uint64_t max_size, int keep, mode_t mode,
				    struct seen *s)
{
	struct audit_file_options opt = {.path = path, .fsync = AUDIT_FSYNC_ALWAYS,
					 .fsync_interval_ms = 1000, .max_size = max_size,
					 .keep = keep, .mode = mode, .lock_wait_ms = 2000};
	struct audit_file_events ev = {.ctx = s, .log = on_log, .lost = on_lost,
				       .written = on_written};
	struct audit_file *f = NULL;
	berth_error err = {0};
	int rc = audit_file_open(&opt, &ev, &f, &err);

	CHECK_INT(rc, 0);
	if (rc)
		fprintf(stderr, "open: %s\n", err.message);
	return f;
}

static void path_of(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

/* Lines of a file (0 when absent); *whole is cleared if one is not "line <n>...\n". */
static int count_lines(const char *path, long long *size, int *whole)
{
	FILE *fp = fopen(path, "r");
	char buf[4096];
	int n = 0;

	*size = 0;
	if (!fp)
		return 0;
	while (fgets(buf, sizeof(buf), fp)) {
		size_t len = strlen(buf);
		if (len == 0 || buf[len - 1] != '\n' || strncmp(buf, "{\"n\":", 5) != 0 ||
		    buf[len - 2] != '}')
			*whole = 0;
		n++;
		*size += (long long)len;
	}
	fclose(fp);
	return n;
}

static size_t make_line(char *buf, size_t cap, int n, size_t pad)
{
	int len = snprintf(buf, cap, "{\"n\":%d,\"pad\":\"%*s\"}\n", n, (int)pad, "");

	return (size_t)len;
}

static void test_mode_and_append(void)
{
	char path[512];
	struct seen s = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct audit_file *f;
	struct stat st;
	mode_t old = umask(0);
	long long size;
	int whole = 1;
	char line[128];

	path_of(path, sizeof(path), "mode.log");
	f = open_file(path, 0, 0, 0600, &s);
	umask(old);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	audit_file_write(f, line, make_line(line, sizeof(line), 1, 0));
	audit_file_close(f);

	/* An existing file is appended to and keeps its mode. */
	chmod(path, 0640);
	f = open_file(path, 0, 0, 0600, &s);
	audit_file_write(f, line, make_line(line, sizeof(line), 2, 0));
	audit_file_close(f);
	CHECK_INT(count_lines(path, &size, &whole), 2);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);

	old = umask(077);
	path_of(path, sizeof(path), "mode640.log");
	f = open_file(path, 0, 0, 0640, &s);
	umask(old);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);
	audit_file_close(f);
	CHECK_INT(s.errors, 0);
	CHECK_INT(s.written, 2);
}

static void test_open_errors(void)
{
	struct audit_file_options opt = {.path = "/nonexistent-dir/x/audit.log", .mode = 0600};
	struct audit_file *f = NULL;
	berth_error err = {0};

	CHECK_INT(audit_file_open(&opt, NULL, &f, &err), BERTH_E_CONFIG);
	CHECK(f == NULL);
	CHECK(strstr(err.message, "cannot open audit log '/nonexistent-dir/x/audit.log'") != NULL);
	CHECK(strstr(err.message, "No such file or directory") != NULL);
}

static void test_rotation(void)
{
	char path[512], name[600];
	struct seen s = {.lock = PTHREAD_MUTEX_INITIALIZER};
	const uint64_t max = 4096;
	const int keep = 100, lines = 500;
	struct audit_file *f;
	int total = 0, files = 0, whole = 1;
	char line[256];

	path_of(path, sizeof(path), "rot.log");
	f = open_file(path, max, keep, 0600, &s);
	for (int i = 0; i < lines; i++)
		CHECK_INT(audit_file_write(f, line, make_line(line, sizeof(line), i, (size_t)(i % 90))),
			  0);
	audit_file_close(f);
	for (int i = 0; i <= keep; i++) {
		long long size;
		int n;

		if (i == 0)
			snprintf(name, sizeof(name), "%s", path);
		else
			snprintf(name, sizeof(name), "%s.%d", path, i);
		n = count_lines(name, &size, &whole);
		if (n == 0)
			break;
		files++;
		total += n;
		CHECK(size <= (long long)max);
	}
	CHECK(files > 3);
	CHECK_INT(total, lines);
	CHECK(whole);
	/* The newest old file follows the current one: path.1 ends with the line before path's first. */
	{
		FILE *cur = fopen(path, "r"), *prev;
		char first[256] = "", last[256] = "", buf[256];
		int a = -1, b = -1;

		snprintf(name, sizeof(name), "%s.1", path);
		prev = fopen(name, "r");
		if (cur && fgets(first, sizeof(first), cur))
			sscanf(first, "{\"n\":%d", &a);
		while (prev && fgets(buf, sizeof(buf), prev))
			snprintf(last, sizeof(last), "%s", buf);
		sscanf(last, "{\"n\":%d", &b);
		CHECK_INT(a, b + 1);
		if (cur)
			fclose(cur);
		if (prev)
			fclose(prev);
	}
	CHECK_INT(s.errors, 0);
}

static void test_keep_limits_files(void)
{
	char path[512], name[600];
	struct seen s = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct audit_file *f;
	char line[256];
	struct stat st;

	path_of(path, sizeof(path), "keep.log");
	f = open_file(path, 1024, 2, 0600, &s);
	for (int i = 0; i < 200; i++)
		audit_file_write(f, line, make_line(line, sizeof(line), i, 40));
	audit_file_close(f);
	snprintf(name, sizeof(name), "%s.1", path);
	CHECK(stat(name, &st) == 0);
	snprintf(name, sizeof(name), "%s.2", path);
	CHECK(stat(name, &st) == 0 && (st.st_mode & 0777) == 0600);
	snprintf(name, sizeof(name), "%s.3", path);
	CHECK(stat(name, &st) != 0 && errno == ENOENT);

	/* keep 0: the file starts afresh, nothing else is left. */
	path_of(path, sizeof(path), "keep0.log");
	f = open_file(path, 1024, 0, 0600, &s);
	for (int i = 0; i < 200; i++)
		audit_file_write(f, line, make_line(line, sizeof(line), i, 40));
	audit_file_close(f);
	CHECK(stat(path, &st) == 0 && st.st_size <= 1024 && st.st_size > 0);
	snprintf(name, sizeof(name), "%s.1", path);
	CHECK(stat(name, &st) != 0);
	CHECK_INT(s.errors, 0);
}

/* A line longer than max_size gets a file of its own, not a lost line. */
static void test_line_over_max(void)
{
	char path[512], name[600];
	struct seen s = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct audit_file *f;
	char line[3000];
	long long size;
	int whole = 1;

	path_of(path, sizeof(path), "big.log");
	f = open_file(path, 1024, 5, 0600, &s);
	audit_file_write(f, line, make_line(line, sizeof(line), 1, 10));
	CHECK_INT(audit_file_write(f, line, make_line(line, sizeof(line), 2, 2000)), 0);
	audit_file_write(f, line, make_line(line, sizeof(line), 3, 10));
	audit_file_close(f);
	snprintf(name, sizeof(name), "%s.2", path);
	CHECK_INT(count_lines(name, &size, &whole), 1);
	snprintf(name, sizeof(name), "%s.1", path);
	CHECK_INT(count_lines(name, &size, &whole), 1);
	CHECK(size > 1024);
	CHECK_INT(count_lines(path, &size, &whole), 1);
	CHECK(whole);
}

static void test_reopen(void)
{
	char path[512], moved[600];
	struct seen s = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct audit_file *f;
	char line[128];
	long long size;
	int whole = 1;

	path_of(path, sizeof(path), "reopen.log");
	snprintf(moved, sizeof(moved), "%s.moved", path);
	f = open_file(path, 0, 0, 0600, &s);
	audit_file_write(f, line, make_line(line, sizeof(line), 1, 0));
	CHECK(rename(path, moved) == 0);
	/* Until reopened, lines follow the file that was moved. */
	audit_file_write(f, line, make_line(line, sizeof(line), 2, 0));
	audit_file_reopen(f);
	audit_file_write(f, line, make_line(line, sizeof(line), 3, 0));
	audit_file_write(f, line, make_line(line, sizeof(line), 4, 0));
	CHECK_INT(count_lines(moved, &size, &whole), 2);
	CHECK_INT(count_lines(path, &size, &whole), 2);
	CHECK(strstr(s.last, "reopened") != NULL);

	/* A reopen that fails keeps writing where it wrote. */
	CHECK(rename(path, moved) == 0);
	CHECK(mkdir(path, 0700) == 0);
	audit_file_reopen(f);
	CHECK_INT(s.errors, 1);
	CHECK(strstr(s.last, "cannot reopen audit log") != NULL);
	CHECK_INT(audit_file_write(f, line, make_line(line, sizeof(line), 5, 0)), 0);
	CHECK_INT(count_lines(moved, &size, &whole), 3);
	audit_file_close(f);
	rmdir(path);
}

#define THREADS 8
#define PER_THREAD 400

struct writer {
	struct audit_file *f;
	int id;
};

static void *write_many(void *arg)
{
	struct writer *w = arg;
	char line[512];

	for (int i = 0; i < PER_THREAD; i++)
		audit_file_write(w->f, line,
				 make_line(line, sizeof(line), w->id * PER_THREAD + i,
					   (size_t)(50 + (i * 37) % 300)));
	return NULL;
}

static void test_concurrent_writers(void)
{
	char path[512], name[600];
	struct seen s = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct audit_file_options opt = {.fsync = AUDIT_FSYNC_INTERVAL, .fsync_interval_ms = 5,
					 .max_size = 64 * 1024, .keep = 200, .mode = 0600};
	struct audit_file_events ev = {.ctx = &s, .log = on_log, .lost = on_lost,
				       .written = on_written};
	struct audit_file *f = NULL;
	struct writer w[THREADS];
	pthread_t t[THREADS];
	berth_error err = {0};
	int total = 0, whole = 1;
	long long size;

	path_of(path, sizeof(path), "many.log");
	opt.path = path;
	CHECK_INT(audit_file_open(&opt, &ev, &f, &err), 0);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct writer){.f = f, .id = i};
		pthread_create(&t[i], NULL, write_many, &w[i]);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	audit_file_sync(f);
	audit_file_close(f);
	total = count_lines(path, &size, &whole);
	CHECK(size <= 64 * 1024);
	for (int i = 1; i <= 200; i++) {
		snprintf(name, sizeof(name), "%s.%d", path, i);
		total += count_lines(name, &size, &whole);
		CHECK(size <= 64 * 1024);
	}
	CHECK_INT(total, THREADS * PER_THREAD);
	CHECK_INT(s.written, THREADS * PER_THREAD);
	CHECK(whole);
	CHECK_INT(s.errors, 0);
}

/* The file cannot grow past a limit: writes fail part-way, as on a full disk. */
static void test_cannot_grow(void)
{
	char path[512];
	struct seen s = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct audit_file *f;
	struct rlimit old, lim;
	char line[600];
	long long size;
	int whole = 1, n;

	path_of(path, sizeof(path), "full.log");
	f = open_file(path, 0, 0, 0600, &s);
	for (int i = 0; i < 3; i++)
		audit_file_write(f, line, make_line(line, sizeof(line), i, 100));
	count_lines(path, &size, &whole);
	getrlimit(RLIMIT_FSIZE, &old);
	/* Room for part of one more line only. */
	lim.rlim_cur = (rlim_t)size + 50;
	lim.rlim_max = old.rlim_max;
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	for (int i = 3; i < 10; i++)
		CHECK(audit_file_write(f, line, make_line(line, sizeof(line), i, 400)) < 0);
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	/* One error for the burst, seven lines counted, no half line left. */
	CHECK_INT(s.errors, 1);
	CHECK_INT(s.lost, 7);
	n = count_lines(path, &size, &whole);
	CHECK_INT(n, 3);
	CHECK(whole);
	CHECK_INT(audit_file_write(f, line, make_line(line, sizeof(line), 10, 10)), 0);
	CHECK(strstr(s.last, "written again; 7 lines were lost") != NULL);
	CHECK_INT(count_lines(path, &size, &whole), 4);
	CHECK(whole);

	/* A second burst is reported again. */
	count_lines(path, &size, &whole);
	lim.rlim_cur = (rlim_t)size;
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	CHECK(audit_file_write(f, line, make_line(line, sizeof(line), 11, 10)) < 0);
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	CHECK_INT(s.errors, 2);
	audit_file_close(f);
}

int main(void)
{
	char cmd[300];

	snprintf(dir, sizeof(dir), "/tmp/audit-file-test-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	/* Past RLIMIT_FSIZE, write() fails with EFBIG instead of killing the process. */
	signal(SIGXFSZ, SIG_IGN);
	test_mode_and_append();
	test_open_errors();
	test_rotation();
	test_keep_limits_files();
	test_line_over_max();
	test_reopen();
	test_concurrent_writers();
	test_cannot_grow();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	TEST_MAIN_END();
}
