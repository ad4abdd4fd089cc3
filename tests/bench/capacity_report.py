#!/usr/bin/env python3
"""Figures of one capacity run, for people: reads the m2m-loadtest run report (--json-out),
optionally its --progress json lines and the servers' event output (their "stats" lines: the
periodic ones give the peaks, the last one, written at shutdown, the counters), and prints what the tester and each server counted, side by side.

  capacity_report.py REPORT.json [--progress FILE] [--server NAME=FILE ...] [--baseline-rss NAME=KIB ...]

Nothing is asserted here: the benchmark scripts check the run's goals with m2m-loadtest's own
--slo, and this prints the numbers behind them. A server's "rss per device" is the growth of
its peak resident memory (the registry's records included) over the devices it held at the
peak; --baseline-rss adds the RSS measured once the registry was loaded, before any login.
"""
import argparse
import json
import sys


def server_stats(path):
    """The last stats line (final counters) and the peaks of the periodic ones."""
    last, peak = None, {"online_tcp": 0, "online_udp": 0, "rss_kib": 0}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get("event") == "stats":
                last = ev
                for k in peak:
                    peak[k] = max(peak[k], ev.get(k, 0))
    return last, peak


def ms(us):
    return "%.2f ms" % (us / 1000.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("report")
    ap.add_argument("--progress")
    ap.add_argument("--server", action="append", default=[])
    ap.add_argument("--baseline-rss", action="append", default=[])
    a = ap.parse_args()
    with open(a.report) as f:
        r = json.load(f)
    t = r.get("totals", {})
    devices = r.get("devices", 0)
    print("   tester: %d devices, %.1f s, %d worker report%s merged" %
          (devices, r.get("duration_s", 0), r.get("shards", 1), "" if r.get("shards", 1) == 1 else "s"))
    print("   logins: %d ok, %d failed; connects %d ok, %d failed; churned %d" %
          (t.get("login_ok", 0), t.get("login_fail", 0), t.get("connect_ok", 0), t.get("connect_fail", 0), t.get("churn", 0)))
    print("   heartbeats: %d sent, %d acknowledged, %d lost; late sends %d" %
          (t.get("hb_sent", 0), t.get("hb_acked", 0), t.get("hb_loss", 0), t.get("late_sends", 0)))
    rel = r.get("relay", {})
    if t.get("relay_sent", 0):
        print("   relay: %d sent, %d received, %d lost, %d duplicated, %d reordered" %
              (t.get("relay_sent", 0), rel.get("received", 0), rel.get("lost", 0), rel.get("duplicates", 0),
               rel.get("reordered", 0)))
    errors = {k: v for k, v in r.get("errors", {}).items() if v}
    print("   errors: %s" % (", ".join("%s %d" % kv for kv in sorted(errors.items())) if errors else "none"))
    for op, lat in r.get("latency", {}).items():
        if lat.get("count", 0):
            print("   latency %-9s n=%d  p50 %s  p90 %s  p99 %s  p99.9 %s  max %s (from the intended send time)" %
                  (op, lat["count"], ms(lat.get("p50_us", 0)), ms(lat.get("p90_us", 0)), ms(lat.get("p99_us", 0)),
                   ms(lat.get("p99_9_us", 0)), ms(lat.get("max_us", 0))))
    res = r.get("resources", {})
    cpu = res.get("cpu_seconds", 0)
    rss_sum = res.get("peak_rss_kib_sum", res.get("peak_rss_kib", 0))
    line = "   tester resources: %.2f CPU s, peak RSS %d KiB (largest process %d KiB)" % (
        cpu, rss_sum, res.get("peak_rss_kib", 0))
    if devices:
        line += ", %.0f bytes per simulated device (whole processes)" % (rss_sum * 1024.0 / devices)
    print(line)
    if cpu > 0 and t.get("hb_acked", 0):
        print("   tester: %.0f heartbeats acknowledged per tester CPU second (everything the run did counted)" %
              (t.get("hb_acked", 0) / cpu))
    if a.progress:
        rows = []
        with open(a.progress, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if ev.get("progress") == "run":
                    rows.append(ev)
        if rows:
            ach = [row.get("achieved", {}) for row in rows]
            print("   busiest second: %.0f logins/s, %.0f heartbeats acked/s, %.0f relay frames received/s" %
                  (max(x.get("logins_per_s", 0) for x in ach), max(x.get("hb_acked_per_s", 0) for x in ach),
                   max(x.get("relay_received_per_s", 0) for x in ach)))
            ramp = [x.get("logins_per_s", 0) for x in ach if x.get("logins_per_s", 0) > 0]
            if ramp:
                print("   logins: %d seconds with logins, %.0f/s on average over them" % (len(ramp), sum(ramp) / len(ramp)))
    baselines = dict(b.split("=", 1) for b in a.baseline_rss)
    for spec in a.server:
        name, path = spec.split("=", 1)
        s, peak = server_stats(path)
        if not s:
            print("   server %s: no stats line in %s" % (name, path))
            continue
        print("   server %s: %d logins, %d rejected, %d frames in, %d out, %d relays, %d drops, %d bad frames" %
              (name, s.get("logins", 0), s.get("login_rejected", 0), s.get("frames_in", 0), s.get("frames_out", 0),
               s.get("relays", 0), s.get("drops", 0), s.get("bad_frames", 0)))
        held = peak["online_tcp"] + peak["online_udp"]
        line = "   server %s: peak online %d TCP + %d UDP, peak RSS %d KiB" % (
            name, peak["online_tcp"], peak["online_udp"], peak["rss_kib"])
        if held:
            line += " = %.0f bytes per device held, registry included" % (peak["rss_kib"] * 1024.0 / held)
        if name in baselines:
            line += " (%s KiB once the registry was loaded, before any login)" % baselines[name]
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
