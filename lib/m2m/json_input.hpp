// Internal to the JSON layer: reading fields of frame and body objects given by users.
//
// The readers throw BadInput with a message that names the field ("body.port: expected a
// number 0-65535, got 70000"); the public entry points (frame_from_json, body_from_json)
// catch it, and nlohmann's own exceptions, and return Error{bad_json}. Nothing escapes.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/bytes.hpp"

namespace m2m::ai::detail {

struct BadInput {
  std::string message;
};
[[noreturn]] void bad_input(std::string message);

using nlohmann::json;

// "body" + "port" -> "body.port"
inline std::string field_path(std::string_view parent, std::string_view key) {
  std::string p(parent);
  if (!p.empty()) p += '.';
  p += key;
  return p;
}

// A member, or nullptr when absent or null.
const json* member(const json& obj, std::string_view key);
// A member that must be there.
const json& required(const json& obj, std::string_view path, std::string_view key);
// Rejects members outside `keys` (catches typos such as "pasword").
void only_keys(const json& obj, std::string_view path, std::initializer_list<std::string_view> keys);
void expect_object(const json& v, std::string_view path);

// A number 0..max: a JSON integer, or a string in decimal or 0x-hex ("0xA0").
std::uint64_t get_uint(const json& v, std::string_view path, std::uint64_t max);
const std::string& get_string(const json& v, std::string_view path);
// Hex digits; whitespace between them is allowed.
Bytes get_hex(const json& v, std::string_view path);
// Any form parse_device() accepts, or a JSON integer.
std::uint64_t get_device(const json& v, std::string_view path);

}  // namespace m2m::ai::detail
