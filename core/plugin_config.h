/*
 * plugin_config.h - a plugin's `config:` map as plugins see it: the opaque
 * berth_config handle of berth/plugin.h, schema validation, and the typed
 * getters that fill berth_host's config_* members.
 */
#ifndef BERTH_PLUGIN_CONFIG_H
#define BERTH_PLUGIN_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "berth/plugin.h"
#include "config_node.h"

/*
 * The handle behind berth_config. node is a CFG_MAP (possibly empty);
 * schema is the plugin's config_schema, or NULL for a nested map reached
 * with config_child (the ABI has no nested schemas). One node is read with
 * one schema: the parsed list/map defaults are cached in the node.
 */
struct berth_config {
	const cfg_node *node;
	const berth_config_key *schema;
};

/*
 * Validate a plugin's config map against its schema (NULL schema = the
 * plugin takes no config: any key is unknown). Unknown key (with did-you-
 * mean), wrong type, missing required key, or a schema default that does not
 * parse as its own type -> BERTH_E_CONFIG
 * "<file>:<line>:<col>: plugin 'NAME': ...".
 */
int plugin_config_validate(const cfg_node *config, const berth_config_key *schema,
			   const char *instance_name, berth_error *err);

/*
 * The getters, with the exact signatures of berth_host's config_* members.
 * A key absent from the YAML (or written as an empty value) yields its
 * schema default, else NULL / def / 0. config_int reads SIZE keys as bytes
 * and DURATION keys as milliseconds. A LIST key written as one value reads
 * as a list of one. config_child returns a handle cached inside the node,
 * so it lives as long as the config. Every getter accepts a NULL cfg, so
 * config_child(...) results can be chained without checks.
 */
const char *plugin_config_string(const berth_config *cfg, const char *key);
int64_t plugin_config_int(const berth_config *cfg, const char *key, int64_t def);
int plugin_config_bool(const berth_config *cfg, const char *key, int def);
size_t plugin_config_list_count(const berth_config *cfg, const char *key);
const char *plugin_config_list_string(const berth_config *cfg, const char *key,
				      size_t index);
const berth_config *plugin_config_child(const berth_config *cfg, const char *key);
const berth_config *plugin_config_list_child(const berth_config *cfg, const char *key,
					     size_t index);
size_t plugin_config_key_count(const berth_config *cfg);
const char *plugin_config_key_at(const berth_config *cfg, size_t index);
const char *plugin_config_where(const berth_config *cfg, const char *key, char *buf,
				size_t cap);

/*
 * Print a plugin config as YAML-ish lines indented by `indent` spaces, with
 * SECRET keys, and any key whose name contains "password", "passwd",
 * "secret" or "token" (nested maps have no schema to say so), masked as
 * "********". Absent keys with a schema
 * default are printed with a "# default" comment. For `berth config check`.
 */
void plugin_config_print(FILE *out, const berth_config *cfg, int indent);

#endif /* BERTH_PLUGIN_CONFIG_H */
