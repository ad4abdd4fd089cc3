// gree-ctl's subcommands. main.cpp parses options into these structs and calls one function;
// each returns the process exit code.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/cli_fwd.hpp"

#include "gree/json.hpp"
#include "link.hpp"
#include "serial_port.hpp"
#include "state_store.hpp"

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

// The options every command that opens the line shares (-d, --baud, --parity, --frame,
// --timeout, --retries, --checksum, -v, --state-dir, -q), declared on the program (options.cpp).
struct PortArgs {
  PortOptions po;
  std::string parity = "even", frame, checksum = "sum8";
  bool verbose = false;
  CLI::Option* device = nullptr;
};
void add_port_options(CLI::App& app, PortArgs& a);
// After parsing: fills a.po from the words; a usage error is printed and returns false.
bool finish_port_options(PortArgs& a);
// --addr of status, set and watch.
void add_addr_option(CLI::App& sub, int& addr);

// Prints a Failure as "gree-ctl: error: …" and returns its exit code.
int report(const Failure& f);

// Shared by the commands that talk to units (commands.cpp) and the bridge (bridge.cpp).
Outcome<Link> connect(const PortOptions& po);
StateStore store_for(const PortOptions& po);
// Records a status frame's code as the unit's last known one (a failure is a warning).
void remember(const StateStore& store, const PortOptions& po, const m2m::gree::Status& s);
// The refusal when nothing safe can be sent to addressed unit `addr` (nothing was sent); it
// names the ways out. `why` is appended to the first sentence.
Failure no_known_code(const PortOptions& po, const StateStore& store, int addr, const std::string& why);
// The unit's last known code, or that refusal (a damaged record counts as none, and says so).
Outcome<m2m::gree::KnownState> known_code(const PortOptions& po, const StateStore& store, int addr);
// The unit runs what was sent (status 1 bits aside, see Status::settings()).
bool applied(const m2m::gree::Status& after, const m2m::gree::RemoteCode& sent);

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
// The emulate subcommand's options (emulate_options.cpp) and the words they arrive as.
struct EmulateArgs {
  EmulateOptions eo;
  std::string units = "0", model = "heat-pump";
  int reply_address = -1;
};
CLI::App* add_emulate_command(CLI::App& app, EmulateArgs& a);
int run_emulate(const PortOptions& po, EmulateArgs& a);  // throws CLI::ValidationError on bad --units

struct BridgeOptions {
  std::vector<std::string> units;           // ADDR=DEVICE_ID:PASSWORD
  std::string server;                       // HOST:PORT
  std::chrono::milliseconds interval{30000};  // an uplink at least this often
  std::chrono::milliseconds poll{5000};     // read each unit this often (changes go up at once)
  std::chrono::milliseconds run_for{0};     // --for; 0 = until signalled
};
int cmd_bridge(const PortOptions& po, const BridgeOptions& b);
CLI::App* add_bridge_command(CLI::App& app, BridgeOptions& b);  // options.cpp

}  // namespace gree_ctl
