#include "platform/server.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "cli/cli.hpp"
#include "m2m/frame.hpp"
#include "platform/store.hpp"

namespace m2m::platform {

namespace {
constexpr std::uint32_t kTickMs = 10;
constexpr std::size_t kReadBuffer = 64 * 1024;
constexpr int kReservedFds = 16;  // stdio, epoll, listeners, the registry file and its journal, slack
}  // namespace

Server::Server(Registry& registry, Store* store, ServerOptions options)
    : reg_(registry), store_(store), opt_(options), log_(options.quiet), scratch_(options.crc) {
  if (opt_.heartbeat_timeout.count() <= 0) opt_.heartbeat_timeout = 3 * opt_.heartbeat_interval;
  timeout_ticks_ = static_cast<std::uint32_t>(std::max<std::int64_t>(1, opt_.heartbeat_timeout.count() / kTickMs));
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

int Server::run() {
  {
    EventLog::Line l("listening");
    l.add("tcp", net::format_endpoint(bound_)).add("udp", net::format_endpoint(bound_));
    l.add("devices", reg_.devices().size()).add("accounts", reg_.accounts().size());
    l.add("file_limit", file_limit_).add("max_tcp_sessions", capacity_).add("max_udp_devices", "unlimited");
    l.add("heartbeat_timeout_ms", opt_.heartbeat_timeout.count());
    log_.write(l);
    if (!opt_.quiet)
      std::fprintf(stderr,
                   "m2m-server: listening on %s (tcp+udp), %zu devices, %zu accounts; the file limit of %lu allows "
                   "%llu TCP sessions; UDP devices need no descriptor\n",
                   net::format_endpoint(bound_).c_str(), reg_.devices().size(), reg_.accounts().size(), file_limit_,
                   static_cast<unsigned long long>(capacity_));
  }
  const std::uint32_t sweep_ticks =
      std::clamp<std::uint32_t>(timeout_ticks_ / 4, 100 / kTickMs, 1000 / kTickMs);
  const std::uint32_t stats_ticks = static_cast<std::uint32_t>(opt_.stats_interval.count() / kTickMs);
  std::uint32_t next_sweep = now_tick() + sweep_ticks;
  std::uint32_t next_stats = stats_ticks ? now_tick() + stats_ticks : 0;
  std::vector<epoll_event> events(256);

  while (!cli::interrupted()) {
    std::uint32_t now = now_tick();
    std::uint32_t wake = next_sweep;
    if (next_stats && next_stats < wake) wake = next_stats;
    int wait_ms = wake > now ? static_cast<int>((wake - now) * kTickMs) : 0;
    int n = epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), wait_ms);
    if (n < 0 && errno != EINTR) {
      cli::error("m2m-server", std::string("epoll_wait: ") + std::strerror(errno));
      return cli::failure;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      const std::uint32_t what = events[static_cast<std::size_t>(i)].events;
      if (fd == tcp_.get()) {
        accept_ready();
      } else if (fd == udp_.get()) {
        udp_ready();
      } else {
        if (what & EPOLLOUT) conn_writable(fd);
        if (what & (EPOLLIN | EPOLLHUP | EPOLLERR)) conn_readable(fd);
      }
    }
    now = now_tick();
    if (now >= next_sweep) {
      sweep();
      next_sweep = now + sweep_ticks;
    }
    if (next_stats && now >= next_stats) {
      write_stats();
      next_stats = now + stats_ticks;
    }
  }

  for (int fd = 0; fd < static_cast<int>(conns_.size()); ++fd)
    if (conns_[static_cast<std::size_t>(fd)].kind != Kind::free) close_conn(fd, "shutdown");
  for (std::uint32_t d = 0; d < reg_.devices().size(); ++d)
    if (reg_.device(d).udp_live) udp_expire(d, "shutdown");
  write_stats();
  log_.write(EventLog::Line("shutdown"));
  return cli::ok;
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
        ++counters_.drops;
        log_.session(EventLog::Line("capacity").add("reason", "file limit reached").add("open", open_conns_));
        continue;
      }
      return;  // EAGAIN, or a transient error (ECONNABORTED…): wait for the next wake-up
    }
    net::Endpoint from = net::from_sockaddr(a);
    if (open_conns_ >= capacity_) {
      ::close(fd);
      ++counters_.drops;
      log_.session(EventLog::Line("capacity").add("peer", net::format_endpoint(from)).add("open", open_conns_));
      continue;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      ::close(fd);
      continue;
    }
    if (static_cast<std::size_t>(fd) >= conns_.size()) conns_.resize(static_cast<std::size_t>(fd) + 1024);
    Conn& c = conns_[static_cast<std::size_t>(fd)];
    c.kind = Kind::pending;
    c.ip = from.ip;
    c.port = from.port;
    c.ref = kNone;
    c.seen = now_tick();
    ++open_conns_;
  }
}

void Server::conn_readable(int fd) {
  if (static_cast<std::size_t>(fd) >= conns_.size()) return;
  Conn& c = conns_[static_cast<std::size_t>(fd)];
  if (c.kind == Kind::free) return;
  ssize_t n = ::recv(fd, rx_.data(), rx_.size(), 0);
  if (n == 0) return close_conn(fd, "closed");
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    return close_conn(fd, "error");
  }
  ai::Deframer& d = c.partial ? *c.partial : scratch_;
  d.feed(ByteView(rx_.data(), static_cast<std::size_t>(n)));
  const Source src{false, fd, {c.ip, c.port}};
  ai::DeframeEvent ev;
  bool alive = true;
  while (d.next(ev)) {
    if (!ev.ok) {
      bad_frame(src, ev.error);
      continue;
    }
    ++counters_.frames_in;
    handle(src, ev.frame);
    if (c.kind == Kind::free) {  // the frame closed its own connection (send queue overflow)
      alive = false;
      break;
    }
  }
  if (!alive) {
    if (&d == &scratch_) scratch_ = ai::Deframer(opt_.crc);
    return;
  }
  if (&d == &scratch_) {
    if (!scratch_.idle()) {  // a frame continues in the next read: this connection keeps it
      c.partial = std::make_unique<ai::Deframer>(std::move(scratch_));
      scratch_ = ai::Deframer(opt_.crc);
    }
  } else if (c.partial->idle()) {
    c.partial.reset();
  }
}

void Server::conn_writable(int fd) {
  if (static_cast<std::size_t>(fd) >= conns_.size()) return;
  Conn& c = conns_[static_cast<std::size_t>(fd)];
  if (c.kind == Kind::free || !c.out) return;
  Bytes& q = *c.out;
  ssize_t n = ::send(fd, q.data(), q.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    return close_conn(fd, "error");
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

bool Server::send_tcp(int fd, ByteView bytes) {
  Conn& c = conns_[static_cast<std::size_t>(fd)];
  if (c.kind == Kind::free) return false;
  std::size_t sent = 0;
  if (!c.out) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      close_conn(fd, "error");
      return false;
    }
    sent = n > 0 ? static_cast<std::size_t>(n) : 0;
    if (sent == bytes.size()) {
      ++counters_.frames_out;
      return true;
    }
    c.out = std::make_unique<Bytes>();
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.fd = fd;
    epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev);
  }
  if (c.out->size() + (bytes.size() - sent) > opt_.max_send_queue) {
    close_conn(fd, "slow_reader");
    return false;
  }
  c.out->insert(c.out->end(), bytes.begin() + static_cast<std::ptrdiff_t>(sent), bytes.end());
  ++counters_.frames_out;
  return true;
}

void Server::send_udp(const net::Endpoint& to, ByteView bytes) {
  sockaddr_in a = net::to_sockaddr(to);
  if (::sendto(udp_.get(), bytes.data(), bytes.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0)
    ++counters_.drops;
  else
    ++counters_.frames_out;
}

void Server::send_frame(const Source& to, const ai::FrameView& f) {
  tx_.clear();
  if (!ai::encode(f, opt_.crc, tx_)) {
    ++counters_.drops;  // only a frame over 1400 bytes can fail; callers keep data below that
    return;
  }
  if (to.udp)
    send_udp(to.from, tx_);
  else
    send_tcp(to.fd, tx_);
}

void Server::udp_ready() {
  for (int i = 0; i < 256; ++i) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ssize_t n = ::recvfrom(udp_.get(), rx_.data(), rx_.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&a), &len);
    if (n < 0) return;
    const Source src{true, -1, net::from_sockaddr(a)};
    scratch_.feed(ByteView(rx_.data(), static_cast<std::size_t>(n)));
    ai::DeframeEvent ev;
    while (scratch_.next(ev)) {
      if (!ev.ok) {
        bad_frame(src, ev.error);
        continue;
      }
      ++counters_.frames_in;
      handle(src, ev.frame);
    }
    if (!scratch_.idle()) {  // a datagram is complete in itself: a partial frame is lost
      ++counters_.drops;
      scratch_ = ai::Deframer(opt_.crc);
    }
  }
}

void Server::close_conn(int fd, std::string_view reason) {
  Conn& c = conns_[static_cast<std::size_t>(fd)];
  if (c.kind == Kind::free) return;
  const Kind kind = c.kind;
  const std::uint32_t ref = c.ref;
  c.kind = Kind::free;
  c.ref = kNone;
  c.partial.reset();
  c.out.reset();
  epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  ::close(fd);
  --open_conns_;
  if (kind == Kind::device && ref != kNone) {
    DeviceState& d = reg_.device(ref);
    if (d.fd == fd) {
      d.fd = -1;
      --counters_.online_tcp;
      if (!d.udp_live) d.logged_in = false;
      if (log_.session_events())
        log_.session(EventLog::Line("logout")
                         .add("device", ai::format_device(d.id))
                         .add("transport", "tcp")
                         .add("reason", std::string(reason)));
    }
  } else if (kind == Kind::client && ref != kNone) {
    AccountState& a = reg_.account(ref);
    if (a.fd == fd) {
      a.fd = -1;
      --counters_.clients;
      log_.session(EventLog::Line("logout").add("account", a.id).add("role", "client").add("reason", std::string(reason)));
    }
  }
}

void Server::sweep() {
  const std::uint32_t now = now_tick();
  for (std::size_t fd = 0; fd < conns_.size(); ++fd) {
    Conn& c = conns_[fd];
    if (c.kind != Kind::free && now - c.seen > timeout_ticks_) close_conn(static_cast<int>(fd), "timeout");
  }
  auto& devs = reg_.devices();
  for (std::uint32_t d = 0; d < devs.size(); ++d)
    if (devs[d].udp_live && now - devs[d].udp_seen > timeout_ticks_) udp_expire(d, "timeout");
  for (auto it = routes_.begin(); it != routes_.end();) {
    if (static_cast<std::int32_t>(now - it->second.expires) > 0)
      it = routes_.erase(it);
    else
      ++it;
  }
  const auto window = static_cast<std::uint32_t>(opt_.login_fail_window.count() / kTickMs);
  for (auto it = throttle_.begin(); it != throttle_.end();) {
    if (now - it->second.window_start > window)
      it = throttle_.erase(it);
    else
      ++it;
  }
}

void Server::write_stats() {
  EventLog::Line l("stats");
  l.add("online_tcp", counters_.online_tcp).add("online_udp", counters_.online_udp).add("clients", counters_.clients);
  l.add("connections", open_conns_).add("logins", counters_.logins).add("login_rejected", counters_.login_rejected);
  l.add("frames_in", counters_.frames_in).add("frames_out", counters_.frames_out).add("relays", counters_.relays);
  l.add("uplinks", counters_.uplinks).add("routed", counters_.routed).add("drops", counters_.drops);
  l.add("bad_frames", counters_.bad_frames).add("token_mismatch", counters_.token_mismatch);
  l.add("rss_kib", resident_kib());
  log_.write(l);
}

Token Server::new_token() {
  Token t{};
  if (getrandom(t.data(), t.size(), 0) != static_cast<ssize_t>(t.size())) {
    // getrandom cannot fail for 8 bytes once the pool is initialised; keep a fallback anyway.
    auto v = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) *
             0x9E3779B97F4A7C15ull;
    std::memcpy(t.data(), &v, t.size());
  }
  return t;
}

std::string Server::peer(const Source& src) const { return net::format_endpoint(src.from); }

// One bad frame or run of garbage from a peer: counted, dropped, logged; the peer goes on.
void Server::bad_frame(const Source& src, const Error& e) {
  if (e.kind != ErrorKind::garbage) ++counters_.bad_frames;
  ++counters_.drops;
  if (!log_.session_events()) return;
  EventLog::Line line("bad_frame");
  line.add("peer", peer(src));
  if (src.udp) line.add("transport", "udp");
  log_.session(std::move(line.add("error", std::string(to_string(e.kind))).add("message", e.message)));
}

}  // namespace m2m::platform
