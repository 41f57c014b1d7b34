/*
 * webhook_record.c - an event as one line of the journal, and back.
 *
 * The line is a compact JSON object, so it never holds a raw newline (the
 * journal's record separator). The id is a random UUID given when the
 * event is journaled: a resend after a restart carries the same id, which
 * is what lets a receiver drop duplicates (the host's own ids restart with
 * the process). Texts come from clients (tags, identities) and need not be
 * UTF-8: bytes that are not become U+FFFD, because JSON cannot carry them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "webhook.h"

int webhook_uuid(char *out)
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return BERTH_E_INTERNAL;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);   /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
	snprintf(out, WEBHOOK_UUID_SIZE,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
		 b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
		 b[14], b[15]);
	return 0;
}

/*
 * Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0. p is NUL-terminated
 * and NUL is never a continuation byte, so this never reads past the end.
 */
static size_t utf8_len(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (p[0] < 0x80)
		return 1;
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
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

json_t *webhook_json_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, bad = 0, out_len = 0;
	char *copy;
	json_t *j;

	if (!s)
		return json_null();
	for (n = 0; p[n];) {
		size_t l = utf8_len(p + n);

		if (l == 0) {
			bad++;
			n++;
		} else {
			n += l;
		}
	}
	if (bad == 0)
		return json_stringn(s, n);
	copy = malloc(n + bad * 2 + 1);
	if (!copy)
		return NULL;
	for (n = 0; p[n];) {
		size_t l = utf8_len(p + n);

		if (l == 0) {
			memcpy(copy + out_len, "\xef\xbf\xbd", 3);
			out_len += 3;
			n++;
		} else {
			memcpy(copy + out_len, p + n, l);
			out_len += l;
			n += l;
		}
	}
	j = json_stringn(copy, out_len);
	free(copy);
	return j;
}

static int put(json_t *obj, const char *key, json_t *v)
{
	if (!v)
		return -1;
	return json_object_set_new(obj, key, v);
}

int webhook_record_make(const berth_event *ev, char **line, size_t *len, berth_error *err)
{
	char id[WEBHOOK_UUID_SIZE];
	json_t *rec = NULL, *detail = NULL;
	char *text = NULL;
	int rc = 0;

	*line = NULL;
	*len = 0;
	if (webhook_uuid(id) < 0) {
		rc = webhook_fail(err, BERTH_E_INTERNAL, "no random bytes for the event id");
		goto out;
	}
	/* The host checked that detail_json is an object; a parse failure is dropped, not fatal. */
	if (ev->detail_json) {
		detail = json_loads(ev->detail_json, 0, NULL);
		if (detail && !json_is_object(detail)) {
			json_decref(detail);
			detail = NULL;
		}
	}
	rec = json_object();
	if (!rec || put(rec, "id", json_string(id)) < 0 ||
	    put(rec, "seq", json_integer((json_int_t)ev->id)) < 0 ||
	    put(rec, "time_ms", json_integer((json_int_t)ev->time_ms)) < 0 ||
	    put(rec, "type", webhook_json_text(ev->type)) < 0 ||
	    put(rec, "repository", webhook_json_text(ev->repository)) < 0 ||
	    put(rec, "tag", webhook_json_text(ev->tag)) < 0 ||
	    put(rec, "digest", webhook_json_text(ev->digest)) < 0 ||
	    put(rec, "media_type", webhook_json_text(ev->media_type)) < 0 ||
	    put(rec, "length", json_integer((json_int_t)ev->length)) < 0 ||
	    put(rec, "identity", webhook_json_text(ev->identity)) < 0 ||
	    put(rec, "client", webhook_json_text(ev->client)) < 0 ||
	    put(rec, "source", webhook_json_text(ev->source)) < 0) {
		rc = webhook_fail(err, BERTH_E_NOMEM, "out of memory");
		goto out;
	}
	/* The record owns the detail from here, whether this succeeds or not. */
	rc = put(rec, "detail", detail ? detail : json_null());
	detail = NULL;
	if (rc < 0) {
		rc = webhook_fail(err, BERTH_E_NOMEM, "out of memory");
		goto out;
	}
	text = json_dumps(rec, JSON_COMPACT);
	if (!text) {
		rc = webhook_fail(err, BERTH_E_NOMEM, "out of memory");
		goto out;
	}
	*line = text;
	*len = strlen(text);
out:
	json_decref(detail);
	json_decref(rec);
	return rc;
}

static const char *text_of(json_t *rec, const char *key)
{
	return json_string_value(json_object_get(rec, key));
}

static uint64_t unsigned_of(json_t *rec, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(rec, key));

	return v > 0 ? (uint64_t)v : 0;
}

int webhook_record_parse(const char *line, size_t len, struct webhook_event *out,
			 berth_error *err)
{
	json_error_t jerr;
	json_t *rec;

	memset(out, 0, sizeof(*out));
	rec = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!rec)
		return webhook_fail(err, BERTH_E_INVALID, "not JSON: %s", jerr.text);
	if (!json_is_object(rec)) {
		json_decref(rec);
		return webhook_fail(err, BERTH_E_INVALID, "not a JSON object");
	}
	out->doc = rec;
	out->id = text_of(rec, "id");
	out->type = text_of(rec, "type");
	if (!out->id || !*out->id || !out->type || !*out->type) {
		webhook_event_clear(out);
		return webhook_fail(err, BERTH_E_INVALID, "an event needs an id and a type");
	}
	out->seq = unsigned_of(rec, "seq");
	out->time_ms = json_integer_value(json_object_get(rec, "time_ms"));
	out->repository = text_of(rec, "repository");
	out->tag = text_of(rec, "tag");
	out->digest = text_of(rec, "digest");
	out->media_type = text_of(rec, "media_type");
	out->length = unsigned_of(rec, "length");
	out->identity = text_of(rec, "identity");
	out->client = text_of(rec, "client");
	out->source = text_of(rec, "source");
	out->detail = json_object_get(rec, "detail");
	if (!json_is_object(out->detail))
		out->detail = NULL;
	return 0;
}

void webhook_event_clear(struct webhook_event *ev)
{
	json_decref(ev->doc);
	memset(ev, 0, sizeof(*ev));
}
