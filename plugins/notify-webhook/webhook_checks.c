/*
 * webhook_checks.c - checks of single config values (URLs, header lines,
 * event types, repository patterns, endpoint names), with the messages an
 * operator reads; and the two functions every file uses, for errors and for
 * formatted strings.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "webhook.h"

#define SHOW_MAX WEBHOOK_SHOW_MAX

int webhook_fail(berth_error *err, int code, const char *fmt, ...)
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

char *webhook_strf(const char *fmt, ...)
{
	va_list ap;
	char *out;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	out = malloc((size_t)n + 1);
	if (!out)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(out, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return out;
}

const char *webhook_show(char *out, size_t cap, const char *v)
{
	size_t i, n = 0;

	for (i = 0; v[i] && n + 4 < cap; i++)
		out[n++] = isprint((unsigned char)v[i]) ? v[i] : '?';
	if (v[i]) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
	return out;
}

int webhook_has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* URLs                                                                     */
/* ------------------------------------------------------------------------ */

/* Where the authority of an http(s) URL starts, or NULL for another scheme. */
static const char *after_scheme(const char *url)
{
	if (strncasecmp(url, "http://", 7) == 0)
		return url + 7;
	if (strncasecmp(url, "https://", 8) == 0)
		return url + 8;
	return NULL;
}

int webhook_check_url(const char *key, const char *url, berth_error *err)
{
	char shown[SHOW_MAX];
	const char *auth, *end, *colon, *p;
	size_t n;

	if (!url || !*url)
		return webhook_fail(err, BERTH_E_CONFIG, "'%s' is empty: give an http:// or https:// URL",
				    key);
	webhook_show(shown, sizeof(shown), url);
	if (strlen(url) > WEBHOOK_URL_MAX)
		return webhook_fail(err, BERTH_E_CONFIG, "invalid %s '%s': longer than %d bytes", key,
				    shown, WEBHOOK_URL_MAX);
	auth = after_scheme(url);
	if (!auth)
		return webhook_fail(err, BERTH_E_CONFIG,
				    "invalid %s '%s': the scheme must be http:// or https://", key,
				    shown);
	for (p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return webhook_fail(err, BERTH_E_CONFIG,
					    "invalid %s '%s': spaces and control characters must be "
					    "percent-encoded", key, shown);
	if (strchr(url, '#'))
		return webhook_fail(err, BERTH_E_CONFIG,
				    "invalid %s '%s': a URL sent to a server has no #fragment", key,
				    shown);
	end = auth + strcspn(auth, "/?");
	if (memchr(auth, '@', (size_t)(end - auth)))
		return webhook_fail(err, BERTH_E_CONFIG,
				    "invalid %s '%s': no user:password@ in the URL; put credentials "
				    "in headers (an Authorization header), which are kept secret",
				    key, shown);
	if (end == auth)
		return webhook_fail(err, BERTH_E_CONFIG, "invalid %s '%s': the host is missing", key,
				    shown);
	if (*auth == '[') {
		const char *close = memchr(auth, ']', (size_t)(end - auth));

		if (!close || close == auth + 1)
			return webhook_fail(err, BERTH_E_CONFIG,
					    "invalid %s '%s': an IPv6 host is written [addr]", key,
					    shown);
		colon = close + 1 < end ? close + 1 : NULL;
		if (colon && *colon != ':')
			return webhook_fail(err, BERTH_E_CONFIG,
					    "invalid %s '%s': expected :PORT after ]", key, shown);
	} else {
		colon = memchr(auth, ':', (size_t)(end - auth));
		if (colon == auth)
			return webhook_fail(err, BERTH_E_CONFIG, "invalid %s '%s': the host is missing",
					    key, shown);
		for (p = auth; p < (colon ? colon : end); p++)
			if (!isalnum((unsigned char)*p) && !strchr(".-_%", *p))
				return webhook_fail(err, BERTH_E_CONFIG,
						    "invalid %s '%s': '%c' in the host name", key,
						    shown, *p);
	}
	if (colon) {
		long port = 0;

		n = (size_t)(end - colon - 1);
		if (n == 0 || n > 5)
			return webhook_fail(err, BERTH_E_CONFIG,
					    "invalid %s '%s': the port must be 1-65535", key, shown);
		for (p = colon + 1; p < end; p++) {
			if (!isdigit((unsigned char)*p))
				return webhook_fail(err, BERTH_E_CONFIG,
						    "invalid %s '%s': the port must be 1-65535", key,
						    shown);
			port = port * 10 + (*p - '0');
		}
		if (port < 1 || port > 65535)
			return webhook_fail(err, BERTH_E_CONFIG,
					    "invalid %s '%s': the port must be 1-65535", key, shown);
	}
	return 0;
}

char *webhook_url_shown(const char *url)
{
	const char *auth = after_scheme(url);
	const char *end;

	if (!auth)
		return strdup("(not an http URL)");
	end = auth + strcspn(auth, "?#");
	return strndup(url, (size_t)(end - url));
}

char *webhook_url_host(const char *url)
{
	const char *auth = after_scheme(url);

	if (!auth)
		return NULL;
	return strndup(auth, strcspn(auth, "/?#"));
}

/* ------------------------------------------------------------------------ */
/* Headers, actions, patterns                                               */
/* ------------------------------------------------------------------------ */

int webhook_token_char(char c)
{
	/* RFC 9110 tchar */
	return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Headers libcurl or the plugin set: a second value would confuse receivers. */
static const char *const reserved_headers[] = {
	"Content-Type", "Content-Length", "Transfer-Encoding", "Host", "Connection", NULL
};

int webhook_check_header(const char *line, const char *signature_header, berth_error *err)
{
	char shown[SHOW_MAX];
	const char *colon, *p;
	size_t name_len, i;

	webhook_show(shown, sizeof(shown), line);
	if (strlen(line) > WEBHOOK_HEADER_MAX)
		return webhook_fail(err, BERTH_E_CONFIG, "invalid header: longer than %d bytes",
				    WEBHOOK_HEADER_MAX);
	colon = strchr(line, ':');
	if (!colon || colon == line)
		return webhook_fail(err, BERTH_E_CONFIG,
				    "invalid header: expected \"Name: value\", such as "
				    "\"Authorization: Bearer ...\"");
	name_len = (size_t)(colon - line);
	for (p = line; p < colon; p++)
		if (!webhook_token_char(*p))
			return webhook_fail(err, BERTH_E_CONFIG,
					    "invalid header name '%.*s': letters, digits and "
					    "!#$%%&'*+-.^_`|~ only", (int)(name_len < 64 ? name_len : 64),
					    line);
	/* The value is not shown: headers are often credentials. */
	if (webhook_has_control(colon + 1))
		return webhook_fail(err, BERTH_E_CONFIG,
				    "invalid header '%.*s': its value holds a line break or a "
				    "control character", (int)(name_len < 64 ? name_len : 64), line);
	for (i = 0; reserved_headers[i]; i++)
		if (strlen(reserved_headers[i]) == name_len &&
		    strncasecmp(line, reserved_headers[i], name_len) == 0)
			return webhook_fail(err, BERTH_E_CONFIG,
					    "header '%s' is set by the plugin and cannot be given",
					    reserved_headers[i]);
	if (signature_header && strlen(signature_header) == name_len &&
	    strncasecmp(line, signature_header, name_len) == 0)
		return webhook_fail(err, BERTH_E_CONFIG,
				    "header '%s' is the signature header and cannot be given",
				    signature_header);
	return 0;
}

int webhook_check_action(const char *action, berth_error *err)
{
	char shown[SHOW_MAX];
	size_t i;

	if (!action || !*action)
		return webhook_fail(err, BERTH_E_CONFIG, "invalid action '': empty");
	if (strcmp(action, "*") == 0)
		return 0;
	for (i = 0; action[i]; i++) {
		char c = action[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-') || i >= 64)
			return webhook_fail(err, BERTH_E_CONFIG,
					    "invalid action '%s': event types are [a-z0-9._-]+, at "
					    "most 64 characters (push, pull, delete, blob.push, "
					    "blob.delete, mount, pull.blocked ...), or *",
					    webhook_show(shown, sizeof(shown), action));
	}
	return 0;
}

int webhook_check_pattern(const char *pattern, berth_error *err)
{
	char shown[SHOW_MAX];
	size_t i;

	if (!pattern || !*pattern)
		return webhook_fail(err, BERTH_E_CONFIG, "invalid repository pattern '': empty");
	webhook_show(shown, sizeof(shown), pattern);
	if (strlen(pattern) > WEBHOOK_PATTERN_MAX)
		return webhook_fail(err, BERTH_E_CONFIG,
				    "invalid repository pattern '%s': longer than %d bytes", shown,
				    WEBHOOK_PATTERN_MAX);
	if (strstr(pattern, "***"))
		return webhook_fail(err, BERTH_E_CONFIG,
				    "invalid repository pattern '%s': use * or **, not ***", shown);
	for (i = 0; pattern[i]; i++) {
		char c = pattern[i];

		if (c >= 'A' && c <= 'Z')
			return webhook_fail(err, BERTH_E_CONFIG,
					    "invalid repository pattern '%s': repository names are "
					    "lowercase", shown);
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("._-/*?", c)))
			return webhook_fail(err, BERTH_E_CONFIG,
					    "invalid repository pattern '%s': '%c' never appears in a "
					    "repository name (use a-z 0-9 . _ - / and the wildcards * ** ?)",
					    shown, isprint((unsigned char)c) ? c : '?');
	}
	return 0;
}

int webhook_check_endpoint_name(const char *name, berth_error *err)
{
	char shown[SHOW_MAX];
	size_t i;

	if (!name || !*name)
		return webhook_fail(err, BERTH_E_CONFIG, "missing required key 'name'");
	for (i = 0; name[i]; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
			break;
	if (name[i] || i > 64 || name[0] == '.')
		return webhook_fail(err, BERTH_E_CONFIG,
				    "invalid name '%s': up to 64 letters, digits, '.', '_' or '-', "
				    "not starting with '.' (it names the queue's folder)",
				    webhook_show(shown, sizeof(shown), name));
	return 0;
}
