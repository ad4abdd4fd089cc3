#include <doctest/doctest.h>

#include <limits>
#include <random>

#include "m2m/json.hpp"
#include "m2m/messages.hpp"
#include "m2m_body_test_support.hpp"

using namespace m2m;
using namespace m2m::ai;
using namespace m2m_test;
using nlohmann::json;


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
