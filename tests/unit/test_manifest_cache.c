/*
 * test_manifest_cache.c - the manifest bytes cache: hits, misses, its bound,
 * least-recently-used eviction, forget and clear, and many threads at once.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest_cache.h"
#include "test.h"

static digest digest_n(unsigned n)
{
	digest d = {.alg = DIGEST_SHA256};

	/* Distinct leading digits spread the entries over the buckets. */
	snprintf(d.hex, sizeof(d.hex), "%08x%056x", n * 2654435761u, n);
	return d;
}

static int has(unsigned n)
{
	digest d = digest_n(n);
	char *body = NULL;
	size_t len = 0;
	const char *mt = NULL;
	int hit = manifest_cache_get(&d, &body, &len, &mt);

	free(body);
	return hit;
}

static void test_get_put(void)
{
	digest a = digest_n(1), b = digest_n(2);
	char *body = NULL;
	size_t len = 0;
	const char *mt = NULL;

	manifest_cache_clear();
	CHECK(!manifest_cache_get(&a, &body, &len, &mt));
	manifest_cache_put(&a, "{\"a\":1}", 7, "application/vnd.oci.image.manifest.v1+json");
	CHECK(manifest_cache_get(&a, &body, &len, &mt));
	CHECK_INT(len, 7);
	CHECK(body && memcmp(body, "{\"a\":1}", 8) == 0); /* NUL-terminated */
	CHECK_STR(mt, "application/vnd.oci.image.manifest.v1+json");
	free(body);
	CHECK(!has(2));
	/* A second put of the same digest keeps the first (the bytes are the same). */
	manifest_cache_put(&a, "{\"a\":1}", 7, "application/vnd.oci.image.manifest.v1+json");
	CHECK_INT(manifest_cache_bytes() > 0, 1);
	manifest_cache_put(&b, "", 0, "application/vnd.oci.image.index.v1+json");
	CHECK(has(2));
	manifest_cache_forget(&a);
	CHECK(!has(1));
	CHECK(has(2));
	manifest_cache_forget(&a); /* forgetting what is not there is harmless */
	manifest_cache_clear();
	CHECK(!has(2));
	CHECK_INT(manifest_cache_bytes(), 0);
}

static void test_too_large_is_not_kept(void)
{
	size_t n = MANIFEST_CACHE_MAX_ENTRY + 1;
	char *big = calloc(1, n);
	digest d = digest_n(3);

	manifest_cache_clear();
	manifest_cache_put(&d, big, n, "x");
	CHECK(!has(3));
	manifest_cache_put(&d, big, n - 1, "x");
	CHECK(has(3));
	free(big);
	manifest_cache_clear();
}

static void test_bound_and_lru(void)
{
	size_t piece = 64 * 1024;
	unsigned fit = (unsigned)(MANIFEST_CACHE_MAX_BYTES / (piece + 256));
	char *buf = calloc(1, piece);
	unsigned total = fit * 3;

	manifest_cache_clear();
	for (unsigned i = 0; i < total; i++) {
		digest d = digest_n(100 + i);
		manifest_cache_put(&d, buf, piece, "x");
		/* Entry 100 is used all along: it must survive every eviction. */
		CHECK(has(100));
		CHECK(manifest_cache_bytes() <= MANIFEST_CACHE_MAX_BYTES);
	}
	CHECK(has(100 + total - 1));
	CHECK(!has(101)); /* the oldest unused ones went first */
	CHECK(!has(100 + total / 2));
	free(buf);
	manifest_cache_clear();
	CHECK_INT(manifest_cache_bytes(), 0);
}

static void *hammer(void *arg)
{
	unsigned base = (unsigned)(size_t)arg;
	char body[2048];

	memset(body, 'm', sizeof(body));
	for (unsigned i = 0; i < 20000; i++) {
		digest d = digest_n(base + i % 3000);
		char *got = NULL;
		size_t len = 0;
		const char *mt = NULL;

		if (manifest_cache_get(&d, &got, &len, &mt)) {
			if (len != sizeof(body) || memcmp(got, body, len) != 0 || strcmp(mt, "x") != 0)
				abort();
			free(got);
		} else {
			manifest_cache_put(&d, body, sizeof(body), "x");
		}
		if (i % 7 == 0)
			manifest_cache_forget(&d);
	}
	return NULL;
}

static void test_threads(void)
{
	pthread_t t[4];

	manifest_cache_clear();
	for (size_t i = 0; i < 4; i++)
		CHECK_INT(pthread_create(&t[i], NULL, hammer, (void *)(i * 1000)), 0);
	for (size_t i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CHECK(manifest_cache_bytes() <= MANIFEST_CACHE_MAX_BYTES);
	manifest_cache_clear();
	CHECK_INT(manifest_cache_bytes(), 0);
}

int main(void)
{
	test_get_put();
	test_too_large_is_not_kept();
	test_bound_and_lru();
	test_threads();
	TEST_MAIN_END();
}
