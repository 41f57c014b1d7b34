/*
 * trivy_store.c - the plugin's objects in the registry's storage, through
 * the host's data_* services:
 *
 *   _berth/plugins/scan-trivy/reports/<algorithm>/<hex>/report.json
 *                                                       findings.json
 *                                                       gate.json
 *                                                       summary.json
 *
 * Keyed by manifest digest, not by repository: the same digest is the same
 * content wherever it is pushed, so one report serves every repository
 * that holds it (each request still checks that its repository does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trivy_plugin.h"

/* reports/<alg>/<hex>[/<file>]; the digest was checked by the caller. */
static int key_of(char *out, size_t cap, const char *digest, const char *file,
		  berth_error *err)
{
	const char *colon = strchr(digest, ':');
	int n;

	if (!colon || !trivy_digest_valid(digest))
		return trivy_fail(err, BERTH_E_INVALID, "invalid digest '%.80s'", digest);
	n = snprintf(out, cap, "reports/%.*s/%s%s%s", (int)(colon - digest), digest, colon + 1,
		     file ? "/" : "", file ? file : "");
	if (n < 0 || (size_t)n >= cap)
		return trivy_fail(err, BERTH_E_INVALID, "storage key too long");
	return 0;
}

int trivy_store_write(struct scan_trivy *st, const char *digest, const char *file,
		      const void *data, size_t len, berth_error *err)
{
	char key[256];
	int rc = key_of(key, sizeof(key), digest, file, err);

	if (rc)
		return rc;
	return st->host->data_write(st->self, key, data, len, err);
}

typedef struct sink {
	char *buf;
	size_t len, cap;
	int failed;
} sink;

static int collect(void *ctx, const void *data, size_t len)
{
	sink *s = ctx;

	if (s->len + len + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		char *nb;
		while (cap < s->len + len + 1)
			cap *= 2;
		nb = realloc(s->buf, cap);
		if (!nb) {
			s->failed = 1;
			return 1;
		}
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	return 0;
}

int trivy_store_read(struct scan_trivy *st, const char *digest, const char *file,
		     uint64_t max, char **out, size_t *len, berth_error *err)
{
	char key[256];
	sink s = {0};
	int rc = key_of(key, sizeof(key), digest, file, err);

	if (rc)
		return rc;
	rc = st->host->data_read(st->self, key, max, collect, &s, err);
	if (rc == 0 && s.failed)
		rc = trivy_fail(err, BERTH_E_NOMEM, "out of memory reading %s", key);
	if (rc == 0 && !s.buf && collect(&s, "", 0) != 0)
		rc = trivy_fail(err, BERTH_E_NOMEM, "out of memory reading %s", key);
	if (rc != 0) {
		free(s.buf);
		return rc;
	}
	s.buf[s.len] = '\0';
	*out = s.buf;
	*len = s.len;
	return 0;
}

int trivy_store_read_json(struct scan_trivy *st, const char *digest, const char *file,
			  json_t **out, berth_error *err)
{
	json_error_t jerr;
	char *text = NULL;
	size_t len = 0;
	int rc = trivy_store_read(st, digest, file, st->max_report_size * 4, &text, &len, err);

	if (rc)
		return rc;
	*out = json_loadb(text, len, 0, &jerr);
	free(text);
	if (!*out)
		return trivy_fail(err, BERTH_E_IO, "stored %s of %s does not parse: %s", file, digest,
				  jerr.text);
	return 0;
}

int trivy_store_remove(struct scan_trivy *st, const char *digest, berth_error *err)
{
	char key[256];
	int rc = key_of(key, sizeof(key), digest, NULL, err);

	if (rc)
		return rc;
	return st->host->data_remove(st->self, key, err);
}
