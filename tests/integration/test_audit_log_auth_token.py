"""The audit log and the token server together, as deployed: auth-token
issues and checks tokens, audit-log writes what happened. A user logs in
(and once with a wrong password), pushes and pulls with the token, is
refused a push it may not do, and an anonymous client is refused a private
pull. Every line is read back field by field: the login lines come from
the token endpoint (account, client), the push and pull lines carry the
token's identity, and no password or token is in the file.
"""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse

from berth_harness import (BERTH_BIN, PLUGIN_DIR, Server, expect, expect_eq, expect_true,
                           run_main)

SERVICE = "berth-audit-test"
PASSWORD = "correct horse battery staple"


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()}


def lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def main(checks):
    for so in ("auth-token.so", "audit-log.so"):
        if not os.path.exists(os.path.join(PLUGIN_DIR, so)):
            if os.environ.get("CI"):
                raise SystemExit("%s was not built" % so)
            print("# skipped: %s not built" % so)
            raise SystemExit(77)
    tmp = tempfile.mkdtemp(prefix="berth-audit-auth-")
    key = os.path.join(tmp, "signing.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-out", key], check=True, capture_output=True)
    users = os.path.join(tmp, "users")
    subprocess.run([BERTH_BIN, "passwd", "-f", users, "--groups", "dev", "alice"],
                   input=(PASSWORD + "\n").encode(), check=True, capture_output=True)
    audit = os.path.join(tmp, "audit.log")

    class S(Server):
        def config_dict(self):
            d = super().config_dict()
            d["plugins"] = list(d["plugins"]) + [
                {"use": "auth-token",
                 "config": {"realm": "http://127.0.0.1:%d/auth/token" % self.port, "service": SERVICE,
                            "issuer": "berth-audit", "signing_key": key, "users_file": users,
                            "rules": ["team/** group:dev pull,push", "locked/** group:dev pull"]}},
                {"use": "audit-log", "config": {"path": audit}},
            ]
            return d

    s = checks.watch(S(tmpdir=tmp))
    st = {}
    try:
        s.start()

        def token(user, password, scopes):
            q = [("service", SERVICE)] + [("scope", sc) for sc in scopes]
            return s.get("/auth/token?" + urllib.parse.urlencode(q, safe=":/*"),
                         headers=basic(user, password))

        def act():
            r = token("alice", "wrong password", ["repository:team/app:pull"])
            expect_eq(r.status, 401, "a wrong password")
            r = expect(token("alice", PASSWORD, ["repository:team/app:pull,push"]), 200)
            tok = r.json()["token"]
            st["token"] = tok
            h = {"Authorization": "Bearer " + tok}
            cfg = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
            import hashlib
            cd = "sha256:" + hashlib.sha256(cfg).hexdigest()
            expect(s.request("POST", "/v2/team/app/blobs/uploads/?digest=" + cd, body=cfg, headers=h), 201)
            m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                       "digest": cd, "size": len(cfg)}, "layers": []}).encode()
            md = "sha256:" + hashlib.sha256(m).hexdigest()
            st["digest"] = md
            hh = dict(h)
            hh["Content-Type"] = "application/vnd.oci.image.manifest.v1+json"
            expect(s.request("PUT", "/v2/team/app/manifests/v1", body=m, headers=hh), 201)
            hh = dict(h)
            hh["Accept"] = "application/vnd.oci.image.manifest.v1+json"
            expect(s.get("/v2/team/app/manifests/v1", headers=hh), 200)
            r = s.request("POST", "/v2/team/other/blobs/uploads/", headers=h)
            expect_eq(r.status, 401, "a push the token does not grant")
            expect_eq(s.get("/v2/team/app/manifests/v1").status, 401, "an anonymous pull of a private repository")
        checks.check("log in, push, pull, and get refused, through the token server", act)

        def read_back():
            # Lines arrive from more than one hook (a pull through the
            # events queue, a refusal from the request), so wait for the
            # last of each kind rather than for one of them. Each refusal is
            # written by its own request's after(), in no set order: wait
            # for both.
            deadline = time.monotonic() + 10
            got = []
            while time.monotonic() < deadline:
                got = lines(audit)
                pulled = any(l["action"] == "pull" and l["outcome"] == "success" for l in got)
                refused = any(l.get("status") == 401 and l.get("repository") == "team/app" for l in got)
                refused_push = any(l.get("status") == 401 and l.get("repository") == "team/other"
                                   for l in got)
                if pulled and refused and refused_push:
                    break
                time.sleep(0.1)
            now = time.time()

            def one(**want):
                hits = [l for l in got if all(l.get(k) == v for k, v in want.items())]
                expect_eq(len(hits), 1, "one line with %s (of %d: %s)" % (want, len(got), got))
                l = hits[0]
                t = time.mktime(time.strptime(l["time"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
                expect_true(abs(t - now) < 120, "time %s is now" % l["time"])
                expect_eq(l["client"], "127.0.0.1", "client of %s" % want)
                return l
            failed = one(action="login", outcome="failure")
            expect_eq(failed["identity"], "alice", "the account of the failed login")
            expect_true(failed.get("reason"), "the failed login says why")
            one(action="login", outcome="success", identity="alice")
            push = one(action="push", outcome="success", repository="team/app")
            expect_eq(push["identity"], "alice", "the push carries the token's identity")
            expect_eq(push["digest"], st["digest"], "the pushed digest")
            expect_eq(push["reference"], "v1", "the pushed tag")
            pull = one(action="pull", outcome="success", repository="team/app")
            expect_eq((pull["identity"], pull["digest"]), ("alice", st["digest"]), "the pull")
            refusals = [l for l in got if l["outcome"] in ("denied", "failure") and l.get("status") == 401]
            other = [l for l in refusals if l["repository"] == "team/other"]
            expect_eq(len(other), 1, "the refused push is logged: %s" % refusals)
            expect_eq((other[0]["identity"], other[0]["action"]), ("alice", "push"),
                      "it names the token's identity and the act")
            anon = [l for l in refusals if l["repository"] == "team/app"]
            expect_eq(len(anon), 1, "the anonymous refusal is logged: %s" % refusals)
            expect_eq((anon[0]["identity"], anon[0]["action"], anon[0]["reason"]),
                      ("anonymous", "pull", "authentication required"), "the anonymous refusal")
            with open(audit) as f:
                text = f.read()
            for secret in (PASSWORD, "wrong password", st["token"], st["token"].split(".")[2]):
                expect_true(secret not in text, "no secret in the audit log")
        checks.check("the audit lines say who did what, from where, and hold no secret", read_back)

        checks.check("server exits 0 on SIGTERM", s.stop_clean)
    finally:
        for srv in checks.servers:
            srv.kill()
        if not os.environ.get("BERTH_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
