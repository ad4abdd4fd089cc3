// Bodies of the platform class (EF): login, heartbeat, add_terminal — m2m-protocol(7) COMMANDS
// and JSON BODIES. platform.login and platform.heartbeat have the bodies of link.login and
// link.heartbeat (link.hpp); add_terminal is this class's own. Each body: a struct, put_*
// (struct -> data area), get_* (data area -> struct, strict, so put(get(d)) == d), and its
// JSON form in detail::.
#pragma once

#include <cstdint>

#include "m2m/link.hpp"
#include "m2m/messages.hpp"
#include "m2m/json_text.hpp"

#include <nlohmann/json_fwd.hpp>

namespace m2m::ai {

using PlatformLoginRequest = LoginRequest;
using PlatformLoginReply = LoginReply;
using PlatformHeartbeat = Heartbeat;

// platform.add_terminal request: the device to register and its password.
struct AddTerminal {
  std::uint64_t id = 0;
  Password password{};
};

void put_add_terminal(Bytes& out, const AddTerminal& b);
Result<AddTerminal> get_add_terminal(ByteView d);

namespace detail {
void add_terminal_json(JsonOut& w, const AddTerminal& b);
AddTerminal add_terminal_from_json(const nlohmann::json& body);  // throws BadInput

Result<void> platform_request_json(JsonOut& w, std::uint8_t c, ByteView d);
Result<void> platform_ok_reply_json(JsonOut& w, std::uint8_t c, ByteView d);  // d not empty
void platform_request_from_json(std::uint8_t c, const nlohmann::json& body, Bytes& out);
bool platform_ok_reply_from_json(std::uint8_t c, const nlohmann::json& body, Bytes& out);
}  // namespace detail

}  // namespace m2m::ai
