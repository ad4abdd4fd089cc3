#!/usr/bin/env bash
# Bash completion (issue 15): the build generates one script per program from its own option
# tables (build/completions/<prog>, installed to share/bash-completion/completions). Sourced in
# bash, each completes a subcommand (m2m-send: a frame type) and an option of its program,
# options of a subcommand after it, and leaves an option's value to file names.
. "$(dirname "$0")/common.bash"
COMP_DIR=$BIN_DIR/../completions

# complete PROG WORD...: the completions of the last WORD, one per line, sorted.
complete_words() {
  local prog=$1 script=$COMP_DIR/$1
  shift
  [[ -f $script ]] || fail "no completion script $script (the build makes it)"
  bash -c '
    source "$1"; shift
    fn=$(complete -p "$1" | sed -E "s/.*-F ([^ ]+) .*/\1/")
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
    "$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$script" "$prog" "$@"
}

# Every program has a script, and it is what the program prints now.
n=0
for prog in "$BIN_DIR"/m2m-* "$BIN_DIR"/gree-ctl; do
  [[ -x $prog ]] || continue
  name=$(basename "$prog")
  "$prog" --completion bash >fresh || fail "$name --completion bash exited $?"
  expect_eq "$name: the built script is the program's" "$(cat fresh)" "$(cat "$COMP_DIR/$name")"
  expect_match "$name: a complete line" "complete -o default -F _[a-z0-9_]+ $name" "$(tail -1 fresh)"
  n=$((n + 1))
done
((n >= 4)) || fail "only $n programs found in $BIN_DIR"

expect_eq "m2m-server subcommands" "device" "$(complete_words m2m-server dev)"
expect_eq "m2m-server device subcommands" "export" "$(complete_words m2m-server device ex)"
expect_eq "m2m-server serve options" "--stats-interval" "$(complete_words m2m-server serve --stats)"
expect_eq "m2m-server device add options" "--password" "$(complete_words m2m-server device add 0000000000FED24A --pass)"
expect_eq "gree-ctl subcommands" "set
set-address" "$(complete_words gree-ctl se)"
expect_eq "gree-ctl emulate option" "--link" "$(complete_words gree-ctl emulate --li)"
expect_eq "gree-ctl program options after a subcommand (fallthrough)" "--device" "$(complete_words gree-ctl status --dev)"
expect_eq "m2m-send frame types" "term.config_read
term.config_write" "$(complete_words m2m-send term.conf)"
expect_eq "m2m-send option" "--listen" "$(complete_words m2m-send --lis)"
expect_eq "m2m-decode option" "--crc" "$(complete_words m2m-decode --cr)"
expect_eq "an option's value is left to bash (file names)" "" "$(complete_words m2m-decode --crc x)"
run 2 "$DECODE" --completion zsh
expect_eq "other shells" "m2m-decode: error: --completion: only bash is supported, not 'zsh'" "$(cat err)"
echo "completion_test: ok ($n programs)"
