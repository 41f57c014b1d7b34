"""auth-token: the Docker token protocol against a real berth with the real plugin.

One server runs the plugin as its own token server (ES256), trusting an
external issuer too: a root certificate bundle (x5c chains and the root's
own key by RFC 7638 thumbprint and libtrust kid) and a JWKS file. Users are
written with `berth passwd` (bcrypt and sha512-crypt), robots by hand.
Tokens for the attacks and for the external issuer are made here with the
openssl CLI.

Checked: the 401 challenge and error bodies, GET and POST token flows,
refresh tokens, scope intersection, anonymous tokens, catalog filtering,
every token attack the issue lists (each 401), external tokens, robots
(grants, expiry, revocation by file and by the admin endpoint), users file
reload, brute-force lockout and its end, the login events and the lockout
metric, and that no password or token reaches the log or the events.
"""
import base64
import hashlib
import hmac
import json
import os
import pty
import re
import select
import subprocess
import tempfile
import time
import urllib.parse

from berth_harness import (BERTH_BIN, PLUGIN_DIR, Server, expect, expect_eq, expect_header,
                           expect_true, fail, run_main)

SERVICE = "berth-it"
ISSUER = "berth-it-issuer"
PASSWORDS = {"alice": "alice-S3cret!", "bob": "bob-pass:with:colons", "admin": "admin-pw-1",
             "carol": "carol-pw-9", "robot$ci": "robot-ci-secret", "robot$old": "robot-old-secret",
             "robot$tmp": "robot-tmp-secret", "dave": "dave-pw"}
DENIED = "requested access to the resource is denied"


# ---------------------------------------------------------------------------
# openssl and JOSE helpers

def run(args, input=None, env=None):
    r = subprocess.run(args, input=input, capture_output=True, env=env, timeout=60)
    if r.returncode != 0:
        fail("%s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr.decode(errors="replace")))
    return r.stdout


def openssl(*args, input=None):
    return run(["openssl"] + list(args), input=input)


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(obj):
    return b64url(json.dumps(obj, separators=(",", ":")))


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_parts(token):
    h, p, _ = token.split(".")
    return json.loads(unb64url(h)), json.loads(unb64url(p))


def der_ecdsa_to_raw(der, size=32):
    """An ECDSA-Sig-Value (SEQUENCE of two INTEGERs) as JWS r||s."""
    if der[0] != 0x30:
        fail("not a DER ECDSA signature")
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7f)
    out = b""
    for _ in range(2):
        if der[i] != 0x02:
            fail("not a DER INTEGER")
        n = der[i + 1]
        v = der[i + 2:i + 2 + n].lstrip(b"\0")
        out += v.rjust(size, b"\0")
        i += 2 + n
    return out


def sign(tmp, key, data, ec):
    path = os.path.join(tmp, "signing-input")
    with open(path, "wb") as f:
        f.write(data)
    sig = openssl("dgst", "-sha256", "-sign", key, path)
    return der_ecdsa_to_raw(sig) if ec else sig


def make_jwt(tmp, header, claims, key=None, ec=False, raw_sig=None):
    signing_input = (b64url_json(header) + "." + b64url_json(claims)).encode()
    if raw_sig is not None:
        sig = raw_sig
    elif key:
        sig = sign(tmp, key, signing_input, ec)
    else:
        sig = b""
    return signing_input.decode() + "." + b64url(sig)


def rsa_modulus_b64(pem_path, cert=False):
    out = openssl("x509" if cert else "rsa", "-in", pem_path, "-noout", "-modulus").decode()
    return b64url(bytes.fromhex(out.strip().split("=", 1)[1]))


def rfc7638_rsa(n_b64):
    return b64url(hashlib.sha256(('{"e":"AQAB","kty":"RSA","n":"%s"}' % n_b64).encode()).digest())


def libtrust_kid(spki_der):
    b32 = base64.b32encode(hashlib.sha256(spki_der).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i:i + 4] for i in range(0, 48, 4))


def cert_der_b64(pem_path):
    return base64.b64encode(openssl("x509", "-in", pem_path, "-outform", "DER")).decode()


class PKI:
    """Keys and certificates for the own token server and an external issuer."""

    def __init__(self, tmp):
        self.tmp = tmp
        p = lambda n: os.path.join(tmp, n)
        self.signing_key = p("signing.pem")
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                self.signing_key)
        self.signing_pub = openssl("pkey", "-in", self.signing_key, "-pubout")
        with open(p("ext-ca"), "w") as f:
            f.write("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
        with open(p("ext-leaf"), "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n")
        self.ca_key, self.ca = self.root("ca", "berth test token root")
        self.int_key, self.int_cert = self.issued("int", "rsa", self.ca, self.ca_key, "ext-ca")
        self.leaf_key, self.leaf = self.issued("leaf", "ec", self.int_cert, self.int_key, "ext-leaf")
        rogue_key, rogue = self.root("rogue", "rogue root")
        self.rogue_leaf_key, self.rogue_leaf = self.issued("rogue-leaf", "ec", rogue, rogue_key,
                                                           "ext-leaf")
        # The root's own key signs tokens found by thumbprint or libtrust kid.
        self.ca_thumbprint = rfc7638_rsa(rsa_modulus_b64(self.ca, cert=True))
        spki = openssl("x509", "-in", self.ca, "-pubkey", "-noout")
        self.ca_libtrust = libtrust_kid(openssl("pkey", "-pubin", "-outform", "DER", input=spki))
        # A JWKS key, trusted under its kid only.
        self.jwks_key = p("jwks-key.pem")
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
                self.jwks_key)
        self.jwks = p("jwks.json")
        with open(self.jwks, "w") as f:
            json.dump({"keys": [{"kty": "RSA", "kid": "jwks-key-1", "use": "sig", "alg": "RS256",
                                 "e": "AQAB", "n": rsa_modulus_b64(self.jwks_key)}]}, f)

    def root(self, name, cn):
        key, cert = os.path.join(self.tmp, name + ".key"), os.path.join(self.tmp, name + ".pem")
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                "-subj", "/CN=" + cn, "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        return key, cert

    def issued(self, name, kind, ca, ca_key, ext):
        key, csr, cert = (os.path.join(self.tmp, name + s) for s in (".key", ".csr", ".pem"))
        if kind == "ec":
            openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
        else:
            openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key)
        openssl("req", "-new", "-key", key, "-out", csr, "-subj", "/CN=" + name)
        openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
                "-out", cert, "-days", "2", "-extfile", os.path.join(self.tmp, ext))
        return key, cert


def claims(sub="extuser", access=None, **over):
    now = int(time.time())
    c = {"iss": ISSUER, "sub": sub, "aud": SERVICE, "exp": now + 300, "nbf": now - 5, "iat": now - 5,
         "jti": os.urandom(8).hex(),
         "access": access if access is not None else
         [{"type": "repository", "name": "ext/app", "actions": ["pull", "push"]}]}
    c.update(over)
    return c


# ---------------------------------------------------------------------------
# The server

class AuthServer(Server):
    """A berth whose config carries the auth plugins; the realm names its own port."""

    def __init__(self, tmpdir, auth_instances, extra_plugins=(), name="berth"):
        super().__init__(tmpdir=tmpdir, name=name)
        self.auth_instances = auth_instances
        self.extra_plugins = list(extra_plugins)
        self.default_headers = {}

    def config_dict(self):
        d = super().config_dict()
        plugins = list(d["plugins"])
        for inst in self.auth_instances:
            inst = json.loads(json.dumps(inst))
            cfg = inst.setdefault("config", {})
            if cfg.get("mode", "token") == "token":
                cfg["realm"] = "http://127.0.0.1:%d/auth/token" % self.port
            plugins.append(inst)
        d["plugins"] = plugins + self.extra_plugins
        return d

    def request(self, method, path, body=None, headers=None, timeout=30.0):
        if self.default_headers and not isinstance(headers, list):
            h = dict(self.default_headers)
            h.update(headers or {})
            headers = h
        return super().request(method, path, body=body, headers=headers, timeout=timeout)


def basic(user, password=None):
    pw = PASSWORDS[user] if password is None else password
    return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()}


def bearer(token):
    return {"Authorization": "Bearer " + token}


def token_get(s, user=None, password=None, scopes=(), **params):
    q = [("service", SERVICE)] + [("scope", sc) for sc in scopes] + list(params.items())
    path = "/auth/token?" + urllib.parse.urlencode(q, safe=":/*")
    return s.get(path, headers=basic(user, password) if user else None)


def token_of(s, user=None, scopes=(), **params):
    r = expect(token_get(s, user, None, scopes, **params), 200)
    return r.json()["token"]


def token_post(s, fields, ctype="application/x-www-form-urlencoded"):
    body = urllib.parse.urlencode(fields).encode()
    return s.request("POST", "/auth/token", body=body, headers={"Content-Type": ctype})


def challenge_params(resp):
    v = expect_header(resp, "WWW-Authenticate")
    if not v.startswith("Bearer "):
        fail("challenge is not Bearer: %r%s" % (v, resp.describe()))
    return dict(re.findall(r'(\w+)="([^"]*)"', v))


def expect_401(resp, error=None, scope=None):
    expect(resp, 401, "UNAUTHORIZED")
    p = challenge_params(resp)
    expect_eq(p.get("error"), error, "challenge error parameter")
    if scope is not None:
        expect_eq(p.get("scope"), scope, "challenge scope")
    return p


def metric(s, name, **labels):
    r = expect(s.get("/metrics"), 200)
    total = None
    for line in r.body.decode().splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$", line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total = (total or 0) + float(m.group(3))
    return total


def events(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def wait_events(path, pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in events(path) if pred(e)]
        if found:
            return found
        time.sleep(0.05)
    return []


def berth_passwd(*args, password=None):
    r = subprocess.run([BERTH_BIN, "passwd"] + list(args),
                       input=(password + "\n").encode() if password is not None else None,
                       capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


# ---------------------------------------------------------------------------

def main(checks):
    tmp = tempfile.mkdtemp(prefix="berth-auth-token-")
    pki = PKI(tmp)
    users = os.path.join(tmp, "users")
    robots = os.path.join(tmp, "robots")
    events_file = os.path.join(tmp, "events.jsonl")
    issued = []          # every token the server handed out, to look for in logs

    def passwd_users():
        for name, args in (("alice", ["--groups", "devs"]), ("bob", ["--sha512", "--groups", "readers"]),
                           ("admin", ["--groups", "admins,devs"]), ("carol", [])):
            rc, out, err = berth_passwd("-f", users, *args, name, password=PASSWORDS[name])
            if rc != 0:
                fail("berth passwd %s: exit %d: %s" % (name, rc, err))
        rc, out, err = berth_passwd("--print", "robot", password=PASSWORDS["robot$ci"])
        expect_eq(rc, 0, "berth passwd --print exit status")
        ci_hash = out.strip()
        rc, out, _ = berth_passwd("--print", "--sha512", "robot", password=PASSWORDS["robot$old"])
        old_hash = out.strip()
        with open(robots, "w") as f:
            f.write("# robots\nrobot$ci %s 2099-01-01T00:00:00Z team/app:pull,push registry:catalog:*\n"
                    "robot$old %s 2020-01-01T00:00:00Z team/app:pull\n" % (ci_hash, old_hash))

    checks.check("berth passwd writes bcrypt and sha512-crypt entries", passwd_users)

    def bad_config_is_refused():
        so = os.path.join(PLUGIN_DIR, "auth-token.so")
        good = {"realm": "http://127.0.0.1:1/auth/token", "service": SERVICE, "issuer": ISSUER,
                "signing_key": pki.signing_key, "users_file": users}
        cases = (
            ({"realm": None}, "mode token needs realm, service and issuer"),
            ({"realm": "/auth/token"}, "must be an absolute http:// or https:// URL"),
            ({"service": 'a"b'}, "may not hold quotes"),
            ({"signingalgorithms": ["RS256", "HS256"]}, "'HS256' is not supported"),
            ({"signing_key": None}, "no key to check tokens with"),
            ({"signing_key": users}, "not a PEM private key"),
            ({"signing_key": os.path.join(tmp, "missing.pem")}, "cannot open it"),
            ({"signingalgorithms": ["RS256"]}, "signs with ES256, which signingalgorithms does not accept"),
            ({"jwks": users}, "jwks '%s': not a JWKS document" % users),
            ({"rootcertbundle": users}, "no PEM certificate in it"),
            ({"users_file": os.path.join(tmp, "missing-users")}, "cannot open"),
            ({"token_lifetime": "10s"}, "token_lifetime: between 60s and 24h"),
            ({"leeway": "1h"}, "leeway: between 0s and 10m"),
            ({"mode": "ldap"}, "mode 'ldap': token or basic"),
            ({"mode": "basic", "users_file": None}, "mode basic needs users_file or robots_file"),
            ({"rules": ["team/** user:x fly"]}, "rules[0] 'team/** user:x fly': repository actions are"),
            ({"rules": ["team/** someone pull"]}, "a subject is user:NAME, group:NAME, anonymous"),
            ({"bruteforce_account_failures": -1}, "between 0 (off) and 1000000"),
            ({"bruteforce_window": "0s"}, "bruteforce_window and bruteforce_lockout"),
            ({"realms": "x"}, "unknown key 'realms'"),
        )
        for change, message in cases:
            cfg = dict(good)
            cfg.update(change)
            cfg = {k: v for k, v in cfg.items() if v is not None}
            path = os.path.join(tmp, "bad.yaml")
            with open(path, "w") as f:
                json.dump(cfg, f)   # JSON is YAML
            r = subprocess.run([BERTH_BIN, "plugin", "check", so, "--config", path, "--start"],
                               capture_output=True, timeout=60)
            out = (r.stdout + r.stderr).decode(errors="replace")
            if r.returncode == 0 or message not in out:
                fail("config %r: want a failure saying %r, got exit %d:\n%s"
                     % (change, message, r.returncode, out[-1500:]))
        with open(os.path.join(tmp, "good.yaml"), "w") as f:
            json.dump(good, f)
        r = subprocess.run([BERTH_BIN, "plugin", "check", so, "--config",
                            os.path.join(tmp, "good.yaml"), "--start"], capture_output=True, timeout=60)
        expect_eq(r.returncode, 0, "the good config starts (%s)" % r.stderr.decode(errors="replace")[-500:])

    checks.check("bad config values are refused with the key and why", bad_config_is_refused)
    config = {
        "service": SERVICE, "issuer": ISSUER, "signing_key": pki.signing_key,
        "rootcertbundle": pki.ca, "jwks": pki.jwks, "users_file": users, "robots_file": robots,
        "leeway": "10s", "bruteforce_account_failures": 3, "bruteforce_client_failures": 0,
        "bruteforce_window": "60s", "bruteforce_lockout": "3s",
        "rules": [
            "**                 group:admins            *",
            "public/**          anonymous,authenticated pull",
            # authenticated names admins too: on public/** it is more specific
            # than their ** rule, so they are named again here
            "public/**          group:admins            *",
            "team/**            group:devs              pull,push,delete",
            "team/**            group:readers           pull",
            "registry:catalog   authenticated           *",
            "route:/berth/v1/auth group:admins          *",
        ],
    }
    extra = [{"use": "metrics-prometheus", "config": {"listen": "off", "main_port": True}},
             {"use": "hello-notify", "config": {"path": events_file}}]
    s = checks.watch(AuthServer(tmp, [{"use": "auth-token", "config": config}], extra))
    s.start()

    def get_token(user, scopes=(), **params):
        t = token_of(s, user, scopes, **params)
        issued.append(t)
        return t

    # --- challenge -----------------------------------------------------------

    def challenge_on_base():
        r = s.get("/v2/")
        p = expect_401(r)
        expect_eq(p.get("realm"), "http://127.0.0.1:%d/auth/token" % s.port, "realm")
        expect_eq(p.get("service"), SERVICE, "service")
        expect_true("scope" not in p, "no scope on GET /v2/")
        expect_header(r, "Docker-Distribution-API-Version", "registry/2.0")

    def challenge_names_every_scope():
        expect_401(s.get("/v2/team/app/manifests/latest"), scope="repository:team/app:pull")
        r = s.request("POST", "/v2/team/app/blobs/uploads/?mount=sha256:%s&from=team/base" % ("0" * 64))
        p = expect_401(r)
        expect_eq(sorted(p["scope"].split(" ")),
                  ["repository:team/app:pull,push", "repository:team/base:pull"], "mount scopes")
        expect_401(s.delete("/v2/team/app/manifests/sha256:" + "1" * 64), scope="repository:team/app:delete")

    checks.check("401 challenge: realm and service on GET /v2/", challenge_on_base)
    checks.check("401 challenge: every scope the request needs", challenge_names_every_scope)

    # --- token server, GET ---------------------------------------------------

    def token_get_intersection():
        t0 = time.time()
        r = expect(token_get(s, "alice", None, [
            "repository:team/app:pull,push repository:public/lib:pull,push,delete "
            "repository:secret/x:pull registry:catalog:* repository:team/app:fly"]), 200)
        doc = r.json()
        issued.append(doc["token"])
        expect_eq(doc["token"], doc["access_token"], "token and access_token")
        expect_eq(doc["expires_in"], 300, "expires_in")
        expect_true("refresh_token" not in doc, "no refresh_token unless asked")
        at = time.mktime(time.strptime(doc["issued_at"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
        expect_true(abs(at - t0) < 5, "issued_at %s is now" % doc["issued_at"])
        expect_eq(r.header("Cache-Control"), "no-store", "Cache-Control")
        h, c = jwt_parts(doc["token"])
        expect_eq((h["alg"], h["typ"]), ("ES256", "JWT"), "token header")
        expect_true(re.fullmatch(r"[A-Za-z0-9_-]{43}", h["kid"]) is not None, "kid is a thumbprint")
        expect_eq((c["iss"], c["aud"], c["sub"]), (ISSUER, SERVICE, "alice"), "iss, aud, sub")
        expect_eq(c["exp"] - c["iat"], 300, "lifetime")
        got = {(a["type"], a["name"]): sorted(a["actions"]) for a in c["access"]}
        expect_eq(got, {("repository", "team/app"): ["pull", "push"],
                        ("repository", "public/lib"): ["pull"],
                        ("registry", "catalog"): ["*"]}, "granted = asked and allowed")

    def token_repeated_scope_params():
        # The GET form repeats scope= (Docker on a cross-repository mount).
        t = get_token("alice", ["repository:team/app:pull", "repository:team/base:pull"])
        got = sorted(a["name"] for a in jwt_parts(t)[1]["access"])
        expect_eq(got, ["team/app", "team/base"], "both repeated scopes granted")

    def token_login_without_scope():
        # docker login / podman login: no scope, empty access, and /v2/ answers 200.
        t = get_token("bob", account="bob", client_id="docker")
        expect_eq(jwt_parts(t)[1]["access"], [], "access of a scope-less token")
        expect(s.get("/v2/", headers=bearer(t)), 200)

    def token_bad_credentials():
        for user, pw in (("alice", "wrong"), ("nobody", "x"), ("alice", "")):
            r = expect(token_get(s, user, pw, ["repository:team/app:pull"]), 401, "UNAUTHORIZED")
            expect_eq(r.json()["errors"][0]["message"], "invalid username or password", "message")
        r = s.get("/auth/token?service=%s" % SERVICE, headers={"Authorization": "Basic !!notbase64"})
        expect(r, 401, "UNAUTHORIZED")
        r = expect(token_get(s, "alice", None, [], account="bob"), 401, "UNAUTHORIZED")
        r = expect(s.get("/auth/token?service=other-service", headers=basic("alice")), 400)
        r = expect(s.get("/auth/token?service=%s&scope=%s" % (SERVICE, "a" * 5000),
                         headers=basic("alice")), 400)

    checks.check("GET token: fields, ES256 JWT, granted = asked and allowed", token_get_intersection)
    checks.check("GET token: repeated scope parameters", token_repeated_scope_params)
    checks.check("GET token: login without scope, /v2/ then 200", token_login_without_scope)
    checks.check("GET token: wrong credentials 401, bad parameters 400", token_bad_credentials)

    # --- using tokens --------------------------------------------------------

    def push_pull_with_token():
        t = get_token("alice", ["repository:team/app:pull,push"])
        s.default_headers = bearer(t)
        try:
            body, digest = s.push_image("team/app", "v1")
            r = expect(s.get("/v2/team/app/manifests/v1",
                             headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}), 200)
            expect_eq(r.header("Docker-Content-Digest"), digest, "pulled digest")
        finally:
            s.default_headers = {}
        # admin fills the other repositories the later checks use
        t = get_token("admin", ["repository:secret/x:push,pull repository:public/base:push,pull "
                                "repository:team/base:pull,push"])
        s.default_headers = bearer(t)
        try:
            for repo in ("secret/x", "public/base", "team/base"):
                s.push_image(repo, "v1")
        finally:
            s.default_headers = {}

    def token_scope_is_enforced():
        t = get_token("alice", ["repository:team/app:pull"])
        expect(s.get("/v2/team/app/tags/list", headers=bearer(t)), 200)
        # a token for team/app on team/base
        expect_401(s.get("/v2/team/base/tags/list", headers=bearer(t)), "insufficient_scope",
                   "repository:team/base:pull")
        # push with a pull-only token: a new token would fix it, so 401
        expect_401(s.request("POST", "/v2/team/app/blobs/uploads/", headers=bearer(t)),
                   "insufficient_scope", "repository:team/app:pull,push")

    def policy_denial_is_403():
        # bob (readers) asked for push: the token grants pull only, and the policy
        # would not give push either: 403 DENIED, which no token can fix.
        t = get_token("bob", ["repository:team/app:pull,push"])
        expect_eq([a["actions"] for a in jwt_parts(t)[1]["access"]], [["pull"]], "bob's grant")
        r = expect(s.request("POST", "/v2/team/app/blobs/uploads/", headers=bearer(t)), 403, "DENIED")
        expect_eq(r.json()["errors"][0]["message"], DENIED, "denial message")
        expect(s.get("/v2/team/app/tags/list", headers=bearer(t)), 200)

    def anonymous_token():
        r = expect(token_get(s, None, None, ["repository:public/base:pull",
                                             "repository:team/app:pull"]), 200)
        t = r.json()["token"]
        _, c = jwt_parts(t)
        expect_eq(c["sub"], "", "anonymous subject")
        expect_true(c["access"] in ([{"type": "repository", "name": "public/base", "actions": ["pull"]}], []),
                    "anonymous grant is public/base pull at most: %r" % c["access"])
        t = token_of(s, None, ["repository:public/base:pull"])
        expect_eq(jwt_parts(t)[1]["access"],
                  [{"type": "repository", "name": "public/base", "actions": ["pull"]}], "public grant")
        expect(s.get("/v2/", headers=bearer(t)), 200)
        expect(s.get("/v2/public/base/tags/list", headers=bearer(t)), 200)
        expect_401(s.get("/v2/team/app/tags/list", headers=bearer(t)), "insufficient_scope")
        # without any token: public pulls pass, private ones get the challenge
        expect(s.get("/v2/public/base/tags/list"), 200)
        expect_401(s.get("/v2/team/app/tags/list"), None, "repository:team/app:pull")
        r = expect(token_get(s, None, None, [], offline_token="true"), 200)
        expect_true("refresh_token" not in r.json(), "no refresh token for anonymous")

    def catalog_is_filtered():
        def names(user):
            t = get_token(user, ["registry:catalog:*"])
            return expect(s.get("/v2/_catalog", headers=bearer(t)), 200).json()["repositories"]
        expect_eq(names("alice"), ["public/base", "team/app", "team/base"], "alice's catalog")
        expect_eq(names("bob"), ["public/base", "team/app", "team/base"], "bob's catalog")
        expect_eq(names("admin"), ["public/base", "secret/x", "team/app", "team/base"], "admin's catalog")
        expect_eq(names("carol"), ["public/base"], "carol's catalog")
        expect_401(s.get("/v2/_catalog"), None, "registry:catalog:*")
        t = get_token("alice", ["repository:team/app:pull"])
        expect_401(s.get("/v2/_catalog", headers=bearer(t)), "insufficient_scope", "registry:catalog:*")

    checks.check("push and pull with a token", push_pull_with_token)
    checks.check("token scope enforced: other repository, push with a pull token (401)",
                 token_scope_is_enforced)
    checks.check("policy denial of a known user is 403 DENIED", policy_denial_is_403)
    checks.check("anonymous token: public pull only", anonymous_token)
    checks.check("catalog filtered per user", catalog_is_filtered)

    # --- refresh tokens and POST ----------------------------------------------

    def refresh_tokens():
        r = expect(token_get(s, "alice", None, [], offline_token="true", client_id="docker",
                             account="alice"), 200)
        rt = r.json()["refresh_token"]
        issued.append(rt)
        expect_eq(jwt_parts(rt)[1]["sub"], "alice", "refresh subject")
        r = expect(token_post(s, {"grant_type": "refresh_token", "refresh_token": rt,
                                  "service": SERVICE, "client_id": "docker",
                                  "scope": "repository:team/app:pull,push repository:secret/x:pull"}), 200)
        doc = r.json()
        issued.append(doc["access_token"])
        expect_eq(doc["refresh_token"], rt, "refresh token handed back")
        _, c = jwt_parts(doc["access_token"])
        expect_eq(c["access"], [{"type": "repository", "name": "team/app", "actions": ["pull", "push"]}],
                  "refreshed grant")
        expect(s.get("/v2/team/app/tags/list", headers=bearer(doc["access_token"])), 200)
        # a refresh token is no access token, an access token no refresh token
        expect_401(s.get("/v2/team/app/tags/list", headers=bearer(rt)), "invalid_token")
        expect(token_post(s, {"grant_type": "refresh_token", "refresh_token": doc["access_token"],
                              "service": SERVICE}), 401, "UNAUTHORIZED")
        expect(token_post(s, {"grant_type": "refresh_token", "refresh_token": "garbage",
                              "service": SERVICE}), 401, "UNAUTHORIZED")
        return rt

    def post_password_grant():
        r = expect(token_post(s, {"grant_type": "password", "username": "alice",
                                  "password": PASSWORDS["alice"], "service": SERVICE,
                                  "client_id": "containerd-client", "access_type": "offline",
                                  "scope": "repository:team/app:pull"}), 200)
        doc = r.json()
        issued.extend([doc["access_token"], doc["refresh_token"]])
        expect_eq(doc["scope"], "repository:team/app:pull", "scope in the response")
        r = expect(token_post(s, {"grant_type": "password", "username": "alice", "password": "x",
                                  "service": SERVICE}), 401, "UNAUTHORIZED")
        expect_eq(r.json()["error"], "invalid_grant", "OAuth2 error")
        expect(token_post(s, {"grant_type": "authorization_code", "code": "x"}), 400)
        expect(token_post(s, {"grant_type": "password", "username": "alice"}), 400)
        expect(token_post(s, {"username": "alice", "password": "x"}), 400)
        expect(token_post(s, {"grant_type": "password"}, ctype="application/json"), 400)
        r = s.request("POST", "/auth/token", body=b"grant_type=password&username=%zz",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        expect(r, 400)
        r = s.request("POST", "/auth/token", body=b"a" * (70 * 1024),
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        expect_true(r.status in (400, 413), "oversized form refused: %d" % r.status)

    checks.check("refresh tokens: offline_token, POST refresh_token grant", refresh_tokens)
    checks.check("POST password grant and malformed forms", post_password_grant)

    # --- attacks -------------------------------------------------------------

    def token_attacks():
        good = get_token("alice", ["repository:team/app:pull,push"])
        h, c = jwt_parts(good)
        kid = h["kid"]
        path = "/v2/team/app/tags/list"
        expect(s.get(path, headers=bearer(good)), 200)

        def refused(token, what):
            r = s.get(path, headers=bearer(token))
            if r.status != 401:
                fail("%s: expected 401, got %d%s" % (what, r.status, r.describe()))
            expect_401(r, "invalid_token")

        refused(make_jwt(tmp, {"typ": "JWT", "alg": "none", "kid": kid}, c), "alg none")
        refused(make_jwt(tmp, {"typ": "JWT", "alg": "None"}, c), "alg None without kid")
        signing_input = (b64url_json({"typ": "JWT", "alg": "HS256", "kid": kid}) + "." +
                         b64url_json(c)).encode()
        mac = hmac.new(pki.signing_pub, signing_input, hashlib.sha256).digest()
        refused(make_jwt(tmp, {"typ": "JWT", "alg": "HS256", "kid": kid}, c, raw_sig=mac),
                "HS256 keyed with the public key")
        hp, pp, sp = good.split(".")
        tampered = dict(c, access=[{"type": "repository", "name": "secret/x", "actions": ["*"]}])
        refused(hp + "." + b64url_json(tampered) + "." + sp, "tampered payload")
        refused(hp + "." + pp + "." + sp[:-4] + ("AAAA" if not sp.endswith("AAAA") else "BBBB"),
                "tampered signature")
        refused(good + "x", "trailing garbage")
        ext = {"typ": "JWT", "alg": "ES256", "x5c": [cert_der_b64(pki.leaf), cert_der_b64(pki.int_cert)]}
        now = int(time.time())
        for what, cl in (("expired", claims(exp=now - 120, nbf=now - 400, iat=now - 400)),
                         ("nbf in the future", claims(nbf=now + 120)),
                         ("iat in the future", claims(iat=now + 120)),
                         ("wrong issuer", claims(iss="evil-issuer")),
                         ("wrong audience", claims(aud="other-registry")),
                         ("no expiry", {k: v for k, v in claims().items() if k != "exp"})):
            refused(make_jwt(tmp, ext, cl, pki.leaf_key, ec=True), what)
        refused(make_jwt(tmp, {"typ": "JWT", "alg": "RS256", "kid": "no-such-key"}, claims(),
                         pki.jwks_key), "unknown kid")
        refused(make_jwt(tmp, {"typ": "JWT", "alg": "ES256",
                               "x5c": [cert_der_b64(pki.rogue_leaf)]}, claims(),
                         pki.rogue_leaf_key, ec=True), "x5c chain to an untrusted root")
        refused(make_jwt(tmp, {"typ": "JWT", "alg": "ES256", "jwk": {"kty": "EC", "kid": "attacker"}},
                         claims(), pki.rogue_leaf_key, ec=True), "self-supplied jwk")
        refused(make_jwt(tmp, {"typ": "JWT", "alg": "RS256", "kid": "jwks-key-1"}, claims(),
                         pki.ca_key), "signed by another key than the kid's")
        for junk in ("abc", "a.b.c", "....", "%s.%s" % (hp, pp)):
            refused(junk, "malformed %r" % junk)
        r = s.get(path, headers={"Authorization": "Bearer " + "A" * 20000})
        expect_true(r.status in (400, 401, 431), "oversized token refused: %d" % r.status)

    def external_issuer_tokens():
        now = int(time.time())
        access = [{"type": "repository", "name": "ext/app", "actions": ["pull", "push"]},
                  {"type": "repository", "name": "team/app", "actions": ["pull"]}]
        cases = (
            ("x5c chain", {"typ": "JWT", "alg": "ES256",
                           "x5c": [cert_der_b64(pki.leaf), cert_der_b64(pki.int_cert)]}, pki.leaf_key, True),
            ("jwk with x5c", {"typ": "JWT", "alg": "ES256",
                              "jwk": {"kty": "EC", "x5c": [cert_der_b64(pki.leaf), cert_der_b64(pki.int_cert)]}},
             pki.leaf_key, True),
            ("JWKS kid", {"typ": "JWT", "alg": "RS256", "kid": "jwks-key-1"}, pki.jwks_key, False),
            ("root key by RFC 7638 thumbprint", {"typ": "JWT", "alg": "RS256", "kid": pki.ca_thumbprint},
             pki.ca_key, False),
            ("root key by libtrust kid", {"typ": "JWT", "alg": "RS256", "kid": pki.ca_libtrust},
             pki.ca_key, False),
            ("jwk naming a JWKS kid", {"typ": "JWT", "alg": "RS256", "jwk": {"kty": "RSA", "kid": "jwks-key-1"}},
             pki.jwks_key, False),
        )
        for what, header, key, ec in cases:
            t = make_jwt(tmp, header, claims(access=access, aud=["x", SERVICE],
                                             exp=now + 5, nbf=now + 5), key, ec)
            r = s.get("/v2/team/app/tags/list", headers=bearer(t))
            if r.status != 200:
                fail("%s: expected 200, got %d%s" % (what, r.status, r.describe()))
            expect_401(s.get("/v2/team/base/tags/list", headers=bearer(t)), "insufficient_scope")
            expect_401(s.request("POST", "/v2/team/app/blobs/uploads/", headers=bearer(t)),
                       "insufficient_scope")
        # an external token with push may push, whatever the local policy says
        t = make_jwt(tmp, cases[0][1], claims(sub="ext-ci", access=access), pki.leaf_key, True)
        s.default_headers = bearer(t)
        try:
            s.push_image("ext/app", "v1")
        finally:
            s.default_headers = {}

    checks.check("token attacks are refused with 401 invalid_token", token_attacks)
    checks.check("external issuer: x5c, jwk, JWKS kid, thumbprint and libtrust kids", external_issuer_tokens)

    # --- robots --------------------------------------------------------------

    def robots_grants_and_expiry():
        t = get_token("robot$ci", ["repository:team/app:pull,push,delete repository:team/base:pull"])
        expect_eq(jwt_parts(t)[1]["access"],
                  [{"type": "repository", "name": "team/app", "actions": ["pull", "push"]}], "robot grant")
        s.default_headers = bearer(t)
        try:
            s.push_image("team/app", "robot")
        finally:
            s.default_headers = {}
        r = expect(token_get(s, "robot$old", None, ["repository:team/app:pull"]), 401, "UNAUTHORIZED")
        expect_eq(r.json()["errors"][0]["message"], "the account has expired", "expired robot")
        return t

    def robots_revoked_by_admin_endpoint():
        t = get_token("robot$ci", ["repository:team/app:pull"])
        expect(s.get("/v2/team/app/tags/list", headers=bearer(t)), 200)
        path = "/berth/v1/auth/robots/" + urllib.parse.quote("robot$ci")
        alice = get_token("alice", ["route:/berth/v1/auth:DELETE,GET"])
        expect_eq(jwt_parts(alice)[1]["access"], [], "alice gets no admin grant")
        expect(s.delete(path, headers=bearer(alice)), (401, 403))
        admin = get_token("admin", ["route:/berth/v1/auth:DELETE,GET"])
        r = expect(s.get("/berth/v1/auth/robots", headers=bearer(admin)), 200)
        listed = {x["name"]: x for x in r.json()["robots"]}
        expect_eq(sorted(listed), ["robot$ci", "robot$old"], "robots listed")
        expect_eq(listed["robot$old"]["expired"], True, "robot$old expired")
        expect_eq(listed["robot$ci"]["grants"], ["team/app:pull,push", "registry:catalog:*"], "grants listed")
        expect(s.delete(path, headers=bearer(admin)), 204)
        expect(s.delete(path, headers=bearer(admin)), 404)
        with open(robots) as f:
            expect_true("robot$ci" not in f.read(), "robot$ci left the robots file")
        expect_401(s.get("/v2/team/app/tags/list", headers=bearer(t)), "invalid_token")
        expect(token_get(s, "robot$ci", None, ["repository:team/app:pull"]), 401, "UNAUTHORIZED")
        ev = wait_events(events_file, lambda e: e["type"] == "robot.revoked")
        expect_true(ev and json.loads(json.dumps(ev[0]["detail"]))["robot"] == "robot$ci",
                    "robot.revoked event")

    def robots_revoked_by_file():
        rc, out, _ = berth_passwd("--print", "robot", password=PASSWORDS["robot$tmp"])
        with open(robots, "a") as f:
            f.write("robot$tmp %s 2099-01-01T00:00:00Z public/**:pull\n" % out.strip())
        time.sleep(1.2)
        t = get_token("robot$tmp", ["repository:public/base:pull"])
        expect(s.get("/v2/public/base/tags/list", headers=bearer(t)), 200)
        with open(robots) as f:
            kept = [l for l in f if not l.startswith("robot$tmp ")]
        with open(robots + ".new", "w") as f:
            f.writelines(kept)
        os.rename(robots + ".new", robots)
        time.sleep(1.2)
        expect_401(s.get("/v2/public/base/tags/list", headers=bearer(t)), "invalid_token")

    checks.check("robots: limited grant, push, expired robot refused", robots_grants_and_expiry)
    checks.check("robots: revoked through the admin endpoint", robots_revoked_by_admin_endpoint)
    checks.check("robots: revoked by deleting the line", robots_revoked_by_file)

    # --- users file ------------------------------------------------------------

    def users_file_reload():
        expect(token_get(s, "dave", None, []), 401, "UNAUTHORIZED")
        rc, out, err = berth_passwd("-f", users, "--groups", "devs", "dave", password=PASSWORDS["dave"])
        expect_eq(rc, 0, "berth passwd exit status (%s)" % err)
        time.sleep(1.2)
        t = get_token("dave", ["repository:team/app:pull"])
        r = expect(token_get(s, "dave", None, [], offline_token="true"), 200)
        rt = r.json()["refresh_token"]
        issued.append(rt)
        expect(s.get("/v2/team/app/tags/list", headers=bearer(t)), 200)
        # a new password ends the refresh token, not the short-lived access token
        rc, _, _ = berth_passwd("-f", users, "dave", password="dave-new-pw")
        time.sleep(1.2)
        expect(token_post(s, {"grant_type": "refresh_token", "refresh_token": rt, "service": SERVICE}),
               401, "UNAUTHORIZED")
        expect(token_get(s, "dave", "dave-new-pw", []), 200)
        with open(users) as f:
            line = [l for l in f if l.startswith("dave:")][0]
        expect_true(line.rstrip("\n").endswith(":devs"), "groups kept on a password change: %r" % line)
        rc, _, _ = berth_passwd("-f", users, "--delete", "dave")
        expect_eq(rc, 0, "berth passwd --delete")
        time.sleep(1.2)
        expect_401(s.get("/v2/team/app/tags/list", headers=bearer(t)), "invalid_token")
        expect(token_get(s, "dave", "dave-new-pw", []), 401, "UNAUTHORIZED")

    def passwd_on_a_terminal(user, typed):
        """berth passwd USER on a pseudo-terminal, typing the answers; (exit status, screen)."""
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(BERTH_BIN, ["berth", "passwd", "-f", users, user])
        screen = b""
        deadline = time.monotonic() + 30
        answers = list(typed)
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.2)
            if not r:
                continue
            try:
                chunk = os.read(fd, 1024)
            except OSError:      # EIO: the program closed the terminal
                chunk = b""
            if not chunk:
                os.close(fd)
                _, status = os.waitpid(pid, 0)
                return status, screen.decode(errors="replace")
            screen += chunk
            # answer each prompt once, when it shows
            if answers and screen.count(b"Password") > len(typed) - len(answers):
                os.write(fd, answers.pop(0).encode() + b"\n")
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)
        fail("berth passwd on a terminal did not finish: %r" % screen)

    def berth_passwd_prompt():
        status, screen = passwd_on_a_terminal("erin", ["erin-tty-pw", "erin-tty-pw"])
        expect_eq(status, 0, "exit status")
        expect_true("Password: " in screen and "Password again: " in screen, "prompts: %r" % screen)
        expect_true("erin-tty-pw" not in screen, "the password is not echoed: %r" % screen)
        expect_true("added user 'erin'" in screen, "erin added: %r" % screen)
        status, screen = passwd_on_a_terminal("frank", ["one-pw", "other-pw"])
        expect_true(status != 0 and "the passwords differ" in screen,
                    "a mistyped confirmation: %r (status %s)" % (screen, status))
        time.sleep(1.2)
        expect(token_get(s, "erin", "erin-tty-pw", []), 200)
        expect(token_get(s, "frank", "one-pw", []), 401, "UNAUTHORIZED")

    def berth_passwd_cli():
        rc, out, _ = berth_passwd("--help")
        expect_eq(rc, 0, "--help exit status")
        expect_true("usage: berth passwd" in out, "--help prints the usage")
        for args in (["bad:name"], ["-f", users], ["--cost", "99", "x"], ["--frobnicate", "x"]):
            rc, _, err = berth_passwd(*args, password="x")
            expect_eq(rc, 2, "berth passwd %s exit status" % args)
        rc, _, err = berth_passwd("-f", users, "--delete", "nobody")
        expect_eq(rc, 1, "delete of an unknown user")
        rc, _, err = berth_passwd("-f", users, "erin", password="")
        expect_eq(rc, 1, "empty password refused")
        mode = os.stat(users).st_mode & 0o777
        expect_eq(mode, 0o600, "users file mode")
        with open(users) as f:
            text = f.read()
        expect_true(re.search(r"^alice:\$2b\$10\$[./A-Za-z0-9]{53}:devs$", text, re.M) is not None,
                    "alice's bcrypt line")
        expect_true(re.search(r"^bob:\$6\$[^:]+:readers$", text, re.M) is not None, "bob's sha512 line")
        expect_true(not [n for n in os.listdir(tmp) if n.startswith("users.")], "no temporary file left")

    def basic_ignored_in_token_mode():
        # basic is false: Basic credentials on registry requests are not read,
        # the request is anonymous and gets the challenge.
        expect_401(s.get("/v2/team/app/tags/list", headers=basic("alice")), None,
                   "repository:team/app:pull")
        expect(s.get("/v2/public/base/tags/list", headers=basic("alice", "wrong")), 200)

    checks.check("users file reload: add, password change, delete", users_file_reload)
    checks.check("berth passwd: options, errors, file format", berth_passwd_cli)
    checks.check("token mode ignores Basic credentials on registry requests", basic_ignored_in_token_mode)
    checks.check("berth passwd: asks twice on a terminal, without echo", berth_passwd_prompt)

    # --- brute force -----------------------------------------------------------

    def lockout_and_reset():
        before = metric(s, "berth_auth_lockouts_total", kind="account") or 0
        for _ in range(3):
            expect(token_get(s, "carol", "wrong", []), 401, "UNAUTHORIZED")
        r = expect(token_get(s, "carol", None, []), 429, "TOOMANYREQUESTS")
        retry = int(expect_header(r, "Retry-After"))
        expect_true(1 <= retry <= 3, "Retry-After %d" % retry)
        expect_eq(metric(s, "berth_auth_lockouts_total", kind="account"), before + 1, "lockout counted")
        # another account from the same client is not locked out
        expect(token_get(s, "alice", None, []), 200)
        time.sleep(3.2)
        expect(token_get(s, "carol", None, []), 200)
        for _ in range(2):
            expect(token_get(s, "carol", "wrong", []), 401, "UNAUTHORIZED")
        expect(token_get(s, "carol", None, []), 200)   # a success clears the count
        expect(token_get(s, "carol", "wrong", []), 401, "UNAUTHORIZED")
        expect(token_get(s, "carol", None, []), 200)

    checks.check("brute force: account lockout (429), metric, end of lockout", lockout_and_reset)

    # --- events, logs ------------------------------------------------------------

    def login_events():
        ok = wait_events(events_file, lambda e: e["type"] == "login" and e["identity"] == "alice")
        expect_true(ok, "a login event for alice")
        expect_eq(ok[0]["client"], "127.0.0.1", "event client address")
        expect_eq(ok[0]["source"], "auth-token", "event source")
        bad = wait_events(events_file, lambda e: e["type"] == "login.failed" and e["identity"] == "carol")
        expect_true(bad, "a login.failed event for carol")
        expect_eq(bad[0]["detail"]["reason"], "bad_password", "failure reason")
        locked = wait_events(events_file, lambda e: e["type"] == "login.failed"
                             and (e.get("detail") or {}).get("reason") == "locked_out")
        expect_true(locked, "a locked_out failure event")
        unknown = [e for e in events(events_file) if e["type"] == "login.failed"
                   and e["identity"] == "nobody"]
        expect_eq(unknown[0]["detail"]["reason"], "unknown_account", "unknown account reason")

    def no_secrets_anywhere():
        with open(events_file) as f:
            ev_text = f.read()
        log = s.log_text()
        for name, pw in PASSWORDS.items():
            for where, text in (("log", log), ("events", ev_text)):
                if pw in text:
                    fail("%s's password appears in the %s" % (name, where))
        for t in issued:
            sig = t.split(".")[2]
            for where, text in (("log", log), ("events", ev_text)):
                if sig in text:
                    fail("a token appears in the %s" % where)

    checks.check("login and login.failed events with client and reason", login_events)
    checks.check("no password or token in the log or the events", no_secrets_anywhere)

    def stops_cleanly():
        s.stop_clean()
        log = s.log_text()
        for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            if bad in log:
                fail("sanitizer report in the log:\n" + log[-3000:])

    checks.check("server stops cleanly", stops_cleanly)


if __name__ == "__main__":
    run_main(main)
