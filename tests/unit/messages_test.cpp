#include <doctest/doctest.h>

#include "m2m/messages.hpp"

using namespace m2m;
using namespace m2m::ai;

namespace {
Bytes hex(std::string_view s) { return *parse_hex_text(s); }
}  // namespace

TEST_CASE("catalogue: names both ways") {
  CHECK(catalogue().size() == 18);
  for (const auto& c : catalogue()) {
    CHECK(type_name(c.cls, c.cmd) == c.type);
    auto back = find_type(c.type);
    REQUIRE(back);
    CHECK(command_key(back->cls, back->cmd) == command_key(c.cls, c.cmd));
  }
  CHECK(type_name(0xA0, 0x02) == "unknown");
  CHECK_FALSE(find_type("unknown"));
  CHECK(param_name(param::rtc) == "rtc");
  CHECK(param_name(0x0099) == "");
  CHECK(find_param("heartbeat_interval") == param::heartbeat_interval);
  CHECK_FALSE(find_param("nope"));
}

TEST_CASE("passwords: hex or text, padded with NUL") {
  CHECK(*parse_password("0102030405060708") == Password{1, 2, 3, 4, 5, 6, 7, 8});
  CHECK(*parse_password("text:123") == Password{'1', '2', '3', 0, 0, 0, 0, 0});
  CHECK(*parse_password("text:") == Password{});
  CHECK(*parse_password("text:12345678") == Password{'1', '2', '3', '4', '5', '6', '7', '8'});
  CHECK_FALSE(parse_password("text:123456789"));
  CHECK_FALSE(parse_password("01020304"));
  CHECK_FALSE(parse_password("0102030405060708090A"));
}

TEST_CASE("ipv4 text") {
  CHECK(*parse_ipv4("192.168.1.2") == 0xC0A80102u);
  CHECK(format_ipv4(0xC0A80102u) == "192.168.1.2");
  CHECK(format_ipv4(0) == "0.0.0.0");
  for (auto s : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ", "a.b.c.d", "1..2.3", "0001.2.3.4"})
    CHECK_MESSAGE(!parse_ipv4(s), s);
}

TEST_CASE("peer records parse from the front and advance") {
  Bytes two;
  put_peer_record(two, {0xABCDEF, hex("0102030405060708"), 0x7F000001, 9000});
  CHECK(two.size() == 23);
  put_peer_record(two, {1, {}, 0, 0});
  ByteView in = two;
  auto a = get_peer_record(in);
  REQUIRE(a);
  CHECK(a->id == 0xABCDEF);
  CHECK(a->token == hex("0102030405060708"));
  CHECK(a->ip == 0x7F000001u);
  CHECK(a->port == 9000);
  CHECK(in.size() == 15);
  auto b = get_peer_record(in);
  REQUIRE(b);
  CHECK(b->token.empty());
  CHECK(in.empty());
  Bytes cut(two.begin(), two.begin() + 20);
  ByteView c = cut;
  CHECK_FALSE(get_peer_record(c));
}

TEST_CASE("GBK strings: UTF-8 in, GBK + NUL out, and back") {
  Bytes out;
  REQUIRE(put_gbk_string(out, "固件.bin"));
  CHECK(out == hex("B9CCBCFE2E62696E00"));
  ByteView in = out;
  auto s = get_gbk_string(in);
  REQUIRE(s);
  CHECK(*s == "固件.bin");
  CHECK(in.empty());
  Bytes nul_inside;
  CHECK_FALSE(put_gbk_string(nul_inside, std::string_view("a\0b", 3)));
  CHECK_FALSE(put_gbk_string(nul_inside, "\U0001F600"));  // an emoji has no GBK code
  CHECK(nul_inside.empty());
  Bytes unterminated = hex("6162");
  ByteView u = unterminated;
  CHECK_FALSE(get_gbk_string(u));
  Bytes invalid = hex("FF FE 00");
  ByteView v = invalid;
  CHECK_FALSE(get_gbk_string(v));
}


