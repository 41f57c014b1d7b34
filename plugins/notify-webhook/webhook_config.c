/*
 * webhook_config.c - the plugin's config schema, and reading and checking
 * an instance's values at create(), so a wrong value stops the server at
 * start-up with a message naming it instead of failing at the first event.
 *
 * The host checks the top-level keys against the schema. The maps of the
 * `endpoints` list have no schema in the ABI, so this file does for them
 * what the host does for the rest: refuse unknown keys (with a
 * suggestion), parse each value as its type, and point every message at
 * the YAML (file:line:column from host->config_where).
 *
 * Reading only checks: it creates no file and starts nothing, so create()
 * and check_config() (`berth config check`) share it and refuse the same
 * mistakes with the same messages.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "webhook.h"

#define SHOW_MAX WEBHOOK_SHOW_MAX
#define TIMEOUT_MIN_MS 100
#define TIMEOUT_MAX_MS (10 * 60 * 1000)
#define ATTEMPTS_MAX 1000000
#define BACKOFF_MIN_MS 10
#define BACKOFF_MAX_MS (24LL * 3600 * 1000)
#define QUEUE_MAX_MIN (64u * 1024)
#define SOURCE_MAX 256

const berth_config_key webhook_config_schema[] = {
	{ .key = "endpoints", .type = BERTH_CONFIG_MAP_LIST, .flags = BERTH_CONFIG_REQUIRED,
	  .help = "the endpoints: one map each with name, url and the keys of the README" },
	{ .key = "queue_dir", .type = BERTH_CONFIG_STRING, .default_value = "./var/notify-webhook",
	  .help = "directory of the durable queues; an endpoint's is <queue_dir>/<name>" },
	{ .key = "fsync", .type = BERTH_CONFIG_BOOL, .default_value = "true",
	  .help = "make each queued event and each delivery durable before going on" },
	{ .key = "registry_url", .type = BERTH_CONFIG_STRING,
	  .help = "the registry's URL as clients know it, for target.url and request.host" },
	{ .key = "source", .type = BERTH_CONFIG_STRING,
	  .help = "who sends: CloudEvents source, Distribution source.addr (default: host name)" },
	{ .type = BERTH_CONFIG_END }
};

/* The keys of an endpoint's map, their types and defaults (as YAML text). */
static const struct endpoint_key {
	const char *key;
	int type;                  /* enum berth_config_type */
	const char *default_value;
} endpoint_keys[] = {
	{ "name", BERTH_CONFIG_STRING, NULL },
	{ "url", BERTH_CONFIG_STRING, NULL },
	{ "format", BERTH_CONFIG_STRING, "distribution" },
	{ "actions", BERTH_CONFIG_LIST, NULL },
	{ "repositories", BERTH_CONFIG_LIST, NULL },
	{ "headers", BERTH_CONFIG_LIST, NULL },
	{ "secret_headers", BERTH_CONFIG_LIST, NULL },
	{ "secret", BERTH_CONFIG_STRING, NULL },
	{ "signature_header", BERTH_CONFIG_STRING, "X-Berth-Signature-256" },
	{ "timeout", BERTH_CONFIG_DURATION, "10s" },
	{ "tls_verify", BERTH_CONFIG_BOOL, "true" },
	{ "ca_file", BERTH_CONFIG_STRING, NULL },
	{ "max_attempts", BERTH_CONFIG_INT, "10" },
	{ "backoff_initial", BERTH_CONFIG_DURATION, "1s" },
	{ "backoff_max", BERTH_CONFIG_DURATION, "5m" },
	{ "batch_max", BERTH_CONFIG_INT, "1" },
	{ "queue_max", BERTH_CONFIG_SIZE, "1GiB" },
	{ "cloudevents_type_prefix", BERTH_CONFIG_STRING, "berth." },
	{ NULL, 0, NULL }
};

/* ------------------------------------------------------------------------ */
/* Loading                                                                  */
/* ------------------------------------------------------------------------ */

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void endpoint_free(struct webhook_config *c)
{
	free(c->name);
	free(c->url);
	free(c->url_shown);
	free_list(c->actions, c->n_actions);
	free_list(c->repositories, c->n_repositories);
	for (size_t i = 0; i < c->n_headers; i++) {
		/* Header values and the secret are not left in freed memory. */
		volatile char *p = c->headers[i];
		while (*p)
			*p++ = 0;
		free(c->headers[i]);
	}
	free(c->headers);
	if (c->secret) {
		volatile char *p = c->secret;
		while (*p)
			*p++ = 0;
	}
	free(c->secret);
	free(c->signature_header);
	free(c->ca_file);
	free(c->queue_dir);
	free(c->type_prefix);
	memset(c, 0, sizeof(*c));
}

void webhook_settings_free(struct webhook_settings *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_endpoints; i++)
		endpoint_free(&s->endpoints[i]);
	free(s->endpoints);
	free(s->queue_dir);
	free(s->registry_url);
	free(s->source);
	memset(s, 0, sizeof(*s));
}

/* Reading one endpoint's map. */
struct reader {
	const berth_host *host;
	const berth_config *map;
	char label[96];            /* "endpoints[2]", then "endpoint 'ci'" */
	berth_error *err;
};

/* Prefix err's message with where `key` was written and which endpoint it is. */
static int located(struct reader *r, const char *key, int rc)
{
	char where[512] = "", msg[BERTH_ERROR_MESSAGE_MAX];

	if (BERTH_HOST_HAS(r->host, config_where) && r->host->config_where)
		r->host->config_where(r->map, key, where, sizeof(where));
	snprintf(msg, sizeof(msg), "%s", r->err->message);
	return webhook_fail(r->err, rc, "%s%s%s: %s", where, where[0] ? ": " : "", r->label, msg);
}

/* Levenshtein distance, capped: enough to suggest "timeout" for "timout". */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[65], prev, tmp;

	if (la > 64 || lb > 64)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t best = prev + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

static int check_keys(struct reader *r)
{
	size_t n = r->host->config_key_count(r->map);

	for (size_t i = 0; i < n; i++) {
		const char *key = r->host->config_key_at(r->map, i);
		const char *best = NULL;
		size_t best_d = 3;
		char shown[SHOW_MAX];
		size_t k;

		for (k = 0; endpoint_keys[k].key; k++) {
			size_t d = distance(key, endpoint_keys[k].key);

			if (d == 0)
				break;
			if (d < best_d) {
				best_d = d;
				best = endpoint_keys[k].key;
			}
		}
		if (endpoint_keys[k].key)
			continue;
		webhook_show(shown, sizeof(shown), key);
		if (best)
			webhook_fail(r->err, BERTH_E_CONFIG, "unknown key '%s' (did you mean '%s'?)",
				     shown, best);
		else
			webhook_fail(r->err, BERTH_E_CONFIG, "unknown key '%s'", shown);
		return located(r, key, BERTH_E_CONFIG);
	}
	return 0;
}

static const struct endpoint_key *endpoint_key(const char *key)
{
	for (size_t k = 0; endpoint_keys[k].key; k++)
		if (strcmp(endpoint_keys[k].key, key) == 0)
			return &endpoint_keys[k];
	return NULL;
}

static int written(struct reader *r, const char *key)
{
	size_t n = r->host->config_key_count(r->map);

	for (size_t i = 0; i < n; i++)
		if (strcmp(r->host->config_key_at(r->map, i), key) == 0)
			return 1;
	return 0;
}

/* The text of a scalar key, its default when absent, NULL when neither. */
static int text(struct reader *r, const char *key, const char **out)
{
	const char *v = r->host->config_string(r->map, key);

	*out = v;
	if (v)
		return 0;
	if (written(r, key)) {
		webhook_fail(r->err, BERTH_E_CONFIG, "'%s' needs a single value", key);
		return located(r, key, BERTH_E_CONFIG);
	}
	*out = endpoint_key(key)->default_value;
	return 0;
}

static int number(struct reader *r, const char *key, int64_t *out)
{
	static const char *const nouns[] = {
		[BERTH_CONFIG_INT] = "a whole number",
		[BERTH_CONFIG_SIZE] = "a size such as 512MiB",
		[BERTH_CONFIG_DURATION] = "a duration such as 30s or 250ms",
	};
	int type = endpoint_key(key)->type;
	char shown[SHOW_MAX];
	const char *v;
	int rc = text(r, key, &v);

	if (rc < 0)
		return rc;
	rc = type == BERTH_CONFIG_DURATION ? webhook_parse_duration_ms(v, out)
	     : type == BERTH_CONFIG_SIZE   ? webhook_parse_size(v, out)
					   : webhook_parse_int(v, out);
	if (rc == 0)
		return 0;
	webhook_fail(r->err, BERTH_E_CONFIG, "invalid %s '%s': expected %s", key,
		     webhook_show(shown, sizeof(shown), v), nouns[type]);
	return located(r, key, BERTH_E_CONFIG);
}

static int boolean(struct reader *r, const char *key, int *out)
{
	char shown[SHOW_MAX];
	const char *v;
	int rc = text(r, key, &v);

	if (rc < 0)
		return rc;
	if (webhook_parse_bool(v, out) == 0)
		return 0;
	webhook_fail(r->err, BERTH_E_CONFIG, "invalid %s '%s': expected true or false", key,
		     webhook_show(shown, sizeof(shown), v));
	return located(r, key, BERTH_E_CONFIG);
}

static int range(struct reader *r, const char *key, int64_t v, int64_t lo, int64_t hi,
		 const char *unit)
{
	if (v >= lo && v <= hi)
		return 0;
	webhook_fail(r->err, BERTH_E_CONFIG, "invalid %s %lld%s: expected %lld to %lld%s", key,
		     (long long)v, unit, (long long)lo, (long long)hi, unit);
	return located(r, key, BERTH_E_CONFIG);
}

static int dup_opt(struct reader *r, const char *s, char **out)
{
	*out = NULL;
	if (!s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : webhook_fail(r->err, BERTH_E_NOMEM, "out of memory");
}

enum list_kind {
	LIST_ACTIONS,
	LIST_PATTERNS,
	LIST_HEADERS
};

static int check_item(enum list_kind kind, const char *s, const struct webhook_config *c,
		      berth_error *err)
{
	switch (kind) {
	case LIST_ACTIONS:
		return webhook_check_action(s, err);
	case LIST_PATTERNS:
		return webhook_check_pattern(s, err);
	case LIST_HEADERS:
		return webhook_check_header(s, c->signature_header, err);
	}
	return BERTH_E_INTERNAL;
}

/*
 * Append a list key's checked entries to *v (*n of them so far). "*" among
 * the actions means every type: *all is set and it is not kept.
 */
static int list(struct reader *r, const char *key, enum list_kind kind,
		const struct webhook_config *c, char ***v, size_t *n, int *all)
{
	size_t count = r->host->config_list_count(r->map, key);
	char **more;

	if (count == 0) {
		/* A map where a list belongs would otherwise read as "no filter". */
		if (r->host->config_child && r->host->config_child(r->map, key)) {
			webhook_fail(r->err, BERTH_E_CONFIG, "invalid %s: expected a list of values",
				     key);
			return located(r, key, BERTH_E_CONFIG);
		}
		return 0;
	}
	more = realloc(*v, (*n + count) * sizeof(**v));
	if (!more)
		return webhook_fail(r->err, BERTH_E_NOMEM, "out of memory");
	*v = more;
	for (size_t i = 0; i < count; i++) {
		const char *s = r->host->config_list_string(r->map, key, i);
		char msg[BERTH_ERROR_MESSAGE_MAX];
		int rc;

		if (!s) {
			webhook_fail(r->err, BERTH_E_CONFIG, "%s[%zu]: expected a value", key, i);
			return located(r, key, BERTH_E_CONFIG);
		}
		rc = check_item(kind, s, c, r->err);
		if (rc < 0) {
			snprintf(msg, sizeof(msg), "%s", r->err->message);
			webhook_fail(r->err, rc, "%s[%zu]: %s", key, i, msg);
			return located(r, key, rc);
		}
		if (all && strcmp(s, "*") == 0) {
			*all = 1;
			continue;
		}
		(*v)[*n] = strdup(s);
		if (!(*v)[*n])
			return webhook_fail(r->err, BERTH_E_NOMEM, "out of memory");
		(*n)++;
	}
	return 0;
}

static int load_endpoint_strings(struct reader *r, const struct webhook_settings *set,
				 struct webhook_config *c)
{
	const char *url, *format, *secret, *sig, *ca, *prefix;
	char shown[SHOW_MAX];
	int rc;

	if ((rc = text(r, "url", &url)) < 0 || (rc = text(r, "format", &format)) < 0 ||
	    (rc = text(r, "secret", &secret)) < 0 ||
	    (rc = text(r, "signature_header", &sig)) < 0 || (rc = text(r, "ca_file", &ca)) < 0 ||
	    (rc = text(r, "cloudevents_type_prefix", &prefix)) < 0)
		return rc;
	if (!url) {
		webhook_fail(r->err, BERTH_E_CONFIG, "missing required key 'url'");
		return located(r, NULL, BERTH_E_CONFIG);
	}
	if ((rc = webhook_check_url("url", url, r->err)) < 0)
		return located(r, "url", rc);
	if (strcmp(format, "distribution") == 0) {
		c->format = WEBHOOK_FORMAT_DISTRIBUTION;
	} else if (strcmp(format, "cloudevents") == 0) {
		c->format = WEBHOOK_FORMAT_CLOUDEVENTS;
	} else {
		webhook_fail(r->err, BERTH_E_CONFIG,
			     "invalid format '%s': expected distribution or cloudevents",
			     webhook_show(shown, sizeof(shown), format));
		return located(r, "format", BERTH_E_CONFIG);
	}
	if (secret && !*secret) {
		webhook_fail(r->err, BERTH_E_CONFIG,
			     "'secret' is empty (is the environment variable it names set?); leave "
			     "the key out to send unsigned events");
		return located(r, "secret", BERTH_E_CONFIG);
	}
	if (!*sig) {
		webhook_fail(r->err, BERTH_E_CONFIG, "'signature_header' is empty");
		return located(r, "signature_header", BERTH_E_CONFIG);
	}
	for (const char *p = sig; *p; p++)
		if (!webhook_token_char(*p)) {
			webhook_fail(r->err, BERTH_E_CONFIG,
				     "invalid signature_header '%s': not a header name",
				     webhook_show(shown, sizeof(shown), sig));
			return located(r, "signature_header", BERTH_E_CONFIG);
		}
	if (ca && *ca && access(ca, R_OK) != 0) {
		webhook_fail(r->err, BERTH_E_CONFIG, "ca_file '%s' cannot be read",
			     webhook_show(shown, sizeof(shown), ca));
		return located(r, "ca_file", BERTH_E_CONFIG);
	}
	for (const char *p = prefix; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-", *p)) {
			webhook_fail(r->err, BERTH_E_CONFIG,
				     "invalid cloudevents_type_prefix '%s': letters, digits, '.', "
				     "'_' and '-' only", webhook_show(shown, sizeof(shown), prefix));
			return located(r, "cloudevents_type_prefix", BERTH_E_CONFIG);
		}
	c->url = strdup(url);
	c->url_shown = webhook_url_shown(url);
	if (!c->url || !c->url_shown || dup_opt(r, secret, &c->secret) < 0 ||
	    dup_opt(r, sig, &c->signature_header) < 0 ||
	    dup_opt(r, ca && *ca ? ca : NULL, &c->ca_file) < 0 ||
	    dup_opt(r, prefix, &c->type_prefix) < 0 ||
	    !(c->queue_dir = webhook_strf("%s/%s", set->queue_dir, c->name)))
		return webhook_fail(r->err, BERTH_E_NOMEM, "out of memory");
	return 0;
}

static int load_endpoint_numbers(struct reader *r, struct webhook_config *c)
{
	int64_t queue_max;
	int rc;

	if ((rc = number(r, "timeout", &c->timeout_ms)) < 0 ||
	    (rc = range(r, "timeout", c->timeout_ms, TIMEOUT_MIN_MS, TIMEOUT_MAX_MS, " ms")) < 0 ||
	    (rc = number(r, "max_attempts", &c->max_attempts)) < 0 ||
	    (rc = range(r, "max_attempts", c->max_attempts, 1, ATTEMPTS_MAX, "")) < 0 ||
	    (rc = number(r, "backoff_initial", &c->backoff_initial_ms)) < 0 ||
	    (rc = range(r, "backoff_initial", c->backoff_initial_ms, BACKOFF_MIN_MS,
			BACKOFF_MAX_MS, " ms")) < 0 ||
	    (rc = number(r, "backoff_max", &c->backoff_max_ms)) < 0 ||
	    (rc = range(r, "backoff_max", c->backoff_max_ms, BACKOFF_MIN_MS, BACKOFF_MAX_MS,
			" ms")) < 0 ||
	    (rc = number(r, "batch_max", &c->batch_max)) < 0 ||
	    (rc = range(r, "batch_max", c->batch_max, 1, WEBHOOK_BATCH_MAX, "")) < 0 ||
	    (rc = number(r, "queue_max", &queue_max)) < 0 ||
	    (rc = boolean(r, "tls_verify", &c->tls_verify)) < 0)
		return rc;
	if (c->backoff_initial_ms > c->backoff_max_ms) {
		webhook_fail(r->err, BERTH_E_CONFIG,
			     "backoff_initial (%lld ms) is longer than backoff_max (%lld ms)",
			     (long long)c->backoff_initial_ms, (long long)c->backoff_max_ms);
		return located(r, "backoff_initial", BERTH_E_CONFIG);
	}
	if (queue_max != 0 && queue_max < (int64_t)QUEUE_MAX_MIN) {
		webhook_fail(r->err, BERTH_E_CONFIG,
			     "invalid queue_max %lld bytes: expected 0 (no bound) or at least 64KiB",
			     (long long)queue_max);
		return located(r, "queue_max", BERTH_E_CONFIG);
	}
	c->queue_max = (uint64_t)queue_max;
	return 0;
}

static int load_endpoint(const berth_host *host, const berth_config *map, size_t index,
			 const struct webhook_settings *set, struct webhook_config *c,
			 berth_error *err)
{
	struct reader r = { .host = host, .map = map, .err = err };
	const char *name;
	int all = 0, rc;

	snprintf(r.label, sizeof(r.label), "endpoints[%zu]", index);
	if ((rc = text(&r, "name", &name)) < 0)
		return rc;
	/* Messages name the endpoint as soon as its name is usable. */
	if (webhook_check_endpoint_name(name, err) == 0)
		snprintf(r.label, sizeof(r.label), "endpoint '%s'", name);
	if ((rc = check_keys(&r)) < 0)
		return rc;
	if ((rc = webhook_check_endpoint_name(name, err)) < 0)
		return located(&r, name ? "name" : NULL, rc);
	for (size_t i = 0; i < index; i++)
		if (strcmp(set->endpoints[i].name, name) == 0) {
			snprintf(r.label, sizeof(r.label), "endpoints[%zu]", index);
			webhook_fail(err, BERTH_E_CONFIG,
				     "two endpoints are named '%s' (a name is a queue folder and a "
				     "metrics label)", name);
			return located(&r, "name", BERTH_E_CONFIG);
		}
	c->name = strdup(name);
	if (!c->name)
		return webhook_fail(err, BERTH_E_NOMEM, "out of memory");
	c->fsync = set->fsync;
	if ((rc = load_endpoint_strings(&r, set, c)) < 0 ||
	    (rc = load_endpoint_numbers(&r, c)) < 0)
		return rc;
	if ((rc = list(&r, "actions", LIST_ACTIONS, c, &c->actions, &c->n_actions, &all)) < 0)
		return rc;
	if (all) {
		free_list(c->actions, c->n_actions);
		c->actions = NULL;
		c->n_actions = 0;
	}
	if ((rc = list(&r, "repositories", LIST_PATTERNS, c, &c->repositories,
		       &c->n_repositories, NULL)) < 0 ||
	    (rc = list(&r, "headers", LIST_HEADERS, c, &c->headers, &c->n_headers, NULL)) < 0 ||
	    (rc = list(&r, "secret_headers", LIST_HEADERS, c, &c->headers, &c->n_headers,
		       NULL)) < 0)
		return rc;
	return 0;
}

static int load_instance(const berth_host *host, const berth_config *config,
			 struct webhook_settings *out, berth_error *err)
{
	const char *dir = host->config_string(config, "queue_dir");
	const char *reg = host->config_string(config, "registry_url");
	const char *source = host->config_string(config, "source");
	char shown[SHOW_MAX], hostname[256];
	int rc;

	if (!dir || !*dir)
		return webhook_fail(err, BERTH_E_CONFIG, "'queue_dir' is empty");
	if (reg && *reg && (rc = webhook_check_url("registry_url", reg, err)) < 0)
		return rc;
	if (source && (!*source || strlen(source) > SOURCE_MAX || webhook_has_control(source)))
		return webhook_fail(err, BERTH_E_CONFIG,
				    "invalid source '%s': 1 to %d printable characters",
				    webhook_show(shown, sizeof(shown), source), SOURCE_MAX);
	if (!source) {
		if (gethostname(hostname, sizeof(hostname)) != 0 || !hostname[0])
			snprintf(hostname, sizeof(hostname), "localhost");
		hostname[sizeof(hostname) - 1] = '\0';
		source = hostname;
	}
	out->fsync = host->config_bool(config, "fsync", 1);
	out->queue_dir = strdup(dir);
	out->source = strdup(source);
	if (!out->queue_dir || !out->source)
		return webhook_fail(err, BERTH_E_NOMEM, "out of memory");
	if (reg && *reg) {
		size_t n = strlen(reg);

		/* "https://r.example/" and "https://r.example" build the same URLs. */
		while (n > 0 && reg[n - 1] == '/')
			n--;
		out->registry_url = strndup(reg, n);
		if (!out->registry_url)
			return webhook_fail(err, BERTH_E_NOMEM, "out of memory");
	}
	return 0;
}

int webhook_config_load(const berth_host *host, const berth_config *config,
			struct webhook_settings *out, berth_error *err)
{
	size_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!BERTH_HOST_HAS(host, config_key_at) || !host->config_list_child ||
	    !host->config_key_count || !host->config_key_at) {
		rc = webhook_fail(err, BERTH_E_UNSUPPORTED,
				  "this Berth cannot read lists of maps in a plugin's config");
		goto out;
	}
	if ((rc = load_instance(host, config, out, err)) < 0)
		goto out;
	n = host->config_list_count(config, "endpoints");
	if (n == 0) {
		rc = webhook_fail(err, BERTH_E_CONFIG,
				  "'endpoints' is empty: give at least one endpoint (name, url)");
		goto out;
	}
	out->endpoints = calloc(n, sizeof(*out->endpoints));
	if (!out->endpoints) {
		rc = webhook_fail(err, BERTH_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const berth_config *map = host->config_list_child(config, "endpoints", i);

		if (!map) {
			rc = webhook_fail(err, BERTH_E_CONFIG,
					  "endpoints[%zu]: expected a map (name: ..., url: ...)", i);
			goto out;
		}
		out->n_endpoints = i + 1;
		rc = load_endpoint(host, map, i, out, &out->endpoints[i], err);
		if (rc < 0)
			goto out;
	}
out:
	if (rc < 0)
		webhook_settings_free(out);
	return rc;
}
