#include "platform/server.hpp"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "platform/live_registry.hpp"

namespace m2m::platform {

namespace {
constexpr int kReservedFds = 16;  // stdio, epoll, listeners, the registry file and its journal, slack

// The router's 32-bit view of a peer (server.hpp, "Addresses"): IPv4 itself, a native IPv6
// peer a key in 240.0.0.0/4 from its /64 prefix (FNV-1a).
net::Endpoint router_endpoint(const net::Address& a) {
  net::Endpoint e;
  if (net::to_endpoint(a, e)) return e;
  if (a.family() != AF_INET6) return e;
  const auto& v6 = *reinterpret_cast<const sockaddr_in6*>(a.sockaddr_ptr());
  std::uint32_t h = 2166136261u;
  for (int i = 0; i < 8; ++i) h = (h ^ v6.sin6_addr.s6_addr[i]) * 16777619u;
  return {0xF0000000u | (h & 0x0FFFFFFFu), a.port()};
}

// How events write an address: IPv4-mapped peers of a dual-stack socket as plain IPv4.
std::string peer_text(const net::Address& a) {
  net::Endpoint e;
  return net::to_endpoint(a, e) ? net::format_endpoint(e) : net::format_address(a);
}

net::Loop::Options loop_options(const ServerOptions& o) {
  net::Loop::Options lo;
  lo.max_send_queue = o.max_send_queue;
  // The tick drives the session sweep (every 100 ms to 1 s) and the stats line.
  if (o.stats_interval.count() > 0 && o.stats_interval < lo.tick)
    lo.tick = std::max(o.stats_interval, std::chrono::milliseconds(kTickMs));
  return lo;
}
}  // namespace

Server::Server(Registry& registry, ServerOptions options)
    : opt_(options),
      log_(options.quiet),
      terminals_(make_terminals(*this)),
      router_(registry, terminals_.get(), opt_, *this, *this, log_),
      loop_(*this, loop_options(opt_)),
      scratch_(options.crc),
      reg_(registry) {
  log_.set_format(opt_.event_format);
  start_ = std::chrono::steady_clock::now();
}

Server::~Server() = default;

std::uint32_t Server::now_tick() const {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start_).count();
  return static_cast<std::uint32_t>(ms / kTickMs) + 1;
}

Result<void> Server::open() {
  auto lim = net::raise_file_limit();
  file_limit_ = lim.soft;
  capacity_ = lim.soft > kReservedFds ? lim.soft - kReservedFds : 0;
  if (opt_.max_tcp_sessions && opt_.max_tcp_sessions < capacity_) capacity_ = opt_.max_tcp_sessions;

  if (auto r = loop_.open(); !r) return r;
  auto tcp = loop_.listen_tcp(opt_.listen, opt_.reuseport);
  if (!tcp) return unexpected(tcp.error());
  auto local = net::local_address(*tcp);
  if (!local) return unexpected(local.error());
  bound_ = *local;
  // The UDP socket shares the TCP port (also when the kernel chose it for port 0).
  auto udp = loop_.open_udp(bound_, opt_.reuseport);
  if (!udp) return unexpected(udp.error());
  udp_ = *udp;
  // Every UDP device shares this one socket: a default receive buffer (~208 KiB, a few
  // hundred datagrams) overflows whenever the loop is descheduled for a few milliseconds at
  // tens of thousands of datagrams per second. Ask for 8 MiB (the kernel caps it at rmem_max).
  const int rcvbuf = 8 << 20;
  ::setsockopt(udp_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  return {};
}

int Server::run(const net::Stop& stop) {
  {
    EventLog::Line l("listening");
    l.add("tcp", peer_text(bound_)).add("udp", peer_text(bound_));
    l.add("devices", reg_.devices().size()).add("accounts", reg_.accounts().size());
    l.add("file_limit", file_limit_).add("max_tcp_sessions", capacity_).add("max_udp_devices", "unlimited");
    l.add("heartbeat_timeout_ms", static_cast<std::uint64_t>(router_.timeout_ticks()) * kTickMs);
    log_.write(l);
    if (!opt_.quiet)
      std::fprintf(stderr,
                   "m2m-server: listening on %s (tcp+udp), %zu device%s, %zu account%s; the file limit of %lu allows "
                   "%llu TCP sessions; UDP devices need no descriptor\n",
                   peer_text(bound_).c_str(), reg_.devices().size(), reg_.devices().size() == 1 ? "" : "s",
                   reg_.accounts().size(), reg_.accounts().size() == 1 ? "" : "s", file_limit_,
                   static_cast<unsigned long long>(capacity_));
  }
  sweep_ticks_ = std::clamp<std::uint32_t>(router_.timeout_ticks() / 4, 100 / kTickMs, 1000 / kTickMs);
  stats_ticks_ = static_cast<std::uint32_t>(opt_.stats_interval.count() / kTickMs);
  next_sweep_ = now_tick() + sweep_ticks_;
  next_stats_ = stats_ticks_ ? now_tick() + stats_ticks_ : 0;

  const int rc = loop_.run(stop);
  if (rc != 0) std::fprintf(stderr, "m2m-server: the event loop failed (above)\n");

  for (Extension* e : extensions_) e->shutdown();
  router_.shutdown();
  loop_.release_closed();
  write_stats();
  log_.write(EventLog::Line("shutdown"));
  return rc;
}

Result<void> Server::join(ClusterNode& node) {
  node.bind(router_, reg_, log_);
  if (auto w = loop_.watch(node.fd(), EPOLLIN); !w) return w;
  node_ = &node;
  router_.set_remote(&node);
  return {};
}

Result<void> Server::attach(Extension& e, const std::vector<int>& fds) {
  for (int fd : fds) {
    if (auto w = loop_.watch(fd, EPOLLIN); !w) return w;
    watched_.emplace_back(fd, &e);
  }
  extensions_.push_back(&e);
  return {};
}

void Server::batch_done() {
  if (node_) node_->flush();
}

void Server::tick() {
  if (node_) node_->tick();
  for (Extension* e : extensions_) e->tick();
  const std::uint32_t now = now_tick();
  if (now >= next_sweep_) {
    router_.sweep();
    capacity_event(nullptr, {});
    next_sweep_ = now + sweep_ticks_;
  }
  if (next_stats_ && now >= next_stats_) {
    write_stats();
    next_stats_ = now + stats_ticks_;
  }
}

// At the file limit or a cap, refused connections are summarised: one event per second with
// the count, not one event per refusal (a flood must not become a flood of log lines).
void Server::capacity_event(const char* reason, const net::Address& from) {
  const std::uint32_t second = now_tick() / (1000 / kTickMs);
  if (reason) {
    ++router_.counters().drops;
    ++capacity_refused_;
    capacity_reason_ = reason;
    capacity_peer_ = from;
  }
  if (!capacity_refused_ || second == capacity_second_) return;
  capacity_second_ = second;
  EventLog::Line l("capacity");
  l.add("reason", capacity_reason_);
  if (!capacity_peer_.empty()) l.add("peer", peer_text(capacity_peer_));  // the last one refused
  l.add("refused", capacity_refused_).add("open", loop_.connections());
  log_.session(l);
  capacity_refused_ = 0;
}

bool Server::over_ip_cap(std::uint32_t ip) {
  if (!opt_.max_conns_per_ip) return false;
  auto [it, fresh] = per_ip_.try_emplace(ip, 0);
  if (it->second >= opt_.max_conns_per_ip) return true;
  ++it->second;
  return false;
}

// ---- the loop's calls ---------------------------------------------------------------------

const char* Server::accepted(int fd, int, const net::Address& from) {
  const char* refused = nullptr;
  const net::Endpoint key = router_endpoint(from);
  if (loop_.connections() > capacity_)  // the loop counts this one already
    refused = "max_tcp_sessions";
  else if (over_ip_cap(key.ip))
    refused = "max_conns_per_ip";
  if (refused) {
    capacity_event(refused, from);
    return refused;
  }
  if (static_cast<std::size_t>(fd) >= partial_.size()) partial_.resize(static_cast<std::size_t>(fd) + 1024);
  router_.opened(fd, key);
  return nullptr;
}

void Server::refused_file_limit(int) { capacity_event("file limit reached", {}); }

void Server::received(int fd, ByteView bytes) {
  if (!router_.handles(fd)) return;
  std::unique_ptr<ai::Deframer>& own = partial_[static_cast<std::size_t>(fd)];
  ai::Deframer& d = own ? *own : scratch_;
  d.feed(bytes);
  const Router::Session& s = *router_.session(fd);
  const Source src{false, fd, {s.ip, s.port}};
  ai::DeframeEvent ev;
  // A frame may close its own connection (a full send queue): the close is deferred
  // (outbox.hpp), so `d` and the frame stay valid; we only stop reading from it.
  while (router_.handles(fd) && d.next(ev)) {
    if (!ev.ok)
      router_.bad_frame(src, ev.error);
    else
      router_.frame(src, ev.frame);
  }
  if (&d == &scratch_) {
    if (!router_.handles(fd)) {
      scratch_ = ai::Deframer(opt_.crc);
    } else if (!scratch_.idle()) {  // a frame continues in the next read: this connection keeps it
      own = std::make_unique<ai::Deframer>(std::move(scratch_));
      scratch_ = ai::Deframer(opt_.crc);
    }
  } else if (router_.handles(fd) && own->idle()) {
    own.reset();
  }
}

void Server::ended(int fd, const char* reason) { router_.close(fd, reason); }

void Server::released(int fd) {
  partial_[static_cast<std::size_t>(fd)].reset();
  if (opt_.max_conns_per_ip) {
    const std::uint32_t ip = router_.session(fd)->ip;
    if (auto it = per_ip_.find(ip); it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
  }
  router_.released(fd);
}

void Server::datagram(int, const net::Address& from, ByteView bytes) {
  net::Endpoint ep;
  if (!net::to_endpoint(from, ep)) {  // native IPv6: UDP device records are IPv4 (server.hpp)
    ++router_.counters().drops;
    return;
  }
  const Source src{true, -1, ep};
  scratch_.feed(bytes);
  router_.begin_datagram();
  ai::DeframeEvent ev;
  while (scratch_.next(ev)) {
    if (!ev.ok)
      router_.bad_frame(src, ev.error);
    else
      router_.frame(src, ev.frame);
  }
  if (!scratch_.idle()) {  // a datagram is complete in itself: a partial frame is lost
    ++router_.counters().drops;
    scratch_ = ai::Deframer(opt_.crc);
  }
}

void Server::ready(int fd, std::uint32_t events) {
  if (live_ && fd == live_->fd()) live_->ready();  // revoked sessions close during this event
  if (node_ && fd == node_->fd()) node_->ready();
  for (auto& [wfd, e] : watched_)
    if (wfd == fd) e->ready(fd, events);
}

// ---- Outbox -------------------------------------------------------------------------------

const char* Server::send_tcp(int fd, ByteView bytes) { return loop_.send(fd, bytes); }

bool Server::send_udp(const net::Endpoint& to, ByteView bytes) {
  return loop_.send_to(udp_, net::to_address(to, bound_.family()), bytes);
}

void Server::close(int fd) { loop_.close(fd); }

void Server::write_stats() {
  const Counters& c = router_.counters();
  EventLog::Line l("stats");
  l.add("online_tcp", c.online_tcp).add("online_udp", c.online_udp).add("clients", c.clients);
  l.add("connections", loop_.connections()).add("logins", c.logins).add("login_rejected", c.login_rejected);
  l.add("frames_in", c.frames_in).add("frames_out", c.frames_out).add("relays", c.relays);
  l.add("uplinks", c.uplinks).add("routed", c.routed).add("drops", c.drops);
  l.add("bad_frames", c.bad_frames).add("token_mismatch", c.token_mismatch);
  if (node_) node_->stats(l);
  for (const Extension* e : extensions_) e->stats(l);
  l.add("rss_kib", resident_kib());
  log_.write(l);
}

}  // namespace m2m::platform
