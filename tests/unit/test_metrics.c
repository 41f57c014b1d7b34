/*
 * test_metrics.c - the counter and gauge registry: registration rules,
 * label formatting and escaping, the series cap, and exact totals under
 * concurrent updates.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "test.h"

typedef struct seen_series {
	char name[256];
	char labels[4096];
	int type;
	double value;
} seen_series;

typedef struct collected {
	seen_series *v;
	size_t n, cap;
	const char *only;       /* keep series of this metric only, when set */
} collected;

static void collect(void *ctx, const char *name, const char *help, int type, const char *labels,
		    double value)
{
	collected *c = ctx;
	seen_series *s;

	(void)help;
	if (c->only && strcmp(c->only, name) != 0)
		return;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->v = realloc(c->v, c->cap * sizeof(*c->v));
		if (!c->v)
			abort();
	}
	s = &c->v[c->n++];
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->labels, sizeof(s->labels), "%s", labels);
	s->type = type;
	s->value = value;
}

static collected collect_metric(const char *name)
{
	collected c = {.only = name};

	metrics_foreach(collect, &c);
	return c;
}

/* The value of one series, or NAN when absent. */
static double value_of(const char *name, const char *labels)
{
	collected c = collect_metric(name);
	double v = NAN;

	for (size_t i = 0; i < c.n; i++)
		if (strcmp(c.v[i].labels, labels) == 0)
			v = c.v[i].value;
	free(c.v);
	return v;
}

static void test_registration(void)
{
	static const char *const two[] = {"method", "code", NULL};
	static const char *const other[] = {"code", "method", NULL};
	static const char *const one[] = {"method", NULL};
	berth_metric *a, *b;

	a = metrics_register("t", "t_requests_total", "Requests", BERTH_METRIC_COUNTER, two);
	CHECK(a != NULL);
	b = metrics_register("u", "t_requests_total", "Other help", BERTH_METRIC_COUNTER, two);
	CHECK(a == b);
	/* Same name, another type or label list: refused. */
	CHECK(metrics_register("t", "t_requests_total", "", BERTH_METRIC_GAUGE, two) == NULL);
	CHECK(metrics_register("t", "t_requests_total", "", BERTH_METRIC_COUNTER, one) == NULL);
	CHECK(metrics_register("t", "t_requests_total", "", BERTH_METRIC_COUNTER, other) == NULL);
	CHECK(metrics_register("t", "t_requests_total", "", BERTH_METRIC_COUNTER, NULL) == NULL);

	CHECK(metrics_register("t", "t_plain", NULL, BERTH_METRIC_GAUGE, NULL) != NULL);
	CHECK(metrics_register("t", "ns:sub_metric", "", BERTH_METRIC_GAUGE, NULL) != NULL);
	CHECK(metrics_register("t", "_under", "", BERTH_METRIC_GAUGE, NULL) != NULL);
}

static void test_invalid(void)
{
	static const char *const reserved[] = {"__name", NULL};
	static const char *const dup[] = {"a", "a", NULL};
	static const char *const space[] = {"a b", NULL};
	static const char *const colon[] = {"a:b", NULL};
	static const char *const digit[] = {"1a", NULL};
	static const char *const empty[] = {"", NULL};
	static const char *const many[] = {"l0", "l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8",
					   "l9", "l10", "l11", "l12", "l13", "l14", "l15", "l16",
					   NULL};
	char long_name[METRICS_NAME_MAX + 2];

	CHECK(metrics_register("t", NULL, "", BERTH_METRIC_COUNTER, NULL) == NULL);
	CHECK(metrics_register("t", "", "", BERTH_METRIC_COUNTER, NULL) == NULL);
	CHECK(metrics_register("t", "9lives", "", BERTH_METRIC_COUNTER, NULL) == NULL);
	CHECK(metrics_register("t", "a-b", "", BERTH_METRIC_COUNTER, NULL) == NULL);
	CHECK(metrics_register("t", "a b", "", BERTH_METRIC_COUNTER, NULL) == NULL);
	CHECK(metrics_register("t", "a\nb", "", BERTH_METRIC_COUNTER, NULL) == NULL);
	CHECK(metrics_register("t", "t_bad_type", "", 0, NULL) == NULL);
	CHECK(metrics_register("t", "t_bad_type", "", 3, NULL) == NULL);
	CHECK(metrics_register("t", "t_bad_label", "", BERTH_METRIC_COUNTER, reserved) == NULL);
	CHECK(metrics_register("t", "t_bad_label", "", BERTH_METRIC_COUNTER, dup) == NULL);
	CHECK(metrics_register("t", "t_bad_label", "", BERTH_METRIC_COUNTER, space) == NULL);
	CHECK(metrics_register("t", "t_bad_label", "", BERTH_METRIC_COUNTER, colon) == NULL);
	CHECK(metrics_register("t", "t_bad_label", "", BERTH_METRIC_COUNTER, digit) == NULL);
	CHECK(metrics_register("t", "t_bad_label", "", BERTH_METRIC_COUNTER, empty) == NULL);
	CHECK(metrics_register("t", "t_bad_label", "", BERTH_METRIC_COUNTER, many) == NULL);
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	CHECK(metrics_register("t", long_name, "", BERTH_METRIC_COUNTER, NULL) == NULL);
	long_name[METRICS_NAME_MAX] = '\0';
	CHECK(metrics_register("t", long_name, "", BERTH_METRIC_COUNTER, NULL) != NULL);
	/* Nothing half-registered under a refused name. */
	CHECK(metrics_register("t", "t_bad_label", "", BERTH_METRIC_GAUGE, NULL) != NULL);

	/* Updates through a failed registration are ignored, not a crash. */
	metrics_add(NULL, NULL, 1);
	metrics_set(NULL, NULL, 1);
}

static void test_values(void)
{
	static const char *const labels[] = {"kind", NULL};
	berth_metric *c = metrics_register("t", "t_counter_total", "", BERTH_METRIC_COUNTER, labels);
	berth_metric *g = metrics_register("t", "t_gauge", "", BERTH_METRIC_GAUGE, NULL);
	const char *a[] = {"a"}, *b[] = {"b"};

	metrics_add(c, a, 1);
	metrics_add(c, a, 2.5);
	metrics_add(c, b, 1);
	metrics_add(c, a, -1);          /* refused: a counter never goes down */
	metrics_add(c, a, NAN);
	metrics_add(c, a, INFINITY);
	metrics_set(c, a, 0);           /* refused */
	CHECK(value_of("t_counter_total", "kind=\"a\"") == 3.5);
	CHECK(value_of("t_counter_total", "kind=\"b\"") == 1);

	metrics_set(g, NULL, 7);
	metrics_add(g, NULL, -2);
	CHECK(value_of("t_gauge", "") == 5);
	metrics_set(g, NULL, -1.5);
	CHECK(value_of("t_gauge", "") == -1.5);
}

static void test_order_and_labels(void)
{
	static const char *const labels[] = {"a", "b", NULL};
	berth_metric *first = metrics_register("t", "t_order_first", "", BERTH_METRIC_GAUGE, labels);
	berth_metric *second = metrics_register("t", "t_order_second", "", BERTH_METRIC_GAUGE, NULL);
	const char *v1[] = {"z", "y"}, *v2[] = {"a", "b"}, *v3[] = {NULL, "q"};
	collected all = {0};
	long i_first = -1, i_second = -1;

	metrics_set(second, NULL, 1);
	metrics_set(first, v1, 1);
	metrics_set(first, v2, 2);
	metrics_set(first, v3, 3);
	metrics_set(first, NULL, 4);
	metrics_set(first, v1, 5);

	metrics_foreach(collect, &all);
	for (size_t i = 0; i < all.n; i++) {
		if (strcmp(all.v[i].name, "t_order_first") == 0 && i_first < 0)
			i_first = (long)i;
		if (strcmp(all.v[i].name, "t_order_second") == 0 && i_second < 0)
			i_second = (long)i;
	}
	/* Registration order, whatever order they were first updated in. */
	CHECK(i_first >= 0 && i_second > i_first);
	free(all.v);

	all = collect_metric("t_order_first");
	CHECK_INT(all.n, 4);
	if (all.n == 4) {
		/* First-seen order; NULL values count as "". */
		CHECK_STR(all.v[0].labels, "a=\"z\",b=\"y\"");
		CHECK(all.v[0].value == 5);
		CHECK_STR(all.v[1].labels, "a=\"a\",b=\"b\"");
		CHECK_STR(all.v[2].labels, "a=\"\",b=\"q\"");
		CHECK_STR(all.v[3].labels, "a=\"\",b=\"\"");
		CHECK(all.v[3].value == 4);
		CHECK_INT(all.v[0].type, BERTH_METRIC_GAUGE);
	}
	free(all.v);
}

static void test_escaping(void)
{
	static const char *const labels[] = {"v", NULL};
	berth_metric *m = metrics_register("t", "t_escape", "", BERTH_METRIC_GAUGE, labels);
	const char *quote[] = {"say \"hi\""};
	const char *slash[] = {"C:\\dir\\"};
	const char *newline[] = {"two\nlines"};
	const char *utf8[] = {"caf\xc3\xa9 \xe2\x82\xac"};
	const char *broken[] = {"a\xff" "b\xc3"};
	const char *overlong[] = {"\xc0\xaf\xed\xa0\x80"};
	char long_value[METRICS_LABEL_VALUE_MAX + 100];
	const char *lv[] = {long_value};
	char expect[METRICS_LABEL_VALUE_MAX + 16];

	metrics_set(m, quote, 1);
	metrics_set(m, slash, 2);
	metrics_set(m, newline, 3);
	metrics_set(m, utf8, 4);
	metrics_set(m, broken, 5);
	metrics_set(m, overlong, 6);
	CHECK(value_of("t_escape", "v=\"say \\\"hi\\\"\"") == 1);
	CHECK(value_of("t_escape", "v=\"C:\\\\dir\\\\\"") == 2);
	CHECK(value_of("t_escape", "v=\"two\\nlines\"") == 3);
	CHECK(value_of("t_escape", "v=\"caf\xc3\xa9 \xe2\x82\xac\"") == 4);
	CHECK(value_of("t_escape", "v=\"a?b?\"") == 5);
	CHECK(value_of("t_escape", "v=\"?????\"") == 6);

	/* Long values are cut; two that share the first bytes share a series. */
	memset(long_value, 'x', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	metrics_set(m, lv, 7);
	long_value[METRICS_LABEL_VALUE_MAX + 10] = 'y';
	metrics_add(m, lv, 1);
	snprintf(expect, sizeof(expect), "v=\"%.*s\"", METRICS_LABEL_VALUE_MAX, long_value);
	CHECK(value_of("t_escape", expect) == 8);
}

static void test_series_cap(void)
{
	static const char *const labels[] = {"user", "repo", NULL};
	berth_metric *m = metrics_register("t", "t_capped_total", "", BERTH_METRIC_COUNTER, labels);
	char user[32];
	const char *v[] = {user, "r"};
	collected c;

	for (int i = 0; i < METRICS_MAX_SERIES + 50; i++) {
		snprintf(user, sizeof(user), "u%d", i);
		metrics_add(m, v, 1);
	}
	/* Known series keep counting past the cap. */
	snprintf(user, sizeof(user), "u0");
	metrics_add(m, v, 1);

	c = collect_metric("t_capped_total");
	CHECK_INT(c.n, METRICS_MAX_SERIES + 1);
	if (c.n == METRICS_MAX_SERIES + 1) {
		CHECK_STR(c.v[METRICS_MAX_SERIES].labels, "user=\"_other\",repo=\"_other\"");
		CHECK(c.v[METRICS_MAX_SERIES].value == 50);
		CHECK(c.v[0].value == 2);
	}
	free(c.v);
}

enum { THREADS = 8, ADDS = 100000 };

static berth_metric *shared_counter, *shared_gauge;

static void ignore(void *ctx, const char *name, const char *help, int type, const char *labels,
		   double value)
{
	(void)ctx, (void)name, (void)help, (void)type, (void)labels, (void)value;
}

static void *adder(void *arg)
{
	long id = (long)arg;
	char mine[16];
	const char *own[] = {mine}, *common[] = {"shared"};

	snprintf(mine, sizeof(mine), "t%ld", id);
	for (int i = 0; i < ADDS; i++) {
		metrics_add(shared_counter, common, 1);
		metrics_add(shared_counter, own, 0.5);
		metrics_add(shared_gauge, NULL, 1);
		if (i % 10000 == 0) {
			/* Scrapes while updates happen must neither block nor race. */
			metrics_foreach(ignore, NULL);
			metrics_register("t", "t_concurrent_total", "", BERTH_METRIC_COUNTER,
					 (const char *const[]){"who", NULL});
		}
	}
	return NULL;
}

static void test_concurrent(void)
{
	static const char *const labels[] = {"who", NULL};
	pthread_t t[THREADS];
	double sum_own = 0;
	collected c;

	shared_counter = metrics_register("t", "t_concurrent_total", "", BERTH_METRIC_COUNTER,
					  labels);
	shared_gauge = metrics_register("t", "t_concurrent_gauge", "", BERTH_METRIC_GAUGE, NULL);
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, adder, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);

	CHECK(value_of("t_concurrent_total", "who=\"shared\"") == (double)THREADS * ADDS);
	CHECK(value_of("t_concurrent_gauge", "") == (double)THREADS * ADDS);
	c = collect_metric("t_concurrent_total");
	CHECK_INT(c.n, THREADS + 1);
	for (size_t i = 0; i < c.n; i++)
		if (strcmp(c.v[i].labels, "who=\"shared\"") != 0)
			sum_own += c.v[i].value;
	CHECK(sum_own == (double)THREADS * ADDS * 0.5);
	free(c.v);
}

/* A callback may update metrics: foreach holds no lock while it runs. */
static void reentrant(void *ctx, const char *name, const char *help, int type, const char *labels,
		      double value)
{
	(void)help, (void)type, (void)labels, (void)value;
	if (strcmp(name, "t_reentrant") == 0)
		metrics_add(ctx, NULL, 1);
}

static void test_reentrant(void)
{
	berth_metric *m = metrics_register("t", "t_reentrant", "", BERTH_METRIC_GAUGE, NULL);

	metrics_set(m, NULL, 1);
	metrics_foreach(reentrant, m);
	CHECK(value_of("t_reentrant", "") == 2);
}

int main(void)
{
	test_registration();
	test_invalid();
	test_values();
	test_order_and_labels();
	test_escaping();
	test_series_cap();
	test_concurrent();
	test_reentrant();
	TEST_MAIN_END();
}
