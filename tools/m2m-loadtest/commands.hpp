// m2m-loadtest's subcommands. Each file adds its subcommand to the app and returns what runs
// it once parsed, so a new subcommand is one more file and one line in main.cpp.
#pragma once

#include <functional>
#include <string_view>

#include "cli/cli_fwd.hpp"

namespace m2m::loadtest_tool {

inline constexpr std::string_view kProg = "m2m-loadtest";

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;  // the exit code
};

Command add_provision_command(CLI::App& app);
Command add_merge_command(CLI::App& app);
Command add_run_command(CLI::App& app);

}  // namespace m2m::loadtest_tool
