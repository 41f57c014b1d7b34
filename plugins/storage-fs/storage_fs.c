/*
 * storage_fs.c - the storage-fs plugin: registry data in a local directory.
 *
 * Keys map one to one onto paths under the root, so a root written by CNCF
 * Distribution's filesystem driver (registry:2) is served as is, and the
 * other way round. This file holds the descriptor, the config schema and
 * the instance lifecycle; the operations live in fs_read.c, fs_write.c and
 * fs_tree.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"

/* The root guards the whole tree, so only the registry's user may enter. */
#define FS_ROOT_MODE 0700

static const berth_config_key fs_schema[] = {
	{ .key = "root", .type = BERTH_CONFIG_STRING, .flags = BERTH_CONFIG_REQUIRED,
	  .help = "storage root directory, created 0700 if missing; "
		  "relative to the working directory" },
	{ .key = "fsync", .type = BERTH_CONFIG_BOOL, .default_value = "true",
	  .help = "sync data and directories on commit; false trades "
		  "crash safety for speed" },
	{ .type = BERTH_CONFIG_END }
};

/* mkdir -p, each missing directory 0700. Returns 0 or -errno. */
static int make_root(const char *root)
{
	char *path = strdup(root);
	size_t i, len;
	int rc = 0;

	if (!path)
		return -ENOMEM;
	len = strlen(path);
	for (i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, FS_ROOT_MODE) < 0 && errno != EEXIST) {
			rc = -errno;
			break;
		}
		if (i < len)
			path[i] = '/';
	}
	free(path);
	return rc;
}

static int open_root(const char *root, int *fd, berth_error *err)
{
	char q[FS_QUOTE_MAX + 8];
	int rc;

	fs_quote(q, sizeof(q), root);
	*fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd >= 0)
		return 0;
	if (errno != ENOENT)
		return fs_fail_errno(err, errno, "cannot open storage root '%s'", q);
	rc = make_root(root);
	if (rc < 0)
		return fs_fail_errno(err, -rc, "cannot create storage root '%s'", q);
	*fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0)
		return fs_fail_errno(err, errno, "cannot open storage root '%s'", q);
	return 0;
}

static int fs_create(const berth_host *host, const berth_instance *self,
		     const berth_config *config, void **state, berth_error *err)
{
	struct fs_state *fs = NULL;
	const char *root;
	int fd = -1, rc;

	*state = NULL;
	if (!host || !BERTH_HOST_HAS(host, config_bool) || !host->config_string ||
	    !host->config_bool)
		return fs_fail(err, BERTH_E_CONFIG,
			       "storage-fs: the host offers no config access");
	root = host->config_string(config, "root");
	if (!root || !*root)
		return fs_fail(err, BERTH_E_CONFIG, "storage-fs: 'root' is required");
	rc = open_root(root, &fd, err);
	if (rc < 0)
		return rc;
	fs = malloc(sizeof(*fs));
	if (!fs) {
		close(fd);
		return fs_fail(err, BERTH_E_NOMEM, "storage-fs: out of memory");
	}
	fs->root_fd = fd;
	fs->fsync = host->config_bool(config, "fsync", 1) != 0;
	if (BERTH_HOST_HAS(host, log) && host->log) {
		struct stat st;
		host->log(self, BERTH_LOG_INFO, "storage root '%s', fsync %s", root,
			  fs->fsync ? "on" : "off");
		/* Anyone who can write the root can plant or swap image bytes. */
		if (fstat(fd, &st) == 0 && (st.st_mode & 022))
			host->log(self, BERTH_LOG_WARN,
				  "storage root '%s' can be written by other users (mode %04o); "
				  "chmod go-w it",
				  root, (unsigned)(st.st_mode & 07777));
	}
	*state = fs;
	return 0;
}

static void fs_destroy(void *state)
{
	struct fs_state *fs = state;

	if (!fs)
		return;
	close(fs->root_fd);
	free(fs);
}

static const berth_storage_ops fs_ops = {
	.size = sizeof(berth_storage_ops),
	.stat = fs_stat,
	.read_all = fs_read_all,
	.open_read = fs_open_read,
	.read_at = fs_read_at,
	.read_close = fs_read_close,
	.write_open = fs_write_open,
	.write = fs_write,
	.write_commit = fs_write_commit,
	.write_cancel = fs_write_cancel,
	.move = fs_move,
	.remove = fs_remove,
	.list = fs_list,
	.usage = fs_usage,
	/* No redirect_url: a local directory has no URL to hand out. */
};

static const berth_plugin fs_plugin = {
	BERTH_PLUGIN_HEADER,
	.name = "storage-fs",
	.version = "0.1.0",
	.description = "registry data in a local directory, registry:2 compatible",
	.config_schema = fs_schema,
	.create = fs_create,
	.destroy = fs_destroy,
	.storage = &fs_ops,
};

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void);

BERTH_PLUGIN_EXPORT const berth_plugin *berth_plugin_entry(void)
{
	return &fs_plugin;
}
