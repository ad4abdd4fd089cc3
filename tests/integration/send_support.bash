# Shared by the send_* tests that need a real m2m-server on loopback (sourced, not run):
# a work directory removed on exit, a registry with two lab devices and operator account 1,
# the server started on a free port ($srv), and expect_rc/fail/logins_of helpers.
BIN_DIR=${BIN_DIR:?BIN_DIR must point at the built programs}
work=$(mktemp -d)
server_pid=""
extra_pids=()
cleanup() {
  for p in "${extra_pids[@]}" $server_pid; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_rc() { # expect_rc WANT CMD...: stdout in $work/out, stderr in $work/err
  local want=$1 rc=0; shift
  "$@" >"$work/out" 2>"$work/err" || rc=$?
  [ "$rc" = "$want" ] || fail "exit status of $* is $rc, expected $want; stderr: $(cat "$work/err")"
}
expect_err() { # expect_err EXACT-LINE: stderr holds that line
  grep -qxF -- "$1" "$work/err" || fail "stderr lacks '$1'; it is: $(cat "$work/err")"
}
logins_of() { grep -cE "\"event\":\"login\",\"$1\":$2[,}]" "$work/server.log" || true; }
more_logins() { [ "$(logins_of "$1" "$2")" -gt "$3" ]; }  # more_logins account 1 BEFORE
# wait_for SECONDS CMD...: polls CMD every 50ms until it succeeds or the time is up.
wait_for() {
  local end=$((SECONDS + $1)); shift
  until "$@"; do [ "$SECONDS" -lt "$end" ] || return 1; sleep 0.05; done
}

start_server() {
  local db=$work/m2m.db
  printf 'id,password,group,enabled,description\n0000000000FED24A,text:123,lab,1,a\n00000000075BCD15,text:456,lab,1,b\n' |
    "$BIN_DIR/m2m-server" device import --db "$db" 2>/dev/null
  printf 'id,name,password,groups,enabled,description\n1,operator,text:op,lab,1,\n' |
    "$BIN_DIR/m2m-server" account import --db "$db" 2>/dev/null
  "$BIN_DIR/m2m-server" serve --db "$db" --listen 127.0.0.1:0 >"$work/server.log" 2>&1 &
  server_pid=$!
  wait_for 10 grep -q '"listening"' "$work/server.log" || fail "server did not start: $(cat "$work/server.log")"
  srv=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    if l.startswith("{") and "\"listening\"" in l: print(json.loads(l)["tcp"]); break' "$work/server.log")
  [ -n "$srv" ] || fail "server did not report its address: $(cat "$work/server.log")"
}
