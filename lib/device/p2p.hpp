// P2P between two simulated devices over UDP (m2m-protocol(7) COMMANDS: link.p2p_request,
// link.p2p_confirm, data.p2p_send), without I/O. One link per device, allocated only when
// P2P is in use:
//
//   asking    link.p2p_request sent to the platform (or waiting to send it)
//   punching  introduced (the platform's reply, or its introduction of a requester): a
//             link.p2p_confirm probe (status 0x02) to the introduced address every
//             probe_interval until an acknowledgement (status 0x00) comes back, at most
//             punch_timeout
//   direct    acknowledged: the peer's address is where the acknowledgement really came
//             from; a probe every keepalive (at most a minute) keeps the NAT mapping open;
//             max_missed keepalives without an acknowledgement fall back to relay
//   relay     the punch failed or the path died: data goes through the platform (data.relay)
//
// A probe received is acknowledged to the address it really came from (behind a NAT that is
// not the introduced one), whatever the state.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "device/session.hpp"
#include "m2m/messages.hpp"

namespace m2m::device {

struct PeerAddr {
  std::uint32_t ip = 0;  // IPv4, host order
  std::uint16_t port = 0;
  bool operator==(const PeerAddr&) const = default;
  bool known() const { return ip != 0 && port != 0; }
};
std::string format_peer(const PeerAddr& a);

struct P2pConfig {
  Millis probe_interval{500};
  Millis punch_timeout{10'000};
  Millis keepalive{20'000};       // m2m-protocol(7): at least once a minute
  Millis ask_timeout{10'000};     // no reply to link.p2p_request: ask again after this
  std::uint8_t max_missed = 3;
};

class P2pLink {
 public:
  enum class State : std::uint8_t { asking, punching, direct, relay };
  enum class Action : std::uint8_t { none, ask, probe, gave_up, lost };

  P2pLink(const P2pConfig& cfg, std::uint64_t peer) : cfg_(&cfg), peer_(peer) {}

  // What to do now; call again until none. `ask`: send link.p2p_request (then asked());
  // `probe`: send a probe to addr(); `gave_up`/`lost`: the state is now relay (say so).
  Action poll(Time now);
  void asked(std::uint16_t seq, Time now) { ask_seq_ = seq, timer_ = now + cfg_->ask_timeout, flags_ |= kAsked; }
  bool asking_with(std::uint16_t seq) const { return state_ == State::asking && (flags_ & kAsked) && ask_seq_ == seq; }
  void refused(Time now) { flags_ &= ~kAsked, timer_ = now + cfg_->ask_timeout; }  // ask again later
  // The platform's record of the peer (reply or introduction): start punching.
  void introduced(const ai::PeerRecord& r, Time now);
  // A probe from the peer came from `from`: remember it if nothing better is known.
  void probed(const PeerAddr& from);
  // An acknowledgement from `from`: the path works; `from` is the peer's address from now on.
  // Returns true when this made the link direct (a state change).
  bool acknowledged(const PeerAddr& from, Time now);
  void restart(Time now);  // after a new login: ask again

  State state() const { return state_; }
  std::uint64_t peer() const { return peer_; }
  const PeerAddr& addr() const { return addr_; }
  ByteView token() const { return {token_.data(), token_len_}; }
  Time next_wake() const { return state_ == State::relay ? kNever : std::min(timer_, next_probe_); }
  std::uint32_t probes_sent() const { return probes_; }

 private:
  static constexpr std::uint8_t kAsked = 1, kAckSinceProbe = 2;
  const P2pConfig* cfg_;
  std::uint64_t peer_;
  Time timer_{};          // asking: ask (again) at; punching: give up at
  Time next_probe_ = kNever;
  PeerAddr addr_;
  std::array<std::uint8_t, 8> token_{};
  std::uint32_t probes_ = 0;
  std::uint16_t ask_seq_ = 0;
  std::uint8_t token_len_ = 0;
  std::uint8_t missed_ = 0;
  std::uint8_t flags_ = 0;
  State state_ = State::asking;
};

std::string_view to_string(P2pLink::State s);

}  // namespace m2m::device
