// The 4-byte remote code (gree-protocol(7) "REMOTE CODE"): the first four bytes of the Gree infrared remote
// state. Kept as the raw bytes so that bits a unit reports but we do not interpret (byte 4,
// non-canonical timer digits) survive a read-modify-write untouched.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace m2m::gree {

enum class Mode : std::uint8_t { auto_ = 0, cool = 1, dry = 2, fan = 3, heat = 4 };
enum class Fan : std::uint8_t { auto_ = 0, low = 1, medium = 2, high = 3 };

inline constexpr int kMinTemp = 16;
inline constexpr int kMaxTemp = 30;
inline constexpr int kMaxTimerHalfHours = 48;  // 24 h

std::string mode_name(std::uint8_t raw_mode);  // "cool", or "mode7" outside the table
std::string_view fan_name(Fan f);
std::optional<Mode> parse_mode(std::string_view s);  // auto|cool|dry|fan|heat
std::optional<Fan> parse_fan(std::string_view s);    // auto|low|medium|high

struct RemoteCode {
  std::array<std::uint8_t, 4> bytes{0x00, 0x09, 0x20, 0x50};  // factory state "00092050"

  // There is no "query" code: a unit executes whatever 4 bytes a 0x05/0x07/0x0A carries
  // (gree-protocol(7)), so the only codes gree-ctl sends are the user's settings on top of a
  // unit's last known code, or on top of this factory state.
  static RemoteCode factory() { return {}; }

  // byte 1
  std::uint8_t raw_mode() const { return bytes[0] & 0x07; }
  bool power() const { return bytes[0] & 0x08; }
  Fan fan() const { return static_cast<Fan>((bytes[0] >> 4) & 0x03); }
  bool swing() const { return bytes[0] & 0x40; }
  bool sleep() const { return bytes[0] & 0x80; }
  // byte 2
  int set_temp() const { return kMinTemp + (bytes[1] & 0x0F); }
  bool timer_on() const { return bytes[1] & 0x80; }
  // Timer length in half hours as encoded (tens*20 + hours*2 + half); meaningful when timer_on().
  int timer_half_hours() const {
    return ((bytes[1] >> 5) & 0x03) * 20 + (bytes[2] & 0x0F) * 2 + ((bytes[1] >> 4) & 0x01);
  }
  // byte 3
  bool turbo() const { return bytes[2] & 0x10; }
  bool light() const { return bytes[2] & 0x20; }
  bool ventilation() const { return bytes[2] & 0x40; }
  bool x_fan() const { return bytes[2] & 0x80; }
  std::uint8_t reserved() const { return bytes[3]; }

  void set_mode(Mode m) { bytes[0] = static_cast<std::uint8_t>((bytes[0] & ~0x07) | static_cast<int>(m)); }
  void set_power(bool on) { set_bit(0, 0x08, on); }
  void set_fan(Fan f) { bytes[0] = static_cast<std::uint8_t>((bytes[0] & ~0x30) | (static_cast<int>(f) << 4)); }
  void set_swing(bool on) { set_bit(0, 0x40, on); }
  void set_sleep(bool on) { set_bit(0, 0x80, on); }
  // temp must be kMinTemp..kMaxTemp (callers validate; out-of-range values are clamped).
  void set_temp(int celsius);
  // half_hours 0 = timer off; 1..kMaxTimerHalfHours sets it (canonical decimal digits).
  void set_timer(int half_hours);
  void set_turbo(bool on) { set_bit(2, 0x10, on); }
  void set_light(bool on) { set_bit(2, 0x20, on); }
  void set_ventilation(bool on) { set_bit(2, 0x40, on); }
  void set_x_fan(bool on) { set_bit(2, 0x80, on); }

  // Every field in range: a known mode (0..4), 16–30 °C, a timer of at most 24 h in decimal
  // digits. A unit still executes an invalid code; how it treats the invalid fields is
  // gree-protocol(7) "Invalid field values" (Unit::execute in unit_model).
  bool valid_mode() const { return raw_mode() <= static_cast<int>(Mode::heat); }
  bool valid_temp() const { return set_temp() <= kMaxTemp; }
  bool valid_timer() const;
  bool valid() const { return valid_mode() && valid_temp() && valid_timer(); }

  std::string hex() const;  // 8 uppercase hex digits, byte 1 first
  friend bool operator==(const RemoteCode&, const RemoteCode&) = default;

 private:
  void set_bit(int byte, std::uint8_t mask, bool on) {
    bytes[byte] = static_cast<std::uint8_t>(on ? (bytes[byte] | mask) : (bytes[byte] & ~mask));
  }
};

}  // namespace m2m::gree
