"""Loopback test helpers for m2m-server: an independent AI-Cloud frame codec (an oracle for
the C++ one: m2m-protocol(7) "FRAME LAYOUT" — little-endian length, CRC-16/MODBUS low byte first,
55 -> 54 01 and 54 -> 54 02 escaping), TCP/UDP peers, and a server fixture that starts
m2m-server on a free port and always stops it. Standard library only."""

import os
import queue
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import json

HEAD, ESC = 0x55, 0x54
REQUEST, OK, FAIL, UNSUPPORTED = 2, 0, 1, 3


def crc16_modbus(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def has_token_field(cls, cmd):
    return not (cmd == 0 and cls in (0xA0, 0xEF))


def encode(cls, cmd, seq=0, device=0, token=b"", data=b"", status=REQUEST, ext=0):
    tok = bytes([len(token)]) + token if has_token_field(cls, cmd) else b""
    length = 18 + len(tok) + len(data) + 3
    body = struct.pack("<BHBBHHB", HEAD, length, cls, cmd, seq, ext, status) + struct.pack(">Q", device) + tok + data
    body += struct.pack("<H", crc16_modbus(body))
    inner = body[1:].replace(b"\x54", b"\x54\x02").replace(b"\x55", b"\x54\x01")
    return b"\x55" + inner + b"\x55"


def unescape(inner):
    out = bytearray()
    i = 0
    while i < len(inner):
        b = inner[i]
        if b == ESC:
            nxt = inner[i + 1] if i + 1 < len(inner) else None
            if nxt == 1:
                out.append(0x55)
            elif nxt == 2:
                out.append(0x54)
            else:
                raise ValueError("bad escape")
            i += 2
        else:
            out.append(b)
            i += 1
    return bytes(out)


class Frame:
    def __init__(self, raw):
        un = b"\x55" + unescape(raw[1:-1]) + b"\x55"
        length, self.cls, self.cmd, self.seq, self.ext, self.status = struct.unpack_from("<HBBHHB", un, 1)
        if length != len(un):
            raise ValueError("length field %d != %d" % (length, len(un)))
        if struct.unpack_from("<H", un, len(un) - 3)[0] != crc16_modbus(un[:-3]):
            raise ValueError("bad crc")
        (self.device,) = struct.unpack_from(">Q", un, 10)
        pos = 18
        self.token = None
        if has_token_field(self.cls, self.cmd):
            n = un[pos]
            self.token = un[pos + 1:pos + 1 + n]
            pos += 1 + n
        self.data = un[pos:-3]

    def __repr__(self):
        return "Frame(%02X %02X seq=%d status=%d dev=%016X token=%s data=%s)" % (
            self.cls, self.cmd, self.seq, self.status, self.device,
            self.token.hex() if self.token is not None else None, self.data.hex())


def split_frames(buf):
    """Complete frames at the front of buf (bytes between 0x55 pairs); returns (frames, rest)."""
    frames = []
    while True:
        start = buf.find(b"\x55")
        if start < 0:
            return frames, b""
        end = buf.find(b"\x55", start + 1)
        if end < 0:
            return frames, buf[start:]
        if end == start + 1:  # "55 55": the second head starts the next frame
            buf = buf[end:]
            continue
        frames.append(Frame(buf[start:end + 1]))
        buf = buf[end + 1:]


def peer_records(data):
    """group_list / p2p records: id(8) token field(1+L) ip(4 BE) port(2 BE)."""
    out = []
    pos = 0
    while pos < len(data):
        (dev,) = struct.unpack_from(">Q", data, pos)
        n = data[pos + 8]
        tok = data[pos + 9:pos + 9 + n]
        ip = socket.inet_ntoa(data[pos + 9 + n:pos + 13 + n])
        (port,) = struct.unpack_from(">H", data, pos + 13 + n)
        out.append({"id": dev, "token": tok, "ip": ip, "port": port})
        pos += 15 + n
    return out


def password(text):
    return text.encode().ljust(8, b"\0")


class Peer:
    """A device or client over TCP or UDP. Remembers its token after a login."""

    def __init__(self, port, device, udp=False, host="127.0.0.1", rcvbuf=None):
        """rcvbuf: a small receive buffer, set before the connection so that the window is
        small from the first segment, as on a small device. Shrinking it on a connected socket
        retracts a window already advertised: Linux 6.18 then drops the peer's segments as
        beyond the window, pure ACKs included, and both ends retransmit for minutes."""
        self.addr = (host, port)
        self.device = device
        self.udp = udp
        self.token = b""
        self.seq = 0
        self.rx = b""
        self.pending = []
        if udp:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", 0))
        else:
            family, kind, proto, _, where = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
            self.sock = socket.socket(family, kind, proto)
            if rcvbuf:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(5)
            self.sock.connect(where)

    def close(self):
        self.sock.close()

    def send_raw(self, raw):
        if self.udp:
            self.sock.sendto(raw, self.addr)
        else:
            self.sock.sendall(raw)

    def send(self, cls, cmd, data=b"", status=REQUEST, seq=None, device=None, token=None):
        if seq is None:
            self.seq = (self.seq + 1) & 0xFFFF
            seq = self.seq
        self.send_raw(encode(cls, cmd, seq, self.device if device is None else device,
                             self.token if token is None else token, data, status))
        return seq

    def recv(self, timeout=5.0, match=None):
        """Next frame (satisfying match, if given; others are kept for later); None on timeout."""
        for i, f in enumerate(self.pending):
            if match is None or match(f):
                return self.pending.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                if self.udp:
                    chunk, _ = self.sock.recvfrom(65536)
                else:
                    chunk = self.sock.recv(65536)
            except (socket.timeout, BlockingIOError):
                return None
            if not chunk and not self.udp:
                raise ConnectionError("server closed the connection")
            if self.udp:
                frames, _ = split_frames(chunk)
            else:
                self.rx += chunk
                frames, self.rx = split_frames(self.rx)
            for f in frames:
                if match is None or match(f):
                    idx = frames.index(f)
                    self.pending.extend(frames[idx + 1:])
                    return f
                self.pending.append(f)

    def request(self, cls, cmd, data=b"", timeout=5.0):
        seq = self.send(cls, cmd, data)
        f = self.recv(timeout, lambda f: f.cls == cls and f.cmd == cmd and f.seq == seq and f.status != REQUEST)
        if f is None:
            raise AssertionError("no reply to %02X %02X seq %d" % (cls, cmd, seq))
        return f

    def login(self, pw, cls=0xA0):
        f = self.request(cls, 0x00, pw)
        if f.status == OK:
            assert f.data[0] == 8 and len(f.data) == 9, "token field %r" % f.data
            self.token = f.data[1:]
        return f

    def closed_by_server(self, timeout=5.0):
        """True when the server closes this TCP connection within timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except ConnectionResetError:
                return True
            if not chunk:
                return True
        return False


def rss_kib(pid):
    """The resident memory of process `pid` in KiB (VmRSS), 0 when it has none."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def stop_process(proc, grace=5):
    """SIGTERM, then SIGKILL after `grace` seconds; returns the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class Server:
    """m2m-server on 127.0.0.1 with a fresh registry; use as a context manager."""

    def __init__(self, devices=(), accounts=(), args=()):
        self.bin = os.path.join(os.environ.get("BIN_DIR", "build/bin"), "m2m-server")
        self.dir = tempfile.mkdtemp(prefix="m2m-server-test-")
        self.db = os.path.join(self.dir, "m2m.db")
        self.args = list(args)
        self.events = queue.Queue()
        self.seen = []
        if devices:
            self.admin(["device", "import"], "id,password,group,enabled,description\n" +
                       "".join("%s\n" % ",".join(map(str, d)) for d in devices))
        if accounts:
            self.admin(["account", "import"], "id,name,password,groups,enabled,description\n" +
                       "".join("%s\n" % ",".join(map(str, a)) for a in accounts))

    def admin(self, args, stdin=""):
        r = subprocess.run([self.bin] + args + ["--db", self.db], input=stdin, capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0:
            raise AssertionError("%s failed (%d): %s" % (args, r.returncode, r.stderr))
        return r.stdout

    def __enter__(self):
        self.proc = subprocess.Popen([self.bin, "serve", "--db", self.db, "--listen", "127.0.0.1:0"] + self.args,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._pump, daemon=True).start()
        ev = self.wait_event("listening", timeout=10)
        self.port = int(ev["tcp"].rsplit(":", 1)[1])
        return self

    def _pump(self):
        for line in self.proc.stdout:
            try:
                self.events.put(json.loads(line))
            except ValueError:
                self.events.put({"event": "unparsable", "line": line})
        self.events.put(None)

    def wait_event(self, name, timeout=5.0, **fields):
        """The next event called name whose fields match (earlier non-matching ones are kept)."""
        def matches(e):
            return e.get("event") == name and all(e.get(k) == v for k, v in fields.items())
        for e in self.seen:
            if matches(e):
                self.seen.remove(e)
                return e
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %s event %s within %.1fs; seen: %s" % (name, fields, timeout, self.seen[-10:]))
            try:
                e = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if e is None:
                raise AssertionError("server exited (%s) before a %s event: %s" %
                                     (self.proc.poll(), name, self.proc.stderr.read()))
            if matches(e):
                return e
            self.seen.append(e)

    def stop(self):
        return stop_process(self.proc)

    def __exit__(self, *exc):
        self.stop()
        subprocess.run(["rm", "-rf", self.dir])


def run_tests(tests):
    """Runs each test function, prints PASS/FAIL lines, exits 1 on any failure."""
    failed = 0
    for t in tests:
        try:
            t()
            print("PASS", t.__name__)
        except Exception as e:  # report every failure, keep going
            failed += 1
            import traceback
            print("FAIL", t.__name__, "-", e)
            traceback.print_exc()
    sys.exit(1 if failed else 0)
