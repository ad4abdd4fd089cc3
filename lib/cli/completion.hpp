// Bash completion generated from a program's own CLI11 option tables (issue 15): the build
// runs every program with the hidden "--completion bash" and installs what it prints to
// share/bash-completion/completions/<prog>, so a new option or subcommand completes without
// anyone writing completion code.
#pragma once

#include <string>
#include <vector>

#include "cli/cli_fwd.hpp"

namespace m2m::cli {

// The words a command's positional argument takes (m2m-send's frame types), completed where
// a subcommand would be. Set before parse().
void set_positional_words(const CLI::App& app, std::vector<std::string> words);

// A bash script: a function completing the subcommands and options of `app` at the position
// of the cursor (options after a subcommand are that subcommand's, plus its parents' when it
// falls through), and the `complete` line for the program.
std::string bash_completion(const CLI::App& app);

}  // namespace m2m::cli
