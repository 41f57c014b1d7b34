/* A plugin built against a newer minor ABI than the host has. */
#include "berth/plugin.h"

static const berth_plugin descriptor = {
	.magic = BERTH_PLUGIN_MAGIC,
	.size = sizeof(berth_plugin),
	.abi_major = BERTH_ABI_MAJOR,
	.abi_minor = BERTH_ABI_MINOR + 1,
	.name = "abi-newer-minor",
	.version = "1",
};

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void)
{
	return &descriptor;
}
