#include "plugin_loader.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"

#ifndef BERTH_PLUGIN_DIR
#define BERTH_PLUGIN_DIR "/usr/local/lib/berth/plugins"
#endif

static const struct {
	unsigned bit;
	const char *name;
} kind_names[] = {
	{BERTH_KIND_REQUEST, "request"}, {BERTH_KIND_AUTH, "auth"},
	{BERTH_KIND_STORAGE, "storage"}, {BERTH_KIND_SCAN, "scan"},
	{BERTH_KIND_NOTIFY, "notify"},   {BERTH_KIND_ROUTES, "routes"},
	{BERTH_KIND_JOBS, "jobs"},
};

void plugin_kinds_string(unsigned kinds, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++) {
		if (!(kinds & kind_names[i].bit))
			continue;
		n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s%s", n ? "," : "",
				      kind_names[i].name);
	}
	if (n == 0)
		snprintf(buf, cap, "none");
}

static int file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* The directory part of path, "." when it has none. */
static void dir_of(const char *path, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(out, cap, ".");
	else if (slash == path)
		snprintf(out, cap, "/");
	else
		snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

/*
 * `use: NAME` is looked up as NAME.so on plugin_path, then in the install
 * directory; `use: some/path.so` is a path, relative to the file that
 * declares it.
 */
static int resolve_path(const server_config *cfg, const plugin_decl *d, char *out, size_t cap,
			berth_error *err)
{
	char tried[1024];
	size_t tn = 0;

	if (strchr(d->use, '/')) {
		char dir[PATH_MAX];
		int n;
		if (d->use[0] == '/') {
			n = snprintf(out, cap, "%s", d->use);
		} else {
			dir_of(d->file, dir, sizeof(dir));
			n = snprintf(out, cap, "%s/%s", dir, d->use);
		}
		if (n < 0 || (size_t)n >= cap)
			return error_set(err, BERTH_E_CONFIG, "%s:%d: plugin path is too long",
					 d->file, d->line);
		if (file_exists(out))
			return 0;
		return error_set(err, BERTH_E_CONFIG, "%s:%d: plugin file '%s' does not exist",
				 d->file, d->line, out);
	}
	tried[0] = '\0';
	for (size_t i = 0; i <= cfg->n_plugin_path; i++) {
		const char *dir = i < cfg->n_plugin_path ? cfg->plugin_path[i] : BERTH_PLUGIN_DIR;
		snprintf(out, cap, "%s/%s.so", dir, d->use);
		if (file_exists(out))
			return 0;
		tn += (size_t)snprintf(tried + tn, tn < sizeof(tried) ? sizeof(tried) - tn : 0,
				       "%s%s", tn ? ", " : "", dir);
	}
	return error_set(err, BERTH_E_CONFIG,
			 "%s:%d: plugin '%s' not found: no %s.so in %s (check plugin_path, or "
			 "give a path)",
			 d->file, d->line, d->use, d->use, tried);
}

/*
 * Check a descriptor before anything else of the plugin runs. Every
 * refusal names the field, the plugin's value and the host's.
 */
static int check_descriptor(const berth_plugin *p, const char *where, berth_error *err)
{
	if (!p)
		return error_set(err, BERTH_E_CONFIG, "%s: berth_plugin_entry() returned NULL",
				 where);
	if (p->magic != BERTH_PLUGIN_MAGIC)
		return error_set(err, BERTH_E_CONFIG,
				 "%s: descriptor magic is 0x%08x, host expects 0x%08x: not a Berth "
				 "plugin descriptor",
				 where, p->magic, BERTH_PLUGIN_MAGIC);
	if (p->abi_major != BERTH_ABI_MAJOR)
		return error_set(err, BERTH_E_CONFIG,
				 "%s: ABI major version differs: plugin has %u, host has %u; "
				 "rebuild the plugin against this Berth's SDK",
				 where, p->abi_major, BERTH_ABI_MAJOR);
	if (p->abi_minor > BERTH_ABI_MINOR)
		return error_set(err, BERTH_E_CONFIG,
				 "%s: ABI minor version is newer than the host's: plugin has %u.%u, "
				 "host has %u.%u; upgrade Berth or build the plugin against this SDK",
				 where, p->abi_major, p->abi_minor, BERTH_ABI_MAJOR,
				 BERTH_ABI_MINOR);
	if (p->size < offsetof(berth_plugin, jobs) + sizeof(p->jobs))
		return error_set(err, BERTH_E_CONFIG,
				 "%s: descriptor size is %u bytes, ABI %u.0 needs at least %zu",
				 where, p->size, BERTH_ABI_MAJOR,
				 offsetof(berth_plugin, jobs) + sizeof(p->jobs));
	if (!p->name || !p->name[0])
		return error_set(err, BERTH_E_CONFIG, "%s: descriptor has no name", where);
	return 0;
}

static int check_storage(plugin_instance *in, const char *where, berth_error *err)
{
	const berth_storage_ops *s = in->desc.storage;
	size_t need = offsetof(berth_storage_ops, list) + sizeof(s->list);

	if (s->size < need)
		return error_set(err, BERTH_E_CONFIG,
				 "%s: storage table size is %u bytes, host needs at least %zu",
				 where, s->size, need);
	memset(&in->storage, 0, sizeof(in->storage));
	memcpy(&in->storage, s, s->size < sizeof(in->storage) ? s->size : sizeof(in->storage));
	if (!in->storage.stat || !in->storage.read_all || !in->storage.open_read ||
	    !in->storage.write_open || !in->storage.write || !in->storage.write_commit ||
	    !in->storage.write_cancel || !in->storage.move || !in->storage.remove ||
	    !in->storage.list)
		return error_set(err, BERTH_E_CONFIG,
				 "%s: storage table lacks a required operation (stat, read_all, "
				 "open_read, write_open, write, write_commit, write_cancel, move, "
				 "remove and list are required)",
				 where);
	return 0;
}

/* Copy a table whose first member is its size; refuse one too small to hold `need` bytes. */
static int copy_table(void *dst, size_t dst_size, const void *src, size_t need, const char *kind,
		      const char *where, berth_error *err)
{
	uint32_t size;

	memcpy(&size, src, sizeof(size));
	if (size < need)
		return error_set(err, BERTH_E_CONFIG,
				 "%s: %s table size is %u bytes, host needs at least %zu", where, kind,
				 size, need);
	memset(dst, 0, dst_size);
	memcpy(dst, src, size < dst_size ? size : dst_size);
	return 0;
}

static int copy_tables(plugin_instance *in, const char *where, berth_error *err)
{
	int rc = 0;

	if (in->desc.request) {
		rc = copy_table(&in->request, sizeof(in->request), in->desc.request,
				offsetof(berth_request_ops, before), "request", where, err);
		if (rc == 0 && !in->request.before && !in->request.after)
			rc = error_set(err, BERTH_E_CONFIG, "%s: request table has no hook", where);
	}
	if (rc == 0 && in->desc.auth) {
		rc = copy_table(&in->auth, sizeof(in->auth), in->desc.auth,
				offsetof(berth_auth_ops, authenticate), "auth", where, err);
		if (rc == 0 && !in->auth.authenticate && !in->auth.authorize)
			rc = error_set(err, BERTH_E_CONFIG,
				       "%s: auth table has neither authenticate nor authorize", where);
	}
	if (rc == 0 && in->desc.scan)
		rc = copy_table(&in->scan, sizeof(in->scan), in->desc.scan,
				offsetof(berth_scan_ops, on_push), "scan", where, err);
	if (rc == 0 && in->desc.notify) {
		rc = copy_table(&in->notify, sizeof(in->notify), in->desc.notify,
				offsetof(berth_notify_ops, deliver), "notify", where, err);
		if (rc == 0 && !in->notify.deliver)
			rc = error_set(err, BERTH_E_CONFIG, "%s: notify table has no deliver()",
				       where);
	}
	return rc;
}

static int load_one(const server_config *cfg, const plugin_decl *d, plugin_instance *in,
		    berth_error *err)
{
	char path[PATH_MAX], where[PATH_MAX + 64];
	berth_plugin_entry_fn entry;
	const berth_plugin *p;
	int rc;

	in->name = strdup(d->name);
	in->decl_file = d->file;
	in->decl_line = d->line;
	in->priority = d->priority;
	if (!in->name)
		return error_set(err, BERTH_E_NOMEM, "out of memory");
	rc = resolve_path(cfg, d, path, sizeof(path), err);
	if (rc != 0)
		return rc;
	in->path = strdup(path);
	if (!in->path)
		return error_set(err, BERTH_E_NOMEM, "out of memory");
	snprintf(where, sizeof(where), "%s:%d: plugin '%s' (%s)", d->file, d->line, d->name, path);

	/* RTLD_LOCAL keeps one plugin's symbols from satisfying another's;
	 * RTLD_NOW reports a missing symbol here, not mid-request. */
	in->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!in->dl)
		return error_set(err, BERTH_E_CONFIG,
				 "%s: cannot load: %s (a missing library or symbol usually means "
				 "the plugin was built for another version or machine)",
				 where, dlerror());
	*(void **)&entry = dlsym(in->dl, BERTH_PLUGIN_ENTRY_SYMBOL);
	if (!entry)
		return error_set(err, BERTH_E_CONFIG,
				 "%s: no %s() symbol: not a Berth plugin, or built with "
				 "-fvisibility=hidden without BERTH_PLUGIN_EXPORT",
				 where, BERTH_PLUGIN_ENTRY_SYMBOL);
	p = entry();
	rc = check_descriptor(p, where, err);
	if (rc != 0)
		return rc;
	memset(&in->desc, 0, sizeof(in->desc));
	memcpy(&in->desc, p, p->size < sizeof(in->desc) ? p->size : sizeof(in->desc));

	if (in->desc.request)
		in->kinds |= BERTH_KIND_REQUEST;
	if (in->desc.auth)
		in->kinds |= BERTH_KIND_AUTH;
	if (in->desc.storage)
		in->kinds |= BERTH_KIND_STORAGE;
	if (in->desc.scan)
		in->kinds |= BERTH_KIND_SCAN;
	if (in->desc.notify)
		in->kinds |= BERTH_KIND_NOTIFY;
	if (in->desc.routes)
		in->kinds |= BERTH_KIND_ROUTES;
	if (in->desc.jobs)
		in->kinds |= BERTH_KIND_JOBS;
	if (in->desc.storage) {
		rc = check_storage(in, where, err);
		if (rc != 0)
			return rc;
	}
	rc = copy_tables(in, where, err);
	if (rc != 0)
		return rc;
	if (!in->kinds)
		log_warn("%s provides no hooks", where);

	rc = plugin_config_validate(d->config, in->desc.config_schema, in->name, err);
	if (rc != 0)
		return rc;
	in->config.node = d->config;
	in->config.schema = in->desc.config_schema;
	return 0;
}

static int load_all(const server_config *cfg, plugin_set *out, int need_storage,
		    berth_error *err);

int plugins_load(const server_config *cfg, plugin_set *out, berth_error *err)
{
	return load_all(cfg, out, 1, err);
}

int plugins_load_unchecked(const server_config *cfg, plugin_set *out, berth_error *err)
{
	return load_all(cfg, out, 0, err);
}

static int load_all(const server_config *cfg, plugin_set *out, int need_storage, berth_error *err)
{
	plugin_instance *storage = NULL;
	int rc = 0;

	out->n = 0;
	out->v = calloc(cfg->n_plugins ? cfg->n_plugins : 1, sizeof(*out->v));
	if (!out->v)
		return error_set(err, BERTH_E_NOMEM, "out of memory");
	for (size_t i = 0; i < cfg->n_plugins; i++) {
		plugin_instance *in = &out->v[i];
		pthread_mutexattr_t attr;

		/* The serial lock is recursive: a storage list() callback may
		 * legitimately read through the same driver. */
		pthread_mutexattr_init(&attr);
		pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
		pthread_mutex_init(&in->serial, &attr);
		pthread_mutexattr_destroy(&attr);
		out->n++;
		rc = load_one(cfg, &cfg->plugins[i], in, err);
		if (rc != 0)
			goto out;
		if (in->kinds & BERTH_KIND_STORAGE) {
			if (storage) {
				rc = error_set(err, BERTH_E_CONFIG,
					       "%s:%d: a second storage plugin '%s'; '%s' (%s:%d) is "
					       "already the storage, and a registry has exactly one",
					       in->decl_file, in->decl_line, in->name, storage->name,
					       storage->decl_file, storage->decl_line);
				goto out;
			}
			storage = in;
		}
	}
	if (!storage && need_storage)
		rc = error_set(err, BERTH_E_CONFIG,
			       "%s: no storage plugin is configured; declare one, e.g.\n"
			       "  plugins:\n    - use: storage-fs\n      config: {root: ./var/registry}",
			       cfg->n_files ? cfg->files[0] : "config");
out:
	return rc;
}

int plugins_start(plugin_set *set, berth_error *err, void (*on_storage_created)(plugin_instance *))
{
	/* Every instance is created before any starts, so the storage driver
	 * is in place (and registry reads work) in every plugin's start(). */
	for (size_t i = 0; i < set->n; i++) {
		plugin_instance *in = &set->v[i];
		berth_error perr = {0};
		int rc;

		if (in->desc.create) {
			rc = in->desc.create(&host_services, in, &in->config, &in->state, &perr);
			if (rc != 0)
				return error_set(err, rc < 0 ? rc : BERTH_E_INTERNAL,
						 "%s:%d: plugin '%s' failed to start: %s",
						 in->decl_file, in->decl_line, in->name,
						 perr.message[0] ? perr.message : "create() failed");
		}
		in->created = 1;
		if ((in->kinds & BERTH_KIND_STORAGE) && on_storage_created)
			on_storage_created(in);
	}
	for (size_t i = 0; i < set->n; i++) {
		plugin_instance *in = &set->v[i];
		berth_error perr = {0};
		int rc;

		if (in->desc.start) {
			rc = in->desc.start(in->state, &perr);
			if (rc != 0)
				return error_set(err, rc < 0 ? rc : BERTH_E_INTERNAL,
						 "%s:%d: plugin '%s' failed to start: %s",
						 in->decl_file, in->decl_line, in->name,
						 perr.message[0] ? perr.message : "start() failed");
		}
		in->started = 1;
	}
	return 0;
}

int plugins_check_config(plugin_set *set, berth_error *err)
{
	for (size_t i = 0; i < set->n; i++) {
		plugin_instance *in = &set->v[i];
		berth_error perr = {0};
		int rc;

		if (!in->desc.check_config)
			continue;
		rc = in->desc.check_config(&host_services, &in->config, &perr);
		if (rc != 0)
			return error_set(err, rc < 0 ? rc : BERTH_E_CONFIG, "%s:%d: plugin '%s': %s",
					 in->decl_file, in->decl_line, in->name,
					 perr.message[0] ? perr.message : "check_config() failed");
	}
	return 0;
}

void plugins_reopen(plugin_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		plugin_instance *in = &set->v[i];
		int serialized = (in->desc.flags & BERTH_PLUGIN_SERIALIZED) != 0;

		if (!in->started || !in->desc.reopen)
			continue;
		if (serialized)
			pthread_mutex_lock(&in->serial);
		in->desc.reopen(in->state);
		if (serialized)
			pthread_mutex_unlock(&in->serial);
	}
}

void plugins_unload(plugin_set *set)
{
	for (size_t i = set->n; i-- > 0;) {
		plugin_instance *in = &set->v[i];
		if (in->started && in->desc.stop)
			in->desc.stop(in->state);
		in->started = 0;
	}
	for (size_t i = set->n; i-- > 0;) {
		plugin_instance *in = &set->v[i];
		if (in->created && in->desc.destroy)
			in->desc.destroy(in->state);
		in->created = 0;
		/* Under sanitizers the plugin stays mapped so leak reports can
		 * still name its functions. */
#if !defined(__SANITIZE_ADDRESS__)
		if (in->dl)
			dlclose(in->dl);
#endif
		pthread_mutex_destroy(&in->serial);
		free(in->name);
		free(in->path);
	}
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

plugin_instance *plugins_storage(plugin_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i].kinds & BERTH_KIND_STORAGE)
			return &set->v[i];
	return NULL;
}
