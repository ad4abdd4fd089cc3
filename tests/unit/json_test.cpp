#include <doctest/doctest.h>

#include <limits>
#include <random>

#include "m2m/json.hpp"
#include "m2m/messages.hpp"

using namespace m2m;
using namespace m2m::ai;
using nlohmann::json;

namespace {

Bytes hex(std::string_view s) { return *parse_hex_text(s); }

Frame make(std::uint8_t cls, std::uint8_t cmd, std::uint8_t st, Bytes data, Bytes token = hex("0102030405060708")) {
  Frame f;
  f.cls = cls;
  f.cmd = cmd;
  f.seq = 7;
  f.status = st;
  f.device = 0xFED24A;
  f.token = has_token_field(cls, cmd) ? std::move(token) : Bytes{};
  f.data = std::move(data);
  return f;
}

struct Decoded {
  Bytes wire, unescaped;
  FrameView view;
};
Decoded decode_wire(const Frame& f) {
  Decoded d;
  auto w = encode(f);
  REQUIRE(w);
  d.wire = *w;
  REQUIRE(unescape(d.wire, d.unescaped));
  auto v = decode(d.unescaped);
  REQUIRE(v);
  d.view = *v;
  return d;
}

// Decodes f's wire bytes to JSON text and back; returns the JSON object for further checks.
json round_trip(const Frame& f) {
  Decoded d = decode_wire(f);
  std::string line;
  append_frame_json(line, d.view, d.wire);
  json j = json::parse(line);
  CHECK(j == frame_to_json(d.view, d.wire));
  auto back = frame_from_json(j);
  REQUIRE_MESSAGE(back, back.error().message, " in ", line);
  auto again = encode(*back);
  REQUIRE(again);
  CHECK_MESSAGE(*again == d.wire, line);
  return j;
}

json body_of(const Frame& f) {
  json j = round_trip(f);
  INFO(j.dump());
  REQUIRE(j.contains("body"));
  CHECK_FALSE(j.contains("body_error"));
  return j["body"];
}

std::string body_error_of(const Frame& f) {
  json j = round_trip(f);
  INFO(j.dump());
  CHECK_FALSE(j.contains("body"));
  REQUIRE(j.contains("body_error"));
  CHECK(j["data"] == to_hex(f.data));
  return j["body_error"];
}

std::string error_of(const json& j) {
  auto r = frame_from_json(j);
  REQUIRE_FALSE(r);
  CHECK(r.error().kind != ErrorKind::too_long);
  return r.error().message;
}

Bytes data_of(const json& j) {
  auto r = frame_from_json(j);
  REQUIRE_MESSAGE(r, r.error().message);
  return r->data;
}

}  // namespace

TEST_CASE("decoded frame: members and their order") {
  Frame f = make(0xA0, 0x01, status::request, {});
  Decoded d = decode_wire(f);
  std::string line;
  json extra = {{"ts", "2026-01-01T00:00:00.000Z"}};
  append_frame_json(line, d.view, d.wire, &extra);
  CHECK(line ==
        "{\"ts\":\"2026-01-01T00:00:00.000Z\",\"v\":1,\"type\":\"link.heartbeat\",\"class\":160,\"cmd\":1,"
        "\"seq\":7,\"ext\":0,\"status\":\"request\",\"device\":\"0000000000FED24A\",\"token\":\"0102030405060708\","
        "\"data\":\"\",\"body\":{},\"raw\":\"" + to_hex(d.wire) + "\"}");
  std::string no_raw;
  append_frame_json(no_raw, d.view, {});
  CHECK(no_raw.find("raw") == std::string::npos);
  CHECK(no_raw.starts_with("{\"v\":1,"));
}

TEST_CASE("login frames have no token member; other statuses print as numbers") {
  json j = round_trip(make(0xA0, 0x00, status::request, hex("0102030405060708")));
  CHECK_FALSE(j.contains("token"));
  CHECK(j["body"] == json{{"password", "0102030405060708"}});
  Frame odd = make(0xA0, 0x01, 0x7F, {});
  odd.ext = 0xBEEF;
  json k = round_trip(odd);
  CHECK(k["status"] == 127);
  CHECK(k["ext"] == 0xBEEF);
  CHECK(k["body"] == json::object());
}

TEST_CASE("login and platform.login bodies") {
  for (std::uint8_t cls : {0xA0, 0xEF}) {
    CHECK(body_of(make(cls, 0, status::request, hex("3132330000000000"))) == json{{"password", "3132330000000000"}});
    CHECK(body_of(make(cls, 0, status::ok, hex("08 1122334455667788"))) == json{{"token", "1122334455667788"}});
    CHECK(body_of(make(cls, 0, status::ok, hex("00"))) == json{{"token", ""}});
    CHECK(body_of(make(cls, 0, status::fail, {})) == json::object());
    CHECK(body_error_of(make(cls, 0, status::request, hex("313233"))).find("8 bytes") != std::string::npos);
    CHECK(body_error_of(make(cls, 0, status::ok, hex("08 1122"))).find("token field") != std::string::npos);
  }
}

TEST_CASE("empty-data commands and generic replies") {
  for (auto [cls, cmd] : {std::pair{0xA0, 0x01}, {0xEF, 0x01}, {0xF0, 0x55}}) {
    CHECK(body_of(make(cls, cmd, status::request, {})) == json::object());
    CHECK(body_of(make(cls, cmd, status::ok, {})) == json::object());
    CHECK(body_of(make(cls, cmd, status::fail, {})) == json::object());
    CHECK(body_of(make(cls, cmd, status::unsupported, {})) == json::object());
    body_error_of(make(cls, cmd, status::request, hex("00")));
    body_error_of(make(cls, cmd, status::ok, hex("00")));
  }
  // A generic reply of a command that has a request form.
  CHECK(body_of(make(0xAA, 0x55, status::ok, {})) == json::object());
  CHECK(body_error_of(make(0xAA, 0x55, status::fail, hex("01"))).find("fail reply") != std::string::npos);
}

TEST_CASE("p2p request, reply and the platform's introduction") {
  CHECK(body_of(make(0xA0, 0x55, status::request, hex("0000000000ABCDEF"))) == json{{"target", "0000000000ABCDEF"}});
  Bytes record = hex("0000000000ABCDEF 08 1122334455667788 C0A80102 1F90");
  json want = {{"id", "0000000000ABCDEF"}, {"token", "1122334455667788"}, {"ip", "192.168.1.2"}, {"port", 8080}};
  CHECK(body_of(make(0xA0, 0x55, status::ok, record)) == want);
  CHECK(body_of(make(0xA0, 0x55, status::request, record)) == want);  // introduction
  CHECK(body_of(make(0xA0, 0x55, status::fail, {})) == json::object());
  Bytes longer = record;
  longer.push_back(0);
  body_error_of(make(0xA0, 0x55, status::ok, longer));
  body_error_of(make(0xA0, 0x55, status::request, hex("0000000000ABCDEF 08 11")));
  CHECK(body_of(make(0xA0, 0xEE, status::request, hex("0000000000ABCDEF"))) == json{{"sender", "0000000000ABCDEF"}});
  CHECK(body_of(make(0xA0, 0xEE, status::ok, hex("0000000000ABCDEF"))) == json{{"sender", "0000000000ABCDEF"}});
}

TEST_CASE("group_list: start index and paged record lists") {
  CHECK(body_of(make(0xAA, 0x00, status::request, {})) == json::object());
  CHECK(body_of(make(0xAA, 0x00, status::request, hex("3B00"))) == json{{"start", 59}});
  CHECK(body_of(make(0xAA, 0x00, status::ok, {})) == json{{"devices", json::array()}});
  Bytes page;
  for (int i = 0; i < 59; ++i) put_peer_record(page, {std::uint64_t(0x1000 + i), hex("0102030405060708"), i ? 0x7F000001u : 0u, std::uint16_t(i * 100)});
  json b = body_of(make(0xAA, 0x00, status::ok, page));
  REQUIRE(b["devices"].size() == 59);
  CHECK(b["devices"][0] == json{{"id", "0000000000001000"}, {"token", "0102030405060708"}, {"ip", "0.0.0.0"}, {"port", 0}});
  CHECK(b["devices"][58]["port"] == 5800);
  page.pop_back();
  CHECK(body_error_of(make(0xAA, 0x00, status::ok, page)).find("record 58") != std::string::npos);
}

TEST_CASE("relay, p2p_send, uplink, downlink") {
  CHECK(body_of(make(0xAA, 0x55, status::request, hex("0000000000ABCDEF 48656C6C6F"))) ==
        json{{"peer", "0000000000ABCDEF"}, {"payload", "48656C6C6F"}});
  CHECK(body_of(make(0xAA, 0x55, status::request, hex("0000000000ABCDEF"))) ==
        json{{"peer", "0000000000ABCDEF"}, {"payload", ""}});
  body_error_of(make(0xAA, 0x55, status::request, hex("0000ABCDEF")));
  CHECK(body_of(make(0xAA, 0x66, status::request, hex("0000000000ABCDEF 55 54"))) ==
        json{{"sender", "0000000000ABCDEF"}, {"payload", "5554"}});
  CHECK(body_of(make(0xAA, 0xEE, status::request, hex("5555"))) == json{{"payload", "5555"}});
  CHECK(body_of(make(0xAA, 0xFF, status::request, {})) == json{{"payload", ""}});
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

TEST_CASE("events and add_terminal") {
  Bytes ev = {0x10};
  REQUIRE(put_gbk_string(ev, "升级完成"));
  CHECK(body_of(make(0xF0, 0xF0, status::request, ev)) ==
        json{{"code", 16}, {"event", "upgrade"}, {"description", "升级完成"}});
  CHECK(body_of(make(0xF0, 0xF0, status::request, hex("20 00"))) ==
        json{{"code", 32}, {"event", "working"}, {"description", ""}});
  CHECK(body_of(make(0xF0, 0xF0, status::request, hex("33 4100"))) ==
        json{{"code", 51}, {"event", nullptr}, {"description", "A"}});
  CHECK(body_of(make(0xEF, 0x06, status::request, hex("0000000000ABCDEF 3132330000000000"))) ==
        json{{"id", "0000000000ABCDEF"}, {"password", "3132330000000000"}});
}

TEST_CASE("unknown commands keep their bytes and have neither body nor body_error") {
  json j = round_trip(make(0x12, 0x34, status::request, hex("00112233")));
  CHECK(j["type"] == "unknown");
  CHECK_FALSE(j.contains("body"));
  CHECK_FALSE(j.contains("body_error"));
  CHECK(j["data"] == "00112233");
  round_trip(make(0xA0, 0x99, 0x42, hex("55"), {}));
}

TEST_CASE("frame_from_json: friendly inputs") {
  CHECK(data_of({{"type", "link.login"}, {"body", {{"password", "text:123"}}}}) == hex("3132330000000000"));
  CHECK(data_of({{"type", "data.uplink"}, {"body", {{"text", "hello"}}}}) == hex("68656C6C6F"));
  CHECK(data_of({{"type", "data.relay"}, {"body", {{"target", "AA:BB:CC:DD:EE:FF"}, {"text", "x"}}}}) ==
        hex("0000AABBCCDDEEFF 78"));
  CHECK(data_of({{"type", "term.config_read"}, {"body", {{"param", 12}}}}) == hex("0C00"));
  CHECK(data_of({{"type", "term.config_read"}, {"body", {{"param", "heartbeat_interval"}}}}) == hex("0C00"));
  CHECK(data_of({{"type", "term.config_write"}, {"body", {{"param", "rtc"}, {"value", {{"datetime", "2015-03-02T14:05:09"}}}}}}) ==
        hex("1600 2015 03 02 14 05 09 01"));  // weekday computed: a Monday
  CHECK(data_of({{"type", "term.event"}, {"body", {{"event", "working"}}}}) == hex("20 00"));
  CHECK(data_of({{"class", "0xAA"}, {"cmd", 0xEE}, {"data", "01 02"}}) == hex("0102"));
  CHECK(data_of({{"type", "data.uplink"}, {"data", "0102"}, {"body", {{"payload", "03"}}}}) == hex("03"));  // body wins

  auto f = frame_from_json({{"type", "link.heartbeat"}, {"device", "aa:bb:cc:dd:ee:ff"}, {"status", "ok"}, {"seq", 9},
                            {"token", "0102"}, {"raw", "garbage is ignored"}});
  REQUIRE(f);
  CHECK(f->device == 0xAABBCCDDEEFFull);
  CHECK(f->status == status::ok);
  CHECK(f->seq == 9);
  CHECK(f->token == hex("0102"));
  auto g = frame_from_json({{"type", "link.heartbeat"}, {"device", "0xfed24a"}, {"status", 3}});
  REQUIRE(g);
  CHECK(g->device == 0xFED24A);
  CHECK(g->status == status::unsupported);
  auto dflt = frame_from_json({{"type", "link.heartbeat"}});
  REQUIRE(dflt);
  CHECK((dflt->seq == 0 && dflt->ext == 0 && dflt->status == status::request && dflt->device == 0 && dflt->token.empty()));
}

TEST_CASE("frame_from_json: errors name the field") {
  auto has = [](const json& j, std::string_view part) {
    std::string m = error_of(j);
    CHECK_MESSAGE(m.find(part) != std::string::npos, m, " lacks ", part);
  };
  has(json::array(), "expected a JSON object");
  has(42, "expected a JSON object");
  has({{"type", "link.nope"}}, "type: unknown command type");
  has({{"class", 160}}, "cmd: missing");
  has({{"type", "link.login"}, {"class", 170}}, "class/cmd: disagree");
  has({{"type", "link.heartbeat"}, {"seq", 70000}}, "seq: expected a number 0-65535");
  has({{"type", "link.heartbeat"}, {"seq", -1}}, "seq: expected a number");
  has({{"type", "link.heartbeat"}, {"seq", "many"}}, "seq: expected a number");
  has({{"type", "link.heartbeat"}, {"status", "maybe"}}, "status: expected request, ok");
  has({{"type", "link.heartbeat"}, {"device", "xyz"}}, "device:");
  has({{"type", "link.heartbeat"}, {"token", "0g"}}, "token:");
  has({{"type", "link.login"}, {"token", "01"}}, "token: link.login frames have no token field");
  has({{"type", "link.login"}, {"body", {{"password", "0102"}}}}, "body.password:");
  has({{"type", "link.login"}, {"body", {{"pasword", "0102030405060708"}}}}, "body.pasword: unknown field");
  has({{"type", "link.login"}, {"body", json::object()}}, "body.password: missing");
  has({{"type", "link.login"}, {"body", "x"}}, "body: expected an object");
  has({{"type", "term.config_write"}, {"body", {{"param", "server"}, {"value", {{"host", "h"}, {"port", 70000}}}}}},
      "body.value.port: expected a number 0-65535");
  has({{"type", "term.config_write"}, {"body", {{"param", "nope"}, {"value", 1}}}}, "body.param: unknown parameter");
  has({{"type", "term.config_write"}, {"body", {{"param", "rtc"}, {"value", {{"datetime", "2015-02-30T00:00:00"}}}}}},
      "body.value: rtc day 30");
  has({{"type", "term.config_write"}, {"body", {{"param", "rtc"}, {"value", {{"datetime", "yesterday"}}}}}},
      "body.value.datetime: expected YYYY-MM-DDTHH:MM:SS");
  has({{"type", "data.group_list"}, {"status", "ok"}, {"body", {{"devices", {{{"id", "01"}, {"token", ""}, {"ip", "1.2.3"}}}}}}},
      "body.devices[0].ip:");
  has({{"type", "term.reboot"}, {"status", "fail"}, {"body", {{"x", 1}}}}, "body: a fail reply of term.reboot has no fields");
  has({{"class", 1}, {"cmd", 2}, {"body", json::object()}}, "is not a catalogue command");
  has({{"type", "term.event"}, {"body", {{"code", 16}, {"event", "working"}}}}, "disagrees with code 16");
  has({{"type", "term.ota_frame"}, {"status", "ok"}, {"body", {{"file", "f"}, {"frame", 1}, {"count", 3}, {"bytes", "01"}}}},
      "body.count:");
  has({{"type", "data.relay"}, {"body", {{"peer", "01"}, {"target", "02"}, {"payload", ""}}}}, "not both");
  has({{"v", 2}, {"type", "link.heartbeat"}}, "v:");
  has({{"v", 1}, {"error", "bad_crc"}, {"raw", "55"}}, "decode error record");
  has({{"type", "term.ota_start"}, {"body", {{"file", "a\U0001F600b"}, {"checksum", 1}}}}, "body.file:");  // emoji: no GBK code
  auto big = frame_from_json({{"type", "data.uplink"}, {"data", std::string(2800, 'A')}});
  REQUIRE_FALSE(big);
  CHECK(big.error().kind == ErrorKind::too_long);
  CHECK(big.error().message.find("1400") != std::string::npos);
  // The same wording as encode: what fits with this frame's header and token.
  CHECK(big.error().message ==
        "data: frame would be 1422 bytes; the protocol limit is 1400: with its header and 0-byte token at most 1378 "
        "data bytes fit (it has 1400)");
}

TEST_CASE("error_to_json and frame_summary") {
  json e = error_to_json(Error{ErrorKind::bad_crc, 1234, "CRC mismatch"}, hex("5501"));
  CHECK(e == json{{"v", 1}, {"error", "bad_crc"}, {"offset", 1234}, {"raw", "5501"}, {"message", "CRC mismatch"}});
  std::string line;  // the streaming form keeps the documented key order
  append_error_json(line, Error{ErrorKind::bad_crc, 1234, "CRC mismatch"}, hex("5501"));
  CHECK(line == R"({"v":1,"error":"bad_crc","offset":1234,"raw":"5501","message":"CRC mismatch"})");
  CHECK(json::parse(line) == e);
  json g = error_to_json(Error{ErrorKind::garbage, 0, "skipped"}, {}, 5);
  CHECK(g["skipped"] == 5);
  CHECK(frame_summary(make(0xA0, 0x00, status::request, hex("0102030405060708")).view()) ==
        "A0 00 link.login request seq=7 dev=0000000000FED24A password=0102030405060708");
  Frame bad = make(0xF0, 0x55, status::request, hex("01"));
  CHECK(frame_summary(bad.view()).find("body_error=") != std::string::npos);
}

TEST_CASE("property: decode -> JSON -> encode reproduces every frame byte for byte") {
  std::mt19937_64 rng(20261121);
  auto byte = [&] { return static_cast<std::uint8_t>(rng()); };
  auto some = [&](std::size_t max) {
    Bytes b(rng() % (max + 1));
    for (auto& x : b) x = byte();
    return b;
  };
  const auto& cat = catalogue();
  int with_body = 0, with_error = 0;
  for (int i = 0; i < 20000; ++i) {
    Frame f;
    if (rng() % 8 == 0) {
      f.cls = byte();
      f.cmd = byte();
    } else {
      const auto& c = cat[rng() % cat.size()];
      f.cls = c.cls;
      f.cmd = c.cmd;
    }
    const std::uint8_t statuses[] = {0, 1, 2, 2, 2, 3, 0x55, 0x54};
    f.status = statuses[rng() % 8];
    f.seq = static_cast<std::uint16_t>(rng());
    f.ext = rng() % 4 == 0 ? static_cast<std::uint16_t>(rng()) : 0;
    f.device = rng() % 2 ? rng() : rng() % 0xFFFFFFFFFFFFull;
    if (has_token_field(f.cls, f.cmd)) {
      f.token = some(12);
      if (rng() % 5 != 0) f.token.resize(8, 0x55);
    }
    // Random bytes, or data shaped like the id/record forms, or like the parameter forms.
    switch (rng() % 3) {
      case 0: f.data = some(40); break;
      case 1: {
        // A plausible body: pick a known-good data area of the right shape.
        Bytes d;
        put_be64(d, rng());
        if (rng() % 2) {
          d.push_back(8);
          for (int k = 0; k < 8; ++k) d.push_back(byte());
          put_be32(d, static_cast<std::uint32_t>(rng()));
          put_be16(d, static_cast<std::uint16_t>(rng()));
        }
        f.data = d;
        break;
      }
      default: {
        Bytes d = {static_cast<std::uint8_t>(rng() % 0x30), 0};
        Bytes v = some(10);
        d.insert(d.end(), v.begin(), v.end());
        f.data = rng() % 2 ? d : Bytes{};
        break;
      }
    }
    json j = round_trip(f);
    with_body += j.contains("body");
    with_error += j.contains("body_error");
  }
  // The generator must exercise both sides, or the property says little.
  CHECK(with_body > 2000);
  CHECK(with_error > 2000);
}

TEST_CASE("every catalogue command: fail, unsupported and odd statuses are generic replies") {
  for (const auto& c : catalogue()) {
    INFO(c.type);
    for (std::uint8_t st : {status::fail, status::unsupported, std::uint8_t{0x09}}) {
      CHECK(body_of(make(c.cls, c.cmd, st, {})) == json::object());
      CHECK(body_error_of(make(c.cls, c.cmd, st, hex("00"))).find("carries no data") != std::string::npos);
      auto d = body_from_json(c.cls, c.cmd, st, json::object());
      REQUIRE(d);
      CHECK(d->empty());
      CHECK_FALSE(body_from_json(c.cls, c.cmd, st, json{{"payload", "01"}}));
    }
    // ok with empty data is the generic reply too (group_list: an empty page).
    json ok = body_of(make(c.cls, c.cmd, status::ok, {}));
    CHECK(ok == (command_key(c.cls, c.cmd) == cmd::data_group_list ? json{{"devices", json::array()}} : json::object()));
  }
}

TEST_CASE("body_to_json and body_from_json directly") {
  Frame f = make(0xAA, 0xEE, status::request, hex("0102"));
  auto b = body_to_json(f.view());
  REQUIRE(b);
  CHECK(*b == json{{"payload", "0102"}});
  auto d = body_from_json(0xAA, 0xEE, status::request, *b);
  REQUIRE(d);
  CHECK(*d == hex("0102"));
  CHECK_FALSE(body_to_json(make(0x77, 0x01, status::request, {}).view()));
  // A command without a specific ok reply refuses ok-reply fields rather than guessing.
  auto e = body_from_json(0xF0, 0x55, status::ok, json{{"x", 1}});
  REQUIRE_FALSE(e);
  CHECK(e.error().message.find("body") == 0);
  // config_read's ok form needs a value; its request form refuses one.
  CHECK_FALSE(body_from_json(0xF0, 0xAA, status::ok, json{{"param", "dns"}}));
  CHECK_FALSE(body_from_json(0xF0, 0xAA, status::request, json{{"param", "dns"}, {"value", "1.2.3.4"}}));
  auto ok = body_from_json(0xF0, 0xAA, status::ok, json{{"param", "dns"}, {"value", "1.2.3.4"}});
  REQUIRE(ok);
  CHECK(*ok == hex("0700 01020304"));
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
    INFO(param, " ", value.dump());
    CHECK_FALSE(frame_from_json({{"type", "term.config_write"}, {"body", {{"param", param}, {"value", value}}}}));
  }
}

TEST_CASE("frame_from_json never throws, whatever the JSON") {
  std::mt19937 rng(7);
  const json odd[] = {nullptr, true, -1, 1.5, 1e30, "", "0x", "zz", json::array(), json::array({1, 2}),
                      json::object(), json{{"a", 1}}, "0000000000FED24A", 255, 65536,
                      std::numeric_limits<std::uint64_t>::max(), "text:123456789", "\xff\xfe"};
  const char* keys[] = {"v", "type", "class", "cmd", "seq", "ext", "status", "device", "token", "data", "body"};
  const char* body_keys[] = {"password", "token", "target", "id", "ip", "port", "sender", "start", "devices", "peer",
                             "payload", "text", "file", "checksum", "frame", "size", "count", "bytes", "param",
                             "value", "code", "event", "description"};
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    json j = json::object();
    const auto& c = catalogue()[rng() % catalogue().size()];
    if (rng() % 4) j["type"] = c.type;
    for (int k = 0; k < 3; ++k) j[keys[rng() % std::size(keys)]] = odd[rng() % std::size(odd)];
    if (rng() % 2) {
      json body = json::object();
      for (int k = 0; k < 3; ++k) body[body_keys[rng() % std::size(body_keys)]] = odd[rng() % std::size(odd)];
      j["body"] = body;
    }
    Result<Frame> r = Frame{};
    CHECK_NOTHROW(r = frame_from_json(j));
    if (r) {
      ++accepted;
      CHECK(encode(*r));  // whatever is accepted also encodes
    } else {
      CHECK_FALSE(r.error().message.empty());
    }
  }
  CHECK(accepted > 0);
}

TEST_CASE("extra members lead, in the order ts, peer, dir, then the rest") {
  Frame f = make(0xA0, 0x01, status::ok, {});
  std::string line;
  json extra = {{"dir", "rx"}, {"peer", "127.0.0.1:9"}, {"ts", "T"}, {"capture", 3}};
  append_frame_json(line, f.view(), {}, &extra);
  CHECK(line.starts_with(R"({"ts":"T","peer":"127.0.0.1:9","dir":"rx","capture":3,"v":1,)"));
  auto back = frame_from_json(json::parse(line));  // extras do not disturb encoding
  REQUIRE(back);
  CHECK(*encode(*back) == *encode(f));
}

TEST_CASE("frame_summary: statuses, ext, token, quoting, unknown commands") {
  Frame odd = make(0xF0, 0xF0, 0x07, {});
  odd.ext = 3;
  CHECK(frame_summary(odd.view()) == "F0 F0 term.event status=7 seq=7 ext=3 dev=0000000000FED24A tok=0102030405060708");
  Bytes ev = {0x20};
  REQUIRE(put_gbk_string(ev, "running fine"));
  CHECK(frame_summary(make(0xF0, 0xF0, status::request, ev).view()) ==
        "F0 F0 term.event request seq=7 dev=0000000000FED24A tok=0102030405060708 code=32 "
        "description=\"running fine\" event=working");
  CHECK(frame_summary(make(0x12, 0x34, status::ok, hex("ABCD"), {}).view()) ==
        "12 34 unknown ok seq=7 dev=0000000000FED24A data=ABCD");
  CHECK(frame_summary(make(0xAA, 0x00, status::ok, {}).view()).ends_with(" devices=[]"));
}
