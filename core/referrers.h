/*
 * referrers.h - the OCI 1.1 referrers index: which manifests of a
 * repository name a given digest as their `subject`.
 */
#ifndef BERTH_REFERRERS_H
#define BERTH_REFERRERS_H

#include <stdint.h>

#include "berth/error.h"
#include "digest.h"
#include "manifest_validate.h"

/* Record manifest d (of `size` bytes, parsed as m, which has a subject). */
int referrers_add(const char *name, const digest *d, uint64_t size, const manifest_info *m,
		  berth_error *err);
/* Forget referrer d of subject; missing entries are fine. */
void referrers_remove(const char *name, const digest *subject, const digest *d);

#endif
