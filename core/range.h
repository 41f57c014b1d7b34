/*
 * range.h - the byte ranges and sizes clients send in headers: Range on blob
 * pulls, Content-Range on chunked uploads, Content-Length and numeric query
 * parameters.
 *
 * Numbers are strictly decimal digits: no sign, no whitespace inside, no
 * overflow of uint64_t. Outputs are written only on success.
 */
#ifndef BERTH_RANGE_H
#define BERTH_RANGE_H

#include <stdint.h>

/*
 * Parse an HTTP Range request header for an object of `size` bytes
 * (RFC 9110 14.1.2). Only a single "bytes=" range is supported:
 * "bytes=a-b", "bytes=a-" and the suffix "bytes=-n". Whitespace around
 * tokens is tolerated and the unit is case-insensitive. On success *start
 * and *end (inclusive) are set, end clamped to size - 1, and 0 is returned.
 * BERTH_E_RANGE: well-formed but unsatisfiable (start >= size, size == 0,
 * a suffix of 0). BERTH_E_INVALID: a syntax error, another unit, several
 * ranges, b < a, a number overflowing uint64_t. The caller answers 416 to
 * both.
 */
int range_parse(const char *header, uint64_t size, uint64_t *start, uint64_t *end);

/*
 * Parse a chunked-upload Content-Range header. Docker and Distribution send
 * "a-b" with no unit; "bytes a-b/N" (N a length, or '*' for unknown) and
 * "bytes=a-b" are accepted too. end is inclusive; b >= a, and N > b when N
 * is a number. 0 or BERTH_E_INVALID.
 */
int content_range_parse(const char *header, uint64_t *start, uint64_t *end);

/* A whole string of decimal digits: 0 or BERTH_E_INVALID. */
int parse_u64(const char *s, uint64_t *out);

#endif /* BERTH_RANGE_H */
