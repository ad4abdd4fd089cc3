#!/usr/bin/env python3
"""m2m-loadtest run over several worker processes (m2m-loadtest(1), WORKERS AND LIMITS): a file
limit lowered in the test's own shell splits the run over workers whose merged totals equal
what the server counted; with --workers too few for the limit, the pre-check names the
figure, the limit and the fix before anything starts; a worker that dies is named, exit 1,
and no partial report is passed off as the run's."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
from m2m_client import Server, run_tests, stop_process  # noqa: E402

BIN_DIR = os.environ.get("BIN_DIR", "build/bin")
LT = os.path.join(BIN_DIR, "m2m-loadtest")
SEED, GROUPS = "5", "4"


def provisioned_server(count):
    csv = subprocess.run([LT, "provision", "--count", str(count), "--seed", SEED, "--groups", GROUPS],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    srv = Server(args=["-q"])
    srv.admin(["device", "import"], csv)
    return srv


def with_ulimit(nofile, args):
    """The run in a shell whose file limit (soft and hard) is lowered first."""
    return ["bash", "-c", 'ulimit -n %d && exec "$0" run "$@"' % nofile, LT] + args


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def test_lowered_limit_splits_over_workers():
    n = 300
    with provisioned_server(n) as srv:
        # 150 TCP devices and 2 UDP sockets (one per 256 devices of the slice) + 8 reserved do
        # not fit 100 descriptors; two workers of 150 would not either (devices 0-149 hold
        # 100 TCP devices): three workers of 100.
        p = subprocess.run(with_ulimit(100, ["--server", "127.0.0.1:%d" % srv.port, "-n", str(n), "--seed", SEED,
                                             "--groups", GROUPS, "--tcp-share", "50%", "--rate", "1000/s",
                                             "--heartbeat", "1s", "--relay", "100/s", "--duration", "4s",
                                             "--progress", "plain", "-v"]),
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr[-3000:]
        srv.stop()
        stats = srv.wait_event("stats", timeout=10)
    rep = json.loads(p.stdout)
    assert "m2m-loadtest: devices 0-299 of 300 over 3 workers, 152 descriptors" in p.stderr.splitlines(), p.stderr
    t = rep["totals"]
    assert rep["devices"] == n and rep["shards"] == 1, rep
    assert t["login_ok"] == n and t["login_fail"] == 0, t
    assert t["connect_ok"] == n // 2, t  # --tcp-share 50%: the other half speaks UDP
    assert t["hb_sent"] >= 2 * n and t["hb_acked"] == t["hb_sent"], t
    assert rep["relay"]["received"] == t["relay_sent"] and rep["relay"]["lost"] == 0, (rep["relay"], t)
    assert stats["logins"] == t["login_ok"], (stats, t)
    assert stats["relays"] == t["relay_sent"], (stats, t)
    assert stats["frames_in"] == t["login_ok"] + t["hb_sent"] + t["relay_sent"] + rep["relay"]["received"], (stats, t)
    # Two processes' costs, summed; the largest is one of them.
    r = rep["resources"]
    assert r["peak_rss_kib_sum"] > r["peak_rss_kib"] > 0, r
    # Plain progress lines, one a second, naming the population online.
    prog = [l for l in p.stderr.splitlines() if l.startswith("m2m-loadtest: ") and " online " in l]
    assert len(prog) >= 2, p.stderr
    assert any(" online 300, " in l for l in prog), prog


def test_precheck_names_the_figure_the_limit_and_the_fix():
    p = subprocess.run(with_ulimit(64, ["--server", "127.0.0.1:9", "-n", "500", "--workers", "1"]),
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert p.stdout == "", p.stdout
    assert p.stderr == (
        "m2m-loadtest: error: need 508 descriptors per worker (500 connections + 8), hard limit 64: use --workers 9 "
        "(and `ulimit -n 64`), or raise the hard limit as root (`prlimit --nofile=508 --pid $$`, or nofile in "
        "/etc/security/limits.conf)\n"), p.stderr
    # The fix it names works: 9 workers fit (nothing listens on port 9: refusals, counted).
    p = subprocess.run(with_ulimit(64, ["--server", "127.0.0.1:9", "-n", "500", "--workers", "9", "--duration", "1s",
                                        "--rate", "1000/s", "--progress", "none"]),
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert rep["devices"] == 500 and rep["totals"]["connect_fail"] >= 500, rep["totals"]


def test_dead_worker_is_named():
    n = 200
    with provisioned_server(n) as srv:
        p = subprocess.Popen([LT, "run", "--server", "127.0.0.1:%d" % srv.port, "-n", str(n), "--seed", SEED,
                              "--groups", GROUPS, "--workers", "2", "--heartbeat", "1s", "--duration", "60s",
                              "--progress", "json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = p.stderr.readline()  # the first progress line: both workers are running
            assert line.startswith("{"), line
            kids = children(p.pid)
            assert len(kids) == 2, kids
            os.kill(kids[1], signal.SIGKILL)
            out, err = p.communicate(timeout=20)
        finally:
            stop_process(p)
    assert p.returncode == 1, (p.returncode, err)
    assert out == "", out
    assert ("m2m-loadtest: error: worker 2 of 2 (pid %d, devices 100-199): was killed by signal 9 (Killed) "
            "before it sent its report" % kids[1]) in err.splitlines(), err
    assert "m2m-loadtest: error: no report: the figures of the workers above are missing" in err.splitlines(), err


def test_two_shards_merge_to_the_servers_counts():
    """Two machines' worth of one population (--shard 1/2 and 2/2 at the same time), merged:
    the slices do not overlap (every device logs in once) and the merged counts are the
    server's. Shard 1 also holds the groups' accounts and sends the downlink requests."""
    n = 200
    csv = subprocess.run([LT, "provision", "--count", str(n), "--seed", SEED, "--groups", GROUPS, "--accounts"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    with provisioned_server(n) as srv:
        srv.admin(["account", "import"], csv)
        common = ["--server", "127.0.0.1:%d" % srv.port, "-n", str(n), "--seed", SEED, "--groups", GROUPS,
                  "--rate", "400/s", "--heartbeat", "1s", "--relay", "40/s", "--downlink", "20/s", "--duration", "4s",
                  "--progress", "none"]
        procs = [subprocess.Popen([LT, "run", "--shard", "%d/2" % k] + common, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for k in (1, 2)]
        try:
            outs = [p.communicate(timeout=60) for p in procs]
        finally:
            for p in procs:
                stop_process(p)
        for p, (out, err) in zip(procs, outs):
            assert p.returncode == 0, err[-2000:]
        reports = [json.loads(out) for out, _ in outs]
        srv.stop()
        stats = srv.wait_event("stats", timeout=10)
    assert [r["devices"] for r in reports] == [100, 100], [r["devices"] for r in reports]
    assert reports[1]["totals"]["downlink_sent"] == 0, reports[1]["totals"]  # only shard 1 has the accounts
    # m2m-loadtest merge combines the machines' reports into the run's.
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for k, (out, _) in enumerate(outs):
            files.append(os.path.join(tmp, "shard%d.json" % (k + 1)))
            with open(files[-1], "w") as f:
                f.write(out)
        m = subprocess.run([LT, "merge"] + files, capture_output=True, text=True, timeout=30)
    assert m.returncode == 0, m.stderr
    rep = json.loads(m.stdout)
    assert rep["devices"] == n and rep["shards"] == 2, rep
    t = rep["totals"]
    received = rep["relay"]["received"]
    assert t["login_ok"] == n and t["login_fail"] == 0, t
    assert t["downlink_sent"] > 0 and t["downlink_ok"] == t["downlink_sent"], t
    assert rep["latency"]["downlink"]["count"] == t["downlink_ok"], rep["latency"]["downlink"]
    # The server counts the groups' accounts' logins too, and routes each downlink request.
    groups = int(GROUPS)
    assert stats["logins"] == t["login_ok"] + groups, (stats, t)
    assert stats["routed"] == t["downlink_sent"], (stats, t)
    assert stats["relays"] == t["relay_sent"] and received == t["relay_sent"], (stats, t, received)


if __name__ == "__main__":
    run_tests([test_lowered_limit_splits_over_workers, test_precheck_names_the_figure_the_limit_and_the_fix,
               test_dead_worker_is_named, test_two_shards_merge_to_the_servers_counts])
