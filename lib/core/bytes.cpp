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

// "'g'" for a printable character, "byte 0x01" otherwise (a control byte would garble the
// terminal, and a UTF-8 lead byte alone is not a character).
std::string describe_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7F) return std::string("'") + c + "'";
  const char* digits = "0123456789ABCDEF";
  return std::string("byte 0x") + digits[u >> 4] + digits[u & 15];
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
  // Bad characters first: "00 11" is better reported as a space at 2 than as odd length.
  for (std::size_t i = 0; i < s.size(); ++i)
    if (hex_value(s[i]) < 0)
      return fail(ErrorKind::bad_hex, "not a hex digit: " + describe_char(s[i]) + " at offset " + std::to_string(i), i);
  if (s.size() % 2 != 0)
    return fail(ErrorKind::bad_hex, "odd number of hex digits (" + std::to_string(s.size()) + ")", s.size() - 1);
  Bytes out(s.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<std::uint8_t>(hex_value(s[2 * i]) << 4 | hex_value(s[2 * i + 1]));
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
    if (v < 0)
      return fail(ErrorKind::bad_hex, "not a hex digit: " + describe_char(c) + " at offset " + std::to_string(i), i);
    if (pending < 0) {
      pending = v;
      pending_at = i;
    } else {
      out.push_back(static_cast<std::uint8_t>(pending << 4 | v));
      pending = -1;
    }
  }
  if (pending >= 0)
    return fail(ErrorKind::bad_hex, "odd number of hex digits (the last one, at offset " + std::to_string(pending_at) + ", has no pair)",
                pending_at);
  return out;
}

}  // namespace m2m
