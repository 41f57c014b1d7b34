/*
 * reference.h - repository names, tags and manifest references as the OCI
 * distribution spec defines them ("Definitions" and "Pulling manifests").
 *
 * These are the names that end up in storage keys, so the scanners are
 * hand-written and strict: no regex library, no locale, no byte past the
 * given length.
 */
#ifndef BERTH_REFERENCE_H
#define BERTH_REFERENCE_H

#include <stddef.h>

#include "digest.h"

#define REPO_NAME_MAX 255
#define TAG_MAX 128

/*
 * The spec's name grammar
 *   [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
 * with a total length of at most REPO_NAME_MAX. 1 if valid, 0 otherwise.
 * The grammar rules out "..", "//", empty components, uppercase and a
 * leading or trailing '/', so a valid name is safe as a path.
 */
int repo_name_valid(const char *name);
int repo_name_valid_n(const char *name, size_t len);

/* [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}. 1 if valid, 0 otherwise. */
int tag_valid(const char *tag);

enum ref_kind { REF_INVALID = 0, REF_TAG, REF_DIGEST, REF_UNSUPPORTED };

/*
 * A manifest reference is a tag or a digest. Returns REF_TAG, REF_DIGEST
 * (d_out filled when not NULL), REF_UNSUPPORTED for a well-formed digest of
 * an algorithm Berth does not hash, or REF_INVALID.
 */
int reference_classify(const char *ref, digest *d_out);

#endif /* BERTH_REFERENCE_H */
