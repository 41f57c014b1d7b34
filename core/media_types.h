/*
 * media_types.h - the media type strings Berth reads, writes and compares.
 *
 * Sources: OCI image-spec media-types.md and manifest.md (OCI types), the
 * Docker image manifest v2 schema 2 document (Docker types). They are string
 * literals so they can be compared with strcmp, concatenated and used in
 * static tables; manifest_media_type_of() returns these very pointers.
 */
#ifndef BERTH_MEDIA_TYPES_H
#define BERTH_MEDIA_TYPES_H

/* OCI manifests */
#define MEDIA_TYPE_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MEDIA_TYPE_OCI_INDEX    "application/vnd.oci.image.index.v1+json"

/* OCI blobs */
#define MEDIA_TYPE_OCI_CONFIG     "application/vnd.oci.image.config.v1+json"
#define MEDIA_TYPE_OCI_LAYER      "application/vnd.oci.image.layer.v1.tar"
#define MEDIA_TYPE_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MEDIA_TYPE_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"

/* Deprecated by the image-spec but still found in Windows images: the blob
 * may live only at the descriptor's urls. */
#define MEDIA_TYPE_OCI_LAYER_NONDIST \
	"application/vnd.oci.image.layer.nondistributable.v1.tar"
#define MEDIA_TYPE_OCI_LAYER_NONDIST_GZIP \
	"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
#define MEDIA_TYPE_OCI_LAYER_NONDIST_ZSTD \
	"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"

/* The "empty descriptor" of manifest.md: content "{}", size 2. */
#define MEDIA_TYPE_OCI_EMPTY        "application/vnd.oci.empty.v1+json"
#define OCI_EMPTY_DIGEST \
	"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
#define OCI_EMPTY_SIZE              2

#define MEDIA_TYPE_OCI_DESCRIPTOR   "application/vnd.oci.descriptor.v1+json"
#define MEDIA_TYPE_OCI_LAYOUT       "application/vnd.oci.layout.header.v1+json"

/* Docker image manifest v2 schema 2 */
#define MEDIA_TYPE_DOCKER_MANIFEST \
	"application/vnd.docker.distribution.manifest.v2+json"
#define MEDIA_TYPE_DOCKER_LIST \
	"application/vnd.docker.distribution.manifest.list.v2+json"
#define MEDIA_TYPE_DOCKER_CONFIG   "application/vnd.docker.container.image.v1+json"
#define MEDIA_TYPE_DOCKER_LAYER    "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MEDIA_TYPE_DOCKER_FOREIGN_LAYER \
	"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
#define MEDIA_TYPE_DOCKER_PLUGIN_CONFIG "application/vnd.docker.plugin.v1+json"

/* Docker schema 1: refused on push, recognised only to say why. */
#define MEDIA_TYPE_DOCKER_SCHEMA1 \
	"application/vnd.docker.distribution.manifest.v1+json"
#define MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED \
	"application/vnd.docker.distribution.manifest.v1+prettyjws"

#define MEDIA_TYPE_JSON         "application/json"
#define MEDIA_TYPE_OCTET_STREAM "application/octet-stream"

#endif /* BERTH_MEDIA_TYPES_H */
