#!/usr/bin/env python3
"""Large blob uploads, which the server stores and hashes on threads of their
own (the upload pipe): monolithic, chunked and streamed bodies arrive
byte-identical, a wrong digest or Content-Range stores nothing, a client that
goes away mid-body leaves a prefix it can resume from, and more concurrent
uploads than the pipes' memory budget all succeed.

Prints one `ok - name` / `not ok - name: details` line per check and a
`N passed, M failed` summary; exits 1 when anything failed.
"""

import hashlib
import os
import re
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from berth_harness import (  # noqa: E402
    REQUEST_TIMEOUT, CheckFailed, Server, absolute_path, digest_of, expect,
    expect_eq, expect_header, expect_true, fail, parallel, run_main, settle_storage,
    upload_uuid)

MiB = 1024 * 1024
SANITIZER = re.compile(r"runtime error:|AddressSanitizer|LeakSanitizer|ThreadSanitizer")


def blob_bytes(seed, size):
    """size pseudo-random bytes: a repeated pattern would hide misplaced blocks."""
    out = bytearray()
    i = 0
    while len(out) < size:
        out += hashlib.sha512(("%s/%d" % (seed, i)).encode()).digest()
        i += 1
    return bytes(out[:size])


def upload_data_path(s, repo, loc):
    return s.repo_dir(repo, "_uploads", upload_uuid(loc), "data")


def check_blob(s, repo, data, d):
    """The blob reads back byte-identical under its digest, and its file has the right size."""
    r = expect(s.get("/v2/%s/blobs/%s" % (repo, d)), 200)
    expect_header(r, "Docker-Content-Digest", d)
    expect_header(r, "Content-Length", str(len(data)))
    if r.body != data:
        fail("GET blob returned %d bytes that differ from the %d pushed (sha256 %s)"
             % (len(r.body), len(data), digest_of(r.body)))
    path = s.blob_path(d)
    if not os.path.isfile(path):
        fail("blob data not at %s" % path)
    expect_eq(os.path.getsize(path), len(data), "size of %s" % path)


def range_end(resp):
    """The last byte offset a Range header "0-N" reports."""
    v = expect_header(resp, "Range")
    m = re.fullmatch(r"0-(\d+)", v)
    if not m:
        fail("Range %r is not 0-N%s" % (v, resp.describe()))
    return int(m.group(1))


def t_put_monolithic(s):
    repo = "pipe/mono"
    data = blob_bytes("put-9m", 9 * MiB + 1)
    d = digest_of(data)
    loc, _ = s.start_upload(repo)
    r = expect(s.finish_upload(loc, d, data), 201)
    expect_header(r, "Docker-Content-Digest", d)
    check_blob(s, repo, data, d)


def t_post_monolithic(s):
    repo = "pipe/mono"
    data = blob_bytes("post-9m", 9 * MiB + 1)
    d = digest_of(data)
    r = expect(s.push_blob_monolithic(repo, data), 201)
    expect_header(r, "Docker-Content-Digest", d)
    check_blob(s, repo, data, d)


def t_chunked_patches(s):
    repo = "pipe/chunked"
    piece = 3 * MiB + 7
    data = blob_bytes("chunked", 3 * piece)
    d = digest_of(data)
    loc, _ = s.start_upload(repo)
    off = 0
    while off < len(data):
        part = data[off:off + piece]
        r = expect(s.patch(loc, part, "%d-%d" % (off, off + len(part) - 1)), 202)
        off += len(part)
        expect_eq(range_end(r), off - 1, "Range end after %d bytes" % off)
        loc = absolute_path(expect_header(r, "Location"))
        expect_eq(os.path.getsize(upload_data_path(s, repo, loc)), off, "upload data size on disk")
    r = expect(s.finish_upload(loc, d), 201)
    expect_header(r, "Docker-Content-Digest", d)
    check_blob(s, repo, data, d)


def odd_pieces(data):
    sizes = [1, 4093, 65537, 12345, 777777, 3, 1 << 20, 99991]
    off, i = 0, 0
    while off < len(data):
        n = sizes[i % len(sizes)]
        yield data[off:off + n]
        off += n
        i += 1


def t_streamed_patch(s):
    repo = "pipe/streamed"
    data = blob_bytes("streamed", 5 * MiB)
    d = digest_of(data)
    loc, _ = s.start_upload(repo)
    # no Content-Length: the body comes with Transfer-Encoding: chunked
    r = expect(s.patch(loc, odd_pieces(data)), 202)
    expect_eq(range_end(r), len(data) - 1, "Range end")
    loc = absolute_path(expect_header(r, "Location"))
    r = expect(s.finish_upload(loc, d), 201)
    expect_header(r, "Docker-Content-Digest", d)
    check_blob(s, repo, data, d)


def t_wrong_digest(s):
    repo = "pipe/wrong"
    data = blob_bytes("wrong-digest", 6 * MiB)
    real = digest_of(data)
    wrong = digest_of(data[:-1])
    loc, _ = s.start_upload(repo)
    expect(s.finish_upload(loc, wrong, data), 400, "DIGEST_INVALID")
    expect(s.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")
    expect_true(not os.path.exists(upload_data_path(s, repo, loc)), "the upload's data is removed")
    for d in (real, wrong):
        expect(s.get("/v2/%s/blobs/%s" % (repo, d)), 404, "BLOB_UNKNOWN")
        expect_true(not os.path.exists(s.blob_path(d)), "no blob data at %s" % s.blob_path(d))


def send_part_and_close(s, loc, data, declared):
    """A PATCH declaring `declared` bytes whose client sends only data, then closes."""
    head = ("PATCH %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/octet-stream\r\n"
            "Content-Length: %d\r\nContent-Range: 0-%d\r\n\r\n"
            % (loc, s.port, declared, declared - 1)).encode()
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=REQUEST_TIMEOUT)
    try:
        sock.sendall(head)
        sock.sendall(data)
    finally:
        sock.close()


def t_client_goes_away(s):
    repo = "pipe/abort"
    data = blob_bytes("abort", 12 * MiB)
    d = digest_of(data)
    sent = 6 * MiB
    loc, _ = s.start_upload(repo)
    send_part_and_close(s, loc, data[:sent], len(data))
    # The aborted request may still hold the upload for a moment (409), and
    # may still be storing what it received (then the size read before grows
    # and the resumed PATCH is 416 with a larger Range).
    deadline = time.monotonic() + REQUEST_TIMEOUT
    last = -1
    while True:
        before = os.path.getsize(upload_data_path(s, repo, loc))
        r = expect(s.get(loc), 204)
        end = range_end(r)
        size = os.path.getsize(upload_data_path(s, repo, loc))
        expect_true(end + 1 <= sent, "Range 0-%d within the %d bytes sent" % (end, sent))
        expect_true(size <= sent, "stored %d bytes of the %d sent" % (size, sent))
        # the data only grows while the aborted request finishes: the
        # Range read between two looks at the file lies between them
        if before > 0:
            expect_true(before <= end + 1 <= size,
                        "Range 0-%d between the upload data's sizes %d and %d on disk"
                        % (end, before, size))
        off = size
        r = s.patch(loc, data[off:], "%d-%d" % (off, len(data) - 1))
        if r.status == 202:
            break
        if r.status not in (409, 416) or time.monotonic() > deadline:
            fail("resuming at %d: %s" % (off, r.describe()))
        if r.status == 416:
            # only growth by the aborted request's last writes explains it
            expect_true(size > last, "upload size %d grew since the last try (%d)" % (size, last))
            last = size
        time.sleep(0.1)
    expect_eq(range_end(r), len(data) - 1, "Range end after resuming")
    loc = absolute_path(expect_header(r, "Location"))
    r = expect(s.finish_upload(loc, d), 201)
    expect_header(r, "Docker-Content-Digest", d)
    check_blob(s, repo, data, d)


def t_concurrent(s):
    repo = "pipe/many"
    n = 24
    blobs = [blob_bytes("many-%d" % i, 3 * MiB + i) for i in range(n)]

    def push(i):
        data = blobs[i]
        d = digest_of(data)
        loc, _ = s.start_upload(repo)
        r = s.patch(loc, data)
        if r.status != 202:
            return "PATCH %d: %s" % (i, r.describe())
        loc = absolute_path(r.header("Location"))
        r = s.finish_upload(loc, d)
        if r.status != 201 or r.header("Docker-Content-Digest") != d:
            return "PUT %d: %s" % (i, r.describe())
        return d

    results = parallel(n, push)
    problems = [str(x) for x in results if not (isinstance(x, str) and x.startswith("sha256:"))]
    if problems:
        fail("%d of %d uploads failed:\n  %s" % (len(problems), n, "\n  ".join(problems)))
    for i, d in enumerate(results):
        expect_eq(d, digest_of(blobs[i]), "digest of upload %d" % i)
        check_blob(s, repo, blobs[i], d)


def t_wrong_content_range(s):
    repo = "pipe/range"
    first = blob_bytes("range-first", 1 * MiB)
    big = blob_bytes("range-big", 4 * MiB)
    loc, _ = s.start_upload(repo)
    r = expect(s.patch(loc, first, "0-%d" % (len(first) - 1)), 202)
    loc = absolute_path(expect_header(r, "Location"))
    start = len(first) + 5
    r = expect(s.patch(loc, big, "%d-%d" % (start, start + len(big) - 1)), 416)
    expect_eq(range_end(r), len(first) - 1, "Range in the 416 answer")
    r = expect(s.get(loc), 204)
    expect_eq(range_end(r), len(first) - 1, "Range after the refused PATCH")
    expect_eq(os.path.getsize(upload_data_path(s, repo, loc)), len(first), "upload data size on disk")
    expect(s.cancel_upload(loc), 204)


def main(checks):
    tmp = tempfile.mkdtemp(prefix="berth-pipe-")
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
        if not s.alive():
            return
        p = [x for x in settle_storage(s, verified=verified) if x not in reported]
        if p:
            reported.update(p)
            raise CheckFailed("storage left in a bad state:\n  " + "\n  ".join(p))
    checks.after_each.append(storage_clean)

    c = checks.check
    c("monolithic PUT of 9 MiB + 1 byte", t_put_monolithic, s)
    c("monolithic POST of 9 MiB + 1 byte", t_post_monolithic, s)
    c("chunked PATCHes of 3 MiB + 7 bytes with Content-Range", t_chunked_patches, s)
    c("PATCH of 5 MiB with Transfer-Encoding: chunked in odd pieces", t_streamed_patch, s)
    c("wrong digest on a 6 MiB PUT is DIGEST_INVALID and stores no blob", t_wrong_digest, s)
    c("a client gone after 6 of 12 MiB leaves a prefix it resumes from", t_client_goes_away, s)
    c("24 concurrent 3 MiB uploads, more than the pipes' budget", t_concurrent, s)
    c("a big PATCH with a wrong Content-Range start is 416 and stores nothing",
      t_wrong_content_range, s)

    checks.after_each.remove(storage_clean)
    s.keep_up = False

    def final_stop():
        s.stop_clean()
    c("server exits 0 on SIGTERM", final_stop)

    def no_sanitizer_report():
        m = SANITIZER.search(s.log_text())
        if m:
            fail("sanitizer report in the server log:\n%s" % s.log_text()[max(0, m.start() - 200):][:3000])
    c("no sanitizer report in the server log", no_sanitizer_report)


if __name__ == "__main__":
    run_main(main)
