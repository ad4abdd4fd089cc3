// data class bodies (AA); see data.hpp.
#include "m2m/data.hpp"

#include "m2m/body_common.hpp"

namespace m2m::ai {

using namespace detail;

namespace {
// id (8) + payload, as in data.relay and data.p2p_send.
Result<std::uint64_t> get_id_and_payload(ByteView d, ByteView& payload) {
  if (d.size() < 8) return bad("device id is 8 bytes, data has " + n_bytes(d.size()));
  payload = d.subspan(8);
  return get_be64(d.data());
}
}  // namespace

void put_group_list_request(Bytes& out, const GroupListRequest& b) {
  if (b.start) put_le16(out, *b.start);
}

Result<GroupListRequest> get_group_list_request(ByteView d) {
  if (d.empty()) return GroupListRequest{};
  if (d.size() != 2) return bad("start index is 2 bytes, data has " + n_bytes(d.size()));
  return GroupListRequest{get_le16(d.data())};
}

void put_group_list_reply(Bytes& out, const GroupListReply& b) {
  for (const auto& r : b.devices) put_peer_record(out, r);
}

Result<GroupListReply> get_group_list_reply(ByteView d) {
  GroupListReply b;
  while (!d.empty()) {
    auto r = get_peer_record(d);
    if (!r) return bad("record " + std::to_string(b.devices.size()) + ": " + r.error().message);
    b.devices.push_back(std::move(*r));
  }
  return b;
}

void put_relay(Bytes& out, const Relay& b) {
  put_be64(out, b.peer);
  out.insert(out.end(), b.payload.begin(), b.payload.end());
}

Result<Relay> get_relay(ByteView d) {
  Relay b;
  auto id = get_id_and_payload(d, b.payload);
  if (!id) return unexpected(std::move(id).error());
  b.peer = *id;
  return b;
}

void put_p2p_send(Bytes& out, const P2pSend& b) {
  put_be64(out, b.sender);
  out.insert(out.end(), b.payload.begin(), b.payload.end());
}

Result<P2pSend> get_p2p_send(ByteView d) {
  P2pSend b;
  auto id = get_id_and_payload(d, b.payload);
  if (!id) return unexpected(std::move(id).error());
  b.sender = *id;
  return b;
}

void put_payload(Bytes& out, const Payload& b) { out.insert(out.end(), b.payload.begin(), b.payload.end()); }
Payload get_payload(ByteView d) { return {d}; }

namespace detail {

void group_list_request_json(JsonOut& w, const GroupListRequest& b) {
  w.open();
  if (b.start) w.key("start").num(*b.start);
  w.close();
}

void group_list_reply_json(JsonOut& w, const GroupListReply& b) {
  w.open().key("devices").open_array();
  for (const auto& r : b.devices) {
    w.element();
    peer_record_json(w, r);
  }
  w.close_array().close();
}

void relay_json(JsonOut& w, const Relay& b) {
  w.open();
  device_json(w, "peer", b.peer);
  w.key("payload").hex(b.payload).close();
}

void p2p_send_json(JsonOut& w, const P2pSend& b) {
  w.open();
  device_json(w, "sender", b.sender);
  w.key("payload").hex(b.payload).close();
}

void payload_json(JsonOut& w, const Payload& b) { w.open().key("payload").hex(b.payload).close(); }

namespace {
// "payload": hex, or "text": string (its UTF-8 bytes as they are: payloads are opaque).
ByteView payload_member(const json& body, Bytes& store) {
  const json* p = member(body, "payload");
  const json* t = member(body, "text");
  if (p && t) bad_input(at("text") + ": give either payload or text, not both");
  if (t) {
    const std::string& s = get_string(*t, at("text"));
    store.assign(s.begin(), s.end());
  } else if (p) {
    store = get_hex(*p, at("payload"));
  } else {
    bad_input(at("payload") + ": missing (hex bytes; or give \"text\")");
  }
  return store;
}
}  // namespace

GroupListRequest group_list_request_from_json(const json& body) {
  only_keys(body, kBody, {"start"});
  GroupListRequest b;
  if (const json* s = member(body, "start")) b.start = static_cast<std::uint16_t>(get_uint(*s, at("start"), 65535));
  return b;
}

GroupListReply group_list_reply_from_json(const json& body) {
  only_keys(body, kBody, {"devices"});
  const json& list = required(body, kBody, "devices");
  if (!list.is_array()) bad_input(at("devices") + ": expected an array of {id, token, ip, port}");
  GroupListReply b;
  for (std::size_t i = 0; i < list.size(); ++i)
    b.devices.push_back(peer_record_from_json(list[i], at("devices") + "[" + std::to_string(i) + "]"));
  return b;
}

// The id first, then the payload: the order of the error messages users have seen.
Relay relay_from_json(const json& body, Bytes& store) {
  only_keys(body, kBody, {"peer", "target", "sender", "payload", "text"});
  const json* id = one_of(body, {"peer", "target", "sender"});
  if (!id) bad_input(at("peer") + ": missing");
  Relay b;
  b.peer = get_device(*id, at("peer"));
  b.payload = payload_member(body, store);
  return b;
}

P2pSend p2p_send_from_json(const json& body, Bytes& store) {
  only_keys(body, kBody, {"peer", "target", "sender", "payload", "text"});
  const json* id = one_of(body, {"sender"});
  if (!id) bad_input(at("sender") + ": missing");
  if (member(body, "peer") || member(body, "target"))
    bad_input(at(member(body, "peer") ? "peer" : "target") + ": data.p2p_send takes sender");
  P2pSend b;
  b.sender = get_device(*id, at("sender"));
  b.payload = payload_member(body, store);
  return b;
}

Payload payload_from_json(const json& body, Bytes& store) {
  only_keys(body, kBody, {"payload", "text"});
  return {payload_member(body, store)};
}

Result<void> data_request_json(JsonOut& w, std::uint8_t c, ByteView d) {
  switch (command_key(cls::data, c)) {
    case cmd::data_group_list: {
      auto b = get_group_list_request(d);
      if (!b) return unexpected(std::move(b).error());
      group_list_request_json(w, *b);
      return {};
    }
    case cmd::data_relay: {
      auto b = get_relay(d);
      if (!b) return unexpected(std::move(b).error());
      relay_json(w, *b);
      return {};
    }
    case cmd::data_p2p_send: {
      auto b = get_p2p_send(d);
      if (!b) return unexpected(std::move(b).error());
      p2p_send_json(w, *b);
      return {};
    }
    case cmd::data_uplink:
    case cmd::data_downlink: payload_json(w, get_payload(d)); return {};
  }
  return bad("not a catalogue command");
}

Result<void> data_ok_reply_json(JsonOut& w, std::uint8_t c, ByteView d) {
  if (command_key(cls::data, c) != cmd::data_group_list) return no_reply_form(d);
  // Parse all records first: a failure must leave nothing written.
  auto b = get_group_list_reply(d);
  if (!b) return unexpected(std::move(b).error());
  group_list_reply_json(w, *b);
  return {};
}

void data_request_from_json(std::uint8_t c, const json& body, Bytes& out) {
  Bytes store;
  switch (command_key(cls::data, c)) {
    case cmd::data_group_list: put_group_list_request(out, group_list_request_from_json(body)); break;
    case cmd::data_relay: put_relay(out, relay_from_json(body, store)); break;
    case cmd::data_p2p_send: put_p2p_send(out, p2p_send_from_json(body, store)); break;
    case cmd::data_uplink:
    case cmd::data_downlink: put_payload(out, payload_from_json(body, store)); break;
  }
}

bool data_ok_reply_from_json(std::uint8_t c, const json& body, Bytes& out) {
  if (command_key(cls::data, c) != cmd::data_group_list) return false;
  put_group_list_reply(out, group_list_reply_from_json(body));
  return true;
}

}  // namespace detail
}  // namespace m2m::ai
