# Shared helpers of the CLI tests (sourced; not a test itself — CTest picks up *.sh only).
set -euo pipefail
: "${BIN_DIR:?BIN_DIR must name the directory of the built programs}"
DECODE="$BIN_DIR/m2m-decode"
SEND="$BIN_DIR/m2m-send"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
  if [[ "$2" != "$3" ]]; then
    printf 'FAIL: %s\n  expected: %s\n  actual:   %s\n' "$1" "$2" "$3" >&2
    exit 1
  fi
}

# expect_match WHAT REGEX ACTUAL
expect_match() {
  if ! [[ "$3" =~ $2 ]]; then
    printf 'FAIL: %s\n  expected to match: %s\n  actual:            %s\n' "$1" "$2" "$3" >&2
    exit 1
  fi
}

# run EXPECTED_RC CMD...: runs CMD with stdout in ./out, stderr in ./err; checks the exit code.
run() {
  local want=$1 rc=0
  shift
  "$@" >out 2>err || rc=$?
  if [[ $rc != "$want" ]]; then
    printf 'FAIL: exit status of %s\n  expected: %s\n  actual:   %s\n  stderr: %s\n' "$*" "$want" "$rc" "$(head -c 2000 err)" >&2
    exit 1
  fi
}

# hex2bin HEX: the bytes of HEX on stdout.
hex2bin() { python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))' "$1"; }
# bin2hex [FILE]: uppercase hex of a file (or stdin), one line.
bin2hex() { od -An -v -tx1 "$@" | tr -d ' \n' | tr 'a-f' 'A-F'; echo; }

# jf EXPR [LINE]: evaluates a Python expression over the JSON object `j` of line LINE (1-based,
# default 1) of ./out and prints the result as compact JSON (strings quoted).
jf() {
  python3 - "$1" "${2:-1}" <<'PY'
import json, sys
lines = open("out", encoding="utf-8").read().splitlines()
j = json.loads(lines[int(sys.argv[2]) - 1])
print(json.dumps(eval(sys.argv[1]), separators=(",", ":"), ensure_ascii=False))
PY
}

lines_of() { wc -l <"${1:-out}" | tr -d ' '; }
