/*
 * runtime.h - a loaded registry without the HTTP server: configuration,
 * plugins created and started, storage driver and registry settings in
 * place. `berth serve` listens on top of one; `berth job run` runs a job
 * in one.
 */
#ifndef BERTH_RUNTIME_H
#define BERTH_RUNTIME_H

#include "berth/error.h"
#include "config.h"
#include "plugin_loader.h"

typedef struct runtime {
	server_config *cfg;
	plugin_set plugins;
} runtime;

/* Load `file`, its plugins, and start them. Logs as configured. */
int runtime_open(const char *file, runtime *rt, berth_error *err);
/* Stop and unload the plugins, free the configuration. Safe on a failed open. */
void runtime_close(runtime *rt);

#endif
