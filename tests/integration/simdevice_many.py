"""1,000 simulated devices in one m2m-simdevice process against m2m-server on loopback, with
ids and passwords from `m2m-server device export` (--devices): all logged in, and all
heartbeating at the interval of parameter 0x000C (the server's stats counters say so)."""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "simdevice_support"))
from m2m_client import Server, rss_kib, run_tests  # noqa: E402
from sim import Sim  # noqa: E402

N = 1000
HEARTBEAT_S = 2


def stats_where(srv, pred, timeout):
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no stats line as wanted within %.0fs; last: %s" % (timeout, srv.seen[-1:]))
        ev = srv.wait_event("stats", timeout=left)
        if pred(ev):
            return ev


def test_thousand_devices_log_in_and_heartbeat():
    devices = [("%016X" % (0xD0000 + i), "text:p%d" % i, "default", 1, "") for i in range(N)]
    with Server(devices, args=["--stats-interval", "1s", "-q"]) as srv:
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
            f.write(srv.admin(["device", "export"]))
            csv = f.name
        try:
            with Sim(["--server", "127.0.0.1:%d" % srv.port, "--devices", csv, "--heartbeat", "%ds" % HEARTBEAT_S,
                      "-t", "120s"], verbose=False) as sim:
                t0 = time.monotonic()
                full = stats_where(srv, lambda e: e["online_tcp"] == N, 60)
                print("%d devices logged in within %.1fs" % (N, time.monotonic() - t0))
                assert full["logins"] == N and full["login_rejected"] == 0, full
                # Heartbeats: over a few seconds every device sends one per HEARTBEAT_S.
                a = stats_where(srv, lambda e: True, 5)
                ta = time.monotonic()
                b = stats_where(srv, lambda e: time.monotonic() - ta >= 3 * HEARTBEAT_S, 20)
                took = time.monotonic() - ta
                frames = b["frames_in"] - a["frames_in"]
                want = N * took / HEARTBEAT_S
                print("%d frames in %.1fs from %d devices (%.0f expected at one heartbeat per %ds); "
                      "simulator RSS %d KiB" % (frames, took, N, want, HEARTBEAT_S, rss_kib(sim.proc.pid)))
                assert frames >= 0.8 * want, "only %d heartbeats in %.1fs, want about %.0f" % (frames, took, want)
                assert b["online_tcp"] == N and b["logins"] == N, b  # nobody dropped or logged in again
                assert sim.proc.poll() is None
                assert sim.stop() == 130
                assert "%d devices, %d logged in at the end" % (N, N) in sim.stderr_lines[-1], sim.stderr_lines[-1:]
        finally:
            os.unlink(csv)


if __name__ == "__main__":
    run_tests([test_thousand_devices_log_in_and_heartbeat])
