#!/usr/bin/env bash
# m2m-send --server against a scripted fake peer (send_peer/fake_peer.py, its own independent
# codec): login first, reply matching, exit codes 0/3/4/5/6, -n, --listen, --account, --stdin
# scripts (token and seq filled in), UDP, keep-alive heartbeats.
set -euo pipefail
: "${BIN_DIR:?}"
SEND="$BIN_DIR/m2m-send"
PEER="$(cd "$(dirname "$0")" && pwd)/send_peer/fake_peer.py"
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
cd "$TMP"

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_eq() { [[ "$2" == "$3" ]] || { printf 'FAIL: %s\n  expected: %s\n  actual:   %s\n' "$1" "$2" "$3" >&2; exit 1; }; }
expect_match() { [[ "$3" =~ $2 ]] || { printf 'FAIL: %s\n  expected to match: %s\n  actual:            %s\n' "$1" "$2" "$3" >&2; exit 1; }; }
run() {
  local want=$1 rc=0
  shift
  timeout 20 "$@" >out 2>err || rc=$?
  [[ $rc == "$want" ]] || { printf 'FAIL: exit status of %s\n  expected: %s\n  actual:   %s\n  stderr: %s\n  stdout: %s\n' "$*" "$want" "$rc" "$(cat err)" "$(head -c 2000 out)" >&2; exit 1; }
}
jf() {  # jf EXPR [LINE] over ./out
  python3 - "$1" "${2:-1}" <<'PY'
import json, sys
j = json.loads(open("out").read().splitlines()[int(sys.argv[2]) - 1])
print(json.dumps(eval(sys.argv[1]), separators=(",", ":")))
PY
}
# start_peer [ARGS…]: a fresh peer and log; sets PORT, SERVER and LOG.
n_peer=0
start_peer() {
  n_peer=$((n_peer + 1))
  LOG=$TMP/peer$n_peer.log
  : >"$LOG"
  python3 "$PEER" --port-file "$TMP/port$n_peer" --log "$LOG" "$@" &
  PIDS+=($!)
  for _ in $(seq 100); do [[ -s $TMP/port$n_peer ]] && break; sleep 0.05; done
  [[ -s $TMP/port$n_peer ]] || fail "fake peer did not start"
  PORT=$(cat "$TMP/port$n_peer")
  SERVER=127.0.0.1:$PORT
}
DEV=(--device 0000000000FED24A --password 0102030405060708)

start_peer --push 2
# 1. a heartbeat: log in, send, print the login reply and the heartbeat reply, exit 0
run 0 "$SEND" --server "$SERVER" "${DEV[@]}" link.heartbeat
expect_eq "two frames printed" 2 "$(wc -l <out | tr -d ' ')"
expect_eq "login reply" '"link.login"' "$(jf 'j["type"]' 1)"
expect_eq "login reply status" '"ok"' "$(jf 'j["status"]' 1)"
expect_eq "heartbeat reply" '"link.heartbeat"' "$(jf 'j["type"]' 2)"
expect_eq "reply status" '"ok"' "$(jf 'j["status"]' 2)"
expect_eq "dir" '"rx"' "$(jf 'j["dir"]' 2)"
expect_eq "peer" "\"$SERVER\"" "$(jf 'j["peer"]' 2)"
expect_match "ts" '^"20[0-9-]{8}T[0-9:.]{12}Z"$' "$(jf 'j["ts"]' 2)"
# the peer saw: login (A0 00, seq 1, no token, password) then the heartbeat with the issued token
mapfile -t seen <"$LOG"
expect_match "login first" '^551D00A0000100000002' "${seen[0]}"
expect_match "heartbeat carries the token" '^551E00A001020000000200000000' "${seen[1]}"
expect_match "token A1..A8" '08A1A2A3A4A5A6A7A8' "${seen[1]}"
expect_eq "sequence: the heartbeat's seq matches the reply" 2 "$(jf 'j["seq"]' 2)"

# 2. -n 3: the reply and the two uplinks the peer pushes after it
run 0 "$SEND" --server "$SERVER" "${DEV[@]}" data.uplink --text hi -n 3
expect_eq "-n 3 frames after login" 4 "$(wc -l <out | tr -d ' ')"
expect_eq "pushed uplink" '"data.uplink"' "$(jf 'j["type"]' 4)"
expect_eq "pushed uplink is a request" '"request"' "$(jf 'j["status"]' 4)"
expect_eq "pushed payload" '"707573686564"' "$(jf 'j["body"]["payload"]' 4)"

# 3. a reply with status fail: exit 5
run 5 "$SEND" --server "$SERVER" "${DEV[@]}" term.config_write --param heartbeat_interval --value 30
expect_eq "fail reply printed" '"fail"' "$(jf 'j["status"]' 2)"

# 4. no reply: -t bounds the wait, exit 4
start=$(date +%s%N)
run 4 "$SEND" --server "$SERVER" "${DEV[@]}" term.config_read --param version -t 600ms
elapsed=$((($(date +%s%N) - start) / 1000000))
((elapsed >= 500 && elapsed < 5000)) || fail "timeout took ${elapsed}ms (-t 600ms)"
expect_match "timeout message" '^m2m-send: error: no reply within' "$(cat err)"

# 5. garbage before the reply: an error object, the reply still recognised, exit 3
run 3 "$SEND" --server "$SERVER" "${DEV[@]}" term.ota_frame --file fw.bin --frame 0 --size 512
expect_eq "garbage object" '"garbage"' "$(jf 'j["error"]' 2)"
expect_eq "garbage peer" "\"$SERVER\"" "$(jf 'j["peer"]' 2)"
expect_eq "reply after garbage" '"term.ota_frame"' "$(jf 'j["type"]' 3)"

# 6. wrong password: login rejected, exit 5, nothing else sent
: >"$LOG"
run 5 "$SEND" --server "$SERVER" --device FED24A --password 0000000000000000 link.heartbeat
expect_match "rejected message" '^m2m-send: error: login of 0000000000FED24A rejected' "$(cat err)"
expect_eq "only the login was sent" 1 "$(wc -l <"$LOG" | tr -d ' ')"

# 7. the frame is itself a login: no second login
: >"$LOG"
run 0 "$SEND" --server "$SERVER" link.login "${DEV[@]}" --seq 9
expect_eq "one login sent" 1 "$(wc -l <"$LOG" | tr -d ' ')"
expect_eq "its reply" 9 "$(jf 'j["seq"]')"
expect_eq "the issued token" '"A1A2A3A4A5A6A7A8"' "$(jf 'j["body"]["token"]')"

# 8. --stdin script over one session: seq and token filled in where absent; a bad line reported
: >"$LOG"
cat >script.jsonl <<'JSONL'
{"type":"link.heartbeat"}
{"type":"term.reboot","seq":40}
this is not json
{"type":"data.uplink","body":{"text":"x"},"token":"0102030405060708"}
JSONL
# exit 4: the worst outcome (a reply timed out) wins over the bad line's 3
run 4 "$SEND" --server "$SERVER" "${DEV[@]}" --stdin -t 2s <script.jsonl
expect_match "bad line named" 'line 3: not a JSON object' "$(cat err)"
mapfile -t seen <"$LOG"
expect_eq "frames sent (login, 3 script frames)" 4 "${#seen[@]}"
expect_match "auto seq 2 + token" '^551E00A00102000000020000000000FED24A08A1A2A3A4A5A6A7A8' "${seen[1]}"
expect_match "explicit seq 40" '^551E00F0540128000000020000000000FED24A08A1A2A3A4A5A6A7A8' "${seen[2]}"
expect_match "explicit (wrong) token kept" '08010203040506' "${seen[3]}"
# heartbeat and reboot replies printed; the wrong-token uplink is ignored by the peer -> timeout
expect_match "script: the uplink timed out" 'line 4: no reply within' "$(cat err)"
expect_eq "script: reboot reply" '"term.reboot"' "$(jf 'j["type"]' 3)"

# 9. UDP
run 0 "$SEND" --server "$SERVER" --udp "${DEV[@]}" link.heartbeat -t 3s
expect_eq "udp reply" '"link.heartbeat"' "$(jf 'j["type"]' 2)"

# 10. keep-alive: waiting 1.2 s with --heartbeat 300ms sends heartbeats with the token
: >"$LOG"
run 4 "$SEND" --server "$SERVER" "${DEV[@]}" term.config_read --param version -t 1200ms --heartbeat 300ms
hb=$(grep -c '^551E00A001' "$LOG" || true)
((hb >= 2)) || fail "expected at least 2 keep-alive heartbeats, the peer saw $hb"
expect_eq "heartbeat replies are not printed" 1 "$(wc -l <out | tr -d ' ')"

# 11. a platform client account: EF 00 login with header id = account, then listen for events
start_peer --push-on-login 2
run 0 "$SEND" --server "$SERVER" --account 1 --password text:123 --listen -n 2
expect_eq "account login reply" '"platform.login"' "$(jf 'j["type"]' 1)"
expect_eq "event 1" '"term.event"' "$(jf 'j["type"]' 2)"
expect_eq "event body" '"working"' "$(jf 'j["body"]["event"]' 3)"
mapfile -t seen <"$LOG"
expect_match "EF 00 with header id 1" '^551D00EF00010000000200000000000000013132330000000000' "${seen[0]}"
# --listen with -t alone ends normally after the time
run 0 "$SEND" --server "$SERVER" --account 1 --password text:123 --listen -t 500ms
expect_eq "listen -t: login reply and 2 events" 3 "$(wc -l <out | tr -d ' ')"
# an operator's command routed to a device, the reply comes back
run 0 "$SEND" --server "$SERVER" --account 1 --password text:123 term.reboot --device 0000000000FED24A
expect_eq "routed reply" '"term.reboot"' "$(jf 'j["type"]' 4)"

# 12. refused: nothing listens on the port any more -> exit 6
kill "${PIDS[-1]}"
wait "${PIDS[-1]}" 2>/dev/null || true
run 6 "$SEND" --server "$SERVER" "${DEV[@]}" link.heartbeat -t 2s
expect_match "refused message" "^m2m-send: error: connect 127.0.0.1:$PORT: .*refused" "$(cat err)"

# 12b. IPv6: the same session over [::1] (TCP and UDP), the peer printed in brackets
if python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
  start_peer --ipv6
  SERVER6="[::1]:$PORT"
  run 0 "$SEND" --server "$SERVER6" "${DEV[@]}" link.heartbeat -t 3s
  expect_eq "ipv6 reply" '"link.heartbeat"' "$(jf 'j["type"]' 2)"
  expect_eq "ipv6 peer" "\"$SERVER6\"" "$(jf 'j["peer"]' 2)"
  run 0 "$SEND" --server "$SERVER6" --udp "${DEV[@]}" link.heartbeat -t 3s
  expect_eq "ipv6 udp reply" '"ok"' "$(jf 'j["status"]' 2)"
else
  echo "send_fake_peer_test: no IPv6 loopback here; the [::1] case is skipped" >&2
fi

# 13. usage errors
run 2 "$SEND" link.heartbeat -n 3
expect_match "-n needs --server" '^m2m-send: error: .*needs --server' "$(cat err)"
run 2 "$SEND" --server "$SERVER" --listen link.heartbeat
run 2 "$SEND" --server "$SERVER" --password 0102030405060708 link.heartbeat
run 2 "$SEND" --server "$SERVER" "${DEV[@]}" link.heartbeat --out raw
echo "send_fake_peer_test: ok"
