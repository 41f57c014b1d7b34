/*
 * host.c - the services table plugins receive in create().
 *
 * It only grows at the end (see BERTH_HOST_HAS in plugin.h). Functions here
 * are thin: the real work lives in log.c and plugin_config.c.
 */
#include <stdarg.h>
#include <time.h>

#include "log.h"
#include "plugin_loader.h"

BERTH_PRINTF(3, 4)
static void host_log(const berth_instance *self, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_tagged_v(self ? self->name : "plugin", level, fmt, ap);
	va_end(ap);
}

static int64_t host_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t host_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *host_instance_name(const berth_instance *self)
{
	return self ? self->name : NULL;
}

const berth_host host_services = {
	.size = sizeof(berth_host),
	.abi_major = BERTH_ABI_MAJOR,
	.abi_minor = BERTH_ABI_MINOR,
	.version = BERTH_VERSION,
	.log = host_log,
	.config_string = plugin_config_string,
	.config_int = plugin_config_int,
	.config_bool = plugin_config_bool,
	.config_list_count = plugin_config_list_count,
	.config_list_string = plugin_config_list_string,
	.config_child = plugin_config_child,
	.now_ms = host_now_ms,
	.monotonic_ms = host_monotonic_ms,
	.instance_name = host_instance_name,
};
