#!/usr/bin/env python3
"""OCI distribution-spec / Docker registry API conformance of berth, over raw HTTP.

Prints one `ok - name` / `not ok - name: details` line per check and a
`N passed, M failed` summary; exits 1 when anything failed.
"""

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from berth_harness import (  # noqa: E402
    BERTH_BIN, DOCKER_CONFIG, DOCKER_LAYER, DOCKER_LIST, DOCKER_MANIFEST, EMPTY_JSON,
    OCI_CONFIG, OCI_EMPTY, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, PLUGIN_DIR, REQUEST_TIMEOUT,
    CheckFailed, Server, absolute_path, add_query, canonical_json, describe_rc, digest_of,
    expect, expect_eq, expect_header, expect_true, fail, parse_raw_status, run_main,
    settle_storage, upload_uuid)

LINK_NEXT = re.compile(r'^<([^>]+)>\s*;\s*rel="?next"?$')


def blob_bytes(seed, size):
    out = b""
    i = 0
    while len(out) < size:
        out += hashlib.sha256(("%s/%d" % (seed, i)).encode()).digest()
        i += 1
    return out[:size]


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def expect_link(path, digest):
    if not os.path.isfile(path):
        fail("missing link file %s" % path)
    got = read_file(path).decode("utf-8", "replace")
    expect_eq(got, digest, "content of %s" % path)


def expect_location(resp, want_path):
    got = absolute_path(expect_header(resp, "Location"))
    got_path = urllib.parse.urlsplit(got).path
    if got_path != want_path:
        fail("Location path %r, want %r%s" % (got_path, want_path, resp.describe()))
    return got


# ---------------------------------------------------------------------------
# Base

def t_base(s):
    r = expect(s.get("/v2/"), 200)
    expect_eq(r.json(), {}, "GET /v2/ body")
    expect_header(r, "Docker-Distribution-API-Version", "registry/2.0")
    ctype = (r.header("Content-Type") or "").split(";")[0]
    expect_eq(ctype, "application/json", "GET /v2/ Content-Type")


def t_error_shape(s):
    r = expect(s.get("/v2/api/nothing/blobs/" + digest_of(b"never pushed")), 404, "BLOB_UNKNOWN")
    expect_header(r, "Docker-Distribution-API-Version", "registry/2.0")
    r = expect(s.head("/v2/api/nothing/blobs/" + digest_of(b"never pushed")), 404)
    expect_eq(r.body, b"", "HEAD 404 body")


# ---------------------------------------------------------------------------
# Blobs

def check_blob_readable(s, repo, data, digest):
    r = expect(s.head("/v2/%s/blobs/%s" % (repo, digest)), 200)
    expect_header(r, "Content-Length", str(len(data)))
    expect_header(r, "Docker-Content-Digest", digest)
    expect_eq(r.body, b"", "HEAD body")
    r = expect(s.get("/v2/%s/blobs/%s" % (repo, digest)), 200)
    expect_header(r, "Content-Length", str(len(data)))
    expect_header(r, "Docker-Content-Digest", digest)
    expect_header(r, "Content-Type", "application/octet-stream")
    expect_header(r, "Accept-Ranges", "bytes")
    if r.body != data:
        fail("GET blob returned %d bytes that differ from the %d pushed%s" % (len(r.body), len(data),
                                                                            r.describe(80)))
    if os.path.isfile(s.blob_path(digest)) is False:
        fail("blob data not at %s" % s.blob_path(digest))
    expect_eq(read_file(s.blob_path(digest)), data, "blob data on disk")
    alg, hexd = digest.split(":")
    expect_link(s.repo_dir(repo, "_layers", alg, hexd, "link"), digest)


def t_blob_monolithic(s):
    repo = "api/blobs"
    data = blob_bytes("mono", 1000)
    d = digest_of(data)
    r = expect(s.push_blob_monolithic(repo, data), 201)
    expect_location(r, "/v2/%s/blobs/%s" % (repo, d))
    expect_header(r, "Docker-Content-Digest", d)
    check_blob_readable(s, repo, data, d)


def t_blob_post_put(s):
    repo = "api/blobs"
    data = blob_bytes("postput", 777)
    d = digest_of(data)
    r = expect(s.request("POST", "/v2/%s/blobs/uploads/" % repo), 202)
    loc = absolute_path(expect_header(r, "Location"))
    u = upload_uuid(loc)
    s.uploads.add(u)
    if not urllib.parse.urlsplit(loc).path.startswith("/v2/%s/blobs/uploads/" % repo):
        fail("upload Location %r is not under /v2/%s/blobs/uploads/" % (loc, repo))
    expect_header(r, "Docker-Upload-UUID", u)
    expect_header(r, "Range", "0-0")
    r = expect(s.finish_upload(loc, d, data), 201)
    expect_location(r, "/v2/%s/blobs/%s" % (repo, d))
    expect_header(r, "Docker-Content-Digest", d)
    check_blob_readable(s, repo, data, d)
    if os.path.exists(s.repo_dir(repo, "_uploads", u)):
        fail("_uploads/%s still exists after the upload completed" % u)


def t_blob_sha512(s):
    repo = "api/sha512"
    data = blob_bytes("sha512-chunked", 3000)
    d = digest_of(data, "sha512")
    expect_true(len(d) == len("sha512:") + 128, "sha512 digest length")
    got = s.push_blob(repo, data, alg="sha512", chunk=1024)
    expect_eq(got, d, "digest")
    check_blob_readable(s, repo, data, d)
    mono = blob_bytes("sha512-mono", 500)
    md = digest_of(mono, "sha512")
    r = expect(s.push_blob_monolithic(repo, mono, alg="sha512"), 201)
    expect_header(r, "Docker-Content-Digest", md)
    expect_location(r, "/v2/%s/blobs/%s" % (repo, md))
    check_blob_readable(s, repo, mono, md)
    r = expect(s.get("/v2/%s/blobs/%s" % (repo, md), headers={"Range": "bytes=100-199"}), 206)
    expect_eq(r.body, mono[100:200], "sha512 ranged body")
    expect_header(r, "Content-Range", "bytes 100-199/500")


def t_blob_chunked(s):
    repo = "api/chunked"
    data = blob_bytes("chunked", 4 * 1000 + 123)
    d = digest_of(data)
    loc, _ = s.start_upload(repo)
    u = upload_uuid(loc)
    forms = ["%d-%d", "bytes %d-%d/*", "%d-%d", "%d-%d"]
    off = 0
    for i, form in enumerate(forms):
        piece = data[off:off + 1000]
        r = expect(s.patch(loc, piece, form % (off, off + len(piece) - 1)), 202)
        off += len(piece)
        expect_header(r, "Range", "0-%d" % (off - 1))
        expect_header(r, "Docker-Upload-UUID", u)
        loc = absolute_path(expect_header(r, "Location"))
        expect_eq(upload_uuid(loc), u, "upload uuid in Location after chunk %d" % i)
    r = expect(s.get(loc), 204)
    expect_header(r, "Range", "0-%d" % (off - 1))
    # the last chunk travels with the closing PUT
    r = expect(s.finish_upload(loc, d, data[off:]), 201)
    expect_header(r, "Docker-Content-Digest", d)
    check_blob_readable(s, repo, data, d)


def t_blob_chunked_put_no_body(s):
    repo = "api/chunked"
    data = blob_bytes("chunked2", 2500)
    d = digest_of(data)
    loc, _ = s.start_upload(repo)
    for off in (0, 1000, 2000):
        piece = data[off:off + 1000]
        r = expect(s.patch(loc, piece, "%d-%d" % (off, off + len(piece) - 1)), 202)
        loc = absolute_path(expect_header(r, "Location"))
    r = expect(s.finish_upload(loc, d), 201)
    check_blob_readable(s, repo, data, d)


def t_blob_streamed(s):
    repo = "api/streamed"
    data = blob_bytes("streamed", 3 * 65536 + 17)
    d = digest_of(data)
    loc, _ = s.start_upload(repo)
    # first a PATCH with Content-Length and no Content-Range
    r = expect(s.patch(loc, data[:65536]), 202)
    expect_header(r, "Range", "0-65535")
    loc = absolute_path(expect_header(r, "Location"))
    # then a PATCH with Transfer-Encoding: chunked, as docker sends it
    pieces = [data[65536 + i:65536 + i + 4096] for i in range(0, 2 * 65536, 4096)]
    r = expect(s.patch(loc, iter(pieces)), 202)
    expect_header(r, "Range", "0-%d" % (3 * 65536 - 1))
    loc = absolute_path(expect_header(r, "Location"))
    r = expect(s.patch(loc, data[3 * 65536:]), 202)
    expect_header(r, "Range", "0-%d" % (len(data) - 1))
    loc = absolute_path(expect_header(r, "Location"))
    r = expect(s.finish_upload(loc, d), 201)
    check_blob_readable(s, repo, data, d)


def t_upload_status(s):
    repo = "api/status"
    loc, _ = s.start_upload(repo)
    u = upload_uuid(loc)
    r = expect(s.get(loc), 204)
    expect_header(r, "Docker-Upload-UUID", u)
    expect_header(r, "Location")
    expect(s.patch(loc, b"0123456789"), 202)
    r = expect(s.get(loc), 204)
    expect_header(r, "Range", "0-9")
    expect_header(r, "Docker-Upload-UUID", u)
    loc2 = absolute_path(expect_header(r, "Location"))
    expect_eq(upload_uuid(loc2), u, "uuid in status Location")
    expect_true(os.path.isdir(s.repo_dir(repo, "_uploads", u)), "upload directory _uploads/%s exists" % u)
    expect(s.cancel_upload(loc2), 204)


def t_upload_cancel(s):
    repo = "api/cancel"
    loc, _ = s.start_upload(repo)
    u = upload_uuid(loc)
    expect(s.patch(loc, b"some bytes"), 202)
    expect(s.cancel_upload(loc), 204)
    expect(s.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")
    expect(s.patch(loc, b"more"), 404, "BLOB_UPLOAD_UNKNOWN")
    expect(s.request("PUT", add_query(loc, digest=digest_of(b"some bytes"))), 404, "BLOB_UPLOAD_UNKNOWN")
    expect(s.delete(loc), 404, "BLOB_UPLOAD_UNKNOWN")
    if os.path.exists(s.repo_dir(repo, "_uploads", u)):
        fail("_uploads/%s still on disk after cancel" % u)
    expect(s.head("/v2/%s/blobs/%s" % (repo, digest_of(b"some bytes"))), 404)


def t_upload_put_without_digest(s):
    repo = "api/nodigest"
    loc, _ = s.start_upload(repo)
    expect(s.patch(loc, b"abc"), 202)
    r = s.request("PUT", loc, headers={"Content-Type": "application/octet-stream"})
    try:
        expect(r, 400, "DIGEST_INVALID")
    finally:
        s.cancel_upload(loc)
        s.uploads.discard(upload_uuid(loc))
    expect(s.head("/v2/%s/blobs/%s" % (repo, digest_of(b"abc"))), 404)


def t_mount_from(s):
    src, dst = "api/mount/src", "api/mount/dst"
    data = blob_bytes("mount", 321)
    d = s.push_blob(src, data)
    expect(s.head("/v2/%s/blobs/%s" % (dst, d)), 404, None)
    r = expect(s.request("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (dst, d, src)), 201)
    expect_location(r, "/v2/%s/blobs/%s" % (dst, d))
    expect_header(r, "Docker-Content-Digest", d)
    check_blob_readable(s, dst, data, d)


def t_mount_from_repo_without_blob(s):
    src, other, dst = "api/mount/src", "api/mount/other", "api/mount/dst2"
    data = blob_bytes("mount-missing", 100)
    d = s.push_blob(src, data)
    s.push_blob(other, b"unrelated")
    r = expect(s.request("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (dst, d, other)), 202)
    loc = absolute_path(expect_header(r, "Location"))
    s.uploads.add(upload_uuid(loc))
    if "/blobs/uploads/" not in loc:
        fail("202 mount answer should point at a fresh upload, Location %r" % loc)
    expect(s.head("/v2/%s/blobs/%s" % (dst, d)), 404, None)
    # the fresh upload is usable
    r = expect(s.finish_upload(loc, d, data), 201)
    check_blob_readable(s, dst, data, d)
    unknown = digest_of(b"exists nowhere")
    r = expect(s.request("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (dst, unknown, src)), 202)
    loc = absolute_path(expect_header(r, "Location"))
    s.uploads.add(upload_uuid(loc))
    expect(s.cancel_upload(loc), 204)


def t_mount_without_from(s):
    src, dst = "api/mount/src", "api/mount/nofrom"
    data = blob_bytes("mount-nofrom", 222)
    d = s.push_blob(src, data)
    r = expect(s.request("POST", "/v2/%s/blobs/uploads/?mount=%s" % (dst, d)), 201)
    expect_location(r, "/v2/%s/blobs/%s" % (dst, d))
    check_blob_readable(s, dst, data, d)
    unknown = digest_of(b"exists nowhere either")
    r = expect(s.request("POST", "/v2/%s/blobs/uploads/?mount=%s" % (dst, unknown)), 202)
    loc = absolute_path(expect_header(r, "Location"))
    s.uploads.add(upload_uuid(loc))
    expect(s.cancel_upload(loc), 204)


def t_blob_scoped_to_repo(s):
    data = blob_bytes("scoped", 50)
    d = s.push_blob("api/scope/a", data)
    s.push_blob("api/scope/b", b"something else")
    expect(s.head("/v2/api/scope/b/blobs/%s" % d), 404)
    expect(s.get("/v2/api/scope/b/blobs/%s" % d), 404, "BLOB_UNKNOWN")
    expect(s.get("/v2/api/scope/never/blobs/%s" % d), 404)


def t_blob_delete(s):
    a, b = "api/bdel/a", "api/bdel/b"
    data = blob_bytes("bdel", 90)
    d = s.push_blob(a, data)
    expect(s.request("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (b, d, a)), 201)
    expect(s.delete("/v2/%s/blobs/%s" % (a, d)), 202)
    expect(s.head("/v2/%s/blobs/%s" % (a, d)), 404)
    expect(s.get("/v2/%s/blobs/%s" % (a, d)), 404, "BLOB_UNKNOWN")
    check_blob_readable(s, b, data, d)
    expect(s.delete("/v2/%s/blobs/%s" % (a, d)), 404, "BLOB_UNKNOWN")
    alg, hexd = d.split(":")
    if os.path.exists(s.repo_dir(a, "_layers", alg, hexd, "link")):
        fail("_layers link still present after blob delete")


def t_blob_range(s):
    repo = "api/range"
    data = blob_bytes("range", 100)
    d = s.push_blob(repo, data)
    r = expect(s.get("/v2/%s/blobs/%s" % (repo, d), headers={"Range": "bytes=10-19"}), 206)
    expect_eq(r.body, data[10:20], "ranged body")
    expect_header(r, "Content-Range", "bytes 10-19/100")
    expect_header(r, "Content-Length", "10")


# ---------------------------------------------------------------------------
# Manifests

def oci_image_body(s, repo, seed, media_type_field=True, extra=None):
    cfg = canonical_json({"architecture": "amd64", "os": "linux", "seed": seed,
                          "rootfs": {"type": "layers", "diff_ids": []}})
    layer = blob_bytes("layer-" + seed, 300)
    s.push_blob(repo, cfg)
    s.push_blob(repo, layer)
    m = {"schemaVersion": 2}
    if media_type_field:
        m["mediaType"] = OCI_MANIFEST
    m["config"] = {"mediaType": OCI_CONFIG, "digest": digest_of(cfg), "size": len(cfg)}
    m["layers"] = [{"mediaType": OCI_LAYER, "digest": digest_of(layer), "size": len(layer)}]
    m.update(extra or {})
    # not canonical on purpose: the registry must keep the exact bytes
    return (json.dumps(m, indent=2) + "\n").encode()


def docker_image_body(s, repo, seed):
    cfg = canonical_json({"architecture": "arm64", "os": "linux", "seed": seed,
                          "rootfs": {"type": "layers", "diff_ids": []}})
    layer = blob_bytes("dlayer-" + seed, 400)
    s.push_blob(repo, cfg)
    s.push_blob(repo, layer)
    m = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
         "config": {"mediaType": DOCKER_CONFIG, "digest": digest_of(cfg), "size": len(cfg)},
         "layers": [{"mediaType": DOCKER_LAYER, "digest": digest_of(layer), "size": len(layer)}]}
    return json.dumps(m, indent=3).encode()


def index_body(s, repo, seed, media_type, child_type):
    children = []
    for arch in ("amd64", "arm64"):
        if child_type == OCI_MANIFEST:
            body = oci_image_body(s, repo, seed + arch)
        else:
            body = docker_image_body(s, repo, seed + arch)
        expect(s.put_manifest(repo, digest_of(body), body, child_type), 201)
        children.append({"mediaType": child_type, "digest": digest_of(body), "size": len(body),
                         "platform": {"architecture": arch, "os": "linux"}})
    m = {"schemaVersion": 2, "mediaType": media_type, "manifests": children}
    return json.dumps(m, indent=1).encode()


def check_manifest_roundtrip(s, repo, tag, body, media_type):
    d = digest_of(body)
    r = expect(s.put_manifest(repo, tag, body, media_type), 201)
    expect_location(r, "/v2/%s/manifests/%s" % (repo, d))
    expect_header(r, "Docker-Content-Digest", d)
    for ref in (tag, d):
        r = expect(s.get("/v2/%s/manifests/%s" % (repo, ref)), 200)
        if r.body != body:
            fail("GET manifest %s returned different bytes%s" % (ref, r.describe(200)))
        expect_header(r, "Content-Type", media_type)
        expect_header(r, "Docker-Content-Digest", d)
        expect_header(r, "Content-Length", str(len(body)))
        r = expect(s.head("/v2/%s/manifests/%s" % (repo, ref)), 200)
        expect_eq(r.body, b"", "HEAD manifest body")
        expect_header(r, "Content-Type", media_type)
        expect_header(r, "Docker-Content-Digest", d)
        expect_header(r, "Content-Length", str(len(body)))
    # pushing the same bytes by digest is accepted too
    r = expect(s.put_manifest(repo, d, body, media_type), 201)
    expect_header(r, "Docker-Content-Digest", d)
    alg, hexd = d.split(":")
    expect_eq(read_file(s.blob_path(d)), body, "manifest bytes in blob store")
    expect_link(s.repo_dir(repo, "_manifests", "revisions", alg, hexd, "link"), d)
    expect_link(s.repo_dir(repo, "_manifests", "tags", tag, "current", "link"), d)
    expect_link(s.repo_dir(repo, "_manifests", "tags", tag, "index", alg, hexd, "link"), d)
    # DELETE by tag drops only the tag; by digest the manifest and its remaining tags
    expect(s.put_manifest(repo, "extra", body, media_type), 201)
    expect(s.delete("/v2/%s/manifests/extra" % repo), 202)
    expect(s.get("/v2/%s/manifests/extra" % repo), 404, "MANIFEST_UNKNOWN")
    expect(s.head("/v2/%s/manifests/%s" % (repo, d)), 200)
    expect(s.head("/v2/%s/manifests/%s" % (repo, tag)), 200)
    expect(s.delete("/v2/%s/manifests/%s" % (repo, d)), 202)
    expect(s.get("/v2/%s/manifests/%s" % (repo, d)), 404, "MANIFEST_UNKNOWN")
    expect(s.get("/v2/%s/manifests/%s" % (repo, tag)), 404, "MANIFEST_UNKNOWN")
    for child in json.loads(body).get("manifests", []):
        expect(s.head("/v2/%s/manifests/%s" % (repo, child["digest"])), 200)


def t_manifest_oci(s):
    repo = "api/man/oci"
    check_manifest_roundtrip(s, repo, "v1", oci_image_body(s, repo, "oci"), OCI_MANIFEST)


def t_manifest_oci_index(s):
    repo = "api/man/ociindex"
    body = index_body(s, repo, "ociidx", OCI_INDEX, OCI_MANIFEST)
    check_manifest_roundtrip(s, repo, "multi", body, OCI_INDEX)


def t_manifest_docker(s):
    repo = "api/man/docker"
    check_manifest_roundtrip(s, repo, "latest", docker_image_body(s, repo, "docker"), DOCKER_MANIFEST)


def t_manifest_docker_list(s):
    repo = "api/man/dockerlist"
    body = index_body(s, repo, "dlist", DOCKER_LIST, DOCKER_MANIFEST)
    check_manifest_roundtrip(s, repo, "multi", body, DOCKER_LIST)


def t_manifest_oci_without_media_type(s):
    repo = "api/man/nomt"
    body = oci_image_body(s, repo, "nomt", media_type_field=False)
    check_manifest_roundtrip(s, repo, "t", body, OCI_MANIFEST)


def t_manifest_content_type_parameters(s):
    # distribution-spec: "The registry SHOULD ignore parameters on the Content-Type header"
    repo = "api/man/ctparam"
    body = oci_image_body(s, repo, "ctparam")
    r = expect(s.put_manifest(repo, "t", body, OCI_MANIFEST + "; charset=utf-8"), 201)
    expect_header(r, "Docker-Content-Digest", digest_of(body))
    r = expect(s.get("/v2/%s/manifests/t" % repo), 200)
    expect_eq(r.body, body, "manifest bytes")


def t_manifest_unknown(s):
    repo = "api/man/oci"
    expect(s.get("/v2/%s/manifests/nosuchtag" % repo), 404, "MANIFEST_UNKNOWN")
    expect(s.get("/v2/%s/manifests/%s" % (repo, digest_of(b"no manifest"))), 404, "MANIFEST_UNKNOWN")
    r = expect(s.head("/v2/%s/manifests/nosuchtag" % repo), 404)
    expect_eq(r.body, b"", "HEAD 404 body")
    r = s.get("/v2/api/never/pushed/manifests/latest")
    expect(r, 404)
    codes = r.error_codes() or []
    if not ({"NAME_UNKNOWN", "MANIFEST_UNKNOWN"} & set(codes)):
        fail("unknown repository: want NAME_UNKNOWN or MANIFEST_UNKNOWN, got %s%s" % (codes, r.describe()))


def t_manifest_retag(s):
    repo = "api/man/retag"
    b1 = oci_image_body(s, repo, "retag1")
    b2 = oci_image_body(s, repo, "retag2")
    expect(s.put_manifest(repo, "t", b1, OCI_MANIFEST), 201)
    expect(s.put_manifest(repo, "t", b2, OCI_MANIFEST), 201)
    r = expect(s.get("/v2/%s/manifests/t" % repo), 200)
    expect_eq(r.body, b2, "tag points at the newest manifest")
    expect(s.get("/v2/%s/manifests/%s" % (repo, digest_of(b1))), 200)
    for b in (b1, b2):
        alg, hexd = digest_of(b).split(":")
        expect_link(s.repo_dir(repo, "_manifests", "tags", "t", "index", alg, hexd, "link"), digest_of(b))
    expect_link(s.repo_dir(repo, "_manifests", "tags", "t", "current", "link"), digest_of(b2))


def t_content_negotiation(s):
    repo = "api/negotiate"
    body = docker_image_body(s, repo, "neg")
    d = digest_of(body)
    expect(s.put_manifest(repo, "neg", body, DOCKER_MANIFEST), 201)
    path = "/v2/%s/manifests/neg" % repo
    r = expect(s.get(path, headers={"Accept": DOCKER_MANIFEST}), 200)
    expect_eq(r.body, body, "body with exact Accept")
    r = expect(s.get(path, headers={"Accept": "%s, %s" % (OCI_MANIFEST, DOCKER_MANIFEST)}), 200)
    expect_header(r, "Content-Type", DOCKER_MANIFEST)
    expect(s.get(path, headers={"Accept": DOCKER_MANIFEST + ";q=0.9, " + OCI_INDEX + ";q=0.5"}), 200)
    # docker sends one Accept header per type
    expect(s.get(path, headers=[("Accept", OCI_MANIFEST), ("Accept", OCI_INDEX),
                                ("Accept", DOCKER_LIST), ("Accept", DOCKER_MANIFEST)]), 200)
    expect(s.get(path), 200)
    expect(s.get(path, headers={"Accept": "%s, %s" % (OCI_MANIFEST, OCI_INDEX)}), 404, "MANIFEST_UNKNOWN")
    expect(s.get(path, headers=[("Accept", OCI_MANIFEST), ("Accept", OCI_INDEX)]), 404, "MANIFEST_UNKNOWN")
    expect(s.head(path, headers={"Accept": OCI_MANIFEST}), 404)
    r = expect(s.head(path, headers={"Accept": DOCKER_MANIFEST}), 200)
    expect_header(r, "Docker-Content-Digest", d)


def t_content_negotiation_wildcard(s):
    # curl sends "Accept: */*" by default; a wildcard accepts every type
    repo = "api/negotiate"
    expect(s.get("/v2/%s/manifests/neg" % repo, headers={"Accept": "*/*"}), 200)


# ---------------------------------------------------------------------------
# Listing

def walk_pages(s, first, key, limit=7):
    """Follow rel=next Links from first; returns (items, pages)."""
    items, pages, path = [], 0, first
    seen = set()
    while path:
        if path in seen or pages > 100:
            fail("pagination loops at %s" % path)
        seen.add(path)
        r = expect(s.get(path), 200)
        doc = r.json()
        page = doc.get(key)
        if not isinstance(page, list):
            fail("%s is not a list%s" % (key, r.describe()))
        if len(page) > limit:
            fail("page has %d entries, more than n=%d%s" % (len(page), limit, r.describe()))
        pages += 1
        items.extend(page)
        link = r.header("Link")
        if link is None:
            break
        m = LINK_NEXT.match(link.strip())
        if not m:
            fail("Link header %r is not <url>; rel=\"next\"%s" % (link, r.describe()))
        if not page:
            fail("empty page with a Link header%s" % r.describe())
        nxt = absolute_path(m.group(1))
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(nxt).query)
        if q.get("n") != [str(limit)]:
            fail("Link %r does not keep n=%d" % (link, limit))
        if q.get("last") != [page[-1]]:
            fail("Link %r: last should be the page's last entry %r" % (link, page[-1]))
        path = nxt
    return items, pages


TAGS = sorted(["a", "a-b", "a.b", "a_b", "b", "latest", "v1", "v10", "v2", "v2.0.1", "1.0", "0",
               "z" * 128, "_x", "x__y", "release-2024", "rc1", "rc10", "rc2", "stable", "edge",
               "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"])


def t_tags_list(s):
    repo = "api/pager"
    body = oci_image_body(s, repo, "pager")
    for t in TAGS:
        expect(s.put_manifest(repo, t, body, OCI_MANIFEST), 201)
    r = expect(s.get("/v2/%s/tags/list" % repo), 200)
    doc = r.json()
    expect_eq(doc.get("name"), repo, "tags/list name")
    expect_eq(doc.get("tags"), TAGS, "full tag list (sorted)")
    if r.header("Link"):
        fail("unpaginated tags/list has a Link header%s" % r.describe())


def t_tags_pagination(s):
    repo = "api/pager"
    items, pages = walk_pages(s, "/v2/%s/tags/list?n=7" % repo, "tags")
    expect_eq(items, TAGS, "tags walked in pages of 7")
    expect_true(pages >= (len(TAGS) + 6) // 7, "walk took %d pages" % pages)


def t_tags_last_and_n(s):
    repo = "api/pager"
    r = expect(s.get("/v2/%s/tags/list?last=m5" % repo), 200)
    expect_eq(r.json().get("tags"), [t for t in TAGS if t > "m5"], "tags after last=m5")
    r = expect(s.get("/v2/%s/tags/list?n=3&last=m5" % repo), 200)
    expect_eq(r.json().get("tags"), [t for t in TAGS if t > "m5"][:3], "n=3&last=m5")
    r = expect(s.get("/v2/%s/tags/list?n=0" % repo), 200)
    expect_eq(r.json().get("tags"), [], "n=0 gives an empty list")
    if r.header("Link"):
        fail("n=0 must not have a Link header%s" % r.describe())
    r = expect(s.get("/v2/%s/tags/list?n=1000" % repo), 200)
    expect_eq(r.json().get("tags"), TAGS, "n=1000")
    if r.header("Link"):
        fail("no Link expected when everything fits%s" % r.describe())
    r = expect(s.get("/v2/%s/tags/list?n=5&last=%s" % (repo, TAGS[-1])), 200)
    expect_eq(r.json().get("tags"), [], "after the last tag")
    if r.header("Link"):
        fail("no Link expected on an empty page%s" % r.describe())


def t_tags_unknown_repo(s):
    expect(s.get("/v2/api/no/such/repo/tags/list"), 404, "NAME_UNKNOWN")


def t_tags_bad_n(s):
    repo = "api/pager"
    expect(s.get("/v2/%s/tags/list?n=abc" % repo), 400, "PAGINATION_NUMBER_INVALID")
    expect(s.get("/v2/%s/tags/list?n=-1" % repo), 400, "PAGINATION_NUMBER_INVALID")


def catalog_server(checks, tmp):
    s = checks.watch(Server(tmpdir=tmp, name="catalog"))
    s.start()
    return s


CATALOG = sorted(["cat/r%02d" % i for i in range(25)] + ["cat/r05/sub", "cat/r05/sub/deeper", "solo",
                                                          "zz/last"])


def t_catalog(s):
    for i, repo in enumerate(CATALOG):
        body = canonical_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                               "config": {"mediaType": OCI_EMPTY, "digest": digest_of(EMPTY_JSON), "size": 2},
                               "layers": [], "annotations": {"n": str(i)}})
        s.ensure_empty_blob(repo)
        expect(s.put_manifest(repo, "latest", body, OCI_MANIFEST), 201)
    r = expect(s.get("/v2/_catalog"), 200)
    expect_eq(r.json().get("repositories"), CATALOG, "full catalog (sorted)")
    items, _ = walk_pages(s, "/v2/_catalog?n=7", "repositories")
    expect_eq(items, CATALOG, "catalog walked in pages of 7")
    r = expect(s.get("/v2/_catalog?n=0"), 200)
    expect_eq(r.json().get("repositories"), [], "catalog n=0")
    if r.header("Link"):
        fail("catalog n=0 must not have a Link header%s" % r.describe())
    r = expect(s.get("/v2/_catalog?n=4&last=cat/r05"), 200)
    expect_eq(r.json().get("repositories"), [x for x in CATALOG if x > "cat/r05"][:4], "catalog n=4&last=cat/r05")
    expect(s.get("/v2/_catalog?n=abc"), 400, "PAGINATION_NUMBER_INVALID")


# ---------------------------------------------------------------------------
# Referrers

SBOM = "application/vnd.example.sbom.v1"
SIG = "application/vnd.example.signature.v1"
CUSTOM_CFG = "application/vnd.example.config.v1+json"


def t_referrers(s):
    repo = "api/referrers"
    subj_body = oci_image_body(s, repo, "subject")
    expect(s.put_manifest(repo, "subject", subj_body, OCI_MANIFEST), 201)
    sd = digest_of(subj_body)
    subject = {"mediaType": OCI_MANIFEST, "digest": sd, "size": len(subj_body)}
    want = {}

    ann1 = {"org.example.kind": "sbom", "org.opencontainers.image.created": "2024-01-01T00:00:00Z"}
    b1, d1, r = s.push_empty_config_artifact(repo, artifact_type=SBOM, subject=subject, annotations=ann1)
    expect_header(r, "OCI-Subject", sd)
    want[d1] = {"mediaType": OCI_MANIFEST, "digest": d1, "size": len(b1), "artifactType": SBOM,
                "annotations": ann1}

    b2, d2, r = s.push_empty_config_artifact(repo, artifact_type=SIG, subject=subject)
    expect_header(r, "OCI-Subject", sd)
    want[d2] = {"mediaType": OCI_MANIFEST, "digest": d2, "size": len(b2), "artifactType": SIG}

    # no artifactType: the config media type stands in for it
    cfg = b'{"custom":true}'
    s.push_blob(repo, cfg)
    m3 = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
          "config": {"mediaType": CUSTOM_CFG, "digest": digest_of(cfg), "size": len(cfg)},
          "layers": [], "subject": subject, "annotations": {"k": "v"}}
    b3 = canonical_json(m3)
    d3 = digest_of(b3)
    r = expect(s.put_manifest(repo, d3, b3, OCI_MANIFEST), 201)
    expect_header(r, "OCI-Subject", sd)
    want[d3] = {"mediaType": OCI_MANIFEST, "digest": d3, "size": len(b3), "artifactType": CUSTOM_CFG,
                "annotations": {"k": "v"}}

    # an index with a subject and no artifactType: the descriptor has none either
    m4 = {"schemaVersion": 2, "mediaType": OCI_INDEX, "subject": subject,
          "manifests": [{"mediaType": OCI_MANIFEST, "digest": d1, "size": len(b1)}]}
    b4 = canonical_json(m4)
    d4 = digest_of(b4)
    r = expect(s.put_manifest(repo, d4, b4, OCI_INDEX), 201)
    expect_header(r, "OCI-Subject", sd)
    want[d4] = {"mediaType": OCI_INDEX, "digest": d4, "size": len(b4)}

    # same subject, other repository: not a referrer here
    s.push_empty_config_artifact("api/referrers/elsewhere", artifact_type=SBOM, subject=subject)
    # a manifest without subject gets no OCI-Subject header
    _, _, r = s.push_empty_config_artifact(repo, artifact_type=SBOM)
    if r.header("OCI-Subject") is not None:
        fail("OCI-Subject on a manifest without subject%s" % r.describe())

    r = expect(s.get("/v2/%s/referrers/%s" % (repo, sd)), 200)
    check_referrers(r, want)
    if r.header("OCI-Filters-Applied"):
        fail("OCI-Filters-Applied without a filter%s" % r.describe())

    r = expect(s.get("/v2/%s/referrers/%s?artifactType=%s" % (repo, sd, urllib.parse.quote(SBOM, safe=""))), 200)
    check_referrers(r, {d1: want[d1]})
    expect_header(r, "OCI-Filters-Applied", "artifactType")

    r = expect(s.get("/v2/%s/referrers/%s?artifactType=%s" % (repo, sd, urllib.parse.quote(CUSTOM_CFG, safe=""))),
               200)
    check_referrers(r, {d3: want[d3]})
    expect_header(r, "OCI-Filters-Applied", "artifactType")

    r = expect(s.get("/v2/%s/referrers/%s?artifactType=application/x-none" % (repo, sd)), 200)
    check_referrers(r, {})

    # deleting a referrer removes it from the list
    expect(s.delete("/v2/%s/manifests/%s" % (repo, d2)), 202)
    del want[d2]
    r = expect(s.get("/v2/%s/referrers/%s" % (repo, sd)), 200)
    check_referrers(r, want)


def t_referrers_unknown_and_dangling(s):
    repo = "api/referrers2"
    unknown = digest_of(b"no such subject")
    r = expect(s.get("/v2/%s/referrers/%s" % ("api/referrers", unknown)), 200)
    check_referrers(r, {})
    # a subject that does not exist (yet) must be accepted
    subject = {"mediaType": OCI_MANIFEST, "digest": unknown, "size": 123}
    b, d, r = s.push_empty_config_artifact(repo, artifact_type=SIG, subject=subject)
    expect_header(r, "OCI-Subject", unknown)
    r = expect(s.get("/v2/%s/referrers/%s" % (repo, unknown)), 200)
    check_referrers(r, {d: {"mediaType": OCI_MANIFEST, "digest": d, "size": len(b), "artifactType": SIG}})
    r = s.get("/v2/%s/referrers/sha256:nothex" % repo)
    expect(r, 400)


def check_referrers(r, want):
    ctype = (r.header("Content-Type") or "").split(";")[0].strip()
    if ctype != OCI_INDEX:
        fail("referrers Content-Type %r%s" % (ctype, r.describe()))
    doc = r.json()
    expect_eq(doc.get("schemaVersion"), 2, "referrers schemaVersion")
    expect_eq(doc.get("mediaType"), OCI_INDEX, "referrers mediaType")
    got = doc.get("manifests")
    if not isinstance(got, list):
        fail("referrers manifests is not a list%s" % r.describe())
    by = {}
    for e in got:
        if not isinstance(e, dict) or "digest" not in e:
            fail("bad referrers entry %r" % (e,))
        if e["digest"] in by:
            fail("duplicate referrers entry %s" % e["digest"])
        by[e["digest"]] = e
    if set(by) != set(want):
        fail("referrers: got %s, want %s%s" % (sorted(by), sorted(want), r.describe(2000)))
    for dg, w in want.items():
        e = by[dg]
        for k in ("mediaType", "size", "artifactType"):
            if e.get(k) != w.get(k):
                fail("referrer %s: %s is %r, want %r%s" % (dg, k, e.get(k), w.get(k), r.describe(2000)))
        if (e.get("annotations") or {}) != (w.get("annotations") or {}):
            fail("referrer %s: annotations %r, want %r" % (dg, e.get("annotations"), w.get("annotations")))


# ---------------------------------------------------------------------------
# Deletion

def t_tag_vs_digest_delete(s):
    repo = "api/mdel"
    body = oci_image_body(s, repo, "mdel")
    d = digest_of(body)
    expect(s.put_manifest(repo, "one", body, OCI_MANIFEST), 201)
    expect(s.put_manifest(repo, "two", body, OCI_MANIFEST), 201)
    expect(s.delete("/v2/%s/manifests/one" % repo), 202)
    expect(s.get("/v2/%s/manifests/one" % repo), 404, "MANIFEST_UNKNOWN")
    expect(s.get("/v2/%s/manifests/%s" % (repo, d)), 200)
    expect(s.get("/v2/%s/manifests/two" % repo), 200)
    r = expect(s.get("/v2/%s/tags/list" % repo), 200)
    expect_eq(r.json().get("tags"), ["two"], "tags after deleting one")
    if os.path.exists(s.repo_dir(repo, "_manifests", "tags", "one")):
        fail("tags/one still on disk after the tag was deleted")
    expect(s.delete("/v2/%s/manifests/one" % repo), 404, "MANIFEST_UNKNOWN")
    expect(s.delete("/v2/%s/manifests/%s" % (repo, d)), 202)
    expect(s.get("/v2/%s/manifests/%s" % (repo, d)), 404, "MANIFEST_UNKNOWN")
    expect(s.get("/v2/%s/manifests/two" % repo), 404, "MANIFEST_UNKNOWN")
    expect(s.head("/v2/%s/manifests/two" % repo), 404)
    expect(s.delete("/v2/%s/manifests/%s" % (repo, d)), 404, "MANIFEST_UNKNOWN")
    alg, hexd = d.split(":")
    if os.path.exists(s.repo_dir(repo, "_manifests", "revisions", alg, hexd, "link")):
        fail("revision link still on disk after the manifest was deleted")
    r = s.get("/v2/%s/tags/list" % repo)
    if r.status == 200 and r.json().get("tags"):
        fail("tags remain after the manifest was deleted%s" % r.describe())


def t_delete_disabled(checks, tmp):
    s = checks.watch(Server(tmpdir=tmp, name="nodelete",
                            config={"registry": {"delete_enabled": False, "tag_delete_enabled": False}}))
    s.start()
    try:
        repo = "api/nodelete"
        body = oci_image_body(s, repo, "nodelete")
        d = digest_of(body)
        expect(s.put_manifest(repo, "t", body, OCI_MANIFEST), 201)
        blob = blob_bytes("layer-nodelete", 300)
        bd = digest_of(blob)
        expect(s.delete("/v2/%s/blobs/%s" % (repo, bd)), 405, "UNSUPPORTED")
        expect(s.delete("/v2/%s/manifests/%s" % (repo, d)), 405, "UNSUPPORTED")
        expect(s.delete("/v2/%s/manifests/t" % repo), 405, "UNSUPPORTED")
        expect(s.get("/v2/%s/blobs/%s" % (repo, bd)), 200)
        expect(s.get("/v2/%s/manifests/t" % repo), 200)
        expect(s.get("/v2/%s/manifests/%s" % (repo, d)), 200)
    finally:
        s.stop_clean()


# ---------------------------------------------------------------------------
# Restarts and shutdown

def t_upload_survives_restart(s):
    repo = "api/restart"
    data = blob_bytes("restart", 5000)
    d = digest_of(data)
    loc, _ = s.start_upload(repo)
    r = expect(s.patch(loc, data[:2000], "0-1999"), 202)
    loc = absolute_path(expect_header(r, "Location"))
    s.restart()
    r = expect(s.get(loc), 204)
    expect_header(r, "Range", "0-1999")
    r = expect(s.patch(loc, data[2000:4000], "2000-3999"), 202)
    loc = absolute_path(expect_header(r, "Location"))
    r = expect(s.patch(loc, data[4000:]), 202)
    expect_header(r, "Range", "0-4999")
    loc = absolute_path(expect_header(r, "Location"))
    r = expect(s.finish_upload(loc, d), 201)
    expect_header(r, "Docker-Content-Digest", d)
    check_blob_readable(s, repo, data, d)


def t_graceful_shutdown(s):
    repo = "api/slow"
    data = blob_bytes("slow", 64 * 1024)
    loc, _ = s.start_upload(repo)
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=REQUEST_TIMEOUT)
    try:
        head = ("PATCH %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/octet-stream\r\n"
                "Content-Length: %d\r\nConnection: close\r\n\r\n" % (loc, s.port, len(data))).encode()
        sock.sendall(head + data[:8192])
        time.sleep(0.3)
        s.proc.send_signal(signal.SIGTERM)
        s.running = False
        time.sleep(0.3)
        late = probe_new_connection(s.port)
        resp = b""
        try:
            for off in range(8192, len(data), 8192):
                sock.sendall(data[off:off + 8192])
                time.sleep(0.15)
            while b"\r\n\r\n" not in resp:
                b = sock.recv(65536)
                if not b:
                    break
                resp += b
        except OSError as e:
            fail("the in-flight upload was cut off after SIGTERM (%s); got %r; log tail:\n%s"
                 % (e, resp[:300], s.log_tail()))
    finally:
        sock.close()
    status = parse_raw_status(resp)
    if status != 202:
        fail("in-flight PATCH during shutdown: got %r, want 202; log tail:\n%s" % (resp[:400], s.log_tail()))
    if not re.search(rb"(?im)^range:\s*0-65535\s*$", resp):
        fail("in-flight PATCH answer lacks Range: 0-65535: %r" % resp[:400])
    rc = s.wait_exit(30, "of SIGTERM with no request in flight")
    if rc != 0:
        fail("exit status after SIGTERM: %s; log tail:\n%s" % (describe_rc(rc), s.log_tail()))
    if late is not None:
        fail("a connection opened after SIGTERM was served: %r" % late[:200])
    s.start()
    r = expect(s.get(loc), 204)
    expect_header(r, "Range", "0-65535")
    expect(s.finish_upload(loc, digest_of(data)), 201)
    check_blob_readable(s, repo, data, digest_of(data))


def probe_new_connection(port):
    """What a brand-new connection gets while the server shuts down: None when not served."""
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=1.5)
    except OSError:
        return None
    try:
        c.settimeout(1.5)
        c.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        out = c.recv(4096)
    except OSError:
        return None
    finally:
        c.close()
    st = parse_raw_status(out)
    if st is None or st >= 500:
        return None
    return out


# ---------------------------------------------------------------------------
# Access log

def wait_for_log(s, pred, timeout=3.0):
    deadline = time.monotonic() + timeout
    while True:
        for line in s.log_text().splitlines():
            if pred(line):
                return line
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)


def kv_fields(line):
    return dict(re.findall(r'(\w+)=("[^"]*"|\S+)', line))


def t_access_log_text(s):
    marker = "api/logtext%d" % os.getpid()
    expect(s.get("/v2/"), 200)
    expect(s.get("/v2/%s/tags/list" % marker), 404)
    path = "/v2/%s/tags/list" % marker

    def is_line(line):
        return "access" in line and ("path=" + path) in line
    line = wait_for_log(s, is_line)
    if line is None:
        fail("no access line with path=%s; log tail:\n%s" % (path, s.log_tail()))
    f = kv_fields(line)
    expect_eq(f.get("method"), "GET", "method in %r" % line)
    expect_eq(f.get("status"), "404", "status in %r" % line)
    expect_eq(f.get("client"), "127.0.0.1", "client in %r" % line)
    expect_true(re.fullmatch(r"\d+", f.get("bytes", "")) is not None, "bytes is a number in %r" % line)
    expect_true(re.fullmatch(r"\d+(\.\d+)?", f.get("duration_ms", "")) is not None,
                "duration_ms is a number in %r" % line)

    def is_base(line):
        f = kv_fields(line)
        return re.search(r"\baccess\b", line) and f.get("method") == "GET" and f.get("path") == "/v2/" and \
            f.get("status") == "200" and f.get("bytes") == "2"
    if wait_for_log(s, is_base) is None:
        fail("no access line with method=GET path=/v2/ status=200 bytes=2; log tail:\n%s" % s.log_tail())


def t_access_log_json(checks, tmp):
    s = checks.watch(Server(tmpdir=tmp, name="jsonlog", config={"logging": {"format": "json"}}))
    s.start()
    try:
        expect(s.get("/v2/"), 200)
        expect(s.get("/v2/api/jsonlog/tags/list"), 404)
        expect(s.push_blob_monolithic("api/jsonlog", b"hello"), 201)
        deadline = time.monotonic() + 3
        while True:
            entries, bad = [], []
            for line in s.log_text().splitlines():
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except ValueError:
                    bad.append(line)
                    continue
                if isinstance(obj, dict) and obj.get("msg") == "access":
                    entries.append(obj)
            if len(entries) >= 3 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if bad:
            fail("lines that are not JSON with logging.format json: %r" % bad[:5])
        want = {("GET", "/v2/", 200), ("GET", "/v2/api/jsonlog/tags/list", 404),
                ("POST", "/v2/api/jsonlog/blobs/uploads/", 201)}
        got = set()
        for e in entries:
            for k in ("time", "level", "msg", "method", "path", "status", "bytes", "duration_ms", "client"):
                if k not in e:
                    fail("access entry lacks %r: %r" % (k, e))
            if not isinstance(e["status"], int) or not isinstance(e["bytes"], int):
                fail("status and bytes should be JSON numbers: %r" % e)
            if not isinstance(e["duration_ms"], (int, float)):
                fail("duration_ms should be a JSON number: %r" % e)
            got.add((e["method"], e["path"].split("?")[0], e["status"]))
        missing = want - got
        if missing:
            fail("no JSON access entries for %s; got %s" % (sorted(missing), sorted(got)))
    finally:
        s.stop_clean()


# ---------------------------------------------------------------------------
# CLI

def run_cli(args, timeout=30):
    try:
        p = subprocess.run([BERTH_BIN] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        fail("berth %s did not finish within %ds" % (" ".join(args), timeout))
    if p.returncode < 0:
        fail("berth %s died with %s: %s" % (" ".join(args), describe_rc(p.returncode),
                                             p.stderr.decode("utf-8", "replace")[-2000:]))
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def t_help(s):
    for args in (["--help"], ["serve", "--help"]):
        rc, out, err = run_cli(args)
        if rc != 0:
            fail("berth %s exited %d: %s%s" % (" ".join(args), rc, out, err))
        if "serve" not in (out + err).lower() and "usage" not in (out + err).lower():
            fail("berth %s printed no usage: %r" % (" ".join(args), (out + err)[:500]))


def config_text(s, root, extra_top="", extra_registry="", extra_plugin="", use="storage-fs"):
    lines = [
        "listen: 127.0.0.1:%d" % s.port,            # 1
        "plugin_path:",                              # 2
        "  - %s" % json.dumps(PLUGIN_DIR),           # 3
        "plugins:",                                  # 4
        "  - use: %s" % use,                         # 5
        "    config:",                               # 6
        "      root: %s" % json.dumps(root),         # 7
    ]
    if extra_plugin:
        lines.append("      " + extra_plugin)        # 8
    lines += ["registry:", "  delete_enabled: true"]
    if extra_registry:
        lines.append("  " + extra_registry)
    lines += ["limits:", "  max_manifest_size: 4MiB"]
    if extra_top:
        lines.append(extra_top)
    return "\n".join(lines) + "\n"


def t_config_check(s, tmp):
    root = os.path.join(tmp, "cfg-root")
    os.makedirs(root, exist_ok=True)
    good = os.path.join(tmp, "good.yaml")
    with open(good, "w") as f:
        f.write(config_text(s, root))
    rc, out, err = run_cli(["config", "check", "-c", good])
    if rc != 0:
        fail("config check of a good config exited %d: %s%s" % (rc, out, err))

    cases = []
    # (name, text, line that must be reported or None for any line)
    t = config_text(s, root, extra_top="bogus_top_level: 1")
    cases.append(("unknown top-level key", t, t.splitlines().index("bogus_top_level: 1") + 1))
    t = config_text(s, root, extra_registry="bogus_registry_key: true")
    cases.append(("unknown registry key", t, t.splitlines().index("  bogus_registry_key: true") + 1))
    t = config_text(s, root, extra_plugin="bogus_plugin_key: 1")
    cases.append(("unknown storage-fs key", t, t.splitlines().index("      bogus_plugin_key: 1") + 1))
    t = config_text(s, root).replace("max_manifest_size: 4MiB", "max_manifest_size: lots")
    cases.append(("bad size", t, t.splitlines().index("  max_manifest_size: lots") + 1))
    t = config_text(s, root, use="no-such-plugin")
    cases.append(("unknown plugin", t, 5))
    t = config_text(s, root).replace("registry:\n", "registry: [unclosed\n")
    cases.append(("yaml syntax error", t, None))
    t = config_text(s, root).replace("  delete_enabled: true", "  delete_enabled: maybe")
    cases.append(("bad boolean", t, t.splitlines().index("  delete_enabled: maybe") + 1))

    problems = []
    for i, (name, text, line) in enumerate(cases):
        path = os.path.join(tmp, "bad%d.yaml" % i)
        with open(path, "w") as f:
            f.write(text)
        rc, out, err = run_cli(["config", "check", "-c", path])
        if rc == 0:
            problems.append("%s: exit 0 for\n%s" % (name, text))
            continue
        m = re.search(re.escape(path) + r":(\d+):(?:\d+:)?", err)
        if not m:
            problems.append("%s: stderr lacks '%s:<line>:': %r" % (name, path, err[-600:]))
            continue
        if line is not None and int(m.group(1)) != line:
            problems.append("%s: reported line %s, the problem is on line %d: %r"
                            % (name, m.group(1), line, err[-600:]))
    missing = os.path.join(tmp, "does-not-exist.yaml")
    rc, out, err = run_cli(["config", "check", "-c", missing])
    if rc == 0 or missing not in err:
        problems.append("missing file: exit %d, stderr %r" % (rc, err[-400:]))
    if problems:
        fail("\n  ".join([""] + problems))


def t_api_version_everywhere(servers):
    missing = []
    for srv in servers:
        missing += srv.missing_api_version
    if missing:
        fail("responses without Docker-Distribution-API-Version: registry/2.0 (%d): %s"
             % (len(missing), missing[:10]))


# ---------------------------------------------------------------------------

def main(checks):
    tmp = tempfile.mkdtemp(prefix="berth-api-")
    try:
        run_checks(checks, tmp)
    finally:
        for srv in checks.servers:
            srv.kill()
        if not os.environ.get("BERTH_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("# kept %s" % tmp)


def run_checks(checks, tmp):
    s = checks.watch(Server(tmpdir=tmp))
    s.keep_up = True
    try:
        s.start()
    except RuntimeError as e:
        checks.report("server starts", str(e))
        return
    verified = set()
    reported = set()

    def storage_clean():
        # each leftover is reported once, by the check that caused it
        if not s.alive():
            return
        p = [x for x in settle_storage(s, verified=verified) if x not in reported]
        if p:
            reported.update(p)
            raise CheckFailed("storage left in a bad state:\n  " + "\n  ".join(p))
    checks.after_each.append(storage_clean)

    c = checks.check
    c("GET /v2/ answers 200 {}", t_base, s)
    c("errors carry the OCI JSON body", t_error_shape, s)
    c("monolithic POST with digest", t_blob_monolithic, s)
    c("POST then PUT with body", t_blob_post_put, s)
    c("sha512 blobs", t_blob_sha512, s)
    c("chunked upload in several chunks, last in PUT", t_blob_chunked, s)
    c("chunked upload closed by a PUT without body", t_blob_chunked_put_no_body, s)
    c("streamed PATCH (Content-Length and Transfer-Encoding chunked)", t_blob_streamed, s)
    c("GET upload status", t_upload_status, s)
    c("cancel an upload", t_upload_cancel, s)
    c("PUT without digest is DIGEST_INVALID", t_upload_put_without_digest, s)
    c("cross-repository mount with from", t_mount_from, s)
    c("mount from a repository without the blob starts an upload", t_mount_from_repo_without_blob, s)
    c("mount without from", t_mount_without_from, s)
    c("blobs are scoped to the repositories they are linked in", t_blob_scoped_to_repo, s)
    c("blob DELETE unlinks from one repository", t_blob_delete, s)
    c("blob Range request", t_blob_range, s)
    c("OCI image manifest PUT/GET/HEAD by tag and digest", t_manifest_oci, s)
    c("OCI image index PUT/GET/HEAD by tag and digest", t_manifest_oci_index, s)
    c("Docker schema2 manifest PUT/GET/HEAD by tag and digest", t_manifest_docker, s)
    c("Docker manifest list PUT/GET/HEAD by tag and digest", t_manifest_docker_list, s)
    c("OCI manifest without mediaType field", t_manifest_oci_without_media_type, s)
    c("Content-Type parameters are ignored on manifest PUT", t_manifest_content_type_parameters, s)
    c("unknown manifests are 404 MANIFEST_UNKNOWN", t_manifest_unknown, s)
    c("re-tagging keeps the tag index", t_manifest_retag, s)
    c("content negotiation on Accept", t_content_negotiation, s)
    c("Accept */* is served", t_content_negotiation_wildcard, s)
    c("tags/list full and sorted", t_tags_list, s)
    c("tags/list pagination with Link (n=7)", t_tags_pagination, s)
    c("tags/list last and n", t_tags_last_and_n, s)
    c("tags/list of an unknown repository", t_tags_unknown_repo, s)
    c("tags/list bad n", t_tags_bad_n, s)
    c("referrers with subject, OCI-Subject and artifactType filter", t_referrers, s)
    c("referrers of unknown and not-yet-pushed subjects", t_referrers_unknown_and_dangling, s)
    c("tag delete vs digest delete", t_tag_vs_digest_delete, s)
    c("access log lines (text)", t_access_log_text, s)
    c("upload continues after a restart", t_upload_survives_restart, s)
    c("graceful shutdown finishes an in-flight upload and exits 0", t_graceful_shutdown, s)
    c("berth --help and berth serve --help", t_help, s)
    c("berth config check on good and bad configs", t_config_check, s, tmp)

    checks.after_each.remove(storage_clean)
    s.keep_up = False
    cat = None
    try:
        cat = catalog_server(checks, tmp)
    except RuntimeError as e:
        checks.report("catalog server starts", str(e))
    if cat is not None:
        c("_catalog full, paginated with Link (n=7)", t_catalog, cat)
        try:
            cat.stop_clean()
        except CheckFailed as e:
            checks.report("catalog server stops cleanly", str(e))
    c("delete disabled answers 405 UNSUPPORTED", t_delete_disabled, checks, tmp)
    c("access log lines (JSON)", t_access_log_json, checks, tmp)
    c("every response has Docker-Distribution-API-Version", t_api_version_everywhere, checks.servers)

    def final_stop():
        s.stop_clean()
    c("server exits 0 on SIGTERM", final_stop)


if __name__ == "__main__":
    run_main(main)
