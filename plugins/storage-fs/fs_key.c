/*
 * fs_key.c - what storage-fs accepts as a key, and its temporary names.
 *
 * The core validates every key it builds, but a driver is the last line
 * before the filesystem, so it refuses anything that could name a path
 * outside the root or that it could not store faithfully.
 */
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"

#define TEMP_MARK ".tmp-"
#define TEMP_RANDOM_HEX 16

static int is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static int is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* A temporary name is ".<base>.tmp-<16 lowercase hex digits>". */
static int is_temp_segment(const char *seg, size_t len)
{
	size_t mark = sizeof(TEMP_MARK) - 1;
	size_t i;

	if (len < 1 + 1 + mark + TEMP_RANDOM_HEX || seg[0] != '.')
		return 0;
	for (i = len - TEMP_RANDOM_HEX; i < len; i++)
		if (!is_lower_hex(seg[i]))
			return 0;
	return memcmp(seg + len - TEMP_RANDOM_HEX - mark, TEMP_MARK, mark) == 0;
}

int fs_is_temp_name(const char *name)
{
	return is_temp_segment(name, strlen(name));
}

static int key_invalid(berth_error *err, const char *key, const char *why)
{
	char q[FS_QUOTE_MAX + 8];

	fs_quote(q, sizeof(q), key);
	return fs_fail(err, BERTH_E_INVALID, "invalid key '%s': %s", q, why);
}

/*
 * Accept a '/'-separated relative key: no empty, "." or ".." segment, no
 * control byte, no segment longer than NAME_MAX, no segment that looks like
 * one of our temporary names (list() hides those, so such a key could be
 * written but never listed).
 */
int fs_key_check(const char *key, int allow_empty, berth_error *err)
{
	const char *seg, *end;
	size_t len, depth = 0;

	if (!key)
		return fs_fail(err, BERTH_E_INVALID, "invalid key: missing");
	len = strlen(key);
	if (len == 0)
		return allow_empty ? 0 : key_invalid(err, key, "empty");
	if (len > FS_MAX_KEY)
		return key_invalid(err, key, "too long");
	if (key[0] == '/')
		return key_invalid(err, key, "absolute path");
	for (seg = key; ; seg = end + 1) {
		size_t n, i;

		end = strchr(seg, '/');
		n = end ? (size_t)(end - seg) : strlen(seg);
		if (n == 0)
			return key_invalid(err, key, "empty segment");
		if ((n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return key_invalid(err, key, "'.' or '..' segment");
		if (n > NAME_MAX)
			return key_invalid(err, key, "segment too long");
		for (i = 0; i < n; i++)
			if (is_control((unsigned char)seg[i]))
				return key_invalid(err, key, "control character");
		if (is_temp_segment(seg, n))
			return key_invalid(err, key,
					   "segment reserved for temporary files");
		if (++depth > FS_MAX_DEPTH)
			return key_invalid(err, key, "too many segments");
		if (!end)
			break;
	}
	return 0;
}

/* The last segment of a checked key. */
const char *fs_key_base(const char *key)
{
	const char *slash = strrchr(key, '/');

	return slash ? slash + 1 : key;
}

static uint64_t temp_random(void)
{
	static atomic_uint_fast64_t counter;
	uint64_t r;
	struct timespec ts;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
		return r;
	/*
	 * No entropy yet (early boot) or no getrandom: uniqueness is all we
	 * need, and O_EXCL catches the rare collision, so mix a counter with
	 * the clock and the process.
	 */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	r = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
	    ((uint64_t)getpid() << 40) ^ atomic_fetch_add(&counter, 1);
	return r * 0x9e3779b97f4a7c15ull;
}

/*
 * Build ".<base>.tmp-<random>" into out. The temporary file lives next to
 * its target so the commit is a rename within one directory, which is
 * atomic; base is cut short when needed to keep the name within NAME_MAX.
 */
int fs_temp_name(char *out, size_t cap, const char *base)
{
	size_t room = NAME_MAX - 1 - (sizeof(TEMP_MARK) - 1) - TEMP_RANDOM_HEX;
	size_t n = strlen(base);
	int len;

	if (n > room)
		n = room;
	len = snprintf(out, cap, ".%.*s" TEMP_MARK "%016llx", (int)n, base,
		       (unsigned long long)temp_random());
	return len > 0 && (size_t)len < cap ? 0 : -1;
}

/*
 * Copy a key into out for a message: printable ASCII as is, anything else as
 * \xNN, cut with "..." past FS_QUOTE_MAX bytes, so a hostile key cannot put
 * control bytes into a log line.
 */
void fs_quote(char *out, size_t cap, const char *key)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	const unsigned char *p = (const unsigned char *)(key ? key : "");

	if (cap == 0)
		return;
	for (; *p; p++) {
		size_t need = (*p < 0x20 || *p >= 0x7f || *p == '\\') ? 4 : 1;

		if (o + need + 4 > cap || o + need > FS_QUOTE_MAX) {
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
