"""m2m-loadtest provision and merge as a user runs them: the CSV a registry imports, reports
combined by counts and histograms (percentiles recomputed, never averaged), --slo exit codes
(0 held, 7 missed naming each goal and its value, 2 a malformed goal), bad input (3), missing
files (1), and the --hist-out / --json-out / --format text outputs."""
import json
import os
import subprocess
import sys
import tempfile

BIN = os.path.join(os.environ.get("BIN_DIR", "build/bin"), "m2m-loadtest")
PROG = "m2m-loadtest"


def run(args, want_rc, stdin=None):
    p = subprocess.run([BIN] + args, input=stdin, capture_output=True, text=True, timeout=60)
    assert p.returncode == want_rc, "%s: exit %d, expected %d\nstdout: %s\nstderr: %s" % (
        " ".join(args), p.returncode, want_rc, p.stdout[:2000], p.stderr[:2000])
    return p.stdout, p.stderr


def lowest(v):
    """The lowest value of the histogram bucket holding v (m2m-loadtest(1), REPORT)."""
    if v < 256:
        return v
    shift = v.bit_length() - 8
    return (v >> shift) << shift


def highest(v):
    return v if v < 256 else lowest(v) + (1 << (v.bit_length() - 8)) - 1


def histogram(values):
    buckets = {}
    for v in values:
        buckets[lowest(v)] = buckets.get(lowest(v), 0) + 1
    return {"unit": "us", "sub_buckets": 256, "count": len(values), "sum": sum(values),
            "min": min(values) if values else 0, "max": max(values) if values else 0,
            "buckets": [[k, buckets[k]] for k in sorted(buckets)]}


def report(devices, login_fail, hb_values, **totals):
    t = {"login_ok": devices - login_fail, "login_fail": login_fail, "hb_sent": len(hb_values),
         "hb_acked": len(hb_values)}
    t.update(totals)
    return {"v": 1, "tool": "m2m-loadtest", "devices": devices, "shards": 1, "duration_s": 20.0,
            "totals": t, "errors": {"timeout": login_fail},
            "relay": {"received": 10, "duplicates": 0, "reordered": 1, "late": 0, "lost": 0},
            "latency": {"heartbeat": {"histogram": histogram(hb_values)}},
            "resources": {"cpu_seconds": 1.25, "peak_rss_kib": 5000, "peak_rss_kib_sum": 5000}}


def test_provision(tmp):
    out, err = run(["provision", "--count", "1000", "--seed", "7", "--groups", "3"], 0)
    lines = out.splitlines()
    assert lines[0] == "id,password,group,enabled,description", lines[0]
    assert len(lines) == 1001, len(lines)
    assert err == ""
    rows = [l.split(",") for l in lines[1:]]
    assert rows[0][0] == "00004C5400000000" and rows[999][0] == "00004C54000003E7", (rows[0], rows[999])
    assert [r[2] for r in rows[:4]] == ["lt0", "lt1", "lt2", "lt0"]
    assert all(len(r[1]) == 16 and int(r[1], 16) >= 0 and r[3] == "1" and r[4] == "" for r in rows)
    assert len({r[1] for r in rows}) == 1000, "passwords repeat"
    again, _ = run(["provision", "-n", "1k", "--seed", "7", "--groups", "3"], 0)
    assert again == out, "the same seed gave another population"
    other, _ = run(["provision", "-n", "1000", "--seed", "8", "--groups", "3"], 0)
    assert [l.split(",")[1] for l in other.splitlines()[1:]] != [r[1] for r in rows]
    shifted, _ = run(["provision", "-n", "2", "--seed", "7", "--id-start", "00:00:00:00:10:00"], 0)
    assert [l.split(",")[0] for l in shifted.splitlines()[1:]] == ["0000000000001000", "0000000000001001"]
    acc, _ = run(["provision", "-n", "10", "--accounts", "--groups", "2", "--seed", "7"], 0)
    alines = acc.splitlines()
    assert alines[0] == "id,name,password,groups,enabled,description"
    assert [l.split(",")[0:2] + l.split(",")[3:4] for l in alines[1:]] == [
        ["900000", "loadtest-lt0", "lt0"], ["900001", "loadtest-lt1", "lt1"]], alines
    empty, _ = run(["provision", "-n", "0"], 0)
    assert empty == "id,password,group,enabled,description\n"
    _, err = run(["provision", "-n", "5", "--groups", "0"], 2)
    assert err == "%s: error: --groups must be at least 1\n" % PROG, err
    _, err = run(["provision", "-n", "5", "--id-start", "zz"], 2)
    assert err.startswith("%s: error: --id-start: " % PROG), err
    _, err = run(["provision", "-n", "5", "--id-start", "FFFFFFFFFFFFFFFE"], 2)
    assert err == ("%s: error: --id-start FFFFFFFFFFFFFFFE + --count 5 runs past the largest device id\n" % PROG), err
    _, err = run(["provision"], 2)
    assert "provision: --count is required" in err, err


def write(tmp, name, obj):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def test_merge(tmp):
    fast = [1000 + i for i in range(900)]     # 1.0-1.9 ms
    slow = [100000 + i for i in range(100)]   # 100 ms
    a = write(tmp, "a.json", report(900, 0, fast))
    b = write(tmp, "b.json", report(100, 2, slow, late_sends=4))
    out, err = run(["merge", a, b], 0)
    assert err == "", err
    m = json.loads(out)
    assert m["shards"] == 2 and m["devices"] == 1000, m
    assert m["totals"]["login_fail"] == 2 and m["totals"]["login_ok"] == 998 and m["totals"]["late_sends"] == 4
    assert m["totals"]["hb_sent"] == 1000
    assert m["errors"] == {"timeout": 2}
    assert m["relay"]["received"] == 20 and m["relay"]["reordered"] == 2
    assert m["resources"] == {"cpu_seconds": 2.5, "peak_rss_kib": 5000, "peak_rss_kib_sum": 10000}
    hb = m["latency"]["heartbeat"]
    assert hb["count"] == 1000 and hb["max_us"] == 100099
    assert hb["histogram"] == histogram(fast + slow), "merged buckets are not the sum of both"
    # Percentiles come from the merged counts: p50 is a fast sample, p99 a slow one. Averaging
    # the two reports' p99s (1.9 ms and 100 ms) would say 51 ms.
    assert hb["p50_us"] == highest(sorted(fast + slow)[499]), hb
    assert hb["p99_us"] == min(highest(sorted(fast + slow)[989]), 100099), hb
    assert 100000 <= hb["p99_us"] <= 100099
    # The merged report merges again, and '-' reads stdin.
    again, _ = run(["merge", "-", a], 0, stdin=out)
    assert json.loads(again)["shards"] == 3

    # Goals: held (0), missed (7, each named with its measured value), malformed (2).
    _, err = run(["merge", a, b, "--slo", "login_fail<=2,hb_p50<5ms"], 0)
    assert err == "%s: all 2 goals held\n" % PROG, err
    _, err = run(["merge", a, b, "--slo", "login_fail<=2,hb_p50<5ms", "-q"], 0)
    assert err == ""
    _, err = run(["merge", a, b, "--slo", "login_fail=0,hb_p99<50ms,relay_loss=0"], 7)
    assert err.splitlines() == [
        "%s: error: goal login_fail=0 missed: measured 2" % PROG,
        "%s: error: goal hb_p99<50ms missed: measured 100.1ms" % PROG,
        "%s: 2 of 3 goals missed" % PROG], err
    _, err = run(["merge", a, "--slo", "hb_p99<50ms,relay_loss=0", "-v"], 0)
    assert err.splitlines() == ["%s: goal hb_p99<50ms held: measured 1.90ms" % PROG,
                                "%s: goal relay_loss=0 held: measured 0" % PROG,
                                "%s: all 2 goals held" % PROG], err
    _, err = run(["merge", a, "--slo", "downlink_p99<1s"], 7)
    assert "goal downlink_p99<1s missed: no downlink samples" in err, err
    _, err = run(["merge", a, "--slo", "login_fail=0,hb_p99<50"], 2)
    assert err == ("%s: error: --slo term 2 'hb_p99<50': a latency needs a unit: us, ms or s (e.g. hb_p99<50ms)\n"
                   % PROG), err

    # Bad input: 3 naming the file and the fault; a missing file: 1.
    bad = report(10, 0, [5])
    bad["latency"]["heartbeat"]["histogram"]["count"] = 2
    _, err = run(["merge", a, write(tmp, "bad.json", bad)], 3)
    assert err == ("%s: error: %s: latency.heartbeat.histogram: bucket counts add up to 1, \"count\" says 2\n"
                   % (PROG, os.path.join(tmp, "bad.json"))), err
    _, err = run(["merge", write(tmp, "text.json", "p99 = 3ms")], 3)
    assert err.endswith("text.json: not JSON at byte 1 (expected a report written by m2m-loadtest)\n"), err
    _, err = run(["merge", write(tmp, "other.json", {"v": 1})], 3)
    assert err.endswith("other.json: not an m2m-loadtest report (no \"tool\":\"m2m-loadtest\")\n"), err
    missing = os.path.join(tmp, "nope.json")
    _, err = run(["merge", a, missing], 1)
    assert err == "%s: error: cannot read %s: No such file or directory\n" % (PROG, missing), err
    _, err = run(["merge"], 2)
    assert "reports is required" in err, err

    # Outputs for people and for tools.
    out, _ = run(["merge", a, b, "--format", "text", "--json-out", os.path.join(tmp, "m.json"),
                  "--hist-out", os.path.join(tmp, "h")], 0)
    assert "devices 1000 over 2 reports, 20.0s" in out, out
    assert any(l.split()[:2] == ["heartbeat", "1000"] for l in out.splitlines()), out
    with open(os.path.join(tmp, "m.json")) as f:
        assert json.load(f)["latency"]["heartbeat"]["count"] == 1000
    assert sorted(n for n in os.listdir(tmp) if n.endswith(".hgrm")) == ["h-heartbeat.hgrm"]
    with open(os.path.join(tmp, "h-heartbeat.hgrm")) as f:
        hgrm = f.read().splitlines()
    assert hgrm[0].split() == ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"], hgrm[0]
    assert hgrm[-4].split()[1:] == ["1.000000", "1000", "inf"], hgrm[-4]
    assert hgrm[-2] == "#[Max     =      100.099, Total count    =         1000]", hgrm[-2]


def test_run_usage(tmp):
    """m2m-loadtest run refuses bad options before anything starts (exit 2), saying what is
    expected; nothing needs a server for these."""
    base = ["run", "--server", "127.0.0.1:9", "-n", "10"]
    cases = [
        (["--rate", "fast"], "--rate: not a rate: 'fast' (use e.g. 5000/s, 10k/s, 0.5/s, 120/m)"),
        (["--relay", "5/d"], "--relay: not a rate: '5/d' (use e.g. 5000/s, 10k/s, 0.5/s, 120/m)"),
        (["--rate", "0"], "--rate must be above 0 (devices log in at this rate)"),
        (["--udp", "--tcp-share", "50%"], "--udp and --tcp-share exclude each other (--udp is --tcp-share 0%)"),
        (["--tcp-share", "120%"], "--tcp-share '120%': expected a percentage 0-100, e.g. 30%"),
        (["--source-ips", "127.0.0.9-127.0.0.2"],
         "--source-ips '127.0.0.9-127.0.0.2': range '127.0.0.9-127.0.0.2' ends before it starts"),
        (["--groups", "0"], "--groups must be at least 1"),
        (["--slo", "hb_p99<"], None),
        (["--duration", "0"], "--duration must be above 0"),
    ]
    for extra, message in cases:
        out, err = run(base + extra, 2)
        assert out == "", out
        if message is not None:
            assert err == "%s: error: %s\n" % (PROG, message), (extra, err)
        else:
            assert err.startswith("%s: error: " % PROG), (extra, err)
    _, err = run(["run", "--server", "127.0.0.1:99999", "-n", "10"], 2)
    assert err.startswith("%s: error: --server: '127.0.0.1:99999': port 99999 is out of range" % PROG), err
    # A cluster's nodes, comma-separated: each one is checked, and named when it is wrong.
    _, err = run(["run", "--server", "127.0.0.1:9,127.0.0.1:99999", "-n", "10"], 2)
    assert err.startswith("%s: error: --server: '127.0.0.1:99999': port 99999 is out of range" % PROG), err
    for servers in ["127.0.0.1:9,", "127.0.0.1:9,,127.0.0.1:10", ",127.0.0.1:9"]:
        _, err = run(["run", "--server", servers, "-n", "10"], 2)
        assert err == ("%s: error: --server '%s': an empty address (expected HOST:PORT, or HOST:PORT,HOST:PORT,… "
                       "for a cluster's nodes)\n" % (PROG, servers)), err
    _, err = run(["run", "--server", "127.0.0.1:9,[::1]:9", "-n", "10"], 2)
    assert err == ("%s: error: --server [::1]:9: not of the first server's address family (IPv4 and IPv6 are "
                   "not mixed)\n" % PROG), err
    _, err = run(["run", "-n", "10"], 2)
    assert "--server" in err, err
    out, _ = run(["run", "--help"], 0)
    for opt in ["--server HOST:PORT[,…]", "--rate R/s", "--heartbeat", "--tcp-share P%", "--shard K/N", "--source-ips RANGE",
                "--workers N", "--progress MODE", "--slo GOALS", "--hist-out PREFIX"]:
        assert opt in out, (opt, out)


def main():
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in sorted(globals().items()):
            if name.startswith("test_") and callable(fn):
                try:
                    fn(tmp)
                    print("PASS", name)
                except AssertionError as e:
                    failed += 1
                    print("FAIL", name, e, file=sys.stderr)
    sys.exit(1 if failed else 0)


main()
