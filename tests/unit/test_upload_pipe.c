/*
 * test_upload_pipe.c - the upload pipe stores and hashes exactly what it was
 * given, keeps a prefix after a failed write, and stays within its memory
 * budget.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "berth/error.h"
#include "digest.h"
#include "upload_pipe.h"
#include "test.h"

#define BLOCK ((size_t)UPLOAD_PIPE_BLOCK)
#define PIPES_IN_BUDGET (UPLOAD_PIPE_BUDGET / (UPLOAD_PIPE_BLOCKS * UPLOAD_PIPE_BLOCK))
#define SINK_MESSAGE "cannot write block 2: disk on fire"

/* A storage driver stand-in: appends each block to memory. Touched only by
 * the writer thread until upload_pipe_close() has joined it. */
typedef struct mem_sink {
	char *buf;
	size_t len, cap;
	unsigned calls;
	unsigned fail_at;             /* the call that fails (1-based), 0: none */
	unsigned calls_after_failure;
	unsigned short_blocks;        /* calls with less than a block before the last */
	unsigned bad_lengths;         /* calls with nothing or more than a block */
	size_t last_len;
	unsigned delay_us;
} mem_sink;

static int mem_sink_store(void *ctx, const void *buf, size_t len, berth_error *err)
{
	mem_sink *s = ctx;

	if (s->fail_at && s->calls >= s->fail_at)
		s->calls_after_failure++;
	s->calls++;
	/* Only the last block may be short: a short one before it would
	 * mean the pipe split the body into small writes. */
	if (s->calls > 1 && s->last_len != BLOCK)
		s->short_blocks++;
	s->last_len = len;
	if (len == 0 || len > BLOCK)
		s->bad_lengths++;
	if (s->delay_us)
		usleep(s->delay_us);
	if (s->fail_at && s->calls == s->fail_at) {
		err->code = BERTH_E_IO;
		snprintf(err->message, sizeof(err->message), "%s", SINK_MESSAGE);
		return BERTH_E_IO;
	}
	if (s->len + len > s->cap) {
		size_t cap = s->cap ? s->cap : BLOCK;
		char *grown;

		while (cap < s->len + len)
			cap *= 2;
		grown = realloc(s->buf, cap);
		if (!grown) {
			err->code = BERTH_E_NOMEM;
			snprintf(err->message, sizeof(err->message), "test sink: out of memory");
			return BERTH_E_NOMEM;
		}
		s->buf = grown;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, buf, len);
	s->len += len;
	return 0;
}

static int discard_store(void *ctx, const void *buf, size_t len, berth_error *err)
{
	(void)ctx;
	(void)buf;
	(void)len;
	(void)err;
	return 0;
}

static char *random_bytes(size_t len, uint64_t seed)
{
	char *out = malloc(len ? len : 1);
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	size_t i;

	if (!out)
		abort();
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		out[i] = (char)(x >> 24);
	}
	return out;
}

/* sha256 by OpenSSL directly, not through digest_ctx. */
static void sha256_hex(const char *data, size_t len, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		abort();
	for (i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void check_hash(digest_ctx *hash, const char *data, size_t len)
{
	char want[65];
	digest d;

	sha256_hex(data, len, want);
	CHECK_INT(digest_ctx_final(hash, &d), 0);
	CHECK_STR(d.hex, want);
}

static void check_stored(const mem_sink *s, const char *data, size_t len)
{
	CHECK_INT(s->len, len);
	CHECK(s->len == len && (len == 0 || memcmp(s->buf, data, len) == 0));
	CHECK_INT(s->calls, (len + BLOCK - 1) / BLOCK);
	CHECK_INT(s->short_blocks, 0);
	CHECK_INT(s->bad_lengths, 0);
}

/* Feed len bytes in pieces of `piece` through a pipe; storage and hash must match. */
static void pipe_pieces(size_t len, size_t piece, unsigned delay_us, int hashed)
{
	char *data = random_bytes(len, len ^ piece);
	mem_sink sink = {0};
	digest_ctx *hash = hashed ? digest_ctx_new(DIGEST_SHA256) : NULL;
	upload_pipe *p = NULL;
	berth_error err = {0};
	size_t off = 0;
	int rc = 0, failures = test_failures;

	sink.delay_us = delay_us;
	CHECK(!hashed || hash);
	CHECK_INT(upload_pipe_open(&p, mem_sink_store, &sink, hash, &err), 0);
	if (!p)
		goto out;
	CHECK_INT(upload_pipe_write(p, data, 0, &err), 0);
	while (off < len && rc == 0) {
		size_t n = len - off < piece ? len - off : piece;

		rc = upload_pipe_write(p, data + off, n, &err);
		off += n;
	}
	CHECK_INT(rc, 0);
	CHECK_INT(upload_pipe_close(p, &err), 0);
	check_stored(&sink, data, len);
	if (hash)
		check_hash(hash, data, len);
out:
	if (test_failures > failures)
		fprintf(stderr, "  (%zu bytes in pieces of %zu, sink delay %u us, %s)\n", len,
			piece, delay_us, hashed ? "hashed" : "no hash");
	digest_ctx_free(hash);
	free(sink.buf);
	free(data);
}

static void test_pieces(void)
{
	/* Longer than the ring, and not a whole number of blocks. */
	size_t len = 7 * BLOCK + 11;
	const size_t pieces[] = { 1, 7, 32488, BLOCK, 3 * BLOCK + 5 };
	size_t i;

	for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++)
		pipe_pieces(len, pieces[i], 0, 1);
	pipe_pieces(10u * 1024 * 1024, 10u * 1024 * 1024, 0, 1);
	/* Exactly whole blocks: no short last block. */
	pipe_pieces(UPLOAD_PIPE_BLOCKS * BLOCK, 65536, 0, 1);
}

static void test_empty(void)
{
	mem_sink sink = {0};
	digest_ctx *hash = digest_ctx_new(DIGEST_SHA256);
	upload_pipe *p = NULL;
	berth_error err = {0};

	CHECK_INT(upload_pipe_open(&p, mem_sink_store, &sink, hash, &err), 0);
	if (p)
		CHECK_INT(upload_pipe_close(p, &err), 0);
	CHECK_INT(sink.calls, 0);
	CHECK_INT(sink.len, 0);
	check_hash(hash, "", 0);
	digest_ctx_free(hash);
}

/* A sink failing at its 2nd block: storage keeps the 1st, nothing after. */
static void pipe_failing(int keep_writing, unsigned delay_us)
{
	size_t len = 10 * BLOCK + 3;
	char *data = random_bytes(len, 77 + (unsigned)keep_writing);
	mem_sink sink = {0};
	digest_ctx *hash = digest_ctx_new(DIGEST_SHA256);
	upload_pipe *p = NULL;
	berth_error err = {0};
	size_t off = 0;
	int rc = 0, reported = 0;

	sink.fail_at = 2;
	sink.delay_us = delay_us;
	CHECK_INT(upload_pipe_open(&p, mem_sink_store, &sink, hash, &err), 0);
	if (!p)
		goto out;
	while (off < len) {
		size_t n = len - off < 65536 ? len - off : 65536;

		memset(&err, 0, sizeof(err));
		rc = upload_pipe_write(p, data + off, n, &err);
		off += n;
		if (rc != 0) {
			reported++;
			CHECK_INT(rc, BERTH_E_IO);
			CHECK_INT(err.code, BERTH_E_IO);
			CHECK_STR(err.message, SINK_MESSAGE);
			if (!keep_writing)
				break;
		}
	}
	memset(&err, 0, sizeof(err));
	CHECK_INT(upload_pipe_close(p, &err), BERTH_E_IO);
	CHECK_INT(err.code, BERTH_E_IO);
	CHECK_STR(err.message, SINK_MESSAGE);
	/* A block is handed over only while the ring has room, so by the
	 * 10th the writer has failed the 2nd, and some write reports it. */
	if (keep_writing)
		CHECK(reported > 0);
	CHECK_INT(sink.len, BLOCK);
	CHECK(sink.len == BLOCK && memcmp(sink.buf, data, BLOCK) == 0);
	CHECK_INT(sink.calls, 2);
	CHECK_INT(sink.calls_after_failure, 0);
out:
	digest_ctx_free(hash);
	free(sink.buf);
	free(data);
}

static void test_failing_sink(void)
{
	pipe_failing(0, 0);
	pipe_failing(1, 0);
	/* A slow failure: the ring is full of blocks that must be dropped. */
	pipe_failing(1, 20000);
}

static void test_budget(void)
{
	/* Room for twice the budget, so a budget that is not kept shows. */
	upload_pipe *pipes[2 * PIPES_IN_BUDGET];
	upload_pipe *again = NULL;
	/* Not NULL, so that the check shows a decline sets it to NULL. */
	upload_pipe *declined = (upload_pipe *)pipes;
	berth_error err = {0};
	size_t n = 0, i;
	int rc = 0;

	while (n < sizeof(pipes) / sizeof(pipes[0])) {
		rc = upload_pipe_open(&pipes[n], discard_store, NULL, NULL, &err);
		if (rc != 0)
			break;
		n++;
	}
	CHECK_INT(rc, BERTH_DECLINED);
	CHECK_INT(n, PIPES_IN_BUDGET);
	CHECK_INT(upload_pipe_open(&declined, discard_store, NULL, NULL, &err), BERTH_DECLINED);
	CHECK(declined == NULL);
	if (n > 0) {
		CHECK_INT(upload_pipe_write(pipes[0], "x", 1, &err), 0);
		CHECK_INT(upload_pipe_close(pipes[0], &err), 0);
		CHECK_INT(upload_pipe_open(&again, discard_store, NULL, NULL, &err), 0);
		if (again)
			pipes[0] = again;
		else
			pipes[0] = pipes[--n];
	}
	for (i = 0; i < n; i++)
		CHECK_INT(upload_pipe_close(pipes[i], &err), 0);
	/* All the budget is back. */
	CHECK_INT(upload_pipe_open(&again, discard_store, NULL, NULL, &err), 0);
	if (again)
		CHECK_INT(upload_pipe_close(again, &err), 0);
}

static void test_slow_sink(void)
{
	/* The producer outruns the writer and waits on a full ring. */
	pipe_pieces(9 * BLOCK + 1, 32488, 3000, 1);
	pipe_pieces(5 * BLOCK + 2, 3 * BLOCK + 5, 3000, 1);
}

static void test_no_hash(void)
{
	pipe_pieces(6 * BLOCK + 5, 65536, 0, 0);
	pipe_pieces(BLOCK - 1, 7, 0, 0);
}

int main(void)
{
	test_pieces();
	test_empty();
	test_failing_sink();
	test_budget();
	test_slow_sink();
	test_no_hash();
	TEST_MAIN_END();
}
