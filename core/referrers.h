/*
 * referrers.h - the OCI 1.1 referrers index: which manifests of a
 * repository name a given digest as their `subject`.
 */
#ifndef BERTH_REFERRERS_H
#define BERTH_REFERRERS_H

#include <stdint.h>

#include <jansson.h>

#include "berth/error.h"
#include "digest.h"
#include "manifest_validate.h"

/* Record manifest d (of `size` bytes, parsed as m, which has a subject). */
int referrers_add(const char *name, const digest *d, uint64_t size, const manifest_info *m,
		  berth_error *err);
/* Forget referrer d of subject; missing entries are fine. */
void referrers_remove(const char *name, const digest *subject, const digest *d);
/*
 * fn(ctx, descriptor) for each referrer of subject in the repository, in
 * digest order (a borrowed JSON object with at least "digest"); fn returns
 * non-zero to stop. 0 also when there is none.
 */
int referrers_each(const char *name, const digest *subject,
		   int (*fn)(void *ctx, json_t *desc), void *ctx, berth_error *err);

#endif
