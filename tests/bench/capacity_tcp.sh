#!/usr/bin/env bash
# One m2m-server holds TCP_DEVICES TCP devices (default 18,000: the file limit of 20,000 less
# the server's own descriptors and some margin) logging in at TCP_RATE/s and heartbeating every
# TCP_HEARTBEAT for TCP_DURATION; the goal is zero failed logins and zero lost heartbeats
# (m2m-loadtest's --slo decides). Prints the server's RSS with the registry loaded and at its
# peak, and the tester's own cost (RSS per simulated device, heartbeats per CPU second).
#   BIN=build-bench/bin  TCP_DEVICES=18000  TCP_RATE=2000/s  TCP_HEARTBEAT=30s  TCP_DURATION=2m
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build-bench/bin}
. tests/bench/capacity_lib.sh
trap cap_cleanup EXIT
devices=${TCP_DEVICES:-18000}
rate=${TCP_RATE:-2000/s}
hb=${TCP_HEARTBEAT:-30s}
duration=${TCP_DURATION:-2m}

echo "== capacity tcp: one m2m-server, $devices TCP devices heartbeating every $hb"
cap_conditions
db=$CAP_WORK/tcp.db
cap_provision "$devices" "$db" --seed 11 --groups 100
port=$(cap_port)
cap_serve server "$db" "$port" --stats-interval 5s
base=$(cap_rss_kib "$CAP_SERVER_PID")
echo "   server: RSS $base KiB with the registry of $devices devices loaded"
cap_run tcp 600 --server "127.0.0.1:$port" --count "$devices" --seed 11 --groups 100 --rate "$rate" \
  --heartbeat "$hb" --duration "$duration" --source-ips 127.0.0.2-127.0.0.5 \
  --slo 'login_fail=0,connect_fail=0,hb_loss=0,errors=0'
cap_stop "$CAP_SERVER_PID"
cap_figures tcp --server "server=$CAP_WORK/server.out" --baseline-rss "server=$base"
cap_load
exit $((CAP_RC == 0 ? 0 : 1))
