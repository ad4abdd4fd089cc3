// The load generator's internals (engine.hpp is the contract): the per-device record and the
// EngineImpl class, shared by its three source files:
//   engine.cpp          the schedule's clock: the timing wheel, tick, run, drain, the report;
//   engine_devices.cpp  devices: heartbeats, their frames, and the connections (net::Loop);
//   engine_traffic.cpp  the platform accounts (downlink) and the relay/uplink/churn mixes.
//
// Per-device cost (the <= 1 KiB budget): the SimDevice (kMaxSimDeviceSize), one Dev record
// beside it (heartbeat schedule as a formula, outstanding heartbeats as a 64-bit mask, the
// relay sequence window), about two 4-byte timing-wheel entries and a 4-byte fd table slot.
// No per-device timer, std::function or deframer: a 250 us tick walks a timing wheel of 250 us
// slots, and a connection gets a buffer only while a frame is split across reads.
//
// Heartbeats are the engine's, not the Session's (SimConfig heartbeat 0): heartbeat k of a
// device is due at login + (k+1)·interval, its sequence number is k mod 2^16, so a reply
// finds its due time without storing it, several may be outstanding at once (a stall shows
// as latency, not as loss), and the interval may be any number of milliseconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "device/simdevice.hpp"
#include "loadtest/engine.hpp"
#include "loadtest/engine_wire.hpp"
#include "m2m/messages.hpp"

namespace m2m::loadtest::engine_detail {

using Ns = std::int64_t;
using SteadyClock = std::chrono::steady_clock;
inline constexpr Ns kNs = 1'000'000'000;
inline constexpr Ns kInf = INT64_MAX;
inline constexpr std::uint32_t kNoWake = UINT32_MAX;
// The timing wheel's slots are as fine as the loop's tick (a wake waits on average half a
// slot, and that wait is in the heartbeat latency): 32,768 slots of 250 us span 8.2 s; later
// wakes wait a turn.
inline constexpr Ns kSlotNs = 250'000;
inline constexpr std::size_t kWheel = 32768;
inline constexpr std::size_t kRelayPayload = 24;     // sender index, sequence, intended time (ns)
inline constexpr int kMaxPick = 64;                  // devices tried for one mix operation

inline Ns now_ns() { return SteadyClock::now().time_since_epoch().count(); }
inline device::Time to_time(Ns ns) { return device::Time(SteadyClock::duration(ns)); }
inline Ns from_time(device::Time t) { return t == device::kNever ? kInf : t.time_since_epoch().count(); }
inline std::uint64_t us_between(Ns from, Ns to) { return to > from ? static_cast<std::uint64_t>((to - from) / 1000) : 0; }

// What connect(2) and friends said, as the report's error kinds.
inline std::string connect_error_kind(const Error& e) {
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

inline std::string_view login_error_kind(ErrorKind k) {
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
  std::uint32_t wake = kNoWake;  // slots (kSlotNs) since the start: the wheel slot it waits in
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
    sim_.defaults.server.port = o.servers.front().port();

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
    const Ns ms = (d + kSlotNs - 1) / kSlotNs;
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
  // The server device l talks to (EngineOptions::servers).
  const net::Address& server_of(std::uint64_t l) const {
    return opt_.servers[((begin_ + l) / groups_) % opt_.servers.size()];
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

}  // namespace m2m::loadtest::engine_detail
