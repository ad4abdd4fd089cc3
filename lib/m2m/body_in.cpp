// JSON body -> data area (the encode direction). Each class file reads its bodies into their
// structs and puts them, mirroring the decode direction form for form, so that every body the
// decoder writes encodes back to the data it came from; on top of that the readers take the
// input conveniences (text payloads, text passwords, parameter numbers, aliases).
#include <cstdio>

#include "m2m/body_common.hpp"
#include "m2m/data.hpp"
#include "m2m/json.hpp"
#include "m2m/link.hpp"
#include "m2m/platform.hpp"
#include "m2m/term.hpp"

namespace m2m::ai {
namespace {

using namespace detail;

Bytes request_data(std::uint8_t c, std::uint8_t m, const json& body) {
  Bytes out;
  switch (c) {
    case cls::link: link_request_from_json(m, body, out); break;
    case cls::data: data_request_from_json(m, body, out); break;
    case cls::term: term_request_from_json(m, body, out); break;
    case cls::platform: platform_request_from_json(m, body, out); break;
  }
  return out;
}

// Status ok, body not empty: the command's specific reply form, if it has one.
bool ok_reply_data(std::uint8_t c, std::uint8_t m, const json& body, Bytes& out) {
  switch (c) {
    case cls::link: return link_ok_reply_from_json(m, body, out);
    case cls::data: return data_ok_reply_from_json(m, body, out);
    case cls::term: return term_ok_reply_from_json(m, body, out);
    case cls::platform: return platform_ok_reply_from_json(m, body, out);
  }
  return false;
}

}  // namespace

Result<Bytes> body_from_json(std::uint8_t cls, std::uint8_t cmd, std::uint8_t st, const nlohmann::json& body) {
  try {
    const std::string_view type = type_name(cls, cmd);
    if (type == "unknown") {
      char buf[96];
      std::snprintf(buf, sizeof buf, "body: %02X %02X is not a catalogue command; give its bytes as \"data\"", cls, cmd);
      bad_input(buf);
    }
    expect_object(body, kBody);
    if (st == status::request) return request_data(cls, cmd, body);
    if (body.empty()) return Bytes{};  // generic reply
    Bytes out;
    if (st == status::ok && ok_reply_data(cls, cmd, body, out)) return out;
    bad_input("body: a " + status_name(st) + " reply of " + std::string(type) +
              " has no fields (generic reply); use {} or give \"data\"");
  } catch (const BadInput& e) {
    return fail(ErrorKind::bad_json, e.message);
  } catch (const std::exception& e) {
    return fail(ErrorKind::bad_json, std::string("body: ") + e.what());
  }
}

}  // namespace m2m::ai
