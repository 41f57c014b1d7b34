/*
 * prom_scrape.c - one scrape: who may read the page, and the page itself.
 *
 * Both listeners (the plugin's own, and GET /metrics on the main port)
 * come here, so they answer the same way. The page is built from copies:
 * each family is copied under its own lock and formatted after, the host's
 * registry is read through metrics_foreach (which copies the same way),
 * storage numbers were computed earlier on the job thread, and /proc is
 * read now. No lock is held while text is written.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "prom.h"

/* Families this plugin writes itself; a host metric with one of these names is left out. */
static const char *const own_names[] = {
	"berth_build_info",
	"berth_plugin_info",
	"berth_storage_used_bytes",
	"berth_storage_available_bytes",
	"berth_storage_total_bytes",
	"berth_storage_objects",
	"process_cpu_seconds_total",
	"process_resident_memory_bytes",
	"process_virtual_memory_bytes",
	"process_open_fds",
	"process_max_fds",
	"process_start_time_seconds",
};

/* One exposition may not name a family twice, or a histogram's series as another family. */
static int own_name(const char *name)
{
	size_t i, len;

	for (i = 0; i < sizeof(own_names) / sizeof(own_names[0]); i++)
		if (strcmp(name, own_names[i]) == 0)
			return 1;
	for (i = 0; i < PROM_N_FAMILIES; i++) {
		const struct prom_family_def *def = &prom_family_defs[i];

		len = strlen(def->name);
		if (strncmp(name, def->name, len) != 0)
			continue;
		if (name[len] == '\0')
			return 1;
		if (def->type == PROM_HISTOGRAM &&
		    (strcmp(name + len, "_bucket") == 0 || strcmp(name + len, "_sum") == 0 ||
		     strcmp(name + len, "_count") == 0))
			return 1;
	}
	return 0;
}

/*
 * A constant-time comparison of the presented token with the configured
 * one, so the time a refusal takes says nothing about how much matched.
 */
static int token_equal(const char *given, size_t given_len, const char *want, size_t want_len)
{
	unsigned char diff = given_len != want_len;
	size_t i;

	for (i = 0; i < want_len; i++)
		diff |= (unsigned char)(want[i] ^ (i < given_len ? given[i] : 0));
	return diff == 0;
}

int prom_authorized(const struct prom_state *st, const char *authorization)
{
	const char *t;
	size_t len;

	if (!st->cfg.token)
		return 1;
	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return 0;
	t = authorization + 7;
	while (*t == ' ')
		t++;
	len = strlen(t);
	while (len > 0 && (t[len - 1] == ' ' || t[len - 1] == '\t'))
		len--;
	return token_equal(t, len, st->cfg.token, st->cfg.token_len);
}

static void put_build_info(struct prom_state *st, struct prom_buf *b)
{
	static const char *const names[] = { "version" };
	const char *values[1] = { st->host->version ? st->host->version : "" };

	prom_put_header(b, "berth_build_info", "Berth's version, as a label; the value is 1.",
			"gauge");
	prom_put_sample(b, "berth_build_info", "", names, values, 1, NULL, 1);
}

static const struct {
	unsigned bit;
	const char *name;
} kind_names[] = {
	{ BERTH_KIND_REQUEST, "request" }, { BERTH_KIND_AUTH, "auth" },
	{ BERTH_KIND_STORAGE, "storage" }, { BERTH_KIND_SCAN, "scan" },
	{ BERTH_KIND_NOTIFY, "notify" },   { BERTH_KIND_ROUTES, "routes" },
	{ BERTH_KIND_JOBS, "jobs" },
};

static void put_plugin(void *ctx, const char *instance, const char *plugin, const char *version,
		       unsigned kinds)
{
	/* Not "instance": Prometheus keeps that label for the scrape target. */
	static const char *const names[] = { "plugin_instance", "plugin", "version", "kinds" };
	struct prom_buf *b = ctx;
	char text[128];
	const char *values[4];
	size_t i, n = 0;

	text[0] = '\0';
	for (i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++) {
		int w;

		if (!(kinds & kind_names[i].bit))
			continue;
		w = snprintf(text + n, sizeof(text) - n, "%s%s", n ? "," : "", kind_names[i].name);
		if (w < 0 || (size_t)w >= sizeof(text) - n)
			break;
		n += (size_t)w;
	}
	values[0] = instance ? instance : "";
	values[1] = plugin ? plugin : "";
	values[2] = version ? version : "";
	values[3] = n ? text : "none";
	prom_put_sample(b, "berth_plugin_info", "", names, values, 4, NULL, 1);
}

static void put_plugin_info(struct prom_state *st, struct prom_buf *b)
{
	if (!BERTH_HOST_HAS(st->host, instances_foreach) || !st->host->instances_foreach)
		return;
	prom_put_header(b, "berth_plugin_info",
			"Each loaded plugin instance with its plugin, version and kinds; the value "
			"is 1.", "gauge");
	st->host->instances_foreach(put_plugin, b);
}

static void put_families(struct prom_state *st, struct prom_buf *b)
{
	size_t i;

	for (i = 0; i < st->n_families; i++) {
		struct prom_snapshot snap;

		if (prom_family_snapshot(&st->families[i], &snap) < 0) {
			b->failed = 1;
			return;
		}
		prom_format_snapshot(b, &snap);
		prom_snapshot_free(&snap);
	}
}

/* Reading the host's registry: one metric's series come one after another. */
struct host_metrics {
	struct prom_buf *b;
	char current[256];
	int skip;
};

static void put_host_series(void *ctx, const char *name, const char *help, int type,
			    const char *labels, double value)
{
	struct host_metrics *hm = ctx;
	size_t len;

	if (!name || !*name)
		return;
	if (strcmp(name, hm->current) != 0) {
		len = strlen(name);
		hm->skip = len >= sizeof(hm->current) || !prom_valid_name(name) || own_name(name);
		snprintf(hm->current, sizeof(hm->current), "%s", name);
		/* Prometheus' linter refuses a family without help; the host does not require one. */
		if (!hm->skip)
			prom_put_header(hm->b, name, help && *help ? help : "(no help given)",
					type == BERTH_METRIC_COUNTER ? "counter"
					: type == BERTH_METRIC_GAUGE ? "gauge" : "untyped");
	}
	/* The host formats and escapes labels; a raw newline would still break the page. */
	if (hm->skip || (labels && strchr(labels, '\n')))
		return;
	prom_buf_puts(hm->b, name);
	if (labels && *labels) {
		prom_buf_puts(hm->b, "{");
		prom_buf_puts(hm->b, labels);
		prom_buf_puts(hm->b, "}");
	}
	prom_buf_puts(hm->b, " ");
	prom_put_value(hm->b, value);
	prom_buf_puts(hm->b, "\n");
}

static void put_host_metrics(struct prom_state *st, struct prom_buf *b)
{
	struct host_metrics hm = { .b = b };

	if (!BERTH_HOST_HAS(st->host, metrics_foreach) || !st->host->metrics_foreach)
		return;
	st->host->metrics_foreach(put_host_series, &hm);
}

int prom_render(struct prom_state *st, char **page, size_t *len)
{
	struct prom_process proc;
	struct prom_buf b;

	prom_buf_init(&b);
	put_build_info(st, &b);
	put_plugin_info(st, &b);
	put_families(st, &b);
	prom_storage_format(&b, &st->storage);
	put_host_metrics(st, &b);
	prom_process_read(&proc, st->start_time);
	prom_process_format(&b, &proc);
	*page = prom_buf_take(&b, len);
	return *page ? 0 : BERTH_E_NOMEM;
}
