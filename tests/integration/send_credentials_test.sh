#!/usr/bin/env bash
# Credentials without the command line (issue 15): --password-file and M2M_PASSWORD, and
# M2M_SERVER / M2M_DEVICE / M2M_ACCOUNT as defaults. A flag always wins over the environment,
# --password wins over --password-file wins over M2M_PASSWORD, and a password so given never
# shows in the program's argv (ps).
set -euo pipefail
. "$(dirname "$0")/send_support.bash"
unset M2M_SERVER M2M_DEVICE M2M_ACCOUNT M2M_PASSWORD
start_server
SEND=$BIN_DIR/m2m-send
DEV=0000000000FED24A

# M2M_PASSWORD alone logs the device in.
expect_rc 0 env M2M_PASSWORD=text:123 timeout 10 "$SEND" -s "$srv" --device $DEV link.heartbeat -t 3s
[ "$(wc -l <"$work/out")" = 2 ] || fail "M2M_PASSWORD: expected login + heartbeat replies: $(cat "$work/out")"
# --password-file: its first line, the line end dropped.
printf 'text:123\n' >"$work/pw"
expect_rc 0 timeout 10 "$SEND" -s "$srv" --device $DEV --password-file "$work/pw" link.heartbeat -t 3s
printf 'text:123\r\nignored\n' >"$work/pw-crlf"
expect_rc 0 timeout 10 "$SEND" -s "$srv" --device $DEV --password-file "$work/pw-crlf" link.heartbeat -t 3s
# Precedence: --password > --password-file > M2M_PASSWORD (the wrong ones would be refused).
printf 'text:bad\n' >"$work/pw-bad"
expect_rc 0 env M2M_PASSWORD=text:bad timeout 10 "$SEND" -s "$srv" --device $DEV --password text:123 link.heartbeat -t 3s
expect_rc 0 env M2M_PASSWORD=text:bad timeout 10 "$SEND" -s "$srv" --device $DEV --password-file "$work/pw" link.heartbeat -t 3s
expect_rc 5 env M2M_PASSWORD=text:123 timeout 10 "$SEND" -s "$srv" --device $DEV --password-file "$work/pw-bad" link.heartbeat -t 3s
expect_err "m2m-send: error: login of $DEV rejected (status fail)"
# --password and --password-file together, an unreadable file, an empty one: usage errors.
expect_rc 2 "$SEND" -s "$srv" --device $DEV --password text:123 --password-file "$work/pw" link.heartbeat
expect_err "m2m-send: error: --password and --password-file: give one"
expect_rc 2 "$SEND" -s "$srv" --device $DEV --password-file "$work/missing" link.heartbeat
expect_err "m2m-send: error: --password-file $work/missing: cannot read it (No such file or directory)"
: >"$work/empty"
expect_rc 2 "$SEND" -s "$srv" --device $DEV --password-file "$work/empty" link.heartbeat
expect_err "m2m-send: error: --password-file $work/empty: the first line is empty; it should hold the password"
expect_rc 2 env M2M_PASSWORD=nothex "$SEND" -s "$srv" --device $DEV link.heartbeat
grep -q '^m2m-send: error: M2M_PASSWORD: ' "$work/err" || fail "a bad M2M_PASSWORD is not named: $(cat "$work/err")"

# M2M_SERVER, M2M_DEVICE: defaults; the flags win.
expect_rc 0 env M2M_SERVER="$srv" M2M_DEVICE=$DEV M2M_PASSWORD=text:123 timeout 10 "$SEND" link.heartbeat -t 3s
[ "$(wc -l <"$work/out")" = 2 ] || fail "M2M_SERVER/M2M_DEVICE: expected two replies: $(cat "$work/out")"
expect_rc 0 env M2M_SERVER=127.0.0.1:1 M2M_DEVICE=00000000075BCD15 timeout 10 "$SEND" -s "$srv" --device $DEV --password text:123 link.heartbeat -t 3s
grep -q "\"device\":\"$DEV\"" "$work/out" || fail "--device did not win over M2M_DEVICE: $(cat "$work/out")"
# The environment alone never turns frame output into a send.
expect_rc 0 env M2M_SERVER=127.0.0.1:1 M2M_PASSWORD=text:123 "$SEND" link.heartbeat --device $DEV --out hex
grep -q '^55' "$work/out" || fail "with only M2M_SERVER set, m2m-send did not write the frame out: $(cat "$work/out")"

# M2M_ACCOUNT: an operator listening with everything from the environment and a password
# file; while it listens, its argv holds no password.
before=$(logins_of account 1)
M2M_SERVER=$srv M2M_ACCOUNT=1 M2M_PASSWORD=text:op timeout 10 "$SEND" --listen -t 8s >"$work/listen.out" 2>"$work/listen.err" &
listener=$!
extra_pids+=("$listener")
wait_for 8 more_logins account 1 "$before" || fail "M2M_ACCOUNT: the operator did not log in: $(cat "$work/listen.err")"
pid=$(pgrep -P "$listener" -x m2m-send || echo "$listener")
tr '\0' ' ' <"/proc/$pid/cmdline" >"$work/argv"
grep -q 'op' "$work/argv" && fail "the password shows in argv: $(cat "$work/argv")"
grep -q 'm2m-send' "$work/argv" || fail "argv of the wrong process: $(cat "$work/argv")"
kill -INT "$pid"
rc=0; wait "$listener" || rc=$?
[ "$rc" = 130 ] || fail "interrupted listener: exit $rc"

before=$(logins_of account 1)
printf 'text:op\n' >"$work/op"
timeout 10 "$SEND" -s "$srv" --account 1 --password-file "$work/op" --listen -t 8s >"$work/listen.out" 2>"$work/listen.err" &
listener=$!
extra_pids+=("$listener")
wait_for 8 more_logins account 1 "$before" || fail "--password-file: the operator did not log in: $(cat "$work/listen.err")"
pid=$(pgrep -P "$listener" -x m2m-send || echo "$listener")
tr '\0' ' ' <"/proc/$pid/cmdline" >"$work/argv"
grep -q 'text:op' "$work/argv" && fail "the password shows in argv: $(cat "$work/argv")"
kill -INT "$pid"
wait "$listener" || true
echo "send_credentials_test: ok"
