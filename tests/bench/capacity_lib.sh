# Shared by the capacity benchmarks (tests/bench/capacity_*.sh, run by `scripts/bench
# capacity`): the conditions every figure is printed with, a provisioned registry, servers
# started and stopped whatever happens. Sourced, not run. Needs BIN (the built programs).
#
# Every process started here is recorded in CAP_PIDS and stopped by cap_cleanup, which the
# caller installs with `trap cap_cleanup EXIT`; the work directory goes with it.

CAP_PIDS=()
CAP_WORK=$(mktemp -d /tmp/m2m-capacity.XXXXXX)

cap_cleanup() {
  local p
  for p in "${CAP_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${CAP_PIDS[@]}"; do
    # a bounded wait, then SIGKILL: nothing outlives the benchmark
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  CAP_PIDS=()
  rm -rf "$CAP_WORK"
}

# The machine, kernel, limits and load a figure ran under.
cap_conditions() {
  local mem
  mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
  echo "   machine:  $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) cores, $mem"
  echo "   kernel:   $(uname -sr)"
  echo "   limits:   open files $(ulimit -Sn) soft / $(ulimit -Hn) hard per process;" \
    "ephemeral ports $(tr -s '\t ' '-' < /proc/sys/net/ipv4/ip_local_port_range);" \
    "somaxconn $(cat /proc/sys/net/core/somaxconn)"
  echo "   load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at $(date -u +%H:%M:%SZ);" \
    "server and tester share this machine"
  CAP_CPU_START=$(head -1 /proc/stat)
}

# The load after the run, and the share of the machine's time that went to steal (a virtual
# machine's CPUs taken by the hypervisor for its other guests: the tail latencies of a run with
# steal measure the neighbours as much as the platform) and to idle since cap_conditions.
cap_load() {
  echo "   load avg after: $(cut -d' ' -f1-3 /proc/loadavg)"
  [ -n "${CAP_CPU_START:-}" ] || return 0
  printf '%s\n%s\n' "$CAP_CPU_START" "$(head -1 /proc/stat)" | awk '
    { t = 0; for (i = 2; i <= 9; i++) t += $i; total[NR] = t; idle[NR] = $5; steal[NR] = $9 }
    END { d = total[2] - total[1]; if (d > 0)
      printf "   cpu time since the start: %.1f%% steal, %.1f%% idle (/proc/stat, all cores)\n",
        100 * (steal[2] - steal[1]) / d, 100 * (idle[2] - idle[1]) / d }'
}

# A port of 127.0.0.1 free for TCP and for UDP (the server binds both).
cap_port() {
  python3 -c '
import socket
while True:
    t = socket.socket()
    t.bind(("127.0.0.1", 0))
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(port)
    break'
}

# cap_provision COUNT DB [provision options…]: the population m2m-loadtest run regenerates
# from the same seed, imported into a fresh registry.
cap_provision() {
  local count=$1 db=$2
  shift 2
  rm -f "$db"
  "$BIN/m2m-loadtest" provision --count "$count" "$@" | "$BIN/m2m-server" device import --db "$db" >/dev/null 2>"$CAP_WORK/import.err" ||
    { cat "$CAP_WORK/import.err" >&2; return 1; }
}

# cap_wait_line FILE REGEX SECONDS: polls until FILE has a line matching REGEX.
cap_wait_line() {
  local file=$1 re=$2 secs=$3 i
  for ((i = 0; i < secs * 10; i++)); do
    grep -Eq "$re" "$file" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench: no line matching '$re' in $file after ${secs}s:" >&2
  tail -5 "$file" >&2
  return 1
}

# cap_serve NAME DB PORT [serve options…]: starts m2m-server serve in the background; sets
# CAP_SERVER_PID once it is listening. Its stdout/stderr go to $CAP_WORK/NAME.out/.err.
cap_serve() {
  local name=$1 db=$2 port=$3
  shift 3
  "$BIN/m2m-server" serve -q --db "$db" --listen "127.0.0.1:$port" "$@" \
    >"$CAP_WORK/$name.out" 2>"$CAP_WORK/$name.err" &
  CAP_SERVER_PID=$!
  CAP_PIDS+=("$CAP_SERVER_PID")
  cap_wait_line "$CAP_WORK/$name.out" '"listening"' 60 || { sed 's/^/   server said: /' "$CAP_WORK/$name.err" >&2; return 1; }
}

# cap_stop PID: SIGTERM and a bounded wait (then SIGKILL).
cap_stop() {
  local p=$1
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}

# VmRSS and VmHWM of a process, in KiB.
cap_rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
cap_hwm_kib() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }

# A JSON field of a one-line object (numbers and plain strings only).
cap_field() {
  python3 -c '
import json, sys
v = json.loads(sys.argv[1])
for k in sys.argv[2].split("."):
    v = v[k]
print(v)' "$1" "$2"
}

# cap_run NAME SECONDS [m2m-loadtest run options…]: one run, bounded by SECONDS (then
# SIGTERM), its report in $CAP_WORK/NAME.json and its progress lines in NAME.progress; the
# command is printed as a user would type it. Sets CAP_RC to its exit status (0 every --slo
# goal held, 7 one missed, 1 the tester failed).
cap_run() {
  local name=$1 bound=$2
  shift 2
  echo "   \$ m2m-loadtest run $*"
  CAP_RC=0
  timeout --kill-after=10 "$bound" "$BIN/m2m-loadtest" run "$@" --progress json --json-out "$CAP_WORK/$name.json" \
    >"$CAP_WORK/$name.stdout" 2>"$CAP_WORK/$name.progress" || CAP_RC=$?
  grep -v '^{' "$CAP_WORK/$name.progress" | sed 's/^/   tester said: /' | tail -20 || true
  echo "   exit status $CAP_RC$( ((CAP_RC == 0)) && echo ' (every --slo goal held)')"
}

# cap_figures NAME [capacity_report.py options…]: the run's figures.
cap_figures() {
  local name=$1
  shift
  if [[ -s "$CAP_WORK/$name.json" ]]; then
    python3 tests/bench/capacity_report.py "$CAP_WORK/$name.json" --progress "$CAP_WORK/$name.progress" "$@"
  else
    echo "   no report ($CAP_WORK/$name.json is missing)"
  fi
}

# The kernel's UDP drop counters (/proc/net/snmp, every socket of this network namespace):
# "RcvbufErrors SndbufErrors" — datagrams dropped because a receive or send buffer was full.
cap_udp_drops() {
  awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) col[$i] = i; h = 1 } else print $col["RcvbufErrors"], $col["SndbufErrors"] }' /proc/net/snmp
}

# CPU seconds (utime + stime, every thread) a process has used so far.
cap_cpu_s() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"
}
