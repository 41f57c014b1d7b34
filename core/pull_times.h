/*
 * pull_times.h - when each manifest was last pulled, for retention rules
 * such as "keep what was pulled in the last 30 days".
 *
 * A pull only updates a small in-memory table; a flusher writes what
 * changed to repositories/<name>/_berth/pulled/<alg>/<hex> every
 * PULL_TIMES_FLUSH_MS and at shutdown, keeping the later of the stored and
 * the new time (several nodes may write the same file). No storage write
 * ever happens on the request path. A crash loses at most the pulls of one
 * flush interval.
 */
#ifndef BERTH_PULL_TIMES_H
#define BERTH_PULL_TIMES_H

#include <stdint.h>

#include "berth/error.h"
#include "digest.h"

#define PULL_TIMES_FLUSH_MS 30000
/* Pending entries kept between flushes; past it, the flusher is woken early
 * and further pulls wait for the next interval (counted, never blocking). */
#define PULL_TIMES_MAX_PENDING 65536

/* Note a pull now. Cheap and non-blocking apart from one short mutex. */
void pull_times_record(const char *repository, const digest *d);

/* The last pull of a manifest: the pending time or the stored one, 0 when never. */
int64_t pull_times_get(const char *repository, const digest *d);

/* A manifest was deleted: drop its pending entry and its stored time. */
void pull_times_forget(const char *repository, const digest *d);

/* Start the flusher thread (berth serve); stop flushes what is pending. */
int pull_times_start(berth_error *err);
void pull_times_stop(void);
/* Write what is pending now (tests, shutdown). */
void pull_times_flush(void);

#endif
