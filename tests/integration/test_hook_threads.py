"""The threading rule of plugin.h, observed: request hooks run concurrently
on worker threads, unless the plugin declares BERTH_PLUGIN_SERIALIZED, in
which case the host never runs two of its calls at once.

tests/plugins/concurrency-probe.c records the most calls inside its hook at
the same time; both builds of it sit in the same chain while 8 clients
request /v2/ together.
"""
import json
import os
import shutil
import tempfile

from berth_harness import BUILD_DIR, PLUGIN_DIR, Server, expect, expect_eq, expect_true, parallel, run_main

TEST_PLUGIN_DIR = os.path.join(BUILD_DIR, "tests", "plugins")
CLIENTS = 8


def main(checks):
    tmp = tempfile.mkdtemp(prefix="berth-threads-")
    config = {
        "plugin_path": [PLUGIN_DIR, TEST_PLUGIN_DIR],
        "limits": {"threads": 4},
        "plugins": [
            {"use": "storage-fs", "config": {"root": os.path.join(tmp, "root")}},
            {"use": "concurrency-probe", "config": {"sleep_ms": 100}},
            {"use": "concurrency-probe-serialized", "config": {"sleep_ms": 20}},
        ],
    }
    s = checks.watch(Server(tmpdir=tmp, config=config))
    try:
        s.start()

        def load():
            results = parallel(CLIENTS, lambda i: [s.request("GET", "/v2/") for _ in range(3)])
            for r in results:
                if isinstance(r, Exception):
                    raise r
                for resp in r:
                    expect(resp, 200)
        checks.check("%d clients at once, through both probes" % CLIENTS, load)

        def concurrent():
            r = expect(s.request("GET", "/probe/concurrent"), 200)
            n = json.loads(r.body)["max"]
            expect_true(n > 1, "a plain plugin's hook ran concurrently (max %d at once)" % n)
        checks.check("hooks run concurrently on worker threads", concurrent)

        def serialized():
            r = expect(s.request("GET", "/probe/serialized"), 200)
            expect_eq(json.loads(r.body)["max"], 1, "most calls at once into a serialized plugin")
        checks.check("a serialized plugin is never entered twice at once", serialized)

        checks.check("server exits 0 on SIGTERM", s.stop_clean)
    finally:
        for srv in checks.servers:
            srv.kill()
        if not os.environ.get("BERTH_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
