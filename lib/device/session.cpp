#include "device/session.hpp"

#include <algorithm>
#include <cstring>

#include "m2m/link.hpp"

namespace m2m::device {
namespace {

// The same command numbers in both classes: link (devices) and platform (client accounts).
constexpr std::uint8_t kHeartbeat = ai::cmd::link_heartbeat & 0xFF;
constexpr std::uint8_t kLogin = ai::cmd::link_login & 0xFF;
static_assert(ai::command_key(ai::cls::platform, kHeartbeat) == ai::cmd::platform_heartbeat &&
              ai::command_key(ai::cls::platform, kLogin) == ai::cmd::platform_login);

bool is_reply(const ai::FrameView& f, std::uint8_t cls, std::uint8_t cmd, std::uint16_t seq) {
  return f.cls == cls && f.cmd == cmd && f.seq == seq && f.status != ai::status::request;
}

// splitmix64: a well-spread 64-bit hash, so jitter needs no random state per session.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

Millis backoff_delay(const SessionConfig& cfg, unsigned attempt, std::uint64_t salt) {
  if (attempt <= 1 || cfg.backoff_base.count() <= 0) return Millis(0);
  const unsigned shift = std::min(attempt - 2, 30u);
  Millis d = std::min(cfg.backoff_max, Millis(cfg.backoff_base.count() << shift));
  const std::uint64_t per_mille = mix(salt ^ (std::uint64_t{attempt} << 48)) % 1000;  // 0..999
  const auto cut = d.count() * std::min<int>(cfg.jitter_percent, 100) * static_cast<std::int64_t>(per_mille) / 100'000;
  return d - Millis(cut);
}

std::string_view to_string(EventKind k) {
  switch (k) {
    case EventKind::none: return "none";
    case EventKind::connect: return "connect";
    case EventKind::logged_in: return "logged_in";
    case EventKind::login_failed: return "login_failed";
    case EventKind::heartbeat_ack: return "heartbeat_ack";
    case EventKind::heartbeat_missed: return "heartbeat_missed";
    case EventKind::link_lost: return "link_lost";
    case EventKind::reply: return "reply";
    case EventKind::request_timeout: return "request_timeout";
    case EventKind::foreign_token: return "foreign_token";
    case EventKind::frame: return "frame";
  }
  return "unknown";
}

Session::Session(const SessionConfig& cfg, std::uint64_t id, const ai::Password* password)
    : cfg_(&cfg), id_(id), hb_interval_ms_(static_cast<std::uint32_t>(std::max<Millis::rep>(0, cfg.heartbeat.count()))) {
  if (password) {
    password_ = *password;
    flags_ = kHasPassword;
  }
}

void Session::start(Time now) {
  token_len_ = 0;
  attempts_ = 0;
  missed_ = 0;
  flags_ &= kHasPassword;
  next_hb_ = kNever;
  state_ = State::backoff;
  timer_ = now;
}

void Session::connected(Time now) {
  token_len_ = 0;
  missed_ = 0;
  flags_ &= kHasPassword;
  next_hb_ = kNever;
  if (has_password()) {
    state_ = State::login_due;
    timer_ = now;
  } else {
    state_ = State::ready;  // nothing to log in with: frames go without a token
    timer_ = kNever;
  }
}

void Session::attempt_failed(Time now, Event& e) {
  if (attempts_ < 255) ++attempts_;
  token_len_ = 0;
  flags_ &= kHasPassword;
  next_hb_ = kNever;
  const bool give_up = (cfg_->max_attempts > 0 && attempts_ >= cfg_->max_attempts) ||
                       (e.reason == ErrorKind::refused && !cfg_->retry_refused);
  if (give_up) {
    state_ = State::failed;
    timer_ = kNever;
  } else {
    state_ = State::backoff;
    timer_ = now + backoff_delay(*cfg_, attempts_ + 1u, id_);
  }
  e.at = timer_;
}

Time Session::connection_lost(Time now, ErrorKind why) {
  switch (state_) {
    case State::idle:
    case State::failed:
    case State::backoff: return timer_;
    case State::connecting:
    case State::login_due:
    case State::logging_in: {
      Event e{EventKind::login_failed, why};
      attempt_failed(now, e);
      return timer_;
    }
    case State::ready:
      // A session that worked comes back after the first backoff step, so a peer that drops
      // every connection right after login is not hammered.
      token_len_ = 0;
      flags_ &= kHasPassword;
      next_hb_ = kNever;
      state_ = State::backoff;
      timer_ = now + backoff_delay(*cfg_, 2, id_);
      return timer_;
  }
  return timer_;
}

Event Session::login_reply(const ai::FrameView& f, Time now) {
  Event e{EventKind::login_failed, ErrorKind::refused, f.status, f.seq};
  // The token as the login reply carries it (m2m-protocol(7) COMMANDS, link.login): L + token.
  // A refusal carries no token: only an ok reply is parsed.
  const auto reply = f.status == ai::status::ok ? ai::get_login_reply(f.data)
                                                : Result<ai::LoginReply>(unexpected<Error>(Error{}));
  if (reply && reply->token.size() <= kMaxToken) {
    token_len_ = static_cast<std::uint8_t>(reply->token.size());
    std::memcpy(token_.data(), reply->token.data(), token_len_);
    state_ = State::ready;
    timer_ = kNever;
    attempts_ = 0;
    missed_ = 0;
    next_hb_ = after(now, heartbeat_interval());
    return {EventKind::logged_in, ErrorKind::bad_value, f.status, f.seq};
  }
  if (f.status == ai::status::ok) e.reason = ErrorKind::bad_value;  // ok, but no usable token
  attempt_failed(now, e);
  return e;
}

Event Session::on_frame(const ai::FrameView& f, Time now) {
  if (state_ == State::logging_in && is_reply(f, login_cls(), kLogin, login_seq_)) return login_reply(f, now);
  if (ai::has_token_field(f.cls, f.cmd) && has_password()) {
    const bool ours = logged_in() && f.token.size() == token_len_ &&
                      std::equal(f.token.begin(), f.token.end(), token_.begin());
    if (!ours) {
      ++foreign_tokens_;
      if (cfg_->ignore_foreign_token) return {EventKind::foreign_token, ErrorKind::bad_value, f.status, f.seq};
    }
  }
  if ((flags_ & kHeartbeatOut) && is_reply(f, login_cls(), kHeartbeat, hb_seq_)) {
    flags_ &= ~kHeartbeatOut;
    missed_ = 0;
    Event e{EventKind::heartbeat_ack, ErrorKind::bad_value, f.status, f.seq};
    e.rtt = std::chrono::duration_cast<Millis>(now - hb_due_);
    return e;
  }
  if ((flags_ & kRequestActive) && is_reply(f, req_cls_, req_cmd_, req_seq_)) {
    flags_ &= ~kRequestActive;
    return {EventKind::reply, ErrorKind::bad_value, f.status, f.seq};
  }
  return {EventKind::frame, ErrorKind::bad_value, f.status, f.seq};
}

void Session::stamp(ai::FrameView& f) const {
  if (ai::has_token_field(f.cls, f.cmd) && logged_in()) f.token = token();
}

void Session::sending(const ai::FrameView& f, Time now, Time deadline) {
  if (f.status == ai::status::request) {
    req_cls_ = f.cls;
    req_cmd_ = f.cmd;
    req_seq_ = f.seq;
    req_deadline_ = deadline;
    flags_ |= kRequestActive;
  }
  if (cfg_->heartbeat_after_any_send && next_hb_ != kNever) next_hb_ = after(now, heartbeat_interval());
}

void Session::set_heartbeat_interval(Millis interval, Time now) {
  const Millis old = heartbeat_interval();
  hb_interval_ms_ = static_cast<std::uint32_t>(std::max<Millis::rep>(0, interval.count()));
  if (!(state_ == State::ready && has_password())) return;  // applies from the login on
  if (hb_interval_ms_ == 0) {
    next_hb_ = kNever;
    return;
  }
  const Time last = next_hb_ != kNever && old.count() > 0 ? next_hb_ - old : now;
  next_hb_ = std::max(now, last + interval);
}

Time Session::poll(Time now, Sink& sink) {
  switch (state_) {
    case State::idle:
    case State::failed: return kNever;
    case State::backoff:
      if (now < timer_) return timer_;
      state_ = State::connecting;
      timer_ = after(now, cfg_->reply_timeout);
      sink.event({EventKind::connect});
      return timer_;
    case State::connecting:
    case State::logging_in:
      if (now < timer_) return timer_;
      {
        Event e{EventKind::login_failed, ErrorKind::timeout};
        attempt_failed(now, e);
        sink.event(e);
      }
      return timer_;
    case State::login_due: {
      login_seq_ = next_seq();
      Bytes body;  // once per login attempt, not per frame
      ai::put_login_request(body, ai::LoginRequest{password_});
      const ai::FrameView login{login_cls(), kLogin, login_seq_, 0, ai::status::request, id_, {}, body};
      state_ = State::logging_in;
      timer_ = after(now, cfg_->reply_timeout);
      sink.send(login);
      return timer_;
    }
    case State::ready: break;
  }

  Time wake = kNever;
  if ((flags_ & kRequestActive) && req_deadline_ != kNever) {
    if (now >= req_deadline_) {
      flags_ &= ~kRequestActive;
      sink.event({EventKind::request_timeout, ErrorKind::timeout, 0, req_seq_});
    } else {
      wake = req_deadline_;
    }
  }
  if (!logged_in() || !has_password()) return wake;

  if ((flags_ & kHeartbeatOut) && cfg_->reply_timeout.count() > 0) {
    const Time hb_deadline = hb_due_ + cfg_->reply_timeout;
    if (now >= hb_deadline) {
      flags_ &= ~kHeartbeatOut;
      sink.event({EventKind::heartbeat_missed, ErrorKind::timeout, 0, hb_seq_});
      if (cfg_->max_missed_heartbeats > 0 && ++missed_ >= cfg_->max_missed_heartbeats) {
        Event e{EventKind::link_lost, ErrorKind::timeout};
        e.at = connection_lost(now, ErrorKind::timeout);
        sink.event(e);
        return timer_;
      }
    } else {
      wake = std::min(wake, hb_deadline);
    }
  }
  if (next_hb_ != kNever && now >= next_hb_) {
    hb_seq_ = next_seq();
    // rtt runs from when the heartbeat was due, not when we got round to it (a late poll is
    // the sender's stall and must show in the figure)
    hb_due_ = next_hb_;
    flags_ |= kHeartbeatOut;
    const Millis every = heartbeat_interval();
    next_hb_ = cfg_->heartbeat_after_any_send ? now + every : next_hb_ + every;
    if (next_hb_ <= now) next_hb_ = now + every;
    const ai::FrameView hb{login_cls(), kHeartbeat, hb_seq_, 0, ai::status::request, id_, token(), {}};
    sink.send(hb);
    if (cfg_->reply_timeout.count() > 0) wake = std::min(wake, hb_due_ + cfg_->reply_timeout);
  }
  return std::min(wake, next_hb_);
}

}  // namespace m2m::device
