// Offline registry subcommands: device/account add, remove, list, import, export.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/cli_fwd.hpp"

namespace m2m::server_tool {

struct AdminOptions {
  std::string db = "m2m.db";
  std::string cluster;           // nats://HOST:PORT: the cluster's bucket instead of the file
  std::vector<std::string> ids;  // add: one; remove: one or more
  std::string password;
  std::string group;             // device add
  std::string name;              // account add
  std::string groups;            // account add: "*" or "a;b"
  bool disabled = false;
  bool replace = false;          // add: overwrite an existing record
  std::string description;
};

// Registers `device` and `account` with their sub-subcommands on `app`.
void add_admin_commands(CLI::App& app, AdminOptions& o);
// Runs whichever admin subcommand was parsed; returns the exit code, or -1 if none was.
int run_admin_command(const CLI::App& app, const AdminOptions& o);

}  // namespace m2m::server_tool
