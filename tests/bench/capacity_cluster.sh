#!/usr/bin/env bash
# m2m-server as a cluster on NATS (issue 13), driven by m2m-loadtest on this machine:
# CL_DEVICES TCP devices over CL_NODES `serve --cluster --reuseport` processes sharing one port
# (the kernel spreads connections over them by a hash of the addresses, so most relay pairs
# are held by different processes), the registry in the NATS bucket. All devices log in at
# CL_RATE, heartbeat every CL_HEARTBEAT and relay CL_RELAY frames/s within their groups for
# CL_DURATION. Goals: zero failed logins, zero lost heartbeats, zero lost relays; the relay
# p99 (<= 5 ms) with the share of relays that crossed processes; each node's memory.
# With CL_COMPARE=1 the same run follows without --cluster (the same processes on a shared
# registry file, relays between processes refused as offline and so not counted), and the
# difference in resident memory per online device is what cluster mode costs (<= 256 B).
# With CL_ENTRY=nodes each node listens on its own port instead and the tester is given them
# all (m2m-loadtest run --server A,B,…): the members of a group take the nodes in turn, so with
# groups of 10 on 2 or 5 nodes every relay crosses processes, and the relay p99 is the
# cross-node figure alone (issue 13: <= 5 ms at 10,000 frames/s).
#   BIN=build-bench/bin  CL_ENTRY=reuseport  CL_DEVICES=100000  CL_NODES=6  CL_RATE=5000/s  CL_HEARTBEAT=30s
#   CL_RELAY=2000/s  CL_DURATION=60s  CL_COMPARE=1  CL_SOURCES=127.0.0.2-127.0.0.11
#   CL_GROUPS=CL_DEVICES/10
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build-bench/bin}
. tests/bench/capacity_lib.sh
nats_pid=
cleanup() {
  [ -n "$nats_pid" ] && kill -KILL "$nats_pid" 2>/dev/null
  cap_cleanup
}
trap cleanup EXIT
devices=${CL_DEVICES:-100000}
nodes=${CL_NODES:-6}
rate=${CL_RATE:-5000/s}
hb=${CL_HEARTBEAT:-30s}
relay=${CL_RELAY:-2000/s}
duration=${CL_DURATION:-60s}
compare=${CL_COMPARE:-1}
entry=${CL_ENTRY:-reuseport}
case $entry in reuseport | nodes) ;; *) echo "capacity cluster: CL_ENTRY is reuseport or nodes, not '$entry'" >&2; exit 2 ;; esac
sources=${CL_SOURCES:-127.0.0.2-127.0.0.11}
groups=${CL_GROUPS:-$((devices / 10))}  # groups of 10: each relay has 9 possible targets
nats=$(command -v nats-server || echo /usr/sbin/nats-server)

if [ "$entry" = nodes ]; then
  echo "== capacity cluster: $devices TCP devices over $nodes m2m-server --cluster nodes, each on its own port, every relay across nodes, relay $relay"
else
  echo "== capacity cluster: $devices TCP devices over $nodes m2m-server --cluster --reuseport nodes, relay $relay"
fi
cap_conditions
echo "   nats:     $("$nats" --version 2>&1 | head -1), JetStream on, one server on loopback"

# One run: NAME, then "cluster" or "file". Prints the figures; leaves per-node peaks in NAME.peaks.
run_nodes() {
  local name=$1 mode=$2 port i url="" pids=() db=$CAP_WORK/$1.db
  port=$(cap_port)
  if [ "$mode" = cluster ]; then
    local nport
    nport=$(cap_port)
    "$nats" -a 127.0.0.1 -p "$nport" -js -sd "$CAP_WORK/nats-$name" >"$CAP_WORK/nats-$name.log" 2>&1 &
    nats_pid=$!
    cap_wait_line "$CAP_WORK/nats-$name.log" 'Server is ready' 20
    url=nats://127.0.0.1:$nport
    "$BIN/m2m-loadtest" provision --count "$devices" --seed 29 --groups "$groups" |
      "$BIN/m2m-server" device import --cluster "$url" 2>"$CAP_WORK/import.err" >/dev/null ||
      { cat "$CAP_WORK/import.err" >&2; return 1; }
  else
    cap_provision "$devices" "$db" --seed 29 --groups "$groups"
  fi
  local servers="" listen=(--reuseport)
  for ((i = 1; i <= nodes; i++)); do
    local where=(--db "$db")
    [ "$mode" = cluster ] && where=(--cluster "$url" --node "n$i")
    if [ "$entry" = nodes ]; then
      ((i > 1)) && port=$(cap_port)
      servers+=${servers:+,}127.0.0.1:$port
      listen=()
    fi
    "$BIN/m2m-server" serve -q "${where[@]}" --listen "127.0.0.1:$port" "${listen[@]}" --stats-interval 5s \
      >"$CAP_WORK/$name-n$i.out" 2>"$CAP_WORK/$name-n$i.err" &
    pids+=($!)
    CAP_PIDS+=($!)
    cap_wait_line "$CAP_WORK/$name-n$i.out" '"listening"' 60 || { cat "$CAP_WORK/$name-n$i.err" >&2; return 1; }
  done
  if [ "$mode" = cluster ]; then  # every node has met every other before devices come
    for ((i = 1; i <= nodes; i++)); do
      for _ in $(seq 100); do
        (($(grep -c '"state":"joined"' "$CAP_WORK/$name-n$i.out") >= nodes - 1)) && break
        sleep 0.1
      done
    done
  fi
  # Each node's resident memory before any device: what the devices then add is theirs. The
  # least of three samples over a second: a node may be rereading the registry file (another
  # node's start touched it) and hold two copies for a moment, which it hands back after.
  for ((i = 1; i <= nodes; i++)); do
    local least= k r
    for k in 1 2 3; do
      r=$(cap_rss_kib "${pids[i - 1]}")
      [ -z "$least" ] || ((r < least)) || r=$least
      least=$r
      ((k < 3)) && sleep 0.5
    done
    echo "$least"
  done >"$CAP_WORK/$name.base"
  [ -z "$servers" ] && servers=127.0.0.1:$port
  if [ "$entry" = nodes ]; then
    echo "   -- $mode: $nodes nodes on $servers, the tester given them all (pids ${pids[*]})"
  else
    echo "   -- $mode: $nodes nodes on 127.0.0.1:$port (pids ${pids[*]})"
  fi
  # Without the cluster, a relay to a device another process holds is refused (offline):
  # only the cluster run has relay goals.
  local slo='login_fail=0,connect_fail=0,hb_loss=0'
  [ "$mode" = cluster ] && slo="$slo,relay_loss=0,relay_p99<5ms"
  cap_run "$name" 900 --server "$servers" --count "$devices" --seed 29 --groups "$groups" --rate "$rate" \
    --heartbeat "$hb" --relay "$relay" --duration "$duration" --source-ips "$sources" --slo "$slo"
  local args=()
  for ((i = 1; i <= nodes; i++)); do
    cap_stop "${pids[i - 1]}"
    args+=(--server "n$i=$CAP_WORK/$name-n$i.out")
  done
  [ -n "$nats_pid" ] && { kill -TERM "$nats_pid" 2>/dev/null; wait "$nats_pid" 2>/dev/null || true; nats_pid=; }
  cap_figures "$name" "${args[@]}"
  python3 - "$CAP_WORK" "$name" "$nodes" "$devices" <<'PY'
import json, sys
work, name, n, devices = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
tcp = rss = relays = out = added = 0
base = [int(x) for x in open("%s/%s.base" % (work, name)).read().split()]
for i in range(1, n + 1):
    peak_tcp = peak_rss = last = 0
    last = {}
    for line in open("%s/%s-n%d.out" % (work, name, i)):
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("event") == "stats":
            if ev.get("online_tcp", 0) >= peak_tcp:
                peak_tcp, peak_rss = ev.get("online_tcp", 0), ev.get("rss_kib", 0)
            last = ev
    print("   n%d: %d TCP devices at the peak, %.1f MiB resident then, %.1f MiB before any device"
          " (%.0f B per device held)" % (i, peak_tcp, peak_rss / 1024, base[i - 1] / 1024,
                                         (peak_rss - base[i - 1]) * 1024 / max(1, peak_tcp)))
    tcp += peak_tcp
    rss += peak_rss
    added += peak_rss - base[i - 1]
    relays += last.get("relays", 0)
    out += last.get("cluster_relays_out", 0)
print("   all nodes: %d TCP devices online at the peak, %.1f MiB resident together; the devices added"
      " %.1f MiB, %.0f B per device" % (tcp, rss / 1024, added / 1024, added * 1024 / max(1, tcp)))
if out:
    print("   relays: %d delivered by the platform, %d of them (%.0f%%) crossed processes over NATS"
          % (relays + 0, out, 100.0 * out / max(1, relays)))
open("%s/%s.peaks" % (work, name), "w").write("%d %d\n" % (tcp, added))
PY
}

run_nodes cl cluster
status=$CAP_RC
if [ "$compare" = 1 ]; then
  run_nodes file file
  read -r tcp1 rss1 <"$CAP_WORK/cl.peaks"
  read -r tcp2 rss2 <"$CAP_WORK/file.peaks"
  awk -v t1="$tcp1" -v r1="$rss1" -v t2="$tcp2" -v r2="$rss2" 'BEGIN {
    a = r1 * 1024 / t1; b = r2 * 1024 / t2
    printf "   cluster mode costs %.0f B of resident memory per online device, all nodes together (the devices added %.0f B each with --cluster, %.0f B without; target <= 256 B)\n", a - b, a, b }'
fi
cap_load
exit $((status == 0 ? 0 : 1))
