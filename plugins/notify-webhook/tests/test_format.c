/*
 * test_format.c - the journal record of an event and the bodies built from
 * it: Distribution's envelope, CloudEvents (one and a batch), the
 * timestamps and the HMAC signature.
 */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "webhook.h"

#define DIGEST "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b"

static struct webhook_format_opts opts(int format)
{
	struct webhook_format_opts o = {
		.format = format,
		.source = "reg-1.example",
		.instance_id = "11111111-2222-4333-8444-555555555555",
		.registry_url = "https://registry.example:5000",
		.registry_host = "registry.example:5000",
		.type_prefix = "berth.",
	};
	return o;
}

/* Journal an event and read it back, as the sender does. */
static void roundtrip(const berth_event *ev, struct webhook_event *out, char **line)
{
	berth_error err = {0};
	size_t len = 0;

	CHECK_INT(webhook_record_make(ev, line, &len, &err), 0);
	CHECK(*line && strlen(*line) == len);
	CHECK(!memchr(*line, '\n', len));
	CHECK_INT(webhook_record_parse(*line, len, out, &err), 0);
}

static json_t *body_of(const struct webhook_format_opts *o, const struct webhook_event *evs,
		       size_t n, const char **ctype)
{
	berth_error err = {0};
	char *body = NULL;
	size_t len = 0;
	json_t *doc;

	CHECK_INT(webhook_format_body(o, evs, n, &body, &len, ctype, &err), 0);
	CHECK(body && strlen(body) == len);
	doc = json_loadb(body, len, 0, NULL);
	CHECK(doc != NULL);
	free(body);
	return doc;
}

static const char *s(json_t *doc, const char *path)
{
	char key[128];
	const char *dot;
	json_t *at = doc;

	while ((dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		at = json_object_get(at, key);
		path = dot + 1;
	}
	return json_string_value(json_object_get(at, path));
}

static long long n(json_t *doc, const char *path)
{
	char key[128];
	const char *dot;
	json_t *at = doc;

	while ((dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		at = json_object_get(at, key);
		path = dot + 1;
	}
	return json_integer_value(json_object_get(at, path));
}

static int is_uuid4(const char *id)
{
	if (!id || strlen(id) != 36 || id[14] != '4' || !strchr("89ab", id[19]))
		return 0;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (id[i] != '-')
				return 0;
		} else if (!strchr("0123456789abcdef", id[i])) {
			return 0;
		}
	}
	return 1;
}

static berth_event push_event(void)
{
	berth_event ev = {
		.size = sizeof(berth_event),
		.id = 42,
		.time_ms = 1700000000123LL,
		.type = "push",
		.repository = "team/app",
		.tag = "v1",
		.digest = DIGEST,
		.media_type = "application/vnd.oci.image.manifest.v1+json",
		.length = 1234,
		.identity = "ci-bot",
		.client = "10.0.0.7",
		.source = "core",
	};
	return ev;
}

static void test_record(void)
{
	berth_event ev = push_event();
	struct webhook_event a, b;
	char *line_a = NULL, *line_b = NULL;
	berth_error err = {0};

	ev.detail_json = "{\"k\":[1,2]}";
	roundtrip(&ev, &a, &line_a);
	CHECK(is_uuid4(a.id));
	CHECK_INT(a.seq, 42);
	CHECK_INT(a.time_ms, 1700000000123LL);
	CHECK_STR(a.type, "push");
	CHECK_STR(a.repository, "team/app");
	CHECK_STR(a.tag, "v1");
	CHECK_STR(a.digest, DIGEST);
	CHECK_INT(a.length, 1234);
	CHECK_STR(a.identity, "ci-bot");
	CHECK_STR(a.client, "10.0.0.7");
	CHECK_STR(a.source, "core");
	CHECK(a.detail && json_array_size(json_object_get(a.detail, "k")) == 2);
	/* Every event journaled gets an id of its own. */
	roundtrip(&ev, &b, &line_b);
	CHECK(strcmp(a.id, b.id) != 0);
	webhook_event_clear(&a);
	webhook_event_clear(&b);
	free(line_a);
	free(line_b);

	/* Fields that do not apply are absent; bytes that are not UTF-8 become U+FFFD. */
	ev = push_event();
	ev.tag = "bad\xff\xfetag";
	ev.identity = NULL;
	ev.detail_json = "[1]";
	roundtrip(&ev, &a, &line_a);
	CHECK_STR(a.tag, "bad\xef\xbf\xbd\xef\xbf\xbdtag");
	CHECK(a.identity == NULL);
	CHECK(a.detail == NULL);
	webhook_event_clear(&a);
	free(line_a);

	/* What is not a record is refused, not half read. */
	CHECK_INT(webhook_record_parse("{\"id\":\"x\"", 9, &a, &err), BERTH_E_INVALID);
	CHECK_INT(webhook_record_parse("[1,2]", 5, &a, &err), BERTH_E_INVALID);
	CHECK_INT(webhook_record_parse("{\"type\":\"push\"}", 15, &a, &err), BERTH_E_INVALID);
	CHECK_INT(webhook_record_parse("{\"id\":\"a\",\"id\":\"b\",\"type\":\"push\"}", 33, &a, &err),
		  BERTH_E_INVALID);
}

static void test_distribution(void)
{
	struct webhook_format_opts o = opts(WEBHOOK_FORMAT_DISTRIBUTION);
	berth_event ev = push_event();
	struct webhook_event e[2];
	char *l0 = NULL, *l1 = NULL;
	const char *ctype = NULL;
	json_t *doc, *first;

	roundtrip(&ev, &e[0], &l0);
	doc = body_of(&o, e, 1, &ctype);
	CHECK_STR(ctype, "application/vnd.docker.distribution.events.v2+json");
	CHECK_INT(json_array_size(json_object_get(doc, "events")), 1);
	first = json_array_get(json_object_get(doc, "events"), 0);
	CHECK_STR(s(first, "id"), e[0].id);
	CHECK_STR(s(first, "timestamp"), "2023-11-14T22:13:20.123Z");
	CHECK_STR(s(first, "action"), "push");
	CHECK_STR(s(first, "target.mediaType"), "application/vnd.oci.image.manifest.v1+json");
	CHECK_INT(n(first, "target.size"), 1234);
	CHECK_INT(n(first, "target.length"), 1234);
	CHECK_STR(s(first, "target.digest"), DIGEST);
	CHECK_STR(s(first, "target.repository"), "team/app");
	CHECK_STR(s(first, "target.tag"), "v1");
	CHECK_STR(s(first, "target.url"),
		  "https://registry.example:5000/v2/team/app/manifests/" DIGEST);
	CHECK_STR(s(first, "request.addr"), "10.0.0.7");
	CHECK_STR(s(first, "request.method"), "PUT");
	CHECK_STR(s(first, "request.host"), "registry.example:5000");
	CHECK_STR(s(first, "request.id"), "");
	CHECK_STR(s(first, "request.useragent"), "");
	CHECK_STR(s(first, "actor.name"), "ci-bot");
	CHECK_STR(s(first, "source.addr"), "reg-1.example");
	CHECK_STR(s(first, "source.instanceID"), "11111111-2222-4333-8444-555555555555");
	CHECK(json_object_get(first, "detail") == NULL);
	json_decref(doc);

	/* A blob push is Distribution's "push" of a blob URL; what the request hook knew wins. */
	ev = push_event();
	ev.type = "blob.push";
	ev.tag = NULL;
	ev.media_type = NULL;
	ev.detail_json = "{\"request\":{\"id\":\"r-9\",\"useragent\":\"docker/27\",\"method\":\"PATCH\"}}";
	roundtrip(&ev, &e[1], &l1);
	doc = body_of(&o, e, 2, &ctype);
	CHECK_INT(json_array_size(json_object_get(doc, "events")), 2);
	first = json_array_get(json_object_get(doc, "events"), 1);
	CHECK_STR(s(first, "action"), "push");
	CHECK_STR(s(first, "target.url"), "https://registry.example:5000/v2/team/app/blobs/" DIGEST);
	CHECK(s(first, "target.tag") == NULL);
	CHECK(s(first, "target.mediaType") == NULL);
	CHECK_STR(s(first, "request.id"), "r-9");
	CHECK_STR(s(first, "request.useragent"), "docker/27");
	CHECK_STR(s(first, "request.method"), "PATCH");
	CHECK(json_is_object(json_object_get(first, "detail")));
	json_decref(doc);
	webhook_event_clear(&e[1]);
	free(l1);

	/* Without registry_url there is no URL to give; a plugin's event has no method. */
	o.registry_url = NULL;
	o.registry_host = NULL;
	ev = push_event();
	ev.type = "scan.completed";
	ev.source = "trivy";
	ev.client = NULL;
	roundtrip(&ev, &e[1], &l1);
	doc = body_of(&o, &e[1], 1, &ctype);
	first = json_array_get(json_object_get(doc, "events"), 0);
	CHECK_STR(s(first, "action"), "scan.completed");
	CHECK(s(first, "target.url") == NULL);
	CHECK_STR(s(first, "request.method"), "");
	CHECK_STR(s(first, "request.addr"), "");
	CHECK_STR(s(first, "request.host"), "");
	json_decref(doc);
	webhook_event_clear(&e[1]);
	free(l1);
	webhook_event_clear(&e[0]);
	free(l0);
}

static void test_cloudevents(void)
{
	struct webhook_format_opts o = opts(WEBHOOK_FORMAT_CLOUDEVENTS);
	berth_event ev = push_event();
	struct webhook_event e[2];
	char *l0 = NULL, *l1 = NULL;
	const char *ctype = NULL;
	json_t *doc;

	roundtrip(&ev, &e[0], &l0);
	doc = body_of(&o, e, 1, &ctype);
	CHECK_STR(ctype, "application/cloudevents+json");
	CHECK(json_is_object(doc));
	CHECK_STR(s(doc, "specversion"), "1.0");
	CHECK_STR(s(doc, "id"), e[0].id);
	CHECK_STR(s(doc, "source"), "reg-1.example");
	CHECK_STR(s(doc, "type"), "berth.push");
	CHECK_STR(s(doc, "time"), "2023-11-14T22:13:20.123Z");
	CHECK_STR(s(doc, "subject"), "team/app:v1");
	CHECK_STR(s(doc, "datacontenttype"), "application/json");
	CHECK_STR(s(doc, "data.repository"), "team/app");
	CHECK_STR(s(doc, "data.tag"), "v1");
	CHECK_STR(s(doc, "data.digest"), DIGEST);
	CHECK_STR(s(doc, "data.mediaType"), "application/vnd.oci.image.manifest.v1+json");
	CHECK_INT(n(doc, "data.size"), 1234);
	CHECK_STR(s(doc, "data.actor"), "ci-bot");
	CHECK_STR(s(doc, "data.client"), "10.0.0.7");
	CHECK_STR(s(doc, "data.origin"), "core");
	CHECK_STR(s(doc, "data.url"), "https://registry.example:5000/v2/team/app/manifests/" DIGEST);
	json_decref(doc);

	/* By digest, the subject names the digest; two events make a batch. */
	ev.tag = NULL;
	ev.type = "delete";
	roundtrip(&ev, &e[1], &l1);
	o.type_prefix = "com.example.registry.";
	doc = body_of(&o, e, 2, &ctype);
	CHECK_STR(ctype, "application/cloudevents-batch+json");
	CHECK(json_is_array(doc) && json_array_size(doc) == 2);
	CHECK_STR(s(json_array_get(doc, 1), "subject"), "team/app@" DIGEST);
	CHECK_STR(s(json_array_get(doc, 1), "type"), "com.example.registry.delete");
	CHECK_STR(s(json_array_get(doc, 0), "id"), e[0].id);
	CHECK_STR(s(json_array_get(doc, 1), "id"), e[1].id);
	json_decref(doc);
	webhook_event_clear(&e[0]);
	webhook_event_clear(&e[1]);
	free(l0);
	free(l1);
}

static void test_time_and_signature(void)
{
	char when[40], sig[80];
	berth_error err = {0};
	char *body;
	size_t len;
	const char *ctype;

	webhook_format_time(0, when, sizeof(when));
	CHECK_STR(when, "1970-01-01T00:00:00.000Z");
	webhook_format_time(951782400999LL, when, sizeof(when));
	CHECK_STR(when, "2000-02-29T00:00:00.999Z");

	/* RFC 4231, test case 2. */
	CHECK_INT(webhook_sign("Jefe", "what do ya want for nothing?", 28, sig, sizeof(sig)), 0);
	CHECK_STR(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	CHECK_INT(webhook_sign("Jefe", "", 0, sig, sizeof(sig)), 0);
	CHECK(strncmp(sig, "sha256=", 7) == 0 && strlen(sig) == 71);
	CHECK(webhook_sign("Jefe", "x", 1, sig, 20) < 0);

	CHECK(webhook_format_body(&(struct webhook_format_opts){ .format = 1 }, NULL, 0, &body,
				  &len, &ctype, &err) < 0);
}

int main(void)
{
	test_record();
	test_distribution();
	test_cloudevents();
	test_time_and_signature();
	TEST_MAIN_END();
}
