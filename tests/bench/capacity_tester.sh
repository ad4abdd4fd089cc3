#!/usr/bin/env bash
# The tester's own cost (m2m-loadtest run, one worker process):
#  * resident memory per simulated TCP device (target <= 1 KiB): the peak RSS of a run with
#    TESTER_DEVICES devices less that of a run with 1,000, over the difference in devices (the
#    process's fixed cost, code and buffers, cancels out; kernel socket memory is not RSS);
#  * heartbeats per second per tester core (target >= 50,000): heartbeats acknowledged per CPU
#    second of the tester (all its processes) in the larger run, over its steady part only
#    (every device online), where every device heartbeats every TESTER_HEARTBEAT
#    (TESTER_DEVICES / TESTER_HEARTBEAT heartbeats/s offered: keep it within what the machine
#    gives the tester, or the figure measures a tester that fell behind).
#   BIN=build-bench/bin  TESTER_DEVICES=16000  TESTER_HEARTBEAT=1s  TESTER_SECONDS=30s
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build-bench/bin}
. tests/bench/capacity_lib.sh
trap cap_cleanup EXIT
devices=${TESTER_DEVICES:-16000}
hb=${TESTER_HEARTBEAT:-1s}
secs=${TESTER_SECONDS:-30s}
small=1000

echo "== capacity tester: m2m-loadtest's memory per TCP device and heartbeats per CPU second"
cap_conditions
db=$CAP_WORK/tester.db
cap_provision "$devices" "$db" --seed 19
peak_rss() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["resources"]["peak_rss_kib"])' "$1"; }

port=$(cap_port)
cap_serve small-server "$db" "$port"
cap_run small 120 --server "127.0.0.1:$port" --count "$small" --seed 19 --rate 5000/s --heartbeat "$hb" \
  --duration 10s --workers 1 --source-ips 127.0.0.2-127.0.0.5 --slo 'login_fail=0'
cap_stop "$CAP_SERVER_PID"
cap_figures small

port=$(cap_port)
cap_serve large-server "$db" "$port"
echo "   \$ m2m-loadtest run --server 127.0.0.1:$port --count $devices --seed 19 --rate 5000/s --heartbeat $hb --duration $secs --workers 1 --source-ips 127.0.0.2-127.0.0.5 --slo login_fail=0,hb_loss=0"
# The tester's CPU over the steady part only (every device online, heartbeats flowing),
# sampled at its progress lines (capacity_cpu.py).
steady=$(python3 tests/bench/capacity_cpu.py --pid "$CAP_SERVER_PID" --devices "$devices" --stderr "$CAP_WORK/large.progress" -- \
  timeout --kill-after=10 300 "$BIN/m2m-loadtest" run --server "127.0.0.1:$port" --count "$devices" --seed 19 --rate 5000/s \
  --heartbeat "$hb" --duration "$secs" --workers 1 --source-ips 127.0.0.2-127.0.0.5 --progress json \
  --json-out "$CAP_WORK/large.json" --slo 'login_fail=0,hb_loss=0')
echo "   steady interval: $steady"
cap_stop "$CAP_SERVER_PID"
cap_figures large --server "server=$CAP_WORK/large-server.out"
python3 - "$steady" <<'PY'
import json, sys
s = json.loads(sys.argv[1])
if s.get("tester_hb_per_cpu_s"):
    print("tester throughput: %d heartbeats acknowledged in %.1f s of steady load for %.2f tester CPU s: %d heartbeats "
          "per second per tester core (target >= 50000)" % (s["hb_acked"], s["interval_s"], s["tester_cpu_s"],
                                                            s["tester_hb_per_cpu_s"]))
else:
    print("tester throughput: no steady interval measured (%s)" % s.get("error", "?"))
PY
if [[ -s $CAP_WORK/small.json && -s $CAP_WORK/large.json ]]; then
  a=$(peak_rss "$CAP_WORK/small.json")
  b=$(peak_rss "$CAP_WORK/large.json")
  awk -v a="$a" -v b="$b" -v n="$devices" -v s="$small" 'BEGIN {
    printf "tester memory: peak RSS %d KiB with %d TCP devices, %d KiB with %d: %.0f bytes per simulated TCP device (target <= 1024)\n",
      b, n, a, s, (b - a) * 1024 / (n - s) }'
fi
cap_load
