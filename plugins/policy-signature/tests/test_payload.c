/*
 * test_payload.c - unit tests of what the plugin parses from clients:
 * simplesigning payloads, signature manifests and indexes, Sigstore DSSE
 * bundles, base64, docker-reference identities and repository patterns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sig.h"
#include "test.h"

#define D1 "sha256:0b5cd2995387a61a8fddabcb9d0821a3e17d09c7524ebd3571c5c8e07ac8ee62"
#define D2 "sha256:7fbb5b449b2d83165e97a0cdd0135752ad5217ccf40c7271ed4989a808d39192"

static int parse(const char *text, sig_payload *p, char *why)
{
	return sig_payload_parse(text, strlen(text), p, why, 160);
}

static void test_payloads(void)
{
	sig_payload p;
	char why[160];

	/* What containers/image writes: tag in the reference, optional filled. */
	CHECK_INT(parse("{\"critical\":{\"identity\":{\"docker-reference\":\"r.example/a/b:v1\"},"
			"\"image\":{\"docker-manifest-digest\":\"" D1 "\"},"
			"\"type\":\"cosign container image signature\"},"
			"\"optional\":{\"creator\":\"containers/image 5.23.1\",\"timestamp\":1}}",
			&p, why), 0);
	CHECK_STR(p.digest, D1);
	CHECK_STR(p.reference, "r.example/a/b:v1");
	sig_payload_clear(&p);

	/* What cosign writes: repository only, optional null. */
	CHECK_INT(parse("{\"critical\":{\"identity\":{\"docker-reference\":\"r.example/a/b\"},"
			"\"image\":{\"docker-manifest-digest\":\"" D2 "\"},"
			"\"type\":\"cosign container image signature\"},\"optional\":null}", &p, why), 0);
	CHECK_STR(p.digest, D2);
	sig_payload_clear(&p);

	/* No optional at all, no docker-reference: accepted, the identity check decides. */
	CHECK_INT(parse("{\"critical\":{\"identity\":{},\"image\":{\"docker-manifest-digest\":\""
			D1 "\"},\"type\":\"cosign container image signature\"}}", &p, why), 0);
	CHECK(p.reference == NULL);
	sig_payload_clear(&p);

	CHECK_INT(parse("{\"critical\":{\"identity\":{},\"image\":{\"docker-manifest-digest\":\""
			D1 "\"},\"type\":\"atomic container signature\"}}", &p, why),
		  BERTH_E_UNSUPPORTED);
	CHECK(strstr(why, "type") != NULL);
	/* A fourth critical key: c/image refuses, so does the plugin. */
	CHECK_INT(parse("{\"critical\":{\"identity\":{},\"image\":{\"docker-manifest-digest\":\""
			D1 "\"},\"type\":\"cosign container image signature\",\"x\":1}}", &p, why),
		  BERTH_E_INVALID);
	CHECK_INT(parse("{\"critical\":{\"identity\":{},\"image\":{\"docker-manifest-digest\":"
			"\"sha256:12\"},\"type\":\"cosign container image signature\"}}", &p, why),
		  BERTH_E_INVALID);
	CHECK(strstr(why, "docker-manifest-digest") != NULL);
	CHECK_INT(parse("{\"critical\":{\"identity\":{\"docker-reference\":7},\"image\":"
			"{\"docker-manifest-digest\":\"" D1 "\"},"
			"\"type\":\"cosign container image signature\"}}", &p, why), BERTH_E_INVALID);
	CHECK_INT(parse("{\"critical\":{\"identity\":{},\"image\":{\"docker-manifest-digest\":\""
			D1 "\"},\"type\":\"cosign container image signature\"},\"optional\":3}", &p,
			why), BERTH_E_INVALID);
	/* Two digests in one payload: which one was meant? Refused. */
	CHECK_INT(parse("{\"critical\":{\"identity\":{},\"image\":{\"docker-manifest-digest\":\""
			D1 "\",\"docker-manifest-digest\":\"" D2 "\"},"
			"\"type\":\"cosign container image signature\"}}", &p, why), BERTH_E_INVALID);
	CHECK_INT(parse("[]", &p, why), BERTH_E_INVALID);
	CHECK_INT(parse("{\"critical\":", &p, why), BERTH_E_INVALID);
	CHECK_INT(parse("", &p, why), BERTH_E_INVALID);
	CHECK_INT(sig_payload_parse("{\"critical\":{}}\0junk", 20, &p, why, sizeof(why)),
		  BERTH_E_INVALID);
}

static void test_manifests(void)
{
	sig_manifest m;
	const char *sigm =
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
		"\"digest\":\"" D2 "\",\"size\":3},\"layers\":["
		"{\"mediaType\":\"" SIG_SIMPLESIGNING_TYPE "\",\"digest\":\"" D1 "\",\"size\":276,"
		"\"annotations\":{\"" SIG_ANNOTATION "\":\"MEYC\"}},"
		"{\"mediaType\":\"" SIG_SIMPLESIGNING_TYPE "\",\"digest\":\"" D2 "\",\"size\":5}]}";
	const char *index =
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
		"\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		"\"digest\":\"" D1 "\",\"size\":1},{\"mediaType\":"
		"\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D2 "\",\"size\":1,"
		"\"annotations\":{\"vnd.docker.reference.type\":\"attestation-manifest\"}}]}";
	const char *image =
		"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1 "\","
		"\"size\":1},\"layers\":[{\"mediaType\":"
		"\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" D2 "\",\"size\":9}],"
		"\"subject\":{\"mediaType\":\"x\",\"digest\":\"" D1 "\",\"size\":1}}";
	const char *no_type = "{\"layers\":[{\"digest\":\"" D1 "\"}]}";

	CHECK_INT(sig_manifest_parse(sigm, strlen(sigm), NULL, &m), 0);
	CHECK_INT(m.is_index, 0);
	CHECK_INT(m.n_items, 2);
	CHECK_STR(m.items[0].digest, D1);
	CHECK_STR(m.items[0].signature, "MEYC");
	CHECK(m.items[1].signature == NULL);
	CHECK_INT(m.items[0].size, 276);
	CHECK_INT(sig_manifest_is_attachment(&m), 1);
	sig_manifest_clear(&m);

	CHECK_INT(sig_manifest_parse(index, strlen(index), NULL, &m), 0);
	CHECK_INT(m.is_index, 1);
	CHECK_INT(m.n_items, 2);
	CHECK_INT(m.items[0].attestation, 0);
	CHECK_INT(m.items[1].attestation, 1);
	CHECK_INT(sig_manifest_is_attachment(&m), 0);
	sig_manifest_clear(&m);

	/* An image with a subject is still an image: never exempt from the policy. */
	CHECK_INT(sig_manifest_parse(image, strlen(image), NULL, &m), 0);
	CHECK_STR(m.subject, D1);
	CHECK_INT(sig_manifest_is_attachment(&m), 0);
	sig_manifest_clear(&m);

	CHECK(sig_manifest_parse("{\"layers\":{}}", 13, NULL, &m) != 0);
	CHECK(sig_manifest_parse("{\"layers\":[{\"digest\":5}]}", 25, NULL, &m) != 0);
	CHECK(sig_manifest_parse("nope", 4, NULL, &m) != 0);
	/* A layer without a media type could be anything: not an attachment. */
	CHECK_INT(sig_manifest_parse(no_type, strlen(no_type), NULL, &m), 0);
	CHECK_INT(sig_manifest_is_attachment(&m), 0);
	sig_manifest_clear(&m);
}

static void test_tags(void)
{
	char tag[SIG_TAG_MAX];

	CHECK_INT(sig_tag_for(D1, tag, sizeof(tag)), 0);
	CHECK_STR(tag, "sha256-0b5cd2995387a61a8fddabcb9d0821a3e17d09c7524ebd3571c5c8e07ac8ee62.sig");
	CHECK_INT(sig_is_sig_tag(tag), 1);
	CHECK_INT(sig_is_sig_tag("sha256-0b5c.sig"), 0);
	CHECK_INT(sig_is_sig_tag("v1"), 0);
	CHECK_INT(sig_is_sig_tag(NULL), 0);
	CHECK_INT(sig_is_sig_tag("sha256-0B5CD2995387A61A8FDDABCB9D0821A3E17D09C7524EBD3571C5C8E07AC8EE62.sig"), 0);
	CHECK_INT(sig_tag_for("sha512:abcd", tag, sizeof(tag)), -1);
	CHECK_INT(sig_digest_valid(D1), 1);
	CHECK_INT(sig_digest_valid("sha256:" "0b5cd2995387a61a8fddabcb9d0821a3e17d09c7524ebd3571c5c8e07ac8ee6"), 0);
	CHECK_INT(sig_digest_valid("sha256:../../etc/passwd"), 0);
}

static void test_base64(void)
{
	size_t n = 0;
	unsigned char *b;

	b = sig_base64_decode("aGVsbG8=", &n);
	CHECK(b && n == 5 && memcmp(b, "hello", 5) == 0);
	free(b);
	b = sig_base64_decode("aGVs\nbG8", &n);
	CHECK(b && n == 5 && memcmp(b, "hello", 5) == 0);
	free(b);
	b = sig_base64_decode("-_8=", &n);
	CHECK(b && n == 2 && b[0] == 0xfb && b[1] == 0xff);
	free(b);
	CHECK(sig_base64_decode("a=bc", &n) == NULL);
	CHECK(sig_base64_decode("ab!c", &n) == NULL);
	CHECK(sig_base64_decode("a", &n) == NULL);
	b = sig_base64_decode("", &n);
	CHECK(b && n == 0);
	free(b);
}

static void test_identity(void)
{
	char *hosts[] = {"registry.example.com", "127.0.0.1:5000"};

	CHECK_INT(sig_identity_match(SIG_IDENTITY_OFF, NULL, "a/b", NULL, NULL, 0), 1);
	CHECK_INT(sig_identity_match(SIG_IDENTITY_REPOSITORY, "registry.example.com/a/b", "a/b",
				     "v1", NULL, 0), 1);
	CHECK_INT(sig_identity_match(SIG_IDENTITY_REPOSITORY, "registry.example.com/a/b:v9", "a/b",
				     "v1", NULL, 0), 1);
	CHECK_INT(sig_identity_match(SIG_IDENTITY_REPOSITORY, "registry.example.com/a/c", "a/b",
				     NULL, NULL, 0), 0);
	CHECK_INT(sig_identity_match(SIG_IDENTITY_REPOSITORY, "registry.example.com/a/bc", "a/b",
				     NULL, NULL, 0), 0);
	CHECK_INT(sig_identity_match(SIG_IDENTITY_REPOSITORY, "127.0.0.1:5000/a/b:v1", "a/b",
				     NULL, hosts, 2), 1);
	CHECK_INT(sig_identity_match(SIG_IDENTITY_REPOSITORY, "evil.example/a/b", "a/b", NULL,
				     hosts, 2), 0);
	CHECK_INT(sig_identity_match(SIG_IDENTITY_REPOSITORY, "a/b", "a/b", NULL, hosts, 2), 0);
	CHECK_INT(sig_identity_match(SIG_IDENTITY_REPOSITORY, "a/b", "a/b", NULL, NULL, 0), 1);
	CHECK_INT(sig_identity_match(SIG_IDENTITY_REPOSITORY, "localhost/a/b", "a/b", NULL, NULL, 0), 1);
	CHECK_INT(sig_identity_match(SIG_IDENTITY_REPOSITORY, NULL, "a/b", NULL, NULL, 0), 0);
	CHECK_INT(sig_identity_match(SIG_IDENTITY_EXACT, "r.io/a/b:v1", "a/b", "v1", NULL, 0), 1);
	CHECK_INT(sig_identity_match(SIG_IDENTITY_EXACT, "r.io/a/b:v1", "a/b", "v2", NULL, 0), 0);
	CHECK_INT(sig_identity_match(SIG_IDENTITY_EXACT, "r.io/a/b", "a/b", "v1", NULL, 0), 0);
	CHECK_INT(sig_identity_match(SIG_IDENTITY_EXACT, "r.io/a/b:v1@" D1, "a/b", "v1", NULL, 0), 0);
	/* By digest, exact asks only for the repository (c/image's matchRepoDigestOrExact). */
	CHECK_INT(sig_identity_match(SIG_IDENTITY_EXACT, "r.io/a/b", "a/b", NULL, NULL, 0), 1);
	CHECK_INT(sig_identity_match(SIG_IDENTITY_EXACT, "r.io:5000/a/b:v1", "a/b", "v1", NULL, 0), 1);
	CHECK_INT(sig_identity_match(SIG_IDENTITY_EXACT, "r.io:5000/a/b", "a/b", "5000/a/b", NULL, 0), 0);
}

static void test_globs(void)
{
	char why[200];

	CHECK_INT(sig_glob_match("prod/**", "prod/app"), 1);
	CHECK_INT(sig_glob_match("prod/**", "prod/team/app"), 1);
	CHECK_INT(sig_glob_match("prod/**", "prod"), 0);
	CHECK_INT(sig_glob_match("prod/**", "production/app"), 0);
	CHECK_INT(sig_glob_match("prod/*", "prod/app"), 1);
	CHECK_INT(sig_glob_match("prod/*", "prod/team/app"), 0);
	CHECK_INT(sig_glob_match("**", "anything/at/all"), 1);
	CHECK_INT(sig_glob_match("**/app", "a/b/app"), 1);
	CHECK_INT(sig_glob_match("**/app", "app"), 1);
	CHECK_INT(sig_glob_match("**/app", "a/b/apps"), 0);
	CHECK_INT(sig_glob_match("team-*/app", "team-x/app"), 1);
	CHECK_INT(sig_glob_match("exact/name", "exact/name"), 1);
	CHECK_INT(sig_glob_match("exact/name", "exact/nam"), 0);
	CHECK_INT(sig_glob_check("prod/**", why, sizeof(why)), 0);
	CHECK_INT(sig_glob_check("", why, sizeof(why)), -1);
	CHECK_INT(sig_glob_check("a/***", why, sizeof(why)), -1);
	CHECK_INT(sig_glob_check("Prod/*", why, sizeof(why)), -1);
	CHECK(strstr(why, "'P'") != NULL);
}

static void test_dsse(void)
{
	/* payload: {"subject":[{"name":"x","digest":{"sha256":"0b5c..."}}]} */
	const char *stmt = "{\"subject\":[{\"name\":\"x\",\"digest\":{\"sha256\":"
			   "\"0b5cd2995387a61a8fddabcb9d0821a3e17d09c7524ebd3571c5c8e07ac8ee62\"}}]}";
	char b64[400], bundle[800], why[160];
	sig_dsse d;
	size_t n = strlen(stmt), o = 0;
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)stmt[i] << 16;
		if (i + 1 < n) v |= (unsigned char)stmt[i + 1] << 8;
		if (i + 2 < n) v |= (unsigned char)stmt[i + 2];
		b64[o++] = tbl[(v >> 18) & 63];
		b64[o++] = tbl[(v >> 12) & 63];
		b64[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
		b64[o++] = i + 2 < n ? tbl[v & 63] : '=';
	}
	b64[o] = '\0';
	snprintf(bundle, sizeof(bundle),
		 "{\"dsseEnvelope\":{\"payload\":\"%s\",\"payloadType\":"
		 "\"application/vnd.in-toto+json\",\"signatures\":[{\"sig\":\"AAAA\"}]}}", b64);
	CHECK_INT(sig_dsse_parse(bundle, strlen(bundle), &d, why, sizeof(why)), 0);
	CHECK_INT(d.n_subjects, 1);
	CHECK_STR(d.subjects[0], D1);
	CHECK_INT(d.n_sigs, 1);
	snprintf(why, sizeof(why), "DSSEv1 28 application/vnd.in-toto+json %zu ", n);
	CHECK_INT(d.pae_len, strlen(why) + n);
	CHECK(memcmp(d.pae, why, strlen(why)) == 0);
	CHECK(memcmp(d.pae + d.pae_len - n, stmt, n) == 0);
	sig_dsse_clear(&d);

	CHECK(sig_dsse_parse("{\"messageSignature\":{}}", 23, &d, why, sizeof(why)) != 0);
	CHECK(strstr(why, "message signature") != NULL);
	snprintf(bundle, sizeof(bundle),
		 "{\"dsseEnvelope\":{\"payload\":\"%s\",\"payloadType\":\"text/plain\","
		 "\"signatures\":[{\"sig\":\"AAAA\"}]}}", b64);
	CHECK(sig_dsse_parse(bundle, strlen(bundle), &d, why, sizeof(why)) != 0);
	snprintf(bundle, sizeof(bundle),
		 "{\"dsseEnvelope\":{\"payload\":\"%s\",\"payloadType\":"
		 "\"application/vnd.in-toto+json\",\"signatures\":[]}}", b64);
	CHECK(sig_dsse_parse(bundle, strlen(bundle), &d, why, sizeof(why)) != 0);
	snprintf(bundle, sizeof(bundle),
		 "{\"dsseEnvelope\":{\"payload\":\"!!\",\"payloadType\":"
		 "\"application/vnd.in-toto+json\",\"signatures\":[{\"sig\":\"A\"}]}}");
	CHECK(sig_dsse_parse(bundle, strlen(bundle), &d, why, sizeof(why)) != 0);
	CHECK(sig_dsse_parse("[", 1, &d, why, sizeof(why)) != 0);
}

int main(void)
{
	test_payloads();
	test_manifests();
	test_tags();
	test_base64();
	test_identity();
	test_globs();
	test_dsse();
	TEST_MAIN_END();
}
