/*
 * prom_config.c - the plugin's config schema, and reading and checking an
 * instance's values at create(), so a wrong value stops the server at
 * start-up with a message naming it instead of failing at the first
 * scrape.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "prom.h"

/* host->schedule accepts 1 s to 366 days. */
#define REFRESH_MIN_MS 1000
#define REFRESH_MAX_MS (366LL * 24 * 3600 * 1000)
/* A namespace cap this large would already make the page unwieldy. */
#define NAMESPACE_CAP_MAX 100000
#define PATH_MAX_BYTES 256
#define TOKEN_MAX_BYTES 4096
/* How much of a bad value a message shows. */
#define SHOW_MAX 80

const berth_config_key prom_config_schema[] = {
	{ .key = "listen", .type = BERTH_CONFIG_STRING, .default_value = "127.0.0.1:5001",
	  .help = "HOST:PORT of the plugin's own scrape listener, or off" },
	{ .key = "path", .type = BERTH_CONFIG_STRING, .default_value = "/metrics",
	  .help = "the path scrapes use on the plugin's own listener" },
	{ .key = "main_port", .type = BERTH_CONFIG_BOOL, .default_value = "false",
	  .help = "also answer GET /metrics on the registry's own port" },
	{ .key = "bearer_token", .type = BERTH_CONFIG_STRING, .flags = BERTH_CONFIG_SECRET,
	  .help = "when set, every scrape needs Authorization: Bearer <token>" },
	{ .key = "storage_refresh", .type = BERTH_CONFIG_DURATION, .default_value = "60s",
	  .help = "how often storage usage is recomputed (at least 1s)" },
	{ .key = "namespace_cap", .type = BERTH_CONFIG_INT, .default_value = "100",
	  .help = "repository namespaces kept per family; more are counted as _other" },
	{ .type = BERTH_CONFIG_END }
};

int prom_fail(berth_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	return code;
}

/* A config value as a message shows it: cut, with unprintable bytes as '?'. */
static const char *show(char *out, size_t cap, const char *v)
{
	size_t i, n = 0;

	for (i = 0; v[i] && n + 4 < cap; i++)
		out[n++] = isprint((unsigned char)v[i]) ? v[i] : '?';
	if (v[i]) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
	return out;
}

static int valid_host_name(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(".-_", s[i]))
			return 0;
	return 1;
}

/* The same forms the server's own `listen` takes: HOST:PORT, [IPV6]:PORT. */
int prom_listen_parse(const char *text, struct sockaddr_storage *addr, socklen_t *addr_len,
		      berth_error *err)
{
	struct addrinfo hints = {0}, *res = NULL;
	char shown[SHOW_MAX], host[256];
	const char *port;
	size_t host_len, i;
	long p = 0;
	int rc;

	show(shown, sizeof(shown), text);
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':')
			return prom_fail(err, BERTH_E_CONFIG,
					 "invalid listen '%s': expected [IPV6]:PORT, such as [::1]:5001",
					 shown);
		host_len = (size_t)(close - text - 1);
		if (host_len == 0 || host_len >= sizeof(host))
			return prom_fail(err, BERTH_E_CONFIG,
					 "invalid listen '%s': not an IPv6 address", shown);
		memcpy(host, text + 1, host_len);
		port = close + 2;
		hints.ai_flags = AI_NUMERICHOST;
		hints.ai_family = AF_INET6;
	} else {
		const char *colon = strrchr(text, ':');

		if (!colon)
			return prom_fail(err, BERTH_E_CONFIG,
					 "invalid listen '%s': expected HOST:PORT, such as "
					 "127.0.0.1:5001, or off", shown);
		host_len = (size_t)(colon - text);
		if (memchr(text, ':', host_len))
			return prom_fail(err, BERTH_E_CONFIG,
					 "invalid listen '%s': write an IPv6 address in brackets, "
					 "such as [::1]:5001", shown);
		if (host_len == 0)
			return prom_fail(err, BERTH_E_CONFIG,
					 "invalid listen '%s': the host is missing (use 0.0.0.0:PORT "
					 "or [::]:PORT for every address)", shown);
		if (host_len >= sizeof(host) || !valid_host_name(text, host_len))
			return prom_fail(err, BERTH_E_CONFIG,
					 "invalid listen '%s': not a host name or address", shown);
		memcpy(host, text, host_len);
		port = colon + 1;
		hints.ai_family = AF_UNSPEC;
	}
	host[host_len] = '\0';
	for (i = 0; port[i]; i++) {
		if (!isdigit((unsigned char)port[i]) || i >= 5) {
			p = -1;
			break;
		}
		p = p * 10 + (port[i] - '0');
	}
	if (i == 0 || p < 1 || p > 65535)
		return prom_fail(err, BERTH_E_CONFIG,
				 "invalid listen port in '%s': expected 1-65535", shown);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags |= AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0 || !res)
		return prom_fail(err, BERTH_E_CONFIG, "invalid listen '%s': cannot resolve '%s': %s",
				 shown, host, rc ? gai_strerror(rc) : "no address");
	if (res->ai_addrlen > sizeof(*addr)) {
		freeaddrinfo(res);
		return prom_fail(err, BERTH_E_CONFIG, "invalid listen '%s': unusable address",
				 shown);
	}
	memset(addr, 0, sizeof(*addr));
	memcpy(addr, res->ai_addr, res->ai_addrlen);
	*addr_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int is_loopback(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)a;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)a;

		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	return 0;
}

/* A path this plugin can compare a request's with: "/" then printable ASCII. */
static int valid_path(const char *p)
{
	size_t i;

	if (p[0] != '/' || strlen(p) > PATH_MAX_BYTES)
		return 0;
	for (i = 0; p[i]; i++)
		if (p[i] <= ' ' || p[i] >= 0x7f || p[i] == '?' || p[i] == '#')
			return 0;
	return 1;
}

/* A token must fit in a header: printable ASCII, no spaces. */
static int valid_token(const char *t)
{
	size_t i;

	for (i = 0; t[i]; i++)
		if (t[i] <= ' ' || t[i] >= 0x7f || i >= TOKEN_MAX_BYTES)
			return 0;
	return i > 0;
}

int prom_config_load(const berth_host *host, const berth_config *cfg, struct prom_config *c,
		     berth_error *err)
{
	const char *listen = host->config_string(cfg, "listen");
	const char *path = host->config_string(cfg, "path");
	const char *token = host->config_string(cfg, "bearer_token");
	int64_t refresh = host->config_int(cfg, "storage_refresh", 60000);
	int64_t cap = host->config_int(cfg, "namespace_cap", 100);
	char shown[SHOW_MAX];
	int rc;

	memset(c, 0, sizeof(*c));
	if (!listen || !*listen)
		listen = "127.0.0.1:5001";
	if (!path || !*path)
		path = "/metrics";
	c->listen = strdup(listen);
	c->path = strdup(path);
	if (!c->listen || !c->path) {
		rc = prom_fail(err, BERTH_E_NOMEM, "out of memory");
		goto fail;
	}
	if (strcasecmp(listen, "off") == 0) {
		c->listen_off = 1;
	} else {
		rc = prom_listen_parse(listen, &c->addr, &c->addr_len, err);
		if (rc < 0)
			goto fail;
		c->addr_loopback = is_loopback(&c->addr);
	}
	if (!valid_path(path)) {
		rc = prom_fail(err, BERTH_E_CONFIG,
			       "invalid path '%s': expected '/' and printable characters, "
			       "such as /metrics", show(shown, sizeof(shown), path));
		goto fail;
	}
	c->main_port = host->config_bool(cfg, "main_port", 0) != 0;
	if (token && *token) {
		/* Never shown: the value is a secret. */
		if (!valid_token(token)) {
			rc = prom_fail(err, BERTH_E_CONFIG,
				       "invalid bearer_token: expected 1 to %d printable characters "
				       "without spaces", TOKEN_MAX_BYTES);
			goto fail;
		}
		c->token = strdup(token);
		if (!c->token) {
			rc = prom_fail(err, BERTH_E_NOMEM, "out of memory");
			goto fail;
		}
		c->token_len = strlen(token);
	}
	if (refresh < REFRESH_MIN_MS || refresh > REFRESH_MAX_MS) {
		rc = prom_fail(err, BERTH_E_CONFIG,
			       "invalid storage_refresh %lld ms: expected 1s to 366d",
			       (long long)refresh);
		goto fail;
	}
	c->storage_refresh_ms = (uint64_t)refresh;
	if (cap < 0 || cap > NAMESPACE_CAP_MAX) {
		rc = prom_fail(err, BERTH_E_CONFIG, "invalid namespace_cap %lld: expected 0 to %d",
			       (long long)cap, NAMESPACE_CAP_MAX);
		goto fail;
	}
	c->namespace_cap = (size_t)cap;
	return 0;
fail:
	prom_config_free(c);
	return rc;
}

void prom_config_free(struct prom_config *c)
{
	free(c->listen);
	free(c->path);
	if (c->token) {
		/* The secret does not outlive the instance in freed memory. */
		explicit_bzero(c->token, c->token_len);
		free(c->token);
	}
	memset(c, 0, sizeof(*c));
}
