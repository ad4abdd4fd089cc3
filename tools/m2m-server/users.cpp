#include "users.hpp"

#include <termios.h>
#include <unistd.h>

#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/app.hpp"
#include "cli/cli.hpp"
#include "web/users.hpp"

namespace m2m::server_tool {

namespace {
constexpr std::string_view kProg = "m2m-server";
using web::UserStore;

// A password never comes from the command line (ps and the shell's history would show it):
// from stdin with --password-stdin (its first line), or typed twice at a terminal.
Result<std::string> read_password(bool from_stdin) {
  std::string pw;
  if (from_stdin) {
    if (!std::getline(std::cin, pw)) return unexpected(Error{ErrorKind::bad_value, 0, "--password-stdin: stdin is empty"});
    if (!pw.empty() && pw.back() == '\r') pw.pop_back();
    return pw;
  }
  if (!::isatty(STDIN_FILENO))
    return unexpected(Error{ErrorKind::bad_value, 0,
                            "no password: type it at a terminal, or pipe it in with --password-stdin "
                            "(e.g. printf '%s\\n' \"$PW\" | m2m-server user add NAME --role admin --password-stdin)"});
  termios old{};
  ::tcgetattr(STDIN_FILENO, &old);
  termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  std::string again;
  std::cerr << "Password: " << std::flush;
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  std::getline(std::cin, pw);
  std::cerr << "\nPassword again: " << std::flush;
  std::getline(std::cin, again);
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
  std::cerr << "\n";
  if (pw != again) return unexpected(Error{ErrorKind::bad_value, 0, "the two passwords differ; nothing changed"});
  return pw;
}

int fail(const Error& e) {
  cli::error(kProg, e.message);
  return e.kind == ErrorKind::bad_value ? cli::usage : cli::failure;
}

Result<web::ConsoleUser> existing(UserStore& store, const std::string& name) {
  auto u = store.find(name);
  if (!u) return unexpected(u.error());
  if (!*u) return unexpected(Error{ErrorKind::refused, 0, "no console user '" + name + "' (m2m-server user list)"});
  return std::move(**u);
}
}  // namespace

void add_user_commands(CLI::App& app, UserOptions& o) {
  auto* user = app.add_subcommand("user", "manage the console's users (serve --http): who may sign in, with which role");
  user->require_subcommand(1);
  auto leaf = [&](const char* name, const char* desc, bool creates) {
    auto* c = user->add_subcommand(name, desc);
    c->add_option("--db", o.db, creates ? "registry file (SQLite; created when missing)" : "registry file (SQLite; must exist)")
        ->type_name("FILE");
    return c;
  };
  const char* roles = "admin (everything, and the users), operator (live operations and registry changes) or viewer (read only)";
  auto* add = leaf("add", "create a console user; the password is read from the terminal or --password-stdin", true);
  add->add_option("name", o.name, "user name (letters, digits, '.', '_', '-', '@')")->required()->type_name("NAME");
  add->add_option("--role", o.role, roles)->required()->type_name("ROLE")->check(CLI::IsMember({"admin", "operator", "viewer"}));
  add->add_flag("--password-stdin", o.password_stdin, "read the password from the first line of stdin");
  add->add_flag("--disabled", o.disabled, "create the user disabled (sign-ins refused)");
  auto* pw = leaf("passwd", "set a console user's password", false);
  pw->add_option("name", o.name, "user name")->required()->type_name("NAME");
  pw->add_flag("--password-stdin", o.password_stdin, "read the password from the first line of stdin");
  auto* role = leaf("role", "change a console user's role (signed-in sessions follow within 5 s)", false);
  role->add_option("name", o.name, "user name")->required()->type_name("NAME");
  role->add_option("role", o.role, roles)->required()->type_name("ROLE")->check(CLI::IsMember({"admin", "operator", "viewer"}));
  leaf("enable", "allow a console user to sign in again", false)->add_option("name", o.name, "user name")->required()->type_name("NAME");
  leaf("disable", "refuse a console user's sign-ins and end its sessions (within 5 s)", false)
      ->add_option("name", o.name, "user name")->required()->type_name("NAME");
  leaf("remove", "delete a console user (its sessions end within 5 s)", false)
      ->add_option("name", o.name, "user name")->required()->type_name("NAME");
  leaf("list", "print the console's users as JSON Lines (name, role, enabled; never the hash)", false);
}

int run_user_command(const CLI::App& app, const UserOptions& o) {
  const CLI::App* user = app.get_subcommand("user");
  if (!user->parsed()) return -1;
  const CLI::App* leafcmd = user->get_subcommands().front();
  const std::string cmd = leafcmd->get_name();
  if (cmd == "list") {
    auto store = UserStore::open(o.db, platform::Database::Access::read_only);
    if (!store) return fail(store.error());
    auto users = store->list();
    if (!users) return fail(users.error());
    for (const auto& u : *users)
      cli::write_line(nlohmann::json{{"name", u.name}, {"role", web::role_name(u.role)}, {"enabled", u.enabled}}.dump());
    return cli::ok;
  }
  if (auto r = web::check_user_name(o.name); !r) return fail(r.error());
  const bool creates = cmd == "add";
  auto store = UserStore::open(o.db, creates ? platform::Database::Access::create : platform::Database::Access::read_write);
  if (!store) return fail(store.error());
  if (cmd == "remove") {
    auto u = existing(*store, o.name);
    if (!u) return fail(u.error());
    if (u->role == web::Role::admin && u->enabled) {
      auto admins = store->count_admins();
      if (!admins) return fail(admins.error());
      if (*admins <= 1)
        std::cerr << "m2m-server: note: '" << o.name << "' was the last administrator; create another with "
                     "m2m-server user add NAME --role admin\n";
    }
    auto r = store->remove(o.name);
    if (!r) return fail(r.error());
    std::cerr << "m2m-server: removed console user '" << o.name << "'\n";
    return cli::ok;
  }
  web::ConsoleUser u;
  if (creates) {
    if (auto f = store->find(o.name); !f) {
      return fail(f.error());
    } else if (*f) {
      return fail(Error{ErrorKind::refused, 0, "console user '" + o.name + "' exists (user passwd, user role)"});
    }
    u.name = o.name;
    u.role = *web::parse_role(o.role);
    u.enabled = !o.disabled;
  } else {
    auto e = existing(*store, o.name);
    if (!e) return fail(e.error());
    u = std::move(*e);
  }
  if (creates || cmd == "passwd") {
    auto pw = read_password(o.password_stdin);
    if (!pw) return fail(pw.error());
    if (auto r = web::check_password(*pw); !r) return fail(r.error());
    auto h = web::hash_password(*pw);
    if (!h) return fail(h.error());
    u.hash = *h;
  } else if (cmd == "role") {
    u.role = *web::parse_role(o.role);
  } else if (cmd == "enable" || cmd == "disable") {
    u.enabled = cmd == "enable";
  }
  if (auto r = store->put(u, !creates); !r) return fail(r.error());
  std::cerr << "m2m-server: console user '" << u.name << "' (" << web::role_name(u.role) << ", "
            << (u.enabled ? "enabled" : "disabled") << ") " << (creates ? "created" : "updated") << "\n";
  return cli::ok;
}

}  // namespace m2m::server_tool
