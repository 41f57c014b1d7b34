"""The retention plugin end to end, on a real server with storage-fs.

Images are pushed with raw HTTP and one with skopeo: CI builds (ci-*), SemVer
releases, a multi-arch index, referrers (OCI subject and a cosign-style
sha256-<hex>.sig tag), an untagged manifest, immutable tags, and a repository
ruled by pulls. Then:

- `berth job run retention --dry-run` (a second process on the same root,
  beside the running server) prints the plan, and changes nothing;
- GET /berth/v1/retention/plan gives the same plan as JSON, with the bytes
  the test computes itself from what it pushed;
- immutable tags refuse overwrite and delete with 403 DENIED and a message;
- POST /berth/v1/jobs/retention runs it for real: kept tags pull with the
  digests they were pushed with (skopeo pulls its image back), deleted tags
  and manifests answer 404, `delete` events reach hello-notify, the metrics
  count what was deleted;
- pull times survive a restart: keep_last_pulled keeps what was pulled
  before the restart;
- `berth job run retention` (real) deletes beside the running server;
- what pushes change between the plan and the deletes is skipped: the job
  process is held right after it printed the first line of its plan (its
  stdout is a pipe the test keeps full), a tag is moved and manifests are
  tagged through the server, then the run goes on and must leave them;
- config mistakes are refused by `berth config check` and `berth job run`
  with the same FILE:LINE:COLUMN message.
"""
import gzip
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

from berth_harness import (BERTH_BIN, OCI_INDEX, OCI_MANIFEST, PLUGIN_DIR, SOURCE_DIR, Server,
                           canonical_json, digest_of, expect, expect_eq, expect_true, fail, run_main)

REPO = "team/app"
PULL_REPO = "pull/app"
OTHER_REPO = "other/app"
SIG_TYPE = "application/vnd.example.signature"
CLI_TIMEOUT = 300

POLICIES = [
    {"name": "ci", "repositories": ["team/**"], "tags": ["ci-*", "release-*"],
     "keep_last_pushed": 2},
    {"name": "releases", "repositories": ["team/**"], "semver": {"keep_minors": 2},
     "always_keep": ["latest"]},
    {"name": "untagged", "repositories": ["team/**"], "untagged": {"delete": True}},
    {"name": "pulled", "repositories": ["pull/**"], "keep_last_pulled": 2},
]


def config_for(tmp, root, events):
    return {
        "plugins": [
            {"use": "storage-fs", "config": {"root": root}},
            {"use": "retention", "config": {
                "policies": POLICIES,
                "immutable_tags": ["release-*"],
                "immutable_repositories": ["team/**"],
            }},
            {"use": "hello-notify", "config": {"path": events}},
            {"use": "metrics-prometheus", "config": {"listen": "off", "main_port": True}},
        ],
    }


class Model:
    """What the test pushed, per repository: digest -> manifest bytes, tag -> digest."""

    def __init__(self):
        self.bodies = {}
        self.tags = {}

    def add(self, repo, body, digest, tag=None):
        self.bodies.setdefault(repo, {})[digest] = body
        if tag:
            self.tags.setdefault(repo, {})[tag] = digest

    def blobs(self, repo, digest):
        doc = json.loads(self.bodies[repo][digest])
        out = {}
        for d in [doc.get("config")] + doc.get("layers", []):
            if d:
                out[d["digest"]] = d["size"]
        return out

    def freed_bytes(self, repo, deleted):
        """The plugin's definition, computed independently: the deleted manifests'
        sizes, plus each config/layer they reference that no remaining manifest of
        the repository references, once."""
        kept_blobs = set()
        for d in self.bodies[repo]:
            if d not in deleted:
                kept_blobs |= set(self.blobs(repo, d))
        total = sum(len(self.bodies[repo][d]) for d in deleted)
        gone = {}
        for d in deleted:
            gone.update(self.blobs(repo, d))
        return total + sum(s for b, s in gone.items() if b not in kept_blobs)


def descriptor(body, media_type=OCI_MANIFEST):
    return {"mediaType": media_type, "digest": digest_of(body), "size": len(body)}


def push_index(s, model, repo, tag, children):
    body = canonical_json({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [dict(descriptor(c), platform={"architecture": a, "os": "linux"})
                      for a, c in children]})
    expect(s.put_manifest(repo, tag, body, OCI_INDEX), 201)
    model.add(repo, body, digest_of(body), tag)
    return digest_of(body)


def push_referrer(s, model, repo, subject_body, ref=None, note="sig"):
    body, d, _ = s.push_empty_config_artifact(
        repo, ref=ref, artifact_type=SIG_TYPE,
        subject=descriptor(subject_body) if ref is None else None,
        annotations={"note": note})
    model.add(repo, body, d, ref)
    return d


def image(s, model, repo, tag, seed, note=None):
    """push_image with a pause, so push times are strictly ordered."""
    time.sleep(0.03)
    extra = {"annotations": {"note": note}} if note else None
    body, d = s.push_image(repo, tag=tag, seed=seed, extra=extra, layers=2, layer_size=300)
    model.add(repo, body, d, tag)
    return body, d


# ---------------------------------------------------------------------------
# skopeo: an OCI layout made here, copied in with skopeo

def oci_layout(path, tag):
    """A small real image (gzip tar layer) as an OCI layout; returns its manifest digest."""
    blobs = os.path.join(path, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)

    def put(data):
        d = digest_of(data)
        with open(os.path.join(blobs, d.split(":", 1)[1]), "wb") as f:
            f.write(data)
        return d

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        content = b"retention test image\n" * 40
        info = tarfile.TarInfo("hello.txt")
        info.size = len(content)
        info.mtime = 1700000000
        t.addfile(info, io.BytesIO(content))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    cfg = canonical_json({"architecture": "amd64", "os": "linux",
                          "rootfs": {"type": "layers", "diff_ids": [digest_of(raw.getvalue())]},
                          "config": {}})
    manifest = canonical_json({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": put(cfg), "size": len(cfg)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": put(layer), "size": len(layer)}]})
    d = put(manifest)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [dict(
            descriptor(manifest), annotations={"org.opencontainers.image.ref.name": tag})]}, f)
    return manifest, d


def skopeo(tmp, *args):
    policy = os.path.join(tmp, "policy.json")
    regs = os.path.join(tmp, "registries.conf")
    if not os.path.exists(policy):
        with open(policy, "w") as f:
            f.write('{"default": [{"type": "insecureAcceptAnything"}]}')
        with open(regs, "w") as f:
            f.write('unqualified-search-registries = []\nshort-name-mode = "disabled"\n')
    env = dict(os.environ, TMPDIR=tmp)
    p = subprocess.run(["skopeo", "--policy", policy, "--registries-conf", regs] + list(args),
                       capture_output=True, text=True, timeout=CLI_TIMEOUT, env=env)
    if p.returncode != 0:
        fail("skopeo %s failed (%d):\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p.stdout


# ---------------------------------------------------------------------------
# Reading what the plugin says

ROW = re.compile(r"^  (tag|manifest)\s+(\S+)\s+(sha256:[0-9a-f]{64})\s")
HEADER = re.compile(r"^(\S+): \d+ tags?, \d+ manifests?$")


def parse_table(lines):
    """The dry-run table: {repo: {"tags": {tag: digest}, "manifests": set}}."""
    plan, repo = {}, None
    for line in lines:
        m = HEADER.match(line)
        if m:
            repo = m.group(1)
            plan[repo] = {"tags": {}, "manifests": set()}
            continue
        m = ROW.match(line)
        if m:
            if repo is None:
                fail("a plan row before any repository: %r" % line)
            if m.group(1) == "tag":
                plan[repo]["tags"][m.group(2)] = m.group(3)
            else:
                plan[repo]["manifests"].add(m.group(3))
    return plan


def parse_json_plan(doc):
    plan = {}
    for r in doc["repositories"]:
        if "error" in r:
            fail("plan error for %s: %s" % (r["repository"], r["error"]))
        plan[r["repository"]] = {"tags": {t["tag"]: t["digest"] for t in r["delete_tags"]},
                                 "manifests": {m["digest"] for m in r["delete_manifests"]}}
    return {k: v for k, v in plan.items() if v["tags"] or v["manifests"]}


def job_cli(s, *args):
    p = subprocess.run([BERTH_BIN, "job", "run", "retention", "-c", s.config_path] + list(args),
                       capture_output=True, text=True, timeout=CLI_TIMEOUT, cwd=s.tmpdir)
    return p.returncode, p.stdout.splitlines(), p.stderr


def read_events(path, want=None, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        evs = []
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    line = line.strip()
                    if line:
                        evs.append(json.loads(line))
        if want is None or want(evs) or time.monotonic() > deadline:
            return evs
        time.sleep(0.1)


def metric(s, name, labels=""):
    r = expect(s.get("/metrics"), 200)
    text = r.body.decode()
    pat = re.compile(r"^%s%s (\S+)$" % (re.escape(name), re.escape("{%s}" % labels) if labels else ""),
                     re.M)
    m = pat.search(text)
    if not m:
        fail("metric %s{%s} not exposed:\n%s" % (name, labels,
                                                 "\n".join(l for l in text.splitlines()
                                                           if "retention" in l)))
    return float(m.group(1))


def manifest_status(s, repo, ref):
    return s.request("GET", "/v2/%s/manifests/%s" % (repo, ref),
                     headers={"Accept": "%s, %s" % (OCI_MANIFEST, OCI_INDEX)})


AUTH = "Basic " + __import__("base64").b64encode(b"ci:s3cret").decode()


def auth_checks(checks, tmp):
    """With an auth plugin: outsiders learn nothing from the hook or the route."""
    root = os.path.join(tmp, "auth-root")
    config = config_for(tmp, root, os.path.join(tmp, "auth-events.jsonl"))
    config["plugins"].insert(1, {"use": "hello-auth", "config": {"user": "ci", "password": "s3cret"}})
    a = checks.watch(Server(tmpdir=tmp, config=config, root=root, name="auth"))
    creds = {"Authorization": AUTH}
    a.start()

    def anonymous_gets_401():
        body = canonical_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                               "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                                          "digest": digest_of(b"{}"), "size": 2},
                               "layers": []})
        expect(a.request("POST", "/v2/%s/blobs/uploads/?digest=%s" % (REPO, digest_of(b"{}")),
                         body=b"{}", headers=dict(creds, **{"Content-Type": "application/octet-stream"})),
               201)
        expect(a.put_manifest(REPO, "release-1", body, OCI_MANIFEST, headers=creds), 201)
        # without credentials: the core's 401, not the hook's 403 that would tell the tag exists
        expect(a.put_manifest(REPO, "release-1", body, OCI_MANIFEST), 401, "UNAUTHORIZED")
        expect(a.delete("/v2/%s/manifests/release-1" % REPO), 401, "UNAUTHORIZED")
        r = expect(a.put_manifest(REPO, "release-1", body, OCI_MANIFEST, headers=creds), 403, "DENIED")
        expect_true("is immutable" in r.json()["errors"][0]["message"], "with credentials: the reason")
        expect(a.get("/berth/v1/retention/plan"), 401, "UNAUTHORIZED")
        doc = expect(a.get("/berth/v1/retention/plan", headers=creds), 200).json()
        expect_eq(doc["dry_run"], True, "the plan for the user")
    checks.check("with an auth plugin, anonymous callers get 401 from the hook and the route",
                 anonymous_gets_401)

    def auth_stops():
        a.stop_clean()
    checks.check("the auth server exits 0", auth_stops)


# ---------------------------------------------------------------------------

RACE_REPO = "race/app"


def full_pipe():
    """A pipe whose buffer is full: whoever writes to it waits until the test reads."""
    r, w = os.pipe()
    os.set_blocking(w, False)
    for chunk in (b"\n" * 4096, b"\n"):
        try:
            while True:
                os.write(w, chunk)
        except BlockingIOError:
            pass
    os.set_blocking(w, True)
    return r, w


def changed_since_plan(checks, tmp):
    """A push between the plan and the deletes: the run skips what it changed."""
    root = os.path.join(tmp, "race-root")
    events = os.path.join(tmp, "race-events.jsonl")
    config = {"plugins": [
        {"use": "storage-fs", "config": {"root": root}},
        {"use": "hello-notify", "config": {"path": events}},
        {"use": "retention", "config": {"policies": [
            {"name": "ci", "repositories": ["race/**"], "tags": ["ci-*"], "keep_last_pushed": 0},
            {"name": "untagged", "repositories": ["race/**"], "untagged": {"delete": True}}]}},
    ]}
    s = checks.watch(Server(tmpdir=tmp, config=config, root=root, name="race"))
    st = {}
    try:
        s.start()

        def setup():
            st["a"] = s.push_image(RACE_REPO, tag="ci-1", seed="race-a")[1]
            st["b"] = s.push_image(RACE_REPO, tag="ci-2", seed="race-b")[1]
            st["c"] = s.push_image(RACE_REPO, seed="race-c")[1]
            amd, _ = s.push_image(RACE_REPO, seed="race-amd64")
            arm, _ = s.push_image(RACE_REPO, seed="race-arm64")
            st["children"] = [digest_of(amd), digest_of(arm)]
            index = canonical_json({
                "schemaVersion": 2, "mediaType": OCI_INDEX,
                "manifests": [dict(descriptor(c), platform={"architecture": a, "os": "linux"})
                              for a, c in (("amd64", amd), ("arm64", arm))]})
            expect(s.put_manifest(RACE_REPO, digest_of(index), index, OCI_INDEX), 201)
            st["index"] = (index, digest_of(index))
            plan = parse_json_plan(expect(s.get("/berth/v1/retention/plan"), 200).json())
            expect_eq(plan, {RACE_REPO: {
                "tags": {"ci-1": st["a"], "ci-2": st["b"]},
                "manifests": {st["a"], st["b"], st["c"], st["index"][1]} | set(st["children"])}},
                "the plan before the run")
        checks.check("race/app: two CI tags, an untagged image and an untagged index", setup)

        def run_held():
            r, w = full_pipe()
            p = subprocess.Popen([BERTH_BIN, "job", "run", "retention", "-c", s.config_path],
                                 stdout=w, stderr=subprocess.PIPE, text=True, cwd=tmp)
            os.close(w)
            out = []
            reader = None
            try:
                # The line is logged just before it is written to stdout, where the job
                # waits: the plan is made, nothing is deleted yet.
                log = []
                for line in p.stderr:
                    log.append(line)
                    if "job retention: %s: " % RACE_REPO in line:
                        break
                else:
                    fail("the job never printed its plan:\n" + "".join(log))
                time.sleep(0.3)
                expect_eq(p.poll(), None, "the job waits on its full stdout")
                # The pushes the run must not undo.
                st["d"] = s.push_image(RACE_REPO, tag="ci-1", seed="race-d")[1]
                c_body = expect(manifest_status(s, RACE_REPO, st["c"]), 200).body
                expect(s.put_manifest(RACE_REPO, "pinned", c_body, OCI_MANIFEST), 201)
                expect(s.put_manifest(RACE_REPO, "pinned-index", st["index"][0], OCI_INDEX), 201)

                def drain():
                    with os.fdopen(r, "rb") as f:
                        out.append(f.read())
                reader = threading.Thread(target=drain, daemon=True)
                reader.start()
                rest = p.stderr.read()
                rc = p.wait(timeout=CLI_TIMEOUT)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                if reader is None:
                    os.close(r)
            reader.join(timeout=30)
            text = out[0].decode() if out else ""
            lines = [l for l in text.splitlines() if l.strip()]
            if rc != 0:
                fail("the run failed (%d):\n%s\n%s" % (rc, "\n".join(lines), "".join(log) + rest))
            st["out"] = lines
        checks.check("berth job run is held between its plan and its deletes", run_held)

        def skipped_reported():
            lines = st.get("out", [])
            text = "\n".join(lines)
            expect_true(re.search(r"^%s: skipped tag ci-1: it changed since the plan \(tag 'ci-1' "
                                  r"of '%s' now names %s\)$" % (RACE_REPO, RACE_REPO, st["d"]),
                                  text, re.M) is not None, "the moved tag is reported:\n" + text)
            for d in (st["c"], st["index"][1]):
                expect_true("%s: skipped manifest %s: it was tagged since the plan"
                            % (RACE_REPO, d) in lines,
                            "the manifest tagged meanwhile is reported:\n" + text)
            for d in st["children"]:
                expect_true("%s: skipped manifest %s: what holds it was tagged since the plan"
                            % (RACE_REPO, d) in lines,
                            "a child of the tagged index is reported:\n" + text)
            expect_true("  deleted 1 tag and 2 manifests, " in text, "what was deleted:\n" + text)
            expect_true("  skipped 1 tag and 4 manifests: changed since the plan" in lines,
                        "the repository's skipped count:\n" + text)
            total = [l for l in lines if l.startswith("total: deleted")]
            expect_true(len(total) == 1 and ", 5 skipped (changed since the plan)" in total[0]
                        and "(with errors)" not in total[0], "the total: %r" % total)
            runs = [e for e in read_events(events, lambda evs: any(
                e["type"] == "retention.run" for e in evs)) if e["type"] == "retention.run"]
            expect_eq([(e["detail"]["tags"], e["detail"]["manifests"], e["detail"]["skipped"],
                        e["detail"]["errors"]) for e in runs], [(1, 2, 5, 0)],
                      "the retention.run event: tags, manifests, skipped, errors")
        checks.check("the run reports and counts what changed, and succeeds", skipped_reported)

        def registry_after():
            r = expect(manifest_status(s, RACE_REPO, "ci-1"), 200)
            expect_eq(r.header("Docker-Content-Digest"), st["d"], "ci-1 names the new push")
            expect(manifest_status(s, RACE_REPO, "ci-2"), 404, "MANIFEST_UNKNOWN")
            # a: the moved tag's old image, untagged by the push: the plan's to delete.
            for d in (st["a"], st["b"]):
                expect(manifest_status(s, RACE_REPO, d), 404, "MANIFEST_UNKNOWN")
            r = expect(manifest_status(s, RACE_REPO, "pinned"), 200)
            expect_eq(r.header("Docker-Content-Digest"), st["c"], "pinned")
            r = expect(manifest_status(s, RACE_REPO, "pinned-index"), 200)
            expect_eq(r.header("Docker-Content-Digest"), st["index"][1], "pinned-index")
            for d in st["children"]:
                expect(manifest_status(s, RACE_REPO, d), 200)
            listed = expect(s.get("/v2/%s/tags/list" % RACE_REPO), 200).json()["tags"]
            expect_eq(sorted(listed), ["ci-1", "pinned", "pinned-index"], "tags left")
        checks.check("the moved tag and the tagged manifests are still there", registry_after)

        checks.check("server exits 0 on SIGTERM", s.stop_clean)
    finally:
        s.kill()


def main(checks):
    if not shutil.which("skopeo"):
        if os.environ.get("CI") == "true":
            fail("skopeo is not installed (run .ci/setup)")
        print("skip - skopeo is not installed")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="berth-retention-")
    root = os.path.join(tmp, "root")
    events = os.path.join(tmp, "events.jsonl")
    s = checks.watch(Server(tmpdir=tmp, config=config_for(tmp, root, events), root=root))
    model = Model()
    st = {}          # what the checks learn and later checks use

    try:
        s.start()

        def push_everything():
            # team/app: CI builds, the oldest an index of two images
            amd, _ = s.push_image(REPO, seed="ci1-amd64", layers=1)
            arm, _ = s.push_image(REPO, seed="ci1-arm64", layers=1)
            model.add(REPO, amd, digest_of(amd))
            model.add(REPO, arm, digest_of(arm))
            st["children"] = [digest_of(amd), digest_of(arm)]
            time.sleep(0.03)
            push_index(s, model, REPO, "ci-1", [("amd64", amd), ("arm64", arm)])
            for n in range(2, 6):
                image(s, model, REPO, "ci-%d" % n, "ci%d" % n)
            # referrers: of ci-2 (goes), of ci-5 (stays); a cosign tag for ci-3 (goes)
            st["ref2"] = push_referrer(s, model, REPO, model.bodies[REPO][model.tags[REPO]["ci-2"]],
                                       note="ci-2")
            st["ref5"] = push_referrer(s, model, REPO, model.bodies[REPO][model.tags[REPO]["ci-5"]],
                                       note="ci-5")
            ci3 = model.tags[REPO]["ci-3"]
            st["cosign_tag"] = "sha256-%s.sig" % ci3.split(":", 1)[1]
            st["cosign"] = push_referrer(s, model, REPO, None, ref=st["cosign_tag"], note="cosign")
            # releases: 1.0.0 and 1.1.0 share their blobs, 1.2.0 shares with v1.2.1
            image(s, model, REPO, "1.0.0", "old", note="1.0.0")
            image(s, model, REPO, "1.1.0", "old", note="1.1.0")
            image(s, model, REPO, "1.1.1", "r111")
            image(s, model, REPO, "1.2.0", "r12", note="1.2.0")
            body, d = image(s, model, REPO, "v1.2.1", "r12", note="1.2.1")
            expect(s.put_manifest(REPO, "latest", body, OCI_MANIFEST), 201)
            model.add(REPO, body, d, "latest")
            image(s, model, REPO, "dev", "dev")
            # immutable: an image, and an index whose child must stay deletable by nobody
            image(s, model, REPO, "release-1", "rel1")
            c1, _ = s.push_image(REPO, seed="rel2-amd64", layers=1)
            model.add(REPO, c1, digest_of(c1))
            st["release2_child"] = digest_of(c1)
            push_index(s, model, REPO, "release-2", [("amd64", c1)])
            # untagged
            body, d = s.push_image(REPO, seed="untagged", layers=1)
            model.add(REPO, body, d)
            st["untagged"] = d
            # pull/app: ruled by pulls; other/app: no policy at all
            for n in range(1, 5):
                image(s, model, PULL_REPO, "p%d" % n, "p%d" % n)
            image(s, model, OTHER_REPO, "ci-1", "other")
            image(s, model, OTHER_REPO, "release-1", "other-rel")
        checks.check("push images, indexes, referrers and untagged manifests", push_everything)

        def skopeo_push():
            layout = os.path.join(tmp, "layout")
            body, d = oci_layout(layout, "1.3.0")
            digestfile = os.path.join(tmp, "skopeo.digest")
            skopeo(tmp, "copy", "--dest-tls-verify=false", "--preserve-digests",
                   "--digestfile", digestfile, "oci:%s:1.3.0" % layout,
                   "docker://127.0.0.1:%d/%s:1.3.0" % (s.port, REPO))
            with open(digestfile) as f:
                expect_eq(f.read().strip(), d, "digest skopeo pushed")
            model.add(REPO, body, d, "1.3.0")
        checks.check("skopeo copies an image in as team/app:1.3.0", skopeo_push)

        # What the policies must do (README's rules, worked by hand).
        t = model.tags.get(REPO, {})
        gone_tags = {k: t[k] for k in ("ci-1", "ci-2", "ci-3", "1.0.0", "1.1.0", "1.1.1", "1.2.0")
                     if k in t}
        if "cosign_tag" in st:
            gone_tags[st["cosign_tag"]] = st["cosign"]
        gone_manifests = {t[k] for k in ("ci-1", "ci-2", "ci-3", "1.0.0", "1.1.0", "1.1.1", "1.2.0")
                          if k in t}
        gone_manifests |= set(st.get("children", [])) | {st.get(k) for k in
                                                          ("ref2", "cosign", "untagged")}
        kept_tags = {k: v for k, v in t.items() if k not in gone_tags}
        pt = model.tags.get(PULL_REPO, {})
        gone_pull = {k: pt[k] for k in ("p2", "p4") if k in pt}
        want_plan = {
            REPO: {"tags": gone_tags, "manifests": gone_manifests},
            PULL_REPO: {"tags": gone_pull, "manifests": set(gone_pull.values())},
        }

        def pulls_then_restart():
            # p2 first, then p1 and p3: keep_last_pulled 2 keeps p1 and p3
            for tag in ("p2", "p1", "p3"):
                time.sleep(0.03)
                expect(manifest_status(s, PULL_REPO, tag), 200)
            s.restart()
        checks.check("pull p2, p1, p3 and restart the server", pulls_then_restart)

        def dry_run_cli():
            rc, out, err = job_cli(s, "--dry-run")
            st["dry_out"] = out
            if rc != 0:
                fail("berth job run --dry-run exited %d:\n%s\n%s" % (rc, "\n".join(out), err))
            expect_eq(out[0], "dry run: nothing is deleted", "first line")
            got = parse_table(out)
            expect_eq(got, want_plan, "the dry run's table")
            m = [l for l in out if l.startswith("total: would delete")]
            expect_true(len(m) == 1, "one total line in:\n" + "\n".join(out))
            n_tags = sum(len(v["tags"]) for v in want_plan.values())
            n_man = sum(len(v["manifests"]) for v in want_plan.values())
            expect_true(m[0].startswith("total: would delete %d tags and %d manifests" % (n_tags, n_man)),
                        "total line %r" % m[0])
            expect_true(re.search(r"in 2 of 2 selected repositories", m[0]) is not None,
                        "repositories in %r" % m[0])
            for tag in gone_tags:
                expect(manifest_status(s, REPO, tag), 200)
        checks.check("berth job run retention --dry-run prints the plan and deletes nothing",
                     dry_run_cli)

        def plan_json():
            r = expect(s.get("/berth/v1/retention/plan"), 200)
            expect_eq(r.header("Content-Type"), "application/json", "Content-Type")
            doc = r.json()
            expect_eq(doc["dry_run"], True, "dry_run")
            expect_eq(parse_json_plan(doc), want_plan, "the plan as JSON")
            if "dry_out" in st:
                expect_eq(parse_json_plan(doc), parse_table(st["dry_out"]), "JSON against the table")
            repos = {x["repository"]: x for x in doc["repositories"]}
            expect_eq(sorted(repos), [PULL_REPO, REPO], "selected repositories listed")
            for repo in (REPO, PULL_REPO):
                want = model.freed_bytes(repo, want_plan[repo]["manifests"])
                expect_eq(repos[repo]["bytes"], want, "bytes freed in %s" % repo)
            st["bytes"] = doc["total"]["bytes"]
            expect_eq(doc["total"]["tags"], sum(len(v["tags"]) for v in want_plan.values()), "total tags")
            reasons = {m["digest"]: m["reason"] for m in repos[REPO]["delete_manifests"]}
            expect_eq(reasons.get(st["cosign"]), "refers to a deleted manifest", "signature's reason")
            expect_eq(reasons.get(st["untagged"]), "untagged (untagged: delete)", "untagged reason")
            tag_reasons = {x["tag"]: x["reason"] for x in repos[REPO]["delete_tags"]}
            expect_eq(tag_reasons.get("ci-1"), "policy 'ci': no rule keeps it", "ci-1's reason")
            # deletion order: the index before its children, a referrer before its subject
            order = [m["digest"] for m in repos[REPO]["delete_manifests"]]
            idx = order.index(model.tags[REPO]["ci-1"])
            expect_true(all(order.index(c) > idx for c in st["children"]), "index before children")
            expect_true(order.index(st["ref2"]) < order.index(model.tags[REPO]["ci-2"]),
                        "referrer before subject")
            one = expect(s.get("/berth/v1/retention/plan?repository=" + PULL_REPO), 200).json()
            expect_eq([x["repository"] for x in one["repositories"]], [PULL_REPO], "one repository")
        checks.check("GET /berth/v1/retention/plan is the same plan, with its bytes", plan_json)

        def plan_bad_input():
            expect(s.get("/berth/v1/retention/plan?repository=Bad/Name"), 400, "NAME_INVALID")
            expect(s.get("/berth/v1/retention/plan?repository=a/../b"), 400, "NAME_INVALID")
            expect(s.get("/berth/v1/retention/plan?repository=" + "a" * 300), 400, "NAME_INVALID")
            expect(s.get("/berth/v1/retention/plan?repository=no/such"), 404, "NAME_UNKNOWN")
            doc = expect(s.get("/berth/v1/retention/plan?repository=" + OTHER_REPO), 200).json()
            expect_eq(doc["repositories"], [], "a repository no policy selects has no plan")
            expect(s.get("/berth/v1/retention/other"), 404, "UNSUPPORTED")
            expect(s.request("POST", "/berth/v1/retention/plan"), 405)
        checks.check("the plan route refuses bad names and unknown paths", plan_bad_input)

        def immutable():
            t = model.tags[REPO]
            rel = model.bodies[REPO][t["release-1"]]
            other = model.bodies[REPO][t["dev"]]
            r = expect(s.put_manifest(REPO, "release-1", other, OCI_MANIFEST), 403, "DENIED")
            msg = r.json()["errors"][0]["message"]
            expect_eq(msg, "tag 'release-1' of repository 'team/app' is immutable "
                      "(pattern 'release-*'): it cannot be overwritten", "overwrite message")
            # the body is not read before the hook: the same bytes are refused too
            expect(s.put_manifest(REPO, "release-1", rel, OCI_MANIFEST), 403, "DENIED")
            r = expect(s.delete("/v2/%s/manifests/release-1" % REPO), 403, "DENIED")
            expect_true("cannot be deleted" in r.json()["errors"][0]["message"], "delete message")
            r = expect(s.delete("/v2/%s/manifests/%s" % (REPO, t["release-1"])), 403, "DENIED")
            expect_eq(r.json()["errors"][0]["message"],
                      "manifest %s of repository 'team/app' is tagged 'release-1', which is "
                      "immutable (pattern 'release-*')" % t["release-1"], "digest delete message")
            r = expect(s.delete("/v2/%s/manifests/%s" % (REPO, st["release2_child"])), 403, "DENIED")
            expect_true("belongs to the index tagged 'release-2'" in r.json()["errors"][0]["message"],
                        "child of an immutable index")
            r = expect(manifest_status(s, REPO, "release-1"), 200)
            expect_eq(r.header("Docker-Content-Digest"), t["release-1"], "release-1 unchanged")
            # a new immutable tag may be created, once
            expect(s.put_manifest(REPO, "release-3", other, OCI_MANIFEST), 201)
            expect(s.put_manifest(REPO, "release-3", rel, OCI_MANIFEST), 403, "DENIED")
            model.add(REPO, other, digest_of(other), "release-3")
            # outside immutable_repositories nothing is immutable
            ob = model.bodies[OTHER_REPO][model.tags[OTHER_REPO]["ci-1"]]
            expect(s.put_manifest(OTHER_REPO, "release-1", ob, OCI_MANIFEST), 201)
            model.tags[OTHER_REPO]["release-1"] = digest_of(ob)
            # bad input still gets the core's answers, not the hook's
            expect(s.put_manifest("Team/app", "release-1", rel, OCI_MANIFEST), 400, "NAME_INVALID")
            expect(s.delete("/v2/%s/manifests/sha256:zz" % REPO), 400)
            expect(s.delete("/v2/%s/manifests/release-9" % REPO), 404, "MANIFEST_UNKNOWN")
        checks.check("immutable tags refuse overwrite and delete with 403 DENIED", immutable)

        def real_run():
            r = expect(s.request("POST", "/berth/v1/jobs/retention", timeout=CLI_TIMEOUT), 200)
            doc = r.json()
            if doc["result"] != "ok":
                fail("run failed: %s\n%s" % (doc["error"], "\n".join(doc["output"])))
            expect_eq(doc["dry_run"], False, "dry_run")
            got = parse_table(doc["output"])
            expect_eq(got, want_plan, "what the run said it deletes")
            total = [l for l in doc["output"] if l.startswith("total: deleted")]
            expect_true(len(total) == 1 and "(%d bytes)" % st.get("bytes", -1) in total[0],
                        "total line with the planned bytes: %r" % total)
        checks.check("POST /berth/v1/jobs/retention runs it for real", real_run)

        def kept_and_gone():
            kept = dict(kept_tags, **{"release-3": model.tags[REPO]["release-3"]})
            for tag, d in sorted(kept.items()):
                r = expect(manifest_status(s, REPO, tag), 200)
                expect_eq(r.header("Docker-Content-Digest"), d, "digest of kept %s" % tag)
                expect_eq(digest_of(r.body), d, "bytes of kept %s" % tag)
            for tag in sorted(gone_tags):
                expect(manifest_status(s, REPO, tag), 404, "MANIFEST_UNKNOWN")
            for d in sorted(gone_manifests):
                expect(manifest_status(s, REPO, d), 404, "MANIFEST_UNKNOWN")
            for d in st["children"]:
                expect(manifest_status(s, REPO, d), 404)
            expect(manifest_status(s, REPO, st["ref5"]), 200)
            expect(manifest_status(s, REPO, st["release2_child"]), 200)
            listed = expect(s.get("/v2/%s/tags/list" % REPO), 200).json()["tags"]
            expect_eq(sorted(listed), sorted(kept), "tags left in team/app")
            refs = expect(s.get("/v2/%s/referrers/%s" % (REPO, model.tags[REPO]["ci-5"])), 200).json()
            expect_eq([m["digest"] for m in refs["manifests"]], [st["ref5"]], "ci-5 keeps its referrer")
            # pull/app: what was pulled before the restart is kept
            for tag in ("p1", "p3"):
                expect(manifest_status(s, PULL_REPO, tag), 200)
            for tag in ("p2", "p4"):
                expect(manifest_status(s, PULL_REPO, tag), 404)
            for tag, d in model.tags[OTHER_REPO].items():
                r = expect(manifest_status(s, OTHER_REPO, tag), 200)
                expect_eq(r.header("Docker-Content-Digest"), d, "other/app untouched")
        checks.check("kept tags pull with their digests, deleted ones answer 404", kept_and_gone)

        def skopeo_pull():
            out = os.path.join(tmp, "pulled")
            skopeo(tmp, "copy", "--src-tls-verify=false", "--preserve-digests",
                   "docker://127.0.0.1:%d/%s:1.3.0" % (s.port, REPO), "oci:%s:back" % out)
            with open(os.path.join(out, "index.json")) as f:
                idx = json.load(f)
            expect_eq(idx["manifests"][0]["digest"], model.tags[REPO]["1.3.0"], "skopeo pulls it back")
        checks.check("skopeo pulls the kept 1.3.0 back with its digest", skopeo_pull)

        def delete_events():
            want_tags = {(REPO, k) for k in gone_tags} | {(PULL_REPO, k) for k in gone_pull}
            want_digests = {(REPO, d) for d in gone_manifests} | {(PULL_REPO, d) for d in gone_pull.values()}

            def mine(evs):
                return [e for e in evs if e["type"] == "delete" and e["identity"] == "retention"]

            def complete(evs):
                got = mine(evs)
                # retention.run comes after the run's deletes
                return ({(e["repository"], e["tag"]) for e in got if e["tag"]} >= want_tags and
                        {(e["repository"], e["digest"]) for e in got if not e["tag"]} >= want_digests and
                        any(e["type"] == "retention.run" for e in evs))
            evs = read_events(events, complete)
            got = mine(evs)
            expect_eq({(e["repository"], e["tag"]) for e in got if e["tag"]}, want_tags,
                      "tag delete events")
            expect_eq({(e["repository"], e["digest"]) for e in got if not e["tag"]}, want_digests,
                      "manifest delete events")
            for e in got:
                if e["tag"]:
                    expect_eq(e["digest"], model.tags[e["repository"]][e["tag"]],
                              "the digest deleted tag %s named" % e["tag"])
            runs = [e for e in evs if e["type"] == "retention.run"]
            expect_eq(len(runs), 1, "one retention.run event")
            expect_eq(runs[0]["detail"]["manifests"], len(want_digests), "its manifest count")
            expect_eq(runs[0]["detail"]["skipped"], 0, "its skipped count")
        checks.check("every delete reached the notifier with retention as identity", delete_events)

        def metrics_and_rerun():
            n_tags = sum(len(v["tags"]) for v in want_plan.values())
            n_man = sum(len(v["manifests"]) for v in want_plan.values())
            expect_eq(metric(s, "berth_retention_deleted_total", 'kind="tag"'), n_tags, "tags metric")
            expect_eq(metric(s, "berth_retention_deleted_total", 'kind="manifest"'), n_man,
                      "manifests metric")
            expect_eq(metric(s, "berth_retention_bytes_total"), st["bytes"], "bytes metric")
            expect_eq(metric(s, "berth_retention_runs_total", 'result="ok"'), 1, "one ok run")
            for kind in ("tag", "manifest"):
                expect_eq(metric(s, "berth_retention_skipped_total", 'kind="%s"' % kind), 0,
                          "nothing changed during the run: no %s skipped" % kind)
            doc = expect(s.request("POST", "/berth/v1/jobs/retention?dry_run=1"), 200).json()
            expect_eq(doc["result"], "ok", "dry run result")
            expect_true("total: would delete 0 tags and 0 manifests" in " ".join(doc["output"]),
                        "nothing left to delete: %s" % doc["output"])
            expect_eq(metric(s, "berth_retention_runs_total", 'result="dry_run"'), 1, "dry run counted")
            expect_eq(metric(s, "berth_retention_deleted_total", 'kind="tag"'), n_tags,
                      "a dry run deletes nothing")
        checks.check("metrics count the run; a second run finds nothing", metrics_and_rerun)

        def cli_real_run():
            image(s, model, REPO, "ci-6", "ci6")
            rc, out, err = job_cli(s)
            if rc != 0:
                fail("berth job run retention exited %d:\n%s\n%s" % (rc, "\n".join(out), err))
            ci4 = model.tags[REPO]["ci-4"]
            expect_eq(parse_table(out), {REPO: {"tags": {"ci-4": ci4}, "manifests": {ci4}}},
                      "the CLI run's plan")
            expect(manifest_status(s, REPO, "ci-4"), 404)
            expect(manifest_status(s, REPO, ci4), 404)
            expect(manifest_status(s, REPO, "ci-6"), 200)
        checks.check("berth job run retention deletes beside the running server", cli_real_run)

        def deletes_disabled():
            image(s, model, REPO, "ci-7", "ci7")
            no_delete = os.path.join(tmp, "no-delete.yaml")
            cfg = open(s.config_path).read()
            expect_true("delete_enabled: true" in cfg, "the config enables deletes")
            with open(no_delete, "w") as f:
                f.write(cfg.replace("delete_enabled: true", "delete_enabled: false"))
            p = subprocess.run([BERTH_BIN, "job", "run", "retention", "-c", no_delete],
                               capture_output=True, text=True, timeout=CLI_TIMEOUT, cwd=tmp)
            expect_eq(p.returncode, 1, "exit status when the registry refuses deletes")
            expect_true("deletes are disabled on this registry" in p.stdout + p.stderr,
                        "the registry's reason is shown:\n%s\n%s" % (p.stdout, p.stderr))
            expect(manifest_status(s, REPO, "ci-5"), 200)
        checks.check("a registry that refuses deletes fails the run, nothing deleted", deletes_disabled)

        def config_check_ok():
            p = subprocess.run([BERTH_BIN, "config", "check", "-c", s.config_path],
                               capture_output=True, text=True, timeout=CLI_TIMEOUT, cwd=tmp)
            expect_eq(p.returncode, 0, "berth config check of the test's config:\n" + p.stderr)
            expect_true("retention: retention" in p.stdout, "the instance is listed:\n" + p.stdout)
        checks.check("berth config check accepts the policies", config_check_ok)

        bad_cases = [
            ("keep_last_pushed: 2", "keep_last_push: 2",
             r"policy 'ci': unknown key 'keep_last_push' \(did you mean 'keep_last_pushed'\?\)"),
            ("keep_last_pulled: 2", "keep_last_pulled: 2\n{indent}keep_pulled_within: 3 weeks",
             r"policy 'pulled': 'keep_pulled_within' must be a number of days \(30\) or a "
             r"duration \(30d, 12h, 90m, 2w\), not '3 weeks'"),
            ("keep_minors: 2", "keep_minors: -1", r"policy 'releases': "),
            ('- "release-*"', '- "re:[unclosed"',
             r"policy 'ci': 'tags': invalid regular expression '\[unclosed': "),
        ]
        for old, new_text, message in bad_cases:
            def bad_config(old=old, new_text=new_text, message=message):
                bad = os.path.join(tmp, "bad.yaml")
                cfg = open(s.config_path).read()
                expect_true(old in cfg, "%r is in the config" % old)
                at = cfg.index(old)
                indent = " " * (at - cfg.rindex("\n", 0, at) - 1)
                with open(bad, "w") as f:
                    f.write(cfg.replace(old, new_text.format(indent=indent), 1))
                where = r"bad\.yaml:(\d+):(\d+): "
                check = subprocess.run([BERTH_BIN, "config", "check", "-c", bad],
                                       capture_output=True, text=True, timeout=CLI_TIMEOUT, cwd=tmp)
                expect_eq(check.returncode, 1, "berth config check exit status")
                m = re.search(where + message, check.stderr)
                expect_true(m is not None, "config check names file, line, column and key:\n"
                            + check.stderr)
                expect_true("plugin 'retention'" in check.stderr, "the instance is named")
                p = subprocess.run([BERTH_BIN, "job", "run", "retention", "--dry-run", "-c", bad],
                                   capture_output=True, text=True, timeout=CLI_TIMEOUT, cwd=tmp)
                expect_eq(p.returncode, 1, "berth job run exit status")
                # The same message, at the same place.
                line = check.stderr[m.start():].splitlines()[0]
                expect_true(line in p.stderr, "berth job run says %r:\n%s" % (line, p.stderr))
            checks.check("config check and job run refuse %r with file:line:column" % new_text,
                         bad_config)

        def stops_cleanly():
            s.stop_clean()
        checks.check("server exits 0 on SIGTERM", stops_cleanly)

        auth_checks(checks, tmp)
        changed_since_plan(checks, tmp)

        def shipped_fragment():
            conf = os.path.join(tmp, "shipped", "conf.d")
            os.makedirs(conf)
            shutil.copy(os.path.join(SOURCE_DIR, "conf.d", "available", "80-retention.yaml"), conf)
            with open(os.path.join(conf, "10-storage.yaml"), "w") as f:
                f.write("plugins:\n  - use: storage-fs\n    config: {root: %s}\n" % root)
            main_cfg = os.path.join(tmp, "shipped", "berth.yaml")
            with open(main_cfg, "w") as f:
                f.write("listen: 127.0.0.1:5999\nplugin_path: [%s]\ninclude: conf.d/*.yaml\n"
                        % PLUGIN_DIR)
            p = subprocess.run([BERTH_BIN, "job", "run", "retention", "--dry-run", "-c", main_cfg],
                               capture_output=True, text=True, timeout=CLI_TIMEOUT, cwd=tmp)
            if p.returncode != 0:
                fail("the shipped fragment does not load (%d):\n%s" % (p.returncode, p.stderr))
            expect_eq(p.stdout.splitlines()[0], "dry run (enforce: false): nothing is deleted",
                      "the shipped fragment only reports")
            expect_true(re.search(r"in \d+ of 3 selected repositories", p.stdout) is not None,
                        "it applies to every repository:\n" + p.stdout)
        checks.check("conf.d/available/80-retention.yaml loads and only reports", shipped_fragment)
    finally:
        for srv in checks.servers:
            srv.kill()
        if not os.environ.get("BERTH_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
