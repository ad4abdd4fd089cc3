#include <doctest/doctest.h>

#include "m2m/term.hpp"
#include "m2m_body_test_support.hpp"

using namespace m2m;
using namespace m2m::ai;
using namespace m2m_test;
using nlohmann::json;

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

TEST_CASE("OTA bodies with GBK file names") {
  Bytes start;
  REQUIRE(put_gbk_string(start, "固件.bin"));
  Bytes req = start;
  start.push_back(0x5A);
  CHECK(body_of(make(0xF0, 0x56, status::request, start)) == json{{"file", "固件.bin"}, {"checksum", 0x5A}});
  put_le16(req, 3);
  put_le16(req, 512);
  CHECK(body_of(make(0xF0, 0x57, status::request, req)) == json{{"file", "固件.bin"}, {"frame", 3}, {"size", 512}});
  Bytes reply;
  REQUIRE(put_ota_frame_reply(reply, {"固件.bin", 3, 2, hex("AA55")}));
  CHECK(body_of(make(0xF0, 0x57, status::ok, reply)) ==
        json{{"file", "固件.bin"}, {"frame", 3}, {"count", 2}, {"bytes", "AA55"}});
  reply.pop_back();
  body_error_of(make(0xF0, 0x57, status::ok, reply));
  CHECK(body_of(make(0xF0, 0x57, status::fail, {})) == json::object());
  body_error_of(make(0xF0, 0x56, status::request, hex("61 62")));  // no NUL
  body_error_of(make(0xF0, 0x56, status::request, hex("FF FF 00 01")));  // not GBK
}

TEST_CASE("config read and write for every parameter") {
  auto both = [](Bytes value, json want_value, std::string_view param) {
    Bytes d = {0, 0};
    d.insert(d.end(), value.begin(), value.end());
    auto id = find_param(param);
    std::uint16_t pid = id ? *id : 0x0099;
    d[0] = static_cast<std::uint8_t>(pid);
    d[1] = static_cast<std::uint8_t>(pid >> 8);
    json p = id ? json(param) : json(pid);
    CHECK(body_of(make(0xF0, 0xAB, status::request, d)) == json{{"param", p}, {"value", want_value}});
    CHECK(body_of(make(0xF0, 0xAA, status::ok, d)) == json{{"param", p}, {"value", want_value}});
    CHECK(body_of(make(0xF0, 0xAA, status::request, Bytes(d.begin(), d.begin() + 2))) == json{{"param", p}});
  };
  both(hex("563100 322E3000 626C3100"), {{"hardware", "V1"}, {"software", "2.0"}, {"bootloader", "bl1"}}, "version");
  both(hex("6220 01 636C6F75642E6578616D706C6500"), {{"host", "cloud.example"}, {"port", 8290}, {"transport", "tcp"}}, "server");
  both(hex("3500 00 313000"), {{"host", "10"}, {"port", 53}, {"transport", "udp"}}, "fallback_server");
  both(hex("08080404"), "8.8.4.4", "dns");
  for (auto name : {"send_wait", "heartbeat_interval", "write_timeout", "read_timeout"}) both(hex("3C"), 60, name);
  both(hex("2015 03 02 14 05 09 01"), {{"datetime", "2015-03-02T14:05:09"}, {"weekday", 1}}, "rtc");
  both(hex("DEADBEEF"), "DEADBEEF", "");
  CHECK(body_of(make(0xF0, 0xAA, status::unsupported, {})) == json::object());
  // Values that do not parse keep their bytes.
  body_error_of(make(0xF0, 0xAB, status::request, hex("1600 2015 13 02 14 05 09 01")));  // month 13
  body_error_of(make(0xF0, 0xAB, status::request, hex("1600 2015 02 30 14 05 09 01")));  // 30 February
  body_error_of(make(0xF0, 0xAB, status::request, hex("1600 201A 02 03 14 05 09 01")));  // not BCD
  body_error_of(make(0xF0, 0xAB, status::request, hex("1600 2015 02 03 14 05 09 08")));  // weekday 8
  body_error_of(make(0xF0, 0xAB, status::request, hex("0500 6220 02 6100")));            // transport 2
  body_error_of(make(0xF0, 0xAB, status::request, hex("0B00 3C 00")));                    // 2 bytes
  body_error_of(make(0xF0, 0xAB, status::request, hex("07")));                            // short id
}

TEST_CASE("events: decoded JSON") {
  Bytes ev = {0x10};
  REQUIRE(put_gbk_string(ev, "升级完成"));
  CHECK(body_of(make(0xF0, 0xF0, status::request, ev)) ==
        json{{"code", 16}, {"event", "upgrade"}, {"description", "升级完成"}});
  CHECK(body_of(make(0xF0, 0xF0, status::request, hex("20 00"))) ==
        json{{"code", 32}, {"event", "working"}, {"description", ""}});
  CHECK(body_of(make(0xF0, 0xF0, status::request, hex("33 4100"))) ==
        json{{"code", 51}, {"event", nullptr}, {"description", "A"}});
}

TEST_CASE("config values written by hand: every parameter, friendly forms") {
  auto w = [](json value, std::string_view param) {
    return data_of({{"type", "term.config_write"}, {"body", {{"param", param}, {"value", value}}}});
  };
  CHECK(w({{"hardware", "H"}, {"software", "固件"}, {"bootloader", ""}}, "version") == hex("0100 4800 B9CCBCFE00 00"));
  CHECK(w({{"host", "a.cn"}, {"port", 8266}}, "server") == hex("0500 4A20 01 612E636E00"));  // tcp by default
  CHECK(w({{"host", "b"}, {"port", "0x10"}, {"transport", "udp"}}, "fallback_server") == hex("0600 1000 00 6200"));
  CHECK(w("114.114.114.114", "dns") == hex("0700 72727272"));
  CHECK(w(5, "send_wait") == hex("0B00 05"));
  CHECK(w("255", "write_timeout") == hex("2000 FF"));
  CHECK(w(0, "read_timeout") == hex("2100 00"));
  CHECK(w({{"datetime", "2024-02-29 23:59:58"}, {"weekday", 4}}, "rtc") == hex("1600 2024 02 29 23 59 58 04"));
  CHECK(w({{"datetime", "2026-11-22T00:00:00"}}, "rtc") == hex("1600 2026 11 22 00 00 00 07"));  // a Sunday
  CHECK(data_of({{"type", "term.config_write"}, {"body", {{"param", "0x0099"}, {"value", "AB CD"}}}}) == hex("9900 ABCD"));
  CHECK(data_of({{"type", "term.config_read"}, {"body", {{"param", "0x16"}}}}) == hex("1600"));
  for (auto [value, param] : {std::pair{json(256), "heartbeat_interval"}, {json("1.2.3"), "dns"},
                              {json({{"datetime", "2023-02-29T00:00:00"}}), "rtc"},
                              {json({{"datetime", "2023-01-01T24:00:00"}}), "rtc"},
                              {json({{"host", "h"}, {"port", 1}, {"transport", "sctp"}}), "server"},
                              {json({{"hardware", "h"}, {"software", "s"}}), "version"},
                              {json(7), "0x0099"}}) {
    const std::string where = std::string(param) + " " + value.dump();  // clang 14 cannot capture a binding
    INFO(where);
    CHECK_FALSE(frame_from_json({{"type", "term.config_write"}, {"body", {{"param", param}, {"value", value}}}}));
  }
}

TEST_CASE("term.reboot: no data") {
  CHECK(get_reboot({}));
  CHECK_FALSE(get_reboot(hex("00")));
  CHECK(data_of({{"type", "term.reboot"}, {"body", json::object()}}).empty());
}

TEST_CASE("term OTA and event structs: exact bytes and JSON") {
  const Bytes start = hex("B9CCBCFE2E62696E00 5A");
  auto s = get_ota_start(start);
  REQUIRE(s);
  Bytes so;
  REQUIRE(put_ota_start(so, *s));
  CHECK(so == start);
  CHECK(json_of(*s, detail::ota_start_json) == json{{"file", "固件.bin"}, {"checksum", 0x5A}});
  auto sj = detail::ota_start_from_json(json{{"file", "固件.bin"}, {"checksum", 90}});
  CHECK((sj.file == s->file && sj.checksum == s->checksum));
  CHECK(get_ota_start(hex("6100")).error().message == "the checksum after the file name is 1 byte, data has 0 bytes");

  auto rq = get_ota_frame_request(hex("612E62696E00 0200 0002"));
  REQUIRE(rq);
  CHECK(json_of(*rq, detail::ota_frame_request_json) == json{{"file", "a.bin"}, {"frame", 2}, {"size", 512}});
  auto rqj = detail::ota_frame_request_from_json(json{{"file", "a.bin"}, {"frame", 2}, {"size", 512}});
  Bytes rqo;
  REQUIRE(put_ota_frame_request(rqo, rqj));
  CHECK(rqo == hex("612E62696E00 0200 0002"));

  auto rp = get_ota_frame_reply(hex("612E62696E00 0200 0300 010203"));
  REQUIRE(rp);
  CHECK(json_of(*rp, detail::ota_frame_reply_json) ==
        json{{"file", "a.bin"}, {"frame", 2}, {"count", 3}, {"bytes", "010203"}});
  CHECK(detail::ota_frame_reply_from_json(json{{"file", "a.bin"}, {"frame", 2}, {"bytes", "010203"}}).count == 3);
  CHECK(get_ota_frame_reply(hex("6100 0000 0200 01")).error().message == "byte count says 2 bytes, 1 byte follow");

  auto e = get_event(hex("10 00"));
  REQUIRE(e);
  CHECK(json_of(*e, detail::event_json) == json{{"code", 16}, {"event", "upgrade"}, {"description", ""}});
  auto ej = detail::event_from_json(json{{"event", "working"}});
  Bytes eo;
  REQUIRE(put_event(eo, ej));
  CHECK(eo == hex("20 00"));
  CHECK(get_event({}).error().message == "data ends before the event code (1 byte)");
  CHECK(get_event(hex("10 00 00")).error().message == "1 byte left over after the event description");
  CHECK(error_of({{"type", "term.event"}, {"body", {{"code", 1}, {"description", "\U0001F600"}}}}).find(
            "body.description:") != std::string::npos);
}

TEST_CASE("term.config_read and config_write structs: exact bytes and JSON") {
  auto r = get_config_read(hex("1600"));
  REQUIRE(r);
  CHECK(r->param == param::rtc);
  Bytes ro;
  put_config_read(ro, *r);
  CHECK(ro == hex("1600"));
  CHECK(json_of(*r, detail::config_read_json) == json{{"param", "rtc"}});
  CHECK(json_of(ConfigRead{0x99}, detail::config_read_json) == json{{"param", 0x99}});
  CHECK(detail::config_read_from_json(json{{"param", "dns"}}).param == param::dns);
  CHECK(get_config_read(hex("16")).error().message == "parameter id is 2 bytes, data has 1 byte");
  CHECK_FALSE(get_config_read(hex("160000")));

  const Bytes w = hex("0500 6220 01 6100");
  auto pv = get_param_value(w);
  REQUIRE(pv);
  CHECK(pv->param == param::server);
  CHECK(std::get<ServerAddr>(pv->value).port == 0x2062);
  Bytes wo;
  REQUIRE(put_param_value(wo, *pv));
  CHECK(wo == w);
  CHECK(json_of(*pv, detail::param_value_json) ==
        json{{"param", "server"}, {"value", {{"host", "a"}, {"port", 0x2062}, {"transport", "tcp"}}}});
  auto pj = detail::param_value_from_json(json{{"param", "server"}, {"value", {{"host", "a"}, {"port", 0x2062}}}});
  Bytes pjo;
  REQUIRE(put_param_value(pjo, pj));
  CHECK(pjo == w);
  CHECK(get_param_value(hex("05")).error().message == "parameter id is 2 bytes, data has 1 byte");
  Bytes kept = hex("AA");
  CHECK_FALSE(put_param_value(kept, ParamValue{param::dns, std::uint8_t{1}}));  // wrong type for the id
  CHECK(kept == hex("AA"));  // nothing half-written
}
