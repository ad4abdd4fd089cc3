// A fake event loop for the router: an Outbox and a Clock that record what the router sends,
// per-connection deframers owned like the real loop's (freed only at the end of an event),
// send-queue budgets so that a send can overflow and close a connection, and an invariant
// check. Used by tests/unit/platform_router_test.cpp and tests/fuzz/router_fuzz.cpp; no test
// framework in here (violations are collected as strings).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "m2m/deframer.hpp"
#include "m2m/frame.hpp"
#include "m2m/link.hpp"
#include "platform/registry.hpp"
#include "platform/router.hpp"

namespace m2m::platform::testing {

struct Sent {
  bool udp = false;
  int fd = -1;
  net::Endpoint to;
  ai::Frame frame;
  std::size_t wire = 0;  // bytes of the send this frame came in (0 for later frames of one send)
};

inline ai::Password pw(std::string_view text) {
  ai::Password p{};
  for (std::size_t i = 0; i < text.size() && i < p.size(); ++i) p[i] = static_cast<std::uint8_t>(text[i]);
  return p;
}

inline ai::Frame login_frame(std::uint64_t id, std::string_view password, std::uint8_t cls = ai::cls::link,
                             std::uint16_t seq = 1) {
  auto p = pw(password);
  return ai::Frame{cls, 0x00, seq, 0, ai::status::request, id, {}, Bytes(p.begin(), p.end())};
}

inline ai::Frame request(std::uint8_t cls, std::uint8_t cmd, std::uint64_t id, const Token& token, Bytes data = {},
                         std::uint16_t seq = 1, std::uint8_t status = ai::status::request) {
  return ai::Frame{cls, cmd, seq, 0, status, id, Bytes(token.begin(), token.end()), std::move(data)};
}

class Harness final : public Outbox, public Clock {
 public:
  explicit Harness(RouterOptions opt = {}, TerminalStore* store = nullptr)
      : log(false, [this](const std::string& line) { if (keep_events) events.push_back(nlohmann::json::parse(line)); }),
        router(reg, store, opt, *this, *this, log) {}
  Harness(const Harness&) = delete;

  Registry reg;
  std::vector<nlohmann::json> events;
  EventLog log;
  Router router;
  std::uint32_t tick = 1;
  std::map<int, std::size_t> budget;  // bytes a connection's send queue may still take; absent: unlimited
  std::vector<Sent> sent;
  std::set<int> closing;
  std::vector<std::string> violations;
  bool keep_events = true;

  // ---- Outbox, Clock
  const char* send_tcp(int fd, ByteView bytes) override {
    if (!conns_.count(fd)) violations.push_back("send to a free connection " + std::to_string(fd));
    if (closing.count(fd)) violations.push_back("send to a closing connection " + std::to_string(fd));
    if (auto it = budget.find(fd); it != budget.end()) {
      if (bytes.size() > it->second) return "slow_reader";
      it->second -= bytes.size();
    }
    record(false, fd, {}, bytes);
    return nullptr;
  }
  bool send_udp(const net::Endpoint& to, ByteView bytes) override {
    record(true, -1, to, bytes);
    return true;
  }
  void close(int fd) override {
    if (!conns_.count(fd)) violations.push_back("close of a free connection " + std::to_string(fd));
    if (!closing.insert(fd).second) violations.push_back("second close of " + std::to_string(fd));
  }
  std::uint32_t now_tick() const override { return tick; }

  // ---- the loop's side
  void add_device(std::uint64_t id, std::string_view password, std::string group = "g1", bool enabled = true) {
    DeviceRecord r;
    r.id = id;
    r.password = pw(password);
    r.group = std::move(group);
    r.enabled = enabled;
    reg.put_device(r);
  }
  void add_account(std::uint64_t id, std::string_view password, std::vector<std::string> groups) {
    AccountRecord a;
    a.id = id;
    a.name = "acc" + std::to_string(id);
    a.password = pw(password);
    a.all_groups = groups.size() == 1 && groups[0] == "*";
    if (!a.all_groups) a.groups = std::move(groups);
    reg.put_account(a);
  }
  static net::Endpoint addr(std::uint32_t last_octet, std::uint16_t port) { return {0x7F000000u | last_octet, port}; }

  void connect(int fd, net::Endpoint from = addr(1, 40000)) {
    if (conns_.count(fd)) violations.push_back("accept on an open descriptor " + std::to_string(fd));
    conns_[fd] = std::make_unique<ai::Deframer>();
    from_[fd] = from;
    router.opened(fd, from);
  }
  bool open(int fd) const { return conns_.count(fd) != 0; }

  // One read of `bytes` on `fd`, handled as the loop does, then the end of the event.
  void tcp_bytes(int fd, ByteView bytes) {
    if (!conns_.count(fd) || !router.handles(fd)) return end_event();
    ai::Deframer& d = *conns_[fd];  // freed only by end_event(), as in the real loop
    d.feed(bytes);
    const Source src{false, fd, from_[fd]};
    ai::DeframeEvent ev;
    while (router.handles(fd) && d.next(ev)) {
      if (ev.ok)
        router.frame(src, ev.frame);
      else
        router.bad_frame(src, ev.error);
    }
    end_event();
  }
  void tcp(int fd, const ai::Frame& f) { tcp_bytes(fd, wire(f)); }
  void udp_bytes(const net::Endpoint& from, ByteView bytes) {
    ai::Deframer d;
    d.feed(bytes);
    router.begin_datagram();
    const Source src{true, -1, from};
    ai::DeframeEvent ev;
    while (d.next(ev)) {
      if (ev.ok)
        router.frame(src, ev.frame);
      else
        router.bad_frame(src, ev.error);
    }
    end_event();
  }
  void udp(const net::Endpoint& from, const ai::Frame& f) { udp_bytes(from, wire(f)); }
  void hang_up(int fd) {  // the peer closed: the loop's recv() returned 0
    router.close(fd, "closed");
    end_event();
  }
  void sweep() {
    router.sweep();
    end_event();
  }
  void end_event() {
    for (int fd : closing) {
      conns_.erase(fd);  // frees the deframer: the router must hold no view into it now
      from_.erase(fd);
      budget.erase(fd);
      router.released(fd);
    }
    closing.clear();
    check_invariants();
  }

  static Bytes wire(const ai::Frame& f) {
    Bytes out;
    (void)ai::encode(f.view(), CrcVariant::modbus, out);
    return out;
  }

  // ---- observations
  std::vector<ai::Frame> to_fd(int fd) const {
    std::vector<ai::Frame> out;
    for (const auto& s : sent)
      if (!s.udp && s.fd == fd) out.push_back(s.frame);
    return out;
  }
  std::vector<ai::Frame> to_udp(const net::Endpoint& ep) const {
    std::vector<ai::Frame> out;
    for (const auto& s : sent)
      if (s.udp && s.to == ep) out.push_back(s.frame);
    return out;
  }
  // Wire bytes of every datagram sent to `ep`.
  std::size_t udp_bytes_to(const net::Endpoint& ep) const {
    std::size_t n = 0;
    for (const auto& s : sent)
      if (s.udp && s.to == ep) n += s.wire;
    return n;
  }
  // The last frame sent to fd, if any.
  std::optional<ai::Frame> last_to(int fd) const {
    auto v = to_fd(fd);
    if (v.empty()) return std::nullopt;
    return v.back();
  }
  // Logs in over TCP; returns the token (empty on refusal).
  std::optional<Token> tcp_login(int fd, std::uint64_t id, std::string_view password, std::uint8_t cls = ai::cls::link) {
    tcp(fd, login_frame(id, password, cls));
    auto r = last_to(fd);
    if (!r || r->cmd != 0) return std::nullopt;
    return token_of(*r);
  }
  std::optional<Token> udp_login(const net::Endpoint& from, std::uint64_t id, std::string_view password) {
    udp(from, login_frame(id, password));
    auto v = to_udp(from);
    if (v.empty()) return std::nullopt;
    return token_of(v.back());
  }
  // The token of an ok login reply (link.hpp, LoginReply); nothing for a refusal.
  static std::optional<Token> token_of(const ai::Frame& reply) {
    if (reply.status != ai::status::ok) return std::nullopt;
    auto r = ai::get_login_reply(reply.data);
    if (!r || r->token.size() != sizeof(Token)) return std::nullopt;
    Token t;
    std::copy(r->token.begin(), r->token.end(), t.begin());
    return t;
  }
  // Events called `name` (optionally with field == value).
  std::vector<nlohmann::json> find(const std::string& name, const std::string& field = {},
                                   const nlohmann::json& value = {}) const {
    std::vector<nlohmann::json> out;
    for (const auto& e : events)
      if (e.value("event", "") == name && (field.empty() || (e.contains(field) && e[field] == value))) out.push_back(e);
    return out;
  }

  // What must hold between events: every bound device/account points at an open, non-closing
  // connection whose session points back; the online counters match the registry.
  void check_invariants() {
    std::uint64_t tcp = 0, udp = 0, clients = 0;
    for (std::uint32_t d = 0; d < reg.devices().size(); ++d) {
      const DeviceState& dev = reg.device(d);
      if (dev.udp_live) ++udp;
      if (dev.fd < 0) continue;
      ++tcp;
      const auto* s = router.session(dev.fd);
      if (!conns_.count(dev.fd) || !s || s->kind != Router::Kind::device || s->ref != d)
        violations.push_back("device " + ai::format_device(dev.id) + " bound to fd " + std::to_string(dev.fd) +
                             " that does not carry it");
      if (!dev.logged_in) violations.push_back("device with a session but no login " + ai::format_device(dev.id));
    }
    for (std::uint32_t a = 0; a < reg.accounts().size(); ++a) {
      const AccountState& acc = reg.account(a);
      if (acc.fd < 0) continue;
      ++clients;
      const auto* s = router.session(acc.fd);
      if (!conns_.count(acc.fd) || !s || s->kind != Router::Kind::client || s->ref != a)
        violations.push_back("account " + std::to_string(acc.id) + " bound to fd " + std::to_string(acc.fd) +
                             " that does not carry it");
    }
    if (!router.online_index_consistent()) violations.push_back("the online index disagrees with the registry");
    const Counters& c = router.counters();
    if (c.online_tcp != tcp || c.online_udp != udp || c.clients != clients)
      violations.push_back("counters online_tcp/udp/clients " + std::to_string(c.online_tcp) + "/" +
                           std::to_string(c.online_udp) + "/" + std::to_string(c.clients) + " != registry " +
                           std::to_string(tcp) + "/" + std::to_string(udp) + "/" + std::to_string(clients));
    for (std::size_t fd = 0; fd < router.session_slots(); ++fd) {
      const auto* s = router.session(static_cast<int>(fd));
      if (s->kind != Router::Kind::free && !conns_.count(static_cast<int>(fd)))
        violations.push_back("session on a free descriptor " + std::to_string(fd));
    }
  }

 private:
  void record(bool udp, int fd, net::Endpoint to, ByteView bytes) {
    ai::Deframer d;
    d.feed(bytes);
    ai::DeframeEvent ev;
    std::size_t wire = bytes.size();
    while (d.next(ev))
      if (ev.ok) sent.push_back(Sent{udp, fd, to, ai::Frame::from(ev.frame), std::exchange(wire, 0)});
      else violations.push_back("the router sent a bad frame");
  }

  std::map<int, std::unique_ptr<ai::Deframer>> conns_;
  std::map<int, net::Endpoint> from_;
};

}  // namespace m2m::platform::testing
