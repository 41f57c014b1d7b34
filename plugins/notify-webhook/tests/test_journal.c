/*
 * test_journal.c - the durable queue on a real directory: replay after a
 * reopen, the committed offset, compaction (positions unchanged, the file
 * shorter), a record torn by a crash, appends from a second handle (as
 * from `berth job run`), concurrent appends, the queue_max bound and
 * damaged files.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "webhook.h"

static uint64_t last_depth;

static void on_depth(void *ctx, uint64_t pending)
{
	(void)ctx;
	last_depth = pending;
}

static struct webhook_journal_opts opts(void)
{
	struct webhook_journal_opts o = {
		.fsync = 0,
		.compact_min = 64,
		.on_depth = on_depth,
	};
	return o;
}

static struct webhook_journal *open_dir(const char *dir, struct webhook_journal_opts o)
{
	struct webhook_journal *j = NULL;
	berth_error err = {0};
	int rc = webhook_journal_open(dir, &o, &j, &err);

	if (rc != 0)
		fprintf(stderr, "open %s: %s\n", dir, err.message);
	CHECK_INT(rc, 0);
	return j;
}

static void append(struct webhook_journal *j, const char *text)
{
	berth_error err = {0};

	CHECK_INT(webhook_journal_append(j, text, strlen(text), &err), 0);
}

/* The record at *pos as text (static buffer), advancing *pos; NULL when none. */
static const char *next_record(struct webhook_journal *j, uint64_t *pos)
{
	static char out[256];
	berth_error err = {0};
	char *line = NULL;
	size_t len = 0;
	uint64_t next = 0;
	int rc = webhook_journal_read(j, *pos, &line, &len, &next, &err);

	if (rc == BERTH_DECLINED)
		return NULL;
	CHECK_INT(rc, 0);
	if (rc != 0)
		return NULL;
	snprintf(out, sizeof(out), "%s", line);
	free(line);
	*pos = next;
	return out;
}

static uint64_t scan(struct webhook_journal *j)
{
	berth_error err = {0};
	uint64_t pending = 0;

	CHECK_INT(webhook_journal_scan(j, &pending, &err), 0);
	return pending;
}

static char *path_in(const char *dir, const char *name)
{
	static char buf[4096 + 64];

	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

static char *slurp(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "rb");
	size_t n = 0;

	buf[0] = '\0';
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

static void test_replay_and_offset(const char *root)
{
	char dir[4096];
	struct webhook_journal *j;
	berth_error err = {0};
	uint64_t pos, after_two;

	snprintf(dir, sizeof(dir), "%s/replay/deep/er", root);
	j = open_dir(dir, opts());
	CHECK_INT(webhook_journal_committed(j), 0);
	CHECK_INT(scan(j), 0);
	append(j, "{\"n\":1}");
	append(j, "{\"n\":2}");
	append(j, "{\"n\":3}");
	/* Appends of this process are counted as they happen. */
	CHECK_INT(last_depth, 3);
	CHECK_INT(scan(j), 3);
	pos = 0;
	CHECK_STR(next_record(j, &pos), "{\"n\":1}");
	CHECK_STR(next_record(j, &pos), "{\"n\":2}");
	after_two = pos;
	CHECK_INT(webhook_journal_commit(j, after_two, 2, &err), 0);
	CHECK_INT(last_depth, 1);
	CHECK_STR(slurp(path_in(dir, "offset")), "16\n");
	webhook_journal_close(j);

	/* A restart: what was committed is not read again, the rest is. */
	j = open_dir(dir, opts());
	CHECK_INT(webhook_journal_committed(j), after_two);
	CHECK_INT(scan(j), 1);
	pos = webhook_journal_committed(j);
	CHECK_STR(next_record(j, &pos), "{\"n\":3}");
	CHECK(next_record(j, &pos) == NULL);
	CHECK_INT(webhook_journal_commit(j, pos, 1, &err), 0);
	CHECK_INT(last_depth, 0);
	webhook_journal_close(j);

	j = open_dir(dir, opts());
	CHECK_INT(scan(j), 0);
	pos = webhook_journal_committed(j);
	CHECK(next_record(j, &pos) == NULL);
	webhook_journal_close(j);
}

static void test_compaction(const char *root)
{
	char dir[4096], rec[64];
	struct webhook_journal *j;
	berth_error err = {0};
	uint64_t pos = 0, commit_at = 0;
	off_t before, after;

	snprintf(dir, sizeof(dir), "%s/compact", root);
	j = open_dir(dir, opts());
	for (int i = 0; i < 100; i++) {
		snprintf(rec, sizeof(rec), "{\"n\":%d,\"pad\":\"xxxxxxxxxxxxxxxx\"}", i);
		append(j, rec);
	}
	CHECK_INT(scan(j), 100);
	for (int i = 0; i < 90; i++)
		next_record(j, &pos);
	commit_at = pos;
	/* Not delivered yet: nothing to drop. */
	before = file_size(path_in(dir, "journal"));
	CHECK_INT(webhook_journal_compact(j, 0, &err), 0);
	CHECK_INT(file_size(path_in(dir, "journal")), before);
	CHECK_INT(webhook_journal_commit(j, commit_at, 90, &err), 0);
	CHECK_INT(webhook_journal_compact(j, 0, &err), 0);
	after = file_size(path_in(dir, "journal"));
	CHECK(after < before / 5);
	CHECK_INT((uint64_t)after, webhook_journal_file_size(j));
	/* Positions did not move: the same position reads the same record. */
	CHECK_STR(next_record(j, &pos), "{\"n\":90,\"pad\":\"xxxxxxxxxxxxxxxx\"}");
	/* Appends after a compaction land in the new file and are counted. */
	append(j, "{\"n\":100}");
	CHECK_INT(scan(j), 11);
	webhook_journal_close(j);
	CHECK(access(path_in(dir, "journal.tmp"), F_OK) != 0);

	/* After a restart too. */
	j = open_dir(dir, opts());
	CHECK_INT(webhook_journal_committed(j), commit_at);
	CHECK_INT(scan(j), 11);
	pos = commit_at;
	CHECK_STR(next_record(j, &pos), "{\"n\":90,\"pad\":\"xxxxxxxxxxxxxxxx\"}");
	for (int i = 91; i < 100; i++)
		next_record(j, &pos);
	CHECK_STR(next_record(j, &pos), "{\"n\":100}");
	CHECK(next_record(j, &pos) == NULL);
	/* Everything delivered: the file shrinks to its header. */
	CHECK_INT(webhook_journal_commit(j, pos, 11, &err), 0);
	CHECK_INT(webhook_journal_compact(j, 0, &err), 0);
	CHECK(file_size(path_in(dir, "journal")) < 64);
	CHECK(strstr(slurp(path_in(dir, "journal")), "\"base\":") != NULL);
	webhook_journal_close(j);
}

/* A small delivered prefix is dropped only once nothing is left to copy. */
static void test_compaction_caught_up(const char *root)
{
	struct webhook_journal_opts o = opts();
	char dir[4096];
	struct webhook_journal *j;
	berth_error err = {0};
	uint64_t pos = 0;
	off_t before;

	snprintf(dir, sizeof(dir), "%s/caught-up", root);
	o.compact_min = 1600;
	j = open_dir(dir, o);
	for (int i = 0; i < 4; i++)
		append(j, "{\"n\":0,\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxx\"}");
	CHECK_INT(scan(j), 4);
	for (int i = 0; i < 3; i++)
		next_record(j, &pos);
	CHECK_INT(webhook_journal_commit(j, pos, 3, &err), 0);
	before = file_size(path_in(dir, "journal"));
	CHECK_INT(webhook_journal_compact(j, 0, &err), 0);
	CHECK_INT(file_size(path_in(dir, "journal")), before);
	next_record(j, &pos);
	CHECK_INT(webhook_journal_commit(j, pos, 1, &err), 0);
	CHECK_INT(webhook_journal_compact(j, 0, &err), 0);
	CHECK(file_size(path_in(dir, "journal")) < 64);
	webhook_journal_close(j);
}

static void test_torn_line(const char *root)
{
	char dir[4096];
	struct webhook_journal *j;
	uint64_t pos;
	int fd;

	snprintf(dir, sizeof(dir), "%s/torn", root);
	j = open_dir(dir, opts());
	append(j, "{\"n\":1}");
	webhook_journal_close(j);
	/* A crash in the middle of the second record's write. */
	fd = open(path_in(dir, "journal"), O_WRONLY | O_APPEND);
	CHECK(fd >= 0);
	CHECK(write(fd, "{\"n\":2,\"half", 12) == 12);
	close(fd);

	j = open_dir(dir, opts());
	CHECK_INT(scan(j), 1);
	pos = 0;
	CHECK_STR(next_record(j, &pos), "{\"n\":1}");
	CHECK(next_record(j, &pos) == NULL);
	/* The next append cuts the torn text off instead of gluing onto it. */
	append(j, "{\"n\":3}");
	CHECK_INT(scan(j), 2);
	CHECK_STR(next_record(j, &pos), "{\"n\":3}");
	CHECK(next_record(j, &pos) == NULL);
	CHECK(strstr(slurp(path_in(dir, "journal")), "half") == NULL);
	webhook_journal_close(j);

	/* A torn record that is the only one: cut back to the header. */
	snprintf(dir, sizeof(dir), "%s/torn-only", root);
	j = open_dir(dir, opts());
	webhook_journal_close(j);
	fd = open(path_in(dir, "journal"), O_WRONLY | O_APPEND);
	CHECK(write(fd, "{\"half", 6) == 6);
	close(fd);
	j = open_dir(dir, opts());
	CHECK_INT(scan(j), 0);
	append(j, "{\"n\":4}");
	CHECK_INT(scan(j), 1);
	pos = 0;
	CHECK_STR(next_record(j, &pos), "{\"n\":4}");
	webhook_journal_close(j);
}

static void test_two_handles(const char *root)
{
	char dir[4096];
	struct webhook_journal *server, *job;
	berth_error err = {0};
	uint64_t pos = 0;

	snprintf(dir, sizeof(dir), "%s/two", root);
	server = open_dir(dir, opts());
	job = open_dir(dir, opts());
	append(server, "{\"from\":\"server\"}");
	append(job, "{\"from\":\"job\"}");
	/* The other handle's append is found by a scan. */
	CHECK_INT(scan(server), 2);
	CHECK_STR(next_record(server, &pos), "{\"from\":\"server\"}");
	CHECK_STR(next_record(server, &pos), "{\"from\":\"job\"}");
	CHECK_INT(webhook_journal_commit(server, pos, 2, &err), 0);
	CHECK_INT(webhook_journal_compact(server, 1, &err), 0);
	/* The job's handle follows the compacted file. */
	append(job, "{\"from\":\"job\",\"n\":2}");
	CHECK_INT(scan(server), 1);
	CHECK_STR(next_record(server, &pos), "{\"from\":\"job\",\"n\":2}");
	webhook_journal_close(job);
	webhook_journal_close(server);
}

struct writer {
	struct webhook_journal *j;
	int id;
};

#define WRITERS 4
#define PER_WRITER 500

static void *write_many(void *arg)
{
	struct writer *w = arg;
	char rec[64];

	for (int i = 0; i < PER_WRITER; i++) {
		snprintf(rec, sizeof(rec), "{\"w\":%d,\"i\":%d}", w->id, i);
		append(w->j, rec);
	}
	return NULL;
}

static void test_concurrent_appends(const char *root)
{
	char dir[4096];
	struct webhook_journal *j;
	struct writer w[WRITERS];
	pthread_t t[WRITERS];
	int next_i[WRITERS] = {0}, in_order = 1, total = 0;
	uint64_t pos = 0;
	const char *r;

	snprintf(dir, sizeof(dir), "%s/concurrent", root);
	j = open_dir(dir, opts());
	for (int i = 0; i < WRITERS; i++) {
		w[i].j = j;
		w[i].id = i;
		pthread_create(&t[i], NULL, write_many, &w[i]);
	}
	/* The reader scans while the writers write. */
	for (int i = 0; i < 20; i++)
		scan(j);
	for (int i = 0; i < WRITERS; i++)
		pthread_join(t[i], NULL);
	CHECK_INT(scan(j), WRITERS * PER_WRITER);
	while ((r = next_record(j, &pos))) {
		int wid = -1, idx = -1;

		if (sscanf(r, "{\"w\":%d,\"i\":%d}", &wid, &idx) != 2 || wid < 0 || wid >= WRITERS) {
			in_order = 0;
			break;
		}
		if (idx != next_i[wid])
			in_order = 0;
		next_i[wid] = idx + 1;
		total++;
	}
	CHECK(in_order);
	CHECK_INT(total, WRITERS * PER_WRITER);
	webhook_journal_close(j);
}

static void test_limits_and_damage(const char *root)
{
	char dir[4096], big[2000];
	struct webhook_journal *j;
	struct webhook_journal_opts o = opts();
	berth_error err = {0};
	uint64_t pos = 0;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/bounded", root);
	o.max_pending = 4096;
	j = open_dir(dir, o);
	memset(big, 'x', sizeof(big) - 1);
	big[0] = '"';
	big[sizeof(big) - 2] = '"';
	big[sizeof(big) - 1] = '\0';
	append(j, big);
	append(j, big);
	CHECK_INT(webhook_journal_append(j, big, strlen(big), &err), BERTH_E_NOSPACE);
	/* Delivered bytes do not count against the bound. */
	CHECK_INT(scan(j), 2);
	next_record(j, &pos);
	CHECK_INT(webhook_journal_commit(j, pos, 1, &err), 0);
	CHECK_INT(webhook_journal_append(j, big, strlen(big), &err), 0);
	/* Not a record: empty, or with a line break inside. */
	CHECK_INT(webhook_journal_append(j, "", 0, &err), BERTH_E_INVALID);
	CHECK_INT(webhook_journal_append(j, "a\nb", 3, &err), BERTH_E_INVALID);
	webhook_journal_close(j);

	/* An offset past the end (the journal was replaced): everything is sent again. */
	snprintf(dir, sizeof(dir), "%s/offset-past", root);
	j = open_dir(dir, opts());
	append(j, "{\"n\":1}");
	webhook_journal_close(j);
	f = fopen(path_in(dir, "offset"), "w");
	fputs("999999\n", f);
	fclose(f);
	j = open_dir(dir, opts());
	CHECK_INT(webhook_journal_committed(j), 0);
	pos = 0;
	scan(j);
	CHECK_STR(next_record(j, &pos), "{\"n\":1}");
	webhook_journal_close(j);

	/* An unreadable offset file: same. */
	f = fopen(path_in(dir, "offset"), "w");
	fputs("garbage", f);
	fclose(f);
	j = open_dir(dir, opts());
	CHECK_INT(webhook_journal_committed(j), 0);
	webhook_journal_close(j);

	/* A journal without its header is kept aside and a new one begins. */
	snprintf(dir, sizeof(dir), "%s/bad-header", root);
	mkdir(dir, 0700);
	f = fopen(path_in(dir, "journal"), "w");
	fputs("not a journal\n{\"n\":1}\n", f);
	fclose(f);
	j = open_dir(dir, opts());
	CHECK_INT(scan(j), 0);
	append(j, "{\"n\":2}");
	pos = webhook_journal_committed(j);
	scan(j);
	CHECK_STR(next_record(j, &pos), "{\"n\":2}");
	webhook_journal_close(j);
	{
		char cmd[4200];

		snprintf(cmd, sizeof(cmd), "ls %s | grep -q '^journal.unreadable-'", dir);
		CHECK(system(cmd) == 0);
	}

	/* A directory that cannot be made is an error with the path in it. */
	{
		struct webhook_journal *none = NULL;
		struct webhook_journal_opts oo = opts();

		snprintf(dir, sizeof(dir), "%s/bounded/journal/sub", root);
		CHECK(webhook_journal_open(dir, &oo, &none, &err) < 0);
		CHECK(none == NULL);
		CHECK(strstr(err.message, "bounded/journal") != NULL);
	}
}

static void test_dead_letter(const char *root)
{
	static const char record[] = "{\"id\":\"e1\",\"type\":\"push\"}";
	char dir[4096];
	berth_error err = {0};
	const char *text;
	json_t *line;
	int fd;

	snprintf(dir, sizeof(dir), "%s/dead", root);
	mkdir(dir, 0700);
	CHECK_INT(webhook_dead_letter(dir, "hook", "https://h/x", 0, 3, "HTTP 500: oops", record,
				      strlen(record), 0, &err), 0);
	/* A line torn by a crash is ended before the next one. */
	fd = open(path_in(dir, "dead-letter.jsonl"), O_WRONLY | O_APPEND);
	CHECK(write(fd, "{\"torn", 6) == 6);
	close(fd);
	CHECK_INT(webhook_dead_letter(dir, "hook", "https://h/x", 0, 0, "unreadable",
				      "not json\xff", 9, 0, &err), 0);
	text = slurp(path_in(dir, "dead-letter.jsonl"));
	line = json_loadb(text, strcspn(text, "\n"), 0, NULL);
	CHECK(line != NULL);
	CHECK_STR(json_string_value(json_object_get(line, "endpoint")), "hook");
	CHECK_INT(json_integer_value(json_object_get(line, "attempts")), 3);
	CHECK_STR(json_string_value(json_object_get(line, "error")), "HTTP 500: oops");
	CHECK_STR(json_string_value(json_object_get(json_object_get(line, "event"), "id")), "e1");
	CHECK_STR(json_string_value(json_object_get(line, "failed_at")), "1970-01-01T00:00:00.000Z");
	json_decref(line);
	text = strchr(text, '\n') + 1;
	CHECK(strncmp(text, "{\"torn\n", 7) == 0);
	text += 7;
	line = json_loadb(text, strcspn(text, "\n"), 0, NULL);
	CHECK(line != NULL);
	CHECK_STR(json_string_value(json_object_get(line, "event")), "not json\xef\xbf\xbd");
	json_decref(line);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	char root[512], cmd[600];

	snprintf(root, sizeof(root), "%s/test-notify-webhook-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	test_replay_and_offset(root);
	test_compaction(root);
	test_compaction_caught_up(root);
	test_torn_line(root);
	test_two_handles(root);
	test_concurrent_appends(root);
	test_limits_and_damage(root);
	test_dead_letter(root);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", root);
	TEST_MAIN_END();
}
