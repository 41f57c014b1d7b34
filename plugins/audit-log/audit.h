/*
 * audit.h - audit-log internals shared by the plugin's source files.
 *
 * The plugin turns security-relevant acts into one JSON line each:
 *   audit_record.c  decides what is an act and fills a record (pure);
 *   audit_line.c    formats a record as one JSON line (pure);
 *   audit_file.c    appends lines durably, rotates, reopens;
 *   audit_config.c  the config schema and its checks;
 *   audit_log.c     the descriptor and the hooks that tie them together.
 *
 * The plugin is built with -fvisibility=hidden: nothing declared here
 * leaves the .so but berth_plugin_entry.
 */
#ifndef AUDIT_LOG_AUDIT_H
#define AUDIT_LOG_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "berth/plugin.h"

#define AUDIT_PLUGIN_NAME "audit-log"
#define AUDIT_PLUGIN_VERSION "0.1.0"

/* Longest text kept from one field; longer text is cut and ends in "...". */
#define AUDIT_FIELD_MAX 1024
/* Most scopes kept from a login event. */
#define AUDIT_SCOPES_MAX 32
/* Most event types `extra_events` may name. */
#define AUDIT_EXTRA_EVENTS_MAX 64

/* ------------------------------------------------------------------------ */
/* Records (audit_record.c)                                                 */
/* ------------------------------------------------------------------------ */

/* What the fields of one line hold; every string is borrowed. */
struct audit_record {
	int64_t time_ms;
	const char *action;       /* push, pull, delete, login, ... */
	const char *outcome;      /* success, failure or denied */
	const char *identity;     /* NULL or "": written as "anonymous" */
	const char *client;       /* NULL: null */
	const char *repository;   /* NULL or "": null */
	const char *reference;    /* tag or digest the act named; NULL or "": null */
	const char *digest;
	const char *reason;
	/* Lines made from a request also carry these (0 / NULL: left out). */
	int status;
	const char *path;
	/*
	 * A request line's message: the OCI error message the client got
	 * (written as null when the host gave none). Only with status > 0.
	 */
	const char *message;
	/* Login lines carry the scopes granted (has_scopes: the field is written). */
	int has_scopes;
	const char *scopes[AUDIT_SCOPES_MAX];
	size_t n_scopes;
	/* Owned: the parsed detail_json the strings above may point into. */
	json_t *detail;
};

/* Which acts are written, from the config. */
struct audit_filter {
	int pulls;                /* "pull" events */
	int blob_pushes;          /* "blob.push" events */
	int challenges;           /* 401 to GET /v2/ without credentials */
	const char *const *extra_events;  /* more event types, written as they are */
	size_t n_extra_events;
};

/* A finished request, as far as the audit cares; strings are borrowed. */
struct audit_request {
	int64_t time_ms;
	const char *method;
	int route;                /* enum berth_route_kind */
	const char *path;         /* without the query string */
	const char *repository;
	const char *reference;
	const char *client;
	const berth_identity *identity;  /* NULL: authentication never ran */
	int has_credentials;      /* an Authorization header came with it */
	int status;
	const char *error_code;
	const char *error_message;   /* what the client was told, or NULL */
	/*
	 * For a 403 on a manifest GET or HEAD: 1 when the identity may pull
	 * that repository (so a pull gate refused it, and the pull.blocked
	 * event is the record), 0 when it may not, -1 when unknown.
	 */
	int pull_allowed;
};

/* 1 when the request may need pull_allowed, which costs the auth hooks a call. */
int audit_request_needs_pull_check(const struct audit_request *q);

/*
 * Fill r for an event. 1 when the event is an act to write, 0 when it is
 * not (r is then left empty). Release r with audit_record_release.
 */
int audit_record_from_event(const struct audit_filter *f, const berth_event *ev,
			    struct audit_record *r);
/* Fill r for a request: 1 for a refusal to write, 0 for anything else. */
int audit_record_from_request(const struct audit_filter *f, const struct audit_request *q,
			      struct audit_record *r);
void audit_record_release(struct audit_record *r);

/* ------------------------------------------------------------------------ */
/* Lines (audit_line.c)                                                     */
/* ------------------------------------------------------------------------ */

/*
 * r as one JSON object on one line, ending in '\n' (malloc'd, *len its
 * length without a NUL counted). Every string is escaped: quotes,
 * backslashes, control characters, U+2028 and U+2029 as escapes, bytes that
 * are not UTF-8 as U+FFFD. NULL when out of memory.
 */
char *audit_line_format(const struct audit_record *r, size_t *len);
/* "2024-05-01T12:00:00.123Z" into out (at least AUDIT_TIME_MAX bytes). */
#define AUDIT_TIME_MAX 32
void audit_time_format(int64_t time_ms, char *out, size_t cap);

/* ------------------------------------------------------------------------ */
/* The file (audit_file.c)                                                  */
/* ------------------------------------------------------------------------ */

enum audit_fsync {
	AUDIT_FSYNC_NEVER = 0,
	AUDIT_FSYNC_INTERVAL,
	AUDIT_FSYNC_ALWAYS
};

struct audit_file_options {
	const char *path;
	int fsync;                /* enum audit_fsync */
	int64_t fsync_interval_ms;
	uint64_t max_size;        /* 0: no rotation by size */
	int keep;                 /* rotated files kept: path.1 ... path.<keep> */
	mode_t mode;              /* of files the plugin creates */
	/* How long a writer waits for another that holds the file. */
	int64_t lock_wait_ms;
};

/* How the file reports trouble: called with the file's lock held, keep them short. */
struct audit_file_events {
	void *ctx;
	void (*log)(void *ctx, int level, const char *message);  /* enum berth_log_level */
	void (*lost)(void *ctx);      /* one line could not be written */
	void (*written)(void *ctx);   /* one line was written */
};

struct audit_file;

/* Open (creating with opt->mode) for appending; opt is copied. */
int audit_file_open(const struct audit_file_options *opt, const struct audit_file_events *ev,
		    struct audit_file **out, berth_error *err);
/*
 * Append one line (a single write(), so lines never interleave with other
 * writers of the file), rotating first when it would take the file over
 * max_size, and syncing as the fsync policy says. 0, or a negative code
 * when the line is lost (reported through the events, once per burst).
 */
int audit_file_write(struct audit_file *f, const char *line, size_t len);
/* Sync what was written since the last sync (the interval policy's tick). */
void audit_file_sync(struct audit_file *f);
/* Open the path again (after logrotate moved the file); keep the old file on failure. */
void audit_file_reopen(struct audit_file *f);
/* Sync (unless the policy is never) and close. */
void audit_file_close(struct audit_file *f);

/* ------------------------------------------------------------------------ */
/* Configuration (audit_config.c)                                           */
/* ------------------------------------------------------------------------ */

struct audit_config {
	char *path;
	int fsync;                /* enum audit_fsync */
	int64_t fsync_interval_ms;
	uint64_t max_size;
	int keep;
	mode_t mode;
	struct audit_filter filter;
	char **extra_events;      /* owned; filter.extra_events points here */
};

extern const berth_config_key audit_config_schema[];

int audit_config_load(const berth_host *host, const berth_config *config,
		      struct audit_config *c, berth_error *err);
void audit_config_free(struct audit_config *c);
/* Parse "0600"-style text into *mode: octal, within 0666. 0 or BERTH_E_CONFIG. */
int audit_mode_parse(const char *text, mode_t *mode);

int audit_fail(berth_error *err, int code, const char *fmt, ...) BERTH_PRINTF(3, 4);

#endif /* AUDIT_LOG_AUDIT_H */
