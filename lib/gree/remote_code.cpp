#include "gree/remote_code.hpp"

#include <algorithm>

#include "core/bytes.hpp"

namespace m2m::gree {

namespace {
constexpr std::string_view kModeNames[] = {"auto", "cool", "dry", "fan", "heat"};
constexpr std::string_view kFanNames[] = {"auto", "low", "medium", "high"};
}  // namespace

std::string mode_name(std::uint8_t raw_mode) {
  if (raw_mode < std::size(kModeNames)) return std::string(kModeNames[raw_mode]);
  return "mode" + std::to_string(raw_mode);
}

std::string_view fan_name(Fan f) { return kFanNames[static_cast<int>(f) & 0x03]; }

std::optional<Mode> parse_mode(std::string_view s) {
  for (std::size_t i = 0; i < std::size(kModeNames); ++i)
    if (s == kModeNames[i]) return static_cast<Mode>(i);
  return std::nullopt;
}

std::optional<Fan> parse_fan(std::string_view s) {
  if (s == "med") return Fan::medium;
  for (std::size_t i = 0; i < std::size(kFanNames); ++i)
    if (s == kFanNames[i]) return static_cast<Fan>(i);
  return std::nullopt;
}

void RemoteCode::set_temp(int celsius) {
  celsius = std::clamp(celsius, kMinTemp, kMaxTemp);
  bytes[1] = static_cast<std::uint8_t>((bytes[1] & 0xF0) | (celsius - kMinTemp));
}

void RemoteCode::set_timer(int half_hours) {
  half_hours = std::clamp(half_hours, 0, kMaxTimerHalfHours);
  int hours = half_hours / 2;
  int tens = hours / 10, units = hours % 10, half = half_hours % 2;
  bytes[1] = static_cast<std::uint8_t>((bytes[1] & 0x0F) | (half << 4) | (tens << 5) | (half_hours ? 0x80 : 0));
  bytes[2] = static_cast<std::uint8_t>((bytes[2] & 0xF0) | units);
}

bool RemoteCode::valid_timer() const {
  return !timer_on() || ((bytes[2] & 0x0F) <= 9 && timer_half_hours() <= kMaxTimerHalfHours);
}

std::string RemoteCode::hex() const { return to_hex(ByteView(bytes.data(), bytes.size())); }

}  // namespace m2m::gree
