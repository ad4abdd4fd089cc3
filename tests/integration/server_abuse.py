"""m2m-server against one abusive host, over real sockets on loopback: a datagram of many
logins from an unauthenticated (possibly spoofed) source gets one answer; failed logins of
one id do not lock out another device behind the same address; a group member holding a
peer's token cannot speak for it over UDP from another address; a flood of bad-token
datagrams is summarised in the event log instead of one line per frame."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))
from m2m_client import FAIL, OK, Peer, Server, encode, password, run_tests, split_frames  # noqa: E402

DEV, OTHER, THIRD = 0xFED24A, 0xFED24B, 0xFED24C
DEVICES = [("%016X" % DEV, "text:123", "g", 1, ""), ("%016X" % OTHER, "text:456", "g", 1, ""),
           ("%016X" % THIRD, "text:789", "g", 1, "")]


def udp_socket(host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 0))
    s.settimeout(5)
    return s


def test_one_answer_per_unauthenticated_datagram():
    with Server(DEVICES) as srv:
        s = udp_socket()
        flood = b"".join(encode(0xA0, 0x00, i, OTHER, data=password("guess%d" % i)) for i in range(20))
        s.sendto(flood, ("127.0.0.1", srv.port))
        # A second datagram (a good login) is answered after everything the first one caused.
        s.sendto(encode(0xA0, 0x00, 999, DEV, data=password("123")), ("127.0.0.1", srv.port))
        replies = []
        while not any(f.seq == 999 for f in replies):
            chunk, _ = s.recvfrom(65536)
            replies.extend(split_frames(chunk)[0])
        assert [f.seq for f in replies] == [0, 999], replies
        assert replies[0].status == FAIL and replies[1].status == OK


def test_failed_logins_of_one_device_do_not_lock_out_its_neighbours():
    with Server(DEVICES, args=["--login-fail-limit", "3"]) as srv:
        p = Peer(srv.port, DEV)
        for _ in range(3):
            assert p.login(password("bad")).status == FAIL
        assert p.login(password("123")).status == FAIL  # this pair is blocked
        assert srv.wait_event("login_rejected", reason="throttled")
        neighbour = Peer(srv.port, OTHER)  # same address, another device
        assert neighbour.login(password("456")).status == OK


def test_a_group_member_cannot_speak_for_a_tcp_device_from_another_address():
    with Server(DEVICES) as srv:
        victim = Peer(srv.port, DEV)
        assert victim.login(password("123")).status == OK
        member = Peer(srv.port, OTHER)
        assert member.login(password("456")).status == OK
        records = member.request(0xAA, 0x00)  # data.group_list hands out the victim's token
        assert records.status == OK
        s = udp_socket("127.0.0.2")
        s.sendto(encode(0xA0, 0x01, 5, DEV, victim.token), ("127.0.0.1", srv.port))
        ev = srv.wait_event("token_mismatch", device="%016X" % DEV)
        assert ev.get("reason") == "untrusted_source" and ev["peer"].startswith("127.0.0.2:"), ev
        # The same datagram from the victim's own address is fine (NAT rebinding keeps the IP).
        s1 = udp_socket("127.0.0.1")
        s1.sendto(encode(0xA0, 0x01, 6, DEV, victim.token), ("127.0.0.1", srv.port))
        chunk, _ = s1.recvfrom(65536)
        assert split_frames(chunk)[0][0].status == OK


def summarised(srv):
    """The first token_mismatch event carrying a "repeated" count, and how many came in full before it."""
    deadline = time.monotonic() + 10
    full = 0
    while time.monotonic() < deadline:
        e = srv.wait_event("token_mismatch", timeout=max(0.1, deadline - time.monotonic()))
        if "repeated" in e:
            return e, full
        full += 1
    raise AssertionError("no summarised token_mismatch event; %d came in full" % full)


def test_a_flood_of_bad_tokens_is_summarised_in_the_log():
    with Server(DEVICES, args=["--heartbeat-interval", "1s"]) as srv:
        s = udp_socket()
        for i in range(300):
            s.sendto(encode(0xA0, 0x01, i, THIRD, b"\x00" * 8), ("127.0.0.1", srv.port))
        e, full = summarised(srv)
        assert full <= 10 * 3, full  # at most a burst of 10 a second (the flood spans < 3 s)
        assert 0 < e["repeated"] <= 300 - full, (e, full)


run_tests([test_one_answer_per_unauthenticated_datagram,
           test_failed_logins_of_one_device_do_not_lock_out_its_neighbours,
           test_a_group_member_cannot_speak_for_a_tcp_device_from_another_address,
           test_a_flood_of_bad_tokens_is_summarised_in_the_log])
