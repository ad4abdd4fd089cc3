"""m2m-server robustness: garbage, corrupt and oversized frames on one connection never
affect another; a frame split across many writes is reassembled; a reader that never reads
is disconnected once its bounded send queue is full."""
import os
import random
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))
from m2m_client import OK, Peer, Server, encode, password, run_tests  # noqa: E402

A, B = 0xA1, 0xB2
DEVICES = [("%016X" % A, "text:a", "g", 1, ""), ("%016X" % B, "text:b", "g", 1, "")]


def test_garbage_and_oversized_frames_do_not_disturb_others():
    with Server(DEVICES) as srv:
        good = Peer(srv.port, A)
        assert good.login(password("a")).status == OK
        bad = Peer(srv.port, B)
        assert bad.login(password("b")).status == OK
        rnd = random.Random(7)
        junk = [bytes(rnd.randrange(256) for _ in range(4000)),                   # noise
                b"\x55" + b"\x00" * 3000 + b"\x55",                                 # over 1400 bytes
                encode(0xA0, 0x01, 1, B, bad.token)[:-3] + b"\x00\x00\x55",         # bad CRC
                b"\x55\x54\x07\x55",                                                # bad escape
                b"\x55" + bytes(rnd.randrange(1, 0x54) for _ in range(2000))]       # long unterminated
        for chunk in junk:
            bad.send_raw(chunk)
            assert good.request(0xA0, 0x01).status == OK  # the other session keeps working
        srv.wait_event("bad_frame")
        # The noisy session survives its own noise: once a valid frame arrives, it is answered.
        bad.send_raw(b"\x55")
        assert bad.request(0xA0, 0x01).status == OK
        # A frame split into single bytes is reassembled.
        raw = encode(0xA0, 0x01, 99, A, good.token)
        for i in range(len(raw)):
            good.send_raw(raw[i:i + 1])
            time.sleep(0.002)
        r = good.recv(3, lambda f: f.seq == 99)
        assert r is not None and r.status == OK


def test_slow_reader_is_disconnected():
    with Server(DEVICES, args=["--max-send-queue", "16k"]) as srv:
        sender = Peer(srv.port, A)
        assert sender.login(password("a")).status == OK
        sleeper = Peer(srv.port, B, rcvbuf=4096)
        assert sleeper.login(password("b")).status == OK
        payload = b"\x00" * 1300
        deadline = time.monotonic() + 30
        refused = False
        while time.monotonic() < deadline and not refused:
            for _ in range(50):
                sender.send(0xAA, 0x55, struct.pack(">Q", B) + payload)
            while True:
                r = sender.recv(0.2, lambda f: f.cmd == 0x55)
                if r is None:
                    break
                if r.status != OK:
                    refused = True
        ev = srv.wait_event("logout", timeout=5, device="%016X" % B)
        assert ev["reason"] == "slow_reader", ev
        assert sender.request(0xA0, 0x01).status == OK


run_tests([test_garbage_and_oversized_frames_do_not_disturb_others, test_slow_reader_is_disconnected])
