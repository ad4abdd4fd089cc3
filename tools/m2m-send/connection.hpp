// One client connection (TCP, or a connected UDP socket) with plain POSIX sockets and poll():
// a single connection needs no event library, and every call takes a deadline, so no wait
// is unbounded.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>

#include "core/bytes.hpp"

namespace m2m::send {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;
inline constexpr Deadline kNoDeadline = Deadline::max();

enum class NetStatus {
  ok,
  timeout,      // the deadline passed
  closed,       // the peer closed the connection
  unavailable,  // refused, unreachable, reset (exit 6)
  failed,       // anything else (exit 1)
  interrupted,  // SIGINT/SIGTERM (exit 130)
};

class Connection {
 public:
  Connection() = default;
  Connection(Connection&& o) noexcept;
  Connection& operator=(Connection&& o) noexcept;
  ~Connection();

  // "host:port" or "[v6addr]:port"; resolves, connects (TCP) or connects a UDP socket.
  NetStatus open(const std::string& host_port, bool udp, Deadline deadline);
  NetStatus send(ByteView bytes, Deadline deadline);  // whole buffer (one datagram with UDP)
  // Waits until bytes arrive (ok, n > 0), the deadline passes, or the connection ends.
  NetStatus receive(std::span<std::uint8_t> buf, std::size_t& n, Deadline deadline);

  const std::string& peer() const { return peer_; }    // "ip:port"
  const std::string& error() const { return error_; }  // what went wrong, for messages
  bool udp() const { return udp_; }

 private:
  NetStatus fail_errno(const std::string& what, int err);
  // Waits for `events` on the socket until the deadline: ok, timeout or interrupted.
  NetStatus wait(short events, Deadline deadline);

  int fd_ = -1;
  bool udp_ = false;
  std::string peer_;
  std::string error_;
};

}  // namespace m2m::send
