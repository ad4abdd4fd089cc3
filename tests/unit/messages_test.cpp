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

namespace {
// put(get(d)) == d for a parameter value that parses.
void config_round_trip(std::uint16_t id, const Bytes& d) {
  auto v = get_config_value(id, d);
  REQUIRE_MESSAGE(v, v.error().message);
  Bytes again;
  REQUIRE(put_config_value(again, id, *v));
  CHECK(again == d);
}
}  // namespace

TEST_CASE("configuration values") {
  config_round_trip(param::version, hex("563100 322E3000 00"));
  auto ver = get_config_value(param::version, hex("563100 322E3000 00"));
  CHECK(std::get<VersionInfo>(*ver).software == "2.0");
  CHECK(std::get<VersionInfo>(*ver).bootloader == "");
  CHECK_FALSE(get_config_value(param::version, hex("563100 322E3000")));
  CHECK_FALSE(get_config_value(param::version, hex("563100 322E3000 00 00")));

  config_round_trip(param::server, hex("6220 01 636C6F756400"));
  auto srv = get_config_value(param::fallback_server, hex("6220 00 6100"));
  CHECK(std::get<ServerAddr>(*srv).port == 0x2062);
  CHECK_FALSE(std::get<ServerAddr>(*srv).tcp);
  CHECK_FALSE(get_config_value(param::server, hex("6220 02 6100")));
  CHECK_FALSE(get_config_value(param::server, hex("6220 01 6100 00")));
  CHECK_FALSE(get_config_value(param::server, hex("62")));

  config_round_trip(param::dns, hex("08080808"));
  CHECK(std::get<std::uint32_t>(*get_config_value(param::dns, hex("08080404"))) == 0x08080404u);
  CHECK_FALSE(get_config_value(param::dns, hex("080808")));

  for (auto id : {param::send_wait, param::heartbeat_interval, param::write_timeout, param::read_timeout}) {
    config_round_trip(id, hex("FF"));
    CHECK_FALSE(get_config_value(id, {}));
    CHECK_FALSE(get_config_value(id, hex("0101")));
  }

  config_round_trip(param::rtc, hex("2015 03 02 14 05 09 01"));
  config_round_trip(param::rtc, hex("2024 02 29 23 59 59 07"));
  auto rtc = std::get<RtcTime>(*get_config_value(param::rtc, hex("2015 03 02 14 05 09 01")));
  CHECK((rtc.year == 2015 && rtc.month == 3 && rtc.day == 2 && rtc.hour == 14 && rtc.minute == 5 &&
         rtc.second == 9 && rtc.weekday == 1));
  for (auto bad : {"2023 02 29 00 00 00 01", "2015 00 01 00 00 00 01", "2015 01 32 00 00 00 01",
                   "2015 01 01 24 00 00 01", "2015 01 01 00 60 00 01", "2015 01 01 00 00 60 01",
                   "2015 01 01 00 00 00 00", "2015 01 01 00 00 00 08", "20A5 01 01 00 00 00 01",
                   "2015 01 01 00 00 00", "2015 01 01 00 00 00 01 00"})
    CHECK_MESSAGE(!get_config_value(param::rtc, hex(bad)), bad);
  Bytes out;
  CHECK_FALSE(put_config_value(out, param::rtc, RtcTime{2015, 2, 29, 0, 0, 0, 1}));
  CHECK_FALSE(put_config_value(out, param::dns, std::uint8_t{1}));  // wrong type for the id
  CHECK(out.empty());

  config_round_trip(0x0099, hex("DEADBEEF"));
  config_round_trip(0x0099, {});
  CHECK(std::get<Bytes>(*get_config_value(0x0099, hex("01"))) == hex("01"));
}

TEST_CASE("OTA and event bodies: strict both ways") {
  Bytes d;
  REQUIRE(put_ota_start(d, {"固件.bin", 0x5A}));
  auto s = get_ota_start(d);
  REQUIRE(s);
  CHECK(s->file == "固件.bin");
  CHECK(s->checksum == 0x5A);
  d.push_back(0);
  CHECK_FALSE(get_ota_start(d));

  Bytes r;
  REQUIRE(put_ota_frame_request(r, {"a.bin", 2, 512}));
  CHECK(r == hex("612E62696E00 0200 0002"));
  auto rq = get_ota_frame_request(r);
  REQUIRE(rq);
  CHECK((rq->frame == 2 && rq->size == 512));
  CHECK_FALSE(get_ota_frame_request(hex("612E62696E00 0200 00")));

  Bytes rep;
  REQUIRE(put_ota_frame_reply(rep, {"a.bin", 2, 3, hex("010203")}));
  CHECK(rep == hex("612E62696E00 0200 0300 010203"));
  auto rp = get_ota_frame_reply(rep);
  REQUIRE(rp);
  CHECK(rp->bytes == hex("010203"));
  CHECK(get_ota_frame_reply(hex("6100 0000 0000"))->bytes.empty());  // last frame, count 0
  CHECK_FALSE(get_ota_frame_reply(hex("6100 0000 0200 01")));
  Bytes mismatch;
  CHECK_FALSE(put_ota_frame_reply(mismatch, {"a", 0, 5, hex("01")}));

  Bytes ev;
  REQUIRE(put_event(ev, {event_code::upgrade, "升级"}));
  auto e = get_event(ev);
  REQUIRE(e);
  CHECK(e->code == 0x10);
  CHECK(e->description == "升级");
  CHECK_FALSE(get_event({}));
  CHECK_FALSE(get_event(hex("10")));
  CHECK_FALSE(get_event(hex("10 00 00")));
}
