/*
 * fuzz_report.c - libFuzzer target for the report parser: any bytes a
 * client can PUT or push as a referrer. A report that parses is also
 * turned into the documents the plugin stores, which must hold together:
 * counts add up and every finding's severity is one of the five.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../trivy_report.h"
#include "../trivy_summary.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	trivy_report r;
	berth_error err = {0};
	trivy_counts c;
	json_t *findings, *gate;
	size_t sum = 0;

	if (trivy_report_parse(data, size, &r, &err) != 0) {
		if (err.message[0] == '\0')
			abort();
		trivy_report_free(&r);
		return 0;
	}
	findings = trivy_findings_json(&r);
	if (findings) {
		trivy_findings_count(findings, &c);
		for (int s = 0; s < TRIVY_SEV_COUNT; s++)
			sum += c.all[s];
		if (sum != c.total || c.total != r.n_findings || c.fixable_total > c.total ||
		    c.unique_total > c.total)
			abort();
		gate = trivy_gate_json(findings);
		json_decref(gate);
		json_decref(findings);
	}
	trivy_report_check_target(&r, "sha256:00", "sha256:11", &err);
	trivy_report_free(&r);
	return 0;
}
