#include "telematics/messages.hpp"

namespace m2m::telematics {
namespace {

// The protocol document's message list (telematics-protocol(7) "MESSAGES"), section by
// section. Ids 0x0001-0x0003 are login, logout and heartbeat here, not what JT/T 808 uses
// them for.
constexpr TypeInfo kTypes[] = {
    {0x0001, "login", BodyKind::empty},
    {0x0002, "logout", BodyKind::empty},
    {0x0003, "heartbeat", BodyKind::empty},
    {0x0004, "working_data", BodyKind::opaque},
    {0x0005, "fault", BodyKind::opaque},
    {0x0101, "terminal_general_reply", BodyKind::general_reply},
    {0x0102, "param_query_reply", BodyKind::opaque},
    {0x0103, "working_data_query_reply", BodyKind::opaque},
    {0x0104, "fault_query_reply", BodyKind::opaque},
    {0x8001, "param_set", BodyKind::opaque},
    {0x8002, "param_query", BodyKind::opaque},
    {0x8003, "working_data_query", BodyKind::empty},
    {0x8004, "fault_query", BodyKind::empty},
    {0x8101, "platform_general_reply", BodyKind::general_reply},
    {0x8102, "login_reply", BodyKind::opaque},
    {0x1001, "order_result", BodyKind::opaque},
    {0x9001, "remote_control", BodyKind::opaque},
    {0x9002, "order_reserve", BodyKind::opaque},
    {0x9003, "order_cancel", BodyKind::opaque},
    {0x1101, "remote_control_reply", BodyKind::opaque},
    {0x1102, "order_reserve_reply", BodyKind::opaque},
    {0x1103, "order_cancel_reply", BodyKind::opaque},
    {0xD001, "bluetooth_order", BodyKind::opaque},
    {0x5101, "bluetooth_order_reply", BodyKind::opaque},
    {0x7001, "upgrade_request", BodyKind::opaque},
    {0xF101, "upgrade_reply", BodyKind::opaque},
};

}  // namespace

std::span<const TypeInfo> catalogue() { return kTypes; }

const TypeInfo* find_type(std::uint16_t id) {
  for (const TypeInfo& t : kTypes)
    if (t.id == id) return &t;
  return nullptr;
}

const TypeInfo* find_type(std::string_view name) {
  for (const TypeInfo& t : kTypes)
    if (t.name == name) return &t;
  return nullptr;
}

std::string_view type_name(std::uint16_t id) {
  const TypeInfo* t = find_type(id);
  return t ? t->name : "unknown";
}

std::string result_name(std::uint8_t r) {
  switch (r) {
    case result::ok: return "ok";
    case result::fail: return "fail";
    case result::bad_message: return "bad_message";
    case result::unsupported: return "unsupported";
    default: return std::to_string(r);
  }
}

Result<std::uint8_t> parse_result(std::string_view s) {
  for (std::uint8_t r = 0; r <= 3; ++r)
    if (s == result_name(r)) return r;
  return fail(ErrorKind::bad_value, "result '" + std::string(s) + "' is not ok, fail, bad_message, unsupported or a number");
}

void put_general_reply(Bytes& out, const GeneralReply& r) {
  put_le16(out, r.reply_seq);
  put_le16(out, r.reply_id);
  out.push_back(r.result);
}

Result<GeneralReply> get_general_reply(ByteView b) {
  if (b.size() != kGeneralReplySize)
    return fail(ErrorKind::bad_value, "a general reply body is 5 bytes (reply seq, reply id, result), not " +
                                          std::to_string(b.size()));
  return GeneralReply{get_le16(&b[0]), get_le16(&b[2]), b[4]};
}

}  // namespace m2m::telematics
