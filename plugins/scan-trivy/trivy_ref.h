/*
 * trivy_ref.h - what a /berth/v1/scans/ path names, and the checks of
 * repository names, tags and digests that come with it.
 *
 *   <repository>@<digest>[/vulnerabilities|/raw]
 *   <repository>:<tag>[/vulnerabilities|/raw]
 *
 * Repository names hold '/', so the reference is found from the right:
 * '@' cannot appear in a name, and a tag's ':' is in the last segment.
 */
#ifndef TRIVY_REF_H
#define TRIVY_REF_H

#include "berth/error.h"
#include "trivy_glob.h"

#define TRIVY_TAG_MAX 128
#define TRIVY_DIGEST_MAX 135       /* "sha512:" and 128 hex digits */

enum trivy_view {
	TRIVY_VIEW_SUMMARY = 0,
	TRIVY_VIEW_VULNERABILITIES,
	TRIVY_VIEW_RAW
};

typedef struct trivy_target {
	char repository[TRIVY_NAME_MAX + 1];
	char reference[TRIVY_DIGEST_MAX + 1];  /* a tag or a digest */
	int by_digest;
	int view;                  /* enum trivy_view */
} trivy_target;

/*
 * Parse the part of the path after "/berth/v1/scans/". 0, or
 * BERTH_E_NAME (repository), BERTH_E_DIGEST (digest), BERTH_E_INVALID
 * (tag, or no reference) with a message.
 */
int trivy_target_parse(const char *path, trivy_target *t, berth_error *err);

/* Distribution's grammar: [a-z0-9]+ components joined by '.', '_', '__' or dashes, '/'-separated. */
int trivy_repository_valid(const char *name);
int trivy_tag_valid(const char *tag);
/* sha256:<64 hex> or sha512:<128 hex>, lower case. */
int trivy_digest_valid(const char *digest);

#endif /* TRIVY_REF_H */
