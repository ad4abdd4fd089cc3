#include "net/socket.hpp"

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace m2m::net {

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

namespace {
unexpected<Error> sys_error(const std::string& what) {
  return fail(ErrorKind::io, what + ": " + std::strerror(errno));
}

Result<Fd> bound_socket(int type, const Endpoint& at, bool reuseport) {
  Fd fd(::socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return sys_error("socket");
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuseport && setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    return sys_error("SO_REUSEPORT");
  sockaddr_in a = to_sockaddr(at);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    return sys_error(std::string(type == SOCK_STREAM ? "tcp" : "udp") + " bind " + format_endpoint(at));
  return fd;
}
}  // namespace

Result<Fd> listen_tcp(const Endpoint& at, bool reuseport, int backlog) {
  auto fd = bound_socket(SOCK_STREAM, at, reuseport);
  if (!fd) return fd;
  if (::listen(fd->get(), backlog) != 0) return sys_error("listen " + format_endpoint(at));
  return fd;
}

Result<Fd> bind_udp(const Endpoint& at, bool reuseport) { return bound_socket(SOCK_DGRAM, at, reuseport); }

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

}  // namespace m2m::net
