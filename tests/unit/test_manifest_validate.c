/*
 * test_manifest_validate.c - manifest parsing and validation, the stored
 * manifest media type scanner, and Accept negotiation.
 *
 * The "real" manifests are byte-for-byte what the tools wrote: umoci for
 * OCI, skopeo copy --format v2s2/v2s1 for Docker, podman manifest push for
 * lists and indexes. The others come from the image-spec and Docker's
 * manifest v2 schema 2 documents, or follow what Docker Hub and BuildKit
 * serve.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest_validate.h"
#include "media_types.h"
#include "test.h"

#define H_CONFIG "29e0eb21f92055c104ddcf82894fabdef370df93189d55b79b3ff03eb45a7c5e"
#define H_LAYER  "39da0e695d22066c83dd729ee6131af61028b02b3f23c3c6fa696a657b8920f5"
#define H_EMPTY  "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
#define D_CONFIG "sha256:" H_CONFIG
#define D_LAYER  "sha256:" H_LAYER

/* umoci new + insert: no mediaType in the body (umoci 0.4) */
static const char umoci_manifest[] =
	"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
	"\"digest\":\"" D_CONFIG "\",\"size\":400},\"layers\":[{\"mediaType\":"
	"\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" D_LAYER "\",\"size\":102}]}\n";

/* umoci's index.json */
static const char umoci_index[] =
	"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	"\"digest\":\"sha256:174ee16f0aeaccefcdb131b3fd9ac77e85936d5212e9a9e4350bb2c7c96ff7f4\","
	"\"size\":345,\"annotations\":{\"org.opencontainers.image.ref.name\":\"latest\"}}]}\n";

/* skopeo copy --format v2s2 */
static const char skopeo_v2s2[] =
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
	"\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"size\":400,"
	"\"digest\":\"" D_CONFIG "\"},\"layers\":[{\"mediaType\":"
	"\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"size\":102,\"digest\":\"" D_LAYER "\"}]}";

/* skopeo copy --format v2s1: a signed schema 1 manifest */
static const char skopeo_v2s1[] =
	"{\"name\":\"\",\"tag\":\"\",\"architecture\":\"amd64\",\"fsLayers\":[{\"blobSum\":"
	"\"sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4\"},{\"blobSum\":"
	"\"" D_LAYER "\"}],\"history\":[{\"v1Compatibility\":\"{\\\"architecture\\\":\\\"amd64\\\","
	"\\\"config\\\":{\\\"Cmd\\\":[\\\"/hello\\\"]},\\\"created\\\":\\\"2026-11-27T18:20:23.535067174Z\\\","
	"\\\"id\\\":\\\"7e132cf549aa30ff1d9967cb86c9f9e717183b3ba3b8f007b9200040e8c9191d\\\",\\\"os\\\":"
	"\\\"linux\\\",\\\"parent\\\":\\\"2f4e2c1e4a4d974082b7d763ed0188cc2adaea3acac8a7841253f18a96e04762\\\","
	"\\\"throwaway\\\":true}\"},{\"v1Compatibility\":\"{\\\"id\\\":"
	"\\\"2f4e2c1e4a4d974082b7d763ed0188cc2adaea3acac8a7841253f18a96e04762\\\",\\\"created\\\":"
	"\\\"2026-11-27T18:20:23.544686457Z\\\",\\\"container_config\\\":{\\\"Cmd\\\":[\\\"umoci insert\\\"]}}\"}],"
	"\"schemaVersion\":1,\"signatures\":[{\"header\":{\"jwk\":{\"crv\":\"P-256\",\"kid\":"
	"\"325U:XRUK:N2VM:BKA5:3RTS:CLCV:W6HV:6H67:AV6O:HR76:DCIX:TOFF\",\"kty\":\"EC\",\"x\":"
	"\"1L741tOnVJ_HS42sFY2_Ffw8EI4T1l9AuiE01q0MDzo\",\"y\":\"TarrMcxCok-OoGRWv2LDclJwpdrE_2DU4bHizwkWt2k\"},"
	"\"alg\":\"ES256\"},\"signature\":\"FFmas9QQelHZYK3KRZgswOxb6sM5-kUOpw-vYRu_htx5UGGfj2RweAyHtn2m34vcWnJaV5k7E0_w-O2NtG7UCA\","
	"\"protected\":\"eyJmb3JtYXRMZW5ndGgiOjc3OCwiZm9ybWF0VGFpbCI6ImZRIiwidGltZSI6IjIwMjYtMTEtMjdUMTg6MjA6MjNaIn0\"}]}";

/* podman manifest push --format v2s2 */
static const char podman_list[] =
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.list.v2+json\","
	"\"manifests\":[{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"size\":423,"
	"\"digest\":\"sha256:dfb3a15141b81b2d8b40107b419c515ea1e5c5fca02f5490aafaffe6dc359423\","
	"\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}";

/* podman manifest push --format oci, after manifest annotate */
static const char podman_index[] =
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":"
	"[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":"
	"\"sha256:174ee16f0aeaccefcdb131b3fd9ac77e85936d5212e9a9e4350bb2c7c96ff7f4\",\"size\":345,"
	"\"annotations\":{\"com.example.k\":\"v\"},\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}";

/* Docker's manifest-v2-2.md example, pretty-printed as the Docker CLI sends it */
static const char docker_doc_manifest[] =
	"{\n"
	"    \"schemaVersion\": 2,\n"
	"    \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
	"    \"config\": {\n"
	"        \"mediaType\": \"application/vnd.docker.container.image.v1+json\",\n"
	"        \"size\": 7023,\n"
	"        \"digest\": \"sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7\"\n"
	"    },\n"
	"    \"layers\": [\n"
	"        {\n"
	"            \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n"
	"            \"size\": 32654,\n"
	"            \"digest\": \"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f\"\n"
	"        },\n"
	"        {\n"
	"            \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n"
	"            \"size\": 16724,\n"
	"            \"digest\": \"sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b\"\n"
	"        },\n"
	"        {\n"
	"            \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n"
	"            \"size\": 73109,\n"
	"            \"digest\": \"sha256:ec4b8955958665577945c89419d1af06b5f7636b4ac3da7f12184802ad867736\"\n"
	"        }\n"
	"    ]\n"
	"}\n";

/* A Docker Hub style multi-platform list, Windows entry included */
static const char hub_list[] =
	"{\n"
	"   \"manifests\": [\n"
	"      {\n"
	"         \"digest\": \"sha256:6dc66c861c1b2090d3e1e4faa1e30a719605aa1cf212b4ba392fc07790c72e2c\",\n"
	"         \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
	"         \"platform\": {\"architecture\": \"amd64\", \"os\": \"linux\"},\n"
	"         \"size\": 525\n"
	"      },\n"
	"      {\n"
	"         \"digest\": \"sha256:31e099e124dbb1ab22ee73cef4825ce2b8ea719cbb102c19642b6c861e0759cb\",\n"
	"         \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
	"         \"platform\": {\"architecture\": \"arm\", \"os\": \"linux\", \"variant\": \"v7\"},\n"
	"         \"size\": 525\n"
	"      },\n"
	"      {\n"
	"         \"digest\": \"sha256:8e2472c530333de1f9bcb90e37e016a05482f80796f8573d54f0f302196c7b71\",\n"
	"         \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
	"         \"platform\": {\"architecture\": \"arm64\", \"os\": \"linux\", \"variant\": \"v8\"},\n"
	"         \"size\": 525\n"
	"      },\n"
	"      {\n"
	"         \"digest\": \"sha256:acfd8803db9126db875dc572da9f70618b2941fee0532fc275d3cbc689855880\",\n"
	"         \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
	"         \"platform\": {\"architecture\": \"amd64\", \"os\": \"windows\",\n"
	"                      \"os.version\": \"10.0.20348.2113\", \"os.features\": [\"win32k\"]},\n"
	"         \"size\": 946\n"
	"      }\n"
	"   ],\n"
	"   \"mediaType\": \"application/vnd.docker.distribution.manifest.list.v2+json\",\n"
	"   \"schemaVersion\": 2\n"
	"}";

/* Windows image: the base layers are foreign, fetched from their urls */
static const char windows_manifest[] =
	"{\n"
	"   \"schemaVersion\": 2,\n"
	"   \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
	"   \"config\": {\n"
	"      \"mediaType\": \"application/vnd.docker.container.image.v1+json\",\n"
	"      \"size\": 1970,\n"
	"      \"digest\": \"sha256:540dfc15d7fe480e1eeba6544358e5fa26d904f94e623757e4c0079bae91d940\"\n"
	"   },\n"
	"   \"layers\": [\n"
	"      {\n"
	"         \"mediaType\": \"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip\",\n"
	"         \"size\": 1501163530,\n"
	"         \"digest\": \"sha256:c1eb99cd4b2007ceabf2033e76e5670920e10728e866caef3a8f3f88c8586a97\",\n"
	"         \"urls\": [\n"
	"            \"https://mcr.microsoft.com/v2/windows/servercore/blobs/sha256:c1eb99cd4b2007ceabf2033e76e5670920e10728e866caef3a8f3f88c8586a97\"\n"
	"         ]\n"
	"      },\n"
	"      {\n"
	"         \"mediaType\": \"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip\",\n"
	"         \"size\": 651249811,\n"
	"         \"digest\": \"sha256:8a57d6944eabb354e75c52676e9144151599ca58b59054f4046d0ce7b32b9ea5\",\n"
	"         \"urls\": [\n"
	"            \"https://mcr.microsoft.com/v2/windows/servercore/blobs/sha256:8a57d6944eabb354e75c52676e9144151599ca58b59054f4046d0ce7b32b9ea5\"\n"
	"         ]\n"
	"      },\n"
	"      {\n"
	"         \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n"
	"         \"size\": 1275,\n"
	"         \"digest\": \"sha256:0bc8111546378f059da8322ecb8d13ea421a4d4b38589abaaf170ec5edcc78c2\"\n"
	"      }\n"
	"   ]\n"
	"}";

/* image-spec manifest.md "Example Image Manifest": subject and annotations */
static const char spec_manifest[] =
	"{\n"
	"  \"schemaVersion\": 2,\n"
	"  \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n"
	"  \"config\": {\n"
	"    \"mediaType\": \"application/vnd.oci.image.config.v1+json\",\n"
	"    \"digest\": \"sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7\",\n"
	"    \"size\": 7023\n"
	"  },\n"
	"  \"layers\": [\n"
	"    {\n"
	"      \"mediaType\": \"application/vnd.oci.image.layer.v1.tar+gzip\",\n"
	"      \"digest\": \"sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0\",\n"
	"      \"size\": 32654\n"
	"    },\n"
	"    {\n"
	"      \"mediaType\": \"application/vnd.oci.image.layer.v1.tar+gzip\",\n"
	"      \"digest\": \"sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b\",\n"
	"      \"size\": 16724\n"
	"    },\n"
	"    {\n"
	"      \"mediaType\": \"application/vnd.oci.image.layer.v1.tar+gzip\",\n"
	"      \"digest\": \"sha256:ec4b8955958665577945c89419d1af06b5f7636b4ac3da7f12184802ad867736\",\n"
	"      \"size\": 73109\n"
	"    }\n"
	"  ],\n"
	"  \"subject\": {\n"
	"    \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n"
	"    \"digest\": \"sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270\",\n"
	"    \"size\": 7682\n"
	"  },\n"
	"  \"annotations\": {\n"
	"    \"com.example.key1\": \"value1\",\n"
	"    \"com.example.key2\": \"value2\"\n"
	"  }\n"
	"}\n";

/* image-spec "Minimal artifact": artifactType, empty config and layer */
static const char spec_minimal_artifact[] =
	"{\n"
	"  \"schemaVersion\": 2,\n"
	"  \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n"
	"  \"artifactType\": \"application/vnd.example+type\",\n"
	"  \"config\": {\n"
	"    \"mediaType\": \"application/vnd.oci.empty.v1+json\",\n"
	"    \"digest\": \"sha256:" H_EMPTY "\",\n"
	"    \"size\": 2\n"
	"  },\n"
	"  \"layers\": [\n"
	"    {\n"
	"      \"mediaType\": \"application/vnd.oci.empty.v1+json\",\n"
	"      \"digest\": \"sha256:" H_EMPTY "\",\n"
	"      \"size\": 2\n"
	"    }\n"
	"  ],\n"
	"  \"annotations\": {\n"
	"    \"oci.opencontainers.image.created\": \"2023-01-02T03:04:05Z\",\n"
	"    \"com.example.data\": \"payload\"\n"
	"  }\n"
	"}\n";

/* An SBOM attached with oras attach: subject, artifactType, data inline */
static const char sbom_referrer[] =
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	"\"artifactType\":\"application/spdx+json\","
	"\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":\"sha256:" H_EMPTY "\","
	"\"size\":2,\"data\":\"e30=\"},"
	"\"layers\":[{\"mediaType\":\"application/spdx+json\","
	"\"digest\":\"sha256:98f3ae1ef67113d8140d4f6cb8d2830070e21ea48f091be519659846c771a374\",\"size\":18214,"
	"\"annotations\":{\"org.opencontainers.image.title\":\"sbom.spdx.json\"}}],"
	"\"subject\":{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	"\"digest\":\"sha256:174ee16f0aeaccefcdb131b3fd9ac77e85936d5212e9a9e4350bb2c7c96ff7f4\",\"size\":345},"
	"\"annotations\":{\"org.opencontainers.image.created\":\"2024-05-02T10:11:12Z\"}}";

/* A cosign-style signature with no layers at all: allowed, if unportable */
static const char artifact_no_layers[] =
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	"\"artifactType\":\"application/vnd.dev.cosign.artifact.sig.v1+json\","
	"\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":\"sha256:" H_EMPTY "\",\"size\":2},"
	"\"layers\":[]}";

/* BuildKit index with an attestation manifest; the index is itself an
 * artifact referring to another index */
static const char buildkit_index[] =
	"{\n"
	"  \"schemaVersion\": 2,\n"
	"  \"mediaType\": \"application/vnd.oci.image.index.v1+json\",\n"
	"  \"artifactType\": \"application/vnd.example.bundle.v1\",\n"
	"  \"manifests\": [\n"
	"    {\n"
	"      \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n"
	"      \"digest\": \"sha256:e8ac0ae3d6b9c1ef504a0094d84b912ecf16848841a274e36fdf7279438dd672\",\n"
	"      \"size\": 673,\n"
	"      \"platform\": {\"architecture\": \"amd64\", \"os\": \"linux\"}\n"
	"    },\n"
	"    {\n"
	"      \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n"
	"      \"digest\": \"sha256:79d7c16d6c09c0d3b7fa3f993d42b591e440e6f91012e73ecb34830194952143\",\n"
	"      \"size\": 566,\n"
	"      \"annotations\": {\n"
	"        \"vnd.docker.reference.digest\": \"sha256:e8ac0ae3d6b9c1ef504a0094d84b912ecf16848841a274e36fdf7279438dd672\",\n"
	"        \"vnd.docker.reference.type\": \"attestation-manifest\"\n"
	"      },\n"
	"      \"platform\": {\"architecture\": \"unknown\", \"os\": \"unknown\"}\n"
	"    },\n"
	"    {\n"
	"      \"mediaType\": \"application/vnd.oci.image.index.v1+json\",\n"
	"      \"digest\": \"sha512:a4abd4448c49562d828115d13a1fccea927f52b4d5459297f8b43e42da89238bc13626e43dcb38ddb082488927ec904fb42057443983e88585179d50551afe62\",\n"
	"      \"size\": 1024\n"
	"    }\n"
	"  ],\n"
	"  \"subject\": {\n"
	"    \"mediaType\": \"application/vnd.oci.image.index.v1+json\",\n"
	"    \"digest\": \"sha256:146aa2c559af8ce24d672d8daaeea51f0fd5e895030a2fe51f6cabbb999f75c4\",\n"
	"    \"size\": 1609\n"
	"  },\n"
	"  \"annotations\": {\"org.opencontainers.image.description\": \"caf\\u00e9 \\\"bundle\\\"\"}\n"
	"}\n";

static manifest_info *validate_ok(int line, const char *ct, const char *body)
{
	manifest_info *m = NULL;
	berth_error err = { 0, "" };
	int rc = manifest_validate(ct, body, strlen(body), &m, &err);

	test_checks++;
	if (rc != 0 || !m) {
		test_failures++;
		fprintf(stderr, "%s:%d: manifest_validate failed (%d): %s\n",
			__FILE__, line, rc, err.message);
	}
	return m;
}

static int printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

static void validate_bad_n(const char *where, int n, const char *ct,
			   const void *body, size_t len, const char *want)
{
	manifest_info *m = (manifest_info *)&m;
	berth_error err = { 0, "" };
	int rc = manifest_validate(ct, body, len, &m, &err);

	test_checks++;
	if (rc != BERTH_E_INVALID || m != NULL || err.code != rc ||
	    !strstr(err.message, want) || !printable(err.message)) {
		test_failures++;
		fprintf(stderr, "%s:%s %d: rc %d, message \"%s\", expected %d and \"%s\"\n",
			__FILE__, where, n, rc, err.message, BERTH_E_INVALID, want);
	}
	manifest_info_free(m == (manifest_info *)&m ? NULL : m);
}

#define OK(ct, body) validate_ok(__LINE__, ct, body)
#define BAD(ct, body, want) validate_bad_n("line", __LINE__, ct, body, strlen(body), want)

static void check_ref(const manifest_ref *r, const char *mt, const char *digest_str,
		      int64_t size)
{
	char s[DIGEST_STRING_MAX];

	digest_format(&r->digest, s);
	CHECK_STR(r->media_type, mt);
	CHECK_STR(s, digest_str);
	CHECK_INT(r->size, size);
}

static void test_docker(void)
{
	manifest_info *m;

	m = OK(MEDIA_TYPE_DOCKER_MANIFEST, skopeo_v2s2);
	if (m) {
		CHECK_INT(m->kind, MANIFEST_DOCKER_V2);
		CHECK_STR(m->media_type, MEDIA_TYPE_DOCKER_MANIFEST);
		CHECK_INT(m->n_blobs, 2);
		CHECK_INT(m->n_children, 0);
		check_ref(&m->blobs[0], MEDIA_TYPE_DOCKER_CONFIG, D_CONFIG, 400);
		check_ref(&m->blobs[1], MEDIA_TYPE_DOCKER_LAYER, D_LAYER, 102);
		CHECK(!m->blobs[1].is_foreign);
		CHECK(!m->has_subject);
		CHECK_STR(m->artifact_type, MEDIA_TYPE_DOCKER_CONFIG);
		CHECK(m->annotations_json == NULL);
	}
	manifest_info_free(m);

	/* Content-Type parameters and case do not matter */
	m = OK("Application/VND.docker.distribution.manifest.v2+json ; charset=utf-8",
	       docker_doc_manifest);
	if (m) {
		CHECK_INT(m->kind, MANIFEST_DOCKER_V2);
		CHECK_INT(m->n_blobs, 4);
		check_ref(&m->blobs[3], MEDIA_TYPE_DOCKER_LAYER,
			  "sha256:ec4b8955958665577945c89419d1af06b5f7636b4ac3da7f12184802ad867736",
			  73109);
	}
	manifest_info_free(m);

	/* the body's mediaType decides when Content-Type says nothing useful */
	manifest_info_free(OK(NULL, skopeo_v2s2));
	manifest_info_free(OK("application/json", skopeo_v2s2));
	manifest_info_free(OK("application/octet-stream", skopeo_v2s2));

	m = OK(MEDIA_TYPE_DOCKER_LIST, podman_list);
	if (m) {
		CHECK_INT(m->kind, MANIFEST_DOCKER_LIST);
		CHECK_STR(m->media_type, MEDIA_TYPE_DOCKER_LIST);
		CHECK_INT(m->n_blobs, 0);
		CHECK_INT(m->n_children, 1);
		check_ref(&m->children[0], MEDIA_TYPE_DOCKER_MANIFEST,
			  "sha256:dfb3a15141b81b2d8b40107b419c515ea1e5c5fca02f5490aafaffe6dc359423", 423);
		CHECK(m->artifact_type == NULL);
	}
	manifest_info_free(m);

	m = OK(MEDIA_TYPE_DOCKER_LIST, hub_list);
	if (m) {
		CHECK_INT(m->n_children, 4);
		check_ref(&m->children[3], MEDIA_TYPE_DOCKER_MANIFEST,
			  "sha256:acfd8803db9126db875dc572da9f70618b2941fee0532fc275d3cbc689855880", 946);
	}
	manifest_info_free(m);

	m = OK(MEDIA_TYPE_DOCKER_MANIFEST, windows_manifest);
	if (m) {
		CHECK_INT(m->n_blobs, 4);
		CHECK(!m->blobs[0].is_foreign);
		CHECK(m->blobs[1].is_foreign);
		CHECK(m->blobs[2].is_foreign);
		CHECK(!m->blobs[3].is_foreign);
		CHECK_INT(m->blobs[1].size, 1501163530);
	}
	manifest_info_free(m);

	/* subject and annotations are OCI fields: a Docker manifest keeps
	 * them as unknown fields, unread */
	m = OK(NULL, "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
		     "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"size\":400,"
		     "\"digest\":\"" D_CONFIG "\"},\"layers\":[],\"subject\":7,\"annotations\":[1],"
		     "\"artifactType\":false}");
	if (m) {
		CHECK(!m->has_subject);
		CHECK(m->annotations_json == NULL);
		CHECK_STR(m->artifact_type, MEDIA_TYPE_DOCKER_CONFIG);
	}
	manifest_info_free(m);
}

static void test_oci(void)
{
	manifest_info *m;

	/* umoci writes no mediaType: Content-Type decides, else the shape */
	m = OK(MEDIA_TYPE_OCI_MANIFEST, umoci_manifest);
	if (m) {
		CHECK_INT(m->kind, MANIFEST_OCI_IMAGE);
		CHECK_STR(m->media_type, MEDIA_TYPE_OCI_MANIFEST);
		CHECK_INT(m->n_blobs, 2);
		check_ref(&m->blobs[0], MEDIA_TYPE_OCI_CONFIG, D_CONFIG, 400);
		check_ref(&m->blobs[1], MEDIA_TYPE_OCI_LAYER_GZIP, D_LAYER, 102);
		CHECK_STR(m->artifact_type, MEDIA_TYPE_OCI_CONFIG);
		CHECK(m->annotations_json == NULL);
		CHECK(!m->has_subject);
	}
	manifest_info_free(m);
	m = OK(NULL, umoci_manifest);
	CHECK(m && m->kind == MANIFEST_OCI_IMAGE);
	manifest_info_free(m);
	m = OK("application/json; charset=utf-8", umoci_manifest);
	CHECK(m && m->kind == MANIFEST_OCI_IMAGE);
	manifest_info_free(m);
	m = OK("text/plain", umoci_manifest);
	CHECK(m && m->kind == MANIFEST_OCI_IMAGE);
	manifest_info_free(m);

	m = OK(NULL, umoci_index);
	if (m) {
		CHECK_INT(m->kind, MANIFEST_OCI_INDEX);
		CHECK_STR(m->media_type, MEDIA_TYPE_OCI_INDEX);
		CHECK_INT(m->n_children, 1);
		CHECK(m->annotations_json == NULL);
		CHECK(m->artifact_type == NULL);
	}
	manifest_info_free(m);

	m = OK(MEDIA_TYPE_OCI_INDEX, podman_index);
	if (m) {
		CHECK_INT(m->kind, MANIFEST_OCI_INDEX);
		check_ref(&m->children[0], MEDIA_TYPE_OCI_MANIFEST,
			  "sha256:174ee16f0aeaccefcdb131b3fd9ac77e85936d5212e9a9e4350bb2c7c96ff7f4", 345);
	}
	manifest_info_free(m);

	m = OK(MEDIA_TYPE_OCI_MANIFEST, spec_manifest);
	if (m) {
		CHECK_INT(m->n_blobs, 4);
		CHECK(m->has_subject);
		check_ref(&m->subject, MEDIA_TYPE_OCI_MANIFEST,
			  "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270", 7682);
		CHECK_STR(m->artifact_type, MEDIA_TYPE_OCI_CONFIG);
		CHECK_STR(m->annotations_json,
			  "{\"com.example.key1\":\"value1\",\"com.example.key2\":\"value2\"}");
	}
	manifest_info_free(m);

	m = OK(MEDIA_TYPE_OCI_MANIFEST, spec_minimal_artifact);
	if (m) {
		CHECK_STR(m->artifact_type, "application/vnd.example+type");
		check_ref(&m->blobs[0], MEDIA_TYPE_OCI_EMPTY, OCI_EMPTY_DIGEST, OCI_EMPTY_SIZE);
		CHECK_STR(m->annotations_json,
			  "{\"oci.opencontainers.image.created\":\"2023-01-02T03:04:05Z\","
			  "\"com.example.data\":\"payload\"}");
	}
	manifest_info_free(m);

	m = OK(MEDIA_TYPE_OCI_MANIFEST, sbom_referrer);
	if (m) {
		CHECK_STR(m->artifact_type, "application/spdx+json");
		CHECK(m->has_subject);
		check_ref(&m->blobs[1], "application/spdx+json",
			  "sha256:98f3ae1ef67113d8140d4f6cb8d2830070e21ea48f091be519659846c771a374", 18214);
	}
	manifest_info_free(m);

	m = OK(MEDIA_TYPE_OCI_MANIFEST, artifact_no_layers);
	if (m) {
		CHECK_INT(m->n_blobs, 1);
		CHECK_STR(m->artifact_type, "application/vnd.dev.cosign.artifact.sig.v1+json");
	}
	manifest_info_free(m);

	m = OK(MEDIA_TYPE_OCI_INDEX, buildkit_index);
	if (m) {
		CHECK_INT(m->n_children, 3);
		CHECK_INT(m->children[2].digest.alg, DIGEST_SHA512);
		CHECK_STR(m->artifact_type, "application/vnd.example.bundle.v1");
		CHECK(m->has_subject);
		CHECK_STR(m->subject.media_type, MEDIA_TYPE_OCI_INDEX);
		/* annotations come back as UTF-8 JSON, escapes resolved */
		CHECK_STR(m->annotations_json,
			  "{\"org.opencontainers.image.description\":\"caf\xc3\xa9 \\\"bundle\\\"\"}");
	}
	manifest_info_free(m);

	/* an empty artifactType means none: config.mediaType stands in */
	m = OK(NULL, "{\"schemaVersion\":2,\"artifactType\":\"\",\"config\":{\"mediaType\":"
		     "\"application/vnd.cncf.helm.config.v1+json\",\"digest\":\"" D_CONFIG "\",\"size\":1},"
		     "\"layers\":[]}");
	CHECK(m && m->artifact_type && !strcmp(m->artifact_type, "application/vnd.cncf.helm.config.v1+json"));
	manifest_info_free(m);

	/* non-distributable layers are foreign only when they carry urls */
	m = OK(NULL, "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		     "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
		     "\"digest\":\"" D_CONFIG "\",\"size\":400,\"urls\":[\"https://example.com/c\"]},\"layers\":["
		     "{\"mediaType\":\"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip\","
		     "\"digest\":\"" D_LAYER "\",\"size\":5,\"urls\":[\"https://example.com/a\"]},"
		     "{\"mediaType\":\"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd\","
		     "\"digest\":\"" D_LAYER "\",\"size\":5,\"urls\":[]},"
		     "{\"mediaType\":\"application/vnd.oci.image.layer.nondistributable.v1.tar\","
		     "\"digest\":\"" D_LAYER "\",\"size\":5,\"urls\":[\"https://example.com/b\"]},"
		     "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
		     "\"digest\":\"" D_LAYER "\",\"size\":0,\"urls\":[\"https://example.com/b\"]}]}");
	if (m) {
		CHECK(!m->blobs[0].is_foreign);
		CHECK(m->blobs[1].is_foreign);
		CHECK(!m->blobs[2].is_foreign);
		CHECK(m->blobs[3].is_foreign);
		CHECK(!m->blobs[4].is_foreign);
	}
	manifest_info_free(m);

	/* an empty index is valid (image-index.md: the array MAY be empty) */
	m = OK(MEDIA_TYPE_OCI_INDEX, "{\"schemaVersion\":2,\"manifests\":[]}");
	CHECK(m && m->n_children == 0 && m->children == NULL);
	manifest_info_free(m);
}

/* A manifest with one config and n_layers layers, built in memory. */
static char *many_layers(size_t n_layers)
{
	static const char head[] =
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
		"\"digest\":\"" D_CONFIG "\",\"size\":400},\"layers\":[";
	static const char layer[] =
		"{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
		"\"digest\":\"" D_LAYER "\",\"size\":102}";
	size_t i, len = sizeof(head) + n_layers * sizeof(layer) + 4;
	char *s = malloc(len), *p;

	if (!s)
		return NULL;
	p = s + sprintf(s, "%s", head);
	for (i = 0; i < n_layers; i++)
		p += sprintf(p, "%s%s", i ? "," : "", layer);
	strcpy(p, "]}");
	return s;
}

static void test_limits(void)
{
	manifest_info *m;
	char *s, deep[400];
	size_t i;

	s = many_layers(MANIFEST_MAX_DESCRIPTORS - 1);
	CHECK(s != NULL);
	if (s) {
		m = OK(NULL, s);
		CHECK(m && m->n_blobs == MANIFEST_MAX_DESCRIPTORS);
		manifest_info_free(m);
		free(s);
	}
	s = many_layers(MANIFEST_MAX_DESCRIPTORS);
	if (s) {
		BAD(NULL, s, "manifest has 10001 descriptors, more than the limit of 10000");
		free(s);
	}

	/* nesting: 64 levels pass the depth check, 65 do not */
	strcpy(deep, "{\"schemaVersion\":2,\"manifests\":[],\"x\":");
	for (i = 0; i < 63; i++)
		strcat(deep, "[");
	for (i = 0; i < 63; i++)
		strcat(deep, "]");
	strcat(deep, "}");
	m = OK(NULL, deep);
	manifest_info_free(m);
	strcpy(deep, "{\"schemaVersion\":2,\"manifests\":[],\"x\":");
	for (i = 0; i < 64; i++)
		strcat(deep, "[");
	for (i = 0; i < 64; i++)
		strcat(deep, "]");
	strcat(deep, "}");
	BAD(NULL, deep, "manifest nests deeper than 64 levels");
	/* brackets inside strings are not nesting */
	strcpy(deep, "{\"schemaVersion\":2,\"manifests\":[],\"x\":\"");
	for (i = 0; i < 100; i++)
		strcat(deep, "[");
	strcat(deep, "\\\"\"}");
	manifest_info_free(OK(NULL, deep));
}

#define CFG "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" D_CONFIG "\",\"size\":1}"
#define LAYER(extra) "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" D_LAYER "\",\"size\":1" extra "}"
#define IMG(rest) "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"," rest "}"
#define IMG_LAYER(extra) IMG(CFG ",\"layers\":[" LAYER(extra) "]")
#define IDX(rest) "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\"," rest "}"
#define CHILD(extra) "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D_LAYER "\",\"size\":1" extra "}"

static const struct {
	const char *content_type;
	const char *body;
	const char *message;
} bad[] = {
	/* schema 1, by content type or by schemaVersion */
	{ MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED, skopeo_v2s1, "schema 1 is deprecated and refused: push with a current client" },
	{ NULL, skopeo_v2s1, "Docker image manifest v2 schema 2 or OCI" },
	{ "application/json", skopeo_v2s1, "schema 1 is deprecated" },
	{ MEDIA_TYPE_DOCKER_SCHEMA1 "; charset=utf-8", skopeo_v2s2, "schema 1 is deprecated" },
	{ NULL, "{\"schemaVersion\":2,\"mediaType\":\"" MEDIA_TYPE_DOCKER_SCHEMA1 "\"}", "schema 1 is deprecated" },

	/* not JSON, not an object */
	{ NULL, "", "manifest is not valid JSON: " },
	{ NULL, "{\"schemaVersion\":2,", "manifest is not valid JSON: " },
	{ NULL, "{\n\"schemaVersion\": 2,\n  \"config\": x}", "at line 3 column" },
	{ NULL, "{\"schemaVersion\":2}garbage", "manifest is not valid JSON: end of file expected" },
	{ NULL, "42", "manifest is not valid JSON: " },
	{ NULL, "[]", "manifest is not a JSON object" },
	{ NULL, "{\"schemaVersion\":2,\"x\":\"\xff\xfe\"}", "manifest is not valid JSON: " },
	{ NULL, "{\"schemaVersion\":2,\"x\":\"\\u0000\"}", "manifest is not valid JSON: " },
	{ NULL, "\xef\xbb\xbf{\"schemaVersion\":2}", "manifest is not valid JSON: " },
	{ NULL, "{\"schemaVersion\":2,\"schemaVersion\":2}", "manifest is ambiguous: duplicate object key" },
	{ NULL, IMG(CFG ",\"layers\":[" LAYER(",\"size\":2") "]"), "manifest is ambiguous: duplicate object key" },
	{ NULL, IMG(CFG ",\"layers\":[" LAYER("") "],\"x\":99999999999999999999"), "manifest is not valid JSON: too big integer" },

	/* schemaVersion */
	{ NULL, "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"}", "schemaVersion: missing" },
	{ NULL, "{\"schemaVersion\":\"2\"}", "schemaVersion: must be the integer 2" },
	{ NULL, "{\"schemaVersion\":2.0}", "schemaVersion: must be the integer 2" },
	{ NULL, "{\"schemaVersion\":3,\"manifests\":[]}", "schemaVersion: must be 2, not 3" },
	{ NULL, "{\"schemaVersion\":-1}", "schemaVersion: must be 2, not -1" },

	/* media type */
	{ NULL, "{\"schemaVersion\":2,\"mediaType\":7}", "mediaType: must be a string" },
	{ NULL, "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.config.v1+json\"}",
	  "unsupported manifest media type 'application/vnd.oci.image.config.v1+json'" },
	{ NULL, "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.OCI.image.manifest.v1+json\"}",
	  "unsupported manifest media type 'application/vnd.OCI.image.manifest.v1+json'" },
	{ MEDIA_TYPE_OCI_MANIFEST, skopeo_v2s2,
	  "content type application/vnd.oci.image.manifest.v1+json does not match mediaType "
	  "application/vnd.docker.distribution.manifest.v2+json" },
	{ MEDIA_TYPE_DOCKER_LIST, podman_index,
	  "content type application/vnd.docker.distribution.manifest.list.v2+json does not match mediaType "
	  "application/vnd.oci.image.index.v1+json" },
	{ MEDIA_TYPE_DOCKER_MANIFEST, umoci_manifest,
	  "mediaType: missing, and application/vnd.docker.distribution.manifest.v2+json requires it" },
	{ MEDIA_TYPE_DOCKER_LIST, umoci_index, "mediaType: missing, and application/vnd.docker.distribution.manifest.list.v2+json requires it" },
	{ NULL, "{\"schemaVersion\":2," CFG ",\"layers\":[],\"manifests\":[]}", "with both 'config' and 'manifests' the manifest is ambiguous" },
	{ NULL, "{\"schemaVersion\":2}", "mediaType: missing, and neither 'config' nor 'manifests' tells the manifest kind" },
	{ "application/json", "{\"schemaVersion\":2}", "neither 'config' nor 'manifests'" },
	{ "text/plain; q=1", "{\"schemaVersion\":2}", "unsupported manifest media type 'text/plain'" },

	/* one document, two readings (CVE-2021-41190) */
	{ NULL, IMG(CFG ",\"layers\":[],\"manifests\":[]"), "manifests: not allowed in an image manifest" },
	{ MEDIA_TYPE_OCI_MANIFEST, "{\"schemaVersion\":2," CFG ",\"layers\":[],\"manifests\":[]}", "manifests: not allowed in an image manifest" },
	{ NULL, IDX("\"manifests\":[]," CFG), "config: not allowed in an image index" },
	{ MEDIA_TYPE_OCI_INDEX, "{\"schemaVersion\":2,\"manifests\":[],\"layers\":[]}", "layers: not allowed in an image index" },

	/* image manifest shape */
	{ NULL, IMG("\"layers\":[]"), "config: missing" },
	{ NULL, IMG(CFG), "layers: missing" },
	{ NULL, IMG(CFG ",\"layers\":{}"), "layers: must be an array" },
	{ NULL, IMG("\"config\":\"x\",\"layers\":[]"), "config: must be an object" },
	{ NULL, IMG(CFG ",\"layers\":[null]"), "layers[0]: must be an object" },

	/* descriptor fields */
	{ NULL, IMG(CFG ",\"layers\":[" LAYER("") ",{\"digest\":\"" D_LAYER "\",\"size\":1}]"), "layers[1].mediaType: missing" },
	{ NULL, IMG(CFG ",\"layers\":[{\"mediaType\":7,\"digest\":\"" D_LAYER "\",\"size\":1}]"), "layers[0].mediaType: must be a string" },
	{ NULL, IMG(CFG ",\"layers\":[{\"mediaType\":\"not a type\",\"digest\":\"" D_LAYER "\",\"size\":1}]"),
	  "layers[0].mediaType: invalid media type 'not a type'" },
	{ NULL, IMG(CFG ",\"layers\":[{\"mediaType\":\"application/\",\"digest\":\"" D_LAYER "\",\"size\":1}]"),
	  "layers[0].mediaType: invalid media type 'application/'" },
	{ NULL, IMG(CFG ",\"layers\":[{\"mediaType\":\"application/x;a=b\",\"digest\":\"" D_LAYER "\",\"size\":1}]"),
	  "layers[0].mediaType: invalid media type" },
	{ NULL, IMG(CFG ",\"layers\":[" LAYER("") "," LAYER("") "," LAYER("") ","
		"{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:xyz\",\"size\":1}]"),
	  "layers[3].digest: invalid digest 'sha256:xyz'" },
	{ NULL, IMG(CFG ",\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":"
		"\"md5:d41d8cd98f00b204e9800998ecf8427e\",\"size\":1}]"),
	  "layers[0].digest: unsupported digest algorithm 'md5'" },
	{ NULL, IMG(CFG ",\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":"
		"\"SHA256:" H_LAYER "\",\"size\":1}]"), "layers[0].digest: invalid digest 'SHA256:" },
	{ NULL, IMG(CFG ",\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":"
		"\"sha256:39DA0E695D22066C83DD729EE6131AF61028B02B3F23C3C6FA696A657B8920F5\",\"size\":1}]"),
	  "layers[0].digest: invalid digest 'sha256:39DA0E69" },
	{ NULL, IMG("\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":1},\"layers\":[]"),
	  "config.digest: missing" },
	{ NULL, IMG("\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":1,\"digest\":5},\"layers\":[]"),
	  "config.digest: must be a string" },
	{ NULL, IMG("\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" D_CONFIG "\"},\"layers\":[]"),
	  "config.size: missing" },
	{ NULL, IMG_LAYER(",\"size\":-1"), "manifest is ambiguous: duplicate object key" },
	{ NULL, IMG(CFG ",\"layers\":[{\"mediaType\":\"a/b\",\"digest\":\"" D_LAYER "\",\"size\":-1}]"),
	  "layers[0].size: must be a non-negative integer" },
	{ NULL, IMG(CFG ",\"layers\":[{\"mediaType\":\"a/b\",\"digest\":\"" D_LAYER "\",\"size\":1.5}]"),
	  "layers[0].size: must be a non-negative integer" },
	{ NULL, IMG(CFG ",\"layers\":[{\"mediaType\":\"a/b\",\"digest\":\"" D_LAYER "\",\"size\":\"12\"}]"),
	  "layers[0].size: must be a non-negative integer" },
	{ NULL, IMG_LAYER(",\"urls\":\"https://example.com\""), "layers[0].urls: must be an array of strings" },
	{ NULL, IMG_LAYER(",\"urls\":[\"https://example.com\",1]"), "layers[0].urls[1]: must be a string" },
	{ NULL, IMG_LAYER(",\"annotations\":[]"), "layers[0].annotations: must be an object of strings" },
	{ NULL, IMG_LAYER(",\"annotations\":{\"a\":\"b\",\"k\":1}"), "layers[0].annotations['k']: must be a string" },
	{ NULL, IMG_LAYER(",\"artifactType\":5"), "layers[0].artifactType: must be a string" },
	{ NULL, IMG_LAYER(",\"artifactType\":\"sbom\""), "layers[0].artifactType: invalid media type 'sbom'" },
	{ NULL, IMG_LAYER(",\"data\":\"e30\""), "layers[0].data: must be standard base64" },
	{ NULL, IMG_LAYER(",\"data\":\"e3=0\""), "layers[0].data: must be standard base64" },
	{ NULL, IMG_LAYER(",\"data\":null"), "layers[0].data: must be a string" },

	/* top-level OCI fields */
	{ NULL, IMG(CFG ",\"layers\":[],\"annotations\":{\"a\":1}"), "annotations['a']: must be a string" },
	{ NULL, IMG(CFG ",\"layers\":[],\"annotations\":\"a\""), "annotations: must be an object of strings" },
	{ NULL, IMG(CFG ",\"layers\":[],\"artifactType\":[]"), "artifactType: must be a string" },
	{ NULL, IMG(CFG ",\"layers\":[],\"artifactType\":\"application/vnd.example+type; v=1\""),
	  "artifactType: invalid media type 'application/vnd.example+type; v=1'" },
	{ NULL, IMG(CFG ",\"layers\":[],\"subject\":\"sha256:" H_LAYER "\""), "subject: must be an object" },
	{ NULL, IMG(CFG ",\"layers\":[],\"subject\":{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		"\"digest\":\"sha256:1234\",\"size\":1}"), "subject.digest: invalid digest 'sha256:1234'" },

	/* index shape */
	{ MEDIA_TYPE_OCI_INDEX, "{\"schemaVersion\":2}", "manifests: missing" },
	{ NULL, IDX("\"manifests\":{}"), "manifests: must be an array" },
	{ NULL, IDX("\"manifests\":[" CHILD("") ",{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D_LAYER "\"}]"),
	  "manifests[1].size: missing" },
	{ NULL, IDX("\"manifests\":[" CHILD(",\"platform\":\"linux/amd64\"") "]"), "manifests[0].platform: must be an object" },
	{ NULL, IDX("\"manifests\":[" CHILD(",\"platform\":{\"architecture\":\"amd64\"}") "]"), "manifests[0].platform.os: missing" },
	{ NULL, IDX("\"manifests\":[" CHILD(",\"platform\":{\"os\":\"linux\"}") "]"), "manifests[0].platform.architecture: missing" },
	{ NULL, IDX("\"manifests\":[" CHILD(",\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":7}") "]"),
	  "manifests[0].platform.variant: must be a string" },
	{ NULL, IDX("\"manifests\":[" CHILD(",\"platform\":{\"architecture\":\"amd64\",\"os\":\"windows\",\"os.features\":[1]}") "]"),
	  "manifests[0].platform.os.features[0]: must be a string" },
	{ NULL, IDX("\"manifests\":[],\"subject\":{\"mediaType\":\"a/b\",\"size\":1}"), "subject.digest: missing" },
	{ NULL, IDX("\"manifests\":[],\"annotations\":{\"x\":false}"), "annotations['x']: must be a string" },

	/* client bytes in messages are made printable */
	{ NULL, IMG(CFG ",\"layers\":[{\"mediaType\":\"a\\u0001\\n\\u00e9/b\",\"digest\":\"" D_LAYER "\",\"size\":1}]"),
	  "layers[0].mediaType: invalid media type 'a???" },
};

static void test_bad(void)
{
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		validate_bad_n("bad[]", (int)i, bad[i].content_type, bad[i].body,
			       strlen(bad[i].body), bad[i].message);

	validate_bad_n("line", __LINE__, NULL, NULL, 5, "manifest: no body");
	validate_bad_n("line", __LINE__, NULL, NULL, 0, "manifest is not valid JSON");
	/* bytes after a NUL are part of the body */
	validate_bad_n("line", __LINE__, NULL, "{\"schemaVersion\":2}\0{}", 22, "manifest is not valid JSON");

	/* a long value is cut in the message */
	{
		char body[1024], *p;

		p = body + sprintf(body, "{\"schemaVersion\":2,\"mediaType\":\"");
		memset(p, 'x', 500);
		strcpy(p + 500, "\"}");
		BAD(NULL, body, "unsupported manifest media type 'xxxxxxxx");
	}
}

static void test_known(void)
{
	CHECK(manifest_media_type_known(MEDIA_TYPE_OCI_MANIFEST));
	CHECK(manifest_media_type_known(MEDIA_TYPE_OCI_INDEX));
	CHECK(manifest_media_type_known(MEDIA_TYPE_DOCKER_MANIFEST));
	CHECK(manifest_media_type_known(MEDIA_TYPE_DOCKER_LIST));
	CHECK(manifest_media_type_known(" Application/VND.OCI.image.manifest.v1+json ; charset=utf-8"));
	CHECK(manifest_media_type_known("\tapplication/vnd.oci.image.index.v1+json\t"));
	CHECK(!manifest_media_type_known(NULL));
	CHECK(!manifest_media_type_known(""));
	CHECK(!manifest_media_type_known("application/json"));
	CHECK(!manifest_media_type_known(MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED));
	CHECK(!manifest_media_type_known(MEDIA_TYPE_OCI_CONFIG));
	CHECK(!manifest_media_type_known("application/vnd.oci.image.manifest.v1+jsonx"));
	CHECK(!manifest_media_type_known("application/vnd.oci.image.manifest.v1"));
}

#define TYPE_OF(body, want) CHECK_STR(manifest_media_type_of(body, strlen(body)), want)

static void test_type_of(void)
{
	char big[70000];

	TYPE_OF(skopeo_v2s2, MEDIA_TYPE_DOCKER_MANIFEST);
	TYPE_OF(docker_doc_manifest, MEDIA_TYPE_DOCKER_MANIFEST);
	TYPE_OF(podman_list, MEDIA_TYPE_DOCKER_LIST);
	TYPE_OF(hub_list, MEDIA_TYPE_DOCKER_LIST);
	TYPE_OF(podman_index, MEDIA_TYPE_OCI_INDEX);
	TYPE_OF(buildkit_index, MEDIA_TYPE_OCI_INDEX);
	TYPE_OF(spec_manifest, MEDIA_TYPE_OCI_MANIFEST);
	TYPE_OF(umoci_manifest, MEDIA_TYPE_OCI_MANIFEST);
	TYPE_OF(umoci_index, MEDIA_TYPE_OCI_INDEX);
	TYPE_OF(skopeo_v2s1, MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED);
	TYPE_OF("{\"schemaVersion\": 1, \"fsLayers\": []}", MEDIA_TYPE_DOCKER_SCHEMA1);
	TYPE_OF("{\"schemaVersion\": 1}", MEDIA_TYPE_DOCKER_SCHEMA1);
	TYPE_OF("{\"schemaVersion\": 10, \"fsLayers\": []}", MEDIA_TYPE_OCI_MANIFEST);

	/* a nested mediaType before the top-level one */
	TYPE_OF("{\"config\":{\"mediaType\":\"application/vnd.docker.distribution.manifest.list.v2+json\"},"
		"\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\"}",
		MEDIA_TYPE_DOCKER_MANIFEST);
	/* only nested ones: the shape decides */
	TYPE_OF("{\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"}]}",
		MEDIA_TYPE_OCI_INDEX);
	TYPE_OF("{\"x\":{\"mediaType\":\"application/vnd.oci.image.index.v1+json\"}}",
		MEDIA_TYPE_OCI_MANIFEST);
	/* the text "mediaType" inside strings, with escaped quotes */
	TYPE_OF("{\"annotations\":{\"a\":\"\\\"mediaType\\\":\\\"application/vnd.oci.image.index.v1+json\\\"\"},"
		"\"config\":{}}", MEDIA_TYPE_OCI_MANIFEST);
	TYPE_OF("{\"a\":\"x\\\\\",\"mediaType\":\"application/vnd.oci.image.index.v1+json\"}",
		MEDIA_TYPE_OCI_INDEX);
	TYPE_OF("{\"mediaType \":\"application/vnd.oci.image.index.v1+json\"}", MEDIA_TYPE_OCI_MANIFEST);
	TYPE_OF("{\"a\":[\"]\",\"}\",{\"b\":\"{\"}],\"mediaType\":\"application/vnd.oci.image.index.v1+json\"}",
		MEDIA_TYPE_OCI_INDEX);
	/* escapes in the key and the value mean the same text */
	TYPE_OF("{\"media\\u0054ype\":\"application\\/vnd.docker.distribution.manifest.list.v2+json\"}",
		MEDIA_TYPE_DOCKER_LIST);
	/* later duplicates win */
	TYPE_OF("{\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
		"\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"manifests\":[]}",
		MEDIA_TYPE_OCI_MANIFEST);
	TYPE_OF("{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"mediaType\":7,\"config\":1}",
		MEDIA_TYPE_OCI_MANIFEST);
	/* unknown values fall back to the shape */
	TYPE_OF("{\"mediaType\":\"application/vnd.example\",\"manifests\":[]}", MEDIA_TYPE_OCI_INDEX);
	TYPE_OF("{\"mediaType\":\"APPLICATION/VND.OCI.IMAGE.INDEX.V1+JSON\"}", MEDIA_TYPE_OCI_MANIFEST);
	TYPE_OF("{\"mediaType\":\"application/vnd.oci.image.index.v1+json\\u00e9\"}", MEDIA_TYPE_OCI_MANIFEST);
	/* a whitespace-heavy body */
	TYPE_OF(" \r\n\t{ \"x\" : [ 1 , 2 ] ,\n \"mediaType\" :\t\"application/vnd.oci.image.index.v1+json\" \n}\n",
		MEDIA_TYPE_OCI_INDEX);

	/* broken bytes never crash and fall back */
	CHECK_STR(manifest_media_type_of(NULL, 10), MEDIA_TYPE_OCI_MANIFEST);
	TYPE_OF("", MEDIA_TYPE_OCI_MANIFEST);
	TYPE_OF("[{\"mediaType\":\"application/vnd.oci.image.index.v1+json\"}]", MEDIA_TYPE_OCI_MANIFEST);
	TYPE_OF("{", MEDIA_TYPE_OCI_MANIFEST);
	TYPE_OF("{\"mediaType\"", MEDIA_TYPE_OCI_MANIFEST);
	TYPE_OF("{\"mediaType\":", MEDIA_TYPE_OCI_MANIFEST);
	TYPE_OF("{\"mediaType\":\"application/vnd.oci.image.index.v1+json", MEDIA_TYPE_OCI_MANIFEST);
	TYPE_OF("{\"mediaType\":\"application/vnd.oci.image.index.v1+json\\", MEDIA_TYPE_OCI_MANIFEST);
	TYPE_OF("{\"mediaType\":\"\\u00", MEDIA_TYPE_OCI_MANIFEST);
	TYPE_OF("{\"a\":\"\\q\",\"mediaType\":\"application/vnd.oci.image.index.v1+json\"}", MEDIA_TYPE_OCI_MANIFEST);
	TYPE_OF("{\"mediaType\":\"application/vnd.oci.image.index.v1+json\"", MEDIA_TYPE_OCI_INDEX);
	CHECK_STR(manifest_media_type_of("{\"schemaVersion\":1", 18), MEDIA_TYPE_DOCKER_SCHEMA1);
	CHECK_STR(manifest_media_type_of("{\"mediaType\":\"application/vnd.oci.image.index.v1+json\"}", 20), MEDIA_TYPE_OCI_MANIFEST);

	/* a big body is scanned to its end */
	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"layers\":[", 11);
	memcpy(big + sizeof(big) - 60, "],\"mediaType\":\"application/vnd.oci.image.index.v1+json\"}", 56);
	CHECK_STR(manifest_media_type_of(big, sizeof(big)), MEDIA_TYPE_OCI_INDEX);
}

static void test_type_of_agrees(void)
{
	const char *bodies[] = { skopeo_v2s2, docker_doc_manifest, podman_list, hub_list,
				 windows_manifest, podman_index, spec_manifest,
				 spec_minimal_artifact, sbom_referrer, buildkit_index,
				 umoci_manifest, umoci_index };
	size_t i;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		manifest_info *m = OK(NULL, bodies[i]);

		if (m)
			CHECK_STR(manifest_media_type_of(bodies[i], strlen(bodies[i])),
				  m->media_type);
		manifest_info_free(m);
	}
}

static void test_accept(void)
{
	static const char docker_accept[] =
		"application/vnd.docker.distribution.manifest.v2+json, "
		"application/vnd.docker.distribution.manifest.list.v2+json, "
		"application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
		"application/vnd.docker.distribution.manifest.v1+prettyjws, application/json";

	CHECK(accept_allows(NULL, MEDIA_TYPE_OCI_MANIFEST));
	CHECK(accept_allows("", MEDIA_TYPE_OCI_MANIFEST));
	CHECK(accept_allows(" \t ", MEDIA_TYPE_OCI_MANIFEST));
	CHECK(accept_allows("*/*", MEDIA_TYPE_OCI_INDEX));
	CHECK(accept_allows("application/*", MEDIA_TYPE_DOCKER_LIST));
	CHECK(accept_allows("APPLICATION/*", MEDIA_TYPE_DOCKER_LIST));
	CHECK(!accept_allows("text/*", MEDIA_TYPE_DOCKER_LIST));
	CHECK(!accept_allows("text/html", MEDIA_TYPE_DOCKER_LIST));

	CHECK(accept_allows(docker_accept, MEDIA_TYPE_OCI_MANIFEST));
	CHECK(accept_allows(docker_accept, MEDIA_TYPE_DOCKER_LIST));
	CHECK(!accept_allows("application/vnd.docker.distribution.manifest.v2+json", MEDIA_TYPE_OCI_MANIFEST));
	CHECK(!accept_allows("application/vnd.docker.distribution.manifest.v2+json",
			     MEDIA_TYPE_DOCKER_LIST));
	CHECK(accept_allows("application/vnd.docker.distribution.manifest.v2+json,"
			    "application/vnd.docker.distribution.manifest.list.v2+json",
			    MEDIA_TYPE_DOCKER_LIST));

	/* case, parameters, OWS */
	CHECK(accept_allows("APPLICATION/VND.OCI.IMAGE.MANIFEST.V1+JSON", MEDIA_TYPE_OCI_MANIFEST));
	CHECK(accept_allows("  application/vnd.oci.image.manifest.v1+json  ;  q=0.5  ", MEDIA_TYPE_OCI_MANIFEST));
	CHECK(accept_allows("application/vnd.oci.image.manifest.v1+json", MEDIA_TYPE_OCI_MANIFEST "; charset=utf-8"));
	CHECK(accept_allows("text/plain; charset=\"a,application/vnd.oci.image.index.v1+json\", "
			    "application/vnd.oci.image.manifest.v1+json", MEDIA_TYPE_OCI_MANIFEST));
	CHECK(!accept_allows("text/plain; charset=\"a,application/vnd.oci.image.index.v1+json\"",
			     MEDIA_TYPE_OCI_INDEX));
	CHECK(!accept_allows("text/plain; charset=\"a\\\",application/vnd.oci.image.index.v1+json\"",
			     MEDIA_TYPE_OCI_INDEX));

	/* q-values: 0 refuses; the most specific range decides */
	CHECK(!accept_allows("*/*;q=0", MEDIA_TYPE_OCI_MANIFEST));
	CHECK(!accept_allows("application/vnd.oci.image.index.v1+json;q=0, */*", MEDIA_TYPE_OCI_INDEX));
	CHECK(accept_allows("application/vnd.oci.image.index.v1+json;q=0, */*", MEDIA_TYPE_OCI_MANIFEST));
	CHECK(!accept_allows("application/*;q=0, */*", MEDIA_TYPE_OCI_MANIFEST));
	CHECK(accept_allows("application/*;q=0, application/vnd.oci.image.manifest.v1+json",
			    MEDIA_TYPE_OCI_MANIFEST));
	CHECK(!accept_allows("application/vnd.oci.image.index.v1+json; Q=0.000", MEDIA_TYPE_OCI_INDEX));
	CHECK(accept_allows("application/vnd.oci.image.index.v1+json; q=0.001", MEDIA_TYPE_OCI_INDEX));
	CHECK(accept_allows("application/vnd.oci.image.index.v1+json; q=1.000", MEDIA_TYPE_OCI_INDEX));
	CHECK(accept_allows("application/vnd.oci.image.index.v1+json; q=bogus", MEDIA_TYPE_OCI_INDEX));
	CHECK(accept_allows("application/vnd.oci.image.index.v1+json; q=0.0001", MEDIA_TYPE_OCI_INDEX));
	CHECK(accept_allows("application/vnd.oci.image.index.v1+json; level=1; q=0.2", MEDIA_TYPE_OCI_INDEX));
	CHECK(!accept_allows("application/vnd.oci.image.index.v1+json; level=1; q=0", MEDIA_TYPE_OCI_INDEX));
	/* a repeated range counts with its best q (joined Accept headers) */
	CHECK(accept_allows("application/vnd.oci.image.index.v1+json;q=0,application/vnd.oci.image.index.v1+json",
			    MEDIA_TYPE_OCI_INDEX));

	/* junk matches nothing */
	CHECK(!accept_allows(",", MEDIA_TYPE_OCI_INDEX));
	CHECK(!accept_allows(";;;", MEDIA_TYPE_OCI_INDEX));
	CHECK(!accept_allows("application", MEDIA_TYPE_OCI_INDEX));
	CHECK(!accept_allows("*/vnd.oci.image.index.v1+json", MEDIA_TYPE_OCI_INDEX));
	CHECK(!accept_allows("application/vnd.oci.image.index.v1+jso", MEDIA_TYPE_OCI_INDEX));
	CHECK(!accept_allows("*/*", NULL));
	CHECK(!accept_allows("*/*", "garbage"));
	CHECK(!accept_allows("\"", MEDIA_TYPE_OCI_INDEX));
}

int main(void)
{
	test_docker();
	test_oci();
	test_limits();
	test_bad();
	test_known();
	test_type_of();
	test_type_of_agrees();
	test_accept();
	TEST_MAIN_END();
}
