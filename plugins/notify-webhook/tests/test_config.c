/*
 * test_config.c - the checks create() runs on an instance's values and on
 * each map of its `endpoints` list: names, URLs, headers, actions,
 * repository patterns, the format, durations, sizes and ranges, unknown
 * keys, with the messages (and YAML positions) an operator reads. The
 * host's getters are stood in for by small tables; the real host's schema
 * validation has its own tests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "webhook.h"

/* ---- a stand-in for the host's config handles ---------------------------- */

/*
 * A map: keys with values. A value "[a|b]" is a list, "{}" a nested map,
 * "~" a null; anything else a scalar. The top-level map also has the
 * `endpoints` items and falls back to the schema's defaults, as the host
 * does; endpoint maps have no schema, hence no defaults.
 */
struct berth_config {
	const char *key[32];
	const char *value[32];
	size_t n;
	struct berth_config *items[8];
	size_t n_items;
	int top;
};

static void set(struct berth_config *c, const char *key, const char *value)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->key[i], key) == 0)
			break;
	if (!value) {
		/* Remove the key. */
		if (i < c->n) {
			memmove(&c->key[i], &c->key[i + 1], (c->n - i - 1) * sizeof(c->key[0]));
			memmove(&c->value[i], &c->value[i + 1], (c->n - i - 1) * sizeof(c->value[0]));
			c->n--;
		}
		return;
	}
	if (i == c->n)
		c->n++;
	c->key[i] = key;
	c->value[i] = value;
}

static const char *raw(const berth_config *c, const char *key)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->key[i], key) == 0)
			return c->value[i];
	return NULL;
}

static const char *cfg_string(const berth_config *c, const char *key)
{
	const char *v = raw(c, key);

	if (!v && c->top)
		for (const berth_config_key *k = webhook_config_schema; k->key; k++)
			if (strcmp(k->key, key) == 0)
				return k->default_value;
	if (!v || v[0] == '[' || v[0] == '{' || strcmp(v, "~") == 0)
		return NULL;
	return v;
}

static int64_t cfg_int(const berth_config *c, const char *key, int64_t def)
{
	const char *v = cfg_string(c, key);

	return v ? strtoll(v, NULL, 10) : def;
}

static int cfg_bool(const berth_config *c, const char *key, int def)
{
	const char *v = cfg_string(c, key);

	return v ? strcmp(v, "true") == 0 : def;
}

static size_t cfg_list_count(const berth_config *c, const char *key)
{
	const char *v = raw(c, key);
	size_t n = 1;

	if (c->top && strcmp(key, "endpoints") == 0)
		return c->n_items;
	if (!v || v[0] == '{' || strcmp(v, "~") == 0)
		return 0;
	if (v[0] != '[')
		return 1;
	if (strcmp(v, "[]") == 0)
		return 0;
	for (; *v; v++)
		n += *v == '|';
	return n;
}

static const char *cfg_list_string(const berth_config *c, const char *key, size_t index)
{
	static char item[8][512];
	static int slot;
	const char *v = raw(c, key);
	char *out = item[slot++ % 8];

	if (!v || v[0] == '{')
		return NULL;
	if (v[0] != '[')
		return index == 0 ? v : NULL;
	v++;
	for (; v && index > 0; index--) {
		v = strchr(v, '|');
		if (v)
			v++;
	}
	if (!v)
		return NULL;
	snprintf(out, 512, "%.*s", (int)strcspn(v, "|]"), v);
	return out;
}

static const berth_config *cfg_child(const berth_config *c, const char *key)
{
	const char *v = raw(c, key);

	return v && v[0] == '{' ? c : NULL;
}

static const berth_config *cfg_list_child(const berth_config *c, const char *key, size_t i)
{
	if (!c->top || strcmp(key, "endpoints") != 0 || i >= c->n_items)
		return NULL;
	return c->items[i];
}

static size_t cfg_key_count(const berth_config *c)
{
	return c->n;
}

static const char *cfg_key_at(const berth_config *c, size_t i)
{
	return i < c->n ? c->key[i] : NULL;
}

static const char *cfg_where(const berth_config *c, const char *key, char *buf, size_t cap)
{
	size_t line = 0;

	for (size_t i = 0; key && i < c->n; i++)
		if (strcmp(c->key[i], key) == 0)
			line = i + 1;
	snprintf(buf, cap, "hooks.yaml:%zu:%d", line, key && line ? 7 : 5);
	return buf;
}

static const berth_host host = {
	.size = sizeof(berth_host),
	.config_string = cfg_string,
	.config_int = cfg_int,
	.config_bool = cfg_bool,
	.config_list_count = cfg_list_count,
	.config_list_string = cfg_list_string,
	.config_child = cfg_child,
	.config_list_child = cfg_list_child,
	.config_key_count = cfg_key_count,
	.config_key_at = cfg_key_at,
	.config_where = cfg_where,
};

static struct berth_config top, ep0, ep1;

static void reset(void)
{
	memset(&top, 0, sizeof(top));
	memset(&ep0, 0, sizeof(ep0));
	memset(&ep1, 0, sizeof(ep1));
	top.top = 1;
	top.items[0] = &ep0;
	top.n_items = 1;
	set(&top, "endpoints", "[...]");
	set(&ep0, "name", "ci");
	set(&ep0, "url", "https://hooks.example/berth");
}

static int load(struct webhook_settings *s, berth_error *err)
{
	memset(err, 0, sizeof(*err));
	return webhook_config_load(&host, &top, s, err);
}

/* Set key in an endpoint map (or the top map), expect a refusal whose message holds part. */
static void expect_refused(struct berth_config *map, const char *key, const char *value,
			   const char *part)
{
	struct webhook_settings s;
	berth_error err;
	const char *old = raw(map, key);

	set(map, key, value);
	CHECK_INT(load(&s, &err), BERTH_E_CONFIG);
	if (!strstr(err.message, part))
		fprintf(stderr, "%s=%s: message '%s' lacks '%s'\n", key, value ? value : "(none)",
			err.message, part);
	CHECK(strstr(err.message, part) != NULL);
	set(map, key, old);
}

/* ---- tests ----------------------------------------------------------------- */

static void test_urls(void)
{
	berth_error err;
	char *s;

	CHECK_INT(webhook_check_url("url", "https://hooks.example/berth?x=1", &err), 0);
	CHECK_INT(webhook_check_url("url", "http://127.0.0.1:8080", &err), 0);
	CHECK_INT(webhook_check_url("url", "HTTPS://Hooks.Example/", &err), 0);
	CHECK_INT(webhook_check_url("url", "http://[::1]:9000/x", &err), 0);
	CHECK_INT(webhook_check_url("url", "ftp://hooks.example/", &err), BERTH_E_CONFIG);
	CHECK(strstr(err.message, "scheme must be http:// or https://") != NULL);
	CHECK(strstr(err.message, "'ftp://hooks.example/'") != NULL);
	CHECK_INT(webhook_check_url("url", "hooks.example/x", &err), BERTH_E_CONFIG);
	CHECK_INT(webhook_check_url("url", "file:///etc/passwd", &err), BERTH_E_CONFIG);
	CHECK_INT(webhook_check_url("url", "https:///path", &err), BERTH_E_CONFIG);
	CHECK(strstr(err.message, "host is missing") != NULL);
	CHECK_INT(webhook_check_url("url", "https://user:pw@hooks.example/", &err),
		  BERTH_E_CONFIG);
	CHECK(strstr(err.message, "user:password@") != NULL);
	CHECK_INT(webhook_check_url("url", "https://hooks.example:0/", &err), BERTH_E_CONFIG);
	CHECK_INT(webhook_check_url("url", "https://hooks.example:70000/", &err), BERTH_E_CONFIG);
	CHECK_INT(webhook_check_url("url", "https://hooks.example:/", &err), BERTH_E_CONFIG);
	CHECK_INT(webhook_check_url("url", "https://hooks.example:8a/", &err), BERTH_E_CONFIG);
	CHECK_INT(webhook_check_url("url", "https://hooks example/", &err), BERTH_E_CONFIG);
	CHECK_INT(webhook_check_url("url", "https://hooks.example/a\nb", &err), BERTH_E_CONFIG);
	CHECK_INT(webhook_check_url("url", "https://hooks.example/#frag", &err), BERTH_E_CONFIG);
	CHECK_INT(webhook_check_url("url", "https://[::1/", &err), BERTH_E_CONFIG);
	CHECK_INT(webhook_check_url("url", "https://ho$t/", &err), BERTH_E_CONFIG);
	CHECK_INT(webhook_check_url("url", "", &err), BERTH_E_CONFIG);

	s = webhook_url_shown("https://hooks.example:8443/a/b?token=secret");
	CHECK_STR(s, "https://hooks.example:8443/a/b");
	free(s);
	s = webhook_url_host("https://hooks.example:8443/a/b?token=secret");
	CHECK_STR(s, "hooks.example:8443");
	free(s);
	s = webhook_url_host("http://h");
	CHECK_STR(s, "h");
	free(s);
}

static void test_values(void)
{
	berth_error err;
	int64_t v;
	int b;

	CHECK_INT(webhook_check_header("Authorization: Bearer abc", "X-Sig", &err), 0);
	CHECK_INT(webhook_check_header("X-Env:prod", "X-Sig", &err), 0);
	CHECK_INT(webhook_check_header("no colon", "X-Sig", &err), BERTH_E_CONFIG);
	CHECK_INT(webhook_check_header(": value", "X-Sig", &err), BERTH_E_CONFIG);
	CHECK_INT(webhook_check_header("Bad Name: v", "X-Sig", &err), BERTH_E_CONFIG);
	CHECK_INT(webhook_check_header("X-A: v\r\nX-Injected: 1", "X-Sig", &err), BERTH_E_CONFIG);
	/* The value is never echoed: it may be a credential. */
	CHECK(strstr(err.message, "Injected") == NULL);
	CHECK_INT(webhook_check_header("content-type: text/plain", "X-Sig", &err),
		  BERTH_E_CONFIG);
	CHECK_INT(webhook_check_header("x-sig: forged", "X-Sig", &err), BERTH_E_CONFIG);

	CHECK_INT(webhook_check_action("push", &err), 0);
	CHECK_INT(webhook_check_action("blob.push", &err), 0);
	CHECK_INT(webhook_check_action("*", &err), 0);
	CHECK_INT(webhook_check_action("Push", &err), BERTH_E_CONFIG);
	CHECK_INT(webhook_check_action("", &err), BERTH_E_CONFIG);

	CHECK_INT(webhook_check_pattern("team/**", &err), 0);
	CHECK_INT(webhook_check_pattern("a-b_c.d/e?", &err), 0);
	CHECK_INT(webhook_check_pattern("Team/*", &err), BERTH_E_CONFIG);
	CHECK(strstr(err.message, "lowercase") != NULL);
	CHECK_INT(webhook_check_pattern("team/***", &err), BERTH_E_CONFIG);
	CHECK_INT(webhook_check_pattern("team/[ab]", &err), BERTH_E_CONFIG);
	CHECK_INT(webhook_check_pattern("", &err), BERTH_E_CONFIG);

	CHECK_INT(webhook_check_endpoint_name("ci-hook_2.b", &err), 0);
	CHECK_INT(webhook_check_endpoint_name(".hidden", &err), BERTH_E_CONFIG);
	CHECK_INT(webhook_check_endpoint_name("a/b", &err), BERTH_E_CONFIG);
	CHECK_INT(webhook_check_endpoint_name("..", &err), BERTH_E_CONFIG);
	CHECK_INT(webhook_check_endpoint_name("", &err), BERTH_E_CONFIG);

	/* The host's forms, for values in endpoint maps. */
	CHECK(webhook_parse_duration_ms("250ms", &v) == 0 && v == 250);
	CHECK(webhook_parse_duration_ms("30", &v) == 0 && v == 30000);
	CHECK(webhook_parse_duration_ms("1h30m", &v) == 0 && v == 5400000);
	CHECK(webhook_parse_duration_ms("2d", &v) == 0 && v == 172800000);
	CHECK(webhook_parse_duration_ms("10x", &v) < 0);
	CHECK(webhook_parse_duration_ms("", &v) < 0);
	CHECK(webhook_parse_duration_ms("-1s", &v) < 0);
	CHECK(webhook_parse_duration_ms("99999999999999999999s", &v) < 0);
	CHECK(webhook_parse_size("64k", &v) == 0 && v == 65536);
	CHECK(webhook_parse_size("1GiB", &v) == 0 && v == 1073741824);
	CHECK(webhook_parse_size("512 MiB", &v) == 0 && v == 536870912);
	CHECK(webhook_parse_size("100B", &v) == 0 && v == 100);
	CHECK(webhook_parse_size("1X", &v) < 0);
	CHECK(webhook_parse_size("9999999999T", &v) < 0);
	CHECK(webhook_parse_int("-12", &v) == 0 && v == -12);
	CHECK(webhook_parse_int("12a", &v) < 0);
	CHECK(webhook_parse_int("", &v) < 0);
	CHECK(webhook_parse_bool("Yes", &b) == 0 && b == 1);
	CHECK(webhook_parse_bool("off", &b) == 0 && b == 0);
	CHECK(webhook_parse_bool("maybe", &b) < 0);
}

static void test_load(void)
{
	struct webhook_settings s;
	struct webhook_config *c;
	berth_error err;

	reset();
	CHECK_INT(load(&s, &err), 0);
	CHECK_INT(s.n_endpoints, 1);
	CHECK_STR(s.queue_dir, "./var/notify-webhook");
	CHECK_INT(s.fsync, 1);
	CHECK(s.source && *s.source);
	CHECK(s.registry_url == NULL);
	c = &s.endpoints[0];
	CHECK_STR(c->name, "ci");
	CHECK_INT(c->format, WEBHOOK_FORMAT_DISTRIBUTION);
	CHECK_INT(c->timeout_ms, 10000);
	CHECK_INT(c->max_attempts, 10);
	CHECK_INT(c->backoff_initial_ms, 1000);
	CHECK_INT(c->backoff_max_ms, 300000);
	CHECK_INT(c->batch_max, 1);
	CHECK_INT(c->queue_max, 1LL << 30);
	CHECK_INT(c->tls_verify, 1);
	CHECK_INT(c->fsync, 1);
	CHECK_STR(c->queue_dir, "./var/notify-webhook/ci");
	CHECK_STR(c->signature_header, "X-Berth-Signature-256");
	CHECK_STR(c->type_prefix, "berth.");
	CHECK(c->secret == NULL && c->ca_file == NULL);
	CHECK_INT(c->n_actions, 0);
	webhook_settings_free(&s);

	set(&top, "queue_dir", "/var/lib/berth/hooks");
	set(&top, "registry_url", "https://registry.example/");
	set(&top, "fsync", "false");
	set(&ep0, "format", "cloudevents");
	set(&ep0, "actions", "[push|delete]");
	set(&ep0, "repositories", "[team/**|library/*]");
	set(&ep0, "headers", "[X-Env: prod]");
	set(&ep0, "secret_headers", "[Authorization: Bearer t0k3n]");
	set(&ep0, "secret", "s3cret");
	set(&ep0, "timeout", "1500ms");
	set(&ep0, "backoff_max", "1h");
	set(&ep0, "queue_max", "64MiB");
	set(&ep0, "tls_verify", "no");
	set(&ep1, "name", "audit");
	set(&ep1, "url", "http://127.0.0.1:9000/");
	set(&ep1, "actions", "push");
	top.items[1] = &ep1;
	top.n_items = 2;
	CHECK_INT(load(&s, &err), 0);
	CHECK_INT(s.n_endpoints, 2);
	CHECK_STR(s.registry_url, "https://registry.example");
	CHECK_INT(s.fsync, 0);
	c = &s.endpoints[0];
	CHECK_INT(c->format, WEBHOOK_FORMAT_CLOUDEVENTS);
	CHECK_INT(c->n_actions, 2);
	CHECK_STR(c->actions[1], "delete");
	CHECK_INT(c->n_repositories, 2);
	CHECK_INT(c->n_headers, 2);
	CHECK_STR(c->headers[0], "X-Env: prod");
	CHECK_STR(c->headers[1], "Authorization: Bearer t0k3n");
	CHECK_STR(c->secret, "s3cret");
	CHECK_INT(c->timeout_ms, 1500);
	CHECK_INT(c->backoff_max_ms, 3600000);
	CHECK_INT(c->queue_max, 64LL << 20);
	CHECK_INT(c->tls_verify, 0);
	CHECK_INT(c->fsync, 0);
	CHECK_STR(c->queue_dir, "/var/lib/berth/hooks/ci");
	CHECK_STR(s.endpoints[1].name, "audit");
	CHECK_INT(s.endpoints[1].n_actions, 1);
	CHECK_STR(s.endpoints[1].queue_dir, "/var/lib/berth/hooks/audit");
	webhook_settings_free(&s);

	/* "*" among the actions sends everything. */
	set(&ep0, "actions", "[push|*]");
	CHECK_INT(load(&s, &err), 0);
	CHECK_INT(s.endpoints[0].n_actions, 0);
	webhook_settings_free(&s);
	set(&ep0, "actions", NULL);

	/* Every message says where, and which endpoint. */
	expect_refused(&ep1, "name", "ci", "hooks.yaml:1:7: endpoints[1]: two endpoints are named 'ci'");
	expect_refused(&ep1, "name", NULL, "endpoints[1]: missing required key 'name'");
	expect_refused(&ep1, "name", "../x", "invalid name '../x'");
	expect_refused(&ep1, "url", NULL, "endpoint 'audit': missing required key 'url'");
	expect_refused(&ep0, "format", "xml",
		       "endpoint 'ci': invalid format 'xml': expected distribution or cloudevents");
	expect_refused(&ep0, "url", "ftp://hooks.example/", "scheme must be http:// or https://");
	expect_refused(&ep0, "url", "~", "'url' needs a single value");
	expect_refused(&ep0, "retries", "3", "unknown key 'retries'");
	expect_refused(&ep0, "timout", "3s", "unknown key 'timout' (did you mean 'timeout'?)");
	expect_refused(&ep0, "actions", "[push|Pull]", "actions[1]: invalid action 'Pull'");
	expect_refused(&ep0, "actions", "{}", "invalid actions: expected a list of values");
	expect_refused(&ep0, "repositories", "[ok/*|Bad]", "repositories[1]: invalid repository");
	expect_refused(&ep0, "headers", "[X-Ok: 1|Host: evil]", "headers[1]: header 'Host' is set by");
	expect_refused(&ep0, "secret_headers", "[X-Berth-Signature-256: x]", "is the signature header");
	expect_refused(&ep0, "secret", "", "'secret' is empty");
	expect_refused(&ep0, "timeout", "50ms", "invalid timeout 50 ms: expected 100 to 600000 ms");
	expect_refused(&ep0, "timeout", "soon", "invalid timeout 'soon': expected a duration");
	expect_refused(&ep0, "max_attempts", "0", "invalid max_attempts 0");
	expect_refused(&ep0, "max_attempts", "ten", "invalid max_attempts 'ten': expected a whole number");
	expect_refused(&ep0, "batch_max", "1001", "invalid batch_max 1001");
	expect_refused(&ep0, "backoff_initial", "2h", "backoff_initial (7200000 ms) is longer");
	expect_refused(&ep0, "queue_max", "1000", "invalid queue_max 1000 bytes");
	expect_refused(&ep0, "queue_max", "lots", "invalid queue_max 'lots': expected a size");
	expect_refused(&ep0, "tls_verify", "perhaps", "invalid tls_verify 'perhaps': expected true or false");
	expect_refused(&ep0, "ca_file", "/nonexistent/ca.pem", "ca_file '/nonexistent/ca.pem' cannot");
	expect_refused(&ep0, "signature_header", "X Sig", "invalid signature_header");
	expect_refused(&ep0, "cloudevents_type_prefix", "a b", "invalid cloudevents_type_prefix");
	expect_refused(&top, "registry_url", "registry.example", "invalid registry_url");
	expect_refused(&top, "source", "", "invalid source");
	top.n_items = 0;
	expect_refused(&top, "queue_dir", "/q", "'endpoints' is empty");
	top.items[0] = NULL;
	top.n_items = 1;
	expect_refused(&top, "queue_dir", "/q", "endpoints[0]: expected a map");
}

int main(void)
{
	test_urls();
	test_values();
	test_load();
	TEST_MAIN_END();
}
