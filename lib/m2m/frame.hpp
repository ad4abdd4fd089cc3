// One AI-Cloud frame (m2m-protocol(7) "FRAME LAYOUT"): encode to wire bytes, decode from unescaped bytes.
//
//   55 | len(2,LE) | class | cmd | seq(2,LE) | ext(2) | status | device(8,BE) | [L token] | data | crc(2, low first) | 55
//
// The token field is absent exactly in A0 00 and EF 00 frames (both directions). Length and
// CRC are computed on the unescaped frame; escaping (55 -> 54 01, 54 -> 54 02) applies to
// every byte between head and tail.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/bytes.hpp"
#include "core/crc16.hpp"
#include "core/error.hpp"

namespace m2m::ai {

inline constexpr std::uint8_t kHead = 0x55;
inline constexpr std::uint8_t kEscape = 0x54;
inline constexpr std::size_t kMaxFrame = 1400;      // unescaped, head to tail inclusive
inline constexpr std::size_t kHeaderSize = 18;      // head .. device id
inline constexpr std::size_t kMinFrame = 21;        // no token, no data
inline constexpr std::size_t kMaxEscaped = 2 * kMaxFrame;  // every inner byte escaped, at worst

namespace cls {
inline constexpr std::uint8_t link = 0xA0, data = 0xAA, term = 0xF0, platform = 0xEF;
}
namespace status {
inline constexpr std::uint8_t ok = 0x00, fail = 0x01, request = 0x02, unsupported = 0x03;
}

// The token field is present in every frame except these two logins.
constexpr bool has_token_field(std::uint8_t cls, std::uint8_t cmd) {
  return !(cmd == 0x00 && (cls == 0xA0 || cls == 0xEF));
}

// A decoded frame whose token and data point into the caller's buffer (no allocation).
struct FrameView {
  std::uint8_t cls = 0;
  std::uint8_t cmd = 0;
  std::uint16_t seq = 0;
  std::uint16_t ext = 0;
  std::uint8_t status = status::request;
  std::uint64_t device = 0;
  ByteView token;  // empty when absent or L = 0; presence follows has_token_field()
  ByteView data;
};

// An owning frame, for building and for keeping.
struct Frame {
  std::uint8_t cls = 0;
  std::uint8_t cmd = 0;
  std::uint16_t seq = 0;
  std::uint16_t ext = 0;
  std::uint8_t status = status::request;
  std::uint64_t device = 0;
  Bytes token;  // ignored (not encoded) where has_token_field() is false
  Bytes data;

  FrameView view() const { return {cls, cmd, seq, ext, status, device, token, data}; }
  static Frame from(const FrameView& v) {
    return {v.cls, v.cmd, v.seq, v.ext, v.status, v.device, Bytes(v.token.begin(), v.token.end()),
            Bytes(v.data.begin(), v.data.end())};
  }
};

// Unescaped size of the frame `f` would encode to.
std::size_t unescaped_size(const FrameView& f);

// Why `f` does not fit (its unescaped size is above kMaxFrame): the size, the limit, and how
// many data bytes fit with this frame's header and token. One wording for every caller.
std::string too_long_message(const FrameView& f);

// Appends the escaped wire bytes of `f` to `out`. Fails (too_long) above kMaxFrame and
// (bad_value) for a token longer than 255 bytes; `out` is unchanged on failure.
Result<void> encode(const FrameView& f, CrcVariant crc, Bytes& out);
inline Result<Bytes> encode(const Frame& f, CrcVariant crc = CrcVariant::modbus) {
  Bytes out;
  if (auto r = encode(f.view(), crc, out); !r) return unexpected(std::move(r).error());
  return out;
}

// Parses an unescaped frame (head to tail). Checks head, tail, length field, CRC and the
// token length. Offsets in errors are relative to the start of `unescaped`.
Result<FrameView> decode(ByteView unescaped, CrcVariant crc = CrcVariant::modbus);

// Escaping of one wire frame's inner bytes, for the deframer and tests.
// unescape: `escaped` is the whole wire frame including head and tail.
Result<void> unescape(ByteView escaped, Bytes& out);

// Device id text: 16 uppercase hex digits. Parsing accepts lower case, a 0x prefix, fewer
// than 16 digits (left-padded) and MAC notation AA:BB:CC:DD:EE:FF (right-aligned).
std::string format_device(std::uint64_t id);
Result<std::uint64_t> parse_device(std::string_view s);

}  // namespace m2m::ai
