#include "web/users.hpp"

#include <sodium.h>

#include <cstring>

#include "core/expected.hpp"

namespace m2m::web {

namespace {
Error bad(std::string msg) { return Error{ErrorKind::bad_value, 0, std::move(msg)}; }

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS console_users(
  name TEXT PRIMARY KEY,
  hash TEXT NOT NULL,
  role TEXT NOT NULL,
  enabled INTEGER NOT NULL DEFAULT 1);
)";

bool sodium_ready() {
  static const bool ok = ::sodium_init() >= 0;
  return ok;
}
}  // namespace

std::string_view role_name(Role r) {
  switch (r) {
    case Role::viewer: return "viewer";
    case Role::operator_: return "operator";
    case Role::admin: return "admin";
  }
  return "viewer";
}

Result<Role> parse_role(std::string_view s) {
  if (s == "viewer") return Role::viewer;
  if (s == "operator") return Role::operator_;
  if (s == "admin") return Role::admin;
  return unexpected(bad("role '" + std::string(s) + "': expected admin, operator or viewer"));
}

std::string_view action_name(Action a) {
  switch (a) {
    case Action::view: return "view";
    case Action::control: return "control";
    case Action::manage: return "manage";
    case Action::users: return "users";
  }
  return "view";
}

// viewer: reads; operator: reads, live operations and registry changes; admin: all of that
// and the console's users.
bool allowed(Role r, Action a) {
  switch (a) {
    case Action::view: return true;
    case Action::control:
    case Action::manage: return r == Role::operator_ || r == Role::admin;
    case Action::users: return r == Role::admin;
  }
  return false;
}

std::vector<std::pair<Role, std::vector<Action>>> role_table() {
  std::vector<std::pair<Role, std::vector<Action>>> out;
  for (Role r : {Role::admin, Role::operator_, Role::viewer}) {
    std::vector<Action> acts;
    for (Action a : {Action::view, Action::control, Action::manage, Action::users})
      if (allowed(r, a)) acts.push_back(a);
    out.emplace_back(r, std::move(acts));
  }
  return out;
}

Result<void> check_user_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return unexpected(bad("user name: 1 to 64 characters"));
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-' || c == '@';
    if (!ok) return unexpected(bad("user name '" + std::string(name) + "': use letters, digits, '.', '_', '-' or '@'"));
  }
  return {};
}

Result<void> check_password(std::string_view password) {
  if (password.size() < 8) return unexpected(bad("password: at least 8 characters"));
  if (password.size() > 256) return unexpected(bad("password: at most 256 characters"));
  return {};
}

Result<std::string> hash_password(std::string_view password) {
  if (!sodium_ready()) return unexpected(Error{ErrorKind::io, 0, "libsodium failed to initialise"});
  char out[crypto_pwhash_STRBYTES];
  if (::crypto_pwhash_str_alg(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
    return unexpected(Error{ErrorKind::io, 0, "hashing the password failed: out of memory (Argon2id needs 64 MiB)"});
  return std::string(out);
}

bool verify_password(const std::string& hash, std::string_view password) {
  if (!sodium_ready() || hash.size() >= crypto_pwhash_STRBYTES) return false;
  return ::crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

Result<UserStore> UserStore::open(const std::string& path, platform::Database::Access access) {
  auto db = platform::Database::open(path, access);
  if (!db) return unexpected(db.error());
  UserStore s(std::move(*db));
  if (access != platform::Database::Access::read_only)
    if (auto r = s.db_.exec(kSchema); !r) return unexpected(r.error());
  return s;
}

Result<bool> UserStore::has_table() {
  auto n = db_.query_int("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='console_users'");
  if (!n) return unexpected(n.error());
  return *n > 0;
}

Result<void> UserStore::put(const ConsoleUser& u, bool replace) {
  auto st = db_.prepare(replace ? "INSERT OR REPLACE INTO console_users(name, hash, role, enabled) VALUES(?,?,?,?)"
                                : "INSERT INTO console_users(name, hash, role, enabled) VALUES(?,?,?,?)");
  if (!st) return unexpected(st.error());
  st->bind(1, u.name).bind(2, u.hash).bind(3, role_name(u.role)).bind(4, std::int64_t{u.enabled ? 1 : 0});
  if (!replace) {
    if (auto f = find(u.name); f && *f)
      return unexpected(Error{ErrorKind::refused, 0, "user '" + u.name + "' exists (use 'user passwd' or 'user role')"});
  }
  return st->run();
}

Result<bool> UserStore::remove(std::string_view name) {
  auto t = has_table();
  if (!t) return unexpected(t.error());
  if (!*t) return false;
  auto st = db_.prepare("DELETE FROM console_users WHERE name = ?");
  if (!st) return unexpected(st.error());
  st->bind(1, name);
  if (auto r = st->run(); !r) return unexpected(r.error());
  return db_.changes() > 0;
}

Result<std::optional<ConsoleUser>> UserStore::find(std::string_view name) {
  auto t = has_table();
  if (!t) return unexpected(t.error());
  if (!*t) return std::optional<ConsoleUser>{};
  auto st = db_.prepare("SELECT name, hash, role, enabled FROM console_users WHERE name = ?");
  if (!st) return unexpected(st.error());
  st->bind(1, name);
  auto row = st->step();
  if (!row) return unexpected(row.error());
  if (!*row) return std::optional<ConsoleUser>{};
  ConsoleUser u;
  u.name = st->column_text(0);
  u.hash = st->column_text(1);
  u.role = parse_role(st->column_text(2)).value_or(Role::viewer);
  u.enabled = st->column_int(3) != 0;
  return std::optional<ConsoleUser>{std::move(u)};
}

Result<std::vector<ConsoleUser>> UserStore::list() {
  std::vector<ConsoleUser> out;
  auto t = has_table();
  if (!t) return unexpected(t.error());
  if (!*t) return out;
  auto st = db_.prepare("SELECT name, hash, role, enabled FROM console_users ORDER BY name");
  if (!st) return unexpected(st.error());
  for (;;) {
    auto row = st->step();
    if (!row) return unexpected(row.error());
    if (!*row) break;
    ConsoleUser u;
    u.name = st->column_text(0);
    u.hash = st->column_text(1);
    u.role = parse_role(st->column_text(2)).value_or(Role::viewer);
    u.enabled = st->column_int(3) != 0;
    out.push_back(std::move(u));
  }
  return out;
}

Result<std::size_t> UserStore::count_admins() {
  auto users = list();
  if (!users) return unexpected(users.error());
  std::size_t n = 0;
  for (const auto& u : *users) n += u.role == Role::admin && u.enabled;
  return n;
}

}  // namespace m2m::web
