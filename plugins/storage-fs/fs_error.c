/*
 * fs_error.c - turning errno into Berth status codes and messages.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fs.h"

/*
 * Permission problems map to BERTH_E_IO, not BERTH_E_DENIED: the client did
 * nothing wrong, the operator's storage root is misconfigured, and DENIED
 * would tell the client to fix its credentials.
 */
int fs_errno_code(int errnum)
{
	switch (errnum) {
	case ENOENT:
	case ENOTDIR:
		return BERTH_E_NOT_FOUND;
	case ENOSPC:
	case EDQUOT:
		return BERTH_E_NOSPACE;
	case ENAMETOOLONG:
	case EINVAL:
		return BERTH_E_INVALID;
	case EEXIST:
	case ENOTEMPTY:
	case EISDIR:
		return BERTH_E_EXISTS;
	case ENOMEM:
		return BERTH_E_NOMEM;
	default:
		return BERTH_E_IO;
	}
}

static void fill(berth_error *err, int code, const char *suffix,
		 const char *fmt, va_list ap) BERTH_PRINTF(4, 0);

static void fill(berth_error *err, int code, const char *suffix,
		 const char *fmt, va_list ap)
{
	int n;

	err->code = code;
	n = vsnprintf(err->message, sizeof(err->message), fmt, ap);
	if (n < 0) {
		err->message[0] = '\0';
		n = 0;
	}
	if (suffix && (size_t)n < sizeof(err->message))
		snprintf(err->message + n, sizeof(err->message) - (size_t)n,
			 ": %s", suffix);
}

int fs_fail(berth_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		fill(err, code, NULL, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* Fail with fs_errno_code(errnum) and "<fmt>: <strerror(errnum)>". */
int fs_fail_errno(berth_error *err, int errnum, const char *fmt, ...)
{
	int code = fs_errno_code(errnum);
	char buf[128];
	const char *text;
	va_list ap;

	if (!err)
		return code;
	/* O_NOFOLLOW reports a symlink as ELOOP, whose text would mislead. */
	if (errnum == ELOOP)
		text = "symbolic link not followed";
	else
		text = strerror_r(errnum, buf, sizeof(buf));
	va_start(ap, fmt);
	fill(err, code, text, fmt, ap);
	va_end(ap);
	return code;
}
