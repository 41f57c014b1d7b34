"""1,000 concurrent connections pulling manifests and blobs for a minute:
no errors, and memory stays bounded.

The clients come from 16 loopback addresses (so limits.max_connections_per_client
does not apply) and keep their connections alive, each pulling a manifest and
then a blob of the image, in a loop. Every response must be 200 with the right
digest. The server's resident memory is sampled: after the first seconds of
load it may not keep growing (a leak per request or per connection would).

BERTH_LOAD_SECONDS (default 60) and BERTH_LOAD_CONNECTIONS (default 1000).
"""
import asyncio
import hashlib
import json
import os
import resource
import shutil
import tempfile
import time

from berth_harness import Server, expect, expect_eq, expect_true, run_main

SECONDS = float(os.environ.get("BERTH_LOAD_SECONDS", "60"))
CONNECTIONS = int(os.environ.get("BERTH_LOAD_CONNECTIONS", "1000"))
OCI = "application/vnd.oci.image.manifest.v1+json"


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def client(k, port, paths, stop, stats):
    source = "127.0.0.%d" % (1 + k % 16)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    except OSError as e:
        stats["errors"].append("connect from %s: %s" % (source, e))
        return
    i = k
    try:
        while not stop.is_set():
            path, want = paths[i % len(paths)]
            i += 1
            writer.write(("GET %s HTTP/1.1\r\nHost: x\r\nAccept: %s\r\n\r\n" % (path, OCI)).encode())
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = await reader.readexactly(length)
            if status != 200 or "sha256:" + hashlib.sha256(body).hexdigest() != want:
                stats["errors"].append("%s: %d" % (path, status))
                return
            stats["requests"] += 1
    except (OSError, asyncio.IncompleteReadError, ValueError) as e:
        if not stop.is_set():
            stats["errors"].append("%s: %s" % (source, e))
    finally:
        writer.close()


async def load(port, paths, pid, samples, stats):
    stop = asyncio.Event()
    tasks = [asyncio.create_task(client(k, port, paths, stop, stats)) for k in range(CONNECTIONS)]
    t0 = time.monotonic()
    while time.monotonic() - t0 < SECONDS and not stats["errors"]:
        await asyncio.sleep(1.0)
        samples.append((time.monotonic() - t0, rss_kib(pid), stats["requests"]))
    stop.set()
    await asyncio.wait(tasks, timeout=30)


def main(checks):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = CONNECTIONS + 512
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    tmp = tempfile.mkdtemp(prefix="berth-load-")
    config = {"limits": {"max_connections": CONNECTIONS + 100, "max_requests": 0}}
    s = checks.watch(Server(tmpdir=tmp, config=config))
    try:
        s.start()
        paths = []

        def setup():
            expect_true(resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= want,
                        "open files limit %d (need %d)" % (resource.getrlimit(resource.RLIMIT_NOFILE)[0], want))
            for r in range(4):
                body, d = s.push_image("load/app%d" % r, tag="v1", layers=1, layer_size=16 * 1024)
                paths.append(("/v2/load/app%d/manifests/v1" % r, d))
                layer = json.loads(body)["layers"][0]["digest"]
                paths.append(("/v2/load/app%d/blobs/%s" % (r, layer), layer))
        checks.check("push the images to pull", setup)

        def run():
            samples, stats = [], {"requests": 0, "errors": []}
            asyncio.run(load(s.port, paths, s.proc.pid, samples, stats))
            expect_eq(stats["errors"][:5], [], "errors under load")
            expect_true(s.alive(), "the server is still up")
            rate = stats["requests"] / SECONDS
            warm = [kib for t, kib, _ in samples if t >= min(10.0, SECONDS / 3)]
            print("# %d connections, %.0f s: %d requests (%.0f/s); RSS %d KiB after warm-up, %d KiB at the end"
                  % (CONNECTIONS, SECONDS, stats["requests"], rate, warm[0], warm[-1]))
            expect_true(stats["requests"] >= CONNECTIONS * 2, "every connection was served repeatedly")
            growth = warm[-1] - warm[0]
            expect_true(growth < max(16 * 1024, warm[0] // 4),
                        "memory stays bounded: +%d KiB after warm-up (%d -> %d)" % (growth, warm[0], warm[-1]))
            expect(s.get("/v2/"), 200)
        checks.check("%d connections pulling for %.0f s: no errors, bounded memory" % (CONNECTIONS, SECONDS), run)

        checks.check("server exits 0 on SIGTERM", s.stop_clean)
    finally:
        for srv in checks.servers:
            srv.kill()
        if not os.environ.get("BERTH_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
