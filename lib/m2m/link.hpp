// Bodies of the link class (A0): login, heartbeat, p2p_request, p2p_confirm — m2m-protocol(7)
// COMMANDS and JSON BODIES. Each body: a struct, put_* (struct -> data area), get_* (data area
// -> struct, strict, so put(get(d)) == d), and its JSON form in detail::.
//
// platform.login shares the login bodies (platform.hpp).
#pragma once

#include <cstdint>

#include "m2m/messages.hpp"
#include "m2m/json_text.hpp"

#include <nlohmann/json_fwd.hpp>

namespace m2m::ai {

// link.login / platform.login request: the 8-byte password.
struct LoginRequest {
  Password password{};
};
// link.login / platform.login ok reply: the session token, as "L token". `token` views the data
// area it was parsed from (the session copies it; no allocation per login).
struct LoginReply {
  ByteView token;
};
// link.heartbeat, platform.heartbeat: no data either way.
struct Heartbeat {};
// link.p2p_request from a device: the peer it wants to reach. The platform's ok reply and its
// introduction (status request, 15+ bytes) carry one PeerRecord (messages.hpp).
struct P2pRequest {
  std::uint64_t target = 0;
};
// link.p2p_confirm, request and ok reply: the device that sent the introduction.
struct P2pConfirm {
  std::uint64_t sender = 0;
};

void put_login_request(Bytes& out, const LoginRequest& b);
Result<LoginRequest> get_login_request(ByteView d);
Result<void> put_login_reply(Bytes& out, const LoginReply& b);  // fails for a token over 255 bytes
Result<LoginReply> get_login_reply(ByteView d);
Result<Heartbeat> get_heartbeat(ByteView d);
void put_p2p_request(Bytes& out, const P2pRequest& b);
Result<P2pRequest> get_p2p_request(ByteView d);
// The whole data area as one peer record (p2p_request ok reply and introduction).
void put_p2p_peer(Bytes& out, const PeerRecord& r);
Result<PeerRecord> get_p2p_peer(ByteView d);
void put_p2p_confirm(Bytes& out, const P2pConfirm& b);
Result<P2pConfirm> get_p2p_confirm(ByteView d);

namespace detail {
void login_request_json(JsonOut& w, const LoginRequest& b);
void login_reply_json(JsonOut& w, const LoginReply& b);
void p2p_request_json(JsonOut& w, const P2pRequest& b);
void p2p_confirm_json(JsonOut& w, const P2pConfirm& b);
// Encode direction; throw BadInput naming the field. A view body views `store`.
LoginRequest login_request_from_json(const nlohmann::json& body);
LoginReply login_reply_from_json(const nlohmann::json& body, Bytes& store);
P2pRequest p2p_request_from_json(const nlohmann::json& body);
P2pConfirm p2p_confirm_from_json(const nlohmann::json& body);

// The JSON layer's entry points for this class (json.cpp dispatches on the class byte).
Result<void> link_request_json(JsonOut& w, std::uint8_t cmd, ByteView d);
Result<void> link_ok_reply_json(JsonOut& w, std::uint8_t cmd, ByteView d);  // d not empty
void link_request_from_json(std::uint8_t cmd, const nlohmann::json& body, Bytes& out);
bool link_ok_reply_from_json(std::uint8_t cmd, const nlohmann::json& body, Bytes& out);  // false: generic only
}  // namespace detail

}  // namespace m2m::ai
