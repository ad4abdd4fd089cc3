// Helpers shared by the JSON and per-class body tests (json_test, m2m_{link,data,term,platform}_test):
// build a frame, take it through wire bytes -> JSON -> frame, and check it comes back byte for byte.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "m2m/json.hpp"
#include "m2m/json_text.hpp"
#include "m2m/messages.hpp"

namespace m2m_test {

using namespace m2m;
using namespace m2m::ai;
using nlohmann::json;

inline Bytes hex(std::string_view s) { return *parse_hex_text(s); }

inline Frame make(std::uint8_t cls, std::uint8_t cmd, std::uint8_t st, Bytes data,
                  Bytes token = hex("0102030405060708")) {
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
inline Decoded decode_wire(const Frame& f) {
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
inline json round_trip(const Frame& f) {
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

inline json body_of(const Frame& f) {
  json j = round_trip(f);
  INFO(j.dump());
  REQUIRE(j.contains("body"));
  CHECK_FALSE(j.contains("body_error"));
  return j["body"];
}

inline std::string body_error_of(const Frame& f) {
  json j = round_trip(f);
  INFO(j.dump());
  CHECK_FALSE(j.contains("body"));
  REQUIRE(j.contains("body_error"));
  CHECK(j["data"] == to_hex(f.data));
  return j["body_error"];
}

inline std::string error_of(const json& j) {
  auto r = frame_from_json(j);
  REQUIRE_FALSE(r);
  CHECK(r.error().kind != ErrorKind::too_long);
  return r.error().message;
}

inline Bytes data_of(const json& j) {
  auto r = frame_from_json(j);
  REQUIRE_MESSAGE(r, r.error().message);
  return r->data;
}

// A body struct's JSON text, through its detail::*_json writer.
template <class T, class Fn>
json json_of(const T& b, Fn to_json) {
  std::string text;
  detail::JsonOut w(text);
  to_json(w, b);
  return json::parse(text);
}

}  // namespace m2m_test
