"""m2m-server --cluster faults: a node killed with SIGKILL (what it held leaves the directory
within the heartbeat timeout; its devices log in elsewhere and everything works), and NATS
stopped (local traffic goes on, cross-node operations fail at once with a clear reason, and
everything recovers when NATS returns; each transition is an event)."""
import os
import shutil
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))
from m2m_client import FAIL, OK, Peer, Server, password, run_tests  # noqa: E402
from cluster_fixture import Cluster  # noqa: E402

A, B, D = 0xA1, 0xB2, 0xD4
DEVICES = [("%016X" % A, "text:a", "g1", 1, ""), ("%016X" % B, "text:b", "g1", 1, ""),
           ("%016X" % D, "text:d", "g1", 1, "")]


def login(node, device, pw):
    p = Peer(node.port, device)
    assert p.login(password(pw)).status == OK
    return p


def relay_until(node, sender, target, want, what, timeout=5):
    """Relays until the status is `want` (a presence or a fault takes effect asynchronously);
    the events of the attempts that failed are consumed."""
    deadline = time.monotonic() + timeout
    while True:
        r = sender.request(0xAA, 0x55, struct.pack(">Q", target) + b"probe", timeout=5)
        if r.status != OK:
            node.wait_event("relay_refused", to="%016X" % target)
        if r.status == want:
            return r
        assert time.monotonic() < deadline, (what, r, node.seen[-5:])
        time.sleep(0.02)


def test_sigkill_of_a_node():
    with Cluster(DEVICES) as cl:
        n0, n1, n2 = cl.nodes
        a = login(n0, A, "a")
        b = login(n2, B, "b")
        relay_until(n0, a, B, OK, "n0 never saw B on n2")
        b.recv(1)  # the probe
        cl.kill_node(2)
        ev = n0.wait_event("cluster_node", node="n2", timeout=5)
        assert ev["state"] == "lost" and ev["reason"] == "timeout", ev
        # Gone from the directory: B is offline for n0 now (not a hang, not ok).
        r = a.request(0xAA, 0x55, struct.pack(">Q", B) + b"x")
        assert r.status == FAIL, r
        assert n0.wait_event("relay_refused", to="%016X" % B)["reason"] == "offline"
        # B logs in again on n1, and the relay works.
        b = login(n1, B, "b")
        relay_until(n0, a, B, OK, "relay to B after its login on n1 never worked")
        got = b.recv(3, lambda f: f.cmd == 0x55)
        assert got is not None and got.data == struct.pack(">Q", A) + b"probe", got


def test_nats_stopped_and_back():
    with Cluster(DEVICES, nodes=2) as cl:
        n0, n1 = cl.nodes
        a = login(n0, A, "a")
        d = login(n0, D, "d")
        b = login(n1, B, "b")
        relay_until(n0, a, B, OK, "n0 never saw B on n1")
        cl.nats.kill()
        for n in (n0, n1):
            ev = n.wait_event("cluster", state="disconnected", timeout=5)
            assert "local traffic goes on" in ev["message"], ev
        # Local traffic goes on.
        r = a.request(0xAA, 0x55, struct.pack(">Q", D) + b"local")
        assert r.status == OK, r
        got = d.recv(3, lambda f: f.cmd == 0x55)
        assert got is not None and got.data == struct.pack(">Q", A) + b"local", got
        # Cross-node: fails at once, with the reason.
        r = a.request(0xAA, 0x55, struct.pack(">Q", B) + b"x", timeout=1.5)
        assert r.status == FAIL, r
        ev = n0.wait_event("relay_refused", to="%016X" % B)
        assert ev["reason"] == "cluster_unavailable", (ev, n0.seen)
        # NATS back (same port, same store): the nodes reconnect, learn each other again.
        cl.nats.start()
        for n, other in ((n0, "n1"), (n1, "n0")):
            n.wait_event("cluster", state="reconnected", timeout=10)
            n.wait_event("cluster_node", node=other, state="joined", timeout=5)
        relay_until(n0, a, B, OK, "cross-node relay never recovered")
        got = b.recv(3, lambda f: f.cmd == 0x55 and f.data.endswith(b"probe"))
        assert got is not None and got.data == struct.pack(">Q", A) + b"probe", got


def test_a_node_without_its_engine_does_not_start():
    reg = Server(DEVICES)  # only its registry file
    try:
        with socket.socket() as s:  # a loopback port nobody listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        r = subprocess.run([reg.bin, "serve", "--listen", "127.0.0.1:0", "--cluster",
                            "nats://127.0.0.1:%d" % port], capture_output=True, text=True, timeout=30)
        assert r.returncode == 6, r
        assert "cannot reach NATS at nats://127.0.0.1:%d" % port in r.stderr and "start nats-server" in r.stderr, r
        assert r.stdout == "", "a node without its engine served: %r" % r.stdout
        r = subprocess.run([reg.bin, "serve", "--cluster", "nats://127.0.0.1:%d" % port,
                            "--node", "a.b"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 2 and "--node: 'a.b' is not a node name" in r.stderr, r
        # A cluster's registry is its bucket: a file beside it is refused, with the way to move one in.
        r = subprocess.run([reg.bin, "serve", "--db", reg.db, "--cluster", "nats://127.0.0.1:%d" % port],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 2 and "device export --db %s | m2m-server device import --cluster" % reg.db in r.stderr, r
    finally:
        shutil.rmtree(reg.dir, ignore_errors=True)


if __name__ == "__main__":
    run_tests([test_sigkill_of_a_node, test_nats_stopped_and_back, test_a_node_without_its_engine_does_not_start])
