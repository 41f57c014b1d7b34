/*
 * test_digest.c - digest strings and known-answer hashes.
 */
#include <stdlib.h>
#include <string.h>

#include "berth/error.h"
#include "digest.h"
#include "test.h"

#define SHA256_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA256_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA256_MILLION_A "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
#define SHA512_EMPTY                                                        \
	"cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce" \
	"47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
#define SHA512_ABC                                                          \
	"ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a" \
	"2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
#define SHA512_MILLION_A                                                    \
	"e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb" \
	"de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b"

struct parse_case {
	const char *in;
	int rc;
};

static void test_parse_good(void)
{
	digest d;

	memset(&d, 0x55, sizeof(d));
	CHECK_INT(digest_parse("sha256:" SHA256_ABC, &d), 0);
	CHECK_INT(d.alg, DIGEST_SHA256);
	CHECK_STR(d.hex, SHA256_ABC);

	CHECK_INT(digest_parse("sha512:" SHA512_ABC, &d), 0);
	CHECK_INT(d.alg, DIGEST_SHA512);
	CHECK_STR(d.hex, SHA512_ABC);

	CHECK_INT(digest_parse("sha256:" "0000000000000000000000000000000000000000000000000000000000000000", &d), 0);
	CHECK_INT(digest_parse("sha256:" "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", &d), 0);
}

static void test_parse_bad(void)
{
	static const struct parse_case cases[] = {
		{ "", BERTH_E_INVALID },
		{ ":", BERTH_E_INVALID },
		{ "sha256", BERTH_E_INVALID },
		{ "sha256:", BERTH_E_INVALID },
		{ SHA256_ABC, BERTH_E_INVALID },                        /* no colon */
		{ "sha256" SHA256_ABC, BERTH_E_INVALID },
		{ ":" SHA256_ABC, BERTH_E_INVALID },                    /* no algorithm */
		{ "sha256:" "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", BERTH_E_INVALID },
		{ "sha256:" "Ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", BERTH_E_INVALID },
		{ "SHA256:" SHA256_ABC, BERTH_E_INVALID },
		{ "Sha256:" SHA256_ABC, BERTH_E_INVALID },
		{ "sha256:" SHA256_ABC "0", BERTH_E_INVALID },          /* 65 hex */
		{ "sha256:" "a7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", BERTH_E_INVALID },
		{ "sha256:" SHA512_ABC, BERTH_E_INVALID },              /* sha512 length */
		{ "sha512:" SHA256_ABC, BERTH_E_INVALID },
		{ "sha512:" SHA512_ABC "a", BERTH_E_INVALID },
		{ "sha256:" "ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", BERTH_E_INVALID },
		{ "sha256:" "-a7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", BERTH_E_INVALID },
		{ "sha256:" SHA256_ABC " ", BERTH_E_INVALID },
		{ " sha256:" SHA256_ABC, BERTH_E_INVALID },
		{ "sha256::" SHA256_ABC, BERTH_E_INVALID },
		{ "sha256:" SHA256_ABC ":", BERTH_E_INVALID },
		{ "sha256:" SHA256_ABC "\n", BERTH_E_INVALID },
		{ "sha256 :" SHA256_ABC, BERTH_E_INVALID },
		{ "../../sha256:" SHA256_ABC, BERTH_E_INVALID },
		{ "sha256:../../etc/passwd", BERTH_E_INVALID },
		{ "-sha384:abc", BERTH_E_INVALID },                      /* separator first */
		{ "sha384-:abc", BERTH_E_INVALID },                      /* separator last */
		{ "sha+-384:abc", BERTH_E_INVALID },                     /* two separators */
		{ "SHA384:abc", BERTH_E_INVALID },                       /* uppercase algorithm */
		{ "sha384:", BERTH_E_INVALID },                          /* empty encoded */
		{ "sha384:ab/c", BERTH_E_INVALID },
		{ "sha384:ab.c", BERTH_E_INVALID },
		{ "sha384:ab c", BERTH_E_INVALID },
		{ "sha384:a:b", BERTH_E_INVALID },
		{ "\xc3\xa9:abc", BERTH_E_INVALID },
	};
	size_t i;
	digest d;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		memset(&d, 0x55, sizeof(d));
		rc = digest_parse(cases[i].in, &d);

		if (rc != cases[i].rc)
			fprintf(stderr, "case \"%s\"\n", cases[i].in);
		CHECK_INT(rc, cases[i].rc);
		/* A failed parse leaves the output alone. */
		CHECK_INT(d.alg, 0x55555555);
	}
	CHECK_INT(digest_parse(NULL, &d), BERTH_E_INVALID);
	CHECK_INT(digest_parse("sha256:" SHA256_ABC, NULL), BERTH_E_INVALID);
}

static void test_parse_unsupported(void)
{
	static const char *const cases[] = {
		"sha384:" "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
		"sha384:abc",
		"md5:d41d8cd98f00b204e9800998ecf8427e",
		"blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
		"multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
		"sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564",
		"a.b_c-d+e:A=_-z",
		"x:y",
		"sha1:" SHA256_ABC,
	};
	size_t i;
	digest d;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = digest_parse(cases[i], &d);

		if (rc != BERTH_E_UNSUPPORTED)
			fprintf(stderr, "case \"%s\"\n", cases[i]);
		CHECK_INT(rc, BERTH_E_UNSUPPORTED);
	}
}

static void test_parse_n(void)
{
	char buf[7 + 64 + 8];
	digest d;

	/* Not NUL-terminated: the bytes after len must not be read as hex. */
	memcpy(buf, "sha256:" SHA256_ABC "ffffffff", sizeof(buf));
	CHECK_INT(digest_parse_n(buf, 7 + 64, &d), 0);
	CHECK_STR(d.hex, SHA256_ABC);
	CHECK_INT(digest_parse_n(buf, 7 + 63, &d), BERTH_E_INVALID);
	CHECK_INT(digest_parse_n(buf, sizeof(buf), &d), BERTH_E_INVALID);
	CHECK_INT(digest_parse_n(buf, 6, &d), BERTH_E_INVALID);
	CHECK_INT(digest_parse_n(buf, 0, &d), BERTH_E_INVALID);

	/* An embedded NUL is not part of any grammar. */
	memcpy(buf, "sha256:" SHA256_ABC, 7 + 64);
	buf[20] = '\0';
	CHECK_INT(digest_parse_n(buf, 7 + 64, &d), BERTH_E_INVALID);
	CHECK_INT(digest_parse_n("sha\0" "384:abc", 11, &d), BERTH_E_INVALID);
	CHECK_INT(digest_parse_n("sha384:a\0c", 10, &d), BERTH_E_INVALID);
	CHECK_INT(digest_parse_n(NULL, 0, &d), BERTH_E_INVALID);
}

static void test_format(void)
{
	char out[DIGEST_STRING_MAX];
	digest d, e;

	CHECK_INT(digest_parse("sha256:" SHA256_ABC, &d), 0);
	digest_format(&d, out);
	CHECK_STR(out, "sha256:" SHA256_ABC);

	CHECK_INT(digest_parse("sha512:" SHA512_ABC, &d), 0);
	digest_format(&d, out);
	CHECK_STR(out, "sha512:" SHA512_ABC);
	CHECK_INT(strlen(out), DIGEST_STRING_MAX - 1);
	CHECK_INT(digest_parse(out, &e), 0);
	CHECK(digest_equal(&d, &e));

	d.alg = 7;
	digest_format(&d, out);
	CHECK_STR(out, "");
	d.alg = -1;
	digest_format(&d, out);
	CHECK_STR(out, "");
	digest_format(NULL, out);
	CHECK_STR(out, "");
}

static void test_names_and_equal(void)
{
	digest a, b;

	CHECK_STR(digest_alg_name(DIGEST_SHA256), "sha256");
	CHECK_STR(digest_alg_name(DIGEST_SHA512), "sha512");
	CHECK(digest_alg_name(2) == NULL);
	CHECK(digest_alg_name(-1) == NULL);
	CHECK_INT(digest_hex_len(DIGEST_SHA256), 64);
	CHECK_INT(digest_hex_len(DIGEST_SHA512), 128);
	CHECK_INT(digest_hex_len(2), 0);
	CHECK_INT(digest_hex_len(-1), 0);

	CHECK_INT(digest_parse("sha256:" SHA256_ABC, &a), 0);
	CHECK_INT(digest_parse("sha256:" SHA256_ABC, &b), 0);
	CHECK(digest_equal(&a, &b));
	CHECK_INT(digest_parse("sha256:" SHA256_EMPTY, &b), 0);
	CHECK(!digest_equal(&a, &b));
	b = a;
	b.alg = DIGEST_SHA512;
	CHECK(!digest_equal(&a, &b));
	CHECK(!digest_equal(&a, NULL));
	CHECK(!digest_equal(NULL, &a));
}

static void check_compute(int alg, const char *in, const char *hex)
{
	digest d;

	CHECK_INT(digest_compute(alg, in, strlen(in), &d), 0);
	CHECK_INT(d.alg, alg);
	CHECK_STR(d.hex, hex);
}

static void test_known_answers(void)
{
	check_compute(DIGEST_SHA256, "", SHA256_EMPTY);
	check_compute(DIGEST_SHA256, "abc", SHA256_ABC);
	check_compute(DIGEST_SHA512, "", SHA512_EMPTY);
	check_compute(DIGEST_SHA512, "abc", SHA512_ABC);
	{
		digest d;

		/* NULL with length 0 is the empty input. */
		CHECK_INT(digest_compute(DIGEST_SHA256, NULL, 0, &d), 0);
		CHECK_STR(d.hex, SHA256_EMPTY);
		CHECK_INT(digest_compute(DIGEST_SHA256, NULL, 1, &d), BERTH_E_INTERNAL);
		CHECK_INT(digest_compute(9, "abc", 3, &d), BERTH_E_INTERNAL);
	}
}

static void test_incremental(void)
{
	static const int algs[] = { DIGEST_SHA256, DIGEST_SHA512 };
	static const char *const million[] = { SHA256_MILLION_A, SHA512_MILLION_A };
	static const char *const abc[] = { SHA256_ABC, SHA512_ABC };
	static const char *const empty[] = { SHA256_EMPTY, SHA512_EMPTY };
	char chunk[1000];
	size_t i, k;

	memset(chunk, 'a', sizeof(chunk));
	for (k = 0; k < 2; k++) {
		digest_ctx *c = digest_ctx_new(algs[k]), *mid;
		digest d;

		CHECK(c != NULL);
		if (!c)
			continue;
		CHECK_INT(digest_ctx_update(c, "a", 1), 0);
		CHECK_INT(digest_ctx_update(c, "", 0), 0);

		/* A copy taken after "a" finishes as "abc" on its own. */
		mid = digest_ctx_dup(c);
		CHECK(mid != NULL);
		CHECK_INT(digest_ctx_update(mid, "bc", 2), 0);
		CHECK_INT(digest_ctx_final(mid, &d), 0);
		CHECK_STR(d.hex, abc[k]);
		CHECK_INT(d.alg, algs[k]);
		/* Finalising twice and updating afterwards are refused. */
		CHECK_INT(digest_ctx_final(mid, &d), BERTH_E_INTERNAL);
		CHECK_INT(digest_ctx_update(mid, "x", 1), BERTH_E_INTERNAL);
		digest_ctx_free(mid);

		/* The original goes on to a million 'a's, unaffected by the copy. */
		for (i = 0; i < 1000; i++)
			CHECK_INT(digest_ctx_update(c, chunk, i == 0 ? 999 : 1000), 0);
		mid = digest_ctx_dup(c);
		CHECK_INT(digest_ctx_final(c, &d), 0);
		CHECK_STR(d.hex, million[k]);
		CHECK_INT(digest_ctx_final(mid, &d), 0);
		CHECK_STR(d.hex, million[k]);
		digest_ctx_free(mid);

		/* The copy of a finished context is finished. */
		mid = digest_ctx_dup(c);
		CHECK(mid != NULL);
		CHECK_INT(digest_ctx_final(mid, &d), BERTH_E_INTERNAL);
		digest_ctx_free(mid);
		digest_ctx_free(c);

		c = digest_ctx_new(algs[k]);
		CHECK_INT(digest_ctx_final(c, &d), 0);
		CHECK_STR(d.hex, empty[k]);
		digest_ctx_free(c);
	}
	CHECK(digest_ctx_new(2) == NULL);
	CHECK(digest_ctx_new(-1) == NULL);
	CHECK(digest_ctx_dup(NULL) == NULL);
	CHECK_INT(digest_ctx_update(NULL, "a", 1), BERTH_E_INTERNAL);
	digest_ctx_free(NULL);
}

int main(void)
{
	test_parse_good();
	test_parse_bad();
	test_parse_unsupported();
	test_parse_n();
	test_format();
	test_names_and_equal();
	test_known_answers();
	test_incremental();
	TEST_MAIN_END();
}
