#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "loadtest/provision.hpp"
#include "m2m/frame.hpp"
#include "platform/csv.hpp"
#include "platform/records.hpp"

using namespace m2m;
using namespace m2m::loadtest;

namespace {
Population make(std::uint64_t count, std::uint64_t seed, std::uint64_t groups = 1) {
  Population::Options o;
  o.count = count;
  o.seed = seed;
  o.groups = groups;
  auto p = Population::make(o);
  REQUIRE(p);
  return *p;
}
}  // namespace

TEST_CASE("provision: SplitMix64 is the published function") {
  CHECK(splitmix64(0) == 0xE220A8397B1DCDAF);  // the first output of SplitMix64 seeded with 0
  CHECK(splitmix64(1) != splitmix64(0));
}

TEST_CASE("provision: the same seed gives the same population, another seed other passwords") {
  const auto a = make(1000, 7, 4), b = make(1000, 7, 4), c = make(1000, 8, 4);
  std::set<std::string> passwords;
  for (std::uint64_t i = 0; i < 1000; ++i) {
    CHECK(a.device_csv_row(i) == b.device_csv_row(i));
    const auto d = a.device(i), e = c.device(i);
    CHECK(d.id == kDefaultIdStart + i);
    CHECK(d.id == e.id);
    CHECK(d.password != e.password);
    CHECK(d.group == "lt" + std::to_string(i % 4));
    passwords.insert(a.device_csv_row(i).substr(17, 16));
  }
  CHECK(passwords.size() == 1000);  // no two devices share a password
  // The published derivation: password(i) = splitmix64(splitmix64(seed ^ "devicepw") ^ id).
  const std::uint64_t pw = splitmix64(splitmix64(7 ^ 0x6465766963657077) ^ kDefaultIdStart);
  CHECK(a.device_csv_row(0) == "00004C5400000000," + [&] {
    char b[17];
    std::snprintf(b, sizeof b, "%016llX", static_cast<unsigned long long>(pw));
    return std::string(b);
  }() + ",lt0,1,");
  CHECK(a.account(0).password != a.device(0).password);
}

TEST_CASE("provision: CSV rows are what m2m-server device/account import reads") {
  const auto p = make(300, 42, 3);
  CHECK(Population::device_csv_header() == platform::kDeviceCsvHeader);
  CHECK(Population::account_csv_header() == platform::kAccountCsvHeader);
  for (std::uint64_t i = 0; i < 300; ++i) {
    auto fields = platform::parse_csv_line(p.device_csv_row(i));
    REQUIRE(fields);
    auto rec = platform::device_from_csv(*fields);
    REQUIRE_MESSAGE(rec, p.device_csv_row(i));
    CHECK(rec->id == p.device(i).id);
    CHECK(rec->password == p.device(i).password);
    CHECK(rec->group == p.device(i).group);
    CHECK(rec->enabled);
  }
  for (std::uint64_t k = 0; k < 3; ++k) {
    auto fields = platform::parse_csv_line(p.account_csv_row(k));
    REQUIRE(fields);
    auto rec = platform::account_from_csv(*fields);
    REQUIRE_MESSAGE(rec, p.account_csv_row(k));
    CHECK(rec->id == kDefaultAccountStart + k);
    CHECK(rec->password == p.account(k).password);
    CHECK(rec->groups == std::vector<std::string>{"lt" + std::to_string(k)});
  }
}

TEST_CASE("provision: refusals name the option") {
  Population::Options o;
  o.count = 10;
  o.groups = 0;
  auto r = Population::make(o);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "--groups must be at least 1");
  o.groups = 1;
  o.id_start = UINT64_MAX - 5;
  r = Population::make(o);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "--id-start FFFFFFFFFFFFFFFA + --count 10 runs past the largest device id");
  o.id_start = UINT64_MAX - 9;
  CHECK(Population::make(o));  // the last id is exactly the largest
}

TEST_CASE("shard: K/N parsing") {
  auto s = parse_shard("2/4");
  REQUIRE(s);
  CHECK(s->k == 2);
  CHECK(s->n == 4);
  for (const char* bad : {"0/4", "5/4", "1/0", "a/b", "3", "1/2/3", "/2", "-1/2"}) {
    auto r = parse_shard(bad);
    CAPTURE(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.starts_with("--shard '" + std::string(bad) + "': "));
  }
  CHECK(parse_shard("5/4").error().message == "--shard '5/4': K must be between 1 and N (expected K/N, e.g. 2/4: machine 2 of 4)");
}

TEST_CASE("shard: the N slices partition the id range exactly") {
  for (std::uint64_t count : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{7}, std::uint64_t{100}, std::uint64_t{1000003}, UINT64_MAX}) {
    for (std::uint64_t n : {1, 2, 3, 7, 64}) {
      CAPTURE(count);
      CAPTURE(n);
      std::uint64_t next = 0, smallest = UINT64_MAX, largest = 0;
      for (std::uint64_t k = 1; k <= n; ++k) {
        const auto s = shard_slice({k, n}, count);
        REQUIRE(s.begin == next);  // contiguous, no gap, no overlap
        REQUIRE(s.end >= s.begin);
        next = s.end;
        smallest = std::min(smallest, s.size());
        largest = std::max(largest, s.size());
      }
      CHECK(next == count);  // covers everything
      CHECK(largest - smallest <= 1);
    }
  }
}
