#include "connection.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "cli/cli.hpp"

namespace m2m::send {
namespace {

bool is_unavailable(int err) {
  return err == ECONNREFUSED || err == ENETUNREACH || err == EHOSTUNREACH || err == ECONNRESET ||
         err == EHOSTDOWN || err == ENETDOWN || err == EPIPE || err == ECONNABORTED;
}

std::string format_addr(const sockaddr* sa) {
  char host[INET6_ADDRSTRLEN] = "?";
  std::uint16_t port = 0;
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
  inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
  port = ntohs(in6->sin6_port);
  return "[" + std::string(host) + "]:" + std::to_string(port);
}

int millis_until(Deadline d) {
  if (d == kNoDeadline) return -1;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(d - Clock::now()).count();
  if (left <= 0) return 0;
  return left > 60'000 ? 60'000 : static_cast<int>(left);
}

}  // namespace

Connection::Connection(Connection&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), udp_(o.udp_), peer_(std::move(o.peer_)), error_(std::move(o.error_)) {}

Connection& Connection::operator=(Connection&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    udp_ = o.udp_;
    peer_ = std::move(o.peer_);
    error_ = std::move(o.error_);
  }
  return *this;
}

Connection::~Connection() {
  if (fd_ >= 0) ::close(fd_);
}

NetStatus Connection::fail_errno(const std::string& what, int err) {
  error_ = what + ": " + std::strerror(err);
  return is_unavailable(err) ? NetStatus::unavailable : NetStatus::failed;
}

NetStatus Connection::wait(short events, Deadline deadline) {
  for (;;) {
    if (cli::interrupted()) return NetStatus::interrupted;
    int ms = millis_until(deadline);
    pollfd p{fd_, events, 0};
    int r = ::poll(&p, 1, ms);
    if (r > 0) return NetStatus::ok;  // ready, or an error/hang-up the next call reports
    if (r < 0 && errno != EINTR) return fail_errno("poll", errno);
    if (r == 0 && deadline != kNoDeadline && Clock::now() >= deadline) {
      error_ = "timed out";
      return NetStatus::timeout;
    }
  }
}

NetStatus Connection::open(const std::string& host_port, bool udp, Deadline deadline) {
  udp_ = udp;
  std::string host, port;
  if (host_port.starts_with("[")) {
    auto close = host_port.find("]:");
    if (close == std::string::npos) {
      error_ = "'" + host_port + "' is not HOST:PORT";
      return NetStatus::failed;
    }
    host = host_port.substr(1, close - 1);
    port = host_port.substr(close + 2);
  } else {
    auto colon = host_port.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == host_port.size()) {
      error_ = "'" + host_port + "' is not HOST:PORT";
      return NetStatus::failed;
    }
    host = host_port.substr(0, colon);
    port = host_port.substr(colon + 1);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    error_ = "resolve " + host_port + ": " + ::gai_strerror(rc);
    return rc == EAI_SERVICE ? NetStatus::failed : NetStatus::unavailable;
  }
  NetStatus last = NetStatus::unavailable;
  for (addrinfo* a = found; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last = fail_errno("socket", errno);
      continue;
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
    peer_ = format_addr(a->ai_addr);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      last = NetStatus::ok;
      break;
    }
    if (errno != EINPROGRESS) {
      last = fail_errno("connect " + peer_, errno);
      continue;
    }
    last = wait(POLLOUT, deadline);
    if (last == NetStatus::timeout) error_ = "connect " + peer_ + ": timed out";
    if (last != NetStatus::ok) break;
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == 0) break;
    last = fail_errno("connect " + peer_, err);
  }
  ::freeaddrinfo(found);
  if (last == NetStatus::ok && !udp) {
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // frames are small and interactive
  }
  return last;
}

NetStatus Connection::send(ByteView bytes, Deadline deadline) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n >= 0) {
      done += static_cast<std::size_t>(n);
      if (udp_) break;  // a datagram goes whole or not at all
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return fail_errno("send to " + peer_, errno);
    if (auto s = wait(POLLOUT, deadline); s != NetStatus::ok) return s;
  }
  return NetStatus::ok;
}

NetStatus Connection::receive(std::span<std::uint8_t> buf, std::size_t& n, Deadline deadline) {
  n = 0;
  for (;;) {
    ssize_t r = ::recv(fd_, buf.data(), buf.size(), 0);
    if (r > 0) {
      n = static_cast<std::size_t>(r);
      return NetStatus::ok;
    }
    if (r == 0 && !udp_) {
      error_ = "connection closed by " + peer_;
      return NetStatus::closed;
    }
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      return fail_errno("receive from " + peer_, errno);
    if (auto s = wait(POLLIN, deadline); s != NetStatus::ok) return s;
  }
}

}  // namespace m2m::send
