/*
 * prom_series.c - counters and histograms keyed by label sets.
 *
 * Each family has its own mutex, so a request counted in one family never
 * waits for a scrape reading another, and a scrape holds a family's lock
 * only while it copies the numbers (prom_family_snapshot): the text is
 * formatted from the copy with no lock held. A series, once made, is never
 * freed or changed except for its numbers until the family is freed, so
 * the copy may point at its label strings.
 *
 * A family fed from unbounded input (a repository namespace) keeps at most
 * `cap` label sets; every new one past that is counted in the series whose
 * labels are all "_other", which keeps memory and the page bounded
 * whatever clients send.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"

static uint32_t hash_values(const char *const *values, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++) {
		const unsigned char *p = (const unsigned char *)(values[i] ? values[i] : "");
		size_t k;

		/* Only what copy_value keeps, so a cut value finds its series. */
		for (k = 0; p[k] && k < PROM_LABEL_VALUE_MAX; k++) {
			h ^= p[k];
			h *= 16777619u;
		}
		/* End each value, so ("ab","") and ("a","b") hash apart. */
		h ^= 0xffu;
		h *= 16777619u;
	}
	return h;
}

static void series_free(struct prom_series *s, size_t n_labels)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; s->values && i < n_labels; i++)
		free(s->values[i]);
	free(s->values);
	free(s->buckets);
	free(s);
}

/* A copy of v, cut to PROM_LABEL_VALUE_MAX bytes. */
static char *copy_value(const char *v)
{
	size_t len = strlen(v ? v : "");
	char *s;

	if (len > PROM_LABEL_VALUE_MAX)
		len = PROM_LABEL_VALUE_MAX;
	s = malloc(len + 1);
	if (!s)
		return NULL;
	memcpy(s, v ? v : "", len);
	s[len] = '\0';
	return s;
}

static struct prom_series *series_new(const struct prom_family_def *def,
				      const char *const *values, uint32_t hash)
{
	struct prom_series *s = calloc(1, sizeof(*s));
	size_t i;

	if (!s)
		return NULL;
	s->hash = hash;
	s->values = calloc(def->n_labels ? def->n_labels : 1, sizeof(*s->values));
	if (!s->values)
		goto fail;
	for (i = 0; i < def->n_labels; i++) {
		s->values[i] = copy_value(values[i]);
		if (!s->values[i])
			goto fail;
	}
	if (def->type == PROM_HISTOGRAM) {
		s->buckets = calloc(def->n_bounds + 1, sizeof(*s->buckets));
		if (!s->buckets)
			goto fail;
	}
	return s;
fail:
	series_free(s, def->n_labels);
	return NULL;
}

int prom_family_init(struct prom_family *f, const struct prom_family_def *def, size_t cap)
{
	memset(f, 0, sizeof(*f));
	f->def = def;
	f->cap = cap;
	if (pthread_mutex_init(&f->lock, NULL) != 0)
		return BERTH_E_NOMEM;
	return 0;
}

void prom_family_free(struct prom_family *f)
{
	size_t i;

	if (!f->def)
		return;
	for (i = 0; i < f->n_series; i++)
		series_free(f->series[i], f->def->n_labels);
	free(f->series);
	free(f->slots);
	pthread_mutex_destroy(&f->lock);
	memset(f, 0, sizeof(*f));
}

/* Values are kept cut to PROM_LABEL_VALUE_MAX bytes, so only that much is compared. */
static int matches(const struct prom_series *s, const char *const *values, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strncmp(s->values[i], values[i] ? values[i] : "", PROM_LABEL_VALUE_MAX) != 0)
			return 0;
	return 1;
}

static struct prom_series *find(const struct prom_family *f, const char *const *values,
				uint32_t hash)
{
	size_t i;

	if (!f->n_slots)
		return NULL;
	for (i = hash & (f->n_slots - 1);; i = (i + 1) & (f->n_slots - 1)) {
		struct prom_series *s;

		if (!f->slots[i])
			return NULL;
		s = f->series[f->slots[i] - 1];
		if (s->hash == hash && matches(s, values, f->def->n_labels))
			return s;
	}
}

static void slot_insert(struct prom_family *f, size_t idx)
{
	size_t i = f->series[idx]->hash & (f->n_slots - 1);

	while (f->slots[i])
		i = (i + 1) & (f->n_slots - 1);
	f->slots[i] = idx + 1;
}

/* Add a series; NULL when out of memory. Called with the lock held. */
static struct prom_series *add(struct prom_family *f, const char *const *values, uint32_t hash)
{
	struct prom_series *s;
	size_t i;

	if (f->n_series == f->alloc) {
		size_t n = f->alloc ? f->alloc * 2 : 8;
		struct prom_series **v = realloc(f->series, n * sizeof(*v));

		if (!v)
			return NULL;
		f->series = v;
		f->alloc = n;
	}
	/* At most half full, so probes stay short. */
	if ((f->n_series + 1) * 2 > f->n_slots) {
		size_t n = f->n_slots ? f->n_slots * 2 : 16;
		size_t *slots = calloc(n, sizeof(*slots));

		if (!slots)
			return NULL;
		free(f->slots);
		f->slots = slots;
		f->n_slots = n;
		for (i = 0; i < f->n_series; i++)
			slot_insert(f, i);
	}
	s = series_new(f->def, values, hash);
	if (!s)
		return NULL;
	f->series[f->n_series++] = s;
	slot_insert(f, f->n_series - 1);
	return s;
}

/* The series to update. Called with the lock held; NULL when out of memory. */
static struct prom_series *series_for(struct prom_family *f, const char *const *values)
{
	const char *other[PROM_MAX_LABELS];
	uint32_t hash = hash_values(values, f->def->n_labels);
	struct prom_series *s = find(f, values, hash);
	size_t i;

	if (s)
		return s;
	if (f->n_tracked < f->cap) {
		s = add(f, values, hash);
		if (s)
			f->n_tracked++;
		return s;
	}
	for (i = 0; i < f->def->n_labels; i++)
		other[i] = PROM_OVERFLOW_VALUE;
	hash = hash_values(other, f->def->n_labels);
	s = find(f, other, hash);
	return s ? s : add(f, other, hash);
}

void prom_counter_add(struct prom_family *f, const char *const *values, double delta)
{
	struct prom_series *s;

	if (!(delta >= 0) || isinf(delta) || f->def->n_labels > PROM_MAX_LABELS)
		return;
	pthread_mutex_lock(&f->lock);
	s = series_for(f, values);
	if (s)
		s->value += delta;
	pthread_mutex_unlock(&f->lock);
}

size_t prom_bucket_index(const double *bounds, size_t n, double v)
{
	size_t lo = 0, hi = n;

	/* Upper bounds are inclusive: an observation equal to a bound is in its bucket. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v <= bounds[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

void prom_histogram_observe(struct prom_family *f, const char *const *values, double v)
{
	struct prom_series *s;
	size_t k;

	if (f->def->type != PROM_HISTOGRAM || f->def->n_labels > PROM_MAX_LABELS)
		return;
	if (!(v >= 0))
		v = 0;
	k = prom_bucket_index(f->def->bounds, f->def->n_bounds, v);
	pthread_mutex_lock(&f->lock);
	s = series_for(f, values);
	if (s) {
		s->buckets[k]++;
		s->count++;
		if (!isinf(v))
			s->sum += v;
	}
	pthread_mutex_unlock(&f->lock);
}

int prom_family_snapshot(struct prom_family *f, struct prom_snapshot *snap)
{
	size_t per = f->def->type == PROM_HISTOGRAM ? f->def->n_bounds + 1 : 0;
	int rc = 0;
	size_t i, n;

	memset(snap, 0, sizeof(*snap));
	snap->def = f->def;
	pthread_mutex_lock(&f->lock);
	n = f->n_series;
	if (n == 0)
		goto out;
	snap->samples = calloc(n, sizeof(*snap->samples));
	if (per)
		snap->block = calloc(n * per, sizeof(*snap->block));
	if (!snap->samples || (per && !snap->block)) {
		rc = BERTH_E_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct prom_series *s = f->series[i];
		struct prom_sample *sm = &snap->samples[i];

		sm->values = (const char *const *)s->values;
		sm->value = s->value;
		sm->sum = s->sum;
		sm->count = s->count;
		if (per) {
			memcpy(snap->block + i * per, s->buckets, per * sizeof(*s->buckets));
			sm->buckets = snap->block + i * per;
		}
	}
	snap->n = n;
out:
	pthread_mutex_unlock(&f->lock);
	if (rc != 0)
		prom_snapshot_free(snap);
	return rc;
}

void prom_snapshot_free(struct prom_snapshot *s)
{
	free(s->samples);
	free(s->block);
	s->samples = NULL;
	s->block = NULL;
	s->n = 0;
}
