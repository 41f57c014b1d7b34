/*
 * storage_s3.c - the storage-s3 plugin: registry data in an S3 bucket
 * (Ceph RGW, AWS S3 or any S3-compatible store).
 *
 * Keys map one to one onto object keys under `rootdirectory`, so a bucket
 * written by CNCF Distribution's s3 driver is served as is, and the other
 * way round. Every node that points at the same bucket sees the same
 * registry: the plugin keeps no state but idle connections. This file holds
 * the descriptor, the config schema and the instance lifecycle.
 */
#include <stdlib.h>
#include <string.h>

#include "s3.h"

static const berth_config_key s3_schema[] = {
	{.key = "endpoint", .type = BERTH_CONFIG_STRING, .flags = BERTH_CONFIG_REQUIRED,
	 .help = "the store's URL, scheme://host[:port] (e.g. https://s3.eu-west-1.amazonaws.com)"},
	{.key = "region", .type = BERTH_CONFIG_STRING, .default_value = "us-east-1",
	 .help = "region in the signing scope"},
	{.key = "bucket", .type = BERTH_CONFIG_STRING, .flags = BERTH_CONFIG_REQUIRED,
	 .help = "bucket holding the registry; it must exist"},
	{.key = "rootdirectory", .type = BERTH_CONFIG_STRING, .default_value = "",
	 .help = "key prefix inside the bucket (Distribution's rootdirectory)"},
	{.key = "access_key", .type = BERTH_CONFIG_STRING,
	 .help = "access key id (or access_key_file)"},
	{.key = "access_key_file", .type = BERTH_CONFIG_STRING,
	 .help = "file whose first line is the access key id"},
	{.key = "secret_key", .type = BERTH_CONFIG_STRING, .flags = BERTH_CONFIG_SECRET,
	 .help = "secret access key (or secret_key_file)"},
	{.key = "secret_key_file", .type = BERTH_CONFIG_STRING,
	 .help = "file whose first line is the secret access key"},
	{.key = "session_token", .type = BERTH_CONFIG_STRING, .flags = BERTH_CONFIG_SECRET,
	 .help = "temporary credentials' session token, sent as x-amz-security-token"},
	{.key = "path_style", .type = BERTH_CONFIG_BOOL, .default_value = "true",
	 .help = "host/bucket/key URLs; false for bucket.host/key (virtual host)"},
	{.key = "tls_verify", .type = BERTH_CONFIG_BOOL, .default_value = "true",
	 .help = "verify the store's TLS certificate"},
	{.key = "ca_file", .type = BERTH_CONFIG_STRING,
	 .help = "PEM file of CAs to trust instead of the system's"},
	{.key = "part_size", .type = BERTH_CONFIG_SIZE, .default_value = "10MiB",
	 .help = "multipart part size and write buffer per upload (5MiB-1GiB)"},
	{.key = "copy_threshold", .type = BERTH_CONFIG_SIZE, .default_value = "32MiB",
	 .help = "moves of larger objects use a multipart copy"},
	{.key = "copy_part_size", .type = BERTH_CONFIG_SIZE, .default_value = "32MiB",
	 .help = "part size of multipart copies"},
	{.key = "read_window", .type = BERTH_CONFIG_SIZE, .default_value = "4MiB",
	 .help = "bytes fetched per ranged GET when streaming a blob (64KiB-64MiB)"},
	{.key = "connect_timeout", .type = BERTH_CONFIG_DURATION, .default_value = "10s",
	 .help = "time to connect to the store"},
	{.key = "stall_timeout", .type = BERTH_CONFIG_DURATION, .default_value = "60s",
	 .help = "a request that moves no byte for this long fails"},
	{.key = "retries", .type = BERTH_CONFIG_INT, .default_value = "3",
	 .help = "retries of a request after a network error, 5xx or throttling"},
	{.key = "retry_backoff", .type = BERTH_CONFIG_DURATION, .default_value = "100ms",
	 .help = "first retry delay; doubles each retry, with jitter, up to 5s"},
	{.key = "redirect", .type = BERTH_CONFIG_BOOL, .default_value = "false",
	 .help = "answer blob GETs with a redirect to a presigned URL"},
	{.key = "redirect_expiry", .type = BERTH_CONFIG_DURATION, .default_value = "20m",
	 .help = "lifetime of presigned URLs"},
	{.key = "max_idle_connections", .type = BERTH_CONFIG_INT, .default_value = "16",
	 .help = "idle connections to the store kept for reuse"},
	{.type = BERTH_CONFIG_END}};

static int s3_create(const berth_host *host, const berth_instance *self,
		     const berth_config *config, void **state, berth_error *err)
{
	struct s3_state *s = NULL;
	int rc;

	*state = NULL;
	if (!host || !BERTH_HOST_HAS(host, monotonic_ms) || !host->config_string ||
	    !host->config_bool || !host->config_int || !host->log || !host->now_ms)
		return s3_fail(err, BERTH_E_CONFIG, "storage-s3: the host offers no config access");
	s = calloc(1, sizeof(*s));
	if (!s)
		return s3_fail(err, BERTH_E_NOMEM, "storage-s3: out of memory");
	rc = s3_config_load(host, config, &s->cfg, err);
	if (rc != 0) {
		free(s);
		return rc;
	}
	s->host = host;
	s->self = self;
	pthread_mutex_init(&s->pool_lock, NULL);
	s->pool = calloc((size_t)s->cfg.max_idle + 1, sizeof(*s->pool));
	if (!s->pool || s3_global_init() != 0) {
		free(s->pool);
		pthread_mutex_destroy(&s->pool_lock);
		s3_config_free(&s->cfg);
		free(s);
		return s3_fail(err, BERTH_E_INTERNAL, "storage-s3: cannot initialise libcurl");
	}
	host->log(self, BERTH_LOG_INFO,
		  "bucket '%s' at %s (%s addressing), root '%s', region %s, part size %llu",
		  s->cfg.bucket, s->cfg.endpoint, s->cfg.path_style ? "path" : "virtual-host",
		  s->cfg.root, s->cfg.region, (unsigned long long)s->cfg.part_size);
	*state = s;
	return 0;
}

static int probe_entry(void *ctx, const char *name, int is_prefix, uint64_t size,
			 int64_t mtime_ms)
{
	(void)ctx;
	(void)name;
	(void)is_prefix;
	(void)size;
	(void)mtime_ms;
	return 1;
}

/*
 * Look at the bucket once so a wrong endpoint, credential or bucket shows in
 * the log at start. The server still starts: the store may come up later,
 * and until then each request fails with the same message.
 */
static int s3_start(void *state, berth_error *err)
{
	struct s3_state *s = state;
	berth_error e;
	char *root = s3_object_key(s, "", 1);
	int rc;

	(void)err;
	if (!root)
		return s3_fail(err, BERTH_E_NOMEM, "storage-s3: out of memory");
	memset(&e, 0, sizeof(e));
	rc = s3_list_raw(s, root, 1, 1, probe_entry, NULL, "", &e);
	free(root);
	if (rc == 0)
		s->host->log(s->self, BERTH_LOG_INFO, "bucket '%s' is reachable", s->cfg.bucket);
	else
		s->host->log(s->self, BERTH_LOG_ERROR, "bucket '%s' is not usable yet: %s",
			     s->cfg.bucket, e.message);
	return 0;
}

static void s3_destroy(void *state)
{
	struct s3_state *s = state;

	if (!s)
		return;
	s3_pool_free(s);
	free(s->pool);
	pthread_mutex_destroy(&s->pool_lock);
	s3_config_free(&s->cfg);
	free(s);
}

static const berth_storage_ops s3_ops = {
	.size = sizeof(berth_storage_ops),
	.stat = s3_stat,
	.read_all = s3_read_all,
	.open_read = s3_open_read,
	.read_at = s3_read_at,
	.read_close = s3_read_close,
	.write_open = s3_write_open,
	.write = s3_write,
	.write_commit = s3_write_commit,
	.write_cancel = s3_write_cancel,
	.move = s3_move,
	.remove = s3_remove,
	.list = s3_list,
	.redirect_url = s3_redirect_url,
	/* No usage(): a bucket has no capacity to report, and counting its
	 * bytes means listing every object; the store's own metrics do that. */
};

static const berth_plugin s3_plugin = {
	BERTH_PLUGIN_HEADER,
	.name = "storage-s3",
	.version = "0.1.0",
	.description = "registry data in an S3 bucket (Ceph RGW, AWS), Distribution compatible",
	.config_schema = s3_schema,
	.create = s3_create,
	.start = s3_start,
	.destroy = s3_destroy,
	.storage = &s3_ops,
};

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void);

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void)
{
	return &s3_plugin;
}
