#include "serve.hpp"

#include <string>

#include <unistd.h>

#include <cctype>
#include <memory>

#include "cli/app.hpp"
#include "cluster/cluster.hpp"
#include "cluster/kv_registry.hpp"
#include "cli/cli.hpp"
#include "net/endpoint.hpp"
#include "net/loop.hpp"
#include "platform/registry.hpp"
#include "platform/store.hpp"
#include "web/console.hpp"

namespace m2m::server_tool {

namespace {
constexpr std::string_view kProg = "m2m-server";

// A count that the server keeps in 32 bits must fit, not wrap (4294967296 would become 0: off).
bool fits32(const char* name, std::uint64_t v, std::uint32_t& out) {
  if (v > 0xFFFFFFFFull) {
    m2m::cli::error(kProg, std::string(name) + ": " + std::to_string(v) + " is too large (at most 4294967295)");
    return false;
  }
  out = static_cast<std::uint32_t>(v);
  return true;
}

// --cluster: the connection to NATS, before the server opens its port (a node that cannot
// reach the engine does not start: its devices would log in to a platform cut off from the rest).
int cluster_node(const ServeArgs& a, std::unique_ptr<cluster::Cluster>& out) {
  cluster::ClusterOptions co;
  co.url = a.cluster;
  co.node = a.node;
  if (co.node.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    for (char* c = host; *c; ++c)
      if (!std::isalnum(static_cast<unsigned char>(*c)) && *c != '-') *c = '_';
    co.node = std::string(host) + "-" + std::to_string(::getpid());
  }
  if (!cluster::valid_node_name(co.node)) {
    m2m::cli::error(kProg, "--node: '" + co.node + "' is not a node name: use 1 to 64 letters, digits, '-' or '_'");
    return m2m::cli::usage;
  }
  if (a.cluster_heartbeat.count() <= 0) {
    m2m::cli::error(kProg, "--cluster-heartbeat must be greater than 0");
    return m2m::cli::usage;
  }
  co.heartbeat = a.cluster_heartbeat;
  co.route_timeout = a.opt.route_timeout;
  auto c = cluster::Cluster::connect(co);
  if (!c) {
    m2m::cli::error(kProg, c.error().message);
    return m2m::cli::unavailable;
  }
  out = std::move(*c);
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, ServeArgs& s) {
  using namespace m2m;
  auto* sv = app.add_subcommand("serve", "run the platform (the default subcommand)");
  sv->add_option("--db", s.db, "registry file (SQLite; must exist: 'device add' or 'device import' creates it); "
                 "with --cluster the registry is the cluster's bucket instead")
      ->type_name("FILE")
      ->each([&s](const std::string&) { s.db_given = true; });
  sv->add_option("--listen", s.listen,
                 "TCP and UDP address to serve on: IPv4 (0.0.0.0:8266), or IPv6 in brackets ([::1]:8266; [::]:8266 "
                 "serves IPv4 peers too)")
      ->type_name("HOST:PORT");
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
                 "failed logins of one id from one source address per window before that pair is refused (0: no limit)")
      ->default_str("10");
  cli::add_duration(*sv, "--login-fail-window", s.opt.login_fail_window, "window of --login-fail-limit");
  cli::add_count(*sv, "--max-failed-logins", s.max_failed_logins,
                 "failed logins per second, all sources together, before logins are refused as busy (0: no limit)")
      ->default_str("1000");
  cli::add_count(*sv, "--max-tcp-sessions", s.max_tcp, "refuse TCP connections beyond this (default: the file limit)");
  cli::add_count(*sv, "--max-conns-per-ip", s.max_conns_per_ip,
                 "refuse TCP connections from one address beyond this (0: no limit)")
      ->default_str("0");
  cli::add_count(*sv, "--max-terminals-per-account", s.max_terminals,
                 "devices one account may register with platform.add_terminal while the server runs (0: no limit)")
      ->default_str("1000");
  sv->add_option("--udp-trust", s.udp_trust,
                 "for a device with a TCP session, accept its UDP frames from: same-ip (its TCP address) or any")
      ->type_name("same-ip|any")
      ->default_str("same-ip");
  sv->add_option("--firmware-dir", s.opt.firmware_dir,
                 "serve firmware updates from this folder: an operator's term.ota_start names a file there "
                 "(its checksum filled in when left out) and devices fetch its frames from the platform")
      ->type_name("DIR")
      ->check(CLI::ExistingDirectory);
  sv->add_flag("--reuseport", s.opt.reuseport, "set SO_REUSEPORT so several processes can share the port");
  cli::add_crc(*sv, s.opt.crc);
  sv->add_option("-f,--format", s.format, "events as json (JSON Lines) or text (one readable line each: TS EVENT key=value …)")
      ->type_name("json|text")
      ->check(CLI::IsMember({"json", "text"}))
      ->default_str("json");
  sv->add_option("--cluster", s.cluster,
                 "run as one node of a cluster on NATS: devices and operators on every node act as one platform "
                 "(m2m-server(1), CLUSTER)")
      ->type_name("nats://HOST:PORT");
  sv->add_option("--node", s.node, "this node's name in the cluster (letters, digits, '-', '_'; default HOST-PID)")
      ->type_name("NAME");
  cli::add_duration(*sv, "--cluster-heartbeat", s.cluster_heartbeat,
                    "how often a node tells the others it is alive; one silent for 3 of these is lost, with its "
                    "devices");
  sv->add_option("--http", s.http,
                 "serve the operations console, its JSON API and Prometheus /metrics here (off by default; "
                 "sign-ins need a console user: m2m-server user add NAME --role admin)")
      ->type_name("HOST:PORT");
  sv->add_flag("--http-secure-cookie", s.http_secure_cookie,
               "mark the console's session cookie Secure (when a TLS proxy in front serves it as https)");
  sv->add_flag("-q,--quiet", s.opt.quiet, "no session events (listening, stats and shutdown lines remain)");
  sv->add_flag("-v,--verbose", s.verbose, "accepted for symmetry; every session event is already written");

}

int serve(ServeArgs& a) {
  using namespace m2m;
  auto hp = net::parse_host_port(a.listen);
  if (!hp) {
    cli::error(kProg, "--listen: " + hp.error().message);
    return cli::usage;
  }
  auto addrs = net::resolve(*hp, false);
  if (!addrs) {
    cli::error(kProg, "--listen: " + addrs.error().message);
    return cli::usage;
  }
  // A name with both families (localhost) listens on its IPv4 address, as before IPv6.
  a.opt.listen = addrs->front();
  for (const net::Address& ad : *addrs)
    if (ad.family() == AF_INET) {
      a.opt.listen = ad;
      break;
    }
  a.opt.max_send_queue = a.max_send_queue;
  a.opt.max_tcp_sessions = a.max_tcp;
  std::uint32_t terminals = 0;
  if (!fits32("--login-fail-limit", a.login_fail_limit, a.opt.login_fail_limit) ||
      !fits32("--max-failed-logins", a.max_failed_logins, a.opt.max_failed_logins_per_second) ||
      !fits32("--max-conns-per-ip", a.max_conns_per_ip, a.opt.max_conns_per_ip) ||
      !fits32("--max-terminals-per-account", a.max_terminals, terminals))
    return cli::usage;
  a.opt.max_terminals_per_account = terminals;
  if (a.opt.heartbeat_interval.count() <= 0) {
    cli::error(kProg, "--heartbeat-interval must be greater than 0");
    return cli::usage;
  }
  if (a.opt.heartbeat_timeout.count() < 0 || a.opt.route_timeout.count() <= 0 ||
      a.opt.login_fail_window.count() <= 0 || a.opt.stats_interval.count() < 0) {
    cli::error(kProg, "--heartbeat-timeout, --route-timeout and --login-fail-window must be greater than 0");
    return cli::usage;
  }
  if (a.max_send_queue == 0) {
    cli::error(kProg, "--max-send-queue must be greater than 0");
    return cli::usage;
  }
  if (a.udp_trust == "same-ip") {
    a.opt.udp_trust = platform::RouterOptions::UdpTrust::same_ip;
  } else if (a.udp_trust == "any") {
    a.opt.udp_trust = platform::RouterOptions::UdpTrust::any;
  } else {
    cli::error(kProg, "--udp-trust: expected same-ip or any, not '" + a.udp_trust + "'");
    return cli::usage;
  }
  a.opt.event_format = a.format == "text" ? platform::EventFormat::text : platform::EventFormat::json;
  // serve writes (platform.add_terminal) but never creates: a mistyped --db must not start a
  // platform on an empty registry that refuses every login. This connection only loads the
  // registry; the server's writer thread opens its own to follow and write the file.
  if (!a.cluster.empty() && a.db_given) {
    cli::error(kProg, "--db and --cluster: a cluster's registry lives in NATS, not in a file; to move a file there: "
                      "m2m-server device export --db " + a.db + " | m2m-server device import --cluster " + a.cluster +
                      " (and the same for account)");
    return cli::usage;
  }
  web::ConsoleOptions console;
  if (!a.http.empty()) {
    if (!a.cluster.empty()) {
      cli::error(kProg, "--http with --cluster: the console keeps its users in the registry file and does not run "
                        "on a cluster node yet; run it on a single server (m2m-server(1), CONSOLE)");
      return cli::usage;
    }
    auto http_hp = net::parse_host_port(a.http);
    auto http_at = http_hp ? net::resolve(*http_hp, false) : Result<std::vector<net::Address>>(unexpected(http_hp.error()));
    if (!http_at) {
      cli::error(kProg, "--http: " + http_at.error().message);
      return cli::usage;
    }
    console.listen = http_at->front();
    console.db = a.db;
    console.firmware_dir = a.opt.firmware_dir;
    // A page waits for a device's answer at most 10 s, and never past --route-timeout.
    console.command_timeout = std::min<std::chrono::milliseconds>(a.opt.route_timeout, std::chrono::seconds(10));
    console.secure_cookie = a.http_secure_cookie;
  }
  platform::Registry reg;
  if (a.cluster.empty()) {
    auto store = platform::Store::open(a.db, platform::Store::Access::read_write);
    if (!store) {
      cli::error(kProg, store.error().message);
      return cli::failure;
    }
    if (auto r = store->each_device([&](const platform::DeviceRecord& d) { reg.put_device(d); }); !r) {
      cli::error(kProg, r.error().message);
      return cli::failure;
    }
    if (auto r = store->each_account([&](const platform::AccountRecord& acc) { reg.put_account(acc); }); !r) {
      cli::error(kProg, r.error().message);
      return cli::failure;
    }
  }
  static net::Stop stop;  // outlives serve(): a late signal finds it still there
  cli::install_interrupt_flag(&stop);  // SIGINT/SIGTERM stop the loop (lib/platform knows no signals)
  std::unique_ptr<cluster::Cluster> node;  // declared first: outlives the server
  if (!a.cluster.empty()) {
    if (int rc = cluster_node(a, node); rc != 0) return rc;
  }
  platform::Server server(reg, a.opt);
  if (auto r = server.open(); !r) {
    cli::error(kProg, r.error().message);
    return cli::unavailable;
  }
  if (node) {
    if (auto r = server.join(*node); !r) {
      cli::error(kProg, "--cluster: " + r.error().message);
      return cli::failure;
    }
  }
  // The registry: the file, or the cluster's bucket (loaded here, before anything is served).
  auto followed = node ? server.follow([&a](platform::Registry& r, platform::RegistryFollower::Hooks h)
                                           -> Result<std::unique_ptr<platform::RegistryFollower>> {
    auto f = cluster::KvFollower::start(a.cluster, r, std::move(h));
    if (!f) return unexpected(f.error());
    return std::unique_ptr<platform::RegistryFollower>(std::move(*f));
  })
                       : server.follow(a.db);
  if (!followed) {
    cli::error(kProg, followed.error().message);
    return followed.error().kind == ErrorKind::unavailable ? cli::unavailable : cli::failure;
  }
  std::unique_ptr<web::Console> console_server;
  if (!a.http.empty()) {
    auto c = web::Console::start(server, console);
    if (!c) {
      cli::error(kProg, c.error().message);
      return cli::unavailable;
    }
    console_server = std::move(*c);
  }
  return server.run(stop) != 0 ? cli::failure : cli::exit_after_interrupt(cli::OnInterrupt::server_stop);
}
}  // namespace m2m::server_tool
