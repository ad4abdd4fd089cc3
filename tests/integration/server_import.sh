#!/usr/bin/env bash
# m2m-server registry import/export: 10,000 devices in one transaction, a byte-exact
# export, a bad row that imports nothing, account CSV round trip, and a served login of an
# imported device.
set -euo pipefail
BIN=$(realpath "${BIN_DIR:-build/bin}")/m2m-server
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"

check() {  # check NAME EXPECTED ACTUAL
  if [[ "$2" != "$3" ]]; then
    echo "FAIL $1: expected '$2', got '$3'" >&2
    exit 1
  fi
  echo "PASS $1"
}

python3 - > devices.csv <<'PY'
print("id,password,group,enabled,description")
for i in range(10000):
    print("%016X,%016X,g%d,%d,%s" % (0x5000000 + i, i * 2654435761 % (1 << 64), i % 50, i % 7 != 0,
                                     '"room %d, floor %d"' % (i, i % 9)))
PY
timeout 60 "$BIN" device import --db reg.db < devices.csv 2> import.err
check "import reports the count" "imported 10000 devices" "$(grep -o 'imported [0-9]* devices' import.err)"
timeout 60 "$BIN" device export --db reg.db > export.csv
# Booleans are written as 1/0: normalise the generated True/False before comparing.
sed -e 's/,True,/,1,/' -e 's/,False,/,0,/' devices.csv > expected.csv
check "export equals the imported CSV" "" "$(diff expected.csv export.csv | head -5)"
check "list has every device" "10000" "$(timeout 60 "$BIN" device list --db reg.db | wc -l)"

# Re-import is idempotent (upsert), and one bad row aborts the whole import.
timeout 60 "$BIN" device import --db reg.db < devices.csv 2>/dev/null
check "re-import keeps 10000" "10000" "$(timeout 60 "$BIN" device list --db reg.db | wc -l)"
{ echo "id,password,group,enabled,description"; echo "0000000000000001,text:ok,g,1,"; echo "nothex,text:x,g,1,"; } > bad.csv
set +e
timeout 60 "$BIN" device import --db reg.db < bad.csv 2> bad.err
rc=$?
set -e
check "bad row exit status" "3" "$rc"
check "bad row message names the line" "1" "$(grep -c 'stdin:3: id' bad.err)"
check "bad import left nothing" "" "$(timeout 60 "$BIN" device list --db reg.db | grep 0000000000000001 || true)"
printf 'wrong,header\n' > hdr.csv
set +e
timeout 60 "$BIN" device import --db reg.db < hdr.csv 2>/dev/null
rc=$?
set -e
check "wrong header exit status" "3" "$rc"

# add/remove, duplicates refused unless --replace
timeout 10 "$BIN" device add 0000000000FED24A --password text:123 --group lobby --db reg.db
set +e
timeout 10 "$BIN" device add 0000000000FED24A --password text:123 --db reg.db 2>/dev/null
rc=$?
set -e
check "duplicate add refused" "1" "$rc"
timeout 10 "$BIN" device add FE:D2:4A:00:00:01 --password 0102030405060708 --disabled --db reg.db
check "MAC id accepted" '{"id":"0000FED24A000001","group":"default","enabled":false,"description":""}' \
  "$(timeout 10 "$BIN" device list --db reg.db | grep 0000FED24A000001)"
timeout 10 "$BIN" device remove 0000FED24A000001 --db reg.db
check "removed" "" "$(timeout 10 "$BIN" device list --db reg.db | grep 0000FED24A000001 || true)"

# accounts
printf 'id,name,password,groups,enabled,description\n7,app,text:app,g1;g2,1,"phone, v2"\n8,ops,0102030405060708,*,0,\n' > acc.csv
timeout 10 "$BIN" account import --db reg.db < acc.csv 2>/dev/null
check "account export" $'id,name,password,groups,enabled,description\n7,app,6170700000000000,g1;g2,1,"phone, v2"\n8,ops,0102030405060708,*,0,' \
  "$(timeout 10 "$BIN" account export --db reg.db)"

# the server loads the imported registry
timeout 20 "$BIN" serve --db reg.db --listen 127.0.0.1:0 > serve.out 2> serve.err &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do grep -q '"listening"' serve.out && break; sleep 0.1; done
check "server sees every device" "10001" "$(grep -o '"devices":[0-9]*' serve.out | cut -d: -f2)"
check "startup message states the capacity" "1" "$(grep -c 'allows [0-9]* TCP sessions' serve.err)"
kill -TERM $pid
wait $pid
check "graceful exit" "1" "$(grep -c '"shutdown"' serve.out)"
