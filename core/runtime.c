#include "runtime.h"

#include "catalog_index.h"
#include "tag_index.h"

#include <string.h>

#include "hooks.h"
#include "log.h"
#include "registry.h"
#include "storage.h"

static void use_storage(plugin_instance *in)
{
	storage_driver d = {
		.ops = in->storage,
		.state = in->state,
		.serial = (in->desc.flags & BERTH_PLUGIN_SERIALIZED) ? &in->serial : NULL,
		.instance = in->name,
	};
	storage_set_driver(&d);
	/* A new storage: what is known of the old one's repositories is not its. */
	catalog_index_reset();
	tag_index_reset();
}

int runtime_open(const char *file, runtime *rt, berth_error *err)
{
	int rc;

	memset(rt, 0, sizeof(*rt));
	rc = config_load(file, &rt->cfg, err);
	if (rc != 0)
		return rc;
	log_configure(rt->cfg->log_level, rt->cfg->log_json);
	for (size_t i = 0; i < rt->cfg->n_warnings; i++)
		log_warn("%s", rt->cfg->warnings[i]);
	registry_configure(&(registry_settings){
		.max_manifest_size = rt->cfg->max_manifest_size,
		.max_chunk_size = rt->cfg->max_chunk_size,
		.max_uploads_per_client = rt->cfg->max_uploads_per_client,
		.catalog_walk = rt->cfg->catalog_walk,
		.delete_enabled = rt->cfg->delete_enabled,
		.tag_delete_enabled = rt->cfg->tag_delete_enabled,
	});
	rc = plugins_load(rt->cfg, &rt->plugins, err);
	if (rc != 0)
		return rc;
	/* The storage driver is in place before any plugin's create(), so a
	 * plugin may read the registry from start(). */
	upload_metrics_register();
	rc = hooks_init(&rt->plugins, err);
	if (rc != 0)
		return rc;
	rc = plugins_start(&rt->plugins, err, use_storage);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < rt->plugins.n; i++) {
		plugin_instance *in = &rt->plugins.v[i];
		char kinds[128];
		plugin_kinds_string(in->kinds, kinds, sizeof(kinds));
		log_info("plugin %s: %s %s (ABI %u.%u) [%s] priority %d from %s", in->name,
			 in->desc.name, in->desc.version ? in->desc.version : "",
			 in->desc.abi_major, in->desc.abi_minor, kinds, in->priority, in->path);
	}
	return 0;
}

void runtime_close(runtime *rt)
{
	hooks_reset();
	plugins_unload(&rt->plugins);
	config_free(rt->cfg);
	rt->cfg = NULL;
}
