"""scan-trivy through a real server: reports imported over the API and as
referrers, counted against the test's own reading of each file and the
totals of SOURCES.md, kept across restarts, refused when they are bad; pulls
gated by policy (GET and HEAD, tag and digest, indexes), allowlists with
expiry, unscanned images, bypass identities through hello-auth; events seen
by hello-notify; counters read from metrics-prometheus.

Every image is pushed by this test with raw HTTP, so each digest exists.
"""
import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

from berth_harness import (BERTH_BIN, OCI_EMPTY, OCI_INDEX, OCI_MANIFEST, SOURCE_DIR, Server,
                           canonical_json, digest_of, expect, expect_eq, expect_true, poll, run_main)

DATA = os.path.join(SOURCE_DIR, "plugins", "scan-trivy", "tests", "data")
SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]
TRIVY_TYPE = "application/vnd.aquasec.trivy.report.v1+json"
SARIF_TYPE = "application/sarif+json"
FILES = ["ubi-7.json", "debian-stretch.json", "spring4shell-jre11.json",
         "sl-micro-rancher5.4.json", "image.test.json", "image-sarif.test.json"]
AUTH = {"Authorization": "Basic " + base64.b64encode(b"sec:s3cret").decode()}


def read(name):
    with open(os.path.join(DATA, name), "rb") as f:
        return f.read()


# ---------------------------------------------------------------------------
# The test's own reading of the reports (the recipe of SOURCES.md)

def python_counts(data):
    """(counts, fixable) by severity, computed here without the plugin."""
    doc = json.loads(data)
    counts = dict.fromkeys(SEVERITIES, 0)
    fixable = dict.fromkeys(SEVERITIES, 0)
    if isinstance(doc, dict) and "runs" in doc:
        for run in doc["runs"]:
            rules = run["tool"]["driver"]["rules"]
            for res in run["results"]:
                tags = rules[res["ruleIndex"]]["properties"]["tags"]
                sev = [t for t in tags if t in SEVERITIES][0]
                counts[sev] += 1
                m = re.search(r"^Fixed Version: (.*)$", res["message"]["text"], re.M)
                if m and m.group(1).strip():
                    fixable[sev] += 1
        return counts, fixable
    results = doc if isinstance(doc, list) else doc.get("Results") or []
    for r in results:
        for v in r.get("Vulnerabilities") or []:
            counts[v["Severity"]] += 1
            if v.get("FixedVersion", "").strip():
                fixable[v["Severity"]] += 1
    return counts, fixable


def sources_totals():
    """{file: {severity: n}} from the table in SOURCES.md."""
    with open(os.path.join(DATA, "SOURCES.md")) as f:
        text = f.read()
    out = {}
    for m in re.finditer(r"^\| `([^`]+)` \|.*\| \*\*(\d+)[^*]*\*\*:?([^|]*)\|\s*$", text, re.M):
        want = dict.fromkeys(SEVERITIES, 0)
        for sev, n in re.findall(r"(CRITICAL|HIGH|MEDIUM|LOW|UNKNOWN) (\d+)", m.group(3)):
            want[sev] = int(n)
        expect_eq(sum(want.values()), int(m.group(2)), "SOURCES.md total of " + m.group(1))
        out[m.group(1)] = want
    return out


def distinct_ids(data):
    """{severity: set of vulnerability IDs} of a native or legacy report."""
    doc = json.loads(data)
    out = {k: set() for k in SEVERITIES}
    for r in (doc if isinstance(doc, list) else doc.get("Results") or []):
        for v in r.get("Vulnerabilities") or []:
            out[v["Severity"]].add(v["VulnerabilityID"])
    return out


def with_repo_digest(data, repo, digest):
    """image.test.json as Trivy would write it for the image pushed here."""
    doc = json.loads(data)
    doc["Metadata"]["RepoDigests"] = ["127.0.0.1:5000/%s@%s" % (repo, digest)]
    return json.dumps(doc).encode()


# ---------------------------------------------------------------------------
# Helpers

def scan_path(repo, ref, view=""):
    sep = "@" if ref.startswith("sha256:") else ":"
    return "/berth/v1/scans/%s%s%s%s" % (repo, sep, ref, view)


def put_report(s, repo, digest, data, headers=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return s.request("PUT", scan_path(repo, digest), body=data, headers=h)


def get_manifest(s, repo, ref, method="GET", headers=None):
    h = {"Accept": OCI_MANIFEST + ", " + OCI_INDEX}
    h.update(headers or {})
    return s.request(method, "/v2/%s/manifests/%s" % (repo, ref), headers=h)


def error_message(resp):
    return json.loads(resp.body)["errors"][0]["message"]


def counts_of(doc, row="counts"):
    return {k: doc[row][k] for k in SEVERITIES}


def read_events(path, want=None, timeout=10.0):
    """hello-notify's lines, waiting until `want(lines)` holds."""
    deadline = time.monotonic() + timeout
    while True:
        lines = []
        if os.path.exists(path):
            with open(path) as f:
                lines = [json.loads(l) for l in f if l.strip()]
        if want is None or want(lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def metric(s, name, **labels):
    """A sample's value from metrics-prometheus on the main port (0 when absent)."""
    r = expect(s.request("GET", "/metrics"), 200)
    total = 0.0
    for line in r.body.decode().splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(m.group(3))
    return total


def push_artifact(s, repo, subject_digest, subject_size, payload, artifact_type, layer_type):
    """A report as an OCI 1.1 referrer of the image (what `oras attach` pushes)."""
    s.ensure_empty_blob(repo)
    expect(s.push_blob_monolithic(repo, payload), 201)
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
         "config": {"mediaType": OCI_EMPTY, "digest": digest_of(b"{}"), "size": 2},
         "layers": [{"mediaType": layer_type, "digest": digest_of(payload), "size": len(payload)}],
         "subject": {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": subject_size},
         "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"}}
    body = canonical_json(m)
    d = digest_of(body)
    expect(s.put_manifest(repo, d, body, OCI_MANIFEST), 201)
    return d


def report_files(s, digest):
    hexd = digest.split(":", 1)[1]
    return s.v2("_berth", "plugins", "scan-trivy", "reports", "sha256", hexd)


# ---------------------------------------------------------------------------

def main(checks):
    tmp = tempfile.mkdtemp(prefix="berth-scan-trivy-")
    root = os.path.join(tmp, "root")
    events = os.path.join(tmp, "events.jsonl")
    policy_file = os.path.join(tmp, "policy.yaml")
    state = {}

    def config(scan, auth=False, notify=True):
        plugins = [{"use": "storage-fs", "config": {"root": root}}]
        if auth:
            plugins.append({"use": "hello-auth", "config": {"user": "sec", "password": "s3cret"}})
        plugins.append({"use": "scan-trivy", "config": scan})
        if notify:
            plugins.append({"use": "hello-notify", "config": {"path": events}})
        plugins.append({"use": "metrics-prometheus", "config": {"listen": "off", "main_port": True}})
        return {"plugins": plugins}

    s = checks.watch(Server(tmpdir=tmp, root=root, config=config({"block_severity": "CRITICAL"})))

    def restart_with(scan, auth=False):
        s.stop_clean()
        s.config_extra = config(scan, auth=auth)
        s.start(port=s.port)

    try:
        s.start()

        # --- import: every testdata report ------------------------------------

        def import_each_report():
            totals = sources_totals()
            expect_eq(sorted(totals), sorted(FILES), "files listed in SOURCES.md")
            state["digests"] = {}
            for name in FILES:
                repo = "reports/" + name.split(".")[0].replace("_", "-")
                body, d = s.push_image(repo, tag="v1", seed=name)
                state.setdefault("bodies", {})[name] = body
                data = read(name)
                if name == "image.test.json":
                    data = with_repo_digest(data, repo, d)
                start = time.monotonic()
                r = expect(put_report(s, repo, d, data), 201)
                elapsed = time.monotonic() - start
                if name == "ubi-7.json":
                    print("# ubi-7.json (%d bytes) imported in %.3fs" % (len(data), elapsed))
                summary = r.json()
                want, want_fix = python_counts(data)
                expect_eq(counts_of(summary), want, name + ": counts against python")
                expect_eq(counts_of(summary), totals[name], name + ": counts against SOURCES.md")
                expect_eq(counts_of(summary, "fixable"), want_fix, name + ": fixable counts")
                expect_eq(summary["counts"]["total"], sum(want.values()), name + ": total")
                expect_eq(summary["digest"], d, name + ": summary digest")
                expect_eq(summary["imported_via"], "api", name + ": imported_via")
                expect_eq(summary["raw"]["digest"], digest_of(data), name + ": stored report digest")
                expect_eq(r.header("Location"), scan_path(repo, d), name + ": Location")
                state["digests"][name] = (repo, d, data)
            # the formats the plugin recognised
            fmt = {n: json.loads(s.request("GET", scan_path(*state["digests"][n][:2])).body)["format"]
                   for n in FILES}
            expect_eq(fmt["ubi-7.json"], "trivy-json-legacy", "ubi-7 format")
            expect_eq(fmt["image-sarif.test.json"], "sarif", "SARIF format")
            expect_eq(fmt["debian-stretch.json"], "trivy-json", "debian format")
        checks.check("each testdata report imports with the expected counts", import_each_report)

        def summary_fields():
            repo, d, data = state["digests"]["spring4shell-jre11.json"]
            doc = expect(s.request("GET", scan_path(repo, "v1")), 200).json()
            expect_eq(doc["repository"], repo, "repository")
            expect_eq(doc["tag"], "v1", "tag")
            expect_eq(doc["digest"], d, "digest by tag")
            expect_eq(doc["scanned"], True, "scanned")
            expect_eq(doc["scanner"], {"name": "Trivy", "version": "dev"}, "scanner")
            expect_eq(doc["artifact_type"], "container_image", "artifact type")
            expect_true(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", doc["imported_at"]),
                        "imported_at is RFC 3339: %r" % doc["imported_at"])
            ubi = state["digests"]["ubi-7.json"]
            doc = expect(s.request("GET", scan_path(ubi[0], ubi[1])), 200).json()
            expect_eq(doc["unique"]["total"], 409, "distinct IDs of ubi-7")
            expect_eq(doc["duplicates_dropped"], 0, "duplicates in ubi-7")
        checks.check("summary by tag and by digest", summary_fields)

        def vulnerability_listing():
            repo, d, data = state["digests"]["ubi-7.json"]
            doc = expect(s.request("GET", scan_path(repo, d, "/vulnerabilities")), 200).json()
            expect_eq(doc["count"], 636, "all findings")
            doc = expect(s.request("GET", scan_path(repo, d, "/vulnerabilities?severity=HIGH,CRITICAL")),
                         200).json()
            expect_eq(doc["count"], 17, "HIGH and CRITICAL findings")
            expect_eq({v["severity"] for v in doc["vulnerabilities"]}, {"HIGH", "CRITICAL"}, "severities")
            expect_eq(doc["vulnerabilities"][0]["severity"], "CRITICAL", "worst first")
            doc = expect(s.request("GET", scan_path(repo, "v1",
                                                    "/vulnerabilities?severity=high,critical&fixable=true")),
                         200).json()
            expect_eq(doc["count"], 8, "fixable HIGH and CRITICAL (7 + 1)")
            expect_true(all(v["fixable"] and v["fixed_version"] for v in doc["vulnerabilities"]),
                        "every listed finding has a fix")
            expect_eq(doc["filters"], {"severity": ["CRITICAL", "HIGH"], "fixable": True}, "filters echoed")
            doc = expect(s.request("GET", scan_path(repo, d, "/vulnerabilities?fixable=false")), 200).json()
            expect_eq(doc["count"], 636 - 18, "findings without a fix")
            one = state["digests"]["spring4shell-jre11.json"]
            v = expect(s.request("GET", scan_path(one[0], one[1], "/vulnerabilities")), 200).json()
            f = v["vulnerabilities"][0]
            expect_eq((f["id"], f["package"], f["installed_version"], f["fixed_version"], f["status"]),
                      ("CVE-2022-22965", "org.springframework:spring-beans", "5.3.15",
                       "5.3.18", "fixed"), "a finding's fields")
            r = expect(s.request("GET", scan_path(repo, d, "/vulnerabilities?severity=SEVERE")), 400,
                       "FILTER_INVALID")
            expect_true("SEVERE" in error_message(r), "the bad severity is named")
            expect(s.request("GET", scan_path(repo, d, "/vulnerabilities?fixable=maybe")), 400,
                   "FILTER_INVALID")
        checks.check("vulnerabilities, filtered by severity and fix", vulnerability_listing)

        def raw_and_reports_endpoint():
            repo, d, data = state["digests"]["ubi-7.json"]
            r = expect(s.request("GET", scan_path(repo, d, "/raw")), 200)
            expect_eq(r.body, data, "raw report is the uploaded bytes")
            doc = expect(s.request("GET", "/berth/v1/reports/%s@%s" % (repo, d)), 200).json()
            expect_eq(doc["summary"]["counts"]["total"], 636, "report() summary")
            expect_eq(len(doc["vulnerabilities"]), 636, "report() findings")
            path = report_files(s, d)
            for f in ("report.json", "findings.json", "gate.json", "summary.json"):
                expect_true(os.path.isfile(os.path.join(path, f)), "stored %s" % f)
            with open(os.path.join(path, "report.json"), "rb") as f:
                expect_eq(f.read(), data, "report.json on disk")
            gate = os.path.getsize(os.path.join(path, "gate.json"))
            expect_true(gate < 40000, "gate.json stays small (%d bytes)" % gate)
        checks.check("the raw report, /berth/v1/reports and the files in storage", raw_and_reports_endpoint)

        # --- bad input ---------------------------------------------------------

        def bad_input():
            _, good = s.push_image("bad/app", tag="v1", seed="bad")
            spring = read("spring4shell-jre11.json")
            cases = [
                (b'{"SchemaVersion": 2, "Results": [', 400, "REPORT_INVALID", "malformed JSON"),
                (b'{"hello": "world"}', 400, "REPORT_INVALID", "not a Trivy report"),
                (b'{"bomFormat": "CycloneDX", "specVersion": "1.4"}', 400, "REPORT_INVALID",
                 "not a Trivy report"),
                (b'{"SchemaVersion": 3, "Results": []}', 400, "REPORT_INVALID", "SchemaVersion 3"),
                (b'{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "CodeQL"}}}]}', 400,
                 "REPORT_INVALID", "CodeQL"),
                (b'\xff\xfe{}', 400, "REPORT_INVALID", "malformed JSON"),
                (read("image.test.json"), 400, "REPORT_INVALID", "knqyf263/vuln-image@sha256:1e8b1992"),
            ]
            for body, status, code, text in cases:
                r = expect(put_report(s, "bad/app", good, body), status, code)
                expect_true(text in error_message(r), "message %r holds %r" % (error_message(r), text))
            r = expect(put_report(s, "bad/app", good, b""), 400, "REPORT_INVALID")
            expect_true("empty" in error_message(r), "empty body named")
            expect(put_report(s, "bad/app", "sha256:xyz", spring), 400, "DIGEST_INVALID")
            expect(put_report(s, "bad/app", "sha256:" + "A" * 64, spring), 400, "DIGEST_INVALID")
            unknown = "sha256:" + "0" * 64
            r = expect(put_report(s, "bad/app", unknown, spring), 404, "MANIFEST_UNKNOWN")
            expect_true(unknown in error_message(r), "unknown digest named")
            # a digest of another repository is unknown here
            other = state["digests"]["spring4shell-jre11.json"][1]
            expect(put_report(s, "bad/app", other, spring), 404, "MANIFEST_UNKNOWN")
            expect(s.request("GET", scan_path("bad/app", other)), 404, "MANIFEST_UNKNOWN")
            expect(s.request("PUT", scan_path("bad/app", "v1"), body=spring), 400, "TAG_INVALID")
            expect(s.request("PUT", scan_path("bad/app", good, "/vulnerabilities"), body=spring), 405,
                   "UNSUPPORTED")
            for path in ["/berth/v1/scans/bad/../app@" + good, "/berth/v1/scans/bad/%2e%2e/app@" + good,
                         "/berth/v1/scans/../../etc@" + good, "/berth/v1/scans/Bad/App@" + good]:
                r = s.request("PUT", path, body=spring, headers={"Content-Type": "application/json"})
                expect(r, 400, "NAME_INVALID")
                r = s.request("GET", path)
                expect(r, 400, "NAME_INVALID")
            expect(s.request("GET", "/berth/v1/scans/bad/app"), 400, "TAG_INVALID")
            expect(s.request("POST", scan_path("bad/app", good), body=spring), 405, "UNSUPPORTED")
            expect(s.request("GET", scan_path("bad/app", "nope")), 404, "MANIFEST_UNKNOWN")
            # nothing was stored for any of them
            expect_true(not os.path.exists(report_files(s, good)), "no report stored for bad/app")
            summary = expect(s.request("GET", scan_path("bad/app", good)), 200).json()
            expect_eq(summary["scanned"], False, "bad/app stays unscanned")
            expect(s.request("GET", scan_path("bad/app", good, "/vulnerabilities")), 404, "REPORT_UNKNOWN")
            expect(s.request("GET", scan_path("bad/app", good, "/raw")), 404, "REPORT_UNKNOWN")
            expect(s.request("GET", "/berth/v1/reports/bad/app@" + good), 404, "MANIFEST_UNKNOWN")
            expect_true(metric(s, "berth_scan_import_failures_total", via="api", reason="invalid") >= 6,
                        "refused reports are counted")
            expect_true(metric(s, "berth_scan_import_failures_total", via="api",
                               reason="wrong_target") >= 1, "contradicting reports are counted")
        checks.check("bad reports, digests, names and paths are refused", bad_input)

        def oversized():
            _, d = s.push_image("bad/big", tag="v1", seed="big")
            # the route's own limit: 64 MiB
            r = put_report(s, "bad/big", d, b" " * (64 * 1024 * 1024 + 1))
            expect(r, 413, "SIZE_INVALID")
            # a configured lower limit
            restart_with({"block_severity": "CRITICAL", "max_report_size": "64KiB"})
            r = expect(put_report(s, "bad/big", d, read("ubi-7.json")), 413, "SIZE_INVALID")
            expect_true("max_report_size" in error_message(r), "the limit is named")
            expect(put_report(s, "bad/big", d, read("spring4shell-jre11.json")), 201)
            restart_with({"block_severity": "CRITICAL"})
        checks.check("oversized reports are refused (413)", oversized)

        # --- the gate ----------------------------------------------------------

        def gate_blocks():
            repo, d, _ = state["digests"]["spring4shell-jre11.json"]
            for method in ("GET", "HEAD"):
                for ref in ("v1", d):
                    r = expect(get_manifest(s, repo, ref, method), 403)
                    if method == "GET":
                        expect(r, 403, "DENIED")
                        msg = error_message(r)
                        for part in ("blocked by scan policy 'default'", "1 CRITICAL",
                                     "CVE-2022-22965", "allowlist", "/vulnerabilities"):
                            expect_true(part in msg, "refusal %r holds %r" % (msg, part))
            clean_repo, clean, _ = state["digests"]["sl-micro-rancher5.4.json"]
            expect(get_manifest(s, clean_repo, "v1"), 200)
            expect(get_manifest(s, clean_repo, clean, "HEAD"), 200)
            # HIGH is below this policy's threshold
            deb = state["digests"]["debian-stretch.json"]
            expect(get_manifest(s, deb[0], "v1"), 403, "DENIED")
            _, unscanned = s.push_image("gate/unscanned", tag="v1", seed="unscanned")
            expect(get_manifest(s, "gate/unscanned", "v1"), 200)
            state["unscanned"] = unscanned
            # only manifests are gated: a client that knows a blob's digest gets it
            config_digest = json.loads(state["bodies"]["spring4shell-jre11.json"])["config"]["digest"]
            expect(s.request("GET", "/v2/%s/blobs/%s" % (repo, config_digest)), 200)
        checks.check("pulls of a CRITICAL image are refused (GET and HEAD, tag and digest)", gate_blocks)

        def events_seen():
            repo, d, _ = state["digests"]["spring4shell-jre11.json"]
            lines = read_events(events, lambda ls: len([l for l in ls if l["type"] == "pull.blocked"
                                                        and l["digest"] == d]) >= 2)
            done = [l for l in lines if l["type"] == "scan.completed" and l["digest"] == d]
            expect_eq(len(done), 1, "scan.completed events for spring4shell")
            expect_eq(done[0]["repository"], repo, "event repository")
            expect_eq(done[0]["source"], "scan-trivy", "event source")
            expect_eq(done[0]["detail"]["counts"]["CRITICAL"], 1, "event counts")
            expect_eq(done[0]["detail"]["via"], "api", "event via")
            blocked = [l for l in lines if l["type"] == "pull.blocked" and l["digest"] == d]
            expect_true(len(blocked) >= 2, "pull.blocked events (%d)" % len(blocked))
            expect_true(any(l["tag"] == "v1" for l in blocked), "pull.blocked by tag carries the tag")
            # counted by the metrics notifier, on the event thread
            expect_true(poll(lambda: metric(s, "berth_scan_blocks_total"), lambda v: v >= 2) >= 2,
                        "the core counts scan blocks")
            # counters live in the process: the server was restarted since the first imports
            before = metric(s, "berth_scan_reports_imported_total", via="api")
            expect(put_report(s, repo, d, read("spring4shell-jre11.json")), 201)
            expect_eq(metric(s, "berth_scan_reports_imported_total", via="api"), before + 1,
                      "an import is counted")
        checks.check("scan.completed and pull.blocked reach notifiers; counters", events_seen)

        def survives_restart():
            s.restart()
            repo, d, data = state["digests"]["ubi-7.json"]
            doc = expect(s.request("GET", scan_path(repo, d)), 200).json()
            expect_eq(doc["counts"]["total"], 636, "ubi-7 after restart")
            expect_eq(expect(s.request("GET", scan_path(repo, d, "/raw")), 200).body, data,
                      "raw report after restart")
            spring = state["digests"]["spring4shell-jre11.json"]
            expect(get_manifest(s, spring[0], "v1"), 403, "DENIED")
        checks.check("reports and the gate survive a restart", survives_restart)

        def allowlist():
            repo, d, _ = state["digests"]["spring4shell-jre11.json"]
            restart_with({"block_severity": "CRITICAL", "allowlist": ["CVE-2022-22965"]})
            expect(get_manifest(s, repo, "v1"), 200)
            expect(get_manifest(s, repo, d, "HEAD"), 200)
            # ubi-7's single CRITICAL is another ID
            ubi = state["digests"]["ubi-7.json"]
            expect(get_manifest(s, ubi[0], "v1"), 403, "DENIED")
            restart_with({"block_severity": "CRITICAL",
                          "allowlist": ["CVE-2022-22965 until 2020-01-31"]})
            r = expect(get_manifest(s, repo, "v1"), 403, "DENIED")
            expect_true("CVE-2022-22965" in error_message(r), "expired allowlist entry blocks again")
            restart_with({"block_severity": "CRITICAL",
                          "allowlist": ["CVE-2022-22965 until 2999-12-31"]})
            expect(get_manifest(s, repo, "v1"), 200)
        checks.check("an allowlist (with expiry) lets the image through", allowlist)

        def unscanned():
            spring = state["digests"]["spring4shell-jre11.json"]
            restart_with({"block_severity": "CRITICAL", "block_unscanned": True,
                          "allowlist": ["CVE-2022-22965"], "contact": "security@example.com"})
            r = expect(get_manifest(s, "gate/unscanned", "v1"), 403, "DENIED")
            msg = error_message(r)
            expect_true("no vulnerability report" in msg and "security@example.com" in msg,
                        "unscanned refusal: %r" % msg)
            expect(get_manifest(s, "gate/unscanned", state["unscanned"], "HEAD"), 403)
            expect(get_manifest(s, spring[0], "v1"), 200)
            # a clean report counts as scanned
            clean = state["digests"]["sl-micro-rancher5.4.json"]
            expect(get_manifest(s, clean[0], "v1"), 200)
            # a referrer (here a signature-like artifact) is not an image: never "unscanned"
            _, art, _ = s.push_empty_config_artifact(
                "gate/unscanned", artifact_type="application/vnd.example.signature",
                subject={"mediaType": OCI_MANIFEST, "digest": state["unscanned"], "size": 1})
            expect(get_manifest(s, "gate/unscanned", art), 200)
            restart_with({"block_severity": "CRITICAL", "block_unscanned": False})
            expect(get_manifest(s, "gate/unscanned", "v1"), 200)
        checks.check("unscanned images: refused when the policy says so", unscanned)

        def policy_file_patterns():
            deb = state["digests"]["debian-stretch.json"]
            # debian-stretch: 12 CRITICAL and 24 HIGH without a fix, 4 MEDIUM with one
            with open(policy_file, "w") as f:
                f.write("policies:\n"
                        "  - name: fixable-only\n"
                        "    repositories: [reports/debian-*]\n"
                        "    block_severity: HIGH\n"
                        "    only_fixable: true\n"
                        "  - name: everything\n"
                        "    repositories: ['**']\n"
                        "    block_severity: MEDIUM\n"
                        "    allowlist:\n"
                        "      - {id: CVE-2022-22965, expires: 2999-01-01, reason: test}\n")
            restart_with({"policy_file": policy_file, "block_severity": "CRITICAL"})
            expect(get_manifest(s, deb[0], "v1"), 200)
            spring = state["digests"]["spring4shell-jre11.json"]
            expect(get_manifest(s, spring[0], "v1"), 200)
            ubi = state["digests"]["ubi-7.json"]
            r = expect(get_manifest(s, ubi[0], "v1"), 403, "DENIED")
            # the refusal counts distinct IDs, not findings
            ids = distinct_ids(ubi[2])
            want = "%d CRITICAL, %d HIGH, %d MEDIUM vulnerabilities at or above MEDIUM" % (
                len(ids["CRITICAL"]), len(ids["HIGH"]), len(ids["MEDIUM"]))
            expect_true("policy 'everything'" in error_message(r) and want in error_message(r),
                        "ubi-7 refusal %r holds %r" % (error_message(r), want))
            with open(policy_file, "w") as f:
                f.write("policies:\n"
                        "  - name: fixable-only\n"
                        "    repositories: [reports/debian-*]\n"
                        "    block_severity: MEDIUM\n"
                        "    only_fixable: true\n")
            restart_with({"policy_file": policy_file})
            r = expect(get_manifest(s, deb[0], "v1"), 403, "DENIED")
            # 4 fixable MEDIUM findings, all of one ID
            expect_true("1 MEDIUM vulnerability with a fix at or above MEDIUM (CVE-2019-5094)"
                        in error_message(r), "only fixable ones counted: %r" % error_message(r))
            # outside every pattern (the inline policy is off): served
            expect(get_manifest(s, ubi[0], "v1"), 200)
        checks.check("policies per repository pattern from policy_file", policy_file_patterns)

        def bad_config():
            bad = os.path.join(tmp, "bad-policy.yaml")
            with open(bad, "w") as f:
                f.write("policies:\n  - name: p\n    repositories: ['**']\n    blok_severity: HIGH\n")
            s.stop_clean()
            s.config_extra = config({"policy_file": bad})
            s.write_config()
            p = subprocess.run([BERTH_BIN, "serve", "-c", s.config_path], capture_output=True,
                               text=True, timeout=30)
            expect_true(p.returncode != 0, "berth refuses to start")
            expect_true("Sanitizer" not in p.stderr, "no sanitizer report: %s" % p.stderr[-800:])
            expect_true("bad-policy.yaml:4:5: unknown policy key 'blok_severity'" in p.stderr + p.stdout,
                        "file:line:column of the typo: %s" % (p.stderr + p.stdout)[-600:])
            s.config_extra = config({"block_severity": "SEVERE"})
            s.write_config()
            p = subprocess.run([BERTH_BIN, "serve", "-c", s.config_path], capture_output=True,
                               text=True, timeout=30)
            expect_true(p.returncode != 0 and "'block_severity' is 'SEVERE'" in p.stderr + p.stdout,
                        "a bad severity is named: %s" % (p.stderr + p.stdout)[-600:])
            expect_true("Sanitizer" not in p.stderr, "no sanitizer report: %s" % p.stderr[-800:])
            with open(policy_file, "w") as f:
                f.write("policies:\n  - name: default\n    repositories: [x]\n    block_severity: HIGH\n")
            s.config_extra = config({"policy_file": policy_file, "block_severity": "HIGH"})
            s.write_config()
            p = subprocess.run([BERTH_BIN, "serve", "-c", s.config_path], capture_output=True,
                               text=True, timeout=30)
            expect_true(p.returncode != 0 and "give the inline policy another 'name'" in p.stderr,
                        "two policies named default: %s" % p.stderr[-600:])
            s.config_extra = config({"blok_severity": "HIGH"})
            s.write_config()
            p = subprocess.run([BERTH_BIN, "config", "check", "-c", s.config_path], capture_output=True,
                               text=True, timeout=30)
            expect_true(p.returncode != 0 and "unknown key 'blok_severity'" in p.stderr + p.stdout,
                        "config check refuses a typo: %s" % (p.stderr + p.stdout)[-600:])
            s.config_extra = config({"block_severity": "CRITICAL"})
            s.start(port=s.port)
        checks.check("bad policies stop the server with a message", bad_config)

        # --- referrers ---------------------------------------------------------

        def referrer_import():
            body, d = s.push_image("ref/app", tag="v1", seed="referrer")
            expect_eq(expect(s.request("GET", scan_path("ref/app", d)), 200).json()["scanned"], False,
                      "not scanned before the referrer")
            data = read("spring4shell-jre11.json")
            art = push_artifact(s, "ref/app", d, len(body), data, TRIVY_TYPE, TRIVY_TYPE)
            doc = expect(s.request("GET", scan_path("ref/app", "v1")), 200).json()
            expect_eq(doc["scanned"], True, "scanned once the referrer is pushed")
            expect_eq(doc["imported_via"], "referrer", "imported_via")
            expect_eq(doc["referrer"], art, "the artifact's digest")
            expect_eq(doc["counts"]["CRITICAL"], 1, "counts from the referrer")
            expect(get_manifest(s, "ref/app", "v1"), 403, "DENIED")
            # the referrers API lists it too (the core's)
            refs = expect(s.request("GET", "/v2/ref/app/referrers/" + d), 200).json()
            expect_true(any(m["digest"] == art for m in refs["manifests"]), "listed as a referrer")
            # SARIF as a layer of an `oras attach`-style artifact
            body2, d2 = s.push_image("ref/sarif", tag="v1", seed="sarif")
            push_artifact(s, "ref/sarif", d2, len(body2), read("image-sarif.test.json"), SARIF_TYPE,
                          "application/vnd.oci.image.layer.v1.tar")
            doc = expect(s.request("GET", scan_path("ref/sarif", d2)), 200).json()
            expect_eq(doc["format"], "sarif", "SARIF referrer imported")
            expect_eq(doc["counts"]["total"], 80, "SARIF counts")
            # an unrelated artifact type is not read
            body3, d3 = s.push_image("ref/other", tag="v1", seed="other")
            push_artifact(s, "ref/other", d3, len(body3), data, "application/vnd.example.sbom",
                          "application/vnd.example.sbom")
            expect_eq(expect(s.request("GET", scan_path("ref/other", d3)), 200).json()["scanned"], False,
                      "other artifact types are ignored")
            # a broken report pushed as a referrer is counted, the image stays unscanned
            before = metric(s, "berth_scan_import_failures_total", via="referrer")
            push_artifact(s, "ref/other", d3, len(body3), b"{not json", TRIVY_TYPE, TRIVY_TYPE)
            expect_eq(expect(s.request("GET", scan_path("ref/other", d3)), 200).json()["scanned"], False,
                      "a broken referrer imports nothing")
            expect_eq(metric(s, "berth_scan_import_failures_total", via="referrer"), before + 1,
                      "referrer failures counted")
            expect_true(metric(s, "berth_scan_reports_imported_total", via="referrer") >= 2,
                        "referrer imports counted")
            lines = read_events(events, lambda ls: any(l["type"] == "scan.completed" and
                                                       l["digest"] == d for l in ls))
            ev = [l for l in lines if l["type"] == "scan.completed" and l["digest"] == d]
            expect_eq(ev[0]["detail"]["referrer"], art, "event names the referrer")
        checks.check("a report pushed as a referrer is imported", referrer_import)

        def index_union():
            amd_body, amd = s.push_image("multi/app", seed="amd64")
            arm_body, arm = s.push_image("multi/app", seed="arm64")
            expect(put_report(s, "multi/app", amd, read("spring4shell-jre11.json")), 201)
            expect(put_report(s, "multi/app", arm, read("debian-stretch.json")), 201)
            index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
                {"mediaType": OCI_MANIFEST, "digest": amd, "size": len(amd_body),
                 "platform": {"os": "linux", "architecture": "amd64"}},
                {"mediaType": OCI_MANIFEST, "digest": arm, "size": len(arm_body),
                 "platform": {"os": "linux", "architecture": "arm64"}}]}
            body = canonical_json(index)
            expect(s.put_manifest("multi/app", "v1", body, OCI_INDEX), 201)
            doc = expect(s.request("GET", scan_path("multi/app", "v1")), 200).json()
            expect_eq(doc["union"], True, "union")
            expect_eq(doc["scanned"], True, "every child scanned")
            expect_eq(doc["counts"]["total"], 161, "1 + 160 findings")
            expect_eq(doc["counts"]["CRITICAL"], 13, "12 + 1 CRITICAL")
            expect_eq([m["platform"] for m in doc["manifests"]], ["linux/amd64", "linux/arm64"], "children")
            v = expect(s.request("GET", scan_path("multi/app", "v1", "/vulnerabilities?severity=CRITICAL")),
                       200).json()
            expect_eq(v["count"], 13, "union listing")
            r = expect(get_manifest(s, "multi/app", "v1"), 403, "DENIED")
            n = len(distinct_ids(read("debian-stretch.json"))["CRITICAL"] | {"CVE-2022-22965"})
            expect_true(("%d CRITICAL vulnerabilities" % n) in error_message(r),
                        "index refusal %r counts %d distinct IDs" % (error_message(r), n))
            # the platform child alone is judged on its own report
            expect(get_manifest(s, "multi/app", arm), 403, "DENIED")
            restart_with({"block_severity": "CRITICAL",
                          "allowlist": ["CVE-2022-22965"] + sorted({v["id"] for v in v["vulnerabilities"]
                                                                    if v["id"] != "CVE-2022-22965"})})
            expect(get_manifest(s, "multi/app", "v1"), 200)
            restart_with({"block_severity": "CRITICAL"})
        checks.check("an index reports and is judged on the union of its children", index_union)

        def bypass():
            repo, d, _ = state["digests"]["spring4shell-jre11.json"]
            _, mine = s.push_image("auth/app", tag="v1", seed="auth")
            restart_with({"block_severity": "CRITICAL", "bypass_identities": ["sec"]}, auth=True)
            expect(get_manifest(s, repo, "v1"), 401)
            expect(get_manifest(s, repo, "v1", headers=AUTH), 200)
            expect(get_manifest(s, repo, d, "HEAD", headers=AUTH), 200)
            restart_with({"block_severity": "CRITICAL", "bypass_identities": ["someone-else"],
                          "bypass_groups": ["security"]}, auth=True)
            r = expect(get_manifest(s, repo, "v1", headers=AUTH), 403, "DENIED")
            expect_true("CVE-2022-22965" in error_message(r), "refused without bypass")
            lines = read_events(events, lambda ls: any(l["type"] == "pull.blocked" and
                                                       l.get("identity") == "sec" for l in ls))
            expect_true(any(l["type"] == "pull.blocked" and l.get("identity") == "sec" for l in lines),
                        "pull.blocked names the identity")
            # the API asks the auth plugins too; imports carry the importer's identity
            expect(s.request("GET", scan_path(repo, d)), 401)
            expect(s.request("GET", scan_path(repo, d), headers=AUTH), 200)
            expect(put_report(s, "auth/app", mine, read("sl-micro-rancher5.4.json")), 401)
            expect(put_report(s, "auth/app", mine, read("sl-micro-rancher5.4.json"), headers=AUTH), 201)
            lines = read_events(events, lambda ls: any(l["type"] == "scan.completed" and
                                                       l["digest"] == mine for l in ls))
            ev = [l for l in lines if l["type"] == "scan.completed" and l["digest"] == mine]
            expect_eq(ev[0]["identity"] if ev else None, "sec", "scan.completed names the importer")
            restart_with({"block_severity": "CRITICAL"})
        checks.check("bypass identities get the image; others are refused", bypass)

        def delete_report():
            repo, d, _ = state["digests"]["spring4shell-jre11.json"]
            expect(s.request("DELETE", scan_path(repo, d)), 204)
            expect_eq(expect(s.request("GET", scan_path(repo, d)), 200).json()["scanned"], False,
                      "unscanned after DELETE")
            expect(get_manifest(s, repo, "v1"), 200)
            expect(s.request("DELETE", scan_path(repo, d)), 404, "REPORT_UNKNOWN")
            expect(s.request("DELETE", scan_path(repo, "v1")), 400, "TAG_INVALID")
            expect(put_report(s, repo, d, read("spring4shell-jre11.json")), 201)
            expect(get_manifest(s, repo, "v1"), 403, "DENIED")
        checks.check("DELETE forgets a report and the gate sees it at once", delete_report)

        def prune_job():
            _, gone = s.push_image("prune/app", tag="v1", seed="prune")
            expect(put_report(s, "prune/app", gone, read("sl-micro-rancher5.4.json")), 201)
            # the same digest in a second repository keeps its report alive
            _, both = s.push_image("prune/a", seed="shared")
            s.push_image("prune/b", seed="shared")
            expect(put_report(s, "prune/a", both, read("sl-micro-rancher5.4.json")), 201)
            expect(s.request("DELETE", "/v2/prune/app/manifests/" + gone), 202)
            expect(s.request("DELETE", "/v2/prune/a/manifests/" + both), 202)
            r = expect(s.request("POST", "/berth/v1/jobs/scan-trivy-prune?dry_run=1"), 200).json()
            expect_eq(r["result"], "ok", "dry run result")
            expect_true("would remove report of %s: no repository holds it" % gone in r["output"],
                        "dry run names the report: %r" % r["output"])
            expect_true(os.path.isdir(report_files(s, gone)), "a dry run removes nothing")
            r = expect(s.request("POST", "/berth/v1/jobs/scan-trivy-prune"), 200).json()
            expect_true("removed report of %s: no repository holds it" % gone in r["output"],
                        "the run names the report: %r" % r["output"])
            expect_true(not os.path.exists(report_files(s, gone)), "the report is gone")
            expect_true(os.path.isdir(report_files(s, both)), "a report still held elsewhere stays")
            ubi = state["digests"]["ubi-7.json"]
            expect_true(os.path.isdir(report_files(s, ubi[1])), "other reports stay")
            expect_eq(expect(s.request("GET", scan_path("prune/b", both)), 200).json()["scanned"], True,
                      "prune/b still shows its report")
        checks.check("scan-trivy-prune forgets reports of deleted manifests", prune_job)

        def stops_cleanly():
            s.stop_clean()
            log = s.log_text()
            for bad in ("runtime error:", "AddressSanitizer", "LeakSanitizer"):
                expect_true(bad not in log, "sanitizer report in the server log: %s" % bad)
        checks.check("server exits 0 on SIGTERM, no sanitizer report", stops_cleanly)
    finally:
        for srv in checks.servers:
            srv.kill()
        if not os.environ.get("BERTH_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
