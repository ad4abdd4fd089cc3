"""m2m-server over IPv6: --listen [::1]:PORT serves devices over IPv6 loopback (login,
heartbeat, shutdown), and [::]:PORT is dual-stack (IPv4 peers over TCP and UDP, shown as
plain IPv4). UDP device records are IPv4 (m2m-server(1), server.hpp): a datagram from a
native IPv6 source is dropped and counted. Loopback only; with no IPv6 in the kernel the
test fails saying so (CI has IPv6)."""
import os
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))
from m2m_client import OK, Peer, Server, password, run_tests  # noqa: E402

DEV, DEV2 = 0xFED26A, 0xFED26B
DEVICES = [("0000000000FED26A", "text:123", "g1", 1, "v6"),
           ("0000000000FED26B", "text:123", "g1", 1, "v4 over udp")]


class Server6(Server):
    """The test support's Server, listening where the test says."""

    def __init__(self, listen, *a, **kw):
        super().__init__(*a, **kw)
        self.listen = listen

    def __enter__(self):
        self.proc = subprocess.Popen([self.bin, "serve", "--db", self.db, "--listen", self.listen] + self.args,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._pump, daemon=True).start()
        self.listening = self.wait_event("listening", timeout=10)
        self.port = int(self.listening["tcp"].rsplit(":", 1)[1])
        return self


def require_ipv6():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
    except OSError as e:
        print("FAIL: this kernel has no IPv6 loopback (%s); the IPv6 tests need it" % e)
        sys.exit(1)


def test_device_logs_in_over_ipv6_loopback():
    with Server6("[::1]:0", DEVICES) as srv:
        assert srv.listening["tcp"] == "[::1]:%d" % srv.port, srv.listening
        assert srv.listening["udp"] == srv.listening["tcp"], srv.listening
        p = Peer(srv.port, DEV, host="::1")
        assert p.sock.family == socket.AF_INET6
        r = p.login(password("123"))
        assert r.status == OK and len(p.token) == 8, r
        ev = srv.wait_event("login", device="0000000000FED26A")
        assert ev["transport"] == "tcp" and ev["group"] == "g1", ev
        hb = p.request(0xA0, 0x01)
        assert hb.status == OK and hb.token == p.token and hb.data == b"", hb
        # Nothing was refused on the way.
        rc = srv.stop()
        assert rc == 0, "SIGTERM: exit %s" % rc
        out = srv.proc.stderr.read()
        events = list(srv.seen) + [e for e in iter(srv.events.get, None)]
        names = [e.get("event") for e in events]
        assert "logout" in names and names[-1] == "shutdown", names
        for e in events:
            assert e.get("event") not in ("login_rejected", "capacity", "bad_frame", "token_mismatch"), e
            if e.get("event") == "logout":
                assert e["reason"] == "shutdown", e
            if e.get("event") == "stats":
                assert e["logins"] == 1 and e["login_rejected"] == 0 and e["drops"] == 0, e
        assert "error" not in out, out


def test_dual_stack_serves_ipv4_peers_and_drops_native_ipv6_udp():
    with Server6("[::]:0", DEVICES, args=["--stats-interval", "100ms"]) as srv:
        assert srv.listening["tcp"] == "[::]:%d" % srv.port, srv.listening
        p = Peer(srv.port, DEV, host="127.0.0.1")  # IPv4 peer of the IPv6 wildcard
        assert p.login(password("123")).status == OK
        ev = srv.wait_event("login", device="0000000000FED26A")
        assert ev["peer"] == "127.0.0.1:%d" % p.sock.getsockname()[1], ev
        u = Peer(srv.port, DEV2, udp=True, host="127.0.0.1")  # answered through an IPv4-mapped address
        r = u.login(password("123"))
        assert r.status == OK and len(u.token) == 8, r
        ev = srv.wait_event("login", device="0000000000FED26B")
        assert ev["transport"] == "udp" and ev["peer"] == "127.0.0.1:%d" % u.sock.getsockname()[1], ev
        # A native IPv6 datagram: dropped and counted, not answered.
        v6 = Peer(srv.port, DEV2, udp=True)
        v6.sock.close()
        v6.sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        v6.sock.bind(("::1", 0))
        v6.addr = ("::1", srv.port)
        v6.send(0xA0, 0x00, password("123"))
        assert v6.recv(0.5) is None, "a datagram from a native IPv6 source was answered"
        assert srv.wait_event("stats", drops=1)["online_udp"] == 1


def test_listen_refuses_a_bad_ipv6_address():
    srv = Server(DEVICES)
    try:
        r = subprocess.run([srv.bin, "serve", "--db", srv.db, "--listen", "[::1:8266"], capture_output=True, text=True,
                           timeout=10)
        assert r.returncode == 2, (r.returncode, r.stderr)
        assert "--listen: '[::1:8266': no closing ']'" in r.stderr, r.stderr
    finally:
        subprocess.run(["rm", "-rf", srv.dir])


if __name__ == "__main__":
    require_ipv6()
    run_tests([test_device_logs_in_over_ipv6_loopback, test_dual_stack_serves_ipv4_peers_and_drops_native_ipv6_udp,
               test_listen_refuses_a_bad_ipv6_address])
