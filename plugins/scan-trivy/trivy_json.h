/*
 * trivy_json.h - a pull reader for untrusted JSON documents (reports).
 *
 * Reports reach the plugin as one buffer of up to tens of megabytes, and
 * the importer needs a few dozen fields out of them. A tree parser would
 * hold a second, larger copy of the whole report; this reader walks the
 * buffer once, hands out only the values asked for, and checks everything
 * it skips, so a document it accepts is well-formed JSON (RFC 8259, UTF-8).
 *
 * Errors are sticky: after the first one every call fails, and
 * trivy_json_error() says what and where (byte offset).
 */
#ifndef TRIVY_JSON_H
#define TRIVY_JSON_H

#include <stddef.h>
#include <stdint.h>

/* Deepest nesting accepted anywhere in a document. */
#define TRIVY_JSON_DEPTH_MAX 128

enum trivy_json_type {
	TRIVY_JSON_NONE = 0,    /* end of input, or an error */
	TRIVY_JSON_OBJECT,
	TRIVY_JSON_ARRAY,
	TRIVY_JSON_STRING,
	TRIVY_JSON_NUMBER,
	TRIVY_JSON_TRUE,
	TRIVY_JSON_FALSE,
	TRIVY_JSON_NULL
};

typedef struct trivy_json {
	const char *start, *p, *end;
	int depth;
	int failed;
	int out_of_memory; /* the failure was memory, not the document */
	char *scratch;     /* the last decoded string, NUL-terminated */
	size_t scratch_cap;
	char error[400];
} trivy_json;

void trivy_json_init(trivy_json *j, const void *buf, size_t len);
void trivy_json_free(trivy_json *j);

/* The type of the next value, without consuming it (TRIVY_JSON_NONE at the end or on error). */
int trivy_json_peek(trivy_json *j);

/*
 * Objects: trivy_json_object_next() returns 1 with the next key (decoded,
 * borrowed until the next string is read) and the ':' consumed, 0 once the
 * closing '}' is consumed, -1 on error. `first` starts at 1; the reader
 * uses it to expect commas. The first call also consumes the '{'.
 */
int trivy_json_object_next(trivy_json *j, int *first, const char **key, size_t *key_len);
/* Arrays alike: 1 when a value follows, 0 at the consumed ']', -1 on error. */
int trivy_json_array_next(trivy_json *j, int *first);

/* A string value, decoded; borrowed until the next string is read. 0 or -1. */
int trivy_json_string(trivy_json *j, const char **s, size_t *len);
/* A number value that fits an int64 (no fraction or exponent). 0 or -1. */
int trivy_json_int(trivy_json *j, int64_t *v);
/* Skip one value of any type, checking it. 0 or -1. */
int trivy_json_skip(trivy_json *j);
/* Only whitespace may follow the document. 0 or -1. */
int trivy_json_finish(trivy_json *j);

/* Fail with a message (printf-style); returns -1. Keeps the first error. */
int trivy_json_fail(trivy_json *j, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;
/*
 * A value of the wrong type is next: fail with the message, unless the
 * document is broken right there, which is then what the error says.
 */
int trivy_json_expected(trivy_json *j, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;
/* Fail with exactly this message (no offset added), e.g. one from a nested document. */
int trivy_json_fail_message(trivy_json *j, const char *message);
/* Fail because memory ran out. */
int trivy_json_oom(trivy_json *j);
const char *trivy_json_error(const trivy_json *j);

/* 1 when key (of key_len bytes) equals the NUL-terminated name. */
int trivy_json_key_is(const char *key, size_t key_len, const char *name);

/*
 * Length of the well-formed UTF-8 sequence at p (at most `avail` bytes
 * readable), or 0: no overlong forms, no surrogates, nothing above U+10FFFF.
 */
size_t trivy_json_utf8_len(const unsigned char *p, size_t avail);

#endif /* TRIVY_JSON_H */
