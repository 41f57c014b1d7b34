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
 *   - jobs run on the job thread.
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
	BERTH_CONFIG_SIZE,         /* bytes; accepts suffixes k, M, G (1024-based) */
	BERTH_CONFIG_DURATION,     /* milliseconds; accepts ms, s, m, h, d */
	BERTH_CONFIG_LIST,         /* sequence of scalars */
	BERTH_CONFIG_MAP           /* nested map, read with config_child */
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
} berth_host;

#define BERTH_HOST_HAS(host, member) \
	((host)->size >= offsetof(berth_host, member) + sizeof((host)->member))

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
	uint64_t size;
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
} berth_storage_ops;

/* ------------------------------------------------------------------------ */
/* Other hook kinds                                                         */
/*                                                                          */
/* The tables below reserve the descriptor's layout for request, auth,      */
/* scan and notify hooks, plugin routes and jobs. A host of ABI 1.0 serves  */
/* storage plugins only and refuses to load a plugin that fills any other  */
/* table, naming the kind, rather than loading it and ignoring its hooks.   */
/* ------------------------------------------------------------------------ */

typedef struct berth_request_ops {
	uint32_t size;
	int priority;          /* lower runs first */
} berth_request_ops;

typedef struct berth_auth_ops {
	uint32_t size;
	int priority;
} berth_auth_ops;

typedef struct berth_scan_ops {
	uint32_t size;
} berth_scan_ops;

typedef struct berth_notify_ops {
	uint32_t size;
} berth_notify_ops;

typedef struct berth_route {
	const char *method;    /* NULL terminates the array */
	const char *path_prefix;
} berth_route;

typedef struct berth_job {
	const char *name;      /* NULL terminates the array */
} berth_job;

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
	const berth_route *routes;
	const berth_job *jobs;
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
