"""The notify-webhook plugin against real HTTP receivers started by this test.

Pushes go through the real server (raw HTTP); receivers are Python HTTP
servers on free ports. What is checked is what a receiving system sees:
the bodies (Distribution's envelope and CloudEvents) with the pushed digest,
repository and tag; an HMAC-SHA256 signature that verifies with the shared
secret; filters; events that queue while the receiver is down and arrive,
once each, after Berth restarts (also after SIGKILL); the dead-letter file
and the metrics after a receiver that always fails; a slow receiver that
neither slows pushes nor delays another endpoint; bad config values refused
by `berth config check` and by `berth serve` with the same message, at the
line and column of the key.
"""
import hashlib
import hmac
import http.server
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.request

from berth_harness import (BERTH_BIN, BUILD_DIR, OCI_MANIFEST, PLUGIN_DIR, SOURCE_DIR, Server,
                           expect, expect_eq, expect_true, fail, free_port, run_main, to_yaml)

TEST_PLUGIN_DIR = os.path.join(BUILD_DIR, "tests", "plugins")
SECRET = "s3cr3t-for-the-test"
SECRET_ENV = "NOTIFY_WEBHOOK_TEST_SECRET"
DIST_TYPE = "application/vnd.docker.distribution.events.v2+json"
CE_TYPE = "application/cloudevents+json"


# ---------------------------------------------------------------------------
# A webhook receiver

class Receiver:
    """An HTTP server recording every POST; answers per `mode`: ok, fail, slow."""

    def __init__(self, port=None, mode="ok", delay=0.0, tls=None):
        self.port = port or free_port()
        self.mode = mode
        self.delay = delay
        self.tls = tls  # an ssl.SSLContext: serve https
        self.requests = []
        self.cond = threading.Condition()
        self.httpd = None
        self.thread = None

    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with receiver.cond:
                    receiver.requests.append({
                        "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body, "at": time.monotonic()})
                    receiver.cond.notify_all()
                if receiver.mode == "slow":
                    time.sleep(receiver.delay)
                status, answer = (500, b"boom: receiver broken") if receiver.mode == "fail" else (200, b"ok")
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the sender gave up on a slow answer

            def log_message(self, *args):
                pass

        class Quiet(http.server.ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                pass

        self.httpd = Quiet(("127.0.0.1", self.port), Handler)
        if self.tls:
            self.httpd.socket = self.tls.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    @property
    def url(self):
        return "%s://127.0.0.1:%d/hook" % ("https" if self.tls else "http", self.port)

    def url_for(self, path):
        return self.url[:-len("/hook")] + path

    def wait(self, pred, timeout, what):
        """Wait until pred(requests) is true; returns the requests."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred(self.requests):
                left = deadline - time.monotonic()
                if left <= 0:
                    fail("%s: not within %.0fs; the receiver got %d requests: %s" % (
                        what, timeout, len(self.requests),
                        [r["body"][:300] for r in self.requests[-5:]]))
                self.cond.wait(left)
            return list(self.requests)

    def snapshot(self):
        with self.cond:
            return list(self.requests)


def dist_events(requests):
    out = []
    for r in requests:
        doc = json.loads(r["body"])
        out.extend(doc["events"])
    return out


def ce_events(requests):
    out = []
    for r in requests:
        doc = json.loads(r["body"])
        out.extend(doc if isinstance(doc, list) else [doc])
    return out


def signature_ok(req, secret):
    want = "sha256=" + hmac.new(secret.encode(), req["body"], hashlib.sha256).hexdigest()
    got = req["headers"].get("x-berth-signature-256", "")
    return hmac.compare_digest(want, got)


# ---------------------------------------------------------------------------
# Berth with the plugin

def hook(name, url, **config):
    """One map of the `endpoints` list."""
    endpoint = {"name": name, "url": url}
    endpoint.update(config)
    return endpoint


def make_server(tmp, name, endpoints, extra=None, queue_dir=None, instance=None, plugins=None):
    """A berth with metrics-prometheus and one notify-webhook instance holding `endpoints`."""
    metrics_port = free_port()
    webhook = {"queue_dir": queue_dir or os.path.join(tmp, "q-" + name), "endpoints": endpoints}
    webhook.update(instance or {})
    config = {
        "plugin_path": [PLUGIN_DIR],
        "plugins": [
            {"use": "storage-fs", "config": {"root": os.path.join(tmp, name + "-root")}},
            {"use": "metrics-prometheus", "config": {"listen": "127.0.0.1:%d" % metrics_port}},
        ] + (plugins or []) + [{"use": "notify-webhook", "config": webhook}],
    }
    config.update(extra or {})
    s = Server(tmpdir=tmp, config=config, name=name)
    s.metrics_port = metrics_port
    s.queue_dir = webhook["queue_dir"]
    return s


def scrape(s):
    """{(name, endpoint): value} of the berth_webhook_* series."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % s.metrics_port, timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r'^(berth_webhook_[a-z_]+)\{endpoint="([^"]*)"\} (\S+)$', line)
        if m:
            out[(m.group(1), m.group(2))] = float(m.group(3))
    return out


def metric(s, name, endpoint):
    return scrape(s).get((name, endpoint))


def wait_metric(s, name, endpoint, pred, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = metric(s, name, endpoint)
        if v is not None and pred(v):
            return v
        if time.monotonic() > deadline:
            fail("%s: %s{endpoint=%r} is %r" % (what, name, endpoint, v))
        time.sleep(0.1)


def journal_records(queue_dir, endpoint):
    """The complete records in an endpoint's journal (header excluded)."""
    path = os.path.join(queue_dir, endpoint, "journal")
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")[:-1]  # what follows the last newline is not a record
    expect_true(lines and b"notify-webhook-journal" in lines[0], "the journal starts with its header")
    return [json.loads(l) for l in lines[1:]]


def whole_lines(path):
    """The complete lines of a file, [] while it does not exist (its writer may be mid-line)."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        return f.read().split(b"\n")[:-1]


def wait_journal(queue_dir, endpoint, want, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        recs = journal_records(queue_dir, endpoint)
        if len(recs) >= want:
            return recs
        if time.monotonic() > deadline:
            fail("the journal of %s holds %d records, expected %d" % (endpoint, len(recs), want))
        time.sleep(0.05)


# ---------------------------------------------------------------------------
# The checks

def formats_and_filters(checks, tmp):
    dist = Receiver().start()
    ce = Receiver().start()
    os.environ[SECRET_ENV] = SECRET
    s = checks.watch(make_server(tmp, "formats", [
        hook("dist", dist.url, format="distribution", secret="${%s}" % SECRET_ENV,
             actions=["push"], repositories=["keep/**"], headers=["X-Team: registry"],
             secret_headers=["Authorization: Bearer tok-123"]),
        hook("ce", ce.url, format="cloudevents", secret="ce-secret",
             actions=["push", "delete"], repositories=["keep/*"]),
    ], instance={"registry_url": "https://registry.example:5000/", "source": "berth-test"}))
    pushed = {}
    try:
        s.start()

        def push_all():
            for repo, tag in (("keep/app", "v1"), ("keep/deep/app", "v2"), ("drop/app", "v1")):
                body, digest = s.push_image(repo, tag=tag)
                pushed[(repo, tag)] = (digest, len(body))
        checks.check("pushes through a registry with two webhook endpoints", push_all)

        def distribution_push_arrives():
            reqs = dist.wait(lambda r: len(dist_events(r)) >= 2, 15, "two push events")
            time.sleep(0.5)  # anything else (a filtered event) would arrive now
            reqs = dist.snapshot()
            evs = dist_events(reqs)
            expect_eq(sorted((e["target"]["repository"], e["target"]["tag"]) for e in evs),
                      [("keep/app", "v1"), ("keep/deep/app", "v2")],
                      "events of the distribution endpoint (filtered to push on keep/**)")
            for e in evs:
                key = (e["target"]["repository"], e["target"]["tag"])
                digest, size = pushed[key]
                expect_eq(e["action"], "push", "action")
                expect_eq(e["target"]["digest"], digest, "target.digest of %s:%s" % key)
                expect_eq(e["target"]["mediaType"], OCI_MANIFEST, "target.mediaType")
                expect_eq(e["target"]["size"], size, "target.size")
                expect_eq(e["target"]["length"], size, "target.length")
                expect_eq(e["target"]["url"], "https://registry.example:5000/v2/%s/manifests/%s"
                          % (key[0], digest), "target.url")
                expect_eq(e["request"]["method"], "PUT", "request.method")
                expect_eq(e["request"]["addr"], "127.0.0.1", "request.addr")
                expect_eq(e["request"]["host"], "registry.example:5000", "request.host")
                expect_true(re.fullmatch(r"[0-9a-f-]{36}", e["id"]), "event id is a UUID: %r" % e["id"])
                expect_true(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["timestamp"]),
                            "timestamp is RFC 3339: %r" % e["timestamp"])
                expect_true(e["source"]["instanceID"], "source.instanceID is set")
            for r in reqs:
                expect_eq(r["headers"].get("content-type"), DIST_TYPE, "Content-Type")
                expect_eq(r["headers"].get("x-team"), "registry", "custom header X-Team")
                expect_eq(r["headers"].get("authorization"), "Bearer tok-123", "custom Authorization")
                expect_true(r["headers"].get("user-agent", "").startswith("Berth/"),
                            "User-Agent: %r" % r["headers"].get("user-agent"))
                expect_eq(r["path"], "/hook", "request path")
        checks.check("distribution envelope: push with digest, repository, tag; filters", distribution_push_arrives)

        def hmac_verifies():
            reqs = dist.snapshot()
            expect_true(reqs, "requests arrived")
            for r in reqs:
                expect_true(signature_ok(r, SECRET), "X-Berth-Signature-256 %r verifies with the secret"
                            % r["headers"].get("x-berth-signature-256"))
                # The check can fail: another secret, or one byte changed, does not verify.
                expect_true(not signature_ok(r, "wrong-secret"), "a wrong secret does not verify")
                tampered = dict(r, body=r["body"].replace(b"keep", b"kept", 1))
                expect_true(not signature_ok(tampered, SECRET), "a changed body does not verify")
            for r in ce.snapshot():
                expect_true(signature_ok(r, "ce-secret"), "the cloudevents endpoint's signature verifies")
        checks.check("HMAC-SHA256 signature verifies with the shared secret", hmac_verifies)

        def cloudevents_arrive():
            digest, size = pushed[("keep/app", "v1")]
            r = expect(s.request("DELETE", "/v2/keep/app/manifests/v1"), 202)
            reqs = ce.wait(lambda r: len(ce_events(r)) >= 2, 15, "push and delete cloudevents")
            time.sleep(0.5)
            reqs = ce.snapshot()
            evs = ce_events(reqs)
            expect_eq([(e["type"], e["subject"]) for e in evs],
                      [("berth.push", "keep/app:v1"), ("berth.delete", "keep/app:v1")],
                      "cloudevents (filtered to push, delete on keep/*), in order")
            push = evs[0]
            expect_eq(push["specversion"], "1.0", "specversion")
            expect_eq(push["source"], "berth-test", "source")
            expect_eq(push["datacontenttype"], "application/json", "datacontenttype")
            expect_eq(push["data"]["digest"], digest, "data.digest")
            expect_eq(push["data"]["repository"], "keep/app", "data.repository")
            expect_eq(push["data"]["tag"], "v1", "data.tag")
            expect_eq(push["data"]["size"], size, "data.size")
            expect_true(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", push["time"]), "time")
            expect_true(push["id"] != evs[1]["id"], "ids differ")
            for r in reqs:
                expect_eq(r["headers"].get("content-type"), CE_TYPE, "Content-Type")
        checks.check("cloudevents: structured JSON, filters by action and repository", cloudevents_arrive)

        def config_check_hides_secrets():
            out = subprocess.run([BERTH_BIN, "config", "check", "-c", s.config_path],
                                 capture_output=True, text=True, timeout=30, cwd=tmp)
            expect_eq(out.returncode, 0, "berth config check exit status (%s)" % out.stderr)
            expect_true("notify-webhook" in out.stdout and "dist" in out.stdout,
                        "the instance and its endpoints are listed: %s" % out.stdout)
            for secret in (SECRET, "ce-secret", "tok-123"):
                expect_true(secret not in out.stdout + out.stderr,
                            "%r is not printed by berth config check" % secret)
        checks.check("berth config check does not print the secret or the headers", config_check_hides_secrets)

        def metrics_count():
            v = wait_metric(s, "berth_webhook_deliveries_total", "dist", lambda v: v == 2, 5,
                            "deliveries of dist")
            expect_eq(v, 2, "deliveries")
            # A delivery is counted before its events leave the queue.
            wait_metric(s, "berth_webhook_queue_depth", "dist", lambda v: v == 0, 5, "queue depth of dist")
            expect_eq(metric(s, "berth_webhook_failures_total", "dist"), 0, "failures of dist")
            expect_eq(metric(s, "berth_webhook_dead_letters_total", "ce"), 0, "dead letters of ce")
        checks.check("metrics count deliveries per endpoint", metrics_count)

        checks.check("server stops cleanly", s.stop_clean)
    finally:
        s.kill()
        dist.stop()
        ce.stop()


def survives_restarts(checks, tmp):
    """Receiver down: events queue, survive SIGKILL and SIGTERM, arrive once each when it is back."""
    port = free_port()
    rcv = Receiver(port=port)
    s = checks.watch(make_server(tmp, "restart", [
        hook("late", rcv.url, actions=["push"], backoff_initial="100ms", backoff_max="200ms",
             max_attempts=100000, timeout="2s"),
        hook("batched", rcv.url_for("/batch"), actions=["push"], batch_max=10,
             backoff_initial="100ms", backoff_max="200ms", max_attempts=100000, timeout="2s")]))
    queue = s.queue_dir
    digests = []
    try:
        s.start()

        def queue_while_down():
            for i in range(3):
                digests.append(s.push_image("team/app", tag="r%d" % i)[1])
            recs = wait_journal(queue, "late", 3)
            expect_eq([r["digest"] for r in recs], digests, "journaled events, in order")
            wait_metric(s, "berth_webhook_queue_depth", "late", lambda v: v == 3, 10, "queue depth")
            wait_metric(s, "berth_webhook_failures_total", "late", lambda v: v >= 3, 10,
                        "failed attempts while the receiver is down")
        checks.check("receiver down: events queue on disk and in queue_depth", queue_while_down)

        def survives_kill():
            s.stop(sig=signal.SIGKILL)
            recs = journal_records(queue, "late")
            expect_eq(len(recs), 3, "records in the journal after SIGKILL")
            s.start()
            for i in range(3, 5):
                digests.append(s.push_image("team/app", tag="r%d" % i)[1])
            wait_journal(queue, "late", 5)
            wait_metric(s, "berth_webhook_queue_depth", "late", lambda v: v == 5, 10,
                        "queue depth after a restart and two more pushes")
            log = s.log_since_start()
            expect_true("3 queued events" in log, "the restart logs what it found queued")
            s.stop_clean()
        checks.check("queued events survive SIGKILL and SIGTERM", survives_kill)

        def arrive_once():
            # Two servers ran while it was down, each retrying many times.
            expect_eq(len(re.findall(r"endpoint late: \S+ is failing", s.log_text())), 2,
                      "'is failing' lines of endpoint late: one per down period, not per retry")
            rcv.start()
            s.start()
            hook_reqs = lambda r: [x for x in r if x["path"] == "/hook"]
            reqs = rcv.wait(lambda r: len(dist_events(hook_reqs(r))) >= 5, 20, "all five queued events")
            time.sleep(1.0)  # a duplicate would arrive now
            reqs = hook_reqs(rcv.snapshot())
            evs = dist_events(reqs)
            expect_eq([e["target"]["digest"] for e in evs], digests,
                      "delivered digests, in push order, each once")
            expect_eq(len({e["id"] for e in evs}), 5, "distinct event ids")
            expect_eq(len(reqs), 5, "one POST per event (batch_max 1)")
            batch = [x for x in rcv.snapshot() if x["path"] == "/batch"]
            expect_eq([e["target"]["digest"] for e in dist_events(batch)], digests,
                      "the batched endpoint's events, in order")
            expect_eq(len(batch), 1, "POSTs of the batched endpoint (batch_max 10, five queued)")
            wait_metric(s, "berth_webhook_queue_depth", "late", lambda v: v == 0, 10, "queue drained")
            expect_eq(metric(s, "berth_webhook_deliveries_total", "late"), 5, "deliveries")
            with open(os.path.join(queue, "late", "offset")) as f:
                offset = int(f.read())
            expect_true(offset > 0, "the committed offset moved (%d)" % offset)
        checks.check("receiver back: every event arrives exactly once after the restart", arrive_once)

        def not_sent_again():
            s.stop_clean()
            before = len(rcv.snapshot())
            s.start()
            time.sleep(1.5)
            expect_eq(len(rcv.snapshot()), before, "requests after one more restart (nothing is resent)")
            s.stop_clean()
        checks.check("what was delivered is not sent again after a restart", not_sent_again)
    finally:
        s.kill()
        rcv.stop()


def dead_letters(checks, tmp):
    rcv = Receiver(mode="fail").start()
    ok = Receiver().start()
    s = checks.watch(make_server(tmp, "dead", [
        hook("failing", rcv.url, actions=["push"], max_attempts=3, backoff_initial="200ms",
             backoff_max="400ms"),
        hook("fine", ok.url, actions=["push"]),
    ]))
    queue = s.queue_dir
    try:
        s.start()

        def dead_after_attempts():
            digest = s.push_image("team/dead", tag="v1")[1]
            path = os.path.join(queue, "failing", "dead-letter.jsonl")
            deadline = time.monotonic() + 15
            while not whole_lines(path) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)  # no fourth attempt may follow
            with open(path) as f:
                lines = [json.loads(l) for l in f]
            expect_eq(len(lines), 1, "dead-letter lines")
            d = lines[0]
            expect_eq(d["event"]["digest"], digest, "the dead letter's event digest")
            expect_eq(d["event"]["repository"], "team/dead", "its repository")
            expect_eq(d["event"]["tag"], "v1", "its tag")
            expect_eq(d["attempts"], 3, "attempts")
            expect_eq(d["endpoint"], "failing", "endpoint")
            expect_true("HTTP 500" in d["error"] and "boom" in d["error"], "error: %r" % d["error"])
            reqs = rcv.snapshot()
            expect_eq(len(reqs), 3, "POSTs the failing receiver got (max_attempts 3)")
            expect_eq(len({r["body"] for r in reqs}), 1, "every attempt sends the same body")
            # Backoff with jitter: the n-th wait is between half and all of 200ms * 2^(n-1).
            gaps = [reqs[i + 1]["at"] - reqs[i]["at"] for i in range(2)]
            expect_true(0.09 <= gaps[0] <= 1.5 and 0.19 <= gaps[1] <= 2.0,
                        "waits between attempts: %s" % ["%.3f" % g for g in gaps])
            # The other endpoint got it at once.
            ok.wait(lambda r: dist_events(r), 15, "the healthy endpoint's event")
            expect_eq([e["target"]["digest"] for e in dist_events(ok.snapshot())], [digest],
                      "the healthy endpoint's events")
        checks.check("a receiver that always answers 500 ends in the dead-letter file", dead_after_attempts)

        def dead_letter_metrics():
            # The dead letter is written, logged and counted before the
            # event leaves the queue.
            wait_metric(s, "berth_webhook_queue_depth", "failing", lambda v: v == 0, 10, "queue depth")
            expect_eq(metric(s, "berth_webhook_dead_letters_total", "failing"), 1, "dead letters")
            expect_eq(metric(s, "berth_webhook_failures_total", "failing"), 3, "failed attempts")
            expect_eq(metric(s, "berth_webhook_deliveries_total", "failing"), 0, "deliveries")
            expect_eq(metric(s, "berth_webhook_dead_letters_total", "fine"), 0, "dead letters of fine")
            log = s.log_text()
            expect_eq(len(re.findall(r"went to the dead-letter file after 3 attempts", log)), 1,
                      "log lines about the dead letter")
            expect_eq(log.count("is failing"), 1, "log lines about the endpoint failing")
        checks.check("berth_webhook_dead_letters_total counts it; one log line", dead_letter_metrics)
        checks.check("server stops cleanly", s.stop_clean)
    finally:
        s.kill()
        rcv.stop()
        ok.stop()


def slow_receiver(checks, tmp):
    delay = 8.0
    slow = Receiver(mode="slow", delay=delay).start()
    fast = Receiver().start()
    s = checks.watch(make_server(tmp, "slow", [
        hook("slow", slow.url, timeout="60s"),
        hook("fast", fast.url, actions=["push"]),
    ], extra={"events": {"queue_size": 2}}))
    try:
        s.start()
        times = []

        def pushes_stay_fast():
            for i in range(4):
                start = time.monotonic()
                s.push_image("team/slow", tag="s%d" % i, layers=2)
                times.append(time.monotonic() - start)
            expect_true(max(times) < delay / 4, "push took %.2fs at most, far below the receiver's "
                        "%.0fs (times %s)" % (max(times), delay, ["%.2f" % t for t in times]))
        checks.check("a slow receiver does not slow pushes", pushes_stay_fast)

        def other_endpoint_prompt():
            t0 = time.monotonic()
            fast.wait(lambda r: len(dist_events(r)) >= 4, 5, "the fast endpoint's four pushes")
            took = time.monotonic() - t0
            expect_true(took < delay / 2, "the fast endpoint had them within %.2fs" % took)
            expect_true(len(slow.snapshot()) <= 1, "the slow endpoint is still on its first event")
        checks.check("another endpoint still gets its events promptly", other_endpoint_prompt)

        def stops_promptly():
            start = time.monotonic()
            s.stop_clean()
            took = time.monotonic() - start
            expect_true(took < delay, "stop took %.1fs with a POST in flight" % took)
        checks.check("the server stops promptly with a POST in flight", stops_promptly)

        def cut_off_sent_again():
            # The receiver read the first event, but its answer never came:
            # at least once means it comes again, with the same id.
            before = [e["id"] for e in dist_events(slow.snapshot())]
            expect_true(before, "the slow receiver got a request before the stop")
            slow.mode = "ok"
            s.start()
            want = 4 * 4  # per push: the config, two layers, the manifest
            slow.wait(lambda r: len({e["id"] for e in dist_events(r)}) >= want, 20,
                      "every event of the slow endpoint after the restart")
            time.sleep(1.0)
            ids = [e["id"] for e in dist_events(slow.snapshot())]
            expect_eq(len(set(ids)), want, "distinct events received")
            again = {i for i in ids if ids.count(i) > 1}
            expect_eq(again, set(before), "events received twice: exactly those cut off by the stop")
            s.stop_clean()
        checks.check("an event cut off by a stop is sent again, with the same id", cut_off_sent_again)
    finally:
        s.kill()
        slow.stop()
        fast.stop()


def tls_endpoints(checks, tmp):
    """https endpoints: a CA file makes a self-signed receiver trusted; without it, it is not."""
    cert = os.path.join(tmp, "tls-cert.pem")
    key = os.path.join(tmp, "tls-key.pem")
    out = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                          "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                          "-addext", "subjectAltName=IP:127.0.0.1"],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        checks.report("tls endpoints", "openssl req failed: %s" % out.stderr)
        return
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    rcv = Receiver(tls=ctx).start()
    s = checks.watch(make_server(tmp, "tls", [
        hook("trusted", rcv.url_for("/trusted"), actions=["push"], ca_file=cert),
        hook("untrusted", rcv.url_for("/untrusted"), actions=["push"], max_attempts=2,
             backoff_initial="50ms", backoff_max="50ms"),
        hook("unchecked", rcv.url_for("/unchecked"), actions=["push"], tls_verify=False),
    ]))
    try:
        s.start()

        def tls_verified():
            digest = s.push_image("team/tls", tag="v1")[1]
            rcv.wait(lambda r: {x["path"] for x in r} >= {"/trusted", "/unchecked"}, 15,
                     "the trusted and the unchecked endpoints' events")
            path = os.path.join(s.queue_dir, "untrusted", "dead-letter.jsonl")
            deadline = time.monotonic() + 15
            while not whole_lines(path) and time.monotonic() < deadline:
                time.sleep(0.05)
            with open(path) as f:
                dead = [json.loads(l) for l in f]
            expect_eq([d["event"]["digest"] for d in dead], [digest], "the untrusted endpoint's dead letter")
            expect_true("certificate" in dead[0]["error"].lower(), "its error: %r" % dead[0]["error"])
            paths = sorted(x["path"] for x in rcv.snapshot())
            expect_eq(paths, ["/trusted", "/unchecked"], "requests that got through TLS")
            for x in rcv.snapshot():
                expect_eq(dist_events([x])[0]["target"]["digest"], digest, "digest over https")
            expect_true("tls_verify is off" in s.log_text(), "tls_verify: false is warned about")
        checks.check("https: ca_file trusts the endpoint, an unknown CA fails, tls_verify off", tls_verified)
        checks.check("server stops cleanly", s.stop_clean)
    finally:
        s.kill()
        rcv.stop()


def overflow_path(checks, tmp):
    """The event thread is held by another notifier: the queue overflows, and overflow() still queues."""
    rcv = Receiver().start()
    gate = os.path.join(tmp, "gate")
    s = checks.watch(make_server(tmp, "overflow", [hook("ovf", rcv.url, actions=["push"])],
                                 extra={"events": {"queue_size": 2}},
                                 plugins=[{"use": "slow-notify", "config": {
                                     "gate": gate, "out": os.path.join(tmp, "slow.events")}}]))
    s.config_extra["plugin_path"] = [PLUGIN_DIR, TEST_PLUGIN_DIR]
    digests = []
    try:
        s.start()

        def overflowed_events_sent():
            for i in range(6):
                digests.append(s.push_image("team/ovf", tag="o%d" % i)[1])
            reqs = rcv.wait(lambda r: len(dist_events(r)) >= 4, 10,
                            "push events handed to overflow() while the event thread is held")
            expect_true(not os.path.exists(gate), "the event thread is still held")
            expect_true(all(e["target"]["digest"] in digests for e in dist_events(reqs)),
                        "they are pushed digests")
        checks.check("events the full queue hands to overflow() are delivered", overflowed_events_sent)

        def none_lost():
            open(gate, "w").close()
            rcv.wait(lambda r: len(dist_events(r)) >= 6, 20, "every push event once the thread is free")
            time.sleep(1.0)
            got = [e["target"]["digest"] for e in dist_events(rcv.snapshot())]
            expect_eq(sorted(got), sorted(digests), "push events received: each pushed digest once")
        checks.check("with the event thread free again, no event is lost or doubled", none_lost)
        checks.check("server stops cleanly", s.stop_clean)
    finally:
        s.kill()
        rcv.stop()


def job_process(checks, tmp):
    """`berth job run` beside the server: its events are queued by that process, sent by the server."""
    rcv = Receiver().start()
    s = checks.watch(make_server(tmp, "job", [hook("all", rcv.url)], plugins=[{"use": "hello-job"}]))
    try:
        s.start()

        def job_events_delivered():
            if not os.path.exists(os.path.join(PLUGIN_DIR, "hello-job.so")):
                fail("no hello-job.so in %s (build the hello-job target)" % PLUGIN_DIR)
            out = subprocess.run([BERTH_BIN, "job", "run", "hello-count", "-c", s.config_path],
                                 capture_output=True, text=True, timeout=60, cwd=tmp)
            expect_eq(out.returncode, 0, "berth job run hello-count (%s)" % out.stderr[-500:])
            reqs = rcv.wait(lambda r: any(e["action"] == "hello.count" for e in dist_events(r)),
                            10, "the job's hello.count event")
            time.sleep(1.5)
            evs = [e for e in dist_events(rcv.snapshot()) if e["action"] == "hello.count"]
            expect_eq(len(evs), 1, "hello.count events received (sent once, by the server)")
            expect_true(isinstance(evs[0].get("detail"), dict) and "repositories" in evs[0]["detail"],
                        "the event's detail came along: %r" % evs[0])
        checks.check("events of `berth job run` reach the endpoint through the server", job_events_delivered)
        checks.check("server stops cleanly", s.stop_clean)
    finally:
        s.kill()
        rcv.stop()


def shipped_fragment(checks, tmp):
    """conf.d/available/70-notify-webhook.yaml, copied as an operator would, delivers a push."""
    rcv = Receiver().start()
    fragment = os.path.join(SOURCE_DIR, "conf.d", "available", "70-notify-webhook.yaml")
    os.environ["BERTH_WEBHOOK_QUEUE_DIR"] = os.path.join(tmp, "q-fragment")
    os.environ["BERTH_WEBHOOK_CI_URL"] = rcv.url
    s = checks.watch(Server(tmpdir=tmp, name="fragment", config={"include": fragment}))
    try:
        def fragment_delivers():
            s.start()
            digest = s.push_image("team/app", tag="shipped")[1]
            reqs = rcv.wait(lambda r: len(dist_events(r)) >= 1, 10, "the push event")
            time.sleep(0.5)
            evs = dist_events(rcv.snapshot())
            expect_eq([(e["action"], e["target"]["digest"]) for e in evs], [("push", digest)],
                      "events sent by the shipped fragment (push only)")
            expect_true(os.path.isdir(os.path.join(tmp, "q-fragment", "ci")), "its queue folder")
            s.stop_clean()
        checks.check("the shipped conf.d fragment delivers a push", fragment_delivers)
    finally:
        s.kill()
        rcv.stop()


SANITIZER = re.compile(r"runtime error:|AddressSanitizer|LeakSanitizer")


def no_sanitizer_reports(checks, tmp, outputs):
    def scan():
        for name in sorted(os.listdir(tmp)):
            if name.endswith(".log"):
                with open(os.path.join(tmp, name), errors="replace") as f:
                    text = f.read()
                m = SANITIZER.search(text)
                if m:
                    fail("%s: %s" % (name, text[max(0, m.start() - 200):m.start() + 1500]))
        for label, text in outputs:
            m = SANITIZER.search(text)
            if m:
                fail("%s: %s" % (label, text[max(0, m.start() - 200):m.start() + 1500]))
    checks.check("no sanitizer report in any berth output", scan)


def bad_config(checks, tmp, outputs):
    def run_berth(args, config_text, name):
        path = os.path.join(tmp, name + ".yaml")
        with open(path, "w") as f:
            f.write(config_text)
        return subprocess.run([BERTH_BIN] + args + ["-c", path], capture_output=True, text=True,
                              timeout=30, cwd=tmp)

    def config(webhook_config, name):
        return to_yaml({
            "listen": "127.0.0.1:%d" % free_port(),
            "plugin_path": [PLUGIN_DIR],
            "plugins": [
                {"use": "storage-fs", "config": {"root": os.path.join(tmp, name + "-root")}},
                {"use": "notify-webhook", "name": "hooks", "config": webhook_config},
            ],
        })

    q = os.path.join(tmp, "q-bad")

    def one_endpoint(**endpoint):
        return {"queue_dir": q, "endpoints": [endpoint]}

    ok_url = "http://127.0.0.1:9/x"
    # (label, config, message, the message's key: located at its line and column)
    cases = [
        ("no endpoints", {"queue_dir": q}, "missing required key 'endpoints'", None),
        ("top-level typo", {"queue_dri": q, "endpoints": [{"name": "a", "url": ok_url}]},
         "unknown key 'queue_dri' (did you mean 'queue_dir'?)", None),
        ("endpoints not a list", {"queue_dir": q, "endpoints": "http://x"},
         "invalid 'endpoints'", None),
        ("no url", one_endpoint(name="bad", format="distribution"),
         "endpoint 'bad': missing required key 'url'", "name"),
        ("no name", one_endpoint(url=ok_url), "endpoints[0]: missing required key 'name'", "url"),
        ("endpoint typo", one_endpoint(name="bad", url=ok_url, retries=3),
         "endpoint 'bad': unknown key 'retries'", "retries"),
        ("bad format", one_endpoint(name="bad", url=ok_url, format="xml"),
         "endpoint 'bad': invalid format 'xml': expected distribution or cloudevents", "format"),
        ("bad scheme", one_endpoint(name="bad", url="ftp://hooks.example/x"),
         "invalid url 'ftp://hooks.example/x': the scheme must be http:// or https://", "url"),
        ("credentials in url", one_endpoint(name="bad", url="https://me:pw@hooks.example/x"),
         "no user:password@ in the URL", "url"),
        ("bad action", one_endpoint(name="bad", url=ok_url, actions=["push", "Pull"]),
         "actions[1]: invalid action 'Pull'", "actions"),
        ("bad attempts", one_endpoint(name="bad", url=ok_url, max_attempts=0),
         "invalid max_attempts 0", "max_attempts"),
        ("bad duration", one_endpoint(name="bad", url=ok_url, timeout="soon"),
         "invalid timeout 'soon': expected a duration", "timeout"),
        ("same name twice", {"queue_dir": q, "endpoints": [{"name": "a", "url": ok_url},
                                                           {"name": "a", "url": ok_url}]},
         "two endpoints are named 'a'", "name"),
        ("unreadable ca_file", one_endpoint(name="bad", url="https://hooks.example/x",
                                            ca_file=os.path.join(tmp, "no-such-ca.pem")),
         "ca_file '%s' cannot be read" % os.path.join(tmp, "no-such-ca.pem"), "ca_file"),
    ]
    for label, hook_config, message, key in cases:
        def one(hook_config=hook_config, message=message, label=label, key=key):
            name = "bad-" + label.replace(" ", "-")
            text = config(hook_config, name)
            path = os.path.join(tmp, name + ".yaml")
            # The same file for both, so both messages name the same place.
            check = run_berth(["config", "check"], text, name)
            outputs.append((label + " (config check)", check.stdout + check.stderr))
            expect_true(check.returncode != 0,
                        "berth config check refuses %s: %r" % (label, check.stdout))
            expect_true(message in check.stderr,
                        "berth config check says %r: %r" % (message, check.stderr))
            expect_true("plugin 'hooks'" in check.stderr, "config check names the instance")
            expect_true(not os.path.exists(q), "config check created no queue folder")
            lines = [l for l in check.stderr.splitlines() if message in l]
            if key is not None:
                # Where the mistake is written: FILE:LINE:COLUMN of the key.
                pos = re.search(r"%s:(\d+):(\d+): " % re.escape(path), lines[0])
                expect_true(pos, "the message points at the line and column: %r" % lines[0])
                line_no, column = int(pos.group(1)), int(pos.group(2))
                with open(path) as f:
                    written = f.read().splitlines()[line_no - 1]
                expect_true(written[column - 1:].lstrip("- ").startswith(key + ":"),
                            "%s:%d:%d is the key %r: %r" % (path, line_no, column, key, written))
            serve = run_berth(["serve"], text, name)
            outputs.append((label, serve.stderr + serve.stdout))
            expect_true(serve.returncode != 0, "berth serve refuses the config with %s" % label)
            expect_true(message in serve.stderr + serve.stdout,
                        "berth serve says %r: %r" % (message, (serve.stderr + serve.stdout)[-600:]))
            expect_true("plugin 'hooks'" in serve.stderr + serve.stdout, "the message names the instance")
            expect_true(re.search(r"%s\.yaml:\d+" % re.escape(name), serve.stderr + serve.stdout),
                        "the message points at the YAML")
            if key is not None:
                # The plugin's own message, position included, is the same for both.
                detail = lines[0][lines[0].index(path + ":" + pos.group(1) + ":"):]
                expect_true(detail in serve.stderr + serve.stdout,
                            "berth serve gives the message of config check %r: %r"
                            % (detail, serve.stderr[-600:]))
        checks.check("bad config refused by config check and serve: %s" % label, one)


def main(checks):
    tmp = tempfile.mkdtemp(prefix="berth-webhook-")
    try:
        formats_and_filters(checks, tmp)
        survives_restarts(checks, tmp)
        dead_letters(checks, tmp)
        slow_receiver(checks, tmp)
        tls_endpoints(checks, tmp)
        overflow_path(checks, tmp)
        job_process(checks, tmp)
        shipped_fragment(checks, tmp)
        outputs = []
        bad_config(checks, tmp, outputs)
        no_sanitizer_reports(checks, tmp, outputs)
    finally:
        for srv in checks.servers:
            srv.kill()
        if not os.environ.get("BERTH_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
