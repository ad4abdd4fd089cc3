#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "telematics/json.hpp"
#include "telematics/messages.hpp"

using namespace m2m;
using namespace m2m::telematics;
using nlohmann::json;

namespace {

Bytes hex(std::string_view s) { return *parse_hex_text(s); }

json to_json(const Frame& f, bool with_raw = true) {
  auto wire = encode(f);
  REQUIRE(wire);
  std::string s;
  append_frame_json(s, f.view(), with_raw ? ByteView(*wire) : ByteView{});
  return json::parse(s);
}

Frame frame(std::uint16_t id, Bytes body = {}) {
  Frame f;
  f.id = id;
  f.terminal = *parse_terminal("013800138000");
  f.seq = 42;
  f.body = std::move(body);
  return f;
}

}  // namespace

TEST_CASE("telematics: the catalogue is the protocol document's list") {
  const std::pair<std::uint16_t, const char*> want[] = {
      {0x0001, "login"}, {0x0002, "logout"}, {0x0003, "heartbeat"}, {0x0004, "working_data"}, {0x0005, "fault"},
      {0x0101, "terminal_general_reply"}, {0x0102, "param_query_reply"}, {0x0103, "working_data_query_reply"},
      {0x0104, "fault_query_reply"}, {0x8001, "param_set"}, {0x8002, "param_query"}, {0x8003, "working_data_query"},
      {0x8004, "fault_query"}, {0x8101, "platform_general_reply"}, {0x8102, "login_reply"}, {0x1001, "order_result"},
      {0x9001, "remote_control"}, {0x9002, "order_reserve"}, {0x9003, "order_cancel"},
      {0x1101, "remote_control_reply"}, {0x1102, "order_reserve_reply"}, {0x1103, "order_cancel_reply"},
      {0xD001, "bluetooth_order"}, {0x5101, "bluetooth_order_reply"}, {0x7001, "upgrade_request"},
      {0xF101, "upgrade_reply"}};
  CHECK(catalogue().size() == std::size(want));
  for (auto [id, name] : want) {
    const auto wanted = name;  // clang 14 cannot capture a binding
    CAPTURE(wanted);
    CHECK(type_name(id) == name);
    REQUIRE(find_type(name));
    CHECK(find_type(name)->id == id);
  }
  CHECK(type_name(0x0200) == "unknown");
}

TEST_CASE("telematics: every type name round-trips through JSON byte for byte") {
  for (const TypeInfo& t : catalogue()) {
    CAPTURE(t.name);
    Bytes body = t.body == BodyKind::empty ? Bytes{} : t.body == BodyKind::general_reply ? hex("0700 0100 00") : hex("7E 01 7D 02");
    Frame f = frame(t.id, body);
    json j = to_json(f);
    CHECK(j["type"] == t.name);
    CHECK(j["id"] == t.id);
    auto back = frame_from_json(j);
    REQUIRE(back);
    CHECK(*encode(*back) == *encode(f));
    // The type alone (no id) names the message too.
    json by_name = j;
    by_name.erase("id");
    CHECK(*encode(*frame_from_json(by_name)) == *encode(f));
  }
}

TEST_CASE("telematics: JSON of a login frame") {
  const Frame f = frame(0x0001);
  std::string s;
  append_frame_json(s, f.view(), *encode(f));
  CHECK(s ==
        R"j({"v":1,"type":"login","id":1,"terminal":"013800138000","seq":42,"encryption":"none","additional":0,)j"
        R"j("data":"","body":{},"raw":"7E010000000138001380002A0000000000817E"})j");
}

TEST_CASE("telematics: general replies use the JT/T 808 layout") {
  json j = to_json(frame(0x8101, hex("0700 0100 00")), false);
  CHECK(j["body"] == json::parse(R"j({"reply_seq":7,"reply_id":1,"result":"ok"})j"));
  json t = to_json(frame(0x0101, hex("0900 0480 03")), false);
  CHECK(t["body"] == json::parse(R"j({"reply_seq":9,"reply_id":32772,"result":"unsupported"})j"));
  json odd = to_json(frame(0x0101, hex("0900 0480 09")), false);
  CHECK(odd["body"]["result"] == 9);
  json short_body = to_json(frame(0x0101, hex("0900")), false);
  CHECK_FALSE(short_body.contains("body"));
  CHECK(short_body.contains("body_error"));

  // Built from a body: names for reply ids and results are accepted.
  auto f = frame_from_json(json::parse(
      R"j({"type":"platform_general_reply","terminal":"13800138000","seq":3,"body":{"reply_seq":7,"reply_id":"login","result":"fail"}})j"));
  REQUIRE(f);
  CHECK(to_hex(f->body) == "0700010001");
}

TEST_CASE("telematics: opaque, encrypted and sub-package bodies stay hex") {
  json w = to_json(frame(0x0004, hex("0102")), false);
  CHECK(w["data"] == "0102");
  CHECK_FALSE(w.contains("body"));
  CHECK_FALSE(w.contains("body_error"));

  Frame enc = frame(0x8101, hex("0700 0100 00"));
  enc.encryption = encryption::idea;
  json e = to_json(enc, false);
  CHECK(e["encryption"] == "idea");
  CHECK(e["data"] == "0700010000");
  CHECK_FALSE(e.contains("body"));

  Frame part = frame(0x0003);
  part.subpackage = true;
  part.total = 2;
  part.number = 1;
  part.body = hex("AA");
  json p = to_json(part, false);
  CHECK(p["packets"] == 2);
  CHECK(p["packet"] == 1);
  CHECK_FALSE(p.contains("body"));
  CHECK(*encode(*frame_from_json(p)) == *encode(part));

  // A body can't be given for what the tools cannot build.
  CHECK_FALSE(frame_from_json(json::parse(R"j({"type":"working_data","body":{}})j")));
  CHECK_FALSE(frame_from_json(json::parse(R"j({"type":"heartbeat","encryption":"idea","body":{}})j")));
}

TEST_CASE("telematics: unknown ids, reserved bits and the additional field round-trip") {
  Frame f = frame(0x0200, hex("00112233"));
  f.reserved = 3;
  f.additional = 0xFFFFFFFF;
  f.encryption = 5;
  json j = to_json(f);
  CHECK(j["type"] == "unknown");
  CHECK(j["reserved"] == 3);
  CHECK(j["encryption"] == 5);
  CHECK(j["additional"] == 0xFFFFFFFFu);
  auto back = frame_from_json(j);
  REQUIRE(back);
  CHECK(*encode(*back) == *encode(f));
}

TEST_CASE("telematics: bad JSON input is named") {
  auto r = frame_from_json(json::parse(R"j({"type":"nope"})j"));
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ErrorKind::bad_json);
  CHECK(r.error().message.find("nope") != std::string::npos);
  CHECK_FALSE(frame_from_json(json::parse(R"j({"seq":1})j")));
  CHECK_FALSE(frame_from_json(json::parse(R"j({"type":"login","id":2})j")));
  CHECK_FALSE(frame_from_json(json::parse(R"j({"type":"login","terminal":"1234567890123"})j")));
  CHECK_FALSE(frame_from_json(json::parse(R"j({"type":"login","packets":2})j")));
  CHECK_FALSE(frame_from_json(json::parse(R"j({"type":"login","seq":70000})j")));
  CHECK_FALSE(frame_from_json(json::parse(R"j({"type":"login","body":{"x":1}})j")));
  CHECK(frame_from_json(json::parse(R"j({"id":"0x8003","seq":"7"})j")));
}

TEST_CASE("telematics: error objects keep the interchange key order") {
  std::string s;
  append_error_json(s, Error{ErrorKind::bad_checksum, 17, "checksum AD in frame, AC computed (XOR)"}, hex("7E00"));
  CHECK(s == R"j({"v":1,"error":"bad_checksum","offset":17,"raw":"7E00","message":"checksum AD in frame, AC computed (XOR)"})j");
  s.clear();
  append_error_json(s, Error{ErrorKind::garbage, 3, "skipped 2 bytes outside any frame"}, {}, 2);
  CHECK(s == R"j({"v":1,"error":"garbage","offset":3,"skipped":2,"raw":"","message":"skipped 2 bytes outside any frame"})j");
}
