#!/usr/bin/env bash
# Server CPU per TCP heartbeat, m2m-server against the floor (bench_hb_floor: a bare epoll loop
# that reads and answers the same frames with no platform logic). The same driver logs in the
# same DEVICES devices to each and sends the same RATE heartbeats/s for SECONDS; the server's
# utime+stime is read over the heartbeat interval only (logins excluded). Alternates floor,
# server, floor, server… (REPS rounds) so that a change of machine load hits both; reports
# every run and the ratio of the best run of each (the least disturbed). Target: <= 1.15.
# The driver (FLOOR_DRIVER): loadtest (default) is m2m-loadtest run, each device heartbeating
# every DEVICES/RATE seconds, the interval read from its progress lines (capacity_cpu.py);
# hb_load is bench_hb_load, a small driver of this folder that reads the CPU itself.
#   BIN=build-bench/bin  FLOOR_DEVICES=10000  FLOOR_RATE=5000  FLOOR_SECONDS=30  FLOOR_REPS=2
#   FLOOR_DRIVER=loadtest|hb_load
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build-bench/bin}
. tests/bench/capacity_lib.sh
trap cap_cleanup EXIT
devices=${FLOOR_DEVICES:-10000}
rate=${FLOOR_RATE:-5000}
seconds=${FLOOR_SECONDS:-30}
reps=${FLOOR_REPS:-2}
driver=${FLOOR_DRIVER:-loadtest}
case $driver in loadtest | hb_load) ;; *) echo "bench: FLOOR_DRIVER is loadtest or hb_load, not '$driver'" >&2; exit 2 ;; esac
interval_ms=$(awk -v d="$devices" -v r="$rate" 'BEGIN { printf "%d", d * 1000 / r }')

echo "== capacity floor: server CPU per TCP heartbeat, m2m-server vs a bare epoll loop"
echo "   load: $devices TCP devices logged in, $rate heartbeats/s for ${seconds}s (each device every" \
  "${interval_ms}ms), $reps rounds; driver $([[ $driver == loadtest ]] && echo "m2m-loadtest run" || echo bench_hb_load)"
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
  if [[ $driver == hb_load ]]; then
    out=$("$BIN/bench_hb_load" --port "$port" --pid "$pid" --count "$devices" --rate "$rate" --duration "$seconds" --seed 1) || rc=$?
  else
    # logins at 5,000/s, then SECONDS of heartbeats measured between progress lines
    local total=$((seconds + devices / 5000 + 3))
    out=$(python3 tests/bench/capacity_cpu.py --pid "$pid" --devices "$devices" --stderr "$CAP_WORK/$kind.progress" -- \
      timeout --kill-after=10 $((total + 60)) "$BIN/m2m-loadtest" run --server "127.0.0.1:$port" --count "$devices" --seed 1 \
      --rate 5000/s --heartbeat "${interval_ms}ms" --duration "${total}s" --source-ips 127.0.0.2-127.0.0.5 --progress json \
      --json-out "$CAP_WORK/$kind.json" --slo 'login_fail=0,hb_loss=0')
    rc=$(cap_field "$out" rc)
    if [[ $out == *error* ]]; then echo "   $kind: $out"; tail -3 "$CAP_WORK/$kind.progress"; return; fi
    out=$(python3 -c '
import json, sys
o = json.loads(sys.argv[1]); r = json.load(open(sys.argv[2])); t = r["totals"]
o.update(hb_lost=t.get("hb_loss", 0), hb_late=t.get("late_sends", 0), logins_failed=t.get("login_fail", 0))
print(json.dumps(o))' "$out" "$CAP_WORK/$kind.json")
  fi
  local rss
  rss=$(cap_rss_kib "$pid")
  cap_stop "$pid"
  echo "   $kind: $out"
  local per
  per=$(cap_field "$out" server_cpu_us_per_hb)
  printf '   %-6s %s us CPU per heartbeat (%s s CPU for %s heartbeats acknowledged; over the run %s lost, %s late sends); RSS %s KiB\n' \
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
