#!/usr/bin/env python3
"""OTA benchmark (issue #10): N simulated devices (one m2m-simdevice process, TCP, loopback)
updated at once by m2m-ota-serve from one image. Prints the total time (the server's start to
its last device's outcome and re-login), the aggregate MB/s of image bytes served, the server's
CPU seconds and peak RSS (its rusage), with the conditions. Nothing is asserted.
  ota_bench.py --bin DIR [--devices 1000] [--image-kib 256] [--frame-size 1024]"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--image-kib", type=int, default=256)
    ap.add_argument("--frame-size", type=int, default=1024)
    ap.add_argument("--timeout", type=int, default=300)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ota-bench-")
    image = os.path.join(work, "app-v2.bin")
    with open(image, "wb") as f:
        f.write(os.urandom(a.image_kib * 1024))
    port = free_port()
    first = 0x0B000000
    ids = os.path.join(work, "ids")
    with open(ids, "w") as f:
        f.write("".join("%016X\n" % (first + i) for i in range(a.devices)))
    t0 = time.monotonic()
    srv = subprocess.Popen([os.path.join(a.bin, "m2m-ota-serve"), "--firmware", image, "--accept-any",
                            "--listen", "127.0.0.1:%d" % port, "--devices-file", ids, "--until-done",
                            "--stall-timeout", "60s", "-t", "%ds" % a.timeout],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    sim = subprocess.Popen([os.path.join(a.bin, "m2m-simdevice"), "--server", "127.0.0.1:%d" % port,
                            "--count", str(a.devices), "--id-start", "0x%X" % first, "--password", "text:pw",
                            "--ota-frame-size", str(a.frame_size), "--reboot-time", "100ms",
                            "-t", "%ds" % (a.timeout + 10)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        out = srv.stdout.read()
        _, status, ru = os.wait4(srv.pid, 0)
        srv.returncode = os.waitstatus_to_exitcode(status)
    finally:
        sim.terminate()
        sim.wait()
    wall = time.monotonic() - t0
    recs = [json.loads(l) for l in out.splitlines() if l.strip()]
    summary = recs[-1] if recs and recs[-1].get("summary") else {}
    devs = [r for r in recs if "id" in r]
    slowest = max((r["seconds"] for r in devs), default=0.0)
    served = summary.get("bytes_served", 0)
    print("conditions: %d devices (one m2m-simdevice process, TCP on loopback) updated at once from a %d KiB "
          "image, frame size %d, no --max-parallel; client and server share the machine (%d cores)"
          % (a.devices, a.image_kib, a.frame_size, os.cpu_count()))
    print("outcome:    %d ok, %d failed (exit %d)" % (summary.get("ok", 0), summary.get("failed", 0), srv.returncode))
    print("total time: %.2f s (server start to the last re-login); slowest device %.2f s from its start"
          % (summary.get("seconds", wall), slowest))
    print("throughput: %.1f MB/s aggregate (%.1f MB of image bytes served)"
          % (served / 1e6 / max(summary.get("seconds", wall), 1e-9), served / 1e6))
    print("server:     %.2f CPU seconds (user %.2f + sys %.2f), peak RSS %.1f MiB"
          % (ru.ru_utime + ru.ru_stime, ru.ru_utime, ru.ru_stime, ru.ru_maxrss / 1024))
    subprocess.run(["rm", "-rf", work])
    return 0


if __name__ == "__main__":
    sys.exit(main())
