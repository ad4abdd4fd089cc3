// Bodies of the term class (F0): reboot, ota_start, ota_frame, config_read, config_write,
// event — m2m-protocol(7) COMMANDS, CONFIGURATION PARAMETERS and JSON BODIES. Each body: a
// struct, put_* (struct -> data area), get_* (data area -> struct, strict, so
// put(get(d)) == d), and its JSON form in detail::. The parameter values themselves
// (ConfigValue) are shared field types in messages.hpp.
#pragma once

#include <cstdint>
#include <string>

#include "m2m/messages.hpp"
#include "m2m/json_text.hpp"

#include <nlohmann/json_fwd.hpp>

namespace m2m::ai {

// term.reboot: no data.
struct Reboot {};
// term.ota_start: the firmware file (GBK on the wire, UTF-8 here) and its checksum.
struct OtaStart { std::string file; std::uint8_t checksum = 0; };
// term.ota_frame request: which frame of which file, and its size.
struct OtaFrameRequest { std::string file; std::uint16_t frame = 0; std::uint16_t size = 0; };
// term.ota_frame ok reply: the frame's bytes, with their count.
struct OtaFrameReply { std::string file; std::uint16_t frame = 0; std::uint16_t count = 0; Bytes bytes; };
// term.config_read request: the parameter wanted.
struct ConfigRead { std::uint16_t param = 0; };
// term.config_read ok reply and term.config_write request: a parameter and its value.
struct ParamValue { std::uint16_t param = 0; ConfigValue value; };
// term.event: an event code and its description.
struct Event { std::uint8_t code = 0; std::string description; };
namespace event_code { inline constexpr std::uint8_t upgrade = 0x10, working = 0x20; }

Result<Reboot> get_reboot(ByteView d);
// put_* of bodies with strings fail only when a string cannot be converted to GBK.
Result<void> put_ota_start(Bytes& out, const OtaStart& b);
Result<OtaStart> get_ota_start(ByteView d);
// An operator's term.ota_start to the platform may leave the checksum out (the file name
// alone): the platform fills it in from its firmware folder (m2m-protocol(7), OTA UPDATES).
// Fails unless `d` is exactly one string.
Result<std::string> get_ota_start_without_checksum(ByteView d);
Result<void> put_ota_frame_request(Bytes& out, const OtaFrameRequest& b);
Result<OtaFrameRequest> get_ota_frame_request(ByteView d);
Result<void> put_ota_frame_reply(Bytes& out, const OtaFrameReply& b);
Result<OtaFrameReply> get_ota_frame_reply(ByteView d);
void put_config_read(Bytes& out, const ConfigRead& b);
Result<ConfigRead> get_config_read(ByteView d);
Result<void> put_param_value(Bytes& out, const ParamValue& b);  // fails for a value of the wrong type
Result<ParamValue> get_param_value(ByteView d);
Result<void> put_event(Bytes& out, const Event& b);
Result<Event> get_event(ByteView d);

namespace detail {
void ota_start_json(JsonOut& w, const OtaStart& b);
void ota_frame_request_json(JsonOut& w, const OtaFrameRequest& b);
void ota_frame_reply_json(JsonOut& w, const OtaFrameReply& b);
void config_read_json(JsonOut& w, const ConfigRead& b);
void param_value_json(JsonOut& w, const ParamValue& b);
void event_json(JsonOut& w, const Event& b);
// Encode direction; throw BadInput naming the field.
OtaStart ota_start_from_json(const nlohmann::json& body);
OtaFrameRequest ota_frame_request_from_json(const nlohmann::json& body);
OtaFrameReply ota_frame_reply_from_json(const nlohmann::json& body);
ConfigRead config_read_from_json(const nlohmann::json& body);
ParamValue param_value_from_json(const nlohmann::json& body);
Event event_from_json(const nlohmann::json& body);

Result<void> term_request_json(JsonOut& w, std::uint8_t c, ByteView d);
Result<void> term_ok_reply_json(JsonOut& w, std::uint8_t c, ByteView d);  // d not empty
void term_request_from_json(std::uint8_t c, const nlohmann::json& body, Bytes& out);
bool term_ok_reply_from_json(std::uint8_t c, const nlohmann::json& body, Bytes& out);
}  // namespace detail

}  // namespace m2m::ai
