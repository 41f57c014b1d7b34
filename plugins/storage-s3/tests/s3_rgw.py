"""A throw-away Ceph RGW for the storage-s3 tests, driven through ceph_rgw.sh.

Imported by tests/integration/test_storage_s3*.py (which put this folder on
sys.path). `Rgw.start()` returns
None when the Ceph packages are missing outside CI (the caller skips with
77); under CI=true a missing package is a failure.
"""

import os
import shutil
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "..", "tests", "integration", "ceph_rgw.sh")


def skip_or_fail(why):
    """Exit 77 (skipped) outside CI, 1 under CI=true."""
    if os.environ.get("CI"):
        print("not ok - %s (required under CI)" % why)
        raise SystemExit(1)
    print("# skipped: %s" % why)
    raise SystemExit(77)


class Rgw:
    def __init__(self):
        self.base = None
        self.env = {}

    def start(self):
        if subprocess.run(["bash", SCRIPT, "check"], stdout=subprocess.PIPE).returncode != 0:
            skip_or_fail("Ceph packages (ceph-mon ceph-osd radosgw ceph-common) are not installed")
        self.base = tempfile.mkdtemp(prefix="berth-rgw-")
        r = subprocess.run(["bash", SCRIPT, "up", self.base], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=180)
        if r.returncode != 0:
            raise RuntimeError("ceph_rgw.sh up failed:\n%s" % r.stdout.decode(errors="replace"))
        with open(os.path.join(self.base, "env")) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                self.env[k] = v
        return self

    @property
    def endpoint(self):
        return self.env["RGW_ENDPOINT"]

    def bucket(self, name):
        subprocess.run(["bash", SCRIPT, "bucket", self.base, name], check=True, timeout=60)
        return name

    def gateway(self, name):
        r = subprocess.run(["bash", SCRIPT, "gateway", self.base, name], stdout=subprocess.PIPE,
                           check=True, timeout=60)
        return r.stdout.decode().strip().splitlines()[-1]

    def kill(self, name):
        subprocess.run(["bash", SCRIPT, "kill", self.base, name], check=True, timeout=60)

    def restart(self, name):
        subprocess.run(["bash", SCRIPT, "restart", self.base, name], check=True, timeout=60)

    def storage_config(self, bucket, endpoint=None, **extra):
        cfg = {"endpoint": endpoint or self.endpoint, "bucket": bucket,
               "access_key": self.env["S3_ACCESS"], "secret_key": self.env["S3_SECRET"],
               "retry_backoff": "50ms"}
        cfg.update(extra)
        return {"plugins": [{"use": "storage-s3", "config": cfg}]}

    def s3(self, method, bucket, key, out=None, endpoint=None):
        """A signed request with curl (as an independent S3 client); returns the HTTP status."""
        url = "%s/%s/%s" % (endpoint or self.endpoint, bucket, key)
        args = ["curl", "-s", "-o", out or "/dev/null", "-w", "%{http_code}", "-X", method,
                "--aws-sigv4", "aws:amz:us-east-1:s3",
                "--user", "%s:%s" % (self.env["S3_ACCESS"], self.env["S3_SECRET"]),
                "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", url]
        if method == "HEAD":
            args[args.index("-X"):args.index("-X") + 2] = ["-I"]
        r = subprocess.run(args, stdout=subprocess.PIPE, timeout=60)
        return int(r.stdout.decode() or 0)

    def stop(self):
        if self.base:
            subprocess.run(["bash", SCRIPT, "down", self.base], timeout=60)
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None
