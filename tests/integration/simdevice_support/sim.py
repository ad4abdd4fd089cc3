"""m2m-simdevice as a child process for the integration tests: its stdout frame records and
its -v events (stderr) are read by threads into queues; every wait is bounded; stop() always
ends it (SIGTERM, then SIGKILL)."""
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from m2m_client import stop_process  # noqa: E402


class Sim:
    def __init__(self, args, verbose=True):
        self.bin = os.path.join(os.environ.get("BIN_DIR", "build/bin"), "m2m-simdevice")
        self.proc = subprocess.Popen([self.bin] + list(args) + (["-v"] if verbose else []),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1)
        self.records, self.events = queue.Queue(), queue.Queue()
        self.seen_records, self.seen_events, self.stderr_lines = [], [], []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.records, None), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.events, self.stderr_lines), daemon=True).start()

    @staticmethod
    def _pump(stream, q, raw_lines):
        for line in stream:
            if raw_lines is not None:
                raw_lines.append(line.rstrip("\n"))
            try:
                q.put(json.loads(line))
            except ValueError:
                pass
        q.put(None)

    def _wait(self, q, seen, what, match, timeout):
        for e in seen:
            if match(e):
                seen.remove(e)
                return e
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("m2m-simdevice: no %s within %.1fs; seen: %s; stderr: %s" %
                                     (what, timeout, seen[-8:], self.stderr_lines[-5:]))
            try:
                e = q.get(timeout=left)
            except queue.Empty:
                continue
            if e is None:
                raise AssertionError("m2m-simdevice exited (%s) before %s; stderr: %s" %
                                     (self.proc.poll(), what, self.stderr_lines[-10:]))
            if match(e):
                return e
            seen.append(e)

    def event(self, name, timeout=10.0, **fields):
        return self._wait(self.events, self.seen_events, "%s event %s" % (name, fields),
                          lambda e: e.get("event") == name and all(e.get(k) == v for k, v in fields.items()), timeout)

    def event_where(self, what, pred, timeout=10.0):
        return self._wait(self.events, self.seen_events, what, pred, timeout)

    def p2p(self, prefix, timeout=10.0):
        """The next p2p event whose detail starts with prefix."""
        return self.event_where("p2p event '%s...'" % prefix,
                                lambda e: e.get("event") == "p2p" and e.get("detail", "").startswith(prefix), timeout)

    def record(self, timeout=10.0, **fields):
        return self._wait(self.records, self.seen_records, "record %s" % fields,
                          lambda r: all(r.get(k) == v for k, v in fields.items()), timeout)

    def line(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def wait(self, timeout=15.0):
        """Exit status once it ends by itself (-t, -n, giving up)."""
        return self.proc.wait(timeout=timeout)

    def stop(self):
        return stop_process(self.proc)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
