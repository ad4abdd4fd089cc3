#include "net/loop.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace m2m::net {

// ---- Stop ---------------------------------------------------------------------------------

Stop::Stop() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

void Stop::request() noexcept {
  requested_.store(true, std::memory_order_relaxed);
  const std::uint64_t one = 1;
  if (fd_) {
    const int saved = errno;  // a signal handler must leave errno as it found it
    [[maybe_unused]] ssize_t n = ::write(fd_.get(), &one, sizeof one);
    errno = saved;
  }
}

ErrorKind error_kind(int err) {
  switch (err) {
    case ECONNREFUSED: case ECONNRESET: case ECONNABORTED: case ENETUNREACH: case EHOSTUNREACH:
    case EHOSTDOWN: case ENETDOWN: case EADDRNOTAVAIL:
      return ErrorKind::unavailable;
    case ETIMEDOUT:
      return ErrorKind::timeout;
    case EPIPE: case ESHUTDOWN:
      return ErrorKind::closed;
    default:
      return ErrorKind::io;
  }
}

// ---- Loop ---------------------------------------------------------------------------------

namespace {
unexpected<Error> sys_error(const std::string& what, int err = errno) {
  return fail(error_kind(err), what + ": " + std::strerror(err));
}
bool transient(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }
}  // namespace

Loop::Loop(Handler& handler, Options options) : h_(handler), opt_(options) {
  if (opt_.tick.count() <= 0) opt_.tick = std::chrono::milliseconds(100);
  rx_.resize(opt_.read_buffer ? opt_.read_buffer : 64 * 1024);
}

Loop::~Loop() {
  // Connections still open are closed with the loop (their owner has gone or will).
  for (std::size_t fd = 0; fd < kinds_.size(); ++fd)
    if (kinds_[fd] == Kind::conn || kinds_[fd] == Kind::connecting || kinds_[fd] == Kind::closing)
      ::close(static_cast<int>(fd));
}

Result<void> Loop::open() {
  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) return sys_error("epoll_create1");
  // Kept free for the moment accept() runs out of descriptors (accept_ready).
  reserve_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  return {};
}

bool Loop::add(int fd, std::uint32_t events, Kind kind) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return false;
  const auto i = static_cast<std::size_t>(fd);
  if (i >= kinds_.size()) {
    kinds_.resize(i + 1024, Kind::none);
    slots_.resize(i + 1024);
  }
  kinds_[i] = kind;
  return true;
}

void Loop::set_events(int fd, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev);
}

Result<int> Loop::listen_tcp(const Address& at, bool reuseport, int backlog) {
  auto fd = net::listen_tcp(at, reuseport, backlog);
  if (!fd) return unexpected(std::move(fd).error());
  if (!add(fd->get(), EPOLLIN, Kind::listener)) return sys_error("epoll_ctl");
  owned_.push_back(std::move(*fd));
  return owned_.back().get();
}

Result<int> Loop::open_udp(const Address& at, bool reuseport) {
  auto fd = net::bind_udp(at, reuseport);
  if (!fd) return unexpected(std::move(fd).error());
  if (!add(fd->get(), EPOLLIN, Kind::udp)) return sys_error("epoll_ctl");
  owned_.push_back(std::move(*fd));
  return owned_.back().get();
}

Result<int> Loop::connect(const Address& to, const Address* source) {
  auto fd = connect_socket(to, false, source);
  if (!fd) return unexpected(std::move(fd).error());
  set_no_delay(fd->get());
  if (!add(fd->get(), EPOLLOUT, Kind::connecting)) return sys_error("epoll_ctl");
  ++connections_;
  return fd->release();  // the loop owns it now (closed by release_closed)
}

Result<void> Loop::watch(int fd, std::uint32_t events) {
  if (!add(fd, events, Kind::watched)) return sys_error("epoll_ctl");
  return {};
}

void Loop::unwatch(int fd) {
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  if (static_cast<std::size_t>(fd) < kinds_.size()) kinds_[static_cast<std::size_t>(fd)] = Kind::none;
}

bool Loop::closing(int fd) const {
  return fd >= 0 && static_cast<std::size_t>(fd) < kinds_.size() && kinds_[static_cast<std::size_t>(fd)] == Kind::closing;
}

std::size_t Loop::queued(int fd) const {
  if (fd < 0 || static_cast<std::size_t>(fd) >= slots_.size()) return 0;
  const auto& out = slots_[static_cast<std::size_t>(fd)].out;
  return out ? out->size() : 0;
}

void Loop::close(int fd) {
  if (fd < 0 || static_cast<std::size_t>(fd) >= kinds_.size()) return;
  Kind& k = kinds_[static_cast<std::size_t>(fd)];
  if (k != Kind::conn && k != Kind::connecting) return;  // closing already, or not a connection
  k = Kind::closing;
  closing_.push_back(fd);
}

void Loop::release_closed() {
  // A released() may close more (it runs the owner's code): loop until nothing is left.
  while (!closing_.empty()) {
    std::vector<int> now;
    now.swap(closing_);
    for (int fd : now) {
      const auto i = static_cast<std::size_t>(fd);
      slots_[i].out.reset();
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
      ::close(fd);
      kinds_[i] = Kind::none;
      --connections_;
      h_.released(fd);
    }
  }
}

const char* Loop::send(int fd, ByteView bytes) {
  const auto i = static_cast<std::size_t>(fd);
  if (fd < 0 || i >= kinds_.size() || kinds_[i] != Kind::conn) return "error";
  Slot& c = slots_[i];
  std::size_t sent = 0;
  if (!c.out) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && !transient(errno)) return "error";
    sent = n > 0 ? static_cast<std::size_t>(n) : 0;
    if (sent == bytes.size()) return nullptr;
    c.out = std::make_unique<Bytes>();
    set_events(fd, EPOLLIN | EPOLLOUT);
  }
  if (c.out->size() + (bytes.size() - sent) > opt_.max_send_queue) return "slow_reader";
  c.out->insert(c.out->end(), bytes.begin() + static_cast<std::ptrdiff_t>(sent), bytes.end());
  return nullptr;
}

bool Loop::send_to(int fd, const Address& to, ByteView bytes) {
  return ::sendto(fd, bytes.data(), bytes.size(), MSG_DONTWAIT, to.sockaddr_ptr(), to.length()) >= 0;
}

int Loop::run(const Stop& stop) {
  if (stop.fd() < 0 || !add(stop.fd(), EPOLLIN, Kind::watched)) {
    std::fprintf(stderr, "error: the loop's stop descriptor: %s\n", std::strerror(errno));
    return 1;
  }
  using clock = std::chrono::steady_clock;
  auto next_tick = clock::now() + opt_.tick;
  std::vector<epoll_event> events(256);
  int rc = 0;
  while (!stop.requested()) {
    auto now = clock::now();
    const auto wait = next_tick > now ? next_tick - now : clock::duration::zero();
    int n = wait_events(events, std::chrono::duration_cast<std::chrono::nanoseconds>(wait));
    if (n < 0 && errno != EINTR) {
      std::fprintf(stderr, "error: epoll_wait: %s\n", std::strerror(errno));
      rc = 1;
      break;
    }
    for (int e = 0; e < n && !stop.requested(); ++e) {
      const int fd = events[static_cast<std::size_t>(e)].data.fd;
      const std::uint32_t what = events[static_cast<std::size_t>(e)].events;
      if (fd == stop.fd()) continue;  // the loop condition ends the run
      switch (kinds_[static_cast<std::size_t>(fd)]) {
        case Kind::listener: accept_ready(fd); break;
        case Kind::udp: udp_ready(fd); break;
        case Kind::watched: h_.ready(fd, what); break;
        case Kind::connecting: connect_done(fd); break;
        case Kind::conn:
          if (what & EPOLLOUT) conn_writable(fd);
          if (what & (EPOLLIN | EPOLLHUP | EPOLLERR)) conn_readable(fd);
          break;
        case Kind::closing:
        case Kind::none: break;  // closed during this batch: the event is stale
      }
      release_closed();  // the end of an event
    }
    now = clock::now();
    if (now >= next_tick) {
      h_.tick();
      release_closed();
      next_tick += opt_.tick;
      if (next_tick <= now) next_tick = now + opt_.tick;  // fell behind: no burst of ticks
    }
    h_.batch_done();
  }
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, stop.fd(), nullptr);
  kinds_[static_cast<std::size_t>(stop.fd())] = Kind::none;
  return rc;
}

// epoll_pwait2 (Linux 5.11) waits to the nanosecond, so a short tick (the load tester's) keeps
// its cadence; epoll_wait's milliseconds, rounded up, would stretch a 1 ms tick to up to 2 ms
// and add that to every latency the tester measures. Older kernels: epoll_wait.
int Loop::wait_events(std::vector<epoll_event>& events, std::chrono::nanoseconds wait) {
  const int max = static_cast<int>(events.size());
  if (!no_pwait2_) {
    timespec ts{static_cast<time_t>(wait.count() / 1'000'000'000), static_cast<long>(wait.count() % 1'000'000'000)};
    const int n = ::epoll_pwait2(epoll_.get(), events.data(), max, &ts, nullptr);
    if (n >= 0 || errno != ENOSYS) return n;
    no_pwait2_ = true;
  }
  // Round up: waking early would spin until the tick is due.
  return ::epoll_wait(epoll_.get(), events.data(), max,
                      static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(wait).count()));
}

void Loop::accept_ready(int listener) {
  for (int i = 0; i < 256; ++i) {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    int fd = ::accept4(listener, reinterpret_cast<sockaddr*>(&a), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) {
        // Out of descriptors: take the connection with the spare one and close it at once,
        // so the listen queue drains instead of waking us again and again.
        reserve_.reset();
        int victim = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (victim >= 0) ::close(victim);
        reserve_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        if (victim < 0) return;  // the queue was empty (accept reports EMFILE before looking)
        h_.refused_file_limit(listener);
        continue;
      }
      return;  // EAGAIN, or a transient error (ECONNABORTED…): wait for the next wake-up
    }
    if (!add(fd, EPOLLIN, Kind::conn)) {
      ::close(fd);
      continue;
    }
    set_no_delay(fd);
    ++connections_;
    if (h_.accepted(fd, listener, Address::from(reinterpret_cast<const sockaddr*>(&a), len))) {
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
      ::close(fd);
      kinds_[static_cast<std::size_t>(fd)] = Kind::none;
      --connections_;
    }
  }
}

void Loop::connect_done(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err == 0) {
    kinds_[static_cast<std::size_t>(fd)] = Kind::conn;
    set_events(fd, EPOLLIN);
    h_.connected(fd, nullptr);
    return;
  }
  const Error e{error_kind(err), 0, std::strerror(err)};  // the owner knows the peer, and names it
  close(fd);
  h_.connected(fd, &e);
}

void Loop::conn_readable(int fd) {
  ssize_t n = ::recv(fd, rx_.data(), rx_.size(), 0);
  if (n == 0) {
    h_.ended(fd, "closed");
    return close(fd);
  }
  if (n < 0) {
    if (transient(errno)) return;
    h_.ended(fd, "error");
    return close(fd);
  }
  h_.received(fd, ByteView(rx_.data(), static_cast<std::size_t>(n)));
}

void Loop::conn_writable(int fd) {
  Slot& c = slots_[static_cast<std::size_t>(fd)];
  if (!c.out) return;
  Bytes& q = *c.out;
  ssize_t n = ::send(fd, q.data(), q.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n < 0) {
    if (transient(errno)) return;
    h_.ended(fd, "error");
    return close(fd);
  }
  q.erase(q.begin(), q.begin() + n);
  if (q.empty()) {
    c.out.reset();
    set_events(fd, EPOLLIN);
  }
}

void Loop::udp_ready(int fd) {
  for (int i = 0; i < 256; ++i) {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    ssize_t n = ::recvfrom(fd, rx_.data(), rx_.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&a), &len);
    if (n < 0) break;
    h_.datagram(fd, Address::from(reinterpret_cast<const sockaddr*>(&a), len),
                ByteView(rx_.data(), static_cast<std::size_t>(n)));
    release_closed();  // a datagram's handling may have closed connections
  }
}

}  // namespace m2m::net
