/*
 * test_line.c - the audit line formatter (audit_line.c): field names and
 * order, null for what does not apply, times, and escaping of hostile
 * names and identities (quotes, newlines, control characters, bytes that
 * are not UTF-8), each line read back with jansson.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit.h"
#include "test.h"

/* Format r and parse the line back; NULL (and a failed check) if it is not one JSON object. */
static json_t *round_trip(const struct audit_record *r, char **text)
{
	size_t len = 0;
	char *line = audit_line_format(r, &len);
	json_t *doc;

	CHECK(line != NULL);
	if (!line)
		return NULL;
	CHECK_INT(strlen(line), len);
	CHECK(len > 0 && line[len - 1] == '\n');
	/* One line: the only newline is the last byte, and no raw control byte. */
	for (size_t i = 0; i + 1 < len; i++)
		CHECK((unsigned char)line[i] >= 0x20 && line[i] != 0x7f);
	doc = json_loadb(line, len, 0, NULL);
	CHECK(doc != NULL && json_is_object(doc));
	if (text)
		*text = line;
	else
		free(line);
	return doc;
}

static const char *str(json_t *doc, const char *key)
{
	return json_string_value(json_object_get(doc, key));
}

static void test_full_line(void)
{
	struct audit_record r = {
		.time_ms = 1714564800123LL,   /* 2024-05-01T12:00:00.123Z */
		.action = "push",
		.outcome = "success",
		.identity = "ci",
		.client = "127.0.0.1",
		.repository = "team/app",
		.reference = "v1",
		.digest = "sha256:0123",
	};
	char *text = NULL;
	json_t *doc = round_trip(&r, &text);

	CHECK_STR(text, "{\"time\":\"2024-05-01T12:00:00.123Z\",\"action\":\"push\","
			"\"outcome\":\"success\",\"identity\":\"ci\",\"client\":\"127.0.0.1\","
			"\"repository\":\"team/app\",\"reference\":\"v1\","
			"\"digest\":\"sha256:0123\",\"reason\":null}\n");
	CHECK_INT(json_object_size(doc), 9);
	json_decref(doc);
	free(text);
}

static void test_nulls_and_anonymous(void)
{
	struct audit_record r = {.time_ms = 0, .action = "pull", .outcome = "denied",
				 .identity = "", .repository = ""};
	json_t *doc = round_trip(&r, NULL);

	CHECK_STR(str(doc, "time"), "1970-01-01T00:00:00.000Z");
	CHECK_STR(str(doc, "identity"), "anonymous");
	CHECK(json_is_null(json_object_get(doc, "client")));
	CHECK(json_is_null(json_object_get(doc, "repository")));
	CHECK(json_is_null(json_object_get(doc, "reference")));
	CHECK(json_is_null(json_object_get(doc, "digest")));
	CHECK(json_is_null(json_object_get(doc, "reason")));
	/* Request-only and login-only fields are absent, not null. */
	CHECK(json_object_get(doc, "status") == NULL);
	CHECK(json_object_get(doc, "path") == NULL);
	CHECK(json_object_get(doc, "scopes") == NULL);
	json_decref(doc);

	r.identity = NULL;
	doc = round_trip(&r, NULL);
	CHECK_STR(str(doc, "identity"), "anonymous");
	json_decref(doc);
}

static void test_request_and_login_fields(void)
{
	struct audit_record r = {.time_ms = 1, .action = "push", .outcome = "denied",
				 .status = 403, .path = "/v2/locked/app/blobs/uploads/",
				 .has_scopes = 1, .n_scopes = 2,
				 .scopes = {"repository:a:pull", "repository:b:pull,push"}};
	json_t *doc = round_trip(&r, NULL);

	CHECK_INT(json_integer_value(json_object_get(doc, "status")), 403);
	CHECK_STR(str(doc, "path"), "/v2/locked/app/blobs/uploads/");
	/* A request line always has a message: null when the host gave none. */
	CHECK(json_object_get(doc, "message") != NULL);
	CHECK(json_is_null(json_object_get(doc, "message")));
	CHECK_INT(json_array_size(json_object_get(doc, "scopes")), 2);
	CHECK_STR(json_string_value(json_array_get(json_object_get(doc, "scopes"), 1)),
		  "repository:b:pull,push");
	json_decref(doc);

	/* A login that granted nothing says so with an empty list. */
	r.n_scopes = 0;
	doc = round_trip(&r, NULL);
	CHECK(json_is_array(json_object_get(doc, "scopes")));
	CHECK_INT(json_array_size(json_object_get(doc, "scopes")), 0);
	json_decref(doc);
}

static void test_times(void)
{
	char t[AUDIT_TIME_MAX];

	audit_time_format(1714564800123LL, t, sizeof(t));
	CHECK_STR(t, "2024-05-01T12:00:00.123Z");
	audit_time_format(951782400000LL + 999, t, sizeof(t));   /* a leap day */
	CHECK_STR(t, "2000-02-29T00:00:00.999Z");
	audit_time_format(-1, t, sizeof(t));
	CHECK_STR(t, "1969-12-31T23:59:59.999Z");
	audit_time_format(4102444800000LL, t, sizeof(t));
	CHECK_STR(t, "2100-01-01T00:00:00.000Z");
}

/* A hostile identity or repository name reads back exactly (when UTF-8). */
static void test_hostile_strings(void)
{
	static const char *const hostile[] = {
		"evil\"},{\"action\":\"pull\",\"outcome\":\"success",
		"line one\nline two\r\n{\"forged\":true}",
		"back\\slash\\\"quote",
		"tab\there\bbell\a\x01\x1f\x7f",
		"\xe2\x80\xa8separators\xe2\x80\xa9",
		"caf\xc3\xa9 \xf0\x9f\x90\xb3 \xe6\x97\xa5\xe6\x9c\xac",
		"</script><script>alert(1)</script>",
	};
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		struct audit_record r = {.time_ms = 5, .action = "login", .outcome = "failure",
					 .identity = hostile[i], .repository = hostile[i],
					 .reason = hostile[i]};
		char *text = NULL;
		json_t *doc = round_trip(&r, &text);

		CHECK_STR(str(doc, "identity"), hostile[i]);
		CHECK_STR(str(doc, "repository"), hostile[i]);
		CHECK_STR(str(doc, "reason"), hostile[i]);
		CHECK_STR(str(doc, "action"), "login");
		CHECK_STR(str(doc, "outcome"), "failure");
		CHECK_INT(json_object_size(doc), 9);
		json_decref(doc);
		free(text);
	}
}

/* A client's text echoed in an error message cannot forge fields either. */
static void test_hostile_message(void)
{
	static const char *const hostile[] = {
		"repository name 'a\"},{\"outcome\":\"success' is invalid",
		"manifest 'x\ny' is unknown\r\n{\"forged\":true}",
		"tab\there\x01\x1f\x7f \xe2\x80\xa8",
	};
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		struct audit_record r = {.time_ms = 5, .action = "push", .outcome = "denied",
					 .reason = "access denied", .status = 403,
					 .path = "/v2/a/manifests/x", .message = hostile[i]};
		char *text = NULL;
		json_t *doc = round_trip(&r, &text);

		CHECK_STR(str(doc, "message"), hostile[i]);
		CHECK_STR(str(doc, "reason"), "access denied");
		CHECK_STR(str(doc, "outcome"), "denied");
		CHECK(strchr(text, '\n') == text + strlen(text) - 1);
		CHECK_INT(json_object_size(doc), 12);
		json_decref(doc);
		free(text);
	}
}

static void test_escapes_exact(void)
{
	struct audit_record r = {.time_ms = 0, .action = "a", .outcome = "o",
				 .identity = "q\"b\\n\nr\rt\tc\x01\x7f\xe2\x80\xa8"};
	char *text = NULL;
	json_t *doc = round_trip(&r, &text);

	CHECK(text && strstr(text, "\"identity\":\"q\\\"b\\\\n\\nr\\rt\\tc\\u0001\\u007f\\u2028\""));
	json_decref(doc);
	free(text);
}

/* Bytes that are not UTF-8 become U+FFFD, one per byte; the line stays valid JSON. */
static void test_invalid_utf8(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"a\xff" "b", "a\xef\xbf\xbd" "b"},
		{"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},                 /* overlong '/' */
		{"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},  /* a surrogate */
		{"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
		{"end\xe2\x82", "end\xef\xbf\xbd\xef\xbf\xbd"},            /* cut short */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct audit_record r = {.time_ms = 0, .action = "pull", .outcome = "denied",
					 .repository = cases[i].in};
		json_t *doc = round_trip(&r, NULL);

		CHECK_STR(str(doc, "repository"), cases[i].out);
		json_decref(doc);
	}
}

/* A runaway field is cut at AUDIT_FIELD_MAX bytes, on a character boundary. */
static void test_long_fields(void)
{
	size_t n = AUDIT_FIELD_MAX * 4;
	char *big = malloc(n + 1);
	struct audit_record r = {.time_ms = 0, .action = "pull", .outcome = "denied"};
	json_t *doc;
	const char *got;

	if (!big)
		return;
	/* 'x' then 3-byte characters, so the cut falls inside one of them. */
	big[0] = 'x';
	for (size_t i = 1; i + 3 <= n; i += 3)
		memcpy(big + i, "\xe2\x82\xac", 3);
	big[n - (n - 1) % 3] = '\0';
	r.path = big;
	r.status = 403;
	r.message = big;
	doc = round_trip(&r, NULL);
	for (int field = 0; field < 2; field++) {
		got = str(doc, field ? "message" : "path");
		CHECK(got != NULL);
		if (got) {
			size_t len = strlen(got);
			CHECK(len <= AUDIT_FIELD_MAX + 3);
			CHECK(len > AUDIT_FIELD_MAX - 4);
			CHECK(strcmp(got + len - 3, "...") == 0);
			/* Cut between characters: no U+FFFD from a split sequence. */
			CHECK(strstr(got, "\xef\xbf\xbd") == NULL);
		}
	}
	json_decref(doc);
	free(big);
}

int main(void)
{
	test_full_line();
	test_nulls_and_anonymous();
	test_request_and_login_fields();
	test_times();
	test_hostile_strings();
	test_hostile_message();
	test_escapes_exact();
	test_invalid_utf8();
	test_long_fields();
	TEST_MAIN_END();
}
