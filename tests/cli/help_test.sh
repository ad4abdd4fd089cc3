#!/usr/bin/env bash
# --help reads like the man pages (issue 15): every program's --help, and every subcommand's,
# is free of CLI11's artefacts ("INT:INT in [1 - 9999]=0", "TEXT=[] REQUIRED", "=0ms",
# "{a,b}" validator sets, Needs:/Excludes:/Env: markers). Subcommand errors name the wrong
# word and point to that subcommand's --help.
. "$(dirname "$0")/common.bash"

# help_of PROG [SUB...]: the --help text, then the same for each subcommand it lists.
checked=0
check_help() {
  local text
  text=$("$@" --help) || fail "$* --help exited $?"
  checked=$((checked + 1))
  # The option column is what the formatter writes: "  -x, --long TYPE   description".
  local bad
  bad=$(grep -nE '=\[\]|REQUIRED|[A-Z]+:[A-Z]+ in \[| in \[[0-9.-]+ - [0-9.-]+\]|=[0-9]+(ms|s)?( |$)|[A-Z]:\{|(Needs|Excludes|Env):' <<<"$text" || true)
  [[ -z $bad ]] || fail "$* --help has CLI11 artefacts:
$bad"
  # Type names say what to give (ID, N, DURATION, HOST:PORT, FILE), not C++ types; a default
  # is said once, without doubled parentheses.
  bad=$(grep -nE '^ +-.* (INT|UINT|TEXT|FLOAT|FLOAT64|ENUM|BOOLEAN)( |$)|\(\(default|\(default [^()]*\)\)' <<<"$text" || true)
  [[ -z $bad ]] || fail "$* --help has CLI11 type names or doubled parentheses:
$bad"
  # The program's exit-status footer is the shared table, 7 included.
  if (($# == 1)); then
    grep -q '7 goal missed' <<<"$text" || fail "$* --help: the exit-status footer lacks 7 (goal missed)"
  fi
  # Subcommands: the lines after "Subcommands:" up to a blank line, first word each.
  local subs
  subs=$(awk '/^Subcommands:/{on=1; next} on && /^$/{on=0} on && /^  [a-z]/{print $1}' <<<"$text")
  local s
  for s in $subs; do check_help "$@" "$s"; done
}
for prog in "$BIN_DIR"/m2m-* "$BIN_DIR"/gree-ctl; do
  [[ -x $prog && ! -d $prog ]] || continue
  check_help "$prog"
done
((checked >= 3)) || fail "only $checked --help texts found in $BIN_DIR"

# The forms that replace them: a type name, a default in words.
run 0 "$SEND" --help
expect_match "m2m-send --count" '-n,--count N ' "$(cat out)"
expect_match "m2m-send --heartbeat default" '--heartbeat DURATION +Keep-alive interval[^(]*\(A0 01 / EF 01; default 30s' "$(cat out)"
expect_match "m2m-send --protocol" '--protocol PROTOCOL ' "$(cat out)"
run 0 "$DECODE" --help
expect_match "m2m-decode files" 'files FILE \.\.\. ' "$(cat out)"
expect_match "m2m-decode --format default" '--format FORMAT +Output format.*\(default json\)' "$(cat out)"

# Subcommand errors: the word, the subcommand, its --help.
SERVER=$BIN_DIR/m2m-server
if [[ -x $SERVER ]]; then
  run 2 "$SERVER" device lsit
  expect_eq "unknown subcommand word" "m2m-server: error: 'lsit' is not a subcommand of 'm2m-server device' (add, remove, list, import, export)
Try 'm2m-server device --help' for more information." "$(cat err)"
  run 2 "$SERVER" devcie list
  expect_eq "unknown first word" "m2m-server: error: 'devcie' is not a subcommand of 'm2m-server' (serve, device, account, user)" "$(head -1 err)"
  expect_eq "points to the program's --help" "Try 'm2m-server --help' for more information." "$(tail -1 err)"
  run 2 "$SERVER" device add
  expect_eq "missing argument of a subcommand" "m2m-server: error: device add: id is required" "$(head -1 err)"
  run 2 "$SERVER" device list --bogus
  expect_match "unknown option in a subcommand" "^m2m-server: error: device list: .*--bogus" "$(head -1 err)"
  expect_eq "points to the subcommand's --help" "Try 'm2m-server device list --help' for more information." "$(tail -1 err)"
fi
run 2 "$SEND" --bogus
expect_eq "top level: the program's --help" "Try 'm2m-send --help' for more information." "$(tail -1 err)"
echo "help_test: ok ($checked help texts)"
