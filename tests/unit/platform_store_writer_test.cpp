// The registry writer thread: jobs leave the caller's thread, completions come back through
// an eventfd and run only where drain() is called, and a write lock held by another
// connection delays the write, never the caller.
#include <doctest/doctest.h>

#include <poll.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "platform/store.hpp"
#include "platform/store_writer.hpp"
#include "temp_dir.hpp"

using namespace m2m;
using namespace m2m::platform;
using namespace std::chrono_literals;

namespace {
using m2m_test::TempDir;

bool readable(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) == 1;
}

// Drains until `n` completions ran or 5 s passed (a bound, not a guess: the loop stops as
// soon as the condition holds).
std::size_t drain_until(StoreWriter& w, std::size_t n) {
  std::size_t ran = 0;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (ran < n && std::chrono::steady_clock::now() < deadline) {
    if (readable(w.fd(), 100)) ran += w.drain();
  }
  return ran;
}

DeviceRecord dev(std::uint64_t id) {
  DeviceRecord d;
  d.id = id;
  return d;
}

std::size_t count_devices(const std::string& path) {
  auto s = Store::open(path, Store::Access::read_only);
  REQUIRE(s);
  std::size_t n = 0;
  REQUIRE(s->each_device([&](const DeviceRecord&) { ++n; }));
  return n;
}
}  // namespace

TEST_CASE("store writer: jobs run in order on the writer thread, completions on the draining thread") {
  TempDir dir;
  REQUIRE(Store::open(dir.db(), Store::Access::create));
  auto w = StoreWriter::start(dir.db());
  REQUIRE(w);
  const auto me = std::this_thread::get_id();
  std::vector<int> order;
  std::vector<bool> job_on_other_thread, completion_here;
  for (int i = 0; i < 5; ++i) {
    (*w)->submit([&, i](Store& s) -> StoreWriter::Completion {
      job_on_other_thread.push_back(std::this_thread::get_id() != me);
      auto r = s.put_device(dev(100 + i), Store::Mode::insert);
      return [&, i, ok = r.has_value()] {
        completion_here.push_back(std::this_thread::get_id() == me && ok);
        order.push_back(i);
      };
    });
  }
  CHECK((*w)->in_flight() == 5);
  CHECK(drain_until(**w, 5) == 5);
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
  CHECK(job_on_other_thread == std::vector<bool>(5, true));
  CHECK(completion_here == std::vector<bool>(5, true));
  CHECK((*w)->in_flight() == 0);
  CHECK(count_devices(dir.db()) == 5);  // durable: another connection sees them
  CHECK_FALSE(readable((*w)->fd(), 0));
}

TEST_CASE("store writer: another process's write lock delays the write, not the caller") {
  TempDir dir;
  REQUIRE(Store::open(dir.db(), Store::Access::create));
  auto blocker = Store::open(dir.db(), Store::Access::read_write);
  REQUIRE(blocker);
  auto tx = std::make_unique<Transaction>(blocker->db());
  REQUIRE(tx->begin());  // holds the write lock, as `BEGIN IMMEDIATE` in another process

  auto w = StoreWriter::start(dir.db());
  REQUIRE(w);
  bool done = false, ok = false;
  auto t0 = std::chrono::steady_clock::now();
  (*w)->submit([&](Store& s) -> StoreWriter::Completion {
    auto r = s.put_device(dev(7), Store::Mode::insert);
    return [&, good = r.has_value()] {
      done = true;
      ok = good;
    };
  });
  CHECK(std::chrono::steady_clock::now() - t0 < 100ms);  // submit does not wait for the lock
  // While the lock is held nothing completes; the caller keeps running meanwhile.
  CHECK_FALSE(readable((*w)->fd(), 300));
  CHECK_FALSE(done);
  CHECK((*w)->in_flight() == 1);
  REQUIRE(tx->commit());
  tx.reset();
  CHECK(drain_until(**w, 1) == 1);
  CHECK(done);
  CHECK(ok);
  CHECK(count_devices(dir.db()) == 1);
}

TEST_CASE("store writer: the idle job runs at its interval; only its completions wake the loop") {
  TempDir dir;
  REQUIRE(Store::open(dir.db(), Store::Access::create));
  std::atomic<int> calls{0};
  auto w = StoreWriter::start(dir.db(), 20ms, [&](Store&) -> StoreWriter::Completion {
    int n = ++calls;
    if (n % 3 != 0) return {};  // "nothing changed": the loop is not woken
    return [] {};
  });
  REQUIRE(w);
  CHECK(drain_until(**w, 2) >= 2);
  CHECK(calls.load() >= 6);
  CHECK((*w)->in_flight() == 0);
}

TEST_CASE("store writer: stopping finishes the writes already submitted") {
  TempDir dir;
  REQUIRE(Store::open(dir.db(), Store::Access::create));
  {
    auto w = StoreWriter::start(dir.db());
    REQUIRE(w);
    for (int i = 0; i < 50; ++i)
      (*w)->submit([i](Store& s) -> StoreWriter::Completion {
        (void)s.put_device(dev(1000 + i), Store::Mode::insert);
        return {};
      });
  }
  CHECK(count_devices(dir.db()) == 50);
  auto missing = StoreWriter::start((dir.path / "nope.db").string());
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message.find("nope.db: no registry file") != std::string::npos);
}
