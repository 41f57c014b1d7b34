/*
 * metrics.h - the registry of counters and gauges that the core and plugins
 * update and that a metrics plugin (metrics-prometheus) exposes.
 *
 * A metric is a name, a help line, a type and a fixed list of label names;
 * each distinct list of label values is one series. Metrics are never
 * unregistered: a berth_metric pointer stays valid for the life of the
 * process, so a plugin may keep it in its state.
 *
 * Updates take only that metric's own lock. metrics_foreach copies a
 * metric's series under its lock and calls back with no lock held, so a
 * callback may itself update metrics, and a slow scrape never stalls the
 * request path for more than one metric's copy.
 */
#ifndef BERTH_METRICS_H
#define BERTH_METRICS_H

#include "berth/plugin.h"

/* Longest metric name and label name accepted. */
#define METRICS_NAME_MAX 200
/* Most labels one metric may have. */
#define METRICS_MAX_LABELS 16
/* Most metrics in the registry. */
#define METRICS_MAX_METRICS 4096
/*
 * Most series one metric keeps. A label fed from unbounded input (a user
 * name, a repository) would otherwise grow memory and the scrape without
 * limit: past the cap, updates go to one series whose label values are all
 * METRICS_OVERFLOW_VALUE, and the metric logs a warning once.
 */
#define METRICS_MAX_SERIES 10000
#define METRICS_OVERFLOW_VALUE "_other"
/* Label values longer than this are cut (at a character boundary). */
#define METRICS_LABEL_VALUE_MAX 1024

/*
 * Register a metric, or find the one already registered under `name`.
 * type is a berth_metric_type; label_names is NULL-terminated, or NULL for
 * none. Names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
 * [a-zA-Z_][a-zA-Z0-9_]* and may not start with "__" or repeat. Registering
 * an existing name returns the same metric when the type and the label
 * names (in order) agree; otherwise, and for any invalid argument, NULL,
 * with a log line naming `owner`.
 */
berth_metric *metrics_register(const char *owner, const char *name, const char *help, int type,
			       const char *const *label_names);

/*
 * Update the series named by label_values: as many strings as the metric
 * has label names, in the same order (NULL, or a NULL entry, counts as "").
 * Counters refuse negative and non-finite deltas and metrics_set (counters
 * only go up). A NULL metric is ignored, so a failed registration needs no
 * checks at every update.
 */
void metrics_add(berth_metric *m, const char *const *label_values, double delta);
void metrics_set(berth_metric *m, const char *const *label_values, double value);

/*
 * Every series of every metric: metrics in registration order, series in
 * the order they were first updated. labels are formatted a="x",b="y"
 * with \, " and newline escaped as Prometheus' text format wants ("" for a
 * metric without labels); invalid UTF-8 in a value becomes '?'.
 */
void metrics_foreach(berth_metric_fn fn, void *ctx);

/* host->metric_register: the instance name is the owner. */
berth_metric *metrics_host_register(const berth_instance *self, const char *name,
				    const char *help, int type, const char *const *label_names);

#endif /* BERTH_METRICS_H */
