// CRC-16 variants of the AI-Cloud frame (m2m-protocol(7) "FRAME LAYOUT"). The variant is a named choice
// because no public capture confirms which one real devices use.
//   modbus       poly 0x8005 reflected, init 0xFFFF, check("123456789") = 0x4B37  (default)
//   ccitt-false  poly 0x1021,           init 0xFFFF, check("123456789") = 0x29B1
//   xmodem       poly 0x1021,           init 0x0000, check("123456789") = 0x31C3
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/bytes.hpp"

namespace m2m {

enum class CrcVariant : std::uint8_t { modbus, ccitt_false, xmodem };

std::uint16_t crc16(CrcVariant v, ByteView data);
std::string_view to_string(CrcVariant v);
// Accepts "modbus", "ccitt-false" (or "ccitt_false"), "xmodem".
std::optional<CrcVariant> parse_crc_variant(std::string_view name);
inline constexpr std::string_view kCrcVariantNames = "modbus, ccitt-false, xmodem";

}  // namespace m2m
