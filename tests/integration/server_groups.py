"""m2m-server group features: relay within a group and refusal across groups, UDP login and
heartbeat recording the UDP endpoint, P2P introduction reaching both devices, group list
paging past 59 devices."""
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))
from m2m_client import FAIL, OK, REQUEST, Peer, Server, password, peer_records, run_tests  # noqa: E402

A, B, C = 0xA1, 0xB2, 0xC3
DEVICES = [("%016X" % A, "text:a", "g1", 1, ""), ("%016X" % B, "text:b", "g1", 1, ""),
           ("%016X" % C, "text:c", "g2", 1, "")]


def test_relay_within_group_and_refusal_across_groups():
    with Server(DEVICES) as srv:
        a, b, c = Peer(srv.port, A), Peer(srv.port, B), Peer(srv.port, C)
        for p, pw in ((a, "a"), (b, "b"), (c, "c")):
            assert p.login(password(pw)).status == OK
        payload = bytes(range(0x50, 0x60))  # includes 0x54 and 0x55: escaping on every hop
        r = a.request(0xAA, 0x55, struct.pack(">Q", B) + payload)
        assert r.status == OK, r
        got = b.recv(3, lambda f: f.cls == 0xAA and f.cmd == 0x55)
        assert got is not None, "relayed frame not delivered"
        assert got.status == REQUEST and got.device == B and got.token == b.token, got
        assert got.data == struct.pack(">Q", A) + payload, got
        b.send(0xAA, 0x55, status=OK, seq=got.seq)  # the target's generic reply is accepted quietly
        ev = srv.wait_event("relay")
        assert ev["from"] == "%016X" % A and ev["to"] == "%016X" % B and ev["bytes"] == len(payload), ev

        r = a.request(0xAA, 0x55, struct.pack(">Q", C) + b"x")
        assert r.status == FAIL, r
        assert srv.wait_event("relay_refused")["reason"] == "other_group"
        assert c.recv(0.5) is None, "a device in another group received a relay"
        r = a.request(0xAA, 0x55, struct.pack(">Q", 0xDEAD) + b"x")
        assert r.status == FAIL
        b.close()
        srv.wait_event("logout", device="%016X" % B)
        r = a.request(0xAA, 0x55, struct.pack(">Q", B) + b"x")
        assert r.status == FAIL, "relay to an offline device reported ok"


def test_udp_login_heartbeat_and_p2p_introduction():
    with Server(DEVICES) as srv:
        a = Peer(srv.port, A)                  # TCP session ...
        assert a.login(password("a")).status == OK
        a_udp = Peer(srv.port, A, udp=True)    # ... plus a UDP heartbeat with its token
        a_udp.token = a.token
        assert a_udp.request(0xA0, 0x01).status == OK
        b = Peer(srv.port, B, udp=True)        # B lives on UDP only
        r = b.login(password("b"))
        assert r.status == OK, r
        assert srv.wait_event("login", device="%016X" % B)["transport"] == "udp"
        assert b.request(0xA0, 0x01).status == OK

        # The group list shows B's UDP endpoint (as the server saw it) to A, and A's to B.
        recs = peer_records(a.request(0xAA, 0x00).data)
        assert [r["id"] for r in recs] == [B], recs
        assert recs[0]["token"] == b.token and recs[0]["ip"] == "127.0.0.1"
        assert recs[0]["port"] == b.sock.getsockname()[1], recs
        recs = peer_records(b.request(0xAA, 0x00).data)
        assert recs[0]["id"] == A and recs[0]["port"] == a_udp.sock.getsockname()[1], recs

        # P2P: A asks for B; A gets B's record, B gets A's record over UDP.
        r = a.request(0xA0, 0x55, struct.pack(">Q", B))
        assert r.status == OK, r
        rec = peer_records(r.data)
        assert rec == [{"id": B, "token": b.token, "ip": "127.0.0.1", "port": b.sock.getsockname()[1]}], rec
        intro = b.recv(3, lambda f: f.cls == 0xA0 and f.cmd == 0x55)
        assert intro is not None, "introduction not sent to the target"
        assert intro.status == REQUEST and intro.device == B and intro.token == b.token, intro
        rec = peer_records(intro.data)
        assert rec == [{"id": A, "token": a.token, "ip": "127.0.0.1", "port": a_udp.sock.getsockname()[1]}], rec

        # Relay over UDP both ways.
        r = b.request(0xAA, 0x55, struct.pack(">Q", A) + b"hi")
        assert r.status == OK
        got = a.recv(3, lambda f: f.cmd == 0x55 and f.cls == 0xAA)
        assert got.data == struct.pack(">Q", B) + b"hi"

        # A UDP datagram with a wrong token does not act.
        b.send(0xA0, 0x01, token=b"\0" * 8)
        assert srv.wait_event("token_mismatch")["transport"] == "udp"
        # P2P to a device without a UDP endpoint, or in another group, fails.
        c = Peer(srv.port, C)
        assert c.login(password("c")).status == OK
        assert a.request(0xA0, 0x55, struct.pack(">Q", C)).status == FAIL


def test_udp_presence_times_out():
    with Server(DEVICES, args=["--heartbeat-timeout", "1s"]) as srv:
        b = Peer(srv.port, B, udp=True)
        assert b.login(password("b")).status == OK
        ev = srv.wait_event("logout", timeout=4, device="%016X" % B)
        assert ev["transport"] == "udp" and ev["reason"] == "timeout", ev
        b.send(0xA0, 0x01)
        srv.wait_event("token_mismatch")


def test_group_list_pages_past_59_devices():
    n = 130
    devices = [("%016X" % (0x1000 + i), "text:p%d" % i, "big", 1, "") for i in range(n)]
    with Server(devices) as srv:
        # Every device logs in over UDP from one socket: the platform keys UDP devices by id.
        sock = Peer(srv.port, 0, udp=True)
        tokens = {}
        for i in range(n):
            sock.device = 0x1000 + i
            sock.token = b""
            assert sock.login(password("p%d" % i)).status == OK
            tokens[0x1000 + i] = sock.token
        sock.device, sock.token = 0x1000, tokens[0x1000]

        def pages_of(peer, full):
            """Pages until a short one (TCP: full = 59) or an empty one (UDP: full = None)."""
            seen, pages, start = [], [], 0
            while True:
                r = peer.request(0xAA, 0x00, struct.pack("<H", start) if start else b"")
                assert r.status == OK
                recs = peer_records(r.data)
                pages.append(len(recs))
                seen += recs
                start += len(recs)
                if (full and len(recs) < full) or not recs:
                    return seen, pages

        # Over UDP a page holds what the reply budget of one datagram allows (m2m-server(1),
        # LIMITS: 128 bytes for a lone request, 4 records): ask until an empty page.
        seen, pages = pages_of(sock, None)
        assert pages == [4] * 32 + [1, 0], pages  # 129 peers: everyone but the requester
        assert [r["id"] for r in seen] == [0x1000 + i for i in range(1, n)]
        assert all(r["token"] == tokens[r["id"]] for r in seen)
        assert all(r["port"] == sock.sock.getsockname()[1] for r in seen)
        # Over TCP a full page is 59 records.
        tcp = Peer(srv.port, 0x1000)
        assert tcp.login(password("p0")).status == OK
        seen, pages = pages_of(tcp, 59)
        assert pages == [59, 59, 11], pages
        assert [r["id"] for r in seen] == [0x1000 + i for i in range(1, n)]


run_tests([test_relay_within_group_and_refusal_across_groups, test_udp_login_heartbeat_and_p2p_introduction,
           test_udp_presence_times_out, test_group_list_pages_past_59_devices])
