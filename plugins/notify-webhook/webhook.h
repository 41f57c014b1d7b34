/*
 * webhook.h - notify-webhook internals shared by the plugin's source files.
 *
 * An instance holds a list of endpoints. Each event goes through:
 *   deliver()/overflow()  -> webhook_filter.c  (each endpoint's action and repository filters)
 *                         -> webhook_record.c  (the event as one JSON line)
 *                         -> webhook_journal.c (appended to each wanting endpoint's journal)
 *   a sender per endpoint -> webhook_sender.c  (reads the journal, retries, commits)
 *                         -> webhook_format.c  (Distribution envelope or CloudEvents)
 *                         -> webhook_sign.c    (HMAC-SHA256 of the body)
 *                         -> webhook_http.c    (the POST, with libcurl)
 *                         -> webhook_dead_letter.c (what failed for good)
 * Config: webhook_config.c (the schema, each endpoint's map), webhook_values.c
 * (durations, sizes and booleans written in an endpoint's map).
 *
 * Threads: create/start/stop/destroy on the main thread; deliver() on the
 * event thread; overflow() on request threads (and the main thread while
 * the server stops), concurrently with deliver(); one sender thread per
 * endpoint, only in a process that serves. Each journal has its own lock;
 * everything else is fixed after create() or belongs to one sender thread.
 *
 * The plugin is built with -fvisibility=hidden: nothing here leaves the .so.
 */
#ifndef NOTIFY_WEBHOOK_H
#define NOTIFY_WEBHOOK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "berth/plugin.h"

#define WEBHOOK_PLUGIN_NAME "notify-webhook"
#define WEBHOOK_PLUGIN_VERSION "0.1.0"

/* A repository pattern, an action name or a header line longer than this is refused. */
#define WEBHOOK_PATTERN_MAX 256
#define WEBHOOK_HEADER_MAX 8192
#define WEBHOOK_URL_MAX 2048
/* Most events one POST carries. */
#define WEBHOOK_BATCH_MAX 1000
/* A journal line longer than this is not an event this plugin wrote. */
#define WEBHOOK_RECORD_MAX (1024u * 1024u)
/* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" and its NUL. */
#define WEBHOOK_UUID_SIZE 37

enum webhook_format {
	WEBHOOK_FORMAT_DISTRIBUTION = 1,
	WEBHOOK_FORMAT_CLOUDEVENTS = 2
};

int webhook_fail(berth_error *err, int code, const char *fmt, ...) BERTH_PRINTF(3, 4);

/* A malloc'd formatted string, or NULL when out of memory. */
char *webhook_strf(const char *fmt, ...) BERTH_PRINTF(1, 2);

/* How much of a bad value a message shows. */
#define WEBHOOK_SHOW_MAX 80
/* A config value as a message shows it: cut, with unprintable bytes as '?'. */
const char *webhook_show(char *out, size_t cap, const char *v);
int webhook_has_control(const char *s);
/* A character allowed in a header name (RFC 9110 tchar). */
int webhook_token_char(char c);

/* A random version 4 UUID, written into out[WEBHOOK_UUID_SIZE]. */
int webhook_uuid(char *out);

/* ------------------------------------------------------------------------ */
/* Config (webhook_config.c, webhook_checks.c, webhook_values.c)                                                */
/* ------------------------------------------------------------------------ */

/* One endpoint's settings, copied out of the host's config at create(). */
struct webhook_config {
	char *name;                 /* the endpoint's name: logs, metrics, queue folder */
	char *url;
	char *url_shown;            /* scheme://host[:port]/path, for logs */
	int format;                 /* enum webhook_format */
	char **actions;             /* event types sent; none = all */
	size_t n_actions;
	char **repositories;        /* glob patterns; none = all */
	size_t n_repositories;
	char **headers;             /* "Name: value", headers then secret_headers */
	size_t n_headers;
	char *secret;               /* NULL: no signature */
	char *signature_header;
	int64_t timeout_ms;
	int tls_verify;
	char *ca_file;              /* NULL: the system's CA bundle */
	int64_t max_attempts;
	int64_t backoff_initial_ms;
	int64_t backoff_max_ms;
	int64_t batch_max;
	char *queue_dir;            /* this endpoint's own directory: <queue_dir>/<name> */
	uint64_t queue_max;         /* undelivered bytes kept at most; 0 = no bound */
	char *type_prefix;          /* CloudEvents type = prefix + event type */
	int fsync;                  /* from the instance */
};

/* An instance: what applies to all its endpoints, and the endpoints. */
struct webhook_settings {
	char *queue_dir;
	int fsync;
	char *registry_url;         /* NULL: target.url and request.host left out */
	char *source;
	struct webhook_config *endpoints;
	size_t n_endpoints;
};

extern const berth_config_key webhook_config_schema[];

int webhook_config_load(const berth_host *host, const berth_config *config,
			struct webhook_settings *out, berth_error *err);
void webhook_settings_free(struct webhook_settings *s);

/*
 * Checks of single values, also used by the unit tests. Each returns 0, or
 * BERTH_E_CONFIG with a message that names `key` and the value.
 */
int webhook_check_url(const char *key, const char *url, berth_error *err);
int webhook_check_header(const char *line, const char *signature_header, berth_error *err);
int webhook_check_action(const char *action, berth_error *err);
int webhook_check_pattern(const char *pattern, berth_error *err);
int webhook_check_endpoint_name(const char *name, berth_error *err);
/*
 * Values written in an endpoint's map, which the host does not type: the
 * same forms as the host's (durations "250ms", "1h30m", a plain number of
 * seconds; sizes "64k", "1GiB", 1024-based; true/yes/on, false/no/off).
 * 0, or BERTH_E_INVALID.
 */
int webhook_parse_duration_ms(const char *s, int64_t *out);
int webhook_parse_size(const char *s, int64_t *out);
int webhook_parse_bool(const char *s, int *out);
int webhook_parse_int(const char *s, int64_t *out);
/* "https://user:pw@host:1/p?q" -> "https://host:1/p": never log userinfo or a query. */
char *webhook_url_shown(const char *url);
/* The host[:port] part of an http(s) URL, or NULL. */
char *webhook_url_host(const char *url);

/* ------------------------------------------------------------------------ */
/* Filters (webhook_filter.c)                                               */
/* ------------------------------------------------------------------------ */

/*
 * Repository globs: '*' is any run of characters but '/', '?' one
 * character but '/', '**' any run including '/', and '**' followed by '/'
 * also matches nothing, so "**" + "/app" matches "app" and "a/b/app".
 * Linear in the name for each pattern character: no backtracking.
 */
int webhook_glob_match(const char *pattern, const char *name);
/* 1 when the config's action and repository filters let the event through. */
int webhook_filter_pass(const struct webhook_config *c, const char *type,
			const char *repository);

/* ------------------------------------------------------------------------ */
/* Event records (webhook_record.c)                                         */
/* ------------------------------------------------------------------------ */

/*
 * An event as the journal keeps it: one JSON object on one line, with an
 * id given when it was journaled (so a resend carries the same id), every
 * text as valid UTF-8 and the detail as an object. webhook_record_parse()
 * reads one back; the strings are borrowed from `doc`.
 */
struct webhook_event {
	json_t *doc;
	const char *id;
	uint64_t seq;               /* the host's event id, within its process */
	int64_t time_ms;
	const char *type;
	const char *repository;
	const char *tag;
	const char *digest;
	const char *media_type;
	uint64_t length;
	const char *identity;
	const char *client;
	const char *source;
	json_t *detail;             /* an object, or NULL */
};

/* The journal line for ev (no '\n'), malloc'd. */
int webhook_record_make(const berth_event *ev, char **line, size_t *len, berth_error *err);
int webhook_record_parse(const char *line, size_t len, struct webhook_event *out,
			 berth_error *err);
void webhook_event_clear(struct webhook_event *ev);
/* A JSON string of s with bytes that are not UTF-8 written as U+FFFD; json null for NULL. */
json_t *webhook_json_text(const char *s);

/* ------------------------------------------------------------------------ */
/* Bodies (webhook_format.c)                                                */
/* ------------------------------------------------------------------------ */

struct webhook_format_opts {
	int format;                 /* enum webhook_format */
	const char *source;         /* Distribution source.addr, CloudEvents source */
	const char *instance_id;    /* Distribution source.instanceID */
	const char *registry_url;   /* or NULL */
	const char *registry_host;  /* or NULL */
	const char *type_prefix;    /* CloudEvents */
};

/*
 * The body of one POST carrying n events, malloc'd: Distribution's
 * {"events":[...]}, one CloudEvent (n == 1) or a CloudEvents batch (n > 1).
 * *content_type is static.
 */
int webhook_format_body(const struct webhook_format_opts *o, const struct webhook_event *evs,
			size_t n, char **body, size_t *len, const char **content_type,
			berth_error *err);
/* "2024-05-01T12:00:00.123Z" into out (at least 32 bytes). */
void webhook_format_time(int64_t ms, char *out, size_t cap);

/* ------------------------------------------------------------------------ */
/* Signature (webhook_sign.c)                                               */
/* ------------------------------------------------------------------------ */

/* "sha256=" + hex HMAC-SHA256(secret, body) into out (at least 72 bytes). */
int webhook_sign(const char *secret, const void *body, size_t len, char *out, size_t cap);

/* ------------------------------------------------------------------------ */
/* Files (webhook_file.c)                                                   */
/* ------------------------------------------------------------------------ */

/* "cannot <what> '<path>': <errno text>", BERTH_E_NOSPACE for ENOSPC, else BERTH_E_IO. */
int webhook_io_fail(berth_error *err, const char *what, const char *path);
/* flock() again after EINTR; 0 or -1. */
int webhook_flock(int fd, int op);
/* All of buf, or -1. */
int webhook_write_all(int fd, const void *buf, size_t len);
/* Up to len bytes at off (fewer only at the end of the file), or -1. */
ssize_t webhook_pread_full(int fd, void *buf, size_t len, uint64_t off);
/* fsync a directory: what makes a rename or a new file in it durable. */
int webhook_sync_dir(const char *dir);
/* mkdir -p with mode 0700; 0 or -1. */
int webhook_mkdir_p(const char *path);
/* Write data to tmp (fsynced when asked), rename it over path, fsync dir. */
int webhook_replace_file(const char *dir, const char *tmp, const char *path, const char *data,
			 size_t len, int do_fsync, berth_error *err);

/* ------------------------------------------------------------------------ */
/* The journal (webhook_journal.c)                                          */
/* ------------------------------------------------------------------------ */

/*
 * A durable queue of lines in a directory: `journal` (a header line, then
 * one record per line, appended), `offset` (how far the records are
 * delivered, rewritten atomically and fsynced), `lock` (flock: appends
 * from several processes, compaction). Positions are logical byte offsets
 * that compaction does not change; see webhook_journal.c.
 *
 * Appends are safe from any thread and from several processes at once;
 * reading, committing and compacting belong to one thread of one process
 * (the sender).
 */
struct webhook_journal;

struct webhook_journal_opts {
	int fsync;                  /* fsync each append and the offset */
	uint64_t max_pending;       /* refuse appends past this many undelivered bytes; 0 = no bound */
	uint64_t compact_min;       /* compact once this many delivered bytes lead the file
				       and they are at least what is left (1/16 of it when
				       nothing is left) */
	/* Called with the journal's lock held whenever the undelivered count changes. */
	void (*on_depth)(void *ctx, uint64_t pending);
	void *depth_ctx;
	/* What the journal had to repair on its own (a torn record, a bad offset file). */
	void (*log)(void *ctx, int level, const char *message);
	void *log_ctx;
};

int webhook_journal_open(const char *dir, const struct webhook_journal_opts *o,
			 struct webhook_journal **out, berth_error *err);
void webhook_journal_close(struct webhook_journal *j);

/* Append one record (no '\n' inside). BERTH_E_NOSPACE past max_pending. */
int webhook_journal_append(struct webhook_journal *j, const char *line, size_t len,
			   berth_error *err);

/* Count records appended since the last scan (other processes' too); *pending is the total. */
int webhook_journal_scan(struct webhook_journal *j, uint64_t *pending, berth_error *err);
/*
 * The complete record at logical position pos among those scanned: 0 with
 * *line (malloc'd, no '\n'), *len and *next; BERTH_DECLINED when there is
 * none yet. A line over WEBHOOK_RECORD_MAX comes back cut, with its *next.
 */
int webhook_journal_read(struct webhook_journal *j, uint64_t pos, char **line, size_t *len,
			 uint64_t *next, berth_error *err);
/* Everything before pos (n_records records) is done: durable before it returns. */
int webhook_journal_commit(struct webhook_journal *j, uint64_t pos, uint64_t n_records,
			   berth_error *err);
uint64_t webhook_journal_committed(struct webhook_journal *j);
/* Rewrite the file without the delivered records when they are worth it (force: always). */
int webhook_journal_compact(struct webhook_journal *j, int force, berth_error *err);
/* Bytes of the journal file on disk (for tests and logs). */
uint64_t webhook_journal_file_size(struct webhook_journal *j);

/* ------------------------------------------------------------------------ */
/* Dead letters (webhook_dead_letter.c)                                     */
/* ------------------------------------------------------------------------ */

/*
 * Append one line per event to <dir>/dead-letter.jsonl: when, the endpoint,
 * attempts, the last error and the event itself (the journal record, or its
 * raw text when it did not parse).
 */
int webhook_dead_letter(const char *dir, const char *endpoint, const char *url_shown,
			int64_t now_ms, int64_t attempts, const char *error, const char *record,
			size_t record_len, int do_fsync, berth_error *err);

/* ------------------------------------------------------------------------ */
/* HTTP (webhook_http.c)                                                    */
/* ------------------------------------------------------------------------ */

struct webhook_http;

/* abort_fn is polled during a transfer; non-zero stops it at once. */
int webhook_http_new(const struct webhook_config *c, const char *user_agent,
		     int (*abort_fn)(void *), void *abort_ctx, struct webhook_http **out,
		     berth_error *err);
void webhook_http_free(struct webhook_http *h);
/*
 * POST body; 0 on a 2xx answer. Otherwise a negative code and a message
 * for logs and the dead-letter file ("HTTP 500: <start of the body>",
 * "cannot connect: ...").
 */
int webhook_http_post(struct webhook_http *h, const char *content_type, const char *body,
		      size_t len, const char *signature, berth_error *err);

/* ------------------------------------------------------------------------ */
/* The instance (notify_webhook.c) and its senders (webhook_sender.c)       */
/* ------------------------------------------------------------------------ */

struct webhook_state;

struct webhook_endpoint {
	struct webhook_state *st;
	const struct webhook_config *cfg;
	struct webhook_format_opts fmt;
	struct webhook_journal *journal;   /* from start() to stop() */

	/* Appends that failed: logged once until one succeeds again. */
	pthread_mutex_t append_lock;
	int append_failing;

	/* The sender thread. */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int wake_pending;                  /* an append since the sender last looked */
	int stopping;
	int thread_started;
	pthread_t thread;
	int sender_lock_fd;                /* flock: one sender per queue directory */
	struct webhook_http *http;
};

struct webhook_state {
	const berth_host *host;
	const berth_instance *self;
	struct webhook_settings set;
	char instance_id[WEBHOOK_UUID_SIZE];
	char *registry_host;
	char *user_agent;
	struct webhook_endpoint *endpoints;   /* set.n_endpoints of them */
	berth_metric *m_depth, *m_deliveries, *m_failures, *m_dead, *m_dropped;
	int curl_ready;                    /* curl_global_init() ran in start() */
};

void webhook_metric_add(struct webhook_endpoint *ep, berth_metric *m, double delta);
void webhook_log(struct webhook_endpoint *ep, int level, const char *fmt, ...) BERTH_PRINTF(3, 4);

/* Tell the sender that something was appended. */
void webhook_sender_wake(struct webhook_endpoint *ep);
int webhook_sender_start(struct webhook_endpoint *ep, berth_error *err);
void webhook_sender_stop(struct webhook_endpoint *ep);

#endif /* NOTIFY_WEBHOOK_H */
