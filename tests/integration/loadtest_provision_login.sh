#!/usr/bin/env bash
# One pipe provisions a load run: `m2m-loadtest provision | m2m-server device import` (and
# `--accounts | account import`), and a device of that population logs in to the served
# registry with the credentials m2m-loadtest regenerates from the seed alone; the same id with
# another seed's password is refused.
set -euo pipefail
BIN_DIR=${BIN_DIR:?BIN_DIR must point at the built programs}
work=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
LT=$BIN_DIR/m2m-loadtest
SRV=$BIN_DIR/m2m-server
db=$work/reg.db

"$LT" provision --count 1000 --seed 7 --groups 4 | "$SRV" device import --db "$db" 2>"$work/import.err"
grep -q 'imported 1000 devices' "$work/import.err" || fail "device import: $(cat "$work/import.err")"
"$LT" provision --count 1000 --seed 7 --groups 4 --accounts | "$SRV" account import --db "$db" 2>"$work/acc.err"
grep -q 'imported 4 accounts' "$work/acc.err" || fail "account import: $(cat "$work/acc.err")"
"$SRV" device list --db "$db" >"$work/list"
[ "$(wc -l <"$work/list")" = 1000 ] || fail "device list does not hold 1000 devices"
grep -q '"id":"00004C5400000219","group":"lt1","enabled":true' "$work/list" ||
  fail "device 537 is not in group lt1: $(sed -n 538p "$work/list")"

"$SRV" serve --db "$db" --listen 127.0.0.1:0 >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 200); do grep -q '"listening"' "$work/server.log" 2>/dev/null && break; sleep 0.05; done
srv=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    if l.startswith("{") and "\"listening\"" in l: print(json.loads(l)["tcp"]); break' "$work/server.log")
[ -n "$srv" ] || fail "server did not report listening: $(cat "$work/server.log")"

# Device 537's credentials, regenerated: the same seed prints the same row.
row=$("$LT" provision --count 1000 --seed 7 --groups 4 | sed -n 539p)
id=${row%%,*}
pw=$(cut -d, -f2 <<<"$row")
[ "$id" = 00004C5400000219 ] || fail "row 539 is $row"
rc=0
timeout 10 "$BIN_DIR/m2m-send" --server "$srv" --device "$id" --password "$pw" link.heartbeat -t 3s >"$work/out" 2>"$work/err" || rc=$?
[ "$rc" = 0 ] || fail "login with the regenerated credentials: exit $rc: $(cat "$work/err")"
python3 - "$work/out" <<'PY' || fail "replies: $(cat "$work/out")"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert [r["type"] for r in recs] == ["link.login", "link.heartbeat"], recs
assert all(r["status"] == "ok" for r in recs), recs
PY

# Another seed derives another password for the same id: refused (exit 5).
other=$("$LT" provision --count 1000 --seed 8 --groups 4 | sed -n 539p | cut -d, -f2)
[ "$other" != "$pw" ] || fail "seeds 7 and 8 gave device 537 the same password"
rc=0
timeout 10 "$BIN_DIR/m2m-send" --server "$srv" --device "$id" --password "$other" link.heartbeat -t 3s >"$work/out" 2>"$work/err" || rc=$?
[ "$rc" = 5 ] || fail "login with seed 8's password: exit $rc, expected 5: $(cat "$work/err")"
grep -q "^m2m-send: error: login of $id rejected (status fail)$" "$work/err" || fail "refusal message: $(cat "$work/err")"

# An operator account of the population logs in too (account ids are decimal everywhere).
arow=$("$LT" provision --count 1000 --seed 7 --groups 4 --accounts | sed -n 3p)
aid=${arow%%,*}
apw=$(cut -d, -f3 <<<"$arow")
rc=0
timeout 10 "$BIN_DIR/m2m-send" --server "$srv" --account "$aid" --password "$apw" --listen -n 1 -t 500ms >"$work/out" 2>"$work/err" || rc=$?
[ "$rc" = 0 ] || fail "account $aid login: exit $rc: $(cat "$work/err")"
grep -q "\"event\":\"login\".*\"account\":$aid" "$work/server.log" || fail "the server logged no login of account $aid: $(grep account "$work/server.log" | tail -3)"
echo "loadtest_provision_login: ok"
