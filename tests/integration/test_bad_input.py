#!/usr/bin/env python3
"""Hostile and malformed input against berth, over raw HTTP and raw sockets.

Every check is named; after each one the storage tree is inspected for
uploads nobody holds, temp files and blobs that do not hash to their name, and
the server must still answer.  At the end nothing may exist outside the
registry root that the test did not make.

Prints one `ok - name` / `not ok - name: details` line per check and a
`N passed, M failed` summary; exits 1 when anything failed.
"""

import json
import os
import re
import shutil
import socket
import sys
import tempfile
import time
import urllib.parse
import uuid as uuidlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from berth_harness import (  # noqa: E402
    DOCKER_CONFIG, DOCKER_LAYER, DOCKER_LIST, DOCKER_MANIFEST, DOCKER_SCHEMA1,
    DOCKER_SCHEMA1_SIGNED, EMPTY_JSON, OCI_CONFIG, OCI_EMPTY, OCI_INDEX, OCI_LAYER, OCI_MANIFEST,
    CheckFailed, Server, absolute_path, add_query, canonical_json, digest_of, expect, expect_eq,
    expect_header, expect_true, fail, parallel, parse_raw_status, run_main, settle_storage,
    upload_uuid)

MiB = 1024 * 1024


def rand_bytes(n):
    return os.urandom(n)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def status_of(buf):
    return parse_raw_status(buf)


def expect_nothing_stored(s, repo, *digests):
    for d in digests:
        r = s.head("/v2/%s/blobs/%s" % (repo, d))
        if r.status != 404:
            fail("blob %s is visible after a failed push (HEAD -> %d)%s" % (d, r.status, r.describe()))
        if os.path.exists(s.blob_path(d)):
            fail("blob data for %s was stored after a failed push: %s" % (d, s.blob_path(d)))
        alg, hexd = d.split(":")
        if os.path.exists(s.repo_dir(repo, "_layers", alg, hexd)):
            fail("blob %s was linked into %s after a failed push" % (d, repo))


def expect_upload_gone(s, loc):
    u = upload_uuid(loc)
    expect(s.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")
    path = urllib.parse.urlsplit(loc).path
    repo = path[len("/v2/"):path.index("/blobs/uploads/")]
    if os.path.exists(s.repo_dir(repo, "_uploads", u)):
        fail("_uploads/%s still on disk" % u)


def expect_no_tag(s, repo, tag):
    r = s.get("/v2/%s/manifests/%s" % (repo, tag))
    if r.status not in (400, 404):
        fail("tag %s exists after a rejected push%s" % (tag, r.describe()))
    if os.path.exists(s.repo_dir(repo, "_manifests", "tags", tag)):
        fail("tag directory for %s exists after a rejected push" % tag)


def raw_head(method, path, port, headers=(), length=None):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1:%d" % port]
    lines += ["%s: %s" % h for h in headers]
    if length is not None:
        lines.append("Content-Length: %d" % length)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# ---------------------------------------------------------------------------
# Digests on upload

def t_wrong_digest_put(s):
    repo = "bad/digest"
    data = rand_bytes(500)
    wrong = digest_of(rand_bytes(500))
    loc, _ = s.start_upload(repo)
    r = expect(s.patch(loc, data), 202)
    loc = absolute_path(r.header("Location"))
    expect(s.finish_upload(loc, wrong), 400, "DIGEST_INVALID")
    expect_upload_gone(s, loc)
    expect_nothing_stored(s, repo, wrong, digest_of(data))


def t_wrong_digest_put_with_body(s):
    repo = "bad/digest"
    data = rand_bytes(700)
    wrong = digest_of(rand_bytes(10))
    loc, _ = s.start_upload(repo)
    expect(s.finish_upload(loc, wrong, data), 400, "DIGEST_INVALID")
    expect_upload_gone(s, loc)
    expect_nothing_stored(s, repo, wrong, digest_of(data))


def t_wrong_digest_monolithic(s):
    repo = "bad/digest"
    data = rand_bytes(300)
    wrong = digest_of(rand_bytes(300))
    expect(s.push_blob_monolithic(repo, data, digest=wrong), 400, "DIGEST_INVALID")
    expect_nothing_stored(s, repo, wrong, digest_of(data))
    wrong512 = digest_of(rand_bytes(30), "sha512")
    expect(s.push_blob_monolithic(repo, data, digest=wrong512), 400, "DIGEST_INVALID")
    expect_nothing_stored(s, repo, wrong512, digest_of(data, "sha512"))


def t_sha512_digest_for_sha256_bytes(s):
    # the algorithm named in the digest is the one that must be checked
    repo = "bad/digest"
    data = rand_bytes(64)
    d256 = digest_of(data).split(":")[1]
    fake = "sha512:" + (d256 * 2)
    expect(s.push_blob_monolithic(repo, data, digest=fake), 400, "DIGEST_INVALID")
    expect_nothing_stored(s, repo, fake)


# ---------------------------------------------------------------------------
# Bodies that do not match Content-Length

def t_short_body_monolithic(s):
    repo = "bad/short"
    full = rand_bytes(1000)
    d = digest_of(full)
    head = raw_head("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, d), s.port,
                    [("Content-Type", "application/octet-stream")], 1000)
    out = s.raw(head + full[:10], timeout=5, shutdown_write=True)
    st = status_of(out)
    if st is not None and st < 400:
        fail("truncated monolithic POST answered %r" % out[:300])
    s.wait_alive()
    expect_nothing_stored(s, repo, d, digest_of(full[:10]))


def t_short_body_patch(s):
    repo = "bad/short"
    data = rand_bytes(1000)
    loc, _ = s.start_upload(repo)
    head = raw_head("PATCH", loc, s.port, [("Content-Type", "application/octet-stream")], 1000)
    out = s.raw(head + data[:10], timeout=5, shutdown_write=True)
    st = status_of(out)
    if st is not None and st < 400:
        fail("truncated PATCH answered %r" % out[:300])
    s.wait_alive()
    r = expect(s.get(loc), 204)
    rng = r.header("Range")
    if rng not in ("0-0", "0-9", None):
        fail("after a truncated PATCH of 10 bytes the upload claims Range %r" % rng)
    have = 10 if rng == "0-9" else 0
    loc = absolute_path(r.header("Location") or loc)
    r = expect(s.patch(loc, data[have:]), 202)
    loc = absolute_path(r.header("Location"))
    r = expect(s.finish_upload(loc, digest_of(data)), 201)
    r = expect(s.get("/v2/%s/blobs/%s" % (repo, digest_of(data))), 200)
    expect_true(r.body == data, "blob finished after a truncated PATCH has the right bytes")


def t_short_body_manifest(s):
    repo = "bad/short"
    s.ensure_empty_blob(repo)
    body = canonical_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": OCI_EMPTY, "digest": digest_of(EMPTY_JSON), "size": 2},
                           "layers": []})
    head = raw_head("PUT", "/v2/%s/manifests/short" % repo, s.port, [("Content-Type", OCI_MANIFEST)],
                    len(body) + 500)
    out = s.raw(head + body, timeout=5, shutdown_write=True)
    st = status_of(out)
    if st is not None and st < 400:
        fail("truncated manifest PUT answered %r" % out[:300])
    s.wait_alive()
    expect_no_tag(s, repo, "short")
    r = s.get("/v2/%s/manifests/%s" % (repo, digest_of(body)))
    if r.status != 404:
        fail("manifest from a truncated PUT is visible by digest%s" % r.describe())


def t_stalled_bodies_do_not_block(s):
    """Clients that send part of a body and stall must not starve everyone else."""
    socks = []
    try:
        for i in range(24):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            c.sendall(raw_head("POST", "/v2/bad/stall/blobs/uploads/?digest=%s" % digest_of(b"%d" % i),
                               s.port, [("Content-Type", "application/octet-stream")], 100000) + b"x" * 10)
            socks.append(c)
        t0 = time.monotonic()
        for _ in range(5):
            r = s.get("/v2/", timeout=10)
            expect(r, 200)
        took = time.monotonic() - t0
        if took > 8:
            fail("GET /v2/ took %.1fs with 24 stalled uploads open" % took)
        data = rand_bytes(100)
        expect(s.push_blob_monolithic("bad/stall", data), 201)
    finally:
        for c in socks:
            c.close()
    s.wait_alive()


def t_long_body_monolithic(s):
    repo = "bad/long"
    data = rand_bytes(20)
    d = digest_of(data[:10])
    head = raw_head("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, d), s.port,
                    [("Content-Type", "application/octet-stream")], 10)
    out = s.raw(head + data, timeout=5, shutdown_write=True)
    st = status_of(out)
    if st != 201:
        fail("POST with 10 declared bytes and 20 sent: want 201 for the first 10, got %r" % out[:300])
    s.wait_alive()
    r = expect(s.get("/v2/%s/blobs/%s" % (repo, d)), 200)
    expect_eq(r.body, data[:10], "stored bytes are exactly the declared 10")
    expect_nothing_stored(s, repo, digest_of(data))


def t_long_body_patch(s):
    repo = "bad/long"
    data = rand_bytes(40)
    loc, _ = s.start_upload(repo)
    head = raw_head("PATCH", loc, s.port, [("Content-Type", "application/octet-stream")], 20)
    out = s.raw(head + data, timeout=5, shutdown_write=True)
    if status_of(out) != 202:
        fail("PATCH with 20 declared bytes and 40 sent: want 202, got %r" % out[:300])
    s.wait_alive()
    r = expect(s.get(loc), 204)
    expect_header(r, "Range", "0-19")
    expect(s.finish_upload(absolute_path(r.header("Location") or loc), digest_of(data[:20])), 201)


# ---------------------------------------------------------------------------
# Chunk order

def chunk_setup(s, repo):
    data = rand_bytes(30)
    loc, _ = s.start_upload(repo)
    r = expect(s.patch(loc, data[:10], "0-9"), 202)
    return data, absolute_path(r.header("Location"))


def chunk_finish(s, repo, data, loc):
    r = expect(s.get(loc), 204)
    expect_header(r, "Range", "0-9")
    loc = absolute_path(r.header("Location") or loc)
    r = expect(s.patch(loc, data[10:20], "10-19"), 202)
    loc = absolute_path(r.header("Location"))
    r = expect(s.patch(loc, data[20:30], "20-29"), 202)
    loc = absolute_path(r.header("Location"))
    expect(s.finish_upload(loc, digest_of(data)), 201)
    r = expect(s.get("/v2/%s/blobs/%s" % (repo, digest_of(data))), 200)
    expect_eq(r.body, data, "blob bytes after the rejected chunk")


def t_chunk_out_of_order(s):
    repo = "bad/chunks"
    data = rand_bytes(30)
    loc, _ = s.start_upload(repo)
    expect(s.patch(loc, data[10:20], "10-19"), 416, "BLOB_UPLOAD_INVALID")
    r = expect(s.patch(loc, data[:10], "0-9"), 202)
    loc = absolute_path(r.header("Location"))
    r = expect(s.patch(loc, data[20:30], "20-29"), 416, "BLOB_UPLOAD_INVALID")
    expect_header(r, "Range", "0-9")
    chunk_finish(s, repo, data, loc)


def t_chunk_overlapping(s):
    repo = "bad/chunks"
    data, loc = chunk_setup(s, repo)
    r = expect(s.patch(loc, data[5:15], "5-14"), 416, "BLOB_UPLOAD_INVALID")
    expect_header(r, "Range", "0-9")
    r = expect(s.patch(loc, data[0:10], "0-9"), 416, "BLOB_UPLOAD_INVALID")
    expect_header(r, "Range", "0-9")
    chunk_finish(s, repo, data, loc)


def t_chunk_gap(s):
    repo = "bad/chunks"
    data, loc = chunk_setup(s, repo)
    r = expect(s.patch(loc, data[11:21], "11-20"), 416, "BLOB_UPLOAD_INVALID")
    expect_header(r, "Range", "0-9")
    r = expect(s.patch(loc, data[11:21], "bytes 11-20/*"), 416, "BLOB_UPLOAD_INVALID")
    expect_header(r, "Range", "0-9")
    chunk_finish(s, repo, data, loc)


def t_chunk_malformed_range(s):
    repo = "bad/chunks"
    data, loc = chunk_setup(s, repo)
    cases = [("19-10", data[10:20]), ("10-19", data[10:15]), ("10-14", data[10:20]), ("abc", data[10:20]),
             ("10-", data[10:20]), ("-19", data[10:20]), ("10-99999999999999999999999", data[10:20]),
             ("10-19/5", data[10:20])]
    problems = []
    for cr, body in cases:
        r = s.patch(loc, body, cr)
        if r.status not in (400, 416):
            problems.append("Content-Range %r with %d bytes: got %d, want 400/416%s"
                            % (cr, len(body), r.status, r.describe()))
        elif (r.error_codes() or [None])[0] not in ("BLOB_UPLOAD_INVALID", "SIZE_INVALID", "RANGE_INVALID"):
            problems.append("Content-Range %r: error code %s%s" % (cr, r.error_codes(), r.describe()))
    if problems:
        fail("\n  ".join([""] + problems))
    chunk_finish(s, repo, data, loc)


def t_chunk_to_cancelled(s):
    repo = "bad/chunks"
    data, loc = chunk_setup(s, repo)
    expect(s.cancel_upload(loc), 204)
    expect(s.patch(loc, data[10:20], "10-19"), 404, "BLOB_UPLOAD_UNKNOWN")
    expect(s.patch(loc, data[10:20]), 404, "BLOB_UPLOAD_UNKNOWN")
    expect(s.request("PUT", add_query(loc, digest=digest_of(data[:10]))), 404, "BLOB_UPLOAD_UNKNOWN")
    expect(s.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")
    expect_nothing_stored(s, repo, digest_of(data[:10]))


def t_unknown_upload_uuid(s):
    repo = "bad/uuid"
    s.push_blob(repo, b"make the repository exist")
    loc = "/v2/%s/blobs/uploads/%s" % (repo, uuidlib.uuid4())
    expect(s.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")
    expect(s.patch(loc, b"abc"), 404, "BLOB_UPLOAD_UNKNOWN")
    expect(s.patch(loc, b"abc", "0-2"), 404, "BLOB_UPLOAD_UNKNOWN")
    expect(s.request("PUT", add_query(loc, digest=digest_of(b"abc")), body=b"abc"), 404, "BLOB_UPLOAD_UNKNOWN")
    expect(s.delete(loc), 404, "BLOB_UPLOAD_UNKNOWN")
    expect_nothing_stored(s, repo, digest_of(b"abc"))


def t_upload_of_other_repo(s):
    # an upload belongs to the repository it was started in
    loc, _ = s.start_upload("bad/uuid/owner")
    u = upload_uuid(loc)
    other = "/v2/bad/uuid/thief/blobs/uploads/%s" % u
    r = s.patch(other, b"abc")
    if r.status != 404:
        fail("PATCH of another repository's upload: want 404%s" % r.describe())
    r = s.get(other)
    if r.status != 404:
        fail("GET of another repository's upload: want 404%s" % r.describe())
    r = s.delete(other)
    if r.status != 404:
        fail("DELETE of another repository's upload: want 404%s" % r.describe())
    expect(s.get(loc), 204)
    expect(s.cancel_upload(loc), 204)


GARBAGE_UUIDS = ["not-a-uuid", "../../x", "../../../../../../../../x", "..", ".", "...", "%2e%2e",
                 "_state", "x" * 300, "%00", "a%00b",
                 "..%2F..%2F..%2Fx", "%2e%2e%2f%2e%2e%2fx", "data", "startedat", "-", "%20"]


def t_garbage_upload_uuids(s):
    repo = "bad/uuid"
    problems = []
    for g in GARBAGE_UUIDS:
        loc = "/v2/%s/blobs/uploads/%s" % (repo, g)
        for method, body, q in (("GET", None, ""), ("PATCH", b"abc", ""), ("DELETE", None, ""),
                                ("PUT", b"abc", "?digest=" + digest_of(b"abc"))):
            h = {"Content-Type": "application/octet-stream"} if body else {}
            r = s.request(method, loc + q, body=body, headers=h)
            if r.status not in (400, 404, 405):
                problems.append("%s uuid %r: got %d, want 400/404/405%s" % (method, g, r.status, r.describe()))
    if problems:
        fail("\n  ".join([""] + problems))
    expect_nothing_stored(s, repo, digest_of(b"abc"))


def t_traversal_upload_uuid(s, tmp):
    """An upload id that climbs out of _uploads must not reach a file that looks like an upload."""
    repo = "bad/trav"
    s.push_blob(repo, b"repository exists")
    decoy = os.path.join(tmp, "decoy")
    data = read_file(os.path.join(decoy, "data"))
    ups = "../" * 7 + "decoy"
    enc = "%2e%2e%2f" * 7 + "decoy"
    problems = []
    for u in (ups, enc, ups.replace("/", "%2F")):
        loc = "/v2/%s/blobs/uploads/%s" % (repo, u)
        r = s.get(loc)
        if r.status not in (400, 404):
            problems.append("GET %s: %d, want 400/404%s" % (loc, r.status, r.describe()))
        r = s.request("PUT", loc + "?digest=" + digest_of(data))
        if r.status not in (400, 404):
            problems.append("PUT %s: %d, want 400/404%s" % (loc, r.status, r.describe()))
        r = s.patch(loc, b"appended")
        if r.status not in (400, 404):
            problems.append("PATCH %s: %d, want 400/404%s" % (loc, r.status, r.describe()))
        r = s.delete(loc)
        if r.status not in (400, 404):
            problems.append("DELETE %s: %d, want 400/404%s" % (loc, r.status, r.describe()))
    if read_file(os.path.join(decoy, "data")) != data:
        problems.append("the decoy file outside the root was modified")
    if os.path.exists(s.blob_path(digest_of(data))):
        problems.append("the decoy's bytes were committed as a blob")
    if problems:
        fail("\n  ".join([""] + problems))


# ---------------------------------------------------------------------------
# Repository names

def name_requests(s, name, legit_digest):
    """(method, path, body, headers) that each must be refused for a bad name; the last one
    names the bad repository as a mount source."""
    body = canonical_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": OCI_EMPTY, "digest": digest_of(EMPTY_JSON), "size": 2},
                           "layers": []})
    blob = b"escape attempt"
    return [
        ("GET", "/v2/%s/tags/list" % name, None, {}),
        ("GET", "/v2/%s/manifests/latest" % name, None, {}),
        ("HEAD", "/v2/%s/manifests/latest" % name, None, {}),
        ("PUT", "/v2/%s/manifests/latest" % name, body, {"Content-Type": OCI_MANIFEST}),
        ("DELETE", "/v2/%s/manifests/latest" % name, None, {}),
        ("GET", "/v2/%s/blobs/%s" % (name, legit_digest), None, {}),
        ("HEAD", "/v2/%s/blobs/%s" % (name, legit_digest), None, {}),
        ("DELETE", "/v2/%s/blobs/%s" % (name, legit_digest), None, {}),
        ("POST", "/v2/%s/blobs/uploads/" % name, None, {}),
        ("POST", "/v2/%s/blobs/uploads/?digest=%s" % (name, digest_of(blob)), blob,
         {"Content-Type": "application/octet-stream"}),
        ("POST", "/v2/%s/blobs/uploads/?mount=%s&from=bad/legit" % (name, legit_digest), None, {}),
        ("GET", "/v2/%s/referrers/%s" % (name, legit_digest), None, {}),
        ("POST", "/v2/bad/mountdst/blobs/uploads/?mount=%s&from=%s" % (legit_digest, name), None, {}),
    ]


def check_name(s, name, strict, legit):
    problems = []
    for method, path, body, headers in name_requests(s, name, legit):
        if path.startswith("/v2/bad/mountdst/"):
            # the bad name is the mount source: nothing may be mounted from it
            r = s.request(method, path, body=body, headers=headers)
            if r.status == 201:
                problems.append("mount from bad name %r succeeded%s" % (name, r.describe()))
            elif r.status == 202:
                s.uploads.add(upload_uuid(absolute_path(r.header("Location"))))
                s.cancel_upload(absolute_path(r.header("Location")))
            continue
        r = s.request(method, path, body=body, headers=headers)
        if r.status == 202 and method == "POST" and r.header("Location"):
            loc = absolute_path(r.header("Location"))
            s.uploads.add(upload_uuid(loc))
            s.cancel_upload(loc)
        codes = r.error_codes() if method != "HEAD" else None
        if strict:
            ok = r.status == 400 and (method == "HEAD" or "NAME_INVALID" in (codes or []))
            want = "400 NAME_INVALID"
        else:
            ok = (r.status == 400 and (method == "HEAD" or (codes and "NAME_INVALID" in codes))) or \
                r.status == 404
            want = "400 NAME_INVALID or 404"
        if not ok:
            problems.append("%s %s: got %d %s, want %s%s" % (method, path[:120], r.status, codes, want,
                                                            r.describe(300)))
    if problems:
        fail("%d requests not refused:\n  %s" % (len(problems), "\n  ".join(problems)))


def name_cases(marker):
    long256 = marker + "/" + "b" * (256 - len(marker) - 1)
    return [
        ("uppercase name", marker.upper(), True),
        ("uppercase segment", "bad/" + marker.capitalize(), True),
        ("256-character name", long256, True),
        ("'..' segment", "bad/../" + marker, True),
        ("leading '..'", "../" + marker, True),
        ("'..' to the temp dir", "../../../../../" + marker, True),
        ("'..' past the temp dir", "../../../../../../" + marker, True),
        ("'.' segment", "bad/./" + marker, True),
        ("%2e%2e segments", "%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/" + marker, True),
        ("%2E%2E%2F sequence", "%2E%2E%2F%2E%2E%2F%2E%2E%2F%2E%2E%2F%2E%2E%2F" + marker, False),
        ("%2F inside a segment", "bad%2F" + marker, False),
        ("empty segment", "bad//" + marker, False),
        ("leading slash", "/" + marker, False),
        ("trailing slash", marker + "/", False),
        ("NUL byte", marker + "%00x", False),
        ("backslash", "bad%5C..%5C" + marker, True),
        ("space", "bad%20" + marker, True),
        ("non-ASCII", "bad/%C3%A9" + marker, True),
        ("layout folder _uploads", "bad/_uploads/" + marker, True),
        ("layout folder _manifests", marker + "/_manifests", True),
        ("leading dash", "-" + marker, True),
        ("trailing dot", marker + ".", True),
        ("double dot inside", marker + "..x", True),
    ]


def t_name_255_accepted(s):
    name = "/".join(["c" * 50] * 4) + "/" + "d" * 51
    expect_eq(len(name), 255, "test name length")
    data = b"long name"
    r = expect(s.push_blob_monolithic(name, data), 201)
    expect(s.get("/v2/%s/blobs/%s" % (name, digest_of(data))), 200)
    del r


def t_endpoint_trailing_slash(s):
    for path in ("/v2/bad/legit/tags/list/", "/v2/bad/legit/manifests/", "/v2/bad/legit/blobs/",
                 "/v2/bad/legit/referrers/"):
        r = s.get(path)
        if r.status not in (400, 404, 405):
            fail("GET %s: want 400/404/405%s" % (path, r.describe()))


def t_traversal_reads(s, tmp, legit_blob, legit_manifest):
    """Reads through a name that climbs to a fake repository outside the root must fail."""
    problems = []
    for name in ("../../../../../evil", "%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/evil",
                 "..%2F..%2F..%2F..%2F..%2Fevil", "a/../../../../../../evil"):
        for path in ("/v2/%s/blobs/%s" % (name, legit_blob), "/v2/%s/manifests/latest" % name,
                     "/v2/%s/manifests/%s" % (name, legit_manifest), "/v2/%s/tags/list" % name):
            r = s.get(path)
            if r.status < 300:
                problems.append("GET %s: %d%s" % (path, r.status, r.describe(200)))
    if problems:
        fail("read through a fake repository outside the root:\n  " + "\n  ".join(problems))


# ---------------------------------------------------------------------------
# Manifests

def image_parts(s, repo):
    cfg = canonical_json({"architecture": "amd64", "os": "linux", "n": uuidlib.uuid4().hex})
    layer = rand_bytes(100)
    s.push_blob(repo, cfg)
    s.push_blob(repo, layer)
    return ({"mediaType": OCI_CONFIG, "digest": digest_of(cfg), "size": len(cfg)},
            {"mediaType": OCI_LAYER, "digest": digest_of(layer), "size": len(layer)})


def oci(config, layers, **extra):
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers}
    m.update(extra)
    return canonical_json(m)


def t_manifest_missing_blobs(s):
    repo = "bad/manblob"
    cfg, layer = image_parts(s, repo)
    missing = {"mediaType": OCI_LAYER, "digest": digest_of(rand_bytes(10)), "size": 10}
    missing_cfg = {"mediaType": OCI_CONFIG, "digest": digest_of(rand_bytes(10)), "size": 10}
    problems = []
    for what, body, ctype in (
            ("missing layer", oci(cfg, [layer, missing]), OCI_MANIFEST),
            ("missing config", oci(missing_cfg, [layer]), OCI_MANIFEST),
            ("docker manifest with missing layer", canonical_json({
                "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                "config": dict(cfg, mediaType=DOCKER_CONFIG),
                "layers": [dict(missing, mediaType=DOCKER_LAYER)]}), DOCKER_MANIFEST)):
        r = s.put_manifest(repo, "t", body, ctype)
        if r.status != 400 or "MANIFEST_BLOB_UNKNOWN" not in (r.error_codes() or []):
            problems.append("%s: want 400 MANIFEST_BLOB_UNKNOWN%s" % (what, r.describe()))
    if problems:
        fail("\n  ".join([""] + problems))
    expect_no_tag(s, repo, "t")


def t_manifest_blob_of_other_repo(s):
    # a blob linked only in another repository is not part of this one
    cfg, layer = image_parts(s, "bad/manblob/other")
    s.ensure_empty_blob("bad/manblob/mine")
    body = oci({"mediaType": OCI_EMPTY, "digest": digest_of(EMPTY_JSON), "size": 2}, [layer])
    r = s.put_manifest("bad/manblob/mine", "t", body, OCI_MANIFEST)
    expect(r, 400, "MANIFEST_BLOB_UNKNOWN")
    expect_no_tag(s, "bad/manblob/mine", "t")


def t_index_missing_child(s):
    repo = "bad/manidx"
    cfg, layer = image_parts(s, repo)
    child = oci(cfg, [layer])
    expect(s.put_manifest(repo, digest_of(child), child, OCI_MANIFEST), 201)
    gone = {"mediaType": OCI_MANIFEST, "digest": digest_of(rand_bytes(10)), "size": 99}
    ok_child = {"mediaType": OCI_MANIFEST, "digest": digest_of(child), "size": len(child)}
    for ctype in (OCI_INDEX, DOCKER_LIST):
        kids = [ok_child, gone] if ctype == OCI_INDEX else [dict(ok_child, mediaType=DOCKER_MANIFEST),
                                                            dict(gone, mediaType=DOCKER_MANIFEST)]
        body = canonical_json({"schemaVersion": 2, "mediaType": ctype, "manifests": kids})
        r = s.put_manifest(repo, "idx", body, ctype)
        expect(r, 400, codes_include=["MANIFEST_BLOB_UNKNOWN", "MANIFEST_UNKNOWN"])
    expect_no_tag(s, repo, "idx")


def invalid_manifest_cases(cfg, layer):
    good = json.loads(oci(cfg, [layer]))

    def without(key):
        m = dict(good)
        del m[key]
        return canonical_json(m)

    def with_(**kw):
        m = dict(good)
        m.update(kw)
        return canonical_json(m)
    schema1 = canonical_json({"schemaVersion": 1, "name": "bad/maninv", "tag": "t", "architecture": "amd64",
                              "fsLayers": [{"blobSum": layer["digest"]}], "history": [{"v1Compatibility": "{}"}]})
    return [
        ("malformed JSON", b'{"schemaVersion": 2, "mediaType": ', OCI_MANIFEST),
        ("trailing garbage", oci(cfg, [layer]) + b"}garbage", OCI_MANIFEST),
        ("JSON array", b"[]", OCI_MANIFEST),
        ("JSON number", b"42", OCI_MANIFEST),
        ("JSON string", b'"manifest"', OCI_MANIFEST),
        ("JSON null", b"null", OCI_MANIFEST),
        ("empty body", b"", OCI_MANIFEST),
        ("invalid UTF-8", oci(cfg, [layer]).replace(b'"layers"', b'"\xff\xfeyers"'), OCI_MANIFEST),
        ("deeply nested JSON", b"[" * 200000 + b"]" * 200000, OCI_MANIFEST),
        ("deeply nested object", b'{"a":' * 50000 + b"1" + b"}" * 50000, OCI_MANIFEST),
        ("schemaVersion 1", schema1, DOCKER_SCHEMA1),
        ("signed schemaVersion 1", schema1, DOCKER_SCHEMA1_SIGNED),
        ("OCI manifest with schemaVersion 1", with_(schemaVersion=1), OCI_MANIFEST),
        ("schemaVersion 3", with_(schemaVersion=3), OCI_MANIFEST),
        ("schemaVersion as string", with_(schemaVersion="2"), OCI_MANIFEST),
        ("no schemaVersion", without("schemaVersion"), OCI_MANIFEST),
        ("unknown media type", oci(cfg, [layer]).replace(OCI_MANIFEST.encode(), b"application/x-foo"),
         "application/x-foo"),
        ("no config", without("config"), OCI_MANIFEST),
        ("layers not a list", with_(layers={"a": 1}), OCI_MANIFEST),
        ("config not an object", with_(config="sha256:abc"), OCI_MANIFEST),
        ("config without digest", with_(config={"mediaType": OCI_CONFIG, "size": 2}), OCI_MANIFEST),
        ("descriptor with malformed digest", with_(layers=[dict(layer, digest="sha256:xyz")]), OCI_MANIFEST),
        ("descriptor digest climbing", with_(layers=[dict(layer, digest="sha256:../../../../etc/passwd")]),
         OCI_MANIFEST),
        ("descriptor with negative size", with_(layers=[dict(layer, size=-1)]), OCI_MANIFEST),
        ("descriptor with string size", with_(layers=[dict(layer, size="100")]), OCI_MANIFEST),
        ("body mediaType contradicts Content-Type", with_(mediaType=DOCKER_MANIFEST), OCI_MANIFEST),
        ("index body sent as image manifest",
         canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}), OCI_MANIFEST),
        ("index with manifests not a list",
         canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": 7}), OCI_INDEX),
    ]


def t_invalid_manifest(s, name, body, ctype, tag):
    repo = "bad/maninv"
    r = s.put_manifest(repo, tag, body, ctype)
    expect(r, 400, "MANIFEST_INVALID")
    if name.startswith("schemaVersion 1") or name.startswith("signed schemaVersion 1"):
        msg = " ".join(str(e.get("message", "")) for e in r.json().get("errors", []))
        if "schema1" not in msg.lower() and "schema 1" not in msg.lower() and "schemaversion 1" not in msg.lower():
            fail("schema1 refusal should say schema1 is refused, message %r%s" % (msg, r.describe()))
    expect_no_tag(s, repo, tag)


def big_manifest(cfg, layer, size):
    """A valid image manifest padded with an annotation to exactly size bytes."""
    base = oci(cfg, [layer], annotations={"pad": ""})
    pad = size - len(base)
    if pad < 0:
        raise ValueError("size too small")
    body = oci(cfg, [layer], annotations={"pad": "x" * pad})
    assert len(body) == size
    return body


def t_manifest_over_limit(s, limit):
    repo = "bad/manbig"
    cfg, layer = image_parts(s, repo)
    body = big_manifest(cfg, layer, limit + 1)
    expect(s.put_manifest(repo, "big", body, OCI_MANIFEST), 413, "SIZE_INVALID")
    expect_no_tag(s, repo, "big")
    # without Content-Length the limit must hold too
    pieces = [body[i:i + 65536] for i in range(0, len(body), 65536)]
    r = s.request("PUT", "/v2/%s/manifests/big" % repo, body=iter(pieces), headers={"Content-Type": OCI_MANIFEST})
    expect(r, 413, "SIZE_INVALID")
    expect_no_tag(s, repo, "big")
    # a Content-Length of 1 TiB: refused on the header, or once the limit is crossed
    head = raw_head("PUT", "/v2/%s/manifests/big" % repo, s.port, [("Content-Type", OCI_MANIFEST)],
                    1 << 40)
    out = s.raw(head, timeout=15, chunks=[head] + [b"x" * 65536] * ((limit + 65536) // 65536 + 1))
    if status_of(out) != 413:
        fail("PUT manifest declaring 1 TiB: want 413, got %r" % out[:300])
    expect_no_tag(s, repo, "big")


def t_manifest_at_limit(s, limit):
    repo = "bad/manbig"
    cfg, layer = image_parts(s, repo)
    body = big_manifest(cfg, layer, limit)
    r = expect(s.put_manifest(repo, "exact", body, OCI_MANIFEST), 201)
    r = expect(s.get("/v2/%s/manifests/exact" % repo), 200)
    expect_true(r.body == body, "manifest of exactly the limit comes back intact")


def t_tag_length(s):
    repo = "bad/tags"
    cfg, layer = image_parts(s, repo)
    body = oci(cfg, [layer])
    expect(s.put_manifest(repo, "t" * 128, body, OCI_MANIFEST), 201)
    expect(s.put_manifest(repo, "t" * 129, body, OCI_MANIFEST), 400, "MANIFEST_INVALID")
    expect_no_tag(s, repo, "t" * 129)


def t_bad_tags(s, marker):
    repo = "bad/tags"
    cfg, layer = image_parts(s, repo)
    body = oci(cfg, [layer])
    problems = []
    for tag in (".hidden", "-dash", "..", "%2e%2e", "a%2Fb", "a%00b", "t%20t", "caf%C3%A9", "a:b",
                "..%2F" * 5 + marker, "..%2F" * 9 + marker, "%2e%2e%2f" * 9 + marker, "../" * 9 + marker):
        r = s.put_manifest(repo, tag, body, OCI_MANIFEST)
        codes = r.error_codes() or []
        if not ((r.status == 400 and ("MANIFEST_INVALID" in codes or "TAG_INVALID" in codes or
                                      "NAME_INVALID" in codes or "DIGEST_INVALID" in codes))
                or r.status == 404):
            problems.append("tag %r: want 400 MANIFEST_INVALID%s" % (tag, r.describe()))
    if problems:
        fail("\n  ".join([""] + problems))
    r = expect(s.get("/v2/%s/tags/list" % repo), 200)
    tags = r.json().get("tags") or []
    bad = [t for t in tags if t != "t" * 128 and not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}", t)]
    if bad:
        fail("invalid tags were created: %r" % bad)


def t_manifest_digest_mismatch(s):
    repo = "bad/mandig"
    cfg, layer = image_parts(s, repo)
    body = oci(cfg, [layer])
    other = digest_of(body + b" ")
    expect(s.put_manifest(repo, other, body, OCI_MANIFEST), 400, "DIGEST_INVALID")
    for d in (other, digest_of(body)):
        r = s.get("/v2/%s/manifests/%s" % (repo, d))
        if r.status != 404:
            fail("manifest visible after a digest mismatch%s" % r.describe())
    r = s.put_manifest(repo, digest_of(body, "sha512"), body, OCI_MANIFEST)
    expect(r, 201)
    expect_header(r, "Docker-Content-Digest", digest_of(body, "sha512"))
    expect(s.get("/v2/%s/manifests/%s" % (repo, digest_of(body, "sha512"))), 200)


# ---------------------------------------------------------------------------
# Pagination parameters

def t_bad_pagination(s):
    repo = "bad/page"
    cfg, layer = image_parts(s, repo)
    body = oci(cfg, [layer])
    tags = ["p%02d" % i for i in range(5)]
    for t in tags:
        expect(s.put_manifest(repo, t, body, OCI_MANIFEST), 201)
    problems = []
    for base in ("/v2/%s/tags/list" % repo, "/v2/_catalog"):
        for q in ("n=-1", "n=abc", "n=1e3", "n=0x10", "n=%00", "n=5abc", "n=-0"):
            r = s.get(base + "?" + q)
            if q == "n=-0" and r.status == 200:
                continue
            if r.status != 400 or "PAGINATION_NUMBER_INVALID" not in (r.error_codes() or []):
                problems.append("%s?%s: want 400 PAGINATION_NUMBER_INVALID%s" % (base, q, r.describe()))
        for q in ("n=99999999999999999999", "n=18446744073709551616", "n=2147483648", "n="):
            r = s.get(base + "?" + q)
            if r.status == 200:
                doc = r.json()
                if not isinstance(doc.get("tags" if "tags" in base else "repositories"), list):
                    problems.append("%s?%s: 200 without a list%s" % (base, q, r.describe()))
                if r.header("Link"):
                    problems.append("%s?%s: Link although everything fits%s" % (base, q, r.describe()))
            elif r.status != 400 or "PAGINATION_NUMBER_INVALID" not in (r.error_codes() or []):
                problems.append("%s?%s: want 200 or 400 PAGINATION_NUMBER_INVALID%s" % (base, q, r.describe()))
        for q in ("last=%00", "last=../../../../etc", "last=" + "z" * 5000, "last=%FF%FE", "n=2&last=",
                  "last=p02&last=p03", "n=1&n=2"):
            r = s.get(base + "?" + q)
            if r.status not in (200, 400):
                problems.append("%s?%s: want 200 or 400%s" % (base, q, r.describe()))
    r = expect(s.get("/v2/%s/tags/list?n=2&last=p01" % repo), 200)
    expect_eq(r.json().get("tags"), ["p02", "p03"], "tags after p01")
    if problems:
        fail("\n  ".join([""] + problems))


# ---------------------------------------------------------------------------
# Range requests

BAD_RANGES = ["bytes=5-2", "bytes=0-1,3-4", "items=0-1", "bytes=100-", "bytes=-0", "bytes=100-200",
              "bytes=abc", "bytes=", "bytes=--1", "bytes=1-2-3", "bytes=18446744073709551616-",
              "bytes 0-1", "=0-1", "bytes=5-2,0-1", "bytes=0-1,50-60,90-"]
# overflowing or list-syntax edge cases: a clamped 206 or a 416 are both fine, nothing else
EITHER_RANGES = [("bytes=0-18446744073709551616", 0, 99), ("bytes=-18446744073709551617", 0, 99),
                 ("bytes=0-1,", 0, 1), ("bytes=0-99999999999999999999999999", 0, 99)]
GOOD_RANGES = [("bytes=0-0", 0, 0), ("bytes=0-99", 0, 99), ("bytes=10-19", 10, 19), ("bytes=10-", 10, 99),
               ("bytes=-10", 90, 99), ("bytes=95-200", 95, 99), ("bytes=99-99", 99, 99), ("bytes=-200", 0, 99),
               ("bytes=99-", 99, 99)]


def t_bad_ranges(s, data, d, repo):
    problems = []
    for rng in BAD_RANGES:
        r = s.get("/v2/%s/blobs/%s" % (repo, d), headers={"Range": rng})
        codes = r.error_codes() or []
        if r.status != 416 or "SIZE_INVALID" not in codes:
            problems.append("Range %r: want 416 SIZE_INVALID%s" % (rng, r.describe(100)))
        elif r.header("Content-Range") != "bytes */100":
            problems.append("Range %r: Content-Range %r, want 'bytes */100'" % (rng, r.header("Content-Range")))
    if problems:
        fail("\n  ".join([""] + problems))


def t_good_ranges(s, data, d, repo):
    problems = []
    for rng, a, b in GOOD_RANGES:
        r = s.get("/v2/%s/blobs/%s" % (repo, d), headers={"Range": rng})
        want_cr = "bytes %d-%d/100" % (a, b)
        if r.status != 206:
            problems.append("Range %r: want 206%s" % (rng, r.describe(100)))
        elif r.body != data[a:b + 1]:
            problems.append("Range %r: body is %d bytes, not bytes %d-%d" % (rng, len(r.body), a, b))
        elif r.header("Content-Range") != want_cr:
            problems.append("Range %r: Content-Range %r, want %r" % (rng, r.header("Content-Range"), want_cr))
        elif r.header("Content-Length") != str(b - a + 1):
            problems.append("Range %r: Content-Length %r" % (rng, r.header("Content-Length")))
    for rng, a, b in EITHER_RANGES:
        r = s.get("/v2/%s/blobs/%s" % (repo, d), headers={"Range": rng})
        if r.status == 416:
            continue
        if r.status != 206 or r.body != data[a:b + 1] or r.header("Content-Range") != "bytes %d-%d/100" % (a, b):
            problems.append("Range %r: want 416 or 206 bytes %d-%d%s" % (rng, a, b, r.describe(100)))
    r = s.get("/v2/%s/blobs/%s" % (repo, d))
    if r.status != 200 or r.body != data:
        problems.append("no Range: want 200 and the whole blob%s" % r.describe(100))
    if problems:
        fail("\n  ".join([""] + problems))


# ---------------------------------------------------------------------------
# Malformed digests

BAD_DIGESTS = ["sha256:" + "A" * 64, "sha256:" + "a" * 63, "sha256:" + "a" * 65, "sha512:" + "a" * 64,
               "md5:d41d8cd98f00b204e9800998ecf8427e", "sha256:", "sha256", ":" + "a" * 64,
               "sha256:" + "g" * 64, "sha256:../../../../../../etc/passwd", "SHA256:" + "a" * 64,
               "sha256:" + "a" * 4096, "sha256:%00" + "a" * 61, "sha256+b64:" + "a" * 43]


def t_bad_digests(s):
    repo = "bad/digests"
    s.push_blob(repo, b"repository exists")
    problems = []
    for bd in BAD_DIGESTS:
        q = urllib.parse.quote(bd, safe=":%/")
        r = s.get("/v2/%s/blobs/%s" % (repo, q))
        if r.status != 400 or "DIGEST_INVALID" not in (r.error_codes() or []):
            # a digest with '/' inside changes the route; 404 is an acceptable refusal there
            if not ("/" in bd and r.status == 404):
                problems.append("GET blob %r: want 400 DIGEST_INVALID%s" % (bd, r.describe(200)))
        r = s.head("/v2/%s/blobs/%s" % (repo, q))
        if r.status not in (400, 404) or ("/" not in bd and r.status != 400):
            problems.append("HEAD blob %r: want 400%s" % (bd, r.describe(200)))
        r = s.request("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, urllib.parse.quote(bd, safe=":")),
                      body=b"payload", headers={"Content-Type": "application/octet-stream"})
        if r.status != 400 or "DIGEST_INVALID" not in (r.error_codes() or []):
            problems.append("monolithic POST digest %r: want 400 DIGEST_INVALID%s" % (bd, r.describe(200)))
        loc, _ = s.start_upload(repo)
        r = s.request("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + urllib.parse.quote(bd, safe=":"),
                      body=b"payload", headers={"Content-Type": "application/octet-stream"})
        if r.status != 400 or "DIGEST_INVALID" not in (r.error_codes() or []):
            problems.append("PUT upload digest %r: want 400 DIGEST_INVALID%s" % (bd, r.describe(200)))
        s.cancel_upload(loc)
        s.uploads.discard(upload_uuid(loc))
        r = s.request("POST", "/v2/%s/blobs/uploads/?mount=%s&from=bad/legit"
                      % (repo, urllib.parse.quote(bd, safe=":")))
        if r.status == 202:
            loc = absolute_path(r.header("Location"))
            s.uploads.add(upload_uuid(loc))
            s.cancel_upload(loc)
        elif r.status != 400:
            problems.append("mount %r: want 400 or 202%s" % (bd, r.describe(200)))
        r = s.request("DELETE", "/v2/%s/blobs/%s" % (repo, q))
        if r.status not in (400, 404) or ("/" not in bd and r.status != 400):
            problems.append("DELETE blob %r: want 400%s" % (bd, r.describe(200)))
    if problems:
        fail("\n  ".join([""] + problems))


# ---------------------------------------------------------------------------
# Protocol abuse

def t_huge_headers(s):
    """Over 64 KiB of headers: a registry may serve them (Go's limit is 1 MiB) or refuse them,
    but must answer or close cleanly and keep serving; 1 MiB and more must be refused."""
    problems = []
    cases = [
        ("one 70 KiB header", raw_head("GET", "/v2/", s.port, [("X-Big", "a" * 70000)]), False),
        ("2000 small headers", raw_head("GET", "/v2/", s.port, [("X-H%d" % i, "v" * 40) for i in range(2000)]),
         False),
        ("100 KiB URL", raw_head("GET", "/v2/" + "a" * 100000 + "/tags/list", s.port), True),
        ("1 MiB header", raw_head("GET", "/v2/", s.port, [("X-Big", "a" * MiB)]), True),
        ("1 MiB header, never ending", b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * MiB, True),
    ]
    for name, data, must_refuse in cases:
        out = s.raw(data, timeout=10, shutdown_write=True)
        st = status_of(out)
        if out and st is None:
            problems.append("%s: not an HTTP response: %r" % (name, out[:200]))
        elif must_refuse and st is not None and st < 400:
            problems.append("%s: answered %r" % (name, out[:200]))
        elif st is not None and st != 200 and not 400 <= st < 500:
            problems.append("%s: answered %r, want 200 or a 4xx" % (name, out[:200]))
        s.wait_alive()
    if problems:
        fail("\n  ".join([""] + problems))


ZERO_DIGEST = b"sha256:" + b"0" * 64
GARBAGE = [
    ("binary junk", b"\x00\xff\xfe\x01garbage\r\n\r\n", True),
    ("method only", b"GET\r\n\r\n", True),
    ("empty lines", b"\r\n\r\n\r\n\r\n", True),
    ("HTTP/9.9", b"GET /v2/ HTTP/9.9\r\nHost: x\r\n\r\n", True),
    ("FTP protocol", b"GET /v2/ FTP/1.0\r\nHost: x\r\n\r\n", True),
    ("unknown method", b"BREW /v2/ HTTP/1.1\r\nHost: x\r\n\r\n", True),
    ("lowercase method", b"get /v2/ HTTP/1.1\r\nHost: x\r\n\r\n", False),
    ("negative Content-Length", b"POST /v2/bad/raw/blobs/uploads/?digest=" + ZERO_DIGEST +
     b" HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", True),
    ("huge Content-Length", b"POST /v2/bad/raw/blobs/uploads/?digest=" + ZERO_DIGEST +
     b" HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\nabc", True),
    ("two Content-Lengths", b"POST /v2/bad/raw/blobs/uploads/?digest=" + ZERO_DIGEST +
     b" HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde", True),
    ("bad chunk size", b"PATCH /v2/bad/raw/blobs/uploads/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"zzzz\r\nabc\r\n0\r\n\r\n", True),
    ("huge chunk size", b"POST /v2/bad/raw/blobs/uploads/?digest=" + ZERO_DIGEST +
     b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\nabc\r\n", True),
    ("Content-Length and chunked", b"POST /v2/bad/raw/blobs/uploads/?digest=" + ZERO_DIGEST +
     b" HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", True),
    ("unknown Transfer-Encoding", b"POST /v2/bad/raw/blobs/uploads/?digest=" + ZERO_DIGEST +
     b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", True),
    ("bad percent escape", b"GET /v2/%zz/tags/list HTTP/1.1\r\nHost: x\r\n\r\n", True),
    ("percent NUL", b"GET /v2/%00/tags/list HTTP/1.1\r\nHost: x\r\n\r\n", True),
    ("raw NUL in path", b"GET /v2/a\x00b/tags/list HTTP/1.1\r\nHost: x\r\n\r\n", True),
    ("absolute-form target", b"GET http://evil.example/v2/ HTTP/1.1\r\nHost: x\r\n\r\n", False),
    ("header without colon", b"GET /v2/ HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n", False),
    ("folded header", b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n", False),
    ("bare LF", b"GET /v2/ HTTP/1.1\nHost: x\n\n", False),
    ("no Host on HTTP/1.1", b"GET /v2/ HTTP/1.1\r\n\r\n", False),
    ("target without slash", b"GET v2 HTTP/1.1\r\nHost: x\r\n\r\n", True),
    ("asterisk target", b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", False),
    ("query only", b"GET ?n=1 HTTP/1.1\r\nHost: x\r\n\r\n", True),
    ("pipelined junk after a good request", b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n\x16\x03\x01\x02\x00\x01", False),
    ("TLS hello on plain port", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64), True),
]


def t_garbage_requests(s):
    problems = []
    for name, data, must_fail in GARBAGE:
        out = s.raw(data, timeout=5, shutdown_write=True)
        st = status_of(out)
        if must_fail and st is not None and st < 400:
            problems.append("%s: answered %r" % (name, out[:200]))
        try:
            s.wait_alive()
        except CheckFailed as e:
            problems.append("after %s: %s" % (name, e))
            break
    if problems:
        fail("\n  ".join([""] + problems))


def t_many_connections(s):
    """Connections opened and dropped without a byte, then half a request line."""
    socks = []
    try:
        for _ in range(200):
            socks.append(socket.create_connection(("127.0.0.1", s.port), timeout=5))
        for c in socks[:100]:
            c.close()
        for c in socks[100:]:
            try:
                c.sendall(b"GET /v2/ HT")
            except OSError:
                pass
        # The 100 closed connections count against this address's limit
        # (128) until the server has noticed each close; on a busy machine
        # that takes a moment, and a new connection is refused meanwhile,
        # as the limit says. The server must answer once it has caught up.
        deadline = time.monotonic() + 20
        while True:
            try:
                s.wait_alive()
                break
            except CheckFailed:
                if time.monotonic() > deadline or s.crashed():
                    raise
                time.sleep(0.2)
    finally:
        for c in socks:
            c.close()
    s.wait_alive()


# ---------------------------------------------------------------------------
# Concurrency

def t_concurrent_same_blob(s):
    repo = "bad/race/blob"
    data = rand_bytes(256 * 1024)
    d = digest_of(data)
    results = parallel(16, lambda i: s.push_blob_monolithic(repo, data))
    problems = []
    for i, r in enumerate(results):
        if isinstance(r, BaseException):
            problems.append("thread %d: %s" % (i, r))
        elif r.status != 201:
            problems.append("thread %d: %d%s" % (i, r.status, r.describe()))
    if problems:
        fail("\n  ".join([""] + problems))
    blob_dir = os.path.dirname(s.blob_path(d))
    entries = sorted(os.listdir(blob_dir))
    expect_eq(entries, ["data"], "files in the blob directory")
    if read_file(s.blob_path(d)) != data:
        fail("blob data on disk differs from what was pushed")
    parent = os.path.dirname(blob_dir)
    strays = [n for n in os.listdir(parent) if n != d.split(":")[1] and d.split(":")[1][:8] in n]
    if strays:
        fail("stray entries next to the blob: %r" % strays)
    r = expect(s.get("/v2/%s/blobs/%s" % (repo, d)), 200)
    expect_true(r.body == data, "GET returns the pushed bytes")


def t_concurrent_same_blob_chunked(s):
    repo = "bad/race/chunked"
    data = rand_bytes(64 * 1024)
    d = digest_of(data)

    def push(i):
        return s.push_blob(repo, data, chunk=16 * 1024)
    results = parallel(16, push)
    bad = [r for r in results if isinstance(r, BaseException) or r != d]
    if bad:
        fail("concurrent chunked pushes of one blob failed: %s" % [str(b)[:500] for b in bad[:3]])
    expect_eq(sorted(os.listdir(os.path.dirname(s.blob_path(d)))), ["data"], "files in the blob directory")
    expect_eq(read_file(s.blob_path(d)), data, "blob data")


def t_concurrent_same_tag(s):
    repo = "bad/race/tag"
    cfg, layer = image_parts(s, repo)
    bodies = [oci(cfg, [layer], annotations={"i": str(i)}) for i in range(16)]
    digests = [digest_of(b) for b in bodies]
    results = parallel(16, lambda i: s.put_manifest(repo, "race", bodies[i], OCI_MANIFEST))
    problems = []
    for i, r in enumerate(results):
        if isinstance(r, BaseException):
            problems.append("thread %d: %s" % (i, r))
        elif r.status != 201:
            problems.append("thread %d: %d%s" % (i, r.status, r.describe()))
    if problems:
        fail("\n  ".join([""] + problems))
    r = expect(s.get("/v2/%s/manifests/race" % repo), 200)
    if r.body not in bodies:
        fail("tag resolves to bytes that are none of the 16 pushed%s" % r.describe(200))
    current = digest_of(r.body)
    expect_header(r, "Docker-Content-Digest", current)
    link = s.repo_dir(repo, "_manifests", "tags", "race", "current", "link")
    expect_eq(read_file(link).decode(), current, "tags/race/current/link")
    idx = s.repo_dir(repo, "_manifests", "tags", "race", "index", "sha256")
    got = set()
    for hexd in os.listdir(idx):
        got.add(read_file(os.path.join(idx, hexd, "link")).decode())
    expect_eq(sorted(got), sorted(digests), "digests in tags/race/index")
    for d in digests:
        expect(s.head("/v2/%s/manifests/%s" % (repo, d)), 200)


def t_concurrent_mixed(s):
    """Pushes, pulls and deletes on one repository at once: all answers sane, nothing left half-done."""
    repo = "bad/race/mixed"
    cfg, layer = image_parts(s, repo)

    def work(i):
        out = []
        data = rand_bytes(1000 + i)
        r = s.push_blob_monolithic(repo, data)
        out.append(r.status == 201)
        body = oci(cfg, [layer], annotations={"w": str(i)})
        out.append(s.put_manifest(repo, "m%d" % (i % 4), body, OCI_MANIFEST).status == 201)
        r = s.get("/v2/%s/tags/list" % repo)
        out.append(r.status == 200)
        r = s.delete("/v2/%s/manifests/m%d" % (repo, (i + 1) % 4))
        out.append(r.status in (202, 404))
        r = s.get("/v2/%s/manifests/m%d" % (repo, i % 4))
        out.append(r.status in (200, 404))
        return out
    results = parallel(16, work)
    bad = [(i, r) for i, r in enumerate(results) if isinstance(r, BaseException) or not all(r)]
    if bad:
        fail("unexpected answers under concurrency: %s" % [(i, str(r)[:300]) for i, r in bad[:4]])
    r = expect(s.get("/v2/%s/tags/list" % repo), 200)
    for t in r.json().get("tags") or []:
        rr = s.get("/v2/%s/manifests/%s" % (repo, t))
        if rr.status != 200:
            fail("tag %s is listed but does not resolve%s" % (t, rr.describe()))


# ---------------------------------------------------------------------------
# Outside the root

def snapshot(tmp, roots):
    out = {}
    for dirpath, dirnames, filenames in os.walk(tmp):
        if any(dirpath == r or dirpath.startswith(r + os.sep) for r in roots):
            dirnames[:] = []
            continue
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            if any(p == r for r in roots):
                continue
            out[p] = os.path.isdir(p)
    return out


def t_nothing_outside_root(s, tmp, marker, before, allowed, decoys):
    roots = [srv.root for srv in allowed["servers"]]
    now = snapshot(tmp, roots)
    extra = sorted(p for p in now if p not in before and p not in allowed["files"])
    problems = ["created outside the root: %s" % p for p in extra]
    for p, content in decoys.items():
        if not os.path.exists(p):
            problems.append("decoy removed: %s" % p)
        elif read_file(p) != content:
            problems.append("decoy modified: %s" % p)
    for srv in allowed["servers"]:
        for dirpath, dirnames, filenames in os.walk(srv.root):
            for n in dirnames + filenames:
                if marker in n:
                    p = os.path.join(dirpath, n)
                    repos = srv.v2("repositories") + os.sep
                    if not p.startswith(repos):
                        problems.append("hostile name reached %s" % os.path.relpath(p, srv.root))
        top = sorted(os.listdir(srv.root))
        if top not in ([], ["docker"]):
            problems.append("unexpected entries at the top of the root: %r" % top)
        v2 = srv.v2()
        if os.path.isdir(v2):
            odd = [n for n in os.listdir(v2) if n not in ("blobs", "repositories") and not n.startswith("_berth")]
            if odd:
                problems.append("unexpected entries in docker/registry/v2: %r" % odd)
    for p in (os.path.join(os.path.dirname(tmp), marker), os.path.join("/", marker)):
        if os.path.exists(p):
            problems.append("hostile name created %s" % p)
    if problems:
        fail("\n  ".join([""] + problems))


# ---------------------------------------------------------------------------

def main(checks):
    tmp = tempfile.mkdtemp(prefix="berth-bad-")
    marker = "escapee" + uuidlib.uuid4().hex[:10]
    try:
        run_checks(checks, tmp, marker)
    finally:
        for srv in checks.servers:
            srv.kill()
        shutil.rmtree(os.path.join(os.path.dirname(tmp), marker), ignore_errors=True)
        if not os.environ.get("BERTH_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("# kept %s" % tmp)


def make_decoys(tmp, s):
    """Files outside the root shaped like things a path traversal would find."""
    decoys = {}
    up = os.path.join(tmp, "decoy")
    os.makedirs(up)
    for name, content in (("data", b"decoy upload bytes"), ("startedat", b"2024-01-01T00:00:00Z")):
        with open(os.path.join(up, name), "wb") as f:
            f.write(content)
        decoys[os.path.join(up, name)] = content
    return decoys


def add_evil_repo(tmp, blob_digest, manifest_digest, decoys):
    alg, hexd = blob_digest.split(":")
    files = {
        os.path.join(tmp, "evil", "_layers", alg, hexd, "link"): blob_digest.encode(),
        os.path.join(tmp, "evil", "_manifests", "tags", "latest", "current", "link"): manifest_digest.encode(),
        os.path.join(tmp, "evil", "_manifests", "revisions", "sha256", manifest_digest.split(":")[1], "link"):
            manifest_digest.encode(),
    }
    for p, content in files.items():
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(content)
        decoys[p] = content


def run_checks(checks, tmp, marker):
    s = checks.watch(Server(tmpdir=tmp))
    s.keep_up = True
    try:
        s.start()
    except RuntimeError as e:
        checks.report("server starts", str(e))
        return
    decoys = make_decoys(tmp, s)
    verified = set()
    reported = set()

    def storage_clean():
        for srv in checks.servers:
            if not srv.alive():
                continue
            srv.wait_alive()
            p = [x for x in settle_storage(srv, verified=verified) if x not in reported]
            if p:
                reported.update(p)
                raise CheckFailed("storage left in a bad state:\n  " + "\n  ".join(p))
    checks.after_each.append(storage_clean)
    c = checks.check

    # legitimate content the hostile requests aim at
    legit_blob = digest_of(b"legit blob")
    legit_body = canonical_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                 "config": {"mediaType": OCI_EMPTY, "digest": digest_of(EMPTY_JSON), "size": 2},
                                 "layers": []})

    def setup():
        s.push_blob("bad/legit", b"legit blob")
        s.ensure_empty_blob("bad/legit")
        expect(s.put_manifest("bad/legit", "latest", legit_body, OCI_MANIFEST), 201)
    c("push the content hostile requests aim at", setup)
    add_evil_repo(tmp, legit_blob, digest_of(legit_body), decoys)
    before = snapshot(tmp, [s.root])

    c("wrong digest on PUT", t_wrong_digest_put, s)
    c("wrong digest on PUT with the final chunk", t_wrong_digest_put_with_body, s)
    c("wrong digest on monolithic POST", t_wrong_digest_monolithic, s)
    c("sha512 digest over sha256 hex", t_sha512_digest_for_sha256_bytes, s)
    c("body shorter than Content-Length (monolithic POST)", t_short_body_monolithic, s)
    c("body shorter than Content-Length (PATCH)", t_short_body_patch, s)
    c("body shorter than Content-Length (manifest PUT)", t_short_body_manifest, s)
    c("stalled request bodies do not block other clients", t_stalled_bodies_do_not_block, s)
    c("body longer than Content-Length (monolithic POST)", t_long_body_monolithic, s)
    c("body longer than Content-Length (PATCH)", t_long_body_patch, s)
    c("chunk out of order", t_chunk_out_of_order, s)
    c("chunk overlapping", t_chunk_overlapping, s)
    c("chunk with a gap", t_chunk_gap, s)
    c("malformed Content-Range", t_chunk_malformed_range, s)
    c("chunk to a cancelled upload", t_chunk_to_cancelled, s)
    c("unknown upload UUID", t_unknown_upload_uuid, s)
    c("upload UUID used through another repository", t_upload_of_other_repo, s)
    c("garbage upload UUIDs", t_garbage_upload_uuids, s)
    c("upload UUID climbing out of _uploads", t_traversal_upload_uuid, s, tmp)
    for label, name, strict in name_cases(marker):
        c("name: %s" % label, check_name, s, name, strict, legit_blob)
    c("name of exactly 255 characters is accepted", t_name_255_accepted, s)
    c("endpoint with a trailing slash", t_endpoint_trailing_slash, s)
    c("reads through a name climbing out of the root", t_traversal_reads, s, tmp, legit_blob,
      digest_of(legit_body))
    c("manifest referencing missing blobs", t_manifest_missing_blobs, s)
    c("manifest referencing a blob of another repository", t_manifest_blob_of_other_repo, s)
    c("index referencing a missing child", t_index_missing_child, s)
    parts = {}

    def manifest_setup():
        s.ensure_empty_blob("bad/maninv")
        parts["cfg"], parts["layer"] = image_parts(s, "bad/maninv")
    if not c("push blobs for the invalid manifests", manifest_setup):
        parts["cfg"] = {"mediaType": OCI_CONFIG, "digest": digest_of(b"c"), "size": 1}
        parts["layer"] = {"mediaType": OCI_LAYER, "digest": digest_of(b"l"), "size": 1}
    for i, (name, body, ctype) in enumerate(invalid_manifest_cases(parts["cfg"], parts["layer"])):
        c("manifest: %s" % name, t_invalid_manifest, s, name, body, ctype, "inv%d" % i)
    c("manifest over 4 MiB", t_manifest_over_limit, s, 4 * MiB)
    c("manifest of exactly 4 MiB", t_manifest_at_limit, s, 4 * MiB)
    c("tag of 128 characters accepted, 129 refused", t_tag_length, s)
    c("invalid tags", t_bad_tags, s, marker)
    c("manifest PUT by a digest that does not match", t_manifest_digest_mismatch, s)
    c("bad n and last", t_bad_pagination, s)
    rdata = rand_bytes(100)
    rdig = digest_of(rdata)
    c("push a 100-byte blob for Range requests", s.push_blob, "bad/range", rdata)
    c("bad Range headers", t_bad_ranges, s, rdata, rdig, "bad/range")
    c("valid Range headers", t_good_ranges, s, rdata, rdig, "bad/range")
    c("malformed digests", t_bad_digests, s)
    c("headers over 64 KiB, and over 1 MiB", t_huge_headers, s)
    c("garbage request lines", t_garbage_requests, s)
    c("many idle and half-open connections", t_many_connections, s)
    c("16 threads push the same blob", t_concurrent_same_blob, s)
    c("16 threads push the same blob in chunks", t_concurrent_same_blob_chunked, s)
    c("16 threads push different manifests to one tag", t_concurrent_same_tag, s)
    c("16 threads push, list and delete at once", t_concurrent_mixed, s)

    small = checks.watch(Server(tmpdir=tmp, name="small", config={"limits": {"max_manifest_size": "1KiB"}}))
    try:
        small.start()
    except RuntimeError as e:
        checks.report("server with max_manifest_size 1KiB starts", str(e))
        small = None
    if small is not None:
        c("max_manifest_size 1KiB: 1025 bytes refused", t_manifest_over_limit, small, 1024)
        c("max_manifest_size 1KiB: 1024 bytes accepted", t_manifest_at_limit, small, 1024)

    allowed = {"servers": [srv for srv in checks.servers],
               "files": {p for srv in checks.servers for p in (srv.config_path, srv.log_path)}}
    c("nothing created outside the registry root", t_nothing_outside_root, s, tmp, marker, before, allowed,
      decoys)
    checks.after_each.remove(storage_clean)
    s.keep_up = False

    def clean_exit(srv):
        srv.stop_clean()
    c("server still exits 0 on SIGTERM", clean_exit, s)
    if small is not None:
        c("second server exits 0 on SIGTERM", clean_exit, small)


if __name__ == "__main__":
    run_main(main)
