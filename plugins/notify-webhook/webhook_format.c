/*
 * webhook_format.c - the bodies an endpoint receives.
 *
 * distribution: CNCF Distribution's notification envelope
 * (docs/about/notifications.md in distribution/distribution), so receivers
 * written for registry:2 work unchanged: {"events":[...]} with id,
 * timestamp, action, target, request, actor and source. Distribution
 * sends blob pushes and deletes as "push" and "delete" (target.mediaType
 * tells them apart); so does this. Other types keep Berth's name.
 *
 * cloudevents: CloudEvents 1.0 in structured mode (one JSON object,
 * application/cloudevents+json), or, for a batch, the JSON batch format
 * (an array, application/cloudevents-batch+json).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "webhook.h"

#define DISTRIBUTION_TYPE "application/vnd.docker.distribution.events.v2+json"
#define CLOUDEVENTS_TYPE "application/cloudevents+json"
#define CLOUDEVENTS_BATCH_TYPE "application/cloudevents-batch+json"

void webhook_format_time(int64_t ms, char *out, size_t cap)
{
	time_t secs = (time_t)(ms / 1000);
	int frac = (int)(ms % 1000);
	struct tm tm;

	if (frac < 0) {
		frac += 1000;
		secs--;
	}
	if (!gmtime_r(&secs, &tm)) {
		snprintf(out, cap, "1970-01-01T00:00:00.000Z");
		return;
	}
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

static int set(json_t *obj, const char *key, json_t *v)
{
	if (!v)
		return -1;
	return json_object_set_new(obj, key, v);
}

/* Set key to s when s is a non-empty text; a missing value is simply left out. */
static int set_text(json_t *obj, const char *key, const char *s)
{
	if (!s || !*s)
		return 0;
	return set(obj, key, webhook_json_text(s));
}

static int is_blob_event(const char *type)
{
	return strncmp(type, "blob.", 5) == 0 || strcmp(type, "mount") == 0;
}

static const char *distribution_action(const char *type)
{
	if (strcmp(type, "blob.push") == 0)
		return "push";
	if (strcmp(type, "blob.delete") == 0)
		return "delete";
	return type;
}

/* What the core's request was, for the events the core emits on a request. */
static const char *core_method(const char *type)
{
	static const struct {
		const char *type, *method;
	} methods[] = {
		{ "push", "PUT" },     { "blob.push", "PUT" },      { "pull", "GET" },
		{ "pull.blocked", "GET" }, { "delete", "DELETE" }, { "blob.delete", "DELETE" },
		{ "mount", "POST" },
	};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(methods[i].type, type) == 0)
			return methods[i].method;
	return NULL;
}

/* registry_url/v2/<repo>/manifests|blobs/<digest or tag>, or NULL. */
static json_t *target_url(const struct webhook_format_opts *o, const struct webhook_event *ev)
{
	const char *ref = ev->digest ? ev->digest : ev->tag;
	char *url = NULL;
	json_t *j;

	if (!o->registry_url || !ev->repository || !ref)
		return NULL;
	url = webhook_strf("%s/v2/%s/%s/%s", o->registry_url, ev->repository,
			   is_blob_event(ev->type) ? "blobs" : "manifests", ref);
	if (!url)
		return NULL;
	j = webhook_json_text(url);
	free(url);
	return j;
}

/* A field of the event's detail.request object, when the emitter gave one. */
static const char *detail_request(const struct webhook_event *ev, const char *key)
{
	json_t *req = ev->detail ? json_object_get(ev->detail, "request") : NULL;

	return json_string_value(json_object_get(req, key));
}

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

static json_t *distribution_event(const struct webhook_format_opts *o,
				  const struct webhook_event *ev)
{
	json_t *e = json_object(), *target = json_object(), *request = json_object();
	json_t *actor = json_object(), *source = json_object(), *url;
	const char *method = detail_request(ev, "method");
	const char *host = detail_request(ev, "host");
	char when[40];
	int bad = 0;

	if (!e || !target || !request || !actor || !source)
		goto fail;
	if (!method && ev->client && ev->source && strcmp(ev->source, "core") == 0)
		method = core_method(ev->type);
	if (!host)
		host = o->registry_host;
	webhook_format_time(ev->time_ms, when, sizeof(when));
	bad |= set_text(target, "mediaType", ev->media_type);
	if (ev->length > 0) {
		bad |= set(target, "size", json_integer((json_int_t)ev->length));
		bad |= set(target, "length", json_integer((json_int_t)ev->length));
	}
	bad |= set_text(target, "digest", ev->digest);
	bad |= set_text(target, "repository", ev->repository);
	url = target_url(o, ev);
	if (url)
		bad |= set(target, "url", url);
	bad |= set_text(target, "tag", ev->tag);
	/* Distribution always sends these five, empty when unknown. */
	bad |= set(request, "id", webhook_json_text(or_empty(detail_request(ev, "id"))));
	bad |= set(request, "addr", webhook_json_text(or_empty(ev->client)));
	bad |= set(request, "host", webhook_json_text(or_empty(host)));
	bad |= set(request, "method", webhook_json_text(or_empty(method)));
	bad |= set(request, "useragent",
		   webhook_json_text(or_empty(detail_request(ev, "useragent"))));
	bad |= set_text(actor, "name", ev->identity);
	bad |= set(source, "addr", webhook_json_text(or_empty(o->source)));
	bad |= set(source, "instanceID", webhook_json_text(or_empty(o->instance_id)));
	bad |= set(e, "id", webhook_json_text(ev->id));
	bad |= set(e, "timestamp", json_string(when));
	bad |= set(e, "action", webhook_json_text(distribution_action(ev->type)));
	bad |= set(e, "target", target);
	bad |= set(e, "request", request);
	bad |= set(e, "actor", actor);
	bad |= set(e, "source", source);
	if (ev->detail)
		bad |= set(e, "detail", json_incref(ev->detail));
	if (bad) {
		json_decref(e);
		return NULL;
	}
	return e;
fail:
	json_decref(e);
	json_decref(target);
	json_decref(request);
	json_decref(actor);
	json_decref(source);
	return NULL;
}

static json_t *cloudevent(const struct webhook_format_opts *o, const struct webhook_event *ev)
{
	json_t *ce = json_object(), *data = json_object(), *url;
	char when[40], *type = NULL, *subject = NULL;
	int bad = 0;

	if (!ce || !data)
		goto fail;
	type = webhook_strf("%s%s", o->type_prefix ? o->type_prefix : "", ev->type);
	if (!type)
		goto fail;
	if (ev->repository) {
		if (ev->tag)
			subject = webhook_strf("%s:%s", ev->repository, ev->tag);
		else if (ev->digest)
			subject = webhook_strf("%s@%s", ev->repository, ev->digest);
		else
			subject = webhook_strf("%s", ev->repository);
		if (!subject)
			goto fail;
	}
	webhook_format_time(ev->time_ms, when, sizeof(when));
	bad |= set_text(data, "repository", ev->repository);
	bad |= set_text(data, "tag", ev->tag);
	bad |= set_text(data, "digest", ev->digest);
	bad |= set_text(data, "mediaType", ev->media_type);
	if (ev->length > 0)
		bad |= set(data, "size", json_integer((json_int_t)ev->length));
	bad |= set_text(data, "actor", ev->identity);
	bad |= set_text(data, "client", ev->client);
	bad |= set_text(data, "origin", ev->source);
	url = target_url(o, ev);
	if (url)
		bad |= set(data, "url", url);
	if (ev->detail)
		bad |= set(data, "detail", json_incref(ev->detail));
	bad |= set(ce, "specversion", json_string("1.0"));
	bad |= set(ce, "id", webhook_json_text(ev->id));
	bad |= set(ce, "source", webhook_json_text(or_empty(o->source)));
	bad |= set(ce, "type", webhook_json_text(type));
	bad |= set(ce, "time", json_string(when));
	if (subject)
		bad |= set(ce, "subject", webhook_json_text(subject));
	bad |= set(ce, "datacontenttype", json_string("application/json"));
	bad |= set(ce, "data", data);
	free(type);
	free(subject);
	if (bad) {
		json_decref(ce);
		return NULL;
	}
	return ce;
fail:
	free(type);
	free(subject);
	json_decref(ce);
	json_decref(data);
	return NULL;
}

int webhook_format_body(const struct webhook_format_opts *o, const struct webhook_event *evs,
			size_t n, char **body, size_t *len, const char **content_type,
			berth_error *err)
{
	int cloud = o->format == WEBHOOK_FORMAT_CLOUDEVENTS;
	json_t *list = NULL, *doc = NULL;
	int rc = 0;

	*body = NULL;
	*len = 0;
	if (n == 0)
		return webhook_fail(err, BERTH_E_INVALID, "no event to send");
	if (cloud && n == 1) {
		doc = cloudevent(o, &evs[0]);
		if (!doc)
			goto nomem;
		*content_type = CLOUDEVENTS_TYPE;
	} else {
		list = json_array();
		if (!list)
			goto nomem;
		for (size_t i = 0; i < n; i++) {
			json_t *e = cloud ? cloudevent(o, &evs[i]) : distribution_event(o, &evs[i]);

			if (!e || json_array_append_new(list, e) < 0)
				goto nomem;
		}
		if (cloud) {
			doc = list;
			list = NULL;
			*content_type = CLOUDEVENTS_BATCH_TYPE;
		} else {
			doc = json_object();
			if (!doc || json_object_set_new(doc, "events", list) < 0) {
				list = NULL;
				goto nomem;
			}
			list = NULL;
			*content_type = DISTRIBUTION_TYPE;
		}
	}
	*body = json_dumps(doc, JSON_COMPACT);
	if (!*body)
		goto nomem;
	*len = strlen(*body);
	goto out;
nomem:
	rc = webhook_fail(err, BERTH_E_NOMEM, "out of memory");
out:
	json_decref(list);
	json_decref(doc);
	return rc;
}
