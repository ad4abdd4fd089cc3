// m2m-loadtest run: a provisioned population logs in to a platform at a given rate, heartbeats
// and exchanges traffic for a duration, split over worker processes when one process may not
// open enough descriptors; the merged report goes to stdout and is checked against --slo.
#include <arpa/inet.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/app.hpp"
#include "cli/cli.hpp"
#include "commands.hpp"
#include "loadtest/engine.hpp"
#include "loadtest/limits.hpp"
#include "loadtest/provision.hpp"
#include "loadtest/run_plan.hpp"
#include "m2m/frame.hpp"
#include "net/endpoint.hpp"
#include "report_output.hpp"
#include "run_progress.hpp"
#include "workers.hpp"

namespace m2m::loadtest_tool {

namespace {
using namespace std::chrono_literals;

struct RunArgs {
  std::string server;
  std::uint64_t count = 0;
  bool udp = false;
  std::optional<std::string> tcp_share;
  std::string rate = "1000/s", relay = "0", uplink = "0", downlink = "0", churn = "0";
  std::chrono::milliseconds heartbeat = 30s, duration = 60s, reply_timeout = 5s;
  std::uint64_t seed = 1, groups = 1, account_start = loadtest::kDefaultAccountStart;
  std::optional<std::string> id_start, shard, source_ips;
  std::uint64_t workers = 0;  // 0: chosen for you
  std::string progress = "auto";
  CrcVariant crc = CrcVariant::modbus;
  ReportOutput out;
};

int usage_error(const std::string& message) {
  cli::error(kProg, message);
  return cli::usage;
}

// The run's options as the engine takes them, before the split over workers.
struct Plan {
  loadtest::EngineOptions base;
  loadtest::Slice slice;
  bool accounts_here = false;
  std::uint64_t descriptors = 0;
  std::uint64_t workers = 1;
};

int make_plan(const RunArgs& a, Plan& p) {
  auto& o = p.base;
  o.population.count = a.count;
  o.population.seed = a.seed;
  o.population.groups = a.groups;
  o.population.account_start = a.account_start;
  if (a.id_start) {
    auto id = ai::parse_device(*a.id_start);
    if (!id) return usage_error("--id-start: " + id.error().message);
    o.population.id_start = *id;
  }
  if (auto pop = loadtest::Population::make(o.population); !pop) return usage_error(pop.error().message);
  o.tcp_percent = a.udp ? 0 : 100;
  if (a.tcp_share) {
    std::string s = *a.tcp_share;
    if (!s.empty() && s.back() == '%') s.pop_back();
    unsigned v = 0;
    if (s.empty() || s.size() > 3 || s.find_first_not_of("0123456789") != std::string::npos || (v = std::stoul(s)) > 100)
      return usage_error("--tcp-share '" + *a.tcp_share + "': expected a percentage 0-100, e.g. 30%");
    o.tcp_percent = v;
  }
  struct RateOption {
    const char* name;
    const std::string& text;
    double& out;
  };
  for (const RateOption& r : {RateOption{"--rate", a.rate, o.traffic.login_rate}, RateOption{"--relay", a.relay, o.traffic.relay},
                              RateOption{"--uplink", a.uplink, o.traffic.uplink},
                              RateOption{"--downlink", a.downlink, o.traffic.downlink},
                              RateOption{"--churn", a.churn, o.traffic.churn}}) {
    auto v = loadtest::parse_rate(r.text);
    if (!v) return usage_error(std::string(r.name) + ": " + v.error().message);
    r.out = *v;
  }
  if (o.traffic.login_rate <= 0) return usage_error("--rate must be above 0 (devices log in at this rate)");
  o.traffic.heartbeat = a.heartbeat;
  o.duration = a.duration;
  o.reply_timeout = a.reply_timeout;
  if (a.duration.count() <= 0) return usage_error("--duration must be above 0");
  if (a.reply_timeout.count() <= 0) return usage_error("--reply-timeout must be above 0");
  o.crc = std::string(to_string(a.crc));
  loadtest::Shard shard;
  if (a.shard) {
    auto s = loadtest::parse_shard(*a.shard);
    if (!s) return usage_error(s.error().message);
    shard = *s;
  }
  p.slice = loadtest::shard_slice(shard, a.count);
  p.accounts_here = o.traffic.downlink > 0 && shard.k == 1;

  // One platform address, or a cluster's nodes separated by commas (EngineOptions::servers).
  for (std::size_t at = 0; at <= a.server.size();) {
    const std::size_t comma = std::min(a.server.find(',', at), a.server.size());
    const std::string one = a.server.substr(at, comma - at);
    at = comma + 1;
    if (one.empty())
      return usage_error("--server '" + a.server + "': an empty address (expected HOST:PORT, or HOST:PORT,HOST:PORT,… for a cluster's nodes)");
    auto hp = net::parse_host_port(one);
    if (!hp) return usage_error("--server: " + hp.error().message);  // it quotes `one`
    auto addrs = net::resolve(*hp, false);
    if (!addrs) {
      cli::error(kProg, "--server " + one + ": " + addrs.error().message);
      return cli::exit_code(addrs.error());
    }
    if (!o.servers.empty() && addrs->front().family() != o.servers.front().family())
      return usage_error("--server " + one + ": not of the first server's address family (IPv4 and IPv6 are not mixed)");
    o.servers.push_back(addrs->front());
  }
  return -1;
}

// Raises the soft file limit to the hard one (a process may), then checks the plan against
// the machine: descriptors per worker, local ports per source address, bindable addresses.
int preflight(const RunArgs& a, Plan& p) {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &r);
  }
  const auto limits = loadtest::read_system_limits();
  const auto& o = p.base;
  const std::uint64_t accounts = p.accounts_here ? o.population.groups : 0;
  p.descriptors = loadtest::descriptors_for(p.slice, o.tcp_percent, accounts);
  p.workers = a.workers ? a.workers : loadtest::auto_workers(p.slice, o.tcp_percent, accounts, limits.nofile_soft);
  p.workers = std::min<std::uint64_t>(p.workers, std::max<std::uint64_t>(p.slice.size(), 1));

  loadtest::RunPlan plan;
  // check_plan reads an even share per worker: give it the largest share, times the workers.
  plan.tcp_connections =
      std::max(p.descriptors, loadtest::worker_descriptors(p.slice, o.tcp_percent, accounts, p.workers) * p.workers);
  plan.workers = p.workers;
  loadtest::SourceAddresses sources;
  if (a.source_ips) {
    auto s = loadtest::parse_source_addresses(*a.source_ips);
    if (!s) return usage_error(s.error().message);
    sources = *s;
    plan.unbindable = loadtest::probe_bind(sources);
  } else if (o.servers.front().family() == AF_INET &&
             (ntohl(reinterpret_cast<const sockaddr_in*>(o.servers.front().sockaddr_ptr())->sin_addr.s_addr) >> 24) == 127) {
    const std::uint64_t ports = std::uint64_t{limits.port_high} - limits.port_low + 1;
    if (const auto n = loadtest::auto_source_count(p.descriptors, ports)) {
      sources.ranges.push_back({0x7F000002u, static_cast<std::uint32_t>(0x7F000002u + std::min<std::uint64_t>(n, 1u << 20) - 1)});
      std::fprintf(stderr, "%s: %s connections from %s source addresses (127.0.0.2-%s): the kernel's port search slows past %s on one\n",
                   kProg.data(), loadtest::group_digits(p.descriptors).c_str(), std::to_string(n).c_str(),
                   loadtest::format_ipv4_host(sources.at(sources.count() - 1)).c_str(),
                   loadtest::group_digits(loadtest::kConnectionsPerSource).c_str());
      plan.unbindable = loadtest::probe_bind(sources);
    }
  }
  plan.source_addresses = std::max<std::uint64_t>(sources.count(), 1);
  for (std::uint64_t i = 0; i < sources.count(); ++i) p.base.sources.push_back(net::Address::ipv4(sources.at(i), 0));
  const auto problems = loadtest::check_plan(plan, limits);
  for (const auto& m : problems) cli::error(kProg, m);
  return problems.empty() ? -1 : cli::failure;
}

int run(RunArgs& a) {
  if (!a.out.check()) return cli::usage;
  if (a.udp && a.tcp_share) return usage_error("--udp and --tcp-share exclude each other (--udp is --tcp-share 0%)");
  Plan p;
  if (int rc = make_plan(a, p); rc >= 0) return rc;
  if (int rc = preflight(a, p); rc >= 0) return rc;

  std::vector<loadtest::EngineOptions> jobs;
  for (const auto& share : loadtest::plan_workers(p.slice, a.count, p.workers, p.base.traffic, p.accounts_here)) {
    auto o = p.base;
    o.devices = share.devices;
    o.accounts = share.accounts;
    o.traffic = share.traffic;
    jobs.push_back(std::move(o));
  }
  if (a.out.verbose)
    std::fprintf(stderr, "%s: devices %s-%s of %s over %s, %s descriptors\n", kProg.data(),
                 std::to_string(p.slice.begin).c_str(), std::to_string(p.slice.end ? p.slice.end - 1 : 0).c_str(),
                 loadtest::group_digits(a.count).c_str(), cli::plural(p.workers, "worker").c_str(),
                 loadtest::group_digits(p.descriptors).c_str());

  cli::install_interrupt_flag();
  const ProgressMode mode = a.progress == "json"    ? ProgressMode::json
                            : a.progress == "plain" ? ProgressMode::plain
                            : a.progress == "none"  ? ProgressMode::none
                                                    : ProgressMode::automatic;
  RunProgress progress(mode);
  // Every worker ends by itself after the duration and the last replies; past this, a
  // worker is stuck and is stopped and named.
  const auto deadline = a.duration + a.reply_timeout + 60s;
  auto outcome = run_workers(jobs, deadline, [&](const loadtest::Snapshot& s) { progress.show(s); });
  progress.finish();
  if (!outcome.failures.empty()) {
    for (const auto& f : outcome.failures) cli::error(kProg, f);
    cli::error(kProg, "no report: the figures of the workers above are missing");
    return outcome.usage_error ? cli::usage : cli::failure;
  }
  const auto& t = outcome.report.totals;
  if (t.login_ok == 0 && t.login_fail > 0)
    cli::warning(kProg, "no device logged in (" + loadtest::group_digits(t.login_fail) + " logins failed, " +
                            loadtest::group_digits(t.connect_fail) + " of them at the connect): is " + a.server +
                            " the platform, and the population provisioned there?");
  const int rc = a.out.finish(outcome.report);
  return outcome.interrupted ? cli::exit_after_interrupt() : rc;
}
}  // namespace

Command add_run_command(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  auto* c = app.add_subcommand(
      "run",
      "simulate a provisioned population against a platform: logins at --rate, heartbeats, relay, uplink, downlink "
      "and churn traffic for --duration, latencies from each operation's intended time; the report goes to stdout");
  c->add_option("-s,--server", a->server,
                "the platform, HOST:PORT (TCP and UDP); a cluster's nodes as HOST:PORT,HOST:PORT,…: device i uses node "
                "(i / groups) mod nodes, so the members of a group take the nodes in turn and every relay crosses "
                "from one node to the next")
      ->required()
      ->type_name("HOST:PORT[,…]");
  cli::add_count(*c, "-n,--count", a->count, "devices in the population (as provisioned)")->required();
  c->add_flag("--udp", a->udp, "every device speaks UDP (default: TCP)");
  cli::add_optional(*c, "--tcp-share", a->tcp_share,
                    "this share of the devices speaks TCP, the rest UDP (device i is TCP when i mod 100 < P)", "P%");
  c->add_option("--rate", a->rate, "logins per second while the population ramps up (open loop)")
      ->type_name("R/s")
      ->default_str("1000/s");
  cli::add_duration(*c, "--heartbeat", a->heartbeat, "every device heartbeats this often (0: never)")
      ->default_str("30s");
  cli::add_duration(*c, "-d,--duration", a->duration, "from the first connect to the end of the run")
      ->default_str("60s");
  c->add_option("--relay", a->relay, "relay frames per second between devices of a group")->type_name("R/s");
  c->add_option("--uplink", a->uplink, "term uplinks per second (acknowledged by the platform)")->type_name("R/s");
  c->add_option("--downlink", a->downlink,
                "operator requests per second through the groups' accounts (provision them with --accounts)")
      ->type_name("R/s");
  c->add_option("--churn", a->churn, "devices per second that drop their connection and log in again")
      ->type_name("R/s");
  c->add_option("--seed", a->seed, "the seed the population was provisioned with")->type_name("S")->default_str("1");
  cli::add_count(*c, "--groups", a->groups, "groups the population was provisioned with")
      ->type_name("G")
      ->default_str("1");
  cli::add_optional(*c, "--id-start", a->id_start, "the first device id the population was provisioned with", "ID");
  c->add_option("--account-start", a->account_start, "the first account id (with --downlink)")
      ->type_name("N")
      ->default_str(std::to_string(loadtest::kDefaultAccountStart));
  cli::add_optional(*c, "--shard", a->shard, "simulate slice K of N of the population (machine K of N; rates are the whole run's)",
                    "K/N");
  cli::add_optional(*c, "--source-ips", a->source_ips,
                    "local IPv4 addresses to connect from, e.g. 127.0.0.2-127.0.0.40 (default: on loopback, one "
                    "address per 4,000 connections)",
                    "RANGE");
  cli::add_count(*c, "--workers", a->workers, "worker processes (default: as many as the file limit requires)")
      ->type_name("N");
  c->add_option("--progress", a->progress, "once a second on stderr: auto (redrawn on a terminal), plain, json, none")
      ->check(CLI::IsMember({"auto", "json", "plain", "none"}))
      ->type_name("MODE")
      ->default_str("auto");
  cli::add_duration(*c, "--reply-timeout", a->reply_timeout, "a reply later than this is lost")->default_str("5s");
  cli::add_crc(*c, a->crc);
  a->out.add_options(*c);
  return {c, [a] { return run(*a); }};
}

}  // namespace m2m::loadtest_tool
