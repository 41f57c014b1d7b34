"""The three servers under test, each on its own loopback port and root.

Berth serves with storage-fs only (no other plugin), Distribution is Debian's
docker-registry with filesystem storage, nginx serves the same blob and
manifest files statically with sendfile as a ceiling for pulls.
"""
import os
import shutil
import subprocess
import time

from . import proc

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class Server:
    kind = ""

    def __init__(self, name, workdir):
        self.name = name
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.proc = None
        self.port = 0
        self.root = None
        self.start_seconds = 0.0

    @property
    def addr(self):
        return f"127.0.0.1:{self.port}"

    @property
    def url(self):
        return f"http://{self.addr}"

    @property
    def pid(self):
        return self.proc.pid

    def _argv(self):
        raise NotImplementedError

    def _configure(self):
        raise NotImplementedError

    def start(self, root):
        """Serve root (created when missing); records the start time."""
        self.root = root
        os.makedirs(root, exist_ok=True)
        last = None
        for _ in range(3):
            self.port = proc.free_port()
            self._configure()
            log = os.path.join(self.dir, "server.log")
            t0 = time.monotonic()
            self.proc = proc.spawn(self._argv(), log)
            try:
                proc.wait_http(self.proc, self.port)
                self.start_seconds = time.monotonic() - t0
                return self
            except RuntimeError as e:
                last = e
                proc.stop(self.proc, 5)
                with open(log, errors="replace") as f:
                    if "in use" not in f.read():
                        break
        raise RuntimeError(f"{self.name} did not start: {last} (see {self.dir}/server.log)")

    def stop(self):
        if self.proc is not None:
            proc.stop(self.proc)
            self.proc = None

    def restart(self, root):
        self.stop()
        return self.start(root)


class Berth(Server):
    kind = "berth"

    def __init__(self, name, workdir, binary, plugin_dir, fsync=True):
        super().__init__(name, workdir)
        self.binary, self.plugin_dir, self.fsync = binary, plugin_dir, fsync
        self.config = os.path.join(self.dir, "berth.yaml")

    def _configure(self):
        # Every client of the benchmark comes from 127.0.0.1: the per-address
        # limits (128 connections, 32 uploads) would refuse its 256
        # connections and 32 concurrent pushes, so they are off.
        with open(self.config, "w") as f:
            f.write(f"""listen: 127.0.0.1:{self.port}
plugin_path: ["{self.plugin_dir}"]
plugins:
  - use: storage-fs
    config:
      root: "{self.root}"
      fsync: {"true" if self.fsync else "false"}
limits:
  max_connections_per_client: 0
  max_uploads_per_client: 0
""")

    def _argv(self):
        return [self.binary, "serve", "-c", self.config]

    def stop(self):
        """Berth must exit 0 on SIGTERM, and a sanitizer build must have
        reported nothing: a benchmark run doubles as a check of both."""
        if self.proc is None:
            return
        rc = proc.stop(self.proc)
        self.proc = None
        log = os.path.join(self.dir, "server.log")
        with open(log, errors="replace") as f:
            text = f.read()
        bad = [w for w in ("runtime error:", "AddressSanitizer", "LeakSanitizer") if w in text]
        if rc != 0 or bad:
            raise RuntimeError(f"{self.name} exited {rc} after SIGTERM"
                               + (f", and its log has {bad[0]}" if bad else "")
                               + f" (see {log})")


class Distribution(Server):
    kind = "distribution"

    def _configure(self):
        self.config = os.path.join(self.dir, "config.yml")
        with open(self.config, "w") as f:
            f.write(f"""version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: "{self.root}"
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{self.port}
""")

    def _argv(self):
        return ["docker-registry", "serve", self.config]


class Nginx(Server):
    """Serves /v2/<any>/blobs/sha256:<hex> from the layout's blob files and
    one manifest by tag as a static file."""
    kind = "nginx"

    def __init__(self, name, workdir, manifest_path, manifest_digest):
        super().__init__(name, workdir)
        self.manifest_path = manifest_path
        self.manifest_digest = manifest_digest

    def _configure(self):
        tmp = os.path.join(self.dir, "tmp")
        os.makedirs(tmp, exist_ok=True)
        blobs = os.path.join(self.root, "docker/registry/v2/blobs/sha256")
        manifest = os.path.join(blobs, self.manifest_digest[7:9],
                                self.manifest_digest[7:], "data")
        self.config = os.path.join(self.dir, "nginx.conf")
        # keepalive_requests is raised so that nginx, like the registries,
        # keeps a benchmark connection open for the whole run.
        with open(self.config, "w") as f:
            f.write(f"""daemon off;
user root;
worker_processes auto;
error_log {self.dir}/error.log;
pid {self.dir}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
  access_log {self.dir}/access.log;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  server {{
    listen 127.0.0.1:{self.port};
    location = /v2/ {{ default_type application/json; return 200 '{{}}'; }}
    location ~ "^/v2/.+/blobs/sha256:([0-9a-f]{{2}})([0-9a-f]{{62}})$" {{
      default_type application/octet-stream;
      alias {blobs}/$1/$1$2/data;
    }}
    location = {self.manifest_path} {{
      default_type {OCI_MANIFEST};
      alias {manifest};
    }}
  }}
}}
""")

    def _argv(self):
        return ["nginx", "-p", self.dir, "-c", self.config, "-e",
                os.path.join(self.dir, "error.log")]


def fresh_root(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def clone_root(seed, path):
    """A private copy of a prepared layout: hard links, so no bytes are copied
    and every server reads the same files (Berth and Distribution replace a
    file by renaming a new one over it, never by writing into it)."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    subprocess.run(["cp", "-al", seed, path], check=True)
    return path
