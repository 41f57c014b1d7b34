/*
 * fuzz_range.c - Range, Content-Range and decimal numbers.
 *
 * The input is the header. The numbers in it are the fuzzer's to choose, so
 * a few object sizes at the edges are enough to reach every comparison; a
 * satisfied range must lie inside the object.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "berth/error.h"
#include "range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint64_t object_sizes[] = {
	0, 1, 2, 10, 1000, UINT64_MAX - 1, UINT64_MAX,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	uint64_t start, end;
	size_t i;
	int rc;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	for (i = 0; i < sizeof(object_sizes) / sizeof(object_sizes[0]); i++) {
		rc = range_parse(s, object_sizes[i], &start, &end);
		if (rc == 0 && (start > end || end >= object_sizes[i]))
			abort();
		if (rc != 0 && rc != BERTH_E_RANGE && rc != BERTH_E_INVALID)
			abort();
	}

	rc = content_range_parse(s, &start, &end);
	if (rc == 0 && start > end)
		abort();
	if (rc != 0 && rc != BERTH_E_INVALID)
		abort();

	rc = parse_u64(s, &start);
	if (rc == 0 && (s[0] < '0' || s[0] > '9'))
		abort();
	if (rc != 0 && rc != BERTH_E_INVALID)
		abort();

	free(s);
	return 0;
}
