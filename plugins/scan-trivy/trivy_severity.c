/*
 * trivy_severity.c - Trivy's severity names, in trivy-db's order.
 */
#include <string.h>
#include <strings.h>

#include "trivy_report.h"

static const char *const severity_names[TRIVY_SEV_COUNT] = {
	"UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"
};

const char *trivy_severity_name(int severity)
{
	if (severity < 0 || severity >= TRIVY_SEV_COUNT)
		return "UNKNOWN";
	return severity_names[severity];
}

int trivy_severity_lookup(const char *s, size_t len)
{
	for (int i = 0; i < TRIVY_SEV_COUNT; i++)
		if (strlen(severity_names[i]) == len && strncasecmp(s, severity_names[i], len) == 0)
			return i;
	return -1;
}

int trivy_severity_parse(const char *s, size_t len)
{
	int sev = trivy_severity_lookup(s, len);

	return sev < 0 ? TRIVY_SEV_UNKNOWN : sev;
}
