#include <doctest/doctest.h>

#include "gree/json.hpp"

using namespace m2m;
using namespace m2m::gree;

namespace {
Bytes status_frame() {
  Status s{1023, {}, 26, 0x68, 0x22, 0x44};
  s.code.bytes = {0x79, 0x08, 0x20, 0x50};
  return *encode_status(s);
}
}  // namespace

TEST_CASE("gree json: status JSON names every field") {
  auto s = decode_status(status_frame());
  REQUIRE(s);
  Json j = status_to_json(*s, Checksum::sum8);
  CHECK(j["type"] == "status");
  CHECK(j["address"] == 1023);
  CHECK(j["power"] == true);
  CHECK(j["mode"] == "cool");
  CHECK(j["set_temp"] == 24);
  CHECK(j["fan"] == "high");
  CHECK(j["swing"] == true);
  CHECK(j["light"] == true);
  CHECK(j["ventilation"] == false);
  CHECK(j["timer"].is_null());
  CHECK(j["room_temp"] == 26);
  CHECK(j["running"]["compressor"] == true);
  CHECK(j["running"]["indoor_fan"] == "high");
  CHECK(j["running"]["outdoor_fan"] == "high");
  CHECK(j["running"]["four_way_valve"] == false);
  CHECK(j["running"]["heater"] == false);
  REQUIRE(j["faults"].size() == 1);
  CHECK(j["faults"][0]["code"] == "E3");
  CHECK(j["faults"][0]["message"] == "compressor low-pressure protection");
  CHECK(j["model"] == "heat_pump");
  CHECK(j["code"] == "79082050");
  CHECK(j["status"] == "682244");
  CHECK(j["raw"] == to_hex(status_frame()));
}

TEST_CASE("gree json: swing, light and ventilation of a status come from status 1, not the code") {
  Status s{7, {}, 20, 0x00, 0, 0};
  s.code.set_swing(true);  // the code says swing, status 1 says it is not swinging
  Json j = status_to_json(s, Checksum::sum8);
  CHECK(j["swing"] == false);
  CHECK(j["light"] == false);
  // and re-encoding keeps both as they were
  CHECK(*encode_json(j, Checksum::sum8) == *encode_status(s));
}

TEST_CASE("gree json: decode -> encode reproduces frames byte for byte, odd bits included") {
  for (auto ck : {Checksum::sum8, Checksum::xor8}) {
    Status s{42, {}, 31, 0xFF, 0xB2, 0xBF};
    s.code.bytes = {0xFD, 0xFF, 0xFC, 0x13};  // mode 5, 31 °C, non-decimal timer digits
    const Bytes f = *encode_status(s, ck);
    CHECK(*encode_json(status_to_json(*decode_status(f, ck), ck), ck) == f);
    for (auto kind : {RequestKind::read, RequestKind::broadcast, RequestKind::addressed, RequestKind::set_address}) {
      Request r{kind, kind == RequestKind::read || kind == RequestKind::broadcast ? 0 : 1023, RemoteCode::factory()};
      r.code.set_timer(5);
      const Bytes rf = *encode_request(r, ck);
      CHECK(*encode_json(request_to_json(*decode_request(rf, ck), ck), ck) == rf);
    }
  }
}

TEST_CASE("gree json: encode from hand-written objects") {
  auto b = encode_json(Json::parse(R"({"type":"addressed","address":1023,"power":true,"mode":"cool","set_temp":24,"fan":"high"})"), Checksum::sum8);
  REQUIRE(b);
  auto r = decode_request(*b);
  REQUIRE(r);
  CHECK(r->kind == RequestKind::addressed);
  CHECK(r->code.hex() == "39082050");
  auto rd = encode_json(Json::parse(R"({"type":"read"})"), Checksum::sum8);
  CHECK(to_hex(*rd) == "0630303030303030393230353035300D");  // a read's code is filler: the factory code
  auto st = encode_json(Json::parse(R"({"type":"status","address":5,"room_temp":22,"faults":["E1","E6"],"model":"cooling_only",
                                        "running":{"compressor":true,"indoor_fan":"low","outdoor_fan":"low","four_way_valve":true,"heater":true}})"),
                        Checksum::sum8);
  REQUIRE(st);
  auto s = decode_status(*st);
  REQUIRE(s);
  CHECK(s->faults() == 0x21);
  CHECK(s->cooling_only());
  CHECK(s->compressor());
  CHECK(s->indoor_fan_low());
  CHECK(s->outdoor_fan_low());
  CHECK(s->four_way_valve());
  CHECK(s->heater());
  CHECK(s->room_temp == 22);
}

TEST_CASE("gree json: requests of every kind but read spell out their code, valid or not") {
  Request r{RequestKind::addressed, 1023, RemoteCode{{0xFF, 0xFF, 0xFF, 0xFF}}};
  Json j = request_to_json(r, Checksum::sum8);
  CHECK(j["code"] == "FFFFFFFF");
  CHECK(j["valid"] == false);
  CHECK(j["mode"] == "mode7");
  CHECK(j["set_temp"] == 31);
  CHECK(*encode_json(j, Checksum::sum8) == *encode_request(r));
  Json rd = request_to_json(Request{RequestKind::read, 0, RemoteCode::factory()}, Checksum::sum8);
  CHECK(rd["code"] == "00092050");
  CHECK_FALSE(rd.contains("valid"));  // a read's code is not executed
  CHECK_FALSE(rd.contains("power"));
}

TEST_CASE("gree json: timer in JSON is hours or null") {
  RemoteCode c;
  REQUIRE(apply_remote_fields(Json::parse(R"({"timer":2.5})"), c));
  CHECK(c.timer_half_hours() == 5);
  Json j;
  remote_fields_to_json(c, j);
  CHECK(j["timer"] == 2.5);
  REQUIRE(apply_remote_fields(Json::parse(R"({"timer":null})"), c));
  CHECK_FALSE(c.timer_on());
  CHECK_FALSE(apply_remote_fields(Json::parse(R"({"timer":0.2})"), c));
  CHECK_FALSE(apply_remote_fields(Json::parse(R"({"timer":25})"), c));
}

TEST_CASE("gree json: invalid values are refused with the allowed range") {
  RemoteCode c;
  auto t = apply_remote_fields(Json::parse(R"({"set_temp":35})"), c);
  REQUIRE_FALSE(t);
  CHECK(t.error().message == "set_temp 35 out of range 16..30");
  auto m = apply_remote_fields(Json::parse(R"({"mode":"ice"})"), c);
  REQUIRE_FALSE(m);
  CHECK(m.error().message.find("auto|cool|dry|fan|heat") != std::string::npos);
  CHECK_FALSE(apply_remote_fields(Json::parse(R"({"power":"yes"})"), c));
  CHECK_FALSE(encode_json(Json::parse(R"({"type":"hello"})"), Checksum::sum8));
  CHECK_FALSE(encode_json(Json::parse(R"({"type":"addressed"})"), Checksum::sum8));  // needs an address
  CHECK_FALSE(encode_json(Json::parse(R"({"type":"status","address":10000})"), Checksum::sum8));
  CHECK_FALSE(encode_json(Json::parse(R"({"type":"status","code":"12"})"), Checksum::sum8));
  CHECK_FALSE(encode_json(Json::parse(R"({"type":"status","faults":["E9"]})"), Checksum::sum8));
  CHECK_FALSE(encode_json(Json::parse(R"([1,2])"), Checksum::sum8));
  CHECK(c == RemoteCode::factory());  // failed applications changed nothing they refused
}
