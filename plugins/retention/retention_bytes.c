/*
 * retention_bytes.c - what a set of deletions leaves unreferenced in a
 * repository, in bytes: the figure the plan, the job and the metric
 * berth_retention_bytes_total report.
 */
#include <stdlib.h>
#include <string.h>

#include "retention.h"


static int by_string(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int by_blob_digest(const void *a, const void *b)
{
	const struct retention_blob_ref *x = *(const struct retention_blob_ref *const *)a;
	const struct retention_blob_ref *y = *(const struct retention_blob_ref *const *)b;

	return strcmp(x->digest, y->digest);
}

static int contains(const char **v, size_t n, const char *s)
{
	return bsearch(&s, v, n, sizeof(*v), by_string) != NULL;
}

uint64_t retention_bytes_freed(const struct retention_repo_in *in, const unsigned char *deleted)
{
	const char **kept = NULL;
	const struct retention_blob_ref **gone = NULL;
	size_t n_kept = 0, n_gone = 0, cap_kept = 0, cap_gone = 0, i, k;
	uint64_t bytes = 0;

	for (i = 0; i < in->n_manifests; i++) {
		const struct retention_manifest_in *m = &in->manifests[i];

		if (deleted[i]) {
			bytes += m->size;
			cap_gone += m->n_blobs;
		} else {
			cap_kept += m->n_blobs;
		}
	}
	kept = malloc((cap_kept ? cap_kept : 1) * sizeof(*kept));
	gone = malloc((cap_gone ? cap_gone : 1) * sizeof(*gone));
	if (!kept || !gone) {
		/* Without memory the blobs are not counted: the manifests' bytes still are. */
		free(kept);
		free(gone);
		return bytes;
	}
	for (i = 0; i < in->n_manifests; i++)
		for (k = 0; k < in->manifests[i].n_blobs; k++) {
			if (deleted[i])
				gone[n_gone++] = &in->manifests[i].blobs[k];
			else
				kept[n_kept++] = in->manifests[i].blobs[k].digest;
		}
	qsort(kept, n_kept, sizeof(*kept), by_string);
	qsort(gone, n_gone, sizeof(*gone), by_blob_digest);
	for (i = 0; i < n_gone; i++) {
		if (i > 0 && strcmp(gone[i]->digest, gone[i - 1]->digest) == 0)
			continue;
		if (!contains(kept, n_kept, gone[i]->digest))
			bytes += gone[i]->size;
	}
	free(kept);
	free(gone);
	return bytes;
}

