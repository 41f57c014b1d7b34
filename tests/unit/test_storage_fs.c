/*
 * test_storage_fs.c - the storage-fs plugin, loaded as the server loads it.
 *
 * dlopen()s the built storage-fs.so, checks its descriptor, creates
 * instances through a small host table of our own, runs the generic storage
 * conformance suite and then what only a filesystem driver can be asked:
 * temporary files on disk, modes, symlinks and special files planted in the
 * tree, names at the limits, file descriptors left open.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "berth/plugin.h"
#include "test.h"
/* The generic suite is not a test_*.c of its own: it is built in here. */
#include "storage_conformance.c"

#ifndef BERTH_TEST_PLUGIN_DIR
#error "BERTH_TEST_PLUGIN_DIR must name the directory holding storage-fs.so"
#endif

/* ------------------------------------------------------------------------ */
/* A minimal host                                                           */
/* ------------------------------------------------------------------------ */

/* Config as a NULL-terminated key, value, key, value ... list. */
struct berth_config {
	const char *const *kv;
};

struct berth_instance {
	const char *name;
};

static void host_log(const berth_instance *self, int level, const char *fmt, ...)
	BERTH_PRINTF(3, 4);

static void host_log(const berth_instance *self, int level, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "[%s] %d: ", self ? self->name : "?", level);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char *host_config_string(const berth_config *cfg, const char *key)
{
	size_t i;

	for (i = 0; cfg && cfg->kv[i]; i += 2)
		if (strcmp(cfg->kv[i], key) == 0)
			return cfg->kv[i + 1];
	return NULL;
}

static int64_t host_config_int(const berth_config *cfg, const char *key, int64_t def)
{
	const char *v = host_config_string(cfg, key);

	return v ? strtoll(v, NULL, 10) : def;
}

static int host_config_bool(const berth_config *cfg, const char *key, int def)
{
	const char *v = host_config_string(cfg, key);

	if (!v)
		return def;
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"))
		return 1;
	if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off"))
		return 0;
	return def;
}

static size_t host_config_list_count(const berth_config *cfg, const char *key)
{
	(void)cfg;
	(void)key;
	return 0;
}

static const char *host_config_list_string(const berth_config *cfg,
					   const char *key, size_t index)
{
	(void)cfg;
	(void)key;
	(void)index;
	return NULL;
}

static const berth_config *host_config_child(const berth_config *cfg,
					     const char *key)
{
	(void)cfg;
	(void)key;
	return NULL;
}

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t host_now_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

static int64_t host_monotonic_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

static const char *host_instance_name(const berth_instance *self)
{
	return self->name;
}

static const berth_host test_host = {
	.size = sizeof(berth_host),
	.abi_major = BERTH_ABI_MAJOR,
	.abi_minor = BERTH_ABI_MINOR,
	.version = "test",
	.log = host_log,
	.config_string = host_config_string,
	.config_int = host_config_int,
	.config_bool = host_config_bool,
	.config_list_count = host_config_list_count,
	.config_list_string = host_config_list_string,
	.config_child = host_config_child,
	.now_ms = host_now_ms,
	.monotonic_ms = host_monotonic_ms,
	.instance_name = host_instance_name,
};

static const berth_instance test_instance = { .name = "storage-fs" };

static int create(const berth_plugin *p, const char *root, const char *fsync,
		  void **state, berth_error *err)
{
	const char *kv[5] = { NULL };
	berth_config cfg = { .kv = kv };
	size_t n = 0;

	if (root) {
		kv[n++] = "root";
		kv[n++] = root;
	}
	if (fsync) {
		kv[n++] = "fsync";
		kv[n++] = fsync;
	}
	memset(err, 0, sizeof(*err));
	return p->create(&test_host, &test_instance, &cfg, state, err);
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static char *path_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p = malloc(la + 1 + lb + 1);

	if (!p) {
		perror("malloc");
		exit(2);
	}
	memcpy(p, a, la);
	p[la] = '/';
	memcpy(p + la + 1, b, lb + 1);
	return p;
}

static int exists(const char *dir, const char *name)
{
	char *p = path_join(dir, name);
	struct stat sb;
	int r = lstat(p, &sb) == 0;

	free(p);
	return r;
}

static int write_file(const char *dir, const char *name, const char *text)
{
	char *p = path_join(dir, name);
	FILE *f = fopen(p, "w");
	int rc = -1;

	if (f) {
		rc = fputs(text, f) < 0 ? -1 : 0;
		if (fclose(f) != 0)
			rc = -1;
	}
	free(p);
	return rc;
}

static int mode_of(const char *dir, const char *name)
{
	char *p = path_join(dir, name);
	struct stat sb;
	int mode = lstat(p, &sb) == 0 ? (int)(sb.st_mode & 07777) : -1;

	free(p);
	return mode;
}

static int count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* opendir's own */
}

static int temp_files_seen;

static int count_temp_cb(const char *path, const struct stat *sb, int type,
			 struct FTW *ftw)
{
	const char *name = path + ftw->base;

	(void)sb;
	(void)type;
	if (name[0] == '.' && strstr(name, ".tmp-"))
		temp_files_seen++;
	return 0;
}

static int count_temp_files(const char *root)
{
	temp_files_seen = 0;
	if (nftw(root, count_temp_cb, 16, FTW_PHYS) != 0)
		return -1;
	return temp_files_seen;
}

static int rm_cb(const char *path, const struct stat *sb, int type,
		 struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static void rm_rf(const char *path)
{
	nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static int entries_in(const char *dir, char *first, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (first && cap)
		first[0] = '\0';
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (n++ == 0 && first)
			snprintf(first, cap, "%s", e->d_name);
	}
	closedir(d);
	return n;
}

static int put(const berth_plugin *p, void *st, const char *key, const char *text)
{
	const berth_storage_ops *o = p->storage;
	berth_error err;
	void *w = NULL;
	int rc;

	rc = o->write_open(st, key, 0, &w, &err);
	if (rc < 0)
		return rc;
	rc = o->write(st, w, text, strlen(text), &err);
	if (rc < 0) {
		o->write_cancel(st, w);
		return rc;
	}
	return o->write_commit(st, w, &err);
}

/* ------------------------------------------------------------------------ */
/* Checks                                                                   */
/* ------------------------------------------------------------------------ */

static const berth_plugin *load(void **handle)
{
	const char *path = BERTH_TEST_PLUGIN_DIR "/storage-fs.so";
	berth_plugin_entry_fn entry;

	*handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!*handle) {
		fprintf(stderr, "cannot load '%s': %s\n", path, dlerror());
		return NULL;
	}
	entry = (berth_plugin_entry_fn)dlsym(*handle, BERTH_PLUGIN_ENTRY_SYMBOL);
	CHECK(entry != NULL);
	return entry ? entry() : NULL;
}

static const berth_config_key *schema_key(const berth_plugin *p, const char *key)
{
	const berth_config_key *k;

	for (k = p->config_schema; k && k->type != BERTH_CONFIG_END; k++)
		if (k->key && strcmp(k->key, key) == 0)
			return k;
	return NULL;
}

static void check_descriptor(const berth_plugin *p)
{
	const berth_config_key *k;

	CHECK_INT(p->magic, BERTH_PLUGIN_MAGIC);
	CHECK_INT(p->size, sizeof(berth_plugin));
	CHECK_INT(p->abi_major, BERTH_ABI_MAJOR);
	CHECK(p->abi_minor <= BERTH_ABI_MINOR);
	CHECK_STR(p->name, "storage-fs");
	CHECK(p->version && p->description);
	CHECK_INT(p->flags & BERTH_PLUGIN_SERIALIZED, 0);
	CHECK(p->create && p->destroy);
	CHECK(p->storage != NULL);
	if (p->storage) {
		CHECK_INT(p->storage->size, sizeof(berth_storage_ops));
		CHECK(p->storage->read_at && p->storage->read_close);
		CHECK(p->storage->redirect_url == NULL);
	}
	/* storage-fs provides storage and nothing else. */
	CHECK(!p->request && !p->auth && !p->scan && !p->notify && !p->routes &&
	      !p->jobs);

	k = schema_key(p, "root");
	CHECK(k != NULL);
	if (k) {
		CHECK_INT(k->type, BERTH_CONFIG_STRING);
		CHECK(k->flags & BERTH_CONFIG_REQUIRED);
		CHECK(k->help != NULL);
	}
	k = schema_key(p, "fsync");
	CHECK(k != NULL);
	if (k) {
		CHECK_INT(k->type, BERTH_CONFIG_BOOL);
		CHECK_STR(k->default_value, "true");
		CHECK(k->help != NULL);
	}
	CHECK(schema_key(p, "tmp_dir") == NULL);
}

static void check_create(const berth_plugin *p, const char *base)
{
	char *file = path_join(base, "a-file");
	char *nested = path_join(base, "new/nested/root");
	char cwd[PATH_MAX];
	berth_error err;
	void *st;

	st = (void *)1;
	CHECK_INT(create(p, NULL, NULL, &st, &err), BERTH_E_CONFIG);
	CHECK(st == NULL);
	CHECK(strstr(err.message, "root") != NULL);
	CHECK_INT(create(p, "", NULL, &st, &err), BERTH_E_CONFIG);

	CHECK_INT(write_file(base, "a-file", "x"), 0);
	CHECK(create(p, file, NULL, &st, &err) < 0);
	CHECK(strstr(err.message, "storage root") != NULL);

	/* A missing root is created, parents too, all 0700. */
	st = NULL;
	CHECK_INT(create(p, nested, "false", &st, &err), 0);
	CHECK_INT(mode_of(base, "new/nested/root"), 0700);
	CHECK_INT(mode_of(base, "new"), 0700);
	if (st)
		p->destroy(st);

	/* A relative root is relative to the working directory. */
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	CHECK_INT(chdir(base), 0);
	st = NULL;
	CHECK_INT(create(p, "rel/root", NULL, &st, &err), 0);
	if (st) {
		CHECK_INT(put(p, st, "k", "v"), 0);
		p->destroy(st);
	}
	CHECK_INT(chdir(cwd), 0);
	CHECK(exists(base, "rel/root/k"));
	free(file);
	free(nested);
}

static void check_temp_files(const berth_plugin *p, void *st, const char *root)
{
	const berth_storage_ops *o = p->storage;
	char *dir = path_join(root, "tmp");
	char name[NAME_MAX + 1];
	struct sc_list l;
	berth_error err;
	berth_stat bs;
	void *w = NULL;

	CHECK_INT(o->write_open(st, "tmp/k", 0, &w, &err), 0);
	if (w) {
		CHECK_INT(o->write(st, w, "abc", 3, &err), 0);
		/* The data sits in a hidden temporary file next to the target. */
		CHECK_INT(entries_in(dir, name, sizeof(name)), 1);
		CHECK(strncmp(name, ".k.tmp-", 7) == 0);
		CHECK_INT(strlen(name), 7 + 16);
		memset(&l, 0, sizeof(l));
		CHECK_INT(o->list(st, "tmp", sc_list_cb, &l, &err), 0);
		CHECK_INT(l.count, 0);
		o->write_cancel(st, w);
	}
	CHECK_INT(entries_in(dir, NULL, 0), 0);

	CHECK_INT(put(p, st, "tmp/k", "abc"), 0);
	CHECK_INT(entries_in(dir, name, sizeof(name)), 1);
	CHECK_STR(name, "k");

	/* Left by a crash: hidden from list, and no key can name it. */
	CHECK_INT(write_file(dir, ".data.tmp-0123456789abcdef", "junk"), 0);
	memset(&l, 0, sizeof(l));
	CHECK_INT(o->list(st, "tmp", sc_list_cb, &l, &err), 0);
	CHECK_INT(l.count, 1);
	CHECK_INT(sc_listed(&l, "k"), 0);
	CHECK_INT(o->stat(st, "tmp/.data.tmp-0123456789abcdef", &bs, &err),
		  BERTH_E_INVALID);
	/* Names that merely look alike are ordinary keys. */
	CHECK_INT(put(p, st, "tmp/.data.tmp-0123", "ok"), 0);
	CHECK_INT(put(p, st, "tmp/data.tmp-0123456789abcdef", "ok"), 0);
	CHECK_INT(o->remove(st, "tmp", &err), 0);
	CHECK(!exists(root, "tmp"));
	free(dir);
}

static void check_modes(const berth_plugin *p, void *st, const char *root)
{
	mode_t mask = umask(0);

	umask(mask);
	CHECK_INT(put(p, st, "modes/sub/f", "x"), 0);
	CHECK_INT(mode_of(root, "modes"), 0755 & ~mask);
	CHECK_INT(mode_of(root, "modes/sub"), 0755 & ~mask);
	CHECK_INT(mode_of(root, "modes/sub/f"), 0644 & ~mask);
}

static void check_symlinks(const berth_plugin *p, void *st, const char *base,
			   const char *root)
{
	const berth_storage_ops *o = p->storage;
	char *outside = path_join(base, "outside");
	char *secret = path_join(outside, "secret");
	char *link = path_join(root, "link");
	char *flink = path_join(root, "flink");
	char *tlink = path_join(root, "tree/l");
	char buf[64];
	berth_read_handle h;
	struct sc_list l;
	berth_error err;
	berth_stat bs;
	size_t len;
	void *w;

	CHECK_INT(mkdir(outside, 0755), 0);
	CHECK_INT(write_file(outside, "secret", "s"), 0);
	CHECK_INT(symlink(outside, link), 0);
	CHECK_INT(symlink(secret, flink), 0);

	/* A symlinked directory is never entered. */
	CHECK_INT(o->stat(st, "link", &bs, &err), BERTH_E_IO);
	CHECK(strstr(err.message, "symbolic link") != NULL);
	CHECK_INT(o->stat(st, "link/secret", &bs, &err), BERTH_E_IO);
	CHECK(strstr(err.message, "symbolic link not followed") != NULL);
	CHECK(o->read_all(st, "link/secret", buf, sizeof(buf), &len, &err) < 0);
	CHECK(o->open_read(st, "link/secret", 0, &h, &err) < 0);
	w = NULL;
	CHECK_INT(o->write_open(st, "link/new", 0, &w, &err), BERTH_E_IO);
	CHECK(w == NULL);
	CHECK(o->write_open(st, "link/new", BERTH_WRITE_APPEND, &w, &err) < 0);
	CHECK(w == NULL);
	CHECK(!exists(outside, "new"));
	CHECK(o->move(st, "link/secret", "stolen", &err) < 0);
	CHECK(!exists(root, "stolen"));
	CHECK_INT(put(p, st, "planted", "p"), 0);
	CHECK(o->move(st, "planted", "link/planted", &err) < 0);
	CHECK(!exists(outside, "planted"));
	CHECK(o->remove(st, "link/secret", &err) < 0);
	memset(&l, 0, sizeof(l));
	CHECK(o->list(st, "link", sc_list_cb, &l, &err) < 0);
	CHECK_INT(l.count, 0);
	memset(&l, 0, sizeof(l));
	CHECK_INT(o->list(st, "", sc_list_cb, &l, &err), 0);
	CHECK_INT(sc_listed(&l, "link"), -1);
	CHECK_INT(sc_listed(&l, "flink"), -1);
	CHECK_INT(sc_listed(&l, "planted"), 0);

	/* Nor is a symlinked file. */
	CHECK_INT(o->read_all(st, "flink", buf, sizeof(buf), &len, &err), BERTH_E_IO);
	CHECK_INT(o->open_read(st, "flink", 0, &h, &err), BERTH_E_IO);
	CHECK_INT(o->stat(st, "flink", &bs, &err), BERTH_E_IO);
	w = NULL;
	CHECK(o->write_open(st, "flink", BERTH_WRITE_APPEND, &w, &err) < 0);
	CHECK(w == NULL);
	/* A replacing write replaces the link itself, not its target. */
	CHECK_INT(put(p, st, "flink", "replaced"), 0);
	SC_EXPECT_CONTENT(&((struct sc){ o, st }), "flink", "replaced");

	/* Removing removes links, never what they point to. */
	CHECK_INT(put(p, st, "tree/f", "f"), 0);
	CHECK_INT(symlink(outside, tlink), 0);
	CHECK_INT(o->remove(st, "tree", &err), 0);
	CHECK(!exists(root, "tree"));
	CHECK_INT(o->remove(st, "link", &err), 0);
	CHECK(!exists(root, "link"));
	CHECK(exists(outside, "secret"));
	CHECK_INT(entries_in(outside, NULL, 0), 1);
	CHECK_INT(o->remove(st, "flink", &err), 0);
	CHECK_INT(o->remove(st, "planted", &err), 0);
	free(outside);
	free(secret);
	free(link);
	free(flink);
	free(tlink);
}

static void check_special_files(const berth_plugin *p, void *st, const char *root)
{
	const berth_storage_ops *o = p->storage;
	char *fifo = path_join(root, "fifo");
	berth_read_handle h;
	struct sc_list l;
	berth_error err;
	berth_stat bs;
	char buf[16];
	size_t len;
	void *w = NULL;

	/* Opening a FIFO would block a worker for ever: refused at once. */
	CHECK_INT(mkfifo(fifo, 0644), 0);
	CHECK_INT(o->stat(st, "fifo", &bs, &err), BERTH_E_IO);
	CHECK_INT(o->read_all(st, "fifo", buf, sizeof(buf), &len, &err), BERTH_E_IO);
	CHECK_INT(o->open_read(st, "fifo", 0, &h, &err), BERTH_E_IO);
	CHECK(o->write_open(st, "fifo", BERTH_WRITE_APPEND, &w, &err) < 0);
	CHECK(w == NULL);
	memset(&l, 0, sizeof(l));
	CHECK_INT(o->list(st, "", sc_list_cb, &l, &err), 0);
	CHECK_INT(sc_listed(&l, "fifo"), -1);
	CHECK_INT(o->remove(st, "fifo", &err), 0);
	CHECK(!exists(root, "fifo"));
	free(fifo);
}

static void check_limits(const berth_plugin *p, void *st, const char *root)
{
	const berth_storage_ops *o = p->storage;
	char seg[NAME_MAX + 2], key[4097];
	struct sc_list l;
	berth_error err;
	berth_stat bs;
	size_t i;

	/* The longest name still gets a temporary name that fits. */
	memset(seg, 'n', NAME_MAX);
	seg[NAME_MAX] = '\0';
	CHECK_INT(put(p, st, seg, "long"), 0);
	CHECK(exists(root, seg));
	memset(&l, 0, sizeof(l));
	CHECK_INT(o->list(st, "", sc_list_cb, &l, &err), 0);
	CHECK_INT(o->remove(st, seg, &err), 0);
	seg[NAME_MAX] = 'n';
	seg[NAME_MAX + 1] = '\0';
	CHECK_INT(put(p, st, seg, "too long"), BERTH_E_INVALID);

	/* 256 segments is a key; 257 is not. */
	for (i = 0; i < 257; i++) {
		key[2 * i] = 'd';
		key[2 * i + 1] = '/';
	}
	key[2 * 256 - 1] = '\0';
	CHECK_INT(o->stat(st, key, &bs, &err), BERTH_E_NOT_FOUND);
	key[2 * 256 - 1] = '/';
	key[2 * 257 - 1] = '\0';
	CHECK_INT(o->stat(st, key, &bs, &err), BERTH_E_INVALID);

	/* 4095 bytes is a key; 4096 is not. */
	for (i = 0; i < sizeof(key) - 1; i++)
		key[i] = i % 201 == 200 ? '/' : 'k';
	key[4095] = '\0';
	CHECK_INT(o->stat(st, key, &bs, &err), BERTH_E_NOT_FOUND);
	key[4095] = 'k';
	key[4096] = '\0';
	CHECK_INT(o->stat(st, key, &bs, &err), BERTH_E_INVALID);
	CHECK(strlen(err.message) < sizeof(err.message));
}

static void check_errors(const berth_plugin *p, void *st, const char *root)
{
	const berth_storage_ops *o = p->storage;
	berth_read_handle h;
	berth_error err;
	berth_stat bs;
	char buf[8];
	size_t len;
	void *w = NULL;
	int flags;

	/* Messages name keys, never the operator's paths. */
	CHECK_INT(o->read_all(st, "nope/x", buf, sizeof(buf), &len, &err),
		  BERTH_E_NOT_FOUND);
	CHECK(strstr(err.message, "'nope/x'") != NULL);
	CHECK(strstr(err.message, root) == NULL);
	CHECK(strstr(err.message, "No such file or directory") != NULL);

	/* A key cannot live under an object. */
	CHECK_INT(put(p, st, "pf", "file"), 0);
	CHECK_INT(o->write_open(st, "pf/x", 0, &w, &err), BERTH_E_EXISTS);
	CHECK(w == NULL);
	CHECK_INT(o->stat(st, "pf/x", &bs, &err), BERTH_E_NOT_FOUND);
	CHECK_INT(o->move(st, "pf", "pf/y", &err), BERTH_E_EXISTS);
	/* Nor an object replace a prefix. */
	CHECK_INT(put(p, st, "dir/child", "c"), 0);
	CHECK_INT(put(p, st, "dir", "x"), BERTH_E_EXISTS);
	CHECK_INT(count_temp_files(root), 0);

	/* Unknown write flags are refused, not ignored. */
	CHECK_INT(o->write_open(st, "pf", 0x80, &w, &err), BERTH_E_UNSUPPORTED);
	CHECK(w == NULL);

	/* The fd handed to the host is a regular file's (where O_NONBLOCK,
	 * kept from the open, changes nothing), close-on-exec and positioned. */
	memset(&h, 0, sizeof(h));
	CHECK_INT(o->open_read(st, "pf", 2, &h, &err), 0);
	CHECK(h.fd >= 0);
	CHECK(h.stream != NULL);
	if (h.fd >= 0) {
		struct stat hs;

		flags = fcntl(h.fd, F_GETFL);
		CHECK(flags >= 0 && (flags & O_ACCMODE) == O_RDONLY);
		CHECK(fstat(h.fd, &hs) == 0 && S_ISREG(hs.st_mode));
		CHECK(fcntl(h.fd, F_GETFD) & FD_CLOEXEC);
		CHECK_INT(lseek(h.fd, 0, SEEK_CUR), 2);
		CHECK_INT(read(h.fd, buf, sizeof(buf)), 2);
		close(h.fd);
	}
	/* Opened at 0 (no seek then), it starts at the first byte. */
	memset(&h, 0, sizeof(h));
	CHECK_INT(o->open_read(st, "pf", 0, &h, &err), 0);
	CHECK(h.fd >= 0);
	if (h.fd >= 0) {
		CHECK_INT(lseek(h.fd, 0, SEEK_CUR), 0);
		CHECK_INT(read(h.fd, buf, sizeof(buf)), 4);
		close(h.fd);
	}
	CHECK_INT(o->remove(st, "pf", &err), 0);
	CHECK_INT(o->remove(st, "dir", &err), 0);
}

/* Appends reach the disk in place, without temporary files. */
static void check_append_in_place(const berth_plugin *p, void *st, const char *root)
{
	const berth_storage_ops *o = p->storage;
	char *dir = path_join(root, "up");
	char name[NAME_MAX + 1];
	berth_error err;
	void *w = NULL;

	CHECK_INT(o->write_open(st, "up/data", BERTH_WRITE_APPEND, &w, &err), 0);
	if (w) {
		CHECK_INT(o->write(st, w, "abc", 3, &err), 0);
		CHECK_INT(entries_in(dir, name, sizeof(name)), 1);
		CHECK_STR(name, "data");
		CHECK_INT(o->write_commit(st, w, &err), 0);
	}
	CHECK_INT(o->remove(st, "up", &err), 0);
	free(dir);
}

/* A tree deeper than any key can build fails cleanly. */
static void check_deep_tree(const berth_plugin *p, void *st, const char *root)
{
	berth_error err;
	int fd, next, i;

	fd = open(root, O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0);
	for (i = 0; fd >= 0 && i < 300; i++) {
		if (mkdirat(fd, "d", 0755) < 0)
			break;
		next = openat(fd, "d", O_RDONLY | O_DIRECTORY);
		close(fd);
		fd = next;
	}
	if (fd >= 0)
		close(fd);
	CHECK_INT(i, 300);
	CHECK_INT(p->storage->remove(st, "d", &err), BERTH_E_IO);
	CHECK(strstr(err.message, "deeper than") != NULL);
}

/* The conformance suite's "../../../../tmp/berth-escape", temporary or not. */
static int escapes_in_tmp(void)
{
	DIR *d = opendir("/tmp");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += strstr(e->d_name, "berth-escape") != NULL;
	closedir(d);
	return n;
}

static void run_instance(const berth_plugin *p, const char *base,
			 const char *name, const char *fsync)
{
	char *root = path_join(base, name);
	berth_error err;
	void *st = NULL;
	int fds;

	fds = count_open_fds();
	CHECK_INT(create(p, root, fsync, &st, &err), 0);
	if (!st) {
		fprintf(stderr, "create: %s\n", err.message);
		free(root);
		return;
	}
	CHECK_INT(storage_conformance_run(p, st), 0);
	CHECK_INT(count_temp_files(root), 0);
	CHECK_INT(entries_in(root, NULL, 0), 0);
	check_temp_files(p, st, root);
	check_modes(p, st, root);
	check_symlinks(p, st, base, root);
	check_special_files(p, st, root);
	check_limits(p, st, root);
	check_errors(p, st, root);
	check_append_in_place(p, st, root);
	check_deep_tree(p, st, root);
	p->destroy(st);
	/* Every operation closed what it opened, the instance its root. */
	CHECK_INT(count_open_fds(), fds);
	free(root);
	root = path_join(base, "outside");
	rm_rf(root);
	free(root);
}

int main(void)
{
	char base[] = "/tmp/berth-storage-fs-XXXXXX";
	const berth_plugin *p;
	void *handle = NULL;

	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 2;
	}
	p = load(&handle);
	CHECK(p != NULL);
	if (p) {
		check_descriptor(p);
		check_create(p, base);
		run_instance(p, base, "durable", "true");
		run_instance(p, base, "fast", "false");
		/* Nothing the bad keys did landed next to the roots. */
		CHECK(!exists(base, "x"));
		CHECK(!exists(base, "escape"));
		CHECK(!exists(base, "etc"));
		CHECK_INT(escapes_in_tmp(), 0);
	}
	rm_rf(base);
	if (handle)
		dlclose(handle);
	TEST_MAIN_END();
}
