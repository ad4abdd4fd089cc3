// Message catalogue of the telematics protocol V1.02 (telematics-protocol(7) "MESSAGES"):
// the protocol document's own list of message ids with their JSON `type` names, and the few
// bodies whose layout is known. The document's field tables were lost, so every other body
// stays hex.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/bytes.hpp"
#include "core/error.hpp"

namespace m2m::telematics {

enum class BodyKind : std::uint8_t {
  empty,          // the document says the body is empty: {}
  general_reply,  // JT/T 808 layout, a decision: reply seq (2) + reply id (2) + result (1)
  opaque,         // the table was lost: `data` (hex) only, no `body`
};

struct TypeInfo {
  std::uint16_t id;
  std::string_view name;
  BodyKind body;
};

std::span<const TypeInfo> catalogue();
const TypeInfo* find_type(std::uint16_t id);
const TypeInfo* find_type(std::string_view name);
std::string_view type_name(std::uint16_t id);  // "unknown" outside the catalogue

namespace result {
inline constexpr std::uint8_t ok = 0, fail = 1, bad_message = 2, unsupported = 3;
}
std::string result_name(std::uint8_t r);  // "ok", "fail", "bad_message", "unsupported" or the number
Result<std::uint8_t> parse_result(std::string_view s);

struct GeneralReply {
  std::uint16_t reply_seq = 0;
  std::uint16_t reply_id = 0;
  std::uint8_t result = result::ok;
};
inline constexpr std::size_t kGeneralReplySize = 5;
void put_general_reply(Bytes& out, const GeneralReply& r);
Result<GeneralReply> get_general_reply(ByteView body);  // exactly 5 bytes

}  // namespace m2m::telematics
