// Internal to the body files (link, data, term, platform): the error wording, the strict
// size checks and the JSON forms of the shared field types, written once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/bytes.hpp"
#include "core/error.hpp"
#include "m2m/json_input.hpp"
#include "m2m/json_text.hpp"
#include "m2m/messages.hpp"

namespace m2m::ai::detail {

unexpected<Error> bad(std::string message, std::uint64_t offset = 0);
std::string n_bytes(std::size_t n);  // "1 byte", "8 bytes"

// Exactly `n` bytes must remain / nothing may remain.
Result<void> expect_size(ByteView in, std::size_t n, std::string_view what);
Result<void> expect_end(ByteView in, std::string_view what);

// A body with no data (heartbeats, term.reboot, a group_list request without start).
Result<void> get_empty(ByteView d);
// An 8-byte device id and nothing else.
Result<std::uint64_t> get_one_id(ByteView d);
// One peer record and nothing else.
Result<PeerRecord> get_whole_peer_record(ByteView d);

// An ok reply with data, of a command whose ok reply is always the generic (empty) one.
unexpected<Error> no_reply_form(ByteView d);

// ---- JSON, decode direction (JsonOut: no allocation beyond the output text) --------------
void device_json(JsonOut& w, std::string_view key, std::uint64_t id);  // "key":"16 hex digits"
void peer_record_json(JsonOut& w, const PeerRecord& r);                // {"id","token","ip","port"}
void empty_json(JsonOut& w);                                           // {}
// Parses data area `d` with `get` and writes the body's JSON form with `to_json`.
template <class Get, class Json>
Result<void> emit(JsonOut& w, ByteView d, Get get, Json to_json) {
  auto b = get(d);
  if (!b) return unexpected(std::move(b).error());
  to_json(w, *b);
  return {};
}

// ---- JSON, encode direction (throw BadInput naming the field) ----------------------------
inline constexpr std::string_view kBody = "body";
inline std::string at(std::string_view key) { return field_path(kBody, key); }
std::uint64_t device_from_json(const json& body, std::string_view key);  // required
Password password_from_json(const json& body);                          // body.password, required
PeerRecord peer_record_from_json(const json& r, const std::string& path);
// Exactly one of several aliases, e.g. "peer" / "target" / "sender"; nullptr if none.
const json* one_of(const json& body, std::initializer_list<std::string_view> names);

}  // namespace m2m::ai::detail
