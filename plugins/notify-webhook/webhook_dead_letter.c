/*
 * webhook_dead_letter.c - where an event goes when the endpoint refused it
 * max_attempts times: one JSON line per event in
 * <queue_dir>/<endpoint>/dead-letter.jsonl, with the event as it was
 * journaled, so an operator can read why and send it again by hand.
 *
 * The file is opened for each line and closed after, so logrotate may move
 * it at any time. A line is one write(); a line a crash left unfinished
 * is ended before the next one, so only that one line is unreadable.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "webhook.h"

static int ends_unfinished(int fd)
{
	struct stat st;
	char c;

	return fstat(fd, &st) == 0 && st.st_size > 0 && pread(fd, &c, 1, st.st_size - 1) == 1 &&
	       c != '\n';
}

int webhook_dead_letter(const char *dir, const char *endpoint, const char *url_shown,
			int64_t now_ms, int64_t attempts, const char *error, const char *record,
			size_t record_len, int do_fsync, berth_error *err)
{
	char when[40], *path = NULL, *text = NULL;
	json_t *line = NULL, *event;
	int fd = -1, rc = 0;
	size_t len;

	webhook_format_time(now_ms, when, sizeof(when));
	event = json_loadb(record, record_len, 0, NULL);
	if (!event) {
		/* Not JSON (a damaged journal): keep its text rather than nothing. */
		char *raw = strndup(record, record_len);

		event = raw ? webhook_json_text(raw) : NULL;
		free(raw);
	}
	line = json_object();
	if (!line || !event || json_object_set_new(line, "failed_at", json_string(when)) < 0 ||
	    json_object_set_new(line, "endpoint", webhook_json_text(endpoint)) < 0 ||
	    json_object_set_new(line, "url", webhook_json_text(url_shown)) < 0 ||
	    json_object_set_new(line, "attempts", json_integer(attempts)) < 0 ||
	    json_object_set_new(line, "error", webhook_json_text(error)) < 0) {
		rc = webhook_fail(err, BERTH_E_NOMEM, "out of memory");
		goto out;
	}
	/* The line owns the event from here, whether this succeeds or not. */
	rc = json_object_set_new(line, "event", event);
	event = NULL;
	if (rc < 0) {
		rc = webhook_fail(err, BERTH_E_NOMEM, "out of memory");
		goto out;
	}
	text = json_dumps(line, JSON_COMPACT);
	path = webhook_strf("%s/dead-letter.jsonl", dir);
	if (!text || !path) {
		rc = webhook_fail(err, BERTH_E_NOMEM, "out of memory");
		goto out;
	}
	len = strlen(text);
	text[len] = '\n';
	fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = webhook_io_fail(err, "open", path);
		goto out;
	}
	if (ends_unfinished(fd) && webhook_write_all(fd, "\n", 1) != 0) {
		rc = webhook_io_fail(err, "write", path);
		goto out;
	}
	if (webhook_write_all(fd, text, len + 1) != 0) {
		rc = webhook_io_fail(err, "write", path);
		goto out;
	}
	if (do_fsync && fdatasync(fd) != 0)
		rc = webhook_io_fail(err, "sync", path);
out:
	if (fd >= 0)
		close(fd);
	json_decref(event);
	json_decref(line);
	free(text);
	free(path);
	return rc;
}
