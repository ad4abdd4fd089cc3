// One frame of the vehicle telematics protocol V1.02 (telematics-protocol(7) "FRAME"):
// encode to wire bytes, decode from the unescaped content between the two flags.
//
//   7e | id(2,LE) | attr(2,LE) | terminal(6,BCD) | seq(2,LE) | [total(2,LE) number(2,LE)]
//      | additional(4,LE) | body | xor(1) | 7e
//
// attr: bits 0-9 body length, bits 10-12 encryption (0 none, 1 IDEA), bit 13 sub-package,
// bits 14-15 reserved (kept verbatim). The checksum is the XOR of every byte from the id to
// the end of the body. Escaping (7e -> 7d 02, 7d -> 7d 01) applies to everything between the
// flags, checksum included (telematics-protocol(7) "FRAME", "Escaping").
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/bytes.hpp"
#include "core/error.hpp"

namespace m2m::telematics {

inline constexpr std::uint8_t kFlag = 0x7e;
inline constexpr std::uint8_t kEscape = 0x7d;
inline constexpr std::size_t kMaxBody = 0x3ff;  // the 10-bit length field
inline constexpr std::size_t kHeaderSize = 16;  // without the sub-package words
inline constexpr std::size_t kSubHeaderSize = 20;
inline constexpr std::size_t kMinContent = kHeaderSize + 1;            // empty body + checksum
inline constexpr std::size_t kMaxContent = kSubHeaderSize + kMaxBody + 1;
inline constexpr std::size_t kMaxEscaped = 2 * kMaxContent + 2;       // flags included

namespace encryption {
inline constexpr std::uint8_t none = 0, idea = 1;
}

using TerminalId = std::array<std::uint8_t, 6>;

// A decoded frame whose body points into the caller's buffer.
struct FrameView {
  std::uint16_t id = 0;
  std::uint8_t encryption = encryption::none;  // attr bits 10-12
  std::uint8_t reserved = 0;                   // attr bits 14-15
  bool subpackage = false;                     // attr bit 13
  TerminalId terminal{};
  std::uint16_t seq = 0;
  std::uint16_t total = 0;   // sub-package words, meaningful when `subpackage`
  std::uint16_t number = 0;
  std::uint32_t additional = 0;
  ByteView body;
};

// An owning frame, for building and keeping.
struct Frame {
  std::uint16_t id = 0;
  std::uint8_t encryption = encryption::none;
  std::uint8_t reserved = 0;
  bool subpackage = false;
  TerminalId terminal{};
  std::uint16_t seq = 0;
  std::uint16_t total = 0;
  std::uint16_t number = 0;
  std::uint32_t additional = 0;
  Bytes body;

  FrameView view() const {
    return {id, encryption, reserved, subpackage, terminal, seq, total, number, additional, body};
  }
  static Frame from(const FrameView& v) {
    return {v.id, v.encryption, v.reserved, v.subpackage, v.terminal, v.seq, v.total, v.number, v.additional,
            Bytes(v.body.begin(), v.body.end())};
  }
};

// XOR of every byte (the frame checksum over id .. last body byte).
std::uint8_t xor_checksum(ByteView b);

// Escaping of the content between the flags (telematics-protocol(7) "Escaping"); escape()
// adds both flags.
void escape(ByteView content, Bytes& out);
// `wire` is one whole wire frame, flags included; `out` receives the content between them.
// Errors (bad_escape) carry offsets into `wire`.
Result<void> unescape(ByteView wire, Bytes& out);

// Unescaped content (id .. checksum) of `f`; fails (too_long) for a body over kMaxBody and
// (bad_value) for encryption > 7 or reserved > 3.
Result<void> encode_content(const FrameView& f, Bytes& out);
// Appends the escaped wire bytes of `f` (flags included) to `out`; unchanged on failure.
Result<void> encode(const FrameView& f, Bytes& out);
inline Result<Bytes> encode(const Frame& f) {
  Bytes out;
  if (auto r = encode(f.view(), out); !r) return unexpected(std::move(r).error());
  return out;
}

// Parses unescaped content (id .. checksum, no flags). Checks size, the length field and the
// checksum; offsets in errors are relative to the start of `content`.
Result<FrameView> decode(ByteView content);

// True when the header of `content` parses and its length field accounts for every byte:
// a frame delimited by its own length (a bad checksum does not make it undelimited).
bool length_matches(ByteView content);

// Terminal id text: the 12 BCD digits ("013800138000"). A nibble above 9 shows as its hex
// digit, so any capture round-trips. Parsing takes 1-12 digits (left-padded with zeros),
// hex digits A-F accepted for that reason.
std::string format_terminal(const TerminalId& t);
Result<TerminalId> parse_terminal(std::string_view s);
bool is_bcd(const TerminalId& t);

}  // namespace m2m::telematics
