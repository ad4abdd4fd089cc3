#!/usr/bin/env bash
# Server CPU per TCP heartbeat, m2m-server against the floor (bench_hb_floor: a bare epoll loop
# that reads and answers the same frames with no platform logic). bench_hb_load logs in the
# same DEVICES devices to each, sends the same RATE heartbeats/s for SECONDS, and reads the
# server's utime+stime over exactly that interval. Alternates floor, server, floor, server…
# (REPS rounds) so that a change of machine load hits both; reports every run and the ratio of
# the best run of each (the least disturbed). Target: ratio <= 1.15.
#   BIN=build-bench/bin  FLOOR_DEVICES=10000  FLOOR_RATE=20000  FLOOR_SECONDS=30  FLOOR_REPS=2
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build-bench/bin}
. tests/bench/capacity_lib.sh
trap cap_cleanup EXIT
devices=${FLOOR_DEVICES:-10000}
rate=${FLOOR_RATE:-20000}
seconds=${FLOOR_SECONDS:-30}
reps=${FLOOR_REPS:-2}

echo "== capacity floor: server CPU per TCP heartbeat, m2m-server vs a bare epoll loop"
echo "   load: $devices TCP devices logged in, $rate heartbeats/s for ${seconds}s (each device every" \
  "$(awk -v d="$devices" -v r="$rate" 'BEGIN { printf "%.2f", d / r }')s), $reps rounds; driver bench_hb_load"
cap_conditions
db=$CAP_WORK/floor.db
cap_provision "$devices" "$db" --seed 1

best_floor= best_server=
run_one() {  # run_one floor|server -> prints the driver's JSON and the per-heartbeat figure
  local kind=$1 port pid out
  port=$(cap_port)
  if [[ $kind == floor ]]; then
    "$BIN/bench_hb_floor" --port "$port" >"$CAP_WORK/floor.out" 2>&1 &
    pid=$!
    CAP_PIDS+=("$pid")
    cap_wait_line "$CAP_WORK/floor.out" '"listening"' 10
  else
    cap_serve server "$db" "$port" --heartbeat-timeout 10m
    pid=$CAP_SERVER_PID
  fi
  local rc=0
  out=$("$BIN/bench_hb_load" --port "$port" --pid "$pid" --count "$devices" --rate "$rate" --duration "$seconds" --seed 1) || rc=$?
  local rss
  rss=$(cap_rss_kib "$pid")
  cap_stop "$pid"
  echo "   $kind: $out"
  local per
  per=$(cap_field "$out" server_cpu_us_per_hb)
  printf '   %-6s %s us CPU per heartbeat (%s s CPU for %s heartbeats acknowledged, %s lost, %s late sends); RSS %s KiB\n' \
    "$kind" "$per" "$(cap_field "$out" server_cpu_s)" "$(cap_field "$out" hb_acked)" "$(cap_field "$out" hb_lost)" \
    "$(cap_field "$out" hb_late)" "$rss"
  if ((rc != 0)); then echo "   $kind: the driver saw failed logins or lost heartbeats (exit $rc): this run does not count"; return; fi
  if [[ $kind == floor ]]; then
    if [[ -z $best_floor ]] || awk -v a="$per" -v b="$best_floor" 'BEGIN { exit !(a < b) }'; then best_floor=$per; fi
  else
    if [[ -z $best_server ]] || awk -v a="$per" -v b="$best_server" 'BEGIN { exit !(a < b) }'; then best_server=$per; fi
  fi
}
for ((r = 1; r <= reps; r++)); do
  run_one floor
  run_one server
done
cap_load
if [[ -n $best_floor && -n $best_server ]]; then
  awk -v f="$best_floor" -v s="$best_server" 'BEGIN {
    printf "m2m-server %.3f us vs floor %.3f us CPU per heartbeat (best of each): ratio %.2f (target <= 1.15)\n", s, f, s / f }'
else
  echo "bench: no complete run of both programs: no ratio"
  exit 1
fi
