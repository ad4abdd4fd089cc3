#!/usr/bin/env bash
# Cross-node relay latency (issue 13: p99 <= 5 ms at 10,000 frames/s): two `serve --cluster`
# nodes, each on its own port, 2,000 TCP devices in groups of 10 whose members take the nodes in
# turn (m2m-loadtest run --server A,B), so every relay crosses from one node to the other over
# NATS and back (its acknowledgement). The run is capacity_cluster.sh's with these settings;
# any of its CL_ knobs may still be given.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CL_ENTRY=${CL_ENTRY:-nodes} CL_NODES=${CL_NODES:-2} CL_DEVICES=${CL_DEVICES:-2000} \
  CL_RELAY=${CL_RELAY:-10000/s} CL_DURATION=${CL_DURATION:-30s} CL_COMPARE=${CL_COMPARE:-0} \
  CL_HEARTBEAT=${CL_HEARTBEAT:-30s}
exec bash tests/bench/capacity_cluster.sh
