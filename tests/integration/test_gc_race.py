"""Online garbage collection racing pushes: nothing a push got 201 for is lost.

One thread runs the gc job back to back through the admin endpoint, with a
grace period of one second. A churn thread pushes images with fresh layers
and deletes them at once, so their layers become garbage; once a layer is
older than the grace period, only the write barrier stands between it and
the sweep. Pusher threads then build images from exactly those layers the
way clients do (HEAD the blob, mount it from the churn repository or upload
it when missing, then PUT the manifest), racing the collector that is
sweeping the same blobs, and delete some of their own. Their repositories
sort before FILLERS small repositories the collector also has to mark, so
every run has a long window between marking the pushers' repositories and
sweeping: a push landing in it is lost unless the barrier protects it
(without the barrier this test fails within seconds). A manifest PUT may
fail with MANIFEST_BLOB_UNKNOWN when a layer was swept before the push
protected it; the client then pushes again, as docker does. Afterwards every image that got its 201 (and was not deleted)
pulls back with identical digests and every blob's bytes hash to its digest.

BERTH_GC_RACE_SECONDS (default 20) sets how long the race runs; run it for
10 minutes by hand with BERTH_GC_RACE_SECONDS=600.
"""
import collections
import json
import os
import random
import shutil
import tempfile
import threading
import time

from berth_harness import Server, digest_of, expect, expect_eq, expect_true, run_main

SECONDS = float(os.environ.get("BERTH_GC_RACE_SECONDS", "20"))
PUSHERS = 4
FILLERS = 300
GRACE_S = 1.0
LAYER = 16 * 1024
OCI = "application/vnd.oci.image.manifest.v1+json"


def main(checks):
    tmp = tempfile.mkdtemp(prefix="berth-gc-race-")
    config = {
        "gc": {"grace_period": "1s"},
        "limits": {"threads": 8},
        "plugins": [{"use": "storage-fs", "config": {"root": os.path.join(tmp, "root")}}],
    }
    s = checks.watch(Server(tmpdir=tmp, config=config, root=os.path.join(tmp, "root")))
    garbage = collections.deque()   # (time deleted, digest, data) from the churn thread
    stop = threading.Event()
    lock = threading.Lock()
    stats = {"gc_runs": 0, "pushed": 0, "retried": 0, "deleted": 0, "churn": 0, "errors": []}
    kept = {}   # (repo, tag) -> (manifest digest, [blob digests])

    def ensure_blob(repo, d, data):
        """What a client does for each layer: HEAD, else mount, else upload."""
        if s.head("/v2/%s/blobs/%s" % (repo, d)).status == 200:
            return
        r = s.request("POST", "/v2/%s/blobs/uploads/?mount=%s&from=churn/x" % (repo, d))
        if r.status == 201:
            return
        expect(r, 202)
        loc = r.header("Location")
        expect(s.finish_upload(loc, d, data), 201)

    def push_image(repo, tag, layers):
        cfg = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag,
                          "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        cd = digest_of(cfg)
        for attempt in range(20):
            ensure_blob(repo, cd, cfg)
            for d, data in layers:
                ensure_blob(repo, d, data)
            m = json.dumps({"schemaVersion": 2, "mediaType": OCI,
                            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                       "digest": cd, "size": len(cfg)},
                            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                        "digest": d, "size": len(data)} for d, data in layers]}).encode()
            r = s.put_manifest(repo, tag, m, OCI)
            if r.status == 201:
                return digest_of(m), [cd] + [d for d, _ in layers]
            if r.status == 400 and "MANIFEST_BLOB_UNKNOWN" in r.error_codes():
                with lock:
                    stats["retried"] += 1
                continue
            raise AssertionError("manifest PUT %s:%s answered %d %s" % (repo, tag, r.status, r.body[:300]))
        raise AssertionError("%s:%s never got pushed in 20 attempts" % (repo, tag))

    def guard(fn):
        def run():
            try:
                fn()
            except Exception as e:  # reported after the threads stop
                with lock:
                    stats["errors"].append(repr(e))
                stop.set()
        return run

    def gc_loop():
        while not stop.is_set():
            r = s.request("POST", "/berth/v1/jobs/gc", timeout=120)
            expect(r, 200)
            expect_eq(r.json()["result"], "ok", "gc run: %s" % r.json().get("error"))
            with lock:
                stats["gc_runs"] += 1

    def churn():
        n = 0
        while not stop.is_set():
            layers = [os.urandom(LAYER) for _ in range(2)]
            d, _ = push_image("churn/x", "c%d" % n, [(digest_of(l), l) for l in layers])
            expect(s.delete("/v2/churn/x/manifests/" + d), 202)
            with lock:
                for l in layers:
                    garbage.append((time.monotonic(), digest_of(l), l))
                stats["churn"] += 1
            n += 1
            if len(garbage) > 200:
                time.sleep(0.05)

    def old_garbage():
        """A layer deleted longer ago than the grace period, if any yet."""
        while not stop.is_set():
            with lock:
                if garbage and time.monotonic() - garbage[0][0] > GRACE_S * 1.2:
                    _, d, data = garbage.popleft()
                    return d, data
            time.sleep(0.01)
        return None

    def pusher(k):
        def run():
            n = 0
            while not stop.is_set():
                picks = [old_garbage(), old_garbage()]
                if None in picks:
                    return
                repo, tag = "a-race/p%d" % k, "t%d" % n
                own = os.urandom(2048)
                layers = picks + [(digest_of(own), own)]
                md, blobs = push_image(repo, tag, layers)
                with lock:
                    kept[(repo, tag)] = (md, blobs)
                    stats["pushed"] += 1
                if n % 3 == 2:
                    expect(s.delete("/v2/%s/manifests/%s" % (repo, md)), 202)
                    with lock:
                        del kept[(repo, tag)]
                        stats["deleted"] += 1
                n += 1
        return run

    try:
        s.start()

        def fill():
            for i in range(FILLERS):
                s.push_image("z-fill/r%03d" % i, tag="v1", layers=1, layer_size=64)
        checks.check("%d repositories for the collector to mark" % FILLERS, fill)

        def race():
            threads = [threading.Thread(target=guard(gc_loop)), threading.Thread(target=guard(churn))]
            threads += [threading.Thread(target=guard(pusher(k))) for k in range(PUSHERS)]
            for t in threads:
                t.start()
            stop.wait(SECONDS)
            stop.set()
            for t in threads:
                t.join(180)
            expect_eq(stats["errors"], [], "errors during the race")
            print("# %.0f s: %d gc runs, %d images pushed (%d pushed again after a sweep), "
                  "%d deleted, %d churn images" % (SECONDS, stats["gc_runs"], stats["pushed"],
                                                   stats["retried"], stats["deleted"], stats["churn"]))
            expect_true(stats["gc_runs"] >= 5, "gc ran repeatedly (%d)" % stats["gc_runs"])
            expect_true(stats["pushed"] >= 20, "images pushed during the race (%d)" % stats["pushed"])
        checks.check("gc runs back to back while clients push images sharing garbage layers", race)

        def everything_pulls():
            # One more collection with nothing in flight must not change that either.
            expect_eq(expect(s.request("POST", "/berth/v1/jobs/gc", timeout=120), 200).json()["result"],
                      "ok", "last gc")
            for (repo, tag), (md, blobs) in sorted(kept.items()):
                r = expect(s.get("/v2/%s/manifests/%s" % (repo, tag), headers={"Accept": OCI}), 200)
                expect_eq(digest_of(r.body), md, "%s:%s manifest" % (repo, tag))
                for d in blobs:
                    b = expect(s.get("/v2/%s/blobs/%s" % (repo, d)), 200)
                    expect_eq(digest_of(b.body), d, "blob %s of %s:%s" % (d, repo, tag))
            expect_true(len(kept) >= 10, "images checked (%d)" % len(kept))
        checks.check("every image that got 201 pulls back intact after the race", everything_pulls)

        checks.check("server exits 0 on SIGTERM", s.stop_clean)
    finally:
        stop.set()
        for srv in checks.servers:
            srv.kill()
        if not os.environ.get("BERTH_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
