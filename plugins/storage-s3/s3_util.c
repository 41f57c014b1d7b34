/*
 * s3_util.c - small helpers: errors, key checks, encoding, hashing, dates
 * and the rate-limited warning log.
 */
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3.h"

/* Repeated failures of the same store are logged at most this often. */
#define S3_WARN_INTERVAL_MS 1000

int s3_fail(berth_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->code = code;
		va_start(ap, fmt);
		if (vsnprintf(err->message, sizeof(err->message), fmt, ap) < 0)
			err->message[0] = '\0';
		va_end(ap);
	}
	return code;
}

/*
 * Copy a key into out for a message: printable ASCII as is, anything else as
 * \xNN, cut with "..." past S3_QUOTE_MAX bytes, so a hostile key cannot put
 * control bytes into a log line.
 */
void s3_quote(char *out, size_t cap, const char *key)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)(key ? key : "");
	size_t o = 0;

	if (cap == 0)
		return;
	for (; *p; p++) {
		size_t need = (*p < 0x20 || *p >= 0x7f || *p == '\\') ? 4 : 1;

		if (o + need + 4 > cap || o + need > S3_QUOTE_MAX) {
			if (o + 4 <= cap) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (need == 1) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 0xf];
		}
	}
	out[o] = '\0';
}

static int key_invalid(berth_error *err, const char *key, const char *why)
{
	char q[S3_QUOTE_MAX + 8];

	s3_quote(q, sizeof(q), key);
	return s3_fail(err, BERTH_E_INVALID, "invalid key '%s': %s", q, why);
}

/*
 * Accept a '/'-separated relative key: no empty, "." or ".." segment, no
 * control byte. An object store would take such names, but they would not
 * mean the same as on a filesystem, and a root written here must stay
 * servable by every driver.
 */
int s3_key_check(const char *key, int allow_empty, berth_error *err)
{
	const char *seg, *end;
	size_t len;

	if (!key)
		return s3_fail(err, BERTH_E_INVALID, "invalid key: missing");
	len = strlen(key);
	if (len == 0)
		return allow_empty ? 0 : key_invalid(err, key, "empty");
	if (len > S3_MAX_KEY)
		return key_invalid(err, key, "too long");
	if (key[0] == '/')
		return key_invalid(err, key, "absolute path");
	for (seg = key;; seg = end + 1) {
		size_t n, i;

		end = strchr(seg, '/');
		n = end ? (size_t)(end - seg) : strlen(seg);
		if (n == 0)
			return key_invalid(err, key, "empty segment");
		if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return key_invalid(err, key, "'.' or '..' segment");
		for (i = 0; i < n; i++)
			if ((unsigned char)seg[i] < 0x20 || seg[i] == 0x7f)
				return key_invalid(err, key, "control character");
		if (!end)
			break;
	}
	return 0;
}

char *s3_uri_encode(const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s), o = 0;
	char *out = malloc(n * 3 + 1);

	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		}
	}
	out[o] = '\0';
	return out;
}

char *s3_strdup_printf(const char *fmt, ...)
{
	va_list ap;
	char *out = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&out, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : out;
}

void s3_hex(const unsigned char *in, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

void s3_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	s3_hex(md, 32, out);
}

/* The object key for a Berth key: the root directory, then the key; dir adds '/'. */
char *s3_object_key(const struct s3_state *s, const char *key, int dir)
{
	const char *root = s->cfg.root;
	const char *sep1 = root[0] && key[0] ? "/" : "";
	const char *sep2 = dir && (root[0] || key[0]) ? "/" : "";

	return s3_strdup_printf("%s%s%s%s", root, sep1, key, sep2);
}

/* "Fri, 27 Nov 2026 21:00:00 GMT" (RFC 7231) to ms since the epoch; -1 when unreadable. */
int64_t s3_parse_http_date(const char *text)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (!text)
		return -1;
	end = strptime(text, "%a, %d %b %Y %H:%M:%S", &tm);
	if (!end)
		return -1;
	return (int64_t)timegm(&tm) * 1000;
}

/* "2026-11-27T21:00:00.000Z" (ListObjectsV2) to ms since the epoch; -1 when unreadable. */
int64_t s3_parse_iso_date(const char *text)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (!text)
		return -1;
	end = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -1;
	return (int64_t)timegm(&tm) * 1000;
}

/*
 * A store that is down fails every request: say so in the log, but at most
 * once a second, with the count of what was left out.
 */
void s3_warn(struct s3_state *s, const char *fmt, ...)
{
	char line[BERTH_ERROR_MESSAGE_MAX + 64];
	int64_t now = s->host->monotonic_ms ? s->host->monotonic_ms() : 0;
	unsigned suppressed;
	va_list ap;

	pthread_mutex_lock(&s->pool_lock);
	if (s->last_warn_ms && now - s->last_warn_ms < S3_WARN_INTERVAL_MS) {
		s->suppressed++;
		pthread_mutex_unlock(&s->pool_lock);
		return;
	}
	s->last_warn_ms = now ? now : 1;
	suppressed = s->suppressed;
	s->suppressed = 0;
	pthread_mutex_unlock(&s->pool_lock);
	va_start(ap, fmt);
	if (vsnprintf(line, sizeof(line), fmt, ap) < 0)
		line[0] = '\0';
	va_end(ap);
	if (suppressed)
		s->host->log(s->self, BERTH_LOG_WARN, "%s (and %u similar failures)", line,
			     suppressed);
	else
		s->host->log(s->self, BERTH_LOG_WARN, "%s", line);
}
