/*
 * berth/plugin.h - the Berth plugin ABI.
 *
 * A plugin is a shared object that exports exactly one function:
 *
 *     const berth_plugin *berth_plugin_entry(void);
 *
 * It returns a pointer to a constant descriptor and must have no other side
 * effect, so the host can check the descriptor's magic, size and ABI version
 * before it calls anything else in the plugin. Build plugins with
 * -fvisibility=hidden and mark only the entry BERTH_PLUGIN_EXPORT; the host
 * loads them with RTLD_NOW | RTLD_LOCAL.
 *
 * Versioning (Varnish's rule): a plugin is accepted when its ABI major equals
 * the host's and its ABI minor is not greater than the host's. Within a
 * major, structures only grow at the end; every table carries its own size,
 * so the host reads min(plugin size, host size) and treats fields past the
 * plugin's size as absent (NULL).
 *
 * Threading:
 *   - create, start, stop and destroy run serially on the main thread.
 *   - storage operations and request/auth/scan hooks run concurrently on
 *     worker threads, unless the descriptor sets BERTH_PLUGIN_SERIALIZED, in
 *     which case the host never runs two calls into the instance at once.
 *   - notify callbacks run on the event thread, one event at a time, in order.
 *   - jobs run one at a time: on the job thread when scheduled, on the
 *     caller's thread when run by hand (`berth job run`, the admin endpoint).
 *
 * Memory:
 *   - every pointer passed into a plugin is borrowed for the duration of the
 *     call; what a plugin keeps it copies;
 *   - whoever allocates frees: the host never frees plugin memory and a
 *     plugin never frees host memory.
 *
 * Errors: 0 on success, a negative enum berth_status code otherwise, with a
 * message in the caller-owned berth_error (see berth/error.h). Plugins never
 * call exit() or abort() on bad input.
 */
#ifndef BERTH_PLUGIN_H
#define BERTH_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "berth/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BERTH_PLUGIN_MAGIC 0x48545242u /* "BRTH" read little-endian */
#define BERTH_ABI_MAJOR 1
#define BERTH_ABI_MINOR 0

#define BERTH_PLUGIN_ENTRY_SYMBOL "berth_plugin_entry"

#if defined(__GNUC__)
#define BERTH_PLUGIN_EXPORT __attribute__((visibility("default")))
#define BERTH_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define BERTH_PLUGIN_EXPORT
#define BERTH_PRINTF(fmt, args)
#endif

/* ------------------------------------------------------------------------ */
/* Opaque host objects                                                      */
/* ------------------------------------------------------------------------ */

/* One configured instance of a plugin, as the host knows it. */
typedef struct berth_instance berth_instance;
/* A plugin's configuration block (the `config:` map of its declaration). */
typedef struct berth_config berth_config;

/* ------------------------------------------------------------------------ */
/* Configuration schema                                                     */
/* ------------------------------------------------------------------------ */

enum berth_config_type {
	BERTH_CONFIG_END = 0,      /* terminates a schema array */
	BERTH_CONFIG_STRING,
	BERTH_CONFIG_INT,          /* 64-bit signed integer */
	BERTH_CONFIG_BOOL,         /* true/false/yes/no/on/off */
	BERTH_CONFIG_SIZE,         /* bytes; suffixes k, M, G, T (also KiB, MiB ...), 1024-based */
	BERTH_CONFIG_DURATION,     /* milliseconds; ms, s, m, h, d; a plain number is seconds */
	BERTH_CONFIG_LIST,         /* sequence of scalars */
	BERTH_CONFIG_MAP,          /* nested map, read with config_child */
	BERTH_CONFIG_MAP_LIST      /* sequence of maps, read with config_list_child */
};

enum berth_config_flags {
	BERTH_CONFIG_REQUIRED = 1u << 0,
	/* Value is never logged or printed by `berth config check`. */
	BERTH_CONFIG_SECRET = 1u << 1
};

/*
 * One key of a plugin's config schema. The host validates a plugin's config
 * against its schema before create(): unknown keys, wrong types and missing
 * required keys are rejected with the file and line of the offending YAML.
 */
typedef struct berth_config_key {
	const char *key;
	int type;                  /* enum berth_config_type */
	unsigned flags;            /* enum berth_config_flags */
	const char *default_value; /* as YAML text, or NULL */
	const char *help;          /* one line, shown by `berth plugin check` */
} berth_config_key;

/* ------------------------------------------------------------------------ */
/* Storage                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * Keys are '/'-separated paths relative to the storage root, such as
 * "docker/registry/v2/blobs/sha256/ab/ab12.../data". The core validates every
 * key it builds: no empty segment, no "." or "..", no leading '/'. A driver
 * may still refuse a key it cannot store.
 */

typedef struct berth_stat {
	uint64_t size;         /* bytes; 0 for a directory */
	int64_t mtime_ms;      /* last modification, ms since epoch */
	int is_dir;            /* key is a prefix of other keys */
} berth_stat;

/*
 * An object opened for reading. When the driver gives a file descriptor
 * (`fd` >= 0), the host owns it: it streams it with sendfile, closes it, and
 * never uses `stream`. Otherwise (`fd` == -1) the host calls read_at() on
 * `stream` and finally read_close().
 */
typedef struct berth_read_handle {
	int fd;
	uint64_t size;         /* the whole object's size, whatever the offset */
	void *stream;
} berth_read_handle;

enum berth_write_flags {
	/*
	 * Append to the key in place (upload data). Without this flag the
	 * object becomes visible only at commit, atomically replacing any
	 * previous object; cancel leaves no trace.
	 */
	BERTH_WRITE_APPEND = 1u << 0
};

/* What storage holds: filled by a storage driver's usage(). */
typedef struct berth_storage_usage {
	uint32_t size;
	uint64_t bytes_used;       /* bytes of registry data (blobs, links, uploads) */
	uint64_t bytes_available;  /* bytes still free for the registry */
	uint64_t bytes_total;      /* capacity, 0 when unbounded or unknown */
	uint64_t objects;          /* blobs stored */
} berth_storage_usage;

/* Called once per entry by list(); return non-zero to stop early. */
typedef int (*berth_list_fn)(void *ctx, const char *name, int is_dir);

typedef struct berth_storage_ops {
	uint32_t size;

	int (*stat)(void *state, const char *key, berth_stat *st, berth_error *err);

	/*
	 * Read a whole small object into buf (capacity cap). On success *len
	 * is its size. If the object is larger than cap, return BERTH_E_RANGE
	 * and set *len to its size so the caller can retry with a larger
	 * buffer.
	 */
	int (*read_all)(void *state, const char *key, void *buf, size_t cap,
			size_t *len, berth_error *err);

	/* Open for streaming from `offset`; see berth_read_handle. */
	int (*open_read)(void *state, const char *key, uint64_t offset,
			 berth_read_handle *h, berth_error *err);
	/* Read up to cap bytes at absolute `offset`; returns bytes read (0 at end) or < 0. */
	ssize_t (*read_at)(void *state, void *stream, uint64_t offset, void *buf,
			   size_t cap, berth_error *err);
	void (*read_close)(void *state, void *stream);

	/* Streamed write; see enum berth_write_flags. */
	int (*write_open)(void *state, const char *key, unsigned flags,
			  void **writer, berth_error *err);
	int (*write)(void *state, void *writer, const void *buf, size_t len,
		     berth_error *err);
	/* Make the data durable and visible; frees the writer either way. */
	int (*write_commit)(void *state, void *writer, berth_error *err);
	/* Discard what was written (unless APPEND); frees the writer. */
	void (*write_cancel)(void *state, void *writer);

	/* Atomically replace `to` with `from`. */
	int (*move)(void *state, const char *from, const char *to, berth_error *err);
	/* Delete a key, or a prefix and everything under it. */
	int (*remove)(void *state, const char *key, berth_error *err);
	/* List the direct children of a prefix, in no particular order. */
	int (*list)(void *state, const char *prefix, berth_list_fn fn, void *ctx,
		    berth_error *err);

	/*
	 * Optional: a URL the client may fetch the object from directly
	 * (presigned). Return BERTH_DECLINED to serve the bytes instead.
	 */
	int (*redirect_url)(void *state, const char *key, const char *method,
			    char *url, size_t cap, berth_error *err);

	/*
	 * Optional: how much the storage holds and has left. May be slow (a
	 * walk of the registry's blobs): the host calls it only from jobs
	 * and scheduled callbacks, never per request.
	 */
	int (*usage)(void *state, berth_storage_usage *u, berth_error *err);
} berth_storage_ops;

/* ------------------------------------------------------------------------ */
/* Requests                                                                 */
/*                                                                          */
/* A berth_request is the host's request, seen through the getters of the   */
/* host table (request_method, request_header, ...). It is borrowed for the */
/* duration of the call that receives it.                                   */
/* ------------------------------------------------------------------------ */

typedef struct berth_request berth_request;

/* What a request addresses, as the core routed it. */
enum berth_route_kind {
	BERTH_ROUTE_OTHER = 0,     /* not a registry endpoint */
	BERTH_ROUTE_BASE,          /* GET /v2/ */
	BERTH_ROUTE_CATALOG,
	BERTH_ROUTE_TAGS,
	BERTH_ROUTE_MANIFEST,
	BERTH_ROUTE_BLOB,
	BERTH_ROUTE_UPLOAD,
	BERTH_ROUTE_REFERRERS,
	BERTH_ROUTE_PLUGIN,        /* a plugin's own route */
	BERTH_ROUTE_ADMIN          /* Berth's /berth/v1/ endpoints */
};

/* How a request ended, for request hooks' after(). */
typedef struct berth_request_result {
	uint32_t size;
	int status;                /* HTTP status sent; 499 when the client went away */
	uint64_t bytes_in;
	uint64_t bytes_out;
	double duration_ms;
	const char *error_code;    /* OCI code of a failed request, or NULL */
	const char *error_message; /* the message sent with it, or NULL */
} berth_request_result;

/*
 * Request hooks, run for every request in priority order (lower first,
 * then declared order).
 *
 * before(): after parsing, before authentication and routing. Return
 * BERTH_DECLINED (or 0) to let the request go on, or a negative error code
 * to answer it now: the host sends the OCI error for the code
 * (BERTH_E_DENIED -> 403 DENIED, BERTH_E_TOO_MANY -> 429 TOOMANYREQUESTS,
 * BERTH_E_UNAUTHORIZED -> 401 with the auth hooks' challenge,
 * BERTH_E_UNSUPPORTED -> 405, BERTH_E_AGAIN -> 503, BERTH_E_IO and other
 * server-side codes -> 500, anything else -> 403 DENIED) with err->message.
 * A hook may also answer itself with host->respond(). The first hook that
 * answers wins; later hooks are not asked.
 *
 * after(): once the response is complete (or the client went away), with
 * what happened. Runs on the worker thread that served the request: keep it
 * short.
 */
typedef struct berth_request_ops {
	uint32_t size;
	int priority;
	int (*before)(void *state, berth_request *req, berth_error *err);
	void (*after)(void *state, const berth_request *req, const berth_request_result *res);
} berth_request_ops;

/* ------------------------------------------------------------------------ */
/* Authentication and authorization                                         */
/* ------------------------------------------------------------------------ */

#define BERTH_IDENTITY_NAME_MAX 128
#define BERTH_IDENTITY_GROUPS_MAX 512

/* Who makes a request. An empty name is the anonymous identity. */
typedef struct berth_identity {
	uint32_t size;
	char name[BERTH_IDENTITY_NAME_MAX];
	char groups[BERTH_IDENTITY_GROUPS_MAX];   /* comma-separated */
	char provider[64];                        /* instance that authenticated it */
} berth_identity;

/*
 * One thing a request needs to be allowed, in Docker's scope terms:
 *   repository:<name>:pull|push|delete     blobs, manifests, tags, uploads
 *   registry:catalog:*                     GET /v2/_catalog
 *   registry:base:login                    GET /v2/ (what `docker login` tries)
 *   registry:jobs:run                      the admin job endpoint
 *   route:<path prefix>:<method>           a plugin's own route
 */
typedef struct berth_access {
	const char *type;
	const char *name;
	const char *action;
} berth_access;

/*
 * Auth hooks, in priority order. When no auth plugin is loaded every
 * request is allowed. When one is:
 *
 * authenticate(): who is this? Fill id->name (and groups) and return 0;
 * BERTH_DECLINED when the request carries no credentials this plugin knows
 * (the next plugin is asked; if none knows them the request is anonymous);
 * BERTH_E_UNAUTHORIZED when it carries credentials that are wrong (the
 * request is refused with 401 at once).
 *
 * authorize(): may `id` (anonymous when id->name is "") do `access`?
 * 0 allows, BERTH_E_DENIED refuses (err->message is shown to the client),
 * BERTH_DECLINED has no opinion. The first definite answer wins; when every
 * plugin declines, the access is refused. A refused anonymous request (or
 * BERTH_E_UNAUTHORIZED) is answered 401 UNAUTHORIZED with the challenge, so
 * clients can log in; a refused known identity gets 403 DENIED.
 *
 * challenge(): the WWW-Authenticate value to send with a 401 for the
 * accesses the request needed. Return 0 with `out` filled, or
 * BERTH_DECLINED; the first plugin that answers gives the challenge (the
 * host falls back to `Basic realm="berth"`).
 *
 * Each of the three is optional.
 */
typedef struct berth_auth_ops {
	uint32_t size;
	int priority;
	int (*authenticate)(void *state, const berth_request *req, berth_identity *id,
			    berth_error *err);
	int (*authorize)(void *state, const berth_request *req, const berth_identity *id,
			 const berth_access *access, berth_error *err);
	int (*challenge)(void *state, const berth_request *req, const berth_access *accesses,
			 size_t n_accesses, char *out, size_t cap);
} berth_auth_ops;

/* ------------------------------------------------------------------------ */
/* Scanning and the pull gate                                               */
/* ------------------------------------------------------------------------ */

/* A manifest as the scan hooks see it; every field is borrowed. */
typedef struct berth_manifest {
	uint32_t size;
	const char *repository;
	const char *reference;     /* the tag or digest the client used */
	const char *digest;        /* "sha256:..." */
	const char *media_type;
	const void *body;
	size_t body_len;
	const char *subject;       /* digest of its subject, or NULL */
	const char *artifact_type; /* or NULL */
} berth_manifest;

/*
 * on_push(): a manifest was stored (tagged if pushed by tag), before the
 * client gets its 201. Start or import a scan; anything long belongs in a
 * job. Its result does not change the push.
 *
 * gate(): before a manifest is served (GET and HEAD, by tag and by digest).
 * 0 or BERTH_DECLINED serves it; BERTH_E_DENIED refuses the pull with 403
 * DENIED and err->message, which `docker pull` shows; BERTH_E_AGAIN answers
 * 503 and other errors 500 (the pull is not served either way). In gate()
 * `subject` and `artifact_type` are NULL: parse `body` if the policy needs
 * them.
 *
 * report(): the stored scan report of a manifest as JSON, written into
 * buf (capacity cap, *len set to its size; BERTH_E_RANGE when cap is too
 * small). BERTH_E_NOT_FOUND when there is none. The host serves it at
 * GET /berth/v1/reports/<repository>@<digest>.
 */
typedef struct berth_scan_ops {
	uint32_t size;
	void (*on_push)(void *state, const berth_manifest *m);
	int (*gate)(void *state, const berth_request *req, const berth_manifest *m,
		    berth_error *err);
	int (*report)(void *state, const char *repository, const char *digest, char *buf,
		      size_t cap, size_t *len, berth_error *err);
} berth_scan_ops;

/* ------------------------------------------------------------------------ */
/* Events and notifiers                                                     */
/* ------------------------------------------------------------------------ */

/*
 * Something that happened. The core emits "push" (a manifest), "pull" (a
 * manifest), "pull.blocked" (a scan gate refused it), "delete" (manifest or
 * tag), "blob.push", "blob.delete", "mount"; plugins emit their own through
 * host->emit_event. Fields that do
 * not apply are NULL (or 0).
 */
typedef struct berth_event {
	uint32_t size;
	uint64_t id;               /* increasing within a process */
	int64_t time_ms;
	const char *type;
	const char *repository;
	const char *tag;
	const char *digest;
	const char *media_type;
	uint64_t length;           /* bytes of the manifest or blob */
	const char *identity;      /* who, or NULL */
	const char *client;        /* client address, or NULL */
	const char *source;        /* instance that emitted it, "core" for the core */
	const char *detail_json;   /* a JSON object with more, or NULL */
} berth_event;

enum berth_notify_flags {
	/*
	 * The notifier must see every event. When the event queue is full the
	 * host calls its `overflow` on the emitting thread instead of dropping
	 * the event (write it to the plugin's own journal and return).
	 */
	BERTH_NOTIFY_DURABLE = 1u << 0
};

/*
 * Notifiers run on the event thread, one event at a time, in emission
 * order, off the request path: a slow notifier delays only other
 * notifications. The queue between requests and the event thread is
 * bounded; when it is full an event is dropped (and counted in the host
 * counter berth_events_dropped_total) unless a notifier is durable.
 */
typedef struct berth_notify_ops {
	uint32_t size;
	unsigned flags;            /* enum berth_notify_flags */
	void (*deliver)(void *state, const berth_event *ev);
	void (*overflow)(void *state, const berth_event *ev);
} berth_notify_ops;

/* ------------------------------------------------------------------------ */
/* Routes                                                                   */
/* ------------------------------------------------------------------------ */

enum berth_route_flags {
	/* Served without asking the auth hooks (a token endpoint, a health check). */
	BERTH_ROUTE_PUBLIC = 1u << 0
};

/*
 * A plugin's own endpoint. Requests whose path equals `path` or starts with
 * `path` followed by '/' go to handle(); `method` NULL accepts any method.
 * Paths must start with '/' and may not be /v2 or under /v2/, nor /berth/
 * other than a folder of its own under /berth/v1/ (not /berth/v1/jobs or
 * /berth/v1/reports, which are the core's). Unless the route is
 * public, the request needs access route:<path>:<method> from the auth
 * hooks. A body (up to max_body bytes, default 1 MiB) is read before
 * handle() runs and is available through host->request_body.
 *
 * handle() answers with host->respond(); returning a negative code without
 * having responded sends the OCI error for the code with err->message.
 * Routes run on worker threads.
 *
 * Plugins list their routes as a NULL-terminated array of pointers, so
 * this structure can grow: the host reads `size` bytes of each.
 */
typedef struct berth_route {
	uint32_t size;
	const char *method;
	const char *path;
	unsigned flags;            /* enum berth_route_flags */
	uint64_t max_body;
	int (*handle)(void *state, berth_request *req, berth_error *err);
} berth_route;

/* ------------------------------------------------------------------------ */
/* Jobs                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct berth_job_run berth_job_run;

/*
 * Named work: run on demand (`berth job run NAME [--dry-run]`, or
 * POST /berth/v1/jobs/NAME on a running server) and, when it has a
 * schedule, by the server's job thread. Schedules: "every 30s", "every
 * 10m", "every 6h", "daily 03:30" (UTC); NULL or "" runs on demand only.
 * The operator overrides a schedule with `jobs: {NAME: {schedule: ...}}`.
 *
 * run() reports through host->job_print(); it checks host->job_dry_run()
 * and then must change nothing. Jobs run one at a time (see Threading above).
 * Listed like routes: a NULL-terminated array of pointers.
 */
typedef struct berth_job {
	uint32_t size;
	const char *name;          /* [a-z0-9-]+, unique across instances */
	const char *description;
	const char *schedule;
	int (*run)(void *state, berth_job_run *run, berth_error *err);
} berth_job;

/* ------------------------------------------------------------------------ */
/* Metrics                                                                  */
/* ------------------------------------------------------------------------ */

enum berth_metric_type {
	BERTH_METRIC_COUNTER = 1,
	BERTH_METRIC_GAUGE = 2
};

typedef struct berth_metric berth_metric;

/* Called by host->metrics_foreach for each series (one label set). */
typedef void (*berth_metric_fn)(void *ctx, const char *name, const char *help, int type,
				const char *labels, double value);

/* Called by the registry readers of the host table; return non-zero to stop. */
typedef int (*berth_name_fn)(void *ctx, const char *name);
typedef int (*berth_manifest_fn)(void *ctx, const berth_manifest *m);
typedef int (*berth_bytes_fn)(void *ctx, const void *data, size_t len);

/* ------------------------------------------------------------------------ */
/* Host services                                                            */
/* ------------------------------------------------------------------------ */

enum berth_log_level {
	BERTH_LOG_ERROR = 0,
	BERTH_LOG_WARN = 1,
	BERTH_LOG_INFO = 2,
	BERTH_LOG_DEBUG = 3
};

/*
 * The services the host offers a plugin, passed to create(). The table only
 * grows at the end: check `size` with BERTH_HOST_HAS() before calling a
 * function added in a later minor version.
 */
typedef struct berth_host {
	uint32_t size;
	uint16_t abi_major;
	uint16_t abi_minor;
	const char *version;   /* Berth's version string */

	/* Log a line tagged with the instance name. */
	void (*log)(const berth_instance *self, int level, const char *fmt, ...)
		BERTH_PRINTF(3, 4);

	/*
	 * Config getters. A key absent from the YAML yields its schema default;
	 * a key with no default yields NULL / `def`. Strings are owned by the
	 * host and live as long as the instance.
	 */
	const char *(*config_string)(const berth_config *cfg, const char *key);
	int64_t (*config_int)(const berth_config *cfg, const char *key, int64_t def);
	int (*config_bool)(const berth_config *cfg, const char *key, int def);
	size_t (*config_list_count)(const berth_config *cfg, const char *key);
	const char *(*config_list_string)(const berth_config *cfg, const char *key,
					  size_t index);
	const berth_config *(*config_child)(const berth_config *cfg, const char *key);

	/* Milliseconds since the Unix epoch, and a monotonic clock. */
	int64_t (*now_ms)(void);
	int64_t (*monotonic_ms)(void);

	/* The instance's name as declared (`name:` or the plugin name). */
	const char *(*instance_name)(const berth_instance *self);

	/*
	 * The request a hook or route is called with. Strings are borrowed
	 * for the call; repository and reference are "" when the route has
	 * none; request_identity is NULL before authentication and names
	 * the anonymous identity with an empty name.
	 */
	const char *(*request_method)(const berth_request *r);
	const char *(*request_path)(const berth_request *r);
	int (*request_route)(const berth_request *r);   /* enum berth_route_kind */
	const char *(*request_repository)(const berth_request *r);
	const char *(*request_reference)(const berth_request *r);
	const char *(*request_header)(const berth_request *r, const char *name);
	const char *(*request_query)(const berth_request *r, const char *name);
	const char *(*request_client)(const berth_request *r);
	const berth_identity *(*request_identity)(const berth_request *r);
	/* The body a plugin route received (NULL and 0 when none). */
	const void *(*request_body)(const berth_request *r, size_t *len);
	/* Add a header to the response this request will get. */
	int (*response_header)(berth_request *r, const char *name, const char *value);
	/* Answer the request (a route, or a request hook's before()); the body
	 * is copied. Once per request. */
	int (*respond)(berth_request *r, int status, const char *content_type,
		       const void *body, size_t len);

	/*
	 * Emit an event to the notifiers (non-blocking; see berth_notify_ops).
	 * detail_json, when given, must be a JSON object.
	 */
	int (*emit_event)(const berth_instance *self, const char *type,
			  const char *repository, const char *tag, const char *digest,
			  const char *detail_json);

	/*
	 * Registry content, for plugins that manage it (retention, scanners).
	 * Reads call fn once per item with borrowed data. Deletes go through
	 * the same code as the API's DELETE: same locks, same events (with
	 * the instance as identity).
	 */
	int (*list_repositories)(berth_name_fn fn, void *ctx, berth_error *err);
	int (*list_tags)(const char *repository, berth_name_fn fn, void *ctx, berth_error *err);
	int (*read_manifest)(const char *repository, const char *reference,
			     berth_manifest_fn fn, void *ctx, berth_error *err);
	/* Stream a blob of the repository through fn, refusing blobs over max bytes. */
	int (*read_blob)(const char *repository, const char *digest, uint64_t max,
			 berth_bytes_fn fn, void *ctx, berth_error *err);
	int (*delete_tag)(const berth_instance *self, const char *repository, const char *tag,
			  berth_error *err);
	int (*delete_manifest)(const berth_instance *self, const char *repository,
			       const char *digest, berth_error *err);

	/*
	 * Counters and gauges, exposed by whatever metrics plugin is loaded.
	 * label_names is NULL-terminated (or NULL); values are given in the
	 * same order. Registering a name twice returns the same metric when
	 * type and labels agree, NULL otherwise. Safe from any thread.
	 */
	berth_metric *(*metric_register)(const berth_instance *self, const char *name,
					 const char *help, int type,
					 const char *const *label_names);
	void (*metric_add)(berth_metric *m, const char *const *label_values, double delta);
	void (*metric_set)(berth_metric *m, const char *const *label_values, double value);
	/* Every series of every metric; labels come formatted as a="x",b="y". */
	void (*metrics_foreach)(berth_metric_fn fn, void *ctx);

	/* Inside a job's run(). */
	int (*job_dry_run)(const berth_job_run *run);
	void (*job_print)(berth_job_run *run, const char *fmt, ...) BERTH_PRINTF(2, 3);

	/*
	 * Call fn(arg) on the job thread every interval_ms (at least 1000)
	 * while the server runs (not in `berth job run`). Usually registered
	 * from start().
	 */
	int (*schedule)(const berth_instance *self, uint64_t interval_ms, void (*fn)(void *arg),
			void *arg);

	/* The storage driver's usage() (BERTH_E_UNSUPPORTED without one). Slow: see there. */
	int (*storage_usage)(berth_storage_usage *u, berth_error *err);
	/* Every loaded instance: its name, plugin name, version and kinds (enum berth_plugin_kind bits). */
	void (*instances_foreach)(void (*fn)(void *ctx, const char *instance, const char *plugin,
					     const char *version, unsigned kinds),
				  void *ctx);
	/*
	 * 1 when this process serves requests (`berth serve`), 0 when plugins
	 * were started for something else (`berth job run`, `berth plugin
	 * check --start`): open listeners and long-lived connections only
	 * when serving, so a job can run beside a running server.
	 */
	int (*serving)(void);

	/*
	 * The plugin's own objects in the registry's storage, kept under
	 * _berth/plugins/<plugin name>/<key>: they survive restarts, follow the
	 * registry to another node on shared storage, and are ignored by
	 * Distribution. Instances of one plugin share the folder. A key is a
	 * relative path of segments made of [A-Za-z0-9._:@+=-] (no "." or ".."
	 * segment, at most 512 bytes).
	 *
	 * data_write(): replace the object atomically (readers see the old or the
	 * new bytes, never a mix). data_read(): stream it through fn;
	 * BERTH_E_NOT_FOUND when absent, BERTH_E_RANGE when over max bytes.
	 * data_remove(): delete an object or a prefix and all under it
	 * (BERTH_E_NOT_FOUND when absent). data_list(): fn once per direct child
	 * of prefix ("" for the top), with is_dir set for folders; 0 and no
	 * calls when prefix does not exist.
	 */
	int (*data_write)(const berth_instance *self, const char *key, const void *data,
			  size_t len, berth_error *err);
	int (*data_read)(const berth_instance *self, const char *key, uint64_t max,
			 berth_bytes_fn fn, void *ctx, berth_error *err);
	int (*data_remove)(const berth_instance *self, const char *key, berth_error *err);
	int (*data_list)(const berth_instance *self, const char *prefix, berth_list_fn fn,
			 void *ctx, berth_error *err);

	/*
	 * emit_event() for something a request did: the event carries the
	 * request's client address and identity, or `identity` when it is not
	 * NULL (a token endpoint naming the account it just accepted or refused).
	 */
	int (*emit_request_event)(const berth_instance *self, const berth_request *req,
				  const char *identity, const char *type,
				  const char *repository, const char *tag, const char *digest,
				  const char *detail_json);

	/*
	 * 1 when the request's identity may do `access`, asking the auth hooks
	 * exactly as the core does (0 when refused; nothing is sent to the
	 * client). For plugin routes that filter what they show.
	 */
	int (*allowed)(const berth_request *req, const berth_access *access);

	/*
	 * Every manifest the repository holds, tagged or not, by digest, in no
	 * particular order (BERTH_E_NOT_FOUND for an unknown repository).
	 */
	int (*list_manifests)(const char *repository, berth_name_fn fn, void *ctx,
			      berth_error *err);
	/*
	 * When a tag or manifest (reference: a tag or a digest) was pushed and
	 * last pulled, in ms since the epoch. For a tag, pushed is when the tag
	 * was last set and pulled the last pull of the manifest it names (by
	 * tag or by digest); *pulled_ms is 0 when it was never pulled. Pulls are
	 * recorded in memory and written to storage in batches (see
	 * docs/storage-layout.md), so the last few seconds before a crash may
	 * be lost. Either output pointer may be NULL.
	 */
	int (*manifest_times)(const char *repository, const char *reference,
			      int64_t *pushed_ms, int64_t *pulled_ms, berth_error *err);

	/*
	 * Structured config: policies, rules, endpoints. config_list_child():
	 * the handle of item `index` of a BERTH_CONFIG_MAP_LIST key (NULL past
	 * the end or when the item is not a map). Nested maps have no schema:
	 * config_key_count() and config_key_at() enumerate a handle's keys in
	 * document order, so a plugin can refuse the ones it does not know.
	 * config_where() writes "FILE:LINE:COLUMN" of `key` in the handle (or of
	 * the handle itself when key is NULL) into buf, for error messages that
	 * point at the YAML, and returns buf ("" when unknown).
	 */
	const berth_config *(*config_list_child)(const berth_config *cfg, const char *key,
						 size_t index);
	size_t (*config_key_count)(const berth_config *cfg);
	const char *(*config_key_at)(const berth_config *cfg, size_t index);
	const char *(*config_where)(const berth_config *cfg, const char *key, char *buf,
				    size_t cap);

	/*
	 * Deletes that lose no race with a push (retention): delete_tag_if()
	 * removes the tag only while it still names expected_digest, and
	 * delete_manifest_if_untagged() removes the manifest only while no tag
	 * names it; BERTH_E_EXISTS otherwise. Both decide under the
	 * repository's lock, as pushes do, and emit the same events as the
	 * API's DELETE.
	 */
	int (*delete_tag_if)(const berth_instance *self, const char *repository, const char *tag,
			     const char *expected_digest, berth_error *err);
	int (*delete_manifest_if_untagged)(const berth_instance *self, const char *repository,
					   const char *digest, berth_error *err);

	/*
	 * The referrers of a manifest (the manifests of the repository whose
	 * subject is `digest`), from the index GET /v2/<name>/referrers serves:
	 * fn once per referrer, with repository, digest, media_type,
	 * artifact_type and subject set, reference = its digest, body NULL and
	 * body_len its size. No manifest is read. 0 when there is none.
	 */
	int (*list_referrers)(const char *repository, const char *digest, berth_manifest_fn fn,
			      void *ctx, berth_error *err);

	/*
	 * The index-th value (0 first) of a query parameter a request repeats
	 * (the token protocol's scope=), decoded; NULL past the last one.
	 */
	const char *(*request_query_value)(const berth_request *r, const char *name,
					   size_t index);
} berth_host;

#define BERTH_HOST_HAS(host, member) \
	((host)->size >= offsetof(berth_host, member) + sizeof((host)->member))

/* ------------------------------------------------------------------------ */
/* The descriptor                                                           */
/* ------------------------------------------------------------------------ */

enum berth_plugin_kind {
	BERTH_KIND_REQUEST = 1u << 0,
	BERTH_KIND_AUTH = 1u << 1,
	BERTH_KIND_STORAGE = 1u << 2,
	BERTH_KIND_SCAN = 1u << 3,
	BERTH_KIND_NOTIFY = 1u << 4,
	BERTH_KIND_ROUTES = 1u << 5,
	BERTH_KIND_JOBS = 1u << 6
};

enum berth_plugin_flags {
	/* Never run two calls into one instance at the same time. */
	BERTH_PLUGIN_SERIALIZED = 1u << 0
};

typedef struct berth_plugin {
	/* These three must come first: they protect the rest. */
	uint32_t magic;        /* BERTH_PLUGIN_MAGIC */
	uint32_t size;         /* sizeof(berth_plugin) as the plugin saw it */
	uint16_t abi_major;    /* BERTH_ABI_MAJOR */
	uint16_t abi_minor;    /* BERTH_ABI_MINOR */

	const char *name;      /* e.g. "storage-fs"; [a-z0-9-]+ */
	const char *version;   /* the plugin's own version */
	const char *description;
	unsigned flags;        /* enum berth_plugin_flags */

	/* Terminated by an entry whose type is BERTH_CONFIG_END. May be NULL. */
	const berth_config_key *config_schema;

	/*
	 * Lifecycle, all optional. create() receives the host table (valid for
	 * the process's life), this instance's handle and its validated config,
	 * and returns its state through *state. On failure it fills err; the
	 * server does not start and prints the message.
	 */
	int (*create)(const berth_host *host, const berth_instance *self,
		      const berth_config *config, void **state, berth_error *err);
	int (*start)(void *state, berth_error *err);
	void (*stop)(void *state);
	void (*destroy)(void *state);

	/* Per-kind tables; NULL when the plugin does not provide that kind. */
	const berth_request_ops *request;
	const berth_auth_ops *auth;
	const berth_storage_ops *storage;
	const berth_scan_ops *scan;
	const berth_notify_ops *notify;
	/* NULL-terminated arrays of pointers; see berth_route and berth_job. */
	const berth_route *const *routes;
	const berth_job *const *jobs;

	/*
	 * Optional. The server got SIGHUP or SIGUSR1 (what logrotate sends
	 * after moving files away): reopen the files the instance writes.
	 * Runs on the main thread, concurrently with hooks and notifiers.
	 */
	void (*reopen)(void *state);

	/*
	 * Optional. Check a config the schema cannot fully describe (the maps
	 * of a MAP_LIST, values that must parse) without creating an instance:
	 * no files, no threads, no side effects. `berth config check` and
	 * `berth plugin check --config` call it so that such mistakes are found
	 * before a deploy; 0, or BERTH_E_CONFIG with a message that points at
	 * the YAML (host->config_where).
	 */
	int (*check_config)(const berth_host *host, const berth_config *config, berth_error *err);
} berth_plugin;

/* Fill the version fields of a descriptor. */
#define BERTH_PLUGIN_HEADER                                    \
	.magic = BERTH_PLUGIN_MAGIC, .size = sizeof(berth_plugin), \
	.abi_major = BERTH_ABI_MAJOR, .abi_minor = BERTH_ABI_MINOR

typedef const berth_plugin *(*berth_plugin_entry_fn)(void);

/* The one symbol a plugin exports; define it with BERTH_PLUGIN_EXPORT. */
BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void);

#ifdef __cplusplus
}
#endif

#endif /* BERTH_PLUGIN_H */
