// The load generator (lib/loadtest/engine.hpp) against the real platform: lib/platform's
// Server in-process on loopback (an ephemeral port), its registry provisioned from the same
// Population the engine regenerates. Each run is bounded by its own duration (a few seconds)
// plus the reply timeout; the figures asserted are the engine's and the server's counts.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "loadtest/engine.hpp"
#include "net/socket.hpp"
#include "platform/registry.hpp"
#include "platform/server.hpp"

using namespace m2m;
using namespace m2m::loadtest;
using namespace std::chrono_literals;

namespace {

// The platform on its own thread, serving a registry provisioned from `pop`.
struct Platform {
  platform::Registry reg;
  std::unique_ptr<platform::Server> server;
  net::Stop stop;
  std::thread thread;

  explicit Platform(const Population& pop) {
    for (std::uint64_t i = 0; i < pop.options().count; ++i) {
      const Credentials c = pop.device(i);
      platform::DeviceRecord d;
      d.id = c.id;
      d.password = c.password;
      d.group = c.group;
      reg.put_device(d);
    }
    for (std::uint64_t g = 0; g < pop.options().groups; ++g) {
      const Credentials c = pop.account(g);
      platform::AccountRecord a;
      a.id = c.id;
      a.name = "loadtest-" + c.group;
      a.password = c.password;
      a.groups = {c.group};
      reg.put_account(a);
    }
    platform::ServerOptions o;
    o.listen = net::Address::ipv4(0x7F000001, 0);
    o.quiet = true;
    server = std::make_unique<platform::Server>(reg, o);
    auto r = server->open();
    REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
    thread = std::thread([this] { server->run(stop); });
  }
  ~Platform() {
    stop.request();
    if (thread.joinable()) thread.join();
  }
  // Stops the server and returns its counters (read once its loop has ended).
  platform::Counters finish() {
    stop.request();
    thread.join();
    return server->counters();
  }
  net::Address address() const { return server->bound(); }
};

Population::Options population(std::uint64_t count, std::uint64_t groups, std::uint64_t seed = 7) {
  Population::Options p;
  p.count = count;
  p.groups = groups;
  p.seed = seed;
  return p;
}

EngineOptions options(const Population::Options& p, net::Address server, Millis duration) {
  EngineOptions o;
  o.servers = {server};
  o.population = p;
  o.devices = Slice{0, p.count};
  o.traffic.login_rate = 2000;
  o.traffic.heartbeat = 500ms;
  o.duration = duration;
  o.reply_timeout = 2000ms;
  return o;
}

Report run(const EngineOptions& o, std::vector<Snapshot>* snaps = nullptr) {
  auto e = Engine::make(o);
  REQUIRE_MESSAGE(e.has_value(), (e ? "" : e.error().message));
  net::Stop stop;
  auto r = (*e)->run(stop, [&](const Snapshot& s) {
    if (snaps) snaps->push_back(s);
  });
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  return *r;
}

std::uint64_t err(const Report& r, const std::string& kind) {
  auto it = r.errors.find(kind);
  return it == r.errors.end() ? 0 : it->second;
}

std::string errors_text(const Report& r) {
  std::string s;
  for (const auto& [k, n] : r.errors) s += k + "=" + std::to_string(n) + " ";
  return s;
}

}  // namespace

TEST_CASE("engine: 200 devices, half TCP half UDP: every login ok, every heartbeat acknowledged and counted by the server") {
  const auto p = population(200, 4);
  Platform platform(*Population::make(p));
  EngineOptions o = options(p, platform.address(), 3000ms);
  o.tcp_percent = 50;
  std::vector<Snapshot> snaps;
  const Report r = run(o, &snaps);
  const platform::Counters c = platform.finish();
  INFO("errors: " << errors_text(r));

  CHECK(r.devices == 200);
  CHECK(r.totals.connect_ok == 100);  // TCP devices only
  CHECK(r.totals.connect_fail == 0);
  CHECK(r.totals.login_ok == 200);
  CHECK(r.totals.login_fail == 0);
  CHECK(c.logins == 200);
  // 3 s minus a 0.1 s ramp at 500 ms: 5 heartbeats a device (the 6th would be due at the end).
  CHECK(r.totals.hb_sent >= 200 * 5);
  CHECK(r.totals.hb_sent <= 200 * 6);
  CHECK(r.totals.hb_acked == r.totals.hb_sent);
  CHECK(r.totals.hb_loss == 0);
  // The server saw exactly the logins and the heartbeats, nothing else.
  CHECK(c.frames_in == 200 + r.totals.hb_sent);
  CHECK(r.errors.empty());
  CHECK(r.hist(Op::heartbeat).count() == r.totals.hb_acked);
  CHECK(r.hist(Op::login).count() == 200);
  CHECK(r.hist(Op::connect).count() == 100);
  // Heartbeats leave on their schedule: a scheduler that sends them late (at the next poll
  // of some other timer, the 5 s login deadline) shows here as a median of seconds. The
  // bound is loose on purpose: this runs under ASan beside other tests on 2 shared cores.
  CHECK(r.hist(Op::heartbeat).percentile(50) < 1'000'000);
  CHECK(r.duration_s >= 2.9);
  CHECK(r.duration_s < 10.0);
  CHECK(r.cpu_seconds > 0);
  CHECK(r.peak_rss_kib > 0);
  // Progress about once a second, cumulative, all 200 online once the ramp is over.
  REQUIRE(snaps.size() >= 2);
  CHECK(snaps.size() <= 4);
  CHECK(snaps.back().online == 200);
  CHECK(snaps.back().scheduled_connects == 200);
  CHECK(snaps.front().totals.hb_sent <= snaps.back().totals.hb_sent);
}

TEST_CASE("engine: relay, uplink and downlink mixes arrive exactly once, timed, answered with real values") {
  const auto p = population(100, 5);
  Platform platform(*Population::make(p));
  EngineOptions o = options(p, platform.address(), 3000ms);
  o.tcp_percent = 50;
  o.accounts = true;
  o.traffic.heartbeat = 1000ms;
  o.traffic.relay = 300;
  o.traffic.uplink = 100;
  o.traffic.downlink = 50;
  const Report r = run(o);
  const platform::Counters c = platform.finish();
  INFO("errors: " << errors_text(r));

  CHECK(r.totals.login_ok == 100);
  // Mixes start after the ramp (50 ms) and run until the end: about 2.95 s of each rate.
  CHECK(r.totals.relay_sent >= 800);
  CHECK(r.relay.received == r.totals.relay_sent);
  CHECK(r.relay.lost == 0);
  CHECK(r.relay.duplicates == 0);
  CHECK(r.relay.late == 0);
  CHECK(c.relays == r.totals.relay_sent);
  CHECK(r.hist(Op::relay).count() == r.relay.received);
  CHECK(r.totals.uplink_sent >= 250);
  CHECK(r.totals.uplink_acked == r.totals.uplink_sent);
  CHECK(c.uplinks == r.totals.uplink_sent);
  CHECK(r.totals.downlink_sent >= 120);
  CHECK(r.totals.downlink_ok == r.totals.downlink_sent);
  CHECK(r.totals.downlink_fail == 0);
  CHECK(r.totals.downlink_loss == 0);
  CHECK(r.hist(Op::downlink).count() == r.totals.downlink_ok);
  CHECK(r.totals.hb_acked == r.totals.hb_sent);
  CHECK(r.errors.empty());
}

TEST_CASE("engine: churn drops logged-in devices and logs them in again, counted") {
  const auto p = population(60, 3);
  Platform platform(*Population::make(p));
  EngineOptions o = options(p, platform.address(), 3000ms);
  o.tcp_percent = 50;
  o.traffic.churn = 10;
  const Report r = run(o);
  const platform::Counters c = platform.finish();
  INFO("errors: " << errors_text(r));

  CHECK(r.totals.churn >= 20);
  CHECK(r.totals.login_ok == 60 + r.totals.churn);
  CHECK(r.totals.login_fail == 0);
  CHECK(c.logins == r.totals.login_ok);
  CHECK(r.totals.hb_loss == 0);
  CHECK(r.totals.hb_acked == r.totals.hb_sent);
  CHECK(r.errors.empty());
}

TEST_CASE("engine: a wrong password population fails every login, refused") {
  const auto provisioned = population(20, 2, 7);
  Platform platform(*Population::make(provisioned));
  const auto other = population(20, 2, 8);  // same ids, other passwords
  EngineOptions o = options(other, platform.address(), 1000ms);
  o.tcp_percent = 50;
  const Report r = run(o);
  const platform::Counters c = platform.finish();

  CHECK(r.totals.login_ok == 0);
  CHECK(r.totals.login_fail == 20);
  CHECK(err(r, "login_refused") == 20);
  CHECK(c.login_rejected == 20);
  CHECK(r.totals.hb_sent == 0);
}

TEST_CASE("engine: several servers (a cluster's nodes): group members take them in turn, TCP and UDP alike") {
  // 116 devices in 4 groups: device i is member i / 4 of group i mod 4, and uses server
  // (i / 4) mod 2: the even members (15 of 29, 60 devices) the first, the odd ones (56) the
  // second, so that a relay to the next member crosses. Devices 0-49 and 100-115 speak TCP
  // (i mod 100 < 50), the rest UDP. Two independent platforms, each provisioned with
  // everything: each counts the logins and heartbeats of its own share.
  const auto p = population(116, 4);
  const Population pop = *Population::make(p);
  Platform first(pop), second(pop);
  EngineOptions o = options(p, first.address(), 2000ms);
  o.servers.push_back(second.address());
  o.tcp_percent = 50;
  const Report r = run(o);
  const platform::Counters a = first.finish(), b = second.finish();
  INFO("errors: " << errors_text(r));
  CHECK(r.totals.login_ok == 116);
  CHECK(r.totals.login_fail == 0);
  CHECK(r.totals.connect_ok == 66);
  CHECK(a.logins == 60);
  CHECK(b.logins == 56);
  CHECK(r.totals.hb_loss == 0);
  CHECK(r.totals.hb_sent >= 116 * 3);  // 2 s at 500 ms
  CHECK(r.totals.hb_acked == r.totals.hb_sent);
  // Between them the servers saw exactly the logins and heartbeats; each one its own
  // devices' (3 or 4 heartbeats each, as the ramp falls), not a round robin per device.
  CHECK(a.frames_in + b.frames_in == 116 + r.totals.hb_sent);
  CHECK(a.frames_in >= 60 * 4);
  CHECK(a.frames_in <= 60 * 5);
  CHECK(b.frames_in >= 56 * 4);
  CHECK(b.frames_in <= 56 * 5);
  CHECK(r.errors.empty());
}

TEST_CASE("engine: a server address that refuses connections: errors by kind 'refused'") {
  // A port nobody listens on: bind one, learn it, close it.
  auto fd = net::listen_tcp(net::Address::ipv4(0x7F000001, 0), false);
  REQUIRE(fd.has_value());
  auto at = net::local_address(fd->get());
  REQUIRE(at.has_value());
  fd->reset();
  const auto p = population(10, 1);
  EngineOptions o = options(p, *at, 500ms);
  const Report r = run(o);

  CHECK(r.totals.connect_fail == 10);
  CHECK(r.totals.connect_ok == 0);
  CHECK(r.totals.login_fail == 10);
  CHECK(err(r, "refused") == 10);
  CHECK(r.error_total() == 10);
}

TEST_CASE("engine: make() checks the options, and the per-device state fits the budget") {
  const auto p = population(10, 2);
  EngineOptions o = options(p, net::Address::ipv4(0x7F000001, 8266), 1000ms);
  {
    auto e = Engine::make(o);
    REQUIRE(e.has_value());
    CHECK((*e)->memory_per_device() <= 1024);
  }
  o.traffic.downlink = 5;
  auto no_accounts = Engine::make(o);
  REQUIRE_FALSE(no_accounts.has_value());
  CHECK(no_accounts.error().message.find("accounts") != std::string::npos);
  o.traffic.downlink = 0;
  o.devices = Slice{5, 11};
  auto outside = Engine::make(o);
  REQUIRE_FALSE(outside.has_value());
  CHECK(outside.error().message.find("not inside the population of 10") != std::string::npos);
  o.devices = Slice{0, 10};
  o.traffic.relay = -1;
  CHECK_FALSE(Engine::make(o).has_value());
  o.traffic.relay = 0;
  o.crc = "nope";
  CHECK_FALSE(Engine::make(o).has_value());
}
