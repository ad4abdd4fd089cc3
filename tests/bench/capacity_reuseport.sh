#!/usr/bin/env bash
# RP_DEVICES TCP devices (default 100,000) on this machine: RP_SERVERS m2m-server serve
# --reuseport processes share one port (the kernel spreads new connections over them by a
# hash of the addresses), each under the 20,000 file limit, all serving the same registry
# file. m2m-loadtest splits itself into workers (the file limit) and binds source addresses
# across RP_SOURCES (ports per source address). All devices log in at RP_RATE and heartbeat
# every RP_HEARTBEAT for RP_DURATION; zero failed logins and zero lost heartbeats is the goal.
# Nothing crosses processes: each server knows only its own sessions (no relay between them).
#   BIN=build-bench/bin  RP_DEVICES=100000  RP_SERVERS=7  RP_RATE=5000/s  RP_HEARTBEAT=30s
#   RP_DURATION=90s  RP_SOURCES=127.0.0.2-127.0.0.11
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build-bench/bin}
. tests/bench/capacity_lib.sh
trap cap_cleanup EXIT
devices=${RP_DEVICES:-100000}
servers=${RP_SERVERS:-7}
rate=${RP_RATE:-5000/s}
hb=${RP_HEARTBEAT:-30s}
duration=${RP_DURATION:-90s}
sources=${RP_SOURCES:-127.0.0.2-127.0.0.11}

echo "== capacity reuseport: $devices TCP devices over $servers m2m-server --reuseport processes on one port"
cap_conditions
db=$CAP_WORK/rp.db
cap_provision "$devices" "$db" --seed 23 --groups 100
port=$(cap_port)
pids=()
for ((i = 1; i <= servers; i++)); do
  cap_serve "server$i" "$db" "$port" --reuseport --stats-interval 5s
  pids+=("$CAP_SERVER_PID")
done
echo "   servers: ${pids[*]} on 127.0.0.1:$port"
cap_run rp 600 --server "127.0.0.1:$port" --count "$devices" --seed 23 --groups 100 --rate "$rate" \
  --heartbeat "$hb" --duration "$duration" --source-ips "$sources" \
  --slo 'login_fail=0,connect_fail=0,hb_loss=0,errors=0'
args=()
for ((i = 1; i <= servers; i++)); do
  cap_stop "${pids[i - 1]}"
  args+=(--server "server$i=$CAP_WORK/server$i.out")
done
cap_figures rp "${args[@]}"
python3 - "$CAP_WORK" "$servers" <<'PY'
import json, sys
work, n = sys.argv[1], int(sys.argv[2])
tcp = rss = 0
for i in range(1, n + 1):
    peak_tcp = peak_rss = 0
    for line in open("%s/server%d.out" % (work, i)):
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("event") == "stats":
            peak_tcp = max(peak_tcp, ev.get("online_tcp", 0))
            peak_rss = max(peak_rss, ev.get("rss_kib", 0))
    tcp += peak_tcp
    rss += peak_rss
print("all servers: %d TCP devices online at the peak, %d MiB resident together" % (tcp, rss // 1024))
PY
cap_load
exit $((CAP_RC == 0 ? 0 : 1))
