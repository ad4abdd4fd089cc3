// The client side of one AI-Cloud session, without I/O: login as a device (A0 00) or as a
// platform client account (EF 00), the token, sequence numbers, the heartbeat schedule,
// matching one outstanding request's reply, deadlines, and login retries with bounded
// exponential backoff and jitter (m2m-protocol(7): Tokens, REQUESTS AND REPLIES, COMMANDS).
//
// The caller owns the sockets and the clock. It drives the session with three calls:
//   connected(now) / connection_lost(now)   when its connection comes up or goes away;
//   on_frame(frame, now) -> Event           for every frame received;
//   poll(now, sink) -> next wake-up time    to send what is due (logins, heartbeats) and
//                                           learn of timeouts, through the sink.
// Frames handed to the sink are views into the session (token, password): encode them before
// the next call into the session. The session holds no buffer and no container; settings
// that every session of a program shares live in one SessionConfig the caller keeps alive,
// so a load tester can hold 100,000 sessions in a plain array (see kMaxSessionSize).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

#include "core/error.hpp"
#include "m2m/frame.hpp"
#include "m2m/messages.hpp"

namespace m2m::device {

using Clock = std::chrono::steady_clock;
using Time = Clock::time_point;
using Millis = std::chrono::milliseconds;
inline constexpr Time kNever = Time::max();

enum class Role : std::uint8_t { device, account };

// Shared by every session of a program; must outlive them.
struct SessionConfig {
  Role role = Role::device;
  Millis reply_timeout{10'000};   // login, heartbeat and request replies; 0: wait forever
  Millis heartbeat{30'000};       // after login; 0: no heartbeats
  // true: the heartbeat is due `heartbeat` after the last frame sent (any frame keeps the
  // session alive); false: on a fixed period from the login, whatever else is sent.
  bool heartbeat_after_any_send = true;
  // One heartbeat is tracked at a time: when the next one is due before the previous reply
  // came, the previous one's late reply arrives as a plain `frame`.
  std::uint8_t max_missed_heartbeats = 3;  // unanswered in a row before the link counts as lost; 0: never
  // Login attempts before giving up (connect failures, refusals, timeouts all count); 0: no limit.
  std::uint8_t max_attempts = 5;
  bool retry_refused = true;      // a refused login is retried too (a device); false: give up at once
  Millis backoff_base{1'000};     // delay before attempt 2; doubles for each further attempt
  Millis backoff_max{60'000};     // never longer than this
  std::uint8_t jitter_percent = 20;  // each delay is shortened by up to this share, spread per session
  // Frames whose token field is not this session's token are ignored (EventKind::foreign_token)
  // as a device must; false: they are still counted but handed on (a diagnostic client).
  bool ignore_foreign_token = true;
};

// The delay before login attempt `attempt` (2, 3, …): base·2^(attempt−2), capped at max, then
// shortened by a jitter share in [0, jitter_percent%) chosen from `salt` (spreads sessions
// that failed together). Attempt 1 and below: no delay.
Millis backoff_delay(const SessionConfig& cfg, unsigned attempt, std::uint64_t salt);

enum class EventKind : std::uint8_t {
  none,              // nothing for the caller
  connect,           // (poll) open a connection now, then call connected(); after backoff too
  logged_in,         // the token is adopted (a frame: the login reply)
  login_failed,      // reason: refused, timeout, bad_value (malformed reply), closed, unavailable;
                     // drop the connection. `at`: when poll() asks for the next connection;
                     // kNever: no attempts left, the session is `failed` until start()
  heartbeat_ack,     // our heartbeat's reply; `rtt` from its due time
  heartbeat_missed,  // (poll) no reply within reply_timeout
  link_lost,         // (poll) too many heartbeats missed: drop the connection; `at` = reconnect time
  reply,             // the reply to the outstanding request (`status`, `seq`)
  request_timeout,   // (poll) the outstanding request's deadline passed (`seq`)
  foreign_token,     // a frame with another token, ignored and counted
  frame,             // anything else: a request from the peer, an unmatched reply
};
std::string_view to_string(EventKind k);

struct Event {
  EventKind kind = EventKind::none;
  ErrorKind reason = ErrorKind::bad_value;  // login_failed, link_lost
  std::uint8_t status = 0;                  // reply, login_failed (the reply's status), frames
  std::uint16_t seq = 0;
  Millis rtt{0};                            // heartbeat_ack
  Time at = kNever;                         // login_failed / link_lost: next connect time
};

// Where poll() puts its output. Both calls happen inside poll(); a frame's views are valid
// only during send().
class Sink {
 public:
  virtual void send(const ai::FrameView& frame) = 0;
  virtual void event(const Event& e) = 0;

 protected:
  ~Sink() = default;
};

class Session {
 public:
  enum class State : std::uint8_t {
    idle,        // not started
    connecting,  // waiting for connected() (poll has asked for a connection)
    backoff,     // waiting to ask for the next connection
    login_due,   // connected; the login goes out at the next poll()
    logging_in,  // login sent, reply awaited
    ready,       // logged in (or connected without a password): requests may go
    failed,      // gave up
  };
  static constexpr std::size_t kMaxToken = 8;  // the platform issues 8-byte tokens (m2m-protocol(7) Tokens)

  // `id` is the device id or the account number (the header id of the login). Without a
  // password the session logs in never: connected() makes it ready with an empty token.
  Session(const SessionConfig& cfg, std::uint64_t id, const ai::Password* password);

  // Asks for a connection at the next poll (the first start, or again after giving up).
  void start(Time now);
  void connected(Time now);
  // The connection went away (or a connect failed): counts as a failed attempt while logging
  // in, and schedules the next connect after backoff. Returns when that is (kNever: gave up).
  Time connection_lost(Time now, ErrorKind why = ErrorKind::closed);

  Event on_frame(const ai::FrameView& f, Time now);
  // Sends what is due and reports timeouts; returns the next time poll() has work (kNever: none).
  Time poll(Time now, Sink& sink);

  // Requests: the header fields the session knows, and one reply slot.
  std::uint16_t next_seq() { return seq_++; }
  // Fills the token (and the header id when `f.device` is 0 and the role is device) of a frame
  // about to be sent; the view stays valid while the session lives and is not re-logged in.
  void stamp(ai::FrameView& f) const;
  // The caller is sending its own frame `f` now (not one poll() emitted): arms the reply slot
  // when `f` is a request (replacing an earlier one) with `deadline` (kNever: none), and
  // moves the next heartbeat when any send counts (SessionConfig::heartbeat_after_any_send).
  void sending(const ai::FrameView& f, Time now, Time deadline);
  bool awaiting_reply() const { return flags_ & kRequestActive; }

  // A changed heartbeat interval applies at once: the next heartbeat is due `interval` after
  // the last one (or now, when that has passed). 0 stops heartbeats.
  void set_heartbeat_interval(Millis interval, Time now);
  Millis heartbeat_interval() const { return Millis(hb_interval_ms_); }

  State state() const { return state_; }
  bool ready() const { return state_ == State::ready; }
  bool logged_in() const { return state_ == State::ready && has_password(); }  // holds a token
  ByteView token() const { return {token_.data(), token_len_}; }
  std::uint64_t id() const { return id_; }
  unsigned attempts() const { return attempts_; }  // failed login attempts since the last success
  std::uint32_t foreign_tokens() const { return foreign_tokens_; }
  Time next_heartbeat() const { return next_hb_; }

 private:
  static constexpr std::uint8_t kHasPassword = 1, kRequestActive = 2, kHeartbeatOut = 4;
  bool has_password() const { return flags_ & kHasPassword; }
  std::uint8_t login_cls() const { return cfg_->role == Role::account ? ai::cls::platform : ai::cls::link; }
  Time after(Time now, Millis d) const { return d.count() > 0 ? now + d : kNever; }
  // A login attempt failed: schedule the next one or give up; fills e.at.
  void attempt_failed(Time now, Event& e);
  Event login_reply(const ai::FrameView& f, Time now);

  const SessionConfig* cfg_;
  std::uint64_t id_;
  Time timer_ = kNever;     // connecting: connect deadline; backoff: next connect; logging_in: login deadline
  Time next_hb_ = kNever;   // next heartbeat due
  Time hb_due_ = kNever;    // the outstanding heartbeat's due time (its rtt starts there)
  Time req_deadline_ = kNever;
  ai::Password password_{};
  std::array<std::uint8_t, kMaxToken> token_{};
  std::uint32_t hb_interval_ms_;
  std::uint32_t foreign_tokens_ = 0;
  std::uint16_t seq_ = 1;
  std::uint16_t login_seq_ = 0;
  std::uint16_t hb_seq_ = 0;
  std::uint16_t req_seq_ = 0;
  std::uint8_t req_cls_ = 0, req_cmd_ = 0;
  std::uint8_t token_len_ = 0;
  std::uint8_t flags_ = 0;
  std::uint8_t attempts_ = 0;
  std::uint8_t missed_ = 0;
  State state_ = State::idle;
};

// Per-session memory is the load tester's budget (issue: 100,000 sessions per process).
inline constexpr std::size_t kMaxSessionSize = 96;
static_assert(sizeof(Session) <= kMaxSessionSize, "lib/device Session grew past its budget");

}  // namespace m2m::device
