/*
 * retention.c - the retention plugin: policies that decide which tags and
 * manifests to delete, run as the job `retention`; immutable tags; and
 * the plan as JSON at GET /berth/v1/retention/plan.
 *
 * This file holds the descriptor and the instance's lifecycle, and hands
 * each hook to the file that does the work:
 *   job `retention`       -> retention_job.c
 *   route /berth/v1/retention/plan -> retention_route.c
 *   request before()      -> retention_immutable.c
 *
 * The space itself comes back later: deleting a manifest leaves its blobs
 * to the registry's garbage collection (`berth gc`).
 */
#include <stdlib.h>
#include <string.h>

#include "retention.h"

/* What reading the config needs: also all that check_config() is given. */
static int host_reads_config(const berth_host *h)
{
	return h && BERTH_HOST_HAS(h, config_where) && h->config_string && h->config_bool &&
	       h->config_list_count && h->config_list_string && h->config_child &&
	       h->config_list_child && h->config_key_count && h->config_key_at && h->config_where;
}

static int host_usable(const berth_host *h)
{
	return host_reads_config(h) && h->log && h->now_ms &&
	       h->request_method && h->request_path && h->request_route &&
	       h->request_repository && h->request_reference && h->request_query && h->respond &&
	       h->emit_event && h->list_repositories && h->list_tags && h->read_manifest &&
	       h->delete_tag && h->delete_manifest && h->metric_register && h->metric_add &&
	       h->job_dry_run && h->job_print && h->list_manifests && h->manifest_times;
}

/*
 * `berth config check`: the very parsing create() does (policies, patterns,
 * immutable tags), with the result thrown away: no instance, no metric,
 * no log line.
 */
static int retention_check_config(const berth_host *host, const berth_config *config,
				  berth_error *err)
{
	struct retention_state st = {.host = host};
	int rc;

	if (!host_reads_config(host))
		return retention_fail(err, BERTH_E_UNSUPPORTED,
				      "this Berth lacks the structured config the plugin needs");
	rc = retention_config_load(host, config, &st, err);
	retention_rules_free(&st.rules);
	return rc;
}

static void retention_destroy(void *state)
{
	struct retention_state *st = state;

	if (!st)
		return;
	retention_rules_free(&st->rules);
	free(st);
}

static void register_metrics(struct retention_state *st)
{
	const berth_host *h = st->host;
	static const char *const result_label[] = { "result", NULL };
	static const char *const kind_label[] = { "kind", NULL };
	static const char *const results[] = { "ok", "dry_run", "failed" };
	static const char *const kinds[] = { "tag", "manifest" };
	size_t i;

	st->metrics[RETENTION_METRIC_RUNS] = h->metric_register(
		st->self, "berth_retention_runs_total",
		"Retention runs, by result: ok, dry_run or failed", BERTH_METRIC_COUNTER,
		result_label);
	st->metrics[RETENTION_METRIC_DELETED] = h->metric_register(
		st->self, "berth_retention_deleted_total",
		"Tags and manifests deleted by retention, by kind", BERTH_METRIC_COUNTER, kind_label);
	st->metrics[RETENTION_METRIC_BYTES] = h->metric_register(
		st->self, "berth_retention_bytes_total",
		"Bytes of manifests, configs and layers left unreferenced in their repository "
		"by retention deletes (freed by garbage collection unless another repository "
		"references them)", BERTH_METRIC_COUNTER, NULL);
	st->metrics[RETENTION_METRIC_SKIPPED] = h->metric_register(
		st->self, "berth_retention_skipped_total",
		"Tags and manifests a run left because a push changed them after the plan, by kind",
		BERTH_METRIC_COUNTER, kind_label);
	/* Every series exists from the start, so a rate() works before the first delete. */
	for (i = 0; i < sizeof(results) / sizeof(results[0]); i++)
		h->metric_add(st->metrics[RETENTION_METRIC_RUNS], &results[i], 0);
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		h->metric_add(st->metrics[RETENTION_METRIC_DELETED], &kinds[i], 0);
		h->metric_add(st->metrics[RETENTION_METRIC_SKIPPED], &kinds[i], 0);
	}
	h->metric_add(st->metrics[RETENTION_METRIC_BYTES], NULL, 0);
}

static int retention_create(const berth_host *host, const berth_instance *self,
			    const berth_config *config, void **state, berth_error *err)
{
	struct retention_state *st;
	int rc;

	*state = NULL;
	if (!host_usable(host))
		return retention_fail(err, BERTH_E_UNSUPPORTED,
				      "this Berth lacks host services the plugin needs "
				      "(list_manifests, manifest_times, structured config)");
	st = calloc(1, sizeof(*st));
	if (!st)
		return retention_fail(err, BERTH_E_NOMEM, "out of memory");
	st->host = host;
	st->self = self;
	rc = retention_config_load(host, config, st, err);
	if (rc < 0) {
		retention_destroy(st);
		return rc;
	}
	register_metrics(st);
	host->log(self, BERTH_LOG_INFO, "%zu polic%s, %zu immutable tag pattern%s%s",
		  st->rules.n_policies, st->rules.n_policies == 1 ? "y" : "ies",
		  st->rules.immutable_tags.n, st->rules.immutable_tags.n == 1 ? "" : "s",
		  st->enforce ? "" : ", enforce off: runs only report");
	*state = st;
	return 0;
}

static const berth_request_ops retention_request_ops = {
	.size = sizeof(berth_request_ops),
	.before = retention_immutable_before,
};

static const berth_route plan_route = {
	.size = sizeof(berth_route),
	.method = "GET",
	.path = "/berth/v1/retention",
	/* The plan takes no body. */
	.max_body = 1024,
	.handle = retention_route_plan,
};

static const berth_route *const retention_routes[] = { &plan_route, NULL };

static const berth_job retention_job = {
	.size = sizeof(berth_job),
	.name = RETENTION_JOB_NAME,
	.description = "delete the tags and manifests the retention policies do not keep",
	.schedule = "daily 03:30",
	.run = retention_job_run,
};

static const berth_job *const retention_jobs[] = { &retention_job, NULL };

static const berth_plugin retention_plugin = {
	BERTH_PLUGIN_HEADER,
	.name = RETENTION_PLUGIN_NAME,
	.version = RETENTION_PLUGIN_VERSION,
	.description = "retention policies (count, age, pulls, SemVer, untagged) and immutable tags",
	.config_schema = retention_config_schema,
	.create = retention_create,
	.destroy = retention_destroy,
	.request = &retention_request_ops,
	.routes = retention_routes,
	.jobs = retention_jobs,
	.check_config = retention_check_config,
};

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void)
{
	return &retention_plugin;
}
