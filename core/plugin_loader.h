/*
 * plugin_loader.h - finding, checking and running plugin instances.
 *
 * Loading is in two steps so `berth config check` can stop after the first:
 *   plugins_load()   dlopen each declared .so, check its descriptor (magic,
 *                    size, ABI major/minor) before any other plugin code
 *                    runs, and validate the instance's config against the
 *                    plugin's schema;
 *   plugins_start()  create() and start() each instance, in declared order.
 */
#ifndef BERTH_PLUGIN_LOADER_H
#define BERTH_PLUGIN_LOADER_H

#include <pthread.h>

#include "berth/plugin.h"
#include "config.h"
#include "plugin_config.h"

/* The host's view of one instance; plugins see it as `const berth_instance *`. */
struct berth_instance {
	char *name;
	char *path;              /* the .so actually loaded */
	const char *decl_file;
	int decl_line;
	int priority;
	void *dl;
	berth_plugin desc;       /* copied; fields past the plugin's size are NULL */
	/* Per-kind tables, copied up to min(plugin size, host size); zero
	 * (all NULL) when the plugin does not provide the kind. */
	berth_storage_ops storage;
	berth_request_ops request;
	berth_auth_ops auth;
	berth_scan_ops scan;
	berth_notify_ops notify;
	unsigned kinds;          /* enum berth_plugin_kind bits */
	struct berth_config config;
	void *state;
	int created, started;
	pthread_mutex_t serial;  /* used when BERTH_PLUGIN_SERIALIZED */
};

typedef struct berth_instance plugin_instance;

typedef struct plugin_set {
	plugin_instance *v;
	size_t n;
} plugin_set;

int plugins_load(const server_config *cfg, plugin_set *out, berth_error *err);
/* The same without requiring a storage instance (`berth plugin check`). */
int plugins_load_unchecked(const server_config *cfg, plugin_set *out, berth_error *err);
/* create() and start() every instance; on_storage_created, when given, is
 * called right after the storage instance's create(). */
int plugins_start(plugin_set *set, berth_error *err, void (*on_storage_created)(plugin_instance *));
/*
 * Call every instance's check_config() (no instance is created); the first
 * failure, prefixed with where the instance is declared.
 */
int plugins_check_config(plugin_set *set, berth_error *err);
/* Call every started instance's reopen() (SIGHUP, SIGUSR1), in declared order. */
void plugins_reopen(plugin_set *set);
/* stop() in reverse order, destroy(), dlclose(); safe on a partly started set. */
void plugins_unload(plugin_set *set);

/* The one storage instance (plugins_load guarantees there is exactly one). */
plugin_instance *plugins_storage(plugin_set *set);

/* "storage", "request,auth", ... */
void plugin_kinds_string(unsigned kinds, char *buf, size_t cap);

/* The host services table handed to every plugin. */
extern const berth_host host_services;
/* What host_services.serving() answers; set before plugins start. */
void host_set_serving(int serving);

#endif
