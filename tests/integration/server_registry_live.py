"""m2m-server follows its registry file while it serves: devices and accounts removed,
disabled or added by another process (m2m-server device/account ...) take effect within a
second, with logout reasons; platform.add_terminal never stalls other sessions, also while
another process holds the SQLite write lock, and is answered once the write is durable."""
import os
import sqlite3
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))
from m2m_client import FAIL, OK, Peer, Server, password, run_tests  # noqa: E402

DEV, OTHER, LATE = 0xFED24A, 0xFED24B, 0xFED24C
DEVICES = [("%016X" % DEV, "text:123", "north", 1, "lobby"),
           ("%016X" % OTHER, "text:123", "north", 1, "hall")]
ACCOUNTS = [(7, "app", "text:app", "north", 1, ""), (8, "ops", "text:ops", "*", 1, "")]
WITHIN = 1.0  # seconds: the promise of m2m-server(1)


def logged_in_device(srv, dev=DEV, pw="123"):
    p = Peer(srv.port, dev)
    assert p.login(password(pw)).status == OK
    srv.wait_event("login", device="%016X" % dev)
    return p


def test_removed_device_is_logged_out_and_refused():
    with Server(DEVICES, ACCOUNTS) as srv:
        p = logged_in_device(srv)
        keep = logged_in_device(srv, OTHER)
        srv.admin(["device", "remove", "%016X" % DEV])
        t0 = time.monotonic()
        ev = srv.wait_event("logout", timeout=5, device="%016X" % DEV)
        took = time.monotonic() - t0
        assert ev["reason"] == "removed", ev
        assert took < WITHIN, "logout %.3fs after the remove" % took
        print("removed device logged out %.0f ms after 'device remove' returned" % (took * 1000))
        assert p.closed_by_server(2), "the removed device's connection stayed open"
        again = Peer(srv.port, DEV)
        assert again.login(password("123")).status == FAIL
        assert srv.wait_event("login_rejected", device="%016X" % DEV)["reason"] == "unknown"
        assert keep.request(0xA0, 0x01).status == OK  # the other device is untouched
        reg = srv.wait_event("registry")
        assert reg["devices_removed"] == 1 and reg["devices_added"] == 0, reg


def test_disabled_device_is_logged_out_and_refused():
    with Server(DEVICES, ACCOUNTS) as srv:
        p = logged_in_device(srv)
        srv.admin(["device", "add", "%016X" % DEV, "--password", "text:123", "--group", "north", "--disabled",
                   "--replace"])
        t0 = time.monotonic()
        ev = srv.wait_event("logout", timeout=5, device="%016X" % DEV)
        assert ev["reason"] == "disabled", ev
        assert time.monotonic() - t0 < WITHIN
        assert p.closed_by_server(2)
        again = Peer(srv.port, DEV)
        assert again.login(password("123")).status == FAIL
        assert srv.wait_event("login_rejected", device="%016X" % DEV)["reason"] == "disabled"


def test_device_moved_to_another_group_logs_in_again_there():
    with Server(DEVICES, ACCOUNTS) as srv:
        p = logged_in_device(srv)
        srv.admin(["device", "add", "%016X" % DEV, "--password", "text:123", "--group", "south", "--replace"])
        assert srv.wait_event("logout", timeout=5, device="%016X" % DEV)["reason"] == "group_changed"
        assert p.closed_by_server(2)
        again = Peer(srv.port, DEV)
        assert again.login(password("123")).status == OK
        assert srv.wait_event("login", device="%016X" % DEV)["group"] == "south"


def test_device_added_while_serving_can_log_in():
    with Server(DEVICES, ACCOUNTS) as srv:
        first = Peer(srv.port, LATE)
        assert first.login(password("late")).status == FAIL  # not registered yet
        srv.admin(["device", "import"], "id,password,group,enabled,description\n%016X,text:late,north,1,\n" % LATE)
        t0 = time.monotonic()
        srv.wait_event("registry", timeout=5, devices_added=1)
        took = time.monotonic() - t0
        assert took < WITHIN, took
        p = Peer(srv.port, LATE)
        assert p.login(password("late")).status == OK
        assert srv.wait_event("login", device="%016X" % LATE)["group"] == "north"
        print("added device could log in %.0f ms after 'device import' returned" % (took * 1000))


def test_account_changes_apply_while_serving():
    with Server(DEVICES, ACCOUNTS) as srv:
        app = Peer(srv.port, 7)
        assert app.login(password("app"), cls=0xEF).status == OK
        srv.admin(["account", "remove", "7"])
        t0 = time.monotonic()
        ev = srv.wait_event("logout", timeout=5, account=7)
        assert ev["reason"] == "removed" and ev["role"] == "client", ev
        assert time.monotonic() - t0 < WITHIN
        assert app.closed_by_server(2)
        c = Peer(srv.port, 7)
        assert c.login(password("app"), cls=0xEF).status == FAIL
        assert srv.wait_event("login_rejected", account=7)["reason"] == "unknown"
        # A new account can log in; a changed password ends the session that used the old one.
        srv.admin(["account", "add", "9", "--name", "late", "--password", "text:late", "--groups", "north"])
        srv.wait_event("registry", timeout=5, accounts_added=1)
        late = Peer(srv.port, 9)
        assert late.login(password("late"), cls=0xEF).status == OK
        srv.admin(["account", "add", "9", "--name", "late", "--password", "text:new", "--groups", "north", "--replace"])
        assert srv.wait_event("logout", timeout=5, account=9)["reason"] == "password_changed"
        assert Peer(srv.port, 9).login(password("new"), cls=0xEF).status == OK


def test_add_terminal_while_another_process_holds_the_write_lock():
    with Server(DEVICES, ACCOUNTS) as srv:
        dev = logged_in_device(srv)
        app = Peer(srv.port, 7)
        assert app.login(password("app"), cls=0xEF).status == OK
        lock = sqlite3.connect(srv.db, timeout=10, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")  # holds the write lock, as a long import would
        try:
            new = 0xABCDEF
            seq = app.send(0xEF, 0x06, struct.pack(">Q", new) + password("new"))
            # Other sessions go on: 20 heartbeats over about a second, each answered promptly.
            worst = 0.0
            for _ in range(20):
                t = time.monotonic()
                assert dev.request(0xA0, 0x01, timeout=2).status == OK
                worst = max(worst, time.monotonic() - t)
                time.sleep(0.05)
            assert worst < 0.25, "a heartbeat took %.0f ms while the lock was held" % (worst * 1000)
            # The add_terminal reply waits for the write, which waits for the lock.
            early = app.recv(0.1, lambda f: f.cls == 0xEF and f.cmd == 0x06 and f.seq == seq)
            assert early is None, "add_terminal answered before its write could be made: %r" % early
        finally:
            released = time.monotonic()
            lock.execute("COMMIT")
            lock.close()
        r = app.recv(5, lambda f: f.cls == 0xEF and f.cmd == 0x06 and f.seq == seq)
        assert r is not None and r.status == OK, r
        after = time.monotonic() - released
        print("heartbeats under a held write lock: worst %.1f ms; add_terminal answered %.0f ms after the "
              "lock was released" % (worst * 1000, after * 1000))
        assert srv.wait_event("add_terminal")["device"] == "%016X" % new
        p = Peer(srv.port, new)
        assert p.login(password("new")).status == OK
        rows = srv.admin(["device", "export"]).splitlines()
        assert "%016X,%s,north,1,added by account 7" % (new, password("new").hex().upper()) in rows, rows
        # Our own write does not come back as a change from another process.
        assert all(e.get("event") != "registry" for e in srv.seen), [e for e in srv.seen if e.get("event") == "registry"]


run_tests([test_removed_device_is_logged_out_and_refused, test_disabled_device_is_logged_out_and_refused,
           test_device_moved_to_another_group_logs_in_again_there, test_device_added_while_serving_can_log_in, test_account_changes_apply_while_serving,
           test_add_terminal_while_another_process_holds_the_write_lock])
