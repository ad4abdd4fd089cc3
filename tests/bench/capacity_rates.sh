#!/usr/bin/env bash
# Rates through one m2m-server process:
#  * logins per second (target >= 20,000): a TCP ramp of RATE_TCP_DEVICES devices asked to log
#    in at RATE_LOGIN (connect + login per device), and a UDP ramp of RATE_UDP_DEVICES devices
#    at the same rate (the login alone); the busiest second and the mean over the ramp;
#  * relay frames per second (target >= 50,000): RATE_RELAY_DEVICES TCP devices in groups of
#    10 relaying RATE_RELAY frames/s to each other (every frame numbered: loss, duplicates and
#    reordering counted by the receivers);
#  * relay p99 end to end at 10,000 frames/s (target <= 2 ms): the same devices at 10,000/s,
#    each latency from the frame's intended send time to its arrival at the receiver.
#   BIN=build-bench/bin  RATE_LOGIN=30000/s  RATE_TCP_DEVICES=18000  RATE_UDP_DEVICES=300000
#   RATE_RELAY_DEVICES=2000  RATE_RELAY=60000/s  RATE_SECONDS=30s
#   RATE_PARTS="login-tcp login-udp relay relay-p99" (which parts run)
# Each part also prints the server's CPU seconds over the run: frames per server CPU second
# is what one server core sustains, whatever else the machine was doing.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build-bench/bin}
. tests/bench/capacity_lib.sh
trap cap_cleanup EXIT
login=${RATE_LOGIN:-30000/s}
tcp_n=${RATE_TCP_DEVICES:-18000}
udp_n=${RATE_UDP_DEVICES:-300000}
relay_n=${RATE_RELAY_DEVICES:-2000}
relay=${RATE_RELAY:-60000/s}
secs=${RATE_SECONDS:-30s}
status=0
parts=${RATE_PARTS:-login-tcp login-udp relay relay-p99}
want() { [[ " $parts " == *" $1 "* ]]; }

echo "== capacity rates: logins/s, relay frames/s and relay p99 through one m2m-server process"
cap_conditions
# Two registries: the login population (one group), and the relay one in groups of 10 (device
# i is in group i mod G, so G = devices / 10).
cap_provision "$udp_n" "$CAP_WORK/logins.db" --seed 17
relay_groups=$((relay_n / 10))
cap_provision "$relay_n" "$CAP_WORK/relay.db" --seed 17 --groups "$relay_groups"

one_run() {  # one_run NAME DB [run options…]: a fresh server, one run, its figures
  local name=$1 db=$2
  shift 2
  local port
  port=$(cap_port)
  cap_serve "$name-server" "$db" "$port" --stats-interval 1s
  local drops0 drops1 cpu0 cpu1
  drops0=$(cap_udp_drops)
  cpu0=$(cap_cpu_s "$CAP_SERVER_PID")
  cap_run "$name" 300 --server "127.0.0.1:$port" --seed 17 "$@"
  cpu1=$(cap_cpu_s "$CAP_SERVER_PID")
  drops1=$(cap_udp_drops)
  echo "   server CPU during the run: $(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }') s"
  [[ $* == *--udp* ]] && echo "   kernel UDP drops during the run (full buffers): receive $(( ${drops1% *} - ${drops0% *} )), send $(( ${drops1#* } - ${drops0#* } ))"
  ((CAP_RC == 0)) || status=1
  cap_stop "$CAP_SERVER_PID"
  cap_figures "$name" --server "server=$CAP_WORK/$name-server.out"
}

if want login-tcp; then
echo "-- logins, TCP: $tcp_n devices asked to connect and log in at $login"
one_run login-tcp "$CAP_WORK/logins.db" --count "$tcp_n" --rate "$login" --heartbeat 0 --duration 15s \
  --source-ips 127.0.0.2-127.0.0.5 --slo 'login_fail=0,connect_fail=0'
fi
if want login-udp; then
echo "-- logins, UDP: $udp_n devices asked to log in at $login"
one_run login-udp "$CAP_WORK/logins.db" --udp --count "$udp_n" --rate "$login" --heartbeat 0 --duration 20s \
  --source-ips 127.0.0.2-127.0.0.5 --slo 'login_fail=0'
fi
if want relay; then
echo "-- relay throughput: $relay_n TCP devices in groups of 10, $relay for $secs"
one_run relay "$CAP_WORK/relay.db" --groups "$relay_groups" --count "$relay_n" --rate 5000/s --heartbeat 30s --duration "$secs" --relay "$relay" \
  --slo 'login_fail=0,relay_loss=0,relay_dup=0'
fi
if want relay-p99; then
echo "-- relay latency: the same devices at 10000/s for $secs"
one_run relay-p99 "$CAP_WORK/relay.db" --groups "$relay_groups" --count "$relay_n" --rate 5000/s --heartbeat 30s --duration "$secs" --relay 10000/s \
  --slo 'login_fail=0,relay_loss=0,relay_p99<=2ms'
fi
cap_load
exit $status
