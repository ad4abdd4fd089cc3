// What gree-ctl remembers about a unit on a bus between runs: its last known remote code.
// On a bus the only addressed read is an execute (0x07, gree-protocol(7) "REQUEST"), so reading a unit
// means re-sending the code it already runs; gree-ctl never invents one. Pure: the record
// <-> JSON, its file name, and which code an addressed request may carry. The file I/O is
// gree-ctl's (tools/gree-ctl/state_store).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "gree/json.hpp"

namespace m2m::gree {

struct KnownState {
  std::string port;  // the port as the user names it (-d), made absolute
  int address = 0;
  RemoteCode code;   // Status::settings() of the last status frame seen from the unit
  std::string seen;  // when that frame arrived, ISO-8601 UTC
  std::string frame; // that status frame, hex
  friend bool operator==(const KnownState&, const KnownState&) = default;
};

KnownState known_state_of(const Status& s, Checksum ck, std::string port, std::string seen);

// {"v":1,"port":…,"address":…,"code":"39082050","seen":…,"frame":…, then the settings of
// the code spelled out (power, mode, set_temp, …) for people reading the file}.
Json known_state_to_json(const KnownState& k);
// Reads "v", "port", "address", "code", "seen", "frame"; the spelled-out settings are ignored.
Result<KnownState> known_state_from_json(const Json& j);

// The file holding a port's unit: the absolute port path without its leading '/',
// percent-encoded except [A-Za-z0-9._-], then '@', the address and ".json":
// "/dev/ttyUSB0", 1023 -> "dev%2FttyUSB0@1023.json".
std::string state_file_name(std::string_view port, int address);

// power, mode, set_temp and fan: given together they define what a unit runs without any
// known code (the other settings then start from the factory state: light on, rest off).
bool gives_main_settings(const Json& patch);

// The code an addressed request (0x07) carries: `patch` on top of the unit's last known code;
// with none known, on top of the factory state when the patch gives every main setting.
// nullopt: nothing known and the patch is partial, so there is nothing safe to send.
Result<std::optional<RemoteCode>> addressed_code(const std::optional<RemoteCode>& known, const Json& patch);

}  // namespace m2m::gree
