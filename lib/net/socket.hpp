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
  int release() { return std::exchange(fd_, -1); }  // the caller owns it now

 private:
  int fd_ = -1;
};

// Bound, listening, non-blocking TCP socket (SO_REUSEADDR; SO_REUSEPORT when asked). An IPv6
// address is dual-stack (IPV6_V6ONLY off): [::] also takes IPv4 peers, as ::ffff:a.b.c.d.
Result<Fd> listen_tcp(const Address& at, bool reuseport, int backlog = 4096);
// Bound non-blocking UDP socket (IPv6: dual-stack as above).
Result<Fd> bind_udp(const Address& at, bool reuseport);
// The local address a socket is bound to (to learn the port the kernel chose for port 0).
Result<Address> local_address(int fd);

// The same for the IPv4-only Endpoint (tests and older callers).
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

// A non-blocking socket connecting (TCP: the connect is under way, EINPROGRESS is not an
// error; wait for writability and read SO_ERROR) or connected (UDP) to `to`, for an event
// loop holding many clients. With `source`, it is bound there first; a source without a port
// sets IP_BIND_ADDRESS_NO_PORT, so the kernel picks the port at connect time per
// destination and one source address serves far more than 28,000 connections.
Result<Fd> connect_socket(const Address& to, bool udp, const Address* source = nullptr);

// TCP_NODELAY: the protocol's frames are small and each is due now, so none waits behind an
// unacknowledged one (Nagle held relayed frames up to the peer's delayed ACK). Every TCP
// connection of the toolkit, accepted or connected, gets it.
void set_no_delay(int fd);

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

  // Resolves and connects (TCP) or connects a UDP socket, trying each address in turn (only
  // those of the source's family when a source address is given).
  Result<void> open(const HostPort& to, bool udp, Deadline deadline, const Address* source = nullptr);
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
