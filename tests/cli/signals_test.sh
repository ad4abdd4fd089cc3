#!/usr/bin/env bash
# SIGINT/SIGTERM, decided once (cli.hpp, issue 15): a server or emulator stopped on purpose
# shuts down cleanly and exits 0 (cli::exit_after_interrupt(server_stop)); other programs exit
# 130 (examples_test covers m2m-decode on a line and m2m-send --listen).
. "$(dirname "$0")/common.bash"

# wait_until WHAT CMD...: polls CMD for at most 20 s.
wait_until() {
  local what=$1 i
  shift
  for ((i = 0; i < 400; i++)); do
    "$@" && return 0
    sleep 0.05
  done
  fail "timed out waiting for $what"
}

for sig in INT TERM; do
  "$BIN_DIR/gree-ctl" emulate --units 1023 --link "$TMP/ac" >emu.log 2>emu.err &
  pid=$!
  wait_until "the emulator's link" test -e "$TMP/ac"
  kill -s "$sig" "$pid"
  rc=0
  wait "$pid" || rc=$?
  expect_eq "gree-ctl emulate stopped by SIG$sig exits 0" 0 "$rc"
  expect_match "its log ends with the stopped event" '"event":"stopped"' "$(tail -1 emu.log)"
  [[ ! -e $TMP/ac ]] || fail "the emulator left its link behind after SIG$sig"
done

"$BIN_DIR/m2m-server" device add 0000000000FED24A --password text:123 --db reg.db 2>/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN_DIR/m2m-server" serve --db reg.db --listen "127.0.0.1:$port" >srv.log 2>srv.err &
pid=$!
wait_until "m2m-server listening" grep -q '"event":"listening"' srv.log
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
expect_eq "m2m-server serve stopped by SIGINT exits 0" 0 "$rc"
expect_match "its last event says it stopped" '"event":"(shutdown|stopped)"' "$(tail -1 srv.log)"
echo "signals_test: ok"
