/*
 * registry_access.h - the host services that let plugins read and manage
 * registry content; signatures are those of berth_host in plugin.h.
 */
#ifndef BERTH_REGISTRY_ACCESS_H
#define BERTH_REGISTRY_ACCESS_H

#include "plugin_loader.h"

int access_list_repositories(berth_name_fn fn, void *ctx, berth_error *err);
int access_list_tags(const char *repository, berth_name_fn fn, void *ctx, berth_error *err);
int access_read_manifest(const char *repository, const char *reference, berth_manifest_fn fn,
			 void *ctx, berth_error *err);
int access_read_blob(const char *repository, const char *digest, uint64_t max,
		     berth_bytes_fn fn, void *ctx, berth_error *err);
int access_delete_tag(const berth_instance *self, const char *repository, const char *tag,
		      berth_error *err);
int access_delete_manifest(const berth_instance *self, const char *repository,
			   const char *digest, berth_error *err);
int access_delete_tag_if(const berth_instance *self, const char *repository, const char *tag,
			 const char *expected_digest, berth_error *err);
int access_delete_manifest_if_untagged(const berth_instance *self, const char *repository,
				       const char *digest, berth_error *err);
int access_list_referrers(const char *repository, const char *digest, berth_manifest_fn fn,
			  void *ctx, berth_error *err);
int access_list_manifests(const char *repository, berth_name_fn fn, void *ctx,
			  berth_error *err);
int access_manifest_times(const char *repository, const char *reference, int64_t *pushed_ms,
			  int64_t *pulled_ms, berth_error *err);

#endif
