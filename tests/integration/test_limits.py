"""Limits against hostile or greedy clients, each configurable:

- limits.max_requests: past it, a clear 429 TOOMANYREQUESTS with Retry-After;
- limits.max_uploads_per_client: one address cannot hold more uploads, others can;
- limits.max_connections_per_client: one address cannot open more
  connections (a slowloris from one address cannot take the server), and
  other clients are served promptly meanwhile;
- limits.connection_timeout: a client that stops sending its head or its
  body is disconnected;
- limits.max_header_size: a request head larger than it is refused (431).
Clients come from 127.0.0.1 and 127.0.0.2 (both loopback) to be two
addresses.
"""
import os
import shutil
import socket
import tempfile
import time

from berth_harness import Server, expect, expect_eq, expect_true, run_main


def raw(port, data, source="127.0.0.1", timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    if data:
        s.sendall(data)
    return s


def response_status(sock, timeout=5.0):
    sock.settimeout(timeout)
    buf = b""
    try:
        while b"\r\n" not in buf:
            chunk = sock.recv(4096)
            if not chunk:
                break
            buf += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    if not buf.startswith(b"HTTP/1."):
        return None, buf
    while b"\r\n\r\n" not in buf:
        try:
            chunk = sock.recv(4096)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        buf += chunk
    return int(buf.split(b" ", 2)[1]), buf


def closed_by_server(sock, within):
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except (socket.timeout,):
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True


def hold_upload(port, source="127.0.0.1"):
    """A chunked PATCH that has sent its head and a few bytes and waits."""
    s = raw(port, b"POST /v2/limits/app/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
            source)
    status, head = response_status(s)
    assert status == 202, head
    loc = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n") if l.lower().startswith(b"location:")][0]
    s.close()
    s = raw(port, b"PATCH " + loc + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: 1000000\r\n\r\n" + b"x" * 1000, source)
    # It must be taken on, not answered (a 429 here would spoil the count).
    s.settimeout(0.2)
    try:
        early = s.recv(4096)
    except socket.timeout:
        early = None
    s.settimeout(5.0)
    assert early is None, "the held upload was answered: %r" % early
    return s


def hold_monolithic(port):
    """One monolithic upload that has sent its head and a few bytes and waits:
    a single request in flight, with no earlier request on its connection."""
    s = raw(port, b"POST /v2/limits/app/blobs/uploads/?digest=sha256:" + b"0" * 64 +
            b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: 1000000\r\n\r\n" + b"x" * 1000)
    s.settimeout(0.2)
    try:
        early = s.recv(4096)
    except socket.timeout:
        early = None
    s.settimeout(5.0)
    assert early is None, "the held upload was answered: %r" % early
    return s


def main(checks):
    tmp = tempfile.mkdtemp(prefix="berth-limits-")
    # Each limit on a server of its own, so one cannot trip the other.
    config = {"limits": {"max_requests": 0, "max_uploads_per_client": 2,
                         "max_connections_per_client": 6, "connection_timeout": "2s",
                         "max_header_size": "16KiB", "threads": 4}}
    s = checks.watch(Server(tmpdir=tmp, config=config))
    capped = checks.watch(Server(tmpdir=tmp, name="capped",
                                 config={"limits": {"max_requests": 3, "max_uploads_per_client": 0}}))
    try:
        s.start()
        capped.start()
        port = s.port

        def uploads_per_client():
            held = [hold_upload(port), hold_upload(port)]
            time.sleep(0.3)
            expect(s.request("POST", "/v2/limits/app/blobs/uploads/"), 202)  # no body: not counted
            third = raw(port, b"POST /v2/limits/app/blobs/uploads/?digest=sha256:" + b"0" * 64 +
                        b" HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
            status, body = response_status(third)
            expect_eq(status, 429, "a third upload from the same address")
            expect_true(b"TOOMANYREQUESTS" in body and b"uploads from 127.0.0.1" in body, body[-300:])
            expect_true(b"Retry-After: 1" in body, "Retry-After")
            other = raw(port, b"POST /v2/limits/app/blobs/uploads/?digest=sha256:" + b"0" * 64 +
                        b" HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", source="127.0.0.2")
            status, body = response_status(other)
            expect_eq(status, 400, "another address may upload (the digest is wrong: 400, not 429)")
            for h in held + [third, other]:
                h.close()
            time.sleep(0.5)
            third = raw(port, b"POST /v2/limits/app/blobs/uploads/?digest=sha256:" + b"0" * 64 +
                        b" HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
            expect_eq(response_status(third)[0], 400, "once they end, the address may upload again")
            third.close()
            time.sleep(0.5)
        checks.check("max_uploads_per_client: the third upload of one address gets 429", uploads_per_client)

        def requests_cap():
            held = [hold_monolithic(capped.port) for _ in range(3)]
            time.sleep(0.3)
            r = capped.get("/v2/")
            expect_eq(r.status, 429, "a request past max_requests")
            expect_true("TOOMANYREQUESTS" in r.error_codes(), r.body)
            expect_true("serving 3 requests, its limit is 3" in r.body.decode(), r.body)
            expect_eq(r.header("Retry-After"), "1", "Retry-After")
            held.pop().close()
            time.sleep(0.5)
            expect(capped.get("/v2/"), 200)
            for h in held:
                h.close()
        checks.check("max_requests: past the cap, 429 TOOMANYREQUESTS with Retry-After", requests_cap)

        def slowloris():
            # The attacker's address opens connections and dribbles a request head.
            conns = []
            for i in range(10):
                try:
                    conns.append(raw(port, b"GET /v2/ HTTP/1.1\r\nHost: x\r\n", source="127.0.0.2"))
                except OSError:
                    break
            time.sleep(0.3)
            refused = sum(1 for c in conns if closed_by_server(c, 0.5))
            expect_true(refused >= 4, "connections past max_connections_per_client are closed (%d of %d)"
                        % (refused, len(conns)))
            t0 = time.monotonic()
            for _ in range(5):
                expect(s.get("/v2/"), 200)
            expect_true(time.monotonic() - t0 < 2.0, "another client is served promptly")
            for c in conns:
                try:
                    c.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    pass
            # Then they stop sending: connection_timeout (2 s) closes them.
            alive = [c for c in conns if not closed_by_server(c, 0.1)]
            t0 = time.monotonic()
            expect_true(all(closed_by_server(c, 6.0) for c in alive),
                        "idle dribblers are disconnected by connection_timeout")
            expect_true(time.monotonic() - t0 < 6.0, "within the timeout")
            for c in conns:
                c.close()
        checks.check("slowloris from one address: capped per address, then timed out; others served",
                     slowloris)

        def slow_body():
            c = hold_upload(port)
            expect_true(closed_by_server(c, 6.0), "a body that stops coming is cut off")
            c.close()
        checks.check("a body that stops mid-way is disconnected after connection_timeout", slow_body)

        def big_head():
            c = raw(port, b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
            status, body = response_status(c)
            expect_true(status in (413, 431), "a 20 KiB head against max_header_size 16KiB: %s" % status)
            c.close()
            c = raw(port, b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Ok: " + b"a" * 4000 + b"\r\n\r\n")
            expect_eq(response_status(c)[0], 200, "a 4 KiB head is fine")
            c.close()
        checks.check("max_header_size: a head over it is refused", big_head)

        def bad_values():
            import subprocess
            from berth_harness import BERTH_BIN, PLUGIN_DIR
            for key, value, msg in [("max_header_size", "1KiB", "expected 8KiB to 16MiB"),
                                    ("max_requests", "-1", "max_requests"),
                                    ("max_uploads_per_client", "many", "max_uploads_per_client")]:
                cfg = os.path.join(tmp, "bad.yaml")
                with open(cfg, "w") as f:
                    f.write("listen: 127.0.0.1:1\nplugin_path: [%s]\nlimits: {%s: %s}\nplugins:\n"
                            "  - use: storage-fs\n    config: {root: %s}\n" % (PLUGIN_DIR, key, value, tmp))
                p = subprocess.run([BERTH_BIN, "config", "check", "-c", cfg], capture_output=True, text=True,
                                   timeout=60)
                expect_true(p.returncode != 0 and msg in p.stderr, "%s: %s" % (key, p.stderr.strip()))
        checks.check("bad limit values are refused with the key named", bad_values)

        checks.check("servers exit 0 on SIGTERM", lambda: (s.stop_clean(), capped.stop_clean()))
    finally:
        for srv in checks.servers:
            srv.kill()
        if not os.environ.get("BERTH_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
