#include "m2m/json_input.hpp"

#include <charconv>

#include "m2m/frame.hpp"

namespace m2m::ai::detail {
namespace {

// A short rendering of a bad value for error messages.
std::string shown(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

}  // namespace

void bad_input(std::string message) { throw BadInput{std::move(message)}; }

const json* member(const json& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

const json& required(const json& obj, std::string_view path, std::string_view key) {
  const json* v = member(obj, key);
  if (!v) bad_input(field_path(path, key) + ": missing");
  return *v;
}

void only_keys(const json& obj, std::string_view path, std::initializer_list<std::string_view> keys) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool known = false;
    for (auto k : keys) known = known || it.key() == k;
    if (known) continue;
    std::string list;
    for (auto k : keys) list += (list.empty() ? "" : ", ") + std::string(k);
    bad_input(field_path(path, it.key()) + ": unknown field (" +
              (list.empty() ? std::string("this body has no fields; use {}") : "expected " + list) + ")");
  }
}

void expect_object(const json& v, std::string_view path) {
  if (!v.is_object()) bad_input(std::string(path) + ": expected an object, got " + shown(v));
}

std::uint64_t get_uint(const json& v, std::string_view path, std::uint64_t max) {
  auto wrong = [&] {
    bad_input(std::string(path) + ": expected a number 0-" + std::to_string(max) + ", got " + shown(v));
  };
  std::uint64_t n = 0;
  if (v.is_number_unsigned()) {
    n = v.get<std::uint64_t>();
  } else if (v.is_number_integer()) {
    if (v.get<std::int64_t>() < 0) wrong();
    n = static_cast<std::uint64_t>(v.get<std::int64_t>());
  } else if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    std::string_view t = s;
    int base = 10;
    if (t.starts_with("0x") || t.starts_with("0X")) {
      t.remove_prefix(2);
      base = 16;
    }
    auto r = std::from_chars(t.data(), t.data() + t.size(), n, base);
    if (t.empty() || r.ec != std::errc() || r.ptr != t.data() + t.size()) wrong();
  } else {
    wrong();
  }
  if (n > max) wrong();
  return n;
}

const std::string& get_string(const json& v, std::string_view path) {
  if (!v.is_string()) bad_input(std::string(path) + ": expected a string, got " + shown(v));
  return v.get_ref<const std::string&>();
}

Bytes get_hex(const json& v, std::string_view path) {
  if (!v.is_string()) bad_input(std::string(path) + ": expected a hex string, got " + shown(v));
  auto b = parse_hex_text(v.get_ref<const std::string&>());
  if (!b) bad_input(std::string(path) + ": " + b.error().message);
  return std::move(*b);
}

std::uint64_t get_device(const json& v, std::string_view path) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (!v.is_string()) bad_input(std::string(path) + ": expected a device id (16 hex digits or a MAC), got " + shown(v));
  auto id = parse_device(v.get_ref<const std::string&>());
  if (!id) bad_input(std::string(path) + ": " + id.error().message);
  return *id;
}

}  // namespace m2m::ai::detail
