"""Processes: start, wait until HTTP answers, stop, and read memory and fds."""
import os
import signal
import socket
import subprocess
import time
import http.client


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def http_status(port, path, timeout=2.0):
    """The status of GET path on 127.0.0.1:port, or None when nothing answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except OSError:
        return None
    finally:
        conn.close()


def wait_http(proc, port, path="/v2/", timeout=60.0, poll=0.002):
    """Seconds from now until GET path answers 200; raises when it never does."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with status {proc.returncode} before answering")
        if http_status(port, path, timeout=1.0) == 200:
            return time.monotonic() - start
        time.sleep(poll)
    raise RuntimeError(f"GET {path} did not answer 200 within {timeout:.0f} s")


def spawn(argv, log_path, env=None, cwd=None):
    log = open(log_path, "ab")
    try:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                start_new_session=True)
    finally:
        log.close()


def stop(proc, timeout=30.0):
    """SIGTERM, then SIGKILL after timeout; returns the exit status."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def children(pid):
    """pid and every descendant (nginx's workers)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def mem_kib(pid, field="VmRSS"):
    """VmRSS (or VmHWM) of pid and its descendants, in KiB."""
    return sum(status_kib(p, field) for p in children(pid))


def anon_kib(pid):
    """Anonymous memory of pid and its descendants, in KiB (`Anonymous` of
    smaps_rollup): heap, stacks and the pages a process has written, its
    own or copied from a file. RSS also counts clean file pages (program
    text, shared libraries), and whether those show as private or shared
    depends on what else runs on the machine (a second Berth, nginx with
    the same libcrypto), so only the anonymous part compares servers."""
    total = 0
    for p in children(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Anonymous:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def open_fds(pid):
    total = 0
    for p in children(pid):
        try:
            total += len(os.listdir(f"/proc/{p}/fd"))
        except OSError:
            pass
    return total


class Sampler:
    """Samples RSS and open fds of a process tree in the background (peaks)."""

    def __init__(self, pid, interval=0.02):
        import threading
        self.pid, self.interval = pid, interval
        self.peak_rss_kib = 0
        self.peak_fds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak_rss_kib = max(self.peak_rss_kib, mem_kib(self.pid))
            self.peak_fds = max(self.peak_fds, open_fds(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
