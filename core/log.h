/*
 * log.h - the server's log: one line per event on stderr, as text or JSON.
 *
 * Lines are written with a single write(2) so concurrent threads never
 * interleave inside a line.
 */
#ifndef BERTH_LOG_H
#define BERTH_LOG_H

#include <stdarg.h>
#include <stdint.h>

#include "berth/plugin.h"

void log_configure(int level, int json);
int log_enabled(int level);

void log_msg(int level, const char *fmt, ...) BERTH_PRINTF(2, 3);
/* A line tagged with a plugin instance (the host's log service). */
void log_tagged_v(const char *tag, int level, const char *fmt, va_list ap)
	BERTH_PRINTF(3, 0);

#define log_error(...) log_msg(BERTH_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(BERTH_LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(BERTH_LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(BERTH_LOG_DEBUG, __VA_ARGS__)

typedef struct access_entry {
	const char *method;
	const char *path;
	int status;
	uint64_t bytes_in;
	uint64_t bytes_out;
	double duration_ms;
	const char *client;
	const char *error_code; /* OCI code of a failed request, or NULL */
	const char *identity;   /* authenticated user, or NULL */
} access_entry;

void log_access(const access_entry *e);

#endif
