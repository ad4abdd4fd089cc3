"""m2m-server device sessions over TCP: login ok / wrong password / disabled / unknown,
token checks, heartbeat, heartbeat timeout, replacement by a second login, login throttle."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))
from m2m_client import FAIL, OK, Peer, Server, password, run_tests  # noqa: E402

DEV, OFF = 0xFED24A, 0xFED24B
DEVICES = [("0000000000FED24A", "text:123", "g1", 1, "lobby"),
           ("0000000000FED24B", "text:123", "g1", 0, "disabled one")]


def test_login_ok_and_heartbeat():
    with Server(DEVICES) as srv:
        p = Peer(srv.port, DEV)
        r = p.login(password("123"))
        assert r.status == OK, r
        assert r.device == DEV and r.token is None and len(p.token) == 8, r
        ev = srv.wait_event("login", device="0000000000FED24A")
        assert ev["transport"] == "tcp" and ev["group"] == "g1", ev
        hb = p.request(0xA0, 0x01)
        assert hb.status == OK and hb.token == p.token and hb.data == b"", hb


def test_login_rejections():
    with Server(DEVICES) as srv:
        for dev, pw, reason in [(DEV, password("124"), "bad_password"), (OFF, password("123"), "disabled"),
                                (0x1234, password("123"), "unknown")]:
            p = Peer(srv.port, dev)
            r = p.login(pw)
            assert r.status == FAIL and r.data == b"", (reason, r)
            ev = srv.wait_event("login_rejected", device="%016X" % dev)
            assert ev["reason"] == reason, ev
            # A rejected device is not logged in: its heartbeat does nothing.
            p.token = b"\0" * 8
            p.send(0xA0, 0x01)
            srv.wait_event("token_mismatch", device="%016X" % dev)
            p.close()


def test_token_mismatch_is_ignored():
    with Server(DEVICES) as srv:
        p = Peer(srv.port, DEV)
        assert p.login(password("123")).status == OK
        bad = bytes(b ^ 0xFF for b in p.token)
        p.send(0xA0, 0x01, token=bad)
        p.send(0xA0, 0x01, device=0x999)  # right token, another device's id
        assert srv.wait_event("token_mismatch")["device"] == "0000000000FED24A"
        assert srv.wait_event("token_mismatch")["device"] == "0000000000000999"
        assert p.recv(0.5) is None, "a frame with a wrong token was answered"
        assert p.request(0xA0, 0x01).status == OK  # the session itself goes on


def test_heartbeat_timeout_closes_the_session():
    with Server(DEVICES, args=["--heartbeat-timeout", "1s"]) as srv:
        p = Peer(srv.port, DEV)
        assert p.login(password("123")).status == OK
        keep = Peer(srv.port, DEV)  # not logged in: also swept after the timeout
        start = time.monotonic()
        for _ in range(3):  # heartbeats keep the session open past the timeout
            time.sleep(0.5)
            assert p.request(0xA0, 0x01).status == OK
        assert p.closed_by_server(timeout=4), "session not closed after heartbeats stopped"
        elapsed = time.monotonic() - start
        assert 2.0 <= elapsed < 6, elapsed
        ev = srv.wait_event("logout", device="0000000000FED24A")
        assert ev["reason"] == "timeout", ev
        assert keep.closed_by_server(timeout=3)


def test_second_login_replaces_the_first():
    with Server(DEVICES) as srv:
        a = Peer(srv.port, DEV)
        assert a.login(password("123")).status == OK
        b = Peer(srv.port, DEV)
        assert b.login(password("123")).status == OK
        assert a.token != b.token
        assert a.closed_by_server(3), "the first session stayed open"
        assert srv.wait_event("logout", device="0000000000FED24A")["reason"] == "replaced"
        assert b.request(0xA0, 0x01).status == OK


def test_login_failures_are_throttled_per_ip():
    with Server(DEVICES, args=["--login-fail-limit", "3", "--login-fail-window", "1m"]) as srv:
        p = Peer(srv.port, DEV)
        for _ in range(3):
            assert p.login(password("bad")).status == FAIL
        r = p.login(password("123"))  # right password, but this address is throttled now
        assert r.status == FAIL, r
        reasons = [srv.wait_event("login_rejected")["reason"] for _ in range(4)]
        assert reasons == ["bad_password"] * 3 + ["throttled"], reasons


def test_sigterm_shuts_down_cleanly():
    with Server(DEVICES) as srv:
        p = Peer(srv.port, DEV)
        assert p.login(password("123")).status == OK
        assert srv.stop() == 0
        assert srv.wait_event("logout", device="0000000000FED24A")["reason"] == "shutdown"
        srv.wait_event("shutdown")


run_tests([test_login_ok_and_heartbeat, test_login_rejections, test_token_mismatch_is_ignored,
           test_heartbeat_timeout_closes_the_session, test_second_login_replaces_the_first,
           test_login_failures_are_throttled_per_ip, test_sigterm_shuts_down_cleanly])
