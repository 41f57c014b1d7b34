"""bench/run: prepare the data, run the chosen workloads against Berth,
Distribution and nginx, and print the table of medians, ratios and targets."""
import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

from . import workloads
from .data import Data
from .results import BERTH, BERTH_NOFSYNC, DIST, NGINX, OPENSSL, Results

KIB, MIB, GIB = 1024, 1024 * 1024, 1024 * 1024 * 1024

PROFILES = {
    "full": dict(blob=256 * MIB, push=256 * MIB, chunk=8 * MIB, small_layers=50,
                 small_layer=64 * KIB, big_layer=GIB, clients=32, client_layers=3,
                 client_layer=MIB, scale_small=100, scale_large=10000),
    "quick": dict(blob=64 * MIB, push=64 * MIB, chunk=8 * MIB, small_layers=50,
                  small_layer=16 * KIB, big_layer=128 * MIB, clients=32, client_layers=2,
                  client_layer=256 * KIB, scale_small=100, scale_large=10000),
    "smoke": dict(blob=8 * MIB, push=16 * MIB, chunk=8 * MIB, small_layers=5,
                  small_layer=4 * KIB, big_layer=8 * MIB, clients=4, client_layers=1,
                  client_layer=64 * KIB, scale_small=10, scale_large=200),
}
TIMING = {   # runs, wrk seconds, warm-up seconds, requests per latency, connections
    "full": (3, 5, 2, 20, [32, 128, 256]),
    "quick": (2, 2, 1, 10, [32, 128, 256]),
    "smoke": (1, 1, 1, 3, [32]),
}
WORKLOADS = ("manifest", "blob", "push", "skopeo", "concurrent", "scale")
PACKAGES = ("wrk", "nginx-core", "nginx-light", "nginx", "docker-registry", "skopeo",
            "openssl", "curl", "libmicrohttpd12", "linux-image-amd64")


def parse(argv):
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    p = argparse.ArgumentParser(
        prog="bench/run",
        description="Berth, CNCF Distribution (docker-registry) and nginx side by side "
                    "on loopback; see bench/README.md.")
    p.add_argument("--quick", action="store_true",
                   help="smaller data, fewer and shorter runs (a few minutes)")
    p.add_argument("--smoke", action="store_true",
                   help="tiny data and one short run of everything (seconds; CI)")
    p.add_argument("--only", nargs="+", choices=WORKLOADS + ("memory",), metavar="NAME",
                   help="run only these workloads: " + ", ".join(WORKLOADS)
                   + " (memory is measured in concurrent)")
    p.add_argument("--json", metavar="FILE", help="also write every measurement as JSON")
    p.add_argument("--runs", type=int, help="measured runs per workload and server")
    p.add_argument("--wrk-seconds", type=int, help="length of each wrk run")
    p.add_argument("--data", default=os.environ.get("BERTH_BENCH_DATA",
                                                    "/var/tmp/berth-bench-data"),
                   help="where the fixed data is made and cached (default %(default)s)")
    p.add_argument("--workdir", help="servers' roots and logs (default: a new temporary "
                   "directory, removed at the end unless --keep)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--berth", default=os.environ.get("BERTH_BIN",
                                                     os.path.join(here, "build", "berth")))
    p.add_argument("--plugin-dir", default=os.environ.get("BERTH_PLUGIN_DIR"))
    a = p.parse_args(argv)
    a.profile = "smoke" if a.smoke else "quick" if a.quick else "full"
    a.sizes = PROFILES[a.profile]
    runs, secs, warm, reqs, conns = TIMING[a.profile]
    a.runs = a.runs or runs
    a.wrk_seconds = a.wrk_seconds or secs
    a.warmup_seconds, a.scale_requests, a.connections = warm, reqs, conns
    a.chunk = a.sizes["chunk"]
    a.range_size = 256 * KIB if a.sizes["blob"] >= 64 * MIB else 64 * KIB
    a.range_connections = 16
    a.settle_seconds = 1.0 if a.profile != "smoke" else 0.2
    a.berth = os.path.abspath(a.berth)
    a.plugin_dir = os.path.abspath(a.plugin_dir or
                                   os.path.join(os.path.dirname(a.berth), "plugins"))
    only = set(a.only or WORKLOADS)
    if "memory" in only:
        only.discard("memory")
        only.add("concurrent")
    a.only = [w for w in WORKLOADS if w in only]
    return a


def _first_line(argv):
    try:
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=10).stdout.decode(errors="replace")
        return out.strip().splitlines()[0] if out.strip() else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine():
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    debian = ""
    if os.path.exists("/etc/debian_version"):
        with open("/etc/debian_version") as f:
            debian = f.read().strip()
    pkgs = {}
    for name in PACKAGES:
        v = _first_line(["dpkg-query", "-W", "-f=${Version}", name])
        if v and "no packages found" not in v:
            pkgs[name] = v
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem_kib / 1024 / 1024, 1),
            "kernel": platform.release(), "debian": debian, "packages": pkgs}


def evaluate(r, a):
    """The targets of issue 7, from this run's medians."""
    med = r.median

    def ratio(k, s1, s2):
        x, y = med(k, s1), med(k, s2)
        return (x / y) if x is not None and y else None

    for c in a.connections:
        k = f"manifest.rps.c{c}"
        q = ratio(k, BERTH, DIST)
        if q is not None:
            r.target(f"manifest GET {c} conns >= 20x Distribution", q >= 20,
                     f"{med(k, BERTH):,.0f} vs {med(k, DIST):,.0f} req/s = {q:.1f}x")
        q = ratio(k, BERTH, NGINX)
        if q is not None:
            r.target(f"manifest GET {c} conns >= 0.5x nginx", q >= 0.5,
                     f"{med(k, BERTH):,.0f} vs {med(k, NGINX):,.0f} req/s = {q:.2f}x")
    for k, what in (("blob.get.x1", "1 client"), ("blob.get.x8", "8 clients"),
                    ("blob.range", "Range pieces")):
        q = ratio(k, BERTH, NGINX)
        if q is not None:
            r.target(f"blob GET {what} >= 0.9x nginx sendfile", q >= 0.9,
                     f"{med(k, BERTH):,.0f} vs {med(k, NGINX):,.0f} MiB/s = {q:.2f}x")
    sha = med("push.sha256", OPENSSL)
    ceiling, disk = med("push.recv_sha256", OPENSSL), med("push.disk", OPENSSL)
    for k, what in (("push.mono", "monolithic"), ("push.chunked", "chunked")):
        for s, label in ((BERTH, "fsync on (default)"), (BERTH_NOFSYNC, "fsync off")):
            v = med(k, s)
            if v is not None and sha:
                # The references say what bounds a push on this machine
                # besides Berth: one connection's receive + hash, the disk.
                refs = "".join(
                    f"; {v / ref:.2f}x of {name} {ref:,.0f} MiB/s"
                    for name, ref, applies in (
                        ("loopback receive + sha256", ceiling, True),
                        ("disk write + fsync", disk, s == BERTH))
                    if ref and applies)
                r.target(f"blob push {what}, {label} >= 0.8x openssl sha256", v >= 0.8 * sha,
                         f"{v:,.0f} vs {sha:,.0f} MiB/s = {v / sha:.2f}x{refs}")
    idle, didle = med("memory.idle", BERTH), med("memory.idle", DIST)
    if idle is not None:
        r.target("idle RSS <= 8 MiB", idle <= 8, f"{idle:.1f} MiB")
        if didle:
            # RSS counts clean file pages too (shared libraries for Berth,
            # the one static binary for Distribution); the anonymous part
            # is the memory each server allocated, shown beside the target.
            anon, danon = med("memory.anon", BERTH), med("memory.anon", DIST)
            extra = (f"; anonymous {anon:.1f} vs {danon:.1f} MiB = {anon / danon:.2f}x"
                     if anon is not None and danon else "")
            r.target("idle RSS <= 1/4 of Distribution's", idle <= didle / 4,
                     f"{idle:.1f} vs {didle:.1f} MiB = {idle / didle:.2f}x{extra}")
    small, large = a.sizes["scale_small"], a.sizes["scale_large"]
    # "Independent of the number": at 100x the repositories, at most twice the
    # time plus a floor for noise (1 ms per request, 50 ms for a start).
    for key, label, floor in (("scale.catalog.warm", "catalog first page", 1.0),
                              ("scale.tags.warm", "tag list first page", 1.0),
                              ("scale.start", "start time", 50.0)):
        for s in (BERTH,):
            x, y = med(f"{key}.{small}", s), med(f"{key}.{large}", s)
            if x is not None and y is not None:
                r.target(f"{label} independent of size ({large:,} vs {small:,})",
                         y <= 2 * x + floor, f"{y:.2f} vs {x:.2f} ms")


def main(argv):
    a = parse(argv)
    t_start = time.monotonic()

    def log(msg):
        print(f"[{time.monotonic() - t_start:7.1f}s] {msg}", file=sys.stderr, flush=True)

    for cmd in ("wrk", "nginx", "docker-registry", "skopeo", "openssl", "curl"):
        if not shutil.which(cmd):
            print(f"bench: '{cmd}' is not installed (apt-get install wrk nginx-light "
                  "docker-registry skopeo openssl curl)", file=sys.stderr)
            return 77
    if not os.access(a.berth, os.X_OK):
        print(f"bench: no berth binary at '{a.berth}' (build first, or --berth)",
              file=sys.stderr)
        return 2

    header = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "profile": a.profile, "runs": a.runs, "wrk_seconds": a.wrk_seconds,
        "sizes": a.sizes, "workloads": a.only, "machine": machine(),
        "berth": {"binary": a.berth, "version": _first_line([a.berth, "--version"]),
                  "config": "storage-fs only; fsync on (shipped default) in the 'berth' "
                            "column, off in 'berth fsync off'; per-address limits off"},
    }
    m = header["machine"]
    print(f"# Berth benchmark, {header['date']}, profile {a.profile}"
          + (" (SIZES SHRUNK: not the issue's sizes)" if a.profile != "full" else ""))
    print(f"# machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram_gib']} GiB RAM, "
          f"kernel {m['kernel']}, Debian {m['debian']}")
    print("# packages: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()))
    print(f"# berth: {a.berth} ({header['berth']['version']}); storage-fs fsync ON in "
          "column 'berth' (the shipped default), OFF in 'berth fsync off'")
    s = a.sizes
    print(f"# data: blob {s['blob'] // MIB} MiB, push {s['push'] // MIB} MiB in "
          f"{s['chunk'] // MIB} MiB chunks, {s['small_layers']} layers of "
          f"{s['small_layer'] // KIB} KiB, big layer {s['big_layer'] // MIB} MiB, "
          f"{s['clients']} clients x {s['client_layers']} layers of "
          f"{s['client_layer'] // KIB} KiB, scale {s['scale_small']:,} vs "
          f"{s['scale_large']:,}; {a.runs} runs (+ warm-up), wrk {a.wrk_seconds} s",
          flush=True)

    data = Data(os.path.abspath(a.data), a.sizes)
    data.prepare(log)
    workdir = a.workdir or tempfile.mkdtemp(prefix="berth-bench.")
    os.makedirs(workdir, exist_ok=True)
    results = Results()
    ctx = workloads.Context(a, data, workdir, results, log)
    status = 0
    try:
        if "manifest" in a.only or "blob" in a.only:
            with workloads.PullServers(ctx) as pulls:
                if "manifest" in a.only:
                    workloads.manifest_get(ctx, pulls)
                if "blob" in a.only:
                    workloads.blob_get(ctx, pulls)
        for name, fn in (("push", workloads.blob_push), ("skopeo", workloads.skopeo_copy),
                         ("concurrent", workloads.concurrent), ("scale", workloads.scale)):
            if name in a.only:
                fn(ctx)
    except (Exception, KeyboardInterrupt) as e:  # report what was measured until then
        print(f"bench: {e!r}", file=sys.stderr)
        results.notes.append(f"stopped early: {e}")
        status = 1

    evaluate(results, a)
    print()
    print("Medians; B/D = Berth (fsync on) / Distribution, B/nginx = Berth / nginx "
          "(or / openssl sha256 for pushes). Rows marked (reference) measure the machine, "
          "not a server. For s and ms lower is better.")
    print(results.table())
    print()
    print("Targets (issue 7):")
    print(results.target_lines())
    missed = sum(1 for t in results.targets if t["met"] is False)
    print(f"\n{len(results.targets) - missed} targets met, {missed} missed; "
          f"took {time.monotonic() - t_start:.0f} s")
    sys.stdout.flush()
    if a.json:
        with open(a.json, "w") as f:
            f.write(results.as_json(header))
    # Last: removing many files is slow where the filesystem discards blocks.
    if a.keep:
        log(f"kept {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return status
