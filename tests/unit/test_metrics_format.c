/*
 * test_metrics_format.c - the metrics-prometheus plugin's text format,
 * escaping, series store (histogram buckets, the namespace cap), label
 * mapping, /proc parsers and listen addresses.
 *
 * Unit tests link only berth_core, so the plugin's sources are compiled
 * into this program; the page is built against a host table of the test's
 * own.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

#include "../../plugins/metrics-prometheus/prom_config.c"
#include "../../plugins/metrics-prometheus/prom_format.c"
#include "../../plugins/metrics-prometheus/prom_process.c"
#include "../../plugins/metrics-prometheus/prom_record.c"
#include "../../plugins/metrics-prometheus/prom_scrape.c"
#include "../../plugins/metrics-prometheus/prom_series.c"
#include "../../plugins/metrics-prometheus/prom_storage.c"

/* What fn writes into a fresh buffer; the caller frees it. */
static char *text_of_label(const char *v)
{
	struct prom_buf b;
	size_t len;

	prom_buf_init(&b);
	prom_put_label_value(&b, v);
	return prom_buf_take(&b, &len);
}

static char *text_of_help(const char *v)
{
	struct prom_buf b;
	size_t len;

	prom_buf_init(&b);
	prom_put_help(&b, v);
	return prom_buf_take(&b, &len);
}

static char *text_of_value(double v)
{
	struct prom_buf b;
	size_t len;

	prom_buf_init(&b);
	prom_put_value(&b, v);
	return prom_buf_take(&b, &len);
}

#define CHECK_TEXT(call, want)               \
	do {                                 \
		char *got_ = (call);         \
		CHECK_STR(got_, want);       \
		free(got_);                  \
	} while (0)

static void test_escaping(void)
{
	CHECK_TEXT(text_of_label("team"), "team");
	CHECK_TEXT(text_of_label(""), "");
	CHECK_TEXT(text_of_label(NULL), "");
	CHECK_TEXT(text_of_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
	CHECK_TEXT(text_of_label("\\\\"), "\\\\\\\\");
	/* Other bytes below 0x20 are legal in a label value and go through. */
	CHECK_TEXT(text_of_label("a\tb\rc"), "a\tb\rc");
	/* UTF-8 stays; bytes that are not UTF-8 become '?', one per byte. */
	CHECK_TEXT(text_of_label("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3"),
		   "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3");
	CHECK_TEXT(text_of_label("\xff"), "?");
	CHECK_TEXT(text_of_label("a\xc0\xaf"), "a??");           /* overlong '/' */
	CHECK_TEXT(text_of_label("\xed\xa0\x80"), "???");        /* a surrogate */
	CHECK_TEXT(text_of_label("\xe2\x82"), "??");             /* cut short */
	CHECK_TEXT(text_of_label("\xf4\x90\x80\x80"), "????");   /* above U+10FFFF */
	CHECK_TEXT(text_of_label("\xe2\x82\""), "??\\\"");

	/* HELP escapes backslash and newline, never the double quote. */
	CHECK_TEXT(text_of_help("say \"hi\"\\\nbye"), "say \"hi\"\\\\\\nbye");
	CHECK_TEXT(text_of_help("bad \xfe"), "bad ?");
}

static void test_values(void)
{
	CHECK_TEXT(text_of_value(0), "0");
	CHECK_TEXT(text_of_value(1), "1");
	CHECK_TEXT(text_of_value(-3), "-3");
	CHECK_TEXT(text_of_value(0.1), "0.1");
	CHECK_TEXT(text_of_value(2.5), "2.5");
	CHECK_TEXT(text_of_value(0.1 + 0.2), "0.30000000000000004");
	CHECK_TEXT(text_of_value(1e21), "1e+21");
	CHECK_TEXT(text_of_value(123456789012), "123456789012");
	CHECK_TEXT(text_of_value(NAN), "NaN");
	CHECK_TEXT(text_of_value(INFINITY), "+Inf");
	CHECK_TEXT(text_of_value(-INFINITY), "-Inf");
}

static void test_lines(void)
{
	static const char *const names[] = { "method", "route" };
	const char *values[] = { "GET", "a\"b" };
	struct prom_buf b;
	size_t len = 0;
	char *s;

	prom_buf_init(&b);
	prom_put_header(&b, "x_total", "Things\ncounted.", "counter");
	prom_put_sample(&b, "x_total", "", names, values, 2, NULL, 3);
	prom_put_sample(&b, "x", "_bucket", names, values, 2, "0.5", 1);
	prom_put_sample(&b, "x", "_bucket", NULL, NULL, 0, "+Inf", 2);
	prom_put_sample(&b, "y", "", NULL, NULL, 0, NULL, 0.25);
	prom_put_single(&b, "z", "Zed.", "gauge", 7);
	s = prom_buf_take(&b, &len);
	CHECK_STR(s, "# HELP x_total Things\\ncounted.\n"
		     "# TYPE x_total counter\n"
		     "x_total{method=\"GET\",route=\"a\\\"b\"} 3\n"
		     "x_bucket{method=\"GET\",route=\"a\\\"b\",le=\"0.5\"} 1\n"
		     "x_bucket{le=\"+Inf\"} 2\n"
		     "y 0.25\n"
		     "# HELP z Zed.\n"
		     "# TYPE z gauge\n"
		     "z 7\n");
	CHECK_INT(len, s ? strlen(s) : 0);
	free(s);

	CHECK(prom_valid_name("berth_http_requests_total"));
	CHECK(prom_valid_name("a:b_c9"));
	CHECK(!prom_valid_name("9a"));
	CHECK(!prom_valid_name("a-b"));
	CHECK(!prom_valid_name("a b"));
	CHECK(!prom_valid_name(""));
	CHECK(!prom_valid_name(NULL));
}

static void test_buffer(void)
{
	struct prom_buf b;
	size_t len = 0, i;
	char *s;

	/* Past the first 4 KiB, and printf pieces that need a second try. */
	prom_buf_init(&b);
	for (i = 0; i < 3000; i++)
		prom_buf_printf(&b, "%05zu,", i);
	prom_buf_printf(&b, "%s", "");
	s = prom_buf_take(&b, &len);
	CHECK_INT(len, 3000 * 6);
	CHECK(s && strncmp(s, "00000,00001,", 12) == 0);
	CHECK(s && strcmp(s + len - 6, "02999,") == 0);
	free(s);
	CHECK(b.data == NULL && b.len == 0);

	/* An empty page is "" rather than NULL. */
	prom_buf_init(&b);
	s = prom_buf_take(&b, &len);
	CHECK_STR(s, "");
	CHECK_INT(len, 0);
	free(s);

	/* A failed buffer gives nothing, and stays failed. */
	prom_buf_init(&b);
	prom_buf_puts(&b, "x");
	b.failed = 1;
	prom_buf_puts(&b, "y");
	CHECK(prom_buf_take(&b, &len) == NULL);
	CHECK(b.data == NULL);
}

static void test_buckets(void)
{
	const struct prom_family_def *d = &prom_family_defs[PROM_F_DURATION];
	const double *bd = d->bounds;
	size_t n = d->n_bounds;

	CHECK_INT(n, 14);
	CHECK(bd[0] == 0.001 && bd[13] == 60);
	CHECK_INT(prom_bucket_index(bd, n, 0), 0);
	CHECK_INT(prom_bucket_index(bd, n, 0.0005), 0);
	/* Upper bounds are inclusive. */
	CHECK_INT(prom_bucket_index(bd, n, 0.001), 0);
	CHECK_INT(prom_bucket_index(bd, n, 0.0010001), 1);
	CHECK_INT(prom_bucket_index(bd, n, 0.005), 1);
	CHECK_INT(prom_bucket_index(bd, n, 0.25), 6);
	CHECK_INT(prom_bucket_index(bd, n, 0.3), 7);
	CHECK_INT(prom_bucket_index(bd, n, 1), 8);
	CHECK_INT(prom_bucket_index(bd, n, 60), 13);
	CHECK_INT(prom_bucket_index(bd, n, 60.001), 14);
	CHECK_INT(prom_bucket_index(bd, n, 1e12), 14);
	CHECK_INT(prom_bucket_index(bd, n, INFINITY), 14);
	for (size_t i = 0; i < n; i++) {
		CHECK_INT(prom_bucket_index(bd, n, bd[i]), i);
		CHECK_INT(prom_bucket_index(bd, n, bd[i] * (1 + 1e-9)), i + 1);
	}
	CHECK_INT(prom_bucket_index(bd, 0, 5), 0);
}

static char *format_family(struct prom_family *f)
{
	struct prom_snapshot snap;
	struct prom_buf b;
	size_t len;

	prom_buf_init(&b);
	if (prom_family_snapshot(f, &snap) < 0)
		return NULL;
	prom_format_snapshot(&b, &snap);
	prom_snapshot_free(&snap);
	return prom_buf_take(&b, &len);
}

static void test_histogram(void)
{
	const char *get_manifest[] = { "GET", "manifest" };
	const char *put_blob[] = { "PUT", "blob" };
	struct prom_family f;
	char *s;

	CHECK_INT(prom_family_init(&f, &prom_family_defs[PROM_F_DURATION], 16), 0);
	/* The header only, until something is observed. */
	CHECK_TEXT(format_family(&f),
		   "# HELP berth_http_request_duration_seconds Time from a request's arrival to "
		   "the end of its response.\n"
		   "# TYPE berth_http_request_duration_seconds histogram\n");
	prom_histogram_observe(&f, get_manifest, 0.25);
	prom_histogram_observe(&f, get_manifest, 0.5);
	prom_histogram_observe(&f, get_manifest, 100);
	/* Negative and NaN durations count as 0. */
	prom_histogram_observe(&f, put_blob, -1);
	prom_histogram_observe(&f, put_blob, NAN);
	s = format_family(&f);
	CHECK_STR(s,
		  "# HELP berth_http_request_duration_seconds Time from a request's arrival to "
		  "the end of its response.\n"
		  "# TYPE berth_http_request_duration_seconds histogram\n"
		  "berth_http_request_duration_seconds_bucket{method=\"GET\",route=\"manifest\",le=\"0.001\"} 0\n"
		  "berth_http_request_duration_seconds_bucket{method=\"GET\",route=\"manifest\",le=\"0.005\"} 0\n"
		  "berth_http_request_duration_seconds_bucket{method=\"GET\",route=\"manifest\",le=\"0.01\"} 0\n"
		  "berth_http_request_duration_seconds_bucket{method=\"GET\",route=\"manifest\",le=\"0.025\"} 0\n"
		  "berth_http_request_duration_seconds_bucket{method=\"GET\",route=\"manifest\",le=\"0.05\"} 0\n"
		  "berth_http_request_duration_seconds_bucket{method=\"GET\",route=\"manifest\",le=\"0.1\"} 0\n"
		  "berth_http_request_duration_seconds_bucket{method=\"GET\",route=\"manifest\",le=\"0.25\"} 1\n"
		  "berth_http_request_duration_seconds_bucket{method=\"GET\",route=\"manifest\",le=\"0.5\"} 2\n"
		  "berth_http_request_duration_seconds_bucket{method=\"GET\",route=\"manifest\",le=\"1\"} 2\n"
		  "berth_http_request_duration_seconds_bucket{method=\"GET\",route=\"manifest\",le=\"2.5\"} 2\n"
		  "berth_http_request_duration_seconds_bucket{method=\"GET\",route=\"manifest\",le=\"5\"} 2\n"
		  "berth_http_request_duration_seconds_bucket{method=\"GET\",route=\"manifest\",le=\"10\"} 2\n"
		  "berth_http_request_duration_seconds_bucket{method=\"GET\",route=\"manifest\",le=\"30\"} 2\n"
		  "berth_http_request_duration_seconds_bucket{method=\"GET\",route=\"manifest\",le=\"60\"} 2\n"
		  "berth_http_request_duration_seconds_bucket{method=\"GET\",route=\"manifest\",le=\"+Inf\"} 3\n"
		  "berth_http_request_duration_seconds_sum{method=\"GET\",route=\"manifest\"} 100.75\n"
		  "berth_http_request_duration_seconds_count{method=\"GET\",route=\"manifest\"} 3\n"
		  "berth_http_request_duration_seconds_bucket{method=\"PUT\",route=\"blob\",le=\"0.001\"} 2\n"
		  "berth_http_request_duration_seconds_bucket{method=\"PUT\",route=\"blob\",le=\"0.005\"} 2\n"
		  "berth_http_request_duration_seconds_bucket{method=\"PUT\",route=\"blob\",le=\"0.01\"} 2\n"
		  "berth_http_request_duration_seconds_bucket{method=\"PUT\",route=\"blob\",le=\"0.025\"} 2\n"
		  "berth_http_request_duration_seconds_bucket{method=\"PUT\",route=\"blob\",le=\"0.05\"} 2\n"
		  "berth_http_request_duration_seconds_bucket{method=\"PUT\",route=\"blob\",le=\"0.1\"} 2\n"
		  "berth_http_request_duration_seconds_bucket{method=\"PUT\",route=\"blob\",le=\"0.25\"} 2\n"
		  "berth_http_request_duration_seconds_bucket{method=\"PUT\",route=\"blob\",le=\"0.5\"} 2\n"
		  "berth_http_request_duration_seconds_bucket{method=\"PUT\",route=\"blob\",le=\"1\"} 2\n"
		  "berth_http_request_duration_seconds_bucket{method=\"PUT\",route=\"blob\",le=\"2.5\"} 2\n"
		  "berth_http_request_duration_seconds_bucket{method=\"PUT\",route=\"blob\",le=\"5\"} 2\n"
		  "berth_http_request_duration_seconds_bucket{method=\"PUT\",route=\"blob\",le=\"10\"} 2\n"
		  "berth_http_request_duration_seconds_bucket{method=\"PUT\",route=\"blob\",le=\"30\"} 2\n"
		  "berth_http_request_duration_seconds_bucket{method=\"PUT\",route=\"blob\",le=\"60\"} 2\n"
		  "berth_http_request_duration_seconds_bucket{method=\"PUT\",route=\"blob\",le=\"+Inf\"} 2\n"
		  "berth_http_request_duration_seconds_sum{method=\"PUT\",route=\"blob\"} 0\n"
		  "berth_http_request_duration_seconds_count{method=\"PUT\",route=\"blob\"} 2\n");
	free(s);
	/* A histogram family takes no counter adds. */
	prom_family_free(&f);
}

/* The value of the series whose single label is v, or -1. */
static double value_of(struct prom_family *f, const char *v)
{
	double found = -1;

	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->n_series; i++)
		if (strcmp(f->series[i]->values[0], v) == 0)
			found = f->series[i]->value;
	pthread_mutex_unlock(&f->lock);
	return found;
}

static void add_ns(struct prom_family *f, const char *ns, double delta)
{
	const char *values[] = { ns };

	prom_counter_add(f, values, delta);
}

static void test_cap(void)
{
	const struct prom_family_def *d = &prom_family_defs[PROM_F_PUSHES];
	char long_a[PROM_LABEL_VALUE_MAX + 50], long_b[PROM_LABEL_VALUE_MAX + 50];
	struct prom_family f;

	CHECK_INT(prom_family_init(&f, d, 2), 0);
	add_ns(&f, "team", 1);
	add_ns(&f, "solo", 1);
	add_ns(&f, "b", 1);
	add_ns(&f, "c", 1);
	add_ns(&f, "team", 2);
	add_ns(&f, "b", 1);
	CHECK_INT(f.n_series, 3);
	CHECK(value_of(&f, "team") == 3);
	CHECK(value_of(&f, "solo") == 1);
	CHECK(value_of(&f, "_other") == 3);
	CHECK(value_of(&f, "b") == -1);
	/* Counters only go up. */
	add_ns(&f, "team", -1);
	add_ns(&f, "team", NAN);
	add_ns(&f, "team", INFINITY);
	CHECK(value_of(&f, "team") == 3);
	CHECK_TEXT(format_family(&f),
		   "# HELP berth_manifest_pushes_total Manifests pushed, by repository namespace.\n"
		   "# TYPE berth_manifest_pushes_total counter\n"
		   "berth_manifest_pushes_total{namespace=\"team\"} 3\n"
		   "berth_manifest_pushes_total{namespace=\"solo\"} 1\n"
		   "berth_manifest_pushes_total{namespace=\"_other\"} 3\n");
	prom_family_free(&f);

	/* Cap 0: namespaces are not told apart at all. */
	CHECK_INT(prom_family_init(&f, d, 0), 0);
	add_ns(&f, "team", 1);
	add_ns(&f, "x", 1);
	CHECK_INT(f.n_series, 1);
	CHECK(value_of(&f, "_other") == 2);
	prom_family_free(&f);

	/* Values are cut to PROM_LABEL_VALUE_MAX bytes; two that differ only after that share a series. */
	memset(long_a, 'a', sizeof(long_a) - 1);
	long_a[sizeof(long_a) - 1] = '\0';
	memcpy(long_b, long_a, sizeof(long_b));
	long_b[sizeof(long_b) - 2] = 'b';
	CHECK_INT(prom_family_init(&f, d, 10), 0);
	add_ns(&f, long_a, 1);
	add_ns(&f, long_b, 1);
	CHECK_INT(f.n_series, 1);
	CHECK_INT(strlen(f.series[0]->values[0]), PROM_LABEL_VALUE_MAX);
	CHECK(f.series[0]->value == 2);
	/* Escaping in a formatted family. */
	add_ns(&f, "x\"y\\z\n", 1);
	{
		char *s = format_family(&f);

		CHECK(s && strstr(s, "berth_manifest_pushes_total{namespace=\"x\\\"y\\\\z\\n\"} 1\n"));
		free(s);
	}
	prom_family_free(&f);
}

/* Many hash collisions and table growth: every series still found. */
static void test_many_series(void)
{
	struct prom_family f;
	char name[32];
	int ok = 1;

	CHECK_INT(prom_family_init(&f, &prom_family_defs[PROM_F_PULLS], 5000), 0);
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 2000; i++) {
			snprintf(name, sizeof(name), "ns%d", i);
			add_ns(&f, name, 1);
		}
	CHECK_INT(f.n_series, 2000);
	for (int i = 0; i < 2000; i += 97) {
		snprintf(name, sizeof(name), "ns%d", i);
		if (value_of(&f, name) != 3)
			ok = 0;
	}
	CHECK(ok);
	prom_family_free(&f);
}

struct adder {
	struct prom_family *counter, *histogram;
	int id;
};

static void *add_many(void *arg)
{
	struct adder *a = arg;
	const char *ns[] = { a->id % 2 ? "odd" : "even" };
	const char *hv[] = { "GET", a->id % 2 ? "blob" : "manifest" };

	for (int i = 0; i < 20000; i++) {
		prom_counter_add(a->counter, ns, 1);
		prom_histogram_observe(a->histogram, hv, (double)(i % 100) / 1000.0);
	}
	return NULL;
}

/* Concurrent updates and snapshots: no count lost (run under the sanitizers too). */
static void test_threads(void)
{
	struct prom_family c, h;
	struct adder a[4];
	pthread_t t[4];
	uint64_t total = 0;

	CHECK_INT(prom_family_init(&c, &prom_family_defs[PROM_F_PULLS], 10), 0);
	CHECK_INT(prom_family_init(&h, &prom_family_defs[PROM_F_DURATION], 10), 0);
	for (int i = 0; i < 4; i++) {
		a[i] = (struct adder){ .counter = &c, .histogram = &h, .id = i };
		pthread_create(&t[i], NULL, add_many, &a[i]);
	}
	for (int i = 0; i < 50; i++) {
		char *s = format_family(&h);

		CHECK(s != NULL);
		free(s);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CHECK(value_of(&c, "odd") == 40000);
	CHECK(value_of(&c, "even") == 40000);
	for (size_t i = 0; i < h.n_series; i++) {
		uint64_t sum = 0;

		for (size_t k = 0; k <= h.def->n_bounds; k++)
			sum += h.series[i]->buckets[k];
		CHECK_INT(sum, h.series[i]->count);
		total += h.series[i]->count;
	}
	CHECK_INT(total, 80000);
	prom_family_free(&c);
	prom_family_free(&h);
}

static void test_labels(void)
{
	char ns[8];

	CHECK_STR(prom_method_label("GET"), "GET");
	CHECK_STR(prom_method_label("head"), "HEAD");
	CHECK_STR(prom_method_label("PUT"), "PUT");
	CHECK_STR(prom_method_label("POST"), "POST");
	CHECK_STR(prom_method_label("PATCH"), "PATCH");
	CHECK_STR(prom_method_label("DELETE"), "DELETE");
	CHECK_STR(prom_method_label("OPTIONS"), "OTHER");
	CHECK_STR(prom_method_label("GETX"), "OTHER");
	CHECK_STR(prom_method_label(""), "OTHER");
	CHECK_STR(prom_method_label(NULL), "OTHER");

	CHECK_STR(prom_route_label(BERTH_ROUTE_OTHER), "other");
	CHECK_STR(prom_route_label(BERTH_ROUTE_BASE), "base");
	CHECK_STR(prom_route_label(BERTH_ROUTE_CATALOG), "catalog");
	CHECK_STR(prom_route_label(BERTH_ROUTE_TAGS), "tags");
	CHECK_STR(prom_route_label(BERTH_ROUTE_MANIFEST), "manifest");
	CHECK_STR(prom_route_label(BERTH_ROUTE_BLOB), "blob");
	CHECK_STR(prom_route_label(BERTH_ROUTE_UPLOAD), "upload");
	CHECK_STR(prom_route_label(BERTH_ROUTE_REFERRERS), "referrers");
	CHECK_STR(prom_route_label(BERTH_ROUTE_PLUGIN), "plugin");
	CHECK_STR(prom_route_label(BERTH_ROUTE_ADMIN), "admin");
	CHECK_STR(prom_route_label(99), "other");
	CHECK_STR(prom_route_label(-1), "other");

	CHECK_STR(prom_status_class(200), "2xx");
	CHECK_STR(prom_status_class(202), "2xx");
	CHECK_STR(prom_status_class(307), "3xx");
	CHECK_STR(prom_status_class(401), "4xx");
	CHECK_STR(prom_status_class(404), "4xx");
	CHECK_STR(prom_status_class(499), "4xx");
	CHECK_STR(prom_status_class(500), "5xx");
	CHECK_STR(prom_status_class(507), "5xx");
	CHECK_STR(prom_status_class(0), "5xx");

	prom_namespace("team/app", ns, sizeof(ns));
	CHECK_STR(ns, "team");
	prom_namespace("team/sub/app", ns, sizeof(ns));
	CHECK_STR(ns, "team");
	prom_namespace("solo", ns, sizeof(ns));
	CHECK_STR(ns, "solo");
	prom_namespace("", ns, sizeof(ns));
	CHECK_STR(ns, "");
	prom_namespace(NULL, ns, sizeof(ns));
	CHECK_STR(ns, "");
	prom_namespace("/x", ns, sizeof(ns));
	CHECK_STR(ns, "");
	prom_namespace("averyverylongname/app", ns, sizeof(ns));
	CHECK_STR(ns, "averyve");
}

static void test_process(void)
{
	struct prom_process p = {0};

	/* comm may hold spaces and parentheses: fields start after the last ')'. */
	CHECK_INT(prom_process_parse_stat("4242 (a) b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 "
					  "250 50 0 0 20 0 4 0 12345 1000000 200 "
					  "18446744073709551615 1 1 0\n",
					  100, 1700000000, &p), 0);
	CHECK(p.have == (PROM_PROC_CPU | PROM_PROC_START));
	CHECK(p.cpu_seconds == 3);
	CHECK(p.start_time == 1700000000 + 123.45);
	/* Without a boot time there is no start time. */
	memset(&p, 0, sizeof(p));
	CHECK_INT(prom_process_parse_stat("1 (x) S 1 1 1 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 5 6 7\n",
					  10, 0, &p), 0);
	CHECK(p.have == PROM_PROC_CPU);
	CHECK(p.cpu_seconds == 1);
	CHECK(prom_process_parse_stat("1 (x) S 1 1", 100, 1, &p) < 0);
	CHECK(prom_process_parse_stat("no parenthesis", 100, 1, &p) < 0);
	CHECK(prom_process_parse_stat("", 100, 1, &p) < 0);

	memset(&p, 0, sizeof(p));
	CHECK_INT(prom_process_parse_status("Name:\tberth\nVmPeak:\t 9 kB\nVmSize:\t    3896 kB\n"
					    "VmRSS:\t    2060 kB\nThreads:\t4\n", &p), 0);
	CHECK(p.have == (PROM_PROC_RESIDENT | PROM_PROC_VIRTUAL));
	CHECK(p.resident_bytes == 2060.0 * 1024);
	CHECK(p.virtual_bytes == 3896.0 * 1024);
	memset(&p, 0, sizeof(p));
	CHECK(prom_process_parse_status("Name:\tkthread\n", &p) < 0);
	CHECK(p.have == 0);

	memset(&p, 0, sizeof(p));
	CHECK_INT(prom_process_parse_limits(
			  "Limit                     Soft Limit           Hard Limit           Units     \n"
			  "Max processes             96364                96364                processes \n"
			  "Max open files            20000                1048576              files     \n",
			  &p), 0);
	CHECK(p.have == PROM_PROC_MAX_FDS);
	CHECK(p.max_fds == 20000);
	memset(&p, 0, sizeof(p));
	CHECK(prom_process_parse_limits("Max open files            unlimited            "
					"unlimited            files\n", &p) < 0);
	CHECK(p.have == 0);

	CHECK(prom_process_parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1795802532\nprocesses 9\n") ==
	      1795802532);
	CHECK(prom_process_parse_boot_time("cpu  1 2 3\n") == 0);

	/* This process, for real. */
	prom_process_read(&p, prom_process_start_time());
	CHECK(p.have & PROM_PROC_CPU);
	CHECK(p.have & PROM_PROC_START);
	CHECK(p.have & PROM_PROC_RESIDENT);
	CHECK(p.have & PROM_PROC_FDS);
	CHECK(p.open_fds >= 3);
	CHECK(p.resident_bytes > 0);
	{
		struct prom_buf b;
		size_t len;
		char *s;

		prom_buf_init(&b);
		prom_process_format(&b, &p);
		s = prom_buf_take(&b, &len);
		CHECK(s && strstr(s, "# TYPE process_cpu_seconds_total counter\n"));
		CHECK(s && strstr(s, "# TYPE process_resident_memory_bytes gauge\n"));
		CHECK(s && strstr(s, "\nprocess_open_fds "));
		free(s);
	}
}

static void check_listen(const char *text, int ok, const char *message_part)
{
	struct sockaddr_storage addr;
	socklen_t len = 0;
	berth_error err = {0};
	int rc = prom_listen_parse(text, &addr, &len, &err);

	if (ok) {
		CHECK_INT(rc, 0);
		CHECK(len > 0);
		return;
	}
	CHECK_INT(rc, BERTH_E_CONFIG);
	CHECK(strstr(err.message, message_part) != NULL);
	if (!strstr(err.message, message_part))
		fprintf(stderr, "  listen '%s': '%s'\n", text, err.message);
}

static void test_listen(void)
{
	struct sockaddr_storage addr;
	socklen_t len = 0;

	check_listen("127.0.0.1:5001", 1, NULL);
	check_listen("0.0.0.0:9100", 1, NULL);
	check_listen("[::1]:5001", 1, NULL);
	check_listen("[::]:5001", 1, NULL);
	check_listen("127.0.0.1", 0, "invalid listen '127.0.0.1': expected HOST:PORT");
	check_listen("127.0.0.1:0", 0, "invalid listen port in '127.0.0.1:0'");
	check_listen("127.0.0.1:65536", 0, "expected 1-65535");
	check_listen("127.0.0.1:50010", 1, NULL);
	check_listen("127.0.0.1:5001x", 0, "expected 1-65535");
	check_listen("127.0.0.1:", 0, "expected 1-65535");
	check_listen(":5001", 0, "the host is missing");
	check_listen("::1:5001", 0, "in brackets");
	check_listen("[::1]5001", 0, "expected [IPV6]:PORT");
	check_listen("[nope]:5001", 0, "cannot resolve");
	check_listen("[]:5001", 0, "not an IPv6 address");
	check_listen("bad host:5001", 0, "not a host name or address");
	check_listen("a\nb:5001", 0, "invalid listen 'a?b:5001'");

	prom_listen_parse("127.0.0.1:5001", &addr, &len, NULL);
	CHECK(addr.ss_family == AF_INET);
	CHECK(is_loopback(&addr));
	prom_listen_parse("[::1]:5001", &addr, &len, NULL);
	CHECK(addr.ss_family == AF_INET6);
	CHECK(is_loopback(&addr));
	prom_listen_parse("0.0.0.0:5001", &addr, &len, NULL);
	CHECK(!is_loopback(&addr));
}

/* What a host's registry might hold, clashes and bad input included. */
static void fake_metrics(berth_metric_fn fn, void *ctx)
{
	fn(ctx, "plugin_hits_total", "Hits.\nSecond \\ line.", BERTH_METRIC_COUNTER,
	   "kind=\"a\"", 2);
	fn(ctx, "plugin_hits_total", "Hits.\nSecond \\ line.", BERTH_METRIC_COUNTER,
	   "kind=\"b{c}\"", 3);
	fn(ctx, "plugin_hits_total", "Hits.", BERTH_METRIC_COUNTER, "kind=\"x\ny\"", 4);
	fn(ctx, "berth_http_requests_total", "A clash.", BERTH_METRIC_COUNTER, "", 99);
	fn(ctx, "berth_http_request_duration_seconds_count", "A clash.", BERTH_METRIC_GAUGE, "",
	   99);
	fn(ctx, "process_open_fds", "A clash.", BERTH_METRIC_GAUGE, "", 99);
	fn(ctx, "9bad", "Not a name.", BERTH_METRIC_GAUGE, "", 99);
	fn(ctx, "", "No name.", BERTH_METRIC_GAUGE, "", 99);
	fn(ctx, NULL, "No name.", BERTH_METRIC_GAUGE, "", 99);
	fn(ctx, "berth_queue_depth", NULL, BERTH_METRIC_GAUGE, "", 0.5);
	fn(ctx, "odd_type", "Neither.", 7, NULL, 1);
}

static void fake_instances(void (*fn)(void *ctx, const char *instance, const char *plugin,
				      const char *version, unsigned kinds),
			   void *ctx)
{
	fn(ctx, "storage-fs", "storage-fs", "0.1.0", BERTH_KIND_STORAGE);
	fn(ctx, "metrics", "metrics-prometheus", "0.1.0",
	   BERTH_KIND_REQUEST | BERTH_KIND_NOTIFY | BERTH_KIND_ROUTES);
	fn(ctx, "odd", "odd\"plugin", NULL, 0);
}

static size_t count_of(const char *s, const char *what)
{
	size_t n = 0;

	for (const char *p = s; (p = strstr(p, what)) != NULL; p++)
		n++;
	return n;
}

static void test_page(void)
{
	static struct prom_state st;
	static berth_host host;
	const char *pull[] = { "GET", "manifest", "2xx" };
	char *page = NULL;
	size_t len = 0;

	host.size = sizeof(host);
	host.version = "9.9.9";
	host.metrics_foreach = fake_metrics;
	host.instances_foreach = fake_instances;
	st.host = &host;
	st.cfg.namespace_cap = 2;
	CHECK_INT(prom_storage_init(&st.storage), 0);
	CHECK_INT(prom_families_init(&st), 0);
	CHECK_INT(st.n_families, PROM_N_FAMILIES);
	prom_counter_add(&st.families[PROM_F_REQUESTS], pull, 1);

	CHECK_INT(prom_render(&st, &page, &len), 0);
	CHECK(page && strlen(page) == len);
	if (!page)
		return;
	CHECK(strncmp(page, "# HELP berth_build_info ", 24) == 0);
	CHECK(strstr(page, "\nberth_build_info{version=\"9.9.9\"} 1\n"));
	CHECK(strstr(page, "\nberth_plugin_info{plugin_instance=\"metrics\",plugin=\"metrics-prometheus\","
			   "version=\"0.1.0\",kinds=\"request,notify,routes\"} 1\n"));
	CHECK(strstr(page, "\nberth_plugin_info{plugin_instance=\"odd\",plugin=\"odd\\\"plugin\","
			   "version=\"\",kinds=\"none\"} 1\n"));
	CHECK(strstr(page, "\nberth_http_requests_total{method=\"GET\",route=\"manifest\","
			   "code=\"2xx\"} 1\n"));
	/* Each family of the plugin once, with or without samples. */
	for (size_t i = 0; i < PROM_N_FAMILIES; i++) {
		char line[160];

		snprintf(line, sizeof(line), "# TYPE %s ", prom_family_defs[i].name);
		CHECK_INT(count_of(page, line), 1);
	}
	/* Host metrics: help escaped, one header per name, labels as given. */
	CHECK(strstr(page, "# HELP plugin_hits_total Hits.\\nSecond \\\\ line.\n"
			   "# TYPE plugin_hits_total counter\n"
			   "plugin_hits_total{kind=\"a\"} 2\n"
			   "plugin_hits_total{kind=\"b{c}\"} 3\n"));
	CHECK_INT(count_of(page, "# TYPE plugin_hits_total"), 1);
	/* A raw newline in labels would break the page: that series is left out. */
	CHECK(!strstr(page, "x\ny"));
	CHECK(strstr(page, "# HELP berth_queue_depth (no help given)\n"
			   "# TYPE berth_queue_depth gauge\n"
			   "berth_queue_depth 0.5\n"));
	CHECK(strstr(page, "# TYPE odd_type untyped\nodd_type 1\n"));
	/* Clashes with the plugin's own names and invalid names are left out. */
	CHECK(!strstr(page, " 99\n"));
	CHECK(!strstr(page, "A clash."));
	CHECK(!strstr(page, "9bad"));
	CHECK_INT(count_of(page, "# TYPE berth_http_requests_total"), 1);
	CHECK_INT(count_of(page, "# TYPE process_open_fds"), 1);
	/* No storage numbers before a refresh. */
	CHECK(!strstr(page, "berth_storage_"));
	/* Every line ends; no empty line. */
	CHECK(len > 0 && page[len - 1] == '\n');
	CHECK(!strstr(page, "\n\n"));
	free(page);

	/* After a refresh: the gauges, total left out when unknown. */
	st.storage.have = 1;
	st.storage.usage.bytes_used = 1462;
	st.storage.usage.bytes_available = 1000;
	st.storage.usage.bytes_total = 0;
	st.storage.usage.objects = 2;
	CHECK_INT(prom_render(&st, &page, &len), 0);
	CHECK(page && strstr(page, "\nberth_storage_used_bytes 1462\n"));
	CHECK(page && strstr(page, "\nberth_storage_available_bytes 1000\n"));
	CHECK(page && strstr(page, "\nberth_storage_objects 2\n"));
	CHECK(page && !strstr(page, "berth_storage_total_bytes"));
	free(page);
	st.storage.usage.bytes_total = 4096;
	CHECK_INT(prom_render(&st, &page, &len), 0);
	CHECK(page && strstr(page, "# TYPE berth_storage_total_bytes gauge\n"
				   "berth_storage_total_bytes 4096\n"));
	free(page);

	prom_families_free(&st);
	CHECK_INT(st.n_families, 0);
	prom_storage_destroy(&st.storage);
}

static void test_authorized(void)
{
	char token[] = "s3cret";
	struct prom_state st;

	memset(&st, 0, sizeof(st));
	CHECK(prom_authorized(&st, NULL));
	CHECK(prom_authorized(&st, "Bearer whatever"));
	st.cfg.token = token;
	st.cfg.token_len = 6;
	CHECK(prom_authorized(&st, "Bearer s3cret"));
	CHECK(prom_authorized(&st, "bearer   s3cret "));
	CHECK(!prom_authorized(&st, NULL));
	CHECK(!prom_authorized(&st, ""));
	CHECK(!prom_authorized(&st, "Bearer"));
	CHECK(!prom_authorized(&st, "Bearer "));
	CHECK(!prom_authorized(&st, "Bearer s3cre"));
	CHECK(!prom_authorized(&st, "Bearer s3cret2"));
	CHECK(!prom_authorized(&st, "Bearer S3CRET"));
	CHECK(!prom_authorized(&st, "Basic czNjcmV0"));
	CHECK(!prom_authorized(&st, "s3cret"));
	CHECK(!prom_authorized(&st, "Bearers3cret"));
}

int main(void)
{
	test_escaping();
	test_values();
	test_lines();
	test_buffer();
	test_buckets();
	test_histogram();
	test_cap();
	test_many_series();
	test_threads();
	test_labels();
	test_process();
	test_listen();
	test_page();
	test_authorized();
	TEST_MAIN_END();
}
