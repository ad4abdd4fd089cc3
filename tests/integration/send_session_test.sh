#!/usr/bin/env bash
# m2m-send's session against the real m2m-server and against a peer that is not an M2M
# platform (issue 15): --listen ends normally at -t (with or without -n), a warning when no
# password is given, one line for a reply that says fail, a session replaced by another login
# says so, --format text, --device-password next to the session's --password, garbage printed
# with its bytes (exit 3), SIGINT while listening (exit 130).
set -euo pipefail
. "$(dirname "$0")/send_support.bash"
unset M2M_SERVER M2M_DEVICE M2M_ACCOUNT M2M_PASSWORD
start_server
SEND=$BIN_DIR/m2m-send
OP=(--account 1 --password text:op)

# --listen on a quiet platform: -t is the listening time, exit 0, also with -n unmet.
expect_rc 0 timeout 10 "$SEND" -s "$srv" "${OP[@]}" --listen -n 10 -t 500ms
[ "$(wc -l <"$work/out")" = 1 ] || fail "listen: expected the login reply only: $(cat "$work/out")"
[ ! -s "$work/err" ] || fail "listen -n 10 -t: a normal end says nothing: $(cat "$work/err")"
expect_rc 0 timeout 10 "$SEND" -s "$srv" "${OP[@]}" --listen -t 300ms
# Without --listen, fewer than -n frames is still a timeout.
expect_rc 4 timeout 10 "$SEND" -s "$srv" --device 0000000000FED24A --password text:123 link.heartbeat -n 5 -t 500ms
expect_err "m2m-send: error: fewer than 5 frames within 500ms"
expect_rc 4 timeout 10 "$SEND" -s "$srv" --device 0000000000FED24A --password text:123 link.heartbeat -n 3 -t 300ms
expect_err "m2m-send: error: fewer than 3 frames within 300ms"
# --help says what the page says.
"$SEND" --help >"$work/help"
grep -q 'reaching -t ends normally (exit 0)' "$work/help" || fail "--help does not say how -t ends --listen: $(grep -A1 -- --listen "$work/help")"

# No password: the frame goes out without a token, and a warning says the platform drops it.
rc=0; timeout 10 "$SEND" -s "$srv" --device 0000000000FED24A link.heartbeat -t 500ms >"$work/out" 2>"$work/err" || rc=$?
[ "$rc" != 0 ] || fail "a heartbeat without login got an answer"
grep -qxF "m2m-send: warning: no password (--password, --password-file or M2M_PASSWORD): the frame goes without a token and the platform will drop it" "$work/err" ||
  fail "no warning without a password: $(cat "$work/err")"
expect_rc 0 timeout 10 "$SEND" -s "$srv" --device 0000000000FED24A --password text:123 link.heartbeat -t 3s
grep -q warning "$work/err" && fail "a warning with a password: $(cat "$work/err")"

# A reply with status fail: one line naming the type, seq and status (as a refused login does).
expect_rc 5 timeout 10 "$SEND" -s "$srv" --device 0000000000FED24A --password text:123 data.relay --target 0000000000000C0C --text hi -t 3s
expect_err "m2m-send: error: data.relay seq 2 failed (status fail)"

# --format text: one summary line per frame, no JSON.
expect_rc 0 timeout 10 "$SEND" -s "$srv" --device 0000000000FED24A --password text:123 link.heartbeat -t 3s --format text
[ "$(wc -l <"$work/out")" = 2 ] || fail "--format text: expected two lines: $(cat "$work/out")"
grep -q '^{' "$work/out" && fail "--format text printed JSON: $(cat "$work/out")"
grep -q 'link.heartbeat' "$work/out" || fail "--format text: no link.heartbeat line: $(cat "$work/out")"
expect_rc 2 "$SEND" link.heartbeat --format text
expect_err "m2m-send: error: --format needs --server (or M2M_SERVER)"

# --device-password: the new device's password, while --password logs the operator in.
expect_rc 0 timeout 10 "$SEND" -s "$srv" "${OP[@]}" platform.add_terminal --id 00000000000000E2 --device-password text:e2 -t 3s
grep -q '"event":"add_terminal".*"device":"00000000000000E2"' "$work/server.log" || fail "add_terminal not done: $(tail -3 "$work/server.log")"
expect_rc 0 timeout 10 "$SEND" -s "$srv" --device 00000000000000E2 --password text:e2 link.heartbeat -t 3s

# A session replaced by another login of the same account says so (exit 6).
before=$(logins_of account 1)
timeout 10 "$SEND" -s "$srv" "${OP[@]}" --listen -t 8s >"$work/first.out" 2>"$work/first.err" &
first=$!
extra_pids+=("$first")
wait_for 8 more_logins account 1 "$before" || fail "the first operator did not log in"
expect_rc 0 timeout 10 "$SEND" -s "$srv" "${OP[@]}" --listen -t 200ms
rc=0; wait "$first" || rc=$?
[ "$rc" = 6 ] || fail "replaced session: exit $rc; stderr: $(cat "$work/first.err")"
grep -qxF "m2m-send: error: listening: the platform closed the session of account 1: another login of the same account replaces it (or the platform stopped)" "$work/first.err" ||
  fail "replaced session: $(cat "$work/first.err")"

# SIGINT while listening: exit 130, what arrived is printed.
before=$(logins_of account 1)
timeout 10 "$SEND" -s "$srv" "${OP[@]}" --listen -t 8s >"$work/int.out" 2>"$work/int.err" &
listener=$!
extra_pids+=("$listener")
wait_for 8 more_logins account 1 "$before" || fail "the listener did not log in"
pid=$(pgrep -P "$listener" -x m2m-send || echo "$listener")
kill -INT "$pid"
rc=0; wait "$listener" || rc=$?
[ "$rc" = 130 ] || fail "SIGINT while listening: exit $rc; stderr: $(cat "$work/int.err")"
grep -q '"platform.login"' "$work/int.out" || fail "SIGINT: the login reply was not printed: $(cat "$work/int.out")"

# A peer that is not an M2M platform: its text comes out as error objects with the bytes in
# "raw", exit 3, and a line that says what it looks like. Once a server that sends a banner
# and closes, once one that sends a banner and waits.
peer() { # peer MODE PORTFILE: a text service on a free loopback port
  python3 - "$@" <<'PY' &
import socket, sys
mode, port_file = sys.argv[1], sys.argv[2]
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(4)
open(port_file + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(port_file + ".tmp", port_file)
while True:
    c, _ = s.accept()
    c.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
    if mode == "close":
        c.recv(4096)  # the login, then the end: the client reads the banner and the close
        c.close()
    else:
        c.recv(4096)  # the login arrives; answer nothing more until the client goes
        c.recv(4096)
        c.close()
PY
  extra_pids+=("$!")
  wait_for 8 test -s "$2" || fail "text peer did not start"
}
banner_hex=5353482D322E302D4F70656E5353485F392E320D0A
for mode in close wait; do
  peer "$mode" "$work/port.$mode"
  expect_rc 3 timeout 10 "$SEND" -s "127.0.0.1:$(cat "$work/port.$mode")" --device 0000000000FED24A --password text:123 link.heartbeat -t 1s
  python3 - "$work/out" "$banner_hex" <<'PY' || fail "$mode: the records are not error objects with the bytes: $(cat "$work/out")"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert recs and all("error" in r for r in recs), recs
assert recs[0]["error"] == "garbage" and recs[0]["raw"] == sys.argv[2], recs[0]
PY
  expect_err "m2m-send: error: 127.0.0.1:$(cat "$work/port.$mode") sent only bytes that are not M2M frames (the error records hold them): is it an M2M platform?"
done
echo "send_session_test: ok"
