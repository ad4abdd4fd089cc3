#!/usr/bin/env bash
# m2m-send offline: frames from flags (exact wire bytes), --json/--body, output modes, --crc,
# --stdin with bad lines, usage errors.
source "$(dirname "$0")/common.bash"

# The expected frames below were computed outside the toolkit (an independent Python encoder of
# m2m-protocol(7) "FRAME LAYOUT"). The first one by hand:
#   link.login, seq 7, device 0000000000FED24A, password 01..08 (no token field in a login)
#   55 | 1D 00 | A0 00 | 07 00 | 00 00 | 02 | 00 00 00 00 00 FE D2 4A | 01 .. 08 | 49 63 | 55
#   length 0x1D = 29 = 18 (head..device) + 8 (password) + 2 (CRC) + 1 (tail);
#   CRC-16/MODBUS over the first 26 bytes = 0x6349, low byte first.
run 0 "$SEND" link.login --device 0000000000FED24A --password 0102030405060708 --seq 7 --out hex
expect_eq "link.login" 551D00A00007000000020000000000FED24A0102030405060708496355 "$(cat out)"
# device id forms: lower case, 0x, short, MAC
for dev in 0000000000fed24a 0xFED24A FED24A 00:00:00:FE:D2:4A; do
  run 0 "$SEND" link.login --device "$dev" --password 0102030405060708 --seq 7 --out hex
  expect_eq "device as $dev" 551D00A00007000000020000000000FED24A0102030405060708496355 "$(cat out)"
done

# data.relay with a text payload: data = target id (8) + "hello"; command 0x55 is escaped
# on the wire (AA 55 -> AA 54 01).
run 0 "$SEND" data.relay --device 0000000000FED24A --token 0102030405060708 --target 00000000000000AB --text hello --out hex
expect_eq "data.relay" 552B00AA540100000000020000000000FED24A08010203040506070800000000000000AB68656C6C6F82E655 "$(cat out)"
# the same with --payload as hex
run 0 "$SEND" data.relay --device 0000000000FED24A --token 0102030405060708 --target 00000000000000AB --payload 68656C6C6F --out hex
expect_eq "data.relay --payload" 552B00AA540100000000020000000000FED24A08010203040506070800000000000000AB68656C6C6F82E655 "$(cat out)"

# term.config_write heartbeat_interval (0x000C, LE) = 30 (1 byte): data 0C 00 1E
run 0 "$SEND" term.config_write --device 0000000000FED24A --token 0102030405060708 --seq 5 --param heartbeat_interval --value 30 --out hex
expect_eq "config_write" 552100F0AB05000000020000000000FED24A0801020304050607080C001E8C6B55 "$(cat out)"
run 0 "$SEND" term.config_write --device 0000000000FED24A --token 0102030405060708 --seq 5 --param 12 --value 30 --out hex
expect_eq "config_write by number" 552100F0AB05000000020000000000FED24A0801020304050607080C001E8C6B55 "$(cat out)"

# a generic reply: link.heartbeat, status ok
run 0 "$SEND" link.heartbeat --status ok --seq 7 --device 0000000000FED24A --token 0102030405060708 --out hex
expect_eq "heartbeat ok" 551E00A00107000000000000000000FED24A08010203040506070896D255 "$(cat out)"

# login ok reply: --token becomes the body's issued token (a login has no token field)
run 0 "$SEND" link.login --status ok --seq 7 --device 0000000000FED24A --token A1A2A3A4A5A6A7A8 --out hex
expect_eq "login ok reply" 551E00A00007000000000000000000FED24A08A1A2A3A4A5A6A7A833DF55 "$(cat out)"

# platform.login: header id = account 1, text password right-padded with NULs
run 0 "$SEND" platform.login --device 1 --password text:123 --seq 1 --out hex
expect_eq "platform.login" 551D00EF00010000000200000000000000013132330000000000EEE155 "$(cat out)"

# an unknown command by CLASS:CMD with raw data, ext and a numeric status; empty token field
run 0 "$SEND" 12:34 --seq 1 --ext 0x0201 --status 7 --device 1 --token '' --data DEADBEEF --out hex
expect_eq "unknown 12:34" 551A0012340100010207000000000000000100DEADBEEFFC0255 "$(cat out)"

# --json: the whole frame; flags override its members; --body
run 0 "$SEND" --json '{"type":"link.heartbeat","seq":7,"status":"ok","device":"FED24A","token":"0102030405060708"}' --out hex
expect_eq "--json" 551E00A00107000000000000000000FED24A08010203040506070896D255 "$(cat out)"
run 0 "$SEND" --json '{"type":"link.heartbeat","seq":1,"status":"ok","device":"FED24A","token":"0102030405060708"}' --seq 7 --out hex
expect_eq "--json with --seq override" 551E00A00107000000000000000000FED24A08010203040506070896D255 "$(cat out)"
run 0 "$SEND" term.config_write --device FED24A --token 0102030405060708 --seq 5 --body '{"param":"heartbeat_interval","value":30}' --out hex
expect_eq "--body" 552100F0AB05000000020000000000FED24A0801020304050607080C001E8C6B55 "$(cat out)"

# output modes: raw bytes equal the hex; json is what m2m-decode says about them
"$SEND" link.login --device FED24A --password 0102030405060708 --seq 7 --out raw >login.bin
expect_eq "--out raw" 551D00A00007000000020000000000FED24A0102030405060708496355 "$(bin2hex login.bin)"
"$SEND" link.login --device FED24A --password 0102030405060708 --seq 7 >default.bin  # not a terminal
expect_eq "raw is the default in a pipe" "$(bin2hex login.bin)" "$(bin2hex default.bin)"
run 0 "$SEND" link.login --device FED24A --password 0102030405060708 --seq 7 --out json
"$DECODE" login.bin >decoded.json
expect_eq "--out json = m2m-decode" "$(cat decoded.json)" "$(cat out)"
expect_eq "--out json body" '{"password":"0102030405060708"}' "$(jf 'j["body"]')"
run 0 "$SEND" link.login --device FED24A --password 0102030405060708 --seq 7 --out json --pretty
expect_eq "--pretty" "{" "$(head -1 out)"

# --crc: xmodem CRC, which modbus decoding rejects
run 0 "$SEND" link.heartbeat --device FED24A --token 0102030405060708 --seq 3 --crc xmodem --out hex
expect_eq "xmodem" 551E00A00103000000020000000000FED24A080102030405060708EABC55 "$(cat out)"
hex2bin "$(cat out)" >xm.bin
run 3 "$DECODE" xm.bin
run 0 "$DECODE" --crc xmodem xm.bin

# --stdin: JSON Lines; an error object and blank lines are skipped silently; a bad line is
# reported with its number, the rest still encoded, exit 3.
cat >script.jsonl <<'JSONL'
{"type":"link.login","seq":7,"device":"0000000000FED24A","body":{"password":"0102030405060708"}}

{"v":1,"error":"garbage","offset":0,"skipped":3,"raw":"","message":"skipped 3 bytes outside any frame"}
{"type":"no.such.type"}
not json at all
{"type":"link.heartbeat","status":"ok","seq":7,"device":"FED24A","token":"0102030405060708"}
JSONL
run 3 "$SEND" --stdin --out hex <script.jsonl
expect_eq "--stdin frames" "551D00A00007000000020000000000FED24A0102030405060708496355
551E00A00107000000000000000000FED24A08010203040506070896D255" "$(cat out)"
expect_match "bad line 4 named" 'm2m-send: error: line 4: ' "$(cat err)"
expect_match "bad line 5 named" 'm2m-send: error: line 5: not a JSON object' "$(cat err)"
expect_eq "two messages" 2 "$(lines_of err)"
run 3 "$SEND" --stdin -q --out hex <script.jsonl
expect_eq "-q: no messages" "" "$(cat err)"
# --encode = --stdin --out raw
head -1 script.jsonl | "$SEND" --encode >enc.bin
expect_eq "--encode" "$(bin2hex login.bin)" "$(bin2hex enc.bin)"
# a line without a newline at the end still counts
printf '%s' "$(head -1 script.jsonl)" | "$SEND" --encode >enc2.bin
expect_eq "last line without newline" "$(bin2hex login.bin)" "$(bin2hex enc2.bin)"

# a data area too large for the 1400-byte limit is refused
big=$(python3 -c 'print("00" * 1400)')
run 2 "$SEND" data.uplink --device FED24A --token 0102030405060708 --payload "$big" --out hex
expect_match "too long" '^m2m-send: error: .*1400' "$(cat err)"

# usage errors: exit 2 with "m2m-send: error:"
for args in "" "no.such.type" "link.login --seq lots" "link.login --out yaml" "--stdin link.heartbeat" \
  "link.login --device nothex" "link.login --password 0102" "ZZ:01" "--json [1,2]" "--encode --out hex" \
  "link.heartbeat --pretty"; do
  # shellcheck disable=SC2086
  run 2 "$SEND" $args </dev/null
  expect_match "usage error for '$args'" '^m2m-send: error:' "$(cat err)"
done
# --server addresses: one parser (net::parse_host_port); a bad port is a usage error, never a wrap
run 2 "$SEND" -s 127.0.0.1:99999 --device FED24A --password text:1 link.heartbeat
expect_match "port out of range" "^m2m-send: error: --server: '127.0.0.1:99999': port 99999 is out of range" "$(cat err)"
for addr in "127.0.0.1:" "127.0.0.1:80x" "[::1" "[::1]:70000" "::1:80:x" ":8266"; do
  run 2 "$SEND" -s "$addr" --device FED24A --password text:1 link.heartbeat
  expect_match "usage error for -s '$addr'" '^m2m-send: error: --server: ' "$(cat err)"
done
# --device-password: platform.add_terminal's body password under its own flag (issue 15); the
# same bytes as --password gives it offline, and the two together are a usage error.
run 0 "$SEND" platform.add_terminal --device 7 --id E2 --device-password text:e2 -o json
expect_eq "--device-password fills body.password" '{"id":"00000000000000E2","password":"6532000000000000"}' "$(jf 'j["body"]')"
dp=$(cat out)
run 0 "$SEND" platform.add_terminal --device 7 --id E2 --password text:e2 -o json
expect_eq "offline --password still fills it" "$dp" "$(cat out)"
run 2 "$SEND" platform.add_terminal --id E2 --password text:a --device-password text:e2
expect_eq "both" "m2m-send: error: --password and --device-password both set the body's password; give one" "$(head -1 err)"
# --format and --password-file belong to a session.
run 2 "$SEND" link.heartbeat --password-file /dev/null
expect_eq "--password-file offline" "m2m-send: error: --password-file needs --server (or M2M_SERVER)" "$(head -1 err)"
run 0 "$SEND" --help
expect_match "help lists body flags" -- '--password' "$(cat out)"
run 0 "$SEND" --version
expect_match "version" '^m2m-send \(m2m-toolkit\) ' "$(cat out)"
echo "send_test: ok"
