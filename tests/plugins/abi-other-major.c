/* A plugin built against a another major ABI than the host. */
#include "berth/plugin.h"

static const berth_plugin descriptor = {
	.magic = BERTH_PLUGIN_MAGIC,
	.size = sizeof(berth_plugin),
	.abi_major = BERTH_ABI_MAJOR + 1,
	.abi_minor = 0,
	.name = "abi-other-major",
	.version = "1",
};

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void)
{
	return &descriptor;
}
