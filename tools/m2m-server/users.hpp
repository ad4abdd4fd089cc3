// m2m-server user add|passwd|role|enable|disable|remove|list: the console's users
// (serve --http; m2m-server(1), CONSOLE), kept in the registry file.
#pragma once

#include <string>

#include "cli/cli_fwd.hpp"

namespace m2m::server_tool {

struct UserOptions {
  std::string db = "m2m.db";
  std::string name;
  std::string role;
  bool password_stdin = false;
  bool disabled = false;
};

void add_user_commands(CLI::App& app, UserOptions& o);
// The exit code, or -1 when no user subcommand was parsed.
int run_user_command(const CLI::App& app, const UserOptions& o);

}  // namespace m2m::server_tool
