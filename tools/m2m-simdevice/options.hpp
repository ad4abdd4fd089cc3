// m2m-simdevice's options, checked (usage errors exit 2 before anything starts).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/crc16.hpp"
#include "device/simdevice.hpp"
#include "m2m/messages.hpp"

namespace simdevice {

inline constexpr const char* kProg = "m2m-simdevice";

struct DeviceSpec {
  std::uint64_t id = 0;
  m2m::ai::Password password{};
};

struct Options {
  std::vector<DeviceSpec> devices;
  m2m::device::SimConfig sim;
  std::chrono::milliseconds run_for{0};  // -t; 0: until a signal
  std::uint64_t max_frames = 0;          // -n; 0: no limit
  bool hex_payload = false;              // --payload hex
  bool echo = false;
  bool verbose = false, quiet = false;
  std::string state_file;
  std::optional<std::uint64_t> p2p_with;
  m2m::CrcVariant crc = m2m::CrcVariant::modbus;
};

// Parses argv into `o`; returns -1 to go on, or the exit code (0 for --help, 2 for usage).
int parse_options(int argc, char** argv, Options& o);

}  // namespace simdevice
