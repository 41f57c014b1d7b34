"""Retention, then garbage collection, end to end with a real client:
skopeo pushes six CI builds with layers of their own and a shared base
layer; a policy keeps the two most recent. The dry run names exactly the
four others and changes nothing; the real run deletes them (the kept ones
pull back with identical digests, the deleted answer 404); garbage
collection then frees exactly the deleted images' own blobs, and the disk
shrinks by their sizes while the shared base layer stays.
"""
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time

from berth_harness import (BERTH_BIN, PLUGIN_DIR, Server, expect, expect_eq, expect_true, run_main)

OCI = "application/vnd.oci.image.manifest.v1+json"
BASE = hashlib.sha256(b"base").digest() * (300 * 1024 // 32)


def layout(path, tag):
    """An OCI layout with the shared base layer and one of its own."""
    blobs = os.path.join(path, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)

    def put(data):
        d = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, d), "wb") as f:
            f.write(data)
        return {"digest": "sha256:" + d, "size": len(data)}
    own = hashlib.sha256(tag.encode()).digest() * (200 * 1024 // 32)
    layers = [dict(put(BASE), mediaType="application/vnd.oci.image.layer.v1.tar"),
              dict(put(own), mediaType="application/vnd.oci.image.layer.v1.tar")]
    cfg = dict(put(json.dumps({"architecture": "amd64", "os": "linux", "tag": tag,
                               "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]}}).encode()),
               mediaType="application/vnd.oci.image.config.v1+json")
    m = put(json.dumps({"schemaVersion": 2, "mediaType": OCI, "config": cfg, "layers": layers}).encode())
    with open(os.path.join(path, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [dict(m, mediaType=OCI,
                   annotations={"org.opencontainers.image.ref.name": tag})]}, f)


def blob_sizes(root):
    out = {}
    top = os.path.join(root, "docker", "registry", "v2", "blobs")
    for dirpath, _, files in os.walk(top):
        if "data" in files:
            out["sha256:" + os.path.basename(dirpath)] = os.path.getsize(os.path.join(dirpath, "data"))
    return out


def main(checks):
    if shutil.which("skopeo") is None:
        if os.environ.get("CI"):
            raise SystemExit("skopeo is missing")
        raise SystemExit(77)
    tmp = tempfile.mkdtemp(prefix="berth-retention-gc-")
    root = os.path.join(tmp, "root")
    policy = os.path.join(tmp, "policy.json")
    with open(policy, "w") as f:
        f.write('{"default": [{"type": "insecureAcceptAnything"}]}')
    s = checks.watch(Server(tmpdir=tmp, root=root, config={
        "gc": {"grace_period": "0s"},
        "plugins": [{"use": "storage-fs", "config": {"root": root}},
                    {"use": "retention", "config": {"policies": [
                        {"name": "ci", "repositories": ["ci/**"], "tags": ["build-*"],
                         "keep_last_pushed": 2}]}}]}))
    tags = ["build-%d" % i for i in range(1, 7)]
    st = {}
    try:
        s.start()

        def push():
            for t in tags:
                lay = os.path.join(tmp, "layout-" + t)
                layout(lay, t)
                dfile = os.path.join(tmp, t + ".digest")
                subprocess.run(["skopeo", "--policy", policy, "copy", "--dest-tls-verify=false",
                                "--digestfile", dfile, "oci:%s:%s" % (lay, t),
                                "docker://127.0.0.1:%d/ci/app:%s" % (s.port, t)],
                               check=True, capture_output=True, timeout=120)
                with open(dfile) as f:
                    st[t] = f.read().strip()
                # What skopeo stored (it may compress layers or re-encode the manifest).
                r = expect(s.get("/v2/ci/app/manifests/" + st[t], headers={
                    "Accept": OCI + ", application/vnd.docker.distribution.manifest.v2+json"}), 200)
                m = json.loads(r.body)
                st["refs-" + t] = {m["config"]["digest"]} | {l["digest"] for l in m["layers"]}
                time.sleep(1.1)   # push times one second apart: an order to keep by
        checks.check("skopeo pushes six builds", push)

        def dry_run():
            before = blob_sizes(root)
            p = subprocess.run([BERTH_BIN, "job", "run", "retention", "--dry-run", "-c", s.config_path],
                               capture_output=True, text=True, timeout=120, cwd=tmp)
            expect_eq(p.returncode, 0, "dry run: %s" % p.stderr[-400:])
            for t in tags[:4]:
                expect_true(t in p.stdout, "the dry run names %s" % t)
            for t in tags[4:]:
                expect_true(t not in p.stdout.replace("kept", ""), "the dry run keeps %s" % t)
            expect_eq(blob_sizes(root), before, "a dry run changes nothing")
            for t in tags:
                expect(s.head("/v2/ci/app/manifests/" + t), 200)
        checks.check("the dry run names exactly the four oldest and changes nothing", dry_run)

        def real_run():
            r = expect(s.request("POST", "/berth/v1/jobs/retention"), 200)
            expect_eq(r.json()["result"], "ok", "retention run: %s" % r.json().get("error"))
            for t in tags[:4]:
                expect(s.get("/v2/ci/app/manifests/" + t), 404)
                expect(s.get("/v2/ci/app/manifests/" + st[t]), 404)
            for t in tags[4:]:
                out = os.path.join(tmp, "pulled-" + t)
                dfile = os.path.join(tmp, t + ".pulled")
                subprocess.run(["skopeo", "--policy", policy, "copy", "--src-tls-verify=false",
                                "--digestfile", dfile, "docker://127.0.0.1:%d/ci/app:%s" % (s.port, t),
                                "oci:%s:%s" % (out, t)], check=True, capture_output=True, timeout=120)
                with open(dfile) as f:
                    expect_eq(f.read().strip(), st[t], "%s pulls back with its digest" % t)
        checks.check("the real run deletes them; the kept builds pull back identical", real_run)

        def gc_frees():
            before = blob_sizes(root)
            kept = set().union(*(st["refs-" + t] for t in tags[4:]))
            own = set().union(*(st["refs-" + t] for t in tags[:4])) - kept
            own |= {st[t] for t in tags[:4]}
            shared = set.intersection(*(st["refs-" + t] for t in tags))
            expect_eq(len(shared), 1, "one layer all builds share")
            base = shared.pop()
            r = expect(s.request("POST", "/berth/v1/jobs/gc"), 200)
            expect_eq(r.json()["result"], "ok", "gc: %s" % r.json().get("error"))
            after = blob_sizes(root)
            expect_eq(set(before) - set(after), own, "gc freed exactly the deleted builds' own blobs")
            expect_eq(sum(before.values()) - sum(after.values()), sum(before[d] for d in own),
                      "the disk shrank by their sizes")
            expect_true(base in after, "the shared base layer stays")
            for t in tags[4:]:
                expect(s.get("/v2/ci/app/manifests/" + t, headers={"Accept": OCI}), 200)
        checks.check("gc frees exactly the deleted builds' blobs; the disk shrinks by their sizes", gc_frees)

        checks.check("server exits 0 on SIGTERM", s.stop_clean)
    finally:
        for srv in checks.servers:
            srv.kill()
        if not os.environ.get("BERTH_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
