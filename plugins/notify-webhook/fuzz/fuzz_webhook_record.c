/*
 * fuzz_webhook_record.c - a journal line, as read back after a crash or from a
 * damaged disk, through everything the sender does with it: parse the
 * record, build both bodies (alone and in a batch) and sign them. Texts in
 * records come from clients (tags, identities), so nothing here may crash
 * or emit a body that is not JSON.
 */
#include <stdlib.h>
#include <string.h>

#include "webhook.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void build(const struct webhook_format_opts *o, const struct webhook_event *evs,
		  size_t n)
{
	berth_error err = {0};
	const char *ctype = NULL;
	char *body = NULL, sig[80];
	size_t len = 0;
	json_t *doc;

	if (webhook_format_body(o, evs, n, &body, &len, &ctype, &err) != 0)
		return;
	doc = json_loadb(body, len, 0, NULL);
	if (!doc || !ctype)
		abort();
	json_decref(doc);
	if (webhook_sign("fuzz", body, len, sig, sizeof(sig)) != 0)
		abort();
	free(body);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct webhook_format_opts o = {
		.source = "fuzz",
		.instance_id = "00000000-0000-4000-8000-000000000000",
		.registry_url = "https://registry.example",
		.registry_host = "registry.example",
		.type_prefix = "berth.",
	};
	struct webhook_event ev[2];
	berth_error err = {0};

	if (webhook_record_parse((const char *)data, size, &ev[0], &err) != 0)
		return 0;
	ev[1] = ev[0];
	for (int f = WEBHOOK_FORMAT_DISTRIBUTION; f <= WEBHOOK_FORMAT_CLOUDEVENTS; f++) {
		o.format = f;
		build(&o, ev, 1);
		build(&o, ev, 2);
	}
	if (ev[0].repository)
		(void)webhook_glob_match("**/a*b?/**", ev[0].repository);
	webhook_event_clear(&ev[0]);
	return 0;
}
