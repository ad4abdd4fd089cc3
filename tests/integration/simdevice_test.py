"""m2m-simdevice against m2m-server on loopback, driven by an operator account the way a user
would (m2m-protocol(7) term.*, data.*): every writable parameter written then read back,
version refused, reboot with a new token, stdin uplinks and stdout downlinks, --echo, the
fallback server while the main one refuses and the return to the main one, and a frame with
another token ignored (a fake platform sends it: a real one never would)."""
import datetime
import os
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "simdevice_support"))
from m2m_client import FAIL, OK, REQUEST, UNSUPPORTED, Frame, Peer, Server, encode, password, run_tests, split_frames  # noqa: E402
from sim import Sim  # noqa: E402

DEV = 0xFED24A
DEV_ID = "%016X" % DEV
DEVICES = [(DEV_ID, "text:123", "default", 1, "")]
ACCOUNTS = [(7, "op", "text:op", "*", 1, "operator")]


def sim_args(srv, *extra):
    return ["--server", "127.0.0.1:%d" % srv.port, "--id", DEV_ID, "--password", "text:123", "-t", "60s"] + list(extra)


def operator(srv):
    op = Peer(srv.port, 7)
    assert op.login(password("op"), cls=0xEF).status == OK
    return op


def routed(op, cls, cmd, data=b""):
    """A request to the device through the platform; the device's reply as routed back."""
    seq = op.send(cls, cmd, data, device=DEV)
    r = op.recv(5, lambda f: f.cls == cls and f.cmd == cmd and f.seq == seq and f.status != REQUEST)
    assert r is not None, "no reply to %02X %02X through the platform" % (cls, cmd)
    return r


def bcd(n):
    return ((n // 10) << 4) | (n % 10)


def unbcd(b):
    return (b >> 4) * 10 + (b & 15)


def rtc_bytes(t):
    return bytes([bcd(t.year // 100), bcd(t.year % 100), bcd(t.month), bcd(t.day), bcd(t.hour), bcd(t.minute),
                  bcd(t.second), t.isoweekday()])


def rtc_time(b):
    return datetime.datetime(unbcd(b[0]) * 100 + unbcd(b[1]), unbcd(b[2]), unbcd(b[3]), unbcd(b[4]), unbcd(b[5]),
                             unbcd(b[6]))


def test_config_write_then_read_back_every_writable_parameter():
    with Server(DEVICES, ACCOUNTS) as srv, Sim(sim_args(srv)) as sim:
        sim.event("login")
        op = operator(srv)
        when = datetime.datetime(2031, 7, 4, 12, 30, 5)
        values = [
            (0x0005, struct.pack("<HB", 9000, 0) + b"platform.example\0"),
            (0x0006, struct.pack("<HB", 8266, 1) + b"198.51.100.9\0"),
            (0x0007, bytes([8, 8, 4, 4])),
            (0x000B, b"\x07"),
            (0x000C, b"\x2d"),
            (0x0016, rtc_bytes(when)),
            (0x0020, b"\x03"),
            (0x0021, b"\x04"),
        ]
        for pid, value in values:
            w = routed(op, 0xF0, 0xAB, struct.pack("<H", pid) + value)
            assert w.status == OK, "write of 0x%04X: status %d" % (pid, w.status)
            ev = sim.event("config_write")
            assert ev["status"] == "ok" and ev["device"] == DEV_ID, ev
            r = routed(op, 0xF0, 0xAA, struct.pack("<H", pid))
            assert r.status == OK and r.data[:2] == struct.pack("<H", pid), r
            if pid == 0x0016:  # the device clock runs on from what was written
                took = (rtc_time(r.data[2:]) - when).total_seconds()
                assert 0 <= took <= 5 and r.data[-1] == when.isoweekday(), r.data.hex()
            else:
                assert r.data[2:] == value, "0x%04X read back %s, wrote %s" % (pid, r.data[2:].hex(), value.hex())
        # An unknown parameter is unsupported, as is a command a device does not implement.
        assert routed(op, 0xF0, 0xAA, struct.pack("<H", 0x0099)).status == UNSUPPORTED
        assert routed(op, 0xF0, 0xAB, struct.pack("<H", 0x0099) + b"\x01").status == UNSUPPORTED


def test_version_write_refused_and_read_shows_the_software():
    with Server(DEVICES, ACCOUNTS) as srv, Sim(sim_args(srv, "--software", "3.1.4")) as sim:
        sim.event("login")
        op = operator(srv)
        r = routed(op, 0xF0, 0xAA, struct.pack("<H", 1))
        assert r.status == OK and r.data[2:].split(b"\0")[1] == b"3.1.4", r
        w = routed(op, 0xF0, 0xAB, struct.pack("<H", 1) + b"hw\0" + b"9.9.9\0" + b"bl\0")
        assert w.status == FAIL, w
        assert sim.event("config_write", detail="version")["status"] == "fail"
        r = routed(op, 0xF0, 0xAA, struct.pack("<H", 1))
        assert r.data[2:].split(b"\0")[1] == b"3.1.4", "version changed by a refused write"


def test_reboot_then_login_again_with_a_new_token():
    with Server(DEVICES, ACCOUNTS) as srv, Sim(sim_args(srv, "--reboot-time", "500ms")) as sim:
        first = sim.event("login")
        srv.wait_event("login", device=DEV_ID)
        op = operator(srv)
        assert routed(op, 0xF0, 0x55).status == OK
        assert sim.event("reboot")["detail"] == "platform"
        assert srv.wait_event("logout", device=DEV_ID)["reason"] == "closed"
        second = sim.event("login", timeout=10)
        srv.wait_event("login", device=DEV_ID)
        assert first["token"] != second["token"] and len(second["token"]) == 16, (first, second)
        # The new session answers with the new token.
        assert routed(op, 0xF0, 0xAA, struct.pack("<H", 0x000C)).status == OK


def test_stdin_uplinks_and_stdout_downlinks():
    with Server(DEVICES, ACCOUNTS) as srv, Sim(sim_args(srv)) as sim:
        op = operator(srv)
        sim.line("hello world")  # sent once the device is logged in
        up = op.recv(10, lambda f: f.cls == 0xAA and f.cmd == 0xEE)
        assert up is not None and up.device == DEV and up.data == b"hello world", up
        sim.line('{"device":"%s","payload":"01 02 55 54"}' % DEV_ID)
        up = op.recv(5, lambda f: f.cls == 0xAA and f.cmd == 0xEE)
        assert up is not None and up.data == b"\x01\x02\x55\x54", up
        assert routed(op, 0xAA, 0xFF, b"\x55on\x54").status == OK
        rec = sim.record(type="data.downlink")
        assert rec["device"] == DEV_ID and rec["body"]["payload"] == "556F6E54" and rec["dir"] == "rx", rec
        assert rec["peer"] == "127.0.0.1:%d" % srv.port and rec["status"] == "request", rec


def test_payload_hex_and_echo():
    with Server(DEVICES, ACCOUNTS) as srv, Sim(sim_args(srv, "--echo", "--payload", "hex")) as sim:
        op = operator(srv)
        sim.line("CAFE 00 # a comment")
        up = op.recv(10, lambda f: f.cls == 0xAA and f.cmd == 0xEE)
        assert up is not None and up.data == b"\xCA\xFE\x00", up
        assert routed(op, 0xAA, 0xFF, b"ping").status == OK
        echo = op.recv(5, lambda f: f.cls == 0xAA and f.cmd == 0xEE)
        assert echo is not None and echo.data == b"ping", echo
        assert sim.record(type="data.downlink")["body"]["payload"] == b"ping".hex().upper()


def test_frames_limit_ends_the_run():
    with Server(DEVICES, ACCOUNTS) as srv, Sim(sim_args(srv, "-n", "2")) as sim:
        sim.event("login")
        op = operator(srv)
        for p in (b"a", b"b"):
            assert routed(op, 0xAA, 0xFF, p).status == OK
        assert sim.wait() == 0
        assert [sim.record()["body"]["payload"] for _ in range(2)] == ["61", "62"]


def test_fallback_while_main_refuses_then_back_to_main():
    with Server([("0000000000000001", "text:x", "default", 1, "")]) as main, Server(DEVICES, ACCOUNTS) as fallback, \
            Sim(["--server", "127.0.0.1:%d" % main.port, "--fallback", "127.0.0.1:%d" % fallback.port,
                 "--id", DEV_ID, "--password", "text:123", "--retries", "0", "--recheck-interval", "2s",
                 "-t", "60s"]) as sim:
        assert main.wait_event("login_rejected")["reason"] == "unknown"
        assert sim.event("login_failed")["detail"] == "127.0.0.1:%d" % main.port
        ev = sim.event("login")
        assert ev["fallback"] is True and ev["detail"] == "127.0.0.1:%d" % fallback.port, ev
        fallback.wait_event("login", device=DEV_ID)
        # While the main server still refuses, the re-check goes back to the fallback.
        assert sim.event("logout", timeout=5)["detail"] == "recheck of the main server"
        main.wait_event("login_rejected", timeout=5)
        assert sim.event("login", timeout=10)["fallback"] is True
        # The main server knows the device now: the next re-check stays there.
        main.admin(["device", "add", DEV_ID, "--password", "text:123"])
        deadline_login = sim.event("login", timeout=15, fallback=False)
        assert deadline_login["detail"] == "127.0.0.1:%d" % main.port, deadline_login
        main.wait_event("login", device=DEV_ID)


class FakePlatform:
    """A TCP listener that answers the login with a known token, then sends what the test asks."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.conn = None
        self.rx = b""

    def frames(self, timeout=5.0):
        self.conn.settimeout(timeout)
        while True:
            frames, self.rx = split_frames(self.rx)
            if frames:
                return frames
            try:
                chunk = self.conn.recv(65536)
            except socket.timeout:
                return []
            if not chunk:
                return []
            self.rx += chunk

    def close(self):
        if self.conn:
            self.conn.close()
        self.sock.close()


def test_frame_with_another_token_is_ignored_and_counted():
    fake = FakePlatform()
    token = bytes(range(1, 9))
    try:
        with Sim(["--server", "127.0.0.1:%d" % fake.port, "--id", DEV_ID, "--password", "text:123", "-t", "30s"]) as sim:
            fake.conn, _ = fake.sock.accept()
            login = fake.frames()[0]
            assert (login.cls, login.cmd, login.data) == (0xA0, 0x00, b"123\0\0\0\0\0"), login
            fake.conn.sendall(encode(0xA0, 0x00, login.seq, DEV, data=bytes([8]) + token, status=OK))
            sim.event("login")
            # A reboot with another token: no reply, no reboot.
            fake.conn.sendall(encode(0xF0, 0x55, 40, DEV, token=b"\xEE" * 8))
            ev = sim.event("token_mismatch")
            assert ev["detail"] == "term.reboot" and ev["count"] == 1, ev
            # The same request with the right token is answered (and the wrong one was not).
            fake.conn.sendall(encode(0xF0, 0xAA, 41, DEV, token=token, data=struct.pack("<H", 0x000C)))
            got = fake.frames()
            assert [(f.cmd, f.seq) for f in got if f.cls == 0xF0] == [(0xAA, 41)], got
            assert got[0].status == OK and got[0].token == token and got[0].data == b"\x0c\x00\x1e", got[0]
            sim.stop()
            assert "1 frame with another token ignored" in sim.stderr_lines[-1], sim.stderr_lines[-1]
    finally:
        fake.close()


def test_state_file_keeps_the_configuration_across_runs():
    import json
    import tempfile
    with tempfile.TemporaryDirectory() as d, Server(DEVICES, ACCOUNTS) as srv:
        state = os.path.join(d, "state.json")
        with Sim(sim_args(srv, "--state", state)) as sim:
            sim.event("login")
            op = operator(srv)
            assert routed(op, 0xF0, 0xAB, struct.pack("<H", 0x000C) + b"\x2d").status == OK
            sim.event("config_write")
            saved = json.load(open(state))  # written at once, not only at exit
            assert saved["devices"][DEV_ID]["heartbeat_interval"] == 45, saved
            assert not os.path.exists(state + ".tmp")
        with Sim(sim_args(srv, "--state", state)) as sim:
            sim.event("login")
            op = operator(srv)
            r = routed(op, 0xF0, 0xAA, struct.pack("<H", 0x000C))
            assert r.data == b"\x0c\x00\x2d", r


def test_ota_update_switches_the_version_and_reboots():
    """A fake platform serves the image: frames asked in order, the 0x10 event, then the
    device reboots and reports the new software version."""
    fake = FakePlatform()
    token = bytes(range(1, 9))
    image = bytes((i * 7 + 3) & 0xFF for i in range(3000))
    checksum = sum(image) & 0xFF

    def accept_and_login():
        fake.conn, _ = fake.sock.accept()
        fake.rx = b""
        login = fake.frames()[0]
        assert (login.cls, login.cmd) == (0xA0, 0x00), login
        fake.conn.sendall(encode(0xA0, 0x00, login.seq, DEV, data=bytes([8]) + token, status=OK))

    try:
        with Sim(["--server", "127.0.0.1:%d" % fake.port, "--id", DEV_ID, "--password", "text:123", "-t", "60s",
                  "--ota-frame-size", "1024", "--reboot-time", "300ms"]) as sim:
            accept_and_login()
            sim.event("login")
            fake.conn.sendall(encode(0xF0, 0x56, 70, DEV, token=token, data=b"app-v2.bin\0" + bytes([checksum])))
            asked, event = [], None
            pending = []
            while event is None:
                got = pending or fake.frames()
                assert got, "the device stopped asking; asked so far: %s" % asked
                f, pending = got[0], got[1:]
                if f.cls == 0xF0 and f.cmd == 0x57 and f.status == REQUEST:
                    name, rest = f.data.split(b"\0", 1)
                    n, size = struct.unpack("<HH", rest)
                    assert name == b"app-v2.bin" and size == 1024, f
                    asked.append(n)
                    part = image[n * size:(n + 1) * size]
                    fake.conn.sendall(encode(0xF0, 0x57, f.seq, DEV, token=token, status=OK,
                                             data=b"app-v2.bin\0" + struct.pack("<HH", n, len(part)) + part))
                elif f.cls == 0xF0 and f.cmd == 0xF0:
                    event = f
            assert asked == [0, 1, 2], asked
            assert event.data == b"\x10upgrade ok: app-v2.bin 3000 bytes\0", event.data
            assert sim.event("reboot")["detail"] == "ota"
            fake.conn.close()
            accept_and_login()
            sim.event("login")
            fake.conn.sendall(encode(0xF0, 0xAA, 71, DEV, token=token, data=struct.pack("<H", 1)))
            r = [f for f in fake.frames() if f.cmd == 0xAA][0]
            assert r.status == OK and r.data[2:].split(b"\0")[1] == b"app-v2", r
    finally:
        fake.close()


def test_login_refused_exits_5_and_unreachable_exits_6():
    with Server(DEVICES, ACCOUNTS) as srv:
        sim = Sim(["--server", "127.0.0.1:%d" % srv.port, "--id", DEV_ID, "--password", "text:bad", "--retries", "2",
                   "-t", "60s"], verbose=False)
        try:
            assert sim.wait(20) == 5
            assert "gave up logging in (refused)" in "\n".join(sim.stderr_lines), sim.stderr_lines
        finally:
            sim.stop()
        port = srv.port
    sim = Sim(["--server", "127.0.0.1:%d" % port, "--id", DEV_ID, "--password", "text:123", "--retries", "2",
               "-t", "60s"], verbose=False)
    try:
        assert sim.wait(20) == 6
    finally:
        sim.stop()


if __name__ == "__main__":
    run_tests([test_config_write_then_read_back_every_writable_parameter,
               test_version_write_refused_and_read_shows_the_software,
               test_reboot_then_login_again_with_a_new_token,
               test_stdin_uplinks_and_stdout_downlinks,
               test_payload_hex_and_echo,
               test_frames_limit_ends_the_run,
               test_fallback_while_main_refuses_then_back_to_main,
               test_frame_with_another_token_is_ignored_and_counted,
               test_state_file_keeps_the_configuration_across_runs,
               test_ota_update_switches_the_version_and_reboots,
               test_login_refused_exits_5_and_unreachable_exits_6])
