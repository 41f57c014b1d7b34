/*
 * fuzz_reference.c - names, tags, references and digest strings.
 *
 * Besides not crashing, the scanners must agree with each other: the _n
 * variants with the NUL-terminated ones, a parsed digest with its formatted
 * string, a valid name with the limits it promises.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "berth/error.h"
#include "digest.h"
#include "reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_digest(const char *s, size_t len)
{
	char formatted[DIGEST_STRING_MAX];
	digest d, again;
	int rc = digest_parse_n(s, len, &d);

	if (rc != 0 && rc != BERTH_E_INVALID && rc != BERTH_E_UNSUPPORTED)
		abort();
	if (rc != 0)
		return;
	digest_format(&d, formatted);
	if (strlen(formatted) != len || memcmp(formatted, s, len) != 0)
		abort();
	if (digest_parse(formatted, &again) != 0 || !digest_equal(&d, &again))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	size_t len;
	int valid, kind;
	digest d, again;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	len = strlen(s);

	valid = repo_name_valid_n((const char *)data, size);
	if (valid && (size == 0 || size > REPO_NAME_MAX || len != size ||
		      data[0] == '/' || data[size - 1] == '/' ||
		      memmem(data, size, "..", 2) || memmem(data, size, "//", 2)))
		abort();
	if (repo_name_valid(s) != repo_name_valid_n(s, len))
		abort();

	valid = tag_valid(s);
	if (valid && (len == 0 || len > TAG_MAX || strchr(s, '/') || strchr(s, ':')))
		abort();

	check_digest((const char *)data, size);
	check_digest(s, len);

	kind = reference_classify(s, &d);
	switch (kind) {
	case REF_TAG:
		if (!valid)
			abort();
		break;
	case REF_DIGEST:
		if (digest_parse(s, &again) != 0 || !digest_equal(&d, &again))
			abort();
		break;
	case REF_INVALID:
	case REF_UNSUPPORTED:
		if (valid)
			abort();
		break;
	default:
		abort();
	}
	free(s);
	return 0;
}
