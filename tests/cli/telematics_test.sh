#!/usr/bin/env bash
# m2m-decode / m2m-send --protocol telematics and sms (telematics-protocol(7)): known bytes,
# the protocol document's escaping example, every message type, sub-package reassembly and
# missing parts, dirty streams, and the round trip decode | encode byte for byte.
source "$(dirname "$0")/common.bash"
T=(--protocol telematics)

# The capture is written by an independent Python encoder of telematics-protocol(7) "FRAME".
cat >tm.py <<'PY'
import random
from functools import reduce
def frame(mid, term="013800138000", seq=1, body=b"", enc=0, sub=None, add=0, res=0):
    attr = len(body) | (enc << 10) | ((1 << 13) if sub else 0) | (res << 14)
    c = mid.to_bytes(2, "little") + attr.to_bytes(2, "little") + bytes.fromhex(term) + seq.to_bytes(2, "little")
    if sub: c += sub[0].to_bytes(2, "little") + sub[1].to_bytes(2, "little")
    c += add.to_bytes(4, "little") + body
    c += bytes([reduce(lambda a, b: a ^ b, c, 0)])
    return b"\x7e" + c.replace(b"\x7d", b"\x7d\x01").replace(b"\x7e", b"\x7d\x02") + b"\x7e"
PY

# login, seq 7, terminal 013800138000, computed by hand:
#   7E | 01 00 | 00 00 | 01 38 00 13 80 00 | 07 00 | 00 00 00 00 | AC | 7E
#   XOR = 01^01^38^13^80^07 = AC
LOGIN=7E01000000013800138000070000000000AC7E
hex2bin "$LOGIN" >login.bin
run 0 "$DECODE" "${T[@]}" login.bin
expect_eq "login record" \
  '{"v":1,"type":"login","id":1,"terminal":"013800138000","seq":7,"encryption":"none","additional":0,"data":"","body":{},"raw":"7E01000000013800138000070000000000AC7E"}' \
  "$(cat out)"
# the default protocol is still AI-Cloud: the same bytes are garbage and a truncated frame there
run 3 "$DECODE" login.bin
expect_eq "ai: not a frame" '"garbage"' "$(jf 'j["error"]')"

# m2m-send builds the same bytes from flags
run 0 "$SEND" "${T[@]}" login --terminal 13800138000 --seq 7 --out hex
expect_eq "send login" "$LOGIN" "$(cat out)"

# The protocol document's escaping example (telematics-protocol(7) "Escaping"), inside a
# frame: a body of 30 7e 08 7d 55 is sent as 30 7d 02 08 7d 01 55.
run 0 "$SEND" "${T[@]}" working_data --terminal 013800138000 --seq 1 --data 307E087D55 --out hex
expect_match "escaped body on the wire" '307D02087D0155..7E$' "$(cat out)"
python3 -c 'import sys; sys.path.insert(0, "."); from tm import frame; print(frame(4, seq=1, body=bytes.fromhex("307e087d55")).hex().upper())' >want
expect_eq "escaped frame = independent encoder" "$(cat want)" "$(cat out)"
hex2bin "$(cat out)" >esc.bin
run 0 "$DECODE" "${T[@]}" esc.bin
expect_eq "escaped body decodes" '"307E087D55"' "$(jf 'j["data"]')"

# A general reply from flags: reply seq 7 to login (0x0001), result ok
run 0 "$SEND" "${T[@]}" platform_general_reply --terminal 013800138000 --seq 1 --reply-seq 7 --reply-id login --out hex
expect_eq "general reply bytes" 7E018105000138001380000100000000000700010000287E "$(cat out)"
run 0 "$SEND" "${T[@]}" platform_general_reply --terminal 013800138000 --seq 1 --reply-seq 7 --reply-id 1 --result ok --out json
expect_eq "general reply body" '{"reply_seq":7,"reply_id":1,"result":"ok"}' "$(jf 'j["body"]')"
expect_eq "general reply type" '"platform_general_reply"' "$(jf 'j["type"]')"

# A capture with every message of the catalogue, unknown ids, encrypted bodies, reserved bits,
# the additional field, escapes everywhere, and sub-packages (one set complete, out of order;
# one set missing a part).
python3 - <<'PY'
import random, sys
sys.path.insert(0, ".")
from tm import frame
rnd = random.Random(20261202)
def rb(n): return bytes(rnd.choice([0x7e, 0x7d, 0x00, rnd.randrange(256)]) for _ in range(n))
def term(): return rnd.choice(["013800138000", "000000000001", "7E7D00000000", "%012d" % rnd.randrange(10**12)])
ids = {0x0001: "empty", 0x0002: "empty", 0x0003: "empty", 0x0004: "hex", 0x0005: "hex", 0x0101: "reply",
       0x0102: "hex", 0x0103: "hex", 0x0104: "hex", 0x8001: "hex", 0x8002: "hex", 0x8003: "empty",
       0x8004: "empty", 0x8101: "reply", 0x8102: "hex", 0x1001: "hex", 0x9001: "hex", 0x9002: "hex",
       0x9003: "hex", 0x1101: "hex", 0x1102: "hex", 0x1103: "hex", 0xD001: "hex", 0x5101: "hex",
       0x7001: "hex", 0xF101: "hex"}
frames = []
for _ in range(8):
    for mid, kind in ids.items():
        body = b"" if kind == "empty" else rb(5) if kind == "reply" else rb(rnd.randrange(0, 60))
        add = rnd.choice([0, 0x7e7d7e7d, rnd.getrandbits(32)]) if mid == 0xD001 else 0
        frames.append(frame(mid, term(), rnd.randrange(65536), body, add=add))
    frames.append(frame(rnd.choice([0x0200, 0x7E7D, 0xFFFF]), term(), rnd.randrange(65536), rb(10)))
    frames.append(frame(0x9001, term(), 5, rb(16), enc=1))
    frames.append(frame(0x0001, term(), 5, rb(3)))                 # a body where none belongs
    frames.append(frame(0x0101, term(), 5, rb(2)))                 # a short general reply
    frames.append(frame(0x0003, term(), 5, b"", enc=rnd.randrange(2, 8), res=rnd.randrange(1, 4)))
parts = [frame(0x0004, "013800138000", 100 + n, bytes([0x10 * n, 0x7e]), sub=(3, n)) for n in (1, 2, 3)]
frames += [parts[1], parts[0], parts[2]]
frames.append(frame(0x0005, "013800138000", 200, b"\x01", sub=(3, 1)))   # parts 2 and 3 never come
open("clean.bin", "wb").write(b"".join(frames))
open("count", "w").write(str(len(frames)))
dirty = bytearray(b"\x00\x11\x22")
for f in frames:
    dirty += f
    if rnd.random() < 0.1: dirty += bytes(rnd.choice([0x00, 0x7d, 0x55]) for _ in range(rnd.randrange(1, 9)))
    if rnd.random() < 0.1:
        bad = bytearray(frame(0x0003, seq=9)); bad[-2] ^= 0x01; dirty += bad
dirty += frames[0][:9]
open("dirty.bin", "wb").write(bytes(dirty))
PY
n=$(cat count)

# clean capture: one record per frame, plus one reassembled message and one missing-parts error
run 3 "$DECODE" "${T[@]}" clean.bin
expect_eq "records" "$((n + 2))" "$(lines_of)"
python3 - <<'PY' || fail "clean capture records"
import json
recs = [json.loads(l) for l in open("out")]
frames = [r for r in recs if "error" not in r and "reassembled" not in r]
types = {r["type"] for r in frames}
want = {"login", "logout", "heartbeat", "working_data", "fault", "terminal_general_reply", "param_query_reply",
        "working_data_query_reply", "fault_query_reply", "param_set", "param_query", "working_data_query",
        "fault_query", "platform_general_reply", "login_reply", "order_result", "remote_control", "order_reserve",
        "order_cancel", "remote_control_reply", "order_reserve_reply", "order_cancel_reply", "bluetooth_order",
        "bluetooth_order_reply", "upgrade_request", "upgrade_reply", "unknown"}
assert types == want, types ^ want
assert any(r["encryption"] == "idea" and "body" not in r for r in frames)
assert any("reserved" in r for r in frames)
assert any("body_error" in r for r in frames)
assert any(r["type"] == "bluetooth_order" and r["additional"] != 0 for r in frames)
assert all(("body" in r) == (r["type"] in ("login", "logout", "heartbeat", "working_data_query", "fault_query",
                                            "terminal_general_reply", "platform_general_reply")
                             and r["encryption"] == "none" and "packets" not in r and "body_error" not in r)
           for r in frames), "body only where the layout is known"
whole = [r for r in recs if "reassembled" in r]
assert len(whole) == 1, whole
w = whole[0]
assert w["reassembled"] == 3 and w["type"] == "working_data" and w["seq"] == 101, w
assert w["data"] == "107E207E307E", w["data"]
assert "raw" not in w and "packets" not in w
errs = [r for r in recs if "error" in r]
assert len(errs) == 1 and errs[0]["error"] == "truncated", errs
assert "missing 2,3" in errs[0]["message"], errs[0]
assert list(errs[0])[:3] == ["v", "error", "offset"]
PY
"$DECODE" "${T[@]}" clean.bin | "$SEND" "${T[@]}" --encode >clean.out || true
cmp clean.bin clean.out || fail "clean capture: decode | encode differs (cmp above)"

# dirty capture: garbage, bad checksums and a truncated tail are reported, exit 3, and the
# pipeline still yields exactly the good frames
run 3 "$DECODE" "${T[@]}" dirty.bin
python3 - <<'PY' || fail "dirty capture errors"
import json
recs = [json.loads(l) for l in open("out")]
kinds = {r["error"] for r in recs if "error" in r}
assert {"garbage", "truncated"} <= kinds, kinds
assert recs[0]["error"] == "garbage" and recs[0]["offset"] == 0 and recs[0]["skipped"] == 3, recs[0]
PY
"$SEND" "${T[@]}" --encode <out >dirty.out || fail "m2m-send --encode failed on a dirty capture's records"
cmp clean.bin dirty.out || fail "dirty capture: the good frames were not reproduced (cmp above)"

# a bad checksum: reported with the offset of the checksum byte on the wire
python3 -c 'import sys; sys.path.insert(0, "."); from tm import frame; f = bytearray(frame(3, seq=9)); f[-2] ^= 1; open("badsum.bin", "wb").write(b"\0" + f)'
run 3 "$DECODE" "${T[@]}" badsum.bin
expect_eq "garbage first" '"garbage"' "$(jf 'j["error"]' 1)"
expect_eq "bad checksum" '"bad_checksum"' "$(jf 'j["error"]' 2)"
expect_eq "checksum offset" 18 "$(jf 'j["offset"]' 2)"

# JSON level: decode(encode(decode(x))) == decode(x)
"$DECODE" "${T[@]}" clean.bin >a.jsonl || true
"$SEND" "${T[@]}" --encode <a.jsonl | "$DECODE" "${T[@]}" >b.jsonl || true
cmp a.jsonl b.jsonl || fail "decode(encode(decode(x))) != decode(x)"

# hex output lines and --hex input give the same bytes; --format text names the types
"$SEND" "${T[@]}" --stdin --out hex <a.jsonl >hex.txt
expect_eq "one hex line per frame" "$n" "$(lines_of hex.txt)"
"$DECODE" "${T[@]}" --hex hex.txt | "$SEND" "${T[@]}" --encode >hex.out || true
cmp clean.bin hex.out || fail "hex lines do not decode back to the capture"
run 0 "$DECODE" "${T[@]}" -f text login.bin
expect_eq "text summary" "0001 login seq=7 term=013800138000" "$(cat out)"
run 0 "$DECODE" "${T[@]}" -n 2 clean.bin
expect_eq "-n 2" 2 "$(lines_of)"

# JSON built by hand
cat >hand.jsonl <<'JSONL'
{"type":"heartbeat","terminal":"13800138000","seq":3}
{"id":"0xD001","terminal":"013800138000","seq":4,"additional":305419896,"data":"0102"}
{"type":"terminal_general_reply","body":{"reply_seq":4,"reply_id":"bluetooth_order","result":"unsupported"}}
{"type":"working_data","packets":2,"packet":1,"data":"AA"}
JSONL
run 0 "$SEND" "${T[@]}" --stdin --out hex <hand.jsonl
expect_eq "hand-written frames" "7E03000000013800138000030000000000AA7E
7E01D002000138001380000400785634120102767E
7E01010500000000000000000000000000040001D003D37E
7E0400012000000000000000000200010000000000AA8C7E" "$(cat out)"
printf '%s\n' '{"type":"nope"}' '{"type":"login","body":{"x":1}}' 'not json' >bad.jsonl
run 3 "$SEND" "${T[@]}" --encode <bad.jsonl
expect_eq "nothing written for bad lines" 0 "$(wc -c <out | tr -d ' ')"
expect_match "line numbers" 'line 1: .*nope.*line 2: .*line 3: not a JSON object' "$(tr '\n' ' ' <err)"

# SMS commands: one a line; ignored characters; bad lines reported; round trip of valid lines
printf '%s\r\n' '#=SETPARAM,APN,cmnet.gd,8080:#' >sms.txt
printf '%s\n' '#=WAKEUP:#' '' ' #= QUERY , 1-2 :# 中' 'QUERY:#' '#=CONTROL,1,,3.5:#' >>sms.txt
run 3 "$DECODE" --protocol sms sms.txt
expect_eq "sms records" 5 "$(lines_of)"
expect_eq "sms 1" '{"v":1,"type":"sms","command":"SETPARAM","args":["APN","cmnet.gd","8080"],"raw":"#=SETPARAM,APN,cmnet.gd,8080:#"}' "$(sed -n 1p out)"
expect_eq "sms 2 args" '[]' "$(jf 'j["args"]' 2)"
expect_eq "sms ignored characters" '["QUERY",["12"]]' "$(jf '[j["command"], j["args"]]' 3)"
expect_eq "sms raw is the text as received" '" #= QUERY , 1-2 :# 中"' "$(jf 'j["raw"]' 3)"
expect_eq "sms error" '"bad_value"' "$(jf 'j["error"]' 4)"
# offset of the bad line's first kept character, its first byte: 32 (with CRLF) + 11 + 1 + 23 (中 is 3 bytes)
expect_eq "sms error offset" "$((32 + 11 + 1 + 23))" "$(jf 'j["offset"]' 4)"
expect_eq "sms 5" '["CONTROL",["1","","3.5"]]' "$(jf '[j["command"], j["args"]]' 5)"
printf '%s\n' '#=SETPARAM,APN,cmnet.gd,8080:#' '#=WAKEUP:#' '#=CONTROL,1,,3.5:#' >valid.txt
"$DECODE" --protocol sms valid.txt | "$SEND" --protocol sms --encode >valid.out
cmp valid.txt valid.out || fail "sms: decode | encode differs"
run 0 "$SEND" --protocol sms SLEEP --arg 30 --arg x.y
expect_eq "sms from flags" '#=SLEEP,30,x.y:#' "$(cat out)"
run 2 "$SEND" --protocol sms SLEEP --arg 'a b'
run 2 "$DECODE" --protocol sms --hex sms.txt

# options: named in --help; AI-only and network options are refused for the new protocols
run 0 "$DECODE" --help
expect_match "decode --help" 'ai \(AI-Cloud M2M, the default\), telematics' "$(tr '\n' ' ' <out)"
run 0 "$SEND" --help
expect_match "send --help" '--protocol' "$(cat out)"
run 2 "$DECODE" "${T[@]}" --crc xmodem login.bin
run 2 "$DECODE" --protocol nope login.bin
run 2 "$SEND" "${T[@]}" login --server 127.0.0.1:1
run 2 "$SEND" "${T[@]}" login --device 1
run 2 "$SEND" login --terminal 1
run 2 "$SEND" "${T[@]}" nope
echo "telematics_test: ok ($n frames)"
