// The Gree frame checksum. The seed names a 2-digit ASCII checksum but not its algorithm, so
// the algorithm is a named choice (gree-protocol(7) "CHECKSUM"): sum8 (default) or xor8.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/bytes.hpp"

namespace m2m::gree {

enum class Checksum : std::uint8_t { sum8, xor8 };

inline constexpr std::string_view kChecksumNames = "sum8, xor8";

std::uint8_t checksum(Checksum kind, ByteView covered);
std::string_view to_string(Checksum kind);
std::optional<Checksum> parse_checksum(std::string_view name);

}  // namespace m2m::gree
