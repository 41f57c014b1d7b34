/*
 * trivy_report.c - read a Trivy report into a trivy_report.
 *
 * One pass over the document with the pull reader. The root object is read
 * key by key without knowing yet which form it is, since JSON does not
 * order keys: native keys (SchemaVersion, Results ...), SARIF's (runs),
 * cosign-vuln's (scanner), in-toto's (predicate, subject) and DSSE's
 * (payload) are noted as they come, and the form is decided at the end.
 * A top-level array is the legacy form written before Trivy 0.20.
 *
 * What is kept is listed in trivy_report.h; Descriptions, CVSS vectors,
 * references and the like are skipped (checked, not copied), which keeps
 * the parsed form a fraction of the document's size.
 */
#include "trivy_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "trivy_arena.h"
#include "trivy_attest.h"
#include "trivy_json.h"

const char *trivy_format_name(int format)
{
	switch (format) {
	case TRIVY_FORMAT_JSON:
		return "trivy-json";
	case TRIVY_FORMAT_LEGACY:
		return "trivy-json-legacy";
	case TRIVY_FORMAT_SARIF:
		return "sarif";
	case TRIVY_FORMAT_COSIGN_VULN:
		return "cosign-vuln";
	}
	return "unknown";
}

int trivy_finding_fixable(const trivy_finding *f)
{
	const char *p;

	for (p = f->fixed; *p; p++)
		if (*p != ' ' && *p != '\t')
			return 1;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The report's memory                                                      */
/* ------------------------------------------------------------------------ */

const char *trivy_report_strdup(trivy_report *r, const char *s, size_t len, size_t max)
{
	if (len > max) {
		/* Cut on a character boundary: the text goes out again as JSON. */
		len = max;
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
	}
	if (len == 0)
		return "";
	return trivy_arena_strndup(r->arena, s, len);
}

trivy_finding *trivy_report_add_finding(trivy_report *r, trivy_json *j)
{
	trivy_finding *f;

	if (r->n_findings == r->cap_findings) {
		size_t cap = r->cap_findings ? r->cap_findings * 2 : 64;
		trivy_finding *nv;

		if (r->n_findings >= TRIVY_FINDINGS_MAX) {
			trivy_json_fail(j, "the report lists more than %d vulnerabilities",
					TRIVY_FINDINGS_MAX);
			return NULL;
		}
		if (cap > TRIVY_FINDINGS_MAX)
			cap = TRIVY_FINDINGS_MAX;
		nv = realloc(r->findings, cap * sizeof(*nv));
		if (!nv) {
			trivy_json_oom(j);
			return NULL;
		}
		r->findings = nv;
		r->cap_findings = cap;
	}
	f = &r->findings[r->n_findings++];
	f->id = f->pkg_name = f->pkg_id = f->pkg_path = f->purl = "";
	f->installed = f->fixed = f->status = f->title = f->url = "";
	f->severity_source = f->target = f->result_class = f->result_type = "";
	f->severity = TRIVY_SEV_UNKNOWN;
	return f;
}

/* "name@sha256:..." -> the digest part, lowercase; ignored when it is not one. */
int trivy_report_add_subject(trivy_report *r, const char *digest, size_t len)
{
	const char **nv;
	char *copy;

	if (len == 0 || len > 200 || !memchr(digest, ':', len))
		return 0;
	if (r->n_subject_digests == r->cap_subjects) {
		size_t cap = r->cap_subjects ? r->cap_subjects * 2 : 4;
		if (r->n_subject_digests >= 64)
			return 0;
		nv = realloc(r->subject_digests, cap * sizeof(*nv));
		if (!nv)
			return BERTH_E_NOMEM;
		r->subject_digests = nv;
		r->cap_subjects = cap;
	}
	copy = trivy_arena_strndup(r->arena, digest, len);
	if (!copy)
		return BERTH_E_NOMEM;
	for (char *p = copy; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	r->subject_digests[r->n_subject_digests++] = copy;
	return 0;
}

void trivy_report_free(trivy_report *r)
{
	if (!r)
		return;
	free(r->findings);
	free(r->subject_digests);
	free(r->repo_digests);
	trivy_arena_free(r->arena);
	memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------------------ */
/* Small readers                                                            */
/* ------------------------------------------------------------------------ */

/* A string value (or null, leaving *dst alone) copied into the report. */
static int opt_string(trivy_json *j, trivy_report *r, const char *what, const char **dst, size_t max)
{
	const char *s;
	size_t len;
	int t = trivy_json_peek(j);

	if (t == TRIVY_JSON_NULL)
		return trivy_json_skip(j);
	if (t != TRIVY_JSON_STRING)
		return trivy_json_expected(j, "'%s' is not a string", what);
	if (trivy_json_string(j, &s, &len) < 0)
		return -1;
	*dst = trivy_report_strdup(r, s, len, max);
	if (!*dst)
		return trivy_json_oom(j);
	return 0;
}

/* 1 when an array (or object, with want_object) follows, 0 for null (consumed), -1. */
static int opt_container(trivy_json *j, const char *what, int want_object)
{
	int t = trivy_json_peek(j);

	if (t == TRIVY_JSON_NULL)
		return trivy_json_skip(j) < 0 ? -1 : 0;
	if (t != (want_object ? TRIVY_JSON_OBJECT : TRIVY_JSON_ARRAY))
		return trivy_json_expected(j, "'%s' is not %s", what,
					   want_object ? "an object" : "an array");
	return 1;
}

/* ------------------------------------------------------------------------ */
/* Results and their vulnerabilities                                        */
/* ------------------------------------------------------------------------ */

static int read_pkg_identifier(trivy_json *j, trivy_report *r, trivy_finding *f)
{
	const char *key;
	size_t klen;
	int first = 1, rc, more;

	more = opt_container(j, "PkgIdentifier", 1);
	if (more <= 0)
		return more;
	while ((rc = trivy_json_object_next(j, &first, &key, &klen)) > 0) {
		if (trivy_json_key_is(key, klen, "PURL"))
			rc = opt_string(j, r, "PURL", &f->purl, TRIVY_TEXT_MAX);
		else
			rc = trivy_json_skip(j);
		if (rc < 0)
			return -1;
	}
	return rc;
}

static int read_vulnerability(trivy_json *j, trivy_report *r, size_t index)
{
	trivy_finding *f;
	const char *key, *sev = NULL;
	size_t klen;
	int first = 1, rc;

	if (trivy_json_peek(j) != TRIVY_JSON_OBJECT)
		return trivy_json_expected(j, "vulnerability #%zu is not an object", index);
	f = trivy_report_add_finding(r, j);
	if (!f)
		return -1;
	while ((rc = trivy_json_object_next(j, &first, &key, &klen)) > 0) {
		if (trivy_json_key_is(key, klen, "VulnerabilityID"))
			rc = opt_string(j, r, "VulnerabilityID", &f->id, TRIVY_ID_MAX + 1);
		else if (trivy_json_key_is(key, klen, "PkgName"))
			rc = opt_string(j, r, "PkgName", &f->pkg_name, TRIVY_TEXT_MAX);
		else if (trivy_json_key_is(key, klen, "PkgID"))
			rc = opt_string(j, r, "PkgID", &f->pkg_id, TRIVY_TEXT_MAX);
		else if (trivy_json_key_is(key, klen, "PkgPath"))
			rc = opt_string(j, r, "PkgPath", &f->pkg_path, TRIVY_TEXT_MAX);
		else if (trivy_json_key_is(key, klen, "PkgIdentifier"))
			rc = read_pkg_identifier(j, r, f);
		else if (trivy_json_key_is(key, klen, "InstalledVersion"))
			rc = opt_string(j, r, "InstalledVersion", &f->installed, TRIVY_TEXT_MAX);
		else if (trivy_json_key_is(key, klen, "FixedVersion"))
			rc = opt_string(j, r, "FixedVersion", &f->fixed, TRIVY_TEXT_MAX);
		else if (trivy_json_key_is(key, klen, "Status"))
			rc = opt_string(j, r, "Status", &f->status, 64);
		else if (trivy_json_key_is(key, klen, "Title"))
			rc = opt_string(j, r, "Title", &f->title, TRIVY_TEXT_MAX);
		else if (trivy_json_key_is(key, klen, "PrimaryURL"))
			rc = opt_string(j, r, "PrimaryURL", &f->url, TRIVY_TEXT_MAX);
		else if (trivy_json_key_is(key, klen, "SeveritySource"))
			rc = opt_string(j, r, "SeveritySource", &f->severity_source, 64);
		else if (trivy_json_key_is(key, klen, "Severity"))
			rc = opt_string(j, r, "Severity", &sev, 32);
		else
			rc = trivy_json_skip(j);
		if (rc < 0)
			return -1;
	}
	if (rc < 0)
		return -1;
	if (!*f->id)
		return trivy_json_fail(j, "vulnerability #%zu has no VulnerabilityID", index);
	if (strlen(f->id) > TRIVY_ID_MAX)
		return trivy_json_fail(j, "vulnerability #%zu has a VulnerabilityID longer than %d bytes",
				       index, TRIVY_ID_MAX);
	if (sev)
		f->severity = trivy_severity_parse(sev, strlen(sev));
	return 0;
}

/*
 * One Result: {Target, Class, Type, Vulnerabilities, ...}. Its target may
 * come after its vulnerabilities, so they get it once the object is read.
 */
static int read_result(trivy_json *j, trivy_report *r, size_t index, int need_target)
{
	const char *key, *target = NULL, *cls = "", *type = "";
	size_t klen, start = r->n_findings, nv = 0;
	int first = 1, rc;

	if (trivy_json_peek(j) != TRIVY_JSON_OBJECT)
		return trivy_json_expected(j, "result #%zu is not an object", index);
	while ((rc = trivy_json_object_next(j, &first, &key, &klen)) > 0) {
		if (trivy_json_key_is(key, klen, "Target")) {
			rc = opt_string(j, r, "Target", &target, TRIVY_TEXT_MAX);
		} else if (trivy_json_key_is(key, klen, "Class")) {
			rc = opt_string(j, r, "Class", &cls, 64);
		} else if (trivy_json_key_is(key, klen, "Type")) {
			rc = opt_string(j, r, "Type", &type, 64);
		} else if (trivy_json_key_is(key, klen, "Vulnerabilities")) {
			int vfirst = 1, more = opt_container(j, "Vulnerabilities", 0);
			while (more > 0 && (more = trivy_json_array_next(j, &vfirst)) > 0)
				more = read_vulnerability(j, r, nv++) < 0 ? -1 : 1;
			rc = more;
		} else {
			rc = trivy_json_skip(j);
		}
		if (rc < 0)
			return -1;
	}
	if (rc < 0)
		return -1;
	if (!target && need_target)
		return trivy_json_fail(j, "not a Trivy report: array element #%zu has no Target", index);
	for (size_t i = start; i < r->n_findings; i++) {
		r->findings[i].target = target ? target : "";
		r->findings[i].result_class = cls;
		r->findings[i].result_type = type;
	}
	return 0;
}

static int read_results(trivy_json *j, trivy_report *r, int need_target)
{
	size_t n = 0;
	int first = 1, more = opt_container(j, "Results", 0);

	while (more > 0 && (more = trivy_json_array_next(j, &first)) > 0)
		more = read_result(j, r, n++, need_target) < 0 ? -1 : 1;
	return more;
}

/* ------------------------------------------------------------------------ */
/* The SchemaVersion 2 object                                               */
/* ------------------------------------------------------------------------ */

static int add_repo_digest(trivy_report *r, trivy_json *j, const char *s, size_t len)
{
	const char *copy, *at, **nv;

	if (r->n_repo_digests >= 64)
		return 0;
	copy = trivy_report_strdup(r, s, len, 512);
	nv = realloc(r->repo_digests, (r->n_repo_digests + 1) * sizeof(*nv));
	if (!copy || !nv) {
		if (nv)
			r->repo_digests = nv;
		return trivy_json_oom(j);
	}
	r->repo_digests = nv;
	r->repo_digests[r->n_repo_digests++] = copy;
	at = strrchr(copy, '@');
	if (at && trivy_report_add_subject(r, at + 1, strlen(at + 1)) < 0)
		return trivy_json_oom(j);
	return 0;
}

/* RepoDigests of Metadata, or SARIF's repoDigests: ["name@sha256:..."]. */
int trivy_read_repo_digests(trivy_json *j, trivy_report *r, const char *what)
{
	const char *s;
	size_t len;
	int first = 1, more = opt_container(j, what, 0);

	while (more > 0 && (more = trivy_json_array_next(j, &first)) > 0) {
		if (trivy_json_peek(j) != TRIVY_JSON_STRING)
			return trivy_json_expected(j, "'%s' holds something not a string", what);
		if (trivy_json_string(j, &s, &len) < 0 || add_repo_digest(r, j, s, len) < 0)
			return -1;
	}
	return more;
}

static int read_metadata(trivy_json *j, trivy_report *r)
{
	const char *key;
	size_t klen;
	int first = 1, rc, more = opt_container(j, "Metadata", 1);

	if (more <= 0)
		return more;
	while ((rc = trivy_json_object_next(j, &first, &key, &klen)) > 0) {
		if (trivy_json_key_is(key, klen, "ImageID"))
			rc = opt_string(j, r, "ImageID", &r->image_id, 200);
		else if (trivy_json_key_is(key, klen, "RepoDigests"))
			rc = trivy_read_repo_digests(j, r, "RepoDigests");
		else
			rc = trivy_json_skip(j);
		if (rc < 0)
			return -1;
	}
	return rc;
}

static int read_trivy_info(trivy_json *j, trivy_report *r)
{
	const char *key;
	size_t klen;
	int first = 1, rc, more = opt_container(j, "Trivy", 1);

	if (more <= 0)
		return more;
	while ((rc = trivy_json_object_next(j, &first, &key, &klen)) > 0) {
		if (trivy_json_key_is(key, klen, "Version"))
			rc = opt_string(j, r, "Trivy.Version", &r->scanner_version, 64);
		else
			rc = trivy_json_skip(j);
		if (rc < 0)
			return -1;
	}
	return rc;
}

/* CreatedAt: RFC 3339 text, or (during v0.48 development) Unix seconds. */
static int read_created_at(trivy_json *j, trivy_report *r)
{
	char text[32];
	int64_t v;

	if (trivy_json_peek(j) != TRIVY_JSON_NUMBER)
		return opt_string(j, r, "CreatedAt", &r->created_at, 64);
	if (trivy_json_int(j, &v) < 0)
		return -1;
	snprintf(text, sizeof(text), "%lld", (long long)v);
	r->created_at = trivy_report_strdup(r, text, strlen(text), sizeof(text));
	return r->created_at ? 0 : trivy_json_oom(j);
}

int trivy_native_key(trivy_json *j, trivy_report *r, const char *key, size_t klen,
		     trivy_native_seen *seen)
{
	if (trivy_json_key_is(key, klen, "SchemaVersion")) {
		seen->has_schema = 1;
		if (trivy_json_peek(j) != TRIVY_JSON_NUMBER)
			return trivy_json_expected(j, "'SchemaVersion' is not a number");
		return trivy_json_int(j, &seen->schema_version) < 0 ? -1 : 1;
	}
	if (trivy_json_key_is(key, klen, "Results")) {
		seen->has_results = 1;
		return read_results(j, r, 0) < 0 ? -1 : 1;
	}
	if (trivy_json_key_is(key, klen, "ArtifactName"))
		return opt_string(j, r, "ArtifactName", &r->artifact_name, TRIVY_TEXT_MAX) < 0 ? -1
											 : 1;
	if (trivy_json_key_is(key, klen, "ArtifactType"))
		return opt_string(j, r, "ArtifactType", &r->artifact_type, 64) < 0 ? -1 : 1;
	if (trivy_json_key_is(key, klen, "CreatedAt"))
		return read_created_at(j, r) < 0 ? -1 : 1;
	if (trivy_json_key_is(key, klen, "Trivy"))
		return read_trivy_info(j, r) < 0 ? -1 : 1;
	if (trivy_json_key_is(key, klen, "Metadata"))
		return read_metadata(j, r) < 0 ? -1 : 1;
	return 0;
}

/* The SchemaVersion and ArtifactType rules of a native report (also nested in cosign-vuln). */
int trivy_native_check(trivy_json *j, const trivy_report *r, const trivy_native_seen *seen)
{
	static const char *const image_kinds[] = {"container_image", "cyclonedx", "spdx"};

	if (!seen->has_schema)
		return trivy_json_fail(j, "not a Trivy report: an object without SchemaVersion "
					  "(Trivy JSON has \"SchemaVersion\": 2)");
	if (seen->schema_version != 2)
		return trivy_json_fail(j, "Trivy report SchemaVersion %lld is not supported "
					  "(only 2, written by Trivy 0.20 and later)",
				       (long long)seen->schema_version);
	if (r->artifact_type && *r->artifact_type) {
		for (size_t i = 0; i < sizeof(image_kinds) / sizeof(image_kinds[0]); i++)
			if (strcmp(r->artifact_type, image_kinds[i]) == 0)
				return 0;
		return trivy_json_fail(j,
				       "the report scanned a %s (ArtifactType '%s'), not a container image",
				       strcmp(r->artifact_type, "filesystem") == 0 ? "filesystem"
				       : strcmp(r->artifact_type, "repository") == 0 ? "repository"
									       : "non-image artifact",
				       r->artifact_type);
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The document                                                             */
/* ------------------------------------------------------------------------ */

/* Keys of the root object, by the form they belong to. */
typedef struct root_seen {
	trivy_native_seen native;
	int native_keys;
	int runs;                  /* SARIF */
	const char *sarif_schema;
	const char *sarif_version;
	trivy_attest_seen attest;  /* cosign-vuln, in-toto, DSSE */
} root_seen;

static int read_root_object(trivy_json *j, trivy_report *r, root_seen *s)
{
	const char *key;
	size_t klen;
	int first = 1, rc;

	while ((rc = trivy_json_object_next(j, &first, &key, &klen)) > 0) {
		if (trivy_json_key_is(key, klen, "runs")) {
			s->runs = 1;
			rc = trivy_sarif_read_runs(j, r);
		} else if (trivy_json_key_is(key, klen, "$schema")) {
			rc = opt_string(j, r, "$schema", &s->sarif_schema, 256);
		} else if (trivy_json_key_is(key, klen, "version")) {
			/* SARIF's "2.1.0"; anything else only matters for SARIF. */
			if (trivy_json_peek(j) == TRIVY_JSON_STRING)
				rc = opt_string(j, r, "version", &s->sarif_version, 32);
			else
				rc = trivy_json_skip(j);
		} else if ((rc = trivy_native_key(j, r, key, klen, &s->native)) != 0) {
			s->native_keys++;
		} else {
			rc = trivy_attest_key(j, r, key, klen, &s->attest);
			if (rc == 0)
				rc = trivy_json_skip(j);
		}
		if (rc < 0)
			return -1;
	}
	return rc;
}

static int forms_seen(const root_seen *s)
{
	return (s->native_keys > 0) + s->runs + trivy_attest_forms(&s->attest);
}

/* Which form the root object was, and whether it holds together. 0 or -1. */
static int decide_object(trivy_json *j, trivy_report *r, root_seen *s, int depth)
{
	if (forms_seen(s) > 1)
		return trivy_json_fail(j, "not a Trivy report: the object mixes keys of several formats");
	if (depth > 0 && !s->attest.statement)
		return trivy_json_fail(j, "the DSSE payload is not an in-toto statement");
	if (trivy_attest_forms(&s->attest))
		return trivy_attest_finish(j, r, &s->attest, depth);
	if (s->runs) {
		if (!(s->sarif_schema && strcasestr(s->sarif_schema, "sarif")) &&
		    !(s->sarif_version && strcmp(s->sarif_version, "2.1.0") == 0))
			return trivy_json_fail(j, "not a SARIF log: 'runs' without a SARIF $schema or "
						  "version 2.1.0");
		r->format = TRIVY_FORMAT_SARIF;
		return 0;
	}
	if (s->native_keys > 0) {
		r->format = TRIVY_FORMAT_JSON;
		r->scanner = "Trivy";
		return trivy_native_check(j, r, &s->native);
	}
	return trivy_json_fail(j, "not a Trivy report: expected Trivy JSON (trivy image --format json) "
				  "with SchemaVersion and Results, or Trivy's SARIF");
}

static const char *kind_of(int t)
{
	switch (t) {
	case TRIVY_JSON_ARRAY:
		return "an array";
	case TRIVY_JSON_STRING:
		return "a string";
	case TRIVY_JSON_NUMBER:
		return "a number";
	default:
		return "a literal";
	}
}

int trivy_parse_document(const void *buf, size_t len, trivy_report *r, int depth,
			 berth_error *err)
{
	trivy_json j;
	root_seen s;
	int t, rc = 0;

	memset(&s, 0, sizeof(s));
	trivy_json_init(&j, buf, len);
	t = trivy_json_peek(&j);
	if (t == TRIVY_JSON_ARRAY && depth == 0) {
		r->format = TRIVY_FORMAT_LEGACY;
		r->scanner = "Trivy";
		read_results(&j, r, 1);
	} else if (t == TRIVY_JSON_OBJECT) {
		read_root_object(&j, r, &s);
	} else if (t == TRIVY_JSON_NONE && j.p >= j.end) {
		trivy_json_fail(&j, "malformed JSON: the document is empty");
	} else if (t == TRIVY_JSON_NONE) {
		trivy_json_skip(&j);
	} else if (trivy_json_skip(&j) == 0) {
		trivy_json_fail(&j, "not a Trivy report: the document is %s, not an object", kind_of(t));
	}
	trivy_json_finish(&j);
	if (t == TRIVY_JSON_OBJECT && !j.failed)
		decide_object(&j, r, &s, depth);
	if (j.failed) {
		rc = j.out_of_memory ? BERTH_E_NOMEM : BERTH_E_INVALID;
		err->code = rc;
		snprintf(err->message, sizeof(err->message), "%s", trivy_json_error(&j));
	}
	trivy_attest_seen_free(&s.attest);
	trivy_json_free(&j);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Duplicates                                                               */
/* ------------------------------------------------------------------------ */

static uint64_t hash_str(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= UINT64_C(1099511628211);
	}
	/* A separator, so ("ab","c") and ("a","bc") differ. */
	h ^= 0xff;
	return h * UINT64_C(1099511628211);
}

/*
 * Identity of a finding: result Target, the package (PkgID, or name and
 * installed version), its path, and the vulnerability ID. Fingerprint in
 * newer reports hashes the same things minus the path; the path stays in
 * so that two copies of one jar in different places both count.
 */
static uint64_t finding_hash(const trivy_finding *f)
{
	uint64_t h = UINT64_C(14695981039346656037);

	h = hash_str(h, f->target);
	if (*f->pkg_id) {
		h = hash_str(h, f->pkg_id);
	} else {
		h = hash_str(h, f->pkg_name);
		h = hash_str(h, f->installed);
	}
	h = hash_str(h, f->pkg_path);
	return hash_str(h, f->id);
}

static int same_finding(const trivy_finding *a, const trivy_finding *b)
{
	if (strcmp(a->id, b->id) || strcmp(a->target, b->target) ||
	    strcmp(a->pkg_path, b->pkg_path) || strcmp(a->pkg_id, b->pkg_id))
		return 0;
	return *a->pkg_id || (!strcmp(a->pkg_name, b->pkg_name) &&
			      !strcmp(a->installed, b->installed));
}

/* Drop findings identical to an earlier one, keeping the order. */
static int drop_duplicates(trivy_report *r)
{
	size_t cap = 16, kept = 0;
	uint32_t *slots;

	while (cap < r->n_findings * 2)
		cap *= 2;
	slots = malloc(cap * sizeof(*slots));
	if (!slots)
		return BERTH_E_NOMEM;
	memset(slots, 0xff, cap * sizeof(*slots));
	for (size_t i = 0; i < r->n_findings; i++) {
		size_t s = (size_t)finding_hash(&r->findings[i]) & (cap - 1);
		int dup = 0;

		for (; slots[s] != UINT32_MAX; s = (s + 1) & (cap - 1))
			if (same_finding(&r->findings[slots[s]], &r->findings[i])) {
				dup = 1;
				break;
			}
		if (dup) {
			r->duplicates++;
			continue;
		}
		r->findings[kept] = r->findings[i];
		slots[s] = (uint32_t)kept++;
	}
	r->n_findings = kept;
	free(slots);
	return 0;
}

int trivy_report_parse(const void *buf, size_t len, trivy_report *r, berth_error *err)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->arena = trivy_arena_new();
	rc = r->arena ? trivy_parse_document(buf, len, r, 0, err) : BERTH_E_NOMEM;
	if (rc == 0)
		rc = drop_duplicates(r);
	if (rc == BERTH_E_NOMEM) {
		err->code = rc;
		snprintf(err->message, sizeof(err->message), "out of memory reading the report");
	}
	if (rc != 0)
		trivy_report_free(r);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Does the report describe this manifest?                                  */
/* ------------------------------------------------------------------------ */

int trivy_report_check_target(const trivy_report *r, const char *digest,
			      const char *config_digest, berth_error *err)
{
	if (r->n_subject_digests == 0)
		return 0;
	for (size_t i = 0; i < r->n_subject_digests; i++)
		if (strcmp(r->subject_digests[i], digest) == 0)
			return 0;
	/*
	 * Same image under another name: a scan of the same image in another
	 * registry, or of one platform of a multi-arch tag (Trivy then names
	 * the index digest but describes the platform's image, whose config
	 * is ImageID). Docker's containerd store reports the manifest digest
	 * as ImageID.
	 */
	if (r->image_id && *r->image_id &&
	    ((config_digest && strcmp(r->image_id, config_digest) == 0) ||
	     strcmp(r->image_id, digest) == 0))
		return 0;
	err->code = BERTH_E_INVALID;
	snprintf(err->message, sizeof(err->message),
		 "the report contradicts its target: it is for %s, not %s (%s)%s%s%s",
		 r->n_repo_digests ? r->repo_digests[0] : r->subject_digests[0], digest,
		 r->format == TRIVY_FORMAT_SARIF ? "runs[].properties.repoDigests"
		 : r->n_repo_digests ? "Metadata.RepoDigests" : "the statement's subject",
		 r->image_id && *r->image_id ? ", and its ImageID " : "",
		 r->image_id && *r->image_id ? r->image_id : "",
		 r->image_id && *r->image_id ? " is not this image's config" : "");
	return BERTH_E_INVALID;
}
