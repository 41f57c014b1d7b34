"""The catalog comes from a repository index, not from a walk per request:

- a root without an index (written by Distribution, or an older Berth) is
  walked once and gets one at _berth/catalog;
- a repository appears when its first blob, mount or manifest lands, in
  order, and pages with n/last are exact;
- a second server on the same root sees the first's new repositories (the
  file's mtime), and a push through it is seen by the first;
- garbage collection rewrites the index from its own walk, so a damaged
  index heals;
- repositories that appear in storage behind the registry's back are not
  listed until the index names them: no request walks the storage.
"""
import os
import shutil
import tempfile
import time

from berth_harness import Server, expect, expect_eq, expect_true, run_main


def index_path(s):
    return os.path.join(s.root, "docker", "registry", "v2", "_berth", "catalog")


def catalog(s, **q):
    query = "&".join("%s=%s" % kv for kv in q.items())
    return expect(s.get("/v2/_catalog" + ("?" + query if query else "")), 200).json()["repositories"]


def main(checks):
    tmp = tempfile.mkdtemp(prefix="berth-catalog-")
    root = os.path.join(tmp, "root")
    a = checks.watch(Server(tmpdir=tmp, name="a", root=root,
                            config={"plugins": [{"use": "storage-fs", "config": {"root": root}}],
                                    "gc": {"grace_period": "1h"}}))
    b = checks.watch(Server(tmpdir=tmp, name="b", root=root,
                            config={"plugins": [{"use": "storage-fs", "config": {"root": root}}]}))
    try:
        a.start()

        def walked_once():
            for r in ["zeta/app", "alpha/app", "mid/x/y"]:
                a.push_image(r, tag="v1")
            a.stop_clean()
            os.unlink(index_path(a))
            a.start()
            expect_eq(catalog(a), ["alpha/app", "mid/x/y", "zeta/app"], "catalog of a root without index")
            with open(index_path(a)) as f:
                expect_eq(f.read(), "alpha/app\nmid/x/y\nzeta/app\n", "the index written by the walk")
            expect_true("walking the repositories once" in a.log_since_start(), "the log says why")
        checks.check("a root without an index is walked once and gets one", walked_once)

        def grows_in_order():
            a.push_blob("beta/blobs-only", b"just a blob")
            expect(a.request("POST", "/v2/gamma/mounted/blobs/uploads/?mount=%s&from=beta/blobs-only"
                             % ("sha256:" + __import__("hashlib").sha256(b"just a blob").hexdigest())), 201)
            want = ["alpha/app", "beta/blobs-only", "gamma/mounted", "mid/x/y", "zeta/app"]
            expect_eq(catalog(a), want, "new repositories in order")
            expect_eq(catalog(a, n=2), want[:2], "first page")
            r = expect(a.get("/v2/_catalog?n=2"), 200)
            expect_true("last=beta/blobs-only" in (r.header("Link") or "").replace("%2F", "/"),
                        "Link to the next page: %s" % r.header("Link"))
            expect_eq(catalog(a, n=2, last="beta/blobs-only"), want[2:4], "second page")
            expect_eq(catalog(a, n=2, last="mid/x/y"), want[4:], "last page")
            expect_eq(catalog(a, last="zzz"), [], "past the end")
        checks.check("repositories enter the index with their first blob, mount or manifest", grows_in_order)

        def two_servers():
            b.start()
            expect_eq(catalog(b), catalog(a), "the second server reads the same index")
            b.push_image("delta/from-b", tag="v1")
            time.sleep(0.05)
            expect_true("delta/from-b" in catalog(a), "a sees b's new repository")
            a.push_image("epsilon/from-a", tag="v1")
            expect_true("epsilon/from-a" in catalog(b), "b sees a's new repository")
            b.stop_clean()
        checks.check("two servers on one root see each other's new repositories", two_servers)

        def gc_heals():
            with open(index_path(a), "w") as f:
                f.write("alpha/app\n../../etc\nnot a name\n")
            time.sleep(0.05)
            names = catalog(a)
            expect_true("../../etc" not in names and "not a name" not in names, "bad lines are ignored")
            expect(a.request("POST", "/berth/v1/jobs/gc"), 200)
            expect_eq(catalog(a), ["alpha/app", "beta/blobs-only", "delta/from-b", "epsilon/from-a",
                                   "gamma/mounted", "mid/x/y", "zeta/app"], "gc rewrote the index from its walk")
        checks.check("garbage collection heals a damaged index", gc_heals)

        def served_from_the_index():
            # 2,000 repositories written straight into the layout, as another
            # tool would, without touching the index: a catalog that walked
            # the storage would list them; one served from the index does not.
            base = os.path.join(a.root, "docker", "registry", "v2", "repositories", "many")
            names = []
            for i in range(2000):
                os.makedirs(os.path.join(base, "r%04d" % i, "_layers"))
                names.append("many/r%04d" % i)
            before = catalog(a)
            expect_true(not any(n.startswith("many/") for n in before), "no walk per request")
            # Once the index names them (gc's walk does that), they are served, in pages.
            expect(a.request("POST", "/berth/v1/jobs/gc"), 200)
            after = catalog(a)
            expect_eq(len(after), len(before) + 2000, "all of them listed after gc")
            expect_eq(catalog(a, n=3, last="many/r0999"), ["many/r1000", "many/r1001", "many/r1002"],
                      "a page from the middle")
        checks.check("the catalog is served from the index, not from a walk", served_from_the_index)

        def bad_mode():
            import subprocess
            from berth_harness import BERTH_BIN, PLUGIN_DIR
            cfg = os.path.join(tmp, "bad.yaml")
            with open(cfg, "w") as f:
                f.write("listen: 127.0.0.1:1\nplugin_path: [%s]\nregistry: {catalog: sometimes}\n"
                        "plugins:\n  - use: storage-fs\n    config: {root: %s}\n" % (PLUGIN_DIR, root))
            p = subprocess.run([BERTH_BIN, "config", "check", "-c", cfg], capture_output=True, text=True,
                               timeout=60)
            expect_true(p.returncode != 0 and "expected index or walk" in p.stderr, p.stderr)
        checks.check("registry.catalog accepts index or walk only", bad_mode)

        checks.check("server exits 0 on SIGTERM", a.stop_clean)
    finally:
        for srv in checks.servers:
            srv.kill()
        if not os.environ.get("BERTH_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
