/* A plugin whose request table names no hook at all. */
#include "berth/plugin.h"

static const berth_request_ops request_ops = {
	.size = sizeof(berth_request_ops),
};

static const berth_plugin descriptor = {
	BERTH_PLUGIN_HEADER,
	.name = "hooks-request",
	.version = "1",
	.request = &request_ops,
};

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void)
{
	return &descriptor;
}
