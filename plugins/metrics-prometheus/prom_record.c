/*
 * prom_record.c - what this plugin counts: the families it owns, and how a
 * finished request (request after()) and an event (notify deliver()) turn
 * into label values.
 *
 * Every label value here comes from a small fixed set, except the
 * namespace, which comes from the repository a client named: its families
 * are capped (namespace_cap), so no client can grow the page without
 * bound.
 */
#include <string.h>
#include <strings.h>

#include "prom.h"

/*
 * Request label sets are bounded by construction (7 methods x 10 routes x
 * 4 classes); the cap is only a backstop.
 */
#define HTTP_SERIES_CAP 1024

static const char *const labels_method_route_code[] = { "method", "route", "code" };
static const char *const labels_method_route[] = { "method", "route" };
static const char *const labels_route[] = { "route" };
static const char *const labels_namespace[] = { "namespace" };

static const double duration_bounds[] = {
	0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

const struct prom_family_def prom_family_defs[PROM_N_FAMILIES] = {
	[PROM_F_REQUESTS] = {
		.name = "berth_http_requests_total",
		.help = "HTTP requests answered, by method, route and status class.",
		.type = PROM_COUNTER,
		.label_names = labels_method_route_code, .n_labels = N(labels_method_route_code) },
	[PROM_F_DURATION] = {
		.name = "berth_http_request_duration_seconds",
		.help = "Time from a request's arrival to the end of its response.",
		.type = PROM_HISTOGRAM,
		.label_names = labels_method_route, .n_labels = N(labels_method_route),
		.bounds = duration_bounds, .n_bounds = N(duration_bounds) },
	[PROM_F_REQUEST_BYTES] = {
		.name = "berth_http_request_bytes_total",
		.help = "Request body bytes received, by route.",
		.type = PROM_COUNTER,
		.label_names = labels_route, .n_labels = N(labels_route) },
	[PROM_F_RESPONSE_BYTES] = {
		.name = "berth_http_response_bytes_total",
		.help = "Response body bytes sent, by route.",
		.type = PROM_COUNTER,
		.label_names = labels_route, .n_labels = N(labels_route) },
	[PROM_F_PULLS] = {
		.name = "berth_manifest_pulls_total",
		.help = "Manifests served by GET, by repository namespace.",
		.type = PROM_COUNTER,
		.label_names = labels_namespace, .n_labels = N(labels_namespace) },
	[PROM_F_PUSHES] = {
		.name = "berth_manifest_pushes_total",
		.help = "Manifests pushed, by repository namespace.",
		.type = PROM_COUNTER,
		.label_names = labels_namespace, .n_labels = N(labels_namespace) },
	[PROM_F_PULL_FAILURES] = {
		.name = "berth_pull_failures_total",
		.help = "Manifest GETs answered 403 or 5xx, by repository namespace.",
		.type = PROM_COUNTER,
		.label_names = labels_namespace, .n_labels = N(labels_namespace) },
	[PROM_F_SCAN_BLOCKS] = {
		.name = "berth_scan_blocks_total",
		.help = "Manifest pulls refused by a scan gate, by repository namespace.",
		.type = PROM_COUNTER,
		.label_names = labels_namespace, .n_labels = N(labels_namespace) },
};

static int is_namespace_family(int family)
{
	return prom_family_defs[family].n_labels == 1 &&
	       strcmp(prom_family_defs[family].label_names[0], "namespace") == 0;
}

int prom_families_init(struct prom_state *st)
{
	int rc;

	for (st->n_families = 0; st->n_families < PROM_N_FAMILIES; st->n_families++) {
		size_t i = st->n_families;

		rc = prom_family_init(&st->families[i], &prom_family_defs[i],
				      is_namespace_family((int)i) ? st->cfg.namespace_cap
								  : HTTP_SERIES_CAP);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void prom_families_free(struct prom_state *st)
{
	while (st->n_families > 0)
		prom_family_free(&st->families[--st->n_families]);
}

const char *prom_method_label(const char *method)
{
	static const char *const known[] = { "GET", "HEAD", "PUT", "POST", "PATCH", "DELETE" };
	size_t i;

	for (i = 0; method && i < N(known); i++)
		if (strcasecmp(method, known[i]) == 0)
			return known[i];
	return "OTHER";
}

const char *prom_route_label(int route_kind)
{
	switch (route_kind) {
	case BERTH_ROUTE_BASE:
		return "base";
	case BERTH_ROUTE_CATALOG:
		return "catalog";
	case BERTH_ROUTE_TAGS:
		return "tags";
	case BERTH_ROUTE_MANIFEST:
		return "manifest";
	case BERTH_ROUTE_BLOB:
		return "blob";
	case BERTH_ROUTE_UPLOAD:
		return "upload";
	case BERTH_ROUTE_REFERRERS:
		return "referrers";
	case BERTH_ROUTE_PLUGIN:
		return "plugin";
	case BERTH_ROUTE_ADMIN:
		return "admin";
	default:
		/* BERTH_ROUTE_OTHER, and kinds a newer host may add. */
		return "other";
	}
}

/* 499 (the client went away) is a 4xx; anything the host could not answer is a 5xx. */
const char *prom_status_class(int status)
{
	if (status >= 500 || status <= 0)
		return "5xx";
	if (status >= 400)
		return "4xx";
	if (status >= 300)
		return "3xx";
	return "2xx";
}

void prom_namespace(const char *repository, char *out, size_t cap)
{
	const char *slash;
	size_t len;

	if (cap == 0)
		return;
	if (!repository) {
		out[0] = '\0';
		return;
	}
	slash = strchr(repository, '/');
	len = slash ? (size_t)(slash - repository) : strlen(repository);
	if (len >= cap)
		len = cap - 1;
	memcpy(out, repository, len);
	out[len] = '\0';
}

static void count_namespace(struct prom_state *st, int family, const char *repository)
{
	char ns[PROM_LABEL_VALUE_MAX + 1];
	const char *values[1] = { ns };

	prom_namespace(repository, ns, sizeof(ns));
	if (!ns[0])
		return;
	prom_counter_add(&st->families[family], values, 1);
}

void prom_record_request(struct prom_state *st, const berth_request *req,
			 const berth_request_result *res)
{
	const berth_host *h = st->host;
	const char *method = prom_method_label(h->request_method(req));
	int kind = h->request_route(req);
	const char *route = prom_route_label(kind);
	const char *code = prom_status_class(res->status);
	const char *requests[3] = { method, route, code };
	const char *duration[2] = { method, route };
	const char *by_route[1] = { route };
	double seconds = res->duration_ms / 1000.0;

	prom_counter_add(&st->families[PROM_F_REQUESTS], requests, 1);
	prom_histogram_observe(&st->families[PROM_F_DURATION], duration, seconds);
	prom_counter_add(&st->families[PROM_F_REQUEST_BYTES], by_route, (double)res->bytes_in);
	prom_counter_add(&st->families[PROM_F_RESPONSE_BYTES], by_route, (double)res->bytes_out);
	/*
	 * A pull that failed emits no event, so it is counted here: what the
	 * pull-failure alert compares with the "pull" events. 403 is a scan
	 * gate or a policy refusing a known identity; 5xx is Berth failing.
	 */
	if (kind == BERTH_ROUTE_MANIFEST && strcmp(method, "GET") == 0 &&
	    (res->status >= 500 || res->status == 403))
		count_namespace(st, PROM_F_PULL_FAILURES, h->request_repository(req));
}

void prom_record_event(struct prom_state *st, const berth_event *ev)
{
	int family;

	/* Only the core's events: a plugin may emit any type, "push" included. */
	if (!ev->type || !ev->source || strcmp(ev->source, "core") != 0)
		return;
	if (strcmp(ev->type, "push") == 0)
		family = PROM_F_PUSHES;
	else if (strcmp(ev->type, "pull") == 0)
		family = PROM_F_PULLS;
	else if (strcmp(ev->type, "pull.blocked") == 0)
		family = PROM_F_SCAN_BLOCKS;
	else
		return;
	count_namespace(st, family, ev->repository);
}
