#!/usr/bin/env bash
# P2P through real NAT (issue 9): two simulated devices, each behind its own masquerading
# router, and the platform in a "public" network namespace. The devices only know their
# private addresses; the platform introduces each to the other's NAT mapping; they punch
# through with link.p2p_confirm and the data goes directly from NAT to NAT: it reaches the
# peer from the other router's public address, and the platform's relay counter stays 0.
#
#   a (192.0.2.2) ---- r1 [masquerade] 203.0.113.2 --\
#                                                     pub: bridge 203.0.113.1/24, m2m-server
#   b (198.51.100.2) -- r2 [masquerade] 203.0.113.3 --/
#
# (One public address for the platform: a UDP reply must come from the address the device
# sent to, or its NAT drops it.)
#
# RFC 5737 addresses, only inside namespaces this test makes (unique names per run) and
# removes whatever happens. Needs root (CI runs as root); where namespaces are refused the
# test fails and says why: it never passes silently.
set -euo pipefail
BIN_DIR=${BIN_DIR:?BIN_DIR must point at the built programs}
fail() { echo "FAIL: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "network namespaces need root (run as root, as CI does)"
command -v nft >/dev/null || fail "nft is missing: scripts/setup installs nftables"
command -v ip >/dev/null || fail "ip is missing: scripts/setup installs iproute2"

tag="m2mnat$$"
pub="${tag}pub" r1="${tag}r1" r2="${tag}r2" a="${tag}a" b="${tag}b"
work=$(mktemp -d)
pids=()
made=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for ns in "${made[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for ns in "$pub" "$r1" "$r2" "$a" "$b"; do
  ip netns add "$ns" 2>"$work/err" || fail "cannot create network namespace $ns: $(cat "$work/err")"
  made+=("$ns")
  ip -n "$ns" link set lo up
done

# link NS1 IF1 ADDR1 NS2 IF2 ADDR2: a veth pair made inside the namespaces (no name in the
# root namespace, so parallel runs cannot collide); ADDR1 "-" leaves IF1 without one
link() {
  ip -n "$1" link add "$2" type veth peer name "$5" netns "$4"
  [ "$3" = - ] || ip -n "$1" addr add "$3" dev "$2"
  ip -n "$4" addr add "$6" dev "$5"
  ip -n "$1" link set "$2" up
  ip -n "$4" link set "$5" up
}
ip -n "$pub" link add br0 type bridge
ip -n "$pub" addr add 203.0.113.1/24 dev br0
ip -n "$pub" link set br0 up
link "$pub" r1 - "$r1" wan 203.0.113.2/24
link "$pub" r2 - "$r2" wan 203.0.113.3/24
ip -n "$pub" link set r1 master br0
ip -n "$pub" link set r2 master br0
link "$r1" lan 192.0.2.1/24 "$a" eth0 192.0.2.2/24
link "$r2" lan 198.51.100.1/24 "$b" eth0 198.51.100.2/24
ip -n "$a" route add default via 192.0.2.1
ip -n "$b" route add default via 198.51.100.1
for ns in "$r1" "$r2"; do ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1; done
for ns in "$r1" "$r2"; do
  # A home router: masquerade out of the WAN port, and a stateful firewall that drops what
  # nobody inside asked for (so a probe arriving before the inside one went out leaves no
  # conntrack entry behind that would make the NAT pick another port later).
  ip netns exec "$ns" nft -f - <<'NFT' || fail "nft refused the router rules in $ns"
table ip nat {
  chain postrouting { type nat hook postrouting priority 100; oifname "wan" masquerade; }
}
table ip filter {
  chain input { type filter hook input priority 0; policy drop; ct state established,related accept; iifname { "lo", "lan" } accept; }
  chain forward { type filter hook forward priority 0; policy drop; ct state established,related accept; iifname "lan" accept; }
}
NFT
done
# The public side has no route to the private networks: only the NAT mappings reach them.
ip -n "$pub" route get 192.0.2.2 >/dev/null 2>&1 && fail "the platform has a route to a's private network"

A=00000000000000A1
B=00000000000000B2
"$BIN_DIR/m2m-server" device import --db "$work/m2m.db" >/dev/null 2>&1 <<CSV
id,password,group,enabled,description
$A,text:123,default,1,behind r1
$B,text:123,default,1,behind r2
CSV
ip netns exec "$pub" "$BIN_DIR/m2m-server" serve --db "$work/m2m.db" --listen 0.0.0.0:8266 --stats-interval 1s \
  >"$work/server.log" 2>"$work/server.err" &
pids+=($!)

# wait_for FILE REGEX WHAT [SECONDS]: a bounded wait for a line in a growing file
wait_for() {
  local deadline=$((SECONDS + ${4:-15}))
  until grep -Eq "$2" "$1" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || fail "no $3 within ${4:-15}s; $1: $(tail -5 "$1" 2>/dev/null)"
    sleep 0.1
  done
}
wait_for "$work/server.log" '"event":"listening"' "listening server"

ip netns exec "$b" "$BIN_DIR/m2m-simdevice" -s 203.0.113.1:8266 -u --id "$B" --password text:123 -v -t 60s \
  >"$work/b.out" 2>"$work/b.err" </dev/null &
pids+=($!)
wait_for "$work/b.err" '"event":"login"' "login of b"

mkfifo "$work/a.in"
ip netns exec "$a" "$BIN_DIR/m2m-simdevice" -s 203.0.113.1:8266 -u --id "$A" --password text:123 -v -t 60s \
  --p2p-with "$B" --p2p-timeout 10s <"$work/a.in" >"$work/a.out" 2>"$work/a.err" &
pids+=($!)
exec 3>"$work/a.in"  # a's stdin stays open until the test writes its line

# The platform sees both devices only at their routers' public addresses.
wait_for "$work/server.log" "\"event\":\"login\",\"device\":\"$A\".*\"peer\":\"203\\.0\\.113\\.2:" "login of a from r1's address"
wait_for "$work/server.log" "\"event\":\"login\",\"device\":\"$B\".*\"peer\":\"203\\.0\\.113\\.3:" "login of b from r2's address"
wait_for "$work/b.err" 'introduced to 00000000000000A1, punching to 203\.0\.113\.2:' "introduction of a to b"
wait_for "$work/a.err" '"detail":"direct 203\.0\.113\.3:' "a's direct path to b's NAT"
wait_for "$work/b.err" '"detail":"direct 203\.0\.113\.2:' "b's direct path to a's NAT"

echo "through the NAT" >&3
wait_for "$work/b.out" '"type":"data.p2p_send"' "P2P data at b"
python3 - "$work/b.out" "$A" <<'PY' || fail "the P2P record at b is not what a sent: $(cat "$work/b.out")"
import json, sys
rec = [json.loads(l) for l in open(sys.argv[1]) if '"data.p2p_send"' in l][0]
assert rec["body"]["sender"] == sys.argv[2], rec
assert bytes.fromhex(rec["body"]["payload"]) == b"through the NAT", rec
assert rec["peer"].startswith("203.0.113.2:"), rec   # from r1's mapping, not from the platform
assert rec["device"] == "00000000000000B2", rec
PY
exec 3>&-

# The platform relayed nothing: its stats line at shutdown (after the data) says 0.
kill "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true
relays=$(python3 -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1]) if "\"stats\"" in l][-1]["relays"])' "$work/server.log")
[ "$relays" = 0 ] || fail "the platform relayed $relays frames; P2P should have gone directly"
grep -q '"event":"relay"' "$work/server.log" && fail "the server logged a relay"
echo "PASS: P2P data from $A behind r1 reached $B behind r2 directly (relays: $relays)"
