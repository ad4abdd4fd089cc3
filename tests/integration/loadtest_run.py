#!/usr/bin/env python3
"""m2m-loadtest run against a real m2m-server on loopback (m2m-loadtest(1), RUN): a provisioned
population logs in, heartbeats and relays; the report's counts equal what the server counted
(its shutdown stats line); a server stopped for a second shows in the heartbeat p99.9 (latency
from the intended send time); --slo exits 0 or 7 naming the goal and its value; a port with no
server gives counted refusals; SIGINT still prints the report (exit 130). The worker and
limit cases are in loadtest_run_workers.py. Every run is bounded (--duration) and every
process is stopped whatever happens."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
from m2m_client import Server, run_tests, stop_process  # noqa: E402

BIN_DIR = os.environ.get("BIN_DIR", "build/bin")
LT = os.path.join(BIN_DIR, "m2m-loadtest")
SEED, GROUPS = "3", "10"


def provisioned_server(count, args=("-q",)):
    csv = subprocess.run([LT, "provision", "--count", str(count), "--seed", SEED, "--groups", GROUPS],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    srv = Server(args=list(args))
    srv.admin(["device", "import"], csv)
    return srv


def run(args, timeout=60):
    p = subprocess.run([LT, "run"] + args, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def report_of(rc, out, err, want_rc=0):
    assert rc == want_rc, "exit %d, expected %d\nstderr: %s" % (rc, want_rc, err[-3000:])
    return json.loads(out)


def server_stats(srv):
    """The stats line m2m-server writes when it shuts down (m2m-server(1), EVENTS)."""
    srv.stop()
    return srv.wait_event("stats", timeout=10)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def progress_lines(err):
    lines = [json.loads(l) for l in err.splitlines() if l.startswith("{")]
    assert all(l["v"] == 1 and l["progress"] == "run" for l in lines), lines[:3]
    return lines


def test_counts_equal_the_servers():
    n = 500
    with provisioned_server(n) as srv:
        rc, out, err = run(["--server", "127.0.0.1:%d" % srv.port, "-n", str(n), "--seed", SEED, "--groups", GROUPS,
                            "--rate", "500/s", "--heartbeat", "1s", "--relay", "200/s", "--duration", "6s",
                            "--progress", "json", "--slo", "login_fail=0,hb_loss=0,relay_loss=0,relay_dup=0"])
        rep = report_of(rc, out, err)
        stats = server_stats(srv)
    t = rep["totals"]
    assert rep["devices"] == n and rep["shards"] == 1, rep
    assert t["connect_ok"] == n and t["connect_fail"] == 0, t
    assert t["login_ok"] == n and t["login_fail"] == 0, t
    # 500 devices, one heartbeat a second from their login, for about 5 s of the 6: thousands.
    assert t["hb_sent"] >= 4 * n, t
    assert t["hb_acked"] == t["hb_sent"] and t["hb_loss"] == 0, t
    assert t["relay_sent"] >= 500, t
    assert rep["relay"]["received"] == t["relay_sent"], (rep["relay"], t)
    assert rep["relay"]["duplicates"] == 0 and rep["relay"]["lost"] == 0, rep["relay"]
    assert rep["errors"] == {} or sum(rep["errors"].values()) == 0, rep["errors"]
    # What the server counted: every login, every relay, every frame it read.
    assert stats["logins"] == t["login_ok"], (stats, t)
    assert stats["login_rejected"] == 0, stats
    assert stats["relays"] == t["relay_sent"], (stats, t)
    # Frames in: logins, heartbeats, relays sent, and each receiver's acknowledgement of a
    # relayed frame (a simulated device answers every request, as m2m-simdevice does).
    assert stats["frames_in"] == t["login_ok"] + t["hb_sent"] + t["relay_sent"] + rep["relay"]["received"], (stats, t)
    lat = rep["latency"]
    assert lat["login"]["count"] == n and lat["connect"]["count"] == n, lat["login"]
    assert lat["heartbeat"]["count"] == t["hb_acked"], lat["heartbeat"]
    assert lat["relay"]["count"] == rep["relay"]["received"], lat["relay"]
    # No stall in this run: even the slowest heartbeat answered well under a second.
    assert lat["heartbeat"]["p99_9_us"] < 800000, lat["heartbeat"]
    # Progress: JSON Lines once a second, cumulative, reaching the whole population.
    lines = progress_lines(err)
    assert len(lines) >= 4, err
    assert lines[-1]["online"] == n and lines[-1]["totals"]["login_ok"] == n, lines[-1]
    hb = [l["totals"]["hb_sent"] for l in lines]
    assert hb == sorted(hb) and hb[-1] <= t["hb_sent"], hb
    assert lines[0]["target"]["connects_per_s"] > 0 and "connects_per_s" in lines[0]["achieved"], lines[0]
    assert "all 4 goals held" in err, err


def test_stalled_server_shows_in_the_percentiles():
    """Coordinated omission: heartbeats due while the server is stopped wait for it; timed
    from their intended send time, the stall is in the tail (it would vanish if timed from
    the moment the tester got around to sending)."""
    n = 200
    with provisioned_server(n) as srv:
        p = subprocess.Popen([LT, "run", "--server", "127.0.0.1:%d" % srv.port, "-n", str(n), "--seed", SEED,
                              "--groups", GROUPS, "--rate", "1000/s", "--heartbeat", "500ms", "--relay", "100/s",
                              "--duration", "5s", "--progress", "json", "--slo", "hb_p99.9<500ms"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # Once everyone is online, stop the server for one second.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                line = p.stderr.readline()
                if not line:
                    break
                if line.startswith("{") and json.loads(line)["online"] == n:
                    break
            else:
                raise AssertionError("the population did not come online")
            srv.proc.send_signal(signal.SIGSTOP)
            time.sleep(1.0)  # the stall under test, not a wait for a condition
            srv.proc.send_signal(signal.SIGCONT)
            out, err = p.communicate(timeout=30)
        finally:
            srv.proc.send_signal(signal.SIGCONT)
            stop_process(p)
        rep = report_of(p.returncode, out, err, want_rc=7)
    hb = rep["latency"]["heartbeat"]
    assert hb["max_us"] >= 950000, hb
    assert hb["p99_9_us"] >= 900000, hb
    assert rep["totals"]["hb_loss"] == 0 and rep["totals"]["hb_acked"] == rep["totals"]["hb_sent"], rep["totals"]
    # Relay frames due during the stall waited too, and say so.
    assert rep["latency"]["relay"]["max_us"] >= 900000, rep["latency"]["relay"]
    lines = err.splitlines()
    assert any(l.startswith("m2m-loadtest: error: goal hb_p99.9<500ms missed: measured ") and l.endswith("s")
               for l in lines), err
    assert "m2m-loadtest: 1 of 1 goals missed" in lines, err


def test_no_server_counts_refusals():
    port = free_port()
    start = time.monotonic()
    rc, out, err = run(["--server", "127.0.0.1:%d" % port, "-n", "50", "--rate", "100/s", "--duration", "2s",
                        "--progress", "none", "--slo", "login_ok>=50"], timeout=30)
    rep = report_of(rc, out, err, want_rc=7)
    t = rep["totals"]
    assert t["login_ok"] == 0 and t["connect_ok"] == 0, t
    assert t["connect_fail"] >= 50 and rep["errors"].get("refused") == t["connect_fail"], (t, rep["errors"])
    assert "m2m-loadtest: error: goal login_ok>=50 missed: measured 0" in err.splitlines(), err
    assert t["login_fail"] == t["connect_fail"], t  # a failed connect is a failed login too
    assert ("m2m-loadtest: warning: no device logged in (%d logins failed, %d of them at the connect): is 127.0.0.1:%d "
            "the platform, and the population provisioned there?" % (t["login_fail"], t["connect_fail"], port)
            in err.splitlines()), err
    assert time.monotonic() - start < 25, "a refused run must end with its duration, not hang"


def test_sigint_still_reports():
    n = 100
    with provisioned_server(n) as srv:
        p = subprocess.Popen([LT, "run", "--server", "127.0.0.1:%d" % srv.port, "-n", str(n), "--seed", SEED,
                              "--groups", GROUPS, "--heartbeat", "1s", "--duration", "60s", "--progress", "json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                line = p.stderr.readline()
                if not line or (line.startswith("{") and json.loads(line)["online"] == n):
                    break
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=20)
        finally:
            stop_process(p)
        rep = report_of(p.returncode, out, err, want_rc=130)
    assert rep["totals"]["login_ok"] == n, rep["totals"]
    assert rep["duration_s"] < 30, rep["duration_s"]


if __name__ == "__main__":
    run_tests([test_counts_equal_the_servers, test_stalled_server_shows_in_the_percentiles,
               test_no_server_counts_refusals, test_sigint_still_reports])
