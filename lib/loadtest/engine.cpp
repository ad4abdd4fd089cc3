// The load generator (engine.hpp, internals in engine_impl.hpp): the schedule's clock (the
// timing wheel, the tick, run, drain and the report) and Engine::make's checks.
#include "loadtest/engine.hpp"

#include <algorithm>
#include <cmath>
#include <new>

#include "loadtest/engine_impl.hpp"

namespace m2m::loadtest {

Result<ai::FrameView> FrameScanner::decode(ByteView wire) {
  if (wire.size() > ai::kMaxEscaped) return fail(ErrorKind::too_long, "frame too long");
  if (std::memchr(wire.data() + 1, ai::kEscape, wire.size() - 1) == nullptr) return ai::decode(wire, crc_);
  unescaped_.clear();
  if (auto r = ai::unescape(wire, unescaped_); !r) return unexpected(std::move(r).error());
  return ai::decode(unescaped_, crc_);
}

namespace engine_detail {

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
  const std::uint32_t now_ms = static_cast<std::uint32_t>(std::max<Ns>(0, (now_ - t0_) / kSlotNs));
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
      } else if (opt_.servers.front().family() == AF_INET6) {
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

}  // namespace engine_detail

using engine_detail::EngineImpl;

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
  if (o.servers.empty() || o.servers.front().empty()) return fail(ErrorKind::bad_value, "no server address");
  for (const auto& s : o.servers)
    if (s.family() != o.servers.front().family())
      return fail(ErrorKind::bad_value, "server address " + net::format_address(s) + " is not of the first one's family");
  for (const auto& s : o.sources)
    if (s.family() != o.servers.front().family())
      return fail(ErrorKind::bad_value, "source address " + net::format_address(s) +
                                            " is not of the server address's family");
  auto crc = parse_crc_variant(o.crc);
  if (!crc) return fail(ErrorKind::bad_value, "unknown CRC variant '" + o.crc + "' (modbus, ccitt-false, xmodem)");
  return std::unique_ptr<Engine>(new EngineImpl(o, std::move(*pop), *crc));
}


}  // namespace m2m::loadtest
