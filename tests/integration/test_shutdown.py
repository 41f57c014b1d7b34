"""Stopping and starting the server as an operator and a service manager do.

- A second server on a port another one serves refuses to start (exit 1,
  "Address already in use") and the first keeps serving: the two do not
  share the port and split its connections between them.
- While SIGTERM drains a request in flight, an open keep-alive connection
  still gets its next answer, with Connection: close; a new connection is
  closed unanswered; the server exits 0 once the request is done.
- SIGTERM while clients open, use and close connections on every pool
  thread, many times over: the server exits 0 every time and the clients
  were answered until then. (libmicrohttpd's own way to stop listening,
  MHD_quiesce_daemon, aborts the process when it races a pool thread; the
  window is narrow, so this catches it in some runs, not every one.)
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from berth_harness import (BERTH_BIN, Server, describe_rc, digest_of, expect, expect_eq,
                           expect_header, expect_true, fail, parse_raw_status, run_main)

CHURN_ROUNDS = 25
CHURN_CLIENTS = 8


def read_head(sock, timeout=10.0):
    """Bytes up to the end of one response head; b'' when the server closed first."""
    sock.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        try:
            b = sock.recv(65536)
        except ConnectionResetError:
            break
        if not b:
            break
        buf += b
    return buf


def closed_by_peer(sock, timeout=10.0):
    """True when the server closes the connection (EOF or reset) within timeout."""
    sock.settimeout(timeout)
    try:
        while True:
            b = sock.recv(65536)
            if not b:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def t_port_in_use(s, tmp):
    second = os.path.join(tmp, "second.yaml")
    with open(s.config_path) as f:
        text = f.read()
    with open(second, "w") as f:
        f.write(text.replace(s.root, os.path.join(tmp, "second-root")))
    try:
        p = subprocess.run([BERTH_BIN, "serve", "-c", second], capture_output=True, text=True,
                           timeout=30, cwd=tmp)
    except subprocess.TimeoutExpired:
        fail("a second server on port %d is still running after 30 s: it shares the port" % s.port)
    expect_eq(p.returncode, 1, "exit status of the second server")
    expect_true(re.search(r"cannot listen on 127\.0\.0\.1:%d: Address already in use" % s.port,
                          p.stderr), "it says why: %s" % p.stderr[-400:])
    expect(s.get("/v2/"), 200)


def t_drain(s):
    repo = "shutdown/drain"
    data = os.urandom(64 * 1024)
    loc, _ = s.start_upload(repo)
    idle = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    busy = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    try:
        idle.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
        head = read_head(idle)
        expect_eq(parse_raw_status(head), 200, "a keep-alive GET before SIGTERM")
        expect_true(not re.search(rb"(?im)^connection:\s*close", head),
                    "before SIGTERM the connection stays open: %r" % head[:300])

        busy.sendall(("PATCH %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                      "Content-Length: %d\r\n\r\n" % (loc, len(data))).encode() + data[:4096])
        time.sleep(0.3)
        s.proc.send_signal(signal.SIGTERM)
        s.running = False
        time.sleep(0.3)
        expect_true(s.alive(), "the server waits for the upload in flight")

        late = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        try:
            try:
                late.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
            except OSError:
                pass
            got = read_head(late, timeout=5)
            expect_eq(got, b"", "a connection opened after SIGTERM is closed unanswered")
        finally:
            late.close()

        idle.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
        head = read_head(idle)
        expect_eq(parse_raw_status(head), 200, "the open connection's next request while draining")
        expect_true(re.search(rb"(?im)^connection:\s*close", head),
                    "its answer says Connection: close: %r" % head[:300])
        expect_true(closed_by_peer(idle), "the server closes it after that answer")

        busy.sendall(data[4096:])
        head = read_head(busy)
        expect_eq(parse_raw_status(head), 202, "the upload in flight is answered: %r" % head[:300])
    finally:
        idle.close()
        busy.close()
    rc = s.wait_exit(30, "of its last request")
    if rc != 0:
        fail("exit status after SIGTERM: %s; log tail:\n%s" % (describe_rc(rc), s.log_tail()))
    expect_true("new connections are closed" in s.log_tail(), "the log says what the drain does")
    s.start()
    r = expect(s.get(loc), 204)
    expect_header(r, "Range", "0-65535")
    expect(s.finish_upload(loc, digest_of(data)), 201)


def t_stop_under_churn(s):
    failures = []
    for i in range(CHURN_ROUNDS):
        if not (s.alive() and s.running):
            s.kill()  # what an earlier check left stopping, if it failed
            s.start()
        stop = threading.Event()
        errors = []
        served = []

        def client():
            while not stop.is_set():
                try:
                    c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
                    try:
                        for close in (b"", b"Connection: close\r\n"):
                            c.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n" + close + b"\r\n")
                            if parse_raw_status(read_head(c, timeout=5)) == 200 and s.running:
                                served.append(1)
                    finally:
                        c.close()
                except OSError as e:
                    if not stop.is_set() and s.alive() and s.running:
                        errors.append(str(e))

        threads = [threading.Thread(target=client, daemon=True) for _ in range(CHURN_CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(0.15 + (i % 5) * 0.05)
        try:
            rc = s.stop(timeout=60)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=10)
        if rc != 0:
            failures.append("round %d: %s\n%s" % (i + 1, describe_rc(rc), s.log_tail()))
        expect_eq(errors, [], "clients were served until SIGTERM (round %d)" % (i + 1))
        expect_true(served, "round %d: the clients got answers before SIGTERM" % (i + 1))
    expect_eq(failures, [], "exit status 0 in every one of %d rounds" % CHURN_ROUNDS)


def main(checks):
    tmp = tempfile.mkdtemp(prefix="berth-shutdown-")
    s = checks.watch(Server(tmpdir=tmp))
    try:
        s.start()
        checks.check("a second server on the same port refuses to start", t_port_in_use, s, tmp)
        checks.check("draining: open connections are told to close, new ones are closed, "
                     "the request in flight finishes", t_drain, s)
        checks.check("SIGTERM while clients connect and disconnect: exit 0 every time",
                     t_stop_under_churn, s)
    finally:
        for srv in checks.servers:
            srv.kill()
        if not os.environ.get("BERTH_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
