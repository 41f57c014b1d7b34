/*
 * audit_config.c - the plugin's config schema, and reading and checking an
 * instance's values at create(), so a wrong value stops the server at
 * start-up with a message naming it, not at the first line it should have
 * written.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"

#define KEEP_MAX 1000
/* Below this a file would hold a handful of lines. */
#define MAX_SIZE_MIN 1024
/* host->schedule ticks at most once a second; a longer wait is no policy. */
#define FSYNC_INTERVAL_MAX_MS (3600LL * 1000)
#define SHOW_MAX 80

const berth_config_key audit_config_schema[] = {
	{ .key = "path", .type = BERTH_CONFIG_STRING, .flags = BERTH_CONFIG_REQUIRED,
	  .help = "the audit file; its directory must exist" },
	{ .key = "fsync", .type = BERTH_CONFIG_STRING, .default_value = "interval",
	  .help = "when lines are forced to disk: always, interval or never" },
	{ .key = "fsync_interval", .type = BERTH_CONFIG_DURATION, .default_value = "1s",
	  .help = "with fsync: interval, the longest a written line waits for a sync" },
	{ .key = "max_size", .type = BERTH_CONFIG_SIZE, .default_value = "100MiB",
	  .help = "rotate before the file would grow past this; 0 rotates by signal only" },
	{ .key = "keep", .type = BERTH_CONFIG_INT, .default_value = "10",
	  .help = "rotated files kept: path.1 (newest) to path.<keep>" },
	{ .key = "mode", .type = BERTH_CONFIG_STRING, .default_value = "0600",
	  .help = "permissions of the files the plugin creates, in octal" },
	{ .key = "log_pulls", .type = BERTH_CONFIG_BOOL, .default_value = "true",
	  .help = "write a line for every manifest pull" },
	{ .key = "log_blob_pushes", .type = BERTH_CONFIG_BOOL, .default_value = "false",
	  .help = "write a line for every blob upload, not only for the manifest push" },
	{ .key = "log_challenges", .type = BERTH_CONFIG_BOOL, .default_value = "false",
	  .help = "write the 401 every client gets on its first GET /v2/ without credentials" },
	{ .key = "extra_events", .type = BERTH_CONFIG_LIST,
	  .help = "more event types (from plugins) to write, action = the type" },
	{ .type = BERTH_CONFIG_END }
};

int audit_fail(berth_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	return code;
}

/* A config value as a message shows it: cut, with unprintable bytes as '?'. */
static const char *show(char *out, size_t cap, const char *v)
{
	size_t i, n = 0;

	for (i = 0; v[i] && n + 4 < cap; i++)
		out[n++] = isprint((unsigned char)v[i]) ? v[i] : '?';
	if (v[i]) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
	return out;
}

int audit_mode_parse(const char *text, mode_t *mode)
{
	unsigned long v = 0;
	size_t i;

	if (!text || !text[0] || strlen(text) > 4)
		return BERTH_E_CONFIG;
	for (i = 0; text[i]; i++) {
		if (text[i] < '0' || text[i] > '7')
			return BERTH_E_CONFIG;
		v = v * 8 + (unsigned long)(text[i] - '0');
	}
	/* A log is data: no execute bits, no set-id or sticky bits. */
	if (v & ~0666ul)
		return BERTH_E_CONFIG;
	*mode = (mode_t)v;
	return 0;
}

static int parse_fsync(const char *text, int *out)
{
	if (strcmp(text, "always") == 0)
		*out = AUDIT_FSYNC_ALWAYS;
	else if (strcmp(text, "interval") == 0)
		*out = AUDIT_FSYNC_INTERVAL;
	else if (strcmp(text, "never") == 0)
		*out = AUDIT_FSYNC_NEVER;
	else
		return BERTH_E_CONFIG;
	return 0;
}

/* An event type as the core accepts them: [a-z0-9._-]+, at most 64 bytes. */
static int event_type_valid(const char *t)
{
	size_t i;

	for (i = 0; t[i]; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9') ||
		      t[i] == '.' || t[i] == '_' || t[i] == '-'))
			return 0;
	return i > 0 && i <= 64;
}

static int load_extra_events(const berth_host *host, const berth_config *config,
			     struct audit_config *c, berth_error *err)
{
	size_t n = host->config_list_count(config, "extra_events");
	char shown[SHOW_MAX];

	if (n == 0)
		return 0;
	if (n > AUDIT_EXTRA_EVENTS_MAX)
		return audit_fail(err, BERTH_E_CONFIG, "extra_events: at most %d types, not %zu",
				  AUDIT_EXTRA_EVENTS_MAX, n);
	c->extra_events = calloc(n, sizeof(*c->extra_events));
	if (!c->extra_events)
		return audit_fail(err, BERTH_E_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const char *t = host->config_list_string(config, "extra_events", i);

		if (!t || !event_type_valid(t))
			return audit_fail(err, BERTH_E_CONFIG,
					  "extra_events: '%s' is not an event type ([a-z0-9._-]+, "
					  "at most 64 characters)",
					  t ? show(shown, sizeof(shown), t) : "");
		c->extra_events[i] = strdup(t);
		if (!c->extra_events[i])
			return audit_fail(err, BERTH_E_NOMEM, "out of memory");
		c->filter.n_extra_events = i + 1;
	}
	c->filter.extra_events = (const char *const *)c->extra_events;
	return 0;
}

int audit_config_load(const berth_host *host, const berth_config *config,
		      struct audit_config *c, berth_error *err)
{
	const char *path = host->config_string(config, "path");
	const char *fsync = host->config_string(config, "fsync");
	const char *mode = host->config_string(config, "mode");
	int64_t interval = host->config_int(config, "fsync_interval", 1000);
	int64_t max_size = host->config_int(config, "max_size", 100 << 20);
	int64_t keep = host->config_int(config, "keep", 10);
	char shown[SHOW_MAX];

	memset(c, 0, sizeof(*c));
	if (!path || !path[0])
		return audit_fail(err, BERTH_E_CONFIG, "path: the audit file must be given");
	/* Rotated names add ".<keep>" to it. */
	if (strlen(path) > 4000)
		return audit_fail(err, BERTH_E_CONFIG, "path: longer than 4000 bytes");
	if (path[strlen(path) - 1] == '/')
		return audit_fail(err, BERTH_E_CONFIG, "path '%s' names a directory, not a file",
				  show(shown, sizeof(shown), path));
	if (parse_fsync(fsync ? fsync : "interval", &c->fsync) != 0)
		return audit_fail(err, BERTH_E_CONFIG,
				  "fsync: '%s' is not one of always, interval, never",
				  show(shown, sizeof(shown), fsync));
	if (interval < 1 || interval > FSYNC_INTERVAL_MAX_MS)
		return audit_fail(err, BERTH_E_CONFIG,
				  "fsync_interval: %lld ms is outside 1ms to 1h", (long long)interval);
	if (max_size != 0 && max_size < MAX_SIZE_MIN)
		return audit_fail(err, BERTH_E_CONFIG,
				  "max_size: %lld bytes is too small (0, or at least %d)",
				  (long long)max_size, MAX_SIZE_MIN);
	if (keep < 0 || keep > KEEP_MAX)
		return audit_fail(err, BERTH_E_CONFIG, "keep: %lld is outside 0 to %d",
				  (long long)keep, KEEP_MAX);
	if (audit_mode_parse(mode ? mode : "0600", &c->mode) != 0)
		return audit_fail(err, BERTH_E_CONFIG,
				  "mode: '%s' is not an octal file mode within 0666, such as 0600 "
				  "or 0640 (write it quoted: \"0640\")",
				  show(shown, sizeof(shown), mode));
	c->fsync_interval_ms = interval;
	c->max_size = (uint64_t)max_size;
	c->keep = (int)keep;
	c->filter.pulls = host->config_bool(config, "log_pulls", 1);
	c->filter.blob_pushes = host->config_bool(config, "log_blob_pushes", 0);
	c->filter.challenges = host->config_bool(config, "log_challenges", 0);
	c->path = strdup(path);
	if (!c->path)
		return audit_fail(err, BERTH_E_NOMEM, "out of memory");
	return load_extra_events(host, config, c, err);
}

void audit_config_free(struct audit_config *c)
{
	for (size_t i = 0; c->extra_events && i < c->filter.n_extra_events; i++)
		free(c->extra_events[i]);
	free(c->extra_events);
	free(c->path);
	memset(c, 0, sizeof(*c));
}
