#!/usr/bin/env bash
# m2m-server's registry file from the command line: export | import on one file always works
# (WAL, busy timeout, import reads its input before taking the write lock); read-only files
# and read-only file systems can be listed and exported; a missing file is an error naming it
# and is never created by a command that only reads; any description (newlines, quotes,
# commas) survives export and import; duplicate ids in one import are reported.
set -euo pipefail
BIN=$(realpath "${BIN_DIR:-build/bin}")/m2m-server
dir=$(mktemp -d)
chmod 755 "$dir"
trap 'rm -rf "$dir"' EXIT
cd "$dir"

check() {  # check NAME EXPECTED ACTUAL
  if [[ "$2" != "$3" ]]; then
    echo "FAIL $1: expected '$2', got '$3'" >&2
    exit 1
  fi
  echo "PASS $1"
}
run() {  # run CMD...: sets rc, out, err (never aborts)
  set +e
  "$@" > out.txt 2> err.txt
  rc=$?
  set -e
  out=$(cat out.txt)
  err=$(cat err.txt)
}

# ---- 1. a pipe between two subcommands on one registry ------------------------------------
python3 - > devices.csv <<'PY'
print("id,password,group,enabled,description")
for i in range(2000):
    print("%016X,%016X,g%d,%d,room %d" % (0x7000000 + i, i * 2654435761 % (1 << 64), i % 20, i % 5 != 0, i))
PY
timeout 60 "$BIN" device import --db reg.db < devices.csv 2>/dev/null
timeout 60 "$BIN" device export --db reg.db > before.csv
check "imported registry exports 2000 rows" "2001" "$(wc -l < before.csv)"
for i in $(seq 40); do
  set +e
  timeout 20 "$BIN" device export --db reg.db 2> export.err | timeout 20 "$BIN" device import --db reg.db 2> import.err
  status="${PIPESTATUS[*]}"
  set -e
  if [[ "$status" != "0 0" ]]; then
    echo "FAIL pipe run $i: exit statuses $status; export: $(cat export.err); import: $(cat import.err)" >&2
    exit 1
  fi
  check "pipe run $i imports every row" "imported 2000 devices" "$(grep -o 'imported [0-9]* devices' import.err)"
done
timeout 60 "$BIN" device export --db reg.db > after.csv
check "40 export|import pipes leave the registry as it was" "" "$(diff before.csv after.csv | head -3)"
# Two writers at once wait for each other instead of failing.
set +e
printf 'id,password,group,enabled,description\n00000000000000A1,text:a,w,1,first\n' | timeout 20 "$BIN" device import --db reg.db 2>w1.err &
w1=$!
printf 'id,password,group,enabled,description\n00000000000000A2,text:b,w,1,second\n' | timeout 20 "$BIN" device import --db reg.db 2>w2.err &
w2=$!
wait $w1; r1=$?
wait $w2; r2=$?
set -e
check "two concurrent imports both succeed" "0 0" "$r1 $r2"
check "both concurrent imports landed" "2" "$(timeout 10 "$BIN" device list --db reg.db | grep -c '"group":"w"')"

# ---- 2. missing and read-only registries ---------------------------------------------------
for cmd in "device list" "device export" "account list" "account export" "device remove 01" "serve --listen 127.0.0.1:0"; do
  run timeout 10 "$BIN" $cmd --db typo.db
  check "'$cmd' on a missing file: exit status" "1" "$rc"
  check "'$cmd' on a missing file: message names the file" \
    "m2m-server: error: typo.db: no registry file (No such file or directory); 'device add' or 'device import' creates one" "$err"
  check "'$cmd' on a missing file creates nothing" "" "$(ls typo.db* 2>/dev/null || true)"
done
run timeout 10 "$BIN" device add 0000000000000B01 --password text:x --db new.db
check "add creates a missing registry" "0 new.db" "$rc $(ls new.db)"
printf 'not a database at all, just text\n%.0s' $(seq 200) > junk.db
run timeout 10 "$BIN" device list --db junk.db
check "a file that is not SQLite: message names the file" "1 m2m-server: error: junk.db: file is not a database" "$rc $err"

# A read-only registry file, for a user who cannot write it (root can write anything, so
# run as nobody when we are root).
mkdir ro && cp reg.db ro/reg.db && chmod 755 ro && chmod 444 ro/reg.db
as_user=()
if [[ $(id -u) == 0 ]]; then as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups); fi
run timeout 10 "${as_user[@]}" "$BIN" device list --db ro/reg.db
check "list of a read-only file works" "0 2002" "$rc $(wc -l < out.txt)"
run timeout 10 "${as_user[@]}" "$BIN" device export --db ro/reg.db
check "export of a read-only file equals the original" "0 $(timeout 10 "$BIN" device export --db reg.db | md5sum)" "$rc $(md5sum < out.txt)"
run timeout 10 "${as_user[@]}" "$BIN" device add 0000000000000C01 --password text:x --db ro/reg.db
check "add to a read-only file: exit status" "1" "$rc"
check "add to a read-only file: message names the file and the cause" \
  "m2m-server: error: ro/reg.db: read-only registry (no permission to write it); list and export can read it" "$err"

# A read-only file system (a tmpfs remounted read-only in a private mount namespace). Only
# possible with CAP_SYS_ADMIN; say so when it is not.
if unshare -m true 2>/dev/null; then
  cp reg.db rofs-src.db
  timeout 30 unshare -m bash -c '
    mkdir -p mnt && mount -t tmpfs none mnt && cp rofs-src.db mnt/reg.db && mount -o remount,ro mnt || exit 1
    rc=0; "$1" device list --db mnt/reg.db > rofs-list.txt 2> rofs-list.err || rc=$?; echo $rc > rofs-list.rc
    rc=0; "$1" device export --db mnt/reg.db > rofs-export.txt 2> rofs-export.err || rc=$?; echo $rc > rofs-export.rc
    rc=0; "$1" device remove 00000000000000A1 --db mnt/reg.db 2> rofs-remove.err || rc=$?; echo $rc > rofs-remove.rc
  ' _ "$BIN" || true
  check "list on a read-only file system" "0 2002" "$(cat rofs-list.rc) $(wc -l < rofs-list.txt)"
  check "export on a read-only file system equals the original" "0 $(timeout 10 "$BIN" device export --db reg.db | md5sum)" \
    "$(cat rofs-export.rc) $(md5sum < rofs-export.txt)"
  check "remove on a read-only file system fails naming the file and the cause" \
    "1 m2m-server: error: mnt/reg.db: read-only registry (its file system is mounted read-only); list and export can read it" \
    "$(cat rofs-remove.rc) $(cat rofs-remove.err)"
else
  echo "SKIP read-only file system: unshare -m is not permitted here"
fi

# ---- 3. any content survives export and import; duplicates are reported ---------------------
python3 - > tricky.csv <<'PY'
import csv, sys
w = csv.writer(sys.stdout, lineterminator="\n")
w.writerow(["id", "password", "group", "enabled", "description"])
descs = ["line one\nline two", 'say "hi", then leave', " padded ", "crlf\r\ninside", "a,b,c", '"', "",
         "trailing newline\n", "\n", "ünïcödé, 中文", "x" * 500]
for i, d in enumerate(descs):
    w.writerow(["%016X" % (0xD00 + i), "%016X" % i, "g", "1", d])
PY
timeout 10 "$BIN" device import --db tricky.db < tricky.csv 2>/dev/null
timeout 10 "$BIN" device export --db tricky.db > tricky1.csv
timeout 10 "$BIN" device import --db tricky2.db < tricky1.csv 2>/dev/null
timeout 10 "$BIN" device export --db tricky2.db > tricky2.csv
check "export, import, export is byte-exact" "" "$(cmp tricky1.csv tricky2.csv 2>&1)"
check "descriptions are exactly what was imported" "ok" "$(python3 - <<'PY'
import csv
want = {r["id"]: r["description"] for r in csv.DictReader(open("tricky.csv", newline=""))}
got = {r["id"]: r["description"] for r in csv.DictReader(open("tricky2.csv", newline=""))}
print("ok" if want == got else "differ: %r" % [(k, want[k], got.get(k)) for k in want if want[k] != got.get(k)])
PY
)"
check "list shows the newline" '"line one\nline two"' \
  "$(timeout 10 "$BIN" device list --db tricky2.db | grep 0000000000000D00 | python3 -c 'import json,sys; print(json.dumps(json.loads(sys.stdin.read())["description"]))')"

printf 'id,password,group,enabled,description\n01,text:a,g,1,"open\nquote\n' > unterminated.csv
run timeout 10 "$BIN" device import --db tricky2.db < unterminated.csv
check "unterminated quote: status and message" "3 m2m-server: error: stdin:2: unterminated quoted field (opened on line 2) (nothing imported)" "$rc $err"

printf 'id,password,group,enabled,description\n0000000000000E01,text:a,g,1,\n0000000000000E02,text:b,g,1,"two\nlines"\nE01,text:c,g,1,\n0000000000000E02,text:d,g,1,\n0000000000000E03,text:e,g,1,\n' > dup.csv
run timeout 10 "$BIN" device import --db tricky2.db < dup.csv
check "duplicate ids: exit status" "3" "$rc"
check "duplicate ids: which ids on which lines" "m2m-server: error: stdin:5: device 0000000000000E01 again (first on line 2)
m2m-server: error: stdin:6: device 0000000000000E02 again (first on line 3)
m2m-server: error: stdin: 2 duplicate ids, nothing imported" "$err"
