/*
 * gc.h - online garbage collection over the Distribution layout.
 *
 * Mark: every manifest revision of every repository, and what it
 * references (config, layers, child manifests), goes into a Bloom filter of
 * fixed size; per repository, an exact set of its references decides which
 * of its layer links are dangling. Sweep: blobs not marked, older than the
 * grace period and not protected by the write barrier (gc_barrier.h) are
 * deleted; so are dangling layer links older than the grace period, and
 * uploads older than registry.upload_purge_age. Pushes and pulls go on
 * while it runs. docs/garbage-collection.md has the argument for why no
 * push can lose a blob.
 */
#ifndef BERTH_GC_H
#define BERTH_GC_H

#include <stddef.h>
#include <stdint.h>

#include "berth/error.h"
#include "berth/plugin.h"

/* Items named one per line in a report before it only counts them. */
#define GC_LIST_MAX 1000

typedef struct gc_options {
	int dry_run;
	uint64_t grace_ms;          /* blobs and links younger than this are kept */
	uint64_t upload_purge_age_ms;
	size_t mark_memory;         /* bytes of the Bloom filter */
	int barrier;                /* use the write barrier (in a serving process) */
} gc_options;

typedef struct gc_report {
	uint64_t repositories, manifests, references;
	uint64_t unreadable_manifests;     /* kept everything they might name */
	uint64_t blobs_seen, blobs_deleted, bytes_freed;
	uint64_t blobs_young, blobs_protected;
	uint64_t links_deleted, links_young;
	uint64_t uploads_purged, upload_bytes_freed;
	uint64_t duration_ms;
	size_t mark_memory;
	double false_positive_rate;
} gc_report;

/* Where the run's lines go (a job's output, the terminal). */
typedef void (*gc_print_fn)(void *ctx, const char *line);

int gc_run(const gc_options *o, gc_report *r, gc_print_fn print, void *ctx, berth_error *err);

/* The report as one JSON object (malloc'd), for `berth gc --json` and events. */
char *gc_report_json(const gc_report *r, int dry_run);

/* The options the configuration gives (gc: and registry.upload_purge_age). */
struct server_config;
void gc_options_from_config(const struct server_config *cfg, gc_options *o);

/*
 * The core's built-in job `gc` (jobs.c): state is a gc_options, run the
 * job run. Emits the event gc.completed and counts the berth_gc_* metrics.
 */
int gc_job_run(void *state, berth_job_run *run, berth_error *err);
/* Register the berth_gc_* metrics (so they show before the first run). */
void gc_metrics_register(void);

#endif
