/*
 * fuzz_manifest.c - libFuzzer target for manifest_validate.c.
 *
 * The input is a manifest body as a client would PUT it. Besides "no
 * crash", it checks the promises other code relies on: a manifest that
 * validates is served with the media type it was validated as (the GET path
 * uses the cheap scanner, the PUT path jansson, and they must agree), it
 * validates again under its own Content-Type, and every descriptor in the
 * result is well formed.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Icore \
 *     core/manifest_validate.c core/digest.c tests/fuzz/fuzz_manifest.c \
 *     $(pkg-config --cflags --libs jansson libcrypto) -o fuzz_manifest
 *   ./fuzz_manifest -max_total_time=60 corpus-run/ tests/fuzz/corpus/manifest/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest_validate.h"
#include "media_types.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const content_types[] = {
	MEDIA_TYPE_OCI_MANIFEST,
	MEDIA_TYPE_OCI_INDEX,
	MEDIA_TYPE_DOCKER_MANIFEST,
	MEDIA_TYPE_DOCKER_LIST,
	MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED,
	"application/json; charset=utf-8",
	" APPLICATION/VND.OCI.IMAGE.INDEX.V1+JSON ;q=1",
	"",
};

#define N_CONTENT_TYPES (sizeof(content_types) / sizeof(content_types[0]))

static void check_ref(const manifest_ref *r)
{
	char s[DIGEST_STRING_MAX];
	digest again;

	if (!r->media_type || r->size < 0)
		abort();
	digest_format(&r->digest, s);
	if (digest_parse(s, &again) != 0 || again.alg != r->digest.alg ||
	    strcmp(again.hex, r->digest.hex) != 0)
		abort();
}

static void check_info(const manifest_info *m)
{
	size_t i;

	if (!manifest_media_type_known(m->media_type))
		abort();
	if ((m->kind == MANIFEST_OCI_IMAGE || m->kind == MANIFEST_DOCKER_V2) !=
	    (m->n_blobs > 0))
		abort();
	if (m->n_blobs && m->n_children)
		abort();
	if (m->n_blobs + m->n_children + (size_t)m->has_subject >
	    MANIFEST_MAX_DESCRIPTORS)
		abort();
	for (i = 0; i < m->n_blobs; i++)
		check_ref(&m->blobs[i]);
	for (i = 0; i < m->n_children; i++)
		check_ref(&m->children[i]);
	if (m->has_subject)
		check_ref(&m->subject);
	if (m->n_blobs && !m->artifact_type)
		abort();
}

static void check_validate(const uint8_t *data, size_t size, const char *ct)
{
	manifest_info *m = NULL, *again = NULL;
	berth_error err;
	int rc;

	rc = manifest_validate(ct, data, size, &m, &err);
	if (rc != 0) {
		if (m || err.code != rc || !memchr(err.message, '\0',
						    sizeof(err.message)))
			abort();
		return;
	}
	check_info(m);
	if (strcmp(manifest_media_type_of(data, size), m->media_type) != 0)
		abort();
	if (manifest_validate(m->media_type, data, size, &again, &err) != 0 ||
	    again->kind != m->kind)
		abort();
	manifest_info_free(again);
	manifest_info_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	size_t i;

	check_validate(data, size, NULL);
	check_validate(data, size, content_types[size % N_CONTENT_TYPES]);

	if (!manifest_media_type_of(data, size))
		abort();

	/* the same bytes as header text */
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	(void)manifest_media_type_known(text);
	for (i = 0; i < N_CONTENT_TYPES; i++)
		(void)accept_allows(text, content_types[i]);
	(void)accept_allows(content_types[size % N_CONTENT_TYPES], text);
	free(text);
	return 0;
}
