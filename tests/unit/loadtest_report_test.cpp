#include <doctest/doctest.h>

#include <string>

#include "loadtest/report.hpp"

using namespace m2m::loadtest;

namespace {
Report sample(std::uint64_t scale) {
  Report r;
  r.devices = 100 * scale;
  r.duration_s = 10.0 * static_cast<double>(scale);
  r.totals.connect_ok = 100 * scale;
  r.totals.login_ok = 99 * scale;
  r.totals.login_fail = scale;
  r.totals.hb_sent = 1000 * scale;
  r.totals.hb_acked = 1000 * scale - 1;
  r.totals.late_sends = 3;
  r.errors["timeout"] = scale;
  r.errors["reset"] = 2;
  r.relay = {500, 1, 2, 0, 3};
  for (std::uint64_t i = 1; i <= 1000; ++i) {
    r.hist(Op::heartbeat).record(i * 37 * scale);
    r.hist(Op::connect).record(i * scale);
  }
  r.cpu_seconds = 1.5 * static_cast<double>(scale);
  r.peak_rss_kib = 4000 * scale;
  r.peak_rss_kib_sum = 4000 * scale;
  return r;
}
}  // namespace

TEST_CASE("report: JSON round trip") {
  const Report r = sample(1);
  const auto j = r.to_json();
  CHECK(j["v"] == 1);
  CHECK(j["tool"] == "m2m-loadtest");
  CHECK(j["totals"]["login_fail"] == 1);
  CHECK(j["errors"]["timeout"] == 1);
  CHECK(j["relay"]["lost"] == 3);
  CHECK(j["latency"]["heartbeat"]["count"] == 1000);
  CHECK(j["latency"]["heartbeat"]["p99_us"] == r.hist(Op::heartbeat).percentile(99));
  CHECK(j["latency"]["heartbeat"]["max_us"] == 37000);
  CHECK(j["latency"]["downlink"]["count"] == 0);
  CHECK(j["resources"]["peak_rss_kib"] == 4000);
  auto back = Report::from_json(nlohmann::json::parse(j.dump()));
  REQUIRE(back);
  CHECK(back->to_json().dump() == j.dump());
  CHECK(back->hist(Op::heartbeat) == r.hist(Op::heartbeat));
}

TEST_CASE("report: merge adds counts and histograms, never percentiles") {
  const Report a = sample(1), b = sample(3);
  const Report m = merge_reports({a, b});
  CHECK(m.shards == 2);
  CHECK(m.devices == 400);
  CHECK(m.duration_s == 30.0);
  CHECK(m.totals.login_fail == 4);
  CHECK(m.totals.late_sends == 6);
  CHECK(m.errors.at("timeout") == 4);
  CHECK(m.errors.at("reset") == 4);
  CHECK(m.relay == SequenceCounts{1000, 2, 4, 0, 6});
  CHECK(m.cpu_seconds == 6.0);
  CHECK(m.peak_rss_kib == 12000);      // the largest process
  CHECK(m.peak_rss_kib_sum == 16000);  // all of them
  Histogram both;
  for (std::uint64_t i = 1; i <= 1000; ++i) {
    both.record(i * 37);
    both.record(i * 37 * 3);
  }
  CHECK(m.hist(Op::heartbeat) == both);
  CHECK(m.hist(Op::heartbeat).percentile(99) == both.percentile(99));
  // Through JSON, as `m2m-loadtest merge` does it.
  auto ja = Report::from_json(nlohmann::json::parse(a.to_json().dump()));
  auto jb = Report::from_json(nlohmann::json::parse(b.to_json().dump()));
  REQUIRE(ja);
  REQUIRE(jb);
  CHECK(merge_reports({*ja, *jb}).to_json().dump() == m.to_json().dump());
}

TEST_CASE("report: malformed reports are refused by name") {
  auto err = [](auto edit) {
    auto j = nlohmann::json::parse(sample(1).to_json().dump());
    edit(j);
    auto r = Report::from_json(j);
    REQUIRE_FALSE(r);
    return r.error().message;
  };
  CHECK(err([](auto& j) { j["tool"] = "wrk2"; }) == "not an m2m-loadtest report (no \"tool\":\"m2m-loadtest\")");
  CHECK(err([](auto& j) { j["v"] = 2; }) == "report version is not 1 (this version reads v 1)");
  CHECK(err([](auto& j) { j["totals"]["login_ok"] = -1; }) == "totals.login_ok is not a count");
  CHECK(err([](auto& j) { j["errors"]["reset"] = "x"; }) == "errors.reset is not a count");
  CHECK(err([](auto& j) { j["latency"]["heartbeat"].erase("histogram"); }) == "latency.heartbeat has no histogram");
  CHECK(err([](auto& j) { j["latency"]["connect"]["histogram"]["count"] = 7; }) ==
        "latency.connect.histogram: bucket counts add up to 1000, \"count\" says 7");
  CHECK(err([](auto& j) { j["totals"] = 3; }) == "totals, errors, relay, latency and resources must be objects");
}

TEST_CASE("report: summary text for people") {
  const std::string s = sample(1).summary_text();
  CHECK(s.find("devices 100 over 1 report, 10.0s") != std::string::npos);
  CHECK(s.find("login_fail 1") != std::string::npos);
  CHECK(s.find("errors  reset 2  timeout 1") != std::string::npos);
  CHECK(s.find("heartbeat        1000") != std::string::npos);
  CHECK(format_us(850) == "850us");
  CHECK(format_us(1234) == "1.23ms");
  CHECK(format_us(73200) == "73.2ms");
  CHECK(format_us(2.5e6) == "2.50s");
}

TEST_CASE("report: the tester's own CPU time and peak RSS") {
  const auto a = self_usage();
  volatile std::uint64_t x = 0;
  for (std::uint64_t i = 0; i < 20'000'000; ++i) x = x + i;  // some CPU to measure
  const auto b = self_usage();
  CHECK(b.cpu_seconds > a.cpu_seconds);
  CHECK(b.peak_rss_kib >= a.peak_rss_kib);
  CHECK(a.peak_rss_kib > 1000);  // a test binary holds more than a MiB
}
