#include <doctest/doctest.h>

#include "net/endpoint.hpp"

using namespace m2m::net;

TEST_CASE("endpoint: parse and format") {
  auto e = parse_endpoint("127.0.0.1:8266");
  REQUIRE(e);
  CHECK(e->ip == 0x7F000001);
  CHECK(e->port == 8266);
  CHECK(format_endpoint(*e) == "127.0.0.1:8266");
  auto any = parse_endpoint(":0");
  REQUIRE(any);
  CHECK(any->ip == 0);
  CHECK(parse_endpoint("9000")->port == 9000);
  CHECK(parse_endpoint("localhost:1")->ip == 0x7F000001);
  CHECK_FALSE(parse_endpoint("1.2.3.4:70000"));
  CHECK_FALSE(parse_endpoint("1.2.3.4:"));
  CHECK_FALSE(parse_endpoint("1.2.3.4:12a"));
  auto sa = to_sockaddr(*e);
  CHECK(from_sockaddr(sa) == *e);
}
