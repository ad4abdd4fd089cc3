#include <doctest/doctest.h>

#include "core/units.hpp"

using namespace m2m;
using std::chrono::milliseconds;

TEST_CASE("parse_duration: units, bare seconds, fractions") {
  CHECK(*parse_duration("500ms") == milliseconds(500));
  CHECK(*parse_duration("2s") == milliseconds(2000));
  CHECK(*parse_duration("2") == milliseconds(2000));
  CHECK(*parse_duration("1.5s") == milliseconds(1500));
  CHECK(*parse_duration("0.25") == milliseconds(250));
  CHECK(*parse_duration("5m") == milliseconds(300000));
  CHECK(*parse_duration("5min") == milliseconds(300000));
  CHECK(*parse_duration("1h") == milliseconds(3600000));
  CHECK(*parse_duration("0") == milliseconds(0));
}

TEST_CASE("parse_duration: refusals") {
  for (const char* bad : {"", "s", "ms", "-1s", "5 s", "5x", "5sec", " 5s", "nan", "inf", "nans", "1e300h"}) {
    INFO(bad);
    auto r = parse_duration(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::bad_value);
    CHECK_FALSE(r.error().message.empty());
  }
  CHECK(parse_duration("5x").error().message.find("unit") != std::string::npos);
}

TEST_CASE("parse_count: k and M suffixes") {
  CHECK(*parse_count("0") == 0);
  CHECK(*parse_count("100") == 100);
  CHECK(*parse_count("10k") == 10000);
  CHECK(*parse_count("10K") == 10000);
  CHECK(*parse_count("1M") == 1000000);
  CHECK(*parse_count("18446744073709551615") == UINT64_MAX);
  for (const char* bad : {"", "k", "-1", "1.5k", "1m", "10kb", "1 k", "99999999999999999999", "18446744073709552M"}) {
    INFO(bad);
    CHECK_FALSE(parse_count(bad));
  }
}

TEST_CASE("format_duration: shortest exact form, and it parses back") {
  CHECK(format_duration(milliseconds(250)) == "250ms");
  CHECK(format_duration(milliseconds(0)) == "0ms");
  CHECK(format_duration(milliseconds(2000)) == "2s");
  CHECK(format_duration(milliseconds(1500)) == "1.5s");
  CHECK(format_duration(milliseconds(61250)) == "61.25s");
  CHECK(format_duration(milliseconds(123456)) == "123.456s");
  CHECK(format_duration(milliseconds(300000)) == "5m");
  CHECK(format_duration(milliseconds(7200000)) == "2h");
  for (long long ms : {0LL, 1LL, 999LL, 1000LL, 1001LL, 61250LL, 123456LL, 300000LL, 7200000LL, 90061001LL})
    CHECK(*parse_duration(format_duration(milliseconds(ms))) == milliseconds(ms));
}
