#!/usr/bin/env python3
"""Server CPU per heartbeat under an m2m-loadtest run: runs the given `m2m-loadtest run …`
command with --progress json, and at each progress line (about one a second) reads the
server's CPU seconds (utime + stime of /proc/PID/stat, every thread). The interval measured
runs from the first line on which every device is online (the logins are over) to the last
line before the run ends; the heartbeats are those the tester saw acknowledged in between.

  capacity_cpu.py --pid PID --devices N -- m2m-loadtest run … --progress json …

Prints one JSON object on stdout: interval_s, hb_acked, server_cpu_s, server_cpu_us_per_hb,
the tester's own CPU over the same interval (tester_cpu_s: the m2m-loadtest process and its
worker processes) and tester_hb_per_cpu_s, and the run's exit status (rc). The run's own stdout is kept in --stdout FILE (default:
discarded) and its stderr lines in --stderr FILE.
"""
import argparse
import json
import os
import subprocess
import sys


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    # fields[0] is field 3 (state): utime is field 14, stime field 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root):
    """CPU seconds of `root` and every live descendant (the tester and its worker processes)."""
    procs = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                s = f.read()
            fields = s[s.rindex(")") + 2:].split()
            procs[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
        except (OSError, ValueError, IndexError):
            continue
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in procs:
            total += procs[pid][1]
        todo.extend(child for child, (ppid, _) in procs.items() if ppid == pid)
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--devices", type=int, required=True)
    ap.add_argument("--stdout", default=os.devnull)
    ap.add_argument("--stderr", default=os.devnull)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    start = end = None
    with open(a.stdout, "w") as out, open(a.stderr, "w") as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, text=True)
        try:
            for line in p.stderr:
                err.write(line)
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if ev.get("progress") != "run":
                    continue
                sample = (ev.get("elapsed_s", 0), ev.get("totals", {}).get("hb_acked", 0), cpu_seconds(a.pid),
                          tree_cpu_seconds(p.pid))
                if start is None and ev.get("online", 0) >= a.devices:
                    start = sample
                elif start is not None:
                    end = sample
            rc = p.wait(timeout=600)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    result = {"rc": rc}
    if start and end and end[1] > start[1]:
        hb = end[1] - start[1]
        cpu = end[2] - start[2]
        tester = end[3] - start[3]
        result.update(interval_s=round(end[0] - start[0], 3), hb_acked=hb, server_cpu_s=round(cpu, 3),
                      server_cpu_us_per_hb=round(cpu / hb * 1e6, 3), tester_cpu_s=round(tester, 3),
                      tester_hb_per_cpu_s=round(hb / tester) if tester > 0 else None)
    else:
        result["error"] = "no interval with every device online and heartbeats acknowledged"
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
