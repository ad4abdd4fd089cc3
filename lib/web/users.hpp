// Console users (m2m-server serve --http; m2m-server(1), CONSOLE): people who sign in to the
// operations console in a browser — not devices, not platform client accounts. They live in
// the registry file, in a table of their own; their passwords are stored only as Argon2id
// hashes (libsodium's crypto_pwhash_str, interactive limits: 2 passes over 64 MiB). There is
// no default user: the first administrator is created with `m2m-server user add NAME --role
// admin`.
//
// Roles are the seed's "function modules" (功能模块管理): which menus and actions each role may
// use. The server checks the role on every API call (console.cpp); the page only hides what
// the server would refuse anyway.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "platform/sqlite.hpp"

namespace m2m::web {

enum class Role : std::uint8_t { viewer, operator_, admin };

// What a request does, as the roles see it.
enum class Action : std::uint8_t {
  view,     // read the device list, a device, the statistics, the event stream, /metrics
  control,  // live operations on a device: reboot, configuration, downlink, firmware update
  manage,   // change the registry: devices (add, edit, disable, remove, import), accounts
  users,    // console users and their roles
};

std::string_view role_name(Role r);
Result<Role> parse_role(std::string_view s);
std::string_view action_name(Action a);
bool allowed(Role r, Action a);
// Every role with the actions it may take (the console's "function modules" page).
std::vector<std::pair<Role, std::vector<Action>>> role_table();

struct ConsoleUser {
  std::string name;
  std::string hash;  // crypto_pwhash_str output ("$argon2id$v=19$m=65536,t=2,p=1$…")
  Role role = Role::viewer;
  bool enabled = true;
};

// 1-64 bytes of letters, digits, '.', '_', '-', '@'.
Result<void> check_user_name(std::string_view name);
// At least 8 bytes, at most 256.
Result<void> check_password(std::string_view password);
// Argon2id, interactive limits. Takes ~0.1 s and 64 MiB: never call it on the event loop.
Result<std::string> hash_password(std::string_view password);
// True when `password` matches `hash` (same cost as hashing).
bool verify_password(const std::string& hash, std::string_view password);

// The users table of a registry file (created on first write).
class UserStore {
 public:
  static Result<UserStore> open(const std::string& path, platform::Database::Access access);
  // replace=false: refused ("exists") when the name is taken.
  Result<void> put(const ConsoleUser& u, bool replace);
  Result<bool> remove(std::string_view name);
  Result<std::optional<ConsoleUser>> find(std::string_view name);
  Result<std::vector<ConsoleUser>> list();
  Result<std::size_t> count_admins();

 private:
  explicit UserStore(platform::Database db) : db_(std::move(db)) {}
  Result<bool> has_table();
  platform::Database db_;
};

}  // namespace m2m::web
