/*
 * fs_usage.c - usage(): the filesystem's capacity, and what the registry
 * holds on it.
 *
 * The byte and blob counts come from a walk of the tree, so the host calls
 * this only from scheduled work (the metrics plugin refreshes on an
 * interval), never per request. The walk never follows symbolic links and
 * is bounded in depth like every other operation here.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fs.h"

/* Sum the sizes under dirfd (which this closes); count files named "data" under blobs/. */
static int walk(int dirfd, int depth, int in_blobs, berth_storage_usage *u)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *e;
	int rc = 0;

	if (!d) {
		close(dirfd);
		return -errno;
	}
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int fd;
			if (depth >= FS_MAX_DEPTH)
				continue;
			fd = openat(dirfd, e->d_name,
				    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				continue;
			rc = walk(fd, depth + 1,
				  in_blobs || (depth == 3 && strcmp(e->d_name, "blobs") == 0), u);
			if (rc != 0)
				break;
		} else if (S_ISREG(st.st_mode)) {
			u->bytes_used += (uint64_t)st.st_size;
			if (in_blobs && strcmp(e->d_name, "data") == 0)
				u->objects++;
		}
	}
	closedir(d);
	return rc;
}

int fs_usage(void *state, berth_storage_usage *u, berth_error *err)
{
	struct fs_state *fs = state;
	struct statvfs vfs;
	int fd, rc;

	if (fstatvfs(fs->root_fd, &vfs) != 0)
		return fs_fail_errno(err, errno, "cannot read the storage root's filesystem");
	u->bytes_total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
	u->bytes_available = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	u->bytes_used = 0;
	u->objects = 0;
	/* The registry's data lives under docker/registry/v2/: depth 3 is where blobs/ is. */
	fd = openat(fs->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fs_fail_errno(err, errno, "cannot open the storage root");
	rc = walk(fd, 0, 0, u);
	if (rc != 0)
		return fs_fail_errno(err, -rc, "cannot walk the storage root");
	return 0;
}
