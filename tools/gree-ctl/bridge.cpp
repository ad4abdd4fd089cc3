// `gree-ctl bridge`: each Gree unit on the line as an AI-Cloud device. One lib/device Session
// and one cloud connection per unit, all in one lib/net event loop (net::Loop: non-blocking
// connects, bounded send queues); the serial line is driven from the loop's tick (Link's
// bounded exchanges). What a unit means to the cloud — the
// downlink commands, the payloads, fault events, config parameters — is lib/gree/bridge.
//
// Safety (issue 12): on the bus a unit is read by re-sending its last known code, and a `set`
// goes on top of it; a unit with no known code is refused before anything is sent.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <set>

#include "bridge/gree_bridge.hpp"
#include "cli/cli.hpp"
#include "commands.hpp"
#include "core/units.hpp"
#include "core/version.hpp"
#include "device/session.hpp"
#include "m2m/deframer.hpp"
#include "m2m/term.hpp"
#include "net/loop.hpp"
#include "net/socket.hpp"

namespace gree_ctl {

using m2m::cli::Exit;
using namespace m2m::gree;
namespace ai = m2m::ai;
namespace dev = m2m::device;
using Clock = dev::Clock;
using Time = dev::Time;
using std::chrono::milliseconds;

namespace {

constexpr milliseconds kTick{20};  // the loop's tick: sessions and the serial line are driven there
constexpr milliseconds kMaxBackoff{60000};
constexpr std::size_t kMaxQueuedEvents = 32;

void log(Json j) {
  Json line;
  line["ts"] = m2m::cli::timestamp_now();
  for (auto& [k, v] : j.items()) line[k] = v;
  m2m::cli::write_line(line.dump());
}

milliseconds backoff(milliseconds base, int failures) {
  milliseconds d = std::max(base, milliseconds(200));
  for (int i = 1; i < failures && d < kMaxBackoff; ++i) d *= 2;
  return std::min(d, kMaxBackoff);
}

// One unit: its cloud session and connection, and what the bridge knows of it.
struct Unit final : dev::Sink {
  BridgeUnit spec;
  KnownState known;
  dev::Session session;
  m2m::net::Loop* loop = nullptr;
  int fd = -1;                     // the cloud connection, connecting or up; -1: none
  bool up = false;                 // connected
  std::string peer;                // format_address of the address it goes to
  std::vector<m2m::net::Address> addrs;  // of the server, tried in turn
  std::size_t next_addr = 0;
  ai::Deframer deframer;
  std::vector<dev::Event> events;  // from session.poll(), handled after it returns
  std::optional<m2m::Error> send_error;
  m2m::Bytes wire;

  std::optional<Status> last;          // last status read
  std::optional<Status> last_uplinked;
  Time last_uplink{};
  bool uplink_due = true;              // the state goes up at the next chance (login, change)
  std::deque<std::string> pending;     // event descriptions waiting for a session
  std::string trouble;                 // current serial trouble kind; empty: fine
  int failures = 0;
  Time next_poll{};
  DeviceParams params;

  Unit(const BridgeUnit& u, const KnownState& k, const dev::SessionConfig& cfg, DeviceParams p)
      : spec(u), known(k), session(cfg, u.device, &spec.password), params(std::move(p)) {}

  bool online() const { return fd >= 0 && up; }
  // Closes the connection (the loop frees it at the end of the event).
  void drop() {
    if (fd >= 0) loop->close(fd);
    fd = -1;
    up = false;
  }

  void send(const ai::FrameView& f) override {
    if (send_error || !online()) return;
    wire.clear();
    if (auto r = ai::encode(f, m2m::CrcVariant::modbus, wire); !r) {
      send_error = r.error();
      return;
    }
    if (const char* why = loop->send(fd, wire)) {
      const bool slow = std::strcmp(why, "slow_reader") == 0;
      send_error = m2m::Error{slow ? m2m::ErrorKind::timeout : m2m::ErrorKind::unavailable, 0,
                              "send to " + peer + (slow ? ": the platform does not read (send queue full)" : ": failed")};
    }
  }
  void event(const dev::Event& e) override { events.push_back(e); }

  std::string device() const { return ai::format_device(spec.device); }
};

m2m::net::Loop::Options loop_options() {
  m2m::net::Loop::Options o;
  o.tick = kTick;
  return o;
}

class Bridge final : m2m::net::Loop::Handler {
 public:
  Bridge(const PortOptions& po, const BridgeOptions& bo, m2m::net::HostPort server)
      : po_(po), bo_(bo), server_(std::move(server)), store_(store_for(po)), loop_(*this, loop_options()) {
    cfg_.role = dev::Role::device;
    cfg_.heartbeat = milliseconds(30000);
    cfg_.max_attempts = 0;        // a device keeps trying to reach its platform
    cfg_.retry_refused = false;   // but a wrong password will not become right
  }

  // Refuses (usage) before touching the line or the network when a unit has no known code.
  int setup() {
    std::set<int> addrs;
    std::set<std::uint64_t> ids;
    for (const auto& text : bo_.units) {
      auto u = parse_bridge_unit(text);
      if (!u) return report(Failure{Exit::usage, u.error().message, "usage"});
      if (!addrs.insert(u->address).second)
        return report(Failure{Exit::usage, "--unit " + text + ": unit " + std::to_string(u->address) + " is given twice", "usage"});
      if (!ids.insert(u->device).second)
        return report(Failure{Exit::usage, "--unit " + text + ": device " + ai::format_device(u->device) + " is given twice", "usage"});
      auto k = known_code(po_, store_, u->address);
      if (!k) return report(k.error());
      units_.push_back(std::make_unique<Unit>(*u, *k, cfg_, DeviceParams(m2m::kToolkitVersion, server_.host, server_.port, 30)));
      units_.back()->loop = &loop_;
    }
    auto link = connect(po_);
    if (!link) return report(link.error());
    link_.emplace(std::move(*link));
    return -1;
  }

  int run() {
    start_ = Clock::now();
    for (auto& u : units_) {
      u->session.start(start_);
      u->next_poll = start_;
    }
    if (auto r = loop_.open(); !r) return report(Failure{Exit::failure, r.error().message, "io"});
    tick();  // the first round at once
    if (!stop_.requested() && loop_.run(stop_) != 0) return Exit::failure;
    return result_;
  }

 private:
  // ---- the loop's calls ------------------------------------------------------------------
  void finish(int rc) {
    result_ = rc;
    stop_.request();
  }

  // SIGINT/SIGTERM, --run-for, the serial side's polls and the sessions' timers.
  void tick() override {
    if (m2m::cli::interrupted()) return finish(Exit::interrupted_exit);
    const Time now = Clock::now();
    if (bo_.run_for.count() > 0 && now - start_ >= bo_.run_for) return finish(Exit::ok);
    for (auto& u : units_)
      if (now >= u->next_poll) poll_unit(*u, std::nullopt, true);
    for (auto& u : units_) drive(*u);
    if (std::all_of(units_.begin(), units_.end(), [](auto& u) { return u->session.state() == dev::Session::State::failed; })) {
      m2m::cli::error(kProg, "every unit's login was refused: check the device ids and passwords");
      finish(Exit::refused);
    }
  }

  Unit* unit_of(int fd) {
    for (auto& u : units_)
      if (u->fd == fd) return u.get();
    return nullptr;
  }

  const char* accepted(int, int, const m2m::net::Address&) override { return "not listening"; }

  void connected(int fd, const m2m::Error* failure) override {
    Unit* u = unit_of(fd);
    if (!u) return;
    if (!failure) {
      u->up = true;
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // frames are small and interactive
      u->session.connected(Clock::now());
    } else {
      u->fd = -1;  // the loop closes it
      m2m::Error e{failure->kind, 0, "connect " + u->peer + ": " + failure->message};
      if (!connect_next(*u, e)) connect_failed(*u, e);
    }
    drive(*u);
  }

  void received(int fd, m2m::ByteView bytes) override {
    Unit* u = unit_of(fd);
    if (!u || !u->online()) return;
    u->deframer.feed(bytes);
    ai::DeframeEvent ev;
    while (u->fd == fd && u->deframer.next(ev))
      if (ev.ok) on_frame(*u, ev.frame);
    drive(*u);
  }

  void ended(int fd, const char* reason) override {
    Unit* u = unit_of(fd);
    if (!u) return;
    if (std::strcmp(reason, "closed") == 0)
      lost(*u, m2m::Error{m2m::ErrorKind::closed, 0, "connection closed by " + u->peer});
    else
      lost(*u, m2m::Error{m2m::ErrorKind::unavailable, 0, "receive from " + u->peer + ": connection " + reason});
    drive(*u);
  }

  // Starts a connect to the server's next address; false when none is left (then `last` is
  // why the last one failed, or the resolver's error).
  bool connect_next(Unit& u, m2m::Error& last) {
    while (u.next_addr < u.addrs.size()) {
      const m2m::net::Address& a = u.addrs[u.next_addr++];
      u.peer = m2m::net::format_address(a);
      auto fd = loop_.connect(a);
      if (fd) {
        u.fd = *fd;
        return true;
      }
      last = std::move(fd).error();
    }
    return false;
  }

  void connect_failed(Unit& u, const m2m::Error& e) {
    log(Json{{"event", "connect_failed"}, {"unit", u.spec.address}, {"device", u.device()}, {"message", e.message}});
    u.session.connection_lost(Clock::now(), e.kind);
  }

  // The session asks for a connection: resolve (as each new attempt did) and connect.
  void start_connect(Unit& u) {
    u.drop();
    u.deframer = ai::Deframer();
    auto addrs = m2m::net::resolve(server_, false);
    if (!addrs) return connect_failed(u, addrs.error());
    u.addrs = std::move(*addrs);
    u.next_addr = 0;
    m2m::Error last{m2m::ErrorKind::unavailable, 0, "connect " + format_host_port(server_) + ": no address"};
    if (!connect_next(u, last)) connect_failed(u, last);
  }

 private:
  // ---- the cloud side ------------------------------------------------------------------
  // Lets the session do what is due; returns when it next has work.
  Time drive(Unit& u) {
    for (int round = 0; round < 4; ++round) {
      const Time now = Clock::now();
      u.events.clear();
      const Time next = u.session.poll(now, u);
      if (u.send_error) {
        lost(u, *std::exchange(u.send_error, std::nullopt));
        continue;
      }
      bool again = false;
      for (const dev::Event& e : std::vector<dev::Event>(u.events)) {
        switch (e.kind) {
          case dev::EventKind::connect:
            start_connect(u);  // the outcome comes to connected(), or failed at once
            again = u.fd < 0;
            break;
          default:
            session_event(u, e);
            break;
        }
      }
      if (!again) {
        if (u.session.logged_in()) flush(u);
        return next;
      }
    }
    return Clock::now();
  }

  // What the session reports, from poll() or from a frame (a refused login arrives as one).
  void session_event(Unit& u, const dev::Event& e) {
    switch (e.kind) {
      case dev::EventKind::login_failed:
        log(Json{{"event", "login_failed"}, {"unit", u.spec.address}, {"device", u.device()},
                 {"reason", std::string(m2m::to_string(e.reason))}, {"gave_up", e.at == dev::kNever}});
        if (e.at == dev::kNever)
          m2m::cli::error(kProg, "login of " + u.device() + " (unit " + std::to_string(u.spec.address) + ") at " +
                                     format_host_port(server_) + " refused; that unit stays offline");
        u.drop();
        break;
      case dev::EventKind::link_lost:
        log(Json{{"event", "link_lost"}, {"unit", u.spec.address}, {"device", u.device()}});
        u.drop();
        break;
      case dev::EventKind::request_timeout:
        log(Json{{"event", "no_reply"}, {"unit", u.spec.address}, {"device", u.device()}, {"seq", e.seq}});
        break;
      default: break;
    }
  }

  void lost(Unit& u, const m2m::Error& why) {
    log(Json{{"event", "disconnected"}, {"unit", u.spec.address}, {"device", u.device()}, {"message", why.message}});
    u.drop();
    u.session.connection_lost(Clock::now(), why.kind);
  }

  void transmit(Unit& u, ai::Frame& f, bool request) {
    if (!u.online()) return;
    f.device = u.spec.device;
    ai::FrameView v = f.view();
    u.session.stamp(v);
    if (request) u.session.sending(v, Clock::now(), Clock::now() + cfg_.reply_timeout);
    else u.session.sending(v, Clock::now(), dev::kNever);
    u.send(v);
    if (u.send_error) lost(u, *std::exchange(u.send_error, std::nullopt));
  }

  void reply(Unit& u, const ai::FrameView& req, std::uint8_t status, m2m::Bytes data = {}) {
    ai::Frame f{req.cls, req.cmd, req.seq, req.ext, status, u.spec.device, {}, std::move(data)};
    transmit(u, f, false);
  }

  void uplink(Unit& u, const std::string& payload) {
    ai::Frame f{ai::cls::data, 0xEE, u.session.next_seq(), 0, ai::status::request, u.spec.device, {},
                m2m::Bytes(payload.begin(), payload.end())};
    transmit(u, f, true);
  }

  // Sends what waited for the session: events, then the state when due.
  void flush(Unit& u) {
    while (!u.pending.empty() && u.online()) {
      m2m::Bytes data;
      if (ai::put_event(data, ai::Event{ai::event_code::working, u.pending.front()})) {
        ai::Frame f{ai::cls::term, 0xF0, u.session.next_seq(), 0, ai::status::request, u.spec.device, {}, std::move(data)};
        transmit(u, f, true);
        log(Json{{"event", "event"}, {"unit", u.spec.address}, {"device", u.device()}, {"description", u.pending.front()}});
      }
      u.pending.pop_front();
    }
    const Time now = Clock::now();
    if (u.last && u.online() && (u.uplink_due || now - u.last_uplink >= bo_.interval)) {
      uplink(u, state_payload(*u.last, po_.link.checksum));
      u.last_uplinked = u.last;
      u.last_uplink = now;
      u.uplink_due = false;
      log(Json{{"event", "uplink"}, {"unit", u.spec.address}, {"device", u.device()}, {"set_temp", u.last->code.set_temp()},
               {"room_temp", u.last->room_temp}});
    }
  }

  void queue_event(Unit& u, std::string description) {
    if (u.pending.size() >= kMaxQueuedEvents) u.pending.pop_front();
    u.pending.push_back(std::move(description));
  }

  void on_frame(Unit& u, const ai::FrameView& f) {
    const dev::Event e = u.session.on_frame(f, Clock::now());
    if (e.kind == dev::EventKind::logged_in) {
      log(Json{{"event", "logged_in"}, {"unit", u.spec.address}, {"device", u.device()}});
      u.session.set_heartbeat_interval(milliseconds(1000LL * u.params.heartbeat_seconds()), Clock::now());
      u.uplink_due = true;
      flush(u);
      return;
    }
    if (e.kind != dev::EventKind::frame || f.status != ai::status::request) return session_event(u, e);
    switch (ai::command_key(f.cls, f.cmd)) {
      case ai::cmd::data_downlink: return downlink(u, f);
      case ai::cmd::term_config_read: {
        auto v = f.data.size() == 2 ? u.params.read(m2m::get_le16(f.data.data())) : std::nullopt;
        return v ? reply(u, f, ai::status::ok, std::move(*v)) : reply(u, f, f.data.size() == 2 ? ai::status::unsupported : ai::status::fail);
      }
      case ai::cmd::term_config_write: {
        const std::uint8_t st = u.params.write(f.data);
        reply(u, f, st);
        if (st == ai::status::ok && m2m::get_le16(f.data.data()) == ai::param::heartbeat_interval)
          u.session.set_heartbeat_interval(milliseconds(1000LL * u.params.heartbeat_seconds()), Clock::now());
        return;
      }
      case ai::cmd::term_reboot: return reboot(u, f);
      default:
        log(Json{{"event", "unsupported"}, {"unit", u.spec.address}, {"device", u.device()},
                 {"type", std::string(ai::type_name(f.cls, f.cmd))}, {"class", f.cls}, {"cmd", f.cmd}});
        return reply(u, f, ai::status::unsupported);
    }
  }

  void downlink(Unit& u, const ai::FrameView& f) {
    auto d = parse_downlink(f.data);
    if (!d) {
      log(Json{{"event", "downlink_refused"}, {"unit", u.spec.address}, {"device", u.device()}, {"message", d.error().message}});
      reply(u, f, ai::status::fail);
      uplink(u, error_payload(u.spec.address, "bad_downlink", d.error().message));
      return;
    }
    log(Json{{"event", "downlink"}, {"unit", u.spec.address}, {"device", u.device()},
             {"command", d->kind == Downlink::Kind::set ? Json{{"set", d->patch}} : Json{{"status", true}}}});
    // The downlink's own reply goes first, then the resulting state (or the error), then
    // whatever events the exchange raised.
    auto outcome = poll_unit(u, d->kind == Downlink::Kind::set ? std::optional<Json>(d->patch) : std::nullopt, false);
    if (!outcome) {
      reply(u, f, ai::status::fail);
      uplink(u, error_payload(u.spec.address, outcome.error().kind, outcome.error().message));
      log(Json{{"event", "uplink_error"}, {"unit", u.spec.address}, {"device", u.device()}, {"kind", outcome.error().kind}});
      flush(u);
      return;
    }
    reply(u, f, ai::status::ok);
    u.uplink_due = true;
    const std::deque<std::string> events = std::exchange(u.pending, {});
    flush(u);  // the state
    u.pending = events;
    flush(u);
  }

  // term.reboot: answered first, then the line is re-opened and the unit logs in again.
  void reboot(Unit& u, const ai::FrameView& f) {
    reply(u, f, ai::status::ok);
    log(Json{{"event", "reboot"}, {"unit", u.spec.address}, {"device", u.device()}});
    u.drop();
    link_.reset();  // re-opened by the next poll
    port_failures_ = 0;
    u.session = dev::Session(cfg_, u.spec.device, &u.spec.password);
    u.session.start(Clock::now());
    u.last.reset();
    u.next_poll = Clock::now();
  }

  // ---- the serial side -----------------------------------------------------------------
  // Reads the unit (re-sending its last known code), or executes `patch` on top of it.
  // Success updates the record, fault events and the uplink schedule; failure is reported
  // as an event once per kind of trouble and retried with backoff.
  // `send_now`: flush what is due to the cloud at once (a downlink sends its reply first).
  Outcome<Status> poll_unit(Unit& u, const std::optional<Json>& patch, bool send_now = true) {
    const Time now = Clock::now();
    auto result = exchange(u, patch);
    if (!result) {
      ++u.failures;
      const milliseconds delay = backoff(bo_.poll, u.failures);
      u.next_poll = now + delay;
      if (u.trouble != result.error().kind) {
        u.trouble = result.error().kind;
        queue_event(u, "unit " + std::to_string(u.spec.address) + ": serial trouble (" + u.trouble + "): " +
                           result.error().message + "; retrying with backoff");
      }
      log(Json{{"event", "serial_error"}, {"unit", u.spec.address}, {"kind", result.error().kind},
               {"message", result.error().message}, {"retry_in", m2m::format_duration(delay)}});
      if (send_now && u.session.logged_in()) flush(u);
      return result;
    }
    const Status& s = *result;
    if (!u.trouble.empty())
      queue_event(u, "unit " + std::to_string(u.spec.address) + ": serial line working again (after " + u.trouble + ")");
    u.trouble.clear();
    u.failures = 0;
    u.next_poll = now + bo_.poll;
    for (auto& text : fault_changes(u.spec.address, u.last ? std::optional<std::uint8_t>(u.last->faults()) : std::nullopt, s.faults()))
      queue_event(u, std::move(text));
    if (!u.last_uplinked || *u.last_uplinked != s) u.uplink_due = true;
    u.last = s;
    if (send_now && u.session.logged_in()) flush(u);
    return result;
  }

  Outcome<Status> exchange(Unit& u, const std::optional<Json>& patch) {
    if (!link_) {
      if (Clock::now() < port_retry_at_)
        return failed(Exit::unavailable, po_.device + ": the port is gone; next attempt to open it in " +
                                             m2m::format_duration(std::chrono::duration_cast<milliseconds>(port_retry_at_ - Clock::now())),
                      "port_gone");
      auto l = connect(po_);
      if (!l) {
        port_retry_at_ = Clock::now() + backoff(bo_.poll, ++port_failures_);
        return failed(Exit::unavailable, l.error().message, "port_gone");
      }
      link_.emplace(std::move(*l));
      port_failures_ = 0;
    }
    RemoteCode code = u.known.code;
    if (patch) {
      auto c = addressed_code(u.known.code, *patch);
      if (!c || !*c) return failed(Exit::usage, c ? "nothing safe to send" : c.error().message, "bad_downlink");
      code = **c;
      link_->note("unit " + std::to_string(u.spec.address) + ": last known code " + u.known.code.hex() + "; sending " + code.hex());
    } else {
      link_->note("unit " + std::to_string(u.spec.address) + ": re-sending its last known code " + code.hex());
    }
    auto got = link_->exchange(Request{RequestKind::addressed, u.spec.address, code});
    if (!got) {
      if (got.error().exit == Exit::unavailable) {  // the port itself failed: re-open it with backoff
        link_.reset();
        port_retry_at_ = Clock::now() + backoff(bo_.poll, ++port_failures_);
        return failed(Exit::unavailable, got.error().message, "port_gone");
      }
      return m2m::unexpected<Failure>(got.error());
    }
    const Status s = **got;
    remember(store_, po_, s);
    u.known.code = s.settings();
    if (patch && !applied(s, code))
      return failed(Exit::protocol, "the unit did not apply the command: sent remote code " + code.hex() + ", unit reports " +
                                        s.settings().hex(), "not_applied");
    return s;
  }

  const PortOptions& po_;
  const BridgeOptions& bo_;
  m2m::net::HostPort server_;
  StateStore store_;
  dev::SessionConfig cfg_;
  std::vector<std::unique_ptr<Unit>> units_;
  std::optional<Link> link_;
  Time port_retry_at_{};
  int port_failures_ = 0;
  m2m::net::Loop loop_;
  m2m::net::Stop stop_;
  Time start_{};
  int result_ = Exit::interrupted_exit;
};

}  // namespace

int cmd_bridge(const PortOptions& po, const BridgeOptions& bo) {
  m2m::cli::install_interrupt_flag();
  if (bo.units.empty()) return report(Failure{Exit::usage, "give at least one --unit ADDR=DEVICE_ID:PASSWORD", "usage"});
  auto where = m2m::net::parse_host_port(bo.server);
  if (!where) return report(Failure{Exit::usage, "--server: " + where.error().message, "usage"});
  if (where->host.empty() || where->port == 0)
    return report(Failure{Exit::usage, "--server: '" + bo.server + "' names no host and port to connect to", "usage"});
  if (bo.poll.count() <= 0 || bo.interval.count() <= 0)
    return report(Failure{Exit::usage, "--poll and --interval must be longer than 0", "usage"});
  Bridge bridge(po, bo, *where);
  if (int rc = bridge.setup(); rc >= 0) return rc;
  return bridge.run();
}

}  // namespace gree_ctl
