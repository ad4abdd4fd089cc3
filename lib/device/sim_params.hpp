// The nine configuration parameters of a simulated device (m2m-protocol(7) CONFIGURATION
// PARAMETERS), kept small: every device of a process reads the shared defaults until an
// operator writes one of its parameters (or an OTA update switches its software version);
// only then does it get its own copy. A thousand (or 100,000) untouched devices cost one
// pointer each.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/bytes.hpp"
#include "m2m/messages.hpp"

namespace m2m::device {

// One device's values (the defaults of a process are one of these too).
struct ParamValues {
  std::string hardware = "ESP8266", software = "1.0.0", bootloader = "1.0";  // version (read only)
  ai::ServerAddr server{"127.0.0.1", 8266, true};
  ai::ServerAddr fallback{"", 0, true};  // host "" or port 0: none
  std::uint32_t dns = 0x72727272;        // 114.114.114.114, the usual default of Chinese modules
  std::uint8_t send_wait = 10;
  std::uint8_t heartbeat_s = 30;
  std::int64_t rtc_offset_s = 0;         // the device clock minus the host's wall clock
  std::uint8_t write_timeout = 10;
  std::uint8_t read_timeout = 10;

  bool has_fallback() const { return !fallback.host.empty() && fallback.port != 0; }
};

// Wall clock (seconds since the epoch, UTC) for the rtc parameter; tests give their own.
using WallClock = std::int64_t (*)();
std::int64_t system_wall_clock();

class Params {
 public:
  explicit Params(const ParamValues* defaults) : defaults_(defaults) {}

  const ParamValues& get() const { return own_ ? *own_ : *defaults_; }
  ParamValues& own();  // copies the defaults on first use
  bool is_own() const { return own_ != nullptr; }

  // term.config_read: the ok reply's data (id + value); nullopt: unknown id (status 0x03).
  std::optional<Bytes> read(std::uint16_t id, WallClock wall) const;
  // term.config_write's data area (id + value): ok, fail (too short, read only, a value that
  // does not parse, heartbeat 0), unsupported (unknown id). `changed` is the id written.
  std::uint8_t write(ByteView data, WallClock wall, std::uint16_t* changed = nullptr);

 private:
  const ParamValues* defaults_;
  std::unique_ptr<ParamValues> own_;
};

// RTC <-> seconds since the epoch (UTC, proleptic Gregorian), weekday 1 = Monday.
ai::RtcTime rtc_from_epoch(std::int64_t s);
std::int64_t epoch_from_rtc(const ai::RtcTime& t);

}  // namespace m2m::device
