#include <doctest/doctest.h>

#include <string>

#include "loadtest/limits.hpp"
#include "loadtest/run_plan.hpp"

using namespace m2m::loadtest;

TEST_CASE("rates: per second, minute or hour, with k/M") {
  auto r = [](const char* s) {
    auto v = parse_rate(s);
    REQUIRE(v);
    return *v;
  };
  CHECK(r("5000/s") == 5000);
  CHECK(r("5000") == 5000);
  CHECK(r("10k/s") == 10000);
  CHECK(r("1M/s") == 1e6);
  CHECK(r("0.5/s") == 0.5);
  CHECK(r("120/m") == 2);
  CHECK(r("120/min") == 2);
  CHECK(r("7200/h") == 2);
  CHECK(r("0") == 0);
  for (const char* bad : {"", "/s", "fast", "5/d", "-1/s", "5x/s", "nan", "5 /s"}) {
    auto v = parse_rate(bad);
    REQUIRE_FALSE(v);
    CHECK(v.error().message == "not a rate: '" + std::string(bad) + "' (use e.g. 5000/s, 10k/s, 0.5/s, 120/m)");
  }
  CHECK(parse_rate("2000M/s").error().message == "rate too large: '2000M/s'");
  CHECK(format_rate(5000) == "5000/s");
  CHECK(format_rate(0.5) == "0.5/s");
  CHECK(format_rate(12345.6) == "12346/s");
}

TEST_CASE("TCP devices of a slice, counted like is_tcp") {
  for (unsigned p : {0u, 1u, 30u, 99u, 100u})
    for (Slice s : {Slice{0, 0}, Slice{0, 1000}, Slice{7, 1234}, Slice{150, 151}, Slice{99, 301}}) {
      std::uint64_t n = 0;
      for (std::uint64_t i = s.begin; i < s.end; ++i) n += is_tcp(i, p);
      CHECK(tcp_devices(s, p) == n);
    }
  CHECK(descriptors_for({0, 500}, 100, 0) == 500);
  CHECK(descriptors_for({0, 500}, 50, 4) == 250 + 2 + 4);     // a UDP socket per 256 of the slice
  CHECK(descriptors_for({0, 1000}, 0, 0) == 4);               // 1000 UDP devices: 4 sockets of 256
  CHECK(descriptors_for({0, 0}, 0, 0) == 0);
}

TEST_CASE("slices split into contiguous parts that differ by at most one") {
  const Slice s{10, 27};  // 17 devices
  std::uint64_t next = 10;
  for (std::uint64_t i = 0; i < 5; ++i) {
    const Slice p = split_slice(s, 5, i);
    CHECK(p.begin == next);
    CHECK(p.size() == (i < 2 ? 4u : 3u));
    next = p.end;
  }
  CHECK(next == 27);
  CHECK(split_slice(s, 1, 0).begin == 10);
  CHECK(split_slice(s, 1, 0).end == 27);
  CHECK(split_slice({0, 2}, 3, 2).size() == 0);
}

TEST_CASE("workers chosen for the file limit") {
  const Slice s500{0, 500};
  CHECK(auto_workers(s500, 100, 0, 1024) == 1);
  CHECK(auto_workers({0, 1016}, 100, 0, 1024) == 1);
  CHECK(auto_workers({0, 1017}, 100, 0, 1024) == 2);
  CHECK(auto_workers(s500, 100, 0, 64) == 9);  // 56 per worker
  CHECK(auto_workers({0, 1'000'000}, 100, 0, 20'000) == 51);
  CHECK(auto_workers({0, 1'000'000}, 100, 0, 100, 64) == 64);  // capped: check_plan then says it does not fit
  CHECK(auto_workers({0, 10}, 100, 0, 5) == 1);
  CHECK(auto_workers({0, 0}, 100, 0, 1024) == 1);
  // --tcp-share 50%: 150 TCP devices + 2 UDP sockets would fit two workers of 92 evenly, but
  // devices 0-149 hold 100 TCP devices (0-49, 100-149): three workers are needed.
  CHECK(worker_descriptors({0, 300}, 50, 0, 2) == 100 + 1);
  CHECK(worker_descriptors({0, 300}, 50, 0, 3) == 50 + 1);
  CHECK(auto_workers({0, 300}, 50, 0, 100) == 3);
  // The accounts (one connection per group) go to worker 0.
  CHECK(worker_descriptors({0, 100}, 100, 10, 2) == 60);
}

TEST_CASE("source addresses chosen when one address runs out of ports") {
  CHECK(auto_source_count(4'000, 28'232) == 0);
  CHECK(auto_source_count(4'001, 28'232) == 2);
  CHECK(auto_source_count(18'000, 28'232) == 5);
  CHECK(auto_source_count(100'000, 28'232) == 25);
  CHECK(auto_source_count(3'000, 2'000) == 2);  // a narrow port range: 1,800 per address
  CHECK(auto_source_count(5, 0) == 0);
}

TEST_CASE("worker shares: rates follow the devices, downlink only where the accounts are") {
  Traffic t;
  t.login_rate = 1000;
  t.relay = 300;
  t.uplink = 30;
  t.downlink = 50;
  t.churn = 3;
  t.heartbeat = Millis{5000};
  // Shard 1 of 2 of 1000 devices: [0, 500) over 2 workers.
  auto w = plan_workers({0, 500}, 1000, 2, t, true);
  REQUIRE(w.size() == 2);
  CHECK(w[0].devices.begin == 0);
  CHECK(w[0].devices.end == 250);
  CHECK(w[1].devices.begin == 250);
  CHECK(w[1].devices.end == 500);
  CHECK(w[0].accounts);
  CHECK_FALSE(w[1].accounts);
  CHECK(w[0].traffic.login_rate == doctest::Approx(250));
  CHECK(w[1].traffic.relay == doctest::Approx(75));
  CHECK(w[1].traffic.uplink == doctest::Approx(7.5));
  CHECK(w[1].traffic.churn == doctest::Approx(0.75));
  CHECK(w[0].traffic.downlink == 50);
  CHECK(w[1].traffic.downlink == 0);
  CHECK(w[1].traffic.heartbeat == Millis{5000});
  // Shard 2: no accounts, no downlink anywhere.
  for (const auto& s : plan_workers({500, 1000}, 1000, 3, t, false)) {
    CHECK_FALSE(s.accounts);
    CHECK(s.traffic.downlink == 0);
  }
}

TEST_CASE("snapshots: JSON round trip and merge") {
  Snapshot a;
  a.elapsed_s = 3.5;
  a.scheduled_connects = 100;
  a.online = 90;
  a.totals.login_ok = 90;
  a.totals.login_fail = 2;
  a.totals.hb_sent = 40;
  a.relay.received = 7;
  a.errors["refused"] = 2;
  auto j = snapshot_to_json(a);
  CHECK(j["totals"]["login_ok"] == 90);
  CHECK(j["errors"]["refused"] == 2);
  auto back = snapshot_from_json(nlohmann::json::parse(j.dump()));
  REQUIRE(back);
  CHECK(back->elapsed_s == 3.5);
  CHECK(back->online == 90);
  CHECK(back->totals.login_fail == 2);
  CHECK(back->relay == a.relay);
  CHECK(back->errors == a.errors);
  Snapshot b = *back;
  b.elapsed_s = 4;
  b.errors["timeout"] = 1;
  merge_snapshot(b, a);
  CHECK(b.elapsed_s == 4);
  CHECK(b.online == 180);
  CHECK(b.totals.hb_sent == 80);
  CHECK(b.relay.received == 14);
  CHECK(b.errors.at("refused") == 4);
  CHECK(b.errors.at("timeout") == 1);
  CHECK_FALSE(snapshot_from_json(nlohmann::json::parse(R"({"online":-1})")));
  CHECK(snapshot_from_json(nlohmann::json::parse(R"({"totals":{"hb_sent":"x"}})")).error().message ==
        "snapshot: totals.hb_sent is not a count");
}
