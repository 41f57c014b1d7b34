/*
 * layout.h - the storage keys of the registry:2 layout (CNCF Distribution).
 *
 * Every key the core reads or writes is built here, so a root written by
 * Distribution is served as-is and Distribution can serve what Berth writes
 * (see docs/storage-layout.md). Builders return 0, or BERTH_E_INVALID when
 * the key would not fit or a component is not safe; callers validate names
 * and tags before, this is the second line of defence.
 */
#ifndef BERTH_LAYOUT_H
#define BERTH_LAYOUT_H

#include <stddef.h>

#include "digest.h"

#define LAYOUT_KEY_MAX 1024
#define LAYOUT_ROOT "docker/registry/v2"
#define LAYOUT_REPOSITORIES LAYOUT_ROOT "/repositories"
/* Berth's own registry-wide data; Distribution never looks here. */
#define LAYOUT_BERTH LAYOUT_ROOT "/_berth"

typedef char layout_key[LAYOUT_KEY_MAX];

int layout_blob_data(layout_key out, const digest *d);
int layout_blob_dir(layout_key out, const digest *d);
int layout_repo_dir(layout_key out, const char *name);
int layout_layer_link(layout_key out, const char *name, const digest *d);
int layout_layer_dir(layout_key out, const char *name, const digest *d);
int layout_revision_link(layout_key out, const char *name, const digest *d);
int layout_revision_dir(layout_key out, const char *name, const digest *d);
int layout_tags_dir(layout_key out, const char *name);
int layout_tag_dir(layout_key out, const char *name, const char *tag);
int layout_tag_current(layout_key out, const char *name, const char *tag);
int layout_tag_index_link(layout_key out, const char *name, const char *tag, const digest *d);
int layout_upload_dir(layout_key out, const char *name, const char *uuid);
int layout_upload_data(layout_key out, const char *name, const char *uuid);
int layout_upload_startedat(layout_key out, const char *name, const char *uuid);
/*
 * Berth's referrers index lives under "_berth/", a folder Distribution's
 * walkers skip (they skip every "_"-prefixed folder but the ones they know).
 * One small file per referrer holds its descriptor as JSON.
 */
int layout_referrers_dir(layout_key out, const char *name, const digest *subject);
int layout_referrer_entry(layout_key out, const char *name, const digest *subject,
			  const digest *referrer);

/* The sorted list of the repository's tag names (tag_index.c). */
int layout_tag_list(layout_key out, const char *name);

/* Parse the content of a link file ("sha256:..."), tolerating a trailing newline. */
/* revisions/<alg>/: one folder per manifest digest of that algorithm. */
int layout_revisions_alg_dir(layout_key out, const char *name, int alg);
/* When a manifest was last pulled (Berth only): decimal ms since the epoch. */
int layout_pulled(layout_key out, const char *name, const digest *d);
int layout_parse_link(const char *buf, size_t len, digest *out);

#endif
