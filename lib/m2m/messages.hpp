// Command catalogue and the field types the bodies share (m2m-protocol(7) COMMANDS,
// CONFIGURATION PARAMETERS). The bodies themselves are in one file per class: link.hpp,
// data.hpp, term.hpp, platform.hpp.
//
// Every field type has put_* (append its bytes) and get_* (parse strictly: any byte left
// over, a missing NUL, invalid GBK is an error) so that for every data area d that parses,
// put(get(d)) == d byte for byte.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/bytes.hpp"
#include "core/error.hpp"

namespace m2m::ai {

// ---- catalogue -------------------------------------------------------------------------
struct CommandInfo {
  std::uint8_t cls;
  std::uint8_t cmd;
  std::string_view type;  // JSON `type`, e.g. "link.login"
};
namespace cmd {  // (class << 8) | command
inline constexpr std::uint16_t link_login = 0xA000, link_heartbeat = 0xA001, link_p2p_request = 0xA055,
                               link_p2p_confirm = 0xA0EE, data_group_list = 0xAA00, data_relay = 0xAA55,
                               data_p2p_send = 0xAA66, data_uplink = 0xAAEE, data_downlink = 0xAAFF,
                               term_reboot = 0xF055, term_ota_start = 0xF056, term_ota_frame = 0xF057,
                               term_config_read = 0xF0AA, term_config_write = 0xF0AB, term_event = 0xF0F0,
                               platform_login = 0xEF00, platform_heartbeat = 0xEF01,
                               platform_add_terminal = 0xEF06;
}
constexpr std::uint16_t command_key(std::uint8_t cls, std::uint8_t cmd) {
  return static_cast<std::uint16_t>(cls << 8 | cmd);
}
const std::vector<CommandInfo>& catalogue();
std::string_view type_name(std::uint8_t cls, std::uint8_t cmd);  // "unknown" outside the catalogue
std::optional<CommandInfo> find_type(std::string_view type);     // by JSON type name

// ---- field types -----------------------------------------------------------------------
using Password = std::array<std::uint8_t, 8>;
// 16 hex digits (binary) or "text:…" (at most 8 bytes, right-padded with NUL).
Result<Password> parse_password(std::string_view s);

// A device as introduced by the platform (p2p_request reply/introduction, group_list record).
struct PeerRecord {
  std::uint64_t id = 0;
  Bytes token;             // the token bytes only; on the wire put_peer_record writes its length byte first
  std::uint32_t ip = 0;    // IPv4, host order; 0.0.0.0 = unknown
  std::uint16_t port = 0;  // UDP port; 0 = unknown
};
void put_peer_record(Bytes& out, const PeerRecord& r);
// Parses one record from the front of `in` and advances it.
Result<PeerRecord> get_peer_record(ByteView& in);
std::string format_ipv4(std::uint32_t ip);
Result<std::uint32_t> parse_ipv4(std::string_view s);

// ---- configuration parameters (term.config_read / term.config_write) ------------------
namespace param {
inline constexpr std::uint16_t version = 0x0001, server = 0x0005, fallback_server = 0x0006, dns = 0x0007,
                               send_wait = 0x000B, heartbeat_interval = 0x000C, rtc = 0x0016,
                               write_timeout = 0x0020, read_timeout = 0x0021;
}
std::string_view param_name(std::uint16_t id);                 // "" when unknown
std::optional<std::uint16_t> find_param(std::string_view name); // by JSON name

struct VersionInfo { std::string hardware, software, bootloader; };  // UTF-8
struct ServerAddr { std::string host; std::uint16_t port = 0; bool tcp = true; };
struct RtcTime {  // decimal values; BCD on the wire
  int year = 2000, month = 1, day = 1, hour = 0, minute = 0, second = 0, weekday = 1;
};
// The value of one parameter; Bytes for unknown ids (kept verbatim).
using ConfigValue = std::variant<VersionInfo, ServerAddr, std::uint32_t /*dns ipv4*/, std::uint8_t, RtcTime, Bytes>;
Result<void> put_config_value(Bytes& out, std::uint16_t id, const ConfigValue& v);
Result<ConfigValue> get_config_value(std::uint16_t id, ByteView in);

// ---- strings ----------------------------------------------------------------------------
// A GBK NUL-terminated string: UTF-8 in, GBK + NUL out (and back).
Result<void> put_gbk_string(Bytes& out, std::string_view utf8);
Result<std::string> get_gbk_string(ByteView& in);  // advances past the NUL

}  // namespace m2m::ai
