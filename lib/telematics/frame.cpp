#include "telematics/frame.hpp"

#include <cstdio>

namespace m2m::telematics {
namespace {

void put_le32(Bytes& b, std::uint32_t v) {
  for (int s = 0; s < 32; s += 8) b.push_back(static_cast<std::uint8_t>(v >> s));
}
std::uint32_t get_le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[3]} << 24);
}

}  // namespace

std::uint8_t xor_checksum(ByteView b) {
  std::uint8_t x = 0;
  for (std::uint8_t c : b) x ^= c;
  return x;
}

void escape(ByteView content, Bytes& out) {
  out.push_back(kFlag);
  for (std::uint8_t b : content) {
    if (b == kFlag || b == kEscape) {
      out.push_back(kEscape);
      out.push_back(b == kFlag ? 0x02 : 0x01);
    } else {
      out.push_back(b);
    }
  }
  out.push_back(kFlag);
}

Result<void> unescape(ByteView wire, Bytes& out) {
  out.clear();
  if (wire.size() < 2 || wire.front() != kFlag || wire.back() != kFlag)
    return fail(ErrorKind::bad_length, "a frame starts and ends with 0x7e");
  for (std::size_t i = 1; i + 1 < wire.size(); ++i) {
    const std::uint8_t b = wire[i];
    if (b != kEscape) {
      out.push_back(b);
      continue;
    }
    if (i + 2 >= wire.size()) {
      out.clear();
      return fail(ErrorKind::bad_escape, "escape byte 0x7d right before the closing flag", i);
    }
    const std::uint8_t n = wire[++i];
    if (n == 0x01) out.push_back(kEscape);
    else if (n == 0x02) out.push_back(kFlag);
    else {
      out.clear();
      char msg[64];
      std::snprintf(msg, sizeof msg, "escape byte 0x7d followed by 0x%02X (expected 01 or 02)", n);
      return fail(ErrorKind::bad_escape, msg, i - 1);
    }
  }
  return {};
}

Result<void> encode_content(const FrameView& f, Bytes& out) {
  if (f.body.size() > kMaxBody)
    return fail(ErrorKind::too_long, "body is " + std::to_string(f.body.size()) + " bytes; the length field holds at most " +
                                         std::to_string(kMaxBody));
  if (f.encryption > 7) return fail(ErrorKind::bad_value, "encryption is a 3-bit field (0-7)");
  if (f.reserved > 3) return fail(ErrorKind::bad_value, "reserved is a 2-bit field (0-3)");
  const auto attr = static_cast<std::uint16_t>(f.body.size() | (f.encryption << 10) | (f.subpackage ? 1u << 13 : 0u) |
                                               (f.reserved << 14));
  const std::size_t start = out.size();
  put_le16(out, f.id);
  put_le16(out, attr);
  out.insert(out.end(), f.terminal.begin(), f.terminal.end());
  put_le16(out, f.seq);
  if (f.subpackage) {
    put_le16(out, f.total);
    put_le16(out, f.number);
  }
  put_le32(out, f.additional);
  out.insert(out.end(), f.body.begin(), f.body.end());
  out.push_back(xor_checksum(ByteView(out).subspan(start)));
  return {};
}

Result<void> encode(const FrameView& f, Bytes& out) {
  Bytes content;
  if (auto r = encode_content(f, content); !r) return r;
  escape(content, out);
  return {};
}

bool length_matches(ByteView c) {
  if (c.size() < kMinContent) return false;
  const std::uint16_t attr = get_le16(&c[2]);
  const std::size_t header = (attr & (1u << 13)) ? kSubHeaderSize : kHeaderSize;
  return c.size() == header + (attr & 0x3ffu) + 1;
}

Result<FrameView> decode(ByteView c) {
  const std::size_t n = c.size();
  if (n > kMaxContent)
    return fail(ErrorKind::too_long, std::to_string(n) + " bytes between the flags; a frame has at most " +
                                         std::to_string(kMaxContent));
  if (n < kMinContent)
    return fail(ErrorKind::bad_length, std::to_string(n) + " bytes between the flags; the smallest frame has " +
                                           std::to_string(kMinContent));
  FrameView f;
  f.id = get_le16(&c[0]);
  const std::uint16_t attr = get_le16(&c[2]);
  f.encryption = static_cast<std::uint8_t>((attr >> 10) & 7);
  f.subpackage = (attr >> 13) & 1;
  f.reserved = static_cast<std::uint8_t>(attr >> 14);
  const std::size_t header = f.subpackage ? kSubHeaderSize : kHeaderSize;
  const std::size_t len = attr & 0x3ffu;
  if (n != header + len + 1)
    return fail(ErrorKind::bad_length,
                "length field says a " + std::to_string(len) + "-byte body, frame has " +
                    (n < header + 1 ? std::string("no room for its header") : std::to_string(n - header - 1)),
                2);
  const std::uint8_t want = c[n - 1];
  const std::uint8_t got = xor_checksum(c.first(n - 1));
  if (want != got) {
    char msg[64];
    std::snprintf(msg, sizeof msg, "checksum %02X in frame, %02X computed (XOR)", want, got);
    return fail(ErrorKind::bad_checksum, msg, n - 1);
  }
  for (std::size_t i = 0; i < 6; ++i) f.terminal[i] = c[4 + i];
  f.seq = get_le16(&c[10]);
  std::size_t at = 12;
  if (f.subpackage) {
    f.total = get_le16(&c[12]);
    f.number = get_le16(&c[14]);
    at = 16;
  }
  f.additional = get_le32(&c[at]);
  f.body = c.subspan(header, len);
  return f;
}

std::string format_terminal(const TerminalId& t) { return to_hex(t); }

bool is_bcd(const TerminalId& t) {
  for (std::uint8_t b : t)
    if ((b >> 4) > 9 || (b & 15) > 9) return false;
  return true;
}

Result<TerminalId> parse_terminal(std::string_view s) {
  if (s.empty() || s.size() > 12)
    return fail(ErrorKind::bad_value, "terminal id '" + std::string(s) + "' must be 1-12 BCD digits");
  std::string digits(12 - s.size(), '0');
  digits += s;
  TerminalId t{};
  for (std::size_t i = 0; i < 12; ++i) {
    const char c = digits[i];
    const int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
    if (d < 0) return fail(ErrorKind::bad_value, "terminal id '" + std::string(s) + "' is not BCD digits");
    t[i / 2] = static_cast<std::uint8_t>(t[i / 2] | (i % 2 ? d : d << 4));
  }
  return t;
}

}  // namespace m2m::telematics
