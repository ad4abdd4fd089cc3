#!/usr/bin/env bash
# m2m-decode on known frames, hex text, text format, -n, --crc, bad streams, --pretty, files.
source "$(dirname "$0")/common.bash"

# link.login, seq 7, device 0000000000FED24A, password 01..08, computed by hand:
#   55 | 1D 00 (29 bytes = 18 header + 8 data + 2 CRC + tail) | A0 00 | 07 00 | 00 00 | 02 |
#   00 00 00 00 00 FE D2 4A | 01 02 03 04 05 06 07 08 | CRC | 55
#   CRC-16/MODBUS over head..data = 0x6349, written low byte first: 49 63.
LOGIN=551D00A00007000000020000000000FED24A0102030405060708496355
hex2bin "$LOGIN" >login.bin
run 0 "$DECODE" login.bin
expect_eq "one record" 1 "$(lines_of)"
expect_eq v 1 "$(jf 'j["v"]')"
expect_eq type '"link.login"' "$(jf 'j["type"]')"
expect_eq class 160 "$(jf 'j["class"]')"
expect_eq cmd 0 "$(jf 'j["cmd"]')"
expect_eq seq 7 "$(jf 'j["seq"]')"
expect_eq ext 0 "$(jf 'j["ext"]')"
expect_eq status '"request"' "$(jf 'j["status"]')"
expect_eq device '"0000000000FED24A"' "$(jf 'j["device"]')"
expect_eq "no token field in a login" false "$(jf '"token" in j')"
expect_eq data '"0102030405060708"' "$(jf 'j["data"]')"
expect_eq body '{"password":"0102030405060708"}' "$(jf 'j["body"]')"
expect_eq raw "\"$LOGIN\"" "$(jf 'j["raw"]')"
expect_eq "v first" '"v"' "$(jf 'list(j)[0]')"

# stdin gives the same record as a file
"$DECODE" <login.bin >stdin.out
expect_eq "stdin = file" "$(cat out)" "$(cat stdin.out)"

# Escaping: term.reboot (F0 55) reply, status ok, seq 9, ext 0x5455, token 55 54 AA 01 55 54 00 FF.
# Unescaped it starts 55 1E 00 (30 bytes = 18 + token field 9 + 3) F0 55 09 00 55 54 00; on the
# wire every inner 55 becomes 54 01 and every 54 becomes 54 02.
REBOOT_HEX=$("$SEND" term.reboot --status ok --seq 9 --ext 0x5455 --device 0000000000FED24A \
  --token 5554AA01555400FF --out hex)
hex2bin "$REBOOT_HEX" >reboot.bin
run 0 "$DECODE" reboot.bin
expect_eq "reboot type" '"term.reboot"' "$(jf 'j["type"]')"
expect_eq "reboot status" '"ok"' "$(jf 'j["status"]')"
expect_eq "reboot ext" 21589 "$(jf 'j["ext"]')"
expect_eq "reboot token" '"5554AA01555400FF"' "$(jf 'j["token"]')"
expect_match "escaped cmd 55 on the wire" '^551E00F05401090054015402' "$REBOOT_HEX"

# --hex: comments, whitespace, a frame split over lines, upper and lower case
cat >frames.hex <<HEX
# a login frame, split and commented
55 1d00 a0 00   # head, length, class, command
0700 0000 02 0000000000FED24A
0102030405060708 4963 55
$REBOOT_HEX # and the reboot reply
HEX
run 0 "$DECODE" --hex frames.hex
expect_eq "hex: two frames" 2 "$(lines_of)"
expect_eq "hex: login" "\"$LOGIN\"" "$(jf 'j["raw"]')"
expect_eq "hex: reboot" '"term.reboot"' "$(jf 'j["type"]' 2)"

# --hex with a bad character: reported with its position, decoding goes on, exit 3
printf '%s\nzz 00\n%s\n' "$LOGIN" "$LOGIN" >bad.hex
run 3 "$DECODE" -x bad.hex
expect_eq "bad hex: three records" 3 "$(lines_of)"
expect_eq "bad hex: error kind" '"bad_hex"' "$(jf 'j["error"]' 2)"
# the 'z' is character 59: 58 hex digits of the login and its newline come first
expect_eq "bad hex: offset is the character position" 59 "$(jf 'j["offset"]' 2)"
expect_match "bad hex: line and column" "line 2, column 1" "$(jf 'j["message"]' 2)"
expect_eq "bad hex: next frame decoded" '"link.login"' "$(jf 'j["type"]' 3)"
# an odd number of digits at the end
printf '%s 5' "$LOGIN" >odd.hex
run 3 "$DECODE" -x odd.hex
expect_eq "odd hex" '"bad_hex"' "$(jf 'j["error"]' 2)"

# --format text: frame_summary lines
run 0 "$DECODE" --format text login.bin
expect_match "text summary" '^A0 00 link\.login request seq=7 .*0000000000FED24A' "$(cat out)"
expect_eq "text: one line" 1 "$(lines_of)"

# -n: stop after N frames
cat login.bin reboot.bin login.bin reboot.bin >four.bin
run 0 "$DECODE" -n 3 four.bin
expect_eq "-n 3" 3 "$(lines_of)"
run 0 "$DECODE" --count 1 four.bin
expect_eq "--count 1" '"link.login"' "$(jf 'j["type"]')"
expect_eq "--count 1 lines" 1 "$(lines_of)"

# --crc: a frame built with xmodem decodes with --crc xmodem and fails under modbus (exit 3)
"$SEND" link.heartbeat --device 0000000000FED24A --token 0102030405060708 --seq 3 --crc xmodem --out raw >xm.bin
run 0 "$DECODE" --crc xmodem xm.bin
expect_eq "xmodem decodes" '"link.heartbeat"' "$(jf 'j["type"]')"
run 3 "$DECODE" xm.bin
expect_eq "xmodem under modbus" '"bad_crc"' "$(jf 'j["error"]')"
expect_eq "bad crc keeps raw" "\"$(bin2hex xm.bin)\"" "$(jf 'j["raw"]')"
run 3 "$DECODE" --crc ccitt-false xm.bin
run 2 "$DECODE" --crc crc32 xm.bin
expect_match "bad --crc is a usage error" '^m2m-decode: error:' "$(cat err)"

# A dirty stream: garbage, good frame, bad-CRC frame, good frame, truncated frame.
# Offsets count bytes across the whole input.
BADCRC=${LOGIN:0:52}0000${LOGIN:56}  # CRC bytes zeroed
{ printf 'abc'; cat login.bin; hex2bin "$BADCRC"; cat login.bin; hex2bin 551D00A000; } >dirty.bin
run 3 "$DECODE" dirty.bin
expect_eq "dirty: records" 5 "$(lines_of)"
expect_eq "garbage kind" '"garbage"' "$(jf 'j["error"]' 1)"
expect_eq "garbage offset" 0 "$(jf 'j["offset"]' 1)"
expect_eq "garbage skipped" 3 "$(jf 'j["skipped"]' 1)"
expect_eq "frame after garbage" '"link.login"' "$(jf 'j["type"]' 2)"
expect_eq "bad crc" '"bad_crc"' "$(jf 'j["error"]' 3)"
expect_eq "bad crc raw" "\"$BADCRC\"" "$(jf 'j["raw"]' 3)"
expect_eq "frame after bad crc" '"link.login"' "$(jf 'j["type"]' 4)"
expect_eq "truncated" '"truncated"' "$(jf 'j["error"]' 5)"
expect_eq "truncated offset (3 + 3 x 29)" 90 "$(jf 'j["offset"]' 5)"
expect_eq "error objects say v 1" 1 "$(jf 'j["v"]' 5)"
# DESIGN's interchange format: error objects open with v, then error, like frames open with v, type.
expect_eq "error object key order" '{"v":1,"error":"garbage","offset":0' "$(sed -n 1p out | cut -c1-35)"
# -q: no error records, still exit 3
run 3 "$DECODE" -q dirty.bin
expect_eq "-q keeps frames only" 2 "$(lines_of)"
# text format shows errors as lines too
run 3 "$DECODE" -f text dirty.bin
expect_match "text error line" '^error garbage offset=0: ' "$(head -1 out)"
# only garbage
printf 'hello' >junk.bin
run 3 "$DECODE" junk.bin
expect_eq "pure garbage" '"garbage"' "$(jf 'j["error"]')"
# empty input
run 0 "$DECODE" /dev/null
expect_eq "empty input, no records" 0 "$(lines_of)"

# --pretty: one indented object per frame, same members as the compact form
run 0 "$DECODE" --pretty login.bin
expect_eq "pretty first line" "{" "$(head -1 out)"
expect_match "pretty indents" '^  "v": 1,$' "$(sed -n 2p out)"
python3 - <<'PY' || fail "pretty output is not the compact object"
import json, subprocess, os
pretty = json.loads(open("out").read())
compact = json.loads(subprocess.run([os.environ["BIN_DIR"] + "/m2m-decode", "login.bin"], capture_output=True).stdout)
assert pretty == compact, (pretty, compact)
PY
run 2 "$DECODE" --pretty -f text login.bin

# --no-raw, --ts
run 0 "$DECODE" --no-raw login.bin
expect_eq "--no-raw" false "$(jf '"raw" in j')"
run 0 "$DECODE" --ts login.bin
expect_match "--ts" '^"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z"$' "$(jf 'j["ts"]')"

# Several files: a "file" member on every record, offsets restart per file
run 3 "$DECODE" login.bin dirty.bin
expect_eq "file member 1" '"login.bin"' "$(jf 'j["file"]' 1)"
expect_eq "file member 2" '"dirty.bin"' "$(jf 'j["file"]' 2)"
expect_eq "offset restarts per file" 0 "$(jf 'j["offset"]' 2)"
run 0 "$DECODE" - login.bin <reboot.bin
expect_eq "stdin named -" '"-"' "$(jf 'j["file"]' 1)"
# a missing file: message, the others still decoded, exit 1
run 1 "$DECODE" missing.bin login.bin
expect_match "missing file message" '^m2m-decode: error: missing.bin: ' "$(cat err)"
expect_eq "other file decoded" '"link.login"' "$(jf 'j["type"]')"

# a stream read in many small chunks from a pipe decodes the same
(for i in 1 2 3; do cat login.bin; sleep 0.05; done) | "$DECODE" >piped.out
expect_eq "piped frames" 3 "$(lines_of piped.out)"

# conventions
run 0 "$DECODE" --help
expect_match "help mentions --hex" -- '--hex' "$(cat out)"
run 0 "$DECODE" -V
expect_match "version" '^m2m-decode \(m2m-toolkit\) ' "$(cat out)"
run 2 "$DECODE" --no-such-flag
expect_match "usage error" '^m2m-decode: error:' "$(cat err)"
run 2 "$DECODE" -n lots login.bin
echo "decode_test: ok"
