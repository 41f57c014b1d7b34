/*
 * fs.h - storage-fs internals shared by the plugin's source files.
 *
 * Every name here has hidden visibility (the plugin is built with
 * -fvisibility=hidden), so only berth_plugin_entry leaves the .so.
 */
#ifndef STORAGE_FS_H
#define STORAGE_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "berth/plugin.h"

/*
 * Keys never have more segments than this. The recursive remove holds one
 * open directory per level, so the same bound keeps it within a sane number
 * of file descriptors for any tree that keys can build.
 */
#define FS_MAX_DEPTH 256
/* Longest key accepted, in bytes (PATH_MAX less the NUL). */
#define FS_MAX_KEY 4095
/* Longest key shown in an error message; longer ones are cut with "...". */
#define FS_QUOTE_MAX 160

/*
 * One instance. Immutable after create(), which is what lets every storage
 * operation run concurrently without locks.
 */
struct fs_state {
	int root_fd;           /* O_RDONLY|O_DIRECTORY on the storage root */
	int fsync;             /* make commits durable (config `fsync`) */
};

/* Flags for fs_open_parent(). */
enum fs_parent_flags {
	FS_PARENT_CREATE = 1u << 0 /* create missing directories */
};

/* fs_key.c */
int fs_key_check(const char *key, int allow_empty, berth_error *err);
int fs_is_temp_name(const char *name);
int fs_temp_name(char *out, size_t cap, const char *base);
const char *fs_key_base(const char *key);
void fs_quote(char *out, size_t cap, const char *key);

/* fs_error.c */
int fs_fail(berth_error *err, int code, const char *fmt, ...) BERTH_PRINTF(3, 4);
int fs_fail_errno(berth_error *err, int errnum, const char *fmt, ...)
	BERTH_PRINTF(3, 4);
int fs_errno_code(int errnum);

/* fs_dir.c */
int fs_open_parent(const struct fs_state *fs, const char *key, unsigned flags);
/* key's object in one call where the kernel allows, or -1 (errno set): see fs_dir.c. */
int fs_open_object(const struct fs_state *fs, const char *key, int flags);
int fs_open_dir(const struct fs_state *fs, const char *key);
void fs_close_dir(const struct fs_state *fs, int fd);
int fs_sync_dir(const struct fs_state *fs, int fd);

/* fs_read.c */
int fs_stat(void *state, const char *key, berth_stat *st, berth_error *err);
int fs_read_all(void *state, const char *key, void *buf, size_t cap,
		size_t *len, berth_error *err);
int fs_open_read(void *state, const char *key, uint64_t offset,
		 berth_read_handle *h, berth_error *err);
ssize_t fs_read_at(void *state, void *stream, uint64_t offset, void *buf,
		   size_t cap, berth_error *err);
void fs_read_close(void *state, void *stream);

/* fs_write.c */
int fs_write_open(void *state, const char *key, unsigned flags, void **writer,
		  berth_error *err);
int fs_write(void *state, void *writer, const void *buf, size_t len,
	     berth_error *err);
int fs_write_commit(void *state, void *writer, berth_error *err);
void fs_write_cancel(void *state, void *writer);

/* fs_usage.c */
int fs_usage(void *state, berth_storage_usage *u, berth_error *err);

/* fs_tree.c */
int fs_move(void *state, const char *from, const char *to, berth_error *err);
int fs_remove(void *state, const char *key, berth_error *err);
int fs_list(void *state, const char *prefix, berth_list_fn fn, void *ctx,
	    berth_error *err);

#endif
