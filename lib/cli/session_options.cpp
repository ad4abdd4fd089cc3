#include "cli/session_options.hpp"

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
  set.others.push_back(add_duration(app, "-t,--timeout", a.timeout, "Bound the whole wait (default 10s; with --listen none; 0: none)")
                           ->default_str("10s")
                           ->group(group));
  set.others.push_back(add_duration(app, "--heartbeat", a.heartbeat, "Keep-alive interval while waiting (A0 01 / EF 01; 0: none)")
                           ->group(group));
  set.others.push_back(app.add_option("--bind", a.bind, "Connect from this local address (HOST or HOST:PORT)")
                           ->type_name("HOST")
                           ->group(group));
  return set;
}

Result<Identity> check_identity(std::string_view device, std::string_view account, const std::optional<std::string>& password) {
  Identity id;
  if (!device.empty()) {
    auto d = ai::parse_device(device);
    if (!d) return fail(ErrorKind::bad_value, "--device: " + d.error().message);
    id.device = *d;
  }
  if (!account.empty()) {
    auto a = ai::parse_device(account);
    if (!a) return fail(ErrorKind::bad_value, "--account: " + a.error().message);
    id.account = *a;
  }
  if (password) {
    auto p = ai::parse_password(*password);
    if (!p) return fail(ErrorKind::bad_value, "--password: " + p.error().message);
    id.password = *p;
    if (!id.device && !id.account) return fail(ErrorKind::bad_value, "--password logs in as --device or --account; give one");
  }
  return id;
}

}  // namespace m2m::cli
