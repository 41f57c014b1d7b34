"""The load generators: wrk (with the Lua scripts in bench/wrk/), curl and
skopeo, each a real Debian client run as a process."""
import json
import os
import subprocess
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WRK_DIR = os.path.join(HERE, "wrk")
ACCEPT = ("application/vnd.oci.image.manifest.v1+json, "
          "application/vnd.docker.distribution.manifest.v2+json")


class ClientError(RuntimeError):
    pass


def run(argv, timeout=900, env=None):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, env=env)
    if p.returncode != 0:
        raise ClientError(f"{' '.join(argv[:3])}... exited {p.returncode}: "
                          f"{p.stderr.decode(errors='replace')[-600:]}")
    return p.stdout.decode(errors="replace")


def wrk(url, script, connections, seconds, env_extra=None):
    """Runs wrk; returns the JSON line its Lua done() prints."""
    threads = min(connections, os.cpu_count() or 2)
    env = dict(os.environ, **(env_extra or {}))
    out = run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
               "--timeout", "10s", "-s", os.path.join(WRK_DIR, script), url],
              timeout=seconds + 60, env=env)
    for line in out.splitlines():
        if line.startswith("{"):
            res = json.loads(line)
            if res["requests"] == 0:
                raise ClientError(f"wrk made no request to {url}")
            if res["errors"]:
                raise ClientError(f"wrk: {res['errors']} errors against {url}: {res}")
            return res
    raise ClientError(f"wrk printed no result: {out[-400:]}")


def curl_get(urls, headers=()):
    """GETs every URL at once (one curl each); returns (seconds, bytes)."""
    argv = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}\n"]
    for h in headers:
        argv += ["-H", h]
    t0 = time.monotonic()
    procs = [subprocess.Popen(argv + [u], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for u in urls]
    total = 0
    for p in procs:
        out, err = p.communicate()
        code, size = (out.decode().split() + ["", ""])[:2]
        if p.returncode != 0 or code not in ("200", "206"):
            raise ClientError(f"curl GET: exit {p.returncode}, status {code}: {err.decode()}")
        total += int(size)
    return time.monotonic() - t0, total


def _curl(argv):
    """One request; returns (status, location, seconds curl spent on it)."""
    out = run(["curl", "-sS", "-o", "/dev/null", "-H", "Expect:",
               "-w", "%{http_code}\n%{redirect_url}\n%{header_json}\n%{time_total}"] + argv)
    code, _, rest = out.partition("\n")
    _, _, rest = rest.partition("\n")
    headers_text, _, secs = rest.rpartition("\n")
    headers = json.loads(headers_text)
    loc = (headers.get("location") or [""])[0]
    return int(code), loc, float(secs)


def _absolute(base, loc):
    return loc if loc.startswith("http") else base + loc


def _with_digest(loc, digest):
    return loc + ("&" if "?" in loc else "?") + "digest=" + digest


def push_blob(base, repo, digest, whole=None, chunks=None):
    """POST, then one PUT with the body (whole) or PATCHes of chunks and an
    empty PUT. Returns the seconds curl spent in the requests (process
    start-up excluded: it would be the same for every server)."""
    ctype = ["-H", "Content-Type: application/octet-stream"]
    code, loc, total = _curl(["-X", "POST", f"{base}/v2/{repo}/blobs/uploads/"])
    if code != 202 or not loc:
        raise ClientError(f"POST upload to {base}: status {code}")
    loc = _absolute(base, loc)
    for path, offset, size in chunks or ():
        code, nloc, secs = _curl(["-X", "PATCH", "-T", path, *ctype, "-H",
                                  f"Content-Range: {offset}-{offset + size - 1}", loc])
        total += secs
        if code != 202:
            raise ClientError(f"PATCH {offset}: status {code}")
        loc = _absolute(base, nloc or loc)
    if whole:
        argv = ["-X", "PUT", "-T", whole, *ctype]
    else:
        argv = ["-X", "PUT", "-H", "Content-Length: 0", *ctype]
    code, _, secs = _curl(argv + [_with_digest(loc, digest)])
    total += secs
    if code != 201:
        raise ClientError(f"PUT ?digest= to {base}: status {code}")
    return total


class Skopeo:
    """skopeo with an accept-all policy and no search registries."""

    def __init__(self, workdir):
        self.dir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.policy = os.path.join(workdir, "policy.json")
        self.conf = os.path.join(workdir, "registries.conf")
        with open(self.policy, "w") as f:
            f.write('{"default": [{"type": "insecureAcceptAnything"}]}')
        with open(self.conf, "w") as f:
            f.write('unqualified-search-registries = []\nshort-name-mode = "disabled"\n')
        self.tmp = os.path.join(workdir, "tmp")
        os.makedirs(self.tmp, exist_ok=True)

    def argv(self, src, dst):
        return ["skopeo", "--policy", self.policy, "--registries-conf", self.conf, "copy",
                "--src-tls-verify=false", "--dest-tls-verify=false", "--quiet",
                # The layers are uncompressed tars: without these skopeo would
                # gzip them on the way (measuring gzip, not the registry).
                "--preserve-digests", "--dest-oci-accept-uncompressed-layers", src, dst]

    def copy(self, src, dst):
        t0 = time.monotonic()
        run(self.argv(src, dst), env=dict(os.environ, TMPDIR=self.tmp))
        return time.monotonic() - t0

    def copy_many(self, pairs):
        """Every copy at once; returns the seconds until the last finished."""
        env = dict(os.environ, TMPDIR=self.tmp)
        t0 = time.monotonic()
        procs = [subprocess.Popen(self.argv(s, d), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, env=env) for s, d in pairs]
        errors = []
        for p in procs:
            _, err = p.communicate()
            if p.returncode != 0:
                errors.append(err.decode(errors="replace")[-300:])
        secs = time.monotonic() - t0
        if errors:
            raise ClientError(f"{len(errors)} of {len(pairs)} skopeo copies failed: {errors[0]}")
        return secs


def recv_sha256(path, digest, workdir):
    """Bytes per second of bench/reference/recv_sha256 (loopback receive and
    SHA-256 on one thread, no HTTP, no storage), or None without a C compiler."""
    exe = os.path.join(workdir, "recv_sha256")
    if not os.path.exists(exe):
        src = os.path.join(HERE, "reference", "recv_sha256.c")
        try:
            run(["cc", "-O2", "-o", exe, src, "-lcrypto"], timeout=120)
        except (ClientError, OSError):
            return None
    rate, got = run([exe, path], timeout=600).split()
    if got != digest:
        raise ClientError(f"recv_sha256 hashed {got}, the file is {digest}")
    return float(rate)


def disk_write_fsync(src, workdir):
    """Bytes per second of copying src to a new file beside the servers'
    roots and fsyncing it: what a durable push cannot beat on this disk."""
    dst = os.path.join(workdir, "disk-reference")
    size = os.path.getsize(src)
    t0 = time.monotonic()
    with open(src, "rb") as f, open(dst, "wb") as out:
        while True:
            b = f.read(8 << 20)
            if not b:
                break
            out.write(b)
        out.flush()
        os.fsync(out.fileno())
    secs = time.monotonic() - t0
    os.unlink(dst)
    return size / secs


def openssl_sha256():
    """Bytes per second of `openssl speed -evp sha256` at 16 KiB blocks, one core."""
    out = run(["openssl", "speed", "-seconds", "3", "-bytes", "16384", "-evp", "sha256"],
              timeout=120)
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0].lower() == "sha256" and parts[-1].endswith("k"):
            return float(parts[-1][:-1]) * 1000
    raise ClientError(f"cannot read openssl speed output: {out[-300:]}")
