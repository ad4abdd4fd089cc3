#!/usr/bin/env bash
# The interchange property (DESIGN "Encoding"): m2m-decode < capture | m2m-send --encode
# reproduces every valid frame of the capture byte for byte — every command of the catalogue
# in its request and reply forms, unknown classes and commands, non-zero extension bytes,
# odd statuses, escaped bytes, data areas that do not parse as their body — also when the
# capture is dirty (garbage, bad CRCs, a truncated tail: their error objects are skipped).
source "$(dirname "$0")/common.bash"

# The capture is written by an independent Python encoder of m2m-protocol(7) "FRAME LAYOUT", so the
# toolkit's encoder is not checking itself.
python3 - "$(dirname "$0")/../integration/support" <<'PY'
import random, struct, sys
sys.path.insert(0, sys.argv[1])
from m2m_client import encode

def frame(cls, cmd, seq, ext, status, dev, token, data):
    return encode(cls, cmd, seq=seq, device=dev, token=token, data=data, status=status, ext=ext)

rnd = random.Random(20261121)
def rbytes(n): return bytes(rnd.choice([0x55, 0x54, 0x00, rnd.randrange(256)]) for _ in range(n))
def dev(): return rnd.choice([0xFED24A, 0x0000AABBCCDDEEFF, 0x5555555555555555, rnd.getrandbits(64)])
def tok(): return rnd.choice([rbytes(8), b"", rbytes(3)])
def gbk(s): return s.encode("gbk") + b"\0"
def peer(): return dev().to_bytes(8, "big") + b"\x08" + rbytes(8) + rbytes(4) + rbytes(2)

OK, FAIL, REQ, UNSUP = 0, 1, 2, 3
def bodies():
    """(class, cmd, status, data) of every command in its request and reply forms."""
    yield 0xA0, 0x00, REQ, rbytes(8)
    yield 0xA0, 0x00, OK, b"\x08" + rbytes(8)
    yield 0xA0, 0x00, FAIL, b""
    yield 0xA0, 0x01, REQ, b""
    yield 0xA0, 0x01, OK, b""
    yield 0xA0, 0x55, REQ, rbytes(8)
    yield 0xA0, 0x55, OK, peer()
    yield 0xA0, 0xEE, REQ, rbytes(8)
    yield 0xA0, 0xEE, OK, rbytes(8)
    yield 0xAA, 0x00, REQ, b""
    yield 0xAA, 0x00, REQ, struct.pack("<H", rnd.randrange(65536))
    yield 0xAA, 0x00, OK, b"".join(peer() for _ in range(rnd.randrange(0, 5)))
    yield 0xAA, 0x55, REQ, rbytes(8) + rbytes(rnd.randrange(0, 40))
    yield 0xAA, 0x66, REQ, rbytes(8) + rbytes(rnd.randrange(0, 40))
    yield 0xAA, 0xEE, REQ, rbytes(rnd.randrange(0, 60))
    yield 0xAA, 0xFF, REQ, rbytes(rnd.randrange(0, 60))
    yield 0xF0, 0x55, REQ, b""
    yield 0xF0, 0x56, REQ, gbk(rnd.choice(["fw.bin", "固件-2.bin", ""])) + rbytes(1)
    yield 0xF0, 0x57, REQ, gbk("fw.bin") + rbytes(4)
    yield 0xF0, 0x57, OK, gbk("fw.bin") + struct.pack("<HH", 3, 5) + rbytes(5)
    yield 0xF0, 0xAA, REQ, struct.pack("<H", rnd.choice([1, 5, 6, 7, 0x0B, 0x0C, 0x16, 0x20, 0x21, 0x99]))
    for pid, value in [(0x0001, gbk("HW1.0") + gbk("SW2.3") + gbk("BL0.9")),
                       (0x0005, struct.pack("<HB", 8266, 1) + gbk("m2m.example.com")),
                       (0x0006, struct.pack("<HB", 9000, 0) + gbk("10.0.0.1")),
                       (0x0007, bytes([8, 8, 4, 4])), (0x000B, b"\x05"), (0x000C, b"\x1e"),
                       (0x0016, bytes([0x20, 0x26, 0x11, 0x21, 0x01, 0x02, 0x03, 0x06])),
                       (0x0020, b"\x03"), (0x0021, b"\x04"), (0x0099, rbytes(3))]:
        yield 0xF0, 0xAA, OK, struct.pack("<H", pid) + value
        if pid != 1:
            yield 0xF0, 0xAB, REQ, struct.pack("<H", pid) + value
    yield 0xF0, 0xAB, OK, b""
    yield 0xF0, 0xF0, REQ, bytes([rnd.choice([0x10, 0x20, 0x33])]) + gbk(rnd.choice(["升级完成", "working", ""]))
    yield 0xEF, 0x00, REQ, rbytes(8)
    yield 0xEF, 0x00, OK, b"\x08" + rbytes(8)
    yield 0xEF, 0x01, REQ, b""
    yield 0xEF, 0x06, REQ, rbytes(16)
    # outside the catalogue, and data that does not parse as the command's body
    yield rnd.choice([0x00, 0x12, 0x55, 0x54, 0xFF]), rnd.randrange(256), rnd.randrange(256), rbytes(rnd.randrange(0, 30))
    yield 0xA0, 0x02, REQ, rbytes(4)
    yield 0xA0, 0x00, REQ, rbytes(5)            # short password
    yield 0xF0, 0xF0, REQ, b"\x10no-nul"        # description without its NUL
    yield 0xF0, 0xAB, REQ, b"\x0c\x00\x01\x02"  # 1-byte setting with 2 bytes

frames = []
for _ in range(40):
    for cls, cmd, status, data in bodies():
        if rnd.random() < 0.2:
            status = rnd.choice([OK, FAIL, REQ, UNSUP, 4, 0x55, 0xFF])
        ext = rnd.choice([0, 0, 0, 1, 0x5455, 0xFFFF])
        t = tok() if (cls, cmd) not in ((0xA0, 0), (0xEF, 0)) else b""
        frames.append(frame(cls, cmd, rnd.randrange(65536), ext, status, dev(), t, data))
open("clean.bin", "wb").write(b"".join(frames))
open("count", "w").write(str(len(frames)))

# dirty: garbage (no 0x55 in it) and bad-CRC frames between the good ones, a truncated tail
def garbage(): return bytes(rnd.choice([x for x in range(256) if x != 0x55]) for _ in range(rnd.randrange(1, 20)))
def bad_crc(f):
    u = bytearray(f)
    u[-2] ^= 0x01 if u[-2] not in (0x54, 0x55, 0x01, 0x02) else 0x10
    return bytes(u)
dirty = bytearray()
for f in frames:
    r = rnd.random()
    if r < 0.1: dirty += garbage()
    elif r < 0.15: dirty += bad_crc(frame(0xA0, 0x01, 1, 0, 2, 1, b"", b""))
    dirty += f
dirty += frames[0][:10]
open("dirty.bin", "wb").write(bytes(dirty))
PY
n=$(cat count)

# clean capture: every frame decodes, and the pipeline reproduces the file exactly
run 0 "$DECODE" clean.bin
expect_eq "every frame decoded" "$n" "$(lines_of)"
python3 - <<'PY' || fail "error objects in a clean capture"
import json
for line in open("out"):
    assert "error" not in json.loads(line), line
PY
"$DECODE" clean.bin | "$SEND" --encode >clean.out
cmp clean.bin clean.out || fail "clean capture: m2m-decode | m2m-send --encode differs (cmp above)"

# every type of the catalogue, unknown commands and body_error cases are all in the capture
python3 - <<'PY' || fail "capture coverage"
import json
recs = [json.loads(l) for l in open("out")]
types = {r["type"] for r in recs}
want = {"link.login", "link.heartbeat", "link.p2p_request", "link.p2p_confirm", "data.group_list",
        "data.relay", "data.p2p_send", "data.uplink", "data.downlink", "term.reboot", "term.ota_start",
        "term.ota_frame", "term.config_read", "term.config_write", "term.event", "platform.login",
        "platform.heartbeat", "platform.add_terminal", "unknown"}
assert want <= types, want - types
assert any(r["ext"] != 0 for r in recs)
assert any("body_error" in r for r in recs)
assert any(isinstance(r["status"], int) for r in recs)
assert sum("body" in r for r in recs) > len(recs) // 2
PY

# dirty capture: errors reported (exit 3), the pipeline still yields exactly the good frames
run 3 "$DECODE" dirty.bin
cp out dirty.jsonl
"$SEND" --encode <dirty.jsonl >dirty.out || fail "m2m-send --encode failed on a dirty capture's records"
cmp clean.bin dirty.out || fail "dirty capture: the good frames were not reproduced (cmp above)"

# JSON level: re-encoding and decoding again gives identical records
"$DECODE" clean.bin >a.jsonl
"$SEND" --encode <a.jsonl | "$DECODE" >b.jsonl
cmp a.jsonl b.jsonl || fail "decode(encode(decode(x))) != decode(x)"

# --out hex of --stdin is the same bytes, one line per frame
"$DECODE" clean.bin | "$SEND" --stdin --out hex >hex.txt
expect_eq "one hex line per frame" "$n" "$(lines_of hex.txt)"
"$DECODE" --hex hex.txt | "$SEND" --encode >hex.out
cmp clean.bin hex.out || fail "hex lines do not decode back to the capture"

# text: a body built from JSON fields by hand survives (GBK text, names of parameters)
cat >bodies.jsonl <<'JSONL'
{"type":"term.event","device":"FED24A","token":"0102030405060708","body":{"code":16,"description":"升级完成"}}
{"type":"term.config_write","device":"FED24A","token":"0102030405060708","body":{"param":"server","value":{"host":"m2m.example.com","port":8266,"transport":"tcp"}}}
{"type":"term.config_write","device":"FED24A","token":"0102030405060708","body":{"param":"rtc","value":{"datetime":"2026-11-21T01:02:03","weekday":6}}}
{"type":"data.uplink","device":"FED24A","token":"0102030405060708","body":{"text":"hi"}}
JSONL
"$SEND" --encode <bodies.jsonl | "$DECODE" >out
expect_eq "event description" '"升级完成"' "$(jf 'j["body"]["description"]' 1)"
expect_eq "server value" '{"host":"m2m.example.com","port":8266,"transport":"tcp"}' "$(jf 'j["body"]["value"]' 2)"
expect_eq "rtc value" '"2026-11-21T01:02:03"' "$(jf 'j["body"]["value"]["datetime"]' 3)"
expect_eq "text payload" '"6869"' "$(jf 'j["body"]["payload"]' 4)"
echo "roundtrip_test: ok ($n frames)"
