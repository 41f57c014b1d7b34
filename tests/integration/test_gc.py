"""Garbage collection as users see it: what it frees, what it must keep.

- deleted images' layers, configs and manifests are freed, by exactly their
  sizes on disk; shared layers and every kept image stay and pull back with
  identical digests; dangling layer links go too;
- --dry-run (job and command) lists exactly what a real run frees and
  changes nothing;
- the grace period keeps young blobs; an abandoned upload older than
  registry.upload_purge_age is purged, a recent one is not;
- a manifest the validator cannot parse still keeps every digest it names;
- the job reports through the admin endpoint, emits gc.completed, counts
  berth_gc_* metrics (scraped from the metrics plugin), and `berth gc --json`
  prints the same report.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request

from berth_harness import (BERTH_BIN, PLUGIN_DIR, Server, digest_of, expect, expect_eq,
                           expect_true, free_port, run_main)


def blob_files(s):
    """{digest: size} of every blob data file on disk."""
    out = {}
    top = os.path.join(s.root, "docker", "registry", "v2", "blobs")
    for dirpath, _, files in os.walk(top):
        if "data" in files:
            alg = os.path.relpath(dirpath, top).split(os.sep)[0]
            out["%s:%s" % (alg, os.path.basename(dirpath))] = os.path.getsize(
                os.path.join(dirpath, "data"))
    return out


def manifest_refs(body):
    m = json.loads(body)
    return [m["config"]["digest"]] + [l["digest"] for l in m["layers"]]


def run_job(s, dry_run=False):
    r = expect(s.request("POST", "/berth/v1/jobs/gc" + ("?dry_run=1" if dry_run else "")), 200)
    doc = r.json()
    expect_eq(doc["result"], "ok", "gc result (%s)" % doc.get("error"))
    return doc["output"]


def age(path, seconds):
    t = time.time() - seconds
    os.utime(path, (t, t))


def age_tree(top, seconds):
    for dirpath, dirs, files in os.walk(top):
        for f in files:
            age(os.path.join(dirpath, f), seconds)


def pull_verify(s, repo, ref, want_digest):
    r = expect(s.get("/v2/%s/manifests/%s" % (repo, ref),
                     headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}), 200)
    expect_eq(digest_of(r.body), want_digest, "%s:%s manifest digest" % (repo, ref))
    for d in manifest_refs(r.body):
        b = expect(s.get("/v2/%s/blobs/%s" % (repo, d)), 200)
        expect_eq(digest_of(b.body), d, "blob of %s:%s" % (repo, ref))


def main(checks):
    tmp = tempfile.mkdtemp(prefix="berth-gc-")
    events = os.path.join(tmp, "events.jsonl")
    metrics_port = free_port()
    config = {
        "gc": {"grace_period": "1h"},
        "registry": {"upload_purge_age": "24h"},
        "plugins": [
            {"use": "storage-fs", "config": {"root": os.path.join(tmp, "root")}},
            {"use": "hello-notify", "config": {"path": events}},
            {"use": "metrics-prometheus", "config": {"listen": "127.0.0.1:%d" % metrics_port}},
        ],
    }
    s = checks.watch(Server(tmpdir=tmp, config=config, root=os.path.join(tmp, "root")))
    state = {}
    try:
        s.start()

        def setup():
            keep_body, keep_d = s.push_image("team/keep", tag="v1", layers=2, layer_size=5000)
            # gone:v1 has layers of its own; gone:v2 shares a layer with keep:v1.
            sd = manifest_refs(keep_body)[1]
            expect(s.request("POST", "/v2/team/gone/blobs/uploads/?mount=%s&from=team/keep" % sd), 201)
            gone_body, gone_d = s.push_image("team/gone", tag="v1", layers=3, layer_size=7000)
            cfg = json.dumps({"architecture": "amd64", "os": "linux",
                              "rootfs": {"type": "layers", "diff_ids": []}}).encode()
            cd = s.push_blob("team/gone", cfg)
            m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                       "digest": cd, "size": len(cfg)},
                            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                        "digest": sd, "size": 5000}]}).encode()
            expect(s.put_manifest("team/gone", "v2", m, "application/vnd.oci.image.manifest.v1+json"), 201)
            state.update(keep=(keep_body, keep_d), gone=(gone_body, gone_d), gone2=(m, digest_of(m)),
                         shared=sd, cfg2=cd)
            expect(s.delete("/v2/team/gone/manifests/" + gone_d), 202)
            expect(s.delete("/v2/team/gone/manifests/" + digest_of(m)), 202)
        checks.check("push two images sharing a layer, delete the one", setup)

        def grace_keeps_young():
            before = blob_files(s)
            out = run_job(s)
            expect_eq(blob_files(s), before, "nothing freed within the grace period")
            expect_true(any("kept" in l and "young" in l for l in out), "the report counts young blobs")
        checks.check("the grace period keeps blobs younger than it", grace_keeps_young)

        def dry_run_then_real():
            # Make everything old enough.
            age_tree(os.path.join(s.root, "docker"), 7200)
            before = blob_files(s)
            gone_body, gone_d = state["gone"]
            m2, m2d = state["gone2"]
            garbage = {gone_d, m2d, state["cfg2"]} | set(manifest_refs(gone_body))
            garbage -= set(manifest_refs(state["keep"][0])) | {state["shared"]}
            out = run_job(s, dry_run=True)
            listed = {l.split()[3] for l in out if l.startswith("would delete blob")}
            expect_eq(listed, garbage, "dry run lists exactly the garbage blobs")
            expect_eq(blob_files(s), before, "a dry run changes nothing")
            p = subprocess.run([BERTH_BIN, "gc", "-c", s.config_path, "--dry-run", "--json"],
                               capture_output=True, text=True, timeout=120, cwd=tmp)
            expect_eq(p.returncode, 0, "berth gc --dry-run --json: %s" % p.stderr[-500:])
            rep = json.loads(p.stdout)
            expect_eq(rep["blobs_deleted"], len(garbage), "berth gc --json would delete")
            expect_eq(rep["bytes_freed"], sum(before[d] for d in garbage), "bytes it would free")
            expect_eq(blob_files(s), before, "berth gc --dry-run changes nothing")

            out = run_job(s)
            after = blob_files(s)
            expect_eq(set(before) - set(after), garbage, "the real run deletes exactly that")
            freed = sum(before.values()) - sum(after.values())
            expect_eq(freed, sum(before[d] for d in garbage), "disk shrank by the garbage's size")
            summary = [l for l in out if l.startswith("freed")][0]
            expect_true(("%d bytes" % freed) in summary, "the report says the bytes: %s" % summary)
            pull_verify(s, "team/keep", "v1", state["keep"][1])
            for d in garbage:
                expect(s.head("/v2/team/gone/blobs/" + d), 404)
            expect(s.head("/v2/team/keep/blobs/" + state["shared"]), 200)
            links = os.path.join(s.repo_dir("team/gone"), "_layers", "sha256")
            left = os.listdir(links) if os.path.isdir(links) else []
            expect_eq(left, [], "team/gone's dangling layer links are gone")
        checks.check("dry run lists exactly what a real run frees; kept images pull intact",
                     dry_run_then_real)

        def uploads():
            old_loc, _ = s.start_upload("team/keep")
            expect(s.patch(old_loc, b"x" * 1000), 202)
            new_loc, _ = s.start_upload("team/keep")
            old_uuid = old_loc.rstrip("/").split("/")[-1].split("?")[0]
            new_uuid = new_loc.rstrip("/").split("/")[-1].split("?")[0]
            age_tree(os.path.join(s.repo_dir("team/keep"), "_uploads", old_uuid), 3 * 86400)
            s.uploads.discard(old_uuid)
            out = run_job(s)
            expect_true(any(old_uuid in l and "purged upload" in l for l in out), "old upload purged")
            expect_true(not os.path.exists(os.path.join(s.repo_dir("team/keep"), "_uploads", old_uuid)),
                        "its folder is gone")
            expect(s.get(old_loc), 404)
            expect(s.get(new_loc), 204)
            expect(s.cancel_upload(new_loc), 204)
        checks.check("abandoned uploads past upload_purge_age are purged, recent ones kept", uploads)

        def unparsable_manifest_keeps_refs():
            data = os.urandom(3000)
            d = s.push_blob("team/odd", data)
            body = ("not json at all, but it names %s" % d).encode()
            md = digest_of(body)
            alg, hexd = md.split(":")
            bdir = os.path.join(s.root, "docker", "registry", "v2", "blobs", alg, hexd[:2], hexd)
            os.makedirs(bdir)
            with open(os.path.join(bdir, "data"), "wb") as f:
                f.write(body)
            rdir = os.path.join(s.repo_dir("team/odd"), "_manifests", "revisions", alg, hexd)
            os.makedirs(rdir)
            with open(os.path.join(rdir, "link"), "w") as f:
                f.write(md)
            age_tree(os.path.join(s.root, "docker"), 7200)
            out = run_job(s)
            expect_true(d in blob_files(s), "the blob an unparsable manifest names is kept")
            expect_true(any("does not parse" in l for l in out), "the run warns about it")
        checks.check("a manifest that does not parse keeps every digest it names",
                     unparsable_manifest_keeps_refs)

        def event_and_metrics():
            deadline = time.monotonic() + 10
            seen = []
            while time.monotonic() < deadline and len(seen) < 3:
                if os.path.exists(events):
                    with open(events) as f:
                        seen = [json.loads(l) for l in f if '"gc.completed"' in l]
                time.sleep(0.1)
            expect_true(len(seen) >= 3, "gc.completed events (%d)" % len(seen))
            detail = seen[1]["detail"]
            expect_true(detail["blobs_deleted"] >= 5 and detail["bytes_freed"] > 0,
                        "the event carries the report: %s" % detail)
            text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics_port,
                                          timeout=10).read().decode()
            def value(name):
                m = re.search(r"^%s(\{[^}]*\})? ([0-9.e+]+)$" % re.escape(name), text, re.M)
                return float(m.group(2)) if m else None
            expect_eq(value("berth_gc_blobs_deleted_total"), float(detail["blobs_deleted"]),
                      "berth_gc_blobs_deleted_total")
            expect_true(value("berth_gc_bytes_freed_total") >= detail["bytes_freed"],
                        "berth_gc_bytes_freed_total")
            expect_true(value("berth_gc_uploads_purged_total") == 1.0, "berth_gc_uploads_purged_total")
            expect_true('berth_gc_runs_total{result="dry_run"} 1' in text, "dry runs counted")
            expect_true(re.search(r'berth_gc_runs_total\{result="ok"\} 4$', text, re.M) is not None,
                        "runs counted: %s" % re.findall(r"berth_gc_runs_total.*", text))
            expect_true(value("berth_gc_last_success_timestamp_seconds") > time.time() - 600,
                        "last success time")
        checks.check("gc.completed event and berth_gc_* metrics", event_and_metrics)

        def bad_options():
            for args, msg in [(["--grace-period", "soon"], "invalid --grace-period"),
                              (["--bogus"], "unknown or incomplete option")]:
                p = subprocess.run([BERTH_BIN, "gc", "-c", s.config_path] + args,
                                   capture_output=True, text=True, timeout=60, cwd=tmp)
                expect_eq(p.returncode, 2, "exit status for %s" % args)
                expect_true(msg in p.stderr, "%s: %s" % (args, p.stderr.strip()[:200]))
            bad = os.path.join(tmp, "bad-gc.yaml")
            with open(bad, "w") as f:
                f.write("listen: 127.0.0.1:1\nplugin_path: [%s]\ngc: {mark_memory: 1KiB}\n"
                        "plugins:\n  - use: storage-fs\n    config: {root: %s}\n" % (PLUGIN_DIR, s.root))
            p = subprocess.run([BERTH_BIN, "config", "check", "-c", bad], capture_output=True,
                               text=True, timeout=60)
            expect_true(p.returncode != 0 and "gc.mark_memory" in p.stderr,
                        "a too-small mark_memory is refused: %s" % p.stderr.strip())
        checks.check("bad options and config values are refused clearly", bad_options)

        checks.check("server exits 0 on SIGTERM", s.stop_clean)
    finally:
        for srv in checks.servers:
            srv.kill()
        if not os.environ.get("BERTH_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
