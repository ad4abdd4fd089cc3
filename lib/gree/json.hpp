// Gree frames <-> JSON objects (the `gree-ctl decode` / `encode` format, also used by
// `status`, `watch` and the emulator's log). Field names are a contract; see gree-protocol(7).
//
// Encoding starts from the raw fields ("code", "status") when present and applies only the
// named fields whose value differs from what those raw bytes already say, so
// decode | encode reproduces every valid frame byte for byte (including bits we do not
// interpret), and a hand-written object needs only the fields it cares about.
#pragma once

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "gree/frame.hpp"

namespace m2m::gree {

using Json = nlohmann::ordered_json;

// The user-facing state fields of a remote code (power, mode, set_temp, fan, swing, sleep,
// turbo, light, ventilation, x_fan, timer) added to `out`.
void remote_fields_to_json(const RemoteCode& c, Json& out);

Json status_to_json(const Status& s, Checksum ck);   // includes "raw"
// Includes "raw"; for the kinds that execute their code (all but read) also "valid" and the
// state fields, even when out of range ("mode7", 31), so that encode reproduces the frame.
Json request_to_json(const Request& r, Checksum ck);

// Applies the state fields present in `in` to `code` (only those that differ). Values are
// validated: the message names the allowed range ("set_temp 35 out of range 16..30").
Result<void> apply_remote_fields(const Json& in, RemoteCode& code);

// "type" decides: "status" -> 24-byte status frame, read/broadcast/addressed/set_address ->
// 16-byte request. Returns the frame bytes.
Result<Bytes> encode_json(const Json& in, Checksum ck);

}  // namespace m2m::gree
