"""P2P between simulated devices on loopback through m2m-server (m2m-protocol(7)
link.p2p_request, link.p2p_confirm, data.p2p_send): the introduction, the punch and the
data going directly (the platform's relay counter stays 0); and a peer that never
acknowledges, where the device says so and falls back to relay."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "simdevice_support"))
from m2m_client import OK, REQUEST, Peer, Server, password, run_tests  # noqa: E402
from sim import Sim  # noqa: E402

A, B = 0xA1, 0xB2
DEVICES = [("%016X" % A, "text:123", "default", 1, ""), ("%016X" % B, "text:123", "default", 1, "")]


def args(srv, dev, *extra):
    return ["--server", "127.0.0.1:%d" % srv.port, "--udp", "--id", "%016X" % dev, "--password", "text:123",
            "-t", "60s"] + list(extra)


def test_p2p_data_goes_directly():
    with Server(DEVICES, args=["--stats-interval", "1s"]) as srv, Sim(args(srv, B)) as b:
        b.event("login")
        with Sim(args(srv, A, "--p2p-with", "%016X" % B)) as a:
            a.p2p("asking for %016X" % B)
            a.p2p("punching to 127.0.0.1:")
            b_direct = b.p2p("direct 127.0.0.1:")
            a.p2p("direct 127.0.0.1:")
            a.line("straight to you")
            rec = b.record(type="data.p2p_send")
            assert rec["body"]["sender"] == "%016X" % A, rec
            assert bytes.fromhex(rec["body"]["payload"]) == b"straight to you", rec
            # Received from A's own address (the one B acknowledged), not through the platform.
            assert rec["device"] == "%016X" % B and rec["peer"] == b_direct["detail"].split(" ", 1)[1], rec
            assert rec["peer"] != "127.0.0.1:%d" % srv.port
            a.stop()
            stats = srv.wait_event("stats", timeout=5)
            assert stats["relays"] == 0, stats


def test_punch_without_acknowledgement_falls_back_to_relay():
    with Server(DEVICES) as srv:
        mute = Peer(srv.port, B, udp=True)  # online over UDP, never answers a probe
        assert mute.login(password("123")).status == OK
        with Sim(args(srv, A, "--p2p-with", "%016X" % B, "--p2p-timeout", "1500ms")) as a:
            a.p2p("relay: no acknowledgement from 127.0.0.1:%d" % mute.sock.getsockname()[1])
            a.line("via the platform")
            got = mute.recv(5, lambda f: f.cls == 0xAA and f.cmd == 0x55 and f.status == REQUEST)
            assert got is not None and got.data[8:] == b"via the platform" and got.data[:8] == A.to_bytes(8, "big"), got
            srv.wait_event("relay")


if __name__ == "__main__":
    run_tests([test_p2p_data_goes_directly, test_punch_without_acknowledgement_falls_back_to_relay])
