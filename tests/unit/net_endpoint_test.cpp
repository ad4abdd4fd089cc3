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

TEST_CASE("host:port parser: the forms a user writes") {
  auto p = parse_host_port("127.0.0.1:8270");
  REQUIRE(p);
  CHECK(p->host == "127.0.0.1");
  CHECK(p->port == 8270);
  CHECK(format_host_port(*p) == "127.0.0.1:8270");

  p = parse_host_port("127.0.0.1");  // no port: the platform's 8266
  REQUIRE(p);
  CHECK(p->host == "127.0.0.1");
  CHECK(p->port == 8266);
  CHECK(parse_host_port("example.org")->port == kDefaultPort);
  CHECK(parse_host_port("localhost", 9)->port == 9);

  p = parse_host_port("[::1]:18268");
  REQUIRE(p);
  CHECK(p->host == "::1");
  CHECK(p->port == 18268);
  CHECK(p->ipv6_literal());
  CHECK(format_host_port(*p) == "[::1]:18268");
  p = parse_host_port("[fe80::1%lo]:5");
  CHECK_FALSE(p);  // not an IPv6 literal inet_pton knows: refused, not guessed at
  p = parse_host_port("[2001:db8::7]");
  REQUIRE(p);
  CHECK(p->host == "2001:db8::7");
  CHECK(p->port == 8266);
  p = parse_host_port("::1");  // a bare literal cannot carry a port
  REQUIRE(p);
  CHECK(p->host == "::1");
  CHECK(p->port == 8266);

  p = parse_host_port(":0");
  REQUIRE(p);
  CHECK(p->host.empty());
  CHECK(p->port == 0);
  CHECK(parse_host_port("1.2.3.4:65535")->port == 65535);
  CHECK(parse_host_port("1.2.3.4:00080")->port == 80);
}

TEST_CASE("host:port parser: ports are checked, never wrapped") {
  for (const char* s : {"127.0.0.1:99999", "127.0.0.1:65536", "127.0.0.1:4294967296", "127.0.0.1:-1",
                        "127.0.0.1:+1", "127.0.0.1:", "127.0.0.1:12a", "127.0.0.1: 80", "[::1]:", "[::1]:70000",
                        "[::1", "[::1]80", "[nothost]:80", "2001:db8::1:80:x", "1.2.3.4:5:6"}) {
    CAPTURE(s);
    auto p = parse_host_port(s);
    REQUIRE_FALSE(p);
    CHECK(p.error().kind == m2m::ErrorKind::bad_value);
  }
  auto p = parse_host_port("127.0.0.1:99999");
  CHECK(p.error().message.find("99999") != std::string::npos);
  CHECK(p.error().message.find("65535") != std::string::npos);
  // the server's IPv4 parser refuses the same, and keeps reading a bare number as a port
  CHECK_FALSE(parse_endpoint("127.0.0.1:99999"));
  CHECK(parse_endpoint("127.0.0.1")->port == 8266);
  CHECK(parse_endpoint("8270")->port == 8270);
  CHECK(parse_endpoint("8270")->ip == 0);
  CHECK_FALSE(parse_endpoint("[::1]:18268"));
}

TEST_CASE("address: IPv4 and IPv6 in one type") {
  Address v4 = Address::ipv4(0x7F000001, 8266);
  CHECK(v4.family() == AF_INET);
  CHECK(v4.port() == 8266);
  CHECK(format_address(v4) == "127.0.0.1:8266");
  CHECK(v4.length() == sizeof(sockaddr_in));
  CHECK(Address().empty());

  auto r = resolve(*parse_host_port("[::1]:9"), false);
  REQUIRE(r);
  REQUIRE(r->size() == 1);
  CHECK((*r)[0].family() == AF_INET6);
  CHECK((*r)[0].port() == 9);
  CHECK(format_address((*r)[0]) == "[::1]:9");
  CHECK((*r)[0].length() == sizeof(sockaddr_in6));
  const Address copy = Address::from((*r)[0].sockaddr_ptr(), (*r)[0].length());
  CHECK(copy == (*r)[0]);
  CHECK_FALSE(copy == v4);

  r = resolve(*parse_host_port("127.0.0.1"), true);
  REQUIRE(r);
  REQUIRE(r->size() == 1);
  CHECK((*r)[0] == v4);
  r = resolve(*parse_host_port(":7"), false);  // any address
  REQUIRE(r);
  CHECK(format_address((*r)[0]) == "0.0.0.0:7");

  auto bad = resolve(HostPort{"no-such-host.invalid", 1}, false);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().kind == m2m::ErrorKind::unavailable);
}
