// The server's registry glue without sockets: another connection's commits reach the
// in-memory registry through the watch, revocations reach the hooks, and the server's own
// writes complete on the calling thread.
#include <doctest/doctest.h>

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "platform/live_registry.hpp"
#include "platform/store.hpp"
#include "temp_dir.hpp"

using namespace m2m;
using namespace m2m::platform;
using namespace std::chrono_literals;

namespace {
using m2m_test::TempDir;
DeviceRecord dev(std::uint64_t id, bool enabled = true) {
  DeviceRecord d;
  d.id = id;
  d.enabled = enabled;
  return d;
}
// Runs the loop's part until `cond` holds or 5 s passed.
template <class Cond>
bool serve_until(LiveRegistry& live, Cond cond) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!cond() && std::chrono::steady_clock::now() < deadline) {
    pollfd p{live.fd(), POLLIN, 0};
    if (::poll(&p, 1, 50) == 1) live.ready();
  }
  return cond();
}
}  // namespace

TEST_CASE("live registry: other processes' changes arrive, revoked sessions are named") {
  TempDir dir;
  Registry reg;
  {
    auto s = Store::open(dir.db(), Store::Access::create);
    REQUIRE(s);
    for (auto d : {dev(1), dev(2), dev(3)}) {
      REQUIRE(s->put_device(d, Store::Mode::insert));
      reg.put_device(d);
    }
  }
  std::vector<std::string> revoked;
  std::vector<SyncResult> syncs;
  LiveRegistry::Hooks hooks;
  hooks.revoke_device = [&](std::uint32_t i, std::string_view why) {
    revoked.push_back(std::to_string(reg.device(i).id) + ":" + std::string(why));
  };
  hooks.revoke_account = [&](std::uint32_t, std::string_view why) { revoked.push_back("account:" + std::string(why)); };
  hooks.synced = [&](const SyncResult& r) { syncs.push_back(r); };
  auto live = LiveRegistry::start(dir.db(), reg, hooks, 20ms);
  REQUIRE(live);

  auto other = Store::open(dir.db(), Store::Access::read_write);
  REQUIRE(other);
  REQUIRE(*other->remove_device(1));
  REQUIRE(other->put_device(dev(2, false), Store::Mode::upsert));
  REQUIRE(other->put_device(dev(4), Store::Mode::insert));
  REQUIRE(serve_until(**live, [&] { return reg.find_device(4) != kNone && reg.find_device(1) == kNone; }));
  std::sort(revoked.begin(), revoked.end());  // one reload or several, in any order
  CHECK(revoked == std::vector<std::string>{"1:removed", "2:disabled"});
  CHECK_FALSE(reg.device(reg.find_device(2)).enabled);
  REQUIRE_FALSE(syncs.empty());

  // The server's own write: completes on this thread, lands in the registry, not reported
  // back as another process's change.
  const char* result = "pending";
  const std::size_t syncs_before = syncs.size();
  (*live)->add_device(dev(5), [&](const char* refused, const Error*) { result = refused; });
  CHECK((*live)->adding(5));
  REQUIRE(serve_until(**live, [&] { return result == nullptr; }));
  CHECK_FALSE((*live)->adding(5));
  CHECK(reg.find_device(5) != kNone);
  // An id another process registered meanwhile is refused as existing.
  REQUIRE(other->put_device(dev(6), Store::Mode::insert));
  result = "pending";
  std::string error;
  (*live)->add_device(dev(6), [&](const char* refused, const Error* e) {
    result = refused;
    if (e) error = e->message;
  });
  REQUIRE(serve_until(**live, [&] { return result == nullptr || std::string_view(result) != "pending"; }));
  REQUIRE(result != nullptr);
  CHECK(std::string_view(result) == "exists");
  CHECK(error == "device 0000000000000006 already exists");
  // Device 6 then arrives as another process's change; device 5 never did.
  REQUIRE(serve_until(**live, [&] { return reg.find_device(6) != kNone; }));
  for (std::size_t i = syncs_before; i < syncs.size(); ++i) CHECK(syncs[i].devices_added == 1);
  CHECK(revoked.size() == 2);
}
