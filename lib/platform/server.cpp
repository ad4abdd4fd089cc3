#include "platform/server.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "platform/live_registry.hpp"

namespace m2m::platform {

namespace {
constexpr std::size_t kReadBuffer = 64 * 1024;
constexpr int kReservedFds = 16;  // stdio, epoll, listeners, the registry file and its journal, slack
}  // namespace

Server::Server(Registry& registry, ServerOptions options)
    : opt_(options),
      log_(options.quiet),
      terminals_(make_terminals(*this)),
      router_(registry, terminals_.get(), opt_, *this, *this, log_),
      scratch_(options.crc),
      reg_(registry) {
  start_ = std::chrono::steady_clock::now();
  rx_.resize(kReadBuffer);
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

  epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) return fail(ErrorKind::io, std::string("epoll_create1: ") + std::strerror(errno));
  auto tcp = net::listen_tcp(opt_.listen, opt_.reuseport);
  if (!tcp) return unexpected(tcp.error());
  tcp_ = std::move(*tcp);
  auto local = net::local_endpoint(tcp_.get());
  if (!local) return unexpected(local.error());
  bound_ = *local;
  // The UDP socket shares the TCP port (also when the kernel chose it for port 0).
  auto udp = net::bind_udp(bound_, opt_.reuseport);
  if (!udp) return unexpected(udp.error());
  udp_ = std::move(*udp);
  reserve_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  for (int fd : {tcp_.get(), udp_.get()}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
      return fail(ErrorKind::io, std::string("epoll_ctl: ") + std::strerror(errno));
  }
  return {};
}

int Server::run(const std::atomic<bool>& stop) {
  {
    EventLog::Line l("listening");
    l.add("tcp", net::format_endpoint(bound_)).add("udp", net::format_endpoint(bound_));
    l.add("devices", reg_.devices().size()).add("accounts", reg_.accounts().size());
    l.add("file_limit", file_limit_).add("max_tcp_sessions", capacity_).add("max_udp_devices", "unlimited");
    l.add("heartbeat_timeout_ms", static_cast<std::uint64_t>(router_.timeout_ticks()) * kTickMs);
    log_.write(l);
    if (!opt_.quiet)
      std::fprintf(stderr,
                   "m2m-server: listening on %s (tcp+udp), %zu devices, %zu accounts; the file limit of %lu allows "
                   "%llu TCP sessions; UDP devices need no descriptor\n",
                   net::format_endpoint(bound_).c_str(), reg_.devices().size(), reg_.accounts().size(), file_limit_,
                   static_cast<unsigned long long>(capacity_));
  }
  const std::uint32_t sweep_ticks =
      std::clamp<std::uint32_t>(router_.timeout_ticks() / 4, 100 / kTickMs, 1000 / kTickMs);
  const std::uint32_t stats_ticks = static_cast<std::uint32_t>(opt_.stats_interval.count() / kTickMs);
  std::uint32_t next_sweep = now_tick() + sweep_ticks;
  std::uint32_t next_stats = stats_ticks ? now_tick() + stats_ticks : 0;
  std::vector<epoll_event> events(256);

  while (!stop.load()) {
    std::uint32_t now = now_tick();
    std::uint32_t wake = next_sweep;
    if (next_stats && next_stats < wake) wake = next_stats;
    int wait_ms = wake > now ? static_cast<int>((wake - now) * kTickMs) : 0;
    int n = epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), wait_ms);
    if (n < 0 && errno != EINTR) {
      std::fprintf(stderr, "m2m-server: error: epoll_wait: %s\n", std::strerror(errno));
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      const std::uint32_t what = events[static_cast<std::size_t>(i)].events;
      if (fd == tcp_.get()) {
        accept_ready();
      } else if (fd == udp_.get()) {
        udp_ready();
      } else if (live_ && fd == registry_fd()) {
        registry_ready();
      } else {
        if (what & EPOLLOUT) conn_writable(fd);
        if (what & (EPOLLIN | EPOLLHUP | EPOLLERR)) conn_readable(fd);
        release_closed();
      }
    }
    now = now_tick();
    if (now >= next_sweep) {
      router_.sweep();
      release_closed();
      capacity_event(nullptr, {});
      next_sweep = now + sweep_ticks;
    }
    if (next_stats && now >= next_stats) {
      write_stats();
      next_stats = now + stats_ticks;
    }
  }

  router_.shutdown();
  release_closed();
  write_stats();
  log_.write(EventLog::Line("shutdown"));
  return 0;
}

// At the file limit or a cap, refused connections are summarised: one event per second with
// the count, not one event per refusal (a flood must not become a flood of log lines).
void Server::capacity_event(const char* reason, const net::Endpoint& from) {
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
  if (capacity_peer_.ip) l.add("peer", net::format_endpoint(capacity_peer_));  // the last one refused
  l.add("refused", capacity_refused_).add("open", open_conns_);
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

void Server::accept_ready() {
  for (int i = 0; i < 256; ++i) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    int fd = accept4(tcp_.get(), reinterpret_cast<sockaddr*>(&a), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) {
        // Out of descriptors: take the connection with the reserve one and close it at once,
        // so the listen queue drains instead of waking us again and again.
        reserve_.reset();
        int victim = accept4(tcp_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (victim >= 0) ::close(victim);
        reserve_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        capacity_event("file limit reached", {});
        continue;
      }
      return;  // EAGAIN, or a transient error (ECONNABORTED…): wait for the next wake-up
    }
    net::Endpoint from = net::from_sockaddr(a);
    if (open_conns_ >= capacity_) {
      ::close(fd);
      capacity_event("max_tcp_sessions", from);
      continue;
    }
    if (over_ip_cap(from.ip)) {
      ::close(fd);
      capacity_event("max_conns_per_ip", from);
      continue;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      if (opt_.max_conns_per_ip && --per_ip_[from.ip] == 0) per_ip_.erase(from.ip);
      ::close(fd);
      continue;
    }
    if (static_cast<std::size_t>(fd) >= conns_.size()) conns_.resize(static_cast<std::size_t>(fd) + 1024);
    router_.opened(fd, from);
    ++open_conns_;
  }
}

void Server::conn_readable(int fd) {
  if (!router_.handles(fd)) return;
  ssize_t n = ::recv(fd, rx_.data(), rx_.size(), 0);
  if (n == 0) return router_.close(fd, "closed");
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    return router_.close(fd, "error");
  }
  Conn& c = conns_[static_cast<std::size_t>(fd)];
  ai::Deframer& d = c.partial ? *c.partial : scratch_;
  d.feed(ByteView(rx_.data(), static_cast<std::size_t>(n)));
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
      c.partial = std::make_unique<ai::Deframer>(std::move(scratch_));
      scratch_ = ai::Deframer(opt_.crc);
    }
  } else if (router_.handles(fd) && c.partial->idle()) {
    c.partial.reset();
  }
}

void Server::conn_writable(int fd) {
  if (!router_.handles(fd)) return;
  Conn& c = conns_[static_cast<std::size_t>(fd)];
  if (!c.out) return;
  Bytes& q = *c.out;
  ssize_t n = ::send(fd, q.data(), q.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    return router_.close(fd, "error");
  }
  q.erase(q.begin(), q.begin() + n);
  if (q.empty()) {
    c.out.reset();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev);
  }
}

const char* Server::send_tcp(int fd, ByteView bytes) {
  Conn& c = conns_[static_cast<std::size_t>(fd)];
  std::size_t sent = 0;
  if (!c.out) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return "error";
    sent = n > 0 ? static_cast<std::size_t>(n) : 0;
    if (sent == bytes.size()) return nullptr;
    c.out = std::make_unique<Bytes>();
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.fd = fd;
    epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev);
  }
  if (c.out->size() + (bytes.size() - sent) > opt_.max_send_queue) return "slow_reader";
  c.out->insert(c.out->end(), bytes.begin() + static_cast<std::ptrdiff_t>(sent), bytes.end());
  return nullptr;
}

bool Server::send_udp(const net::Endpoint& to, ByteView bytes) {
  sockaddr_in a = net::to_sockaddr(to);
  return ::sendto(udp_.get(), bytes.data(), bytes.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&a), sizeof a) >= 0;
}

void Server::close(int fd) { closing_.push_back(fd); }

void Server::release_closed() {
  for (int fd : closing_) {
    Conn& c = conns_[static_cast<std::size_t>(fd)];
    c.partial.reset();
    c.out.reset();
    if (opt_.max_conns_per_ip) {
      const std::uint32_t ip = router_.session(fd)->ip;
      if (auto it = per_ip_.find(ip); it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
    }
    epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    --open_conns_;
    router_.released(fd);
  }
  closing_.clear();
}

void Server::udp_ready() {
  for (int i = 0; i < 256; ++i) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ssize_t n = ::recvfrom(udp_.get(), rx_.data(), rx_.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&a), &len);
    if (n < 0) break;
    const Source src{true, -1, net::from_sockaddr(a)};
    scratch_.feed(ByteView(rx_.data(), static_cast<std::size_t>(n)));
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
    release_closed();  // a datagram's frames may have closed TCP sessions (replaced, slow_reader)
  }
}

void Server::write_stats() {
  const Counters& c = router_.counters();
  EventLog::Line l("stats");
  l.add("online_tcp", c.online_tcp).add("online_udp", c.online_udp).add("clients", c.clients);
  l.add("connections", open_conns_).add("logins", c.logins).add("login_rejected", c.login_rejected);
  l.add("frames_in", c.frames_in).add("frames_out", c.frames_out).add("relays", c.relays);
  l.add("uplinks", c.uplinks).add("routed", c.routed).add("drops", c.drops);
  l.add("bad_frames", c.bad_frames).add("token_mismatch", c.token_mismatch);
  l.add("rss_kib", resident_kib());
  log_.write(l);
}

}  // namespace m2m::platform
