/*
 * registry.h - the Distribution API: routing and the handlers per resource.
 *
 * registry.c routes a request to one of the handlers below; each handler
 * lives in the file named after its resource (blob.c, upload.c,
 * manifest.c, tags.c, catalog.c, referrers.c).
 */
#ifndef BERTH_REGISTRY_H
#define BERTH_REGISTRY_H

#include <stdint.h>

#include "http.h"

typedef struct registry_settings {
	uint64_t max_manifest_size;
	uint64_t max_chunk_size;      /* 0 = unlimited */
	int delete_enabled;
	int tag_delete_enabled;
	unsigned max_uploads_per_client;  /* 0 = no limit */
	int catalog_walk;                 /* walk the storage per catalog request */
} registry_settings;

void registry_configure(const registry_settings *s);
const registry_settings *registry_settings_get(void);

/* The dispatcher's entry: called once per request when its headers are in. */
void registry_begin(http_request *req);

void blob_get(http_request *req);      /* GET and HEAD */
void blob_delete(http_request *req);

void upload_start(http_request *req);  /* POST .../blobs/uploads/ */
/* Register berth_uploads_in_progress, so it shows 0 before the first upload. */
void upload_metrics_register(void);
void upload_patch(http_request *req);
void upload_put(http_request *req);
void upload_status(http_request *req);
void upload_cancel(http_request *req);

void manifest_get(http_request *req);  /* GET and HEAD */
/* Resolve a tag or digest of a repository to the manifest's digest (no HTTP). */
struct digest;
int manifest_resolve(const char *name, const char *ref, struct digest *d, int *by_tag,
		     berth_error *err);
/* Delete a tag, or a manifest with its tags, as DELETE does; emits the event. */
int manifest_remove(const char *name, const char *ref, const char *who, const char *client,
		    berth_error *err);
/*
 * The same, only while the repository still is as the caller saw it:
 * a tag only while it names *tag_digest (when given), a manifest only while
 * no tag names it (untagged_only). BERTH_E_EXISTS otherwise.
 */
int manifest_remove_if(const char *name, const char *ref, const char *who, const char *client,
		       const struct digest *tag_digest, int untagged_only, berth_error *err);
void manifest_put(http_request *req);
void manifest_delete(http_request *req);

void tags_list(http_request *req);
/* Sorted names without HTTP: every repository; the tags of one (BERTH_E_NOT_FOUND when unknown). */
struct name_list;
int catalog_collect(struct name_list *out, berth_error *err);
int tags_collect(const char *name, struct name_list *out, berth_error *err);
/* GET /berth/v1/reports/<repository>@<digest>: a scan plugin's report. */
void admin_report(http_request *req);
void catalog_list(http_request *req);
void referrers_list(http_request *req);

/* Shared by the list handlers: parse ?n= and ?last=; answers the request and
 * returns < 0 when they are malformed. n is -1 when absent. */
int registry_pagination(http_request *req, long *n, const char **last);
/* The Link header for the next page: `</v2/...?n=N&last=L>; rel="next"`. */
void registry_next_link(char *out, size_t cap, const char *path, long n, const char *last);

/* Answer one page of a sorted list as {"<key>": [...]} (added to doc) plus
 * the Link header when more remain. */
struct name_list;
void registry_respond_page(http_request *req, json_t *doc, const char *key,
			   const struct name_list *l, long n, const char *last, const char *path);

/* Parse the digest in the route; answers the request and returns < 0 when bad. */
struct digest;
int blob_digest_from_route(http_request *req, struct digest *d);

#endif
