"""m2m-server --cluster --reuseport: three processes share one TCP/UDP port on this machine and
act as one platform. 30 devices connect to that one port (the kernel spreads them over the
processes); every device relays to every other and each relay is delivered once, with its
payload, whichever process holds the sender and the target."""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))
from m2m_client import OK, Peer, password, run_tests  # noqa: E402
from cluster_fixture import Cluster  # noqa: E402

N = 30
FIRST = 0x0D000000
DEVICES = [("%016X" % (FIRST + i), "text:p%d" % i, "g", 1, "") for i in range(N)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_processes_on_one_port_relay_between_all_devices():
    port = free_port()
    with Cluster(DEVICES, args=["--reuseport"], listen="127.0.0.1:%d" % port) as cl:
        assert all(n.port == port for n in cl.nodes)
        peers = []
        for i in range(N):
            p = Peer(port, FIRST + i)
            assert p.login(password("p%d" % i)).status == OK
            peers.append(p)
        # Where each device landed: the login events of each process.
        holders = {}
        for i, n in enumerate(cl.nodes):
            while True:
                try:
                    ev = n.wait_event("login", timeout=0.3)
                except AssertionError:
                    break
                holders[int(ev["device"], 16)] = i
        assert len(holders) == N, holders
        assert len(set(holders.values())) >= 2, "the kernel put every device on one process: %s" % holders
        # Every device relays to every other; each must be ok once its target's place is known.
        # The bound is per pair (how long a target's place may take to be known), not on the
        # 870 round trips together: their total is the machine's speed, not a behaviour.
        for i, a in enumerate(peers):
            for j in range(N):
                if i == j:
                    continue
                payload = struct.pack(">HH", i, j)
                deadline = time.monotonic() + 10
                while True:
                    r = a.request(0xAA, 0x55, struct.pack(">Q", FIRST + j) + payload)
                    if r.status == OK:
                        break
                    assert time.monotonic() < deadline, "relay %d -> %d never ok" % (i, j)
                    time.sleep(0.02)
        for j, b in enumerate(peers):
            got = []
            while len(got) < N - 1:
                f = b.recv(3, lambda f: f.cls == 0xAA and f.cmd == 0x55)
                if f is None:
                    break
                got.append(f.data)
            extra = b.recv(0.05, lambda f: f.cls == 0xAA and f.cmd == 0x55)
            assert extra is None, "device %d got a relay twice: %r" % (j, extra)
            want = sorted(struct.pack(">Q", FIRST + i) + struct.pack(">HH", i, j) for i in range(N) if i != j)
            assert sorted(got) == want, "device %d got %d relays, want %d" % (j, len(got), len(want))


if __name__ == "__main__":
    run_tests([test_processes_on_one_port_relay_between_all_devices])
