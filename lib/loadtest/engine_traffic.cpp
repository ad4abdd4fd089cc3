// The load generator's traffic (engine_impl.hpp): the platform accounts that send the
// downlink requests, and the relay, uplink, downlink and churn mixes at their rates.
#include "loadtest/engine_impl.hpp"

#include <algorithm>

namespace m2m::loadtest::engine_detail {

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
          auto fd = loop_.connect(opt_.servers[a % opt_.servers.size()], opt_.sources.empty() ? nullptr : &opt_.sources[a % opt_.sources.size()]);
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


}  // namespace m2m::loadtest::engine_detail
