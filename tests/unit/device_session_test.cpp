#include <doctest/doctest.h>

#include <vector>

#include "device/session.hpp"

using namespace m2m;
using namespace m2m::device;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t kDev = 0x0000000000FED24Aull;
const ai::Password kPw{'1', '2', '3', 0, 0, 0, 0, 0};
const Bytes kToken{0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8};

// Records what poll() emits; frames are copied because their views die with the call.
struct Recorder : Sink {
  std::vector<ai::Frame> sent;
  std::vector<Event> events;
  void send(const ai::FrameView& f) override { sent.push_back(ai::Frame::from(f)); }
  void event(const Event& e) override { events.push_back(e); }
  void clear() {
    sent.clear();
    events.clear();
  }
};

Time t0() { return Time{} + 1000h; }

SessionConfig device_cfg() {
  SessionConfig c;
  c.reply_timeout = 2s;
  c.heartbeat = 30s;
  c.max_attempts = 4;
  c.backoff_base = 1s;
  c.backoff_max = 8s;
  c.jitter_percent = 20;
  return c;
}

// A reply to `req` with `status` and `data`, carrying `token` when the command has a token field.
ai::Frame reply_to(const ai::Frame& req, std::uint8_t status, Bytes data = {}, Bytes token = kToken) {
  ai::Frame r = req;
  r.status = status;
  r.data = std::move(data);
  r.token = ai::has_token_field(req.cls, req.cmd) ? std::move(token) : Bytes{};
  return r;
}

Bytes login_ok_data(const Bytes& token = kToken) {
  Bytes d(1 + token.size());  // sized up front: GCC 12 warns falsely (-Warray-bounds) on insert after a 1-byte init
  d[0] = static_cast<std::uint8_t>(token.size());
  std::copy(token.begin(), token.end(), d.begin() + 1);
  return d;
}

// Connects and logs `s` in at `now`; returns the login frame that went out.
ai::Frame log_in(Session& s, Recorder& r, Time now) {
  s.connected(now);
  r.clear();
  s.poll(now, r);
  REQUIRE(r.sent.size() == 1);
  ai::Frame login = r.sent[0];
  Event e = s.on_frame(reply_to(login, ai::status::ok, login_ok_data()).view(), now + 10ms);
  REQUIRE(e.kind == EventKind::logged_in);
  r.clear();
  return login;
}

}  // namespace

TEST_CASE("session: a few dozen bytes, no container") {
  CHECK(sizeof(Session) <= kMaxSessionSize);
  CHECK(sizeof(Session) <= 96);
  MESSAGE("sizeof(device::Session) = " << sizeof(Session));
}

TEST_CASE("session: device login ok adopts the token") {
  const SessionConfig cfg = device_cfg();
  Session s(cfg, kDev, &kPw);
  Recorder r;
  CHECK(s.state() == Session::State::idle);
  s.start(t0());
  CHECK(s.poll(t0(), r) == t0() + 2s);  // connect deadline
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].kind == EventKind::connect);
  CHECK(s.state() == Session::State::connecting);
  r.clear();

  s.connected(t0() + 5ms);
  CHECK(s.state() == Session::State::login_due);
  CHECK(s.poll(t0() + 5ms, r) == t0() + 5ms + 2s);
  REQUIRE(r.sent.size() == 1);
  const ai::Frame& login = r.sent[0];
  CHECK(login.cls == ai::cls::link);
  CHECK(login.cmd == 0x00);
  CHECK(login.seq == 1);
  CHECK(login.status == ai::status::request);
  CHECK(login.device == kDev);
  CHECK(login.data == Bytes(kPw.begin(), kPw.end()));
  CHECK(login.token.empty());
  CHECK(s.state() == Session::State::logging_in);

  Event e = s.on_frame(reply_to(login, ai::status::ok, login_ok_data()).view(), t0() + 20ms);
  CHECK(e.kind == EventKind::logged_in);
  CHECK(e.seq == 1);
  CHECK(s.ready());
  CHECK(s.logged_in());
  CHECK(Bytes(s.token().begin(), s.token().end()) == kToken);
  CHECK(s.next_heartbeat() == t0() + 20ms + 30s);
  CHECK(s.attempts() == 0);
}

TEST_CASE("session: account login is EF 00 with the account as header id") {
  SessionConfig cfg = device_cfg();
  cfg.role = Role::account;
  Session s(cfg, 7, &kPw);
  Recorder r;
  const ai::Frame login = log_in(s, r, t0());
  CHECK(login.cls == ai::cls::platform);
  CHECK(login.cmd == 0x00);
  CHECK(login.device == 7);
  // heartbeats are EF 01
  s.poll(t0() + 31s, r);
  REQUIRE(r.sent.size() == 1);
  CHECK(r.sent[0].cls == ai::cls::platform);
  CHECK(r.sent[0].cmd == 0x01);
  CHECK(r.sent[0].device == 7);
  CHECK(r.sent[0].token == kToken);
}

TEST_CASE("session: a reply to something else does not complete the login") {
  const SessionConfig cfg = device_cfg();
  Session s(cfg, kDev, &kPw);
  Recorder r;
  s.connected(t0());
  s.poll(t0(), r);
  ai::Frame other = r.sent[0];
  other.seq = 99;  // wrong sequence
  CHECK(s.on_frame(reply_to(other, ai::status::ok, login_ok_data()).view(), t0()).kind != EventKind::logged_in);
  ai::Frame wrong_cls = r.sent[0];
  wrong_cls.cls = ai::cls::platform;
  CHECK(s.on_frame(reply_to(wrong_cls, ai::status::ok, login_ok_data()).view(), t0()).kind != EventKind::logged_in);
  ai::Frame echo = r.sent[0];  // our own request echoed back is not a reply
  CHECK(s.on_frame(echo.view(), t0()).kind != EventKind::logged_in);
  CHECK(s.state() == Session::State::logging_in);
}

TEST_CASE("session: login refused, retried with backoff, then given up") {
  const SessionConfig cfg = device_cfg();  // 4 attempts, 1 s base, 8 s cap, 20% jitter
  Session s(cfg, kDev, &kPw);
  Recorder r;
  Time now = t0();
  s.start(now);
  std::vector<Millis> delays;
  for (int attempt = 1; attempt <= 4; ++attempt) {
    r.clear();
    s.poll(now, r);
    REQUIRE(r.events.size() == 1);
    REQUIRE(r.events[0].kind == EventKind::connect);
    s.connected(now);
    r.clear();
    s.poll(now, r);
    REQUIRE(r.sent.size() == 1);
    Event e = s.on_frame(reply_to(r.sent[0], ai::status::fail).view(), now + 1ms);
    CHECK(e.kind == EventKind::login_failed);
    CHECK(e.reason == ErrorKind::refused);
    CHECK(e.status == ai::status::fail);
    CHECK(s.attempts() == static_cast<unsigned>(attempt));
    if (attempt == 4) {
      CHECK(e.at == kNever);
      CHECK(s.state() == Session::State::failed);
      break;
    }
    CHECK(s.state() == Session::State::backoff);
    REQUIRE(e.at != kNever);
    delays.push_back(std::chrono::duration_cast<Millis>(e.at - (now + 1ms)));
    // nothing happens before the backoff ends
    r.clear();
    CHECK(s.poll(e.at - 1ms, r) == e.at);
    CHECK(r.events.empty());
    CHECK(r.sent.empty());
    now = e.at;
  }
  REQUIRE(delays.size() == 3);
  // nominal 1 s, 2 s, 4 s, each shortened by less than 20%
  const Millis nominal[] = {1s, 2s, 4s};
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(delays[i] <= nominal[i]);
    CHECK(delays[i] > nominal[i] * 8 / 10);
  }
  r.clear();
  CHECK(s.poll(now + 1h, r) == kNever);
  CHECK(r.events.empty());
  // start() begins again
  s.start(now + 1h);
  CHECK(s.attempts() == 0);
  s.poll(now + 1h, r);
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].kind == EventKind::connect);
}

TEST_CASE("session: a refusal ends at once when refusals are not retried") {
  SessionConfig cfg = device_cfg();
  cfg.retry_refused = false;
  Session s(cfg, kDev, &kPw);
  Recorder r;
  s.connected(t0());
  s.poll(t0(), r);
  Event e = s.on_frame(reply_to(r.sent[0], ai::status::fail).view(), t0());
  CHECK(e.kind == EventKind::login_failed);
  CHECK(e.at == kNever);
  CHECK(s.state() == Session::State::failed);
}

TEST_CASE("session: login ok without a usable token is a protocol failure") {
  const SessionConfig cfg = device_cfg();
  for (const Bytes& data : {Bytes{}, Bytes{0x08, 1, 2, 3}, Bytes(11, 0x09)}) {
    Session s(cfg, kDev, &kPw);
    Recorder r;
    s.connected(t0());
    s.poll(t0(), r);
    Event e = s.on_frame(reply_to(r.sent[0], ai::status::ok, data).view(), t0());
    CHECK(e.kind == EventKind::login_failed);
    CHECK(e.reason == ErrorKind::bad_value);
    CHECK_FALSE(s.logged_in());
  }
}

TEST_CASE("session: login timeout is a failed attempt") {
  const SessionConfig cfg = device_cfg();
  Session s(cfg, kDev, &kPw);
  Recorder r;
  s.connected(t0());
  CHECK(s.poll(t0(), r) == t0() + 2s);
  REQUIRE(r.sent.size() == 1);
  const ai::Frame login = r.sent[0];
  r.clear();
  CHECK(s.poll(t0() + 1999ms, r) == t0() + 2s);
  CHECK(r.events.empty());
  const Time next = s.poll(t0() + 2s, r);
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].kind == EventKind::login_failed);
  CHECK(r.events[0].reason == ErrorKind::timeout);
  CHECK(r.events[0].at == next);
  CHECK(next > t0() + 2s + 799ms);
  CHECK(next <= t0() + 3s);
  CHECK(s.attempts() == 1);
  // a late reply is not taken any more
  CHECK(s.on_frame(reply_to(login, ai::status::ok, login_ok_data()).view(), t0() + 2500ms).kind != EventKind::logged_in);
}

TEST_CASE("session: connect timeout and failed connects count as attempts") {
  const SessionConfig cfg = device_cfg();
  Session s(cfg, kDev, &kPw);
  Recorder r;
  s.start(t0());
  s.poll(t0(), r);
  r.clear();
  s.poll(t0() + 2s, r);  // connect never completed
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].kind == EventKind::login_failed);
  CHECK(r.events[0].reason == ErrorKind::timeout);
  CHECK(s.attempts() == 1);
  r.clear();
  s.poll(t0() + 10s, r);  // the backoff (under 1 s) has passed
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].kind == EventKind::connect);
  const Time again = s.connection_lost(t0() + 10s, ErrorKind::unavailable);  // refused connect
  CHECK(s.attempts() == 2);
  CHECK(again > t0() + 10s + 1599ms);  // nominal 2 s, jitter < 20%
  CHECK(again <= t0() + 12s);
}

TEST_CASE("session: backoff delays are bounded and spread") {
  SessionConfig cfg = device_cfg();
  cfg.backoff_base = 500ms;
  cfg.backoff_max = 10s;
  cfg.jitter_percent = 25;
  CHECK(backoff_delay(cfg, 0, 1) == 0ms);
  CHECK(backoff_delay(cfg, 1, 1) == 0ms);
  bool differ = false;
  for (std::uint64_t salt = 0; salt < 200; ++salt) {
    for (unsigned a = 2; a < 40; ++a) {
      const Millis nominal = std::min<Millis>(10s, 500ms * (1ll << std::min(a - 2, 20u)));
      const Millis d = backoff_delay(cfg, a, salt);
      CHECK(d <= nominal);
      CHECK(d > nominal * 75 / 100 - 1ms);
    }
    differ = differ || backoff_delay(cfg, 3, salt) != backoff_delay(cfg, 3, 0);
  }
  CHECK(differ);  // sessions that fail together do not retry together
  cfg.jitter_percent = 0;
  CHECK(backoff_delay(cfg, 2, 5) == 500ms);
  CHECK(backoff_delay(cfg, 3, 5) == 1s);
  CHECK(backoff_delay(cfg, 6, 5) == 8s);
  CHECK(backoff_delay(cfg, 7, 5) == 10s);
  CHECK(backoff_delay(cfg, 255, 5) == 10s);
}

TEST_CASE("session: the token goes on every later frame, the sequence counts up") {
  const SessionConfig cfg = device_cfg();
  Session s(cfg, kDev, &kPw);
  Recorder r;
  log_in(s, r, t0());
  const std::uint16_t a = s.next_seq(), b = s.next_seq();
  CHECK(a == 2);  // the login was 1
  CHECK(b == 3);
  ai::Frame up;
  up.cls = ai::cls::data;
  up.cmd = 0xEE;
  up.seq = a;
  up.device = kDev;
  ai::FrameView v = up.view();
  s.stamp(v);
  CHECK(Bytes(v.token.begin(), v.token.end()) == kToken);
  ai::Frame login;  // a login has no token field: stamp leaves it alone
  login.cls = ai::cls::link;
  ai::FrameView lv = login.view();
  s.stamp(lv);
  CHECK(lv.token.empty());
  // heartbeats carry it too, with the next sequence number
  s.poll(t0() + 40s, r);
  REQUIRE(r.sent.size() == 1);
  CHECK(r.sent[0].token == kToken);
  CHECK(r.sent[0].seq == 4);
}

TEST_CASE("session: heartbeat due times, acknowledgement and rtt") {
  SessionConfig cfg = device_cfg();
  cfg.heartbeat_after_any_send = false;  // a fixed period
  Session s(cfg, kDev, &kPw);
  Recorder r;
  log_in(s, r, t0());
  const Time first = t0() + 10ms + 30s;
  CHECK(s.next_heartbeat() == first);
  CHECK(s.poll(first - 1ms, r) == first);
  CHECK(r.sent.empty());
  // poll 50 ms late: the heartbeat goes, the rtt counts from the due time
  CHECK(s.poll(first + 50ms, r) == first + 2s);  // its reply deadline, counted from the due time
  REQUIRE(r.sent.size() == 1);
  const ai::Frame hb = r.sent[0];
  CHECK(hb.cls == ai::cls::link);
  CHECK(hb.cmd == 0x01);
  CHECK(hb.status == ai::status::request);
  CHECK(hb.data.empty());
  CHECK(s.next_heartbeat() == first + 30s);  // fixed period: not pushed by the late poll
  Event e = s.on_frame(reply_to(hb, ai::status::ok).view(), first + 80ms);
  CHECK(e.kind == EventKind::heartbeat_ack);
  CHECK(e.seq == hb.seq);
  CHECK(e.rtt == 80ms);
  // a second copy of the reply is no longer ours
  CHECK(s.on_frame(reply_to(hb, ai::status::ok).view(), first + 90ms).kind == EventKind::frame);
  r.clear();
  CHECK(s.poll(first + 100ms, r) == first + 30s);
  CHECK(r.sent.empty());
}

TEST_CASE("session: any frame sent moves the heartbeat when configured so") {
  const SessionConfig cfg = device_cfg();  // heartbeat_after_any_send
  Session s(cfg, kDev, &kPw);
  Recorder r;
  log_in(s, r, t0());
  ai::Frame up;
  up.cls = ai::cls::data;
  up.cmd = 0xEE;
  up.seq = s.next_seq();
  s.sending(up.view(), t0() + 20s, kNever);
  CHECK(s.next_heartbeat() == t0() + 50s);
  s.poll(t0() + 49s, r);
  CHECK(r.sent.empty());
}

TEST_CASE("session: a heartbeat interval change applies at once") {
  SessionConfig cfg = device_cfg();
  cfg.heartbeat_after_any_send = false;
  Session s(cfg, kDev, &kPw);
  Recorder r;
  log_in(s, r, t0());  // next heartbeat at t0+10ms+30s
  // shorter: due 10 s after the last reference point, which has passed -> now
  s.set_heartbeat_interval(10s, t0() + 15s);
  CHECK(s.heartbeat_interval() == 10s);
  CHECK(s.next_heartbeat() == t0() + 15s);
  s.poll(t0() + 15s, r);
  REQUIRE(r.sent.size() == 1);
  CHECK(s.next_heartbeat() == t0() + 25s);
  // longer: measured from the last heartbeat
  s.set_heartbeat_interval(60s, t0() + 16s);
  CHECK(s.next_heartbeat() == t0() + 75s);
  // 0 stops them
  s.set_heartbeat_interval(0s, t0() + 17s);
  CHECK(s.next_heartbeat() == kNever);
  r.clear();
  s.poll(t0() + 1h, r);
  CHECK(r.sent.empty());
}

TEST_CASE("session: missed heartbeats, then the link counts as lost") {
  SessionConfig cfg = device_cfg();
  cfg.heartbeat = 5s;
  cfg.max_missed_heartbeats = 2;
  Session s(cfg, kDev, &kPw);
  Recorder r;
  log_in(s, r, t0());  // logged in at t0+10ms
  Time now = t0() + 10ms + 5s;
  s.poll(now, r);  // heartbeat 1 out
  REQUIRE(r.sent.size() == 1);
  r.clear();
  s.poll(now + 2s, r);  // its reply deadline
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].kind == EventKind::heartbeat_missed);
  CHECK(r.events[0].seq == 2);
  CHECK(s.ready());
  r.clear();
  now += 5s;
  s.poll(now, r);  // heartbeat 2 out
  REQUIRE(r.sent.size() == 1);
  r.clear();
  s.poll(now + 2s, r);
  REQUIRE(r.events.size() == 2);
  CHECK(r.events[0].kind == EventKind::heartbeat_missed);
  CHECK(r.events[1].kind == EventKind::link_lost);
  CHECK(r.events[1].reason == ErrorKind::timeout);
  CHECK(s.state() == Session::State::backoff);
  CHECK_FALSE(s.logged_in());
  CHECK(r.events[1].at > now + 2s);
  CHECK(r.events[1].at <= now + 3s);
  // an answered heartbeat resets the count
  Session s2(cfg, kDev, &kPw);
  log_in(s2, r, t0());
  now = t0() + 10ms + 5s;
  s2.poll(now, r);
  s2.poll(now + 2s, r);  // missed 1
  now += 5s;
  r.clear();
  s2.poll(now, r);
  REQUIRE(r.sent.size() == 1);
  CHECK(s2.on_frame(reply_to(r.sent[0], ai::status::ok).view(), now + 5ms).kind == EventKind::heartbeat_ack);
  now += 5s;
  s2.poll(now, r);
  r.clear();
  s2.poll(now + 2s, r);
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].kind == EventKind::heartbeat_missed);
  CHECK(s2.ready());
}

TEST_CASE("session: reply matching by class, command and sequence") {
  const SessionConfig cfg = device_cfg();
  SessionConfig acfg = cfg;
  acfg.role = Role::account;
  Session s(acfg, 1, &kPw);
  Recorder r;
  log_in(s, r, t0());
  ai::Frame req;
  req.cls = ai::cls::term;
  req.cmd = 0xAA;
  req.seq = s.next_seq();
  req.device = kDev;
  req.token = kToken;
  s.sending(req.view(), t0() + 1s, t0() + 3s);
  CHECK(s.awaiting_reply());
  ai::Frame wrong = reply_to(req, ai::status::ok);
  wrong.seq = req.seq + 1;
  CHECK(s.on_frame(wrong.view(), t0() + 1100ms).kind == EventKind::frame);
  wrong = reply_to(req, ai::status::ok);
  wrong.cmd = 0xAB;
  CHECK(s.on_frame(wrong.view(), t0() + 1100ms).kind == EventKind::frame);
  wrong = reply_to(req, ai::status::ok);
  wrong.cls = ai::cls::data;
  CHECK(s.on_frame(wrong.view(), t0() + 1100ms).kind == EventKind::frame);
  ai::Frame same_request = req;  // a request with the same header is the peer asking, not a reply
  CHECK(s.on_frame(same_request.view(), t0() + 1100ms).kind == EventKind::frame);
  CHECK(s.awaiting_reply());
  Event e = s.on_frame(reply_to(req, ai::status::unsupported).view(), t0() + 1200ms);
  CHECK(e.kind == EventKind::reply);
  CHECK(e.status == ai::status::unsupported);
  CHECK(e.seq == req.seq);
  CHECK_FALSE(s.awaiting_reply());
  // only once
  CHECK(s.on_frame(reply_to(req, ai::status::ok).view(), t0() + 1300ms).kind == EventKind::frame);
}

TEST_CASE("session: request deadlines") {
  const SessionConfig cfg = device_cfg();
  Session s(cfg, kDev, &kPw);
  Recorder r;
  log_in(s, r, t0());
  ai::Frame req;
  req.cls = ai::cls::data;
  req.cmd = 0xEE;
  req.seq = s.next_seq();
  s.sending(req.view(), t0() + 1s, t0() + 4s);
  CHECK(s.poll(t0() + 3s, r) == t0() + 4s);
  CHECK(r.events.empty());
  s.poll(t0() + 4s, r);
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].kind == EventKind::request_timeout);
  CHECK(r.events[0].reason == ErrorKind::timeout);
  CHECK(r.events[0].seq == req.seq);
  CHECK_FALSE(s.awaiting_reply());
  CHECK(s.on_frame(reply_to(req, ai::status::ok).view(), t0() + 5s).kind == EventKind::frame);
  // a reply (not a request) arms no slot; kNever waits forever
  ai::Frame ack = reply_to(req, ai::status::ok);
  s.sending(ack.view(), t0() + 6s, t0() + 7s);
  CHECK_FALSE(s.awaiting_reply());
  s.sending(req.view(), t0() + 6s, kNever);
  r.clear();
  s.poll(t0() + 20s, r);
  CHECK(r.events.empty());
  CHECK(s.awaiting_reply());
}

TEST_CASE("session: frames with another token are ignored and counted") {
  const SessionConfig cfg = device_cfg();
  Session s(cfg, kDev, &kPw);
  Recorder r;
  log_in(s, r, t0());
  ai::Frame down;
  down.cls = ai::cls::data;
  down.cmd = 0xFF;
  down.seq = 77;
  down.device = kDev;
  down.token = Bytes{1, 2, 3, 4, 5, 6, 7, 8};
  CHECK(s.on_frame(down.view(), t0() + 1s).kind == EventKind::foreign_token);
  down.token = {};
  CHECK(s.on_frame(down.view(), t0() + 1s).kind == EventKind::foreign_token);
  down.token = Bytes(kToken.begin(), kToken.begin() + 7);  // a prefix is not the token
  CHECK(s.on_frame(down.view(), t0() + 1s).kind == EventKind::foreign_token);
  CHECK(s.foreign_tokens() == 3);
  down.token = kToken;
  Event e = s.on_frame(down.view(), t0() + 1s);
  CHECK(e.kind == EventKind::frame);
  CHECK(e.seq == 77);
  CHECK(e.status == ai::status::request);
  CHECK(s.foreign_tokens() == 3);
  // a heartbeat reply with a wrong token does not acknowledge ours
  s.poll(t0() + 31s, r);
  REQUIRE(r.sent.size() == 1);
  CHECK(s.on_frame(reply_to(r.sent[0], ai::status::ok, {}, Bytes(8, 0)).view(), t0() + 31s).kind == EventKind::foreign_token);
  CHECK(s.on_frame(reply_to(r.sent[0], ai::status::ok).view(), t0() + 31s).kind == EventKind::heartbeat_ack);
  // before the login nothing with a token field is ours
  Session fresh(cfg, kDev, &kPw);
  fresh.connected(t0());
  CHECK(fresh.on_frame(down.view(), t0()).kind == EventKind::foreign_token);
  // a diagnostic client counts them but hands them on
  SessionConfig loose = cfg;
  loose.ignore_foreign_token = false;
  Session d(loose, kDev, &kPw);
  log_in(d, r, t0());
  down.token = Bytes(8, 0xEE);
  CHECK(d.on_frame(down.view(), t0() + 1s).kind == EventKind::frame);
  CHECK(d.foreign_tokens() == 1);
}

TEST_CASE("session: without a password there is no login and no heartbeat") {
  const SessionConfig cfg = device_cfg();
  Session s(cfg, kDev, nullptr);
  Recorder r;
  s.connected(t0());
  CHECK(s.ready());
  CHECK_FALSE(s.logged_in());
  CHECK(s.poll(t0() + 1h, r) == kNever);
  CHECK(r.sent.empty());
  ai::Frame f;
  f.cls = ai::cls::data;
  f.cmd = 0xEE;
  f.token = kToken;
  CHECK(s.on_frame(f.view(), t0()).kind == EventKind::frame);  // nothing to compare with
  CHECK(s.foreign_tokens() == 0);
}

TEST_CASE("session: a lost connection after login comes back after one backoff step") {
  const SessionConfig cfg = device_cfg();
  Session s(cfg, kDev, &kPw);
  Recorder r;
  log_in(s, r, t0());
  const Time back = s.connection_lost(t0() + 5s);
  CHECK(s.state() == Session::State::backoff);
  CHECK(s.token().empty());
  CHECK(s.attempts() == 0);
  CHECK(back > t0() + 5s + 799ms);
  CHECK(back <= t0() + 6s);
  s.poll(back, r);
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].kind == EventKind::connect);
  // a new login takes a new token
  s.connected(back);
  r.clear();
  s.poll(back, r);
  REQUIRE(r.sent.size() == 1);
  const Bytes token2{9, 9, 9, 9, 9, 9, 9, 9};
  CHECK(s.on_frame(reply_to(r.sent[0], ai::status::ok, login_ok_data(token2)).view(), back).kind == EventKind::logged_in);
  CHECK(Bytes(s.token().begin(), s.token().end()) == token2);
}

TEST_CASE("session: many sessions share one config, each its own state") {
  const SessionConfig cfg = device_cfg();
  std::vector<Session> all;
  for (std::uint64_t i = 0; i < 1000; ++i) all.emplace_back(cfg, 0x1000 + i, &kPw);
  Recorder r;
  for (auto& s : all) s.connected(t0());
  for (auto& s : all) s.poll(t0(), r);
  CHECK(r.sent.size() == 1000);
  CHECK(r.sent[999].device == 0x1000 + 999);
  for (std::size_t i = 0; i < all.size(); ++i)
    CHECK(all[i].on_frame(reply_to(r.sent[i], ai::status::ok, login_ok_data()).view(), t0()).kind == EventKind::logged_in);
}
