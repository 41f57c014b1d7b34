"""Tag lists come from a per-repository tag index, not from a listing of the
tags folder per request:

- the index is a file, repositories/<name>/_berth/tags, one tag a line, sorted;
- a root without it (tags written on disk the way Distribution writes them)
  is walked once per repository and gets one; an unknown repository gets none;
- a name in the index whose tag does not exist (a crash between the index and
  the tag's link) is never listed, and does not make a Link appear;
- delete by tag, delete by digest and a push again keep the index in step;
- n/last paging over 1,000 tags matches the sorted truth;
- `berth fsck` reports a tag the index misses and --repair rewrites it;
- garbage collection adds what the index misses and drops extra names only
  from an index older than the grace period;
- registry.catalog: walk lists the tags folder, so tags another registry
  writes are listed at once.
"""
import os
import random
import re
import shutil
import string
import subprocess
import tempfile

from berth_harness import (BERTH_BIN, Server, absolute_path, expect, expect_eq, expect_true,
                           run_main)

OCI = "application/vnd.oci.image.manifest.v1+json"
LINK_NEXT = re.compile(r'^<([^>]+)>;\s*rel="next"$')


def index_file(s, repo):
    return s.repo_dir(repo, "_berth", "tags")


def read_index(s, repo):
    with open(index_file(s, repo)) as f:
        return f.read()


def write_index(s, repo, names):
    path = index_file(s, repo)
    tmp = path + ".test"
    with open(tmp, "w") as f:
        f.write("".join(n + "\n" for n in names))
    os.rename(tmp, path)


def tags(s, repo, **q):
    query = "&".join("%s=%s" % kv for kv in q.items())
    r = expect(s.get("/v2/%s/tags/list%s" % (repo, "?" + query if query else "")), 200)
    expect_eq(r.json().get("name"), repo, "name in the tag list")
    return r.json().get("tags") or [], r.header("Link")


def walk_pages(s, repo, n):
    """Every tag, following rel=next Links from the first page of n."""
    items, path, pages = [], "/v2/%s/tags/list?n=%d" % (repo, n), 0
    while path:
        pages += 1
        expect_true(pages <= 10000 // max(n, 1) + 2, "pagination ends")
        r = expect(s.get(path), 200)
        page = r.json().get("tags") or []
        expect_true(len(page) <= n, "a page holds at most n=%d tags: %d" % (n, len(page)))
        items.extend(page)
        link = r.header("Link")
        if link is None:
            break
        m = LINK_NEXT.match(link.strip())
        expect_true(m is not None and page, "Link %r after a page of %d" % (link, len(page)))
        path = absolute_path(m.group(1))
    return items


def tag_on_disk(s, repo, tag, digest):
    """A tag as Distribution writes it: its current link and its history entry."""
    alg, hexd = digest.split(":")
    for parts in (("current",), ("index", alg, hexd)):
        d = s.repo_dir(repo, "_manifests", "tags", tag, *parts)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "link"), "w") as f:
            f.write(digest)


def main(checks):
    tmp = tempfile.mkdtemp(prefix="berth-tagindex-")
    root = os.path.join(tmp, "root")
    s = checks.watch(Server(tmpdir=tmp, name="a", root=root,
                            config={"plugins": [{"use": "storage-fs", "config": {"root": root, "fsync": False}}]}))
    w = checks.watch(Server(tmpdir=tmp, name="walk", root=root,
                            config={"plugins": [{"use": "storage-fs", "config": {"root": root, "fsync": False}}],
                                    "registry": {"catalog": "walk"}}))
    state = {}
    try:
        s.start()

        def file_on_disk():
            body, d = s.push_image("ti/app", tag="v2")
            for t in ["v1", "latest", "V3", "v10"]:
                expect(s.put_manifest("ti/app", t, body, OCI), 201)
            expect(s.put_manifest("ti/app", "v1", body, OCI), 201)  # again: no repeat
            expect_eq(read_index(s, "ti/app"), "V3\nlatest\nv1\nv10\nv2\n", "the index file")
            expect_eq(tags(s, "ti/app")[0], ["V3", "latest", "v1", "v10", "v2"], "the tag list")
            state["app"] = (body, d)
        checks.check("the tag index is a sorted file of the repository's tags", file_on_disk)

        def root_without_index():
            body, d = state["app"]
            s.stop_clean()
            # ti/hand: a manifest and tags written on disk, no index, as Distribution leaves them.
            alg, hexd = d.split(":")
            rev = s.repo_dir("ti/hand", "_manifests", "revisions", alg, hexd)
            os.makedirs(rev)
            with open(os.path.join(rev, "link"), "w") as f:
                f.write(d)
            for t in ["zz", "b", "a.1", "A"]:
                tag_on_disk(s, "ti/hand", t, d)
            os.makedirs(s.repo_dir("ti/hand", "_manifests", "tags", "half"))  # no current link
            os.unlink(index_file(s, "ti/app"))
            s.start()
            expect_true(not os.path.exists(index_file(s, "ti/hand")), "no index before the first use")
            expect_eq(tags(s, "ti/hand", n=2), (["A", "a.1"], '</v2/ti/hand/tags/list?n=2&last=a.1>; rel="next"'),
                      "first page of a root without index")
            expect_eq(tags(s, "ti/hand", n=2, last="a.1")[0], ["b", "zz"], "second page")
            expect_eq(read_index(s, "ti/hand"), "A\na.1\nb\nhalf\nzz\n",
                      "the walk wrote the index (a tag without its link included, never listed)")
            expect_eq(tags(s, "ti/app")[0], ["V3", "latest", "v1", "v10", "v2"], "an index removed is rebuilt")
            expect_true(os.path.exists(index_file(s, "ti/app")), "and written again")
            r = expect(s.get("/v2/ti/nosuch/tags/list"), 404)
            expect_true("NAME_UNKNOWN" in r.error_codes(), r.describe())
            expect_true(not os.path.exists(s.repo_dir("ti/nosuch")), "an unknown repository gets no files")
        checks.check("a root without the index is walked once and gets one", root_without_index)

        def extra_names():
            # A crash after the index got a name but before the tag's link was written.
            write_index(s, "ti/app", ["V3", "a-ghost", "latest", "v1", "v10", "v2", "v3-ghost"])
            expect_eq(tags(s, "ti/app")[0], ["V3", "latest", "v1", "v10", "v2"], "extras are not listed")
            expect_eq(tags(s, "ti/app", n=2), (["V3", "latest"], '</v2/ti/app/tags/list?n=2&last=latest>; rel="next"'),
                      "a page skips the extra")
            expect_eq(tags(s, "ti/app", n=3, last="v1"), (["v10", "v2"], None),
                      "no Link when only an extra follows the page")
            expect_eq(tags(s, "ti/app", n=2, last="v1"), (["v10", "v2"], None),
                      "no Link when only an extra follows a full page")
            expect_eq(tags(s, "ti/app", last="v2")[0], [], "past the last tag")
            body, _ = state["app"]
            expect(s.put_manifest("ti/app", "a-ghost", body, OCI), 201)
            expect_eq(tags(s, "ti/app", n=1)[0], ["V3"], "first page after pushing the extra's name")
            expect_eq(tags(s, "ti/app", n=1, last="V3")[0], ["a-ghost"], "a pushed extra is a real tag")
        checks.check("an index naming a tag that does not exist lists only real tags", extra_names)

        def delete_and_push_again():
            body, d = state["app"]
            expect(s.delete("/v2/ti/app/manifests/v1"), 202)
            expect_eq(tags(s, "ti/app")[0], ["V3", "a-ghost", "latest", "v10", "v2"], "v1 deleted")
            expect_true("v1\n" not in read_index(s, "ti/app"), "v1 left the index file")
            expect(s.delete("/v2/ti/app/manifests/v1"), 404)
            expect(s.put_manifest("ti/app", "v1", body, OCI), 201)
            expect_eq(tags(s, "ti/app")[0], ["V3", "a-ghost", "latest", "v1", "v10", "v2"], "v1 pushed again")
            other, od = s.push_image("ti/app", tag="other")
            expect(s.delete("/v2/ti/app/manifests/%s" % d), 202)
            expect_eq(tags(s, "ti/app")[0], ["other"], "a delete by digest removes every tag naming it")
            expect_eq(read_index(s, "ti/app"), "other\nv3-ghost\n",
                      "the index lost them too (the old extra stays until gc)")
            expect(s.put_manifest("ti/app", "v2", other, OCI), 201)
            expect_eq(tags(s, "ti/app")[0], ["other", "v2"], "a tag pushed again after a delete by digest")
        checks.check("deletes and pushes again keep the index in step", delete_and_push_again)

        def paging_1000():
            body, _ = s.push_image("ti/many", tag="seed")
            rnd = random.Random(7)
            alphabet = string.ascii_letters + string.digits + "_.-"
            truth = {"seed"}
            while len(truth) < 1000:
                first = rnd.choice(string.ascii_letters + string.digits + "_")
                truth.add(first + "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12))))
            for t in sorted(truth - {"seed"}):
                expect(s.put_manifest("ti/many", t, body, OCI), 201)
            truth = sorted(truth)
            expect_eq(tags(s, "ti/many")[0], truth, "all tags, sorted by bytes")
            for n in (1000, 999, 100, 37):
                expect_eq(walk_pages(s, "ti/many", n), truth, "pages of n=%d" % n)
            for last in (truth[0], truth[499], truth[-2], "M", "m-no-such", "~"):
                want = [t for t in truth if t > last][:50]
                expect_eq(tags(s, "ti/many", n=50, last=last)[0], want, "n=50 after %s" % last)
            expect_eq(tags(s, "ti/many", n=0)[0], [], "n=0")
            expect_eq(read_index(s, "ti/many"), "".join(t + "\n" for t in truth), "the index file")
        checks.check("n/last paging over 1,000 tags matches the sorted truth", paging_1000)

        def fsck_missing():
            s.stop_clean()
            write_index(s, "ti/hand", ["A", "b", "zz"])  # misses a.1
            p = subprocess.run([BERTH_BIN, "fsck", "--quick", "-c", s.config_path], capture_output=True,
                               text=True, timeout=300, cwd=tmp)
            expect_eq(p.returncode, 4, "fsck exit status\n%s" % p.stdout[-800:])
            expect_true("ti/hand: tag a.1 is missing from the tag index" in p.stdout, p.stdout[-800:])
            expect_true("the tag index names 1 tag that does not exist" in p.stdout and "ti/app" in p.stdout,
                        "the extra is a note: %s" % p.stdout[-800:])
            expect_eq(read_index(s, "ti/hand"), "A\nb\nzz\n", "a check changes nothing")
            p = subprocess.run([BERTH_BIN, "fsck", "--quick", "--repair", "-c", s.config_path],
                               capture_output=True, text=True, timeout=300, cwd=tmp)
            expect_eq(p.returncode, 1, "repaired\n%s" % p.stdout[-800:])
            expect_eq(read_index(s, "ti/hand"), "A\na.1\nb\nzz\n", "--repair rewrote the index from the tags")
            expect_eq(read_index(s, "ti/app"), "other\nv2\n", "and dropped the extra")
            s.start()
            expect_eq(tags(s, "ti/hand")[0], ["A", "a.1", "b", "zz"], "listed after the repair")
        checks.check("fsck reports a tag the index misses and --repair rewrites it", fsck_missing)

        def gc_rewrites():
            truth = "A\na.1\nb\nzz\n"
            # Old enough: written before the grace period (1h), so nothing is in flight.
            write_index(s, "ti/hand", ["A", "b", "old-ghost", "zz"])
            hour_ago = os.path.getmtime(index_file(s, "ti/hand")) - 7200
            os.utime(index_file(s, "ti/hand"), (hour_ago, hour_ago))
            expect(s.request("POST", "/berth/v1/jobs/gc"), 200)
            expect_eq(read_index(s, "ti/hand"), truth, "gc added the missing tag and dropped the old extra")
            expect_eq(tags(s, "ti/hand")[0], ["A", "a.1", "b", "zz"], "listed after gc")
            # Young: the extra may be a push under way in another process, so it stays.
            write_index(s, "ti/hand", ["A", "b", "young-ghost", "zz"])
            expect(s.request("POST", "/berth/v1/jobs/gc"), 200)
            expect_eq(read_index(s, "ti/hand"), "A\na.1\nb\nyoung-ghost\nzz\n",
                      "gc added the missing tag and kept the young extra")
        checks.check("garbage collection rewrites the tag index from the tags", gc_rewrites)

        def walk_mode():
            s.stop_clean()
            w.start()
            _, d = state["app"]
            tag_on_disk(w, "ti/hand", "new-behind", d)
            expect_eq(tags(w, "ti/hand")[0], ["A", "a.1", "b", "new-behind", "zz"],
                      "registry.catalog: walk lists a tag written behind the registry's back")
            expect_eq(tags(w, "ti/hand", n=2, last="b")[0], ["new-behind", "zz"], "and pages it")
            w.stop_clean()
        checks.check("registry.catalog: walk lists the tags folder", walk_mode)
    finally:
        for srv in checks.servers:
            srv.kill()
        if not os.environ.get("BERTH_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
