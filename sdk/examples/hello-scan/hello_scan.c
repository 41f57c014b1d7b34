/*
 * hello_scan.c - a scan plugin: a pull gate and a report per manifest.
 *
 * Berth calls a scan plugin at three moments:
 *
 *   on_push()  a manifest was stored; a real scanner starts a scan here
 *              (or queues one for a job: on_push must be quick);
 *   gate()     a manifest is about to be served (GET or HEAD, by tag or by
 *              digest); BERTH_E_DENIED refuses the pull with 403 DENIED
 *              and the message, which `docker pull` prints;
 *   report()   GET /berth/v1/reports/<repository>@<digest> asks for the
 *              scan report, as JSON.
 *
 * This one "finds" a problem in any manifest that carries a given
 * annotation key, so a policy can be tried without a vulnerability
 * database:
 *
 *   plugins:
 *     - use: hello-scan
 *       config:
 *         deny_annotation: hello.berth.dev/deny
 *
 *   umoci config --image layout:tag --manifest.annotation hello.berth.dev/deny=yes
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/plugin.h>

struct hello_scan {
	const berth_host *host;
	const berth_instance *self;
	char *needle;          /* the key as it appears in JSON: "key" with quotes */
	size_t needle_len;
};

static const berth_config_key hello_schema[] = {
	{ .key = "deny_annotation", .type = BERTH_CONFIG_STRING,
	  .default_value = "hello.berth.dev/deny",
	  .help = "pulls of manifests that carry this annotation key are refused" },
	{ .type = BERTH_CONFIG_END }
};

BERTH_PRINTF(3, 4)
static int fail(berth_error *err, int code, const char *fmt, ...)
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

static int hello_create(const berth_host *host, const berth_instance *self,
			const berth_config *config, void **state, berth_error *err)
{
	const char *key = host->config_string(config, "deny_annotation");
	struct hello_scan *s;
	const char *c;

	if (!BERTH_HOST_HAS(host, read_manifest))
		return fail(err, BERTH_E_UNSUPPORTED, "hello-scan: this Berth is too old");
	if (!key)
		key = "hello.berth.dev/deny";
	if (!*key)
		return fail(err, BERTH_E_CONFIG, "hello-scan: 'deny_annotation' may not be empty");
	/* Keys that JSON would escape could never match the search below. */
	for (c = key; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == '"' || *c == '\\')
			return fail(err, BERTH_E_CONFIG,
				    "hello-scan: 'deny_annotation' may not hold quotes, "
				    "backslashes or control characters");
	s = calloc(1, sizeof(*s));
	if (!s)
		return fail(err, BERTH_E_NOMEM, "hello-scan: out of memory");
	s->host = host;
	s->self = self;
	s->needle_len = strlen(key) + 2;
	s->needle = malloc(s->needle_len + 1);
	if (!s->needle) {
		free(s);
		return fail(err, BERTH_E_NOMEM, "hello-scan: out of memory");
	}
	snprintf(s->needle, s->needle_len + 1, "\"%s\"", key);
	*state = s;
	return 0;
}

static void hello_destroy(void *state)
{
	struct hello_scan *s = state;

	if (!s)
		return;
	free(s->needle);
	free(s);
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Does the manifest use the annotation key anywhere: the quoted key
 * followed by a colon? Only a search, not a JSON parser: a real scanner
 * would parse the manifest (and would not trust a key written with JSON
 * escapes such as "\/" to look like this one).
 */
static int has_deny_key(const struct hello_scan *s, const berth_manifest *m)
{
	const char *body = m->body;
	size_t i, j;

	if (!body || m->body_len < s->needle_len)
		return 0;
	for (i = 0; i + s->needle_len <= m->body_len; i++) {
		if (memcmp(body + i, s->needle, s->needle_len) != 0)
			continue;
		for (j = i + s->needle_len; j < m->body_len && is_space(body[j]); j++)
			;
		if (j < m->body_len && body[j] == ':')
			return 1;
	}
	return 0;
}

/* Quick, and its result never changes the push. */
static void hello_on_push(void *state, const berth_manifest *m)
{
	struct hello_scan *s = state;

	s->host->log(s->self, BERTH_LOG_INFO, "pushed %s@%s%s", m->repository, m->digest,
		     has_deny_key(s, m) ? " (its pulls will be refused)" : "");
}

static int hello_gate(void *state, const berth_request *req, const berth_manifest *m,
		      berth_error *err)
{
	struct hello_scan *s = state;

	(void)req;
	if (!has_deny_key(s, m))
		return BERTH_DECLINED;
	return fail(err, BERTH_E_DENIED, "manifest %s is blocked by hello-scan", m->digest);
}

struct report_ctx {
	const struct hello_scan *s;
	int blocked;
};

static int note_manifest(void *ctx, const berth_manifest *m)
{
	struct report_ctx *r = ctx;

	r->blocked = has_deny_key(r->s, m);
	return 0;
}

/* Digests go into JSON unescaped: allow only what a digest is made of. */
static int digest_ok(const char *d)
{
	if (!*d || strlen(d) > 256)
		return 0;
	for (; *d; d++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789:+._-=ABCDEFGHIJKLMNOPQRSTUVWXYZ",
			    *d))
			return 0;
	return 1;
}

/*
 * The report for one manifest. A real scanner would read it from where
 * its scan stored it; this one reads the manifest through the host and
 * says whether the gate refuses it.
 */
static int hello_report(void *state, const char *repository, const char *digest, char *buf,
			size_t cap, size_t *len, berth_error *err)
{
	struct hello_scan *s = state;
	struct report_ctx r = { .s = s, .blocked = 0 };
	char json[400];
	int rc, n;

	if (!digest_ok(digest))
		return fail(err, BERTH_E_NOT_FOUND, "no report for this digest");
	rc = s->host->read_manifest(repository, digest, note_manifest, &r, err);
	if (rc < 0)
		return rc;
	n = snprintf(json, sizeof(json),
		     "{\"scanner\":\"hello-scan\",\"digest\":\"%s\",\"blocked\":%s}",
		     digest, r.blocked ? "true" : "false");
	if (n < 0 || (size_t)n >= sizeof(json))
		return fail(err, BERTH_E_INTERNAL, "hello-scan: cannot format the report");
	/* Too small: say how much is needed, and the host asks again. */
	*len = (size_t)n;
	if ((size_t)n > cap)
		return fail(err, BERTH_E_RANGE, "hello-scan: the report needs %d bytes", n);
	memcpy(buf, json, (size_t)n);
	return 0;
}

static const berth_scan_ops hello_scan_ops = {
	.size = sizeof(berth_scan_ops),
	.on_push = hello_on_push,
	.gate = hello_gate,
	.report = hello_report,
};

static const berth_plugin hello_plugin = {
	BERTH_PLUGIN_HEADER,
	.name = "hello-scan",
	.version = "0.1.0",
	.description = "refuses pulls of manifests carrying a given annotation key",
	.config_schema = hello_schema,
	.create = hello_create,
	.destroy = hello_destroy,
	.scan = &hello_scan_ops,
};

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void)
{
	return &hello_plugin;
}
