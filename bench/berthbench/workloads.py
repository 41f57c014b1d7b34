"""The seven workloads of issue 7. Each takes the run context, starts the
servers it needs, checks that every server answers correctly, warms up, and
records one value per run and server; servers take turns within a run so a
drift of the machine hits them alike."""
import hashlib
import http.client
import json
import os
import shutil
import statistics
import subprocess
import time

from . import clients, proc
from .results import BERTH, BERTH_NOFSYNC, DIST, NGINX, OPENSSL
from .servers import Berth, Distribution, Nginx, clone_root, fresh_root

MIB = 1024 * 1024
PULL_REPO = "bench/pull"


class Context:
    def __init__(self, args, data, workdir, results, log):
        self.args, self.data, self.workdir = args, data, workdir
        self.results, self.log = results, log
        self.skopeo = clients.Skopeo(os.path.join(workdir, "skopeo"))

    def berth(self, name=BERTH, fsync=True):
        return Berth(name, self.workdir, self.args.berth, self.args.plugin_dir, fsync)

    def dist(self):
        return Distribution(DIST, self.workdir)

    def root(self, server, label):
        return os.path.join(self.workdir, "roots", f"{server.name}-{label}")

    def rotate(self, items, run):
        k = run % len(items)
        return items[k:] + items[:k]


def _get(port, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        conn.close()


def _check(cond, what):
    if not cond:
        raise RuntimeError(f"check failed: {what}")


# --- pull servers (workloads 1 and 2) ----------------------------------------

class PullServers:
    def __init__(self, ctx):
        self.ctx = ctx
        d = ctx.data
        self.manifest_path = f"/v2/{PULL_REPO}/manifests/latest"
        self.blob_path = f"/v2/{PULL_REPO}/blobs/{d.blob[1]}"
        self.servers = [ctx.berth(), ctx.dist(),
                        Nginx(NGINX, ctx.workdir, self.manifest_path, d.pull_image.digest)]

    def __enter__(self):
        for s in self.servers:
            s.start(clone_root(self.ctx.data.pull_root, self.ctx.root(s, "pull")))
        self._check()
        return self

    def __exit__(self, *exc):
        for s in self.servers:
            s.stop()

    def _check(self):
        """Every server serves the manifest by tag and the blob, whole and in
        part, with the right bytes."""
        d = self.ctx.data
        with open(d.blob[0], "rb") as f:
            f.seek(MIB)
            piece = f.read(MIB)
        for s in self.servers:
            st, h, body = _get(s.port, self.manifest_path, {"Accept": clients.ACCEPT})
            _check(st == 200 and body == d.pull_image.manifest,
                   f"{s.name} serves the manifest by tag (status {st})")
            if s.kind != "nginx":
                _check(h.get("docker-content-digest") == d.pull_image.digest,
                       f"{s.name} sends the manifest's digest")
            st, h, body = _get(s.port, self.blob_path, {"Range": f"bytes={MIB}-{2 * MIB - 1}"})
            _check(st == 206 and body == piece, f"{s.name} answers a Range request (status {st})")
            h256 = hashlib.sha256()
            conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=120)
            conn.request("GET", self.blob_path)
            r = conn.getresponse()
            while True:
                b = r.read(4 * MIB)
                if not b:
                    break
                h256.update(b)
            conn.close()
            _check(r.status == 200 and "sha256:" + h256.hexdigest() == d.blob[1],
                   f"{s.name} serves the blob intact")
        self.ctx.log("pull servers: manifest, blob and ranges verified on every server")


def manifest_get(ctx, pulls):
    """1. manifest GET by tag with wrk at 32, 128 and 256 connections."""
    a = ctx.args
    for c in a.connections:
        rps = ctx.results.metric(f"manifest.rps.c{c}", f"1 manifest GET, {c} conns", "req/s")
        p99 = ctx.results.metric(f"manifest.p99.c{c}", f"1 manifest GET p99, {c} conns",
                                 "ms", higher_is_better=False)
        for s in pulls.servers:
            clients.wrk(s.url + pulls.manifest_path, "manifest.lua", c, a.warmup_seconds)
        for run in range(a.runs):
            for s in ctx.rotate(pulls.servers, run):
                r = clients.wrk(s.url + pulls.manifest_path, "manifest.lua", c, a.wrk_seconds)
                ctx.results.add(rps.key, s.name, r["rps"])
                ctx.results.add(p99.key, s.name, r["p99_us"] / 1000)
        ctx.log(f"1 manifest GET at {c} connections: "
                + ", ".join(f"{s.name} {ctx.results.median(rps.key, s.name):,.0f} req/s"
                            for s in pulls.servers))


def blob_get(ctx, pulls):
    """2. blob GET of the big layer with 1 and 8 parallel curl clients, and
    Range requests with wrk."""
    a, d = ctx.args, ctx.data
    size = d.blob[2]
    for n in (1, 8):
        m = ctx.results.metric(f"blob.get.x{n}", f"2 blob GET {size // MIB} MiB, {n} client"
                               + ("s" if n > 1 else ""), "MiB/s")
        for s in pulls.servers:
            clients.curl_get([s.url + pulls.blob_path] * n)
        for run in range(a.runs):
            for s in ctx.rotate(pulls.servers, run):
                secs, total = clients.curl_get([s.url + pulls.blob_path] * n)
                _check(total == n * size, f"{s.name} sent {total} bytes")
                ctx.results.add(m.key, s.name, total / secs / MIB)
    piece = a.range_size
    m = ctx.results.metric("blob.range", f"2 blob Range GET {piece // 1024} KiB pieces, "
                           f"{a.range_connections} conns", "MiB/s")
    mr = ctx.results.metric("blob.range.rps", f"2 blob Range GET {piece // 1024} KiB pieces",
                            "req/s")
    env = {"BENCH_BLOB_SIZE": str(size), "BENCH_RANGE_SIZE": str(piece)}
    for s in pulls.servers:
        clients.wrk(s.url + pulls.blob_path, "range.lua", a.range_connections,
                    a.warmup_seconds, env)
    for run in range(a.runs):
        for s in ctx.rotate(pulls.servers, run):
            r = clients.wrk(s.url + pulls.blob_path, "range.lua", a.range_connections,
                            a.wrk_seconds, env)
            ctx.results.add(m.key, s.name, r["bytes_per_s"] / MIB)
            ctx.results.add(mr.key, s.name, r["rps"])
    ctx.log("2 blob GET: " + ", ".join(
        f"{s.name} {ctx.results.median('blob.get.x1', s.name):,.0f} MiB/s"
        for s in pulls.servers))


# --- pushes (workloads 3, 4 and 5) -------------------------------------------

def push_servers(ctx):
    return [ctx.berth(), ctx.berth(BERTH_NOFSYNC, fsync=False), ctx.dist()]


def _fresh(ctx, s, label):
    """s restarted on an empty root, with earlier runs' writes on disk."""
    s.stop()
    s.start(fresh_root(ctx.root(s, label)))
    subprocess.run(["sync"], check=False)
    return s


def blob_push(ctx):
    """3. blob push with curl: monolithic (POST, PUT with the body) and in
    chunks (POST, PATCHes, empty PUT), each on an empty root."""
    a, d = ctx.args, ctx.data
    size = os.path.getsize(d.push_blob)
    mono = ctx.results.metric("push.mono", f"3 blob push {size // MIB} MiB monolithic", "MiB/s")
    chunk = ctx.results.metric("push.chunked", f"3 blob push {size // MIB} MiB in "
                               f"{a.chunk // MIB} MiB chunks", "MiB/s")
    sha = ctx.results.metric("push.sha256", "3 openssl speed -evp sha256, 16 KiB blocks",
                             "MiB/s")
    ceiling = ctx.results.metric("push.recv_sha256", "3 loopback receive + sha256, one "
                                 "thread, no HTTP, no disk (reference)", "MiB/s")
    disk = ctx.results.metric("push.disk", f"3 disk: write {size // MIB} MiB + fsync "
                              "(reference)", "MiB/s")
    for _ in range(min(a.runs, 3)):
        ctx.results.add(sha.key, OPENSSL, clients.openssl_sha256() / MIB)
        rate = clients.recv_sha256(d.push_blob, d.push_digest, ctx.workdir)
        if rate is not None:
            ctx.results.add(ceiling.key, OPENSSL, rate / MIB)
        subprocess.run(["sync"], check=False)
        ctx.results.add(disk.key, OPENSSL, clients.disk_write_fsync(d.push_blob,
                                                                    ctx.workdir) / MIB)
    servers = push_servers(ctx)
    try:
        for run in range(-1, a.runs):          # run -1 warms up
            for s in ctx.rotate(servers, max(run, 0)):
                _fresh(ctx, s, "push")
                secs = clients.push_blob(s.url, "bench/push", d.push_digest, whole=d.push_blob)
                if run >= 0:
                    ctx.results.add(mono.key, s.name, size / secs / MIB)
                _fresh(ctx, s, "push")
                secs = clients.push_blob(s.url, "bench/push", d.push_digest, chunks=d.chunks)
                st, _, _ = _get(s.port, f"/v2/bench/push/blobs/{d.push_digest}")
                _check(st == 200, f"{s.name} serves the pushed blob")
                if run >= 0:
                    ctx.results.add(chunk.key, s.name, size / secs / MIB)
    finally:
        for s in servers:
            s.stop()
    ctx.log("3 blob push: " + ", ".join(
        f"{s.name} {ctx.results.median(mono.key, s.name):,.0f} MiB/s" for s in servers)
        + f"; openssl sha256 {ctx.results.median(sha.key, OPENSSL):,.0f} MiB/s")


def _pulled_digest(layout, tag):
    with open(os.path.join(layout, "index.json")) as f:
        for m in json.load(f)["manifests"]:
            if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
                return m["digest"]
    return None


def skopeo_copy(ctx):
    """4. skopeo copy push and pull of the 50-layer image and the big one."""
    a, d = ctx.args, ctx.data
    cases = [("many", d.layout_many, d.many_image,
              f"{len(d.many_image.layers)} layers of {a.sizes['small_layer'] // 1024} KiB"),
             ("big", d.layout_big, d.big_image, f"1 layer of {a.sizes['big_layer'] // MIB} MiB")]
    servers = push_servers(ctx)
    out = os.path.join(ctx.workdir, "pulled")
    try:
        for run in range(-1, a.runs):
            for s in ctx.rotate(servers, max(run, 0)):
                _fresh(ctx, s, "skopeo")
                for tag, layout, img, what in cases:
                    push = ctx.results.metric(f"skopeo.push.{tag}",
                                              f"4 skopeo push, {what}", "s", False)
                    pull = ctx.results.metric(f"skopeo.pull.{tag}",
                                              f"4 skopeo pull, {what}", "s", False)
                    ref = f"docker://{s.addr}/bench/{tag}:latest"
                    secs = ctx.skopeo.copy(f"oci:{layout}:{tag}", ref)
                    if run >= 0:
                        ctx.results.add(push.key, s.name, secs)
                    shutil.rmtree(out, ignore_errors=True)
                    secs = ctx.skopeo.copy(ref, f"oci:{out}:{tag}")
                    _check(_pulled_digest(out, tag) == img.digest,
                           f"skopeo pulled {tag} from {s.name} with its digest")
                    if run >= 0:
                        ctx.results.add(pull.key, s.name, secs)
                    shutil.rmtree(out, ignore_errors=True)
                subprocess.run(["sync"], check=False)
    finally:
        for s in servers:
            s.stop()
    ctx.log("4 skopeo: " + ", ".join(
        f"{s.name} push {ctx.results.median('skopeo.push.big', s.name):.2f} s"
        for s in servers))


def concurrent(ctx):
    """5. N clients pushing different images at once, then N pulling them;
    6. memory: RSS idle after start, the peak during 5 and idle again after
    it, the anonymous part of the idle figures, and open fds."""
    a, d = ctx.args, ctx.data
    n = len(d.client_images)
    push = ctx.results.metric("concurrent.push", f"5 {n} clients pushing at once", "s", False)
    pull = ctx.results.metric("concurrent.pull", f"5 {n} clients pulling at once", "s", False)
    idle = ctx.results.metric("memory.idle", "6 RSS idle after start", "MiB", False)
    peak = ctx.results.metric("memory.peak", "6 RSS peak during 5", "MiB", False)
    after = ctx.results.metric("memory.after", "6 RSS idle after 5", "MiB", False)
    anon = ctx.results.metric("memory.anon", "6 anonymous memory idle after start", "MiB", False)
    anon_after = ctx.results.metric("memory.anon.after", "6 anonymous memory idle after 5",
                                    "MiB", False)
    fds_idle = ctx.results.metric("fds.idle", "6 open fds idle", "fds", False)
    fds_peak = ctx.results.metric("fds.peak", "6 open fds peak during 5", "fds", False)
    servers = push_servers(ctx)
    out = os.path.join(ctx.workdir, "pulled-clients")
    try:
        for run in range(-1, a.runs):
            for s in ctx.rotate(servers, max(run, 0)):
                _fresh(ctx, s, "concurrent")
                time.sleep(a.settle_seconds)
                idle_kib, idle_fds = proc.mem_kib(s.pid), proc.open_fds(s.pid)
                idle_anon_kib = proc.anon_kib(s.pid)
                pairs = [(f"oci:{d.layout_clients}:c{i}",
                          f"docker://{s.addr}/bench/client{i}:latest") for i in range(n)]
                shutil.rmtree(out, ignore_errors=True)
                os.makedirs(out)
                back = [(f"docker://{s.addr}/bench/client{i}:latest",
                         f"oci:{out}/c{i}:c{i}") for i in range(n)]
                with proc.Sampler(s.pid) as sampler:
                    t_push = ctx.skopeo.copy_many(pairs)
                    t_pull = ctx.skopeo.copy_many(back)
                hwm = proc.mem_kib(s.pid, "VmHWM")
                time.sleep(a.settle_seconds)
                after_kib, after_anon_kib = proc.mem_kib(s.pid), proc.anon_kib(s.pid)
                for i, img in enumerate(d.client_images):
                    _check(_pulled_digest(f"{out}/c{i}", f"c{i}") == img.digest,
                           f"client {i} pulled its image from {s.name}")
                if run >= 0:
                    ctx.results.add(push.key, s.name, t_push)
                    ctx.results.add(pull.key, s.name, t_pull)
                    ctx.results.add(idle.key, s.name, idle_kib / 1024)
                    ctx.results.add(peak.key, s.name, max(hwm, sampler.peak_rss_kib) / 1024)
                    ctx.results.add(after.key, s.name, after_kib / 1024)
                    ctx.results.add(anon.key, s.name, idle_anon_kib / 1024)
                    ctx.results.add(anon_after.key, s.name, after_anon_kib / 1024)
                    ctx.results.add(fds_idle.key, s.name, idle_fds)
                    ctx.results.add(fds_peak.key, s.name, sampler.peak_fds)
                shutil.rmtree(out, ignore_errors=True)
    finally:
        for s in servers:
            s.stop()
    ctx.log("5/6 concurrent: " + ", ".join(
        f"{s.name} push {ctx.results.median(push.key, s.name):.2f} s, idle "
        f"{ctx.results.median(idle.key, s.name):.1f} MiB" for s in servers))


# --- scale (workload 7) --------------------------------------------------------

def _latency_ms(port, path, n):
    """Median of n GETs over one kept-alive connection, in ms."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    times = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            times.append((time.perf_counter() - t0) * 1000)
            _check(r.status == 200, f"GET {path}: status {r.status}")
    finally:
        conn.close()
    return statistics.median(times)


def scale(ctx):
    """7. tag list and catalog, first page of 100, and start time, with few
    and many repositories and tags."""
    a, d = ctx.args, ctx.data
    servers = [ctx.berth(), ctx.dist()]
    paths = {"catalog": "/v2/_catalog?n=100", "tags": "/v2/scale/tags/tags/list?n=100"}
    try:
        for count, seed in sorted(d.scale_roots.items()):
            start = ctx.results.metric(f"scale.start.{count}",
                                       f"7 start until GET /v2/ answers, {count:,} repos",
                                       "ms", False)
            m = {}
            for what in paths:
                label = "catalog" if what == "catalog" else "tag list"
                unit = "repos" if what == "catalog" else "tags"
                m[what, "first"] = ctx.results.metric(
                    f"scale.{what}.first.{count}",
                    f"7 {label} first page, first request, {count:,} {unit}", "ms", False)
                m[what, "warm"] = ctx.results.metric(
                    f"scale.{what}.warm.{count}",
                    f"7 {label} first page, later requests, {count:,} {unit}", "ms", False)
            roots = {s.name: clone_root(seed, ctx.root(s, f"scale-{count}")) for s in servers}
            for run in range(-1, a.runs):
                for s in ctx.rotate(servers, max(run, 0)):
                    s.stop()
                    # Each run starts as a root fresh from Distribution would:
                    # without Berth's catalog index (rebuilt on first use).
                    shutil.rmtree(os.path.join(roots[s.name], "docker/registry/v2/_berth"),
                                  ignore_errors=True)
                    s.start(roots[s.name])
                    if run < 0:
                        continue
                    ctx.results.add(start.key, s.name, s.start_seconds * 1000)
                    for what, path in paths.items():
                        ctx.results.add(m[what, "first"].key, s.name,
                                        _latency_ms(s.port, path, 1))
                        ctx.results.add(m[what, "warm"].key, s.name,
                                        _latency_ms(s.port, path, a.scale_requests))
                    st, h, body = _get(s.port, paths["catalog"])
                    _check(len(json.loads(body)["repositories"]) == min(100, count + 1),
                           f"{s.name} lists a full first catalog page")
                    st, h, body = _get(s.port, paths["tags"])
                    got = len(json.loads(body)["tags"])
                    # Distribution 2.8 ignores n on tag lists: it sends every tag.
                    _check(got == min(100, count) or (s.kind == "distribution" and got == count),
                           f"{s.name} lists a full first tag page ({got} tags)")
    finally:
        for s in servers:
            s.stop()
    ctx.log("7 scale: done")
