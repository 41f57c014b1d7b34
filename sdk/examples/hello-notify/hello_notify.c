/*
 * hello_notify.c - a notifier: every event as one JSON line in a file.
 *
 * Berth emits an event for each push, pull, delete, blob upload and mount,
 * and plugins emit their own. Notifiers receive them on one event thread,
 * one at a time and in order, away from the requests that caused them, so
 * deliver() needs no lock and a slow notifier never slows a push.
 *
 *   plugins:
 *     - use: hello-notify
 *       config:
 *         path: /var/log/berth/events.jsonl
 *
 * Each line looks like
 *   {"type":"push","repository":"team/app","tag":"v1","digest":"sha256:...",
 *    "id":42,"time_ms":1700000000000,"identity":"ci","client":"10.0.0.7",
 *    "source":"core","detail":null}
 * with null for what does not apply. `tail -f` it, or ship it with any log
 * collector.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/plugin.h>

struct hello_notify {
	const berth_host *host;
	const berth_instance *self;
	FILE *out;
	int failing;           /* a write failed: log once, not once per event */
};

static const berth_config_key hello_schema[] = {
	{ .key = "path", .type = BERTH_CONFIG_STRING, .flags = BERTH_CONFIG_REQUIRED,
	  .help = "file the events are appended to, one JSON object per line" },
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
	struct hello_notify *n;
	const char *path = host->config_string(config, "path");

	if (!path || !*path)
		return fail(err, BERTH_E_CONFIG, "hello-notify: 'path' is required");
	n = calloc(1, sizeof(*n));
	if (!n)
		return fail(err, BERTH_E_NOMEM, "hello-notify: out of memory");
	n->host = host;
	n->self = self;
	/*
	 * Opened here, on the main thread, so a wrong path stops the server
	 * at start-up with a message instead of losing events later. "e" is
	 * O_CLOEXEC: nothing Berth runs inherits the file.
	 */
	n->out = fopen(path, "ae");
	if (!n->out) {
		int e = errno;

		free(n);
		return fail(err, BERTH_E_IO, "hello-notify: cannot open '%s': %s", path,
			    strerror(e));
	}
	*state = n;
	return 0;
}

static void hello_destroy(void *state)
{
	struct hello_notify *n = state;

	if (!n)
		return;
	fclose(n->out);
	free(n);
}

/*
 * Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0. p is NUL-terminated,
 * and NUL is never a continuation byte, so this never reads past the end.
 */
static size_t utf8_len(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		lo = p[0] == 0xe0 ? 0xa0 : 0x80;
		hi = p[0] == 0xed ? 0x9f : 0xbf;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		lo = p[0] == 0xf0 ? 0x90 : 0x80;
		hi = p[0] == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/*
 * A JSON string, or null. Event fields come from clients (repository
 * names, tags, user names), so quote everything that JSON requires and
 * replace bytes that are not UTF-8 with U+FFFD: each line stays valid JSON
 * whatever a client sent.
 */
static void put_json_string(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len;

	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	while (*p) {
		if (*p == '"' || *p == '\\') {
			fputc('\\', out);
			fputc(*p++, out);
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(out, "\\u%04x", *p++);
		} else if (*p < 0x80) {
			fputc(*p++, out);
		} else if ((len = utf8_len(p)) > 0) {
			fwrite(p, 1, len, out);
			p += len;
		} else {
			fputs("\\ufffd", out);
			p++;
		}
	}
	fputc('"', out);
}

/*
 * detail_json is a JSON object (Berth checks that before queueing the
 * event), so it goes in as it is; only its line breaks, which can only be
 * whitespace between tokens, become spaces to keep the event on one line.
 */
static void put_json_object(FILE *out, const char *json)
{
	if (!json) {
		fputs("null", out);
		return;
	}
	for (; *json; json++)
		fputc(*json == '\n' || *json == '\r' ? ' ' : *json, out);
}

/* On the event thread, once per event, in order. */
static void hello_deliver(void *state, const berth_event *ev)
{
	struct hello_notify *n = state;
	FILE *out = n->out;

	fputs("{\"type\":", out);
	put_json_string(out, ev->type);
	fputs(",\"repository\":", out);
	put_json_string(out, ev->repository);
	fputs(",\"tag\":", out);
	put_json_string(out, ev->tag);
	fputs(",\"digest\":", out);
	put_json_string(out, ev->digest);
	fprintf(out, ",\"id\":%" PRIu64 ",\"time_ms\":%" PRId64 ",\"identity\":", ev->id,
		ev->time_ms);
	put_json_string(out, ev->identity);
	fputs(",\"client\":", out);
	put_json_string(out, ev->client);
	fputs(",\"source\":", out);
	put_json_string(out, ev->source);
	fputs(",\"detail\":", out);
	put_json_object(out, ev->detail_json);
	fputs("}\n", out);

	/* One flush per event, so a reader of the file sees whole lines. */
	if (fflush(out) != 0 || ferror(out)) {
		if (!n->failing)
			n->host->log(n->self, BERTH_LOG_ERROR, "cannot write events: %s",
				     strerror(errno));
		n->failing = 1;
		clearerr(out);
	} else if (n->failing) {
		n->host->log(n->self, BERTH_LOG_INFO, "writing events again");
		n->failing = 0;
	}
}

static const berth_notify_ops hello_notify_ops = {
	.size = sizeof(berth_notify_ops),
	/*
	 * Not BERTH_NOTIFY_DURABLE: when the event queue is full Berth drops
	 * events rather than wait for us, and counts them.
	 */
	.flags = 0,
	.deliver = hello_deliver,
};

static const berth_plugin hello_plugin = {
	BERTH_PLUGIN_HEADER,
	.name = "hello-notify",
	.version = "0.1.0",
	.description = "appends every event to a file as one JSON line",
	.config_schema = hello_schema,
	.create = hello_create,
	.destroy = hello_destroy,
	.notify = &hello_notify_ops,
};

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void)
{
	return &hello_plugin;
}
