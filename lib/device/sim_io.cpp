#include "device/sim_io.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace m2m::device {
namespace {

constexpr std::size_t kMaxQueue = 64 * 1024;

ErrorKind kind_of(int err) {
  switch (err) {
    case ECONNREFUSED: case ECONNRESET: case ENETUNREACH: case EHOSTUNREACH: case ECONNABORTED: return ErrorKind::unavailable;
    case ETIMEDOUT: return ErrorKind::timeout;
    case EPIPE: case ESHUTDOWN: return ErrorKind::closed;
    default: return ErrorKind::io;
  }
}

Error sys_error(const std::string& what, int err) { return Error{kind_of(err), 0, what + ": " + std::strerror(err)}; }

}  // namespace

SimIo::~SimIo() = default;

Result<void> SimIo::open() {
  epoll_ = net::Fd(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) return unexpected(sys_error("epoll_create1", errno));
  return {};
}

std::size_t SimIo::free_count() const {
  std::size_t n = 0;
  for (Kind k : kinds_) n += k == Kind::none;
  return n;
}

bool SimIo::add(net::Fd fd, std::uint32_t events, Kind kind) {
  const int n = fd.get();
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = n;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, n, &ev) != 0) return false;
  const auto i = static_cast<std::size_t>(n);
  if (kinds_.size() <= i) {
    kinds_.resize(i + 1, Kind::none);
    owned_.resize(i + 1);
  }
  kinds_[i] = kind;
  owned_[i] = std::move(fd);
  return true;
}

bool SimIo::add_watch(int fd) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return false;
  const auto i = static_cast<std::size_t>(fd);
  if (kinds_.size() <= i) {
    kinds_.resize(i + 1, Kind::none);
    owned_.resize(i + 1);
  }
  kinds_[i] = Kind::watched;
  return true;
}

Result<int> SimIo::connect_tcp(const net::Address& to) {
  auto fd = net::connect_socket(to, false);
  if (!fd) return unexpected(std::move(fd).error());
  int one = 1;
  ::setsockopt(fd->get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const int n = fd->get();
  if (!add(std::move(*fd), EPOLLOUT | EPOLLIN, Kind::connecting)) return unexpected(sys_error("epoll_ctl", errno));
  return n;
}

Result<int> SimIo::open_udp(int family) {
  net::Fd fd(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return unexpected(sys_error("socket", errno));
  // Unconnected and bound to the wildcard: the platform and every P2P peer are reached from
  // this one address and port.
  sockaddr_storage any{};
  any.ss_family = static_cast<sa_family_t>(family);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&any), family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in)) != 0)
    return unexpected(sys_error("bind", errno));
  const int n = fd.get();
  if (!add(std::move(fd), EPOLLIN, Kind::udp)) return unexpected(sys_error("epoll_ctl", errno));
  return n;
}

Result<void> SimIo::watch(int fd) {
  if (!add_watch(fd)) return unexpected(sys_error("epoll_ctl", errno));
  return {};
}

void SimIo::unwatch(int fd) {
  const auto i = static_cast<std::size_t>(fd);
  if (i >= kinds_.size() || kinds_[i] != Kind::watched) return;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  kinds_[i] = Kind::none;
}

bool SimIo::send(int fd, ByteView bytes) {
  const auto i = static_cast<std::size_t>(fd);
  if (i >= kinds_.size() || kinds_[i] != Kind::tcp) return false;
  auto q = queued_.find(fd);
  if (q != queued_.end()) {
    if (q->second.size() + bytes.size() > kMaxQueue) return false;
    q->second.insert(q->second.end(), bytes.begin(), bytes.end());
    return true;
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return false;
  }
  if (done < bytes.size()) {
    queued_[fd].assign(bytes.begin() + static_cast<long>(done), bytes.end());
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev);
  }
  return true;
}

bool SimIo::send_to(int fd, const net::Address& to, ByteView bytes) {
  const auto i = static_cast<std::size_t>(fd);
  if (i >= kinds_.size() || kinds_[i] != Kind::udp) return false;
  return ::sendto(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL, to.sockaddr_ptr(), to.length()) == static_cast<ssize_t>(bytes.size());
}

void SimIo::close(int fd) {
  const auto i = static_cast<std::size_t>(fd);
  if (i >= kinds_.size() || kinds_[i] == Kind::none || kinds_[i] == Kind::closing || kinds_[i] == Kind::watched) return;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  kinds_[i] = Kind::closing;
  closing_.push_back(fd);
}

void SimIo::release_closed() {
  for (int fd : closing_) {
    const auto i = static_cast<std::size_t>(fd);
    queued_.erase(fd);
    owned_[i].reset();
    kinds_[i] = Kind::none;
  }
  closing_.clear();
}

void SimIo::writable(int fd) {
  const auto i = static_cast<std::size_t>(fd);
  if (kinds_[i] == Kind::connecting) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      const Error e = sys_error("connect", err);
      close(fd);
      h_.connected(fd, &e);
      return;
    }
    kinds_[i] = Kind::tcp;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev);
    h_.connected(fd, nullptr);
    return;
  }
  auto q = queued_.find(fd);
  if (q == queued_.end()) return;
  const ssize_t n = ::send(fd, q->second.data(), q->second.size(), MSG_NOSIGNAL);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    const ErrorKind k = kind_of(errno);
    close(fd);
    h_.ended(fd, k);
    return;
  }
  if (n > 0) q->second.erase(q->second.begin(), q->second.begin() + n);
  if (q->second.empty()) {
    queued_.erase(q);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev);
  }
}

void SimIo::readable(int fd) {
  const auto i = static_cast<std::size_t>(fd);
  switch (kinds_[i]) {
    case Kind::watched: h_.ready(fd); return;
    case Kind::udp:
      for (int n = 0; n < 64 && kinds_[i] == Kind::udp; ++n) {
        sockaddr_storage from{};
        socklen_t len = sizeof from;
        const ssize_t got = ::recvfrom(fd, rx_.data(), rx_.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (got < 0) return;  // EAGAIN; ICMP errors (ECONNREFUSED) on UDP are not fatal
        h_.datagram(fd, net::Address::from(reinterpret_cast<sockaddr*>(&from), len), ByteView(rx_.data(), static_cast<std::size_t>(got)));
      }
      return;
    case Kind::tcp: {
      const ssize_t got = ::recv(fd, rx_.data(), rx_.size(), 0);
      if (got > 0) {
        h_.received(fd, ByteView(rx_.data(), static_cast<std::size_t>(got)));
      } else if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        const ErrorKind k = got == 0 ? ErrorKind::closed : kind_of(errno);
        close(fd);
        h_.ended(fd, k);
      }
      return;
    }
    default: return;
  }
}

int SimIo::run(const bool* stop, bool (*stop_fn)(), std::chrono::milliseconds tick) {
  epoll_event events[256];
  auto next_tick = std::chrono::steady_clock::now();
  while (!*stop && !(stop_fn && stop_fn())) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_tick) {
      h_.tick();
      release_closed();
      next_tick = now + tick;
      continue;
    }
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - now).count() + 1;
    const int n = ::epoll_wait(epoll_.get(), events, 256, static_cast<int>(wait));
    if (n < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    for (int k = 0; k < n; ++k) {
      const int fd = events[k].data.fd;
      const auto i = static_cast<std::size_t>(fd);
      if (i >= kinds_.size()) continue;
      const std::uint32_t ev = events[k].events;
      if (kinds_[i] == Kind::connecting && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        writable(fd);
      } else {
        if ((ev & EPOLLOUT) && kinds_[i] == Kind::tcp) writable(fd);
        if ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) && kinds_[i] != Kind::none && kinds_[i] != Kind::closing) readable(fd);
      }
      release_closed();
    }
  }
  return 0;
}

}  // namespace m2m::device
