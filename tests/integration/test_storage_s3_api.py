#!/usr/bin/env python3
"""The registry API end to end on storage-s3 against a real Ceph RGW.

Pushes and pulls (monolithic, chunked, chunks crossing S3's 5 MiB part
minimum), Range reads, digest mismatches, deletes, the tag list and the
catalog past 1000 entries (two pages of ListObjectsV2), the bucket layout
(Distribution's keys under rootdirectory), blob redirects to presigned URLs,
and an upload begun on one node and finished on another.

Needs the Debian packages ceph-mon ceph-osd radosgw ceph-common; without
them it is skipped (exit 77) unless CI is set.
"""

import hashlib
import os
import shutil
import sys
import tempfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "plugins", "storage-s3", "tests"))

from berth_harness import (  # noqa: E402
    OCI_MANIFEST, Server, absolute_path, digest_of, expect, expect_eq, expect_header,
    expect_true, fail, run_main)
from s3_rgw import Rgw  # noqa: E402

MIB = 1024 * 1024


def data_of(seed, size):
    block = hashlib.sha256(seed.encode()).digest() * 2048  # 64 KiB
    out = bytearray()
    while len(out) < size:
        out += block
        block = hashlib.sha256(block[:64]).digest() * 2048
    return bytes(out[:size])


def blob_path(root, d):
    hexd = d.split(":", 1)[1]
    return "%sdocker/registry/v2/blobs/sha256/%s/%s/data" % (root, hexd[:2], hexd)


def main(checks):
    rgw = Rgw().start()
    tmp = tempfile.mkdtemp(prefix="berth-s3-api-")
    try:
        body(checks, rgw, tmp)
    finally:
        for s in checks.servers:
            s.cleanup()
        rgw.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def body(checks, rgw, tmp):
    bucket = rgw.bucket("berth-api")
    cfg = rgw.storage_config(bucket, rootdirectory="/registry", part_size="5MiB",
                             read_window="1MiB")
    a = checks.watch(Server(tmpdir=tmp, name="a", config=cfg).start())
    b = checks.watch(Server(tmpdir=tmp, name="b", config=cfg).start())
    layer = data_of("layer", 7 * MIB + 12345)
    state = {}

    def push_pull():
        manifest, d = a.push_image("app", tag="v1", layers=2, layer_size=3000)
        r = expect(b.get("/v2/app/manifests/v1", headers={"Accept": OCI_MANIFEST}), 200)
        expect_eq(r.body, manifest, "manifest pulled through the other node")
        expect_eq(expect_header(r, "Docker-Content-Digest"), d, "digest")
        state["manifest"] = (manifest, d)

    def chunked_across_parts():
        # 3 MiB, then 4 MiB (the stored object grows past 5 MiB: copied in the
        # store), then 12345 bytes; PATCHes alternate between the nodes.
        loc, _ = a.start_upload("app")
        off = 0
        for i, n in enumerate((3 * MIB, 4 * MIB, 12345)):
            srv = a if i % 2 == 0 else b
            part = layer[off:off + n]
            r = expect(srv.patch(loc, part, "%d-%d" % (off, off + n - 1)), 202)
            loc = absolute_path(r.header("Location"))
            off += n
            expect_eq(r.header("Range"), "0-%d" % (off - 1), "Range after chunk %d" % i)
        r = expect(b.get(loc), 204)
        expect_eq(r.header("Range"), "0-%d" % (len(layer) - 1), "upload status on node b")
        d = digest_of(layer)
        expect(a.finish_upload(loc, d), 201)
        r = expect(b.get("/v2/app/blobs/%s" % d), 200)
        expect_true(r.body == layer, "blob pulled whole through node b")
        state["layer"] = d
        # The bucket holds Distribution's layout under the root directory.
        expect_eq(rgw.s3("HEAD", bucket, blob_path("registry/", d)), 200, "blob object")
        expect_eq(rgw.s3("HEAD", bucket, "registry/docker/registry/v2/repositories/app/_layers/"
                         "sha256/%s/link" % d.split(":")[1]), 200, "layer link object")

    def range_reads():
        d = state["layer"]
        for first, last in ((0, 0), (5 * MIB - 10, 5 * MIB + 10), (1 * MIB - 1, 3 * MIB + 7),
                            (len(layer) - 100, len(layer) - 1)):
            r = expect(a.get("/v2/app/blobs/%s" % d, headers={"Range": "bytes=%d-%d" %
                                                                (first, last)}), 206)
            expect_true(r.body == layer[first:last + 1], "bytes %d-%d" % (first, last))
            expect_eq(r.header("Content-Range"), "bytes %d-%d/%d" % (first, last, len(layer)),
                      "Content-Range")
        r = a.get("/v2/app/blobs/%s" % d, headers={"Range": "bytes=%d-" % (len(layer) + 5)})
        expect(r, 416)

    def digest_mismatch():
        loc, _ = a.start_upload("app")
        r = expect(a.patch(loc, b"some bytes"), 202)
        loc = absolute_path(r.header("Location"))
        wrong = digest_of(b"other bytes")
        expect(a.finish_upload(loc, wrong), 400, "DIGEST_INVALID")
        expect(b.head("/v2/app/blobs/%s" % wrong), 404)
        expect(b.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")
        expect_eq(rgw.s3("HEAD", bucket, blob_path("registry/", wrong)), 404, "no blob object")

    def bad_chunk_range():
        loc, _ = a.start_upload("app")
        r = a.patch(loc, b"abc", "5-7")
        expect(r, 416, "BLOB_UPLOAD_INVALID")
        expect_eq(r.header("Range"), "0-0", "Range of the empty upload")
        expect(a.cancel_upload(loc), 204)
        expect(b.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")

    def many_tags():
        manifest, d = a.push_image("app", tag="other", layers=1, layer_size=100)
        tags = ["t%04d" % i for i in range(1005)]

        def put(t):
            return a.put_manifest("app", t, manifest, OCI_MANIFEST).status
        with ThreadPoolExecutor(8) as ex:
            statuses = list(ex.map(put, tags))
        expect_eq(set(statuses), {201}, "status of 1005 tag pushes")
        r = expect(b.get("/v2/app/tags/list"), 200)
        got = r.json()["tags"]
        expect_eq(len(got), 1007, "tags listed (1005 + v1 + other)")
        expect_eq(sorted(got), sorted(tags + ["v1", "other"]), "tag names")

    def many_repos():
        d = state["layer"]

        def mount(i):
            return a.request("POST", "/v2/repo%04d/blobs/uploads/?mount=%s&from=app" % (i, d)).status
        with ThreadPoolExecutor(8) as ex:
            statuses = list(ex.map(mount, range(1003)))
        expect_eq(set(statuses), {201}, "status of 1003 mounts")
        r = expect(b.get("/v2/_catalog?n=5000"), 200)
        repos = r.json()["repositories"]
        expect_eq(len(repos), 1004, "repositories listed")
        expect_true("app" in repos and "repo1002" in repos, "names in the catalog")

    def deletes():
        manifest, d = state["manifest"]
        expect(a.delete("/v2/app/manifests/t0000"), 202)
        expect(b.get("/v2/app/manifests/t0000"), 404, "MANIFEST_UNKNOWN")
        expect(b.get("/v2/app/manifests/t0001"), 200)
        expect(a.delete("/v2/app/manifests/%s" % d), 202)
        expect(b.get("/v2/app/manifests/%s" % d), 404, "MANIFEST_UNKNOWN")
        expect(b.get("/v2/app/manifests/v1"), 404, "MANIFEST_UNKNOWN")

    def redirect():
        red = checks.watch(Server(tmpdir=tmp, name="redirect", config=rgw.storage_config(
            bucket, rootdirectory="registry", redirect="true", redirect_expiry="2m")).start())
        d = state["layer"]
        r = expect(red.get("/v2/app/blobs/%s" % d), 307)
        url = expect_header(r, "Location")
        expect_true(url.startswith(rgw.endpoint + "/" + bucket + "/registry/docker/"),
                    "redirect into the bucket: %s" % url[:80])
        expect_true("X-Amz-Expires=120" in url, "expiry in the URL")
        req = urllib.request.Request(url, headers={"Range": "bytes=100-199"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            expect_eq(resp.status, 206, "presigned ranged GET")
            expect_true(resp.read() == layer[100:200], "bytes through the presigned URL")
        # A tampered signature is refused by the store.
        bad = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
        try:
            urllib.request.urlopen(bad, timeout=30)
            fail("tampered presigned URL accepted")
        except urllib.error.HTTPError as e:
            expect_eq(e.code, 403, "tampered presigned URL")
        red.stop()

    checks.check("push through node a, pull through node b", push_pull)
    checks.check("chunked upload across S3 parts, alternating nodes", chunked_across_parts)
    checks.check("Range reads across read windows and parts", range_reads)
    checks.check("digest mismatch leaves nothing visible", digest_mismatch)
    checks.check("chunk at a wrong offset is refused", bad_chunk_range)
    checks.check("tag list past 1000 keys", many_tags)
    checks.check("catalog past 1000 repositories", many_repos)
    checks.check("deletes are seen by the other node", deletes)
    checks.check("blob GET redirects to a presigned URL", redirect)


if __name__ == "__main__":
    run_main(main)
