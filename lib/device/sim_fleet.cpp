#include "device/sim_fleet.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>

namespace m2m::device {

SimFleet::SimFleet(const SimConfig& cfg, FleetUser& user, CrcVariant crc)
    : cfg_(&cfg), user_(user), crc_(crc), loop_(*this, net::Loop::Options{}) {}

SimFleet::~SimFleet() = default;

SimDevice& SimFleet::add(std::uint64_t id, const ai::Password& password) {
  SimDevice& d = devices_.emplace_back(*cfg_, id, password, static_cast<SimOutput&>(*this));
  d.slot = static_cast<std::uint32_t>(devices_.size() - 1);
  links_.emplace_back();
  wake_.push_back(kNever);
  return d;
}

Result<void> SimFleet::open() { return loop_.open(); }

Result<void> SimFleet::watch_input(int fd) { return loop_.watch(fd, EPOLLIN); }

SimDevice* SimFleet::find(std::uint64_t id) {
  for (auto& d : devices_)
    if (d.id() == id) return &d;
  return nullptr;
}

std::size_t SimFleet::logged_in() const {
  return static_cast<std::size_t>(std::count_if(devices_.begin(), devices_.end(), [](const SimDevice& d) { return d.session().logged_in(); }));
}

bool SimFleet::all_failed() const {
  return !devices_.empty() && std::all_of(devices_.begin(), devices_.end(), [](const SimDevice& d) {
    return d.session().state() == Session::State::failed;
  });
}

int SimFleet::slot_of(int fd) const {
  return fd >= 0 && static_cast<std::size_t>(fd) < fd_slot_.size() ? fd_slot_[static_cast<std::size_t>(fd)] : -1;
}

int SimFleet::run(bool (*stop_fn)()) {
  stop_fn_ = stop_fn;
  const Time now = Clock::now();
  for (auto& d : devices_) d.start(now);
  for (std::size_t i = 0; i < devices_.size(); ++i) wake_[i] = now;
  return loop_.run(stop_);
}

void SimFleet::poll_device(std::size_t slot, Time now) {
  wake_[slot] = devices_[slot].poll(now);
  settle(now);
}

void SimFleet::poke(SimDevice& d) { poll_device(d.slot, Clock::now()); }

void SimFleet::settle(Time now) {
  for (int round = 0; round < 8 && (!lost_.empty() || !up_.empty()); ++round) {
    auto lost = std::move(lost_);
    lost_.clear();
    auto up = std::move(up_);
    up_.clear();
    for (auto [slot, why] : lost) {
      devices_[slot].connection_lost(now, why);
      wake_[slot] = devices_[slot].poll(now);
    }
    for (std::size_t slot : up) {
      devices_[slot].connected(now);
      wake_[slot] = devices_[slot].poll(now);
    }
  }
}

void SimFleet::tick() {
  if (stop_fn_ && stop_fn_()) stop_.request();
  const Time now = Clock::now();
  for (std::size_t i = 0; i < devices_.size(); ++i)
    if (wake_[i] <= now) poll_device(i, now);
  user_.tick(now);
  retired_.clear();
}

Result<net::Address> SimFleet::resolve(const ai::ServerAddr& to) {
  const std::string key = to.host + '\n' + std::to_string(to.port) + (to.tcp ? "t" : "u");
  if (auto it = resolved_.find(key); it != resolved_.end()) return it->second;
  auto addrs = net::resolve(net::HostPort{to.host, to.port}, !to.tcp);
  if (!addrs) return unexpected(std::move(addrs).error());
  if (addrs->empty()) return fail(ErrorKind::unavailable, "cannot resolve " + to.host);
  resolved_[key] = addrs->front();
  return addrs->front();
}

void SimFleet::connect(SimDevice& d, const ai::ServerAddr& to) {
  Link& l = links_[d.slot];
  if (l.fd >= 0) disconnect(d);
  auto addr = resolve(to);
  if (!addr) {
    lost_.emplace_back(d.slot, ErrorKind::unavailable);
    return;
  }
  l.udp = !to.tcp;
  l.platform = *addr;
  if (l.udp && l.udp_fd < 0) {
    // The device's one UDP socket (the loop keeps UDP sockets for the life of the process,
    // which is what a device's port is too). IPv4 only: P2P peer records carry IPv4.
    auto u = addr->family() == AF_INET ? loop_.open_udp(net::Address::ipv4(0, 0))
                                       : Result<int>(fail(ErrorKind::unavailable, "UDP devices talk IPv4"));
    if (!u) {
      lost_.emplace_back(d.slot, ErrorKind::unavailable);
      return;
    }
    l.udp_fd = *u;
    map_fd(l.udp_fd, d.slot);
  }
  if (l.udp) {
    l.fd = l.udp_fd;
    if (l.deframer) retired_.push_back(std::move(l.deframer));
    up_.push_back(d.slot);  // nothing to wait for
    return;
  }
  auto fd = loop_.connect(*addr);
  if (!fd) {
    lost_.emplace_back(d.slot, fd.error().kind == ErrorKind::io ? ErrorKind::unavailable : fd.error().kind);
    return;
  }
  l.fd = *fd;
  map_fd(*fd, d.slot);
  l.deframer = std::make_unique<ai::Deframer>(crc_);
}

void SimFleet::map_fd(int fd, std::size_t slot) {
  if (fd_slot_.size() <= static_cast<std::size_t>(fd)) fd_slot_.resize(static_cast<std::size_t>(fd) + 1, -1);
  fd_slot_[static_cast<std::size_t>(fd)] = static_cast<int>(slot);
}

void SimFleet::disconnect(SimDevice& d) {
  Link& l = links_[d.slot];
  if (l.fd < 0) return;
  if (!l.udp) {
    loop_.close(l.fd);
    fd_slot_[static_cast<std::size_t>(l.fd)] = -1;
  }
  l.fd = -1;  // a UDP socket stays (and stays mapped): the device ignores what comes meanwhile
  // The deframer may be the one received() is reading from: it is freed after that call.
  if (l.deframer) retired_.push_back(std::move(l.deframer));
}

void SimFleet::send(SimDevice& d, const ai::FrameView& f) {
  Link& l = links_[d.slot];
  if (l.fd < 0) return;
  wire_.clear();
  if (!ai::encode(f, crc_, wire_)) return;
  if (l.udp) {
    loop_.send_to(l.fd, l.platform, wire_);  // a dropped datagram is what UDP does
    return;
  }
  if (loop_.send(l.fd, wire_) != nullptr) {
    disconnect(d);
    lost_.emplace_back(d.slot, ErrorKind::closed);
  }
}

void SimFleet::send_peer(SimDevice& d, const ai::FrameView& f, const PeerAddr& to) {
  Link& l = links_[d.slot];
  if (l.udp_fd < 0) return;  // P2P needs the device's UDP socket (--udp)
  wire_.clear();
  if (!ai::encode(f, crc_, wire_)) return;
  loop_.send_to(l.udp_fd, net::Address::ipv4(to.ip, to.port), wire_);
}

void SimFleet::received(SimDevice& d, const ai::FrameView& f, const PeerAddr* from) {
  (void)from;
  user_.received(d, f, current_raw_, current_peer_);
}

void SimFleet::event(SimDevice& d, const SimEvent& e) {
  if (e.kind == SimEventKind::login_failed || e.kind == SimEventKind::gave_up) last_failure_ = e.reason;
  // A group list is data the user asked for; other replies are events (-v).
  if (e.kind == SimEventKind::reply && e.frame && ai::command_key(e.frame->cls, e.frame->cmd) == ai::cmd::data_group_list) {
    user_.received(d, *e.frame, current_raw_, current_peer_);
    return;
  }
  user_.event(d, e);
}

void SimFleet::connected(int fd, const Error* failure) {
  const int slot = slot_of(fd);
  if (slot < 0) return;
  const Time now = Clock::now();
  if (failure) {
    links_[static_cast<std::size_t>(slot)].fd = -1;
    fd_slot_[static_cast<std::size_t>(fd)] = -1;
    devices_[static_cast<std::size_t>(slot)].connection_lost(now, failure->kind == ErrorKind::io ? ErrorKind::unavailable : failure->kind);
  } else {
    devices_[static_cast<std::size_t>(slot)].connected(now);
  }
  poll_device(static_cast<std::size_t>(slot), now);
}

void SimFleet::received(int fd, ByteView bytes) {
  const int slot = slot_of(fd);
  if (slot < 0) return;
  const auto s = static_cast<std::size_t>(slot);
  const Time now = Clock::now();
  current_peer_ = net::format_address(links_[s].platform);
  ai::Deframer* df = links_[s].deframer.get();
  if (!df) return;
  df->feed(bytes);
  ai::DeframeEvent ev;
  while (links_[s].deframer.get() == df && df->next(ev)) {
    if (!ev.ok) continue;  // a bad frame from the platform: skipped, as a device does
    current_raw_ = ev.raw;
    devices_[s].on_frame(ev.frame, nullptr, now);
  }
  current_raw_ = {};
  if (links_[s].deframer.get() == df) df->release_memory();
  retired_.clear();
  poll_device(s, now);
}

void SimFleet::ended(int fd, const char* reason) {
  const ErrorKind why = std::string_view(reason) == "closed" ? ErrorKind::closed : ErrorKind::unavailable;
  const int slot = slot_of(fd);
  if (slot < 0) return;
  const auto s = static_cast<std::size_t>(slot);
  links_[s].fd = -1;
  links_[s].deframer.reset();  // not inside received(): the loop calls ended() on its own
  fd_slot_[static_cast<std::size_t>(fd)] = -1;
  const Time now = Clock::now();
  devices_[s].connection_lost(now, why);
  poll_device(s, now);
}

void SimFleet::datagram(int fd, const net::Address& from, ByteView bytes) {
  const int slot = slot_of(fd);
  if (slot < 0) return;
  const auto s = static_cast<std::size_t>(slot);
  const Time now = Clock::now();
  const bool platform = links_[s].fd == fd && from == links_[s].platform;
  PeerAddr peer;
  if (!platform) {
    if (from.family() != AF_INET) return;  // P2P is IPv4 (peer records carry IPv4)
    const auto* in = reinterpret_cast<const sockaddr_in*>(from.sockaddr_ptr());
    peer = {ntohl(in->sin_addr.s_addr), from.port()};
  }
  current_peer_ = net::format_address(from);
  ai::Deframer df(crc_);
  df.feed(bytes);
  df.finish();
  ai::DeframeEvent ev;
  while (df.next(ev)) {
    if (!ev.ok) continue;
    current_raw_ = ev.raw;
    devices_[s].on_frame(ev.frame, platform ? nullptr : &peer, now);
    if (links_[s].udp_fd != fd) break;
  }
  current_raw_ = {};
  poll_device(s, now);
}

}  // namespace m2m::device
