// The load generator (engine.hpp): simulated devices are lib/device SimDevices (login, token,
// answers per m2m-protocol(7)), driven on one net::Loop by an open-loop schedule kept here.
//
// Per-device cost (the <= 1 KiB budget): the SimDevice (kMaxSimDeviceSize), one Dev record
// beside it (heartbeat schedule as a formula, outstanding heartbeats as a 64-bit mask, the
// relay sequence window), about two 4-byte timing-wheel entries and a 4-byte fd table slot.
// No per-device timer, std::function or deframer: a 250 us tick walks a timing wheel of 1 ms slots, and a
// connection gets a buffer only while a frame is split across reads.
//
// Heartbeats are the engine's, not the Session's (SimConfig heartbeat 0): heartbeat k of a
// device is due at login + (k+1)·interval, its sequence number is k mod 2^16, so a reply
// finds its due time without storing it, several may be outstanding at once (a stall shows
// as latency, not as loss), and the interval may be any number of milliseconds.
#include "loadtest/engine.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <deque>
#include <new>
#include <unordered_map>

#include "device/simdevice.hpp"
#include "loadtest/engine_wire.hpp"
#include "m2m/messages.hpp"

namespace m2m::loadtest {

Result<ai::FrameView> FrameScanner::decode(ByteView wire) {
  if (wire.size() > ai::kMaxEscaped) return fail(ErrorKind::too_long, "frame too long");
  if (std::memchr(wire.data() + 1, ai::kEscape, wire.size() - 1) == nullptr) return ai::decode(wire, crc_);
  unescaped_.clear();
  if (auto r = ai::unescape(wire, unescaped_); !r) return unexpected(std::move(r).error());
  return ai::decode(unescaped_, crc_);
}

namespace {

using Ns = std::int64_t;
using SteadyClock = std::chrono::steady_clock;
constexpr Ns kNs = 1'000'000'000;
constexpr Ns kInf = INT64_MAX;
constexpr std::uint32_t kNoWake = UINT32_MAX;
constexpr std::size_t kWheel = 8192;          // 1 ms slots: 8.2 s; later wakes wait a turn
constexpr std::size_t kRelayPayload = 24;     // sender index, sequence, intended time (ns)
constexpr int kMaxPick = 64;                  // devices tried for one mix operation

Ns now_ns() { return SteadyClock::now().time_since_epoch().count(); }
device::Time to_time(Ns ns) { return device::Time(SteadyClock::duration(ns)); }
Ns from_time(device::Time t) { return t == device::kNever ? kInf : t.time_since_epoch().count(); }
std::uint64_t us_between(Ns from, Ns to) { return to > from ? static_cast<std::uint64_t>((to - from) / 1000) : 0; }

// What connect(2) and friends said, as the report's error kinds.
std::string connect_error_kind(const Error& e) {
  const std::string& m = e.message;
  auto has = [&](int err) { return m.find(std::strerror(err)) != std::string::npos; };
  if (has(ECONNREFUSED)) return "refused";
  if (has(ECONNRESET)) return "reset";
  if (has(ETIMEDOUT)) return "timeout";
  if (has(EADDRNOTAVAIL) || has(EADDRINUSE)) return "address_unavailable";
  if (has(EMFILE) || has(ENFILE)) return "file_limit";
  if (has(ENETUNREACH) || has(EHOSTUNREACH)) return "unreachable";
  return "connect_error";
}

std::string_view login_error_kind(ErrorKind k) {
  switch (k) {
    case ErrorKind::refused: return "login_refused";
    case ErrorKind::timeout: return "timeout";
    case ErrorKind::bad_value: return "bad_reply";
    default: return {};  // connection failures: counted where they happened
  }
}

// Engine state beside each SimDevice.
struct Dev {
  static constexpr std::uint8_t kOnline = 1, kTcp = 2, kMarked = 4, kChurning = 8, kConnecting = 16;
  Ns hb_base = 0;            // heartbeat k is due at hb_base + (k+1)·interval
  Ns mark = 0;               // intended time of the connect and login in progress
  std::uint64_t hb_out = 0;  // outstanding heartbeats, bit k mod 64
  std::uint32_t hb_k = 0;    // heartbeats sent (the next one's number)
  std::uint32_t wake = kNoWake;  // ms since the start: the wheel slot it waits in
  std::uint32_t relay_seq = 0;   // relay frames sent
  std::int32_t fd = -1;      // TCP connection, or the UDP socket it shares
  std::uint16_t seq = 1;     // sequence numbers of its relays and uplinks
  std::uint8_t flags = 0;
  SequenceWindow window;     // relay frames from its one sender
};

class EngineImpl final : public Engine, net::Loop::Handler, device::SimOutput {
 public:
  EngineImpl(const EngineOptions& o, Population pop, CrcVariant crc)
      : opt_(o), pop_(std::move(pop)), crc_(crc), scanner_(crc), loop_(*this, loop_options()) {
    n_ = o.devices.size();
    begin_ = o.devices.begin;
    groups_ = pop_.options().groups;
    hb_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(o.traffic.heartbeat).count();
    timeout_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(o.reply_timeout).count();

    device::SessionConfig& s = sim_.session;
    s.role = device::Role::device;
    s.reply_timeout = o.reply_timeout;
    s.heartbeat = device::Millis(0);
    s.heartbeat_after_any_send = false;
    s.max_missed_heartbeats = 0;
    s.max_attempts = 1;  // every attempt is counted once: ok or failed, never retried behind the report's back
    s.retry_refused = false;
    s.backoff_base = device::Millis(0);  // a dropped session logs in again at once (churn)
    s.jitter_percent = 0;
    sim_.defaults.heartbeat_s = 0;  // the engine sends the heartbeats (see the top of this file)
    sim_.defaults.server.port = o.server.port();

    acct_cfg_.role = device::Role::account;
    acct_cfg_.reply_timeout = o.reply_timeout;
    acct_cfg_.heartbeat = device::Millis(30'000);
    acct_cfg_.max_attempts = 3;

    sims_ = static_cast<device::SimDevice*>(::operator new(sizeof(device::SimDevice) * std::max<std::uint64_t>(n_, 1),
                                                            std::align_val_t(alignof(device::SimDevice))));
    devs_.resize(n_);
    for (std::uint64_t l = 0; l < n_; ++l) {
      const Credentials c = pop_.device(begin_ + l);
      auto* d = new (&sims_[l]) device::SimDevice(sim_, c.id, c.password, *this);
      d->slot = static_cast<std::uint32_t>(l);
      if (is_tcp(begin_ + l, o.tcp_percent)) devs_[l].flags |= Dev::kTcp;
      else ++udp_devices_;
    }
    if (o.accounts) {
      accts_.reserve(groups_);
      for (std::uint64_t g = 0; g < groups_; ++g) {
        const Credentials c = pop_.account(g);
        accts_.emplace_back(acct_cfg_, c.id, c.password);
      }
    }
    wheel_.resize(kWheel);
  }

  ~EngineImpl() override {
    for (std::uint64_t l = 0; l < n_; ++l) sims_[l].~SimDevice();
    ::operator delete(sims_, std::align_val_t(alignof(device::SimDevice)));
  }

  std::size_t memory_per_device() const override {
    // The device and its record, two wheel entries, the fd table slot, and its share of the
    // wheel and UDP sockets' bookkeeping (nothing else grows with the device count).
    return sizeof(device::SimDevice) + sizeof(Dev) + 2 * sizeof(std::uint32_t) + sizeof(std::int32_t);
  }

  Result<Report> run(const net::Stop& stop, const std::function<void(const Snapshot&)>& progress) override;

 private:
  struct Account {
    Account(const device::SessionConfig& cfg, std::uint64_t id, const ai::Password& pw) : s(cfg, id, &pw) {}
    device::Session s;
    int fd = -1;
  };
  // A Session's output while the engine polls an account.
  struct AccountSink final : device::Sink {
    EngineImpl* e;
    std::size_t a;
    void send(const ai::FrameView& f) override { e->send_account(a, f); }
    void event(const device::Event& ev) override { e->account_events_.push_back(ev); }
  };

  static net::Loop::Options loop_options() {
    net::Loop::Options o;
    // Sends leave at the first tick after their scheduled time, and that wait is in every
    // latency: a 250 us tick keeps it under 0.25 ms (about 4,000 wake-ups a second per process).
    o.tick = std::chrono::microseconds(250);
    o.max_send_queue = 256 * 1024;
    return o;
  }

  device::SimDevice& sim(std::uint64_t l) { return sims_[l]; }
  std::uint32_t ms_of(Ns t) const {
    if (t == kInf) return kNoWake;
    const Ns d = t - t0_;
    if (d <= 0) return 0;
    const Ns ms = (d + 999'999) / 1'000'000;
    return ms >= static_cast<Ns>(kNoWake) ? kNoWake - 1 : static_cast<std::uint32_t>(ms);
  }
  void error(std::string_view kind, std::uint64_t n = 1) {
    report_.errors[std::string(kind)] += n;
  }
  void late(Ns intended) {
    if (now_ - intended > kLateThreshold.count() * 1'000'000) ++report_.totals.late_sends;
  }
  Ns hb_due(const Dev& v, std::uint32_t k) const { return v.hb_base + (static_cast<Ns>(k) + 1) * hb_ns_; }
  bool online(std::uint64_t l) const { return devs_[l].flags & Dev::kOnline; }

  // Relay partners: the next member of the same group in this slice (a ring per group).
  std::uint64_t relay_target(std::uint64_t l) const {
    const std::uint64_t g = begin_ + l;
    if (g + groups_ < begin_ + n_) return l + groups_;
    return (g - begin_) % groups_;
  }
  std::uint64_t relay_sender(std::uint64_t l) const {
    if (l >= groups_) return l - groups_;
    const std::uint64_t first = l % groups_;
    return first + ((n_ - 1 - first) / groups_) * groups_;
  }

  // ---- the schedule ----
  void schedule(std::uint64_t l, Ns at);
  void poll_dev(std::uint64_t l);
  void settle();
  void expire_heartbeats(std::uint64_t l);
  Ns next_heartbeat_deadline(const Dev& v) const;
  void send_heartbeat(std::uint64_t l, Ns due);
  void lose_heartbeats(Dev& v, bool timeout);
  void run_wheel();
  void run_mixes();
  void relay_once(Ns intended);
  void uplink_once(Ns intended);
  void churn_once(Ns intended);
  void downlink_once(Ns intended);
  void poll_accounts();
  void poll_account(std::size_t a);
  void expire_downlinks(bool all);
  bool in_flight() const;
  void begin_drain();
  void finish();
  Snapshot snapshot() const;

  // ---- wire ----
  bool transmit(std::uint64_t l, const ai::FrameView& f);
  void send_account(std::size_t a, const ai::FrameView& f);
  void device_frame(std::uint64_t l, const ai::FrameView& f);
  void heartbeat_reply(std::uint64_t l, const ai::FrameView& f);
  void account_frame(std::size_t a, const ai::FrameView& f);
  void drop_fd(int fd);
  int fd_owner(int fd) const { return fd >= 0 && static_cast<std::size_t>(fd) < fd_owner_.size() ? fd_owner_[fd] : -1; }
  void set_owner(int fd, int owner) {
    if (static_cast<std::size_t>(fd) >= fd_owner_.size()) fd_owner_.resize(static_cast<std::size_t>(fd) + 1024, -1);
    fd_owner_[fd] = owner;
  }
  static constexpr int kAccountBase = 1 << 30;  // fd owners at and above: accounts

  // net::Loop::Handler
  const char* accepted(int, int, const net::Address&) override { return "not listening"; }
  void connected(int fd, const Error* failure) override;
  void received(int fd, ByteView bytes) override;
  void ended(int fd, const char* reason) override;
  void released(int fd) override { partial_.erase(fd); }
  void datagram(int fd, const net::Address& from, ByteView bytes) override;
  void tick() override;
  // device::SimOutput
  void connect(device::SimDevice& d, const ai::ServerAddr& to) override;
  void disconnect(device::SimDevice& d) override;
  void send(device::SimDevice& d, const ai::FrameView& f) override;
  void send_peer(device::SimDevice&, const ai::FrameView&, const device::PeerAddr&) override {}
  void received(device::SimDevice& d, const ai::FrameView& f, const device::PeerAddr* from) override;
  void event(device::SimDevice& d, const device::SimEvent& e) override;

  EngineOptions opt_;
  Population pop_;
  CrcVariant crc_;
  FrameScanner scanner_;
  net::Loop loop_;
  net::Stop done_;
  const net::Stop* stop_ = nullptr;
  const std::function<void(const Snapshot&)>* progress_ = nullptr;

  std::uint64_t n_ = 0, begin_ = 0, groups_ = 1, udp_devices_ = 0;
  Ns hb_ns_ = 0, timeout_ns_ = 0;
  device::SimConfig sim_;
  device::SessionConfig acct_cfg_;
  device::SimDevice* sims_ = nullptr;
  std::vector<Dev> devs_;
  std::vector<Account> accts_;
  std::vector<device::Event> account_events_;
  std::vector<int> udp_fds_;
  std::vector<int> fd_owner_;  // by fd: device index, kAccountBase + account, or -1
  std::unordered_map<int, Bytes> partial_;  // a frame split across reads, by fd
  std::vector<std::vector<std::uint32_t>> wheel_;
  std::vector<std::uint32_t> visiting_;
  std::vector<std::uint32_t> up_;                          // UDP devices "connected", to settle
  std::vector<std::pair<std::uint32_t, ErrorKind>> lost_;  // connections gone, to settle
  Bytes tx_;
  std::size_t src_rr_ = 0;

  // Time and schedule.
  Ns now_ = 0, t0_ = 0, end_ = 0, ended_at_ = 0, drain_until_ = 0, mix_start_ = 0, next_progress_ = 0,
     next_account_poll_ = 0;
  std::uint32_t cursor_ = 0;  // wheel slots up to this ms are done
  enum class Phase : std::uint8_t { running, draining, done } phase_ = Phase::running;
  std::uint64_t next_connect_ = 0;
  std::uint64_t relay_k_ = 0, uplink_k_ = 0, downlink_k_ = 0, churn_k_ = 0;
  std::uint64_t relay_rr_ = 0, uplink_rr_ = 0, churn_rr_ = 0;

  // Figures.
  Report report_;
  std::uint64_t online_ = 0, scheduled_connects_ = 0, connecting_ = 0;
  std::uint64_t hb_inflight_ = 0, uplink_replies_ = 0, relay_replies_ = 0, relay_refused_ = 0;
  std::unordered_map<std::uint32_t, Ns> downlinks_;         // (account << 16 | seq) -> intended
  std::deque<std::pair<std::uint32_t, Ns>> dl_deadlines_;  // in send order: key, intended
};

// ---- the timing wheel ----------------------------------------------------------------------

void EngineImpl::schedule(std::uint64_t l, Ns at) {
  Dev& v = devs_[l];
  std::uint32_t ms = ms_of(at);
  if (ms != kNoWake && ms <= cursor_) ms = cursor_ + 1;
  if (ms == v.wake) return;
  v.wake = ms;
  if (ms != kNoWake) wheel_[ms % kWheel].push_back(static_cast<std::uint32_t>(l));
}

void EngineImpl::run_wheel() {
  const std::uint32_t now_ms = static_cast<std::uint32_t>(std::max<Ns>(0, (now_ - t0_) / 1'000'000));
  std::uint32_t visits = 0;
  while (cursor_ < now_ms && visits++ < kWheel) {
    const std::uint32_t ms = ++cursor_;
    auto& slot = wheel_[ms % kWheel];
    if (slot.empty()) continue;
    visiting_.clear();
    visiting_.swap(slot);
    for (std::uint32_t l : visiting_) {
      Dev& v = devs_[l];
      if (v.wake == kNoWake || v.wake % kWheel != ms % kWheel) continue;  // moved since: stale
      if (v.wake > now_ms) {
        slot.push_back(l);  // a later turn of the wheel
        continue;
      }
      v.wake = kNoWake;
      poll_dev(l);
    }
  }
  if (cursor_ < now_ms) cursor_ = now_ms;  // fell more than a whole turn behind: every slot was seen
  settle();
}

// ---- devices ---------------------------------------------------------------------------------

Ns EngineImpl::next_heartbeat_deadline(const Dev& v) const {
  Ns first = kInf;
  for (std::uint64_t m = v.hb_out; m; m &= m - 1) {
    const std::uint32_t b = static_cast<std::uint32_t>(std::countr_zero(m));
    const std::uint32_t k = (v.hb_k - 1) - ((v.hb_k - 1 - b) % 64);
    first = std::min(first, hb_due(v, k) + timeout_ns_);
  }
  return first;
}

void EngineImpl::lose_heartbeats(Dev& v, bool timeout) {
  const auto n = static_cast<std::uint64_t>(std::popcount(v.hb_out));
  if (!n) return;
  report_.totals.hb_loss += n;
  hb_inflight_ -= n;
  if (timeout) error("timeout", n);
  v.hb_out = 0;
}

void EngineImpl::expire_heartbeats(std::uint64_t l) {
  Dev& v = devs_[l];
  for (std::uint64_t m = v.hb_out; m; m &= m - 1) {
    const std::uint32_t b = static_cast<std::uint32_t>(std::countr_zero(m));
    const std::uint32_t k = (v.hb_k - 1) - ((v.hb_k - 1 - b) % 64);
    if (hb_due(v, k) + timeout_ns_ <= now_) {
      v.hb_out &= ~(std::uint64_t{1} << b);
      ++report_.totals.hb_loss;
      --hb_inflight_;
      error("timeout");
    }
  }
}

void EngineImpl::send_heartbeat(std::uint64_t l, Ns due) {
  Dev& v = devs_[l];
  device::SimDevice& d = sim(l);
  const std::uint32_t k = v.hb_k;
  const std::uint64_t bit = std::uint64_t{1} << (k % 64);
  if (v.hb_out & bit) {  // 64 intervals without a reply
    v.hb_out &= ~bit;
    ++report_.totals.hb_loss;
    --hb_inflight_;
    error("timeout");
  }
  const ai::FrameView f{ai::cls::link, 0x01, static_cast<std::uint16_t>(k), 0, ai::status::request,
                        d.id(), d.session().token(), {}};
  ++v.hb_k;  // due times follow k whether or not the kernel took the frame
  if (!transmit(l, f)) return;
  late(due);
  ++report_.totals.hb_sent;
  v.hb_out |= bit;
  ++hb_inflight_;
}

void EngineImpl::poll_dev(std::uint64_t l) {
  Dev& v = devs_[l];
  device::SimDevice& d = sim(l);
  if (v.hb_out) expire_heartbeats(l);
  if ((v.flags & Dev::kOnline) && hb_ns_ > 0) {
    for (Ns due = hb_due(v, v.hb_k); due <= now_ && due < end_ && (v.flags & Dev::kOnline); due = hb_due(v, v.hb_k))
      send_heartbeat(l, due);
  }
  Ns wake = from_time(d.poll(to_time(now_)));
  if ((v.flags & Dev::kOnline) && hb_ns_ > 0) {
    const Ns next = hb_due(v, v.hb_k);
    if (next < end_) wake = std::min(wake, next);
  }
  if (v.hb_out) wake = std::min(wake, next_heartbeat_deadline(v));
  schedule(l, wake);
}

void EngineImpl::settle() {
  for (int round = 0; round < 8 && (!up_.empty() || !lost_.empty()); ++round) {
    std::vector<std::uint32_t> up;
    up.swap(up_);
    for (std::uint32_t l : up) {
      sim(l).connected(to_time(now_));
      poll_dev(l);
    }
    std::vector<std::pair<std::uint32_t, ErrorKind>> lost;
    lost.swap(lost_);
    for (auto [l, why] : lost) {
      sim(l).connection_lost(to_time(now_), why);
      poll_dev(l);
    }
  }
}

// device::SimOutput

void EngineImpl::connect(device::SimDevice& d, const ai::ServerAddr&) {
  const std::uint64_t l = d.slot;
  Dev& v = devs_[l];
  if (!(v.flags & Dev::kMarked)) v.mark = now_;  // a reconnect the device chose itself
  if (!(v.flags & Dev::kConnecting)) ++connecting_;
  v.flags |= Dev::kMarked | Dev::kConnecting;
  if (!(v.flags & Dev::kTcp)) {
    v.fd = udp_fds_[(l / kUdpDevicesPerSocket) % udp_fds_.size()];
    up_.push_back(static_cast<std::uint32_t>(l));
    return;
  }
  const net::Address* src = opt_.sources.empty() ? nullptr : &opt_.sources[src_rr_++ % opt_.sources.size()];
  auto fd = loop_.connect(opt_.server, src);
  if (!fd) {
    ++report_.totals.connect_fail;
    error(connect_error_kind(fd.error()));
    lost_.emplace_back(static_cast<std::uint32_t>(l), ErrorKind::unavailable);
    return;
  }
  v.fd = *fd;
  set_owner(*fd, static_cast<int>(l));
}

void EngineImpl::disconnect(device::SimDevice& d) {
  Dev& v = devs_[d.slot];
  if ((v.flags & Dev::kTcp) && v.fd >= 0) drop_fd(v.fd);
  if (v.flags & Dev::kTcp) v.fd = -1;
}

void EngineImpl::drop_fd(int fd) {
  set_owner(fd, -1);
  loop_.close(fd);
}

void EngineImpl::send(device::SimDevice& d, const ai::FrameView& f) { transmit(d.slot, f); }

bool EngineImpl::transmit(std::uint64_t l, const ai::FrameView& f) {
  Dev& v = devs_[l];
  if (v.fd < 0) return false;
  tx_.clear();
  if (!ai::encode(f, crc_, tx_)) return false;
  if (!(v.flags & Dev::kTcp)) {
    if (loop_.send_to(v.fd, opt_.server, tx_)) return true;
    error("udp_send_dropped");
    return false;
  }
  if (const char* why = loop_.send(v.fd, tx_)) {
    error(std::string_view(why) == "slow_reader" ? "send_queue_full" : "reset");
    drop_fd(v.fd);
    v.fd = -1;
    lost_.emplace_back(static_cast<std::uint32_t>(l), ErrorKind::unavailable);
    return false;
  }
  return true;
}

void EngineImpl::event(device::SimDevice& d, const device::SimEvent& e) {
  const std::uint64_t l = d.slot;
  Dev& v = devs_[l];
  switch (e.kind) {
    case device::SimEventKind::login:
      ++report_.totals.login_ok;
      report_.hist(Op::login).record(us_between(v.mark, now_));
      if (v.flags & Dev::kChurning) ++report_.totals.churn;
      if (v.flags & Dev::kConnecting) --connecting_;
      v.flags = static_cast<std::uint8_t>((v.flags | Dev::kOnline) & ~(Dev::kMarked | Dev::kChurning | Dev::kConnecting));
      ++online_;
      v.hb_base = now_ - static_cast<Ns>(v.hb_k) * hb_ns_;  // heartbeat hb_k due one interval from now
      // The login reply came in a frame, not a poll: the wheel still holds the login's timeout.
      if (hb_ns_ > 0) schedule(l, hb_due(v, v.hb_k) < end_ ? hb_due(v, v.hb_k) : kInf);
      break;
    case device::SimEventKind::login_failed: {
      ++report_.totals.login_fail;
      if (auto kind = login_error_kind(e.reason); !kind.empty()) error(kind);
      if (v.flags & Dev::kConnecting) --connecting_;
      v.flags &= static_cast<std::uint8_t>(~(Dev::kMarked | Dev::kChurning | Dev::kConnecting));
      break;
    }
    case device::SimEventKind::logout:
      if (v.flags & Dev::kOnline) {
        --online_;
        v.flags &= static_cast<std::uint8_t>(~Dev::kOnline);
      }
      lose_heartbeats(v, false);  // their replies went with the connection
      break;
    default: break;
  }
}

void EngineImpl::received(device::SimDevice& d, const ai::FrameView& f, const device::PeerAddr*) {
  if (ai::command_key(f.cls, f.cmd) != ai::cmd::data_relay) return;
  // data: the sender's id (8), then the payload: sender index, sequence, intended time.
  if (f.data.size() != 8 + kRelayPayload) {
    error("relay_bad_payload");
    return;
  }
  const std::uint8_t* p = f.data.data() + 8;
  const std::uint64_t sender = get_be64(p), seq = get_be64(p + 8);
  const Ns intended = static_cast<Ns>(get_be64(p + 16));
  const std::uint64_t l = d.slot;
  if (sender != begin_ + relay_sender(l)) {
    error("relay_unexpected_sender");
    return;
  }
  devs_[l].window.receive(seq, report_.relay);
  report_.hist(Op::relay).record(us_between(intended, now_));
}

void EngineImpl::heartbeat_reply(std::uint64_t l, const ai::FrameView& f) {
  Dev& v = devs_[l];
  if (!v.hb_out || v.hb_k == 0) {
    error("late_reply");
    return;
  }
  const std::uint32_t last = v.hb_k - 1;
  const std::uint32_t back = static_cast<std::uint16_t>(static_cast<std::uint16_t>(last) - f.seq);
  const std::uint64_t bit = std::uint64_t{1} << ((last - back) % 64);
  if (back >= 64 || !(v.hb_out & bit)) {
    error("late_reply");  // after its timeout (already counted lost), or a duplicate
    return;
  }
  v.hb_out &= ~bit;
  --hb_inflight_;
  if (f.status != ai::status::ok) {
    ++report_.totals.hb_loss;
    error("hb_refused");
    return;
  }
  ++report_.totals.hb_acked;
  report_.hist(Op::heartbeat).record(us_between(hb_due(v, last - back), now_));
}

void EngineImpl::device_frame(std::uint64_t l, const ai::FrameView& f) {
  device::SimDevice& d = sim(l);
  if (f.device != d.id()) {
    error("wrong_device");
    return;
  }
  if (f.status != ai::status::request) {
    const std::uint16_t key = ai::command_key(f.cls, f.cmd);
    if (key == ai::cmd::link_heartbeat || key == ai::cmd::data_relay || key == ai::cmd::data_uplink) {
      const ByteView tok = d.session().token();
      if (!d.session().logged_in() || f.token.size() != tok.size() ||
          !std::equal(f.token.begin(), f.token.end(), tok.begin())) {
        error("foreign_token");
        return;
      }
      if (key == ai::cmd::link_heartbeat) return heartbeat_reply(l, f);
      if (key == ai::cmd::data_relay) {
        ++relay_replies_;
        if (f.status != ai::status::ok) {
          ++relay_refused_;
          error("relay_refused");
        }
        return;
      }
      ++uplink_replies_;
      if (f.status == ai::status::ok) ++report_.totals.uplink_acked;
      else error("uplink_refused");
      return;
    }
  }
  d.on_frame(f, nullptr, to_time(now_));
}

// ---- accounts (downlink) -----------------------------------------------------------------------

void EngineImpl::send_account(std::size_t a, const ai::FrameView& f) {
  Account& acc = accts_[a];
  if (acc.fd < 0) return;
  tx_.clear();
  if (!ai::encode(f, crc_, tx_)) return;
  if (loop_.send(acc.fd, tx_)) {
    error("account_reset");
    drop_fd(acc.fd);
    acc.fd = -1;
    acc.s.connection_lost(to_time(now_), ErrorKind::unavailable);
  }
}

void EngineImpl::poll_account(std::size_t a) {
  Account& acc = accts_[a];
  AccountSink sink;
  sink.e = this;
  sink.a = a;
  for (int round = 0; round < 4; ++round) {
    account_events_.clear();
    acc.s.poll(to_time(now_), sink);
    if (account_events_.empty()) break;
    const auto events = account_events_;
    for (const device::Event& ev : events) {
      switch (ev.kind) {
        case device::EventKind::connect: {
          auto fd = loop_.connect(opt_.server, opt_.sources.empty() ? nullptr : &opt_.sources[a % opt_.sources.size()]);
          if (!fd) {
            error("account_" + connect_error_kind(fd.error()));
            acc.s.connection_lost(to_time(now_), ErrorKind::unavailable);
          } else {
            acc.fd = *fd;
            set_owner(*fd, kAccountBase + static_cast<int>(a));
          }
          break;
        }
        case device::EventKind::login_failed:
        case device::EventKind::link_lost:
          error(ev.kind == device::EventKind::link_lost ? "account_link_lost" : "account_login_failed");
          if (acc.fd >= 0) drop_fd(acc.fd);
          acc.fd = -1;
          break;
        default: break;
      }
    }
  }
}

void EngineImpl::poll_accounts() {
  for (std::size_t a = 0; a < accts_.size(); ++a) poll_account(a);
}

void EngineImpl::account_frame(std::size_t a, const ai::FrameView& f) {
  Account& acc = accts_[a];
  if (f.status != ai::status::request && ai::command_key(f.cls, f.cmd) == ai::cmd::term_config_read) {
    const std::uint32_t key = static_cast<std::uint32_t>(a) << 16 | f.seq;
    auto it = downlinks_.find(key);
    if (it == downlinks_.end()) {
      error("late_reply");
      return;
    }
    if (f.status == ai::status::ok) {
      ++report_.totals.downlink_ok;
      report_.hist(Op::downlink).record(us_between(it->second, now_));
    } else {
      ++report_.totals.downlink_fail;
    }
    downlinks_.erase(it);
    return;
  }
  const device::Event ev = acc.s.on_frame(f, to_time(now_));
  if (ev.kind == device::EventKind::login_failed) {
    error("account_login_failed");
    if (acc.fd >= 0) drop_fd(acc.fd);
    acc.fd = -1;
  }
  if (ev.kind == device::EventKind::logged_in) poll_account(a);
}

void EngineImpl::expire_downlinks(bool all) {
  while (!dl_deadlines_.empty()) {
    auto [key, intended] = dl_deadlines_.front();
    if (!all && intended + timeout_ns_ > now_) break;
    dl_deadlines_.pop_front();
    auto it = downlinks_.find(key);
    if (it == downlinks_.end() || it->second != intended) continue;  // answered (or key reused)
    downlinks_.erase(it);
    ++report_.totals.downlink_loss;
    error("timeout");
  }
}

// ---- traffic mixes -----------------------------------------------------------------------------

void EngineImpl::relay_once(Ns intended) {
  for (int tries = 0; tries < kMaxPick && n_; ++tries) {
    const std::uint64_t l = relay_rr_++ % n_;
    const std::uint64_t t = relay_target(l);
    if (t == l || !online(l) || !online(t)) continue;
    Dev& v = devs_[l];
    device::SimDevice& d = sim(l);
    Bytes data;
    data.reserve(8 + 8 + kRelayPayload);
    put_be64(data, sim(t).id());
    put_be64(data, begin_ + l);
    put_be64(data, v.relay_seq);
    put_be64(data, static_cast<std::uint64_t>(intended));
    const ai::FrameView f{ai::cls::data, 0x55, v.seq++, 0, ai::status::request, d.id(), d.session().token(), data};
    if (!transmit(l, f)) return;
    late(intended);
    ++v.relay_seq;
    ++report_.totals.relay_sent;
    return;
  }
  error("no_session");
}

void EngineImpl::uplink_once(Ns intended) {
  for (int tries = 0; tries < kMaxPick && n_; ++tries) {
    const std::uint64_t l = uplink_rr_++ % n_;
    if (!online(l)) continue;
    device::SimDevice& d = sim(l);
    Bytes data;
    put_be64(data, uplink_k_);
    const ai::FrameView f{ai::cls::data, 0xEE, devs_[l].seq++, 0, ai::status::request, d.id(), d.session().token(), data};
    if (!transmit(l, f)) return;
    late(intended);
    ++report_.totals.uplink_sent;
    return;
  }
  error("no_session");
}

void EngineImpl::churn_once(Ns intended) {
  for (int tries = 0; tries < kMaxPick && n_; ++tries) {
    const std::uint64_t l = churn_rr_++ % n_;
    Dev& v = devs_[l];
    if (!online(l) || v.hb_out) continue;  // not while a reply is due: the drop would lose it
    late(intended);
    v.flags |= Dev::kChurning | Dev::kMarked;
    v.mark = intended;
    if ((v.flags & Dev::kTcp) && v.fd >= 0) {
      drop_fd(v.fd);
      v.fd = -1;
    }
    sim(l).connection_lost(to_time(now_), ErrorKind::closed);
    poll_dev(l);
    return;
  }
  error("no_session");
}

void EngineImpl::downlink_once(Ns intended) {
  const std::uint64_t count = pop_.options().count;
  const std::uint64_t j = downlink_k_ % count;
  const std::size_t a = static_cast<std::size_t>(j % groups_);
  Account& acc = accts_[a];
  if (!acc.s.logged_in() || acc.fd < 0) {
    error("no_session");
    return;
  }
  const std::uint16_t seq = acc.s.next_seq();
  const std::uint32_t key = static_cast<std::uint32_t>(a) << 16 | seq;
  if (auto it = downlinks_.find(key); it != downlinks_.end()) {  // 65,536 outstanding: the oldest is lost
    downlinks_.erase(it);
    ++report_.totals.downlink_loss;
    error("timeout");
  }
  Bytes data;
  put_le16(data, ai::param::version);
  const ai::FrameView f{ai::cls::term, 0xAA, seq, 0, ai::status::request, pop_.device(j).id, acc.s.token(), data};
  send_account(a, f);
  if (acc.fd < 0) return;
  late(intended);
  ++report_.totals.downlink_sent;
  downlinks_.emplace(key, intended);
  dl_deadlines_.emplace_back(key, intended);
}

void EngineImpl::run_mixes() {
  if (now_ < mix_start_) return;
  const Traffic& t = opt_.traffic;
  auto due = [&](double rate, std::uint64_t k) {
    return mix_start_ + static_cast<Ns>(static_cast<double>(k) * 1e9 / rate);
  };
  if (t.relay > 0)
    for (Ns at = due(t.relay, relay_k_); at <= now_ && at < end_; at = due(t.relay, ++relay_k_)) relay_once(at);
  if (t.uplink > 0)
    for (Ns at = due(t.uplink, uplink_k_); at <= now_ && at < end_; at = due(t.uplink, ++uplink_k_)) uplink_once(at);
  if (t.downlink > 0)
    for (Ns at = due(t.downlink, downlink_k_); at <= now_ && at < end_; at = due(t.downlink, ++downlink_k_)) downlink_once(at);
  if (t.churn > 0)
    for (Ns at = due(t.churn, churn_k_); at <= now_ && at < end_; at = due(t.churn, ++churn_k_)) churn_once(at);
  settle();
}

// ---- net::Loop::Handler ------------------------------------------------------------------------

void EngineImpl::connected(int fd, const Error* failure) {
  now_ = now_ns();
  const int owner = fd_owner(fd);
  if (owner >= kAccountBase) {
    Account& acc = accts_[static_cast<std::size_t>(owner - kAccountBase)];
    if (failure) {
      error("account_" + connect_error_kind(*failure));
      set_owner(fd, -1);
      acc.fd = -1;
      acc.s.connection_lost(to_time(now_), ErrorKind::unavailable);
    } else {
      acc.s.connected(to_time(now_));
    }
    poll_account(static_cast<std::size_t>(owner - kAccountBase));
    return;
  }
  if (owner < 0) return;
  const auto l = static_cast<std::uint64_t>(owner);
  Dev& v = devs_[l];
  if (failure) {
    ++report_.totals.connect_fail;
    error(connect_error_kind(*failure));
    set_owner(fd, -1);
    v.fd = -1;
    sim(l).connection_lost(to_time(now_), ErrorKind::unavailable);
  } else {
    ++report_.totals.connect_ok;
    report_.hist(Op::connect).record(us_between(v.mark, now_));
    sim(l).connected(to_time(now_));
  }
  poll_dev(l);
  settle();
}

void EngineImpl::received(int fd, ByteView bytes) {
  now_ = now_ns();
  Bytes joined;
  if (auto it = partial_.find(fd); it != partial_.end()) {
    joined = std::move(it->second);
    partial_.erase(it);
    joined.insert(joined.end(), bytes.begin(), bytes.end());
    bytes = joined;
  }
  const std::size_t used = scanner_.scan(bytes, [&](const ai::FrameView& f) {
    const int owner = fd_owner(fd);
    if (owner >= kAccountBase) account_frame(static_cast<std::size_t>(owner - kAccountBase), f);
    else if (owner >= 0) device_frame(static_cast<std::uint64_t>(owner), f);
  });
  if (used < bytes.size() && fd_owner(fd) >= 0) {
    if (bytes.size() - used > ai::kMaxEscaped) error("bad_frame");
    else partial_[fd].assign(bytes.begin() + static_cast<std::ptrdiff_t>(used), bytes.end());
  }
  settle();
}

void EngineImpl::datagram(int, const net::Address&, ByteView bytes) {
  now_ = now_ns();
  const std::uint64_t id0 = pop_.options().id_start + begin_;
  scanner_.scan(bytes, [&](const ai::FrameView& f) {
    const std::uint64_t l = f.device - id0;
    if (f.device < id0 || l >= n_ || (devs_[l].flags & Dev::kTcp)) {
      error("wrong_device");
      return;
    }
    device_frame(l, f);
  });
  settle();
}

void EngineImpl::ended(int fd, const char* reason) {
  now_ = now_ns();
  const int owner = fd_owner(fd);
  set_owner(fd, -1);
  if (owner >= kAccountBase) {
    Account& acc = accts_[static_cast<std::size_t>(owner - kAccountBase)];
    error("account_closed");
    acc.fd = -1;
    acc.s.connection_lost(to_time(now_), ErrorKind::closed);
    return;
  }
  if (owner < 0) return;
  error(std::string_view(reason) == "closed" ? "closed" : "reset");
  devs_[static_cast<std::uint64_t>(owner)].fd = -1;
  lost_.emplace_back(static_cast<std::uint32_t>(owner), ErrorKind::closed);
  settle();
}

bool EngineImpl::in_flight() const {
  const Totals& t = report_.totals;
  const std::uint64_t relayed = report_.relay.received - report_.relay.duplicates;
  return connecting_ > 0 || hb_inflight_ > 0 || !downlinks_.empty() || uplink_replies_ < t.uplink_sent ||
         relay_replies_ < t.relay_sent || relayed + relay_refused_ < t.relay_sent;
}

void EngineImpl::begin_drain() {
  phase_ = Phase::draining;
  ended_at_ = now_;
  drain_until_ = now_ + timeout_ns_;
}

void EngineImpl::finish() {
  phase_ = Phase::done;
  // Whatever is still unanswered after reply_timeout is lost, and counted.
  for (std::uint64_t l = 0; l < n_; ++l) {
    Dev& v = devs_[l];
    lose_heartbeats(v, true);
    if (v.flags & Dev::kConnecting) {
      ++report_.totals.login_fail;
      error("timeout");
      v.flags &= static_cast<std::uint8_t>(~Dev::kConnecting);
      --connecting_;
    }
    if ((v.flags & Dev::kTcp) && v.fd >= 0) drop_fd(v.fd);
    v.fd = -1;
  }
  expire_downlinks(true);
  for (Account& acc : accts_)
    if (acc.fd >= 0) {
      drop_fd(acc.fd);
      acc.fd = -1;
    }
  for (std::uint64_t l = 0; l < n_; ++l) {
    const std::uint64_t s = relay_sender(l);
    if (s != l) devs_[l].window.finish(devs_[s].relay_seq, report_.relay);
  }
  done_.request();
}

Snapshot EngineImpl::snapshot() const {
  Snapshot s;
  s.elapsed_s = static_cast<double>(now_ - t0_) / 1e9;
  s.scheduled_connects = scheduled_connects_;
  s.online = online_;
  s.totals = report_.totals;
  s.relay = report_.relay;
  s.errors = report_.errors;
  return s;
}

void EngineImpl::tick() {
  now_ = now_ns();
  if (phase_ == Phase::done) return;
  if (phase_ == Phase::running) {
    if (now_ >= end_ || stop_->requested()) {
      begin_drain();
    } else {
      const double rate = opt_.traffic.login_rate;
      for (;;) {
        if (next_connect_ >= n_) break;
        const Ns at = t0_ + static_cast<Ns>(static_cast<double>(next_connect_) * 1e9 / rate);
        if (at > now_ || at >= end_) break;
        const std::uint64_t l = next_connect_++;
        ++scheduled_connects_;
        Dev& v = devs_[l];
        v.mark = at;
        v.flags |= Dev::kMarked;
        late(at);
        sim(l).start(to_time(now_));
        poll_dev(l);
        settle();
      }
      run_wheel();
      run_mixes();
      if (!accts_.empty() && now_ >= next_account_poll_) {
        next_account_poll_ = now_ + 100'000'000;
        poll_accounts();
      }
      expire_downlinks(false);
    }
  }
  if (phase_ == Phase::draining) {
    expire_downlinks(false);
    if (!in_flight() || now_ >= drain_until_) finish();
  }
  if (*progress_ && now_ >= next_progress_) {
    next_progress_ += kNs;
    if (next_progress_ <= now_) next_progress_ = now_ + kNs;
    (*progress_)(snapshot());
  }
}

Result<Report> EngineImpl::run(const net::Stop& stop, const std::function<void(const Snapshot&)>& progress) {
  stop_ = &stop;
  progress_ = &progress;
  if (auto r = loop_.open(); !r) return unexpected(std::move(r).error());
  if (udp_devices_ > 0) {
    const std::uint64_t sockets = (udp_devices_ + kUdpDevicesPerSocket - 1) / kUdpDevicesPerSocket;
    const std::uint64_t per_slot = std::max<std::uint64_t>(1, (n_ + kUdpDevicesPerSocket - 1) / kUdpDevicesPerSocket);
    for (std::uint64_t j = 0; j < std::max(sockets, per_slot); ++j) {
      net::Address at;
      if (!opt_.sources.empty()) {
        at = opt_.sources[j % opt_.sources.size()];
      } else if (opt_.server.family() == AF_INET6) {
        sockaddr_in6 any{};
        any.sin6_family = AF_INET6;
        at = net::Address::from(reinterpret_cast<const sockaddr*>(&any), sizeof any);
      } else {
        at = net::Address::ipv4(0, 0);
      }
      auto fd = loop_.open_udp(at);
      if (!fd) return unexpected(Error{fd.error().kind, 0, "UDP socket for the simulated devices: " + fd.error().message});
      const int buf = 4 << 20;
      ::setsockopt(*fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
      ::setsockopt(*fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
      udp_fds_.push_back(*fd);
    }
  }
  now_ = t0_ = now_ns();
  end_ = t0_ + std::chrono::duration_cast<std::chrono::nanoseconds>(opt_.duration).count();
  const double ramp_s = n_ ? static_cast<double>(n_) / opt_.traffic.login_rate : 0.0;
  mix_start_ = t0_ + static_cast<Ns>(ramp_s * 1e9);
  next_progress_ = t0_ + kNs;
  for (Account& acc : accts_) acc.s.start(to_time(now_));
  poll_accounts();
  tick();
  if (loop_.run(done_) != 0) return fail(ErrorKind::io, "the load generator's event loop failed (epoll)");
  loop_.release_closed();

  Report r = std::move(report_);
  r.devices = n_;
  r.shards = 1;
  r.duration_s = static_cast<double>((ended_at_ ? ended_at_ : now_) - t0_) / 1e9;
  const SelfUsage u = self_usage();
  r.cpu_seconds = u.cpu_seconds;
  r.peak_rss_kib = u.peak_rss_kib;
  r.peak_rss_kib_sum = u.peak_rss_kib;
  if (scanner_.bad()) r.errors["bad_frame"] += scanner_.bad();
  return r;
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::make(const EngineOptions& o) {
  auto pop = Population::make(o.population);
  if (!pop) return unexpected(std::move(pop).error());
  const std::uint64_t count = o.population.count;
  if (o.devices.begin > o.devices.end || o.devices.end > count)
    return fail(ErrorKind::bad_value, "the device slice [" + std::to_string(o.devices.begin) + ", " +
                                          std::to_string(o.devices.end) + ") is not inside the population of " +
                                          std::to_string(count));
  if (o.devices.size() >= (std::uint64_t{1} << 30))
    return fail(ErrorKind::bad_value, "at most 2^30 devices per engine; split the run over processes");
  if (o.tcp_percent > 100) return fail(ErrorKind::bad_value, "tcp_percent must be 0-100");
  const Traffic& t = o.traffic;
  for (double r : {t.login_rate, t.relay, t.uplink, t.downlink, t.churn})
    if (!(r >= 0) || !std::isfinite(r)) return fail(ErrorKind::bad_value, "rates must be finite and >= 0");
  if (o.devices.size() > 0 && !(t.login_rate > 0)) return fail(ErrorKind::bad_value, "the login rate must be > 0");
  if (t.heartbeat.count() < 0) return fail(ErrorKind::bad_value, "the heartbeat interval must be >= 0");
  if (t.downlink > 0 && !o.accounts)
    return fail(ErrorKind::bad_value, "downlink traffic needs the platform accounts (accounts = true)");
  if (t.downlink > 0 && count == 0) return fail(ErrorKind::bad_value, "downlink traffic needs devices");
  if (o.accounts && o.population.groups >= (std::uint64_t{1} << 15))
    return fail(ErrorKind::bad_value, "at most 32767 groups when the accounts are simulated");
  if (o.duration.count() <= 0) return fail(ErrorKind::bad_value, "the duration must be > 0");
  if (o.reply_timeout.count() <= 0) return fail(ErrorKind::bad_value, "the reply timeout must be > 0");
  if (o.server.empty()) return fail(ErrorKind::bad_value, "no server address");
  for (const auto& s : o.sources)
    if (s.family() != o.server.family())
      return fail(ErrorKind::bad_value, "source address " + net::format_address(s) +
                                            " is not of the server address's family");
  auto crc = parse_crc_variant(o.crc);
  if (!crc) return fail(ErrorKind::bad_value, "unknown CRC variant '" + o.crc + "' (modbus, ccitt-false, xmodem)");
  return std::unique_ptr<Engine>(new EngineImpl(o, std::move(*pop), *crc));
}

}  // namespace m2m::loadtest
