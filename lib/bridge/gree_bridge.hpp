// gree-ctl bridge: what a Gree unit looks like as an AI-Cloud device. Pure: the --unit
// argument, the downlink commands and the uplink payloads (JSON), fault changes as
// term.event descriptions, and the device's configuration parameters kept in memory.
// The serial line, the sockets and the loop are gree-ctl's (tools/gree-ctl/bridge.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"
#include "core/error.hpp"
#include "gree/json.hpp"
#include "m2m/messages.hpp"

namespace m2m::gree {

// --unit ADDR=DEVICE_ID:PASSWORD: "1023=0000000000FED24A:text:123". The device id is hex
// (16 digits, fewer are left-padded, 0x allowed; no MAC form since ':' ends it); the password
// is 16 hex digits or text:… as everywhere in the toolkit.
struct BridgeUnit {
  int address = 0;  // 1..9999
  std::uint64_t device = 0;
  ai::Password password{};
};
Result<BridgeUnit> parse_bridge_unit(std::string_view spec);

// A data.downlink payload, UTF-8 JSON: {"set":{...}} or {"status":true}.
struct Downlink {
  enum class Kind : std::uint8_t { set, status } kind = Kind::status;
  Json patch;  // set: the remote-state fields to change (gree-ctl set's names; "temp" = "set_temp")
};
// Errors (kind bad_json) say what is wrong in words an operator can act on.
Result<Downlink> parse_downlink(ByteView payload);

// The uplink payloads: the unit's state (the object `gree-ctl status` prints) and an error
// object {"error":"…","kind":"no_reply","address":1023}.
std::string state_payload(const Status& s, Checksum ck);
std::string error_payload(int address, std::string_view kind, std::string_view message);

// term.event 0x20 descriptions for faults that appeared or cleared between two status frames
// (`before` nullopt: the first frame, so every present fault "appeared"). One per fault:
// "unit 1023: fault E3 (compressor low-pressure protection) appeared".
std::vector<std::string> fault_changes(int address, std::optional<std::uint8_t> before, std::uint8_t after);

// The configuration parameters of m2m-protocol(7) a device answers, kept in memory (their
// wire values). version is read only; the others start with defaults and take any value
// that parses as the parameter's body; ids outside the table are unknown (status 0x03).
class DeviceParams {
 public:
  DeviceParams(std::string software_version, std::string server_host, std::uint16_t server_port, std::uint8_t heartbeat_s);

  // config_read: the reply data (id + value); nullopt: unknown id (unsupported).
  std::optional<Bytes> read(std::uint16_t id) const;
  // config_write's data area (id + value); the reply status: ok, fail (bad value, read only,
  // too short), unsupported (unknown id).
  std::uint8_t write(ByteView data);
  std::uint8_t heartbeat_seconds() const;

 private:
  std::map<std::uint16_t, Bytes> values_;  // wire values without the id
};

}  // namespace m2m::gree
