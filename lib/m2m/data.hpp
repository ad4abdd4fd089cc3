// Bodies of the data class (AA): group_list, relay, p2p_send, uplink, downlink — m2m-protocol(7)
// COMMANDS and JSON BODIES. Each body: a struct, put_* (struct -> data area), get_* (data area
// -> struct, strict, so put(get(d)) == d), and its JSON form in detail::.
//
// Payloads are opaque bytes: the structs view the data area they were parsed from, so the
// decode path allocates nothing for them.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "m2m/messages.hpp"
#include "m2m/json_text.hpp"

#include <nlohmann/json_fwd.hpp>

namespace m2m::ai {

// data.group_list request: the first record wanted (absent: from the start, no data).
struct GroupListRequest {
  std::optional<std::uint16_t> start;
};
// data.group_list ok reply: one page of peer records (empty data: an empty list).
struct GroupListReply {
  std::vector<PeerRecord> devices;
};
// data.relay: the peer (target in the sender's request, sender in the delivered frame).
struct Relay {
  std::uint64_t peer = 0;
  ByteView payload;
};
// data.p2p_send: the sending device and its payload.
struct P2pSend {
  std::uint64_t sender = 0;
  ByteView payload;
};
// data.uplink, data.downlink: the payload alone.
struct Payload {
  ByteView payload;
};

void put_group_list_request(Bytes& out, const GroupListRequest& b);
Result<GroupListRequest> get_group_list_request(ByteView d);
void put_group_list_reply(Bytes& out, const GroupListReply& b);
Result<GroupListReply> get_group_list_reply(ByteView d);
void put_relay(Bytes& out, const Relay& b);
Result<Relay> get_relay(ByteView d);
void put_p2p_send(Bytes& out, const P2pSend& b);
Result<P2pSend> get_p2p_send(ByteView d);
void put_payload(Bytes& out, const Payload& b);
Payload get_payload(ByteView d);  // any bytes are a payload

namespace detail {
void group_list_request_json(JsonOut& w, const GroupListRequest& b);
void group_list_reply_json(JsonOut& w, const GroupListReply& b);
void relay_json(JsonOut& w, const Relay& b);
void p2p_send_json(JsonOut& w, const P2pSend& b);
void payload_json(JsonOut& w, const Payload& b);
// Encode direction; throw BadInput naming the field. Payloads view `store`.
GroupListRequest group_list_request_from_json(const nlohmann::json& body);
GroupListReply group_list_reply_from_json(const nlohmann::json& body);
Relay relay_from_json(const nlohmann::json& body, Bytes& store);
P2pSend p2p_send_from_json(const nlohmann::json& body, Bytes& store);
Payload payload_from_json(const nlohmann::json& body, Bytes& store);

Result<void> data_request_json(JsonOut& w, std::uint8_t c, ByteView d);
Result<void> data_ok_reply_json(JsonOut& w, std::uint8_t c, ByteView d);  // d not empty
void data_request_from_json(std::uint8_t c, const nlohmann::json& body, Bytes& out);
bool data_ok_reply_from_json(std::uint8_t c, const nlohmann::json& body, Bytes& out);
}  // namespace detail

}  // namespace m2m::ai
