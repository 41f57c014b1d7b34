/*
 * retention_format.c - how a plan reads to people: why a tag or manifest
 * goes, and sizes in binary units. Shared by the job's table and the plan
 * route's JSON so both say the same thing.
 */
#include <inttypes.h>
#include <stdio.h>

#include "retention.h"

const char *retention_manifest_reason_text(int reason)
{
	switch (reason) {
	case RETENTION_M_LAST_TAG_DELETED:
		return "its last tag is deleted";
	case RETENTION_M_UNTAGGED_EXPIRED:
		return "untagged for longer than keep_days";
	case RETENTION_M_UNTAGGED_DELETE:
		return "untagged (untagged: delete)";
	case RETENTION_M_CHILD_OF_DELETED:
		return "only a deleted index names it";
	case RETENTION_M_REFERRER_OF_DELETED:
		return "refers to a deleted manifest";
	default:
		return "kept";
	}
}

const char *retention_tag_reason(const struct retention_rules *rules,
				 const struct retention_tag_out *t, char *buf, size_t cap)
{
	char label[96];

	if (t->verdict == RETENTION_TAG_REFERRER_DELETE) {
		snprintf(buf, cap, "names a referrer of a deleted manifest");
	} else if (t->verdict == RETENTION_TAG_DELETE && t->policy >= 0 &&
		   (size_t)t->policy < rules->n_policies) {
		snprintf(buf, cap, "%s: no rule keeps it",
			 retention_policy_label(&rules->policies[t->policy], label, sizeof(label)));
	} else {
		snprintf(buf, cap, "kept");
	}
	return buf;
}

const char *retention_format_bytes(uint64_t bytes, char *buf, size_t cap)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(buf, cap, "%" PRIu64 " B", bytes);
		return buf;
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(buf, cap, "%.1f %s", v, units[u]);
	return buf;
}
