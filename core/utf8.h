/*
 * utf8.h - checking UTF-8, for text that reaches logs, JSON and
 * Prometheus output from plugins or clients.
 */
#ifndef BERTH_UTF8_H
#define BERTH_UTF8_H

#include <stddef.h>

/*
 * Length of the valid UTF-8 sequence at s (at most `avail` bytes, avail >=
 * 1), or 0 when it is not one: overlong forms, UTF-16 surrogates and code
 * points past U+10FFFF are invalid.
 */
size_t utf8_len(const unsigned char *s, size_t avail);

#endif
