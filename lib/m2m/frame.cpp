#include "m2m/frame.hpp"

#include <cstdio>
#include <cstring>

namespace m2m::ai {

std::size_t unescaped_size(const FrameView& f) {
  std::size_t n = kHeaderSize + f.data.size() + 3;
  if (has_token_field(f.cls, f.cmd)) n += 1 + f.token.size();
  return n;
}

std::string too_long_message(const FrameView& f) {
  // Say what fits: the header and token are fixed for this frame, so the room left is data.
  const std::size_t len = unescaped_size(f);
  const std::size_t overhead = len - f.data.size();
  const bool tok = has_token_field(f.cls, f.cmd);
  std::string token = !tok ? "no token field" : std::to_string(f.token.size()) + "-byte token";
  std::string fit = overhead < kMaxFrame ? "at most " + std::to_string(kMaxFrame - overhead) : "no";
  return "frame would be " + std::to_string(len) + " bytes; the protocol limit is " + std::to_string(kMaxFrame) +
         ": with its header and " + token + " " + fit + " data bytes fit (it has " + std::to_string(f.data.size()) +
         ")";
}

Result<void> encode(const FrameView& f, CrcVariant crc, Bytes& out) {
  const bool tok = has_token_field(f.cls, f.cmd);
  if (tok && f.token.size() > 255)
    return fail(ErrorKind::bad_value, "token is " + std::to_string(f.token.size()) + " bytes; the field holds at most 255");
  const std::size_t len = unescaped_size(f);
  if (len > kMaxFrame) return fail(ErrorKind::too_long, too_long_message(f));
  // Build unescaped first (CRC needs it), then escape into `out`.
  std::uint8_t buf[kMaxFrame];
  std::size_t n = 0;
  buf[n++] = kHead;
  buf[n++] = static_cast<std::uint8_t>(len);
  buf[n++] = static_cast<std::uint8_t>(len >> 8);
  buf[n++] = f.cls;
  buf[n++] = f.cmd;
  buf[n++] = static_cast<std::uint8_t>(f.seq);
  buf[n++] = static_cast<std::uint8_t>(f.seq >> 8);
  buf[n++] = static_cast<std::uint8_t>(f.ext);
  buf[n++] = static_cast<std::uint8_t>(f.ext >> 8);
  buf[n++] = f.status;
  for (int s = 56; s >= 0; s -= 8) buf[n++] = static_cast<std::uint8_t>(f.device >> s);
  if (tok) {
    buf[n++] = static_cast<std::uint8_t>(f.token.size());
    if (!f.token.empty()) std::memcpy(buf + n, f.token.data(), f.token.size());
    n += f.token.size();
  }
  if (!f.data.empty()) std::memcpy(buf + n, f.data.data(), f.data.size());
  n += f.data.size();
  std::uint16_t c = crc16(crc, ByteView(buf, n));
  buf[n++] = static_cast<std::uint8_t>(c);
  buf[n++] = static_cast<std::uint8_t>(c >> 8);
  buf[n++] = kHead;

  // Size the output once (no exact-size reserve: callers append many frames to one buffer,
  // and an exact reserve per frame would defeat the vector's geometric growth).
  std::size_t specials = 0;
  for (std::size_t i = 1; i + 1 < n; ++i) specials += (buf[i] == kHead) | (buf[i] == kEscape);
  std::size_t at = out.size();
  out.resize(at + n + specials);
  std::uint8_t* o = out.data() + at;
  *o++ = kHead;
  for (std::size_t i = 1; i + 1 < n; ++i) {
    const std::uint8_t b = buf[i];
    if (b == kHead || b == kEscape) {
      *o++ = kEscape;
      *o++ = b == kHead ? 0x01 : 0x02;
    } else {
      *o++ = b;
    }
  }
  *o = kHead;
  return {};
}

Result<void> unescape(ByteView in, Bytes& out) {
  if (in.size() < 2 || in.front() != kHead || in.back() != kHead) {
    out.clear();
    return fail(ErrorKind::bad_length, "a frame starts and ends with 0x55");
  }
  // Unescaping only shrinks: size once, copy runs between escapes, trim at the end. Only grow
  // the size (a reused buffer then needs no zero-filling), never shrink before writing.
  if (out.size() < in.size()) out.resize(in.size());
  std::uint8_t* o = out.data();
  *o++ = kHead;
  const std::uint8_t* p = in.data() + 1;
  const std::uint8_t* end = in.data() + in.size() - 1;
  while (p < end) {
    const void* hit = std::memchr(p, kEscape, static_cast<std::size_t>(end - p));
    const std::uint8_t* e = hit ? static_cast<const std::uint8_t*>(hit) : end;
    std::memcpy(o, p, static_cast<std::size_t>(e - p));
    o += e - p;
    if (e == end) break;
    std::uint64_t at = static_cast<std::uint64_t>(e - in.data());
    if (e + 1 >= end) {
      out.clear();
      return fail(ErrorKind::bad_escape, "escape byte 0x54 right before the tail", at);
    }
    if (e[1] == 0x01) *o++ = kHead;
    else if (e[1] == 0x02) *o++ = kEscape;
    else {
      out.clear();
      char msg[64];
      std::snprintf(msg, sizeof msg, "escape byte 0x54 followed by 0x%02X (expected 01 or 02)", e[1]);
      return fail(ErrorKind::bad_escape, msg, at);
    }
    p = e + 2;
  }
  *o++ = kHead;
  out.resize(static_cast<std::size_t>(o - out.data()));
  return {};
}

Result<FrameView> decode(ByteView u, CrcVariant crc) {
  const std::size_t n = u.size();
  if (n > kMaxFrame)
    return fail(ErrorKind::too_long, std::to_string(n) + " bytes; the protocol limit is " + std::to_string(kMaxFrame));
  if (n < 3 || u[0] != kHead || u[n - 1] != kHead) return fail(ErrorKind::bad_length, "a frame starts and ends with 0x55");
  // The length field first: "says 16, has 5" tells more than "shorter than 21".
  const std::size_t len = get_le16(&u[1]);
  if (len != n)
    return fail(ErrorKind::bad_length,
                "length field says " + std::to_string(len) + " bytes, frame has " + std::to_string(n), 1);
  if (n < kMinFrame)
    return fail(ErrorKind::bad_length, std::to_string(n) + " bytes is shorter than the smallest frame (" +
                                           std::to_string(kMinFrame) + ")", 1);
  const std::uint16_t want = get_le16(&u[n - 3]);
  const std::uint16_t got = crc16(crc, u.first(n - 3));
  if (want != got) {
    char msg[96];
    std::snprintf(msg, sizeof msg, "CRC %04X in frame, %04X computed (%s)", want, got,
                  std::string(to_string(crc)).c_str());
    return fail(ErrorKind::bad_crc, msg, n - 3);
  }
  FrameView f;
  f.cls = u[3];
  f.cmd = u[4];
  f.seq = get_le16(&u[5]);
  f.ext = get_le16(&u[7]);
  f.status = u[9];
  f.device = get_be64(&u[10]);
  std::size_t at = kHeaderSize;
  const std::size_t body_end = n - 3;
  if (has_token_field(f.cls, f.cmd)) {
    if (at >= body_end) return fail(ErrorKind::bad_length, "frame ends before its token field", at);
    const std::size_t tl = u[at];
    if (at + 1 + tl > body_end)
      return fail(ErrorKind::bad_length,
                  "token length " + std::to_string(tl) + " runs past the end of the frame", at);
    f.token = u.subspan(at + 1, tl);
    at += 1 + tl;
  }
  f.data = u.subspan(at, body_end - at);
  return f;
}

std::string format_device(std::uint64_t id) {
  Bytes b;
  put_be64(b, id);
  return to_hex(b);
}

Result<std::uint64_t> parse_device(std::string_view s) {
  std::string digits;
  if (s.find_first_of(":-") != std::string_view::npos) {
    // MAC notation: exactly six groups of two hex digits, one separator throughout.
    const char sep = s[s.find_first_of(":-")];
    if (s.size() != 17)
      return fail(ErrorKind::bad_value, "not a device id or MAC: '" + std::string(s) + "'");
    for (std::size_t g = 0; g < 6; ++g) {
      if (g > 0 && s[3 * g - 1] != sep)
        return fail(ErrorKind::bad_value, "not a device id or MAC: '" + std::string(s) + "'");
      digits.append(s.substr(3 * g, 2));
    }
  } else {
    if (s.starts_with("0x") || s.starts_with("0X")) s.remove_prefix(2);
    if (s.empty() || s.size() > 16)
      return fail(ErrorKind::bad_value, "device id '" + std::string(s) + "' must be 1-16 hex digits or a MAC");
    digits.assign(s);
  }
  std::uint64_t v = 0;
  for (char c : digits) {
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
    if (d < 0) return fail(ErrorKind::bad_value, "device id '" + std::string(s) + "' is not hex");
    v = (v << 4) | static_cast<std::uint64_t>(d);
  }
  return v;
}

}  // namespace m2m::ai
