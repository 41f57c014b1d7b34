/*
 * test_manifest.c - what a manifest body references, and bodies a client
 * could send that must make the manifest opaque instead of failing.
 */
#include <stdio.h>
#include <string.h>

#include "retention.h"

static int failures;

#define CHECK(cond, ...)                                                          \
	do {                                                                      \
		if (!(cond)) {                                                    \
			failures++;                                               \
			fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);           \
			fprintf(stderr, __VA_ARGS__);                             \
			fputc('\n', stderr);                                      \
		}                                                                 \
	} while (0)

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static void parse(const char *body, struct retention_manifest_in *m)
{
	memset(m, 0, sizeof(*m));
	CHECK(retention_manifest_parse(body, strlen(body), m) == 0, "parse failed: %s", body);
}

static void test_image(void)
{
	struct retention_manifest_in m;

	parse("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	      "\"config\":{\"digest\":\"" D1 "\",\"size\":7},"
	      "\"layers\":[{\"digest\":\"" D2 "\",\"size\":100},{\"digest\":\"" D3 "\",\"size\":5}],"
	      "\"subject\":{\"digest\":\"" D3 "\",\"size\":10}}", &m);
	CHECK(m.n_blobs == 3 && m.n_children == 0, "blobs %zu children %zu", m.n_blobs, m.n_children);
	if (m.n_blobs == 3)
		CHECK(strcmp(m.blobs[0].digest, D1) == 0 && m.blobs[0].size == 7 &&
		      strcmp(m.blobs[1].digest, D2) == 0 && m.blobs[1].size == 100 &&
		      m.blobs[2].size == 5, "config then layers, with sizes");
	CHECK(m.subject && strcmp(m.subject, D3) == 0, "subject");
	retention_manifest_in_clear(&m);
}

static void test_index(void)
{
	struct retention_manifest_in m;

	parse("{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"" D1 "\",\"size\":1},"
	      "{\"digest\":\"" D2 "\",\"size\":2}]}", &m);
	CHECK(m.n_children == 2 && m.n_blobs == 0 && !m.subject, "index: children only");
	retention_manifest_in_clear(&m);
	/* The OCI artifact manifest of image-spec 1.1-rc lists "blobs". */
	parse("{\"mediaType\":\"application/vnd.oci.artifact.manifest.v1+json\","
	      "\"blobs\":[{\"digest\":\"" D1 "\",\"size\":9}]}", &m);
	CHECK(m.n_blobs == 1 && m.blobs[0].size == 9, "artifact blobs");
	retention_manifest_in_clear(&m);
}

static void test_hostile(void)
{
	static const char *const bodies[] = {
		"", "not json", "[]", "null", "{", "{\"manifests\":7}", "{\"layers\":{}}",
		"{\"layers\":[1,\"x\",null,{},{\"digest\":7}]}",
		"{\"config\":\"sha256:11\"}",
		"{\"layers\":[{\"digest\":\"../../etc/passwd\",\"size\":1}]}",
		"{\"layers\":[{\"digest\":\"sha256:\",\"size\":1}]}",
		"{\"layers\":[{\"digest\":\":abc\",\"size\":1}]}",
		"{\"layers\":[{\"digest\":\"SHA256:ab\",\"size\":1}]}",
		"{\"subject\":{\"digest\":\"sha256:a b\"}}",
		"{\"a\":1,\"a\":2}",
	};

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct retention_manifest_in m;

		parse(bodies[i], &m);
		CHECK(m.n_blobs == 0 && m.n_children == 0 && !m.subject, "'%s' is opaque", bodies[i]);
		retention_manifest_in_clear(&m);
	}
	{
		struct retention_manifest_in m;

		/* Negative or missing sizes count as 0 bytes, not as huge ones. */
		parse("{\"layers\":[{\"digest\":\"" D1 "\",\"size\":-5},{\"digest\":\"" D2 "\"}]}", &m);
		CHECK(m.n_blobs == 2 && m.blobs[0].size == 0 && m.blobs[1].size == 0, "sizes");
		retention_manifest_in_clear(&m);
	}
}

static void test_digests(void)
{
	CHECK(retention_digest_valid(D1), "sha256");
	CHECK(retention_digest_valid("sha512:abc"), "sha512");
	CHECK(retention_digest_valid("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8"),
	      "the digest grammar allows other algorithms");
	CHECK(!retention_digest_valid("sha256"), "no colon");
	CHECK(!retention_digest_valid("sha256:"), "no hex");
	CHECK(!retention_digest_valid("sha256:a/b"), "slash");
	CHECK(!retention_digest_valid("Sha256:ab"), "capital algorithm");
}

int main(void)
{
	test_image();
	test_index();
	test_hostile();
	test_digests();
	printf("%s\n", failures ? "FAIL" : "ok");
	return failures != 0;
}
