/*
 * prom.h - metrics-prometheus internals shared by the plugin's source files.
 *
 * The plugin is built with -fvisibility=hidden, so nothing declared here
 * leaves the .so; only berth_plugin_entry does.
 *
 * Who touches what, and from which thread:
 *   - request after() (worker threads) and notify deliver() (the event
 *     thread) add to the series store: one mutex per family;
 *   - the storage refresh (the job thread) writes the storage numbers
 *     under their own mutex;
 *   - a scrape (the listener's thread, or a worker thread for the main
 *     port's route) copies each family under its lock and formats the
 *     copy with no lock held;
 *   - everything else in prom_state is fixed after create().
 */
#ifndef METRICS_PROMETHEUS_H
#define METRICS_PROMETHEUS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "berth/plugin.h"

#define PROM_PLUGIN_NAME "metrics-prometheus"
#define PROM_PLUGIN_VERSION "0.1.0"

/* The exposition format this plugin writes (text format 0.0.4). */
#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Every label set past a family's cap is counted under this value. */
#define PROM_OVERFLOW_VALUE "_other"
/* Most labels a family of this plugin has (berth_http_requests_total has 3). */
#define PROM_MAX_LABELS 8
/* Longest label value kept; longer ones are cut (repository names are at most 255). */
#define PROM_LABEL_VALUE_MAX 256
/* A page larger than this is refused rather than built (it would mean a runaway label). */
#define PROM_PAGE_MAX (64u * 1024 * 1024)

/* ------------------------------------------------------------------------ */
/* The text formatter (prom_format.c)                                       */
/* ------------------------------------------------------------------------ */

/* A growing output buffer; once an allocation fails it stays failed. */
struct prom_buf {
	char *data;
	size_t len, cap;
	int failed;
};

void prom_buf_init(struct prom_buf *b);
void prom_buf_free(struct prom_buf *b);
/* Hand the text over (NUL-terminated) and leave b empty; NULL when b failed. */
char *prom_buf_take(struct prom_buf *b, size_t *len);
void prom_buf_put(struct prom_buf *b, const char *s, size_t n);
void prom_buf_puts(struct prom_buf *b, const char *s);
void prom_buf_printf(struct prom_buf *b, const char *fmt, ...) BERTH_PRINTF(2, 3);

/* A label value's text: backslash, double quote and newline escaped, bytes
 * that are not UTF-8 written as '?'. */
void prom_put_label_value(struct prom_buf *b, const char *v);
/* A HELP line's text: backslash and newline escaped, bytes that are not UTF-8 as '?'. */
void prom_put_help(struct prom_buf *b, const char *help);
/* A sample value: the shortest text that reads back as v; NaN, +Inf, -Inf. */
void prom_put_value(struct prom_buf *b, double v);
/* "# HELP name help" and "# TYPE name type". */
void prom_put_header(struct prom_buf *b, const char *name, const char *help, const char *type);
/*
 * One sample line: name, suffix ("" or "_bucket" ...), the n labels
 * (names[i]="values[i]"), then le="le" when le is not NULL, and the value.
 */
void prom_put_sample(struct prom_buf *b, const char *name, const char *suffix,
		     const char *const *names, const char *const *values, size_t n,
		     const char *le, double value);
/* A family without labels and with one sample: header and value. */
void prom_put_single(struct prom_buf *b, const char *name, const char *help, const char *type,
		     double value);
/* 1 when name matches [a-zA-Z_:][a-zA-Z0-9_:]*. */
int prom_valid_name(const char *name);

/* ------------------------------------------------------------------------ */
/* The series store (prom_series.c)                                         */
/* ------------------------------------------------------------------------ */

enum prom_family_type {
	PROM_COUNTER = 1,
	PROM_HISTOGRAM = 2
};

/* What a family is: fixed at compile time. */
struct prom_family_def {
	const char *name;
	const char *help;
	int type;                       /* enum prom_family_type */
	const char *const *label_names;
	size_t n_labels;
	const double *bounds;           /* histograms: upper bounds, increasing, without +Inf */
	size_t n_bounds;
};

/* One label set of a family. */
struct prom_series {
	uint32_t hash;
	double value;                   /* counters */
	double sum;                     /* histograms */
	uint64_t count;
	uint64_t *buckets;              /* histograms: n_bounds + 1 counts, not cumulative */
	char **values;                  /* n_labels strings; never change once made */
};

struct prom_family {
	const struct prom_family_def *def;
	size_t cap;                     /* label sets kept before "_other" */
	pthread_mutex_t lock;
	struct prom_series **series;    /* in first-seen order */
	size_t n_series, alloc;
	size_t n_tracked;               /* series that count against cap */
	size_t *slots;                  /* open addressing: index + 1, 0 empty */
	size_t n_slots;                 /* a power of two, or 0 */
};

/* A family's series as they were at one moment, read without its lock. */
struct prom_sample {
	const char *const *values;      /* the series' own strings: they never change */
	double value, sum;
	uint64_t count;
	const uint64_t *buckets;        /* into the snapshot's block */
};

struct prom_snapshot {
	const struct prom_family_def *def;
	struct prom_sample *samples;
	size_t n;
	uint64_t *block;
};

int prom_family_init(struct prom_family *f, const struct prom_family_def *def, size_t cap);
void prom_family_free(struct prom_family *f);
/* Add to a counter's series; negative or non-finite deltas are ignored. */
void prom_counter_add(struct prom_family *f, const char *const *values, double delta);
/* Count one observation in a histogram's series; NaN and negative count as 0. */
void prom_histogram_observe(struct prom_family *f, const char *const *values, double v);
/* The bucket an observation falls in: the first bound >= v, else n (+Inf). */
size_t prom_bucket_index(const double *bounds, size_t n, double v);
/* Copy under the family's lock. 0, or BERTH_E_NOMEM. */
int prom_family_snapshot(struct prom_family *f, struct prom_snapshot *s);
void prom_snapshot_free(struct prom_snapshot *s);
/* Header and samples of a snapshot, histograms with cumulative buckets. */
void prom_format_snapshot(struct prom_buf *b, const struct prom_snapshot *s);

/* ------------------------------------------------------------------------ */
/* Process metrics (prom_process.c)                                         */
/* ------------------------------------------------------------------------ */

enum prom_process_have {
	PROM_PROC_CPU = 1u << 0,
	PROM_PROC_START = 1u << 1,
	PROM_PROC_RESIDENT = 1u << 2,
	PROM_PROC_VIRTUAL = 1u << 3,
	PROM_PROC_FDS = 1u << 4,
	PROM_PROC_MAX_FDS = 1u << 5
};

struct prom_process {
	unsigned have;                  /* enum prom_process_have */
	double cpu_seconds;
	double start_time;
	double resident_bytes;
	double virtual_bytes;
	double open_fds;
	double max_fds;
};

/* /proc/self/stat: CPU time, and the start time when boot_time > 0. */
int prom_process_parse_stat(const char *text, double ticks_per_second, double boot_time,
			    struct prom_process *p);
/* /proc/self/status: VmRSS and VmSize. */
int prom_process_parse_status(const char *text, struct prom_process *p);
/* /proc/self/limits: the soft limit of "Max open files" (absent when unlimited). */
int prom_process_parse_limits(const char *text, struct prom_process *p);
/* /proc/stat: btime, seconds since the epoch; 0 when absent. */
double prom_process_parse_boot_time(const char *text);
/* The process's start time in seconds since the epoch, or 0 when unknown. */
double prom_process_start_time(void);
/* Read everything /proc/self offers now; start_time comes from prom_process_start_time. */
void prom_process_read(struct prom_process *p, double start_time);
void prom_process_format(struct prom_buf *b, const struct prom_process *p);

/* ------------------------------------------------------------------------ */
/* Configuration (prom_config.c)                                            */
/* ------------------------------------------------------------------------ */

struct prom_config {
	char *listen;                   /* as configured, for messages */
	int listen_off;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	int addr_loopback;
	char *path;
	int main_port;
	char *token;                    /* NULL: scrapes need no token */
	size_t token_len;
	uint64_t storage_refresh_ms;
	size_t namespace_cap;
};

extern const berth_config_key prom_config_schema[];

int prom_config_load(const berth_host *host, const berth_config *cfg, struct prom_config *c,
		     berth_error *err);
void prom_config_free(struct prom_config *c);
/* HOST:PORT or [IPV6]:PORT to an address (the host may be a name). */
int prom_listen_parse(const char *text, struct sockaddr_storage *addr, socklen_t *len,
		      berth_error *err);
int prom_fail(berth_error *err, int code, const char *fmt, ...) BERTH_PRINTF(3, 4);

/* ------------------------------------------------------------------------ */
/* The instance                                                             */
/* ------------------------------------------------------------------------ */

enum prom_family_index {
	PROM_F_REQUESTS,
	PROM_F_DURATION,
	PROM_F_REQUEST_BYTES,
	PROM_F_RESPONSE_BYTES,
	PROM_F_PULLS,
	PROM_F_PUSHES,
	PROM_F_PULL_FAILURES,
	PROM_F_SCAN_BLOCKS,
	PROM_N_FAMILIES
};

extern const struct prom_family_def prom_family_defs[PROM_N_FAMILIES];

/* What the last storage refresh found (prom_storage.c). */
struct prom_storage {
	pthread_mutex_t lock;
	int have;                       /* a refresh succeeded */
	berth_storage_usage usage;
	int unsupported;                /* the driver has no usage(): stop asking */
	int failing;                    /* the last refresh failed (logged once) */
};

struct MHD_Daemon;

struct prom_state {
	const berth_host *host;
	const berth_instance *self;
	struct prom_config cfg;
	struct prom_family families[PROM_N_FAMILIES];
	size_t n_families;              /* initialised so far, for destroy */
	struct prom_storage storage;
	int storage_lock_ready;
	double start_time;
	struct MHD_Daemon *daemon;
};

/* prom_record.c: the families, and request and event labels. */
int prom_families_init(struct prom_state *st);
void prom_families_free(struct prom_state *st);
const char *prom_method_label(const char *method);
const char *prom_route_label(int route_kind);
const char *prom_status_class(int status);
/* The namespace of a repository into out (cut to cap - 1 bytes); "" for none. */
void prom_namespace(const char *repository, char *out, size_t cap);
void prom_record_request(struct prom_state *st, const berth_request *req,
			 const berth_request_result *res);
void prom_record_event(struct prom_state *st, const berth_event *ev);

/* prom_storage.c */
int prom_storage_init(struct prom_storage *s);
void prom_storage_destroy(struct prom_storage *s);
/* host->schedule callback; arg is the prom_state. */
void prom_storage_refresh(void *arg);
void prom_storage_format(struct prom_buf *b, struct prom_storage *s);

/* prom_scrape.c: the page, and who may read it. */
int prom_authorized(const struct prom_state *st, const char *authorization);
/* The whole exposition, malloc'd, into *page; 0 or BERTH_E_NOMEM. */
int prom_render(struct prom_state *st, char **page, size_t *len);

/* prom_listener.c: the plugin's own HTTP listener. */
int prom_listener_start(struct prom_state *st, berth_error *err);
void prom_listener_stop(struct prom_state *st);

#endif
