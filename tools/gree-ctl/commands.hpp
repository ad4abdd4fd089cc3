// gree-ctl's subcommands. main.cpp parses options into these structs and calls one function;
// each returns the process exit code.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gree/json.hpp"
#include "link.hpp"
#include "serial_port.hpp"

namespace gree_ctl {

inline constexpr const char* kProg = "gree-ctl";

struct PortOptions {
  std::string device = "/dev/ttyUSB0";
  bool device_given = false;
  LineSettings line;
  LinkOptions link;
  bool quiet = false;
  std::string state_dir;  // --state-dir; empty = StateStore::default_dir()
};

// Prints a Failure as "gree-ctl: error: …" and returns its exit code.
int report(const Failure& f);

int cmd_status(const PortOptions& po, int addr);
// `patch` holds the state fields to change (already validated); see set_patch.cpp.
int cmd_set(const PortOptions& po, int addr, const m2m::gree::Json& patch);
int cmd_set_address(const PortOptions& po, int new_address);
struct WatchOptions {
  std::chrono::milliseconds interval{5000};
  std::uint64_t count = 0;                  // 0 = until interrupted
  std::chrono::milliseconds run_for{0};     // 0 = no bound
};
int cmd_watch(const PortOptions& po, int addr, const WatchOptions& w);
// Hex text from the files (none or "-" = stdin); with several, each record gets "file".
int cmd_decode(m2m::gree::Checksum ck, const std::vector<std::string>& files);
int cmd_encode(m2m::gree::Checksum ck);

struct EmulateOptions {
  std::vector<int> units{0};
  std::string link_path;
  int room_temp = 26;
  std::chrono::milliseconds drift{30000};
  bool cooling_only = false;
  std::vector<std::string> faults;          // "E3" or "1024:E3"
  std::chrono::milliseconds delay{10};
  std::uint64_t drop_first = 0, corrupt_first = 0;
  double drop_rate = 0, corrupt_rate = 0;
  std::optional<int> reply_address;         // every reply claims this address (miswired bus)
  std::chrono::milliseconds run_for{0};     // -t/--timeout; 0 = until signalled
  std::uint64_t count = 0;                  // stop after N requests; 0 = no bound
  std::uint64_t seed = 1;
};
int cmd_emulate(const PortOptions& po, const EmulateOptions& e);

}  // namespace gree_ctl
