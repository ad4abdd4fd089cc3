"""m2m-server platform clients (EF class): login, term.* and data.downlink routed to a device
and the reply routed back with the client's sequence, uplinks and events delivered to the
clients that may see the device's group, platform.add_terminal persisted."""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))
from m2m_client import FAIL, OK, REQUEST, UNSUPPORTED, Peer, Server, password, run_tests  # noqa: E402

DEV, OTHER = 0xFED24A, 0xC0FFEE
DEVICES = [("%016X" % DEV, "text:123", "north", 1, ""), ("%016X" % OTHER, "text:123", "south", 1, "")]
ACCOUNTS = [(7, "app", "text:app", "north", 1, "phone app"), (8, "ops", "text:ops", "*", 1, ""),
            (9, "off", "text:off", "*", 0, "")]


def logged_in(srv):
    dev = Peer(srv.port, DEV)
    assert dev.login(password("123")).status == OK
    app = Peer(srv.port, 7)
    r = app.login(password("app"), cls=0xEF)
    assert r.status == OK and r.token is None and len(app.token) == 8, r
    return dev, app


def test_client_login_rejections():
    with Server(DEVICES, ACCOUNTS) as srv:
        for acc, pw, reason in [(7, "bad", "bad_password"), (9, "off", "disabled"), (77, "x", "unknown")]:
            c = Peer(srv.port, acc)
            assert c.login(password(pw), cls=0xEF).status == FAIL
            assert srv.wait_event("login_rejected", account=acc)["reason"] == reason


def test_reboot_and_config_read_routed_both_ways():
    with Server(DEVICES, ACCOUNTS) as srv:
        dev, app = logged_in(srv)
        assert app.request(0xEF, 0x01).status == OK  # platform.heartbeat
        dev.seq = 500  # the device's own counter is unrelated to the client's
        for cls, cmd, req, reply in [(0xF0, 0x55, b"", b""),
                                     (0xF0, 0xAA, struct.pack("<H", 0x000C), struct.pack("<H", 0x000C) + b"\x1e"),
                                     (0xAA, 0xFF, b"\x01\x02\x55\x54", b"")]:
            app.seq = 0x1233
            client_seq = app.send(cls, cmd, req, device=DEV)
            got = dev.recv(3, lambda f: f.cls == cls and f.cmd == cmd)
            assert got is not None, "forwarded %02X %02X not delivered" % (cls, cmd)
            assert got.status == REQUEST and got.device == DEV and got.token == dev.token, got
            assert got.data == req, got
            dev.send(cls, cmd, reply, status=OK, seq=got.seq)
            back = app.recv(3, lambda f: f.cls == cls and f.cmd == cmd)
            assert back is not None, "device reply not routed back"
            assert back.seq == client_seq == 0x1234, back
            assert back.status == OK and back.device == DEV and back.token == app.token, back
            assert back.data == reply, back
        # An unsupported answer travels back the same way.
        cs = app.send(0xF0, 0xAB, struct.pack("<H", 0x77) + b"\x01", device=DEV)
        got = dev.recv(3, lambda f: f.cmd == 0xAB)
        dev.send(0xF0, 0xAB, status=UNSUPPORTED, seq=got.seq)
        back = app.recv(3, lambda f: f.cmd == 0xAB)
        assert back.seq == cs and back.status == UNSUPPORTED


def test_requests_to_unseen_or_offline_devices_fail():
    with Server(DEVICES, ACCOUNTS) as srv:
        dev, app = logged_in(srv)
        other = Peer(srv.port, OTHER)
        assert other.login(password("123")).status == OK
        seq = app.send(0xF0, 0x55, device=OTHER)  # OTHER is in "south": account 7 sees only "north"
        r = app.recv(3, lambda f: f.cmd == 0x55)
        assert r.seq == seq and r.status == FAIL, r
        assert other.recv(0.5) is None, "a client reached a device outside its groups"
        dev.close()
        srv.wait_event("logout", device="%016X" % DEV)
        seq = app.send(0xF0, 0x55, device=DEV)
        r = app.recv(3, lambda f: f.cmd == 0x55)
        assert r.seq == seq and r.status == FAIL, r
        assert srv.wait_event("route_refused", reason="offline")


def test_uplink_and_events_reach_clients_that_see_the_group():
    with Server(DEVICES, ACCOUNTS) as srv:
        dev, app = logged_in(srv)
        ops = Peer(srv.port, 8)
        assert ops.login(password("ops"), cls=0xEF).status == OK
        other = Peer(srv.port, OTHER)
        assert other.login(password("123")).status == OK
        assert dev.request(0xAA, 0xEE, b"temp=21").status == OK
        for client in (app, ops):
            up = client.recv(3, lambda f: f.cls == 0xAA and f.cmd == 0xEE)
            assert up is not None and up.device == DEV and up.data == b"temp=21" and up.token == client.token, up
            assert up.status == REQUEST
        assert other.request(0xAA, 0xEE, b"south").status == OK
        up = ops.recv(3, lambda f: f.cmd == 0xEE)
        assert up.device == OTHER and up.data == b"south"
        assert app.recv(0.5, lambda f: f.cmd == 0xEE) is None, "uplink leaked to a client of another group"
        ev = b"\x20" + "working".encode() + b"\0"
        assert dev.request(0xF0, 0xF0, ev).status == OK
        got = app.recv(3, lambda f: f.cls == 0xF0 and f.cmd == 0xF0)
        assert got is not None and got.data == ev and got.device == DEV


def test_add_terminal_registers_into_the_accounts_group():
    with Server(DEVICES, ACCOUNTS) as srv:
        _, app = logged_in(srv)
        new = 0xABCDEF
        r = app.request(0xEF, 0x06, struct.pack(">Q", new) + password("new"))
        assert r.status == OK, r
        assert app.request(0xEF, 0x06, struct.pack(">Q", new) + password("new")).status == FAIL  # exists
        d = Peer(srv.port, new)
        assert d.login(password("new")).status == OK
        assert srv.wait_event("login", device="%016X" % new)["group"] == "north"
        srv.stop()
        rows = srv.admin(["device", "export"]).splitlines()
        assert "%016X,%s,north,1,added by account 7" % (new, password("new").hex().upper()) in rows, rows


run_tests([test_client_login_rejections, test_reboot_and_config_read_routed_both_ways,
           test_requests_to_unseen_or_offline_devices_fail, test_uplink_and_events_reach_clients_that_see_the_group,
           test_add_terminal_registers_into_the_accounts_group])
