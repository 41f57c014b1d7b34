/*
 * s3_config.c - reading and checking the instance's config.
 *
 * Credentials come from the config (where ${VAR} is expanded by the host)
 * or from files (access_key_file, secret_key_file: the first line, as
 * container secrets are mounted). No AWS_* environment variable is read
 * implicitly: a registry must not change the store it writes to because of
 * what happens to be in its environment (this very machine sets
 * AWS_CA_BUNDLE, which breaks Distribution's driver at start). Write
 * `secret_key: ${AWS_SECRET_ACCESS_KEY}` to use one.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"

/* The first line of a file, trimmed; NULL with err filled when unreadable or empty. */
static char *read_secret_file(const char *path, const char *key, berth_error *err)
{
	char line[4096], *out = NULL;
	size_t n;
	FILE *f = fopen(path, "re");

	if (!f) {
		s3_fail(err, BERTH_E_CONFIG, "storage-s3: cannot read %s '%s'", key, path);
		return NULL;
	}
	if (fgets(line, sizeof(line), f)) {
		n = strlen(line);
		while (n > 0 && isspace((unsigned char)line[n - 1]))
			line[--n] = '\0';
		if (n > 0)
			out = strdup(line);
	}
	fclose(f);
	if (!out)
		s3_fail(err, BERTH_E_CONFIG, "storage-s3: %s '%s' is empty", key, path);
	return out;
}

/* A value from `key` or from the file named by `key`_file; exactly one must be set. */
static char *credential(const berth_host *host, const berth_config *config, const char *key,
			const char *file_key, int required, berth_error *err)
{
	const char *v = host->config_string(config, key);
	const char *f = host->config_string(config, file_key);
	char *out;

	if (v && *v && f && *f) {
		s3_fail(err, BERTH_E_CONFIG, "storage-s3: set '%s' or '%s', not both", key, file_key);
		return NULL;
	}
	if (f && *f)
		return read_secret_file(f, file_key, err);
	if (v && *v) {
		out = strdup(v);
		if (!out)
			s3_fail(err, BERTH_E_NOMEM, "storage-s3: out of memory");
		return out;
	}
	if (required)
		s3_fail(err, BERTH_E_CONFIG, "storage-s3: '%s' (or '%s') is required", key, file_key);
	return NULL;
}

static int bucket_valid(const char *b)
{
	size_t n = strlen(b), i;

	if (n < 3 || n > 63)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)b[i]) && b[i] != '-' && b[i] != '.' && b[i] != '_')
			return 0;
	return 1;
}

/* scheme://host[:port] with nothing after it; fills host (with port) and scheme. */
static int parse_endpoint(const char *endpoint, struct s3_config *c, const char **scheme,
			  char **hostport, berth_error *err)
{
	const char *h;
	size_t n;

	if (strncmp(endpoint, "http://", 7) == 0)
		*scheme = "http";
	else if (strncmp(endpoint, "https://", 8) == 0)
		*scheme = "https";
	else
		return s3_fail(err, BERTH_E_CONFIG, "storage-s3: endpoint '%s' must start with http:// or https://%s",
			   endpoint, "");
	h = strstr(endpoint, "://") + 3;
	n = strlen(h);
	while (n > 0 && h[n - 1] == '/')
		n--;
	if (n == 0 || memchr(h, '/', n) || memchr(h, '?', n) || memchr(h, '@', n) ||
	    memchr(h, '#', n))
		return s3_fail(err, BERTH_E_CONFIG, "storage-s3: endpoint '%s' must be scheme://host[:port]%s", endpoint,
			   " (no path, no user)");
	*hostport = strndup(h, n);
	c->endpoint = s3_strdup_printf("%s://%.*s", *scheme, (int)n, h);
	if (!*hostport || !c->endpoint)
		return s3_fail(err, BERTH_E_NOMEM, "storage-s3: out of memory");
	return 0;
}

static char *root_dir(const char *v, berth_error *err)
{
	size_t n;
	char *out;

	if (!v)
		v = "";
	while (*v == '/')
		v++;
	out = strdup(v);
	if (!out) {
		s3_fail(err, BERTH_E_NOMEM, "storage-s3: out of memory");
		return NULL;
	}
	n = strlen(out);
	while (n > 0 && out[n - 1] == '/')
		out[--n] = '\0';
	if (n && s3_key_check(out, 0, err) != 0) {
		s3_fail(err, BERTH_E_CONFIG, "storage-s3: rootdirectory '%s' is not a valid path%s", v, "");
		free(out);
		return NULL;
	}
	return out;
}

static int range_check(const char *key, int64_t v, int64_t lo, int64_t hi, berth_error *err)
{
	char a[32], b[96];

	if (v >= lo && v <= hi)
		return 0;
	snprintf(a, sizeof(a), "%s", key);
	snprintf(b, sizeof(b), "%lld, must be between %lld and %lld", (long long)v,
		 (long long)lo, (long long)hi);
	return s3_fail(err, BERTH_E_CONFIG, "storage-s3: '%s' is %s", a, b);
}

int s3_config_load(const berth_host *host, const berth_config *config, struct s3_config *c,
		   berth_error *err)
{
	const char *endpoint = host->config_string(config, "endpoint");
	const char *bucket = host->config_string(config, "bucket");
	const char *region = host->config_string(config, "region");
	const char *ca = host->config_string(config, "ca_file");
	const char *token = host->config_string(config, "session_token");
	const char *scheme = "https";
	char *hostport = NULL;
	int64_t v;
	int rc;

	memset(c, 0, sizeof(*c));
	if (!endpoint || !*endpoint)
		return s3_fail(err, BERTH_E_CONFIG, "storage-s3: 'endpoint' is required%s%s", "", "");
	if (!bucket || !bucket_valid(bucket))
		return s3_fail(err, BERTH_E_CONFIG, "storage-s3: bucket '%s' is not a valid bucket name%s",
			   bucket ? bucket : "", " (3-63 letters, digits, '.', '-', '_')");
	rc = parse_endpoint(endpoint, c, &scheme, &hostport, err);
	if (rc != 0)
		goto fail;
	c->bucket = strdup(bucket);
	c->region = strdup(region && *region ? region : "us-east-1");
	c->root = root_dir(host->config_string(config, "rootdirectory"), err);
	if (!c->root) {
		rc = err ? err->code : BERTH_E_CONFIG;
		goto fail;
	}
	c->access_key = credential(host, config, "access_key", "access_key_file", 1, err);
	if (!c->access_key) {
		rc = BERTH_E_CONFIG;
		goto fail;
	}
	c->secret_key = credential(host, config, "secret_key", "secret_key_file", 1, err);
	if (!c->secret_key) {
		rc = BERTH_E_CONFIG;
		goto fail;
	}
	if (token && *token)
		c->session_token = strdup(token);
	if (ca && *ca)
		c->ca_file = strdup(ca);
	c->path_style = host->config_bool(config, "path_style", 1);
	c->tls_verify = host->config_bool(config, "tls_verify", 1);
	if (c->path_style) {
		c->host = strdup(hostport);
		c->base_url = s3_strdup_printf("%s/%s", c->endpoint, c->bucket);
	} else {
		c->host = s3_strdup_printf("%s.%s", c->bucket, hostport);
		c->base_url = s3_strdup_printf("%s://%s.%s", scheme, c->bucket, hostport);
	}
	if (!c->bucket || !c->region || !c->host || !c->base_url) {
		rc = s3_fail(err, BERTH_E_NOMEM, "storage-s3: out of memory");
		goto fail;
	}
#define S3_RANGE(key, lo, hi, def, field, type)                                  \
	do {                                                                      \
		v = host->config_int(config, key, def);                           \
		rc = range_check(key, v, lo, hi, err);                            \
		if (rc != 0)                                                      \
			goto fail;                                                \
		c->field = (type)v;                                               \
	} while (0)
	S3_RANGE("part_size", (int64_t)S3_MIN_PART, (int64_t)1 << 30, 10 << 20, part_size,
		 uint64_t);
	S3_RANGE("copy_threshold", 0, (int64_t)S3_MAX_PART, 32 << 20, copy_threshold, uint64_t);
	S3_RANGE("copy_part_size", (int64_t)S3_MIN_PART, (int64_t)S3_MAX_PART - (int64_t)S3_MIN_PART,
		 32 << 20, copy_part_size, uint64_t);
	S3_RANGE("read_window", 64 << 10, 64 << 20, 4 << 20, read_window, uint64_t);
	S3_RANGE("connect_timeout", 100, 600000, 10000, connect_timeout_ms, long);
	S3_RANGE("stall_timeout", 1000, 3600000, 60000, stall_timeout_ms, long);
	S3_RANGE("retries", 0, 10, 3, retries, int);
	S3_RANGE("retry_backoff", 1, 60000, 100, retry_backoff_ms, long);
	S3_RANGE("redirect_expiry", 1000, 7 * 24 * 3600 * 1000LL, 20 * 60 * 1000, redirect_expiry_s,
		 long);
	S3_RANGE("max_idle_connections", 0, 1024, 16, max_idle, int);
#undef S3_RANGE
	c->redirect_expiry_s /= 1000;
	c->redirect = host->config_bool(config, "redirect", 0);
	free(hostport);
	return 0;
fail:
	free(hostport);
	s3_config_free(c);
	return rc ? rc : BERTH_E_CONFIG;
}

void s3_config_free(struct s3_config *c)
{
	free(c->endpoint);
	free(c->host);
	free(c->base_url);
	free(c->bucket);
	free(c->region);
	free(c->root);
	free(c->access_key);
	if (c->secret_key) {
		memset(c->secret_key, 0, strlen(c->secret_key));
		free(c->secret_key);
	}
	free(c->session_token);
	free(c->ca_file);
	memset(c, 0, sizeof(*c));
}
