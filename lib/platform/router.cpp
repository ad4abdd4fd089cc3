// The protocol half of the server: logins, token checks and what each command does
// (PROTOCOL-NOTES §1.2–1.4). The loop half (sockets, sweep) is in server.cpp.
#include <algorithm>
#include <cstring>

#include "m2m/frame.hpp"
#include "m2m/messages.hpp"
#include "platform/server.hpp"
#include "platform/store.hpp"

namespace m2m::platform {

namespace {
constexpr std::size_t kGroupPage = 59;  // records per data.group_list reply (PROTOCOL-NOTES §1.3)

Bytes token_field(const Token& t) {
  Bytes b;
  b.reserve(9);
  b.push_back(8);
  b.insert(b.end(), t.begin(), t.end());
  return b;
}

bool same_token(ByteView got, const Token& t) {
  return got.size() == t.size() && std::memcmp(got.data(), t.data(), t.size()) == 0;
}

ai::PeerRecord peer_record(const DeviceState& d) {
  ai::PeerRecord r;
  r.id = d.id;
  r.token.assign(d.token.begin(), d.token.end());  // put_peer_record writes the length byte
  if (d.udp_live) {
    r.ip = d.udp_ip;
    r.port = d.udp_port;
  }
  return r;
}
}  // namespace

void Server::reply(const Source& src, const ai::FrameView& req, std::uint8_t status, ByteView data, ByteView token) {
  ai::FrameView f{req.cls, req.cmd, req.seq, 0, status, req.device, token, data};
  send_frame(src, f);
}

void Server::handle(const Source& src, const ai::FrameView& f) {
  if (f.status == ai::status::request && f.cmd == 0x00 && f.cls == ai::cls::link) return device_login(src, f);
  if (f.status == ai::status::request && f.cmd == 0x00 && f.cls == ai::cls::platform) {
    if (src.udp) {  // platform clients keep a TCP session (routing needs one)
      ++counters_.drops;
      return reply(src, f, ai::status::unsupported, {}, {});
    }
    return client_login(src, f);
  }
  if (src.udp) {
    // A datagram names its device in the header; the token proves it.
    std::uint32_t d = reg_.find_device(f.device);
    if (d == kNone || !reg_.device(d).logged_in || !same_token(f.token, reg_.device(d).token))
      return token_mismatch(src, f);
    return device_frame(d, src, f);
  }
  Conn& c = conns_[static_cast<std::size_t>(src.fd)];
  if (c.kind == Kind::device) {
    const DeviceState& dev = reg_.device(c.ref);
    if (f.device != dev.id || !same_token(f.token, dev.token)) return token_mismatch(src, f);
    c.seen = now_tick();
    return device_frame(c.ref, src, f);
  }
  if (c.kind == Kind::client) {
    if (!same_token(f.token, reg_.account(c.ref).token)) return token_mismatch(src, f);
    c.seen = now_tick();
    return client_frame(c.ref, src, f);
  }
  // Not logged in: nothing acts before a login.
  return token_mismatch(src, f);
}

void Server::token_mismatch(const Source& src, const ai::FrameView& f) {
  ++counters_.token_mismatch;
  ++counters_.drops;
  if (log_.session_events())
    log_.session(EventLog::Line("token_mismatch")
                     .add("device", ai::format_device(f.device))
                     .add("type", std::string(ai::type_name(f.cls, f.cmd)))
                     .add("transport", src.udp ? "udp" : "tcp")
                     .add("peer", peer(src)));
}

bool Server::throttled(std::uint32_t ip) {
  auto it = throttle_.find(ip);
  if (it == throttle_.end()) return false;
  const auto window = static_cast<std::uint32_t>(opt_.login_fail_window.count() / 10);
  if (now_tick() - it->second.window_start > window) {
    throttle_.erase(it);
    return false;
  }
  return it->second.failures >= opt_.login_fail_limit;
}

void Server::login_failed(std::uint32_t ip) {
  auto [it, fresh] = throttle_.try_emplace(ip, Throttle{now_tick(), 0});
  ++it->second.failures;
}

// Why a login (device or client) is refused, or nullptr when it is accepted. A refusal is
// counted and, unless it came from the throttle itself, charged to the source address.
// `password` is null when the id is not registered.
const char* Server::login_refusal(const Source& src, const ai::FrameView& f, const ai::Password* password,
                                  bool enabled) {
  const char* reason = nullptr;
  if (opt_.login_fail_limit && throttled(src.from.ip))
    reason = "throttled";
  else if (!password)
    reason = "unknown";
  else if (f.data.size() != 8 || std::memcmp(f.data.data(), password->data(), 8) != 0)
    reason = "bad_password";
  else if (!enabled)
    reason = "disabled";
  if (reason) {
    ++counters_.login_rejected;
    if (std::strcmp(reason, "throttled") != 0) login_failed(src.from.ip);
  }
  return reason;
}

void Server::device_login(const Source& src, const ai::FrameView& f) {
  std::uint32_t d = reg_.find_device(f.device);
  const char* reason = d == kNone ? login_refusal(src, f, nullptr, false)
                                  : login_refusal(src, f, &reg_.device(d).password, reg_.device(d).enabled);
  if (reason) {
    if (log_.session_events())
      log_.session(EventLog::Line("login_rejected")
                       .add("device", ai::format_device(f.device))
                       .add("reason", reason)
                       .add("transport", src.udp ? "udp" : "tcp")
                       .add("peer", peer(src)));
    return reply(src, f, ai::status::fail, {}, {});
  }
  DeviceState& dev = reg_.device(d);
  // A second login replaces the first, whichever transport either used.
  if (dev.fd >= 0 && (src.udp || dev.fd != src.fd)) close_conn(dev.fd, "replaced");
  if (dev.udp_live) udp_expire(d, "replaced");
  if (!src.udp) {
    Conn& c = conns_[static_cast<std::size_t>(src.fd)];
    if (c.kind == Kind::device && c.ref != d) {  // this connection was another device's session
      DeviceState& old = reg_.device(c.ref);
      if (old.fd == src.fd) {
        old.fd = -1;
        old.logged_in = old.udp_live;
        --counters_.online_tcp;
        log_.session(EventLog::Line("logout").add("device", ai::format_device(old.id)).add("transport", "tcp").add("reason", "replaced"));
      }
    } else if (c.kind == Kind::client) {
      AccountState& a = reg_.account(c.ref);
      if (a.fd == src.fd) {
        a.fd = -1;
        --counters_.clients;
      }
    }
    c.kind = Kind::device;
    c.ref = d;
    c.seen = now_tick();
    if (dev.fd != src.fd) ++counters_.online_tcp;
    dev.fd = src.fd;
  } else {
    dev.udp_ip = src.from.ip;
    dev.udp_port = src.from.port;
    dev.udp_seen = now_tick();
    dev.udp_live = true;
    ++counters_.online_udp;
  }
  dev.token = new_token();
  dev.logged_in = true;
  ++counters_.logins;
  if (log_.session_events())
    log_.session(EventLog::Line("login")
                     .add("device", ai::format_device(dev.id))
                     .add("group", reg_.groups()[dev.group].name)
                     .add("transport", src.udp ? "udp" : "tcp")
                     .add("peer", peer(src)));
  Bytes field = token_field(dev.token);
  reply(src, f, ai::status::ok, field, {});
}

void Server::udp_expire(std::uint32_t d, std::string_view reason) {
  DeviceState& dev = reg_.device(d);
  if (!dev.udp_live) return;
  dev.udp_live = false;
  --counters_.online_udp;
  if (dev.fd < 0) {
    dev.logged_in = false;
    if (log_.session_events())
      log_.session(EventLog::Line("logout")
                       .add("device", ai::format_device(dev.id))
                       .add("transport", "udp")
                       .add("reason", std::string(reason)));
  }
}

void Server::device_frame(std::uint32_t d, const Source& src, const ai::FrameView& f) {
  DeviceState& dev = reg_.device(d);
  if (src.udp) {  // any authenticated datagram records where the device is reachable now
    if (!dev.udp_live) ++counters_.online_udp;
    dev.udp_live = true;
    dev.udp_ip = src.from.ip;
    dev.udp_port = src.from.port;
    dev.udp_seen = now_tick();
  }
  if (f.status != ai::status::request) return route_reply(d, f);
  const Token tok = dev.token;
  switch (ai::command_key(f.cls, f.cmd)) {
    case ai::cmd::link_heartbeat:
      return reply(src, f, ai::status::ok, {}, tok);
    case ai::cmd::data_group_list:
      return group_list(d, src, f);
    case ai::cmd::data_relay:
      return relay(d, src, f);
    case ai::cmd::link_p2p_request:
      return p2p_request(d, src, f);
    case ai::cmd::data_uplink:
    case ai::cmd::term_event:
      reply(src, f, ai::status::ok, {}, tok);
      return to_clients(d, f.cls, f.cmd, f.data);
    default:
      return reply(src, f, ai::status::unsupported, {}, tok);
  }
}

bool Server::deliver(std::uint32_t d, std::uint8_t cls, std::uint8_t cmd, ByteView data, std::uint16_t seq,
                     bool udp_only) {
  const DeviceState& dev = reg_.device(d);
  ai::FrameView f{cls, cmd, seq, 0, ai::status::request, dev.id, ByteView(dev.token), data};
  if (dev.fd >= 0 && !udp_only) {
    tx_.clear();
    if (!ai::encode(f, opt_.crc, tx_)) return false;
    return send_tcp(dev.fd, tx_);
  }
  if (!dev.udp_live) return false;
  send_frame(Source{true, -1, {dev.udp_ip, dev.udp_port}}, f);
  return true;
}

void Server::group_list(std::uint32_t d, const Source& src, const ai::FrameView& f) {
  const DeviceState& self = reg_.device(d);
  if (f.data.size() != 0 && f.data.size() != 2) return reply(src, f, ai::status::fail, {}, self.token);
  std::size_t start = f.data.size() == 2 ? get_le16(f.data.data()) : 0;
  Bytes out;
  std::size_t index = 0, taken = 0;
  for (std::uint32_t m : reg_.groups()[self.group].members) {
    const DeviceState& peer_dev = reg_.device(m);
    if (m == d || !peer_dev.logged_in) continue;
    if (index++ < start) continue;
    ai::put_peer_record(out, peer_record(peer_dev));
    if (++taken == kGroupPage) break;
  }
  reply(src, f, ai::status::ok, out, self.token);
}

// The online device `id` in the same group as `self` (index in `t`), or why there is none.
// Relay and P2P introduction refuse for the same reasons.
const char* Server::group_peer(const DeviceState& self, std::uint64_t id, std::uint32_t& t) {
  t = reg_.find_device(id);
  if (t == kNone) return "unknown";
  if (reg_.device(t).group != self.group) return "other_group";
  if (!reg_.device(t).online()) return "offline";
  return nullptr;
}

void Server::relay(std::uint32_t d, const Source& src, const ai::FrameView& f) {
  const DeviceState& self = reg_.device(d);
  const Token tok = self.token;
  const char* refused = nullptr;
  std::uint32_t t = kNone;
  if (f.data.size() < 8)
    refused = "no target";
  else
    refused = group_peer(self, get_be64(f.data.data()), t);
  if (!refused) {
    Bytes data;
    data.reserve(f.data.size());
    put_be64(data, self.id);
    data.insert(data.end(), f.data.begin() + 8, f.data.end());
    if (!deliver(t, ai::cls::data, 0x55, data, next_seq_++)) refused = "send_failed";
  }
  const std::string target = f.data.size() >= 8 ? ai::format_device(get_be64(f.data.data())) : std::string();
  if (refused) {
    ++counters_.drops;
    if (log_.session_events())
      log_.session(EventLog::Line("relay_refused")
                       .add("from", ai::format_device(self.id))
                       .add("to", target)
                       .add("reason", refused));
    return reply(src, f, ai::status::fail, {}, tok);
  }
  ++counters_.relays;
  if (log_.session_events())
    log_.session(EventLog::Line("relay").add("from", ai::format_device(self.id)).add("to", target).add("bytes", f.data.size() - 8));
  reply(src, f, ai::status::ok, {}, tok);
}

void Server::p2p_request(std::uint32_t d, const Source& src, const ai::FrameView& f) {
  const DeviceState& self = reg_.device(d);
  const Token tok = self.token;
  const char* refused = nullptr;
  std::uint32_t t = kNone;
  if (f.data.size() != 8)
    refused = "no target";
  else if (!(refused = group_peer(self, get_be64(f.data.data()), t)) && !reg_.device(t).udp_live)
    refused = "no_udp_endpoint";
  const std::string target = f.data.size() == 8 ? ai::format_device(get_be64(f.data.data())) : std::string();
  if (refused) {
    if (log_.session_events())
      log_.session(EventLog::Line("p2p_refused").add("from", ai::format_device(self.id)).add("to", target).add("reason", refused));
    return reply(src, f, ai::status::fail, {}, tok);
  }
  Bytes about_target, about_self;
  ai::put_peer_record(about_target, peer_record(reg_.device(t)));
  ai::put_peer_record(about_self, peer_record(self));
  reply(src, f, ai::status::ok, about_target, tok);
  deliver(t, ai::cls::link, 0x55, about_self, next_seq_++, /*udp_only=*/true);
  if (log_.session_events())
    log_.session(EventLog::Line("p2p").add("from", ai::format_device(self.id)).add("to", target));
}

void Server::to_clients(std::uint32_t d, std::uint8_t cls, std::uint8_t cmd, ByteView data) {
  const DeviceState& dev = reg_.device(d);
  std::size_t n = 0;
  for (auto& a : reg_.accounts()) {
    if (a.fd < 0 || !reg_.can_see(a, dev.group)) continue;
    ai::FrameView f{cls, cmd, a.next_seq++, 0, ai::status::request, dev.id, ByteView(a.token), data};
    send_frame(Source{false, a.fd, {}}, f);
    ++n;
  }
  if (cls == ai::cls::data) ++counters_.uplinks;
  if (log_.session_events())
    log_.session(EventLog::Line(cls == ai::cls::data ? "uplink" : "event")
                     .add("device", ai::format_device(dev.id))
                     .add("bytes", data.size())
                     .add("clients", n));
}

void Server::route_reply(std::uint32_t d, const ai::FrameView& f) {
  auto it = routes_.find(static_cast<std::uint64_t>(d) << 16 | f.seq);
  if (it == routes_.end() || it->second.cls != f.cls || it->second.cmd != f.cmd) return;  // e.g. a relay's ack
  Route r = it->second;
  routes_.erase(it);
  AccountState& a = reg_.account(r.account);
  if (a.fd != r.fd || a.fd < 0) return;  // the client left meanwhile
  ai::FrameView back{f.cls, f.cmd, r.client_seq, 0, f.status, f.device, ByteView(a.token), f.data};
  send_frame(Source{false, a.fd, {}}, back);
  ++counters_.routed;
}

// ---- platform clients ---------------------------------------------------------------------

void Server::client_login(const Source& src, const ai::FrameView& f) {
  std::uint32_t ai_ = reg_.find_account(f.device);
  const char* reason = ai_ == kNone ? login_refusal(src, f, nullptr, false)
                                    : login_refusal(src, f, &reg_.account(ai_).password, reg_.account(ai_).enabled);
  if (reason) {
    log_.session(EventLog::Line("login_rejected").add("account", f.device).add("role", "client").add("reason", reason).add("peer", peer(src)));
    return reply(src, f, ai::status::fail, {}, {});
  }
  AccountState& a = reg_.account(ai_);
  if (a.fd >= 0 && a.fd != src.fd) close_conn(a.fd, "replaced");
  Conn& c = conns_[static_cast<std::size_t>(src.fd)];
  if (c.kind == Kind::device) {
    DeviceState& old = reg_.device(c.ref);
    if (old.fd == src.fd) {
      old.fd = -1;
      old.logged_in = old.udp_live;
      --counters_.online_tcp;
    }
  }
  if (a.fd != src.fd) ++counters_.clients;
  c.kind = Kind::client;
  c.ref = ai_;
  c.seen = now_tick();
  a.fd = src.fd;
  a.token = new_token();
  ++counters_.logins;
  log_.session(EventLog::Line("login").add("account", a.id).add("role", "client").add("name", a.name).add("peer", peer(src)));
  Bytes field = token_field(a.token);
  reply(src, f, ai::status::ok, field, {});
}

void Server::client_frame(std::uint32_t a, const Source& src, const ai::FrameView& f) {
  if (f.status != ai::status::request) return;  // acks of uplinks/events we sent
  const Token tok = reg_.account(a).token;
  if (f.cls == ai::cls::term || ai::command_key(f.cls, f.cmd) == ai::cmd::data_downlink)
    return forward_to_device(a, src, f);
  switch (ai::command_key(f.cls, f.cmd)) {
    case ai::cmd::platform_heartbeat:
      return reply(src, f, ai::status::ok, {}, tok);
    case ai::cmd::platform_add_terminal:
      return add_terminal(a, src, f);
    default:
      return reply(src, f, ai::status::unsupported, {}, tok);
  }
}

void Server::forward_to_device(std::uint32_t a, const Source& src, const ai::FrameView& f) {
  AccountState& acc = reg_.account(a);
  const Token tok = acc.token;
  std::uint32_t d = reg_.find_device(f.device);
  const char* refused = nullptr;
  if (d == kNone || !reg_.can_see(acc, reg_.device(d).group))
    refused = "unknown";  // a device the account may not see is reported as unknown
  else if (!reg_.device(d).online())
    refused = "offline";
  std::uint16_t seq = next_seq_++;
  if (!refused && !deliver(d, f.cls, f.cmd, f.data, seq)) refused = "send_failed";
  if (refused) {
    log_.session(EventLog::Line("route_refused")
                     .add("account", acc.id)
                     .add("device", ai::format_device(f.device))
                     .add("type", std::string(ai::type_name(f.cls, f.cmd)))
                     .add("reason", refused));
    return reply(src, f, ai::status::fail, {}, tok);
  }
  const auto expiry = static_cast<std::uint32_t>(opt_.route_timeout.count() / 10);
  routes_[static_cast<std::uint64_t>(d) << 16 | seq] =
      Route{a, static_cast<std::int32_t>(src.fd), f.seq, f.cls, f.cmd, now_tick() + expiry};
  if (log_.session_events())
    log_.session(EventLog::Line("route")
                     .add("account", acc.id)
                     .add("device", ai::format_device(f.device))
                     .add("type", std::string(ai::type_name(f.cls, f.cmd)))
                     .add("client_seq", f.seq)
                     .add("seq", seq));
}

void Server::add_terminal(std::uint32_t a, const Source& src, const ai::FrameView& f) {
  AccountState& acc = reg_.account(a);
  const Token tok = acc.token;
  const char* refused = nullptr;
  DeviceRecord rec;
  if (f.data.size() != 16) {
    refused = "bad_body";
  } else if (acc.first_group == kNone) {
    refused = "no_group";
  } else {
    rec.id = get_be64(f.data.data());
    std::copy(f.data.begin() + 8, f.data.end(), rec.password.begin());
    rec.group = reg_.groups()[acc.first_group].name;
    rec.description = "added by account " + std::to_string(acc.id);
    if (reg_.find_device(rec.id) != kNone) refused = "exists";
  }
  if (!refused && store_) {
    if (auto r = store_->put_device(rec, Store::Mode::insert); !r) refused = "store_failed";
  }
  if (refused) {
    log_.session(EventLog::Line("add_terminal_refused").add("account", acc.id).add("reason", refused));
    return reply(src, f, ai::status::fail, {}, tok);
  }
  reg_.put_device(rec);
  log_.session(EventLog::Line("add_terminal").add("account", acc.id).add("device", ai::format_device(rec.id)).add("group", rec.group));
  reply(src, f, ai::status::ok, {}, tok);
}

}  // namespace m2m::platform
