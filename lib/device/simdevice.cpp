#include "device/simdevice.hpp"

#include <algorithm>

#include "m2m/data.hpp"
#include "m2m/link.hpp"
#include "m2m/term.hpp"

namespace m2m::device {
namespace {

std::string where(const ai::ServerAddr& a) { return a.host + ":" + std::to_string(a.port) + (a.tcp ? "" : "/udp"); }

// Session events poll() reported, handled after it returns (connect may call back in).
struct EventBuffer {
  Event e[4];
  unsigned n = 0;
};
thread_local EventBuffer* g_events = nullptr;

}  // namespace

std::string_view to_string(SimEventKind k) {
  switch (k) {
    case SimEventKind::connecting: return "connecting";
    case SimEventKind::login: return "login";
    case SimEventKind::login_failed: return "login_failed";
    case SimEventKind::logout: return "logout";
    case SimEventKind::gave_up: return "gave_up";
    case SimEventKind::reboot: return "reboot";
    case SimEventKind::token_mismatch: return "token_mismatch";
    case SimEventKind::unsupported: return "unsupported";
    case SimEventKind::config_write: return "config_write";
    case SimEventKind::ota: return "ota";
    case SimEventKind::p2p: return "p2p";
    case SimEventKind::reply: return "reply";
  }
  return "unknown";
}

SimDevice::SimDevice(const SimConfig& cfg, std::uint64_t id, const ai::Password& password, SimOutput& out)
    : cfg_(&cfg), out_(&out), session_(cfg.session, id, &password), params_(&cfg.defaults) {}

SimDevice::~SimDevice() = default;

const ai::ServerAddr& SimDevice::target() const {
  const ParamValues& v = params_.get();
  return (flags_ & kOnFallback) && v.has_fallback() ? v.fallback : v.server;
}

void SimDevice::note(SimEventKind k, std::string_view text, ErrorKind reason, std::uint8_t status) {
  out_->event(*this, SimEvent{k, text, reason, status});
}

void SimDevice::start(Time now) {
  now_ = now;
  session_.start(now);
}

void SimDevice::connected(Time now) {
  now_ = now;
  flags_ |= kConnected;
  session_.connected(now);
}

void SimDevice::connection_lost(Time now, ErrorKind why) {
  now_ = now;
  if (!(flags_ & kConnected) && session_.state() != Session::State::connecting) return;
  flags_ &= ~kConnected;
  const auto before = session_.state();
  const Time at = session_.connection_lost(now, why);
  if (before == Session::State::ready) {
    note(SimEventKind::logout, "connection lost", why);
  } else if (before == Session::State::connecting || before == Session::State::login_due ||
             before == Session::State::logging_in) {
    Event e{EventKind::login_failed, why};
    e.at = at;
    login_failed(e, now);
  }
}

void SimDevice::drop(Time now, std::string_view why) {
  (void)now;
  const bool was_in = session_.logged_in();
  if (flags_ & kConnected || session_.state() == Session::State::connecting) out_->disconnect(*this);
  flags_ &= ~kConnected;
  if (was_in) note(SimEventKind::logout, why);
}

void SimDevice::login_failed(const Event& e, Time now) {
  (void)now;
  if (flags_ & kConnected) out_->disconnect(*this);
  flags_ &= ~kConnected;
  note(SimEventKind::login_failed, where(target()), e.reason, e.status);
  // The fallback server is for while the main one refuses or cannot be reached
  // (m2m-protocol(7) CONFIGURATION PARAMETERS, 0x0006): alternate between the two.
  if (params_.get().has_fallback()) flags_ ^= kOnFallback;
  else flags_ &= ~kOnFallback;
  if (e.at == kNever) note(SimEventKind::gave_up, "no login attempts left", e.reason);
}

void SimDevice::apply_heartbeat(Time now) {
  session_.set_heartbeat_interval(Millis(1000LL * params_.get().heartbeat_s), now);
}

void SimDevice::send(const ai::FrameView& f) { out_->send(*this, f); }

void SimDevice::event(const Event& e) {
  if (g_events && g_events->n < 4) g_events->e[g_events->n++] = e;
}

void SimDevice::session_event(const Event& e, Time now) {
  switch (e.kind) {
    case EventKind::connect: {
      const ai::ServerAddr& to = target();
      note(SimEventKind::connecting, where(to));
      out_->connect(*this, to);
      break;
    }
    case EventKind::logged_in: {
      ++logins_;
      apply_heartbeat(now);
      note(SimEventKind::login, where(target()), ErrorKind::bad_value, (flags_ & kOnFallback) ? 1 : 0);
      recheck_at_ = (flags_ & kOnFallback) ? now + cfg_->recheck_interval : kNever;
      if (p2p_) p2p_->restart(now);
      break;
    }
    case EventKind::login_failed: login_failed(e, now); break;
    case EventKind::link_lost:
      if (flags_ & kConnected) out_->disconnect(*this);
      flags_ &= ~kConnected;
      note(SimEventKind::logout, "link lost: heartbeats unanswered", ErrorKind::timeout);
      break;
    default: break;
  }
}

Time SimDevice::poll(Time now) {
  now_ = now;
  if (reboot_at_ != kNever) {
    if (now < reboot_at_) return reboot_at_;
    reboot_at_ = kNever;
    session_.start(now);  // booted: log in again (a new token)
  }
  if (recheck_at_ != kNever && now >= recheck_at_) {
    recheck_at_ = kNever;
    drop(now, "recheck of the main server");
    flags_ &= ~kOnFallback;
    session_.start(now);
  }
  Time wake = kNever;
  for (int round = 0; round < 4; ++round) {
    EventBuffer buf;
    g_events = &buf;
    wake = session_.poll(now, *this);
    g_events = nullptr;
    for (unsigned i = 0; i < buf.n; ++i) session_event(buf.e[i], now);
    if (buf.n == 0) break;
  }
  if (session_.logged_in()) {
    ota_step(now);
    p2p_step(now);
  }
  if (reboot_at_ != kNever) return reboot_at_;
  wake = std::min(wake, recheck_at_);
  if (ota_ && session_.logged_in()) wake = std::min(wake, std::max(now, ota_->next_wake()));
  if (p2p_ && session_.logged_in()) wake = std::min(wake, std::max(now + Millis(1), p2p_->next_wake()));
  return wake;
}

void SimDevice::reply(const ai::FrameView& req, std::uint8_t status, ByteView data) {
  const ai::FrameView r{req.cls, req.cmd, req.seq, 0, status, id(), session_.token(), data};
  out_->send(*this, r);
}

bool SimDevice::send_request(std::uint8_t cls, std::uint8_t cmd, ByteView data, Time now) {
  if (!session_.logged_in() || rebooting()) return false;
  const ai::FrameView f{cls, cmd, session_.next_seq(), 0, ai::status::request, id(), session_.token(), data};
  session_.sending(f, now, kNever);
  out_->send(*this, f);
  return true;
}

bool SimDevice::uplink(ByteView payload, Time now) {
  now_ = now;
  return send_request(ai::cls::data, 0xEE, payload, now);
}

bool SimDevice::relay(std::uint64_t target, ByteView payload, Time now) {
  now_ = now;
  Bytes d;
  ai::put_relay(d, ai::Relay{target, payload});
  return send_request(ai::cls::data, 0x55, d, now);
}

bool SimDevice::group_list(std::uint16_t start, Time now) {
  now_ = now;
  Bytes d;
  ai::put_group_list_request(d, ai::GroupListRequest{start ? std::optional<std::uint16_t>(start) : std::nullopt});
  return send_request(ai::cls::data, 0x00, d, now);
}

bool SimDevice::working_event(std::string_view description, Time now) {
  now_ = now;
  Bytes d;
  if (!ai::put_event(d, ai::Event{ai::event_code::working, std::string(description)})) return false;
  return send_request(ai::cls::term, 0xF0, d, now);
}

bool SimDevice::send_to_peer(std::uint64_t target, ByteView payload, Time now) {
  now_ = now;
  if (p2p_ && p2p_->peer() == target && p2p_->state() == P2pLink::State::direct && session_.logged_in()) {
    Bytes d;
    ai::put_p2p_send(d, ai::P2pSend{id(), payload});
    const ai::FrameView f{ai::cls::data, 0x66, session_.next_seq(), 0, ai::status::request, target, p2p_->token(), d};
    out_->send_peer(*this, f, p2p_->addr());
    return true;
  }
  return relay(target, payload, now);
}

void SimDevice::p2p_with(std::uint64_t target, Time now) {
  p2p_ = std::make_unique<P2pLink>(cfg_->p2p, target);
  p2p_->restart(now);
}

void SimDevice::reboot(Time now, std::string_view why) {
  note(SimEventKind::reboot, why);
  drop(now, "reboot");
  reboot_at_ = now + cfg_->reboot_time;
  recheck_at_ = kNever;
  ota_.reset();
  if (p2p_) p2p_ = std::make_unique<P2pLink>(cfg_->p2p, p2p_->peer());  // a new token: a new path
}

void SimDevice::ota_step(Time now) {
  if (!ota_) return;
  while (auto req = ota_->due(now)) {
    Bytes d;
    if (!ai::put_ota_frame_request(d, *req)) break;
    const std::uint16_t seq = session_.next_seq();
    const ai::FrameView f{ai::cls::term, 0x57, seq, 0, ai::status::request, id(), session_.token(), d};
    ota_->sent(seq, now + cfg_->ota.frame_timeout);
    session_.sending(f, now, kNever);
    out_->send(*this, f);
    if (req->frame % 64 == 0 && req->frame > 0) note(SimEventKind::ota, ota_->outcome());
  }
  if (!ota_->done()) return;
  const std::string outcome = ota_->outcome();
  note(SimEventKind::ota, outcome);
  Bytes d;
  if (ai::put_event(d, ai::Event{ai::event_code::upgrade, outcome})) send_request(ai::cls::term, 0xF0, d, now);
  const bool ok = ota_->state() == OtaClient::State::ok;
  if (ok) params_.own().software = ota_->new_software();
  ota_.reset();
  if (ok) reboot(now, "ota");
}

void SimDevice::p2p_step(Time now) {
  if (!p2p_) return;
  for (int i = 0; i < 4; ++i) {
    switch (p2p_->poll(now)) {
      case P2pLink::Action::none: return;
      case P2pLink::Action::ask: {
        Bytes d;
        ai::put_p2p_request(d, ai::P2pRequest{p2p_->peer()});
        const std::uint16_t seq = session_.next_seq();
        const ai::FrameView f{ai::cls::link, 0x55, seq, 0, ai::status::request, id(), session_.token(), d};
        p2p_->asked(seq, now);
        session_.sending(f, now, kNever);
        out_->send(*this, f);
        note(SimEventKind::p2p, "asking for " + ai::format_device(p2p_->peer()));
        break;
      }
      case P2pLink::Action::probe: {
        Bytes d;
        ai::put_p2p_confirm(d, ai::P2pConfirm{id()});
        const ai::FrameView f{ai::cls::link, 0xEE, session_.next_seq(), 0, ai::status::request, p2p_->peer(), p2p_->token(), d};
        out_->send_peer(*this, f, p2p_->addr());
        break;
      }
      case P2pLink::Action::gave_up:
        note(SimEventKind::p2p, "relay: no acknowledgement from " + format_peer(p2p_->addr()) + " within the punch time");
        return;
      case P2pLink::Action::lost:
        note(SimEventKind::p2p, "relay: the direct path to " + format_peer(p2p_->addr()) + " stopped answering");
        return;
    }
  }
}

void SimDevice::on_frame(const ai::FrameView& f, const PeerAddr* from, Time now) {
  now_ = now;
  if (rebooting()) return;  // off the air
  if (f.device != id()) return;  // not addressed to this device
  const Event e = session_.on_frame(f, now);
  switch (e.kind) {
    case EventKind::logged_in:
    case EventKind::login_failed: session_event(e, now); return;
    case EventKind::foreign_token: note(SimEventKind::token_mismatch, ai::type_name(f.cls, f.cmd)); return;
    case EventKind::heartbeat_ack: return;
    default: break;
  }
  if (f.status == ai::status::request) return request_frame(f, from, now);

  // Replies.
  if (from) {
    if (f.cls == ai::cls::link && f.cmd == 0xEE && f.status == ai::status::ok && p2p_) {
      auto c = ai::get_p2p_confirm(f.data);
      if ((f.data.empty() || (c && c->sender == p2p_->peer())) && p2p_->acknowledged(*from, now))
        note(SimEventKind::p2p, "direct " + format_peer(*from));
    }
    return;  // a peer's replies (to p2p_send) need nothing
  }
  if (f.cls == ai::cls::term && f.cmd == 0x57 && ota_ && ota_->waiting_for(f.seq)) {
    ota_->reply(f, now);
    ota_step(now);
    return;
  }
  if (f.cls == ai::cls::link && f.cmd == 0x55 && p2p_ && p2p_->asking_with(f.seq)) {
    auto r = f.status == ai::status::ok ? ai::get_p2p_peer(f.data) : Result<ai::PeerRecord>(unexpected<Error>(Error{}));
    if (r && r->id == p2p_->peer()) {
      p2p_->introduced(*r, now);
      note(SimEventKind::p2p, "punching to " + format_peer(p2p_->addr()));
      p2p_step(now);
    } else {
      p2p_->refused(now);
      note(SimEventKind::p2p, "introduction refused by the platform; asking again later", ErrorKind::refused, f.status);
    }
    return;
  }
  SimEvent ev{SimEventKind::reply, ai::type_name(f.cls, f.cmd), ErrorKind::bad_value, f.status, &f};
  out_->event(*this, ev);
}

void SimDevice::request_frame(const ai::FrameView& f, const PeerAddr* from, Time now) {
  if (from) {  // from a peer over UDP: only the P2P commands
    if (f.cls == ai::cls::link && f.cmd == 0xEE) {
      auto c = ai::get_p2p_confirm(f.data);
      if (!c) return;
      if (!p2p_ || p2p_->peer() != c->sender || p2p_->token().empty()) return;  // not introduced yet: it probes again
      p2p_->probed(*from);
      Bytes d;
      ai::put_p2p_confirm(d, ai::P2pConfirm{id()});
      const ai::FrameView ack{ai::cls::link, 0xEE, f.seq, 0, ai::status::ok, c->sender, p2p_->token(), d};
      out_->send_peer(*this, ack, *from);  // to where the probe really came from
      return;
    }
    if (f.cls == ai::cls::data && f.cmd == 0x66) {
      auto s = ai::get_p2p_send(f.data);
      if (!s) return;
      out_->received(*this, f, from);
      const ByteView tok = p2p_ && p2p_->peer() == s->sender ? p2p_->token() : ByteView{};
      const ai::FrameView r{f.cls, f.cmd, f.seq, 0, ai::status::ok, s->sender, tok, {}};
      out_->send_peer(*this, r, *from);
    }
    return;
  }

  switch (ai::command_key(f.cls, f.cmd)) {
    case ai::cmd::term_config_read: {
      if (f.data.size() != 2) return reply(f, ai::status::fail);
      auto v = params_.read(get_le16(f.data.data()), cfg_->wall);
      if (!v) return reply(f, ai::status::unsupported);
      return reply(f, ai::status::ok, *v);
    }
    case ai::cmd::term_config_write: {
      std::uint16_t changed = 0;
      const std::uint8_t st = params_.write(f.data, cfg_->wall, &changed);
      reply(f, st);
      const std::uint16_t pid = f.data.size() >= 2 ? get_le16(f.data.data()) : 0;
      const std::string_view name = ai::param_name(pid);
      note(SimEventKind::config_write, name.empty() ? std::string_view("unknown") : name, ErrorKind::bad_value, st);
      if (st == ai::status::ok && changed == ai::param::heartbeat_interval) apply_heartbeat(now);
      return;
    }
    case ai::cmd::term_reboot:
      reply(f, ai::status::ok);
      return reboot(now, "platform");
    case ai::cmd::term_ota_start: {
      auto s = ai::get_ota_start(f.data);
      if (!s || (ota_ && !ota_->done())) {
        reply(f, ai::status::fail);  // busy, or a body that does not parse
        note(SimEventKind::ota, s ? "refused: an update is already running" : "refused: bad ota_start body",
             ErrorKind::refused, ai::status::fail);
        return;
      }
      reply(f, ai::status::ok);
      ota_ = std::make_unique<OtaClient>(cfg_->ota, s->file, s->checksum);
      note(SimEventKind::ota, "start " + s->file + " frame size " + std::to_string(ota_->frame_size()));
      return ota_step(now);
    }
    case ai::cmd::data_downlink:
      reply(f, ai::status::ok);
      out_->received(*this, f, nullptr);
      return;
    case ai::cmd::data_relay:
      reply(f, ai::status::ok);
      out_->received(*this, f, nullptr);
      return;
    case ai::cmd::link_p2p_request: {  // the platform introduces a peer that asked for us
      auto r = ai::get_p2p_peer(f.data);
      if (!r) return reply(f, ai::status::fail);
      reply(f, ai::status::ok);
      if (!p2p_ || (p2p_->peer() != r->id && p2p_->state() != P2pLink::State::direct))
        p2p_ = std::make_unique<P2pLink>(cfg_->p2p, r->id);
      if (p2p_->peer() == r->id) {
        p2p_->introduced(*r, now);
        note(SimEventKind::p2p, "introduced to " + ai::format_device(r->id) + ", punching to " + format_peer(p2p_->addr()));
        p2p_step(now);
      }
      return;
    }
    default:
      reply(f, ai::status::unsupported);
      note(SimEventKind::unsupported, ai::type_name(f.cls, f.cmd));
      return;
  }
}

}  // namespace m2m::device
