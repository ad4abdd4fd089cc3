#!/usr/bin/env bash
# m2m-send's network half against the real m2m-server on loopback: login as a device and as
# an account, exit codes for refused logins and timeouts, relay and uplink delivery.
set -euo pipefail
BIN_DIR=${BIN_DIR:?BIN_DIR must point at the built programs}
work=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_rc() { # expect_rc WANT CMD...
  local want=$1 rc=0; shift
  "$@" >"$work/out" 2>"$work/err" || rc=$?
  [ "$rc" = "$want" ] || fail "exit status of $* is $rc, expected $want; stderr: $(cat "$work/err")"
}
field() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[int(sys.argv[2])-1])[sys.argv[3]])' "$@"; }
# last_event EVENT KEY=VALUE... MEMBER: MEMBER of the last such event
last_event() {
  python3 - "$work/server.log" "$@" <<'PY'
import json, sys
log, event, wants, member = sys.argv[1], sys.argv[2], [a.split("=", 1) for a in sys.argv[3:-1]], sys.argv[-1]
found = None
for line in open(log):
    try:
        j = json.loads(line)
    except ValueError:
        continue
    if j.get("event") == event and all(str(j.get(k)) == v for k, v in wants):
        found = j.get(member)
print(found)
PY
}

db=$work/m2m.db
printf 'id,password,group,enabled,description\n0000000000FED24A,text:123,lab,1,a\n00000000075BCD15,text:456,lab,1,b\n0000000000000BAD,text:789,lab,0,disabled\n0000000000000C0C,text:000,other,1,other group\n' |
  "$BIN_DIR/m2m-server" device import --db "$db" 2>/dev/null
printf 'id,name,password,groups,enabled,description\n1,operator,text:op,lab,1,\n' | "$BIN_DIR/m2m-server" account import --db "$db" 2>/dev/null

"$BIN_DIR/m2m-server" serve --db "$db" --listen 127.0.0.1:0 >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do grep -q '"listening"' "$work/server.log" 2>/dev/null && break; sleep 0.05; done
srv=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    if l.startswith("{") and "\"listening\"" in l: print(json.loads(l)["tcp"]); break' "$work/server.log")
[ -n "$srv" ] || fail "server did not report listening: $(cat "$work/server.log")"
case $srv in *:0) fail "server reported port 0";; esac

# Device heartbeat: login reply then the heartbeat reply, both ok, header carries the token.
expect_rc 0 timeout 10 "$BIN_DIR/m2m-send" --server "$srv" --device 0000000000FED24A --password text:123 link.heartbeat -t 3s
[ "$(wc -l <"$work/out")" = 2 ] || fail "expected login + heartbeat replies, got: $(cat "$work/out")"
[ "$(field "$work/out" 1 type)" = link.login ] || fail "first record is not the login reply"
[ "$(field "$work/out" 2 status)" = ok ] || fail "heartbeat not ok"
token=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["body"]["token"])' "$work/out")
[ "$(field "$work/out" 2 token)" = "$token" ] || fail "heartbeat reply does not carry the issued token"

# --bind: the platform sees the session come from the chosen local address.
expect_rc 0 timeout 10 "$BIN_DIR/m2m-send" --server "$srv" --bind 127.0.0.2 --device 0000000000FED24A --password text:123 link.heartbeat -t 3s
grep -q '"event":"login","device":"0000000000FED24A".*"peer":"127\.0\.0\.2:' "$work/server.log" || fail "--bind 127.0.0.2: the server saw another address"

# Refusals: wrong password and disabled device exit 5; nothing listening exits 6. Each says
# why: m2m-send names the login and the status, the server's event names the reason.
expect_rc 5 timeout 10 "$BIN_DIR/m2m-send" --server "$srv" --device 0000000000FED24A --password text:999 link.heartbeat -t 3s
grep -q '^m2m-send: error: login of 0000000000FED24A rejected (status fail)$' "$work/err" || fail "wrong password: $(cat "$work/err")"
[ "$(last_event login_rejected device=0000000000FED24A reason)" = bad_password ] || fail "wrong password: server reason is not bad_password"
expect_rc 5 timeout 10 "$BIN_DIR/m2m-send" --server "$srv" --device 0000000000000BAD --password text:789 link.heartbeat -t 3s
grep -q '^m2m-send: error: login of 0000000000000BAD rejected (status fail)$' "$work/err" || fail "disabled device: $(cat "$work/err")"
[ "$(last_event login_rejected device=0000000000000BAD reason)" = disabled ] || fail "disabled device: server reason is not disabled"
expect_rc 5 timeout 10 "$BIN_DIR/m2m-send" --server "$srv" --account 1 --password text:no --listen -t 3s
grep -q '^m2m-send: error: login of 0000000000000001 rejected (status fail)$' "$work/err" || fail "wrong account password: $(cat "$work/err")"
[ "$(last_event login_rejected account=1 reason)" = bad_password ] || fail "wrong account password: server reason is not bad_password"
expect_rc 6 timeout 10 "$BIN_DIR/m2m-send" --server 127.0.0.1:1 --device 0000000000FED24A --password text:123 link.heartbeat -t 2s
grep -Eq '^m2m-send: error: connect 127\.0\.0\.1:1: .*refused' "$work/err" || fail "nothing listening: $(cat "$work/err")"

# A listening device gets nothing within its bound: -t is the listening time, exit 0 (issue 15;
# this was exit 4 before).
expect_rc 0 timeout 10 "$BIN_DIR/m2m-send" --server "$srv" --device 00000000075BCD15 --password text:456 --listen -n 1 -t 500ms

# Relay within the group reaches the listening target with the sender's id in the body.
# Wait for these two logins themselves (the target has logged in before, above), so the relay
# cannot run before the target listens. grep, not python: this loop must be quick on a busy machine.
logins_of() { grep -cE "\"event\":\"login\",\"$1\":$2[,}]" "$work/server.log" || true; }
target_logins=$(logins_of device '"00000000075BCD15"')
operator_logins=$(logins_of account 1)
timeout 10 "$BIN_DIR/m2m-send" --server "$srv" --device 00000000075BCD15 --password text:456 --listen -n 1 -t 8s >"$work/target.out" &
listener=$!
timeout 10 "$BIN_DIR/m2m-send" --server "$srv" --account 1 --password text:op --listen -n 1 -t 8s >"$work/operator.out" &
operator=$!
for _ in $(seq 100); do
  [ "$(logins_of device '"00000000075BCD15"')" -gt "$target_logins" ] && [ "$(logins_of account 1)" -gt "$operator_logins" ] && break
  sleep 0.05
done
[ "$(logins_of device '"00000000075BCD15"')" -gt "$target_logins" ] || fail "relay target did not log in: $(cat "$work/server.log")"
[ "$(logins_of account 1)" -gt "$operator_logins" ] || fail "operator did not log in: $(cat "$work/server.log")"
expect_rc 0 timeout 10 "$BIN_DIR/m2m-send" --server "$srv" --device 0000000000FED24A --password text:123 data.relay --target 00000000075BCD15 --text hello -t 3s
[ "$(field "$work/out" 2 status)" = ok ] || fail "relay not acknowledged ok: $(cat "$work/out")"
# Across groups the relay is refused: exit 5, the reply says fail, the server says why.
# (Checked after the uplink: the listeners' -t runs meanwhile.)
expect_rc 5 timeout 10 "$BIN_DIR/m2m-send" --server "$srv" --device 0000000000FED24A --password text:123 data.relay --target 0000000000000C0C --text hello -t 3s
cp "$work/out" "$work/cross.out"
expect_rc 0 timeout 10 "$BIN_DIR/m2m-send" --server "$srv" --device 0000000000FED24A --password text:123 data.uplink --text temp=23.5 -t 3s
wait $listener || fail "relay target saw no frame: $(cat "$work/target.out")"
wait $operator || fail "operator saw no uplink: $(cat "$work/operator.out")"
python3 - "$work/target.out" "$work/operator.out" <<'PY' || fail "delivered frames are wrong: $(cat "$work/target.out" "$work/operator.out")"
import json, sys
relay = [json.loads(l) for l in open(sys.argv[1]) if '"data.relay"' in l][0]
assert relay["status"] == "request" and relay["device"] == "00000000075BCD15", relay
assert relay["body"] == {"peer": "0000000000FED24A", "payload": "68656C6C6F"}, relay["body"]
up = [json.loads(l) for l in open(sys.argv[2]) if '"data.uplink"' in l][0]
assert up["device"] == "0000000000FED24A" and up["body"]["payload"] == "74656D703D32332E35", up
PY
[ "$(field "$work/cross.out" 2 type)" = data.relay ] && [ "$(field "$work/cross.out" 2 status)" = fail ] ||
  fail "cross-group relay reply is not a fail: $(cat "$work/cross.out")"
[ "$(last_event relay_refused from=0000000000FED24A to=0000000000000C0C reason)" = other_group ] ||
  fail "cross-group relay: server reason is not other_group"
echo "send_server_test: ok"
