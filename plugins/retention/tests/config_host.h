/*
 * config_host.h - a berth_host for unit tests whose config getters read a
 * YAML text the way the core's do (written values first, then the schema's
 * defaults; nested maps and lists of maps through the same handles), so
 * the plugin's config code runs unchanged against text a test writes.
 */
#ifndef RETENTION_TEST_CONFIG_HOST_H
#define RETENTION_TEST_CONFIG_HOST_H

#include <stddef.h>

#include "berth/plugin.h"

/* The host: config getters only, plus a log to stderr. */
const berth_host *config_host(void);
/*
 * Parse text, a map (the plugin's config), adding the schema's defaults for
 * the keys it lacks. NULL with a message in err on a YAML error. Positions
 * read "test.yaml:LINE:COLUMN".
 */
const berth_config *config_host_parse(const char *text, const berth_config_key *schema,
				      char *err, size_t cap);
void config_host_free(const berth_config *cfg);

#endif
