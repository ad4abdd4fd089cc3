// The load test's population, regenerated from a seed instead of stored: device i of seed S
// always has the same id, password and group, so `m2m-loadtest provision` (which prints the
// registry CSV) and the machines that later simulate the devices agree without sharing a file.
//
// The hash (documented in m2m-loadtest(1), PROVISIONING; never change it, provisioned
// registries depend on it): SplitMix64, the 64-bit finaliser of Steele, Lea and Flood,
//   key(S, domain) = splitmix64(S ^ domain)
//   password(i)    = splitmix64(key(S, kDevicePasswords) ^ id(i)), 8 bytes big-endian
//   id(i)          = id_start + i
//   group(i)       = "lt" + (i mod G)          (round robin: every shard holds every group)
// and for operator accounts (one per group, for downlink traffic):
//   account id(k)  = account_start + k,  groups "lt<k>",
//   password(k)    = splitmix64(key(S, kAccountPasswords) ^ account id(k)).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "m2m/messages.hpp"

namespace m2m::loadtest {

std::uint64_t splitmix64(std::uint64_t x);

inline constexpr std::uint64_t kDefaultIdStart = 0x00004C5400000000;  // "LT" in a MAC-form id
inline constexpr std::uint64_t kDefaultAccountStart = 900000;

struct Credentials {
  std::uint64_t id = 0;
  ai::Password password{};
  std::string group;
};

class Population {
 public:
  struct Options {
    std::uint64_t count = 0;
    std::uint64_t seed = 1;
    std::uint64_t groups = 1;  // >= 1
    std::uint64_t id_start = kDefaultIdStart;
    std::uint64_t account_start = kDefaultAccountStart;
  };
  // Checks that the ids fit (id_start + count - 1 without overflow) and groups >= 1.
  static Result<Population> make(const Options& o);

  const Options& options() const { return o_; }
  Credentials device(std::uint64_t index) const;  // index in 0..count-1
  Credentials account(std::uint64_t group) const;  // group in 0..groups-1
  std::string group_name(std::uint64_t group) const { return "lt" + std::to_string(group); }

  // Registry CSV rows as `m2m-server device import` / `account import` read them (header
  // first, then one row per line, passwords as 16 hex digits, enabled, no description).
  static std::string_view device_csv_header();   // "id,password,group,enabled,description"
  static std::string_view account_csv_header();  // "id,name,password,groups,enabled,description"
  std::string device_csv_row(std::uint64_t index) const;
  std::string account_csv_row(std::uint64_t group) const;

 private:
  explicit Population(const Options& o) : o_(o) {}
  Options o_;
};

// `--shard K/N`: machine K of N (1-based) simulates devices [begin, end) of a population of
// `count`; the N slices partition 0..count-1 exactly and differ in size by at most one.
struct Shard {
  std::uint64_t k = 1, n = 1;
};
Result<Shard> parse_shard(std::string_view text);
struct Slice {
  std::uint64_t begin = 0, end = 0;
  std::uint64_t size() const { return end - begin; }
};
Slice shard_slice(Shard s, std::uint64_t count);

}  // namespace m2m::loadtest
