// Where the router's bytes go, and the clock it reads: the seam between the protocol logic
// (router.cpp) and the epoll loop (server.cpp). Tests and the fuzz target implement both with
// fakes, so the router runs without a socket.
//
// Reliability rule — closes are deferred. A send may find a connection's bounded send queue
// full; the connection must then close, but the router may still be handling a frame that
// points into that very connection's partial-frame deframer (an uplink answered, then fanned
// out; a relay to oneself). So closing is two steps:
//   1. Router::close(fd, reason) unbinds the session (device or account), writes the logout
//      event and calls Outbox::close(fd). From then on the router sends nothing to fd and
//      the loop hands it no further frame from fd.
//   2. The loop frees the connection's buffers, descriptor and slot only at the end of the
//      current event (after the frame loop of the read that triggered it), then calls
//      Router::released(fd).
// Hence: no view into a connection's buffers, and no reference to its slot, survives a send —
// only step 2 invalidates them, and it never runs inside a handler.
#pragma once

#include <cstdint>

#include "core/bytes.hpp"
#include "net/endpoint.hpp"

namespace m2m::platform {

// The router's time unit: the loop's coarse tick.
inline constexpr std::uint32_t kTickMs = 10;

class Outbox {
 public:
  virtual ~Outbox() = default;
  // Queues `bytes` for the TCP connection `fd` (open, not closing). Returns nullptr when
  // accepted, otherwise why the connection must close ("slow_reader": the bounded send queue
  // would overflow; "error"). The bytes are copied; the caller's buffer may be reused.
  virtual const char* send_tcp(int fd, ByteView bytes) = 0;
  // One datagram to `to`; false when the kernel dropped it.
  virtual bool send_udp(const net::Endpoint& to, ByteView bytes) = 0;
  // Step 1 above, called by the router only, once per connection: mark `fd` closing; free it
  // at the end of the current event.
  virtual void close(int fd) = 0;
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::uint32_t now_tick() const = 0;  // kTickMs units; wraps after 497 days
};

}  // namespace m2m::platform
