/*
 * fuzz_line.c - the audit line formatter with arbitrary bytes in every
 * field (names, identities, paths, reasons and refusal messages come from
 * clients and plugins): the line must be one line, end in '\n', parse as a JSON object,
 * and give back each field exactly when the field was valid UTF-8 and short
 * enough not to be cut.
 *
 * Input: fields separated by NUL bytes, in the order identity, client,
 * repository, reference, digest, reason, path, message, then scopes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../audit.h"

#define FIELDS 8

static int valid_utf8(const char *s)
{
	json_t *j = json_string(s);
	int ok = j != NULL;

	json_decref(j);
	return ok;
}

/* s as the line would give it back when nothing forces a change, else NULL. */
static const char *expected(const char *s)
{
	return s && s[0] && strlen(s) <= AUDIT_FIELD_MAX && valid_utf8(s) ? s : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[FIELDS] = {"identity", "client", "repository", "reference",
						 "digest", "reason", "path", "message"};
	char *copy = malloc(size + 1);
	const char *field[FIELDS + AUDIT_SCOPES_MAX] = {0};
	struct audit_record r = {.time_ms = 1714564800123LL, .action = "pull",
				 .outcome = "denied", .status = 403};
	size_t n = 0, len = 0;
	char *line, *p;
	json_t *doc;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (p = copy; n < FIELDS + AUDIT_SCOPES_MAX && p <= copy + size; p += strlen(p) + 1)
		field[n++] = p;
	r.identity = field[0];
	r.client = field[1];
	r.repository = field[2];
	r.reference = field[3];
	r.digest = field[4];
	r.reason = field[5];
	r.path = field[6];
	r.message = field[7];
	if (n > FIELDS) {
		r.has_scopes = 1;
		for (size_t i = FIELDS; i < n; i++)
			r.scopes[r.n_scopes++] = field[i];
	}

	line = audit_line_format(&r, &len);
	if (!line)
		abort();
	if (len == 0 || line[len - 1] != '\n' || strlen(line) != len)
		abort();
	for (size_t i = 0; i + 1 < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			abort();
	doc = json_loadb(line, len, 0, NULL);
	if (!doc || !json_is_object(doc))
		abort();
	for (size_t i = 0; i < FIELDS; i++) {
		const char *want = expected(field[i]);
		const char *got = json_string_value(json_object_get(doc, keys[i]));

		if (want && (!got || strcmp(got, want) != 0))
			abort();
	}
	json_decref(doc);
	free(line);
	free(copy);
	return 0;
}
