// Slice-by-16 table CRC: sixteen independent table lookups per 16 input bytes instead of a
// chain of sixteen dependent ones. Measured on the build machine (tests/bench/crc16.cpp):
// slice-by-8 2.1 GB/s, slice-by-16 2.4 GB/s; on a 61-byte frame 52 ns -> 39 ns. Variants that
// load 8 bytes as one 64-bit word and shift were slower (1.2-1.8 GB/s). 2 x 8 KiB of tables.
#include "core/crc16.hpp"

#include <array>

namespace m2m {
namespace {

constexpr int kSlices = 16;
using Tables = std::array<std::array<std::uint16_t, 256>, kSlices>;

constexpr Tables make_reflected(std::uint16_t rpoly) {
  Tables t{};
  for (unsigned i = 0; i < 256; ++i) {
    std::uint16_t c = static_cast<std::uint16_t>(i);
    for (int b = 0; b < 8; ++b) c = (c & 1) ? static_cast<std::uint16_t>((c >> 1) ^ rpoly) : static_cast<std::uint16_t>(c >> 1);
    t[0][i] = c;
  }
  for (int k = 1; k < kSlices; ++k)
    for (unsigned i = 0; i < 256; ++i)
      t[k][i] = static_cast<std::uint16_t>((t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF]);
  return t;
}

constexpr Tables make_normal(std::uint16_t poly) {
  Tables t{};
  for (unsigned i = 0; i < 256; ++i) {
    std::uint16_t c = static_cast<std::uint16_t>(i << 8);
    for (int b = 0; b < 8; ++b) c = (c & 0x8000) ? static_cast<std::uint16_t>((c << 1) ^ poly) : static_cast<std::uint16_t>(c << 1);
    t[0][i] = c;
  }
  for (int k = 1; k < kSlices; ++k)
    for (unsigned i = 0; i < 256; ++i)
      t[k][i] = static_cast<std::uint16_t>((t[k - 1][i] << 8) ^ t[0][t[k - 1][i] >> 8]);
  return t;
}

constexpr Tables kModbus = make_reflected(0xA001);
constexpr Tables kCcitt = make_normal(0x1021);

std::uint16_t crc_reflected(const Tables& t, std::uint16_t crc, const std::uint8_t* p, std::size_t n) {
  while (n >= 16) {
    crc ^= static_cast<std::uint16_t>(p[0] | (p[1] << 8));
    crc = t[15][crc & 0xFF] ^ t[14][crc >> 8] ^ t[13][p[2]] ^ t[12][p[3]] ^ t[11][p[4]] ^ t[10][p[5]] ^
          t[9][p[6]] ^ t[8][p[7]] ^ t[7][p[8]] ^ t[6][p[9]] ^ t[5][p[10]] ^ t[4][p[11]] ^ t[3][p[12]] ^
          t[2][p[13]] ^ t[1][p[14]] ^ t[0][p[15]];
    p += 16;
    n -= 16;
  }
  if (n >= 8) {
    crc ^= static_cast<std::uint16_t>(p[0] | (p[1] << 8));
    crc = t[7][crc & 0xFF] ^ t[6][crc >> 8] ^ t[5][p[2]] ^ t[4][p[3]] ^ t[3][p[4]] ^ t[2][p[5]] ^
          t[1][p[6]] ^ t[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n--) crc = static_cast<std::uint16_t>((crc >> 8) ^ t[0][(crc ^ *p++) & 0xFF]);
  return crc;
}

std::uint16_t crc_normal(const Tables& t, std::uint16_t crc, const std::uint8_t* p, std::size_t n) {
  while (n >= 16) {
    crc ^= static_cast<std::uint16_t>((p[0] << 8) | p[1]);
    crc = t[15][crc >> 8] ^ t[14][crc & 0xFF] ^ t[13][p[2]] ^ t[12][p[3]] ^ t[11][p[4]] ^ t[10][p[5]] ^
          t[9][p[6]] ^ t[8][p[7]] ^ t[7][p[8]] ^ t[6][p[9]] ^ t[5][p[10]] ^ t[4][p[11]] ^ t[3][p[12]] ^
          t[2][p[13]] ^ t[1][p[14]] ^ t[0][p[15]];
    p += 16;
    n -= 16;
  }
  if (n >= 8) {
    crc ^= static_cast<std::uint16_t>((p[0] << 8) | p[1]);
    crc = t[7][crc >> 8] ^ t[6][crc & 0xFF] ^ t[5][p[2]] ^ t[4][p[3]] ^ t[3][p[4]] ^ t[2][p[5]] ^
          t[1][p[6]] ^ t[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n--) crc = static_cast<std::uint16_t>((crc << 8) ^ t[0][((crc >> 8) ^ *p++) & 0xFF]);
  return crc;
}

}  // namespace

std::uint16_t crc16(CrcVariant v, ByteView d) {
  switch (v) {
    case CrcVariant::modbus: return crc_reflected(kModbus, 0xFFFF, d.data(), d.size());
    case CrcVariant::ccitt_false: return crc_normal(kCcitt, 0xFFFF, d.data(), d.size());
    case CrcVariant::xmodem: return crc_normal(kCcitt, 0x0000, d.data(), d.size());
  }
  return 0;
}

std::string_view to_string(CrcVariant v) {
  switch (v) {
    case CrcVariant::modbus: return "modbus";
    case CrcVariant::ccitt_false: return "ccitt-false";
    case CrcVariant::xmodem: return "xmodem";
  }
  return "modbus";
}

std::optional<CrcVariant> parse_crc_variant(std::string_view n) {
  if (n == "modbus") return CrcVariant::modbus;
  if (n == "ccitt-false" || n == "ccitt_false") return CrcVariant::ccitt_false;
  if (n == "xmodem") return CrcVariant::xmodem;
  return std::nullopt;
}

}  // namespace m2m
