#!/usr/bin/env bash
# UDP_DEVICES UDP devices (default 1,000,000) on one m2m-server: UDP devices need no
# descriptor on the server; the tester shares one UDP socket among many devices and spreads
# them over worker processes and source addresses. They log in at UDP_RATE/s and heartbeat
# every UDP_HEARTBEAT for UDP_DURATION (the ramp included); zero failed logins and zero lost
# heartbeats is the goal. Where it does not hold, the figures say where it stopped: logins
# and heartbeats counted by the tester and by the server, drops, late sends (the tester fell
# behind), and both sides' memory.
#   BIN=build-bench/bin  UDP_DEVICES=1000000  UDP_RATE=20000/s  UDP_HEARTBEAT=30s  UDP_DURATION=2m
#   UDP_WORKERS (default: the tester's choice)  UDP_SOURCES (default 127.0.0.2-127.0.0.9)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build-bench/bin}
. tests/bench/capacity_lib.sh
trap cap_cleanup EXIT
devices=${UDP_DEVICES:-1000000}
rate=${UDP_RATE:-20000/s}
hb=${UDP_HEARTBEAT:-30s}
duration=${UDP_DURATION:-2m}
sources=${UDP_SOURCES:-127.0.0.2-127.0.0.9}
workers=()
[[ -n ${UDP_WORKERS:-} ]] && workers=(--workers "$UDP_WORKERS")

echo "== capacity udp: one m2m-server, $devices UDP devices heartbeating every $hb"
cap_conditions
echo "   udp buffers: net.core.rmem_default $(cat /proc/sys/net/core/rmem_default), rmem_max $(cat /proc/sys/net/core/rmem_max)"
db=$CAP_WORK/udp.db
start=$(date +%s.%N)
cap_provision "$devices" "$db" --seed 13 --groups 1000
printf "   registry: %d devices provisioned and imported in %.1f s (%.1f MiB file)\n" "$devices" \
  "$(echo "$(date +%s.%N) - $start" | bc)" "$(echo "$(stat -c %s "$db") / 1048576" | bc -l)"
port=$(cap_port)
cap_serve server "$db" "$port" --stats-interval 5s
base=$(cap_rss_kib "$CAP_SERVER_PID")
echo "   server: RSS $base KiB with the registry of $devices devices loaded"
drops0=$(cap_udp_drops)
cap_run udp 900 --server "127.0.0.1:$port" --udp --count "$devices" --seed 13 --groups 1000 --rate "$rate" \
  --heartbeat "$hb" --duration "$duration" --source-ips "$sources" "${workers[@]}" \
  --slo 'login_fail=0,hb_loss=0,errors=0'
drops1=$(cap_udp_drops)
cap_stop "$CAP_SERVER_PID"
echo "   kernel UDP drops during the run (full buffers, every socket on the machine): receive $(( ${drops1% *} - ${drops0% *} )), send $(( ${drops1#* } - ${drops0#* } ))"
cap_figures udp --server "server=$CAP_WORK/server.out" --baseline-rss "server=$base"
cap_load
exit $((CAP_RC == 0 ? 0 : 1))
