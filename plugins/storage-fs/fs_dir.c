/*
 * fs_dir.c - reaching a key's directory from the root without leaving it.
 *
 * Directories are opened one segment at a time with openat(O_NOFOLLOW), so
 * a symlink planted anywhere in the tree is refused (ELOOP) instead of
 * followed, and a key never resolves outside the root whatever is on disk.
 * Keys were checked by fs_key_check() first; each segment is checked again
 * here, where names meet the kernel.
 *
 * Where the kernel has openat2() (Linux 5.6), one call with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS gives the same guarantee for a
 * whole path: a manifest GET went from 19 openat()/close() pairs, more than
 * half of its CPU, to a few. Whenever that call fails (a missing folder to
 * create, a symlink, a kernel or seccomp filter without openat2) the walk
 * below runs and decides, so errors are exactly what they were.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs.h"

/* Inner directories; the root itself is created 0700 by create(). */
#define FS_DIR_MODE 0755

static int open_sub(int dirfd, const char *name)
{
	return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Whatever a caller skipped, no "." or ".." climbs out of the root. */
static int segment_ok(const char *seg, size_t n)
{
	if (n == 0 || n > NAME_MAX || memchr(seg, '/', n))
		return 0;
	return !(seg[0] == '.' && (n == 1 || (n == 2 && seg[1] == '.')));
}

/* Every segment of the first len bytes of key, before touching the disk. */
static int path_ok(const char *key, size_t len)
{
	size_t i = 0;

	while (i < len) {
		const char *slash = memchr(key + i, '/', len - i);
		size_t n = slash ? (size_t)(slash - (key + i)) : len - i;

		if (!segment_ok(key + i, n))
			return 0;
		i += n + 1;
	}
	return 1;
}

/*
 * O_DIRECTORY|O_NOFOLLOW reports a symlink as ENOTDIR; telling the two apart
 * lets the operator read "symbolic link not followed" rather than a 404.
 */
static int is_symlink(int dirfd, const char *name)
{
	struct stat sb;

	return fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISLNK(sb.st_mode);
}

/* 0 once openat2() answered ENOSYS or EPERM: no point asking again. */
static atomic_int openat2_works = 1;

/* The directory in one call, or -1 (errno set) for the walk to decide. */
static int open_beneath(const struct fs_state *fs, const char *key, size_t len)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	char path[PATH_MAX];
	long fd;

	if (len == 0 || len >= sizeof(path) || !atomic_load(&openat2_works))
		return -1;
	memcpy(path, key, len);
	path[len] = '\0';
	fd = syscall(SYS_openat2, fs->root_fd, path, &how, sizeof(how));
	if (fd < 0 && (errno == ENOSYS || errno == EPERM))
		atomic_store(&openat2_works, 0);
	return (int)fd;
}

/*
 * A key's object itself in one openat2() (flags as for openat), or -1 with
 * errno set; RESOLVE_NO_SYMLINKS covers the last segment too, as O_NOFOLLOW
 * does. Callers fall back to fs_open_parent() and openat() on any failure,
 * which then decides the error, so a failure here is never reported.
 */
int fs_open_object(const struct fs_state *fs, const char *key, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)flags | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	if (!atomic_load(&openat2_works) || !path_ok(key, strlen(key))) {
		errno = EINVAL;
		return -1;
	}
	fd = syscall(SYS_openat2, fs->root_fd, key, &how, sizeof(how));
	if (fd < 0 && (errno == ENOSYS || errno == EPERM))
		atomic_store(&openat2_works, 0);
	return (int)fd;
}

/*
 * Open the directory named by the first len bytes of key (root when len is
 * 0). Returns a descriptor to give to fs_close_dir(), or -errno.
 */
static int walk(const struct fs_state *fs, const char *key, size_t len,
		unsigned flags)
{
	char seg[NAME_MAX + 1];
	size_t i = 0;
	int fd = fs->root_fd;
	int next, rc;

	if (!path_ok(key, len))
		return -EINVAL;
	next = open_beneath(fs, key, len);
	if (next >= 0)
		return next;
	while (i < len) {
		const char *slash = memchr(key + i, '/', len - i);
		size_t n = slash ? (size_t)(slash - (key + i)) : len - i;

		memcpy(seg, key + i, n);
		seg[n] = '\0';
		next = open_sub(fd, seg);
		if (next < 0 && errno == ENOENT && (flags & FS_PARENT_CREATE)) {
			if (mkdirat(fd, seg, FS_DIR_MODE) == 0) {
				/* The new entry must outlive a crash too. */
				rc = fs_sync_dir(fs, fd);
				if (rc < 0)
					goto fail;
			} else if (errno != EEXIST) {
				rc = -errno;
				goto fail;
			}
			next = open_sub(fd, seg);
		}
		if (next < 0) {
			rc = -errno;
			if (rc == -ENOTDIR && is_symlink(fd, seg))
				rc = -ELOOP;
			goto fail;
		}
		fs_close_dir(fs, fd);
		fd = next;
		i += n + 1;
	}
	return fd;
fail:
	fs_close_dir(fs, fd);
	return rc;
}

/* The directory holding key's last segment; see fs_key_base(). */
int fs_open_parent(const struct fs_state *fs, const char *key, unsigned flags)
{
	const char *base = fs_key_base(key);

	if (!segment_ok(base, strlen(base)))
		return -EINVAL;
	return walk(fs, key, base == key ? 0 : (size_t)(base - key - 1), flags);
}

/* The directory named by key itself; "" is the root. */
int fs_open_dir(const struct fs_state *fs, const char *key)
{
	return walk(fs, key, strlen(key), 0);
}

void fs_close_dir(const struct fs_state *fs, int fd)
{
	if (fd >= 0 && fd != fs->root_fd)
		close(fd);
}

/*
 * fsync a directory so that entries created, renamed or removed in it
 * survive a crash. Returns 0 or -errno. EINVAL means the filesystem cannot
 * sync directories at all, which is no reason to fail the write.
 */
int fs_sync_dir(const struct fs_state *fs, int fd)
{
	if (!fs->fsync)
		return 0;
	if (fsync(fd) < 0 && errno != EINVAL)
		return -errno;
	return 0;
}
