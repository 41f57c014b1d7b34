"""A full disk: pushes that cannot fit fail cleanly, pulls go on, and once
space is freed pushes work again.

The storage root is a small tmpfs the test mounts (root only; skipped where
the machine does not allow mounting). A filler file takes the space; then a
large blob upload (monolithic, chunked and streamed) answers 507 or another
5xx with an OCI error body, a manifest push that cannot be written fails
without leaving a tag behind, the server keeps serving the image pushed
before, and `berth fsck` finds nothing broken. After the filler is removed,
the same pushes succeed and pull back intact.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from berth_harness import (BERTH_BIN, Server, absolute_path, digest_of, expect, expect_eq,
                           expect_true, run_main)

SIZE_MB = 24


def mount_tmpfs(path):
    if os.geteuid() != 0:
        return "not root"
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=0700" % SIZE_MB, "tmpfs", path],
                       capture_output=True, text=True)
    return None if p.returncode == 0 else (p.stderr.strip() or "mount failed")


def main(checks):
    tmp = tempfile.mkdtemp(prefix="berth-full-")
    root = os.path.join(tmp, "root")
    os.makedirs(root)
    why = mount_tmpfs(root)
    if why:
        print("# skipped: cannot mount a tmpfs here (%s)" % why)
        shutil.rmtree(tmp, ignore_errors=True)
        sys.exit(77)
    s = checks.watch(Server(tmpdir=tmp, root=root,
                            config={"plugins": [{"use": "storage-fs", "config": {"root": root}}]}))
    filler = os.path.join(root, "filler")
    st = {}
    try:
        s.start()

        def before():
            st["a"] = s.push_image("team/a", tag="v1", layers=2, layer_size=100000)
        checks.check("push an image while there is room", before)

        def fill():
            with open(filler, "wb", buffering=0) as f:
                try:
                    while True:
                        f.write(b"\0" * (1 << 20))
                except OSError:
                    pass
            # Leave a little room: small writes may fit, big ones not.
            size = os.path.getsize(filler)
            os.truncate(filler, max(0, size - 512 * 1024))
            v = os.statvfs(root)
            expect_true(v.f_bavail * v.f_frsize < 1024 * 1024, "the disk is nearly full")
        checks.check("fill the disk", fill)

        big = os.urandom(4 * 1024 * 1024)
        big_d = digest_of(big)

        def pushes_fail_cleanly():
            def start():
                r = s.request("POST", "/v2/team/b/blobs/uploads/")
                if r.status == 202:
                    return absolute_path(r.header("Location"))
                expect_eq(r.status, 507, "POST on a full disk, when it cannot even start")
                expect_true(r.error_codes(), "an OCI error body: %r" % r.body[:200])
                return None

            def failed(r, what):
                expect_eq(r.status, 507, "%s on a full disk: %r" % (what, r.body[:200]))
                expect_true(r.error_codes(), "an OCI error body: %r" % r.body[:200])
                expect_true("space" in r.body.decode(errors="replace").lower(),
                            "the message says why: %r" % r.body[:200])

            loc = start()
            if loc:
                failed(s.finish_upload(loc, big_d, big), "monolithic upload")
                s.request("DELETE", loc)
            loc = start()
            if loc:
                failed(s.patch(loc, big[:2 * 1024 * 1024], "0-%d" % (2 * 1024 * 1024 - 1)), "a chunk")
                s.request("DELETE", loc)
            loc = start()
            if loc:
                r = s.request("PATCH", loc, body=iter([big[i:i + 65536] for i in range(0, len(big), 65536)]),
                              headers={"Content-Type": "application/octet-stream"})
                failed(r, "a streamed upload")
                s.request("DELETE", loc)
            expect(s.head("/v2/team/b/blobs/" + big_d), 404)
        checks.check("blob uploads that cannot fit answer 5xx with an OCI error; nothing visible",
                     pushes_fail_cleanly)

        def manifest_on_full_disk():
            # Take the last bytes too, then push a manifest of existing blobs.
            with open(filler, "ab", buffering=0) as f:
                try:
                    while True:
                        f.write(b"\0" * 4096)
                except OSError:
                    pass
            body, _ = st["a"]
            m = json.loads(body)
            m["annotations"] = {"pad": "x" * 20000}
            mb = json.dumps(m).encode()
            r = s.put_manifest("team/a", "v2", mb, "application/vnd.oci.image.manifest.v1+json")
            expect_true(500 <= r.status <= 599, "manifest push on a full disk: %d %r" % (r.status, r.body[:200]))
            expect(s.get("/v2/team/a/manifests/v2"), 404)
            tags = expect(s.get("/v2/team/a/tags/list"), 200).json()["tags"]
            expect_eq(tags, ["v1"], "no tag left behind")
        checks.check("a manifest push on a full disk fails without leaving a tag", manifest_on_full_disk)

        def pulls_go_on():
            body, d = st["a"]
            r = expect(s.get("/v2/team/a/manifests/v1", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}), 200)
            expect_eq(digest_of(r.body), d, "manifest")
            for l in json.loads(body)["layers"]:
                expect_eq(digest_of(expect(s.get("/v2/team/a/blobs/" + l["digest"]), 200).body), l["digest"], "layer")
            expect_true(s.alive(), "the server is still up")
        checks.check("pulls go on while the disk is full", pulls_go_on)

        def fsck_while_full():
            p = subprocess.run([BERTH_BIN, "fsck", "-c", s.config_path], capture_output=True, text=True,
                               timeout=120, cwd=tmp)
            broken = [l for l in p.stdout.splitlines() if l.startswith("broken")]
            expect_eq(broken, [], "fsck: %s" % p.stdout[-500:])
        checks.check("nothing half-written: fsck finds nothing broken", fsck_while_full)

        def after_freeing():
            os.unlink(filler)
            d = s.push_blob("team/b", big, chunk=1024 * 1024)
            expect_eq(d, big_d, "the big blob pushes once there is room")
            expect_eq(digest_of(expect(s.get("/v2/team/b/blobs/" + big_d), 200).body), big_d, "and pulls back")
            body, md = s.push_image("team/b", tag="v1", layers=1, layer_size=100000)
            expect(s.get("/v2/team/b/manifests/v1"), 200)
        checks.check("once space is freed, pushes work again", after_freeing)

        checks.check("server exits 0 on SIGTERM", s.stop_clean)
    finally:
        for srv in checks.servers:
            srv.kill()
        subprocess.run(["umount", root], capture_output=True)
        if not os.environ.get("BERTH_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
