// m2m-server: the AI-Cloud platform (serve) and its offline registry tools (device, account).
#include <cstring>
#include <string>
#include <vector>

#include "admin.hpp"
#include "cli/cli.hpp"
#include "net/endpoint.hpp"
#include "platform/registry.hpp"
#include "platform/server.hpp"
#include "platform/store.hpp"

namespace {
constexpr std::string_view kProg = "m2m-server";

struct ServeArgs {
  std::string db = "m2m.db";
  std::string listen = "0.0.0.0:8266";
  std::uint64_t max_send_queue = 64 * 1024;
  std::uint64_t login_fail_limit = 10;
  std::uint64_t max_tcp = 0;
  m2m::platform::ServerOptions opt;
};

int serve(ServeArgs& a) {
  using namespace m2m;
  auto ep = net::parse_endpoint(a.listen);
  if (!ep) {
    cli::error(kProg, "--listen: " + ep.error().message);
    return cli::usage;
  }
  a.opt.listen = *ep;
  a.opt.max_send_queue = a.max_send_queue;
  a.opt.login_fail_limit = static_cast<std::uint32_t>(a.login_fail_limit);
  a.opt.max_tcp_sessions = a.max_tcp;
  // serve writes (platform.add_terminal) but never creates: a mistyped --db must not start a
  // platform on an empty registry that refuses every login.
  auto store = platform::Store::open(a.db, platform::Store::Access::read_write);
  if (!store) {
    cli::error(kProg, store.error().message);
    return cli::failure;
  }
  platform::Registry reg;
  if (auto r = store->each_device([&](const platform::DeviceRecord& d) { reg.put_device(d); }); !r) {
    cli::error(kProg, r.error().message);
    return cli::failure;
  }
  if (auto r = store->each_account([&](const platform::AccountRecord& acc) { reg.put_account(acc); }); !r) {
    cli::error(kProg, r.error().message);
    return cli::failure;
  }
  cli::install_interrupt_flag();
  platform::Server server(reg, &*store, a.opt);
  if (auto r = server.open(); !r) {
    cli::error(kProg, r.error().message);
    return cli::unavailable;
  }
  int rc = server.run();
  return rc == cli::ok && cli::interrupted() ? cli::ok : rc;
}
}  // namespace

int main(int argc, char** argv) {
  using namespace m2m;
  // `serve` is the default subcommand: "m2m-server --db x" means "m2m-server serve --db x".
  std::vector<char*> args(argv, argv + argc);
  static char serve_word[] = "serve";
  if (argc == 1 || (argv[1][0] == '-' && std::strcmp(argv[1], "-h") != 0 && std::strcmp(argv[1], "--help") != 0 &&
                    std::strcmp(argv[1], "-V") != 0 && std::strcmp(argv[1], "--version") != 0))
    args.insert(args.begin() + 1, serve_word);

  CLI::App app{"AI-Cloud M2M platform: devices log in over TCP or UDP, relay data within their group, meet "
               "for P2P; platform clients log in to control devices and receive their data"};
  cli::setup_app(app, kProg);
  app.require_subcommand(1);

  ServeArgs s;
  auto* sv = app.add_subcommand("serve", "run the platform (the default subcommand)");
  sv->add_option("--db", s.db, "registry file (SQLite; must exist: 'device add' or 'device import' creates it)")->type_name("FILE");
  sv->add_option("--listen", s.listen, "TCP and UDP address to serve on")->type_name("HOST:PORT");
  cli::add_duration(*sv, "--heartbeat-interval", s.opt.heartbeat_interval,
                    "devices' heartbeat interval; sessions silent for 3 intervals are closed");
  cli::add_duration(*sv, "--heartbeat-timeout", s.opt.heartbeat_timeout,
                    "close sessions silent this long (default 3 x --heartbeat-interval)")
      ->default_str("3 x interval");
  cli::add_duration(*sv, "--stats-interval", s.opt.stats_interval, "write a stats line this often (0: never)");
  cli::add_duration(*sv, "--route-timeout", s.opt.route_timeout,
                    "forget a client request forwarded to a device after this long without a reply");
  cli::add_count(*sv, "--max-send-queue", s.max_send_queue,
                 "bytes queued for a slow reader before its session is closed")
      ->default_str("64k");
  cli::add_count(*sv, "--login-fail-limit", s.login_fail_limit,
                 "failed logins per source IP per window before its logins are refused (0: no limit)")
      ->default_str("10");
  cli::add_duration(*sv, "--login-fail-window", s.opt.login_fail_window, "window of --login-fail-limit");
  cli::add_count(*sv, "--max-tcp-sessions", s.max_tcp, "refuse TCP connections beyond this (default: the file limit)");
  sv->add_flag("--reuseport", s.opt.reuseport, "set SO_REUSEPORT so several processes can share the port");
  cli::add_crc(*sv, s.opt.crc);
  sv->add_flag("-q,--quiet", s.opt.quiet, "no session events (listening, stats and shutdown lines remain)");
  bool verbose = false;
  sv->add_flag("-v,--verbose", verbose, "accepted for symmetry; every session event is already written");

  server_tool::AdminOptions admin;
  server_tool::add_admin_commands(app, admin);

  if (int rc = cli::parse(app, kProg, static_cast<int>(args.size()), args.data()); rc >= 0) return rc;
  if (int rc = server_tool::run_admin_command(app, admin); rc >= 0) return rc;
  return serve(s);
}
