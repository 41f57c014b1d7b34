/*
 * config.h - the server configuration: berth.yaml, its includes, and the
 * checked values the rest of the core runs on.
 *
 * docs/configuration.md is the operator's reference for every key.
 */
#ifndef BERTH_CONFIG_H
#define BERTH_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "berth/error.h"
#include "config_node.h"

/* Largest file read, main or included. */
#define CONFIG_MAX_FILE_SIZE (1024 * 1024)
/* Most files `include:` may bring in. */
#define CONFIG_MAX_INCLUDES 64

typedef struct plugin_decl {
	char *use;              /* as written */
	char *name;             /* instance name */
	int priority;
	cfg_node *config;       /* CFG_MAP, never NULL (empty map when absent) */
	const char *file;       /* where the entry starts */
	int line;
} plugin_decl;

/* gc: defaults (docs/garbage-collection.md). */
#define GC_GRACE_DEFAULT (3600ull * 1000)
#define GC_MARK_MEMORY_DEFAULT_BYTES (16u * 1024 * 1024)

/* limits: defaults (docs/configuration.md). */
#define DEFAULT_MAX_REQUESTS 512
#define DEFAULT_MAX_CONNECTIONS_PER_CLIENT 128
#define DEFAULT_MAX_UPLOADS_PER_CLIENT 32
#define DEFAULT_MAX_HEADER_SIZE (64u * 1024)

typedef struct server_config {
	char *listen_host;      /* without brackets: "::1", "127.0.0.1", "registry.local" */
	int listen_port;
	/* Absolute, or relative to the working directory, resolved from the
	 * directory of the file that set them; empty when not configured (the
	 * loader searches the install directory after these). */
	char **plugin_path;
	size_t n_plugin_path;
	char *tls_cert, *tls_key;   /* both NULL or both set; resolved like plugin_path */
	int tls_min_version;        /* 12 or 13 */
	uint64_t max_manifest_size;
	unsigned max_connections;
	unsigned threads;           /* never 0: `threads: 0` is resolved to the CPU count (min 2) */
	uint64_t connection_timeout_ms, shutdown_timeout_ms, max_chunk_size, upload_purge_age_ms;
	/* 0 means no limit for the three counts */
	unsigned max_requests;                 /* requests in flight; past it 429 */
	unsigned max_connections_per_client;   /* connections from one address */
	unsigned max_uploads_per_client;       /* upload requests in flight from one address */
	uint64_t max_header_size;              /* per-connection memory for the request head */
	int log_level;              /* enum berth_log_level */
	int log_json;
	int access_log;
	int delete_enabled, tag_delete_enabled;
	int catalog_walk;            /* registry.catalog: walk (1) or index (0, default) */
	unsigned events_queue_size;  /* events.queue_size, default 1024 */
	uint64_t gc_grace_ms;        /* gc.grace_period */
	size_t gc_mark_memory;       /* gc.mark_memory, bytes */
	plugin_decl *plugins;
	size_t n_plugins;
	char **files;               /* every file read, in order */
	size_t n_files;
	/* Things worth logging that are not errors ("include 'x' matched no files"). */
	char **warnings;
	size_t n_warnings;
	/* The merged document; plugin_decl.config points into it. */
	cfg_node *root;
} server_config;

/*
 * Load path, its includes, expand ${VAR}, check every key and value. On
 * error *out is NULL and err holds "<file>:<line>:<column>: <message>"
 * with code BERTH_E_CONFIG (or BERTH_E_NOMEM).
 */
int config_load(const char *path, server_config **out, berth_error *err);

/*
 * The same from memory, for fuzzing and tests: `name` stands for the file
 * (relative paths resolve against its directory); an `include:` key is
 * checked but not followed, and leaves a warning.
 */
int config_load_buffer(const char *name, const char *yaml, size_t len,
		       server_config **out, berth_error *err);

void config_free(server_config *c);

/*
 * Shared value parsers; 0 or BERTH_E_INVALID (also on overflow).
 * size: plain bytes or a k/K/Ki/KiB, M.., G.., T.. suffix, all 1024-based;
 * duration: one or more <number><unit> with unit ms, s, m, h or d ("1h30m"),
 * or a plain number of seconds; bool: true/false/yes/no/on/off, any case;
 * int: decimal with optional sign, 64-bit.
 */
int config_parse_size(const char *s, uint64_t *out);
int config_parse_duration_ms(const char *s, uint64_t *out);
int config_parse_bool(const char *s, int *out);
int config_parse_int(const char *s, int64_t *out);

#endif /* BERTH_CONFIG_H */
