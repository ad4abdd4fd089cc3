// gree-ctl bridge, the pure part: --unit, downlink commands, payloads, fault events, params.
#include <doctest/doctest.h>

#include "bridge/gree_bridge.hpp"
#include "gree/known_state.hpp"
#include "m2m/frame.hpp"

using namespace m2m;
using namespace m2m::gree;

namespace {
Result<Downlink> downlink(std::string_view text) { return parse_downlink(as_bytes(text)); }
}  // namespace

TEST_CASE("gree bridge: --unit ADDR=DEVICE_ID:PASSWORD") {
  auto u = parse_bridge_unit("1023=0000000000FED24A:text:123");
  REQUIRE(u);
  CHECK(u->address == 1023);
  CHECK(u->device == 0xFED24A);
  CHECK(u->password == ai::Password{'1', '2', '3', 0, 0, 0, 0, 0});
  auto hex = parse_bridge_unit("7=fed24a:0102030405060708");
  REQUIRE(hex);
  CHECK(hex->password[7] == 8);
  for (auto bad : {"1023", "1023=FED24A", "0=FED24A:text:1", "10000=FED24A:text:1", "x=FED24A:text:1", "1023=zz:text:1",
                   "1023=FED24A:text:123456789", "1023=0:text:1"}) {
    auto r = parse_bridge_unit(bad);
    CHECK_MESSAGE(!r, bad);
    if (!r) CHECK(r.error().message.find("ADDR=DEVICE_ID:PASSWORD") != std::string::npos);
  }
}

TEST_CASE("gree bridge: downlink commands") {
  auto st = downlink(R"({"status":true})");
  REQUIRE(st);
  CHECK(st->kind == Downlink::Kind::status);

  auto set = downlink(R"({"set":{"temp":22,"mode":"cool","power":"on","swing":false}})");
  REQUIRE(set);
  CHECK(set->kind == Downlink::Kind::set);
  CHECK(set->patch == Json{{"set_temp", 22}, {"mode", "cool"}, {"power", true}, {"swing", false}});

  // On top of a known code only the asked fields change.
  RemoteCode code;
  code.bytes = {0x39, 0x08, 0x20, 0x50};  // on, cool, fan high, 24 degrees
  auto temp = downlink(R"({"set":{"temp":22}})");
  REQUIRE(temp);
  auto next = addressed_code(code, temp->patch);
  REQUIRE(next);
  CHECK((*next)->hex() == "39062050");

  struct Case { const char* text; const char* says; };
  for (auto c : {Case{"", "not a JSON object"}, Case{"[1]", "not a JSON object"}, Case{"{}", "exactly one"},
                 Case{R"({"set":{},"status":true})", "exactly one"}, Case{R"({"status":false})", "must be true"},
                 Case{R"({"set":{}})", "at least one"}, Case{R"({"set":{"colour":"red"}})", "unknown setting \"colour\""},
                 Case{R"({"set":{"temp":35}})", "temp 35 out of range 16..30"},
                 Case{R"({"set":{"set_temp":35}})", "set_temp 35 out of range 16..30"}, Case{R"({"set":{"mode":"turbo"}})", "mode"},
                 Case{R"({"set":{"temp":22,"set_temp":23}})", "not both"}}) {
    auto r = downlink(c.text);
    REQUIRE_MESSAGE(!r, c.text);
    CHECK_MESSAGE(r.error().message.find(c.says) != std::string::npos, c.text, " -> ", r.error().message);
  }
}

TEST_CASE("gree bridge: payloads") {
  Status s;
  s.address = 1023;
  s.code.bytes = {0x39, 0x06, 0x20, 0x50};
  s.room_temp = 25;
  s.s3 = 0x04;
  const Json j = Json::parse(state_payload(s, Checksum::sum8));
  CHECK(j == status_to_json(s, Checksum::sum8));
  CHECK(j["set_temp"] == 22);
  CHECK(j["faults"][0]["code"] == "E3");
  const Json e = Json::parse(error_payload(1023, "no_reply", "no reply from unit 1023"));
  CHECK(e == Json{{"error", "no reply from unit 1023"}, {"kind", "no_reply"}, {"address", 1023}});
}

TEST_CASE("gree bridge: fault changes") {
  CHECK(fault_changes(1023, std::nullopt, 0).empty());
  CHECK(fault_changes(1023, 0x04, 0x04).empty());
  auto first = fault_changes(1023, std::nullopt, 0x04);
  REQUIRE(first.size() == 1);
  CHECK(first[0] == "unit 1023: fault E3 (compressor low-pressure protection) appeared");
  auto both = fault_changes(1024, 0x04, 0x01 | 0x40);  // 0x40 (memory) is no fault
  REQUIRE(both.size() == 2);
  CHECK(both[0] == "unit 1024: fault E1 (compressor high-pressure protection) appeared");
  CHECK(both[1] == "unit 1024: fault E3 (compressor low-pressure protection) cleared");
}

TEST_CASE("gree bridge: configuration parameters") {
  DeviceParams p("0.1.0", "127.0.0.1", 8266, 30);
  auto v = p.read(ai::param::version);
  REQUIRE(v);
  CHECK(get_le16(v->data()) == ai::param::version);
  auto ver = ai::get_config_value(ai::param::version, ByteView(*v).subspan(2));
  REQUIRE(ver);
  CHECK(std::get<ai::VersionInfo>(*ver).software == "0.1.0");
  CHECK_FALSE(p.read(0x0099));

  CHECK(p.heartbeat_seconds() == 30);
  Bytes w;
  put_le16(w, ai::param::heartbeat_interval);
  w.push_back(45);
  CHECK(p.write(w) == ai::status::ok);
  CHECK(p.heartbeat_seconds() == 45);
  CHECK((*p.read(ai::param::heartbeat_interval))[2] == 45);
  w.back() = 0;
  CHECK(p.write(w) == ai::status::fail);  // would stop the heartbeats
  w.push_back(1);
  CHECK(p.write(w) == ai::status::fail);  // two bytes for a one-byte setting

  Bytes ro;
  put_le16(ro, ai::param::version);
  CHECK(p.write(ro) == ai::status::fail);
  Bytes unknown;
  put_le16(unknown, 0x0099);
  unknown.push_back(1);
  CHECK(p.write(unknown) == ai::status::unsupported);
  CHECK(p.write(ByteView()) == ai::status::fail);
}
