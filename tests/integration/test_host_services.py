"""Host services a plugin reaches through berth_host, driven over HTTP by
tests/plugins/host-services.c through the real loader:

- data_write/read/remove/list: objects under _berth/plugins/<plugin>/ in the
  registry's storage, atomic, surviving a restart, keys that cannot escape;
- allowed(): the auth hooks asked without answering the client, and the
  catalog showing a client only the repositories it may pull;
- emit_request_event(): the event carries the request's client and identity;
- reopen(): SIGHUP and SIGUSR1 reach every instance;
- plugin routes in a folder of their own under /berth/v1/, never on the
  core's /berth/v1/jobs or /berth/v1/reports;
- `berth NAME` runs berth-NAME beside the binary.
"""
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time

from berth_harness import (BERTH_BIN, BUILD_DIR, PLUGIN_DIR, Server, expect, expect_eq,
                           expect_true, fail, run_main, to_yaml)

TEST_PLUGIN_DIR = os.path.join(BUILD_DIR, "tests", "plugins")


def data_dir(s):
    return os.path.join(s.root, "docker", "registry", "v2", "_berth", "plugins", "host-services")


def main(checks):
    tmp = tempfile.mkdtemp(prefix="berth-host-services-")
    events = os.path.join(tmp, "events.jsonl")
    config = {
        "plugin_path": [PLUGIN_DIR, TEST_PLUGIN_DIR],
        "plugins": [
            {"use": "storage-fs", "config": {"root": os.path.join(tmp, "root")}},
            {"use": "host-services",
             "config": {"rules": [{"repositories": "team/*", "keep": 3},
                                  {"repositories": "ci/**", "nested": {"a": 1}}]}},
            {"use": "hello-notify", "config": {"path": events}},
        ],
    }
    s = checks.watch(Server(tmpdir=tmp, config=config, root=os.path.join(tmp, "root")))
    try:
        s.start()
        base = "/berth/v1/hs"

        def data_round_trip():
            body = os.urandom(300000)
            expect(s.request("PUT", base + "/data/reports/sha256/ab/report.json", body=body), 201)
            r = expect(s.get(base + "/data/reports/sha256/ab/report.json"), 200)
            expect_eq(r.body, body, "bytes read back")
            path = os.path.join(data_dir(s), "reports", "sha256", "ab", "report.json")
            with open(path, "rb") as f:
                expect_eq(f.read(), body, "bytes on disk under _berth/plugins/host-services/")
            expect(s.request("PUT", base + "/data/reports/sha256/ab/report.json", body=b"new"), 201)
            expect_eq(expect(s.get(base + "/data/reports/sha256/ab/report.json"), 200).body, b"new",
                      "replaced")
            expect(s.request("PUT", base + "/data/empty", body=b""), 201)
            expect_eq(expect(s.get(base + "/data/empty"), 200).body, b"", "an empty object")
        checks.check("data_write/data_read round trip, on disk where documented", data_round_trip)

        def data_list():
            expect(s.request("PUT", base + "/data/reports/sha256/cd/summary.json", body=b"{}"), 201)
            names = sorted(expect(s.get(base + "/list/reports/sha256"), 200).body.decode().split())
            expect_eq(names, ["ab/", "cd/"], "children of reports/sha256")
            top = sorted(expect(s.get(base + "/list"), 200).body.decode().split())
            expect_eq(top, ["empty", "reports/"], "children of the plugin's folder")
            expect_eq(expect(s.get(base + "/list/nothing-here"), 200).body, b"",
                      "listing a missing prefix")
        checks.check("data_list: direct children, folders marked", data_list)

        def data_limits():
            r = expect(s.get(base + "/data/reports/sha256/ab/report.json?max=2"), 400)
            expect_true("over the 2 asked for" in r.body.decode(), "over max: %s" % r.body)
            expect(s.get(base + "/data/no/such/key"), 404)
            expect(s.request("DELETE", base + "/data/no/such/key"), 404)
            for bad in ["a/../../../../repositories/x", "a/./b", "a//b", "a/%2e%2e/b",
                        "a b", "a/b\\c", "x" * 600]:
                r = s.request("PUT", base + "/data/" + bad.replace(" ", "%20"), body=b"evil")
                expect_true(r.status in (400, 404), "key %r refused (got %d)" % (bad[:40], r.status))
            for dirpath, dirnames, files in os.walk(s.root):
                expect_true("evil" not in [open(os.path.join(dirpath, f), "rb").read()[:4].decode("latin1")
                                           for f in files],
                            "no object written for a bad key (%s)" % dirpath)
        checks.check("data keys that could escape are refused, over-max reads too", data_limits)

        def data_remove():
            expect(s.request("DELETE", base + "/data/reports/sha256/cd"), 204)
            names = expect(s.get(base + "/list/reports/sha256"), 200).body.decode().split()
            expect_eq(names, ["ab/"], "after removing a prefix")
        checks.check("data_remove removes an object or a whole prefix", data_remove)

        def data_survives_restart():
            s.restart()
            expect_eq(expect(s.get(base + "/data/reports/sha256/ab/report.json"), 200).body, b"new",
                      "after a restart")
        checks.check("plugin data survives a restart", data_survives_restart)

        def allowed_and_catalog():
            for repo in ["alice/app", "bob/app", "public/base"]:
                s.push_image(repo, tag="v1")
            def ask(user, repo):
                h = {"X-Test-User": user} if user else {}
                return expect(s.get(base + "/allowed?repo=" + repo, headers=h), 200).body
            expect_eq(ask("alice", "alice/app"), b"1", "alice may pull alice/app")
            expect_eq(ask("alice", "bob/app"), b"0", "alice may not pull bob/app")
            expect_eq(ask("", "public/base"), b"1", "anonymous may pull public/base")
            expect_eq(ask("", "alice/app"), b"0", "anonymous may not pull alice/app")
            cat = expect(s.get("/v2/_catalog", headers={"X-Test-User": "alice"}), 200).json()
            expect_eq(cat["repositories"], ["alice/app", "public/base"], "alice's catalog")
            cat = expect(s.get("/v2/_catalog"), 200).json()
            expect_eq(cat["repositories"], ["public/base"], "anonymous catalog")
            r = expect(s.get("/v2/_catalog?n=1", headers={"X-Test-User": "bob"}), 200)
            expect_eq(r.json()["repositories"], ["bob/app"], "bob's first page")
            expect_true("public%2Fbase" in (r.header("Link") or "") or
                        "public/base" in (r.header("Link") or "") or "bob" in (r.header("Link") or ""),
                        "a Link to the next page: %r" % r.header("Link"))
            r = expect(s.get("/v2/_catalog?n=1&last=bob/app", headers={"X-Test-User": "bob"}), 200)
            expect_eq(r.json()["repositories"], ["public/base"], "bob's second page")
            expect(s.get("/v2/alice/app/manifests/v1", headers={"X-Test-User": "bob"}), 403)
        checks.check("allowed() asks the auth hooks; the catalog shows only pullable repositories",
                     allowed_and_catalog)

        def request_events():
            expect(s.request("POST", base + "/event", headers={"X-Test-User": "carol"}), 202)
            expect(s.request("POST", base + "/event?identity=dave"), 202)
            deadline = time.monotonic() + 10
            seen = []
            while time.monotonic() < deadline:
                if os.path.exists(events):
                    with open(events) as f:
                        seen = [json.loads(l) for l in f if '"test.event"' in l]
                if len(seen) >= 2:
                    break
                time.sleep(0.1)
            expect_eq(len(seen), 2, "test events delivered")
            expect_eq(seen[0]["identity"], "carol", "identity from the request")
            expect_eq(seen[1]["identity"], "dave", "identity given by the plugin")
            for e in seen:
                expect_eq(e["client"], "127.0.0.1", "client address")
                expect_eq(e["source"], "host-services", "source")
                expect_eq(e["repository"], "team/app", "repository")
                expect_eq(e["detail"], {"n": 1}, "detail")
        checks.check("emit_request_event carries client and identity", request_events)

        def manifests_and_times():
            t0 = int(time.time() * 1000)
            _, d1 = s.push_image("public/times", tag="v1")
            _, d2 = s.push_image("public/times", tag="v2")
            _, d3 = s.push_image("public/times")
            names = sorted(expect(s.get(base + "/manifests?repo=public/times"), 200).body.decode().split())
            expect_eq(names, sorted([d1, d2, d3]), "list_manifests: tagged and untagged")
            expect(s.get(base + "/manifests?repo=no/such"), 404)
            expect(s.get(base + "/manifests?repo=a/../b"), 400)

            def times(ref):
                return [int(x) for x in
                        expect(s.get(base + "/times?repo=public/times&ref=" + ref), 200).body.split()]
            pushed, pulled = times("v1")
            expect_true(t0 - 2000 <= pushed <= int(time.time() * 1000) + 2000,
                        "pushed time of v1 is now (%d vs %d)" % (pushed, t0))
            expect_eq(pulled, 0, "v1 never pulled")
            expect(s.get("/v2/public/times/manifests/v1"), 200)
            expect(s.head("/v2/public/times/manifests/v2"), 200)
            t1 = int(time.time() * 1000)
            _, pulled = times("v1")
            expect_true(t0 - 2000 <= pulled <= t1 + 2000, "a GET by tag is a pull (%d)" % pulled)
            expect_eq(times(d1)[1], pulled, "the same pull seen by digest")
            expect_eq(times("v2")[1], 0, "a HEAD is not a pull")
            expect(s.get("/v2/public/times/manifests/" + d3), 200)
            expect_true(times(d3)[1] > 0, "a GET by digest is a pull")
            expect(s.get(base + "/times?repo=public/times&ref=nope"), 404)
            expect(s.get(base + "/times?repo=public/times&ref=sha256:" + "0" * 64), 404)
            # Pull times survive a restart: written at shutdown.
            s.restart()
            expect_eq(times("v1")[1], pulled, "pull time after a restart")
            path = os.path.join(s.root, "docker", "registry", "v2", "repositories", "public", "times",
                                "_berth", "pulled", "sha256", d1.split(":")[1])
            with open(path) as f:
                expect_eq(int(f.read()), pulled, "stored pull time")
            expect(s.delete("/v2/public/times/manifests/" + d1), 202)
            expect_true(not os.path.exists(path), "a deleted manifest's pull time goes with it")
        checks.check("list_manifests and manifest_times (push and pull times, kept over a restart)",
                     manifests_and_times)

        def structured_config():
            lines = expect(s.get(base + "/config"), 200).body.decode().splitlines()
            got = [l.rsplit(" ", 1) for l in lines]
            expect_eq([g[0] for g in got], ["0 repositories=team/*", "0 keep=3",
                                            "1 repositories=ci/**", "1 nested=(not a value)"],
                      "rules read through config_list_child/config_key_at")
            for _, where in got:
                expect_true(re.match(r".*berth\.yaml:\d+:\d+$", where), "config_where: %s" % where)
            expect_true(got[0][1] != got[1][1], "each key has its own position")
            for bad, msg in [("[1, 2]", "expected a map, found a value"),
                             ("{a: 1}", "expected a list of maps, found a map"),
                             ("[{repositories: a}, {keep: 1}]", "rule 2 has no 'repositories'")]:
                cfg = os.path.join(tmp, "bad-rules.yaml")
                with open(cfg, "w") as f:
                    f.write("listen: 127.0.0.1:1\nplugin_path: [%s, %s]\nplugins:\n"
                            "  - use: storage-fs\n    config: {root: %s}\n"
                            "  - use: host-services\n    config:\n      rules: %s\n"
                            % (PLUGIN_DIR, TEST_PLUGIN_DIR, s.root, bad))
                p = subprocess.run([BERTH_BIN, "config", "check", "-c", cfg], capture_output=True,
                                   text=True, timeout=60)
                expect_true(p.returncode != 0 and msg in p.stderr and "bad-rules.yaml:" in p.stderr,
                            "rules: %s refused: %s" % (bad, p.stderr.strip()))
        checks.check("BERTH_CONFIG_MAP_LIST: lists of maps, their keys and where they were written",
                     structured_config)

        def mount_event_names_source():
            _, d = s.push_image("public/src", tag="v1")
            layer = json.loads(expect(s.get("/v2/public/src/manifests/v1",
                                            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}),
                                      200).body)["layers"][0]["digest"]
            expect(s.request("POST", "/v2/public/dst/blobs/uploads/?mount=%s&from=public/src" % layer), 201)
            deadline = time.monotonic() + 10
            seen = []
            while time.monotonic() < deadline and not seen:
                with open(events) as f:
                    seen = [json.loads(l) for l in f if '"mount"' in l]
                time.sleep(0.1)
            expect_eq(len(seen), 1, "one mount event")
            expect_eq(seen[0]["detail"], {"from": "public/src"}, "the mount event names its source")
            expect_eq(seen[0]["digest"], layer, "mounted digest")
        checks.check("a mount event names the repository it came from", mount_event_names_source)

        def conditional_deletes():
            _, d1 = s.push_image("public/cond", tag="v1")
            _, d2 = s.push_image("public/cond", tag="v2")
            q = "?repo=public/cond&tag=v1&digest=" + d2
            r = expect(s.request("POST", base + "/delete-tag-if" + q), 400)
            expect_true("now names" in r.body.decode(), "a tag that moved is kept: %s" % r.body)
            expect(s.get("/v2/public/cond/manifests/v1"), 200)
            expect(s.request("POST", base + "/delete-tag-if?repo=public/cond&tag=v1&digest=" + d1), 204)
            expect(s.get("/v2/public/cond/manifests/v1"), 404)
            r = expect(s.request("POST", base + "/delete-if-untagged?repo=public/cond&digest=" + d2), 400)
            expect_true("is tagged" in r.body.decode(), "a tagged manifest is kept: %s" % r.body)
            expect(s.get("/v2/public/cond/manifests/" + d2), 200)
            expect(s.request("POST", base + "/delete-if-untagged?repo=public/cond&digest=" + d1), 204)
            expect(s.get("/v2/public/cond/manifests/" + d1), 404)
        checks.check("delete_tag_if and delete_manifest_if_untagged refuse what changed", conditional_deletes)

        def referrers():
            body, subject = s.push_image("public/refs", tag="v1")
            desc = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject,
                    "size": len(body)}
            r1 = s.push_empty_config_artifact("public/refs", artifact_type="application/vnd.example.sbom",
                                              subject=desc)
            r2 = s.push_empty_config_artifact("public/refs", artifact_type="application/vnd.example.sig",
                                              subject=desc)
            lines = expect(s.get(base + "/referrers?repo=public/refs&digest=" + subject), 200).body.decode().split("\n")
            got = sorted(tuple(l.split()) for l in lines if l)
            want = sorted([(r1[1], "application/vnd.example.sbom", str(len(r1[0])), subject),
                           (r2[1], "application/vnd.example.sig", str(len(r2[0])), subject)])
            expect_eq(got, want, "list_referrers: digest, artifact type, size, subject")
            expect_eq(expect(s.get(base + "/referrers?repo=public/refs&digest=" + r1[1]), 200).body, b"",
                      "a manifest without referrers")
            expect(s.get(base + "/referrers?repo=public/refs&digest=sha256:nothex"), 400)
        checks.check("list_referrers gives the referrers index without reading manifests", referrers)

        def reopen():
            expect_eq(expect(s.get(base + "/reopens"), 200).body, b"0", "no reopen yet")
            s.proc.send_signal(signal.SIGHUP)
            s.proc.send_signal(signal.SIGUSR1)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if expect(s.get(base + "/reopens"), 200).body == b"2":
                    break
                time.sleep(0.1)
            expect_eq(expect(s.get(base + "/reopens"), 200).body, b"2", "reopen() calls")
            expect_true(s.alive(), "still serving after SIGHUP and SIGUSR1")
            expect_true("SIGHUP: reopening" in s.log_since_start(), "the log says why")
        checks.check("SIGHUP and SIGUSR1 call every plugin's reopen()", reopen)

        def core_routes_kept():
            expect(s.get("/berth/v1/jobs"), 200)
            expect(s.get("/berth/v1/hs/nope"), 404)
            cfg = os.path.join(tmp, "bad-route.yaml")
            with open(cfg, "w") as f:
                f.write(to_yaml({"listen": "127.0.0.1:1",
                                 "plugin_path": [PLUGIN_DIR, TEST_PLUGIN_DIR],
                                 "plugins": [{"use": "storage-fs", "config": {"root": s.root}},
                                             {"use": "host-services-bad-route"}]}))
            p = subprocess.run([BERTH_BIN, "config", "check", "-c", cfg], capture_output=True,
                               text=True, timeout=60)
            expect_true(p.returncode != 0, "config check refuses a plugin route on /berth/v1/jobs")
            expect_true("/berth/v1/jobs" in p.stderr and "core" in p.stderr,
                        "the message names the path: %s" % p.stderr.strip())
        checks.check("plugins own folders under /berth/v1/, never the core's", core_routes_kept)

        def external_command():
            d = os.path.dirname(os.path.realpath(BERTH_BIN))
            helper = os.path.join(d, "berth-hs-echo")
            try:
                with open(helper, "w") as f:
                    f.write('#!/bin/sh\necho "ran $(basename "$0") with $*"\nexit 3\n')
                os.chmod(helper, 0o755)
                p = subprocess.run([BERTH_BIN, "hs-echo", "a", "b c"], capture_output=True,
                                   text=True, timeout=30)
                expect_eq(p.stdout.strip(), "ran berth-hs-echo with a b c", "helper output")
                expect_eq(p.returncode, 3, "the helper's exit status")
            finally:
                os.unlink(helper)
            p = subprocess.run([BERTH_BIN, "no-such-thing"], capture_output=True, text=True,
                               timeout=30)
            expect_eq(p.returncode, 2, "unknown command status")
            expect_true("unknown command 'no-such-thing'" in p.stderr, p.stderr)
            p = subprocess.run([BERTH_BIN, "../etc"], capture_output=True, text=True, timeout=30)
            expect_eq(p.returncode, 2, "a command name with a path is unknown")
        checks.check("`berth NAME` runs berth-NAME from the binary's folder", external_command)

        checks.check("server exits 0 on SIGTERM", s.stop_clean)
    finally:
        for srv in checks.servers:
            srv.kill()
        if not os.environ.get("BERTH_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
