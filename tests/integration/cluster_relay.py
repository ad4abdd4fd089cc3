"""m2m-server --cluster (three nodes on one nats-server): relay between devices on different
nodes with today's semantics (ok once handed to the target's connection, fail when offline or in
another group, in order), an operator on one node commanding a device on another (the reply with
the operator's sequence number), uplinks to operators on every node, one session per device in
the whole cluster (logout reason moved), group lists and P2P introductions across nodes."""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))
from m2m_client import FAIL, OK, REQUEST, Peer, password, peer_records, run_tests  # noqa: E402
from cluster_fixture import Cluster  # noqa: E402

A, B, C, D = 0xA1, 0xB2, 0xC3, 0xD4
DEVICES = [("%016X" % A, "text:a", "g1", 1, ""), ("%016X" % B, "text:b", "g1", 1, ""),
           ("%016X" % C, "text:c", "g2", 1, ""), ("%016X" % D, "text:d", "g1", 1, "")]
ACCOUNTS = [(7, "app", "text:app", "g1", 1, ""), (8, "ops", "text:ops", "*", 1, "")]


def dev_id(n):
    return "%016X" % n


def login(node, device, pw, udp=False):
    p = Peer(node.port, device, udp=udp)
    r = p.login(password(pw))
    assert r.status == OK, r
    return p


def seen_by(cluster, device, nodes):
    """Waits until `nodes` have heard of `device`'s login (its presence message)."""
    # A relay attempt is the observable: poll with a bound, never a guessed sleep.
    import time
    deadline = time.monotonic() + 5
    for i in nodes:
        probe = cluster.probe[i]
        while True:
            r = probe.request(0xAA, 0x00)  # group list of the probe device (group g1)
            if device in [rec["id"] for rec in peer_records(r.data)]:
                break
            assert time.monotonic() < deadline, "node n%d never saw %016X" % (i, device)
            time.sleep(0.02)


def test_relay_across_nodes():
    with Cluster(DEVICES, ACCOUNTS) as cl:
        n0, n1, n2 = cl.nodes
        a = login(n0, A, "a")
        b = login(n1, B, "b")
        c = login(n2, C, "c")
        cl.probe = {0: a}
        seen_by(cl, B, [0])
        payload = bytes(range(0x50, 0x60))  # 0x54 and 0x55: escaping on every hop
        r = a.request(0xAA, 0x55, struct.pack(">Q", B) + payload)
        assert r.status == OK and r.token == a.token, r
        got = b.recv(3, lambda f: f.cls == 0xAA and f.cmd == 0x55)
        assert got is not None, "relayed frame not delivered across nodes"
        assert got.status == REQUEST and got.device == B and got.token == b.token, got
        assert got.data == struct.pack(">Q", A) + payload, got
        ev = n0.wait_event("relay", to=dev_id(B))
        assert ev["from"] == dev_id(A) and ev["bytes"] == len(payload) and ev["remote"] is True, ev

        # In order, exactly once: 50 relays in a burst arrive as sent, each acknowledged ok.
        seqs = [a.send(0xAA, 0x55, struct.pack(">Q", B) + struct.pack(">H", i)) for i in range(50)]
        for s in seqs:
            r = a.recv(5, lambda f, s=s: f.cmd == 0x55 and f.seq == s and f.status != REQUEST)
            assert r is not None and r.status == OK, (s, r)
        got = [b.recv(3, lambda f: f.cmd == 0x55) for _ in range(50)]
        assert all(g is not None for g in got), "a relay was lost"
        assert [struct.unpack(">H", g.data[8:])[0] for g in got] == list(range(50)), "relays out of order"
        assert b.recv(0.3, lambda f: f.cmd == 0x55) is None, "a relay was delivered twice"

        # Another group: refused, nothing delivered.
        r = a.request(0xAA, 0x55, struct.pack(">Q", C) + b"x")
        assert r.status == FAIL, r
        assert n0.wait_event("relay_refused", to=dev_id(C))["reason"] == "other_group"
        assert c.recv(0.3) is None, "a device in another group received a relay"

        # Offline on every node: refused once its node said so.
        b.close()
        n1.wait_event("logout", device=dev_id(B))
        import time
        deadline = time.monotonic() + 5
        while True:
            r = a.request(0xAA, 0x55, struct.pack(">Q", B) + b"x")
            if r.status == FAIL:
                break
            assert time.monotonic() < deadline, "relay to a device that left still ok"
            time.sleep(0.02)
        assert n0.wait_event("relay_refused", to=dev_id(B))["reason"] == "offline"


def test_operator_on_one_node_commands_device_on_another():
    with Cluster(DEVICES, ACCOUNTS) as cl:
        n0, n1, n2 = cl.nodes
        dev = login(n1, A, "a")
        app = Peer(n0.port, 7)
        assert app.login(password("app"), cls=0xEF).status == OK
        ops = Peer(n2.port, 8)
        assert ops.login(password("ops"), cls=0xEF).status == OK
        probe = login(n0, D, "d")
        cl.probe = {0: probe}
        seen_by(cl, A, [0])

        app.seq = 0x1233
        client_seq = app.send(0xF0, 0xAA, struct.pack("<H", 0x000C), device=A)  # term.config_read
        got = dev.recv(3, lambda f: f.cls == 0xF0 and f.cmd == 0xAA)
        assert got is not None, "the operator's request did not reach the device on the other node"
        assert got.status == REQUEST and got.device == A and got.token == dev.token, got
        assert got.data == struct.pack("<H", 0x000C), got
        dev.send(0xF0, 0xAA, struct.pack("<H", 0x000C) + b"\x1e", status=OK, seq=got.seq)
        back = app.recv(3, lambda f: f.cls == 0xF0 and f.cmd == 0xAA)
        assert back is not None, "the device's reply did not come back across nodes"
        assert back.seq == client_seq == 0x1234, back
        assert back.status == OK and back.device == A and back.token == app.token, back
        assert back.data == struct.pack("<H", 0x000C) + b"\x1e", back

        # Uplinks and events reach the operators of every node that may see the group.
        assert dev.request(0xAA, 0xEE, b"temp=21").status == OK
        for client in (app, ops):
            up = client.recv(3, lambda f: f.cls == 0xAA and f.cmd == 0xEE)
            assert up is not None, "uplink did not reach an operator on another node"
            assert up.device == A and up.data == b"temp=21" and up.token == client.token, up
        c = login(n1, C, "c")  # group g2: ops sees it, app does not
        assert c.request(0xAA, 0xEE, b"south").status == OK
        up = ops.recv(3, lambda f: f.cmd == 0xEE)
        assert up is not None and up.device == C and up.data == b"south", up
        assert app.recv(0.3, lambda f: f.cmd == 0xEE) is None, "uplink leaked to an operator of another group"

        # A device offline everywhere: the operator's request fails with its own sequence.
        dev.close()
        n1.wait_event("logout", device=dev_id(A))
        import time
        deadline = time.monotonic() + 5
        while True:
            s = app.send(0xF0, 0x55, device=A)
            r = app.recv(3, lambda f, s=s: f.cmd == 0x55 and f.seq == s)
            assert r is not None, "no answer to a request for an offline device"
            if r.status == FAIL:
                break
            assert time.monotonic() < deadline
            time.sleep(0.02)


def test_login_on_another_node_displaces_the_session():
    with Cluster(DEVICES, ACCOUNTS) as cl:
        n0, n1, n2 = cl.nodes
        first = login(n0, A, "a")
        n0.wait_event("login", device=dev_id(A))
        second = login(n1, A, "a")
        ev = n0.wait_event("logout", device=dev_id(A))
        assert ev["reason"] == "moved" and ev["transport"] == "tcp", ev
        assert first.closed_by_server(3), "the displaced session stayed open"
        # The session that won works, and others reach it on its new node.
        assert second.request(0xA0, 0x01).status == OK
        b = login(n2, B, "b")
        # n2 may still hold A's old place for a few ms (n0's presence came first): a relay then
        # goes to n0, which answers offline. Once n1's presence arrived, the relay reaches A there.
        import time
        deadline = time.monotonic() + 5
        while True:
            r = b.request(0xAA, 0x55, struct.pack(">Q", A) + b"to-n1")
            if r.status == OK:
                break
            assert n2.wait_event("relay_refused", to=dev_id(A))["reason"] == "offline"
            assert time.monotonic() < deadline, "the relay never reached A on its new node"
            time.sleep(0.02)
        got = second.recv(3, lambda f: f.cmd == 0x55)
        assert got is not None and got.data == struct.pack(">Q", B) + b"to-n1", got


def test_group_list_and_p2p_across_nodes():
    with Cluster(DEVICES, ACCOUNTS) as cl:
        n0, n1, n2 = cl.nodes
        a = login(n0, A, "a")
        b = login(n1, B, "b", udp=True)  # B lives on UDP, held by n1
        assert b.request(0xA0, 0x01).status == OK
        d = login(n2, D, "d")
        cl.probe = {0: a}
        seen_by(cl, B, [0])
        seen_by(cl, D, [0])
        recs = peer_records(a.request(0xAA, 0x00).data)
        assert [r["id"] for r in recs] == [B, D], recs
        by_id = {r["id"]: r for r in recs}
        assert by_id[B]["token"] == b.token and by_id[B]["ip"] == "127.0.0.1", by_id
        assert by_id[B]["port"] == b.sock.getsockname()[1], by_id
        assert by_id[D]["token"] == d.token, by_id

        # P2P: A (n0) asks for B (n1): A gets B's record, B gets A's introduction over UDP from n1.
        a_udp = Peer(n0.port, A, udp=True)
        a_udp.token = a.token
        assert a_udp.request(0xA0, 0x01).status == OK
        r = a.request(0xA0, 0x55, struct.pack(">Q", B))
        assert r.status == OK, r
        assert peer_records(r.data) == [{"id": B, "token": b.token, "ip": "127.0.0.1",
                                         "port": b.sock.getsockname()[1]}], peer_records(r.data)
        intro = b.recv(3, lambda f: f.cls == 0xA0 and f.cmd == 0x55)
        assert intro is not None, "the introduction did not reach the target on its node"
        assert intro.status == REQUEST and intro.device == B and intro.token == b.token, intro
        assert peer_records(intro.data) == [{"id": A, "token": a.token, "ip": "127.0.0.1",
                                             "port": a_udp.sock.getsockname()[1]}], peer_records(intro.data)
        # D (n2) has no UDP endpoint: the introduction is refused.
        assert a.request(0xA0, 0x55, struct.pack(">Q", D)).status == FAIL
        assert n0.wait_event("p2p_refused", to=dev_id(D))["reason"] == "no_udp_endpoint"


if __name__ == "__main__":
    run_tests([test_relay_across_nodes, test_operator_on_one_node_commands_device_on_another,
               test_login_on_another_node_displaces_the_session, test_group_list_and_p2p_across_nodes])
