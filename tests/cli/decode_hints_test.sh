#!/usr/bin/env bash
# m2m-decode's hints (CRC variant, hex text without --hex), the hex spellings --hex reads
# (0x55, 55:1D, xxd dumps), the bytes of garbage in "raw". Exact records and messages; few
# processes, no Python per assertion, so it stays fast on a loaded machine.
source "$(dirname "$0")/common.bash"

# hex -> bytes without a Python start-up per call
h2b() { printf "$(sed 's/../\\x&/g' <<<"$1")"; }

LOGIN=551D00A00007000000020000000000FED24A0102030405060708496355
LOGIN_JSON='{"v":1,"type":"link.login","class":160,"cmd":0,"seq":7,"ext":0,"status":"request","device":"0000000000FED24A","data":"0102030405060708","body":{"password":"0102030405060708"},"raw":"551D00A00007000000020000000000FED24A0102030405060708496355"}'
# link.heartbeat seq 3, token 0102030405060708, with the CRC of each variant (m2m-send --crc)
HB_XMODEM=551E00A00103000000020000000000FED24A080102030405060708EABC55
HB_CCITT=551E00A00103000000020000000000FED24A080102030405060708B9C455
h2b "$LOGIN" >login.bin
h2b "$HB_XMODEM" >xm.bin
h2b "$HB_CCITT" >cc.bin

# --- CRC hint: once, on stderr; the records are those of any bad_crc frame -----------------
XM_ERR='{"v":1,"error":"bad_crc","offset":27,"raw":"551E00A00103000000020000000000FED24A080102030405060708EABC55","message":"CRC BCEA in frame, 9972 computed (modbus)"}'
cat xm.bin xm.bin >xm2.bin
run 3 "$DECODE" xm2.bin xm.bin
expect_eq "xmodem frames: records unchanged" "$(sed 's/^{/{"file":"xm2.bin",/' <<<"$XM_ERR")
$(sed 's/^{/{"file":"xm2.bin",/; s/"offset":27/"offset":57/' <<<"$XM_ERR")
$(sed 's/^{/{"file":"xm.bin",/' <<<"$XM_ERR")" "$(cat out)"
expect_eq "xmodem hint, once for three frames in two files" \
  "m2m-decode: hint: the CRC matches xmodem: try --crc xmodem" "$(cat err)"
run 3 "$DECODE" --crc xmodem cc.bin
expect_eq "ccitt-false hint" "m2m-decode: hint: the CRC matches ccitt-false: try --crc ccitt-false" "$(cat err)"
run 3 "$DECODE" --crc ccitt-false login.bin
expect_eq "modbus hint" "m2m-decode: hint: the CRC matches modbus: try --crc modbus" "$(cat err)"
run 3 "$DECODE" -q xm.bin
expect_eq "-q: no records" "" "$(cat out)"
expect_eq "-q: the hint still says what to do" "m2m-decode: hint: the CRC matches xmodem: try --crc xmodem" "$(cat err)"
run 0 "$DECODE" --crc xmodem xm.bin
expect_eq "right variant: no hint" "" "$(cat err)"
# a CRC that no variant matches: no hint
h2b "${LOGIN:0:52}0000${LOGIN:56}" >badcrc.bin
run 3 "$DECODE" badcrc.bin
expect_eq "no variant matches: no hint" "" "$(cat err)"

# --- --hex spellings: every one decodes to the login record ---------------------------------
printf '%s\n' "$LOGIN" >plain.hex
cat >spaced.hex <<'HEX'
# a login frame, split and commented
55 1d00 a0 00   # head, length, class, command
0700 0000 02 0000000000FED24A
0102030405060708 4963 55
HEX
cat >prefixed.hex <<'HEX'
0x55 0x1D 0x00 0xA0 0x00 0x07 0x00 0x00 0x00 0x02   # 0x prefixes
0x00 0x00 0x00 0x00 0x00 0xFE 0xD2 0x4A 0x01 0x02 0x03 0x04 0x05 0x06 0x07 0x08 0x49 0x63 0x55
HEX
cat >colons.hex <<'HEX'
55:1D:00:A0:00:07:00:00:00:02:00:00:00:00:00:FE
D2:4A:01:02:03:04:05:06:07:08:49:63:55
HEX
# xxd login.bin, and xxd -g 1 -u (the ASCII column shows 0x55 as U; '#' there is not a comment)
cat >login.xxd <<'HEX'
00000000: 551d 00a0 0007 0000 0002 0000 0000 00fe  U...............
00000010: d24a 0102 0304 0506 0708 4963 55         .J........IcU
HEX
cat >login-g1.xxd <<'HEX'
00000000: 55 1D 00 A0 00 07 00 00 00 02 00 00 00 00 00 FE  U...............
00000010: D2 4A 01 02 03 04 05 06 07 08 49 63 55           .J#.......IcU
HEX
for f in plain.hex spaced.hex prefixed.hex colons.hex login.xxd login-g1.xxd; do
  run 0 "$DECODE" --hex "$f"
  expect_eq "--hex $f" "$LOGIN_JSON" "$(cat out)"
  expect_eq "--hex $f: nothing on stderr" "" "$(cat err)"
done
# a real bad character is still bad_hex with its line and column; the next line decodes
printf '00000000: 55zz 00a0  U...\n%s\n' "$LOGIN" >bad.xxd
run 3 "$DECODE" -x bad.xxd
expect_eq "bad hex in an xxd line" '{"v":1,"error":"bad_hex","offset":12,"raw":"","message":"not a hex digit: '"'z'"' at line 1, column 13 (rest of the line skipped)"}
'"$LOGIN_JSON" "$(cat out)"

# --- hex text without --hex: a hint, the records unchanged ----------------------------------
run 3 "$DECODE" plain.hex
expect_eq "hex text as bytes: garbage with the text in raw" \
  '{"v":1,"error":"garbage","offset":0,"skipped":59,"raw":"353531443030413030303037303030303030303230303030303030303030464544323441303130323033303430353036303730383439363335350A","message":"skipped 59 bytes outside any frame"}' \
  "$(cat out)"
expect_eq "hex hint" "m2m-decode: hint: this looks like hex text: try --hex" "$(cat err)"
run 3 "$DECODE" -f text login.xxd colons.hex
expect_eq "xxd dump and colons: one hint for both" "m2m-decode: hint: this looks like hex text: try --hex" "$(cat err)"
# binary input, or text that is not hex, gets no hex hint
printf 'hello world\n' >words.txt
run 3 "$DECODE" words.txt login.bin
expect_eq "not hex: no hint" "" "$(cat err)"
printf '0123 4567\n' >nohead.hex  # reads as hex, but holds no frame head
run 3 "$DECODE" nohead.hex
expect_eq "hex without a 0x55: no hint" "" "$(cat err)"

# --- garbage objects carry their bytes, at most the first 1400 ------------------------------
{ printf 'abc'; cat login.bin; printf '\x01\x02'; } >dirty.bin
run 3 "$DECODE" dirty.bin
expect_eq "garbage raw" '{"v":1,"error":"garbage","offset":0,"skipped":3,"raw":"616263","message":"skipped 3 bytes outside any frame"}
'"$LOGIN_JSON"'
{"v":1,"error":"garbage","offset":32,"skipped":2,"raw":"0102","message":"skipped 2 bytes outside any frame"}' "$(cat out)"
run 3 "$DECODE" -f text dirty.bin
expect_eq "garbage raw in text format" "error garbage offset=0: skipped 3 bytes outside any frame raw=616263" "$(head -1 out)"
head -c 5000 /dev/zero >zeros.bin
run 3 "$DECODE" zeros.bin
expect_eq "long garbage: the first 1400 bytes" \
  "{\"v\":1,\"error\":\"garbage\",\"offset\":0,\"skipped\":5000,\"raw\":\"$(printf '%02800d' 0)\",\"message\":\"skipped 5000 bytes outside any frame (raw holds the first 1400)\"}" \
  "$(cat out)"
echo "decode_hints_test: ok"
