// link class bodies (A0); see link.hpp.
#include "m2m/link.hpp"

#include <cstring>

#include "m2m/body_common.hpp"

namespace m2m::ai {

using namespace detail;

void put_login_request(Bytes& out, const LoginRequest& b) {
  out.insert(out.end(), b.password.begin(), b.password.end());
}

Result<LoginRequest> get_login_request(ByteView d) {
  if (d.size() != 8) return bad("password is 8 bytes, data has " + n_bytes(d.size()));
  LoginRequest b;
  std::memcpy(b.password.data(), d.data(), 8);
  return b;
}

Result<void> put_login_reply(Bytes& out, const LoginReply& b) {
  if (b.token.size() > 255) return bad("token is " + n_bytes(b.token.size()) + "; the field holds at most 255");
  out.push_back(static_cast<std::uint8_t>(b.token.size()));
  out.insert(out.end(), b.token.begin(), b.token.end());
  return {};
}

Result<LoginReply> get_login_reply(ByteView d) {
  if (d.empty()) return bad("token field is missing (data is empty)");
  if (d[0] + 1u != d.size())
    return bad("token field says " + n_bytes(d[0]) + ", " + n_bytes(d.size() - 1) + " follow");
  return LoginReply{d.subspan(1)};
}

Result<Heartbeat> get_heartbeat(ByteView d) {
  if (auto r = get_empty(d); !r) return unexpected(std::move(r).error());
  return Heartbeat{};
}

void put_p2p_request(Bytes& out, const P2pRequest& b) { put_be64(out, b.target); }

Result<P2pRequest> get_p2p_request(ByteView d) {
  auto id = get_one_id(d);
  if (!id) return unexpected(std::move(id).error());
  return P2pRequest{*id};
}

void put_p2p_peer(Bytes& out, const PeerRecord& r) { put_peer_record(out, r); }
Result<PeerRecord> get_p2p_peer(ByteView d) { return get_whole_peer_record(d); }

void put_p2p_confirm(Bytes& out, const P2pConfirm& b) { put_be64(out, b.sender); }

Result<P2pConfirm> get_p2p_confirm(ByteView d) {
  auto id = get_one_id(d);
  if (!id) return unexpected(std::move(id).error());
  return P2pConfirm{*id};
}

namespace detail {

void login_request_json(JsonOut& w, const LoginRequest& b) {
  w.open().key("password").hex(ByteView(b.password)).close();
}
void login_reply_json(JsonOut& w, const LoginReply& b) { w.open().key("token").hex(b.token).close(); }
void p2p_request_json(JsonOut& w, const P2pRequest& b) {
  w.open();
  device_json(w, "target", b.target);
  w.close();
}
void p2p_confirm_json(JsonOut& w, const P2pConfirm& b) {
  w.open();
  device_json(w, "sender", b.sender);
  w.close();
}

LoginRequest login_request_from_json(const json& body) {
  only_keys(body, kBody, {"password"});
  return {password_from_json(body)};
}

LoginReply login_reply_from_json(const json& body, Bytes& store) {
  only_keys(body, kBody, {"token"});
  store = get_hex(required(body, kBody, "token"), at("token"));
  if (store.size() > 255) bad_input(at("token") + ": at most 255 bytes");
  return {store};
}

P2pRequest p2p_request_from_json(const json& body) {
  only_keys(body, kBody, {"target"});
  return {device_from_json(body, "target")};
}

P2pConfirm p2p_confirm_from_json(const json& body) {
  only_keys(body, kBody, {"sender"});
  return {device_from_json(body, "sender")};
}

Result<void> link_request_json(JsonOut& w, std::uint8_t c, ByteView d) {
  switch (command_key(cls::link, c)) {
    case cmd::link_login: return emit(w, d, get_login_request, login_request_json);
    case cmd::link_heartbeat:
      if (auto r = get_heartbeat(d); !r) return unexpected(std::move(r).error());
      empty_json(w);
      return {};
    case cmd::link_p2p_request:
      // 8 bytes: a device asks for a target; anything else: the platform's introduction.
      if (d.size() == 8) return emit(w, d, get_p2p_request, p2p_request_json);
      return emit(w, d, get_p2p_peer, peer_record_json);
    case cmd::link_p2p_confirm: return emit(w, d, get_p2p_confirm, p2p_confirm_json);
  }
  return bad("not a catalogue command");
}

Result<void> link_ok_reply_json(JsonOut& w, std::uint8_t c, ByteView d) {
  switch (command_key(cls::link, c)) {
    case cmd::link_login: return emit(w, d, get_login_reply, login_reply_json);
    case cmd::link_p2p_request: return emit(w, d, get_p2p_peer, peer_record_json);
    case cmd::link_p2p_confirm: return emit(w, d, get_p2p_confirm, p2p_confirm_json);
  }
  return no_reply_form(d);
}

void link_request_from_json(std::uint8_t c, const json& body, Bytes& out) {
  switch (command_key(cls::link, c)) {
    case cmd::link_login: put_login_request(out, login_request_from_json(body)); break;
    case cmd::link_heartbeat: only_keys(body, kBody, {}); break;
    case cmd::link_p2p_request:
      if (member(body, "target")) put_p2p_request(out, p2p_request_from_json(body));
      else put_p2p_peer(out, peer_record_from_json(body, std::string(kBody)));
      break;
    case cmd::link_p2p_confirm: put_p2p_confirm(out, p2p_confirm_from_json(body)); break;
  }
}

bool link_ok_reply_from_json(std::uint8_t c, const json& body, Bytes& out) {
  switch (command_key(cls::link, c)) {
    case cmd::link_login: {
      Bytes store;
      (void)put_login_reply(out, login_reply_from_json(body, store));  // size checked above
      return true;
    }
    case cmd::link_p2p_request: put_p2p_peer(out, peer_record_from_json(body, std::string(kBody))); return true;
    case cmd::link_p2p_confirm: put_p2p_confirm(out, p2p_confirm_from_json(body)); return true;
  }
  return false;
}

}  // namespace detail
}  // namespace m2m::ai
