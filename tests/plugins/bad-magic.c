/* A plugin whose descriptor is not a Berth descriptor. */
#include "berth/plugin.h"

static const berth_plugin descriptor = {
	.magic = 0x12345678u,
	.size = sizeof(berth_plugin),
	.abi_major = BERTH_ABI_MAJOR,
	.abi_minor = BERTH_ABI_MINOR,
	.name = "bad-magic",
	.version = "1",
};

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void)
{
	return &descriptor;
}
