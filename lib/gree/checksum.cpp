#include "gree/checksum.hpp"

namespace m2m::gree {

std::uint8_t checksum(Checksum kind, ByteView covered) {
  std::uint8_t acc = 0;
  for (std::uint8_t b : covered) acc = kind == Checksum::sum8 ? static_cast<std::uint8_t>(acc + b) : static_cast<std::uint8_t>(acc ^ b);
  return acc;
}

std::string_view to_string(Checksum kind) { return kind == Checksum::sum8 ? "sum8" : "xor8"; }

std::optional<Checksum> parse_checksum(std::string_view name) {
  if (name == "sum8") return Checksum::sum8;
  if (name == "xor8") return Checksum::xor8;
  return std::nullopt;
}

}  // namespace m2m::gree
