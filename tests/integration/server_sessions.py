"""m2m-server session integrity over real sockets: a connection that logs in as one account
and then as another leaves nothing bound to its descriptor (a stranger who gets the
descriptor next receives no one's uplinks); a device whose send queue overflows while the
platform relays to it from itself is closed cleanly; option values that would wrap or
disable a limit are refused with exit 2."""
import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))
from m2m_client import OK, Peer, Server, encode, password, run_tests  # noqa: E402

DEV, OTHER = 0xFED24A, 0xFED24B
DEVICES = [("%016X" % DEV, "text:123", "north", 1, ""), ("%016X" % OTHER, "text:456", "north", 1, "")]
ACCOUNTS = [(7, "app", "text:app", "north", 1, ""), (10, "ten", "text:ten", "north", 1, ""),
            (8, "ops", "text:ops", "*", 1, "")]


def accepted(srv, sock):
    """Waits until the server has taken `sock` (it reports a frame without a login from it)."""
    sock.sendall(encode(0xA0, 0x01, 1, 0x1, b"\0" * 8))
    peer = "%s:%d" % sock.getsockname()
    srv.wait_event("token_mismatch", peer=peer)


def test_stale_client_binding_does_not_leak_to_a_stranger():
    with Server(DEVICES, ACCOUNTS) as srv:
        ops = Peer(srv.port, 8)
        assert ops.login(password("ops"), cls=0xEF).status == OK
        c = Peer(srv.port, 7)
        assert c.login(password("app"), cls=0xEF).status == OK
        c.device = 10
        assert c.login(password("ten"), cls=0xEF).status == OK
        c.close()
        assert srv.wait_event("logout", account=10)["reason"] == "closed"
        stranger = socket.create_connection(("127.0.0.1", srv.port), timeout=5)  # likely the same descriptor
        accepted(srv, stranger)
        dev = Peer(srv.port, DEV)
        assert dev.login(password("123")).status == OK
        assert dev.request(0xAA, 0xEE, b"secret").status == OK
        up = ops.recv(3, lambda f: f.cmd == 0xEE)
        assert up is not None and up.data == b"secret"
        assert srv.wait_event("uplink", device="%016X" % DEV)["clients"] == 1
        stranger.settimeout(0.5)
        try:
            leaked = stranger.recv(4096)
        except socket.timeout:
            leaked = b""
        assert b"secret" not in leaked, "a connection that never logged in received an uplink"
        assert srv.wait_event("logout", account=7)["reason"] == "replaced"
        # Account 7 logs in again elsewhere: the stranger is not closed as "replaced".
        again = Peer(srv.port, 7)
        assert again.login(password("app"), cls=0xEF).status == OK
        stranger.settimeout(5)
        accepted(srv, stranger)
        stranger.close()


def test_relay_to_oneself_that_overflows_the_queue_closes_cleanly():
    with Server(DEVICES, args=["--max-send-queue", "4k"]) as srv:
        other = Peer(srv.port, OTHER)
        assert other.login(password("456")).status == OK
        me = Peer(srv.port, DEV, rcvbuf=4096)
        me.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert me.login(password("123")).status == OK
        payload = struct.pack(">Q", DEV) + b"\x00" * 1200
        # A send that times out half-way would leave a cut frame, and every frame after it would
        # deframe as garbage (no more relays, so no overflow): wait long for a busy (sanitizer)
        # server instead, and stop sending if even that runs out.
        me.sock.settimeout(20)
        # The overflow comes once the kernel's buffers between us are full (the server's send
        # buffer grows to megabytes on loopback): a starved sanitizer server relays a few
        # hundred frames a second, so the bound is generous; a passing run ends at the close.
        deadline = time.monotonic() + 90
        closed = False
        seq = 100
        while time.monotonic() < deadline and not closed:
            seq += 1
            raw = encode(0xAA, 0x55, seq, DEV, me.token, payload)
            half = len(raw) // 2  # split, so the frame sits in the connection's own deframer
            try:
                me.sock.sendall(raw[:half])
                me.sock.sendall(raw[half:])
            except socket.timeout:
                break  # the server stopped reading for 20 s: the assertions below report it
            except OSError:  # reset or broken pipe: the server closed us
                closed = True
            for e in list(srv.seen):
                if e.get("event") == "logout" and e.get("device") == "%016X" % DEV:
                    closed = True
            while not srv.events.empty():
                e = srv.events.get_nowait()
                if e is None:
                    srv.proc.wait(timeout=10)
                    closed = True
                    break
                srv.seen.append(e)
        if srv.proc.poll() is not None:  # e.g. AddressSanitizer: heap-use-after-free
            raise AssertionError("server exited (%s): %s" % (srv.proc.returncode, srv.proc.stderr.read()[-3000:]))
        assert srv.wait_event("logout", timeout=60, device="%016X" % DEV)["reason"] == "slow_reader"
        assert other.request(0xA0, 0x01).status == OK
        assert srv.proc.poll() is None


def test_option_values_that_would_wrap_or_disable_are_refused():
    binary = os.path.join(os.environ.get("BIN_DIR", "build/bin"), "m2m-server")
    for args, words in [(["--login-fail-limit", "4294967296"], "too large"),
                        (["--heartbeat-interval", "0"], "greater than 0"),
                        (["--udp-trust", "nobody"], "same-ip or any")]:
        r = subprocess.run([binary, "serve", "--db", "/nonexistent/x.db", "--listen", "127.0.0.1:0"] + args,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        assert words in r.stderr, (args, r.stderr)


def test_connections_per_address_are_capped():
    with Server(DEVICES, args=["--max-conns-per-ip", "2"]) as srv:
        a = Peer(srv.port, DEV)
        b = Peer(srv.port, OTHER)
        assert a.login(password("123")).status == OK
        assert b.login(password("456")).status == OK
        extra = [socket.create_connection(("127.0.0.1", srv.port), timeout=5) for _ in range(5)]
        ev = srv.wait_event("capacity")
        assert ev["reason"] == "max_conns_per_ip" and ev["refused"] >= 1, ev
        for s in extra:
            s.settimeout(5)
            assert s.recv(16) == b""  # closed by the server
            s.close()
        assert a.request(0xA0, 0x01).status == OK
        b.close()
        assert srv.wait_event("logout", device="%016X" % OTHER)["reason"] == "closed"
        c = Peer(srv.port, OTHER)  # a slot of this address is free again
        assert c.login(password("456")).status == OK


run_tests([test_stale_client_binding_does_not_leak_to_a_stranger,
           test_relay_to_oneself_that_overflows_the_queue_closes_cleanly,
           test_option_values_that_would_wrap_or_disable_are_refused,
           test_connections_per_address_are_capped])
