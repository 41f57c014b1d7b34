/*
 * fuzz_retention_manifest.c - the bytes a client controls that the
 * retention plugin reads: manifest bodies (for their references), and tag
 * names (SemVer, glob and regex matching).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "retention.h"

static struct retention_patterns patterns;

static void compile_patterns(void)
{
	static const char *const texts[] = { "**", "team/**/app", "ci-*", "v?.*",
					     "re:v[0-9]+(\\.[0-9]+)*", "re:(a|b)*c" };
	berth_error err;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		retention_patterns_add(&patterns, texts[i], &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct retention_manifest_in m = {0};
	struct retention_semver a, b;
	char *s;

	if (!patterns.n)
		compile_patterns();
	if (retention_manifest_parse(data, size, &m) == 0) {
		for (size_t i = 0; i < m.n_children; i++)
			if (!retention_digest_valid(m.children[i]))
				abort();
		for (size_t i = 0; i < m.n_blobs; i++)
			if (!retention_digest_valid(m.blobs[i].digest))
				abort();
		if (m.subject && !retention_digest_valid(m.subject))
			abort();
	}
	retention_manifest_in_clear(&m);

	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (retention_semver_parse(s, &a) == 0) {
		/* Precedence is a total order: x == x, and antisymmetric against 1.2.3. */
		retention_semver_parse("1.2.3", &b);
		if (retention_semver_compare(&a, &a) != 0)
			abort();
		if ((retention_semver_compare(&a, &b) < 0) != (retention_semver_compare(&b, &a) > 0))
			abort();
	}
	retention_patterns_match(&patterns, s);
	retention_glob_match(s, "team/sub/app");
	retention_glob_match("**/*-?", s);
	free(s);
	return 0;
}
