#include "cli/hex_stream.hpp"

#include <array>
#include <cstring>
#include <cstdio>
#include <string>

namespace m2m::cli {
namespace {

// Character classes; a hex digit's class is its value.
constexpr std::int8_t kBad = -1, kSpace = -2, kHash = -3, kNewline = -4, kColon = -5, kX = -6;

constexpr std::array<std::int8_t, 256> make_classes() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = kBad;
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<std::int8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<std::int8_t>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c) t[c] = static_cast<std::int8_t>(c - 'A' + 10);
  t[' '] = t['\t'] = t['\r'] = t['\f'] = t['\v'] = kSpace;
  t['#'] = kHash;
  t['\n'] = kNewline;
  t[':'] = kColon;
  t['x'] = t['X'] = kX;
  return t;
}
constexpr auto kClass = make_classes();

// xxd prints offsets with at least 8 digits; a shorter first word with a colon ("55: 1E") is data.
constexpr std::uint8_t kMinOffsetDigits = 8;

std::string describe(std::uint8_t c) {
  char buf[16];
  if (c >= 0x20 && c < 0x7F) std::snprintf(buf, sizeof buf, "'%c'", c);
  else std::snprintf(buf, sizeof buf, "byte 0x%02X", c);
  return buf;
}

}  // namespace

void HexTextStream::digit(int value, std::uint64_t at, bool word_start, Bytes& out) {
  if (pending_ < 0) {
    pending_ = value;
    pending_at_ = at;
    pending_line_ = line_;
    pending_col_ = at - line_start_ + 1;
    pending_word_start_ = word_start;
  } else {
    out.push_back(static_cast<std::uint8_t>(pending_ << 4 | value));
    pending_ = -1;
  }
}

// The held first word turned out to be data: its digits are contiguous text from held_at_.
void HexTextStream::flush_held(Bytes& out) {
  for (std::uint8_t i = 0; i < held_n_; ++i) digit(held_[i], held_at_ + i, i == 0, out);
  held_n_ = 0;
  held_colon_ = false;
}

Error HexTextStream::bad_character(std::uint8_t c, std::uint64_t at) {
  return Error{ErrorKind::bad_hex, at,
               "not a hex digit: " + describe(c) + " at line " + std::to_string(line_) + ", column " +
                   std::to_string(at - line_start_ + 1) + " (rest of the line skipped)"};
}

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
    // A line's first word: held back until we know whether it is an xxd offset column.
    if (held_colon_) {
      if (v == kSpace || v == kNewline) {  // "00000000: ": an offset, not data
        held_n_ = 0;
        held_colon_ = false;
        xxd_line_ = true;
        after_space_ = false;
      } else {
        flush_held(out);  // "55:1E": the colon only separated bytes
        after_separator_ = true;
      }
    } else if (held_n_ > 0) {
      if (v >= 0 && held_n_ < sizeof held_) {
        held_[held_n_++] = static_cast<std::uint8_t>(v);
        continue;
      }
      if (v == kColon && held_n_ >= kMinOffsetDigits) {
        held_colon_ = true;
        continue;
      }
      flush_held(out);
      after_separator_ = false;
    }
    if (xxd_line_ && c == ' ') {
      if (after_space_) {  // two spaces: the ASCII column follows
        comment_ = true;
        after_space_ = false;
        continue;
      }
      after_space_ = true;
      after_separator_ = true;
      continue;
    }
    after_space_ = false;
    if (v >= 0) {
      if (line_head_) {
        line_head_ = false;
        held_[0] = static_cast<std::uint8_t>(v);
        held_n_ = 1;
        held_at_ = at;
        continue;
      }
      digit(v, at, after_separator_, out);
      after_separator_ = false;
      continue;
    }
    switch (v) {
      case kNewline:
        ++line_;
        line_start_ = at + 1;
        line_head_ = true;
        xxd_line_ = false;
        after_separator_ = true;
        continue;
      case kSpace:
        after_separator_ = true;
        continue;
      case kColon:
        line_head_ = false;
        after_separator_ = true;
        continue;
      case kHash:
        comment_ = true;
        continue;
      case kX:
        // `0x`: the 0 just before began a word and is no digit of the data.
        if (pending_ == 0 && pending_word_start_ && pending_at_ + 1 == at) {
          pending_ = -1;
          line_head_ = false;
          after_separator_ = false;
          continue;
        }
        break;
      default:
        break;
    }
    error_ = bad_character(c, at);
    pending_ = -1;
    line_head_ = false;
    comment_ = true;
    break;
  }
  const std::size_t used = static_cast<std::size_t>(p - text.data());
  pos_ = base + used;
  return used;
}

std::optional<Error> HexTextStream::finish(Bytes& out) {
  flush_held(out);
  if (pending_ < 0) return std::nullopt;
  pending_ = -1;
  return Error{ErrorKind::bad_hex, pending_at_,
               "odd number of hex digits: the digit at line " + std::to_string(pending_line_) + ", column " +
                   std::to_string(pending_col_) + " has no partner"};
}

}  // namespace m2m::cli
