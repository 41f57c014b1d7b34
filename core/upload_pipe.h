/*
 * upload_pipe.h - write an upload's bytes on a thread of their own, so that
 * storing them overlaps with receiving and hashing them.
 *
 * A push is bound by SHA-256 only if nothing else runs in turn with it. On
 * the request's thread, libmicrohttpd hands over the body in pieces of a few
 * tens of KiB; receiving, hashing and writing each piece one after the other
 * costs the sum of the three. The pipe copies pieces into blocks of
 * UPLOAD_PIPE_BLOCK bytes; a writer thread stores full blocks and a hasher
 * thread hashes them while the request's thread goes on receiving the next
 * ones, so the slowest of the three sets the pace, not their sum. Blocks
 * also turn many small write(2)s into a few large ones.
 *
 * Memory is bounded: a pipe holds UPLOAD_PIPE_BLOCKS blocks, and all pipes
 * together at most UPLOAD_PIPE_BUDGET bytes; upload_pipe_open() declines
 * (BERTH_DECLINED) when the budget is spent, and the caller writes directly.
 *
 * A write that fails on the writer thread is reported by the next
 * upload_pipe_write() and by upload_pipe_close(); the bytes after it are
 * dropped, so what storage holds is a prefix of what the client sent (and
 * the caller must forget the hash, which may have gone further).
 */
#ifndef BERTH_UPLOAD_PIPE_H
#define BERTH_UPLOAD_PIPE_H

#include <stddef.h>
#include <stdint.h>

#include "berth/error.h"
#include "digest.h"

#define UPLOAD_PIPE_BLOCK (1024u * 1024)
#define UPLOAD_PIPE_BLOCKS 4
#define UPLOAD_PIPE_BUDGET (64u * 1024 * 1024)
/* Bodies shorter than this are written directly: a thread is not worth it. */
#define UPLOAD_PIPE_MIN_BODY (2u * UPLOAD_PIPE_BLOCK)

/* Stores one block; runs on the writer thread. Returns 0 or a negative code with err set. */
typedef int (*upload_pipe_sink)(void *ctx, const void *buf, size_t len, berth_error *err);

typedef struct upload_pipe upload_pipe;

/*
 * Start a pipe storing through sink(ctx, ...) and, when hash is not NULL,
 * updating hash with the same bytes; the caller must not touch hash until
 * upload_pipe_close() returns. BERTH_DECLINED when the memory budget is
 * spent; < 0 with err on failure.
 */
int upload_pipe_open(upload_pipe **out, upload_pipe_sink sink, void *ctx, digest_ctx *hash,
		     berth_error *err);
/* Queue len bytes (copied); waits while every block is full. Returns a failed write's code. */
int upload_pipe_write(upload_pipe *p, const void *data, size_t len, berth_error *err);
/* Store and hash what is queued, stop the threads, free the pipe; the first failure, if any. */
int upload_pipe_close(upload_pipe *p, berth_error *err);

#endif
