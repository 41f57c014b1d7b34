/*
 * test_report.c - the report parser and the counting rules: every testdata
 * report against the totals of tests/data/SOURCES.md, every other form
 * (cosign-vuln predicate, in-toto statement, DSSE envelope) built from
 * them, and documents that must be refused with a message saying why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "trivy_attest.h"
#include "trivy_json.h"
#include "trivy_report.h"
#include "trivy_summary.h"

#define IMAGE_TEST_DIGEST \
	"sha256:1e8b199249d6d0ef3419ddc6eda2348d9fbdb10d350d3bb70aa98e87faa227c9"

static char *read_file(const char *name, size_t *len)
{
	char path[1024];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", SCAN_TRIVY_TESTDATA, name);
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		exit(2);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Parse, count through findings.json as the plugin does, compare. */
static void expect_counts(const char *name, const char *text, size_t len, int format,
			  const size_t want[TRIVY_SEV_COUNT], const size_t want_fixable[TRIVY_SEV_COUNT],
			  size_t want_unique)
{
	trivy_report r;
	berth_error err = {0};
	trivy_counts c;
	json_t *findings;
	int rc = trivy_report_parse(text, len, &r, &err);

	if (rc != 0) {
		fprintf(stderr, "%s: %s\n", name, err.message);
		CHECK_INT(rc, 0);
		return;
	}
	CHECK_INT(r.format, format);
	CHECK_STR(r.scanner, "Trivy");
	findings = trivy_findings_json(&r);
	CHECK(findings != NULL);
	trivy_findings_count(findings, &c);
	for (int s = 0; s < TRIVY_SEV_COUNT; s++) {
		if (c.all[s] != want[s] || c.fixable[s] != want_fixable[s])
			fprintf(stderr, "%s: %s\n", name, trivy_severity_name(s));
		CHECK_INT(c.all[s], want[s]);
		CHECK_INT(c.fixable[s], want_fixable[s]);
	}
	if (want_unique)
		CHECK_INT(c.unique_total, want_unique);
	CHECK_INT(r.duplicates, 0);
	json_decref(findings);
	trivy_report_free(&r);
}

/*                                  UNKNOWN LOW MEDIUM HIGH CRITICAL */
static const size_t ubi7[] = {2, 374, 243, 16, 1}, ubi7_fix[] = {2, 1, 7, 7, 1};
static const size_t debian[] = {0, 104, 20, 24, 12}, debian_fix[] = {0, 0, 4, 0, 0};
static const size_t spring[] = {0, 0, 0, 0, 1}, spring_fix[] = {0, 0, 0, 0, 1};
static const size_t none[] = {0, 0, 0, 0, 0};
static const size_t image[] = {0, 0, 0, 0, 23}, image_fix[] = {0, 0, 0, 0, 23};
static const size_t sarif[] = {2, 1, 26, 28, 23}, sarif_fix[] = {1, 1, 26, 28, 23};

static void test_testdata(void)
{
	static const struct {
		const char *file;
		int format;
		const size_t *all, *fixable;
		size_t unique;
	} cases[] = {
		{"ubi-7.json", TRIVY_FORMAT_LEGACY, ubi7, ubi7_fix, 409},
		{"debian-stretch.json", TRIVY_FORMAT_JSON, debian, debian_fix, 78},
		{"spring4shell-jre11.json", TRIVY_FORMAT_JSON, spring, spring_fix, 1},
		{"sl-micro-rancher5.4.json", TRIVY_FORMAT_JSON, none, none, 0},
		{"image.test.json", TRIVY_FORMAT_JSON, image, image_fix, 16},
		{"image-sarif.test.json", TRIVY_FORMAT_SARIF, sarif, sarif_fix, 54},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		char *text = read_file(cases[i].file, &len);
		expect_counts(cases[i].file, text, len, cases[i].format, cases[i].all,
			      cases[i].fixable, cases[i].unique);
		free(text);
	}
}

static void test_metadata(void)
{
	size_t len;
	char *text = read_file("image.test.json", &len);
	trivy_report r;
	berth_error err = {0};

	CHECK_INT(trivy_report_parse(text, len, &r, &err), 0);
	CHECK_STR(r.artifact_name, "knqyf263/vuln-image:1.2.3");
	CHECK_INT(r.n_subject_digests, 1);
	CHECK_STR(r.subject_digests[0], IMAGE_TEST_DIGEST);
	CHECK_STR(r.repo_digests[0], "knqyf263/vuln-image@" IMAGE_TEST_DIGEST);
	/* Trivy 0.28 wrote no Trivy.Version. */
	CHECK(r.scanner_version == NULL);
	/* The target check: the named digest, its ImageID, or a contradiction. */
	CHECK_INT(trivy_report_check_target(&r, r.subject_digests[0], NULL, &err), 0);
	CHECK_INT(trivy_report_check_target(&r, "sha256:0000", r.image_id, &err), 0);
	CHECK_INT(trivy_report_check_target(&r, "sha256:0000", "sha256:1111", &err),
		  BERTH_E_INVALID);
	CHECK(strstr(err.message, "knqyf263/vuln-image@sha256:1e8b1992") != NULL);
	CHECK(strstr(err.message, "Metadata.RepoDigests") != NULL);
	trivy_report_free(&r);
	free(text);

	/* No RepoDigests: nothing to contradict. */
	text = read_file("debian-stretch.json", &len);
	CHECK_INT(trivy_report_parse(text, len, &r, &err), 0);
	CHECK_INT(r.n_subject_digests, 0);
	CHECK_INT(trivy_report_check_target(&r, "sha256:0000", "sha256:1111", &err), 0);
	trivy_report_free(&r);
	free(text);

	/* Newest fields: Trivy.Version, CreatedAt, Status, PkgIdentifier. */
	text = read_file("spring4shell-jre11.json", &len);
	CHECK_INT(trivy_report_parse(text, len, &r, &err), 0);
	CHECK_STR(r.scanner_version, "dev");
	CHECK_STR(r.created_at, "2021-08-25T12:20:30.000000005Z");
	CHECK_INT(r.n_findings, 1);
	CHECK_STR(r.findings[0].id, "CVE-2022-22965");
	CHECK_STR(r.findings[0].status, "fixed");
	CHECK_STR(r.findings[0].result_class, "lang-pkgs");
	CHECK_STR(r.findings[0].result_type, "jar");
	CHECK(strncmp(r.findings[0].purl, "pkg:maven/", 10) == 0);
	trivy_report_free(&r);
	free(text);
}

/* Parse text that must be refused, with a message containing `why`. */
static void expect_refused(const char *text, const char *why)
{
	trivy_report r;
	berth_error err = {0};
	int rc = trivy_report_parse(text, strlen(text), &r, &err);

	if (rc != BERTH_E_INVALID || !strstr(err.message, why))
		fprintf(stderr, "input %.60s: rc %d, message '%s', expected '%s'\n", text, rc,
			err.message, why);
	CHECK_INT(rc, BERTH_E_INVALID);
	CHECK(strstr(err.message, why) != NULL);
	CHECK_INT(r.n_findings, 0);
	trivy_report_free(&r);
}

static void test_refused(void)
{
	char deep[600];

	expect_refused("", "empty");
	expect_refused("   \n", "empty");
	expect_refused("{", "malformed JSON");
	expect_refused("{\"SchemaVersion\":2,}", "malformed JSON");
	expect_refused("{\"SchemaVersion\":2} x", "more data after");
	expect_refused("[{\"Target\":\"a\"}", "malformed JSON");
	expect_refused("{\"SchemaVersion\":2,\"Results\":[", "the document ends early");
	expect_refused("{\"SchemaVersion\":2,\"Results\":[{\"Vulnerabilities\":[{", "malformed JSON");
	expect_refused("{\"SchemaVersion\":2,\"ArtifactName\":\"\xff\"}", "UTF-8");
	expect_refused("{\"SchemaVersion\":2,\"ArtifactName\":\"\xc0\xaf\"}", "UTF-8");
	expect_refused("{\"SchemaVersion\":2,\"ArtifactName\":\"a\tb\"}", "control character");
	expect_refused("{\"SchemaVersion\":2,\"ArtifactName\":\"\\q\"}", "unknown escape");
	expect_refused("{\"SchemaVersion\":2,\"ArtifactName\":\"\\ud800\"}", "surrogate");
	expect_refused("{\"SchemaVersion\":2,\"ArtifactName\":\"\\udc00\"}", "surrogate");
	expect_refused("{\"SchemaVersion\":2,\"ArtifactName\":\"\\u0000\"}", "NUL");
	expect_refused("{\"SchemaVersion\":02}", "malformed JSON");
	expect_refused("{\"SchemaVersion\":2.5}", "whole number");
	expect_refused("{\"SchemaVersion\":-}", "bad number");
	expect_refused("{\"SchemaVersion\":2,\"X\":tru}", "unexpected character 't'");
	expect_refused("{\"SchemaVersion\":true}", "'SchemaVersion' is not a number");
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	memcpy(deep, "{\"x\":", 5);
	expect_refused(deep, "nested deeper");

	/* Well-formed, but not a Trivy report. */
	expect_refused("{\"foo\":1}", "not a Trivy report");
	expect_refused("\"report\"", "not a Trivy report: the document is a string");
	expect_refused("42", "the document is a number");
	expect_refused("[1,2]", "result #0 is not an object");
	expect_refused("[{\"Vulnerabilities\":[]}]", "has no Target");
	expect_refused("{\"Results\":[]}", "without SchemaVersion");
	expect_refused("{\"SchemaVersion\":1,\"Results\":[]}", "SchemaVersion 1 is not supported");
	expect_refused("{\"SchemaVersion\":3}", "SchemaVersion 3 is not supported");
	expect_refused("{\"SchemaVersion\":2,\"ArtifactType\":\"filesystem\"}", "filesystem");
	expect_refused("{\"SchemaVersion\":2,\"ArtifactType\":\"repository\"}", "repository");
	expect_refused("{\"SchemaVersion\":2,\"Results\":{}}", "'Results' is not an array");
	expect_refused("{\"SchemaVersion\":2,\"Results\":[{\"Vulnerabilities\":[{\"PkgName\":\"x\"}]}]}",
		       "has no VulnerabilityID");
	expect_refused("{\"SchemaVersion\":2,\"Results\":[{\"Vulnerabilities\":[{\"VulnerabilityID\":5}]}]}",
		       "'VulnerabilityID' is not a string");
	expect_refused("{\"SchemaVersion\":2,\"Results\":[{\"Vulnerabilities\":[\"CVE-1\"]}]}",
		       "vulnerability #0 is not an object");
	expect_refused("{\"SchemaVersion\":2,\"runs\":[]}", "mixes keys");
	expect_refused("{\"runs\":[]}", "not a SARIF log");
	expect_refused("{\"version\":\"2.1.0\",\"runs\":[{\"tool\":{\"driver\":{\"name\":\"CodeQL\"}}}]}",
		       "SARIF from 'CodeQL' is not a Trivy report");
	expect_refused("{\"_type\":\"https://in-toto.io/Statement/v0.1\","
		       "\"predicateType\":\"https://slsa.dev/provenance/v0.2\",\"predicate\":{}}",
		       "not a vulnerability attestation");
	expect_refused("{\"scanner\":{\"uri\":\"x\"}}", "needs scanner.result");
	expect_refused("{\"payloadType\":\"application/vnd.in-toto+json\",\"payload\":\"!!!!\"}",
		       "not base64");
	expect_refused("{\"payloadType\":\"text/plain\",\"payload\":\"\"}", "payloadType 'text/plain'");
	/* A DSSE payload that is itself a bare report is not a statement. */
	expect_refused("{\"payloadType\":\"application/vnd.in-toto+json\","
		       "\"payload\":\"eyJTY2hlbWFWZXJzaW9uIjoyfQ==\"}",
		       "not an in-toto statement");
}

static void test_accepted_shapes(void)
{
	const char *legacy_nulls = "[{\"Target\":\"t\",\"Vulnerabilities\":null}]";
	const char *dup = "{\"SchemaVersion\":2,\"Results\":[{\"Target\":\"t\",\"Vulnerabilities\":["
			  "{\"VulnerabilityID\":\"CVE-1\",\"PkgName\":\"p\",\"InstalledVersion\":\"1\","
			  "\"Severity\":\"HIGH\"},"
			  "{\"VulnerabilityID\":\"CVE-1\",\"PkgName\":\"p\",\"InstalledVersion\":\"1\","
			  "\"Severity\":\"HIGH\"},"
			  "{\"VulnerabilityID\":\"CVE-1\",\"PkgName\":\"p\",\"InstalledVersion\":\"1\","
			  "\"PkgPath\":\"other.jar\",\"Severity\":\"HIGH\"}]},"
			  "{\"Vulnerabilities\":[{\"VulnerabilityID\":\"CVE-1\",\"PkgName\":\"p\","
			  "\"InstalledVersion\":\"1\",\"Severity\":\"HIGH\"}],\"Target\":\"u\"}]}";
	const char *quirks = "{\"CreatedAt\":1629894030,\"SchemaVersion\":2,\"Results\":[{"
			     "\"Vulnerabilities\":[{\"VulnerabilityID\":\"CVE-2\",\"Severity\":\"weird\","
			     "\"Title\":\"a \\u003cb\\u003e \\u0026 \\ud83d\\ude00\",\"CVSS\":{\"nvd\":"
			     "{\"V3Score\":9.8e0}}}],\"Target\":\"late target\",\"Class\":\"os-pkgs\"}]}";
	trivy_report r;
	berth_error err = {0};

	CHECK_INT(trivy_report_parse(legacy_nulls, strlen(legacy_nulls), &r, &err), 0);
	CHECK_INT(r.format, TRIVY_FORMAT_LEGACY);
	CHECK_INT(r.n_findings, 0);
	trivy_report_free(&r);

	CHECK_INT(trivy_report_parse("[]", 2, &r, &err), 0);
	CHECK_INT(r.format, TRIVY_FORMAT_LEGACY);
	trivy_report_free(&r);

	/* The same finding twice counts once; another path or target is another finding. */
	CHECK_INT(trivy_report_parse(dup, strlen(dup), &r, &err), 0);
	CHECK_INT(r.n_findings, 3);
	CHECK_INT(r.duplicates, 1);
	trivy_report_free(&r);

	CHECK_INT(trivy_report_parse(quirks, strlen(quirks), &r, &err), 0);
	CHECK_STR(r.created_at, "1629894030");
	CHECK_INT(r.n_findings, 1);
	CHECK_INT(r.findings[0].severity, TRIVY_SEV_UNKNOWN);
	CHECK_STR(r.findings[0].title, "a <b> & \xf0\x9f\x98\x80");
	/* The target came after the vulnerabilities and still reached them. */
	CHECK_STR(r.findings[0].target, "late target");
	CHECK_STR(r.findings[0].result_class, "os-pkgs");
	trivy_report_free(&r);
}

static void test_long_strings(void)
{
	/* 2000 copies of a two-byte character: cut at TRIVY_TEXT_MAX on a boundary. */
	size_t n = 2000 * 2 + 200;
	char *text = malloc(n + 200), *p;
	char id[300];
	trivy_report r;
	berth_error err = {0};

	p = text + sprintf(text, "{\"SchemaVersion\":2,\"Results\":[{\"Target\":\"");
	for (int i = 0; i < 2000; i++) {
		*p++ = (char)0xc3;
		*p++ = (char)0xa9;
	}
	p += sprintf(p, "\",\"Vulnerabilities\":[{\"VulnerabilityID\":\"CVE-1\"}]}]}");
	CHECK_INT(trivy_report_parse(text, (size_t)(p - text), &r, &err), 0);
	CHECK(strlen(r.findings[0].target) <= TRIVY_TEXT_MAX);
	CHECK(strlen(r.findings[0].target) % 2 == 0);
	trivy_report_free(&r);

	memset(id, 'A', sizeof(id));
	id[sizeof(id) - 1] = '\0';
	sprintf(text, "{\"SchemaVersion\":2,\"Results\":[{\"Vulnerabilities\":[{\"VulnerabilityID\":\"%s\"}]}]}",
		id);
	CHECK_INT(trivy_report_parse(text, strlen(text), &r, &err), BERTH_E_INVALID);
	CHECK(strstr(err.message, "longer than 255") != NULL);
	trivy_report_free(&r);
	free(text);
}

/* A report past TRIVY_FINDINGS_MAX is refused rather than held. */
static void test_findings_cap(void)
{
	const char *item = "{\"VulnerabilityID\":\"CVE-1\"},";
	size_t n = TRIVY_FINDINGS_MAX + 1, cap = n * strlen(item) + 128, len = 0;
	char *text = malloc(cap);
	trivy_report r;
	berth_error err = {0};

	len += (size_t)sprintf(text, "[{\"Target\":\"t\",\"Vulnerabilities\":[");
	for (size_t i = 0; i < n; i++) {
		memcpy(text + len, item, strlen(item));
		len += strlen(item);
	}
	len--; /* the last comma */
	len += (size_t)sprintf(text + len, "]}]");
	CHECK_INT(trivy_report_parse(text, len, &r, &err), BERTH_E_INVALID);
	CHECK(strstr(err.message, "more than 100000 vulnerabilities") != NULL);
	trivy_report_free(&r);
	free(text);
}

static char *base64(const char *in, size_t len)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned char)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned char)in[i + 1] << 8;
		if (i + 2 < len)
			v |= (unsigned char)in[i + 2];
		*o++ = abc[(v >> 18) & 63];
		*o++ = abc[(v >> 12) & 63];
		*o++ = i + 1 < len ? abc[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? abc[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

/* spring4shell wrapped as cosign-vuln predicate, in-toto statement, DSSE envelope. */
static void test_attestations(void)
{
	size_t len;
	char *report = read_file("spring4shell-jre11.json", &len);
	size_t cap = len * 3 + 2048;
	char *predicate = malloc(cap), *statement = malloc(cap), *envelope = malloc(cap * 2), *b64;
	const char *subject = "sha256:9b4f29b1c1d1a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9ba";
	trivy_report r;
	berth_error err = {0};

	snprintf(predicate, cap,
		 "{\"invocation\":{\"uri\":\"\"},\"scanner\":{\"uri\":\"pkg:github/aquasecurity/"
		 "trivy@0.50.0\",\"version\":\"0.50.0\",\"result\":%s},\"metadata\":{}}", report);
	CHECK_INT(trivy_report_parse(predicate, strlen(predicate), &r, &err), 0);
	CHECK_INT(r.format, TRIVY_FORMAT_COSIGN_VULN);
	CHECK_INT(r.n_findings, 1);
	/* The report's own Trivy.Version wins over the predicate's. */
	CHECK_STR(r.scanner_version, "dev");
	trivy_report_free(&r);

	snprintf(statement, cap,
		 "{\"_type\":\"https://in-toto.io/Statement/v0.1\",\"predicateType\":\"%s\","
		 "\"subject\":[{\"name\":\"reg/team/app\",\"digest\":{\"sha256\":\"%s\"}}],"
		 "\"predicate\":%s}",
		 TRIVY_COSIGN_VULN_PREDICATE, subject + 7, predicate);
	CHECK_INT(trivy_report_parse(statement, strlen(statement), &r, &err), 0);
	CHECK_INT(r.format, TRIVY_FORMAT_COSIGN_VULN);
	CHECK_INT(r.n_findings, 1);
	CHECK_INT(r.n_subject_digests, 1);
	CHECK_STR(r.subject_digests[0], subject);
	CHECK_INT(trivy_report_check_target(&r, subject, NULL, &err), 0);
	CHECK_INT(trivy_report_check_target(&r, "sha256:00", "sha256:11", &err), BERTH_E_INVALID);
	CHECK(strstr(err.message, "subject") != NULL);
	trivy_report_free(&r);

	b64 = base64(statement, strlen(statement));
	snprintf(envelope, cap * 2,
		 "{\"payloadType\":\"application/vnd.in-toto+json\",\"payload\":\"%s\","
		 "\"signatures\":[{\"keyid\":\"\",\"sig\":\"MEUCIQ==\"}]}", b64);
	CHECK_INT(trivy_report_parse(envelope, strlen(envelope), &r, &err), 0);
	CHECK_INT(r.format, TRIVY_FORMAT_COSIGN_VULN);
	CHECK_INT(r.n_findings, 1);
	CHECK_STR(r.subject_digests[0], subject);
	trivy_report_free(&r);

	free(b64);
	free(predicate);
	free(statement);
	free(envelope);
	free(report);
}

static void test_sarif_fallbacks(void)
{
	/* No severity tag: the message's Severity line; misconfigurations are left out. */
	const char *text =
		"{\"version\":\"2.1.0\",\"runs\":[{\"results\":["
		"{\"ruleId\":\"CVE-9\",\"ruleIndex\":0,\"message\":{\"text\":\"Package: p\\n"
		"Installed Version: 1\\nVulnerability CVE-9\\nSeverity: MEDIUM\\nFixed Version: \"},"
		"\"locations\":[{\"physicalLocation\":{\"artifactLocation\":{\"uri\":\"img\"}}}]},"
		"{\"ruleId\":\"AVD-1\",\"ruleIndex\":1,\"message\":{\"text\":\"Misconfiguration\"}}],"
		"\"tool\":{\"driver\":{\"name\":\"Trivy\",\"version\":\"0.50.1\",\"rules\":["
		"{\"id\":\"CVE-9\",\"properties\":{\"tags\":[\"vulnerability\"]}},"
		"{\"id\":\"AVD-1\",\"properties\":{\"tags\":[\"misconfiguration\",\"HIGH\"]}}]}},"
		"\"properties\":{\"repoDigests\":[\"r/x@sha256:abc\"],\"imageID\":\"sha256:def\"}}]}";
	trivy_report r;
	berth_error err = {0};

	CHECK_INT(trivy_report_parse(text, strlen(text), &r, &err), 0);
	CHECK_INT(r.format, TRIVY_FORMAT_SARIF);
	CHECK_STR(r.scanner_version, "0.50.1");
	CHECK_INT(r.n_findings, 1);
	CHECK_INT(r.findings[0].severity, TRIVY_SEV_MEDIUM);
	CHECK_STR(r.findings[0].pkg_name, "p");
	CHECK_STR(r.findings[0].installed, "1");
	CHECK_STR(r.findings[0].target, "img");
	CHECK(!trivy_finding_fixable(&r.findings[0]));
	CHECK_INT(r.n_subject_digests, 1);
	CHECK_STR(r.subject_digests[0], "sha256:abc");
	CHECK_STR(r.image_id, "sha256:def");
	trivy_report_free(&r);
}

static void test_gate_json(void)
{
	size_t len;
	char *text = read_file("debian-stretch.json", &len);
	trivy_report r;
	berth_error err = {0};
	json_t *findings, *gate, *entries, *e;
	size_t i, prev_sev = 99;

	CHECK_INT(trivy_report_parse(text, len, &r, &err), 0);
	findings = trivy_findings_json(&r);
	gate = trivy_gate_json(findings);
	entries = json_object_get(gate, "entries");
	CHECK(json_array_size(entries) > 0);
	/* Distinct (ID, severity, fixable), worst first: fewer than the findings. */
	CHECK(json_array_size(entries) < json_array_size(findings));
	json_array_foreach(entries, i, e) {
		size_t sev = (size_t)json_integer_value(json_array_get(e, 1));
		CHECK(sev <= prev_sev);
		prev_sev = sev;
	}
	json_decref(gate);
	json_decref(findings);
	trivy_report_free(&r);
	free(text);
}

static void test_lexer_skip(void)
{
	/* A skipped value is still checked in full. */
	const char *ok = "{\"a\":[1,{\"b\":[true,false,null,-0.5e+3,\"\\u00e9\"]}],\"c\":{}} ";
	trivy_json j;

	trivy_json_init(&j, ok, strlen(ok));
	CHECK_INT(trivy_json_skip(&j), 0);
	CHECK_INT(trivy_json_finish(&j), 0);
	trivy_json_free(&j);
	trivy_json_init(&j, "[1,}", 4);
	CHECK_INT(trivy_json_skip(&j), -1);
	CHECK(strstr(trivy_json_error(&j), "at byte 3") != NULL);
	trivy_json_free(&j);
	trivy_json_init(&j, "{\"a\" 1}", 7);
	CHECK_INT(trivy_json_skip(&j), -1);
	trivy_json_free(&j);
}

int main(void)
{
	test_testdata();
	test_metadata();
	test_refused();
	test_accepted_shapes();
	test_long_strings();
	test_findings_cap();
	test_attestations();
	test_sarif_fallbacks();
	test_gate_json();
	test_lexer_skip();
	TEST_MAIN_END();
}
