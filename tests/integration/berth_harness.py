"""Start and drive a berth server for the raw-HTTP integration tests.

Standard library only.  The build passes BERTH_BIN, BERTH_PLUGIN_DIR,
BERTH_SOURCE_DIR and BERTH_BUILD_DIR; without them the paths are derived from
this file's place in the source tree so a test can be run by hand.

Every socket has a timeout so that a hung server fails a check instead of
hanging CI; every server is killed in a finally block.
"""

import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import uuid as uuidlib

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("BERTH_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BUILD_DIR = os.environ.get("BERTH_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")
BERTH_BIN = os.environ.get("BERTH_BIN") or os.path.join(BUILD_DIR, "berth")
PLUGIN_DIR = os.environ.get("BERTH_PLUGIN_DIR") or os.path.join(BUILD_DIR, "plugins")

# BERTH_VALGRIND=1 runs every server under valgrind's memcheck, which exits
# 99 on an invalid read or write: a clean stop (exit 0) then proves there was
# none. Everything is slower there, so the timeouts grow.
VALGRIND = os.environ.get("BERTH_VALGRIND") == "1"
SLOW = 10.0 if VALGRIND else 1.0
REQUEST_TIMEOUT = 30.0 * SLOW
START_TIMEOUT = 20.0 * SLOW
STOP_TIMEOUT = 40.0 * SLOW
VALGRIND_LOGS = os.environ.get("BERTH_VALGRIND_LOGS") or os.path.join(tempfile.gettempdir(), "berth-valgrind")
VALGRIND_CMD = ["valgrind", "--tool=memcheck", "--error-exitcode=99", "--leak-check=no",
                "--track-origins=no", "--num-callers=30", "-q"]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

EMPTY_JSON = b"{}"


class CheckFailed(Exception):
    """A check's expectation did not hold; the message is the report."""


def fail(msg):
    raise CheckFailed(msg)


def digest_of(data, alg="sha256"):
    return alg + ":" + hashlib.new(alg, data).hexdigest()


def canonical_json(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


# ---------------------------------------------------------------------------
# Config files

_PLAIN = re.compile(r"^[A-Za-z0-9_./][A-Za-z0-9_./:@+-]*$")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "~", "y", "n"}


def _yaml_scalar(v):
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return str(v)
    s = str(v)
    if _PLAIN.match(s) and s.lower() not in _YAML_WORDS and not re.match(r"^[0-9.+-]+$", s):
        return s
    return json.dumps(s)


def to_yaml(obj, indent=0):
    """Block-style YAML for dicts, lists and scalars (enough for configs)."""
    pad = " " * indent
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                out.append("%s%s:\n%s" % (pad, k, to_yaml(v, indent + 2)))
            elif isinstance(v, dict):
                out.append("%s%s: {}\n" % (pad, k))
            elif isinstance(v, list):
                out.append("%s%s: []\n" % (pad, k))
            else:
                out.append("%s%s: %s\n" % (pad, k, _yaml_scalar(v)))
    elif isinstance(obj, list):
        for v in obj:
            if isinstance(v, dict) and v:
                body = to_yaml(v, indent + 2)
                out.append("%s- %s" % (pad, body[indent + 2:]))
            elif isinstance(v, list) and v:
                out.append("%s-\n%s" % (pad, to_yaml(v, indent + 2)))
            else:
                out.append("%s- %s\n" % (pad, _yaml_scalar(v)))
    else:
        out.append("%s%s\n" % (pad, _yaml_scalar(obj)))
    return "".join(out)


def deep_merge(base, extra):
    out = dict(base)
    for k, v in (extra or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


# ---------------------------------------------------------------------------
# HTTP

class Response:
    """One request and its answer, kept together for failure reports."""

    def __init__(self, method, path, req_headers, req_body, status, reason, headers, body):
        self.method = method
        self.path = path
        self.req_headers = req_headers
        self.req_body = req_body
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value)
        self.body = body

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            fail("%s: body is not JSON (%s)" % (self.describe(), e))

    def error_codes(self):
        try:
            doc = json.loads(self.body.decode("utf-8"))
            return [e.get("code") for e in doc.get("errors", [])]
        except (ValueError, UnicodeDecodeError, AttributeError, TypeError):
            return None

    def describe(self, body_limit=600):
        req_body = ""
        if self.req_body is not None:
            n = len(self.req_body) if isinstance(self.req_body, (bytes, bytearray)) else None
            req_body = " body=%s" % ("%d bytes" % n if n is not None else "<stream>")
            if n is not None and n <= 200:
                req_body += " %r" % bytes(self.req_body)
        hdrs = "".join("\n      > %s: %s" % (k, v) for k, v in (self.req_headers or []))
        rh = "".join("\n      < %s: %s" % (k, v) for k, v in self.headers)
        body = self.body[:body_limit]
        more = "..." if len(self.body) > body_limit else ""
        return "\n    request: %s %s%s%s\n    response: %s %s%s\n      < body: %r%s" % (
            self.method, self.path, req_body, hdrs, self.status, self.reason, rh, body, more)


def absolute_path(location):
    """A Location header as a request path (it may be absolute or relative)."""
    if location is None:
        fail("no Location header")
    p = urllib.parse.urlsplit(location)
    path = p.path
    if p.query:
        path += "?" + p.query
    return path


def add_query(path, **params):
    q = urllib.parse.urlencode(params, safe=":/")
    return path + ("&" if "?" in path else "?") + q


def expect(resp, status, code=None, codes_include=None):
    """Fail unless resp has status (an int or a tuple) and, for errors, the OCI code."""
    ok_status = status if isinstance(status, (tuple, list, set)) else (status,)
    if resp.status not in ok_status:
        fail("expected status %s%s, got %d%s" % (
            "/".join(str(s) for s in ok_status),
            " " + code if code else "", resp.status, resp.describe()))
    if code is not None or codes_include is not None:
        codes = resp.error_codes()
        if codes is None:
            fail("error body is not {\"errors\":[...]}%s" % resp.describe())
        if code is not None and code not in codes:
            fail("expected error code %s, got %s%s" % (code, codes, resp.describe()))
        for c in codes_include or ():
            if c not in codes:
                fail("expected error code %s among %s%s" % (c, codes, resp.describe()))
    if resp.status >= 400:
        check_error_shape(resp)
    return resp


def check_error_shape(resp):
    """Every 4xx/5xx carries the OCI error JSON (except HEAD, which has no body)."""
    if resp.method == "HEAD":
        return
    ctype = (resp.header("Content-Type") or "").split(";")[0].strip()
    if ctype != "application/json":
        fail("error response Content-Type is %r, want application/json%s" % (ctype, resp.describe()))
    try:
        doc = json.loads(resp.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        fail("error body is not JSON%s" % resp.describe())
    errs = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errs, list) or not errs:
        fail("error body has no errors list%s" % resp.describe())
    for e in errs:
        if not isinstance(e, dict) or not isinstance(e.get("code"), str) or "message" not in e:
            fail("error entry without code/message%s" % resp.describe())


def expect_header(resp, name, value=None, pattern=None):
    v = resp.header(name)
    if v is None:
        fail("missing header %s%s" % (name, resp.describe()))
    if value is not None and v != value:
        fail("header %s is %r, want %r%s" % (name, v, value, resp.describe()))
    if pattern is not None and not re.fullmatch(pattern, v):
        fail("header %s is %r, want /%s/%s" % (name, v, pattern, resp.describe()))
    return v


def expect_eq(got, want, what):
    if got != want:
        fail("%s: got %r, want %r" % (what, got, want))


def expect_true(cond, what):
    if not cond:
        fail(what)


# ---------------------------------------------------------------------------
# The server

class Server:
    """A berth process on a temp root and a free port."""

    def __init__(self, tmpdir=None, config=None, name="berth", root=None):
        self.own_tmp = tmpdir is None
        self.tmpdir = tmpdir or tempfile.mkdtemp(prefix="berth-it-")
        self.name = name
        self.root = root or os.path.join(self.tmpdir, name + "-root")
        os.makedirs(self.root, exist_ok=True)
        self.config_extra = config or {}
        self.config_path = os.path.join(self.tmpdir, name + ".yaml")
        self.log_path = os.path.join(self.tmpdir, name + ".log")
        self.proc = None
        self.port = None
        self.log_file = None
        self.log_offset = 0
        self.uploads = set()  # upload uuids the tests started and still hold
        self.running = False  # False once the test stopped the server on purpose
        self.keep_up = False  # restarted after any check that left it stopped
        self.missing_api_version = []

    # -- lifecycle --

    def config_dict(self):
        base = {
            "listen": "127.0.0.1:%d" % self.port,
            "plugin_path": [PLUGIN_DIR],
            "plugins": [{"use": "storage-fs", "config": {"root": self.root}}],
            "registry": {"delete_enabled": True, "tag_delete_enabled": True},
            "limits": {"max_manifest_size": "4MiB"},
        }
        return deep_merge(base, self.config_extra)

    def write_config(self):
        with open(self.config_path, "w") as f:
            f.write(to_yaml(self.config_dict()))

    def start(self, port=None):
        if not os.path.exists(BERTH_BIN):
            raise RuntimeError("berth binary not found at %s" % BERTH_BIN)
        last = ""
        for attempt in range(5):
            self.port = port if (port and attempt == 0) else free_port()
            self.write_config()
            self.log_file = open(self.log_path, "ab")
            self.log_offset = self.log_file.tell()
            if VALGRIND:
                os.makedirs(VALGRIND_LOGS, exist_ok=True)
            self.proc = subprocess.Popen(
                # valgrind's own messages (an unknown syscall such as
                # openat2, which the server then does without) go to a
                # file of their own, not into the server's log.
                (VALGRIND_CMD + ["--log-file=%s/valgrind-%%p.log" % VALGRIND_LOGS] if VALGRIND else [])
                + [BERTH_BIN, "serve", "-c", self.config_path],
                stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=self.log_file,
                cwd=self.tmpdir, preexec_fn=_die_with_parent)
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                text = self.log_since_start()
                if re.search(r"listening on https?://", text) and self._connectable():
                    self.running = True
                    return self
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
            last = self.log_since_start()
            if self.proc.poll() is None:
                self._kill()
                self._close_log()
                raise RuntimeError("server did not log 'listening on' within %.0fs; log:\n%s"
                                   % (START_TIMEOUT, tail(last)))
            rc = self.proc.returncode
            self.log_file.close()
            if re.search(r"in use|bind", last, re.I):
                continue
            raise RuntimeError("server exited with %s before listening; log:\n%s"
                               % (describe_rc(rc), tail(last)))
        raise RuntimeError("could not find a free port; log:\n%s" % tail(last))

    def _connectable(self):
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=1)
            s.close()
            return True
        except OSError:
            return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Signal the server and wait; returns its exit status (negative: killed by a signal)."""
        if self.proc is None:
            return None
        self.running = False
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait_exit(timeout, "of " + signal.Signals(sig).name)

    def wait_exit(self, timeout=STOP_TIMEOUT, since="of the signal"):
        """Wait for a server already told to stop; returns its exit status, fails after timeout."""
        self.running = False
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            self._close_log()
            raise CheckFailed("server did not exit within %.0fs %s; log tail:\n%s"
                              % (timeout, since, self.log_tail()))
        self._close_log()
        return self.proc.returncode

    def stop_clean(self):
        """Stop with SIGTERM and fail unless the exit status is 0."""
        rc = self.stop()
        if rc != 0:
            fail("server exited with %s after SIGTERM; log tail:\n%s" % (describe_rc(rc), self.log_tail()))

    def restart(self, keep_port=True):
        """Stop with SIGTERM and start again on the same root; fails if the stop was not clean."""
        rc = self.stop()
        log = self.log_tail()
        self.start(port=self.port if keep_port else None)
        if rc != 0:
            fail("server exited with %s after SIGTERM; log tail:\n%s" % (describe_rc(rc), log))
        return self

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def _close_log(self):
        if self.log_file is not None and not self.log_file.closed:
            self.log_file.close()

    def kill(self):
        self.running = False
        self._kill()
        self._close_log()

    def cleanup(self):
        self.kill()
        if self.own_tmp and not os.environ.get("BERTH_TEST_KEEP"):
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_since_start(self):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=40):
        return tail(self.log_text(), n)

    def crashed(self):
        """A description if the server died by itself, else None."""
        if self.proc is None or not self.running:
            return None
        rc = self.proc.poll()
        if rc is None:
            return None
        return "server exited unexpectedly with %s; log tail:\n%s" % (describe_rc(rc), self.log_tail())

    # -- requests --

    def connection(self, timeout=REQUEST_TIMEOUT):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=REQUEST_TIMEOUT):
        """One request on a fresh connection.  headers is a dict, or a list of
        (name, value) pairs when a header must be repeated."""
        if isinstance(headers, list):
            pairs = list(headers)
        else:
            pairs = list((headers or {}).items())
        names = {k.lower() for k, _ in pairs}
        if body is None and method in ("POST", "PUT", "PATCH") and "content-length" not in names:
            pairs.append(("Content-Length", "0"))
        streamed = body is not None and not isinstance(body, (bytes, bytearray))
        conn = self.connection(timeout)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in pairs:
                conn.putheader(k, v)
            if isinstance(body, (bytes, bytearray)) and "content-length" not in names:
                conn.putheader("Content-Length", str(len(body)))
            if streamed and "transfer-encoding" not in names:
                conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            try:
                if streamed:
                    for piece in body:
                        if piece:
                            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
                    conn.send(b"0\r\n\r\n")
                elif body:
                    conn.send(body)
            except (BrokenPipeError, ConnectionResetError):
                # the server may answer (413, 400) and close before reading the whole body
                pass
            r = conn.getresponse()
            data = r.read()
            resp = Response(method, path, pairs, body, r.status, r.reason, r.getheaders(), data)
            if resp.header("Docker-Distribution-API-Version") != "registry/2.0":
                self.missing_api_version.append("%s %s -> %d" % (method, path, r.status))
            return resp
        except (OSError, http.client.HTTPException) as e:
            fail("%s %s: %s: %s%s" % (method, path, type(e).__name__, e, self._death_note()))
        finally:
            conn.close()

    def _death_note(self):
        c = self.crashed()
        return "\n" + c if c else ""

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def head(self, path, **kw):
        return self.request("HEAD", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def raw(self, data, timeout=10.0, shutdown_write=False, read=True, chunks=None, delay=0.0):
        """Send bytes on a fresh socket and return what came back (b'' if closed)."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            s.settimeout(timeout)
            try:
                if chunks is None:
                    s.sendall(data)
                else:
                    for c in chunks:
                        s.sendall(c)
                        if delay:
                            time.sleep(delay)
                if shutdown_write:
                    s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            if not read:
                return b""
            out = b""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    b = s.recv(65536)
                except socket.timeout:
                    break
                except OSError:
                    break
                if not b:
                    break
                out += b
                if _complete_response(out):
                    break
            return out
        finally:
            s.close()

    # -- registry operations --

    def wait_alive(self):
        """Fail unless GET /v2/ still answers 200."""
        r = self.get("/v2/")
        if r.status != 200:
            fail("server no longer answers GET /v2/ with 200%s" % r.describe())

    def start_upload(self, repo, headers=None):
        r = self.request("POST", "/v2/%s/blobs/uploads/" % repo, headers=headers)
        expect(r, 202)
        loc = absolute_path(expect_header(r, "Location"))
        self.uploads.add(upload_uuid(loc))
        return loc, r

    def patch(self, loc, data, content_range=None, headers=None):
        h = {"Content-Type": "application/octet-stream"}
        if content_range is not None:
            h["Content-Range"] = content_range
        h.update(headers or {})
        if isinstance(data, (bytes, bytearray)):
            h["Content-Length"] = str(len(data))
        return self.request("PATCH", loc, body=data, headers=h)

    def finish_upload(self, loc, digest, data=None, headers=None):
        h = {"Content-Type": "application/octet-stream"}
        h.update(headers or {})
        r = self.request("PUT", add_query(loc, digest=digest), body=data if data is not None else None,
                         headers=h)
        if r.status in (201, 400, 404):
            self.uploads.discard(upload_uuid(loc))
        return r

    def cancel_upload(self, loc):
        r = self.delete(loc)
        if r.status in (204, 404):
            self.uploads.discard(upload_uuid(loc))
        return r

    def push_blob(self, repo, data, alg="sha256", chunk=None):
        """POST, PATCH (in chunks if asked), PUT; returns the digest."""
        d = digest_of(data, alg)
        loc, _ = self.start_upload(repo)
        if chunk:
            off = 0
            while off < len(data):
                part = data[off:off + chunk]
                r = expect(self.patch(loc, part, "%d-%d" % (off, off + len(part) - 1)), 202)
                loc = absolute_path(r.header("Location"))
                off += len(part)
        elif data:
            r = expect(self.patch(loc, data), 202)
            loc = absolute_path(r.header("Location"))
        expect(self.finish_upload(loc, d), 201)
        return d

    def push_blob_monolithic(self, repo, data, alg="sha256", digest=None):
        d = digest or digest_of(data, alg)
        return self.request("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, d), body=data,
                            headers={"Content-Type": "application/octet-stream",
                                     "Content-Length": str(len(data))})

    def put_manifest(self, repo, ref, body, media_type, headers=None):
        h = {"Content-Type": media_type}
        h.update(headers or {})
        return self.request("PUT", "/v2/%s/manifests/%s" % (repo, ref), body=body, headers=h)

    def push_image(self, repo, tag=None, media_type=OCI_MANIFEST, layers=1, seed=None,
                   extra=None, layer_size=64):
        """Push config + layers + a manifest; returns (manifest bytes, digest)."""
        seed = seed if seed is not None else uuidlib.uuid4().hex
        docker = media_type == DOCKER_MANIFEST
        cfg = canonical_json({"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
                              "rootfs": {"type": "layers", "diff_ids": []}, "seed": seed})
        cdig = self.push_blob(repo, cfg)
        descs = []
        for i in range(layers):
            data = hashlib.sha256(("%s-%d" % (seed, i)).encode()).digest() * (layer_size // 32 + 1)
            data = data[:layer_size]
            expect(self.push_blob_monolithic(repo, data), 201)
            descs.append({"mediaType": DOCKER_LAYER if docker else OCI_LAYER,
                          "digest": digest_of(data), "size": len(data)})
        m = {"schemaVersion": 2, "mediaType": media_type,
             "config": {"mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
                        "digest": cdig, "size": len(cfg)},
             "layers": descs}
        if extra:
            m.update(extra)
        body = json.dumps(m, indent=3).encode()
        d = digest_of(body)
        expect(self.put_manifest(repo, tag or d, body, media_type), 201)
        return body, d

    def push_empty_config_artifact(self, repo, ref=None, artifact_type=None, subject=None,
                                   annotations=None):
        """An OCI artifact manifest whose config is the empty blob."""
        self.ensure_empty_blob(repo)
        m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
             "config": {"mediaType": OCI_EMPTY, "digest": digest_of(EMPTY_JSON), "size": 2},
             "layers": [{"mediaType": OCI_EMPTY, "digest": digest_of(EMPTY_JSON), "size": 2}]}
        if artifact_type:
            m["artifactType"] = artifact_type
        if subject:
            m["subject"] = subject
        if annotations:
            m["annotations"] = annotations
        body = canonical_json(m)
        d = digest_of(body)
        r = expect(self.put_manifest(repo, ref or d, body, OCI_MANIFEST), 201)
        return body, d, r

    def ensure_empty_blob(self, repo):
        expect(self.push_blob_monolithic(repo, EMPTY_JSON), 201)

    # -- the storage layout on disk --

    def v2(self, *parts):
        return os.path.join(self.root, "docker", "registry", "v2", *parts)

    def blob_path(self, digest):
        alg, hexd = digest.split(":", 1)
        return self.v2("blobs", alg, hexd[:2], hexd, "data")

    def repo_dir(self, repo, *parts):
        return self.v2("repositories", *repo.split("/"), *parts)


def _die_with_parent():
    """In the child: get SIGKILL if the test process dies, so no server outlives a killed test."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def upload_uuid(loc):
    path = urllib.parse.urlsplit(loc).path
    return path.rstrip("/").rsplit("/", 1)[-1]


def _complete_response(buf):
    """True once buf holds a whole HTTP response with a Content-Length body."""
    head, sep, rest = buf.partition(b"\r\n\r\n")
    if not sep:
        return False
    m = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
    if m:
        return len(rest) >= int(m.group(1))
    return head.split(b" ", 2)[1:2] in ([b"204"], [b"304"])


def parse_raw_status(buf):
    """The status code of the first response in buf, or None."""
    m = re.match(rb"HTTP/1\.[01] (\d{3})", buf)
    return int(m.group(1)) if m else None


def describe_rc(rc):
    if rc is None:
        return "no exit status"
    if rc < 0:
        try:
            return "signal %s" % signal.Signals(-rc).name
        except ValueError:
            return "signal %d" % -rc
    return "exit code %d" % rc


def tail(text, n=40):
    lines = text.splitlines()
    return "\n".join("      | " + l for l in lines[-n:])


# ---------------------------------------------------------------------------
# On-disk invariants

TEMP_NAME = re.compile(r"(^\.)|(\.tmp)", re.I)


def storage_problems(server, live_uploads=None, verified=None):
    """Leftovers in the storage tree: stray uploads, temp files, blobs that do not hash to their name."""
    problems = []
    live = server.uploads if live_uploads is None else live_uploads
    v2 = server.v2()
    for dirpath, dirnames, filenames in os.walk(v2):
        for n in dirnames + filenames:
            if TEMP_NAME.search(n):
                problems.append("temp file left: %s" % os.path.relpath(os.path.join(dirpath, n), server.root))
        if os.path.basename(dirpath) == "_uploads":
            for u in dirnames:
                if u not in live:
                    problems.append("upload left behind: %s" % os.path.relpath(os.path.join(dirpath, u),
                                                                                  server.root))
        # upload state files belong in _uploads/<uuid>/ and nowhere else under repositories/
        rel = os.path.relpath(dirpath, v2).split(os.sep)
        if rel[0] == "repositories":
            for n in filenames:
                if n in ("data", "startedat") and not (len(rel) >= 3 and rel[-2] == "_uploads"):
                    problems.append("stray upload file: %s" % os.path.relpath(os.path.join(dirpath, n),
                                                                                server.root))
    blobs = server.v2("blobs")
    if os.path.isdir(blobs):
        for alg in os.listdir(blobs):
            for dirpath, dirnames, filenames in os.walk(os.path.join(blobs, alg)):
                rel = os.path.relpath(dirpath, os.path.join(blobs, alg)).split(os.sep)
                if len(rel) != 2:
                    continue
                hexd = rel[1]
                if "data" not in filenames:
                    problems.append("blob directory without data: %s" % os.path.relpath(dirpath, server.root))
                    continue
                extra = [f for f in filenames if f != "data"] + dirnames
                if extra:
                    problems.append("unexpected files in blob directory %s: %s"
                                    % (os.path.relpath(dirpath, server.root), extra))
                p = os.path.join(dirpath, "data")
                try:
                    st = os.stat(p)
                except OSError:
                    continue
                key = (p, st.st_size, st.st_mtime_ns)
                if verified is not None and key in verified:
                    continue
                try:
                    h = hashlib.new(alg)
                except ValueError:
                    problems.append("blob under unknown algorithm directory %s" % alg)
                    continue
                with open(p, "rb") as f:
                    for b in iter(lambda: f.read(1 << 20), b""):
                        h.update(b)
                if h.hexdigest() != hexd:
                    problems.append("blob %s:%s holds data hashing to %s (%d bytes)"
                                    % (alg, hexd, h.hexdigest(), st.st_size))
                elif verified is not None:
                    verified.add(key)
    return problems


def settle_storage(server, live_uploads=None, verified=None, wait=3.0):
    """storage_problems, retried for a moment: an aborted request may still be cleaning up."""
    deadline = time.monotonic() + wait
    while True:
        p = storage_problems(server, live_uploads, verified)
        if not p or time.monotonic() >= deadline:
            return p
        time.sleep(0.1)


# ---------------------------------------------------------------------------
# Reporting

class Checks:
    """Runs named checks, prints TAP-like lines and a summary, and watches the servers."""

    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.servers = []
        self.after_each = []
        self.lock = threading.Lock()

    def watch(self, server):
        self.servers.append(server)
        return server

    def check(self, name, fn, *args, **kw):
        err = None
        try:
            fn(*args, **kw)
        except CheckFailed as e:
            err = str(e)
        except Exception:  # a bug in the test or an unexpected client error is a failure too
            err = "exception:\n" + traceback.format_exc()
        # the post-checks run after a failure too, so leftovers are blamed on the check that made them
        for hook in self.after_each:
            try:
                hook()
            except CheckFailed as e:
                err = (err + "\n" if err else "") + str(e)
                break
            except Exception:
                err = (err + "\n" if err else "") + "exception in post-check:\n" + traceback.format_exc()
                break
        for s in self.servers:
            c = s.crashed()
            if c:
                err = (err + "\n" if err else "") + c
                s.running = False
                s._close_log()
            if (c or s.keep_up) and not s.alive():
                try:
                    s.start(port=s.port)
                except Exception as e:  # keep going so later checks still report
                    err = (err + "\n" if err else "") + "restart failed: %s" % e
        self.report(name, err)
        return err is None

    def report(self, name, err):
        with self.lock:
            if err is None:
                self.passed += 1
                print("ok - %s" % name, flush=True)
            else:
                self.failed += 1
                print("not ok - %s: %s" % (name, err), flush=True)

    def finish(self):
        print("%d passed, %d failed" % (self.passed, self.failed), flush=True)
        sys.exit(1 if self.failed else 0)


def run_main(body):
    """Run body(checks) with every server killed afterwards, then print the summary."""
    checks = Checks()

    def on_term(signum, frame):
        raise SystemExit("killed by signal %d" % signum)
    signal.signal(signal.SIGTERM, on_term)
    try:
        body(checks)
    except Exception:
        checks.report("test program", "aborted:\n" + traceback.format_exc())
    finally:
        for s in checks.servers:
            try:
                s.cleanup()
            except Exception:
                pass
    checks.finish()


def poll(fn, done, timeout=10.0, interval=0.05):
    """fn() again and again until done(value) holds or timeout seconds passed; the last value.
    For what the server writes after its answer (access log, after() hooks, events)."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if done(v) or time.monotonic() > deadline:
            return v
        time.sleep(interval)


def parallel(n, fn):
    """Run fn(i) for i in range(n) on n threads released together; returns results or exceptions."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def worker(i):
        try:
            barrier.wait(timeout=30)
            results[i] = fn(i)
        except BaseException as e:  # reported by the caller
            results[i] = e

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=REQUEST_TIMEOUT * 2)
        if t.is_alive():
            fail("a worker thread did not finish within %.0fs" % (REQUEST_TIMEOUT * 2))
    return results
