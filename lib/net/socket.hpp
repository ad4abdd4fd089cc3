// Non-blocking sockets for the event loop, and the process file limit.
#pragma once

#include <utility>

#include "core/error.hpp"
#include "net/endpoint.hpp"

namespace m2m::net {

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Bound, listening, non-blocking TCP socket (SO_REUSEADDR; SO_REUSEPORT when asked).
Result<Fd> listen_tcp(const Endpoint& at, bool reuseport, int backlog = 4096);
// Bound non-blocking UDP socket.
Result<Fd> bind_udp(const Endpoint& at, bool reuseport);
// The local address a socket is bound to (to learn the port the kernel chose for port 0).
Result<Endpoint> local_endpoint(int fd);

struct FileLimit {
  unsigned long soft = 0;  // after raising
  unsigned long hard = 0;
};
// Raises RLIMIT_NOFILE's soft limit to the hard limit and reports both.
FileLimit raise_file_limit();

}  // namespace m2m::net
