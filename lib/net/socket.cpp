#include "net/socket.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

namespace m2m::net {

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

namespace {
unexpected<Error> sys_error(const std::string& what) {
  return fail(ErrorKind::io, what + ": " + std::strerror(errno));
}

Result<Fd> bound_socket(int type, const Address& at, bool reuseport) {
  const char* what = type == SOCK_STREAM ? "tcp" : "udp";
  if (at.empty()) return fail(ErrorKind::bad_value, std::string(what) + " bind: no address");
  Fd fd(::socket(at.family(), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return sys_error(std::string(what) + " socket " + format_address(at));
  int one = 1, zero = 0;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // An IPv6 wildcard serves IPv4 peers too (as ::ffff:a.b.c.d), whatever the sysctl says.
  if (at.family() == AF_INET6) setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  if (reuseport && setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    return sys_error("SO_REUSEPORT");
  if (::bind(fd.get(), at.sockaddr_ptr(), at.length()) != 0)
    return sys_error(std::string(what) + " bind " + format_address(at));
  return fd;
}
}  // namespace

Result<Fd> listen_tcp(const Address& at, bool reuseport, int backlog) {
  auto fd = bound_socket(SOCK_STREAM, at, reuseport);
  if (!fd) return fd;
  if (::listen(fd->get(), backlog) != 0) return sys_error("listen " + format_address(at));
  return fd;
}

Result<Fd> bind_udp(const Address& at, bool reuseport) { return bound_socket(SOCK_DGRAM, at, reuseport); }

Result<Address> local_address(int fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return sys_error("getsockname");
  return Address::from(reinterpret_cast<const sockaddr*>(&a), len);
}

Result<Fd> listen_tcp(const Endpoint& at, bool reuseport, int backlog) {
  return listen_tcp(Address::ipv4(at.ip, at.port), reuseport, backlog);
}

Result<Fd> bind_udp(const Endpoint& at, bool reuseport) { return bind_udp(Address::ipv4(at.ip, at.port), reuseport); }

Result<Endpoint> local_endpoint(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return sys_error("getsockname");
  return from_sockaddr(a);
}

FileLimit raise_file_limit() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit want = rl;
    want.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
  }
  return {static_cast<unsigned long>(rl.rlim_cur), static_cast<unsigned long>(rl.rlim_max)};
}

// ---- Connection -------------------------------------------------------------------------
namespace {

bool is_unavailable(int err) {
  return err == ECONNREFUSED || err == ENETUNREACH || err == EHOSTUNREACH || err == ECONNRESET ||
         err == EHOSTDOWN || err == ENETDOWN || err == EPIPE || err == ECONNABORTED || err == EADDRNOTAVAIL;
}

unexpected<Error> errno_error(const std::string& what, int err) {
  return fail(is_unavailable(err) ? ErrorKind::unavailable : ErrorKind::io, what + ": " + std::strerror(err));
}

int millis_until(Deadline d) {
  constexpr int kSlice = 100;  // wake up this often to look at the stop check
  if (d == kNoDeadline) return kSlice;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(d - std::chrono::steady_clock::now()).count();
  if (left <= 0) return 0;
  return left > kSlice ? kSlice : static_cast<int>(left);
}

}  // namespace

Result<void> Connection::wait(short events, Deadline deadline) {
  for (;;) {
    if (stop_ && stop_()) return fail(ErrorKind::interrupted, "interrupted");
    pollfd p{fd_.get(), events, 0};
    int r = ::poll(&p, 1, millis_until(deadline));
    if (r > 0) return {};  // ready, or an error/hang-up the next call reports
    if (r < 0 && errno != EINTR) return errno_error("poll", errno);
    if (r == 0 && deadline != kNoDeadline && std::chrono::steady_clock::now() >= deadline)
      return fail(ErrorKind::timeout, "timed out");
  }
}

void set_no_delay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

Result<Fd> connect_socket(const Address& to, bool udp, const Address* source) {
  const std::string peer = format_address(to);
  Fd fd(::socket(to.family(), (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return errno_error("socket", errno);
  if (source && !source->empty()) {
    if (source->family() != to.family())
      return fail(ErrorKind::bad_value, "source " + format_address(*source) + " and " + peer + " are not of one address family");
    int one = 1;
    if (source->port() == 0 && !udp) ::setsockopt(fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (::bind(fd.get(), source->sockaddr_ptr(), source->length()) != 0)
      return errno_error("bind " + format_address(*source), errno);
  }
  if (::connect(fd.get(), to.sockaddr_ptr(), to.length()) != 0 && errno != EINPROGRESS)
    return errno_error("connect " + peer, errno);
  return fd;
}

Result<void> Connection::open(const HostPort& to, bool udp, Deadline deadline, const Address* source) {
  udp_ = udp;
  auto addrs = resolve(to, udp);
  if (!addrs) return unexpected(std::move(addrs).error());
  std::optional<Error> last;
  for (const Address& a : *addrs) {
    if (source && !source->empty() && source->family() != a.family()) {
      last = Error{ErrorKind::unavailable, 0, "connect " + format_address(a) + ": not reachable from " + format_address(*source)};
      continue;
    }
    auto fd = connect_socket(a, udp, source);
    peer_ = format_address(a);
    if (!fd) {
      last = std::move(fd).error();
      continue;
    }
    fd_ = std::move(*fd);
    if (udp) return {};  // a UDP connect only sets the default destination: done
    if (auto w = wait(POLLOUT, deadline); !w) {
      if (w.error().kind == ErrorKind::timeout) w.error().message = "connect " + peer_ + ": timed out";
      return w;
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      last = errno_error("connect " + peer_, err).error();
      continue;
    }
    set_no_delay(fd_.get());
    return {};
  }
  return unexpected(last.value_or(Error{ErrorKind::unavailable, 0, "connect " + format_host_port(to) + ": no address"}));
}

Result<void> Connection::send(ByteView bytes, Deadline deadline) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd_.get(), bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n >= 0) {
      done += static_cast<std::size_t>(n);
      if (udp_) break;  // a datagram goes whole or not at all
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return errno_error("send to " + peer_, errno);
    if (auto w = wait(POLLOUT, deadline); !w) return w;
  }
  return {};
}

Result<std::size_t> Connection::receive(std::span<std::uint8_t> buf, Deadline deadline) {
  for (;;) {
    ssize_t r = ::recv(fd_.get(), buf.data(), buf.size(), 0);
    if (r > 0) return static_cast<std::size_t>(r);
    if (r == 0 && !udp_) return fail(ErrorKind::closed, "connection closed by " + peer_);
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      return errno_error("receive from " + peer_, errno);
    if (auto w = wait(POLLIN, deadline); !w) return unexpected(std::move(w).error());
  }
}

}  // namespace m2m::net
