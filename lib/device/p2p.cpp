#include "device/p2p.hpp"

#include <algorithm>
#include <cstring>

namespace m2m::device {

std::string format_peer(const PeerAddr& a) { return ai::format_ipv4(a.ip) + ":" + std::to_string(a.port); }

std::string_view to_string(P2pLink::State s) {
  switch (s) {
    case P2pLink::State::asking: return "asking";
    case P2pLink::State::punching: return "punching";
    case P2pLink::State::direct: return "direct";
    case P2pLink::State::relay: return "relay";
  }
  return "unknown";
}

P2pLink::Action P2pLink::poll(Time now) {
  switch (state_) {
    case State::asking:
      if (now < timer_) return Action::none;
      return Action::ask;  // first time, or the last ask went unanswered
    case State::punching:
      if (now >= timer_) {
        state_ = State::relay;
        next_probe_ = kNever;
        return Action::gave_up;
      }
      if (now < next_probe_) return Action::none;
      next_probe_ = now + cfg_->probe_interval;
      ++probes_;
      return Action::probe;
    case State::direct:
      if (now < next_probe_) return Action::none;
      if (flags_ & kAckSinceProbe) {
        missed_ = 0;
      } else if (++missed_ >= cfg_->max_missed) {
        state_ = State::relay;
        next_probe_ = kNever;
        return Action::lost;
      }
      flags_ &= ~kAckSinceProbe;
      next_probe_ = now + cfg_->keepalive;
      ++probes_;
      return Action::probe;
    case State::relay: return Action::none;
  }
  return Action::none;
}

void P2pLink::introduced(const ai::PeerRecord& r, Time now) {
  if (state_ == State::direct) return;  // a path that works is kept
  // PeerRecord::token holds the token bytes (the wire's length byte is not kept).
  token_len_ = static_cast<std::uint8_t>(std::min(r.token.size(), token_.size()));
  std::memcpy(token_.data(), r.token.data(), token_len_);
  addr_ = {r.ip, r.port};
  state_ = State::punching;
  timer_ = now + cfg_->punch_timeout;
  next_probe_ = now;
  flags_ &= ~kAsked;
}

void P2pLink::probed(const PeerAddr& from) {
  if (state_ != State::direct) addr_ = from;  // the real source beats the introduced one
}

bool P2pLink::acknowledged(const PeerAddr& from, Time now) {
  addr_ = from;
  flags_ |= kAckSinceProbe;
  if (state_ == State::direct) return false;
  state_ = State::direct;
  missed_ = 0;
  next_probe_ = now + cfg_->keepalive;
  timer_ = kNever;
  return true;
}

void P2pLink::restart(Time now) {
  if (state_ == State::direct) return;
  state_ = State::asking;
  flags_ = 0;
  timer_ = now;
  next_probe_ = kNever;
}

}  // namespace m2m::device
