// The router's side of the registry while serving: platform.add_terminal answered only when
// the (asynchronous) store says the device is durable, and revoked records' sessions ended
// with their reason. Runs on the fake loop of tests/support/router_harness.hpp.
#include <doctest/doctest.h>

#include <utility>
#include <vector>

#include "../support/router_harness.hpp"

using namespace m2m;
using namespace m2m::platform;
using namespace m2m::platform::testing;

namespace {
// A store whose writes finish when the test says so, as the writer thread's would.
struct DeferredStore final : TerminalStore {
  std::vector<std::pair<DeviceRecord, Done>> pending;
  void insert_device(const DeviceRecord& d, Done done) override { pending.emplace_back(d, std::move(done)); }
};

Bytes add_body(std::uint64_t id, std::string_view password) {
  Bytes b;
  put_be64(b, id);
  auto p = pw(password);
  b.insert(b.end(), p.begin(), p.end());
  return b;
}

void no_violations(const Harness& h) {
  for (const auto& v : h.violations) FAIL_CHECK(v);
}
}  // namespace

TEST_CASE("router: add_terminal is answered when the store says the write is durable, not before") {
  DeferredStore store;
  Harness h({}, &store);
  h.add_device(0xA1, "pa");
  h.add_account(7, "app", {"g1"});
  h.connect(5);
  auto dev = h.tcp_login(5, 0xA1, "pa");
  h.connect(6);
  auto app = h.tcp_login(6, 7, "app", ai::cls::platform);
  REQUIRE(dev);
  REQUIRE(app);
  const std::size_t before = h.to_fd(6).size();
  h.tcp(6, request(ai::cls::platform, 0x06, 7, *app, add_body(0xE1, "new"), 41));
  CHECK(h.to_fd(6).size() == before);  // no reply yet
  CHECK(h.reg.find_device(0xE1) == kNone);
  REQUIRE(store.pending.size() == 1);
  CHECK(store.pending[0].first.id == 0xE1);
  CHECK(store.pending[0].first.group == "g1");
  // The loop goes on meanwhile: another session's heartbeat is answered.
  h.tcp(5, request(ai::cls::link, 0x01, 0xA1, *dev, {}, 9));
  REQUIRE(h.last_to(5));
  CHECK(h.last_to(5)->status == ai::status::ok);
  CHECK(h.last_to(5)->seq == 9);

  store.pending[0].second(nullptr);  // durable
  h.end_event();
  auto r = h.last_to(6);
  REQUIRE(r);
  CHECK(r->cls == ai::cls::platform);
  CHECK(r->cmd == 0x06);
  CHECK(r->seq == 41);
  CHECK(r->status == ai::status::ok);
  CHECK(Bytes(r->token.begin(), r->token.end()) == Bytes(app->begin(), app->end()));
  CHECK(h.reg.find_device(0xE1) != kNone);
  CHECK(h.find("add_terminal", "device", "00000000000000E1").size() == 1);

  // A refusal by the store: fail, with the store's reason.
  h.tcp(6, request(ai::cls::platform, 0x06, 7, *app, add_body(0xE2, "x"), 42));
  REQUIRE(store.pending.size() == 2);
  store.pending[1].second("exists");
  h.end_event();
  CHECK(h.last_to(6)->seq == 42);
  CHECK(h.last_to(6)->status == ai::status::fail);
  CHECK(h.find("add_terminal_refused", "reason", "exists").size() == 1);
  CHECK(h.reg.find_device(0xE2) == kNone);
  no_violations(h);
}

TEST_CASE("router: a client that left before its add_terminal completed gets nothing; the device stays") {
  DeferredStore store;
  Harness h({}, &store);
  h.add_account(7, "app", {"g1"});
  h.connect(6);
  auto app = h.tcp_login(6, 7, "app", ai::cls::platform);
  REQUIRE(app);
  h.tcp(6, request(ai::cls::platform, 0x06, 7, *app, add_body(0xE1, "new"), 3));
  REQUIRE(store.pending.size() == 1);
  h.hang_up(6);
  h.connect(6);  // the descriptor is reused by a stranger
  const std::size_t before = h.to_fd(6).size();
  store.pending[0].second(nullptr);
  h.end_event();
  CHECK(h.to_fd(6).size() == before);
  CHECK(h.reg.find_device(0xE1) != kNone);
  no_violations(h);
}

TEST_CASE("router: revoked devices and accounts lose their TCP and UDP sessions with the reason") {
  Harness h;
  h.add_device(0xA1, "pa");
  h.add_device(0xA2, "pb");
  h.add_account(7, "app", {"g1"});
  h.connect(5);
  REQUIRE(h.tcp_login(5, 0xA1, "pa"));
  const auto udp_from = Harness::addr(2, 50000);
  REQUIRE(h.udp_login(udp_from, 0xA2, "pb"));
  h.connect(6);
  REQUIRE(h.tcp_login(6, 7, "app", ai::cls::platform));

  h.reg.remove_device(h.reg.find_device(0xA1));
  h.router.revoke_device(h.reg.find_device_any(0xA1), "removed");
  h.reg.device(h.reg.find_device(0xA2)).enabled = false;
  h.router.revoke_device(h.reg.find_device(0xA2), "disabled");
  h.router.revoke_account(h.reg.find_account(7), "password_changed");
  h.end_event();
  CHECK_FALSE(h.open(5));
  CHECK_FALSE(h.open(6));
  auto tcp = h.find("logout", "device", "00000000000000A1");
  REQUIRE(tcp.size() == 1);
  CHECK(tcp[0]["reason"] == "removed");
  CHECK(tcp[0]["transport"] == "tcp");
  auto udp = h.find("logout", "device", "00000000000000A2");
  REQUIRE(udp.size() == 1);
  CHECK(udp[0]["reason"] == "disabled");
  CHECK(udp[0]["transport"] == "udp");
  auto acc = h.find("logout", "account", 7);
  REQUIRE(acc.size() == 1);
  CHECK(acc[0]["reason"] == "password_changed");
  CHECK_FALSE(h.reg.device(h.reg.find_device(0xA2)).logged_in);
  CHECK(h.router.counters().online_tcp == 0);
  CHECK(h.router.counters().online_udp == 0);
  CHECK(h.router.counters().clients == 0);
  // The removed device's next login is refused as unknown.
  h.connect(8);
  CHECK_FALSE(h.tcp_login(8, 0xA1, "pa"));
  CHECK(h.find("login_rejected", "reason", "unknown").size() == 1);
  no_violations(h);
}
