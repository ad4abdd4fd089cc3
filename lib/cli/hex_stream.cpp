#include "cli/hex_stream.hpp"

#include <array>
#include <cstring>
#include <cstdio>
#include <string>

namespace m2m::cli {
namespace {

// -1 bad, -2 whitespace, -3 '#', -4 newline, else the digit value.
constexpr std::array<std::int8_t, 256> make_classes() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<std::int8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<std::int8_t>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c) t[c] = static_cast<std::int8_t>(c - 'A' + 10);
  t[' '] = t['\t'] = t['\r'] = t['\f'] = t['\v'] = -2;
  t['#'] = -3;
  t['\n'] = -4;
  return t;
}
constexpr auto kClass = make_classes();

std::string describe(std::uint8_t c) {
  char buf[16];
  if (c >= 0x20 && c < 0x7F) std::snprintf(buf, sizeof buf, "'%c'", c);
  else std::snprintf(buf, sizeof buf, "byte 0x%02X", c);
  return buf;
}

}  // namespace

std::size_t HexTextStream::feed(ByteView text, Bytes& out) {
  error_.reset();
  const std::uint8_t* p = text.data();
  const std::uint8_t* const end = p + text.size();
  const std::uint64_t base = pos_;
  while (p < end) {
    if (comment_) {
      const void* nl = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
      if (!nl) {
        p = end;
        break;
      }
      p = static_cast<const std::uint8_t*>(nl);
      comment_ = false;
      continue;  // the newline itself is handled below
    }
    const std::uint8_t c = *p;
    const int v = kClass[c];
    const std::uint64_t at = base + static_cast<std::uint64_t>(p - text.data());
    ++p;
    if (v >= 0) {
      if (pending_ < 0) {
        pending_ = v;
        pending_at_ = at;
        pending_line_ = line_;
        pending_col_ = at - line_start_ + 1;
      } else {
        out.push_back(static_cast<std::uint8_t>(pending_ << 4 | v));
        pending_ = -1;
      }
    } else if (v == -4) {
      ++line_;
      line_start_ = at + 1;
    } else if (v == -3) {
      comment_ = true;
    } else if (v == -1) {
      error_ = Error{ErrorKind::bad_hex, at,
                     "not a hex digit: " + describe(c) + " at line " + std::to_string(line_) + ", column " +
                         std::to_string(at - line_start_ + 1) + " (rest of the line skipped)"};
      pending_ = -1;
      comment_ = true;
      break;
    }
  }
  const std::size_t used = static_cast<std::size_t>(p - text.data());
  pos_ = base + used;
  return used;
}

std::optional<Error> HexTextStream::finish() {
  if (pending_ < 0) return std::nullopt;
  pending_ = -1;
  return Error{ErrorKind::bad_hex, pending_at_,
               "odd number of hex digits: the digit at line " + std::to_string(pending_line_) + ", column " +
                   std::to_string(pending_col_) + " has no partner"};
}

}  // namespace m2m::cli
