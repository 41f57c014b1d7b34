"""The event queue between requests and notifiers, through real plugins.

A notifier that holds the event thread (tests/plugins/slow-notify.c) must
not slow pushes: with a small queue, every push still answers 201 at once,
the events the queue cannot take are dropped for an ordinary notifier and
handed to overflow() for a durable one, and once the notifier is released
it sees the queued events in order. Two instances of one plugin with
different config run side by side.
"""
import os
import shutil
import tempfile
import time

from berth_harness import BUILD_DIR, PLUGIN_DIR, Server, expect, expect_eq, expect_true, fail, run_main

TEST_PLUGIN_DIR = os.path.join(BUILD_DIR, "tests", "plugins")
PUSHES = 12
QUEUE = 3


def read_lines(path, want=None, timeout=10.0):
    """The lines of path, waiting until there are `want` of them (or the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = []
        if os.path.exists(path):
            with open(path) as f:
                lines = [l.split() for l in f.read().splitlines() if l.strip()]
        if want is None or len(lines) >= want or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def main(checks):
    tmp = tempfile.mkdtemp(prefix="berth-events-")
    gate = os.path.join(tmp, "gate")
    outs = {n: os.path.join(tmp, n + ".events") for n in ("plain", "durable", "other")}
    config = {
        "plugin_path": [PLUGIN_DIR, TEST_PLUGIN_DIR],
        "events": {"queue_size": QUEUE},
        "plugins": [
            {"use": "storage-fs", "config": {"root": os.path.join(tmp, "root")}},
            {"use": "slow-notify", "name": "plain", "config": {"gate": gate, "out": outs["plain"]}},
            {"use": "slow-notify-durable", "name": "durable",
             "config": {"gate": gate, "out": outs["durable"]}},
            # the same .so again, another config: it must not share state
            {"use": "slow-notify", "name": "other", "config": {"gate": gate, "out": outs["other"]}},
        ],
    }
    s = checks.watch(Server(tmpdir=tmp, config=config))
    tags = ["t%02d" % i for i in range(PUSHES)]
    try:
        s.start()

        def pushes_do_not_wait():
            # The notifiers block on the first event; every push must still
            # answer promptly (bounded generously: the point is no hang).
            for t in tags:
                start = time.monotonic()
                s.push_image("ev/app", tag=t, seed=t)
                if time.monotonic() - start > 10:
                    fail("push of %s took %.1fs while notifiers were blocked"
                         % (t, time.monotonic() - start))
        checks.check("pushes answer while every notifier is blocked", pushes_do_not_wait)

        def queue_full_logged():
            expect_true("event queue full" in s.log_since_start(),
                        "the log says the event queue filled up")
        checks.check("a full queue is logged", queue_full_logged)

        def durable_overflow():
            lines = read_lines(outs["durable"])
            over = [l for l in lines if l[0] == "overflow" and l[1] == "push"]
            expect_true(len(over) > 0, "the durable notifier got overflow() calls (%d lines)"
                        % len(lines))
        checks.check("a durable notifier gets what the queue cannot hold", durable_overflow)

        def released_in_order():
            open(gate, "w").close()
            # the durable one ends with every push: delivered or overflowed
            lines = read_lines(outs["durable"], want=PUSHES * 4)
            pushed = [l[3] for l in lines if l[1] == "push"]
            expect_eq(sorted(pushed), tags, "push events the durable notifier saw")
            delivered = [l[3] for l in lines if l[0] == "deliver" and l[1] == "push"]
            expect_eq(delivered, sorted(delivered), "delivery order of push events")
            plain = read_lines(outs["plain"], want=1)
            plain_pushes = [l[3] for l in plain if l[1] == "push"]
            expect_true(0 < len(plain_pushes) < PUSHES,
                        "the ordinary notifier lost events while the queue was full (%d of %d)"
                        % (len(plain_pushes), PUSHES))
            expect_eq(plain_pushes, sorted(plain_pushes), "its events keep their order")
        checks.check("released notifiers get the queued events in order", released_in_order)

        def instances_apart():
            # Same plugin, two configs: each writes only its own file, and
            # both saw the same events (one queue feeds every notifier).
            plain = read_lines(outs["plain"])
            other = read_lines(outs["other"], want=len(plain))
            expect_eq(other, plain, "events seen by the second instance of slow-notify")
            durable = read_lines(outs["durable"])
            ids = [l[4] for l in durable]
            expect_eq(len(ids), len(set(ids)), "events the durable instance saw more than once")
        checks.check("two instances of one plugin keep their own config", instances_apart)

        def pull_still_works():
            r = s.request("GET", "/v2/ev/app/manifests/t00",
                          headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
            expect(r, 200)
        checks.check("the registry serves while notifiers lag", pull_still_works)

        def stops_cleanly():
            s.stop_clean()
        checks.check("server exits 0 on SIGTERM with notifiers attached", stops_cleanly)
    finally:
        for srv in checks.servers:
            srv.kill()
        if not os.environ.get("BERTH_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
