#!/usr/bin/env python3
"""Cluster benchmark (issue #13): its own nats-server and two m2m-server nodes on loopback.
  1. Memory: N devices log in over UDP on node n1 (one socket, as many ids); the resident
     memory of n0 (which holds none of them: its directory holds N remote entries) and of n1
     (which holds them) is read before and after, against a single node holding the same N.
  2. Relay latency: device A on n0 relays to device B on n1 at a fixed rate for a while; each
     frame's time from A's send to B's receipt, and to A's ok (the ack that the target's node
     handed it over), as p50/p99/max.
Prints figures and conditions; nothing is asserted.
  cluster_bench.py --bin DIR [--devices 20000] [--rate 2000] [--seconds 5]"""
import argparse
import os
import socket
import subprocess
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration", "support"))
from m2m_client import OK, Peer, Server, encode, password, rss_kib, split_frames  # noqa: E402
from cluster_fixture import Cluster  # noqa: E402

A, B = 0xA1, 0xB2
FIRST = 0x0C000000


def udp_logins(port, n):
    """Logs n devices in over UDP from one socket, pipelined in windows; returns the count ok."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    ok = 0
    window = 200
    for base in range(0, n, window):
        ids = range(base, min(n, base + window))
        for i in ids:
            s.sendto(encode(0xA0, 0x00, 1, FIRST + i, b"", password("p")), ("127.0.0.1", port))
        got = 0
        while got < len(ids):
            try:
                chunk, _ = s.recvfrom(65536)
            except socket.timeout:
                break
            frames, _ = split_frames(chunk)
            for f in frames:
                got += 1
                ok += f.status == OK
    return ok, s


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))] if xs else float("nan")


def measure_relay(probe, b, a, label):
    """A relays to B at a.rate for a.seconds; prints latency percentiles."""
    n = int(a.rate * a.seconds)
    sent, recv_at, ack_at = {}, {}, {}
    stop = threading.Event()

    def reader(peer, out, want_status):
        buf = b""
        peer.sock.settimeout(0.2)
        while not stop.is_set():
            try:
                chunk = peer.sock.recv(1 << 16)
            except socket.timeout:
                continue
            if not chunk:
                return
            now = time.perf_counter()
            buf += chunk
            frames, buf = split_frames(buf)
            for f in frames:
                if f.cls == 0xAA and f.cmd == 0x55 and f.status == want_status:
                    if want_status == 2:
                        out[struct.unpack(">I", f.data[8:12])[0]] = now
                    else:
                        out[f.seq] = now
    tb = threading.Thread(target=reader, args=(b, recv_at, 2), daemon=True)
    ta = threading.Thread(target=reader, args=(probe, ack_at, 0), daemon=True)
    tb.start()
    ta.start()
    t0 = time.perf_counter()
    for i in range(n):
        due = t0 + i / a.rate
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        seq = (i % 0xFFFF) + 1
        sent[i] = (time.perf_counter(), seq)
        probe.send_raw(encode(0xAA, 0x55, seq, A, probe.token, struct.pack(">Q", B) + struct.pack(">I", i)))
    elapsed = time.perf_counter() - t0
    time.sleep(1)
    stop.set()
    deliver = [(recv_at[i] - sent[i][0]) * 1000 for i in sent if i in recv_at]
    acks = [(ack_at[s] - t) * 1000 for i, (t, s) in sent.items() if s in ack_at and i >= n - 0xFFFF]
    print(label + ": %d frames at %d/s offered (%.0f/s achieved by the Python sender), %d delivered, "
          "%d acked" % (n, a.rate, n / elapsed, len(deliver), len(ack_at)))
    print("  send -> target receives: p50 %.2f ms, p99 %.2f ms, max %.2f ms" %
          (pct(deliver, 50), pct(deliver, 99), max(deliver) if deliver else float("nan")))
    print("  send -> sender's ok:     p50 %.2f ms, p99 %.2f ms, max %.2f ms" %
          (pct(acks, 50), pct(acks, 99), max(acks) if acks else float("nan")))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--devices", type=int, default=20000)
    ap.add_argument("--rate", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=5)
    a = ap.parse_args()
    os.environ["BIN_DIR"] = a.bin
    devices = [("%016X" % A, "text:a", "g1", 1, ""), ("%016X" % B, "text:b", "g1", 1, "")]
    devices += [("%016X" % (FIRST + i), "text:p", "big", 1, "") for i in range(a.devices)]

    # Baseline: one node without --cluster holding the N devices.
    with Server(devices) as single:
        before = rss_kib(single.proc.pid)
        ok, keep = udp_logins(single.port, a.devices)
        time.sleep(0.5)
        after = rss_kib(single.proc.pid)
        keep.close()
        pa, pb = Peer(single.port, A), Peer(single.port, B)
        assert pa.login(password("a")).status == OK and pb.login(password("b")).status == OK
        measure_relay(pa, pb, a, "relay within one node (the driver's own share)")
    print("single node: %d UDP devices logged in; RSS %d -> %d KiB (%.1f B per online device)" %
          (ok, before, after, (after - before) * 1024.0 / max(ok, 1)))

    with Cluster(devices, nodes=2, heartbeat="1s") as cl:
        n0, n1 = cl.nodes
        r0, r1 = rss_kib(n0.proc.pid), rss_kib(n1.proc.pid)
        ok, keep = udp_logins(n1.port, a.devices)
        # n0 has heard of them all when a relay to the last one is not refused as offline.
        probe = Peer(n0.port, A)
        assert probe.login(password("a")).status == OK
        time.sleep(1.0)
        r0b, r1b = rss_kib(n0.proc.pid), rss_kib(n1.proc.pid)
        print("cluster: %d UDP devices logged in on n1" % ok)
        print("  n0 (holds none; %d remote entries): RSS %d -> %d KiB (%.1f B per remote online device)" %
              (ok, r0, r0b, (r0b - r0) * 1024.0 / max(ok, 1)))
        print("  n1 (holds them): RSS %d -> %d KiB (%.1f B per online device, single node above: the difference "
              "is what cluster mode adds)" % (r1, r1b, (r1b - r1) * 1024.0 / max(ok, 1)))
        keep.close()

        b = Peer(n1.port, B)
        assert b.login(password("b")).status == OK
        deadline = time.monotonic() + 5
        while probe.request(0xAA, 0x55, struct.pack(">Q", B) + b"w").status != OK:
            assert time.monotonic() < deadline, "n0 never saw B"
        b.recv(1)
        measure_relay(probe, b, a, "relay n0 -> n1 (two nodes)")
        # The alternative: one subject per device, measured on the same nats-server.
        sub_bin = os.path.join(a.bin, "bench_cluster_subjects")
        if os.path.exists(sub_bin):
            s0 = rss_kib(cl.nats.proc.pid)
            p = subprocess.Popen([sub_bin, "--url", cl.nats.url, "--count", str(a.devices)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            try:
                line = p.stdout.readline().strip()
                s1 = rss_kib(cl.nats.proc.pid)
            finally:
                p.stdin.close()
                p.wait(timeout=30)
            print(line)
            print("  nats-server RSS %d -> %d KiB with them (%.1f B per device subject)" %
                  (s0, s1, (s1 - s0) * 1024.0 / a.devices))
        print("conditions: loopback, one nats-server 2.9, %d cores shared with other work, load %.1f; "
              "Python clients (their own latency is included)" % (os.cpu_count(), os.getloadavg()[0]))


if __name__ == "__main__":
    main()
