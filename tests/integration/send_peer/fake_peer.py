#!/usr/bin/env python3
"""A tiny scripted AI-Cloud peer for m2m-send's network tests (stdlib only).

It speaks m2m-protocol(7) "FRAME LAYOUT" with its own independent codec (CRC-16/MODBUS, escaping),
listens on 127.0.0.1 (TCP and UDP on the same port, chosen by the kernel, written to
--port-file), logs every frame it receives as one hex line to --log, and answers:

  A0 00 / EF 00 login   password 0102030405060708 or text "123" -> ok + token A1..A8; else fail
  A0 01 / EF 01         ok
  F0 AB config_write    fail        (lets tests see a refused request)
  F0 AA config_read     no answer   (lets tests see a timeout)
  F0 57 ota_frame       garbage bytes, then ok
  any other request     ok, then with --push N: N data.uplink requests of its own
  a frame with a wrong token (after login) is ignored, as the platform would
"""
import argparse, os, socket, struct, selectors, sys

TOKEN = bytes.fromhex("A1A2A3A4A5A6A7A8")
PASSWORDS = {bytes.fromhex("0102030405060708"), b"123" + bytes(5)}

# The frame codec is the one independent Python oracle shared by all network tests.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from m2m_client import crc16_modbus as crc16, has_token_field as has_token, encode as _encode

def encode(cls, cmd, seq, status, dev, token, data, ext=0):
    return _encode(cls, cmd, seq=seq, device=dev, token=token, data=data, status=status, ext=ext)

def frames(buf):
    """Splits complete wire frames off the front of buf; returns (frames, rest)."""
    out = []
    while True:
        start = buf.find(b"\x55")
        if start < 0: return out, b""
        end = buf.find(b"\x55", start + 1)
        if end < 0: return out, buf[start:]
        if end == start + 1:
            buf = buf[end:]
            continue
        raw = buf[start:end + 1]
        buf = buf[end + 1:]
        u = bytearray(b"\x55"); i = 1
        while i < len(raw) - 1:
            if raw[i] == 0x54:
                u.append(0x55 if raw[i + 1] == 1 else 0x54); i += 2
            else:
                u.append(raw[i]); i += 1
        u.append(0x55)
        if len(u) < 21 or struct.unpack("<H", u[1:3])[0] != len(u) or crc16(u[:-3]) != struct.unpack("<H", u[-3:-1])[0]:
            continue
        cls, cmd, seq, ext, status = u[3], u[4], *struct.unpack("<HHB", u[5:10])
        dev = int.from_bytes(u[10:18], "big")
        at = 18; token = b""
        if has_token(cls, cmd):
            tl = u[18]; token = bytes(u[19:19 + tl]); at = 19 + tl
        out.append(dict(cls=cls, cmd=cmd, seq=seq, status=status, dev=dev, token=token,
                        data=bytes(u[at:-3]), raw=bytes(raw)))

class Peer:
    def __init__(self, args):
        self.args, self.logged_in, self.push_seq = args, False, 100
        self.log = open(args.log, "a", buffering=1)

    def answer(self, f):
        """Bytes to send back for one received frame."""
        self.log.write(f["raw"].hex().upper() + "\n")
        cls, cmd, seq, dev = f["cls"], f["cmd"], f["seq"], f["dev"]
        if f["status"] != 2: return b""
        if cmd == 0 and cls in (0xA0, 0xEF):
            if f["data"] in PASSWORDS and not self.args.reject_login:
                self.logged_in = True
                return encode(cls, cmd, seq, 0, dev, b"", bytes([8]) + TOKEN)
            return encode(cls, cmd, seq, 1, dev, b"", b"")
        if self.logged_in and f["token"] != TOKEN: return b""
        if cmd == 0x01 and cls in (0xA0, 0xEF): return encode(cls, cmd, seq, 0, dev, TOKEN, b"")
        if (cls, cmd) == (0xF0, 0xAB): return encode(cls, cmd, seq, 1, dev, TOKEN, b"")
        if (cls, cmd) == (0xF0, 0xAA): return b""
        reply = encode(cls, cmd, seq, 0, dev, TOKEN, b"")
        if (cls, cmd) == (0xF0, 0x57): reply = b"\x01\x02\x03" + reply
        for _ in range(self.args.push):
            self.push_seq += 1
            reply += encode(0xAA, 0xEE, self.push_seq, 2, dev, TOKEN, b"pushed")
        return reply

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--push", type=int, default=0)
    ap.add_argument("--push-on-login", type=int, default=0, help="uplinks sent right after a login")
    ap.add_argument("--reject-login", action="store_true")
    ap.add_argument("--ipv6", action="store_true", help="listen on [::1] instead of 127.0.0.1")
    args = ap.parse_args()
    peer = Peer(args)
    family, host = (socket.AF_INET6, "::1") if args.ipv6 else (socket.AF_INET, "127.0.0.1")
    tcp = socket.socket(family); tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((host, 0)); tcp.listen(16)
    port = tcp.getsockname()[1]
    udp = socket.socket(family, socket.SOCK_DGRAM); udp.bind((host, port))
    sel = selectors.DefaultSelector()
    sel.register(tcp, selectors.EVENT_READ, "accept")
    sel.register(udp, selectors.EVENT_READ, "udp")
    with open(args.port_file + ".tmp", "w") as f: f.write(str(port))
    import os; os.rename(args.port_file + ".tmp", args.port_file)
    buffers = {}
    def react(f):
        out = peer.answer(f)
        if f["cmd"] == 0 and f["cls"] in (0xA0, 0xEF) and peer.logged_in:
            for i in range(args.push_on_login):
                peer.push_seq += 1
                out += encode(0xF0 if f["cls"] == 0xEF else 0xAA, 0xF0 if f["cls"] == 0xEF else 0xEE,
                              peer.push_seq, 2, 0xFED24A, TOKEN, b"\x20event\x00" if f["cls"] == 0xEF else b"up")
        return out
    while True:
        for key, _ in sel.select():
            if key.data == "accept":
                conn, _ = tcp.accept(); buffers[conn] = b""
                sel.register(conn, selectors.EVENT_READ, "tcp")
            elif key.data == "udp":
                data, addr = udp.recvfrom(65536)
                got, _ = frames(data)
                for f in got:
                    out = react(f)
                    if out: udp.sendto(out, addr)
            else:
                conn = key.fileobj
                data = conn.recv(65536)
                if not data:
                    sel.unregister(conn); conn.close(); del buffers[conn]; continue
                got, buffers[conn] = frames(buffers[conn] + data)
                for f in got:
                    out = react(f)
                    if out: conn.sendall(out)

if __name__ == "__main__":
    main()
