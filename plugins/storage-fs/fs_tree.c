/*
 * fs_tree.c - operations on names rather than contents: move, remove, list.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"

/* Passes over a directory whose removal keeps finding new entries. */
#define FS_REMOVE_PASSES 3

static size_t parent_len(const char *key)
{
	const char *base = fs_key_base(key);

	return base == key ? 0 : (size_t)(base - key - 1);
}

static size_t key_depth(const char *key)
{
	size_t depth = 1;

	for (; *key; key++)
		depth += *key == '/';
	return depth;
}

/* An entry's type without following it; DT_UNKNOWN costs an fstatat. */
static int entry_type(int dir, const struct dirent *ent)
{
	struct stat sb;

	if (ent->d_type != DT_UNKNOWN)
		return ent->d_type;
	if (fstatat(dir, ent->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return DT_UNKNOWN;
	if (S_ISDIR(sb.st_mode))
		return DT_DIR;
	if (S_ISREG(sb.st_mode))
		return DT_REG;
	return DT_UNKNOWN;
}

static int is_dot(const char *name)
{
	return name[0] == '.' &&
	       (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

int fs_move(void *state, const char *from, const char *to, berth_error *err)
{
	const struct fs_state *fs = state;
	char qf[FS_QUOTE_MAX + 8], qt[FS_QUOTE_MAX + 8];
	struct stat sb;
	int src = -1, dst = -1, rc;

	rc = fs_key_check(from, 0, err);
	if (rc < 0)
		return rc;
	rc = fs_key_check(to, 0, err);
	if (rc < 0)
		return rc;
	fs_quote(qf, sizeof(qf), from);
	fs_quote(qt, sizeof(qt), to);
	src = fs_open_parent(fs, from, 0);
	if (src < 0) {
		rc = fs_fail_errno(err, -src, "cannot rename '%s' to '%s'", qf, qt);
		goto out;
	}
	/* Look before creating the destination's parents for nothing. */
	if (fstatat(src, fs_key_base(from), &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = fs_fail_errno(err, errno, "cannot rename '%s' to '%s'", qf, qt);
		goto out;
	}
	dst = fs_open_parent(fs, to, FS_PARENT_CREATE);
	if (dst == -ENOTDIR) {
		rc = fs_fail(err, BERTH_E_EXISTS,
			     "cannot rename '%s' to '%s': a parent is not a directory",
			     qf, qt);
		goto out;
	}
	if (dst < 0) {
		rc = fs_fail_errno(err, -dst, "cannot rename '%s' to '%s'", qf, qt);
		goto out;
	}
	if (renameat(src, fs_key_base(from), dst, fs_key_base(to)) < 0) {
		rc = fs_fail_errno(err, errno, "cannot rename '%s' to '%s'", qf, qt);
		goto out;
	}
	rc = fs_sync_dir(fs, dst);
	if (rc == 0 && (parent_len(from) != parent_len(to) ||
			memcmp(from, to, parent_len(from)) != 0))
		rc = fs_sync_dir(fs, src);
	if (rc < 0)
		rc = fs_fail_errno(err, -rc, "cannot sync after renaming '%s' to '%s'",
				   qf, qt);
out:
	fs_close_dir(fs, src);
	fs_close_dir(fs, dst);
	return rc;
}

static int remove_tree(int parent, const char *name, const char *key,
		       size_t depth, berth_error *err);

static int remove_entry(DIR *d, const struct dirent *ent, const char *key,
			size_t depth, berth_error *err)
{
	char q[FS_QUOTE_MAX + 8];
	size_t klen = strlen(key), nlen = strlen(ent->d_name);
	char *child;
	int rc = 0;

	child = malloc(klen + 1 + nlen + 1);
	if (!child) {
		fs_quote(q, sizeof(q), key);
		return fs_fail(err, BERTH_E_NOMEM,
			       "cannot remove '%s': out of memory", q);
	}
	memcpy(child, key, klen);
	child[klen] = '/';
	memcpy(child + klen + 1, ent->d_name, nlen + 1);
	if (entry_type(dirfd(d), ent) == DT_DIR) {
		rc = remove_tree(dirfd(d), ent->d_name, child, depth + 1, err);
	} else if (unlinkat(dirfd(d), ent->d_name, 0) < 0 && errno != ENOENT) {
		fs_quote(q, sizeof(q), child);
		rc = fs_fail_errno(err, errno, "cannot remove '%s'", q);
	}
	free(child);
	return rc;
}

/*
 * Remove directory `name` in `parent` and everything under it. Symlinks
 * are removed as entries, never followed (O_NOFOLLOW, unlinkat). An entry
 * already gone is fine: another remove may be running on the same tree.
 */
static int remove_tree(int parent, const char *name, const char *key,
		       size_t depth, berth_error *err)
{
	char q[FS_QUOTE_MAX + 8];
	struct dirent *ent;
	DIR *d = NULL;
	int fd, pass, rc = 0;

	fs_quote(q, sizeof(q), key);
	if (depth > FS_MAX_DEPTH)
		return fs_fail(err, BERTH_E_IO,
			       "cannot remove '%s': deeper than %d levels", q,
			       FS_MAX_DEPTH);
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 && (errno == ENOTDIR || errno == ELOOP)) {
		/* Replaced by a file or a symlink since we looked. */
		if (unlinkat(parent, name, 0) < 0 && errno != ENOENT)
			return fs_fail_errno(err, errno, "cannot remove '%s'", q);
		return 0;
	}
	if (fd < 0)
		return fs_fail_errno(err, errno, "cannot open '%s'", q);
	d = fdopendir(fd);
	if (!d) {
		rc = fs_fail_errno(err, errno, "cannot open '%s'", q);
		close(fd);
		return rc;
	}
	for (pass = 0; pass < FS_REMOVE_PASSES; pass++) {
		errno = 0;
		while ((ent = readdir(d))) {
			if (is_dot(ent->d_name))
				continue;
			rc = remove_entry(d, ent, key, depth, err);
			if (rc < 0)
				goto out;
			errno = 0;
		}
		if (errno) {
			rc = fs_fail_errno(err, errno, "cannot read '%s'", q);
			goto out;
		}
		if (unlinkat(parent, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
			goto out;
		if (errno != ENOTEMPTY && errno != EEXIST) {
			rc = fs_fail_errno(err, errno, "cannot remove '%s'", q);
			goto out;
		}
		/* A writer added an entry meanwhile: look again. */
		rewinddir(d);
	}
	rc = fs_fail_errno(err, ENOTEMPTY, "cannot remove '%s'", q);
out:
	closedir(d);
	return rc;
}

int fs_remove(void *state, const char *key, berth_error *err)
{
	const struct fs_state *fs = state;
	char q[FS_QUOTE_MAX + 8];
	const char *base;
	struct stat sb;
	int dir, rc;

	rc = fs_key_check(key, 0, err);
	if (rc < 0)
		return rc;
	fs_quote(q, sizeof(q), key);
	base = fs_key_base(key);
	dir = fs_open_parent(fs, key, 0);
	if (dir < 0)
		return fs_fail_errno(err, -dir, "cannot remove '%s'", q);
	if (fstatat(dir, base, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = fs_fail_errno(err, errno, "cannot remove '%s'", q);
		goto out;
	}
	if (S_ISDIR(sb.st_mode)) {
		rc = remove_tree(dir, base, key, key_depth(key), err);
	} else if (unlinkat(dir, base, 0) < 0 && errno != ENOENT) {
		rc = fs_fail_errno(err, errno, "cannot remove '%s'", q);
	}
	if (rc == 0) {
		rc = fs_sync_dir(fs, dir);
		if (rc < 0)
			rc = fs_fail_errno(err, -rc, "cannot sync after removing '%s'", q);
	}
out:
	fs_close_dir(fs, dir);
	return rc;
}

/* Names no key can have are not listed: "." and "..", our temporary files,
 * names with control bytes. */
static int listable(const char *name)
{
	const unsigned char *p;

	if (is_dot(name) || fs_is_temp_name(name))
		return 0;
	for (p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

int fs_list(void *state, const char *prefix, berth_list_fn fn, void *ctx,
	    berth_error *err)
{
	const struct fs_state *fs = state;
	char q[FS_QUOTE_MAX + 8];
	struct dirent *ent;
	DIR *d = NULL;
	int dir, rc = 0;

	rc = fs_key_check(prefix, 1, err);
	if (rc < 0)
		return rc;
	fs_quote(q, sizeof(q), prefix);
	if (!fn)
		return fs_fail(err, BERTH_E_INVALID, "cannot list '%s': no callback", q);
	dir = fs_open_dir(fs, prefix);
	if (dir < 0)
		return fs_fail_errno(err, -dir, "cannot list '%s'", q);
	/* closedir() closes the descriptor, and the root's must stay open. */
	if (dir == fs->root_fd) {
		dir = openat(fs->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dir < 0)
			return fs_fail_errno(err, errno, "cannot list '%s'", q);
	}
	d = fdopendir(dir);
	if (!d) {
		rc = fs_fail_errno(err, errno, "cannot list '%s'", q);
		close(dir);
		return rc;
	}
	errno = 0;
	while ((ent = readdir(d))) {
		int type;

		if (!listable(ent->d_name)) {
			errno = 0;
			continue;
		}
		type = entry_type(dirfd(d), ent);
		/* Symlinks and special files are not objects: see README. */
		if (type != DT_DIR && type != DT_REG) {
			errno = 0;
			continue;
		}
		if (fn(ctx, ent->d_name, type == DT_DIR))
			goto out;
		errno = 0;
	}
	if (errno)
		rc = fs_fail_errno(err, errno, "cannot list '%s'", q);
out:
	closedir(d);
	return rc;
}
