/*
 * scan_trivy.c - the scan-trivy plugin: Trivy reports kept next to the
 * images they describe, and pulls refused by policy.
 *
 * Where things are:
 *   trivy_json.c, trivy_report.c,    read a report (Trivy JSON, legacy array,
 *   trivy_sarif.c, trivy_attest.c    SARIF, cosign-vuln / in-toto / DSSE)
 *   trivy_summary.c                  counts, findings, gate index, summary
 *   trivy_import.c, trivy_store.c    check, store and announce a report
 *   trivy_api.c, trivy_view.c        /berth/v1/scans
 *   trivy_gate.c, trivy_cache.c      the pull gate, referrer import, report()
 *   trivy_policy.c, trivy_glob.c,    policies: decision, patterns, loading
 *   trivy_config.c, trivy_policy_file.c
 *   trivy_manifest.c, trivy_ref.c    manifests and request paths
 *   trivy_prune.c                    the job removing reports of deleted images
 */
#include <stdlib.h>
#include <string.h>

#include "trivy_plugin.h"

static void trivy_destroy(void *state)
{
	struct scan_trivy *st = state;

	if (!st)
		return;
	trivy_config_free(st);
	pthread_mutex_destroy(&st->import_lock);
	free(st);
}

static int trivy_create(const berth_host *host, const berth_instance *self,
			const berth_config *config, void **state, berth_error *err)
{
	static const char *const via[] = {"via", NULL};
	static const char *const via_reason[] = {"via", "reason", NULL};
	struct scan_trivy *st;
	int rc;

	if (!BERTH_HOST_HAS(host, data_list))
		return trivy_fail(err, BERTH_E_UNSUPPORTED,
				  "scan-trivy: this Berth cannot store plugin data; upgrade Berth");
	st = calloc(1, sizeof(*st));
	if (!st)
		return trivy_fail(err, BERTH_E_NOMEM, "scan-trivy: out of memory");
	if (pthread_mutex_init(&st->import_lock, NULL) != 0) {
		free(st);
		return trivy_fail(err, BERTH_E_NOMEM, "scan-trivy: cannot create a lock");
	}
	st->host = host;
	st->self = self;
	rc = trivy_config_load(st, config, err);
	if (rc) {
		trivy_destroy(st);
		return rc;
	}
	st->imported = host->metric_register(
		self, "berth_scan_reports_imported_total",
		"Vulnerability reports imported, by how they came (api, referrer).",
		BERTH_METRIC_COUNTER, via);
	st->failures = host->metric_register(
		self, "berth_scan_import_failures_total",
		"Vulnerability reports refused or not stored, by how they came and why.",
		BERTH_METRIC_COUNTER, via_reason);
	for (size_t i = 0; i < st->policies.n; i++) {
		const trivy_policy *p = &st->policies.v[i];
		host->log(self, BERTH_LOG_INFO,
			  "policy '%s' on %s%s: %s%s%s%s, %zu allowlisted, %zu bypass identities, "
			  "%zu bypass groups",
			  p->name, p->n_repositories ? p->repositories[0] : "no repository",
			  p->n_repositories > 1 ? " and more" : "",
			  p->block_severity < 0 ? "no severity blocks" : "blocks ",
			  p->block_severity < 0 ? "" : trivy_severity_name(p->block_severity),
			  p->block_severity >= 0 && p->only_fixable ? " with a fix" : "",
			  p->block_unscanned ? ", blocks unscanned images" : "", p->n_allow,
			  p->n_bypass_identities, p->n_bypass_groups);
	}
	*state = st;
	return 0;
}

static const berth_plugin trivy_plugin = {
	BERTH_PLUGIN_HEADER,
	.name = TRIVY_PLUGIN_NAME,
	.version = TRIVY_PLUGIN_VERSION,
	.description = "imports Trivy vulnerability reports and refuses pulls by policy",
	.config_schema = trivy_config_schema,
	.create = trivy_create,
	.destroy = trivy_destroy,
	.scan = &trivy_scan_ops,
	.routes = trivy_routes,
	.jobs = trivy_jobs,
};

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void)
{
	return &trivy_plugin;
}
