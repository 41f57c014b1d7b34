"""The audit-log plugin's file in a real berth: rotation by size under
concurrent writers, reopening on SIGHUP and SIGUSR1 after the file was moved
away (what logrotate does), and a file that cannot be written.

- Rotation: threads pull (lines from the event thread, or from overflow()
  on the request threads when the short event queue is full) and send
  anonymous requests (refusals, lines from worker threads) at once; audit.log.1,
  .2 ... appear, no file is over max_size, every line is whole JSON and no
  line is lost (total = acts made). A second instance with keep: 2 leaves
  exactly audit2.log, .1 and .2.
- Signals: the file is moved, the server gets SIGHUP (then SIGUSR1), and
  later lines go to a new file at the path, created 0600, while the moved
  file stops growing.
- Unwritable: the path is a symlink to /dev/full (every write fails with
  ENOSPC): requests are answered as usual, the error is logged once for the
  burst, berth_audit_write_failures_total counts every lost line (read from
  metrics-prometheus), and after the link is replaced and SIGHUP sent, lines
  are written again and the log says how many were lost.
"""
import base64
import json
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
import threading
import time

from berth_harness import (OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, PLUGIN_DIR, Server, canonical_json,
                           digest_of, expect, expect_eq, expect_true, fail, run_main)

PASSWORD = "pw-files-test"
AUTH = {"Authorization": "Basic " + base64.b64encode(("ci:" + PASSWORD).encode()).decode()}
MAX_SIZE = 4096
LABELS = 'plugin_instance="audit-log"'
THREADS = 8
PER_THREAD = 30


def lines_of(path):
    """Whole JSON lines of a file; fails on anything else."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw and not raw.endswith(b"\n"):
        fail("%s does not end with a newline" % path)
    out = []
    for i, line in enumerate(raw.split(b"\n")[:-1] if raw else []):
        try:
            out.append(json.loads(line.decode("utf-8")))
        except (ValueError, UnicodeDecodeError) as e:
            fail("%s line %d is not JSON (%s): %r" % (path, i + 1, e, line[:200]))
    return out


def rotated_set(path):
    """path, path.1, path.2 ... as long as they exist."""
    files = [path] if os.path.exists(path) else []
    n = 1
    while os.path.exists("%s.%d" % (path, n)):
        files.append("%s.%d" % (path, n))
        n += 1
    return files


def wait_for(what, fn, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            fail("timed out waiting for %s" % (what() if callable(what) else what))
        time.sleep(0.05)


def total_lines(path):
    return sum(len(lines_of(p)) for p in rotated_set(path))


def metric(s, name, labels):
    r = expect(s.get("/metrics"), 200)
    pat = re.compile(r"^%s\{%s\} (\S+)$" % (re.escape(name), re.escape(labels)), re.M)
    m = pat.search(r.body.decode())
    return float(m.group(1)) if m else None


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
    tmp = tempfile.mkdtemp(prefix="berth-audit-files-")
    logs = os.path.join(tmp, "logs")
    os.makedirs(logs)
    audit = os.path.join(logs, "audit.log")
    audit2 = os.path.join(logs, "audit2.log")
    root = os.path.join(tmp, "root")
    config = {
        "plugin_path": [PLUGIN_DIR],
        # A queue this short fills: events then reach audit-log (a durable
        # notifier) through overflow() on the request threads.
        "events": {"queue_size": 2},
        "plugins": [
            {"use": "storage-fs", "config": {"root": root}},
            {"use": "hello-auth", "config": {"user": "ci", "password": PASSWORD}},
            {"use": "audit-log", "config": {"path": audit, "max_size": "4KiB", "keep": 100,
                                            "fsync": "never"}},
            {"use": "audit-log", "name": "audit-two",
             "config": {"path": audit2, "max_size": "4KiB", "keep": 2}},
        ],
    }
    s = checks.watch(Server(tmpdir=tmp, config=config, root=root))
    acts = [0]

    try:
        s.start()

        def rotation_by_size():
            _, digest = push_small_image(s)
            acts[0] += 1
            errors = []

            def worker(i):
                h = {"Accept": OCI_MANIFEST}
                h.update(AUTH)
                try:
                    for k in range(PER_THREAD):
                        if (i + k) % 2:
                            r = s.get("/v2/rot/app/manifests/v1", headers=h)
                            want = 200
                        else:
                            r = s.get("/v2/rot/app%d/tags/list" % i)
                            want = 401
                        if r.status != want:
                            errors.append("%d, want %d" % (r.status, want))
                except Exception as e:  # reported below
                    errors.append(repr(e))
            ts = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(120)
            expect_eq(errors, [], "request errors")
            acts[0] += THREADS * PER_THREAD
            wait_for("%d audit lines" % acts[0], lambda: total_lines(audit) >= acts[0])
            files = rotated_set(audit)
            expect_true(len(files) >= 3, "audit.log, .1 and .2 exist: %s" % files)
            actions = {}
            for p in files:
                size = os.path.getsize(p)
                expect_true(size <= MAX_SIZE, "%s is %d bytes, over max_size %d"
                            % (p, size, MAX_SIZE))
                for d in lines_of(p):
                    actions[(d["action"], d["outcome"])] = actions.get(
                        (d["action"], d["outcome"]), 0) + 1
                    if d["action"] == "pull":
                        expect_eq(d["digest"], digest, "digest of a pull line")
            expect_eq(total_lines(audit), acts[0], "lines over all the rotated files")
            expect_eq(actions, {("push", "success"): 1,
                                ("pull", "success"): THREADS * PER_THREAD // 2,
                                ("list", "denied"): THREADS * PER_THREAD // 2},
                      "lines by action")
        checks.check("rotation by size keeps every line, none over max_size", rotation_by_size)

        def keep_two():
            # The event thread may still be handing the last events to this
            # instance, and a rotation renames files one after the other.
            want = [audit2, audit2 + ".1", audit2 + ".2"]
            wait_for(lambda: "exactly audit2.log, .1 and .2 (have %s)" % rotated_set(audit2),
                     lambda: rotated_set(audit2) == want)
            expect_true(not os.path.exists(audit2 + ".3"), "no audit2.log.3")
            for p in rotated_set(audit2):
                expect_true(os.path.getsize(p) <= MAX_SIZE, "%s over max_size" % p)
                expect_eq(oct(stat.S_IMODE(os.stat(p).st_mode)), oct(0o600), "mode of " + p)
                lines_of(p)
        checks.check("keep: 2 leaves two rotated files", keep_two)

        def reopen_on(sig):
            moved = audit + ".moved-" + sig.name
            os.rename(audit, moved)
            before = len(lines_of(moved))
            log_mark = len(s.log_text())
            s.proc.send_signal(sig)
            wait_for("the reopen in the server log",
                     lambda: "audit log '%s' reopened" % audit in s.log_text()[log_mark:])
            expect_true(os.path.exists(audit), "a new file at the path after %s" % sig.name)
            expect_eq(oct(stat.S_IMODE(os.stat(audit).st_mode)), oct(0o600), "its mode")
            for _ in range(3):
                expect(s.get("/v2/after/%s/tags/list" % sig.name.lower()), 401)
            got = wait_for("3 lines in the new file",
                           lambda: len(lines_of(audit)) >= 3 and lines_of(audit))
            expect_eq([d["repository"] for d in got], ["after/%s" % sig.name.lower()] * 3,
                      "lines in the new file")
            expect_eq(len(lines_of(moved)), before, "lines in the moved file")

        checks.check("SIGHUP reopens the file", reopen_on, signal.SIGHUP)
        checks.check("SIGUSR1 reopens the file", reopen_on, signal.SIGUSR1)

        def stops_cleanly():
            s.stop_clean()
        checks.check("server exits 0 on SIGTERM", stops_cleanly)

        # --- a file that cannot be written ---------------------------------
        full = os.path.join(logs, "full.log")
        os.symlink("/dev/full", full)
        f = checks.watch(Server(tmpdir=tmp, name="full", root=root, config={
            "plugin_path": [PLUGIN_DIR],
            "plugins": [
                {"use": "storage-fs", "config": {"root": root}},
                {"use": "metrics-prometheus", "config": {"listen": "off", "main_port": True}},
                {"use": "audit-log", "config": {"path": full}},
            ]}))
        f.start()

        def write_failures_counted():
            h = {"Accept": OCI_MANIFEST}
            for _ in range(5):
                start = time.monotonic()
                expect(f.get("/v2/rot/app/manifests/v1", headers=h), 200)
                expect_true(time.monotonic() - start < 2, "a pull waited for the audit file")
            wait_for("5 failures counted", lambda: metric(
                f, "berth_audit_write_failures_total", LABELS) == 5)
            text = f.log_since_start()
            expect_eq(text.count("cannot write audit log '%s': No space left on device" % full), 1,
                      "errors logged for the burst:\n" + text)
        checks.check("an unwritable file: requests answered, failures logged once and counted",
                     write_failures_counted)

        def written_again():
            os.unlink(full)
            mark = len(f.log_text())
            f.proc.send_signal(signal.SIGHUP)
            wait_for("the reopen", lambda: "reopened" in f.log_text()[mark:])
            expect(f.get("/v2/rot/app/manifests/v1", headers={"Accept": OCI_MANIFEST}), 200)
            wait_for("a line in the new file", lambda: os.path.isfile(full) and lines_of(full))
            wait_for("the recovery message",
                     lambda: "audit log '%s' is written again; 5 lines were lost" % full
                     in f.log_text()[mark:])
            # The line is counted after the message is logged.
            wait_for("the line counted",
                     lambda: (metric(f, "berth_audit_lines_total", LABELS) or 0) >= 1)
            expect_eq(metric(f, "berth_audit_lines_total", LABELS), 1.0,
                      "berth_audit_lines_total")
            expect_eq(metric(f, "berth_audit_write_failures_total", LABELS), 5.0,
                      "failures after the recovery")
        checks.check("after the disk is back and SIGHUP, lines are written again", written_again)

        def full_stops_cleanly():
            f.stop_clean()
        checks.check("that server exits 0 on SIGTERM too", full_stops_cleanly)
    finally:
        for srv in checks.servers:
            srv.kill()
        if not os.environ.get("BERTH_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


def push_small_image(s):
    """One small image at rot/app:v1, pushed as ci; returns (body, digest)."""
    cfg = canonical_json({"architecture": "amd64", "os": "linux", "seed": "rot"})
    layer = b"rotation layer" * 8
    for data in (cfg, layer):
        h = {"Content-Type": "application/octet-stream"}
        h.update(AUTH)
        expect(s.request("POST", "/v2/rot/app/blobs/uploads/?digest=%s" % digest_of(data),
                         body=data, headers=h), 201)
    m = canonical_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                        "config": {"mediaType": OCI_CONFIG, "digest": digest_of(cfg),
                                   "size": len(cfg)},
                        "layers": [{"mediaType": OCI_LAYER, "digest": digest_of(layer),
                                    "size": len(layer)}]})
    h = {"Content-Type": OCI_MANIFEST}
    h.update(AUTH)
    expect(s.request("PUT", "/v2/rot/app/manifests/v1", body=m, headers=h), 201)
    return m, digest_of(m)


if __name__ == "__main__":
    require_plugins("storage-fs", "audit-log", "hello-auth", "metrics-prometheus")
    run_main(main)
