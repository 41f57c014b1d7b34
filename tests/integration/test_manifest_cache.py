"""Manifest GETs never serve a stale manifest, whatever changed and whoever changed it.

Berth keeps the bytes of manifests it served in memory (core/manifest_cache.c).
Every check below first GETs the manifest so it is cached, then changes the
registry and GETs again at once, expecting what is on disk now:
- a push that moves the tag; a tag delete; a delete by digest;
- another node writing the tag's link, removing the tag's folder, or
  deleting a manifest (its revision link and tags) on the shared storage;
- garbage collection removing the data of a manifest another node deleted:
  a link written to it afterwards is "linked but its data is missing", not
  the old bytes;
and through all of it the Accept header and HEAD see the cached media type
and length.
"""
import os
import shutil
import tempfile
import time
import uuid

from berth_harness import (DOCKER_MANIFEST, OCI_MANIFEST, Server, digest_of, expect, expect_eq,
                           expect_header, run_main)

REPO = "cache/app"
ACCEPT_BOTH = {"Accept": "%s, %s" % (OCI_MANIFEST, DOCKER_MANIFEST)}


def get_tag(s, tag, status=200, headers=None, code=None):
    return expect(s.get("/v2/%s/manifests/%s" % (REPO, tag), headers=headers or ACCEPT_BOTH),
                  status, code)


def expect_manifest(s, ref, body, digest, media_type=OCI_MANIFEST):
    """GET twice (the second from the cache) and HEAD: the same bytes, digest and type."""
    for _ in range(2):
        r = get_tag(s, ref)
        expect_eq(r.body, body, "body of %s" % ref)
        expect_header(r, "Docker-Content-Digest", digest)
        expect_header(r, "Content-Type", media_type)
    r = expect(s.head("/v2/%s/manifests/%s" % (REPO, ref), headers=ACCEPT_BOTH), 200)
    expect_header(r, "Docker-Content-Digest", digest)
    expect_header(r, "Content-Length", str(len(body)))


def write_link(path, digest):
    """Replace a link file the way another node's storage-fs does: a new file renamed over it."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = "%s.%s.tmp" % (path, uuid.uuid4().hex)
    with open(tmp, "w") as f:
        f.write(digest)
    os.replace(tmp, path)


def tag_link(s, tag):
    return s.repo_dir(REPO, "_manifests", "tags", tag, "current", "link")


def age_tree(top, seconds):
    t = time.time() - seconds
    for dirpath, _, files in os.walk(top):
        for f in files:
            os.utime(os.path.join(dirpath, f), (t, t))


def main(checks):
    tmp = tempfile.mkdtemp(prefix="berth-mcache-")
    s = checks.watch(Server(tmpdir=tmp, config={"gc": {"grace_period": "1h"}}))
    img = {}
    try:
        s.start()

        def push_and_get():
            img["a"] = s.push_image(REPO, "t")
            expect_manifest(s, "t", *img["a"])
            expect_manifest(s, img["a"][1], *img["a"])
        checks.check("a pushed tag is served, again and by digest", push_and_get)

        def tag_moved_by_push():
            img["b"] = s.push_image(REPO, "t")
            expect_manifest(s, "t", *img["b"])
            expect_manifest(s, img["a"][1], *img["a"])
        checks.check("a push that moves the tag is served at once", tag_moved_by_push)

        def accept_sees_cached_type():
            img["d"] = s.push_image(REPO, "docker", media_type=DOCKER_MANIFEST)
            expect_manifest(s, "docker", *img["d"], media_type=DOCKER_MANIFEST)
            get_tag(s, "docker", 404, headers={"Accept": OCI_MANIFEST}, code="MANIFEST_UNKNOWN")
        checks.check("Accept and Content-Type see the cached manifest's media type",
                     accept_sees_cached_type)

        def tag_delete():
            expect(s.delete("/v2/%s/manifests/t" % REPO), 202)
            get_tag(s, "t", 404, code="MANIFEST_UNKNOWN")
            expect_manifest(s, img["b"][1], *img["b"])
        checks.check("a deleted tag is gone at once; its manifest stays by digest", tag_delete)

        def digest_delete():
            expect(s.delete("/v2/%s/manifests/%s" % (REPO, img["b"][1])), 202)
            get_tag(s, img["b"][1], 404, code="MANIFEST_UNKNOWN")
        checks.check("a manifest deleted by digest is gone at once", digest_delete)

        def other_node_moves_tag():
            img["c"] = s.push_image(REPO, "c")
            img["u"] = s.push_image(REPO, "u")
            expect_manifest(s, "u", *img["u"])
            write_link(tag_link(s, "u"), img["c"][1])
            expect_manifest(s, "u", *img["c"])
            write_link(tag_link(s, "u"), img["a"][1])
            expect_manifest(s, "u", *img["a"])
        checks.check("a tag link written by another node is served at once", other_node_moves_tag)

        def other_node_deletes():
            shutil.rmtree(s.repo_dir(REPO, "_manifests", "tags", "u"))
            get_tag(s, "u", 404, code="MANIFEST_UNKNOWN")
            # A delete by digest elsewhere: the revision link and every tag naming it.
            expect_manifest(s, "c", *img["c"])
            shutil.rmtree(s.repo_dir(REPO, "_manifests", "revisions", "sha256",
                                     img["c"][1].split(":", 1)[1]))
            shutil.rmtree(s.repo_dir(REPO, "_manifests", "tags", "c"))
            get_tag(s, "c", 404, code="MANIFEST_UNKNOWN")
            get_tag(s, img["c"][1], 404, code="MANIFEST_UNKNOWN")
        checks.check("tags and manifests another node deletes are gone at once", other_node_deletes)

        def gc_removes_data():
            # c was deleted "elsewhere" while this server had it cached; a
            # collection here frees its data. A link to it written later
            # (a broken node) must find no data, not the cached bytes.
            age_tree(s.v2("blobs"), 2 * 3600)
            r = expect(s.request("POST", "/berth/v1/jobs/gc"), 200)
            expect_eq(r.json()["result"], "ok", "gc result")
            expect_eq(os.path.exists(s.blob_path(img["c"][1])), False, "c's data after gc")
            write_link(tag_link(s, "late"), img["c"][1])
            get_tag(s, "late", 404, code="MANIFEST_UNKNOWN")
            expect_manifest(s, img["a"][1], *img["a"])
        checks.check("data freed by garbage collection is not served from memory", gc_removes_data)

        checks.check("server exits 0 on SIGTERM", s.stop_clean)
    finally:
        for srv in checks.servers:
            srv.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
