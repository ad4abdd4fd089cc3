#include "core/bytes.hpp"

namespace m2m {
namespace {

constexpr char kHexDigits[] = "0123456789ABCDEF";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

void append_hex(std::string& out, ByteView b) {
  std::size_t at = out.size();
  out.resize(at + 2 * b.size());
  for (std::uint8_t x : b) {
    out[at++] = kHexDigits[x >> 4];
    out[at++] = kHexDigits[x & 15];
  }
}

std::string to_hex(ByteView b) {
  std::string s;
  append_hex(s, b);
  return s;
}

Result<Bytes> parse_hex(std::string_view s) {
  if (s.size() % 2 != 0)
    return fail(ErrorKind::bad_hex, "odd number of hex digits (" + std::to_string(s.size()) + ")");
  Bytes out;
  out.reserve(s.size() / 2);
  for (std::size_t i = 0; i < s.size(); i += 2) {
    int hi = hex_value(s[i]), lo = hex_value(s[i + 1]);
    if (hi < 0 || lo < 0) {
      std::size_t at = hi < 0 ? i : i + 1;
      return fail(ErrorKind::bad_hex, std::string("not a hex digit: '") + s[at] + "'", at);
    }
    out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
  }
  return out;
}

Result<Bytes> parse_hex_text(std::string_view s) {
  Bytes out;
  out.reserve(s.size() / 2);
  int pending = -1;
  std::size_t pending_at = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '#') {
      while (i < s.size() && s[i] != '\n') ++i;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') continue;
    int v = hex_value(c);
    if (v < 0) return fail(ErrorKind::bad_hex, std::string("not a hex digit: '") + c + "'", i);
    if (pending < 0) {
      pending = v;
      pending_at = i;
    } else {
      out.push_back(static_cast<std::uint8_t>(pending << 4 | v));
      pending = -1;
    }
  }
  if (pending >= 0) return fail(ErrorKind::bad_hex, "odd number of hex digits", pending_at);
  return out;
}

}  // namespace m2m
