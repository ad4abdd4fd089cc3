#include <doctest/doctest.h>

#include "telematics/sms.hpp"

using namespace m2m;
using namespace m2m::telematics;

TEST_CASE("sms: parse a command with arguments") {
  auto c = parse_sms("#=SETPARAM,APN,cmnet.gd,8080:#");
  REQUIRE(c);
  CHECK(c->command == "SETPARAM");
  CHECK(c->args == std::vector<std::string>{"APN", "cmnet.gd", "8080"});
  auto bare = parse_sms("#=WAKEUP:#");
  REQUIRE(bare);
  CHECK(bare->command == "WAKEUP");
  CHECK(bare->args.empty());
  auto empty_arg = parse_sms("#=X,,2:#");
  REQUIRE(empty_arg);
  CHECK(empty_arg->args == std::vector<std::string>{"", "2"});
}

TEST_CASE("sms: characters outside the allowed set are ignored") {
  // Spaces, CR, '-', '_' and non-ASCII text are not letters, digits or = : , . #
  auto c = parse_sms(" #= QUERY , 1-2_3 :#\r 中文");
  REQUIRE(c);
  CHECK(c->command == "QUERY");
  CHECK(c->args == std::vector<std::string>{"123"});
  CHECK(sms_clean("a b-c,\xE4\xB8\xAD.1") == "abc,.1");
}

TEST_CASE("sms: malformed commands") {
  auto no_start = parse_sms("  QUERY:#");
  REQUIRE_FALSE(no_start);
  CHECK(no_start.error().kind == ErrorKind::bad_value);
  CHECK(no_start.error().offset == 2);  // at the first kept character
  auto no_end = parse_sms("#=QUERY,1");
  REQUIRE_FALSE(no_end);
  CHECK(no_end.error().offset == 8);
  CHECK_FALSE(parse_sms(""));
  CHECK_FALSE(parse_sms("#=:#"));
  CHECK_FALSE(parse_sms("#=#"));
}

TEST_CASE("sms: format and round trip") {
  SmsCommand c{"CONTROL", {"1", "", "3.5"}};
  auto s = format_sms(c);
  REQUIRE(s);
  CHECK(*s == "#=CONTROL,1,,3.5:#");
  CHECK(*parse_sms(*s) == c);
  CHECK(*format_sms({"SLEEP", {}}) == "#=SLEEP:#");
  CHECK_FALSE(format_sms({"", {}}));
  CHECK_FALSE(format_sms({"X", {"a,b"}}));
  CHECK_FALSE(format_sms({"X", {"a b"}}));
}
