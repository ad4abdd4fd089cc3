#include "cli/session_options.hpp"

#include <charconv>

#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "cli/app.hpp"
#include "cli/cli.hpp"
#include "m2m/frame.hpp"

namespace m2m::cli {

SessionOptionSet add_session_options(CLI::App& app, SessionArgs& a, bool with_identity, const std::string& group) {
  SessionOptionSet set;
  set.server = app.add_option("-s,--server", a.server,
                              "Send to this platform (HOST:PORT, [IPv6]:PORT, or HOST for port 8266)\n"
                              "instead of writing the frame out; print every frame received as JSON Lines")
                   ->type_name("HOST:PORT")
                   ->group(group);
  set.others.push_back(app.add_flag("-u,--udp", a.udp, "Use UDP instead of TCP")->group(group));
  if (with_identity) {
    set.others.push_back(app.add_option("--device", a.device, "Log in as this device (A0 00)")->type_name("ID")->group(group));
    set.others.push_back(app.add_option("--password", a.password, "Login password: 16 hex digits or text:…")
                             ->type_name("P")
                             ->group(group));
  }
  set.others.push_back(app.add_option("--account", a.account,
                                      "Log in as this platform client account (EF 00, header id = account)\n"
                                      "instead of as --device")
                           ->type_name("ID")
                           ->group(group));
  set.others.push_back(add_duration(app, "-t,--timeout", a.timeout, "Bound the whole wait (default 10s; 0: none); with --listen, the listening\n"
                                                                        "time (default none), and reaching it ends normally")
                           ->default_str("10s")
                           ->group(group));
  set.others.push_back(add_duration(app, "--heartbeat", a.heartbeat, "Keep-alive interval while waiting (A0 01 / EF 01; default 30s; 0: none)")
                           ->group(group));
  set.others.push_back(app.add_option("--bind", a.bind, "Connect from this local address (HOST or HOST:PORT)")
                           ->type_name("HOST")
                           ->group(group));
  set.password_file = app.add_option("--password-file", a.password_file,
                                     "Read the login password from the first line of FILE (keeps it out of ps;\n"
                                     "M2M_PASSWORD does the same)")
                          ->type_name("FILE")
                          ->group(group);
  return set;
}

const char* env_value(const char* name, const EnvLookup& lookup) {
  const char* v = lookup ? lookup(name) : std::getenv(name);
  return v && *v ? v : nullptr;
}

Result<void> apply_environment(SessionArgs& a, const EnvLookup& lookup) {
  if (a.server.empty())
    if (const char* v = env_value(kEnvServer, lookup)) a.server = v;
  if (a.device.empty())
    if (const char* v = env_value(kEnvDevice, lookup)) a.device = v;
  if (a.account.empty())
    if (const char* v = env_value(kEnvAccount, lookup)) a.account = v;
  if (a.password) {
    if (!a.password_file.empty()) return fail(ErrorKind::bad_value, "--password and --password-file: give one");
    a.password_source = "--password";
    return {};
  }
  if (!a.password_file.empty()) {
    const std::string where = "--password-file " + a.password_file;
    std::ifstream in(a.password_file);
    if (!in) return fail(ErrorKind::bad_value, where + ": cannot read it (" + std::string(std::strerror(errno)) + ")");
    std::string line;
    std::getline(in, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) return fail(ErrorKind::bad_value, where + ": the first line is empty; it should hold the password");
    a.password = std::move(line);
    a.password_source = where;
    return {};
  }
  if (const char* v = env_value(kEnvPassword, lookup)) {
    a.password = v;
    a.password_source = kEnvPassword;
  }
  return {};
}

Result<Identity> check_identity(std::string_view device, std::string_view account, const std::optional<std::string>& password,
                                std::string_view password_source) {
  Identity id;
  if (!device.empty()) {
    auto d = ai::parse_device(device);
    if (!d) return fail(ErrorKind::bad_value, "--device: " + d.error().message);
    id.device = *d;
  }
  if (!account.empty()) {
    // Account ids are decimal numbers, as `m2m-server account add` takes and lists them; a
    // 0x prefix gives hex (the header id of a capture).
    std::uint64_t v = 0;
    const bool hex = account.size() > 2 && (account.substr(0, 2) == "0x" || account.substr(0, 2) == "0X");
    const std::string_view digits = hex ? account.substr(2) : account;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, hex ? 16 : 10);
    if (ec != std::errc{} || end != digits.data() + digits.size())
      return fail(ErrorKind::bad_value, "--account: '" + std::string(account) +
                                            "' is not an account id (a decimal number as `m2m-server account list` "
                                            "shows it, or 0x and hex digits)");
    id.account = v;
  }
  if (password) {
    auto p = ai::parse_password(*password);
    const std::string from = password_source.empty() ? "--password" : std::string(password_source);
    if (!p) return fail(ErrorKind::bad_value, from + ": " + p.error().message);
    id.password = *p;
    if (!id.device && !id.account)
      return fail(ErrorKind::bad_value, from + (from == "--password" ? "" : " gives a password, which") +
                                            " logs in as --device or --account; give one");
  }
  return id;
}

}  // namespace m2m::cli
