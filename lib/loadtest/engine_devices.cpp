// The load generator's devices (engine_impl.hpp): heartbeats on their schedule, the frames
// devices receive, and their connections on the net::Loop.
#include "loadtest/engine_impl.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <bit>

namespace m2m::loadtest::engine_detail {

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
  auto fd = loop_.connect(server_of(l), src);
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
    if (loop_.send_to(v.fd, server_of(l), tx_)) return true;
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


}  // namespace m2m::loadtest::engine_detail
