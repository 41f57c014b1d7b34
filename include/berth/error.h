/*
 * berth/error.h - status codes shared by the core and plugins.
 *
 * Every function across the plugin boundary returns 0 on success or one of
 * the negative codes below. The core turns a code into an OCI error code and
 * an HTTP status in exactly one place (core/errors.c), so a plugin never
 * needs to know about HTTP.
 */
#ifndef BERTH_ERROR_H
#define BERTH_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum berth_status {
	BERTH_OK = 0,
	/* A hook in a chain has no opinion; the next one is asked. */
	BERTH_DECLINED = -1,
	/* Temporary failure; the caller may retry with backoff. */
	BERTH_E_AGAIN = -2,
	BERTH_E_NOT_FOUND = -3,       /* key, blob, manifest, upload ... absent */
	BERTH_E_EXISTS = -4,
	BERTH_E_INVALID = -5,         /* malformed input */
	BERTH_E_DENIED = -6,          /* identity known, action not allowed */
	BERTH_E_UNAUTHORIZED = -7,    /* identity unknown or credentials wrong */
	BERTH_E_UNSUPPORTED = -8,
	BERTH_E_TOO_MANY = -9,        /* rate limited */
	BERTH_E_IO = -10,             /* storage failed */
	BERTH_E_NOSPACE = -11,        /* storage full */
	BERTH_E_NOMEM = -12,
	BERTH_E_RANGE = -13,          /* offset/range outside the object */
	BERTH_E_DIGEST = -14,         /* content does not match its digest */
	BERTH_E_TOO_LARGE = -15,      /* over a configured size limit */
	BERTH_E_INTERNAL = -16,
	BERTH_E_NAME = -17,           /* repository name invalid */
	BERTH_E_CONFIG = -18          /* configuration rejected */
};

/* Size of berth_error.message, including the terminating NUL. */
#define BERTH_ERROR_MESSAGE_MAX 512

/*
 * Caller-owned error detail. The callee fills it only when it returns a
 * negative code; the message is lowercase with no full stop, the failing
 * thing first ("cannot open 'x': No such file or directory").
 */
typedef struct berth_error {
	int code;
	char message[BERTH_ERROR_MESSAGE_MAX];
} berth_error;

#ifdef __cplusplus
}
#endif

#endif /* BERTH_ERROR_H */
