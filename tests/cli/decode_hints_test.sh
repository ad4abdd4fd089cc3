#!/usr/bin/env bash
# m2m-decode: the hex spellings --hex reads (0x55, 55:1D, xxd dumps). Exact records and
# messages; few processes, no Python per assertion, so it stays fast on a loaded machine.
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

echo "decode_hints_test: ok"
