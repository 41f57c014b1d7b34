/*
 * upload_pipe.c - writer and hasher threads per streaming upload (see
 * upload_pipe.h).
 *
 * The blocks form a ring. The request's thread fills block
 * `handed % UPLOAD_PIPE_BLOCKS` and hands it over by counting it in
 * `handed`; each consumer (the writer, the hasher) takes blocks in order and
 * counts the ones it finished in its `done`. A block is refilled only when
 * every consumer is past it, so no consumer ever reads a block being filled.
 */
#include "upload_pipe.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "errors.h"

#define PIPE_MEMORY ((size_t)UPLOAD_PIPE_BLOCKS * UPLOAD_PIPE_BLOCK)
/* Freed rings kept for the next upload: saves mapping and faulting the
 * ring for every chunk of a chunked push. */
#define PIPE_SPARES 2
/* The consumers call a storage driver's write or SHA-256: shallow. */
#define PIPE_STACK (256u * 1024)

enum { CONSUMER_WRITER, CONSUMER_HASHER, CONSUMERS };

struct upload_pipe;

typedef struct pipe_consumer {
	struct upload_pipe *pipe;
	pthread_t thread;
	uint64_t done;           /* blocks finished */
	int running;
} pipe_consumer;

struct upload_pipe {
	pthread_mutex_t lock;
	pthread_cond_t filled;   /* a block was handed over, or closing */
	pthread_cond_t freed;    /* a consumer finished a block */
	char *memory;
	size_t len[UPLOAD_PIPE_BLOCKS];
	uint64_t handed;         /* blocks handed over */
	int closing;
	int failed;              /* the writer's first failure, or 0 */
	berth_error error;
	upload_pipe_sink sink;
	void *ctx;
	digest_ctx *hash;
	pipe_consumer consumers[CONSUMERS];
};

static atomic_size_t pipe_memory_in_use;
static pthread_mutex_t spares_lock = PTHREAD_MUTEX_INITIALIZER;
static char *spares[PIPE_SPARES];

static char *memory_take(void)
{
	char *m = NULL;
	int i;

	pthread_mutex_lock(&spares_lock);
	for (i = 0; i < PIPE_SPARES && !m; i++) {
		m = spares[i];
		spares[i] = NULL;
	}
	pthread_mutex_unlock(&spares_lock);
	if (m)
		return m;
	/* Mapped apart from the heap so the memory goes back to the system
	 * when the upload ends, whatever malloc's thresholds have become. */
	m = mmap(NULL, PIPE_MEMORY, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	return m == MAP_FAILED ? NULL : m;
}

static void memory_give(char *m)
{
	int i;

	pthread_mutex_lock(&spares_lock);
	for (i = 0; i < PIPE_SPARES && m; i++) {
		if (!spares[i]) {
			spares[i] = m;
			m = NULL;
		}
	}
	pthread_mutex_unlock(&spares_lock);
	if (m)
		munmap(m, PIPE_MEMORY);
}

/* Blocks handed over that some consumer has not finished. Lock held. */
static uint64_t blocks_in_use(const upload_pipe *p)
{
	uint64_t least = p->handed;
	int c;

	for (c = 0; c < CONSUMERS; c++)
		if (p->consumers[c].running && p->consumers[c].done < least)
			least = p->consumers[c].done;
	return p->handed - least;
}

/* Work on one block, lock not held; 0 or the writer's failure. */
static int consume(upload_pipe *p, int which, const char *buf, size_t len, berth_error *err)
{
	if (which == CONSUMER_HASHER)
		return digest_ctx_update(p->hash, buf, len) == 0
			       ? 0
			       : error_set(err, BERTH_E_INTERNAL, "cannot hash upload data");
	return p->sink(p->ctx, buf, len, err);
}

static void *consumer_main(void *arg)
{
	pipe_consumer *me = arg;
	upload_pipe *p = me->pipe;
	int which = (int)(me - p->consumers);

	pthread_mutex_lock(&p->lock);
	for (;;) {
		unsigned b;
		size_t len;

		while (me->done == p->handed && !p->closing)
			pthread_cond_wait(&p->filled, &p->lock);
		if (me->done == p->handed)
			break;
		b = (unsigned)(me->done % UPLOAD_PIPE_BLOCKS);
		len = p->len[b];
		/* After a failure blocks are dropped unwritten: storage must
		 * hold a prefix of the body, never bytes after a hole. */
		if (!p->failed) {
			berth_error err = {0};
			int rc;

			pthread_mutex_unlock(&p->lock);
			rc = consume(p, which, p->memory + (size_t)b * UPLOAD_PIPE_BLOCK, len, &err);
			pthread_mutex_lock(&p->lock);
			if (rc != 0 && !p->failed) {
				p->failed = rc;
				p->error = err;
			}
		}
		me->done++;
		pthread_cond_broadcast(&p->freed);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void pipe_free(upload_pipe *p)
{
	pthread_cond_destroy(&p->freed);
	pthread_cond_destroy(&p->filled);
	pthread_mutex_destroy(&p->lock);
	memory_give(p->memory);
	free(p);
	atomic_fetch_sub(&pipe_memory_in_use, PIPE_MEMORY);
}

/* Let the running consumers finish what was handed over, and wait for them. */
static void consumers_stop(upload_pipe *p)
{
	int c;

	pthread_mutex_lock(&p->lock);
	p->closing = 1;
	pthread_cond_broadcast(&p->filled);
	pthread_mutex_unlock(&p->lock);
	for (c = 0; c < CONSUMERS; c++)
		if (p->consumers[c].running)
			pthread_join(p->consumers[c].thread, NULL);
}

int upload_pipe_open(upload_pipe **out, upload_pipe_sink sink, void *ctx, digest_ctx *hash,
		     berth_error *err)
{
	upload_pipe *p = NULL;
	pthread_attr_t attr;
	int rc = 0, c;

	*out = NULL;
	if (atomic_fetch_add(&pipe_memory_in_use, PIPE_MEMORY) + PIPE_MEMORY >
	    UPLOAD_PIPE_BUDGET) {
		atomic_fetch_sub(&pipe_memory_in_use, PIPE_MEMORY);
		return BERTH_DECLINED;
	}
	p = calloc(1, sizeof(*p));
	if (p)
		p->memory = memory_take();
	if (!p || !p->memory) {
		if (p)
			free(p);
		atomic_fetch_sub(&pipe_memory_in_use, PIPE_MEMORY);
		return error_set(err, BERTH_E_NOMEM, "cannot stage upload data: out of memory");
	}
	p->sink = sink;
	p->ctx = ctx;
	p->hash = hash;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->filled, NULL);
	pthread_cond_init(&p->freed, NULL);
	if (pthread_attr_init(&attr) != 0) {
		pipe_free(p);
		return error_set(err, BERTH_E_NOMEM, "cannot start an upload writer");
	}
	pthread_attr_setstacksize(&attr, PIPE_STACK);
	for (c = 0; c < CONSUMERS && rc == 0; c++) {
		pipe_consumer *pc = &p->consumers[c];

		if (c == CONSUMER_HASHER && !hash)
			continue;
		pc->pipe = p;
		if (pthread_create(&pc->thread, &attr, consumer_main, pc) != 0)
			rc = error_set(err, BERTH_E_AGAIN, "cannot start an upload writer");
		else
			pc->running = 1;
	}
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		consumers_stop(p);
		pipe_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

static int report_failure(const upload_pipe *p, berth_error *err)
{
	if (err)
		*err = p->error;
	return p->failed;
}

int upload_pipe_write(upload_pipe *p, const void *data, size_t len, berth_error *err)
{
	const char *from = data;

	while (len > 0) {
		unsigned b = (unsigned)(p->handed % UPLOAD_PIPE_BLOCKS);
		size_t used = p->len[b];
		size_t n = UPLOAD_PIPE_BLOCK - used;
		int rc = 0;

		if (n > len)
			n = len;
		memcpy(p->memory + (size_t)b * UPLOAD_PIPE_BLOCK + used, from, n);
		p->len[b] = used + n;
		from += n;
		len -= n;
		if (p->len[b] < UPLOAD_PIPE_BLOCK)
			continue;
		pthread_mutex_lock(&p->lock);
		p->handed++;
		pthread_cond_broadcast(&p->filled);
		/* The next block must be free of every consumer before it is filled. */
		while (blocks_in_use(p) == UPLOAD_PIPE_BLOCKS)
			pthread_cond_wait(&p->freed, &p->lock);
		p->len[p->handed % UPLOAD_PIPE_BLOCKS] = 0;
		if (p->failed)
			rc = report_failure(p, err);
		pthread_mutex_unlock(&p->lock);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int upload_pipe_close(upload_pipe *p, berth_error *err)
{
	int rc;

	pthread_mutex_lock(&p->lock);
	if (p->len[p->handed % UPLOAD_PIPE_BLOCKS] > 0) {
		p->handed++;
		pthread_cond_broadcast(&p->filled);
	}
	pthread_mutex_unlock(&p->lock);
	consumers_stop(p);
	rc = p->failed ? report_failure(p, err) : 0;
	pipe_free(p);
	return rc;
}
