// platform class bodies (EF); see platform.hpp.
#include "m2m/platform.hpp"

#include <cstring>

#include "m2m/body_common.hpp"

namespace m2m::ai {

using namespace detail;

void put_add_terminal(Bytes& out, const AddTerminal& b) {
  put_be64(out, b.id);
  out.insert(out.end(), b.password.begin(), b.password.end());
}

Result<AddTerminal> get_add_terminal(ByteView d) {
  if (d.size() != 16) return bad("device id and password are 16 bytes, data has " + n_bytes(d.size()));
  AddTerminal b;
  b.id = get_be64(d.data());
  std::memcpy(b.password.data(), d.data() + 8, 8);
  return b;
}

namespace detail {

void add_terminal_json(JsonOut& w, const AddTerminal& b) {
  w.open();
  device_json(w, "id", b.id);
  w.key("password").hex(ByteView(b.password)).close();
}

AddTerminal add_terminal_from_json(const json& body) {
  only_keys(body, kBody, {"id", "password"});
  AddTerminal b;
  b.id = device_from_json(body, "id");
  b.password = password_from_json(body);
  return b;
}

Result<void> platform_request_json(JsonOut& w, std::uint8_t c, ByteView d) {
  switch (command_key(cls::platform, c)) {
    case cmd::platform_login: {
      auto b = get_login_request(d);
      if (!b) return unexpected(std::move(b).error());
      login_request_json(w, *b);
      return {};
    }
    case cmd::platform_heartbeat:
      if (auto r = get_heartbeat(d); !r) return unexpected(std::move(r).error());
      empty_json(w);
      return {};
    case cmd::platform_add_terminal: {
      auto b = get_add_terminal(d);
      if (!b) return unexpected(std::move(b).error());
      add_terminal_json(w, *b);
      return {};
    }
  }
  return bad("not a catalogue command");
}

Result<void> platform_ok_reply_json(JsonOut& w, std::uint8_t c, ByteView d) {
  if (command_key(cls::platform, c) != cmd::platform_login) return no_reply_form(d);
  auto b = get_login_reply(d);
  if (!b) return unexpected(std::move(b).error());
  login_reply_json(w, *b);
  return {};
}

void platform_request_from_json(std::uint8_t c, const json& body, Bytes& out) {
  switch (command_key(cls::platform, c)) {
    case cmd::platform_login: put_login_request(out, login_request_from_json(body)); break;
    case cmd::platform_heartbeat: only_keys(body, kBody, {}); break;
    case cmd::platform_add_terminal: put_add_terminal(out, add_terminal_from_json(body)); break;
  }
}

bool platform_ok_reply_from_json(std::uint8_t c, const json& body, Bytes& out) {
  if (command_key(cls::platform, c) != cmd::platform_login) return false;
  Bytes store;
  (void)put_login_reply(out, login_reply_from_json(body, store));  // size checked there
  return true;
}

}  // namespace detail
}  // namespace m2m::ai
