/*
 * metrics.c - the counter and gauge registry (see metrics.h).
 *
 * The registry list only grows, and a node's `next` is written under the
 * registry lock before the count that makes it visible, so metrics_foreach
 * can walk a snapshot of the list without holding that lock. Each series
 * is allocated once and its label text never changes, so a copy of the
 * series pointers taken under a metric's lock stays readable after it.
 */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config_node.h"
#include "log.h"
#include "plugin_loader.h"
#include "utf8.h"

typedef struct metric_series {
	double value;
	uint32_t hash;
	size_t labels_len;
	char labels[];          /* a="x",b="y" */
} metric_series;

struct berth_metric {
	struct berth_metric *next;
	char *owner;
	char *name;
	char *help;
	int type;
	size_t n_labels;
	char **label_names;

	pthread_mutex_t lock;
	metric_series **series;         /* first-seen order */
	size_t n_series, cap_series;
	/* Open addressing over `series`: slot holds index + 1, 0 is empty. */
	size_t *slots;
	size_t n_slots;                 /* a power of two, or 0 */
	metric_series *overflow;
	int warned_overflow, warned_refused;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static berth_metric *registry_head, *registry_tail;
static size_t registry_count;

static int valid_name(const char *s, int colon_ok)
{
	size_t i;

	if (!s || !s[0])
		return 0;
	for (i = 0; s[i]; i++) {
		char c = s[i];
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			    (colon_ok && c == ':');
		if (i >= METRICS_NAME_MAX)
			return 0;
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return 0;
	}
	return 1;
}

static uint32_t hash_text(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

/*
 * Write the label text for `values` into buf (capacity cap, always
 * terminated when cap > 0) and return its full length, like snprintf.
 */
static size_t format_labels(const berth_metric *m, const char *const *values, char *buf,
			    size_t cap)
{
	size_t n = 0;

#define PUT(ch)                          \
	do {                             \
		if (n + 1 < cap)         \
			buf[n] = (ch);   \
		n++;                     \
	} while (0)

	for (size_t i = 0; i < m->n_labels; i++) {
		const char *v = values && values[i] ? values[i] : "";
		const unsigned char *p = (const unsigned char *)v;
		size_t left = strlen(v), used = 0;

		if (i > 0)
			PUT(',');
		for (const char *k = m->label_names[i]; *k; k++)
			PUT(*k);
		PUT('=');
		PUT('"');
		while (left > 0) {
			size_t len = utf8_len(p, left);
			if (len == 0) {
				/* One byte that starts no valid character. */
				if (used + 1 > METRICS_LABEL_VALUE_MAX)
					break;
				PUT('?');
				p++, left--, used++;
				continue;
			}
			if (used + len > METRICS_LABEL_VALUE_MAX)
				break;
			if (*p == '\\' || *p == '"') {
				PUT('\\');
				PUT((char)*p);
			} else if (*p == '\n') {
				PUT('\\');
				PUT('n');
			} else {
				for (size_t j = 0; j < len; j++)
					PUT((char)p[j]);
			}
			p += len, left -= len, used += len;
		}
		PUT('"');
	}
#undef PUT
	if (cap > 0)
		buf[n < cap ? n : cap - 1] = '\0';
	return n;
}

static metric_series *find_series(const berth_metric *m, const char *labels, size_t len,
				  uint32_t hash)
{
	if (!m->n_slots)
		return NULL;
	for (size_t i = hash & (m->n_slots - 1);; i = (i + 1) & (m->n_slots - 1)) {
		size_t slot = m->slots[i];
		metric_series *s;

		if (!slot)
			return NULL;
		s = m->series[slot - 1];
		if (s->hash == hash && s->labels_len == len && memcmp(s->labels, labels, len) == 0)
			return s;
	}
}

static void index_series(berth_metric *m, size_t idx)
{
	size_t i = m->series[idx]->hash & (m->n_slots - 1);

	while (m->slots[i])
		i = (i + 1) & (m->n_slots - 1);
	m->slots[i] = idx + 1;
}

/* Add a series; NULL when out of memory. Called with m->lock held. */
static metric_series *add_series(berth_metric *m, const char *labels, size_t len, uint32_t hash)
{
	metric_series *s;

	if (m->n_series == m->cap_series) {
		size_t cap = m->cap_series ? m->cap_series * 2 : 4;
		metric_series **v = realloc(m->series, cap * sizeof(*v));
		if (!v)
			return NULL;
		m->series = v;
		m->cap_series = cap;
	}
	/* Keep the index at most half full so probes stay short. */
	if ((m->n_series + 1) * 2 > m->n_slots) {
		size_t n = m->n_slots ? m->n_slots * 2 : 8;
		size_t *slots = calloc(n, sizeof(*slots));
		if (!slots)
			return NULL;
		free(m->slots);
		m->slots = slots;
		m->n_slots = n;
		for (size_t i = 0; i < m->n_series; i++)
			index_series(m, i);
	}
	s = malloc(sizeof(*s) + len + 1);
	if (!s)
		return NULL;
	s->value = 0;
	s->hash = hash;
	s->labels_len = len;
	memcpy(s->labels, labels, len + 1);
	m->series[m->n_series++] = s;
	index_series(m, m->n_series - 1);
	return s;
}

/* The one series that takes every label set past the cap. Called with m->lock held. */
static metric_series *overflow_series(berth_metric *m)
{
	const char *other[METRICS_MAX_LABELS];
	metric_series *s;
	uint32_t hash;
	size_t len;
	char *text;

	if (m->overflow)
		return m->overflow;
	if (!m->warned_overflow) {
		m->warned_overflow = 1;
		log_warn("metric %s (%s): more than %d label sets; the rest are counted with "
			 "every label set to \"" METRICS_OVERFLOW_VALUE "\"",
			 m->name, m->owner, METRICS_MAX_SERIES);
	}
	for (size_t i = 0; i < m->n_labels; i++)
		other[i] = METRICS_OVERFLOW_VALUE;
	len = format_labels(m, other, NULL, 0);
	text = malloc(len + 1);
	if (!text)
		return NULL;
	format_labels(m, other, text, len + 1);
	hash = hash_text(text, len);
	s = find_series(m, text, len, hash);
	if (!s)
		s = add_series(m, text, len, hash);
	m->overflow = s;
	free(text);
	return s;
}

/* The series to update for this label text. Called with m->lock held. */
static metric_series *series_for(berth_metric *m, const char *labels, size_t len)
{
	uint32_t hash = hash_text(labels, len);
	metric_series *s = find_series(m, labels, len, hash);

	if (s)
		return s;
	if (m->n_series < METRICS_MAX_SERIES)
		return add_series(m, labels, len, hash);
	return overflow_series(m);
}

BERTH_PRINTF(2, 3)
static void refuse_once(berth_metric *m, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int first;

	pthread_mutex_lock(&m->lock);
	first = !m->warned_refused;
	m->warned_refused = 1;
	pthread_mutex_unlock(&m->lock);
	if (!first)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("metric %s (%s): %s (logged once)", m->name, m->owner, msg);
}

static void update(berth_metric *m, const char *const *label_values, double v, int set)
{
	char stack[512], *labels = stack;
	size_t len;
	metric_series *s;

	len = format_labels(m, label_values, stack, sizeof(stack));
	if (len >= sizeof(stack)) {
		labels = malloc(len + 1);
		if (!labels)
			return;
		format_labels(m, label_values, labels, len + 1);
	}
	pthread_mutex_lock(&m->lock);
	s = series_for(m, labels, len);
	if (s) {
		if (set)
			s->value = v;
		else
			s->value += v;
	}
	pthread_mutex_unlock(&m->lock);
	if (labels != stack)
		free(labels);
}

void metrics_add(berth_metric *m, const char *const *label_values, double delta)
{
	if (!m)
		return;
	if (m->type == BERTH_METRIC_COUNTER && !(delta >= 0 && isfinite(delta))) {
		refuse_once(m, "a counter only goes up; refused a delta of %g", delta);
		return;
	}
	update(m, label_values, delta, 0);
}

void metrics_set(berth_metric *m, const char *const *label_values, double value)
{
	if (!m)
		return;
	if (m->type == BERTH_METRIC_COUNTER) {
		refuse_once(m, "a counter only goes up through add; refused set(%g)", value);
		return;
	}
	update(m, label_values, value, 1);
}

static int same_labels(const berth_metric *m, const char *const *names, size_t n)
{
	if (m->n_labels != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(m->label_names[i], names[i]) != 0)
			return 0;
	return 1;
}

/* "a, b" for messages; cut to fit. */
static void describe_labels(const berth_metric *m, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < m->n_labels && n < cap; i++) {
		int w = snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", m->label_names[i]);
		if (w < 0)
			break;
		n += (size_t)w;
	}
}

static void metric_free(berth_metric *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_labels; i++)
		free(m->label_names[i]);
	free(m->label_names);
	free(m->owner);
	free(m->name);
	free(m->help);
	free(m);
}

static berth_metric *metric_new(const char *owner, const char *name, const char *help, int type,
				const char *const *label_names, size_t n)
{
	berth_metric *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->type = type;
	m->owner = strdup(owner);
	m->name = strdup(name);
	m->help = strdup(help ? help : "");
	m->label_names = calloc(n ? n : 1, sizeof(*m->label_names));
	if (!m->owner || !m->name || !m->help || !m->label_names)
		goto fail;
	for (; m->n_labels < n; m->n_labels++) {
		m->label_names[m->n_labels] = strdup(label_names[m->n_labels]);
		if (!m->label_names[m->n_labels])
			goto fail;
	}
	pthread_mutex_init(&m->lock, NULL);
	return m;
fail:
	metric_free(m);
	return NULL;
}

berth_metric *metrics_register(const char *owner, const char *name, const char *help, int type,
			       const char *const *label_names)
{
	char shown[CFG_SHOW_MAX];
	berth_metric *m = NULL;
	size_t n = 0;

	if (!owner)
		owner = "core";
	if (!valid_name(name, 1)) {
		log_warn("%s: cannot register metric '%s': a metric name must match "
			 "[a-zA-Z_:][a-zA-Z0-9_:]* (at most %d characters)",
			 owner, name ? cfg_show(shown, name) : "", METRICS_NAME_MAX);
		return NULL;
	}
	if (type != BERTH_METRIC_COUNTER && type != BERTH_METRIC_GAUGE) {
		log_warn("%s: cannot register metric %s: unknown type %d", owner, name, type);
		return NULL;
	}
	for (; label_names && label_names[n]; n++) {
		const char *l = label_names[n];
		if (n >= METRICS_MAX_LABELS) {
			log_warn("%s: cannot register metric %s: more than %d labels", owner, name,
				 METRICS_MAX_LABELS);
			return NULL;
		}
		if (!valid_name(l, 0) || strncmp(l, "__", 2) == 0) {
			log_warn("%s: cannot register metric %s: label '%s' must match "
				 "[a-zA-Z_][a-zA-Z0-9_]* and not start with \"__\"",
				 owner, name, cfg_show(shown, l));
			return NULL;
		}
		for (size_t j = 0; j < n; j++) {
			if (strcmp(label_names[j], l) == 0) {
				log_warn("%s: cannot register metric %s: label '%s' is given twice",
					 owner, name, l);
				return NULL;
			}
		}
	}

	pthread_mutex_lock(&registry_lock);
	for (berth_metric *e = registry_head; e; e = e->next) {
		if (strcmp(e->name, name) != 0)
			continue;
		if (e->type == type && same_labels(e, label_names, n)) {
			m = e;
		} else {
			char have[256];
			describe_labels(e, have, sizeof(have));
			log_warn("%s: cannot register metric %s: %s registered it as a %s with "
				 "labels (%s); one name has one type and one label list",
				 owner, name, e->owner,
				 e->type == BERTH_METRIC_COUNTER ? "counter" : "gauge", have);
		}
		goto out;
	}
	if (registry_count >= METRICS_MAX_METRICS) {
		log_warn("%s: cannot register metric %s: the registry holds %d metrics already",
			 owner, name, METRICS_MAX_METRICS);
		goto out;
	}
	m = metric_new(owner, name, help, type, label_names, n);
	if (!m) {
		log_error("%s: cannot register metric %s: out of memory", owner, name);
		goto out;
	}
	if (registry_tail)
		registry_tail->next = m;
	else
		registry_head = m;
	registry_tail = m;
	registry_count++;
out:
	pthread_mutex_unlock(&registry_lock);
	/*
	 * A metric without labels has exactly one series: show it at 0 from
	 * the start, or Prometheus' increase() would miss its first step.
	 */
	if (m && n == 0)
		metrics_add(m, NULL, 0);
	return m;
}

berth_metric *metrics_host_register(const berth_instance *self, const char *name,
				    const char *help, int type, const char *const *label_names)
{
	return metrics_register(self ? self->name : "plugin", name, help, type, label_names);
}

typedef struct series_copy {
	const char *labels;
	double value;
} series_copy;

void metrics_foreach(berth_metric_fn fn, void *ctx)
{
	berth_metric *m;
	size_t n;

	if (!fn)
		return;
	pthread_mutex_lock(&registry_lock);
	m = registry_head;
	n = registry_count;
	pthread_mutex_unlock(&registry_lock);

	for (size_t i = 0; i < n; i++, m = i < n ? m->next : NULL) {
		series_copy *copy = NULL;
		size_t k;

		pthread_mutex_lock(&m->lock);
		k = m->n_series;
		if (k)
			copy = malloc(k * sizeof(*copy));
		for (size_t j = 0; copy && j < k; j++) {
			copy[j].labels = m->series[j]->labels;
			copy[j].value = m->series[j]->value;
		}
		pthread_mutex_unlock(&m->lock);
		if (k && !copy) {
			log_error("metric %s: out of memory while reading it", m->name);
			continue;
		}
		for (size_t j = 0; j < k; j++)
			fn(ctx, m->name, m->help, m->type, copy[j].labels, copy[j].value);
		free(copy);
	}
}
