#include "log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_level = BERTH_LOG_INFO;
static int log_json;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_configure(int level, int json)
{
	log_level = level;
	log_json = json;
}

int log_enabled(int level)
{
	return level <= log_level;
}

static size_t format_time(char *buf, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(buf + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
	return n;
}

/* Append s to buf as the inside of a JSON string. */
static size_t json_escape(char *buf, size_t pos, size_t cap, const char *s)
{
	for (; *s && pos + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf[pos++] = '\\';
			buf[pos++] = (char)c;
		} else if (c < 0x20) {
			pos += (size_t)snprintf(buf + pos, cap - pos, "\\u%04x", c);
		} else {
			buf[pos++] = (char)c;
		}
	}
	buf[pos] = '\0';
	return pos;
}

static void emit(char *line, size_t len, size_t cap)
{
	ssize_t w;

	if (len >= cap - 1)
		len = cap - 2;
	line[len++] = '\n';
	w = write(STDERR_FILENO, line, len);
	(void)w;
}

void log_tagged_v(const char *tag, int level, const char *fmt, va_list ap)
{
	char msg[2048];
	char line[4096];
	char ts[40];
	size_t n;

	if (!log_enabled(level))
		return;
	if (level < 0 || level > BERTH_LOG_DEBUG)
		level = BERTH_LOG_ERROR;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	format_time(ts, sizeof(ts));
	if (log_json) {
		n = (size_t)snprintf(line, sizeof(line), "{\"time\":\"%s\",\"level\":\"%s\",",
				     ts, level_names[level]);
		if (tag) {
			n += (size_t)snprintf(line + n, sizeof(line) - n, "\"plugin\":\"");
			n = json_escape(line, n, sizeof(line), tag);
			n += (size_t)snprintf(line + n, sizeof(line) - n, "\",");
		}
		n += (size_t)snprintf(line + n, sizeof(line) - n, "\"msg\":\"");
		n = json_escape(line, n, sizeof(line), msg);
		n += (size_t)snprintf(line + n, sizeof(line) - n, "\"}");
	} else if (tag) {
		n = (size_t)snprintf(line, sizeof(line), "%s %-5s [%s] %s", ts,
				     level_names[level], tag, msg);
	} else {
		n = (size_t)snprintf(line, sizeof(line), "%s %-5s %s", ts, level_names[level], msg);
	}
	emit(line, n, sizeof(line));
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_tagged_v(NULL, level, fmt, ap);
	va_end(ap);
}

void log_access(const access_entry *e)
{
	char line[4096];
	char ts[40];
	size_t n;

	format_time(ts, sizeof(ts));
	if (log_json) {
		n = (size_t)snprintf(line, sizeof(line),
				     "{\"time\":\"%s\",\"level\":\"info\",\"msg\":\"access\",\"method\":\"",
				     ts);
		n = json_escape(line, n, sizeof(line), e->method);
		n += (size_t)snprintf(line + n, sizeof(line) - n, "\",\"path\":\"");
		n = json_escape(line, n, sizeof(line), e->path);
		n += (size_t)snprintf(line + n, sizeof(line) - n,
				      "\",\"status\":%d,\"bytes_in\":%llu,\"bytes\":%llu,"
				      "\"duration_ms\":%.3f,\"client\":\"%s\"",
				      e->status, (unsigned long long)e->bytes_in,
				      (unsigned long long)e->bytes_out, e->duration_ms, e->client);
		if (e->error_code)
			n += (size_t)snprintf(line + n, sizeof(line) - n, ",\"error\":\"%s\"",
					      e->error_code);
		if (e->identity) {
			n += (size_t)snprintf(line + n, sizeof(line) - n, ",\"identity\":\"");
			n = json_escape(line, n, sizeof(line), e->identity);
			n += (size_t)snprintf(line + n, sizeof(line) - n, "\"");
		}
		n += (size_t)snprintf(line + n, sizeof(line) - n, "}");
	} else {
		/* The path is client-controlled: escape it so a line stays a line. */
		char path[1024];
		size_t p = 0;
		for (const char *s = e->path; *s && p + 5 < sizeof(path); s++) {
			unsigned char c = (unsigned char)*s;
			if (c <= 0x20 || c >= 0x7f)
				p += (size_t)snprintf(path + p, sizeof(path) - p, "%%%02X", c);
			else
				path[p++] = (char)c;
		}
		path[p] = '\0';
		n = (size_t)snprintf(line, sizeof(line),
				     "%s info  access method=%s path=%s status=%d bytes_in=%llu "
				     "bytes=%llu duration_ms=%.3f client=%s%s%s%s%s",
				     ts, e->method, path, e->status, (unsigned long long)e->bytes_in,
				     (unsigned long long)e->bytes_out, e->duration_ms, e->client,
				     e->error_code ? " error=" : "", e->error_code ? e->error_code : "",
				     e->identity ? " identity=" : "", e->identity ? e->identity : "");
	}
	emit(line, n < sizeof(line) ? n : sizeof(line) - 1, sizeof(line));
}
