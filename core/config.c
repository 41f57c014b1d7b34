/*
 * config.c - load berth.yaml and its includes into a server_config.
 *
 * Order of work: read and parse the main file, check its keys, then each
 * included file in name order (keys checked per file so errors come in file
 * order), merge everything into one tree, and only then check values. Every
 * node remembers its file, so a value overridden by a fragment is reported
 * where the fragment set it.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/plugin.h"

#define DEFAULT_MAX_MANIFEST_SIZE (4u * 1024 * 1024)
#define MAX_MANIFEST_SIZE_LIMIT (1024ull * 1024 * 1024)
#define DEFAULT_MAX_CONNECTIONS 1024
#define MAX_CONNECTIONS_LIMIT 1048576
#define MAX_THREADS 1024
#define MAX_INSTANCE_NAME 64

static const char *const top_keys[] = {
	"listen", "plugin_path", "include", "tls", "limits", "logging",
	"registry", "events", "jobs", "plugins", "gc", NULL
};
static const char *const tls_keys[] = { "cert", "key", "min_version", NULL };
static const char *const limits_keys[] = {
	"max_manifest_size", "max_connections", "threads", "connection_timeout",
	"shutdown_timeout", "max_chunk_size", "max_requests", "max_connections_per_client",
	"max_uploads_per_client", "max_header_size", NULL
};
static const char *const logging_keys[] = { "level", "format", "access_log", NULL };
static const char *const registry_keys[] = {
	"delete_enabled", "tag_delete_enabled", "upload_purge_age", "catalog", NULL
};
static const char *const events_keys[] = { "queue_size", NULL };
static const char *const gc_keys[] = { "grace_period", "mark_memory", NULL };
static const char *const plugin_keys[] = { "use", "name", "priority", "config", NULL };

static const struct section {
	const char *name;
	const char *const *keys;
} sections[] = {
	{ "tls", tls_keys },
	{ "limits", limits_keys },
	{ "logging", logging_keys },
	{ "registry", registry_keys },
	{ "events", events_keys },
	{ "gc", gc_keys },
};

struct file_id {
	dev_t dev;
	ino_t ino;
};

struct loader {
	server_config *c;
	berth_error *err;
	struct file_id seen[CONFIG_MAX_INCLUDES + 1];
	size_t n_seen;
	size_t n_included;
};

static int nomem(berth_error *err)
{
	if (err) {
		err->code = BERTH_E_NOMEM;
		snprintf(err->message, sizeof(err->message), "out of memory");
	}
	return BERTH_E_NOMEM;
}

/* ------------------------------------------------------------------------ */
/* Value parsers                                                            */
/* ------------------------------------------------------------------------ */

/* Leading decimal digits of *p into *v; advances *p. 0 or BERTH_E_INVALID. */
static int parse_digits(const char **p, uint64_t *v)
{
	const char *s = *p;
	uint64_t n = 0;

	if (!isdigit((unsigned char)*s))
		return BERTH_E_INVALID;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');

		if (n > (UINT64_MAX - d) / 10)
			return BERTH_E_INVALID;
		n = n * 10 + d;
	}
	*p = s;
	*v = n;
	return 0;
}

int config_parse_size(const char *s, uint64_t *out)
{
	uint64_t v;
	unsigned shift = 0;
	const char *p = s;

	if (!s || parse_digits(&p, &v) < 0)
		return BERTH_E_INVALID;
	while (*p == ' ')
		p++;
	switch (*p) {
	case '\0':
		break;
	case 'B':
		p++;
		break;
	case 'k': case 'K':
		shift = 10;
		break;
	case 'm': case 'M':
		shift = 20;
		break;
	case 'g': case 'G':
		shift = 30;
		break;
	case 't': case 'T':
		shift = 40;
		break;
	default:
		return BERTH_E_INVALID;
	}
	if (shift) {
		p++;
		if (strcmp(p, "i") == 0 || strcmp(p, "iB") == 0 || strcmp(p, "B") == 0)
			p += strlen(p);
	}
	if (*p)
		return BERTH_E_INVALID;
	if (v > (UINT64_MAX >> shift))
		return BERTH_E_INVALID;
	*out = v << shift;
	return 0;
}

int config_parse_duration_ms(const char *s, uint64_t *out)
{
	const char *p = s;
	uint64_t total = 0, v, unit;

	if (!s || !*s)
		return BERTH_E_INVALID;
	if (parse_digits(&p, &v) == 0 && *p == '\0') {
		if (v > UINT64_MAX / 1000)
			return BERTH_E_INVALID;
		*out = v * 1000;
		return 0;
	}
	p = s;
	while (*p) {
		if (parse_digits(&p, &v) < 0)
			return BERTH_E_INVALID;
		if (p[0] == 'm' && p[1] == 's') {
			unit = 1;
			p += 2;
		} else if (*p == 's') {
			unit = 1000;
			p++;
		} else if (*p == 'm') {
			unit = 60 * 1000;
			p++;
		} else if (*p == 'h') {
			unit = 3600 * 1000;
			p++;
		} else if (*p == 'd') {
			unit = 24ull * 3600 * 1000;
			p++;
		} else {
			return BERTH_E_INVALID;
		}
		if (v > UINT64_MAX / unit || total > UINT64_MAX - v * unit)
			return BERTH_E_INVALID;
		total += v * unit;
	}
	*out = total;
	return 0;
}

int config_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	size_t i;

	if (!s)
		return BERTH_E_INVALID;
	for (i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return BERTH_E_INVALID;
}

int config_parse_int(const char *s, int64_t *out)
{
	const char *p = s;
	long long v;
	char *end;

	if (!s)
		return BERTH_E_INVALID;
	if (*p == '+' || *p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return BERTH_E_INVALID;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return BERTH_E_INVALID;
	*out = v;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Bookkeeping                                                              */
/* ------------------------------------------------------------------------ */

static int push_string(char ***arr, size_t *n, char *s)
{
	char **p;

	if (!s)
		return BERTH_E_NOMEM;
	p = realloc(*arr, (*n + 1) * sizeof(**arr));
	if (!p) {
		free(s);
		return BERTH_E_NOMEM;
	}
	*arr = p;
	p[(*n)++] = s;
	return 0;
}

/* The stored copy of a file name: nodes borrow it for the config's life. */
static const char *add_file(server_config *c, const char *path)
{
	if (push_string(&c->files, &c->n_files, strdup(path)) < 0)
		return NULL;
	return c->files[c->n_files - 1];
}

static int add_warning(server_config *c, const char *fmt, ...) BERTH_PRINTF(2, 3);

static int add_warning(server_config *c, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return BERTH_E_NOMEM;
	return push_string(&c->warnings, &c->n_warnings, s);
}

/*
 * path relative to the directory of `file`; absolute paths and files in the
 * working directory leave it as written. With escape, glob metacharacters in
 * the directory part are escaped so only the written pattern globs.
 */
static char *resolve_rel(const char *file, const char *path, int escape)
{
	const char *slash = file ? strrchr(file, '/') : NULL;
	size_t dir_len, i, n = 0;
	char *out;

	if (path[0] == '/' || !slash)
		return strdup(path);
	while (path[0] == '.' && path[1] == '/') {
		path += 2;
		while (*path == '/')
			path++;
	}
	dir_len = (size_t)(slash - file);
	out = malloc(dir_len * 2 + strlen(path) + 3);
	if (!out)
		return NULL;
	if (dir_len == 0)
		out[n++] = '/';
	for (i = 0; i < dir_len; i++) {
		if (escape && strchr("*?[\\", file[i]))
			out[n++] = '\\';
		out[n++] = file[i];
	}
	if (dir_len)
		out[n++] = '/';
	strcpy(out + n, path);
	return out;
}

/* ------------------------------------------------------------------------ */
/* Reading and parsing one file                                             */
/* ------------------------------------------------------------------------ */

/*
 * Read a whole config file. `at` is the include entry that named it (for the
 * error position), or NULL for the main file.
 */
static int read_file(const char *path, const char *shown_as, const cfg_node *at,
		     char **buf, size_t *len, struct stat *st, berth_error *err)
{
	char shown[CFG_SHOW_MAX];
	size_t got = 0;
	char *data = NULL;
	int fd, rc = 0;

	*buf = NULL;
	*len = 0;
	/* O_NONBLOCK: a FIFO named as a config file must not hang the open. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (at)
			return cfg_node_error(err, at, "cannot open '%s': %s",
					      cfg_show(shown, shown_as), strerror(errno));
		if (err) {
			err->code = BERTH_E_CONFIG;
			snprintf(err->message, sizeof(err->message), "cannot open '%s': %s",
				 path, strerror(errno));
		}
		return BERTH_E_CONFIG;
	}
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		if (at) {
			rc = cfg_node_error(err, at, "cannot include '%s': not a regular file",
					    cfg_show(shown, shown_as));
		} else {
			rc = BERTH_E_CONFIG;
			if (err) {
				err->code = rc;
				snprintf(err->message, sizeof(err->message),
					 "cannot read '%s': not a regular file", path);
			}
		}
		goto out;
	}
	data = malloc(CONFIG_MAX_FILE_SIZE + 1);
	if (!data) {
		rc = nomem(err);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, data + got, CONFIG_MAX_FILE_SIZE + 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cfg_error(err, path, 1, 1, "cannot read: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > CONFIG_MAX_FILE_SIZE) {
			rc = cfg_error(err, path, 1, 1, "file is larger than %d MiB",
				       CONFIG_MAX_FILE_SIZE / (1024 * 1024));
			goto out;
		}
	}
	*buf = data;
	*len = got;
	data = NULL;
out:
	free(data);
	close(fd);
	return rc;
}

/* Parse with ${VAR} expansion; the top level must be a map (or nothing). */
static int parse_doc(const char *name, const char *buf, size_t len,
		     cfg_node **out, berth_error *err)
{
	cfg_node *root = NULL;
	int rc;

	*out = NULL;
	if (len > CONFIG_MAX_FILE_SIZE)
		return cfg_error(err, name, 1, 1, "file is larger than %d MiB",
				 CONFIG_MAX_FILE_SIZE / (1024 * 1024));
	rc = cfg_parse(name, buf, len, CFG_PARSE_EXPAND_ENV, &root, err);
	if (rc < 0)
		return rc;
	if (root && root->type == CFG_SCALAR && root->is_null) {
		cfg_node_free(root);
		root = NULL;
	}
	if (!root) {
		root = cfg_node_new(CFG_MAP, name, 1, 1);
		if (!root)
			return nomem(err);
	}
	if (root->type != CFG_MAP) {
		rc = cfg_node_error(err, root, "the top level must be a map of settings, found %s",
				    cfg_type_name(root));
		cfg_node_free(root);
		return rc;
	}
	*out = root;
	return 0;
}

static int is_known(const char *key, const char *const *keys)
{
	for (; *keys; keys++)
		if (strcmp(key, *keys) == 0)
			return 1;
	return 0;
}

static int unknown_key(const cfg_pair *p, const char *const *keys, const char *where,
		       berth_error *err)
{
	char shown[CFG_SHOW_MAX];
	const char *best = NULL;
	int best_d = 0;

	for (; *keys; keys++)
		cfg_suggest(p->key, *keys, &best, &best_d);
	cfg_show(shown, p->key);
	if (best && where)
		return cfg_pair_error(err, p, "unknown key '%s' in %s (did you mean '%s'?)",
				      shown, where, best);
	if (best)
		return cfg_pair_error(err, p, "unknown key '%s' (did you mean '%s'?)",
				      shown, best);
	if (where)
		return cfg_pair_error(err, p, "unknown key '%s' in %s", shown, where);
	return cfg_pair_error(err, p, "unknown key '%s'", shown);
}

static int check_map_keys(const cfg_node *map, const char *const *keys,
			  const char *where, berth_error *err)
{
	size_t i;

	for (i = 0; i < map->n_pairs; i++)
		if (!is_known(map->pairs[i].key, keys))
			return unknown_key(&map->pairs[i], keys, where, err);
	return 0;
}

/* Key names only; values are checked once all files are merged. */
static int check_keys(const cfg_node *root, int is_main, berth_error *err)
{
	const cfg_node *v;
	size_t i, j;
	int rc;

	for (i = 0; i < root->n_pairs; i++) {
		const cfg_pair *p = &root->pairs[i];

		if (!is_known(p->key, top_keys))
			return unknown_key(p, top_keys, NULL, err);
		if (!is_main && strcmp(p->key, "include") == 0)
			return cfg_pair_error(err, p,
					      "include is only allowed in the main file, not in an included file");
	}
	for (j = 0; j < sizeof(sections) / sizeof(sections[0]); j++) {
		v = cfg_map_get(root, sections[j].name);
		if (v && v->type == CFG_MAP) {
			rc = check_map_keys(v, sections[j].keys, sections[j].name, err);
			if (rc < 0)
				return rc;
		}
	}
	v = cfg_map_get(root, "plugins");
	for (i = 0; v && v->type == CFG_SEQ && i < v->n_items; i++) {
		if (v->items[i]->type != CFG_MAP)
			continue;
		rc = check_map_keys(v->items[i], plugin_keys, "plugin entry", err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Includes                                                                 */
/* ------------------------------------------------------------------------ */

static int seen_before(struct loader *ld, const struct stat *st)
{
	size_t i;

	for (i = 0; i < ld->n_seen; i++)
		if (ld->seen[i].dev == st->st_dev && ld->seen[i].ino == st->st_ino)
			return 1;
	return 0;
}

static int remember(struct loader *ld, const struct stat *st)
{
	if (ld->n_seen >= sizeof(ld->seen) / sizeof(ld->seen[0]))
		return BERTH_E_INTERNAL;
	ld->seen[ld->n_seen].dev = st->st_dev;
	ld->seen[ld->n_seen].ino = st->st_ino;
	ld->n_seen++;
	return 0;
}

static const char *const append_keys[] = { "plugins", NULL };

static int load_fragment(struct loader *ld, const char *path, const char *shown_as,
			 const cfg_node *at)
{
	struct stat st;
	cfg_node *doc = NULL;
	const char *name;
	char *buf = NULL;
	size_t len;
	int rc;

	if (stat(path, &st) == 0 && seen_before(ld, &st))
		return 0;
	if (ld->n_included >= CONFIG_MAX_INCLUDES)
		return cfg_node_error(ld->err, at, "include brings in more than %d files",
				      CONFIG_MAX_INCLUDES);
	name = add_file(ld->c, path);
	if (!name)
		return nomem(ld->err);
	rc = read_file(path, shown_as, at, &buf, &len, &st, ld->err);
	if (rc < 0)
		goto out;
	if (seen_before(ld, &st))
		goto out;
	rc = remember(ld, &st);
	if (rc < 0)
		goto out;
	ld->n_included++;
	rc = parse_doc(name, buf, len, &doc, ld->err);
	if (rc < 0)
		goto out;
	rc = check_keys(doc, 0, ld->err);
	if (rc < 0)
		goto out;
	rc = cfg_merge(ld->c->root, doc, append_keys);
	doc = NULL;
	if (rc < 0)
		rc = nomem(ld->err);
out:
	cfg_node_free(doc);
	free(buf);
	return rc;
}

static int path_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int include_glob(struct loader *ld, const cfg_node *v)
{
	char shown[CFG_SHOW_MAX];
	char *pattern, **paths = NULL;
	size_t i, n = 0;
	glob_t g;
	int grc, rc = 0;

	pattern = resolve_rel(v->file, v->scalar, 1);
	if (!pattern)
		return nomem(ld->err);
	memset(&g, 0, sizeof(g));
	grc = glob(pattern, GLOB_NOSORT | GLOB_MARK, NULL, &g);
	free(pattern);
	if (grc == GLOB_NOSPACE) {
		globfree(&g);
		return nomem(ld->err);
	}
	if (grc == 0) {
		paths = malloc((g.gl_pathc ? g.gl_pathc : 1) * sizeof(*paths));
		if (!paths) {
			globfree(&g);
			return nomem(ld->err);
		}
		/* GLOB_MARK ends directories with '/': only files are config. */
		for (i = 0; i < g.gl_pathc; i++) {
			size_t l = strlen(g.gl_pathv[i]);

			if (l && g.gl_pathv[i][l - 1] != '/')
				paths[n++] = g.gl_pathv[i];
		}
		/* Name order regardless of locale, so conf.d/ merges the same everywhere. */
		qsort(paths, n, sizeof(*paths), path_cmp);
	}
	if (n == 0) {
		rc = add_warning(ld->c, "%s:%d:%d: include '%s' matched no files", v->file,
				 v->line, v->column, cfg_show(shown, v->scalar));
		if (rc < 0)
			rc = nomem(ld->err);
	}
	for (i = 0; i < n && rc == 0; i++)
		rc = load_fragment(ld, paths[i], paths[i], v);
	free(paths);
	globfree(&g);
	return rc;
}

/* Every entry of a list-valued include must be a path. */
static int check_include_list(const cfg_node *inc, berth_error *err)
{
	size_t i;

	if (inc->type == CFG_SCALAR)
		return 0;
	if (inc->type != CFG_SEQ)
		return cfg_node_error(err, inc, "invalid include: expected a path or a list of paths, found %s",
				      cfg_type_name(inc));
	for (i = 0; i < inc->n_items; i++) {
		const cfg_node *v = inc->items[i];

		if (v->type != CFG_SCALAR || v->is_null)
			return cfg_node_error(err, v, "invalid include entry: expected a path, found %s",
					      cfg_type_name(v));
	}
	return 0;
}

static int load_includes(struct loader *ld, int follow)
{
	/* Fragments never replace `include` (check_keys refuses it there), so
	 * this node stays valid while they are merged in. */
	const cfg_node *inc = cfg_map_get(ld->c->root, "include");
	char shown[CFG_SHOW_MAX];
	size_t i, n;
	int rc;

	if (!inc || (inc->type == CFG_SCALAR && inc->is_null))
		return 0;
	rc = check_include_list(inc, ld->err);
	if (rc < 0)
		return rc;
	n = inc->type == CFG_SCALAR ? 1 : inc->n_items;
	for (i = 0; i < n; i++) {
		const cfg_node *v = inc->type == CFG_SCALAR ? inc : inc->items[i];
		char *path;

		if (!*v->scalar)
			return cfg_node_error(ld->err, v, "invalid include: empty path");
		if (!follow) {
			if (add_warning(ld->c, "%s:%d:%d: include '%s' is not followed when loading from memory",
					v->file, v->line, v->column, cfg_show(shown, v->scalar)) < 0)
				return nomem(ld->err);
			continue;
		}
		if (strpbrk(v->scalar, "*?[")) {
			rc = include_glob(ld, v);
		} else {
			path = resolve_rel(v->file, v->scalar, 0);
			if (!path)
				return nomem(ld->err);
			rc = load_fragment(ld, path, v->scalar, v);
			free(path);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Checking values                                                          */
/* ------------------------------------------------------------------------ */

/* A section map, or NULL when absent or empty. */
static int get_section(const cfg_node *root, const char *name, const cfg_node **out,
		       berth_error *err)
{
	const cfg_node *v = cfg_map_get(root, name);

	*out = NULL;
	if (!v || (v->type == CFG_SCALAR && v->is_null))
		return 0;
	if (v->type != CFG_MAP)
		return cfg_node_error(err, v, "invalid %s: expected a map, found %s", name,
				      cfg_type_name(v));
	*out = v;
	return 0;
}

/* A single non-empty value of key in map, or NULL when absent or empty. */
static int get_scalar(const cfg_node *map, const char *section, const char *key,
		      const cfg_node **out, berth_error *err)
{
	const cfg_node *v = cfg_map_get(map, key);

	*out = NULL;
	if (!v || (v->type == CFG_SCALAR && v->is_null))
		return 0;
	if (v->type != CFG_SCALAR)
		return cfg_node_error(err, v, "invalid %s%s%s: expected a single value, found %s",
				      section ? section : "", section ? "." : "", key,
				      cfg_type_name(v));
	*out = v;
	return 0;
}

static int get_size(const cfg_node *map, const char *section, const char *key,
		    uint64_t *out, berth_error *err)
{
	char shown[CFG_SHOW_MAX];
	const cfg_node *v;
	int rc = get_scalar(map, section, key, &v, err);

	if (rc < 0 || !v)
		return rc;
	if (config_parse_size(v->scalar, out) < 0)
		return cfg_node_error(err, v, "invalid %s.%s '%s': expected a size such as 4MiB",
				      section, key, cfg_show(shown, v->scalar));
	return 0;
}

static int get_duration(const cfg_node *map, const char *section, const char *key,
			uint64_t *out, berth_error *err)
{
	char shown[CFG_SHOW_MAX];
	const cfg_node *v;
	int rc = get_scalar(map, section, key, &v, err);

	if (rc < 0 || !v)
		return rc;
	if (config_parse_duration_ms(v->scalar, out) < 0)
		return cfg_node_error(err, v, "invalid %s.%s '%s': expected a duration such as 30s, 500ms or 1h",
				      section, key, cfg_show(shown, v->scalar));
	return 0;
}

static int get_bool(const cfg_node *map, const char *section, const char *key,
		    int *out, berth_error *err)
{
	char shown[CFG_SHOW_MAX];
	const cfg_node *v;
	int rc = get_scalar(map, section, key, &v, err);

	if (rc < 0 || !v)
		return rc;
	if (config_parse_bool(v->scalar, out) < 0)
		return cfg_node_error(err, v, "invalid %s.%s '%s': expected true or false",
				      section, key, cfg_show(shown, v->scalar));
	return 0;
}

static int get_uint(const cfg_node *map, const char *section, const char *key,
		    unsigned min, unsigned max, unsigned *out, berth_error *err)
{
	char shown[CFG_SHOW_MAX];
	const cfg_node *v;
	int64_t n;
	int rc = get_scalar(map, section, key, &v, err);

	if (rc < 0 || !v)
		return rc;
	if (config_parse_int(v->scalar, &n) < 0 || n < (int64_t)min || n > (int64_t)max)
		return cfg_node_error(err, v, "invalid %s.%s '%s': expected a whole number from %u to %u",
				      section, key, cfg_show(shown, v->scalar), min, max);
	*out = (unsigned)n;
	return 0;
}

static int valid_hostname(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 253)
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(".-_", s[i]))
			return 0;
	return 1;
}

static int parse_listen(const cfg_node *v, server_config *c, berth_error *err)
{
	const char *s = v->scalar, *host, *port;
	char shown[CFG_SHOW_MAX], addr[INET6_ADDRSTRLEN + 64];
	unsigned char bin[sizeof(struct in6_addr)];
	size_t host_len, i;
	long p = 0;

	cfg_show(shown, s);
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return cfg_node_error(err, v, "invalid listen '%s': expected [IPV6]:PORT, such as [::1]:5000",
					      shown);
		host = s + 1;
		host_len = (size_t)(close - host);
		port = close + 2;
		if (host_len >= sizeof(addr))
			return cfg_node_error(err, v, "invalid listen '%s': not an IPv6 address", shown);
		memcpy(addr, host, host_len);
		addr[host_len] = '\0';
		/* A zone (fe80::1%eth0) is the kernel's business once the address parses. */
		if (strchr(addr, '%'))
			*strchr(addr, '%') = '\0';
		if (inet_pton(AF_INET6, addr, bin) != 1)
			return cfg_node_error(err, v, "invalid listen '%s': not an IPv6 address", shown);
	} else {
		const char *colon = strrchr(s, ':');

		if (!colon)
			return cfg_node_error(err, v, "invalid listen '%s': expected HOST:PORT, such as 127.0.0.1:5000 or [::1]:5000",
					      shown);
		host = s;
		host_len = (size_t)(colon - s);
		port = colon + 1;
		if (memchr(host, ':', host_len))
			return cfg_node_error(err, v, "invalid listen '%s': write an IPv6 address in brackets, such as [::1]:5000",
					      shown);
		if (host_len == 0)
			return cfg_node_error(err, v, "invalid listen '%s': the host is missing (use 0.0.0.0:PORT or [::]:PORT for every address)",
					      shown);
		if (!valid_hostname(host, host_len))
			return cfg_node_error(err, v, "invalid listen '%s': not a host name or address",
					      shown);
	}
	for (i = 0; port[i]; i++) {
		if (!isdigit((unsigned char)port[i]) || i >= 5) {
			p = -1;
			break;
		}
		p = p * 10 + (port[i] - '0');
	}
	if (i == 0 || p < 1 || p > 65535)
		return cfg_node_error(err, v, "invalid listen port in '%s': expected 1-65535", shown);
	c->listen_host = strndup(host, host_len);
	if (!c->listen_host)
		return nomem(err);
	c->listen_port = (int)p;
	return 0;
}

static int add_plugin_dir(server_config *c, const cfg_node *v, berth_error *err)
{
	if (v->type != CFG_SCALAR || v->is_null || !*v->scalar)
		return cfg_node_error(err, v, "invalid plugin_path entry: expected a directory, found %s",
				      v->type == CFG_SCALAR ? "an empty value" : cfg_type_name(v));
	if (push_string(&c->plugin_path, &c->n_plugin_path,
			resolve_rel(v->file, v->scalar, 0)) < 0)
		return nomem(err);
	return 0;
}

static int check_plugin_path(const cfg_node *root, server_config *c, berth_error *err)
{
	const cfg_node *v = cfg_map_get(root, "plugin_path");
	size_t i;
	int rc;

	/* Absent: the loader still searches the install directory. */
	if (!v || (v->type == CFG_SCALAR && v->is_null))
		return 0;
	if (v->type == CFG_SCALAR)
		return add_plugin_dir(c, v, err);
	if (v->type != CFG_SEQ)
		return cfg_node_error(err, v, "invalid plugin_path: expected a directory or a list of directories, found %s",
				      cfg_type_name(v));
	for (i = 0; i < v->n_items; i++) {
		rc = add_plugin_dir(c, v->items[i], err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int tls_path(const cfg_node *v, const char *key, char **out, berth_error *err)
{
	if (!*v->scalar)
		return cfg_node_error(err, v, "invalid tls.%s: empty path", key);
	*out = resolve_rel(v->file, v->scalar, 0);
	return *out ? 0 : nomem(err);
}

static int check_tls(const cfg_node *root, server_config *c, berth_error *err)
{
	const cfg_node *tls, *cert, *key, *ver;
	char shown[CFG_SHOW_MAX];
	int rc;

	c->tls_min_version = 12;
	rc = get_section(root, "tls", &tls, err);
	if (rc < 0 || !tls)
		return rc;
	if ((rc = get_scalar(tls, "tls", "cert", &cert, err)) < 0 ||
	    (rc = get_scalar(tls, "tls", "key", &key, err)) < 0 ||
	    (rc = get_scalar(tls, "tls", "min_version", &ver, err)) < 0)
		return rc;
	if (cert && !key)
		return cfg_node_error(err, cert, "tls.cert is set but tls.key is not (set both or neither)");
	if (key && !cert)
		return cfg_node_error(err, key, "tls.key is set but tls.cert is not (set both or neither)");
	if (ver) {
		const char *s = ver->scalar;

		if (strcmp(s, "1.2") == 0) {
			c->tls_min_version = 12;
		} else if (strcmp(s, "1.3") == 0) {
			c->tls_min_version = 13;
		} else if (strcmp(s, "1.0") == 0 || strcmp(s, "1.1") == 0 ||
			   strcmp(s, "1") == 0) {
			return cfg_node_error(err, ver, "tls.min_version %s is refused: TLS before 1.2 is insecure (use \"1.2\" or \"1.3\")",
					      s);
		} else {
			return cfg_node_error(err, ver, "invalid tls.min_version '%s': expected \"1.2\" or \"1.3\"",
					      cfg_show(shown, s));
		}
	}
	if (cert) {
		rc = tls_path(cert, "cert", &c->tls_cert, err);
		if (rc == 0)
			rc = tls_path(key, "key", &c->tls_key, err);
	}
	return rc;
}

static unsigned cpu_count(void)
{
	cpu_set_t set;
	long n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 2)
		n = 2;
	if (n > MAX_THREADS)
		n = MAX_THREADS;
	return (unsigned)n;
}

static int check_limits(const cfg_node *root, server_config *c, berth_error *err)
{
	const cfg_node *lim;
	char shown[CFG_SHOW_MAX];
	int rc;

	c->max_manifest_size = DEFAULT_MAX_MANIFEST_SIZE;
	c->max_connections = DEFAULT_MAX_CONNECTIONS;
	c->threads = 0;
	c->connection_timeout_ms = 60 * 1000;
	c->shutdown_timeout_ms = 30 * 1000;
	c->max_chunk_size = 0;
	c->max_requests = DEFAULT_MAX_REQUESTS;
	c->max_connections_per_client = DEFAULT_MAX_CONNECTIONS_PER_CLIENT;
	c->max_uploads_per_client = DEFAULT_MAX_UPLOADS_PER_CLIENT;
	c->max_header_size = DEFAULT_MAX_HEADER_SIZE;
	rc = get_section(root, "limits", &lim, err);
	if (rc == 0 && lim) {
		if ((rc = get_size(lim, "limits", "max_manifest_size", &c->max_manifest_size, err)) < 0 ||
		    (rc = get_uint(lim, "limits", "max_connections", 1, MAX_CONNECTIONS_LIMIT,
				   &c->max_connections, err)) < 0 ||
		    (rc = get_uint(lim, "limits", "threads", 0, MAX_THREADS, &c->threads, err)) < 0 ||
		    (rc = get_duration(lim, "limits", "connection_timeout",
				       &c->connection_timeout_ms, err)) < 0 ||
		    (rc = get_duration(lim, "limits", "shutdown_timeout",
				       &c->shutdown_timeout_ms, err)) < 0 ||
		    (rc = get_size(lim, "limits", "max_chunk_size", &c->max_chunk_size, err)) < 0 ||
		    (rc = get_uint(lim, "limits", "max_requests", 0, MAX_CONNECTIONS_LIMIT,
				   &c->max_requests, err)) < 0 ||
		    (rc = get_uint(lim, "limits", "max_connections_per_client", 0,
				   MAX_CONNECTIONS_LIMIT, &c->max_connections_per_client, err)) < 0 ||
		    (rc = get_uint(lim, "limits", "max_uploads_per_client", 0, MAX_CONNECTIONS_LIMIT,
				   &c->max_uploads_per_client, err)) < 0 ||
		    (rc = get_size(lim, "limits", "max_header_size", &c->max_header_size, err)) < 0)
			return rc;
		if (c->max_header_size < 8 * 1024 || c->max_header_size > 16 * 1024 * 1024) {
			const cfg_node *v = cfg_map_get(lim, "max_header_size");

			return cfg_node_error(err, v, "invalid limits.max_header_size '%s': expected 8KiB to 16MiB",
					      cfg_show(shown, v->scalar));
		}
		if (c->max_manifest_size == 0 || c->max_manifest_size > MAX_MANIFEST_SIZE_LIMIT) {
			const cfg_node *v = cfg_map_get(lim, "max_manifest_size");

			return cfg_node_error(err, v, "invalid limits.max_manifest_size '%s': expected 1 byte to 1GiB",
					      cfg_show(shown, v->scalar));
		}
	}
	if (rc == 0 && c->threads == 0)
		c->threads = cpu_count();
	return rc;
}

static int check_logging(const cfg_node *root, server_config *c, berth_error *err)
{
	static const char *const levels[] = { "error", "warn", "info", "debug" };
	const cfg_node *log, *v;
	char shown[CFG_SHOW_MAX];
	size_t i;
	int rc;

	c->log_level = BERTH_LOG_INFO;
	c->log_json = 0;
	c->access_log = 1;
	rc = get_section(root, "logging", &log, err);
	if (rc < 0 || !log)
		return rc;
	rc = get_scalar(log, "logging", "level", &v, err);
	if (rc < 0)
		return rc;
	if (v) {
		for (i = 0; i < 4; i++)
			if (strcasecmp(v->scalar, levels[i]) == 0)
				break;
		if (i == 4 && strcasecmp(v->scalar, "warning") == 0)
			i = BERTH_LOG_WARN;
		if (i == 4)
			return cfg_node_error(err, v, "invalid logging.level '%s': expected error, warn, info or debug",
					      cfg_show(shown, v->scalar));
		c->log_level = (int)i;
	}
	rc = get_scalar(log, "logging", "format", &v, err);
	if (rc < 0)
		return rc;
	if (v) {
		if (strcasecmp(v->scalar, "text") == 0)
			c->log_json = 0;
		else if (strcasecmp(v->scalar, "json") == 0)
			c->log_json = 1;
		else
			return cfg_node_error(err, v, "invalid logging.format '%s': expected text or json",
					      cfg_show(shown, v->scalar));
	}
	return get_bool(log, "logging", "access_log", &c->access_log, err);
}

static int check_registry(const cfg_node *root, server_config *c, berth_error *err)
{
	const cfg_node *reg;
	int rc;

	c->delete_enabled = 1;
	c->tag_delete_enabled = 1;
	c->upload_purge_age_ms = 168ull * 3600 * 1000;
	rc = get_section(root, "registry", &reg, err);
	if (rc < 0 || !reg)
		return rc;
	if ((rc = get_bool(reg, "registry", "delete_enabled", &c->delete_enabled, err)) < 0 ||
	    (rc = get_bool(reg, "registry", "tag_delete_enabled", &c->tag_delete_enabled, err)) < 0)
		return rc;
	rc = get_duration(reg, "registry", "upload_purge_age", &c->upload_purge_age_ms, err);
	if (rc < 0)
		return rc;
	{
		const cfg_node *v = cfg_map_get(reg, "catalog");
		char shown[CFG_SHOW_MAX];
		if (v && !(v->type == CFG_SCALAR && v->is_null)) {
			if (v->type != CFG_SCALAR ||
			    (strcmp(v->scalar, "index") != 0 && strcmp(v->scalar, "walk") != 0))
				return cfg_node_error(err, v,
						      "invalid registry.catalog '%s': expected index or walk",
						      v->type == CFG_SCALAR ? cfg_show(shown, v->scalar)
									    : "(not a value)");
			c->catalog_walk = strcmp(v->scalar, "walk") == 0;
		}
	}
	return 0;
}

/* Garbage collection's safety margin and memory (docs/garbage-collection.md). */
static int check_gc(const cfg_node *root, server_config *c, berth_error *err)
{
	const cfg_node *gc;
	uint64_t memory = GC_MARK_MEMORY_DEFAULT_BYTES;
	int rc;

	c->gc_grace_ms = GC_GRACE_DEFAULT;
	c->gc_mark_memory = GC_MARK_MEMORY_DEFAULT_BYTES;
	rc = get_section(root, "gc", &gc, err);
	if (rc < 0 || !gc)
		return rc;
	if ((rc = get_duration(gc, "gc", "grace_period", &c->gc_grace_ms, err)) < 0 ||
	    (rc = get_size(gc, "gc", "mark_memory", &memory, err)) < 0)
		return rc;
	if (memory < 64 * 1024 || memory > 16ull * 1024 * 1024 * 1024)
		return cfg_node_error(err, cfg_map_get(gc, "mark_memory"),
				      "gc.mark_memory must be between 64KiB and 16GiB");
	c->gc_mark_memory = (size_t)memory;
	return 0;
}

/* `jobs:` is a map of job names to settings; the job registry checks the
 * names against what plugins provide, so only its shape is checked here. */
static int check_events_jobs(const cfg_node *root, server_config *c, berth_error *err)
{
	const cfg_node *ev, *jobs;
	unsigned q = 1024;
	int rc;

	rc = get_section(root, "events", &ev, err);
	if (rc < 0)
		return rc;
	if (ev && (rc = get_uint(ev, "events", "queue_size", 1, 1048576, &q, err)) < 0)
		return rc;
	c->events_queue_size = q;
	jobs = cfg_map_get(root, "jobs");
	if (jobs && !jobs->is_null && jobs->type != CFG_MAP)
		return cfg_node_error(err, jobs, "jobs must be a map of job names to settings");
	return 0;
}

static int valid_instance_name(const char *s)
{
	size_t i;

	if (!*s || *s == '.' || strlen(s) > MAX_INSTANCE_NAME)
		return 0;
	for (i = 0; s[i]; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return 0;
	return 1;
}

/* `use: storage-fs` and `use: ./x/storage-fs.so` both name the instance storage-fs. */
static char *default_instance_name(const char *use)
{
	const char *base = strrchr(use, '/');
	size_t len;

	base = base ? base + 1 : use;
	len = strlen(base);
	if (len > 3 && strcmp(base + len - 3, ".so") == 0)
		len -= 3;
	return strndup(base, len);
}

static int check_plugin(cfg_node *entry, plugin_decl *d, berth_error *err)
{
	const cfg_node *use, *name, *prio;
	cfg_pair *conf;
	char shown[CFG_SHOW_MAX];
	int64_t n;
	int rc;

	d->file = entry->file;
	d->line = entry->line;
	if ((rc = get_scalar(entry, "plugin", "use", &use, err)) < 0 ||
	    (rc = get_scalar(entry, "plugin", "name", &name, err)) < 0 ||
	    (rc = get_scalar(entry, "plugin", "priority", &prio, err)) < 0)
		return rc;
	if (!use || !*use->scalar)
		return cfg_node_error(err, entry, "plugin entry has no 'use' (the plugin to load)");
	if (!strchr(use->scalar, '/') && !valid_instance_name(use->scalar))
		return cfg_node_error(err, use, "invalid plugin.use '%s': expected a plugin name such as storage-fs, or a path containing '/'",
				      cfg_show(shown, use->scalar));
	d->use = strdup(use->scalar);
	d->name = name ? strdup(name->scalar) : default_instance_name(use->scalar);
	if (!d->use || !d->name)
		return nomem(err);
	if (!valid_instance_name(d->name)) {
		if (name)
			return cfg_node_error(err, name, "invalid plugin.name '%s': use up to %d letters, digits, '.', '_' or '-'",
					      cfg_show(shown, d->name), MAX_INSTANCE_NAME);
		return cfg_node_error(err, use, "cannot name an instance after '%s': set 'name'",
				      cfg_show(shown, use->scalar));
	}
	if (prio) {
		if (config_parse_int(prio->scalar, &n) < 0 || n < INT_MIN || n > INT_MAX)
			return cfg_node_error(err, prio, "invalid plugin.priority '%s': expected a whole number",
					      cfg_show(shown, prio->scalar));
		d->priority = (int)n;
	}
	conf = cfg_map_find(entry, "config");
	if (conf && !(conf->value->type == CFG_SCALAR && conf->value->is_null)) {
		if (conf->value->type != CFG_MAP)
			return cfg_node_error(err, conf->value, "invalid plugin.config: expected a map, found %s",
					      cfg_type_name(conf->value));
		d->config = conf->value;
		return 0;
	}
	/* Absent or empty: an empty map where the entry is, owned by the tree. */
	d->config = cfg_node_new(CFG_MAP, entry->file, conf ? conf->line : entry->line,
				 conf ? conf->column : entry->column);
	if (!d->config)
		return nomem(err);
	if (conf) {
		cfg_node_free(conf->value);
		conf->value = d->config;
		return 0;
	}
	if (cfg_map_append(entry, "config", entry->file, entry->line, entry->column,
			   d->config) < 0) {
		cfg_node_free(d->config);
		d->config = NULL;
		return nomem(err);
	}
	return 0;
}

static int decl_cmp(const void *a, const void *b)
{
	const plugin_decl *da = *(const plugin_decl *const *)a;
	const plugin_decl *db = *(const plugin_decl *const *)b;
	int r = strcmp(da->name, db->name);

	if (r)
		return r;
	return da < db ? -1 : da > db;
}

/*
 * Instance names are unique across all files. Sorted rather than compared
 * pairwise: 64 fragments of 1 MiB could declare millions of entries.
 */
static int check_instance_names(const cfg_node *list, const server_config *c,
				berth_error *err)
{
	const plugin_decl **sorted, *dup = NULL, *first = NULL;
	const cfg_node *at;
	size_t i;

	if (c->n_plugins < 2)
		return 0;
	sorted = malloc(c->n_plugins * sizeof(*sorted));
	if (!sorted)
		return nomem(err);
	for (i = 0; i < c->n_plugins; i++)
		sorted[i] = &c->plugins[i];
	qsort(sorted, c->n_plugins, sizeof(*sorted), decl_cmp);
	for (i = 1; i < c->n_plugins; i++) {
		size_t j = i - 1;

		if (strcmp(sorted[j]->name, sorted[i]->name) != 0 || (dup && sorted[i] > dup))
			continue;
		/* Report the earliest repeat, against the first declaration. */
		while (j > 0 && strcmp(sorted[j - 1]->name, sorted[i]->name) == 0)
			j--;
		dup = sorted[i];
		first = sorted[j];
	}
	free(sorted);
	if (!dup)
		return 0;
	at = cfg_map_get(list->items[dup - c->plugins], "name");
	if (!at)
		at = cfg_map_get(list->items[dup - c->plugins], "use");
	return cfg_node_error(err, at,
			      "duplicate instance name '%s' (first declared at %s:%d): give one of them a different 'name'",
			      first->name, first->file, first->line);
}

static int check_plugins(const cfg_node *root, server_config *c, berth_error *err)
{
	const cfg_node *v = cfg_map_get(root, "plugins");
	size_t i;
	int rc;

	if (!v || (v->type == CFG_SCALAR && v->is_null))
		return 0;
	if (v->type != CFG_SEQ)
		return cfg_node_error(err, v, "invalid plugins: expected a list of plugin entries, found %s",
				      cfg_type_name(v));
	if (v->n_items == 0)
		return 0;
	c->plugins = calloc(v->n_items, sizeof(*c->plugins));
	if (!c->plugins)
		return nomem(err);
	for (i = 0; i < v->n_items; i++) {
		cfg_node *entry = v->items[i];

		if (entry->type != CFG_MAP)
			return cfg_node_error(err, entry, "invalid plugin entry: expected a map with 'use', found %s",
					      cfg_type_name(entry));
		/* Count the entry first so config_free frees what it holds. */
		c->n_plugins++;
		rc = check_plugin(entry, &c->plugins[i], err);
		if (rc < 0)
			return rc;
	}
	return check_instance_names(v, c, err);
}

static int check_values(server_config *c, berth_error *err)
{
	const cfg_node *root = c->root, *listen;
	int rc;

	rc = get_scalar(root, NULL, "listen", &listen, err);
	if (rc < 0)
		return rc;
	if (!listen)
		return cfg_error(err, c->files[0], 1, 1,
				 "missing required key 'listen' (HOST:PORT, such as 127.0.0.1:5000)");
	if ((rc = parse_listen(listen, c, err)) < 0 ||
	    (rc = check_plugin_path(root, c, err)) < 0 ||
	    (rc = check_tls(root, c, err)) < 0 ||
	    (rc = check_limits(root, c, err)) < 0 ||
	    (rc = check_logging(root, c, err)) < 0 ||
	    (rc = check_registry(root, c, err)) < 0 ||
	    (rc = check_gc(root, c, err)) < 0 ||
	    (rc = check_events_jobs(root, c, err)) < 0)
		return rc;
	return check_plugins(root, c, err);
}

/* ------------------------------------------------------------------------ */
/* Entry points                                                             */
/* ------------------------------------------------------------------------ */

static int load(const char *path, const char *buf, size_t len, int from_file,
		server_config **out, berth_error *err)
{
	struct loader ld;
	struct stat st;
	char *data = NULL;
	const char *name;
	int rc;

	*out = NULL;
	memset(&ld, 0, sizeof(ld));
	ld.err = err;
	ld.c = calloc(1, sizeof(*ld.c));
	if (!ld.c)
		return nomem(err);
	name = add_file(ld.c, path ? path : "(config)");
	if (!name) {
		rc = nomem(err);
		goto out;
	}
	if (from_file) {
		rc = read_file(name, name, NULL, &data, &len, &st, err);
		if (rc < 0)
			goto out;
		buf = data;
		rc = remember(&ld, &st);
		if (rc < 0)
			goto out;
	}
	rc = parse_doc(name, buf, len, &ld.c->root, err);
	if (rc < 0)
		goto out;
	rc = check_keys(ld.c->root, 1, err);
	if (rc < 0)
		goto out;
	rc = load_includes(&ld, from_file);
	if (rc < 0)
		goto out;
	rc = check_values(ld.c, err);
out:
	free(data);
	if (rc < 0) {
		config_free(ld.c);
		return rc;
	}
	*out = ld.c;
	return 0;
}

int config_load(const char *path, server_config **out, berth_error *err)
{
	if (!path || !out) {
		if (out)
			*out = NULL;
		if (err) {
			err->code = BERTH_E_INVALID;
			snprintf(err->message, sizeof(err->message), "no configuration file given");
		}
		return BERTH_E_INVALID;
	}
	return load(path, NULL, 0, 1, out, err);
}

int config_load_buffer(const char *name, const char *yaml, size_t len,
		       server_config **out, berth_error *err)
{
	if (!out)
		return BERTH_E_INVALID;
	return load(name, yaml ? yaml : "", yaml ? len : 0, 0, out, err);
}

void config_free(server_config *c)
{
	size_t i;

	if (!c)
		return;
	free(c->listen_host);
	for (i = 0; i < c->n_plugin_path; i++)
		free(c->plugin_path[i]);
	free(c->plugin_path);
	free(c->tls_cert);
	free(c->tls_key);
	for (i = 0; i < c->n_plugins; i++) {
		free(c->plugins[i].use);
		free(c->plugins[i].name);
	}
	free(c->plugins);
	cfg_node_free(c->root);
	for (i = 0; i < c->n_files; i++)
		free(c->files[i]);
	free(c->files);
	for (i = 0; i < c->n_warnings; i++)
		free(c->warnings[i]);
	free(c->warnings);
	free(c);
}
