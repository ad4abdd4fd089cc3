#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "loadtest/limits.hpp"

using namespace m2m::loadtest;

namespace {
SystemLimits limits(std::uint64_t soft, std::uint64_t hard, std::uint32_t lo = 32768, std::uint32_t hi = 60999) {
  SystemLimits l;
  l.nofile_soft = soft;
  l.nofile_hard = hard;
  l.port_low = lo;
  l.port_high = hi;
  return l;
}
RunPlan plan(std::uint64_t conns, std::uint64_t workers = 1, std::uint64_t addrs = 1) {
  RunPlan p;
  p.tcp_connections = conns;
  p.workers = workers;
  p.source_addresses = addrs;
  return p;
}
}  // namespace

TEST_CASE("source addresses: ranges and lists") {
  auto r = parse_source_addresses("127.0.0.2-127.0.0.40");
  REQUIRE(r);
  CHECK(r->count() == 39);
  CHECK(format_ipv4_host(r->at(0)) == "127.0.0.2");
  CHECK(format_ipv4_host(r->at(38)) == "127.0.0.40");
  r = parse_source_addresses("127.0.0.2,127.0.1.250-127.0.2.3");
  REQUIRE(r);
  CHECK(r->count() == 11);  // 1 + 127.0.1.250..255 + 127.0.2.0..3
  CHECK(format_ipv4_host(r->at(1)) == "127.0.1.250");
  CHECK(format_ipv4_host(r->at(6)) == "127.0.1.255");
  CHECK(format_ipv4_host(r->at(7)) == "127.0.2.0");
  CHECK(format_ipv4_host(r->at(10)) == "127.0.2.3");
  auto err = [](const char* s) {
    auto x = parse_source_addresses(s);
    REQUIRE_FALSE(x);
    return x.error().message;
  };
  CHECK(err("127.0.0.40-127.0.0.2") == "--source-ips '127.0.0.40-127.0.0.2': range '127.0.0.40-127.0.0.2' ends before it starts");
  CHECK(err("127.0.0.300") == "--source-ips '127.0.0.300': '127.0.0.300' is not an IPv4 address");
  CHECK(err("127.0.0.2,") == "--source-ips '127.0.0.2,': '' is not an IPv4 address");
  CHECK(err("::1") == "--source-ips '::1': '::1' is not an IPv4 address");
  CHECK(err("1.0.0.0-9.0.0.0") == "--source-ips '1.0.0.0-9.0.0.0': more than 16,777,216 addresses");
  CHECK(err("").starts_with("--source-ips is empty"));
}

TEST_CASE("pre-flight: a plan that fits says nothing") {
  CHECK(check_plan(plan(1000), limits(1024, 4096)).empty());
  CHECK(check_plan(plan(50000, 3, 2), limits(20000, 20000)).empty());
  CHECK(check_plan(plan(0), limits(0, 0)).empty());
}

TEST_CASE("pre-flight: soft file limit too low, hard limit enough") {
  const auto m = check_plan(plan(18000), limits(1024, 20000));
  REQUIRE(m.size() == 1);
  CHECK(m[0] ==
        "need 18,008 descriptors per worker (18,000 connections + 8), soft limit 1,024, hard 20,000: "
        "run `ulimit -n 20000` or use --workers 18");
}

TEST_CASE("pre-flight: hard file limit too low") {
  const auto m = check_plan(plan(50000), limits(1024, 20000, 1024, 65535));
  REQUIRE(m.size() == 1);
  CHECK(m[0] ==
        "need 50,008 descriptors per worker (50,000 connections + 8), hard limit 20,000: use --workers 3 "
        "(and `ulimit -n 20000`), or raise the hard limit as root (`prlimit --nofile=50008 --pid $$`, or nofile in "
        "/etc/security/limits.conf)");
  // With two workers each still needs too many; the advice is the same count of workers.
  const auto m2 = check_plan(plan(50000, 2), limits(20000, 20000, 1024, 65535));
  REQUIRE(m2.size() == 1);
  CHECK(m2[0].starts_with("need 25,008 descriptors per worker (25,000 connections + 8), hard limit 20,000: use --workers 3 "));
}

TEST_CASE("pre-flight: ephemeral ports run out on one source address") {
  const auto m = check_plan(plan(60000, 4), limits(20000, 20000));
  REQUIRE(m.size() == 1);
  CHECK(m[0] ==
        "60,000 connections to one server address need as many local ports: the ephemeral range 32768-60999 gives "
        "28,232 per source address, 28,232 with 1: use 3 source addresses (--source-ips 127.0.0.2-127.0.0.4 on "
        "loopback) or widen the range (`sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\"`)");
  CHECK(check_plan(plan(60000, 4, 3), limits(20000, 20000)).empty());
}

TEST_CASE("pre-flight: every problem is reported, including addresses that cannot be bound") {
  auto p = plan(100000);
  p.unbindable = {{0x0A000005, "Cannot assign requested address"}, {0x7F000009, "Address already in use"}};
  const auto m = check_plan(p, limits(1024, 4096));
  REQUIRE(m.size() == 4);
  CHECK(m[0].starts_with("need 100,008 descriptors per worker"));
  CHECK(m[1].starts_with("100,000 connections to one server address"));
  CHECK(m[2] ==
        "cannot bind source address 10.0.0.5: Cannot assign requested address: add it to an interface "
        "(`ip addr add 10.0.0.5/32 dev lo`) or leave it out of --source-ips");
  CHECK(m[3] == "cannot bind source address 127.0.0.9: Address already in use");
}

TEST_CASE("pre-flight: the system's limits and a real bind probe") {
  const auto l = read_system_limits();
  CHECK(l.nofile_soft > 0);
  CHECK(l.nofile_soft <= l.nofile_hard);
  CHECK(l.port_low <= l.port_high);
  auto loop = parse_source_addresses("127.0.0.2-127.0.0.4");
  REQUIRE(loop);
  CHECK(probe_bind(*loop).empty());  // all of 127/8 is on lo
  auto foreign = parse_source_addresses("192.0.2.1");  // TEST-NET-1 (RFC 5737): on no interface here
  REQUIRE(foreign);
  const auto f = probe_bind(*foreign);
  REQUIRE(f.size() == 1);
  CHECK(f[0].address == 0xC0000201);
  CHECK(f[0].reason == "Cannot assign requested address");
}

TEST_CASE("group_digits") {
  CHECK(group_digits(0) == "0");
  CHECK(group_digits(999) == "999");
  CHECK(group_digits(1000) == "1,000");
  CHECK(group_digits(18004) == "18,004");
  CHECK(group_digits(1234567890) == "1,234,567,890");
}
