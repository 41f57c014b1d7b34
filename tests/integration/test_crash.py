"""SIGKILL in the middle of many concurrent pushes loses nothing that was
acknowledged and leaves nothing half-written.

Each round starts the server on the same storage, lets raw-HTTP pushers
(monolithic and chunked blobs, manifests under unique tags), holders of
chunked uploads and a skopeo client push at once, and kills the server with
SIGKILL at a random moment. After each restart:
- every push that got its 201 pulls back with identical digests, and every
  blob that got its 201 is there with the right bytes;
- an upload interrupted mid-way either resumes from the offset the server
  reports and completes with the right digest, or is cleanly unknown (404
  BLOB_UPLOAD_UNKNOWN);
- every acknowledged tag is in its repository's tag list;
- every tag of every repository in the catalog resolves to a manifest whose
  blobs are all present and hash right (nothing half-visible);
and at the end, with the server stopped, `berth fsck` finds no problem.

BERTH_CRASH_ROUNDS (default 6) sets the number of kills.
"""
import hashlib
import json
import os
import random
import shutil
import subprocess
import tempfile
import threading
import time

from berth_harness import (BERTH_BIN, CheckFailed, Server, absolute_path, digest_of, expect,
                           expect_eq, expect_true, run_main)

ROUNDS = int(os.environ.get("BERTH_CRASH_ROUNDS", "6"))
PUSHERS = 6
OCI = "application/vnd.oci.image.manifest.v1+json"


def oci_layout(path, seed):
    """An OCI image layout with one 1 MiB layer, for skopeo."""
    blobs = os.path.join(path, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)

    def put(data):
        d = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, d), "wb") as f:
            f.write(data)
        return "sha256:" + d, len(data)
    layer = hashlib.sha256(seed).digest() * (1024 * 1024 // 32)
    ld, ls = put(layer)
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed.hex(),
                      "rootfs": {"type": "layers", "diff_ids": [ld]}}).encode()
    cd, cs = put(cfg)
    m = json.dumps({"schemaVersion": 2, "mediaType": OCI,
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld,
                                "size": ls}]}).encode()
    md, ms = put(m)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{"mediaType": OCI, "digest": md, "size": ms,
                                                       "annotations": {"org.opencontainers.image.ref.name": "img"}}]}, f)


def main(checks):
    tmp = tempfile.mkdtemp(prefix="berth-crash-")
    root = os.path.join(tmp, "root")
    s = checks.watch(Server(tmpdir=tmp, root=root,
                            config={"plugins": [{"use": "storage-fs", "config": {"root": root}}]}))
    lock = threading.Lock()
    acked = {"manifests": {}, "blobs": {}}     # (repo, tag) -> digest; (repo, digest) -> True
    interrupted = []                            # (loc, acked bytes, data, digest)
    counts = {"manifests": 0, "blobs": 0, "skopeo": 0, "resumed": 0, "unknown": 0}
    layout = os.path.join(tmp, "layout")
    oci_layout(layout, b"crash")
    policy = os.path.join(tmp, "policy.json")
    with open(policy, "w") as f:
        f.write('{"default": [{"type": "insecureAcceptAnything"}]}')

    def pusher(k, rnd, stop, round_no):
        n = 0
        while not stop.is_set():
            repo = "crash/p%d" % k
            tag = "r%d-%d" % (round_no, n)
            n += 1
            try:
                layers = []
                for i in range(2):
                    data = os.urandom(rnd.choice([1000, 60000, 300000]))
                    d = digest_of(data)
                    if rnd.random() < 0.5:
                        r = s.request("POST", "/v2/%s/blobs/uploads/" % repo)
                        if r.status != 202:
                            return
                        loc = absolute_path(r.header("Location"))
                        r = s.finish_upload(loc, d, data)
                    else:
                        r = s.request("POST", "/v2/%s/blobs/uploads/" % repo)
                        if r.status != 202:
                            return
                        loc = absolute_path(r.header("Location"))
                        off = 0
                        for part in (data[:len(data) // 3], data[len(data) // 3:]):
                            r = s.patch(loc, part, "%d-%d" % (off, off + len(part) - 1))
                            if r.status != 202:
                                return
                            off += len(part)
                            loc = absolute_path(r.header("Location"))
                        r = s.finish_upload(loc, d)
                    if r.status != 201:
                        return
                    with lock:
                        acked["blobs"][(repo, d)] = True
                        counts["blobs"] += 1
                    layers.append((d, len(data)))
                cfg = json.dumps({"tag": tag, "rootfs": {"type": "layers", "diff_ids": []}}).encode()
                cd = digest_of(cfg)
                r = s.request("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, cd), body=cfg)
                if r.status != 201:
                    return
                m = json.dumps({"schemaVersion": 2, "mediaType": OCI,
                                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                           "digest": cd, "size": len(cfg)},
                                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                            "digest": d, "size": sz} for d, sz in layers]}).encode()
                r = s.put_manifest(repo, tag, m, OCI)
                if r.status == 201:
                    with lock:
                        acked["manifests"][(repo, tag)] = digest_of(m)
                        counts["manifests"] += 1
            except CheckFailed:
                return

    def holder(rnd, stop):
        """Chunked uploads left half-done when the kill comes."""
        while not stop.is_set():
            try:
                data = os.urandom(200000)
                r = s.request("POST", "/v2/crash/held/blobs/uploads/")
                if r.status != 202:
                    return
                loc = absolute_path(r.header("Location"))
                half = rnd.randint(1, len(data) - 1)
                r = s.patch(loc, data[:half], "0-%d" % (half - 1))
                if r.status != 202:
                    return
                with lock:
                    interrupted.append((absolute_path(r.header("Location")), half, data, digest_of(data)))
                time.sleep(0.05)
            except CheckFailed:
                return

    def skopeo(round_no, stop):
        ref = "docker://127.0.0.1:%d/crash/skopeo:r%d" % (s.port, round_no)
        digestfile = os.path.join(tmp, "skopeo-%d.digest" % round_no)
        p = subprocess.run(["skopeo", "--policy", policy, "copy", "--dest-tls-verify=false",
                            "--digestfile", digestfile, "oci:%s:img" % layout, ref],
                           capture_output=True, text=True, timeout=120)
        if p.returncode == 0:
            with open(digestfile) as f:
                d = f.read().strip()
            with lock:
                acked["manifests"][("crash/skopeo", "r%d" % round_no)] = d
                counts["skopeo"] += 1

    def verify():
        for (repo, tag), d in sorted(acked["manifests"].items()):
            r = expect(s.get("/v2/%s/manifests/%s" % (repo, tag), headers={"Accept": OCI}), 200)
            expect_eq(digest_of(r.body), d, "acknowledged %s:%s" % (repo, tag))
        # The tag index names every acknowledged tag (it may name more, never fewer).
        listed = {}
        for (repo, tag) in sorted(acked["manifests"]):
            if repo not in listed:
                r = expect(s.get("/v2/%s/tags/list" % repo), 200)
                listed[repo] = set(r.json().get("tags") or [])
            expect_true(tag in listed[repo], "acknowledged tag %s:%s is listed" % (repo, tag))
        for (repo, d) in sorted(acked["blobs"]):
            r = expect(s.get("/v2/%s/blobs/%s" % (repo, d)), 200)
            expect_eq(digest_of(r.body), d, "acknowledged blob %s in %s" % (d, repo))
        for loc, half, data, d in interrupted:
            r = s.get(loc)
            if r.status == 404:
                expect_true("BLOB_UPLOAD_UNKNOWN" in r.error_codes(), "a lost upload is cleanly unknown")
                counts["unknown"] += 1
                continue
            expect_eq(r.status, 204, "status of an interrupted upload")
            have = int(r.header("Range").split("-")[1]) + 1
            expect_true(have <= len(data), "the upload holds at most what was sent")
            expect_true(have >= half, "the upload kept the %d acknowledged bytes (has %d)" % (half, have))
            loc2 = absolute_path(r.header("Location"))
            r = s.patch(loc2, data[have:], "%d-%d" % (have, len(data) - 1)) if have < len(data) else r
            expect_true(r.status in (202, 204), "resume the upload: %d" % r.status)
            r = s.finish_upload(absolute_path(r.header("Location")), d)
            expect(r, 201)
            counts["resumed"] += 1
        interrupted.clear()
        # Nothing half-visible: every tag everywhere resolves to a complete image.
        for repo in expect(s.get("/v2/_catalog?n=10000"), 200).json()["repositories"]:
            r = s.get("/v2/%s/tags/list" % repo)
            if r.status == 404:
                continue
            for tag in expect(r, 200).json().get("tags") or []:
                mr = expect(s.get("/v2/%s/manifests/%s" % (repo, tag), headers={"Accept": OCI}), 200)
                m = json.loads(mr.body)
                for desc in [m["config"]] + m["layers"]:
                    b = expect(s.get("/v2/%s/blobs/%s" % (repo, desc["digest"])), 200)
                    expect_eq(digest_of(b.body), desc["digest"], "%s:%s blob" % (repo, tag))

    try:
        rnd = random.Random(int(os.environ.get("BERTH_CRASH_SEED", str(int(time.time())))))
        s.start()
        port = s.port

        def rounds():
            for round_no in range(ROUNDS):
                stop = threading.Event()
                threads = [threading.Thread(target=pusher, args=(k, random.Random(rnd.random()), stop, round_no))
                           for k in range(PUSHERS)]
                threads.append(threading.Thread(target=holder, args=(random.Random(rnd.random()), stop)))
                threads.append(threading.Thread(target=skopeo, args=(round_no, stop)))
                for t in threads:
                    t.start()
                time.sleep(rnd.uniform(0.8, 2.5))
                s.proc.kill()                      # SIGKILL, mid-push
                s.proc.wait(timeout=10)
                stop.set()
                for t in threads:
                    t.join(120)
                s.running = False
                s.start(port=port)
                verify()
            print("# %d kills: %d manifests and %d blobs acknowledged, %d skopeo copies, "
                  "%d interrupted uploads resumed, %d cleanly unknown"
                  % (ROUNDS, counts["manifests"], counts["blobs"], counts["skopeo"], counts["resumed"],
                     counts["unknown"]))
            expect_true(counts["manifests"] >= ROUNDS, "pushes were acknowledged between kills")
        checks.check("%d SIGKILLs during concurrent pushes: every acknowledged push pulls back intact"
                     % ROUNDS, rounds)

        def fsck_clean():
            s.stop_clean()
            p = subprocess.run([BERTH_BIN, "fsck", "-c", s.config_path], capture_output=True, text=True,
                               timeout=600, cwd=tmp)
            problems = [l for l in p.stdout.splitlines() if l.startswith("broken")]
            expect_eq((p.returncode, problems), (0, []), "berth fsck after the crashes: %s" % p.stdout[-800:])
        checks.check("berth fsck finds nothing wrong after the crashes", fsck_clean)
    finally:
        for srv in checks.servers:
            srv.kill()
        if not os.environ.get("BERTH_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
