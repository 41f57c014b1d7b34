/*
 * fuzz_path.c - libFuzzer target for /berth/v1/scans/ paths: whatever a
 * client puts after the prefix either parses into a valid repository and
 * reference or is refused with a message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../trivy_glob.h"
#include "../trivy_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[1024];
	trivy_target t;
	berth_error err = {0};

	if (size >= sizeof(path))
		return 0;
	memcpy(path, data, size);
	path[size] = '\0';
	if (trivy_target_parse(path, &t, &err) == 0) {
		if (!trivy_repository_valid(t.repository) || strstr(t.repository, "..") ||
		    (t.by_digest ? !trivy_digest_valid(t.reference) : !trivy_tag_valid(t.reference)))
			abort();
	} else if (err.message[0] == '\0') {
		abort();
	}
	/* Policy patterns against the same bytes: must terminate, never overrun. */
	trivy_glob_match("team/**/x*", path);
	trivy_glob_match(path, "team/app/x1");
	return 0;
}
