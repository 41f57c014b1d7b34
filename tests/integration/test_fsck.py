"""`berth fsck` finds what is broken in storage, and --repair removes only that.

A registry with good images gets damaged on disk in every way fsck knows:
a blob whose bytes changed, a blob folder without data, layer links to
nothing or naming another digest, a layer link a manifest needs removed, a
revision whose manifest is gone, a manifest that does not parse, a tag
pointing at nothing, a half-created upload. fsck must name each one, exit 4
and change nothing; --repair must remove exactly the broken objects and
rewrite the links it can (every good file keeps its bytes), and report the
layer a good manifest now lacks; the images it repaired pull intact, and
once the image that lost its layer is deleted fsck is clean (exit 0).
"""
import hashlib
import json
import os
import shutil
import subprocess
import tempfile

from berth_harness import (BERTH_BIN, Server, digest_of, expect, expect_eq, expect_true,
                           run_main)


def snapshot(root):
    """{relative path: sha256 of its bytes} of every file."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def main(checks):
    tmp = tempfile.mkdtemp(prefix="berth-fsck-")
    root = os.path.join(tmp, "root")
    s = checks.watch(Server(tmpdir=tmp, root=root,
                            config={"plugins": [{"use": "storage-fs", "config": {"root": root}}]}))
    v2 = os.path.join(root, "docker", "registry", "v2")
    st = {}

    def fsck(*args):
        p = subprocess.run([BERTH_BIN, "fsck", "-c", s.config_path] + list(args), capture_output=True,
                           text=True, timeout=300, cwd=tmp)
        return p.returncode, [l for l in p.stdout.splitlines()
                              if l.startswith(("broken", "repaired", "note"))], p

    def blob_dir(d):
        alg, h = d.split(":")
        return os.path.join(v2, "blobs", alg, h[:2], h)

    try:
        s.start()

        def clean_registry():
            for repo in ["team/a", "team/b", "team/c", "team/d"]:
                body, d = s.push_image(repo, tag="v1", layers=2, layer_size=3000)
                st[repo] = (body, d)
            rc, lines, p = fsck()
            expect_eq((rc, lines), (0, []), "fsck of a good registry: %s" % p.stdout[-300:])
            expect_true("0 problems" in p.stdout, "the summary says so")
        checks.check("a good registry: exit 0, nothing reported", clean_registry)
        s.stop_clean()

        def damage():
            # 1. a layer of team/a whose bytes changed
            a_layer = json.loads(st["team/a"][0])["layers"][0]["digest"]
            with open(os.path.join(blob_dir(a_layer), "data"), "r+b") as f:
                f.seek(10)
                f.write(b"X")
            # 2. a blob folder with no data
            ghost = "sha256:" + "ab" * 32
            os.makedirs(blob_dir(ghost))
            # 3. a layer link to a blob that does not exist
            missing = "sha256:" + "cd" * 32
            ldir = os.path.join(v2, "repositories", "team", "b", "_layers", "sha256", missing[7:])
            os.makedirs(ldir)
            with open(os.path.join(ldir, "link"), "w") as f:
                f.write(missing)
            # 4. a layer link whose text names another digest
            b_layer = json.loads(st["team/b"][0])["layers"][0]["digest"]
            with open(os.path.join(v2, "repositories", "team", "b", "_layers", "sha256",
                                   b_layer[7:], "link"), "w") as f:
                f.write(a_layer)
            # 5. team/c's manifest blob is gone: its revision and tag are broken
            shutil.rmtree(blob_dir(st["team/c"][1]))
            # 6. a revision of team/d whose manifest does not parse
            junk = b"{not a manifest"
            jd = digest_of(junk)
            os.makedirs(blob_dir(jd))
            with open(os.path.join(blob_dir(jd), "data"), "wb") as f:
                f.write(junk)
            rdir = os.path.join(v2, "repositories", "team", "d", "_manifests", "revisions", "sha256", jd[7:])
            os.makedirs(rdir)
            with open(os.path.join(rdir, "link"), "w") as f:
                f.write(jd)
            # 7. a tag of team/d pointing at a manifest the repository lacks
            tdir = os.path.join(v2, "repositories", "team", "d", "_manifests", "tags", "ghost", "current")
            os.makedirs(tdir)
            with open(os.path.join(tdir, "link"), "w") as f:
                f.write("sha256:" + "ef" * 32)
            # 8. an upload folder without its data
            udir = os.path.join(v2, "repositories", "team", "d", "_uploads",
                                "01234567-89ab-4def-8123-456789abcdef")
            os.makedirs(udir)
            with open(os.path.join(udir, "startedat"), "w") as f:
                f.write("2026-01-01T00:00:00Z")
            # 10. what a crash while writing a tag leaves: its folder and a temp file
            half = os.path.join(v2, "repositories", "team", "d", "_manifests", "tags", "half", "current")
            os.makedirs(half)
            with open(os.path.join(half, ".link.tmp-0123456789abcdef"), "w") as f:
                f.write("sha256:")
            # 9. a layer link team/d's manifest needs, gone
            d_layer = json.loads(st["team/d"][0])["layers"][1]["digest"]
            shutil.rmtree(os.path.join(v2, "repositories", "team", "d", "_layers", "sha256", d_layer[7:]))
            st.update(a_layer=a_layer, ghost=ghost, missing=missing, b_layer=b_layer, jd=jd,
                      d_layer=d_layer)
        checks.check("damage the storage in nine ways", damage)

        expected = [
            ("a_layer", "hash to something else"),
            ("ghost", "has no data (a write that did not finish)"),
            ("missing", "its blob is missing"),
            ("b_layer", "names another digest"),
            (None, "team/c: manifest %s"),
            ("jd", "does not parse"),
            (None, "tag ghost points at"),
            (None, "note: team/d: upload 01234567-89ab-4def-8123-456789abcdef lacks its data"),
            ("d_layer", "which the repository does not link"),
            (None, "note: team/d: tag half has no current link"),
        ]

        def check_finds_all():
            before = snapshot(root)
            rc, lines, p = fsck()
            expect_eq(rc, 4, "exit status with problems left: %s" % p.stdout[-500:])
            text = "\n".join(lines)
            for key, needle in expected:
                if "%s" in needle:
                    needle = needle % st["team/c"][1]
                if key:
                    expect_true(any(st[key][7:] in l and needle in l for l in lines),
                                "reported: %s %s\n%s" % (key, needle, text))
                else:
                    expect_true(needle in text, "reported: %s\n%s" % (needle, text))
            expect_true(all(l.startswith(("broken", "note")) for l in lines), "a check repairs nothing")
            expect_eq(snapshot(root), before, "a check changes nothing on disk")
            s.start()
            tags = expect(s.get("/v2/team/d/tags/list"), 200).json()["tags"]
            expect_true("half" not in tags, "a tag without a current link is never listed: %s" % tags)
            s.stop_clean()
        checks.check("fsck names every problem, exits 4 and changes nothing", check_finds_all)

        def repair():
            before = snapshot(root)
            rc, lines, p = fsck("--repair")
            # The corrupt layer is removed, so team/a's good manifest now lacks it: left.
            expect_eq(rc, 4, "exit status: one problem cannot be repaired\n%s" % p.stdout[-800:])
            left = [l for l in lines if l.startswith("broken")]
            expect_eq(len(left), 1, "one problem left: %s" % left)
            relinked = [l for l in lines if "link written" in l]
            expect_eq(len(relinked), 2, "two links rewritten: %s" % relinked)
            expect_true(any(st["b_layer"] in l for l in relinked), "team/b's link rewritten")
            expect_true(any(st["d_layer"] in l for l in relinked), "team/d's link restored")
            expect_true(st["a_layer"] in left[0] and "push it again" in left[0], left[0])
            after = snapshot(root)
            removed = set(before) - set(after)
            links = {os.path.relpath(os.path.join(v2, "repositories", "team", r, "_layers", "sha256",
                                                  st[k][7:], "link"), root)
                     for r, k in [("b", "b_layer"), ("d", "d_layer")]}
            expect_true(set(after) - set(before) <= links, "repair creates only the two links")
            # A tag index loses the tags the repair removed (team/c's only tag).
            c_index = os.path.relpath(os.path.join(v2, "repositories", "team", "c", "_berth", "tags"), root)
            expect_eq(after.get(c_index), hashlib.sha256(b"").hexdigest(), "team/c's tag index is empty")
            for path in after:
                if path not in links and path != c_index:
                    expect_eq(after[path], before[path], "good file %s keeps its bytes" % path)
            # Exactly the broken objects went.
            def gone(rel):
                return not any(p.startswith(rel) for p in after)
            rel = lambda p: os.path.relpath(p, root)
            for k in ["a_layer", "jd"]:
                expect_true(gone(rel(blob_dir(st[k]))) or k == "jd", "%s removed" % k)
            expect_true(gone(rel(os.path.join(v2, "repositories", "team", "c", "_manifests", "tags", "v1"))),
                        "team/c's tag on a missing manifest removed")
            expect_true(gone(rel(os.path.join(v2, "repositories", "team", "d", "_manifests", "tags", "ghost"))),
                        "the ghost tag removed")
            expect_true(not gone(rel(os.path.join(v2, "repositories", "team", "d", "_manifests", "tags", "v1"))),
                        "team/d's good tag kept")
            expect_true(len(removed) >= 8, "removed files: %d" % len(removed))
            expect_true(gone(rel(os.path.join(v2, "repositories", "team", "d", "_uploads"))),
                        "the abandoned upload removed")
        checks.check("--repair removes exactly what is broken", repair)

        def repaired_images_pull():
            s.start()
            for repo in ["team/b", "team/d"]:
                body, d = st[repo]
                r = expect(s.get("/v2/%s/manifests/v1" % repo,
                                 headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}), 200)
                expect_eq(digest_of(r.body), d, "%s manifest" % repo)
                for l in json.loads(body)["layers"]:
                    b = expect(s.get("/v2/%s/blobs/%s" % (repo, l["digest"])), 200)
                    expect_eq(digest_of(b.body), l["digest"], "%s layer" % repo)
            expect(s.get("/v2/team/c/manifests/v1"), 404)
            s.stop_clean()
        checks.check("repaired images pull intact; the one whose manifest was lost is gone",
                     repaired_images_pull)

        def repush_heals():
            s.start()
            expect(s.get("/v2/team/a/manifests/v1"), 200)
            expect(s.head("/v2/team/a/blobs/" + st["a_layer"]), 404)
            s.stop_clean()
            rc, lines, p = fsck("--repair")
            expect_eq(rc, 4, "still the one missing layer")
            # Remove the image that lacks its layer through the API, then all is clean.
            s.start()
            expect(s.delete("/v2/team/a/manifests/" + st["team/a"][1]), 202)
            s.stop_clean()
            rc, lines, p = fsck()
            expect_eq((rc, lines), (0, []), "clean after the broken image is deleted: %s" % p.stdout[-300:])
        checks.check("deleting the image that lost its layer leaves fsck clean", repush_heals)

        def usage():
            p = subprocess.run([BERTH_BIN, "fsck", "--nope"], capture_output=True, text=True, timeout=30)
            expect_eq(p.returncode, 2, "usage error status")
            p = subprocess.run([BERTH_BIN, "fsck", "-c", os.path.join(tmp, "none.yaml")],
                               capture_output=True, text=True, timeout=30)
            expect_eq(p.returncode, 8, "a check that cannot run")
        checks.check("usage errors and a missing config", usage)
    finally:
        for srv in checks.servers:
            srv.kill()
        if not os.environ.get("BERTH_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
