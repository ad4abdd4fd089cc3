// Non-blocking sockets for the event loop, and the process file limit.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "core/bytes.hpp"
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

// ---- one client connection, blocking calls bounded by deadlines -------------------------
// For programs that hold one session (m2m-send); the many-session programs use the event
// loop instead. Errors carry the shared vocabulary: timeout (the deadline passed), closed
// (the peer closed), unavailable (refused, reset, unreachable, cannot resolve), interrupted
// (the stop check said so), io (anything else). Messages name the peer: "connect
// 127.0.0.1:1: Connection refused".
using Deadline = std::chrono::steady_clock::time_point;
inline constexpr Deadline kNoDeadline = Deadline::max();

class Connection {
 public:
  // `stop` is polled while waiting (at least every 100 ms); null: never stop early.
  explicit Connection(bool (*stop)() = nullptr) : stop_(stop) {}

  // Resolves and connects (TCP) or connects a UDP socket, trying each address in turn.
  Result<void> open(const HostPort& to, bool udp, Deadline deadline);
  Result<void> send(ByteView bytes, Deadline deadline);  // the whole buffer (one datagram with UDP)
  // Waits until bytes arrive (n > 0), the deadline passes, or the connection ends.
  Result<std::size_t> receive(std::span<std::uint8_t> buf, Deadline deadline);

  const std::string& peer() const { return peer_; }  // format_address of the connected address
  bool udp() const { return udp_; }
  int fd() const { return fd_.get(); }

 private:
  Result<void> wait(short events, Deadline deadline);  // readiness, timeout or interrupted

  bool (*stop_)();
  Fd fd_;
  bool udp_ = false;
  std::string peer_;
};

}  // namespace m2m::net
