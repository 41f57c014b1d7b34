"""The audit-log plugin in a real berth, with hello-auth for identities.

Raw HTTP pushes, pulls (by tag and digest), a cross-repository mount, blob
and manifest deletes, a push refused to a known user (audit-log-probe
locks locked/*), wrong credentials, an anonymous request, a pull refused
by a pull gate (hello-scan) and login events from a plugin route; then every
line of the audit file is read back and checked field by field: time
(RFC 3339, UTC, milliseconds, recent), identity, client, action,
repository, reference, digest (the pushed ones), outcome, reason, and for
refusals the message the client got. Acts seen
both as events and as requests must appear once, the login handshake's
first 401 not at all, and no secret (the password, the Authorization
value, a query string) anywhere in the file. Bad config values stop the
server with a message naming them.
"""
import base64
import datetime
import hashlib
import json
import os
import re
import shutil
import stat
import sys
import tempfile
import time
import urllib.parse
import uuid

from berth_harness import (OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, PLUGIN_DIR, Server, canonical_json,
                           digest_of, expect, expect_eq, expect_true, fail, run_main)

USER = "ci"
PASSWORD = "pw-" + uuid.uuid4().hex
WRONG_PASSWORD = "wrong-" + uuid.uuid4().hex
CREDENTIALS = base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
AUTH = {"Authorization": "Basic " + CREDENTIALS}
WRONG_CREDENTIALS = base64.b64encode(("%s:%s" % (USER, WRONG_PASSWORD)).encode()).decode()
DENY_ANNOTATION = "audit.test/deny"
HOSTILE_ACCOUNT = 'ev"il\nname\\\x01\u2028}{"action":"push"'
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
BASE_FIELDS = ["time", "action", "outcome", "identity", "client", "repository", "reference",
               "digest", "reason"]


def client_message(r):
    """The OCI error message the client got: what a refusal line's message must say."""
    errors = r.json().get("errors") or [{}]
    message = errors[0].get("message")
    expect_true(message, "the refusal carries a message: %s" % r.describe())
    return message


def push_blob(s, repo, data, headers=AUTH):
    d = digest_of(data)
    h = {"Content-Type": "application/octet-stream"}
    h.update(headers)
    expect(s.request("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, d), body=data, headers=h),
           201)
    return d


def push_image(s, repo, tag, seed, annotations=None):
    """Config, one layer and a manifest, as ci; returns (manifest digest, layer digest)."""
    cfg = canonical_json({"architecture": "amd64", "os": "linux", "seed": seed,
                          "rootfs": {"type": "layers", "diff_ids": []}})
    layer = hashlib.sha256(seed.encode()).digest() * 4
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
         "config": {"mediaType": OCI_CONFIG, "digest": push_blob(s, repo, cfg), "size": len(cfg)},
         "layers": [{"mediaType": OCI_LAYER, "digest": push_blob(s, repo, layer),
                     "size": len(layer)}]}
    if annotations:
        m["annotations"] = annotations
    body = canonical_json(m)
    h = {"Content-Type": OCI_MANIFEST}
    h.update(AUTH)
    expect(s.request("PUT", "/v2/%s/manifests/%s" % (repo, tag), body=body, headers=h), 201)
    return digest_of(body), m["layers"][0]["digest"]


def read_audit(path, want, timeout=10.0):
    """The file's lines as dicts, once there are `want` (events arrive off the request path)."""
    deadline = time.monotonic() + timeout
    while True:
        with open(path, "rb") as f:
            raw = f.read()
        lines = raw.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        if len(lines) >= want or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    docs = []
    for i, line in enumerate(lines):
        try:
            doc = json.loads(line.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            fail("audit line %d is not JSON (%s): %r" % (i + 1, e, line))
        if not isinstance(doc, dict):
            fail("audit line %d is not an object: %r" % (i + 1, line))
        docs.append(doc)
    return raw, docs


def check_time(doc, since):
    t = doc.get("time")
    if not isinstance(t, str) or not TIME_RE.match(t):
        fail("time %r is not RFC 3339 UTC with milliseconds: %r" % (t, doc))
    when = datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    if not since - 2 <= when <= time.time() + 2:
        fail("time %s is not within this test run: %r" % (t, doc))


def require_plugins(*names):
    """Skip (exit 77) when a plugin was left out of the build (-DBERTH_PLUGINS); fail under CI."""
    missing = [n for n in names if not os.path.exists(os.path.join(PLUGIN_DIR, n + ".so"))]
    if not missing:
        return
    msg = "plugins not built in %s: %s" % (PLUGIN_DIR, ", ".join(missing))
    if os.environ.get("CI") == "true":
        print("not ok - " + msg, flush=True)
        sys.exit(1)
    print("skip - " + msg, flush=True)
    sys.exit(77)


def main(checks):
    tmp = tempfile.mkdtemp(prefix="berth-audit-")
    audit = os.path.join(tmp, "logs", "audit.log")
    os.makedirs(os.path.dirname(audit))
    root = os.path.join(tmp, "root")
    config = {
        "plugin_path": [PLUGIN_DIR],
        "plugins": [
            {"use": "storage-fs", "config": {"root": root}},
            {"use": "audit-log-probe"},
            {"use": "hello-auth", "config": {"user": USER, "password": PASSWORD}},
            {"use": "hello-scan", "config": {"deny_annotation": DENY_ANNOTATION}},
            {"use": "audit-log", "config": {"path": audit, "fsync": "always"}},
        ],
    }
    s = checks.watch(Server(tmpdir=tmp, config=config, root=root))
    expected = []   # (fields that must match exactly, extra checks)
    since = time.time()
    pushed = {}

    def want(**fields):
        base = {"identity": USER, "client": "127.0.0.1", "reason": None}
        base.update(fields)
        expected.append(base)

    try:
        s.start()

        def handshake():
            # What every client does first: not an act, no line.
            expect(s.get("/v2/"), 401, "UNAUTHORIZED")
            expect(s.get("/v2/", headers=AUTH), 200)
        checks.check("the login handshake answers as before", handshake)

        def pushes_and_pulls():
            d1, layer = push_image(s, "team/app", "v1", "one")
            pushed["v1"], pushed["layer"] = d1, layer
            want(action="push", outcome="success", repository="team/app", reference="v1",
                 digest=d1)
            h = {"Accept": OCI_MANIFEST}
            h.update(AUTH)
            expect(s.get("/v2/team/app/manifests/v1", headers=h), 200)
            want(action="pull", outcome="success", repository="team/app", reference="v1",
                 digest=d1)
            # HEAD is no pull: no line.
            expect(s.head("/v2/team/app/manifests/v1", headers=h), 200)
            expect(s.get("/v2/team/app/manifests/" + d1, headers=h), 200)
            want(action="pull", outcome="success", repository="team/app", reference=d1, digest=d1)
        checks.check("push and pulls as ci", pushes_and_pulls)

        def mount_and_blob_delete():
            layer = pushed["layer"]
            r = s.request("POST", "/v2/team/other/blobs/uploads/?mount=%s&from=team/app" % layer,
                          headers=AUTH)
            expect(r, 201)
            want(action="mount", outcome="success", repository="team/other", reference=layer,
                 digest=layer)
            expect(s.delete("/v2/team/other/blobs/" + layer, headers=AUTH), 202)
            want(action="blob.delete", outcome="success", repository="team/other",
                 reference=layer, digest=layer)
        checks.check("a cross-repository mount and a blob delete", mount_and_blob_delete)

        def manifest_deletes():
            d2, _ = push_image(s, "team/app", "v2", "two")
            want(action="push", outcome="success", repository="team/app", reference="v2",
                 digest=d2)
            expect(s.delete("/v2/team/app/manifests/v2", headers=AUTH), 202)
            want(action="delete", outcome="success", repository="team/app", reference="v2",
                 digest=d2)
            expect(s.delete("/v2/team/app/manifests/" + pushed["v1"], headers=AUTH), 202)
            want(action="delete", outcome="success", repository="team/app",
                 reference=pushed["v1"], digest=pushed["v1"])
        checks.check("manifest deletes by tag and by digest", manifest_deletes)

        def denied_push():
            r = s.request("POST", "/v2/locked/app/blobs/uploads/", headers=AUTH)
            expect(r, 403, "DENIED")
            # The reason stays the category; the message is the auth plugin's text.
            expect_eq(client_message(r), "repository 'locked/app' is locked", "the 403's message")
            want(action="push", outcome="denied", repository="locked/app", reference=None,
                 digest=None, reason="access denied", message=client_message(r), status=403,
                 path="/v2/locked/app/blobs/uploads/")
        checks.check("a push refused to a known user", denied_push)

        def wrong_credentials():
            r = s.get("/v2/team/app/manifests/v1",
                      headers={"Authorization": "Basic " + WRONG_CREDENTIALS})
            expect(r, 401, "UNAUTHORIZED")
            want(action="pull", outcome="failure", identity="anonymous",
                 repository="team/app", reference="v1", digest=None,
                 reason="credentials rejected", message=client_message(r), status=401,
                 path="/v2/team/app/manifests/v1")
            # docker login with a wrong password: GET /v2/ with credentials.
            r = s.get("/v2/", headers={"Authorization": "Basic " + WRONG_CREDENTIALS})
            expect(r, 401, "UNAUTHORIZED")
            want(action="login", outcome="failure", identity="anonymous", repository=None,
                 reference=None, digest=None, reason="credentials rejected",
                 message=client_message(r), status=401, path="/v2/")
        checks.check("wrong credentials", wrong_credentials)

        def anonymous_request():
            r = s.get("/v2/team/app/tags/list")
            expect(r, 401, "UNAUTHORIZED")
            expect_eq(client_message(r), "authentication required for repository:team/app:pull",
                      "the 401's message")
            want(action="list", outcome="denied", identity="anonymous", repository="team/app",
                 reference=None, digest=None, reason="authentication required",
                 message=client_message(r), status=401, path="/v2/team/app/tags/list")
        checks.check("an anonymous request", anonymous_request)

        def gate_block():
            d3, _ = push_image(s, "team/blocked", "v1", "three",
                               annotations={DENY_ANNOTATION: "yes"})
            want(action="push", outcome="success", repository="team/blocked", reference="v1",
                 digest=d3)
            h = {"Accept": OCI_MANIFEST}
            h.update(AUTH)
            expect(s.get("/v2/team/blocked/manifests/v1", headers=h), 403, "DENIED")
            # The core's pull.blocked event carries the gate's message as its reason.
            want(action="pull", outcome="denied", repository="team/blocked", reference="v1",
                 digest=d3, reason="manifest %s is blocked by hello-scan" % d3)
        checks.check("a pull refused by a pull gate", gate_block)

        def logins():
            q = urllib.parse.urlencode({"account": "alice", "ok": "1", "password": PASSWORD})
            expect(s.get("/audit-probe/login?" + q), 200)
            want(action="login", outcome="success", identity="alice", repository=None,
                 reference=None, digest=None, scopes=["repository:team/app:pull,push"])
            q = urllib.parse.urlencode({"account": HOSTILE_ACCOUNT, "ok": "0",
                                        "password": PASSWORD})
            expect(s.get("/audit-probe/login?" + q), 200)
            want(action="login", outcome="failure", identity=HOSTILE_ACCOUNT, repository=None,
                 reference=None, digest=None, reason="invalid username or password")
        checks.check("login events from a plugin", logins)

        def every_line():
            raw, docs = read_audit(audit, len(expected))
            left = list(docs)
            for e in expected:
                match = [d for d in left
                         if all(d.get(k, "<absent>") == e[k]
                                for k in ("action", "outcome", "identity", "repository",
                                          "reference"))]
                if len(match) != 1:
                    fail("want exactly one line like %r, found %d among:\n%s"
                         % (e, len(match), "\n".join(json.dumps(d) for d in docs)))
                d = match[0]
                left.remove(d)
                check_time(d, since)
                for k in BASE_FIELDS:
                    expect_true(k in d, "field %s in %r" % (k, d))
                for k, v in e.items():
                    expect_eq(d.get(k, "<absent>"), v, "field %s of %r" % (k, d))
                extra = set(d) - set(BASE_FIELDS) - set(e)
                expect_eq(sorted(extra), [], "fields beyond the expected ones in %r" % d)
            if left:
                fail("lines nobody asked for (written twice?):\n%s"
                     % "\n".join(json.dumps(d) for d in left))
            # One JSON object per line, and nothing but lines.
            expect_true(raw.endswith(b"\n"), "the file ends with a newline")
            expect_eq(raw.count(b"\n"), len(expected), "lines in the file")
        checks.check("every act has its line, field by field, once", every_line)

        def no_secrets():
            raw, _ = read_audit(audit, len(expected), timeout=0)
            for secret in (PASSWORD, WRONG_PASSWORD, CREDENTIALS, WRONG_CREDENTIALS, "Basic ",
                           "Authorization", "password=", "ok=1"):
                expect_true(secret.encode() not in raw, "%r appears in the audit file" % secret)
            expect_true(PASSWORD not in s.log_text(), "the password appears in the server log")
        checks.check("no secret in the audit file", no_secrets)

        def file_mode():
            mode = stat.S_IMODE(os.stat(audit).st_mode)
            expect_eq(oct(mode), oct(0o600), "mode of the audit file")
        checks.check("the audit file is created 0600", file_mode)

        def stops_cleanly():
            s.stop_clean()
        checks.check("server exits 0 on SIGTERM", stops_cleanly)

        bad_values = [
            ({"fsync": "sometimes"}, "fsync: 'sometimes' is not one of always, interval, never"),
            ({"mode": "0777"}, "mode: '0777' is not an octal file mode within 0666"),
            ({"mode": "rw-------"}, "mode: 'rw-------' is not an octal file mode"),
            ({"keep": -1}, "keep: -1 is outside 0 to 1000"),
            ({"max_size": "10"}, "max_size: 10 bytes is too small"),
            ({"fsync_interval": "0s"}, "fsync_interval: 0 ms is outside 1ms to 1h"),
            ({"extra_events": ["ok.type", "Bad Type"]},
             "extra_events: 'Bad Type' is not an event type"),
            ({"path": os.path.join(tmp, "missing", "audit.log")},
             "cannot open audit log '%s': No such file or directory"
             % os.path.join(tmp, "missing", "audit.log")),
            ({"path": tmp + "/"}, "names a directory, not a file"),
            ({"max_sise": "1M"}, "max_sise"),
        ]
        for extra, message in bad_values:
            def refused(extra=extra, message=message):
                cfg = {"path": audit}
                cfg.update(extra)
                bad = Server(tmpdir=tmp, name="bad", config={
                    "plugin_path": [PLUGIN_DIR],
                    "plugins": [{"use": "storage-fs", "config": {"root": root}},
                                {"use": "audit-log", "config": cfg}]})
                try:
                    bad.start()
                except RuntimeError as e:
                    expect_true(message in str(e), "the start-up error names %r:\n%s"
                                % (message, e))
                    return
                finally:
                    bad.kill()
                fail("the server started with audit-log config %r" % extra)
            checks.check("config %r is refused" % extra, refused)
    finally:
        for srv in checks.servers:
            srv.kill()
        if not os.environ.get("BERTH_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    require_plugins("storage-fs", "audit-log", "audit-log-probe", "hello-auth", "hello-scan")
    run_main(main)
