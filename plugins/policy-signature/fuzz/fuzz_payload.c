/*
 * fuzz_payload.c - libFuzzer target for everything a client's signature
 * bytes go through: the simplesigning payload, signature manifests and
 * indexes, Sigstore DSSE bundles, base64 and docker-reference identities.
 * Whatever the bytes, each parser either succeeds with well-formed output
 * or fails with a reason, and never reads or writes out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../sig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[160] = "", *text;
	sig_payload p;
	sig_manifest m;
	sig_dsse d;
	size_t n;
	unsigned char *b;

	if (sig_payload_parse(data, size, &p, why, sizeof(why)) == 0) {
		if (!sig_digest_valid(p.digest))
			abort();
		sig_payload_clear(&p);
	} else if (!why[0]) {
		abort();
	}
	if (sig_manifest_parse(data, size, NULL, &m) == 0) {
		for (size_t i = 0; i < m.n_items; i++)
			if (strlen(m.items[i].digest) >= SIG_DIGEST_MAX)
				abort();
		(void)sig_manifest_is_attachment(&m);
		sig_manifest_clear(&m);
	}
	why[0] = '\0';
	if (sig_dsse_parse(data, size, &d, why, sizeof(why)) == 0) {
		if (d.n_subjects == 0 || d.n_sigs == 0 || !d.pae)
			abort();
		sig_dsse_clear(&d);
	} else if (!why[0]) {
		abort();
	}
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	b = sig_base64_decode(text, &n);
	if (b && n > size)
		abort();
	free(b);
	(void)sig_identity_match(SIG_IDENTITY_EXACT, text, "team/app", "v1", NULL, 0);
	(void)sig_identity_match(SIG_IDENTITY_REPOSITORY, "r.example/team/app:v1", text, NULL,
				 NULL, 0);
	(void)sig_is_sig_tag(text);
	free(text);
	return 0;
}
