/*
 * test_bloom.c - gc's mark set: nothing added is ever missed, and the false
 * positive rate it reports is the one a filled filter shows.
 */
#include <stdint.h>
#include <stdio.h>

#include "bloom.h"
#include "digest.h"
#include "test.h"

static digest nth_digest(unsigned i)
{
	char buf[32];
	digest d = {0};

	snprintf(buf, sizeof(buf), "blob %u", i);
	digest_compute(DIGEST_SHA256, buf, strlen(buf), &d);
	return d;
}

static int near(double got, double want)
{
	double diff = got > want ? got - want : want - got;

	return diff <= want * 1e-6;
}

int main(void)
{
	bloom b;
	unsigned added = 1000, probes = 20000, hits = 0, missed = 0;
	double measured;

	/* 1 KiB is the least a filter gets: 8192 bits, 7 probes. */
	CHECK_INT(bloom_init(&b, 10, 42), 0);
	CHECK_INT(b.m, 8192);
	CHECK(bloom_false_positive_rate(&b) == 0.0);

	for (unsigned i = 0; i < 100; i++) {
		digest d = nth_digest(i);
		bloom_add(&b, &d);
	}
	/* (1 - (1 - 1/8192)^700)^7 */
	CHECK(near(bloom_false_positive_rate(&b), 2.472713572061824e-08));
	for (unsigned i = 100; i < added; i++) {
		digest d = nth_digest(i);
		bloom_add(&b, &d);
	}
	CHECK(near(bloom_false_positive_rate(&b), 0.020661024155190638));

	for (unsigned i = 0; i < added; i++) {
		digest d = nth_digest(i);
		missed += !bloom_maybe_has(&b, &d);
	}
	CHECK_INT(missed, 0);
	/* Digests never added: the share that answers "maybe" is the rate
	 * reported, give or take the sampling error of 20,000 probes. */
	for (unsigned i = added; i < added + probes; i++) {
		digest d = nth_digest(i);
		hits += bloom_maybe_has(&b, &d);
	}
	measured = (double)hits / probes;
	CHECK(measured > 0.015 && measured < 0.027);
	bloom_free(&b);

	/* A digest that cannot be hashed is kept, never swept. */
	CHECK_INT(bloom_init(&b, 1024, 7), 0);
	digest odd = {.alg = 99};
	CHECK_INT(bloom_maybe_has(&b, &odd), 1);
	bloom_free(&b);

	/* Far more digests than bits: every probe answers "maybe". */
	CHECK_INT(bloom_init(&b, 1024, 1), 0);
	b.added = 1000000;
	CHECK(near(bloom_false_positive_rate(&b), 1.0));
	bloom_free(&b);
	TEST_MAIN_END();
}
