/*
 * fsck.h - check the registry's storage: every blob's bytes against its
 * digest, every link against what it names, every manifest against what it
 * references; with repair, remove what is broken and nothing else.
 */
#ifndef BERTH_FSCK_H
#define BERTH_FSCK_H

#include <stdint.h>

#include "berth/error.h"

typedef struct fsck_options {
	int repair;
	int verify_data;      /* hash every blob (slow); off: only check that data exists */
} fsck_options;

typedef struct fsck_report {
	uint64_t blobs, bytes_hashed, repositories, manifests, tags, links;
	uint64_t problems, repaired;
	uint64_t notes;       /* leftovers that are not damage (abandoned uploads) */
} fsck_report;

typedef void (*fsck_print_fn)(void *ctx, const char *line);

/* 0 when the walk completed (look at r->problems); a negative code when it could not. */
int fsck_run(const fsck_options *o, fsck_report *r, fsck_print_fn print, void *ctx,
	     berth_error *err);

#endif
