"""auth-token: two instances side by side in one server.

"people" runs the token protocol for users; "robots" is a second instance of
the same plugin in Basic-only mode, for robots that send credentials with
every request. The robots instance is declared first but runs its hooks
after (priority), so the token routes land on it and must find the
instance that serves tokens. Checked: each instance judges only the
identities it authenticated (the first definite answer wins), the challenge
is the people's Bearer one, a robot's Basic push and its limits, client
lockout counted in the metric, and revocation through the admin endpoint
reaching the robots instance's file.
"""
import base64
import json
import os
import re
import subprocess
import tempfile
import time
import urllib.parse

from berth_harness import (BERTH_BIN, Server, expect, expect_eq, expect_header, expect_true, fail,
                           run_main)

SERVICE = "berth-it-2"
ISSUER = "berth-it-2-issuer"
PASSWORDS = {"alice": "alice-pw-2", "admin": "admin-pw-2", "robot$ci": "ci-robot-pw"}


class TwoInstances(Server):
    def __init__(self, tmpdir, people, robots):
        super().__init__(tmpdir=tmpdir)
        self.people, self.robots = people, robots
        self.default_headers = {}

    def config_dict(self):
        d = super().config_dict()
        people = dict(self.people, realm="http://127.0.0.1:%d/auth/token" % self.port)
        d["plugins"] = d["plugins"] + [
            {"use": "auth-token", "name": "robots", "priority": 10, "config": self.robots},
            {"use": "auth-token", "name": "people", "config": people},
            {"use": "metrics-prometheus", "config": {"listen": "off", "main_port": True}},
        ]
        return d

    def request(self, method, path, body=None, headers=None, timeout=30.0):
        if self.default_headers and not isinstance(headers, list):
            h = dict(self.default_headers)
            h.update(headers or {})
            headers = h
        return super().request(method, path, body=body, headers=headers, timeout=timeout)


def basic(user, password=None):
    pw = PASSWORDS.get(user, "") if password is None else password
    return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()}


def passwd(*args, password):
    r = subprocess.run([BERTH_BIN, "passwd"] + list(args), input=(password + "\n").encode(),
                       capture_output=True, timeout=60)
    if r.returncode != 0:
        fail("berth passwd %s: %s" % (args, r.stderr.decode()))
    return r.stdout.decode()


def metric(s, name, **labels):
    r = expect(s.get("/metrics"), 200)
    total = None
    for line in r.body.decode().splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$", line)
        if m and m.group(1) == name and all(
                dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or "")).get(k) == v
                for k, v in labels.items()):
            total = (total or 0) + float(m.group(3))
    return total


def main(checks):
    tmp = tempfile.mkdtemp(prefix="berth-auth-token-2-")
    key = os.path.join(tmp, "signing.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", key], check=True, capture_output=True)
    users, robots = os.path.join(tmp, "users"), os.path.join(tmp, "robots")
    passwd("-f", users, "--groups", "devs", "alice", password=PASSWORDS["alice"])
    passwd("-f", users, "--groups", "admins", "admin", password=PASSWORDS["admin"])
    robot_hash = passwd("--print", "x", password=PASSWORDS["robot$ci"]).strip()
    with open(robots, "w") as f:
        f.write("robot$ci %s 2099-01-01T00:00:00Z ci/**:pull,push public/**:pull\n" % robot_hash)
    people = {"service": SERVICE, "issuer": ISSUER, "signing_key": key, "users_file": users,
              "bruteforce_client_failures": 0,
              "rules": ["team/** group:devs pull,push", "public/** anonymous,authenticated pull",
                        "route:/berth/v1/auth group:admins *", "** group:admins *"]}
    robots_cfg = {"mode": "basic", "realm": "berth robots", "robots_file": robots,
                  "bruteforce_client_failures": 3, "bruteforce_account_failures": 0,
                  "bruteforce_window": "2s", "bruteforce_lockout": "3s"}
    s = checks.watch(TwoInstances(tmp, people, robots_cfg))

    def starts():
        s.start()
        out = subprocess.run([BERTH_BIN, "plugins", "-c", s.config_path], capture_output=True,
                             timeout=60).stdout.decode()
        expect_true(re.search(r"auth hooks: people\(0\), robots\(10\)", out) is not None,
                    "people's hooks run first:\n" + out)

    if not checks.check("two auth-token instances start side by side", starts):
        return

    def token(user, scope):
        q = urllib.parse.urlencode({"service": SERVICE, "scope": scope}, safe=":/*")
        r = expect(s.get("/auth/token?" + q, headers=basic(user)), 200)
        return r.json()["token"]

    def people_use_tokens():
        r = expect(s.get("/v2/"), 401, "UNAUTHORIZED")
        expect_true(expect_header(r, "WWW-Authenticate").startswith('Bearer realm="http://127.0.0.1:'),
                    "the first instance's challenge")
        t = token("alice", "repository:team/app:pull,push")
        expect_eq(json.loads(base64.urlsafe_b64decode(t.split(".")[0] + "==")).get("alg"), "RS256",
                  "signed by the people instance's RSA key")
        s.default_headers = {"Authorization": "Bearer " + t}
        try:
            s.push_image("team/app", "v1")
        finally:
            s.default_headers = {}

    def robots_use_basic():
        s.default_headers = basic("robot$ci")
        try:
            s.push_image("ci/app", "v1")
            expect(s.get("/v2/ci/app/tags/list"), 200)
            r = expect(s.request("POST", "/v2/team/app/blobs/uploads/"), 403, "DENIED")
            expect(s.get("/v2/team/app/tags/list"), 403, "DENIED")
        finally:
            s.default_headers = {}
        # people's users are not the robots instance's: Basic from alice is refused
        r = expect(s.get("/v2/team/app/tags/list", headers=basic("alice")), 401, "UNAUTHORIZED")
        expect_true(expect_header(r, "WWW-Authenticate").startswith("Bearer "), "challenge")
        # and robots get no token from the people's token server
        q = urllib.parse.urlencode({"service": SERVICE, "scope": "repository:ci/app:pull"}, safe=":/")
        expect(s.get("/auth/token?" + q, headers=basic("robot$ci")), 401, "UNAUTHORIZED")

    def anonymous_public_pull():
        t = token("alice", "repository:public/x:push")   # nothing granted, still a token
        expect(s.get("/v2/", headers={"Authorization": "Bearer " + t}), 200)
        expect(s.get("/v2/public/x/tags/list"), 404, "NAME_UNKNOWN")

    def client_lockout():
        before = metric(s, "berth_auth_lockouts_total", kind="client") or 0
        time.sleep(2.1)   # earlier failures leave the window
        for name in ("x1", "x2", "x3"):
            expect(s.get("/v2/ci/app/tags/list", headers=basic(name, "nope")), 401, "UNAUTHORIZED")
        r = expect(s.get("/v2/ci/app/tags/list", headers=basic("robot$ci")), 429, "TOOMANYREQUESTS")
        expect_eq(metric(s, "berth_auth_lockouts_total", kind="client"), before + 1, "client lockout counted")
        time.sleep(3.2)
        expect(s.get("/v2/ci/app/tags/list", headers=basic("robot$ci")), 200)

    def revoke_reaches_the_robots_file():
        t = token("admin", "route:/berth/v1/auth:DELETE")
        path = "/berth/v1/auth/robots/" + urllib.parse.quote("robot$ci")
        expect(s.delete(path, headers={"Authorization": "Bearer " + t}), 204)
        with open(robots) as f:
            expect_eq(f.read(), "", "robots file after the revocation")
        expect(s.get("/v2/ci/app/tags/list", headers=basic("robot$ci")), 401, "UNAUTHORIZED")

    checks.check("people: Bearer challenge, tokens, push", people_use_tokens)
    checks.check("robots: Basic push within grants, 403 outside, users refused", robots_use_basic)
    checks.check("anonymous and empty tokens", anonymous_public_pull)
    checks.check("robots instance: client lockout (429) and its metric", client_lockout)
    checks.check("admin endpoint revokes in the robots instance's file", revoke_reaches_the_robots_file)
    checks.check("server stops cleanly", s.stop_clean)


if __name__ == "__main__":
    run_main(main)
