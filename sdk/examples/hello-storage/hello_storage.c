/*
 * hello_storage.c - a storage driver that keeps everything in memory.
 *
 * Berth owns the registry's layout (blobs, repositories, tags, uploads) and
 * asks exactly one storage plugin to keep bytes under '/'-separated keys.
 * This driver is a hash map from key to bytes behind one mutex: the whole
 * registry lives in the process and is gone when it exits. Use it for
 * tests and demos, and as the skeleton of a real driver (an object store,
 * a database).
 *
 *   plugins:
 *     - use: hello-storage
 *       config:
 *         max_size: 1GiB
 *
 * What every driver must get right, and where this one does it:
 *   - keys are checked (no "..", no empty or "." segment, no control
 *     characters) and refused with BERTH_E_INVALID: key_ok();
 *   - a write becomes visible only at commit, replacing the old object in
 *     one step; cancel leaves no trace: mem_write_commit();
 *   - BERTH_WRITE_APPEND (upload data) grows the object in place;
 *   - a reader keeps reading the object it opened even if it is replaced
 *     or removed meanwhile: objects are reference-counted;
 *   - directories are implied by keys: "a/b" existing makes "a" a
 *     directory, for stat() and list().
 * Operations run concurrently on worker threads; the mutex makes each one
 * atomic. Callbacks (list) are called with the mutex released.
 */
#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/plugin.h>

#define KEY_MAX 4096
#define FIRST_BUCKETS 256

/* The bytes of one key. Shared by the map and open readers and writers. */
struct object {
	size_t refs;
	unsigned char *data;
	size_t len, cap;
	int64_t mtime_ms;
};

struct entry {
	char *key;
	struct object *obj;
	struct entry *next;    /* next in the same bucket */
};

struct store {
	const berth_host *host;
	const berth_instance *self;
	pthread_mutex_t lock;  /* guards everything below and every object */
	struct entry **buckets;
	size_t n_buckets, n_entries;
	uint64_t bytes;        /* held by all objects, open ones included */
	uint64_t max_bytes;    /* 0: no limit */
};

struct writer {
	char *key;
	struct object *obj;
	unsigned flags;
};

static const berth_config_key hello_schema[] = {
	{ .key = "max_size", .type = BERTH_CONFIG_SIZE, .default_value = "0",
	  .help = "bytes the store may hold before writes fail as a full disk; 0 for no limit" },
	{ .type = BERTH_CONFIG_END }
};

BERTH_PRINTF(3, 4)
static int fail(berth_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	return code;
}

/* ------------------------------------------------------------------------ */
/* Keys                                                                     */
/* ------------------------------------------------------------------------ */

/*
 * The core checks the keys it builds; a driver checks again, because it is
 * the last line before the bytes. Error messages never quote a bad key: it
 * may hold anything.
 */
static int key_ok(const char *key)
{
	size_t len = strlen(key), start = 0, i;

	if (len == 0 || len > KEY_MAX)
		return 0;
	for (i = 0; i <= len; i++) {
		unsigned char c = (unsigned char)key[i];
		size_t seg_len = i - start;

		if (c != '/' && c != '\0') {
			if (c < 0x20 || c == 0x7f)
				return 0;
			continue;
		}
		/* End of a segment: it may not be "", "." or "..". */
		if (seg_len == 0 || (seg_len == 1 && key[start] == '.') ||
		    (seg_len == 2 && key[start] == '.' && key[start + 1] == '.'))
			return 0;
		start = i + 1;
	}
	return 1;
}

/* Is `key` strictly under `dir` ("a/b" is under "a"; "" is the root)? */
static int is_under(const char *key, const char *dir, size_t dir_len)
{
	if (dir_len == 0)
		return 1;
	return strncmp(key, dir, dir_len) == 0 && key[dir_len] == '/';
}

/* ------------------------------------------------------------------------ */
/* Objects and the map (call with the lock held)                            */
/* ------------------------------------------------------------------------ */

/* A new, empty object holding one reference: the caller's. */
static struct object *object_new(void)
{
	struct object *obj = calloc(1, sizeof(*obj));

	if (obj)
		obj->refs = 1;
	return obj;
}

static void object_release(struct store *st, struct object *obj)
{
	if (!obj || --obj->refs > 0)
		return;
	st->bytes -= obj->len;
	free(obj->data);
	free(obj);
}

/* FNV-1a: simple, and good enough for a test driver. */
static uint64_t hash_key(const char *key)
{
	uint64_t h = 14695981039346656037u;

	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 1099511628211u;
	return h;
}

static size_t bucket_of(const struct store *st, const char *key)
{
	return (size_t)(hash_key(key) % st->n_buckets);
}

static struct entry **find_slot(struct store *st, const char *key)
{
	struct entry **e = &st->buckets[bucket_of(st, key)];

	while (*e && strcmp((*e)->key, key) != 0)
		e = &(*e)->next;
	return e;
}

static struct entry *find(struct store *st, const char *key)
{
	return *find_slot(st, key);
}

/* Keep chains short: double the buckets when there are twice as many keys. */
static void maybe_grow(struct store *st)
{
	size_t n = st->n_buckets * 2, i;
	struct entry **b;

	if (st->n_entries < st->n_buckets * 2)
		return;
	b = calloc(n, sizeof(*b));
	if (!b)
		return;        /* longer chains, still correct */
	for (i = 0; i < st->n_buckets; i++) {
		struct entry *e = st->buckets[i], *next;

		for (; e; e = next) {
			size_t to = (size_t)(hash_key(e->key) % n);

			next = e->next;
			e->next = b[to];
			b[to] = e;
		}
	}
	free(st->buckets);
	st->buckets = b;
	st->n_buckets = n;
}

/* Make key name obj (taking over the caller's reference to it). */
static int put(struct store *st, const char *key, struct object *obj)
{
	struct entry **slot = find_slot(st, key), *e;

	if (*slot) {
		object_release(st, (*slot)->obj);
		(*slot)->obj = obj;
		return 0;
	}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->key = strdup(key))) {
		free(e);
		return BERTH_E_NOMEM;
	}
	e->obj = obj;
	*slot = e;
	st->n_entries++;
	maybe_grow(st);
	return 0;
}

static void unlink_entry(struct store *st, struct entry **slot)
{
	struct entry *e = *slot;

	*slot = e->next;
	st->n_entries--;
	object_release(st, e->obj);
	free(e->key);
	free(e);
}

/* Does any key live under dir? That is what makes dir a directory. */
static int has_children(struct store *st, const char *dir)
{
	size_t dir_len = strlen(dir), i;
	struct entry *e;

	for (i = 0; i < st->n_buckets; i++)
		for (e = st->buckets[i]; e; e = e->next)
			if (is_under(e->key, dir, dir_len))
				return 1;
	return 0;
}

/* Remove key and everything under it; returns how many keys went. */
static size_t remove_tree(struct store *st, const char *key)
{
	size_t key_len = strlen(key), i, n = 0;

	for (i = 0; i < st->n_buckets; i++) {
		struct entry **slot = &st->buckets[i];

		while (*slot) {
			if (strcmp((*slot)->key, key) == 0 || is_under((*slot)->key, key, key_len)) {
				unlink_entry(st, slot);
				n++;
			} else {
				slot = &(*slot)->next;
			}
		}
	}
	return n;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */
/* ------------------------------------------------------------------------ */

static int mem_stat(void *state, const char *key, berth_stat *out, berth_error *err)
{
	struct store *st = state;
	struct entry *e;
	int rc = 0;

	if (!key_ok(key))
		return fail(err, BERTH_E_INVALID, "hello-storage: invalid key");
	pthread_mutex_lock(&st->lock);
	e = find(st, key);
	if (e) {
		out->size = e->obj->len;
		out->mtime_ms = e->obj->mtime_ms;
		out->is_dir = 0;
	} else if (has_children(st, key)) {
		out->size = 0;
		out->mtime_ms = 0;
		out->is_dir = 1;
	} else {
		rc = fail(err, BERTH_E_NOT_FOUND, "hello-storage: no key '%s'", key);
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

static int mem_read_all(void *state, const char *key, void *buf, size_t cap, size_t *len,
			berth_error *err)
{
	struct store *st = state;
	struct entry *e;
	int rc = 0;

	if (!key_ok(key))
		return fail(err, BERTH_E_INVALID, "hello-storage: invalid key");
	pthread_mutex_lock(&st->lock);
	e = find(st, key);
	if (!e) {
		rc = fail(err, BERTH_E_NOT_FOUND, "hello-storage: no key '%s'", key);
	} else {
		*len = e->obj->len;
		if (e->obj->len > cap)
			rc = fail(err, BERTH_E_RANGE, "hello-storage: '%s' is %zu bytes", key,
				  e->obj->len);
		else if (e->obj->len > 0)
			memcpy(buf, e->obj->data, e->obj->len);
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/*
 * Memory has no file descriptor to give, so fd is -1 and the host reads
 * through read_at() on the stream: here, the object itself, with a
 * reference so it outlives a replacement or a remove.
 */
static int mem_open_read(void *state, const char *key, uint64_t offset, berth_read_handle *h,
			 berth_error *err)
{
	struct store *st = state;
	struct entry *e;
	int rc = 0;

	if (!key_ok(key))
		return fail(err, BERTH_E_INVALID, "hello-storage: invalid key");
	pthread_mutex_lock(&st->lock);
	e = find(st, key);
	if (!e) {
		rc = fail(err, BERTH_E_NOT_FOUND, "hello-storage: no key '%s'", key);
	} else if (offset > e->obj->len) {
		rc = fail(err, BERTH_E_RANGE, "hello-storage: offset %llu is past the end of '%s'",
			  (unsigned long long)offset, key);
	} else {
		e->obj->refs++;
		h->fd = -1;
		h->size = e->obj->len;
		h->stream = e->obj;
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

static ssize_t mem_read_at(void *state, void *stream, uint64_t offset, void *buf, size_t cap,
			   berth_error *err)
{
	struct store *st = state;
	struct object *obj = stream;
	size_t n = 0;

	(void)err;
	pthread_mutex_lock(&st->lock);
	if (offset < obj->len) {
		n = obj->len - (size_t)offset;
		if (n > cap)
			n = cap;
		if (n > SSIZE_MAX)
			n = SSIZE_MAX;
		memcpy(buf, obj->data + offset, n);
	}
	pthread_mutex_unlock(&st->lock);
	return (ssize_t)n;
}

static void mem_read_close(void *state, void *stream)
{
	struct store *st = state;

	pthread_mutex_lock(&st->lock);
	object_release(st, stream);
	pthread_mutex_unlock(&st->lock);
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */
/* ------------------------------------------------------------------------ */

static int mem_write_open(void *state, const char *key, unsigned flags, void **writer,
			  berth_error *err)
{
	struct store *st = state;
	struct writer *w;
	struct entry *e;
	int rc = 0;

	if (!key_ok(key))
		return fail(err, BERTH_E_INVALID, "hello-storage: invalid key");
	w = calloc(1, sizeof(*w));
	if (!w || !(w->key = strdup(key))) {
		free(w);
		return fail(err, BERTH_E_NOMEM, "hello-storage: out of memory");
	}
	w->flags = flags;
	pthread_mutex_lock(&st->lock);
	if (flags & BERTH_WRITE_APPEND) {
		/* Appends go to the live object, created empty if need be. */
		e = find(st, key);
		if (e) {
			w->obj = e->obj;
		} else if ((w->obj = object_new()) != NULL) {
			/* Visible at once, like a file created by open(). */
			w->obj->mtime_ms = st->host->now_ms();
			if (put(st, key, w->obj) < 0) {
				object_release(st, w->obj);
				w->obj = NULL;
			}
		}
		/* One reference for the map, one for the writer. */
		if (w->obj)
			w->obj->refs++;
	} else {
		/* A private object, published by commit. */
		w->obj = object_new();
	}
	pthread_mutex_unlock(&st->lock);
	if (!w->obj) {
		rc = fail(err, BERTH_E_NOMEM, "hello-storage: out of memory");
		free(w->key);
		free(w);
		return rc;
	}
	*writer = w;
	return 0;
}

static int mem_write(void *state, void *writer, const void *buf, size_t len, berth_error *err)
{
	struct store *st = state;
	struct writer *w = writer;
	struct object *obj = w->obj;
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	if (st->max_bytes && (len > st->max_bytes || st->bytes > st->max_bytes - len)) {
		rc = fail(err, BERTH_E_NOSPACE, "hello-storage: the store is full (%llu bytes)",
			  (unsigned long long)st->max_bytes);
		goto out;
	}
	if (len > SIZE_MAX - obj->len) {
		rc = fail(err, BERTH_E_NOSPACE, "hello-storage: '%s' is too large", w->key);
		goto out;
	}
	if (obj->len + len > obj->cap) {
		/* Grow by doubling, so a large blob costs few copies. */
		size_t cap = obj->cap ? obj->cap : 4096;
		unsigned char *data;

		while (cap < obj->len + len)
			cap = cap > SIZE_MAX / 2 ? obj->len + len : cap * 2;
		data = realloc(obj->data, cap);
		if (!data) {
			rc = fail(err, BERTH_E_NOSPACE, "hello-storage: out of memory for '%s'",
				  w->key);
			goto out;
		}
		obj->data = data;
		obj->cap = cap;
	}
	if (len > 0)
		memcpy(obj->data + obj->len, buf, len);
	obj->len += len;
	st->bytes += len;
	if (w->flags & BERTH_WRITE_APPEND)
		obj->mtime_ms = st->host->now_ms();
out:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

static void writer_free(struct writer *w)
{
	free(w->key);
	free(w);
}

static int mem_write_commit(void *state, void *writer, berth_error *err)
{
	struct store *st = state;
	struct writer *w = writer;
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	if (w->flags & BERTH_WRITE_APPEND) {
		/* The data is already in place. */
		object_release(st, w->obj);
	} else {
		/* One pointer swap under the lock: readers see old or new, whole. */
		w->obj->mtime_ms = st->host->now_ms();
		rc = put(st, w->key, w->obj);
		if (rc < 0) {
			object_release(st, w->obj);
			rc = fail(err, rc, "hello-storage: out of memory");
		}
	}
	pthread_mutex_unlock(&st->lock);
	writer_free(w);
	return rc;
}

static void mem_write_cancel(void *state, void *writer)
{
	struct store *st = state;
	struct writer *w = writer;

	/* A private object goes; an appended one keeps what was written. */
	pthread_mutex_lock(&st->lock);
	object_release(st, w->obj);
	pthread_mutex_unlock(&st->lock);
	writer_free(w);
}

/* ------------------------------------------------------------------------ */
/* Tree operations                                                          */
/* ------------------------------------------------------------------------ */

/* Rename every key under `from` to the same key under `to`. */
static int move_tree(struct store *st, const char *from, const char *to)
{
	size_t from_len = strlen(from), to_len = strlen(to), i, n = 0, cap = 0;
	struct entry **moved = NULL, *e;
	int rc = 0;

	/* Take the entries out first: renaming changes their buckets. */
	for (i = 0; i < st->n_buckets; i++) {
		struct entry **slot = &st->buckets[i];

		while (*slot) {
			e = *slot;
			if (!is_under(e->key, from, from_len)) {
				slot = &e->next;
				continue;
			}
			if (n == cap) {
				struct entry **v;

				cap = cap ? cap * 2 : 16;
				v = realloc(moved, cap * sizeof(*v));
				if (!v) {
					rc = BERTH_E_NOMEM;
					goto put_back;
				}
				moved = v;
			}
			*slot = e->next;
			st->n_entries--;
			moved[n++] = e;
		}
	}
	for (i = 0; i < n; i++) {
		const char *rest = moved[i]->key + from_len;
		char *key = malloc(to_len + strlen(rest) + 1);

		if (key) {
			memcpy(key, to, to_len);
			strcpy(key + to_len, rest);
			free(moved[i]->key);
			moved[i]->key = key;
		} else {
			rc = BERTH_E_NOMEM;    /* this one keeps its old name */
		}
	}
put_back:
	for (i = 0; i < n; i++) {
		struct entry **slot = find_slot(st, moved[i]->key);

		if (*slot)
			unlink_entry(st, slot);
		moved[i]->next = *slot;
		*slot = moved[i];
		st->n_entries++;
	}
	free(moved);
	maybe_grow(st);
	return rc;
}

static int mem_move(void *state, const char *from, const char *to, berth_error *err)
{
	struct store *st = state;
	struct entry **slot;
	struct object *obj;
	int rc = 0;

	if (!key_ok(from) || !key_ok(to))
		return fail(err, BERTH_E_INVALID, "hello-storage: invalid key");
	pthread_mutex_lock(&st->lock);
	slot = find_slot(st, from);
	if (strcmp(from, to) == 0 && (*slot || has_children(st, from))) {
		rc = 0;        /* nothing to do */
	} else if (*slot) {
		obj = (*slot)->obj;
		obj->refs++;
		unlink_entry(st, slot);
		remove_tree(st, to);
		rc = put(st, to, obj);
		if (rc < 0) {
			object_release(st, obj);
			rc = fail(err, rc, "hello-storage: out of memory");
		}
	} else if (has_children(st, from)) {
		/* A whole directory; refuse to move it into itself. */
		if (is_under(to, from, strlen(from))) {
			rc = fail(err, BERTH_E_INVALID, "hello-storage: cannot move '%s' into itself",
				  from);
		} else {
			remove_tree(st, to);
			rc = move_tree(st, from, to);
			if (rc < 0)
				rc = fail(err, rc, "hello-storage: out of memory");
		}
	} else {
		rc = fail(err, BERTH_E_NOT_FOUND, "hello-storage: no key '%s'", from);
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

static int mem_remove(void *state, const char *key, berth_error *err)
{
	struct store *st = state;
	size_t n;

	if (!key_ok(key))
		return fail(err, BERTH_E_INVALID, "hello-storage: invalid key");
	pthread_mutex_lock(&st->lock);
	n = remove_tree(st, key);
	pthread_mutex_unlock(&st->lock);
	if (n == 0)
		return fail(err, BERTH_E_NOT_FOUND, "hello-storage: no key '%s'", key);
	return 0;
}

struct child {
	char *name;
	int is_dir;
};

static int child_cmp(const void *a, const void *b)
{
	return strcmp(((const struct child *)a)->name, ((const struct child *)b)->name);
}

/*
 * The direct children of a prefix: the first segment after it of every
 * key under it, once each. Gathered under the lock, handed to fn without
 * it, so fn may call back into the driver.
 */
static int mem_list(void *state, const char *prefix, berth_list_fn fn, void *ctx,
		    berth_error *err)
{
	struct store *st = state;
	size_t prefix_len = strlen(prefix), skip, i, n = 0, cap = 0, out;
	struct child *kids = NULL;
	struct entry *e;
	int rc = 0;

	/* "" is the root; anything else is a key. */
	if (prefix_len && !key_ok(prefix))
		return fail(err, BERTH_E_INVALID, "hello-storage: invalid key");
	skip = prefix_len ? prefix_len + 1 : 0;
	pthread_mutex_lock(&st->lock);
	for (i = 0; i < st->n_buckets && rc == 0; i++) {
		for (e = st->buckets[i]; e && rc == 0; e = e->next) {
			const char *rest, *slash;

			if (!is_under(e->key, prefix, prefix_len))
				continue;
			rest = e->key + skip;
			slash = strchr(rest, '/');
			if (n == cap) {
				struct child *v;

				cap = cap ? cap * 2 : 32;
				v = realloc(kids, cap * sizeof(*v));
				if (!v) {
					rc = BERTH_E_NOMEM;
					break;
				}
				kids = v;
			}
			kids[n].name = slash ? strndup(rest, (size_t)(slash - rest)) : strdup(rest);
			kids[n].is_dir = slash != NULL;
			if (!kids[n].name)
				rc = BERTH_E_NOMEM;
			else
				n++;
		}
	}
	pthread_mutex_unlock(&st->lock);
	if (rc < 0) {
		rc = fail(err, rc, "hello-storage: out of memory");
		goto out;
	}
	if (n == 0 && prefix_len) {
		rc = fail(err, BERTH_E_NOT_FOUND, "hello-storage: no directory '%s'", prefix);
		goto out;
	}
	/* Sort to merge duplicates: "a/x" and "a/y" both give "a". */
	qsort(kids, n, sizeof(*kids), child_cmp);
	for (i = 0, out = 0; i < n; i++) {
		if (out > 0 && strcmp(kids[out - 1].name, kids[i].name) == 0) {
			kids[out - 1].is_dir |= kids[i].is_dir;
			free(kids[i].name);
			continue;
		}
		kids[out++] = kids[i];
	}
	n = out;
	for (i = 0; i < n; i++)
		if (fn(ctx, kids[i].name, kids[i].is_dir) != 0)
			break;
out:
	for (i = 0; i < n; i++)
		free(kids[i].name);
	free(kids);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                */
/* ------------------------------------------------------------------------ */

static int hello_create(const berth_host *host, const berth_instance *self,
			const berth_config *config, void **state, berth_error *err)
{
	struct store *st;
	int64_t max;

	if (!BERTH_HOST_HAS(host, now_ms))
		return fail(err, BERTH_E_UNSUPPORTED, "hello-storage: this Berth is too old");
	max = host->config_int(config, "max_size", 0);
	if (max < 0)
		return fail(err, BERTH_E_CONFIG, "hello-storage: 'max_size' may not be negative");
	st = calloc(1, sizeof(*st));
	if (!st)
		return fail(err, BERTH_E_NOMEM, "hello-storage: out of memory");
	st->buckets = calloc(FIRST_BUCKETS, sizeof(*st->buckets));
	if (!st->buckets || pthread_mutex_init(&st->lock, NULL) != 0) {
		free(st->buckets);
		free(st);
		return fail(err, BERTH_E_NOMEM, "hello-storage: out of memory");
	}
	st->n_buckets = FIRST_BUCKETS;
	st->host = host;
	st->self = self;
	st->max_bytes = (uint64_t)max;
	host->log(self, BERTH_LOG_WARN,
		  "the registry lives in memory and is lost when Berth stops");
	*state = st;
	return 0;
}

static void hello_destroy(void *state)
{
	struct store *st = state;
	size_t i;

	if (!st)
		return;
	for (i = 0; i < st->n_buckets; i++)
		while (st->buckets[i])
			unlink_entry(st, &st->buckets[i]);
	free(st->buckets);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

static const berth_storage_ops hello_storage_ops = {
	.size = sizeof(berth_storage_ops),
	.stat = mem_stat,
	.read_all = mem_read_all,
	.open_read = mem_open_read,
	.read_at = mem_read_at,
	.read_close = mem_read_close,
	.write_open = mem_write_open,
	.write = mem_write,
	.write_commit = mem_write_commit,
	.write_cancel = mem_write_cancel,
	.move = mem_move,
	.remove = mem_remove,
	.list = mem_list,
	/* No redirect_url: there is no URL to hand out for memory. */
};

static const berth_plugin hello_plugin = {
	BERTH_PLUGIN_HEADER,
	.name = "hello-storage",
	.version = "0.1.0",
	.description = "keeps the registry in memory, for tests",
	.config_schema = hello_schema,
	.create = hello_create,
	.destroy = hello_destroy,
	.storage = &hello_storage_ops,
};

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void)
{
	return &hello_plugin;
}
