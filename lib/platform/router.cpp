// The protocol half of the platform: logins, token checks and what each command does
// (m2m-protocol(7), COMMANDS; "Tokens" under FRAME LAYOUT). The loop half (sockets, ticks,
// buffers) is in server.cpp; see outbox.hpp for the rule that keeps the two memory-safe.
#include "platform/router.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cstring>

#include "m2m/data.hpp"
#include "m2m/link.hpp"
#include "m2m/messages.hpp"
#include "m2m/platform.hpp"
#include "m2m/term.hpp"

namespace m2m::platform {

namespace {
constexpr std::size_t kGroupPage = 59;  // records per data.group_list reply (m2m-protocol(7), COMMANDS)
constexpr std::size_t kRecordSize = 15 + sizeof(Token);  // a peer record with the platform's token

// The ok reply to a login: the new token as a token field (m2m-protocol(7), COMMANDS).
Bytes login_reply(const Token& t) {
  Bytes b;
  (void)ai::put_login_reply(b, ai::LoginReply{ByteView(t)});  // fails only above 255 bytes; a Token is 8
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

std::uint64_t throttle_key(std::uint32_t ip, std::uint64_t id) {
  // (address, id) folded into one key; a collision only shares a failure count.
  return (id * 0x9E3779B97F4A7C15ull) ^ (static_cast<std::uint64_t>(ip) << 17) ^ ip;
}
}  // namespace

Router::Router(Registry& registry, TerminalStore* store, const RouterOptions& options, Outbox& out,
               const Clock& clock, EventLog& log)
    : reg_(registry), store_(store), opt_(options), out_(out), clock_(clock), log_(log) {
  if (opt_.heartbeat_timeout.count() <= 0) opt_.heartbeat_timeout = 3 * opt_.heartbeat_interval;
  timeout_ticks_ = static_cast<std::uint32_t>(std::max<std::int64_t>(1, opt_.heartbeat_timeout.count() / kTickMs));
}

// ---- connections ---------------------------------------------------------------------------

void Router::opened(int fd, const net::Endpoint& from) {
  if (static_cast<std::size_t>(fd) >= sessions_.size()) sessions_.resize(static_cast<std::size_t>(fd) + 1024);
  Session& s = sess(fd);
  s.kind = Kind::pending;
  s.ip = from.ip;
  s.port = from.port;
  s.ref = kNone;
  s.seen = now();
}

// The one place a session leaves a connection: a close, or a login on the same connection as
// someone else (device→device, device→client, client→client, client→device). Each writes
// the logout event of what was bound.
void Router::unbind(int fd, std::string_view reason) {
  Session& s = sess(fd);
  if (s.kind == Kind::device && s.ref != kNone) {
    DeviceState& d = reg_.device(s.ref);
    if (d.fd == fd) {
      d.fd = -1;
      --counters_.online_tcp;
      if (!d.udp_live) set_online(s.ref, false);
      if (log_.session_events())
        log_.session(EventLog::Line("logout")
                         .add("device", ai::format_device(d.id))
                         .add("transport", "tcp")
                         .add("reason", std::string(reason)));
    }
  } else if (s.kind == Kind::client && s.ref != kNone) {
    AccountState& a = reg_.account(s.ref);
    if (a.fd == fd) {
      a.fd = -1;
      --counters_.clients;
      log_.session(EventLog::Line("logout").add("account", a.id).add("role", "client").add("reason", std::string(reason)));
      if (remote_) remote_->operators_changed();
    }
  }
  if (s.kind == Kind::device || s.kind == Kind::client) s.kind = Kind::pending;
  s.ref = kNone;
}

void Router::close(int fd, std::string_view reason) {
  if (!live(fd)) return;
  unbind(fd, reason);
  sess(fd).kind = Kind::closing;
  out_.close(fd);
}

void Router::released(int fd) {
  if (fd >= 0 && static_cast<std::size_t>(fd) < sessions_.size()) sess(fd) = Session{};
}

bool Router::send_tcp(int fd, ByteView bytes) {
  if (!live(fd)) return false;  // closing: nothing more goes to it
  if (const char* why = out_.send_tcp(fd, bytes)) {
    close(fd, why);
    return false;
  }
  ++counters_.frames_out;
  return true;
}

void Router::send_frame(const Source& to, const ai::FrameView& f) {
  tx_.clear();
  if (!ai::encode(f, opt_.crc, tx_)) {
    ++counters_.drops;  // only a frame over the size limit can fail; callers keep data below that
    return;
  }
  if (to.udp && udp_frame_ && to.from == udp_src_ && !unbudgeted_) {  // back to the source: budgeted
    if (tx_.size() > udp_room()) return udp_capped(f, tx_.size());
    udp_out_ += tx_.size();
  }
  if (!to.udp) {
    send_tcp(to.fd, tx_);
  } else if (out_.send_udp(to.from, tx_)) {
    ++counters_.frames_out;
  } else {
    ++counters_.drops;
  }
}

void Router::reply(const Source& src, const ai::FrameView& req, std::uint8_t status, ByteView data, ByteView token) {
  ai::FrameView f{req.cls, req.cmd, req.seq, 0, status, req.device, token, data};
  send_frame(src, f);
}

// A datagram from a source that has not logged in gets one answer at most: a spoofed source
// address cannot turn one datagram of login frames into thousands of replies.
bool Router::answer_unauthenticated(const Source& src) {
  if (!src.udp) return true;
  if (unauth_answered_) {
    ++counters_.drops;
    return false;
  }
  unauth_answered_ = true;
  return true;
}

// Wire bytes of `f` (escapes included), encoded into the shared buffer.
std::size_t Router::wire_size(const ai::FrameView& f) {
  tx_.clear();
  return ai::encode(f, opt_.crc, tx_) ? tx_.size() : SIZE_MAX;
}

std::size_t Router::udp_room() const {
  if (!udp_frame_) return SIZE_MAX;
  const std::size_t budget = std::max(kUdpReplyFloor, kUdpReplyFactor * udp_in_);
  return budget > udp_out_ ? budget - udp_out_ : 0;
}

// A reply to a datagram's source that its budget cannot carry: dropped, counted, logged (rate
// limited like other flood-prone events). A legitimate client retries in a new datagram.
void Router::udp_capped(const ai::FrameView& f, std::size_t bytes) {
  ++counters_.udp_capped;
  ++counters_.drops;
  if (!log_.session_events()) return;
  EventLog::Line line("reply_capped");
  line.add("device", ai::format_device(f.device))
      .add("type", std::string(ai::type_name(f.cls, f.cmd)))
      .add("peer", net::format_endpoint(udp_src_))
      .add("bytes", bytes)
      .add("room", udp_room());
  if (rate_limited("reply_capped", udp_src_.ip, line)) return;
  log_.session(line);
}

// ---- frames --------------------------------------------------------------------------------

void Router::frame(const Source& src, const ai::FrameView& f) {
  if (!src.udp && !live(src.fd)) return;
  ++counters_.frames_in;
  // Replies sent while this frame is handled are charged to its datagram's budget when they
  // go back to the datagram's source (kUdpReplyFactor, router.hpp).
  struct UdpScope {
    bool& on;
    ~UdpScope() { on = false; }
  } scope{udp_frame_};
  if (src.udp) {
    udp_frame_ = true;
    udp_src_ = src.from;
    udp_in_ += ai::unescaped_size(f);
  }
  const std::uint16_t command = ai::command_key(f.cls, f.cmd);
  if (f.status == ai::status::request && command == ai::cmd::link_login) return device_login(src, f);
  if (f.status == ai::status::request && command == ai::cmd::platform_login) {
    if (src.udp) {  // platform clients keep a TCP session (routing needs one)
      ++counters_.drops;
      if (answer_unauthenticated(src)) reply(src, f, ai::status::unsupported, {}, {});
      return;
    }
    return client_login(src, f);
  }
  if (src.udp) {
    // A datagram names its device in the header; the token proves it.
    std::uint32_t d = reg_.find_device(f.device);
    if (d == kNone || !reg_.device(d).logged_in || !same_token(f.token, reg_.device(d).token))
      return token_mismatch(src, f);
    // Tokens are shared with group members (data.group_list, P2P introductions), so for a
    // device with a TCP session a datagram is believed only from that session's address.
    const DeviceState& dev = reg_.device(d);
    if (opt_.udp_trust == RouterOptions::UdpTrust::same_ip && dev.fd >= 0 && sess(dev.fd).ip != src.from.ip)
      return token_mismatch(src, f, "untrusted_source");
    return device_frame(d, src, f);
  }
  Session& s = sess(src.fd);
  if (s.kind == Kind::device) {
    const std::uint32_t d = s.ref;
    const DeviceState& dev = reg_.device(d);
    if (f.device != dev.id || !same_token(f.token, dev.token)) return token_mismatch(src, f);
    s.seen = now();
    return device_frame(d, src, f);
  }
  if (s.kind == Kind::client) {
    const std::uint32_t a = s.ref;
    if (!same_token(f.token, reg_.account(a).token)) return token_mismatch(src, f);
    s.seen = now();
    return client_frame(a, src, f);
  }
  // Not logged in: nothing acts before a login.
  return token_mismatch(src, f);
}

void Router::token_mismatch(const Source& src, const ai::FrameView& f, const char* reason) {
  ++counters_.token_mismatch;
  ++counters_.drops;
  if (!log_.session_events()) return;
  EventLog::Line line("token_mismatch");
  line.add("device", ai::format_device(f.device))
      .add("type", std::string(ai::type_name(f.cls, f.cmd)))
      .add("transport", src.udp ? "udp" : "tcp")
      .add("peer", peer(src));
  if (reason) line.add("reason", reason);
  if (rate_limited("token_mismatch", src.from.ip, line)) return;
  log_.session(line);
}

namespace {
constexpr std::size_t kMaxRepeatSources = 4096;
constexpr std::uint32_t kBurst = 10;  // events of one kind per source written in full per second
}

bool Router::rate_limited(const char* kind, std::uint32_t ip, EventLog::Line& line) {
  const std::uint32_t second = now() / (1000 / kTickMs);
  std::uint64_t key = reinterpret_cast<std::uintptr_t>(kind) * 0x9E3779B97F4A7C15ull ^ ip;
  auto it = repeats_.find(key);
  if (it == repeats_.end()) {
    if (repeats_.size() >= kMaxRepeatSources) {  // too many sources: one shared entry per kind
      ip = 0;
      key = reinterpret_cast<std::uintptr_t>(kind) * 0x9E3779B97F4A7C15ull;
      it = repeats_.find(key);
    }
    if (it == repeats_.end()) {
      repeats_.emplace(key, Repeats{kind, ip, second, 1, 0});
      return false;
    }
  }
  Repeats& r = it->second;
  if (r.second == second) {
    if (r.written < kBurst) {
      ++r.written;
      return false;
    }
    ++r.left_out;
    return true;
  }
  if (r.left_out) line.add("repeated", r.left_out);
  r.second = second;
  r.written = 1;
  r.left_out = 0;
  return false;
}

// Summaries for sources that went quiet after being rate-limited; forgets old entries.
void Router::flush_repeated() {
  const std::uint32_t second = now() / (1000 / kTickMs);
  for (auto it = repeats_.begin(); it != repeats_.end();) {
    Repeats& r = it->second;
    if (r.second == second) {
      ++it;
      continue;
    }
    if (r.left_out) {
      EventLog::Line line(r.kind);
      if (r.ip) line.add("peer", net::format_ip(r.ip));
      log_.session(line.add("repeated", r.left_out));
    }
    it = repeats_.erase(it);
  }
}

// One bad frame or run of garbage from a peer: counted, dropped, logged; the peer goes on.
void Router::bad_frame(const Source& src, const Error& e) {
  if (e.kind != ErrorKind::garbage) ++counters_.bad_frames;
  ++counters_.drops;
  if (!log_.session_events()) return;
  EventLog::Line line("bad_frame");
  line.add("peer", peer(src));
  if (src.udp) line.add("transport", "udp");
  line.add("error", std::string(to_string(e.kind))).add("message", e.message);
  if (rate_limited("bad_frame", src.from.ip, line)) return;
  log_.session(line);
}

// ---- logins --------------------------------------------------------------------------------

// Failed logins are charged to the pair (source address, id), so that guesses at one id do
// not lock out the other devices behind the same address (a NAT). At the limit, the pair is
// refused for one window; each failure after a block doubles the next one (up to 16
// windows). An entry is forgotten one window after its last block ended.
bool Router::throttled(std::uint32_t ip, std::uint64_t id) {
  auto it = throttle_.find(throttle_key(ip, id));
  if (it == throttle_.end()) return false;
  const auto window = static_cast<std::uint32_t>(opt_.login_fail_window.count() / kTickMs);
  const std::uint32_t t = now();
  if (static_cast<std::int32_t>(t - it->second.blocked_until) > static_cast<std::int32_t>(window)) {
    throttle_.erase(it);
    return false;
  }
  return static_cast<std::int32_t>(t - it->second.blocked_until) < 0;
}

void Router::login_failed(std::uint32_t ip, std::uint64_t id) {
  const std::uint32_t t = now();
  auto it = throttle_.find(throttle_key(ip, id));
  if (it == throttle_.end()) {
    // The table is bounded: when full (many addresses), new pairs are not tracked; the global
    // ceiling on failed logins per second still holds them.
    if (throttle_.size() >= opt_.max_throttle_entries) return;
    it = throttle_.emplace(throttle_key(ip, id), Throttle{t, 0, t}).first;
  }
  Throttle& th = it->second;
  if (++th.failures >= opt_.login_fail_limit) {
    const auto window = static_cast<std::uint32_t>(opt_.login_fail_window.count() / kTickMs);
    const std::uint32_t doublings = std::min<std::uint32_t>(th.failures - opt_.login_fail_limit, 4);
    th.blocked_until = t + std::max<std::uint32_t>(window, 1) * (1u << doublings);
  }
}

// Why a login (device or client) is refused, or nullptr when it is accepted. A refusal is
// counted and, unless it came from a throttle itself, charged to the (address, id) pair.
// `password` is null when the id is not registered.
const char* Router::login_refusal(const Source& src, const ai::FrameView& f, const ai::Password* password,
                                  bool enabled) {
  const std::uint32_t second = now() / (1000 / kTickMs);
  if (second != fail_second_) fail_second_ = second, fails_this_second_ = 0;
  const char* reason = nullptr;
  std::uint64_t* refusals = nullptr;  // the reason's own counter (/metrics)
  if (opt_.login_fail_limit && throttled(src.from.ip, f.device))
    reason = "throttled", refusals = &counters_.rejected_throttled;
  else if (opt_.max_failed_logins_per_second && fails_this_second_ >= opt_.max_failed_logins_per_second)
    // the global ceiling on failed logins: no password is checked this second
    reason = "busy", refusals = &counters_.rejected_busy;
  else if (!password)
    reason = "unknown", refusals = &counters_.rejected_unknown;
  else if (const auto login = ai::get_login_request(f.data); !login || login->password != *password)
    reason = "bad_password", refusals = &counters_.rejected_bad_password;
  else if (!enabled)
    reason = "disabled", refusals = &counters_.rejected_disabled;
  if (reason) {
    ++counters_.login_rejected;
    ++*refusals;
    if (std::strcmp(reason, "throttled") != 0 && std::strcmp(reason, "busy") != 0) {
      ++fails_this_second_;
      if (opt_.login_fail_limit) login_failed(src.from.ip, f.device);
    }
  } else if (!throttle_.empty()) {
    throttle_.erase(throttle_key(src.from.ip, f.device));
  }
  return reason;
}

void Router::device_login(const Source& src, const ai::FrameView& f) {
  if (!answer_unauthenticated(src)) return;
  std::uint32_t d = reg_.find_device(f.device);
  const char* reason = d == kNone ? login_refusal(src, f, nullptr, false)
                                  : login_refusal(src, f, &reg_.device(d).password, reg_.device(d).enabled);
  if (reason) {
    if (log_.session_events()) {
      EventLog::Line line("login_rejected");
      line.add("device", ai::format_device(f.device))
          .add("reason", reason)
          .add("transport", src.udp ? "udp" : "tcp")
          .add("peer", peer(src));
      if (!rate_limited("login_rejected", src.from.ip, line)) log_.session(line);
    }
    return reply(src, f, ai::status::fail, {}, {});
  }
  // A second login replaces the first, whichever transport either used.
  if (const int old = reg_.device(d).fd; old >= 0 && (src.udp || old != src.fd)) close(old, "replaced");
  if (reg_.device(d).udp_live) udp_expire(d, "replaced");
  DeviceState& dev = reg_.device(d);
  if (!src.udp) {
    Session& s = sess(src.fd);
    if (!(s.kind == Kind::device && s.ref == d)) unbind(src.fd, "replaced");  // someone else's session
    s.kind = Kind::device;
    s.ref = d;
    s.seen = now();
    if (dev.fd != src.fd) ++counters_.online_tcp;
    dev.fd = src.fd;
  } else {
    dev.udp_ip = src.from.ip;
    dev.udp_port = src.from.port;
    dev.udp_seen = now();
    dev.udp_live = true;
    ++counters_.online_udp;
  }
  dev.token = new_token();
  set_online(d, true);
  if (remote_) remote_->presence(dev, true);  // other nodes: the new token; a session there ends
  ++counters_.logins;
  if (log_.session_events())
    log_.session(EventLog::Line("login")
                     .add("device", ai::format_device(dev.id))
                     .add("group", reg_.groups()[dev.group].name)
                     .add("transport", src.udp ? "udp" : "tcp")
                     .add("peer", peer(src)));
  reply(src, f, ai::status::ok, login_reply(dev.token), {});
}

void Router::client_login(const Source& src, const ai::FrameView& f) {
  std::uint32_t ai_ = reg_.find_account(f.device);
  const char* reason = ai_ == kNone ? login_refusal(src, f, nullptr, false)
                                    : login_refusal(src, f, &reg_.account(ai_).password, reg_.account(ai_).enabled);
  if (reason) {
    EventLog::Line line("login_rejected");
    line.add("account", f.device).add("role", "client").add("reason", reason).add("peer", peer(src));
    if (!rate_limited("login_rejected", src.from.ip, line)) log_.session(line);
    return reply(src, f, ai::status::fail, {}, {});
  }
  if (const int old = reg_.account(ai_).fd; old >= 0 && old != src.fd) close(old, "replaced");
  Session& s = sess(src.fd);
  if (!(s.kind == Kind::client && s.ref == ai_)) unbind(src.fd, "replaced");  // someone else's session
  AccountState& a = reg_.account(ai_);
  if (a.fd != src.fd) ++counters_.clients;
  s.kind = Kind::client;
  s.ref = ai_;
  s.seen = now();
  a.fd = src.fd;
  a.token = new_token();
  ++counters_.logins;
  if (remote_) remote_->operators_changed();  // its groups' uplinks from other nodes
  log_.session(EventLog::Line("login").add("account", a.id).add("role", "client").add("name", a.name).add("peer", peer(src)));
  reply(src, f, ai::status::ok, login_reply(a.token), {});
}

void Router::udp_expire(std::uint32_t d, std::string_view reason) {
  DeviceState& dev = reg_.device(d);
  if (!dev.udp_live) return;
  dev.udp_live = false;
  --counters_.online_udp;
  if (dev.fd < 0) {
    set_online(d, false);
    if (log_.session_events())
      log_.session(EventLog::Line("logout")
                       .add("device", ai::format_device(dev.id))
                       .add("transport", "udp")
                       .add("reason", std::string(reason)));
  }
}

// Keeps `logged_in` and the group's online index together.
void Router::set_online(std::uint32_t d, bool online) {
  DeviceState& dev = reg_.device(d);
  if (dev.logged_in == online) return;
  dev.logged_in = online;
  if (dev.group >= online_.size()) online_.resize(dev.group + 1);
  auto& list = online_[dev.group];
  auto by_id = [this](std::uint32_t a, std::uint64_t id) { return reg_.device(a).id < id; };
  auto at = std::lower_bound(list.begin(), list.end(), dev.id, by_id);
  if (!online && remote_) remote_->presence(dev, false);
  if (console_) console_->presence(dev.id, online);
  if (online) {
    list.insert(at, d);
  } else if (at != list.end() && *at == d) {
    list.erase(at);
  } else {  // the device changed group while online (a registry reload): find it anywhere
    for (auto& l : online_) std::erase(l, d);
  }
}

bool Router::online_index_consistent() const {
  std::size_t listed = 0;
  for (std::uint32_t g = 0; g < online_.size(); ++g) {
    const auto& list = online_[g];
    for (std::size_t i = 0; i < list.size(); ++i) {
      const DeviceState& dev = reg_.devices()[list[i]];
      if (!dev.logged_in || dev.group != g) return false;
      if (i && reg_.devices()[list[i - 1]].id >= dev.id) return false;
    }
    listed += list.size();
  }
  std::size_t logged_in = 0;
  for (const auto& dev : reg_.devices()) logged_in += dev.logged_in;
  return listed == logged_in;
}

// ---- device commands -----------------------------------------------------------------------

void Router::device_frame(std::uint32_t d, const Source& src, const ai::FrameView& f) {
  DeviceState& dev = reg_.device(d);
  if (src.udp) {  // any authenticated datagram records where the device is reachable now
    if (!dev.udp_live) ++counters_.online_udp;
    if (remote_ && (!dev.udp_live || dev.udp_ip != src.from.ip || dev.udp_port != src.from.port)) {
      dev.udp_live = true, dev.udp_ip = src.from.ip, dev.udp_port = src.from.port;
      remote_->presence(dev, true);  // other nodes' group lists show the new endpoint
    }
    dev.udp_live = true;
    dev.udp_ip = src.from.ip;
    dev.udp_port = src.from.port;
    dev.udp_seen = now();
  }
  if (f.status != ai::status::request) return route_reply(d, src, f);
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
    case ai::cmd::term_ota_frame:
      return ota_frame(d, src, f);
    case ai::cmd::term_event:
      if (!f.data.empty() && f.data[0] == ai::event_code::upgrade) ota_active_.erase(d);
      [[fallthrough]];
    case ai::cmd::data_uplink:
      // The reply may close the device's own connection (a full send queue); `f` stays valid
      // until the end of the event (outbox.hpp), so the fan-out reads live bytes.
      reply(src, f, ai::status::ok, {}, tok);
      return to_clients(d, f.cls, f.cmd, f.data);
    default:
      return reply(src, f, ai::status::unsupported, {}, tok);
  }
}

bool Router::deliver(std::uint32_t d, std::uint16_t command, ByteView data, std::uint16_t seq, bool udp_only) {
  const DeviceState& dev = reg_.device(d);
  ai::FrameView f{static_cast<std::uint8_t>(command >> 8), static_cast<std::uint8_t>(command & 0xFF), seq, 0,
                  ai::status::request, dev.id, ByteView(dev.token), data};
  if (dev.fd >= 0 && !udp_only) {
    tx_.clear();
    if (!ai::encode(f, opt_.crc, tx_)) return false;
    return send_tcp(dev.fd, tx_);
  }
  if (!dev.udp_live) return false;
  send_frame(Source{true, -1, {dev.udp_ip, dev.udp_port}}, f);
  return true;
}

void Router::group_list(std::uint32_t d, const Source& src, const ai::FrameView& f) {
  const DeviceState& self = reg_.device(d);
  const Token tok = self.token;
  const auto req = ai::get_group_list_request(f.data);
  if (!req) return reply(src, f, ai::status::fail, {}, tok);
  const std::size_t start = req->start.value_or(0);
  // Over UDP the page holds what the datagram's reply budget has room for (router.hpp,
  // kUdpReplyFactor). A record with the platform's 8-byte token is 23 bytes, so at most
  // (room - empty reply) / 23 records are gathered, then the encoded reply (escapes included)
  // decides: the last record goes while it does not fit.
  const ai::FrameView empty{f.cls, f.cmd, f.seq, 0, ai::status::ok, f.device, ByteView(tok), {}};
  const std::size_t room = udp_room();
  std::size_t page = kGroupPage;
  if (room != SIZE_MAX) {
    const std::size_t base = ai::unescaped_size(empty);
    page = std::min(page, room > base ? (room - base) / kRecordSize : 0);
  }
  ai::GroupListReply list;
  std::size_t index = 0;
  bool more = false;  // members left after the page
  if (remote_) {  // cluster mode: members online here or on another node, by id
    for (std::uint32_t m : reg_.groups()[self.group].members) {
      const DeviceState& peer_dev = reg_.device(m);
      const RemotePeer* there = nullptr;
      if (m == d || peer_dev.removed || (!peer_dev.logged_in && !(there = remote_->find(peer_dev.id)))) continue;
      if (index++ < start) continue;
      if (list.devices.size() == page) {
        more = true;
        break;
      }
      ai::PeerRecord r = peer_record(peer_dev);
      if (there) {
        r.token.assign(there->token.begin(), there->token.end());
        r.ip = there->udp_live ? there->udp_ip : 0;
        r.port = there->udp_live ? there->udp_port : 0;
      }
      list.devices.push_back(std::move(r));
    }
  } else if (self.group < online_.size()) {
    list.devices.reserve(std::min(page, online_[self.group].size()));
    for (std::uint32_t m : online_[self.group]) {
      const DeviceState& peer_dev = reg_.device(m);
      if (m == d || !peer_dev.logged_in || peer_dev.group != self.group) continue;
      if (index++ < start) continue;
      if (list.devices.size() == page) {
        more = true;
        break;
      }
      list.devices.push_back(peer_record(peer_dev));
    }
  }
  Bytes out;
  ai::put_group_list_reply(out, list);
  if (room != SIZE_MAX) {
    ai::FrameView full = empty;
    while (!list.devices.empty() && (full.data = out, wire_size(full)) > room) {
      list.devices.pop_back();
      more = true;
      out.clear();
      ai::put_group_list_reply(out, list);
    }
    // An empty page means the end of the list: never send one that is empty for want of room.
    if (list.devices.empty() && more) return udp_capped(empty, wire_size(empty) + kRecordSize);
  }
  reply(src, f, ai::status::ok, out, tok);
}

// The online device `id` in the same group as `self` (index in `t`), or why there is none.
// Relay and P2P introduction refuse for the same reasons.
const char* Router::group_peer(const DeviceState& self, std::uint64_t id, std::uint32_t& t) {
  t = reg_.find_device(id);
  if (t == kNone) return "unknown";
  if (reg_.device(t).group != self.group) return "other_group";
  if (!reg_.device(t).online()) return "offline";
  return nullptr;
}

void Router::relay(std::uint32_t d, const Source& src, const ai::FrameView& f) {
  const std::uint64_t self_id = reg_.device(d).id;
  const Token tok = reg_.device(d).token;
  const char* refused = nullptr;
  std::uint32_t t = kNone;
  const auto req = ai::get_relay(f.data);  // the target and the payload for it
  if (!req)
    refused = "no target";
  else
    refused = group_peer(reg_.device(d), req->peer, t);
  // Not online here: another node may hold it (when the engine is unreachable, nobody can say).
  if (remote_ && refused && std::strcmp(refused, "offline") == 0 && (remote_->unavailable() || remote_->find(req->peer))) {
    Bytes data;
    ai::put_relay(data, ai::Relay{self_id, req->payload});
    return relay_remote(d, src, f, req->peer, data);
  }
  if (!refused) {
    // Delivered with the sender as the peer (m2m-protocol(7), COMMANDS, data.relay).
    Bytes data;
    data.reserve(f.data.size());
    ai::put_relay(data, ai::Relay{self_id, req->payload});
    // Relaying to oneself may close the sender here; everything used below was copied first.
    if (!deliver(t, ai::cmd::data_relay, data, next_seq_++)) refused = "send_failed";
  }
  relay_outcome(self_id, req ? req->peer : 0, req.has_value(), req ? req->payload.size() : 0, refused, false);
  reply(src, f, refused ? ai::status::fail : ai::status::ok, {}, tok);
}

// Counts a relay's outcome and writes its event (relay, or relay_refused with the reason), for
// a target held here or (remote) by another node.
void Router::relay_outcome(std::uint64_t from, std::uint64_t to, bool has_target, std::size_t bytes, const char* refused,
                           bool remote) {
  const std::string target = has_target ? ai::format_device(to) : std::string();
  if (refused) {
    ++counters_.drops;
    if (log_.session_events())
      log_.session(EventLog::Line("relay_refused").add("from", ai::format_device(from)).add("to", target).add("reason", refused));
    return;
  }
  ++counters_.relays;
  if (!log_.session_events()) return;
  EventLog::Line line("relay");
  line.add("from", ai::format_device(from)).add("to", target).add("bytes", bytes);
  if (remote) line.add("remote", true);
  log_.session(line);
}

void Router::p2p_request(std::uint32_t d, const Source& src, const ai::FrameView& f) {
  const DeviceState& self = reg_.device(d);
  const Token tok = self.token;
  const char* refused = nullptr;
  std::uint32_t t = kNone;
  const auto req = ai::get_p2p_request(f.data);
  const RemotePeer* there = nullptr;
  if (!req)
    refused = "no target";
  else if (!(refused = group_peer(self, req->target, t)) && !reg_.device(t).udp_live)
    refused = "no_udp_endpoint";
  else if (remote_ && refused && std::strcmp(refused, "offline") == 0 && remote_->unavailable())
    refused = remote_->unavailable();
  else if (remote_ && refused && std::strcmp(refused, "offline") == 0 && (there = remote_->find(req->target)))
    refused = there->udp_live ? nullptr : "no_udp_endpoint";
  const std::string target = req ? ai::format_device(req->target) : std::string();
  if (refused) {
    if (log_.session_events())
      log_.session(EventLog::Line("p2p_refused").add("from", ai::format_device(self.id)).add("to", target).add("reason", refused));
    return reply(src, f, ai::status::fail, {}, tok);
  }
  // The requester gets the target's record; the target gets the requester's (the introduction).
  Bytes about_target, about_self;
  ai::PeerRecord target_rec = peer_record(reg_.device(t));
  if (there) {  // held by another node, which sends the introduction from there
    target_rec.token.assign(there->token.begin(), there->token.end());
    target_rec.ip = there->udp_ip;
    target_rec.port = there->udp_port;
  }
  ai::put_p2p_peer(about_target, target_rec);
  ai::put_p2p_peer(about_self, peer_record(self));
  const std::uint64_t self_id = self.id;
  reply(src, f, ai::status::ok, about_target, tok);
  if (there)
    remote_->introduce(req->target, about_self);
  else
    deliver(t, ai::cmd::link_p2p_request, about_self, next_seq_++, /*udp_only=*/true);
  if (log_.session_events())
    log_.session(EventLog::Line("p2p").add("from", ai::format_device(self_id)).add("to", target));
}

void Router::to_clients(std::uint32_t d, std::uint8_t cls, std::uint8_t cmd, ByteView data) {
  const std::uint64_t dev_id = reg_.device(d).id;
  const std::size_t n = to_local_clients(dev_id, reg_.device(d).group, cls, cmd, data);
  if (cls == ai::cls::data) ++counters_.uplinks;
  if (remote_) remote_->uplink(dev_id, cls, cmd, data);
  if (console_) console_->uplink(dev_id, cls, cmd, data);
  if (log_.session_events()) log_.session(fan_out_line(dev_id, cls, data, n));
}

// An uplink or event of device `dev_id` (of `group`) to every account logged in here that may
// see the group; returns how many got it.
std::size_t Router::to_local_clients(std::uint64_t dev_id, std::uint32_t group, std::uint8_t cls, std::uint8_t cmd,
                                     ByteView data) {
  std::size_t n = 0;
  for (auto& a : reg_.accounts()) {
    if (a.fd < 0 || !reg_.can_see(a, group)) continue;
    ai::FrameView f{cls, cmd, a.next_seq++, 0, ai::status::request, dev_id, ByteView(a.token), data};
    send_frame(Source{false, a.fd, {}}, f);
    ++n;
  }
  return n;
}

// The uplink (data class) or event line of a fan-out to `clients` accounts.
EventLog::Line Router::fan_out_line(std::uint64_t dev_id, std::uint8_t cls, ByteView data, std::size_t clients) {
  EventLog::Line line(cls == ai::cls::data ? "uplink" : "event");
  line.add("device", ai::format_device(dev_id)).add("bytes", data.size()).add("clients", clients);
  return line;
}

// A device's reply to a forwarded client request goes back with the client's sequence. It is
// believed only over the session the request went out on: the device's token is known to its
// group, so a datagram from elsewhere could otherwise forge the answer.
namespace {
constexpr std::uint32_t kConsole = kNone - 1;  // Route::account of a console request
}

void Router::route_reply(std::uint32_t d, const Source& src, const ai::FrameView& f) {
  auto it = routes_.find(static_cast<std::uint64_t>(d) << 16 | f.seq);
  if (it == routes_.end() || it->second.cls != f.cls || it->second.cmd != f.cmd) return;  // e.g. a relay's ack
  const Route r = it->second;
  const bool same_session = r.device_fd >= 0 ? (!src.udp && src.fd == r.device_fd)
                                             : (src.udp && src.from == r.device_udp);
  if (!same_session) {
    ++counters_.drops;
    if (log_.session_events())
      log_.session(EventLog::Line("route_reply_refused")
                       .add("device", ai::format_device(f.device))
                       .add("reason", "other_session")
                       .add("peer", peer(src)));
    return;
  }
  routes_.erase(it);
  if (r.account == kConsole) {
    if (console_) console_->reply(r.corr, f.status, f.data);
    ++counters_.routed;
    return;
  }
  if (r.account == kNone) {  // an operator on another node
    if (remote_) remote_->command_reply(static_cast<std::uint32_t>(r.fd), r.corr, f.status, f.data);
    ++counters_.routed;
    return;
  }
  AccountState& a = reg_.account(r.account);
  if (a.fd != r.fd || a.fd < 0) return;  // the client left meanwhile
  ai::FrameView back{f.cls, f.cmd, r.client_seq, 0, f.status, f.device, ByteView(a.token), f.data};
  send_frame(Source{false, a.fd, {}}, back);
  ++counters_.routed;
}

// ---- platform clients ----------------------------------------------------------------------

void Router::client_frame(std::uint32_t a, const Source& src, const ai::FrameView& f) {
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

void Router::forward_to_device(std::uint32_t a, const Source& src, const ai::FrameView& f) {
  const std::uint64_t acc_id = reg_.account(a).id;
  const Token tok = reg_.account(a).token;
  std::uint32_t d = reg_.find_device(f.device);
  const char* refused = nullptr;
  if (d == kNone || !reg_.can_see(reg_.account(a), reg_.device(d).group))
    refused = "unknown";  // a device the account may not see is reported as unknown
  else if (!reg_.device(d).online() && remote_ && (remote_->unavailable() || remote_->find(f.device)) &&
           ai::command_key(f.cls, f.cmd) != ai::cmd::term_ota_start)
    return forward_remote(a, src, f, f.data);
  else if (!reg_.device(d).online())
    refused = "offline";
  std::uint16_t seq = next_seq_++;
  Route route{a, static_cast<std::int32_t>(src.fd), -1, {}, f.seq, f.cls, f.cmd, 0};
  ByteView data = f.data;
  Bytes filled;
  std::string message;
  if (!refused && ai::command_key(f.cls, f.cmd) == ai::cmd::term_ota_start) {
    refused = ota_start(d, f.data, filled, message);
    if (!filled.empty()) data = filled;
  }
  if (!refused) {
    const DeviceState& dev = reg_.device(d);
    route.device_fd = dev.fd;
    route.device_udp = {dev.udp_ip, dev.udp_port};
    if (!deliver(d, ai::command_key(f.cls, f.cmd), data, seq)) refused = "send_failed";
  }
  if (refused) {
    EventLog::Line line("route_refused");
    line.add("account", acc_id)
        .add("device", ai::format_device(f.device))
        .add("type", std::string(ai::type_name(f.cls, f.cmd)))
        .add("reason", refused);
    if (!message.empty()) line.add("message", message);
    log_.session(line);
    return reply(src, f, ai::status::fail, {}, tok);
  }
  route.expires = now() + static_cast<std::uint32_t>(opt_.route_timeout.count() / kTickMs);
  routes_[static_cast<std::uint64_t>(d) << 16 | seq] = route;
  if (log_.session_events()) log_.session(route_line(acc_id, f).add("seq", seq));
}

// The `route` event of an operator's request forwarded to a device (here or on another node).
EventLog::Line Router::route_line(std::uint64_t account, const ai::FrameView& f) {
  EventLog::Line line("route");
  line.add("account", account)
      .add("device", ai::format_device(f.device))
      .add("type", std::string(ai::type_name(f.cls, f.cmd)))
      .add("client_seq", f.seq);
  return line;
}

// ---- firmware updates (m2m-protocol(7), OTA UPDATES; m2m-server(1), FIRMWARE UPDATES) -------

ota::ImagePtr Router::image(const std::string& name, std::string& message, bool reload) {
  if (!reload)
    if (auto it = images_.find(name); it != images_.end()) return it->second;
  auto img = ota::load_from_dir(opt_.firmware_dir, name);
  if (!img) {
    message = img.error().message;
    return nullptr;
  }
  if (images_.size() >= 16 && !images_.count(name)) images_.erase(images_.begin());  // bounded
  return images_[name] = *img;
}

// An operator's term.ota_start on its way to device `d`. Without a firmware folder it goes as
// given (another server may serve the frames) unless its checksum is left out. With one, the
// file must be a plain name of a file there; a start without checksum gets the image's.
// Returns a refusal reason (the operator gets fail and a route_refused event) or null.
const char* Router::ota_start(std::uint32_t d, ByteView data, Bytes& filled, std::string& message) {
  std::string name;
  bool bare = false;
  if (auto file = ai::get_ota_start_without_checksum(data)) {
    name = std::move(*file);
    bare = true;
  } else if (auto start = ai::get_ota_start(data)) {
    name = std::move(start->file);
  } else {
    message = start.error().message;
    return "bad_body";
  }
  if (opt_.firmware_dir.empty()) {
    if (!bare) return nullptr;
    message = "no checksum given and the platform has no --firmware-dir to compute it from";
    return "no_firmware";
  }
  ota::ImagePtr img = image(name, message, /*reload=*/true);
  if (!img) return "no_firmware";
  if (bare && !ai::put_ota_start(filled, ai::OtaStart{name, img->sum})) {
    message = "file name not representable in GBK";
    return "bad_body";
  }
  ota_active_[d] = now();
  return nullptr;
}

// A device asks for a frame of the image: answered from memory, or fail (unknown file, frame
// past the end, a size whose reply would not fit the 1,400-byte limit); status unsupported
// when the platform serves no firmware.
void Router::ota_frame(std::uint32_t d, const Source& src, const ai::FrameView& f) {
  const Token tok = reg_.device(d).token;
  if (opt_.firmware_dir.empty()) return reply(src, f, ai::status::unsupported, {}, tok);
  auto req = ai::get_ota_frame_request(f.data);
  std::string message;
  ota::ImagePtr img;
  Result<ota::Slice> slice = unexpected<Error>(Error{});
  if (req && (img = image(req->file, message, /*reload=*/false)))
    slice = ota::serve(*img, req->file, req->frame, req->size);
  Bytes body;
  if (slice) {
    if (!ai::put_ota_frame_reply(body, ai::OtaFrameReply{req->file, req->frame, slice->count,
                                                         Bytes(slice->bytes.begin(), slice->bytes.end())}) ||
        ai::kMinFrame + 1 + tok.size() + body.size() > ai::kMaxFrame) {
      body.clear();
      message = "frame size " + std::to_string(req->size) + " does not fit the 1400-byte frame limit";
      slice = unexpected<Error>(Error{});
    }
  } else if (message.empty()) {
    message = req ? slice.error().message : req.error().message;
  }
  if (!slice) {
    if (log_.session_events())
      log_.session(EventLog::Line("ota_frame_refused")
                       .add("device", ai::format_device(f.device))
                       .add("message", message));
    return reply(src, f, ai::status::fail, {}, tok);
  }
  auto active = ota_active_.find(d);
  if (active != ota_active_.end()) active->second = now();
  unbudgeted_ = src.udp && active != ota_active_.end();
  reply(src, f, ai::status::ok, body, tok);
  unbudgeted_ = false;
}

void Router::add_terminal(std::uint32_t a, const Source& src, const ai::FrameView& f) {
  const AccountState& acc = reg_.account(a);
  const Token tok = acc.token;
  const std::uint64_t acc_id = acc.id;
  const char* refused = nullptr;
  DeviceRecord rec;
  const auto req = ai::get_add_terminal(f.data);
  if (!req) {
    refused = "bad_body";
  } else if (acc.first_group == kNone) {
    refused = "no_group";
  } else if (opt_.max_terminals_per_account && terminals_added_[acc_id] >= opt_.max_terminals_per_account) {
    refused = "quota";
  } else {
    rec.id = req->id;
    rec.password = req->password;
    rec.group = reg_.groups()[acc.first_group].name;
    rec.description = "added by account " + std::to_string(acc_id);
    if (reg_.find_device(rec.id) != kNone) refused = "exists";
  }
  if (refused) {
    log_.session(EventLog::Line("add_terminal_refused").add("account", acc_id).add("reason", refused));
    return reply(src, f, ai::status::fail, {}, tok);
  }
  ++terminals_added_[acc_id];  // counted now, so requests in flight cannot pass the quota
  // The reply waits for the write; the frame `f` is gone by then, so keep what it needs.
  auto finish = [this, a, acc_id, tok, rec, fd = src.fd, cls = f.cls, cmd = f.cmd, seq = f.seq,
                 device = f.device](const char* why) {
    if (why) {
      --terminals_added_[acc_id];
      log_.session(EventLog::Line("add_terminal_refused").add("account", acc_id).add("reason", why));
    } else {
      reg_.put_device(rec);
      log_.session(EventLog::Line("add_terminal").add("account", acc_id).add("device", ai::format_device(rec.id)).add("group", rec.group));
    }
    // Answer only the session that asked, if it is still there (not closed, not re-logged).
    const AccountState& acc = reg_.account(a);
    if (!live(fd) || sess(fd).kind != Kind::client || sess(fd).ref != a || acc.fd != fd || acc.token != tok) return;
    ai::FrameView req{cls, cmd, seq, 0, ai::status::request, device, {}, {}};
    reply(Source{false, fd, {}}, req, why ? ai::status::fail : ai::status::ok, {}, tok);
  };
  if (!store_) return finish(nullptr);
  store_->insert_device(rec, std::move(finish));
}

void Router::revoke_device(std::uint32_t d, std::string_view reason) {
  const DeviceState& dev = reg_.device(d);
  if (dev.fd >= 0) close(dev.fd, reason);
  if (reg_.device(d).udp_live) udp_expire(d, reason);
}

void Router::revoke_account(std::uint32_t a, std::string_view reason) {
  if (reg_.account(a).fd >= 0) close(reg_.account(a).fd, reason);
}

// ---- cluster mode (remote.hpp; m2m-server(1), CLUSTER) --------------------------------------

bool Router::same_sender(std::uint32_t d, const Source& src, const Token& tok) const {
  const DeviceState& dev = reg_.devices()[d];
  if (!dev.logged_in || dev.token != tok) return false;
  if (src.udp) return dev.udp_live;
  return live(src.fd) && sessions_[static_cast<std::size_t>(src.fd)].kind == Kind::device &&
         sessions_[static_cast<std::size_t>(src.fd)].ref == d && dev.fd == src.fd;
}

// A relay to a device another node holds: the sender's reply waits for that node's answer
// (ok once the frame was handed to the target's connection there), as a local relay's does.
void Router::relay_remote(std::uint32_t d, const Source& src, const ai::FrameView& f, std::uint64_t target,
                          ByteView body) {
  const Token tok = reg_.device(d).token;
  const std::uint64_t self_id = reg_.device(d).id;
  const std::size_t bytes = body.size() >= 8 ? body.size() - 8 : 0;
  auto finish = [this, d, src, tok, self_id, target, bytes, cls = f.cls, cmd = f.cmd, seq = f.seq](const char* refused) {
    relay_outcome(self_id, target, true, bytes, refused, true);
    if (!same_sender(d, src, tok)) return;  // the sender left or logged in again meanwhile
    ai::FrameView req{cls, cmd, seq, 0, ai::status::request, self_id, {}, {}};
    reply(src, req, refused ? ai::status::fail : ai::status::ok, {}, tok);
  };
  if (const char* why = remote_->unavailable()) return finish(why);
  remote_->relay(target, body, std::move(finish));
}

// An operator's request for a device another node holds: the device's reply comes back here
// and goes to the operator with the operator's sequence number.
void Router::forward_remote(std::uint32_t a, const Source& src, const ai::FrameView& f, ByteView data) {
  const AccountState& acc = reg_.account(a);
  const Token tok = acc.token;
  const std::uint64_t acc_id = acc.id;
  auto finish = [this, a, tok, acc_id, fd = src.fd, cls = f.cls, cmd = f.cmd, client_seq = f.seq,
                 device = f.device](std::uint8_t status, ByteView body, const char* refused) {
    if (refused) {
      log_.session(EventLog::Line("route_refused")
                       .add("account", acc_id)
                       .add("device", ai::format_device(device))
                       .add("type", std::string(ai::type_name(cls, cmd)))
                       .add("reason", refused));
      status = ai::status::fail;
      body = {};
    } else {
      ++counters_.routed;
    }
    const AccountState& acc = reg_.account(a);
    if (!live(fd) || sess(fd).kind != Kind::client || sess(fd).ref != a || acc.fd != fd || acc.token != tok) return;
    ai::FrameView back{cls, cmd, client_seq, 0, status, device, ByteView(acc.token), body};
    send_frame(Source{false, fd, {}}, back);
  };
  if (const char* why = remote_->unavailable()) return finish(ai::status::fail, {}, why);
  if (log_.session_events()) log_.session(route_line(acc_id, f).add("remote", true));
  remote_->command(f.device, ai::command_key(f.cls, f.cmd), data, std::move(finish));
}

const char* Router::remote_relay(std::uint64_t target, ByteView body) {
  const std::uint32_t t = reg_.find_device(target);
  if (t == kNone) return "unknown";
  if (!reg_.device(t).online()) return "offline";
  if (!deliver(t, ai::cmd::data_relay, body, next_seq_++)) return "send_failed";
  return nullptr;
}

const char* Router::remote_command(std::uint32_t origin, std::uint32_t corr, std::uint64_t target,
                                   std::uint16_t command, ByteView data) {
  const std::uint32_t d = reg_.find_device(target);
  if (d == kNone) return "unknown";
  if (!reg_.device(d).online()) return "offline";
  const DeviceState& dev = reg_.device(d);
  const std::uint16_t seq = next_seq_++;
  Route route{kNone, static_cast<std::int32_t>(origin), dev.fd, {dev.udp_ip, dev.udp_port},
              0, static_cast<std::uint8_t>(command >> 8), static_cast<std::uint8_t>(command & 0xFF), 0, corr};
  if (!deliver(d, command, data, seq)) return "send_failed";
  route.expires = now() + static_cast<std::uint32_t>(opt_.route_timeout.count() / kTickMs);
  routes_[static_cast<std::uint64_t>(d) << 16 | seq] = route;
  return nullptr;
}

const char* Router::console_command(std::uint32_t corr, std::string_view user, std::uint64_t id,
                                    std::uint16_t command, ByteView data, std::string& message) {
  const std::uint32_t d = reg_.find_device(id);
  const auto cls = static_cast<std::uint8_t>(command >> 8), cmd = static_cast<std::uint8_t>(command & 0xFF);
  const char* refused = nullptr;
  Bytes filled;
  if (d == kNone)
    refused = "unknown";
  else if (!reg_.device(d).online())
    refused = "offline";
  else if (command == ai::cmd::term_ota_start) {
    refused = ota_start(d, data, filled, message);
    if (!filled.empty()) data = filled;
  }
  const std::uint16_t seq = next_seq_++;
  if (!refused && !deliver(d, command, data, seq)) refused = "send_failed";
  EventLog::Line line(refused ? "route_refused" : "route");
  line.add("console_user", std::string(user))
      .add("device", ai::format_device(id))
      .add("type", std::string(ai::type_name(cls, cmd)));
  if (refused) {
    line.add("reason", refused);
    if (!message.empty()) line.add("message", message);
    log_.session(line);
    return refused;
  }
  const DeviceState& dev = reg_.device(d);
  Route route{kConsole, -1, dev.fd, {dev.udp_ip, dev.udp_port}, 0, cls, cmd, 0, corr};
  route.expires = now() + static_cast<std::uint32_t>(opt_.route_timeout.count() / kTickMs);
  routes_[static_cast<std::uint64_t>(d) << 16 | seq] = route;
  if (log_.session_events()) log_.session(line.add("seq", seq));
  return nullptr;
}

void Router::remote_uplink(std::uint64_t device, std::uint8_t cls, std::uint8_t cmd, ByteView data) {
  const std::uint32_t d = reg_.find_device(device);
  if (d == kNone) return;
  const std::size_t n = to_local_clients(device, reg_.device(d).group, cls, cmd, data);
  if (n && log_.session_events()) log_.session(fan_out_line(device, cls, data, n).add("remote", true));
}

void Router::remote_introduce(std::uint64_t target, ByteView about) {
  const std::uint32_t t = reg_.find_device(target);
  if (t != kNone && reg_.device(t).udp_live) deliver(t, ai::cmd::link_p2p_request, about, next_seq_++, /*udp_only=*/true);
}

void Router::moved(std::uint64_t id) {
  const std::uint32_t d = reg_.find_device_any(id);
  if (d != kNone && reg_.device(d).online()) revoke_device(d, "moved");
}

// ---- time ----------------------------------------------------------------------------------

void Router::sweep() {
  const std::uint32_t t = now();
  for (std::size_t fd = 0; fd < sessions_.size(); ++fd) {
    const Session& s = sessions_[fd];
    if (live(static_cast<int>(fd)) && t - s.seen > timeout_ticks_) close(static_cast<int>(fd), "timeout");
  }
  auto& devs = reg_.devices();
  for (std::uint32_t d = 0; d < devs.size(); ++d)
    if (devs[d].udp_live && t - devs[d].udp_seen > timeout_ticks_) udp_expire(d, "timeout");
  for (auto it = routes_.begin(); it != routes_.end();) {
    if (static_cast<std::int32_t>(t - it->second.expires) > 0)
      it = routes_.erase(it);
    else
      ++it;
  }
  const auto window = static_cast<std::uint32_t>(opt_.login_fail_window.count() / kTickMs);
  for (auto it = throttle_.begin(); it != throttle_.end();) {
    if (static_cast<std::int32_t>(t - it->second.blocked_until) > static_cast<std::int32_t>(window))
      it = throttle_.erase(it);
    else
      ++it;
  }
  if (throttle_.empty() && throttle_.bucket_count() > 1024) throttle_ = {};  // give the memory back
  const auto ota_idle = static_cast<std::uint32_t>(10 * 60 * 1000 / kTickMs);  // 10 min without a frame
  for (auto it = ota_active_.begin(); it != ota_active_.end();) {
    if (t - it->second > ota_idle)
      it = ota_active_.erase(it);
    else
      ++it;
  }
  flush_repeated();
}

void Router::shutdown() {
  for (std::size_t fd = 0; fd < sessions_.size(); ++fd) close(static_cast<int>(fd), "shutdown");
  for (std::uint32_t d = 0; d < reg_.devices().size(); ++d)
    if (reg_.device(d).udp_live) udp_expire(d, "shutdown");
}

Token Router::new_token() {
  Token t{};
  if (getrandom(t.data(), t.size(), 0) != static_cast<ssize_t>(t.size())) {
    // getrandom cannot fail for 8 bytes once the pool is initialised; keep a fallback anyway.
    static std::uint64_t counter = 0x9E3779B97F4A7C15ull;
    counter = counter * 6364136223846793005ull + 1442695040888963407ull;
    std::memcpy(t.data(), &counter, t.size());
  }
  return t;
}

std::string Router::peer(const Source& src) const { return net::format_endpoint(src.from); }

}  // namespace m2m::platform
