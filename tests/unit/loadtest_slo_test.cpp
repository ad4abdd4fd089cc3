#include <doctest/doctest.h>

#include <string>

#include "loadtest/slo.hpp"

using namespace m2m::loadtest;

namespace {
std::string parse_error(const char* text) {
  auto r = parse_slo(text);
  REQUIRE_FALSE(r);
  return r.error().message;
}
}  // namespace

TEST_CASE("slo: parsing terms, comparisons and units") {
  auto t = parse_slo("login_fail=0,hb_p99<50ms,relay_loss=0");
  REQUIRE(t);
  REQUIRE(t->size() == 3);
  CHECK((*t)[0].metric == "login_fail");
  CHECK((*t)[0].cmp == Cmp::eq);
  CHECK((*t)[0].value == 0);
  CHECK_FALSE((*t)[0].latency);
  CHECK((*t)[1].text == "hb_p99<50ms");
  CHECK((*t)[1].cmp == Cmp::lt);
  CHECK((*t)[1].value == 50000);  // microseconds
  CHECK((*t)[1].latency);
  auto u = parse_slo(" hb_p99.9 <= 1.5s , connect_max>=250us, login_p50>2ms, errors==0, err_refused<10 ");
  REQUIRE(u);
  REQUIRE(u->size() == 5);
  CHECK((*u)[0].text == "hb_p99.9 <= 1.5s");
  CHECK((*u)[0].cmp == Cmp::le);
  CHECK((*u)[0].value == 1.5e6);
  CHECK((*u)[1].cmp == Cmp::ge);
  CHECK((*u)[1].value == 250);
  CHECK((*u)[2].cmp == Cmp::gt);
  CHECK((*u)[3].cmp == Cmp::eq);
  CHECK((*u)[4].cmp == Cmp::lt);
  CHECK(parse_slo("heartbeat_p99_9<2ms"));  // the long operation name, '_' for the point
}

TEST_CASE("slo: errors name the term and what is wrong") {
  CHECK(parse_error("hb_p99<50") == "--slo term 1 'hb_p99<50': a latency needs a unit: us, ms or s (e.g. hb_p99<50ms)");
  CHECK(parse_error("login_fail=0,hb_p99<50min") == "--slo term 2 'hb_p99<50min': unit 'min' is not us, ms or s");
  CHECK(parse_error("login_fail=0ms") == "--slo term 1 'login_fail=0ms': login_fail is a count: no unit ('ms')");
  CHECK(parse_error("hb_p99") == "--slo term 1 'hb_p99': no comparison (expected <, <=, =, >= or > and a value)");
  CHECK(parse_error("hb_p99~5ms") == "--slo term 1 'hb_p99~5ms': '~5ms' does not start with <, <=, =, >= or >");
  CHECK(parse_error("hb_p99<<5ms") == "--slo term 1 'hb_p99<<5ms': '<5ms' is not a non-negative number");
  CHECK(parse_error("hb_p99<") == "--slo term 1 'hb_p99<': no value after the comparison");
  CHECK(parse_error("login_fail=-1") == "--slo term 1 'login_fail=-1': '-1' is not a non-negative number");
  CHECK(parse_error("login_fail=0,,hb_p99<5ms") == "--slo term 2 '': empty term (two commas, or a comma at an end)");
  CHECK(parse_error("hb_p101<1ms") == "--slo term 1 'hb_p101<1ms': percentile 101 is outside 0..100");
  CHECK(parse_error("hb_median<1ms") == "--slo term 1 'hb_median<1ms': 'median' is not a statistic of hb (pN, max, mean or count)");
  CHECK(parse_error("=0") == "--slo term 1 '=0': expected a metric name first (e.g. hb_p99)");
  CHECK(parse_error("  ") == "--slo is empty (expected e.g. 'login_fail=0,hb_p99<50ms')");
  const auto unknown = parse_error("logins_failed=0");
  CHECK(unknown.starts_with("--slo term 1 'logins_failed=0': unknown metric 'logins_failed'; known metrics: "));
  CHECK(unknown.find("login_fail") != std::string::npos);
}

TEST_CASE("slo: evaluation names each missed goal with its measured value") {
  Report r;
  r.totals.login_fail = 2;
  r.totals.login_ok = 98;
  r.errors["refused"] = 3;
  r.relay.lost = 0;
  for (std::uint64_t ms = 1; ms <= 100; ++ms) r.hist(Op::heartbeat).record(ms * 1000);
  auto terms = parse_slo("login_fail=0,hb_p99<50ms,relay_loss=0,downlink_p99<1s,err_refused=0,errors<=3,hb_p50<=51ms,hb_count=100");
  REQUIRE(terms);
  const auto out = evaluate_slo(*terms, r);
  REQUIRE(out.size() == 8);
  CHECK_FALSE(out[0].held);
  CHECK(out[0].message() == "login_fail=0 missed: measured 2");
  CHECK_FALSE(out[1].held);
  CHECK(out[1].message() == "hb_p99<50ms missed: measured 99.3ms");  // the 99 ms sample's bucket top
  CHECK(out[2].held);
  CHECK(out[2].message() == "relay_loss=0 held: measured 0");
  CHECK_FALSE(out[3].held);
  CHECK(out[3].message() == "downlink_p99<1s missed: no downlink samples");
  CHECK_FALSE(out[4].held);
  CHECK(out[4].message() == "err_refused=0 missed: measured 3");
  CHECK(out[5].held);
  CHECK(out[6].held);  // p50 = the 50 ms sample's bucket: 50.2 ms
  CHECK(out[6].message() == "hb_p50<=51ms held: measured 50.2ms");
  CHECK(out[7].held);
}
